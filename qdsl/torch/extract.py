r"""`extract`: the local polynomial dynamics of a pruned PyTorch model, as a qdsl PolynomialSystem.

Gradient descent θ_{t+1} = θ_t − η∇L(θ_t) about the pruned weights θ* is, in u = θ − θ*,

    u_{t+1} = u_t + F_0 + F_1 u_t + F_2 (u_t ⊗ u_t) + O(‖u‖³),
    F_0 = −η ∇L(θ*),   F_1 = −η ∇²L(θ*),   F_2 = −(η/2) ∇³L(θ*)

(arXiv:2303.03428, Eq. 3; docs/maths.md), each F_ℓ the symmetric derivative tensor flattened to n × n^ℓ
in numpy kron order. The variables are the surviving weights only (an index into the model's
parameters), so the pruned entries add no zero modes. Every entry comes from autograd: the
columns of H from batched Hessian-vector products, the third derivatives
∇³L[i, a, b] = ∂_i (e_aᵀ H e_b) from one more backward pass through each product; each is
computed once for a canonical index order (i ≥ j for H; i ≤ a ≤ b for ∇³L) and copied to its
permutations, so F_1 and F_2 are exactly symmetric. Nothing n × n is held densely: every block of
columns is thresholded into sparse triplets as it is produced.

Dropping: an entry of F_ℓ is kept when |F_ℓ[i, j]| > drop_tol · max|F_ℓ| (drop_tol = 0 keeps
every nonzero); the Frobenius norm of what was dropped is reported in `system.meta["dropped"]`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch

from ..diagnostics import Diagnostic, SizeLimitError
from ..semantics.system import PolynomialSystem
from .objective import Objective, magnitude_prune, resolve_support

MAX_PARAMS = {1: 50_000, 2: 256}   # variables n per degree: n HVPs (degree 1), n(n+1)/2 third-order products and up to n³ entries of F_2 (degree 2)
MAX_EXPORT_TERMS = 4_000           # monomials of the exported .qd loss (SymPy derives it back)
DROP_TOL = 1e-12                   # float64 products carry relative rounding ≈ n·u ≈ 1e-13 for n ~ 10³


@dataclass(frozen=True, eq=False)
class ExtractedSystem(PolynomialSystem):
    """A PolynomialSystem extracted from a PyTorch model (`qdsl.torch.extract`).

    It is a `qdsl.PolynomialSystem` (everything that takes one accepts it); `meta` adds
    `support` (which torch entries the variables are), `loss` (L(θ*)), `dropped` (per F_ℓ: the
    threshold, the number of entries dropped and their Frobenius norm, absolute and relative),
    `sparsity` (the fraction of prunable weights removed) and `hvps` (products computed)."""

    def to_model(self, order: int | None = None):
        """The system as a `qdsl.Model` (a cubic polynomial loss in w − θ*, `evolve gd`), for
        reading or for the `.qd` toolchain. Only for small systems (at most MAX_EXPORT_TERMS
        monomials): SymPy derives the update back from the printed loss."""
        from ..builder import Model

        text, _ = self._loss_text()
        m = Model(_identifier(self.model))
        m.param("w", self.expansion_point + self.x0)
        m.data("c", self.expansion_point)
        m.loss(text)
        m.evolve("gd", lr=self.dynamics.lr, steps=self.dynamics.steps)
        m.expand(max(self.degree, 1), "init")
        m.carleman(order if order is not None else max(self.degree, 1))
        return m

    def to_qd(self, order: int | None = None) -> str:
        """`.qd` text of `to_model()`, headed by comments naming the torch entry behind each w[i]."""
        head = [f"# extracted by qdsl.torch from a PyTorch model: L(θ* + u) − L(θ*) up to degree "
                f"{self.degree + 1} in u = w − c, c = θ* (the pruned weights)"]
        head += [f"# w[{i}] = {name}" for i, name in enumerate(self.names)]
        return "\n".join(head) + "\n" + self.to_model(order).to_qd()

    def _loss_text(self) -> tuple[str, int]:
        r"""L(θ*+u) − L(θ*) = gᵀu + ½uᵀHu + (1/6)∇³L[u,u,u] with g = −F_0/η, H = −F_1/η, ∇³L = −2F_2/η,
        written as monomials over canonical index tuples (a coefficient per distinct monomial)."""
        n, lr = self.n, float(self.dynamics.lr)
        terms: list[tuple[float, tuple]] = []
        c0 = self.F[0].tocoo()
        terms += [(-float(v) / lr, (int(r),)) for r, v in zip(c0.row, c0.data)]
        if self.degree >= 1:
            c1 = self.F[1].tocoo()
            low = c1.row >= c1.col
            for r, c, v in zip(c1.row[low], c1.col[low], c1.data[low]):
                h = -float(v) / lr
                terms.append((0.5 * h if r == c else h, (int(c), int(r))))
        if self.degree >= 2:
            c2 = self.F[2].tocoo()
            a, b = c2.col // n, c2.col % n
            canon = (c2.row <= a) & (a <= b)
            for i, j, k, v in zip(c2.row[canon], a[canon], b[canon], c2.data[canon]):
                t = -2.0 * float(v) / lr
                terms.append((t * _multiplicity(int(i), int(j), int(k)) / 6.0, (int(i), int(j), int(k))))
        if len(terms) > MAX_EXPORT_TERMS:
            raise SizeLimitError(Diagnostic(
                "E0702", f"the extracted system has {len(terms)} monomials; .qd export is limited to "
                         f"{MAX_EXPORT_TERMS}", file=self.model,
                help="extract a smaller model (higher sparsity, degree=1) or use the PolynomialSystem "
                     "directly: qdsl.compile(system=...) and qdsl.carleman take it as it is"))
        if not terms:
            return "0", 0
        monos = [f"{coef!r}*" + "*".join(f"(w[{i}] - c[{i}])" for i in idx) for coef, idx in terms]
        return _balanced_sum(monos), len(terms)


def _balanced_sum(parts: list[str]) -> str:
    """`a + b + …` as a balanced tree of parenthesized halves: the language caps expression
    nesting (E0107), and a flat sum of many terms would be a left-deep chain."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return f"({_balanced_sum(parts[:mid])}) + ({_balanced_sum(parts[mid:])})"


def extract(model: torch.nn.Module, loss_fn, batch, *, lr: float, sparsity: float = 0.9, degree: int = 2,
            steps: int = 10, support=None, keep_last: bool = True, drop_tol: float = DROP_TOL,
            dtype=torch.float64, block: int = 64, max_params: int | None = None,
            name: str = "torch_model", gd_reference: bool = True) -> ExtractedSystem:
    r"""The local gradient-descent dynamics of `model` about its magnitude-pruned weights.

    `loss_fn(model(x), y)` is the criterion and `batch` the pair `(x, y)` (or a loader: the loss
    is then the mean over all its samples). The model is pruned like the paper (global L1 over the
    Linear/Conv weights, the last layer kept dense; `sparsity` is the fraction removed), or
    `support` ("surviving" — existing `torch.nn.utils.prune` masks —, "all", or a `Support`)
    names the variables directly. Returns an :class:`ExtractedSystem` (a `PolynomialSystem`,
    kind "gd", u_0 = 0 at θ* = the surviving weights) with F_0 = −lr·∇L, F_1 = −lr·∇²L and, for
    `degree` 2, F_2 = −(lr/2)·∇³L on the support (module docstring). Computations run in `dtype`
    (float64 by default) on copies; the model is not modified.

    `meta["dissipativity"]` says which modes of I + F_1 break dissipativity (count, share, the
    most negative curvature, λ_max against 2/lr); with `gd_reference` (default) `meta["torch_gd"]`
    holds `steps` steps of torch's own gradient descent on the network from θ* (u_t, float64), the
    reference `qdsl run`'s check (c) compares the circuit's trajectory with.

    Size: degree 1 needs n Hessian-vector products; degree 2 needs n(n+1)/2 third-order products
    and F_2 may have up to n³ nonzeros, so n is limited to MAX_PARAMS[degree] (raise
    `max_params` deliberately); larger requests raise `qdsl.SizeLimitError` before any work.
    """
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, not {lr}")
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2 (the third-derivative tensor is the highest built), not {degree}")
    if drop_tol < 0:
        raise ValueError("drop_tol must be ≥ 0")
    sup = magnitude_prune(model, sparsity, keep_last=keep_last) if support is None \
        else resolve_support(model, support)
    n = sup.n
    limit = MAX_PARAMS[degree] if max_params is None else int(max_params)
    if n > limit:
        raise SizeLimitError(Diagnostic(
            "E0701", f"extracting degree {degree} over {n} surviving weights is over the limit of {limit}",
            file=name,
            help=("prune harder (sparsity closer to 1), use degree=1, or pass max_params= deliberately "
                  "(degree 2 costs n(n+1)/2 third-order products and F_2 may hold n³ entries)"
                  if degree == 2 else "prune harder, or pass max_params= deliberately")))
    obj = Objective(model, loss_fn, batch, sup, dtype=dtype)
    pt = obj.at(cache=True)
    theta = obj.theta0

    g = pt.gradient()
    F0, d0 = _threshold(_Triplets.from_dense(-lr * g.cpu().numpy()[:, None]), drop_tol, (n, 1))

    # F_1: column blocks H[:, J] by batched HVPs; keep i ≥ j, mirror
    low = _Triplets()
    dev = obj.device
    eye_rows = torch.arange(n, device=dev)
    for j0 in range(0, n, block):
        J = eye_rows[j0:j0 + block]
        E = torch.zeros(len(J), n, dtype=obj.dtype, device=dev)
        E[torch.arange(len(J), device=dev), J] = 1
        HJ = (-lr * pt.hvp(E)).cpu().numpy()          # row r: column j0 + r of F_1
        r, i = np.nonzero(HJ)
        j = r + j0
        keep = i >= j
        low.add(i[keep], j[keep], HJ[r[keep], i[keep]], np.where(i[keep] == j[keep], 1, 2), drop_tol)
    F1, d1 = _threshold(low, drop_tol, (n, n), mirror=True)
    Fs, dropped = [F0, F1], {"F_0": d0, "F_1": d1}

    if degree == 2:
        tri = _Triplets()
        for b in range(n):
            for a0 in range(0, b + 1, block):
                rows = torch.arange(a0, min(b + 1, a0 + block))
                T = (-0.5 * lr * pt.third(b, rows)).cpu().numpy()   # T[r, i] = F_2 entry for (a = a0 + r, b, i)
                r, i = np.nonzero(T)
                a = r + a0
                keep = i <= a
                i, a, v = i[keep], a[keep], T[r[keep], i[keep]]
                tri.add3(i, a, np.full(i.shape, b), v, drop_tol)
        F2, d2 = _threshold3(tri, drop_tol, n)
        Fs.append(F2)
        dropped["F_2"] = d2

    dissipativity = dissipativity_report(F1, lr)
    torch_gd = torch_gradient_descent(obj, lr, steps) if gd_reference else None

    names = sup.entry_names()
    system = ExtractedSystem.from_tensors(Fs, np.zeros(n), "gd", names=names,
                                          expansion_point=theta.to(torch.float64).cpu().numpy(), steps=steps,
                                          lr=lr, model=name)
    system = replace(system, exact=False)  # a truncated Taylor expansion of a general loss
    system.meta.update(support=sup, loss=pt.loss(), dropped=dropped, drop_tol=float(drop_tol),
                       sparsity=sup.sparsity, hvps=pt.products, dtype=str(obj.dtype).replace("torch.", ""),
                       dissipativity=dissipativity, rest=sup.rest)
    if torch_gd is not None:
        system.meta["torch_gd"] = torch_gd
    return system


def torch_gradient_descent(obj: Objective, lr: float, steps: int) -> np.ndarray:
    r"""The reference for check (c): `steps` steps of `torch.optim.SGD` (lr, no momentum) on the
    objective's own loss — the network itself, not its Taylor polynomial — from θ*, with the
    entries outside the support held as the Support says. Returns u_t = θ_t − θ* (steps + 1, n),
    float64."""
    theta = obj.theta0.clone().requires_grad_(True)
    opt = torch.optim.SGD([theta], lr=lr)
    out = [torch.zeros(obj.n, dtype=torch.float64)]
    for _ in range(int(steps)):
        opt.zero_grad()
        g = obj.at(theta.detach(), cache=False).gradient()
        theta.grad = g.to(theta.dtype)
        opt.step()
        out.append((theta.detach() - obj.theta0).to(torch.float64).cpu())
    return torch.stack(out).numpy()


def dissipativity_report(F1, lr: float, *, dense_up_to: int = 4000) -> dict:
    r"""Which modes of I + F_1 = I − lr·H break dissipativity (|1 − lr·λ| ≥ 1): those of negative
    curvature (λ < 0) and those too steep for lr (λ > 2/lr), counted by the eigenvalues of H; a
    mode with |λ| ≤ n·u·‖H‖ (zero to rounding) is counted as flat (|1 − lr·λ| = 1: neither grows
    nor decays). Exact (dense eigenvalues) up to `dense_up_to` variables; above that the extremes
    by ARPACK only, and the counts are None."""
    n = F1.shape[0]
    H = -F1 / lr
    out = {"n": int(n), "lr": float(lr), "two_over_lr": 2.0 / lr}
    if n == 0:
        return out
    if n <= dense_up_to:
        lam = np.linalg.eigvalsh(H.toarray() if sp.issparse(H) else np.asarray(H))
        scale = float(np.max(np.abs(lam))) if lam.size else 0.0
        zero = n * np.finfo(float).eps * scale
        neg, flat = lam < -zero, np.abs(lam) <= zero
        steep = lam > 2.0 / lr
        bad = neg | steep
        out.update(exact=True, negative_curvature=int(neg.sum()), too_steep=int(steep.sum()),
                   flat=int(flat.sum()), breaking=int(bad.sum()), share=float(bad.sum()) / n,
                   lambda_min=float(lam[0]), lambda_max=float(lam[-1]),
                   spectral_radius=float(np.max(np.abs(1.0 - lr * lam))))
    else:
        import scipy.sparse.linalg as spla
        lo = float(spla.eigsh(H, k=1, which="SA", return_eigenvectors=False)[0])
        hi = float(spla.eigsh(H, k=1, which="LA", return_eigenvectors=False)[0])
        out.update(exact=False, negative_curvature=None, too_steep=None, flat=None, breaking=None, share=None,
                   lambda_min=lo, lambda_max=hi, spectral_radius=max(abs(1 - lr * lo), abs(1 - lr * hi)))
    return out


def describe_dissipativity(d: dict) -> str:
    """One line: how many modes break dissipativity, their share, the most negative curvature."""
    if d.get("breaking") is None:
        return (f"λ ∈ [{d['lambda_min']:.4g}, {d['lambda_max']:.4g}] (2/lr = {d['two_over_lr']:.4g}); "
                f"ρ(I + F_1) = {d['spectral_radius']:.6g}; counts not computed (n = {d['n']} > dense limit)")
    return (f"{d['breaking']} of {d['n']} modes break dissipativity ({100 * d['share']:.1f} %): "
            f"{d['negative_curvature']} of negative curvature (most negative λ = {d['lambda_min']:.4g}), "
            f"{d['too_steep']} steeper than 2/lr = {d['two_over_lr']:.4g} (λ_max = {d['lambda_max']:.4g}); "
            f"{d['flat']} flat; ρ(I + F_1) = {d['spectral_radius']:.6g}")


# ----------------------------------------------------------------------------- sparse assembly

class _Triplets:
    """Candidate entries (with multiplicity: how many entries of the full symmetric tensor each
    stands for), thresholded against the running maximum as they arrive; the final threshold
    is applied in `_threshold` (the running max never exceeds the final one, so nothing kept
    early is wrongly dropped, and nothing dropped early would have been kept)."""

    def __init__(self):
        self.idx: list[tuple] = []
        self.val: list[np.ndarray] = []
        self.mult: list[np.ndarray] = []
        self.vmax = 0.0
        self.dropped_sq = 0.0
        self.dropped_count = 0
        self.total_sq = 0.0

    @classmethod
    def from_dense(cls, a: np.ndarray):
        t = cls()
        r, c = np.nonzero(a)
        t.add(r, c, a[r, c], np.ones(r.size, dtype=np.int64), 0.0)
        return t

    def _push(self, idx, v, mult, tol):
        if v.size == 0:
            return
        self.vmax = max(self.vmax, float(np.max(np.abs(v))))
        self.total_sq += float(np.sum(mult * v * v))
        keep = np.abs(v) > tol * self.vmax
        if not np.all(keep):
            d = ~keep
            self.dropped_sq += float(np.sum(mult[d] * v[d] ** 2))
            self.dropped_count += int(np.sum(mult[d]))
        self.idx.append(tuple(x[keep] for x in idx))
        self.val.append(v[keep])
        self.mult.append(mult[keep])

    def add(self, i, j, v, mult, tol):
        self._push((np.asarray(i, np.int64), np.asarray(j, np.int64)), np.asarray(v, float),
                   np.asarray(mult, np.int64), tol)

    def add3(self, i, a, b, v, tol):
        i, a, b = (np.asarray(x, np.int64) for x in (i, a, b))
        mult = np.where((i == a) & (a == b), 1, np.where((i == a) | (a == b), 3, 6))
        self._push((i, a, b), np.asarray(v, float), mult, tol)

    def final(self, tol):
        """(index arrays, values, multiplicities) kept, and the drop report."""
        k = len(self.idx[0]) if self.idx else 0
        idx = tuple(np.concatenate([x[d] for x in self.idx]) for d in range(k)) if self.idx else ()
        val = np.concatenate(self.val) if self.val else np.zeros(0)
        mult = np.concatenate(self.mult) if self.mult else np.zeros(0, np.int64)
        thr = tol * self.vmax
        keep = np.abs(val) > thr
        dsq = self.dropped_sq + float(np.sum(mult[~keep] * val[~keep] ** 2))
        dcount = self.dropped_count + int(np.sum(mult[~keep]))
        total = math.sqrt(self.total_sq)
        report = {"threshold": thr, "dropped_entries": dcount, "dropped_norm": math.sqrt(dsq),
                  "relative": math.sqrt(dsq) / total if total > 0 else 0.0}
        return tuple(x[keep] for x in idx), val[keep], report


def _threshold(t: _Triplets, tol: float, shape, mirror: bool = False):
    idx, v, report = t.final(tol)
    if not idx:
        return sp.csr_matrix(shape), report
    i, j = idx
    if mirror:
        off = i != j
        i, j, v = np.concatenate([i, j[off]]), np.concatenate([j, i[off]]), np.concatenate([v, v[off]])
    return sp.csr_matrix((v, (i, j)), shape=shape), report


def _threshold3(t: _Triplets, tol: float, n: int):
    """F_2 (n × n²) from canonical triples i ≤ a ≤ b: every distinct permutation (r, s, t) holds
    the same value at row r, column s·n + t."""
    idx, v, report = t.final(tol)
    if not idx:
        return sp.csr_matrix((n, n * n)), report
    i, a, b = idx
    perms = [(i, a, b), (i, b, a), (a, i, b), (a, b, i), (b, i, a), (b, a, i)]
    key = np.concatenate([(r * n + s) * n + u for r, s, u in perms])
    val = np.tile(v, 6)
    key, first = np.unique(key, return_index=True)   # coinciding indices give one entry, not several
    val = val[first]
    return sp.csr_matrix((val, (key // (n * n), key % (n * n))), shape=(n, n * n)), report


def _multiplicity(i, j, k) -> int:
    return 1 if i == j == k else (3 if i == j or j == k or i == k else 6)


def _identifier(name: str) -> str:
    s = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "torch_model"
    return s if not s[0].isdigit() else "m_" + s
