r"""The training loss of a PyTorch model as a function of its surviving weights.

A :class:`Support` names which entries of which parameters are the variables θ ∈ Rⁿ (after
magnitude pruning: the surviving weights, biases and the dense last layer; the pruned entries are
held at zero and are not variables, so no zero eigenvalue is added for them). An :class:`Objective`
evaluates

    L(θ) = (1/N) Σ_{samples s} ℓ(model(x_s; θ), y_s)

over one batch or a whole loader (a sum over batches divided by the number of samples), and its
derivatives by autograd: the gradient, Hessian-vector products H·v (reverse over reverse, the
gradient's graph kept and reused while θ is fixed) and third-order products
∇(e_aᵀ H e_b) = ∇³L[·, a, b].

The model's own parameters and buffers are never changed: every evaluation goes through
`torch.func.functional_call` with copies. BatchNorm runs in whatever mode the model is in
(train mode: batch statistics, the loss training actually sees; its running-statistics updates
land on throw-away copies). Random layers (Dropout in train mode) draw from a fixed seed per batch,
so L is one deterministic function of θ and Lanczos sees one symmetric operator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import prune as torch_prune

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True, eq=False)
class Support:
    """The variables θ: for every trainable parameter (in `named_parameters()` order), the flat
    indices of its entries that are variables (`None`: all of them).

    `pruned` lists the parameters that magnitude pruning considered; `sparsity` is the fraction of
    their entries removed (0 when nothing was pruned)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    index: tuple[torch.Tensor | None, ...]
    pruned: tuple[str, ...] = ()
    sparsity: float = 0.0
    rest: str = "zero"

    def __post_init__(self):
        if self.rest not in ("zero", "value"):
            raise ValueError(f"Support.rest must be 'zero' (entries outside the support held at 0, "
                             f"pruned) or 'value' (held at their current values), not {self.rest!r}")

    @classmethod
    def select(cls, model: nn.Module, entries: dict, *, rest: str = "value") -> "Support":
        """A Support of chosen entries: `entries` maps a parameter name to the flat indices of its
        entries that are variables (a parameter not named contributes none; `None` or "all": every
        entry of it). `rest` says what the entries outside the support are held at: "value" (their
        current values: a sub-block of the network's dynamics, the rest frozen) or "zero" (pruned)."""
        known = {nm: p for nm, p in model.named_parameters() if p.requires_grad}
        bad = [nm for nm in entries if nm not in known]
        if bad:
            raise ValueError(f"Support.select: no trainable parameter named {bad[0]!r}")
        names, shapes, index = [], [], []
        for nm, p in known.items():
            names.append(nm)
            shapes.append(tuple(p.shape))
            if nm not in entries:
                index.append(torch.zeros(0, dtype=torch.long))
            elif entries[nm] is None or (isinstance(entries[nm], str) and entries[nm] == "all"):
                index.append(None)
            else:
                idx = torch.as_tensor(entries[nm], dtype=torch.long).reshape(-1).cpu()
                if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= p.numel()):
                    raise ValueError(f"Support.select: an index of {nm!r} is outside 0..{p.numel() - 1}")
                if torch.unique(idx).numel() != idx.numel():
                    raise ValueError(f"Support.select: repeated indices for {nm!r}")
                index.append(torch.sort(idx).values)
        return cls(tuple(names), tuple(shapes), tuple(index), (), 0.0, rest)

    def _idx(self, j: int, device) -> torch.Tensor | None:
        """The j-th index on `device` (moved once and kept: a CUDA model indexes with CUDA indices)."""
        idx = self.index[j]
        if idx is None or idx.device == torch.device(device):
            return idx
        cache = self.__dict__.setdefault("_on_device", {})
        key = (j, str(device))
        if key not in cache:
            cache[key] = idx.to(device)
        return cache[key]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(s, dtype=np.int64)) if i is None else int(i.numel())
                     for s, i in zip(self.shapes, self.index))

    @property
    def n(self) -> int:
        """The number of variables."""
        return int(sum(self.sizes))

    @property
    def total(self) -> int:
        """The number of entries of all trainable parameters (what support="all" would give)."""
        return int(sum(int(np.prod(s, dtype=np.int64)) for s in self.shapes))

    def masks(self, device=None) -> dict[str, torch.Tensor]:
        """A boolean mask per parameter (on `device`, default the CPU): True where the entry is a variable."""
        out = {}
        for j, (name, shape, idx) in enumerate(zip(self.names, self.shapes, self.index)):
            m = torch.ones(shape, dtype=torch.bool, device=device)
            if idx is not None:
                m = torch.zeros(int(np.prod(shape, dtype=np.int64)), dtype=torch.bool, device=device)
                m[self._idx(j, m.device)] = True
                m = m.view(shape)
            out[name] = m
        return out

    def gather(self, tensors: dict) -> torch.Tensor:
        """The flat vector θ of the variables' values in `tensors` (name → tensor), on their device."""
        parts = []
        for j, name in enumerate(self.names):
            flat = tensors[name].reshape(-1)
            idx = self._idx(j, flat.device)
            parts.append(flat if idx is None else flat[idx])
        return torch.cat(parts)

    def scatter(self, theta: torch.Tensor, base: dict) -> dict:
        """name → tensor: `base` with the variables replaced by θ (differentiable in θ)."""
        out, off = {}, 0
        for j, (name, shape, k) in enumerate(zip(self.names, self.shapes, self.sizes)):
            part = theta[off:off + k]
            off += k
            idx = self._idx(j, theta.device)
            if idx is None:
                out[name] = part.view(shape)
            elif k == 0:   # no variable here (a layer pruned whole, or left out of the support)
                out[name] = base[name]
            else:
                out[name] = base[name].reshape(-1).index_put((idx,), part).view(shape)
        return out

    def entry_names(self) -> list[str]:
        """A readable name per variable, `layer.weight[i,j]` (the torch parameter and its index)."""
        out = []
        for name, shape, idx, k in zip(self.names, self.shapes, self.index, self.sizes):
            flat = np.arange(k) if idx is None else idx.cpu().numpy()
            label = name[:-5] if name.endswith("_orig") else name
            if len(shape) == 0:
                out.append(label)
                continue
            coords = np.unravel_index(flat, shape)
            out.extend(f"{label}[{','.join(str(int(c[j])) for c in coords)}]" for j in range(k))
        return out


def _prunable(model: nn.Module, keep_last: bool) -> list[tuple[str, nn.Module, str]]:
    """(module name, module, parameter name) of the Linear/Conv weights global pruning may touch,
    the last such layer left out when `keep_last` (the paper keeps the classifier dense)."""
    out = []
    for mname, mod in model.named_modules():
        if isinstance(mod, PRUNABLE):
            pname = "weight_orig" if hasattr(mod, "weight_orig") else "weight"
            if getattr(mod, pname, None) is not None and getattr(mod, pname).requires_grad:
                out.append((mname, mod, pname))
    if keep_last and len(out) > 1:
        out = out[:-1]
    return out


def magnitude_prune(model: nn.Module, sparsity: float, *, keep_last: bool = True) -> Support:
    r"""Global magnitude (L1) pruning as in arXiv:2303.03428's experiments: the `sparsity` fraction
    of smallest-|w| entries among all Linear/Conv weights (the last such layer kept dense) is
    removed; biases, normalization parameters and the last layer survive.

    The mask is computed by `torch.nn.utils.prune.L1Unstructured.compute_mask` on the concatenated
    weights, exactly what `prune.global_unstructured(..., pruning_method=L1Unstructured,
    amount=sparsity)` computes for an unpruned model; the model itself is not modified (a model
    already pruned with `torch.nn.utils.prune` is scored by its effective, masked weights).
    """
    sparsity = float(sparsity)
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), not {sparsity}")
    targets = _prunable(model, keep_last)
    keys = {f"{m}.{p}" if m else p for m, _, p in targets}
    idx_of: dict[str, torch.Tensor] = {}
    achieved = 0.0
    if targets and sparsity > 0:
        scores = torch.cat([_effective_weight(mod).detach().reshape(-1).abs().to(torch.float64)
                            for _, mod, _ in targets])
        mask = torch_prune.L1Unstructured(amount=sparsity).compute_mask(scores, torch.ones_like(scores))
        achieved = float(1.0 - mask.mean())
        off = 0
        for m, mod, p in targets:
            k = _effective_weight(mod).numel()
            idx_of[f"{m}.{p}" if m else p] = torch.nonzero(mask[off:off + k]).reshape(-1)
            off += k
    return _support(model, idx_of, tuple(sorted(keys)), achieved)


def _effective_weight(mod: nn.Module) -> torch.Tensor:
    """The weight the forward uses: weight_orig·weight_mask under torch.nn.utils.prune (the
    module's `weight` attribute is refreshed only by the next forward's pre-hook)."""
    if hasattr(mod, "weight_orig") and hasattr(mod, "weight_mask"):
        return mod.weight_orig * mod.weight_mask
    return mod.weight


def existing_support(model: nn.Module, which: str = "surviving") -> Support:
    """The variables of a model as it is: "all" its trainable entries, or the "surviving" ones —
    the entries kept by masks of `torch.nn.utils.prune` (all entries where there is no mask)."""
    if which == "all":
        return _support(model, {}, (), 0.0)
    if which != "surviving":
        raise ValueError(f"support must be 'surviving', 'all' or a Support, not {which!r}")
    idx_of, pruned, removed, total = {}, [], 0, 0
    for mname, mod in model.named_modules():
        for pname, _ in list(mod.named_parameters(recurse=False)):
            if pname.endswith("_orig") and hasattr(mod, pname[:-5] + "_mask"):
                mask = getattr(mod, pname[:-5] + "_mask").reshape(-1) != 0
                key = f"{mname}.{pname}" if mname else pname
                idx_of[key] = torch.nonzero(mask).reshape(-1)
                pruned.append(key)
                removed += int((~mask).sum())
                total += mask.numel()
    return _support(model, idx_of, tuple(pruned), removed / total if total else 0.0)


def _support(model, idx_of, pruned, sparsity) -> Support:
    names, shapes, index = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        names.append(name)
        shapes.append(tuple(p.shape))
        index.append(idx_of.get(name))
    return Support(tuple(names), tuple(shapes), tuple(index), pruned, float(sparsity))


def resolve_support(model: nn.Module, support) -> Support:
    """A Support object from "surviving" / "all" / a Support (checked against the model)."""
    if isinstance(support, Support):
        have = [(n, tuple(p.shape)) for n, p in model.named_parameters() if p.requires_grad]
        if have != list(zip(support.names, support.shapes)):
            raise ValueError("the Support was made for another model (parameter names or shapes differ)")
        if support.n == 0:
            raise ValueError("the Support has no variables")
        return support
    return existing_support(model, support)


# ----------------------------------------------------------------------------- data

def batches_of(data) -> list:
    """`(x, y)` → one batch; any other iterable of `(x, y)` pairs (a DataLoader) → its batches.
    A loader is iterated afresh for every pass (a one-shot iterator is kept as a list)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return [tuple(data)]
    if iter(data) is data:  # an iterator cannot be iterated twice
        return [tuple(b) for b in data]
    return data


def batch_size(x) -> int:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0])
    if isinstance(x, (tuple, list)) and x:
        return batch_size(x[0])
    raise TypeError("the model's input must be a tensor (or a tuple of tensors) with the batch first")


def _to(x, dtype, device=None):
    """x on `device` (None: where it is), floating tensors in `dtype`."""
    if isinstance(x, torch.Tensor):
        x = x.to(device) if device is not None and x.device != device else x
        return x.to(dtype) if x.is_floating_point() else x
    if isinstance(x, (tuple, list)):
        return type(x)(_to(v, dtype, device) for v in x)
    return x


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a model with neither."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def resolve_group(process_group):
    """The torch.distributed process group to reduce over, or None for a single process.

    `process_group=None` (the default) means the default group when torch.distributed is
    initialized with more than one process, else a single process; False forces a single process;
    a ProcessGroup is used as it is."""
    if process_group is False:
        return None
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        if process_group is not None:
            raise ValueError("process_group was given but torch.distributed is not initialized")
        return None
    group = dist.group.WORLD if process_group is None else process_group
    return group if dist.get_world_size(group) > 1 else None


# ----------------------------------------------------------------------------- the objective

class Objective:
    r"""L(θ) of `model` under `loss_fn` on `data`, θ the variables of `support`.

    `loss_fn(model(x), y)` is a criterion with mean reduction (PyTorch's default) or sum reduction
    (`loss_fn.reduction == "sum"`); either way the objective is the mean over all samples,
    L = Σ_batches w_b·L_b with w_b = |b|/N (mean) or 1/N (sum). `dtype` (default: the model's)
    is the precision of every evaluation, e.g. `torch.float64` for reference computations.
    """

    def __init__(self, model: nn.Module, loss_fn, data, support: Support, *, dtype=None, seed: int = 0,
                 process_group=None):
        self.model, self.loss_fn, self.support = model, loss_fn, support
        params = dict(model.named_parameters())
        first = next(iter(params.values()), None)
        self.dtype = dtype or (first.dtype if first is not None else torch.get_default_dtype())
        self.device = model_device(model)
        base = {k: v.detach().to(self.dtype) for k, v in params.items()}
        if support.rest == "zero":
            for j, name in enumerate(support.names):
                idx = support._idx(j, self.device)
                if idx is not None:  # pruned entries are zero (held, not variables)
                    kept = base[name].reshape(-1)[idx]
                    base[name] = torch.zeros_like(base[name]).reshape(-1).index_put((idx,), kept).view_as(base[name])
        self.base = base
        self.buffers = {k: (v.detach().to(self.dtype) if v.is_floating_point() else v.detach())
                        for k, v in model.named_buffers()}
        self.data = batches_of(data)
        self.group = resolve_group(process_group)
        self.rank = 0
        if self.group is not None:
            import torch.distributed as dist
            self.rank = dist.get_rank(self.group)
        self.seed = int(seed) + (self.rank << 20)   # random layers: another stream on each rank
        self.reduction = getattr(loss_fn, "reduction", "mean")
        if self.reduction not in ("mean", "sum"):
            raise ValueError(f"loss_fn.reduction must be 'mean' or 'sum', not {self.reduction!r}")
        self.theta0 = support.gather(base)

    @property
    def n(self) -> int:
        return self.support.n

    def _batches(self):
        """(x, y, weight before dividing by N, batch index), and N at the end via `self._count`."""
        for i, (x, y) in enumerate(self.data):
            b = batch_size(x)
            yield (_to(x, self.dtype, self.device), _to(y, self.dtype, self.device),
                   (b if self.reduction == "mean" else 1), i, b)

    def batch_loss(self, theta: torch.Tensor, x, y, index: int) -> torch.Tensor:
        """ℓ on one batch at θ (its reduction as the criterion does it)."""
        params = self.support.scatter(theta, self.base)
        buffers = {k: v.clone() for k, v in self.buffers.items()}  # BN updates land on copies
        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.seed + index)
            out = functional_call(self.model, {**self.base, **params, **buffers},
                                  x if isinstance(x, tuple) else (x,))
        return self.loss_fn(out, y)

    def value(self, theta: torch.Tensor | None = None) -> float:
        """L(θ) (default θ: the model's current surviving weights)."""
        theta = self.theta0 if theta is None else theta.to(self.device, self.dtype)
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        with torch.no_grad():
            for x, y, w, i, b in self._batches():
                total[0] += w * self.batch_loss(theta, x, y, i).to(torch.float64)
                total[1] += b
        total = self._reduce(total)
        return float(total[0] / total[1])

    def _reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Σ over the ranks of the process group (one all-reduce), or t itself for one process."""
        if self.group is not None:
            import torch.distributed as dist
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
        return t

    def check_replicated(self) -> None:
        """Under a process group: raise ValueError unless every rank holds the same θ (the same
        model), which data-parallel products assume. One all-reduce of three numbers."""
        if self.group is None:
            return
        th = self.theta0.to(torch.float64)
        w = torch.arange(1, th.numel() + 1, device=th.device, dtype=torch.float64).remainder_(97).add_(1)
        sig = torch.stack([th.sum(), (th * w).sum(), torch.tensor(float(th.numel()), device=th.device,
                                                                   dtype=torch.float64)])
        import torch.distributed as dist
        hi, lo = sig.clone(), -sig
        dist.all_reduce(hi, op=dist.ReduceOp.MAX, group=self.group)
        dist.all_reduce(lo, op=dist.ReduceOp.MAX, group=self.group)
        if not torch.equal(hi, -lo):
            raise ValueError("the ranks of the process group hold different parameters: data-parallel "
                             "Hessian products need the same model on every rank (broadcast it first)")

    def at(self, theta: torch.Tensor | None = None, *, cache: bool | None = None) -> "Point":
        """Derivatives of L at θ. `cache` keeps each batch's gradient graph between products
        (default: True, for a loader too — an HVP then costs one backward pass per batch, and the
        graphs of all batches are held in memory; `cache=False` rebuilds them for every product)."""
        theta = self.theta0 if theta is None else theta.to(self.device, self.dtype)
        return Point(self, theta.detach(), cache=cache)


class Point:
    """Gradient, Hessian-vector and third-order products of an Objective at one θ."""

    def __init__(self, objective: Objective, theta: torch.Tensor, cache: bool | None):
        self.obj, self.theta = objective, theta
        self.cache = True if cache is None else bool(cache)
        self._graphs: dict[int, tuple] = {}
        self.products = 0  # Hessian-vector products computed (one per vector, batched or not)

    # -- per batch --------------------------------------------------------------------------
    def _graph(self, x, y, i):
        """(θ leaf, ∇L_b with its graph) for batch i, reused while cached."""
        if self.cache and i in self._graphs:
            return self._graphs[i]
        leaf = self.theta.clone().requires_grad_(True)
        loss = self.obj.batch_loss(leaf, x, y, i)
        (g,) = torch.autograd.grad(loss, leaf, create_graph=True)
        item = (leaf, g, loss.detach())
        if self.cache:
            self._graphs[i] = item
        return item

    def _sum(self, fn):
        """(1/N) Σ_batches w_b·fn(batch), N the number of samples — over every rank of the
        process group when there is one: each rank sums its own batches and one all-reduce adds the
        partial sums with the sample count appended to them."""
        acc, N = None, 0
        for x, y, w, i, b in self.obj._batches():
            r = fn(x, y, i)
            acc = w * r if acc is None else acc + w * r
            N += b
        if acc is None:
            raise ValueError("the data holds no batch" + (f" on rank {self.obj.rank}" if self.obj.group else ""))
        if self.obj.group is None:
            return acc / N
        shape = acc.shape
        flat = torch.cat([acc.reshape(-1), torch.tensor([float(N)], dtype=acc.dtype, device=acc.device)])
        flat = self.obj._reduce(flat)
        return (flat[:-1] / flat[-1]).reshape(shape)

    # -- products ---------------------------------------------------------------------------
    def loss(self) -> float:
        return float(self._sum(lambda x, y, i: self._graph(x, y, i)[2]))

    def gradient(self) -> torch.Tensor:
        """∇L(θ)."""
        return self._sum(lambda x, y, i: self._graph(x, y, i)[1].detach())

    def hvp(self, V: torch.Tensor) -> torch.Tensor:
        """H·v for a vector (n,), or the rows H·v_j for a block V of shape (m, n)."""
        V = V.to(self.obj.device, self.obj.dtype)
        batched = V.dim() == 2
        self.products += V.shape[0] if batched else 1

        def one(x, y, i):
            leaf, g, _ = self._graph(x, y, i)
            rows = _batched_vjp(g, leaf, V) if batched else None
            if rows is not None:
                return rows
            if batched:  # one product per row, the graph kept between them
                return torch.stack([torch.autograd.grad(g, leaf, v, retain_graph=True, allow_unused=True,
                                                        materialize_grads=True)[0] for v in V])
            return torch.autograd.grad(g, leaf, V, retain_graph=self.cache, allow_unused=True,
                                       materialize_grads=True)[0]
        return self._sum(one).detach()

    def third(self, b: int, rows: torch.Tensor) -> torch.Tensor:
        r"""T[a, b, :] = ∇_θ (H e_b)_a = ∂³L/∂θ_a∂θ_b∂θ_· for the rows a in `rows`: shape (len(rows), n)."""
        n, dev, dt = self.obj.n, self.obj.device, self.obj.dtype
        e_b = torch.zeros(n, dtype=dt, device=dev)
        e_b[b] = 1
        rows = torch.as_tensor(rows, device=dev)
        E = torch.zeros(len(rows), n, dtype=dt, device=dev)
        E[torch.arange(len(rows), device=dev), rows] = 1

        def one(x, y, i):
            leaf, g, _ = self._graph(x, y, i)
            (hb,) = torch.autograd.grad(g, leaf, e_b, retain_graph=True, create_graph=True,
                                        allow_unused=True, materialize_grads=True)
            if not hb.requires_grad:  # H does not depend on θ here: a quadratic loss
                return torch.zeros(len(rows), n, dtype=dt, device=dev)
            t = _batched_vjp(hb, leaf, E)
            if t is None:
                t = torch.stack([torch.autograd.grad(hb, leaf, e, retain_graph=True, allow_unused=True,
                                                     materialize_grads=True)[0] for e in E])
            return t
        return self._sum(one).detach()


def _batched_vjp(out: torch.Tensor, leaf: torch.Tensor, V: torch.Tensor):
    """The rows vᵀ·∂out/∂leaf for every row v of V in one vmapped backward pass, keeping the graph;
    None when a layer's backward has no batching rule (the caller then loops over the rows)."""
    try:
        return torch.autograd.grad(out, leaf, V, retain_graph=True, is_grads_batched=True,
                                   allow_unused=True, materialize_grads=True)[0]
    except RuntimeError:
        return None
