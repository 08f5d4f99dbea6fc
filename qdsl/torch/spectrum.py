r"""Hessian spectra of PyTorch models from Hessian-vector products: Lanczos extremes and SLQ densities.

Extremes: ARPACK's implicitly restarted Lanczos (`scipy.sparse.linalg.eigsh`, which="BE") on a
`LinearOperator` whose matvec is an autograd HVP; ARPACK stops when ‖Hx − θx‖ ≤ tol·|θ|, so each
returned θ lies within tol·|θ| of an eigenvalue of H.

Density: stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017; Papyan 2019/2020). For each of
`vectors` random unit vectors v (Rademacher, normalized), m Lanczos steps with full
reorthogonalization give the tridiagonal T_m = Σ_j θ_j s_j s_jᵀ; the Gauss quadrature
vᵀ f(H) v ≈ Σ_j τ_j f(θ_j), τ_j = (s_j[0])², is exact for polynomials f of degree ≤ 2m − 1.
Averaged over the vectors, the nodes θ_j with weights τ_j / vectors form a discrete measure whose
moments estimate tr(H^p)/n (Hutchinson). The smooth density is that measure convolved with a
Gaussian, as in Papyan's `LanczosApproxSpec` and the reference paper: the spectrum is rescaled to
[−1, 1] over [λ_min − margin·w, λ_max + margin·w] (w = λ_max − λ_min), evaluated on
`grid_points` points, with σ = (2/(m − 1)) / √(8 ln κ) in the rescaled units — the Gaussian falls
to 1/κ of its peak half a node spacing 2/(m − 1) away. The paper's parameters are the defaults:
m = 256 Lanczos steps, 1024 grid points, κ = 1.25 (margin 0.05 as in Papyan's code).
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .objective import Objective, resolve_support

PAPER_LANCZOS_STEPS = 256
PAPER_GRID_POINTS = 1024
PAPER_KAPPA = 1.25
PAPYAN_MARGIN = 0.05


@dataclass(frozen=True)
class Density:
    """A smoothed spectral density on a grid: `values[i]` ≈ ρ(`grid[i]`), ∫ρ dλ ≈ 1.
    `sigma` is the Gaussian's width in eigenvalue units; `kappa`, `margin` as in the module doc."""

    grid: np.ndarray
    values: np.ndarray
    sigma: float
    kappa: float
    margin: float

    def __iter__(self):  # grid, values = spectrum.density
        return iter((self.grid, self.values))


@dataclass(frozen=True, eq=False)
class Spectrum:
    """The Hessian spectrum of a loss on a support (docs/torch.md).

    `eigenvalues`: the extreme eigenvalues found (ascending: the k smallest, then the k largest;
    all of them when n ≤ 2k + 1). `nodes`, `weights`: the SLQ quadrature (weights sum to 1);
    `density`: its Gaussian broadening (None when density=False); `n`: the dimension; `meta`:
    steps, vectors, tolerances, HVP count and seconds."""

    eigenvalues: np.ndarray
    nodes: np.ndarray | None
    weights: np.ndarray | None
    density: Density | None
    n: int
    meta: dict = field(default_factory=dict)

    @property
    def largest(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def smallest(self) -> float:
        return float(self.eigenvalues[0])

    def _need_quadrature(self):
        if self.nodes is None:
            raise ValueError("this spectrum has no quadrature (computed with density=False)")

    def moment(self, p: int) -> float:
        """Σ_j w_j θ_j^p, the SLQ estimate of tr(H^p)/n."""
        self._need_quadrature()
        return float(np.sum(self.weights * self.nodes ** p))

    def dissipative_fraction(self, lr: float | None = None) -> float:
        """The fraction of modes (quadrature weight) that decay under gradient descent:
        |1 − lr·λ| < 1, i.e. 0 < λ < 2/lr; without `lr` (lr → 0) the positive fraction λ > 0."""
        self._need_quadrature()
        if lr is None:
            return float(np.sum(self.weights[self.nodes > 0]))
        return float(np.sum(self.weights[np.abs(1.0 - float(lr) * self.nodes) < 1.0]))

    def to_dict(self) -> dict:
        d = {"n": self.n, "eigenvalues": [float(x) for x in self.eigenvalues],
             "meta": {k: v for k, v in self.meta.items() if isinstance(v, (int, float, str, bool))}}
        if self.nodes is not None:
            d.update(nodes=self.nodes.tolist(), weights=self.weights.tolist(),
                     positive_fraction=self.dissipative_fraction())
        if self.density is not None:
            d["density"] = {"grid": self.density.grid.tolist(), "values": self.density.values.tolist(),
                            "sigma": self.density.sigma, "kappa": self.density.kappa}
        return d

    def plot(self, ax=None, *, label: str | None = None, log: bool = True, **kwargs):
        """Draw the density (log scale by default, as the paper) on a matplotlib axis."""
        if self.density is None:
            raise ValueError("this spectrum has no density (computed with density=False)")
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        grid, values = self.density
        if log:  # nine decades below the peak: the isolated outliers show, the Gaussians' far tails do not
            floor = float(values.max()) * 1e-9
            ax.plot(grid, np.where(values > floor, values, np.nan), label=label, **kwargs)
            ax.set_yscale("log")
            lo = ax.get_ylim()[0]
            ax.set_ylim(bottom=max(lo, floor))
        else:
            ax.plot(grid, values, label=label, **kwargs)
        ax.set_xlabel("Hessian eigenvalue λ")
        ax.set_ylabel("density")
        return ax


def hessian_spectrum(model: torch.nn.Module, loss_fn, batch, *, k: int = 5, density: bool = True,
                     support="surviving", lanczos_steps: int = PAPER_LANCZOS_STEPS, vectors: int = 4,
                     grid_points: int = PAPER_GRID_POINTS, kappa: float = PAPER_KAPPA,
                     margin: float = PAPYAN_MARGIN, tol: float | None = None, dtype=None,
                     seed: int = 0, cache: bool | None = None, reorth: str = "auto", basis: str = "auto",
                     lanczos_dir: str | None = None, memory_limit: int | None = None,
                     extremes: str = "arpack", process_group=None, verbose: bool = False) -> Spectrum:
    r"""Extreme eigenvalues and spectral density of the Hessian of L(θ) = mean loss over `batch`
    (a pair `(x, y)` or a loader of pairs), θ the `support`: "surviving" (what
    `torch.nn.utils.prune` masks keep — all weights of an unpruned model), "all" (every trainable
    entry: on a model pruned with `torch.nn.utils.prune` the Hessian w.r.t. `weight_orig`, the
    paper's view, where each masked entry is an exact zero mode; on a model whose pruned weights
    are merely zero, the dense network's Hessian at that point), or a `Support`.

    `k` eigenvalues at each end by ARPACK (tolerance `tol`: relative, default 1e-10 in float64,
    1e-5 in float32); with `density`, `vectors` SLQ runs of `lanczos_steps` fully reorthogonalized
    Lanczos steps and the Gaussian broadening of the module docstring (`grid_points`, `kappa`,
    `margin`). `dtype` (default: the model's) sets the precision of every HVP; `seed` the random
    vectors. BatchNorm runs in the model's mode without its buffers changing (see `Objective`).

    Devices: every product runs on the model's device in `dtype`; the random start vectors are
    drawn from a CPU generator seeded with `seed` and moved there, so CPU and GPU runs start from
    the same vectors. Memory: `reorth` ("auto", "full", "partial", "none"), `basis` ("auto",
    "memory", "disk"), `lanczos_dir` and `memory_limit` choose and check the Lanczos memory
    before the first product (`lanczos_plan`: over the free memory → `qdsl.SizeLimitError` E0710);
    `spec.meta["lanczos_plan"]` states it, and `verbose` prints it to stderr first. `extremes`:
    "arpack" (k at each end by ARPACK, vectors of n float64 on the CPU) or "lanczos" (the k
    smallest and largest Ritz values of the first SLQ run, each within its residual bound
    β_m·|s_m,i| of an eigenvalue, `meta["extreme_residuals"]`; needs `density`).

    torch.distributed: under a process group (`process_group=` a ProcessGroup, or None: the
    default group when torch.distributed is initialized with several processes; False: this
    process alone) every rank passes its own shard of the data, and each product is the sum of
    the ranks' partial sums — one all-reduce per product, the sample count travelling with it —
    so L is the mean over all ranks' samples. Every rank must hold the same model (checked) and
    call with the same options; all ranks then compute the same spectrum. BatchNorm in train mode
    normalizes each batch by its own statistics, as DistributedDataParallel without SyncBatchNorm
    does: the single-process equivalent is the loader of all ranks' batches.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if density and lanczos_steps < 2:
        raise ValueError("lanczos_steps must be at least 2")
    if density and int(vectors) < 1:
        raise ValueError("vectors must be at least 1")
    if extremes not in ("arpack", "lanczos"):
        raise ValueError(f"extremes must be 'arpack' or 'lanczos', not {extremes!r}")
    if extremes == "lanczos" and not density:
        raise ValueError("extremes='lanczos' takes the Ritz values of the SLQ runs: it needs density=True")
    sup = resolve_support(model, support)
    obj = Objective(model, loss_fn, batch, sup, dtype=dtype, seed=seed, process_group=process_group)
    obj.check_replicated()
    n = obj.n
    m = min(int(lanczos_steps), n)
    plan = lanczos_plan(n, m, obj.dtype, obj.device, reorth=reorth, basis=basis, directory=lanczos_dir,
                        memory_limit=memory_limit) if density else None
    if verbose and plan is not None:
        print(plan.describe(), file=sys.stderr, flush=True)
    pt = obj.at(cache=cache)
    if tol is None:
        tol = 1e-10 if obj.dtype == torch.float64 else 1e-5
    gen = torch.Generator().manual_seed(int(seed))
    meta = {"k": int(k), "tol": float(tol), "dtype": str(obj.dtype).replace("torch.", ""),
            "support": "custom" if not isinstance(support, str) else support, "sparsity": sup.sparsity,
            "device": str(obj.device), "ranks": 1 if obj.group is None else _world(obj.group),
            "extremes": extremes}
    if plan is not None:
        meta["lanczos_plan"] = plan.describe()
        meta["reorth"] = plan.reorth

    t0 = time.perf_counter()
    # ARPACK's start vector is drawn first either way, so the SLQ vectors do not depend on `extremes`
    v0 = torch.randn(n, generator=gen, dtype=torch.float64).numpy()
    if extremes == "arpack":
        ext = extreme_eigenvalues(pt.hvp, n, k, tol=tol, dtype=obj.dtype, v0=v0, device=obj.device)
    meta["seconds_extremes"] = time.perf_counter() - t0
    meta["hvps_extremes"] = pt.products

    nodes = weights = dens = None
    if density:
        t1 = time.perf_counter()
        all_nodes, all_weights = [], []
        reo = 0
        for r in range(int(vectors)):
            v = (torch.randint(0, 2, (n,), generator=gen, dtype=torch.int8).to(obj.dtype) * 2 - 1) / math.sqrt(n)
            stats: dict = {}
            alpha, beta = lanczos(pt.hvp, v.to(obj.device), m, plan=plan, stats=stats)
            reo += stats.get("reorthogonalizations", 0)
            th, tau = gauss_quadrature(alpha, beta)
            if r == 0 and extremes == "lanczos":
                ext, res = ritz_extremes(alpha, beta, k, stats["last_beta"])
                meta["extreme_residuals"] = [float(x) for x in res]
            all_nodes.append(th)
            all_weights.append(tau / int(vectors))
        if plan.reorth == "partial":
            meta["reorthogonalizations"] = reo
        nodes, weights = np.concatenate(all_nodes), np.concatenate(all_weights)
        lo = min(float(ext[0]), float(nodes.min()))
        hi = max(float(ext[-1]), float(nodes.max()))
        dens = broaden(nodes, weights, lo, hi, steps=max(m, 2), grid_points=grid_points, kappa=kappa,
                       margin=margin)
        meta.update(seconds_density=time.perf_counter() - t1, lanczos_steps=m, vectors=int(vectors))
    meta["hvps"] = pt.products
    return Spectrum(ext, nodes, weights, dens, n, meta)


def _world(group) -> int:
    import torch.distributed as dist
    return int(dist.get_world_size(group))


def ritz_extremes(alpha: np.ndarray, beta: np.ndarray, k: int, last_beta: float) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest and k largest Ritz values of the tridiagonal (ascending; all of them when it
    has ≤ 2k) and their residuals β_m·|s_{m,i}| (β_m = `last_beta`, the norm of the residual vector
    at the last step): ‖H y_i − θ_i y_i‖ = β_m·|s_{m,i}| for the Ritz vector y_i, so each Ritz value
    lies within it of an eigenvalue of H (up to the basis' loss of orthogonality, kept ≤ √u by
    full or partial reorthogonalization)."""
    from scipy.linalg import eigh_tridiagonal

    if alpha.size == 1:
        return alpha.copy(), np.array([abs(float(last_beta))])
    theta, S = eigh_tridiagonal(alpha, beta)
    res = float(last_beta) * np.abs(S[-1])
    idx = np.arange(theta.size) if theta.size <= 2 * k else np.r_[0:k, theta.size - k:theta.size]
    return theta[idx], res[idx]


def extreme_eigenvalues(hvp, n: int, k: int, *, tol: float, dtype, generator=None, device=None,
                        v0: np.ndarray | None = None) -> np.ndarray:
    """The k smallest and k largest eigenvalues (ascending) of the symmetric operator `hvp`
    (a function of a torch vector on `device`), by ARPACK; all n of them, from n products, when
    ARPACK cannot be used (n ≤ 2k + 1)."""
    import scipy.sparse.linalg as spla

    if 2 * k + 1 >= n:
        eye = torch.eye(n, dtype=dtype, device=device)
        H = hvp(eye).to(torch.float64).cpu().numpy()
        return np.linalg.eigvalsh(0.5 * (H + H.T))

    def mv(x):
        v = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64).ravel()).to(device=device, dtype=dtype)
        return hvp(v).to(torch.float64).cpu().numpy()

    op = spla.LinearOperator((n, n), matvec=mv, dtype=np.float64)
    if v0 is None:
        v0 = torch.randn(n, generator=generator, dtype=torch.float64).numpy()
    ncv = min(n, max(4 * k + 1, 20))
    ev = spla.eigsh(op, k=2 * k, which="BE", tol=tol, v0=v0, ncv=ncv, return_eigenvectors=False)
    return np.sort(ev)


# ----------------------------------------------------------------------------- Lanczos and its memory

FULL_BASIS_BUDGET = 1 << 30   # reorth="auto": full reorthogonalization while the basis takes ≤ 1 GiB
DISK_CHUNK_BYTES = 64 << 20   # a disk-held basis is read back in chunks of ≤ 64 MiB
WORKING_VECTORS = 6           # q_{j-1}, q_j, H·q_j, the residual, and a chunk's product buffers


@dataclass(frozen=True)
class LanczosPlan:
    """What one Lanczos run will hold, decided and checked before it starts (`lanczos_plan`).

    `reorth`: "full" (every vector kept, each new one reorthogonalized against all), "partial"
    (Simon's partial reorthogonalization: the basis is kept — on the device or streamed to a file
    on disk — but read back only when the estimated loss of orthogonality passes √u) or "none"
    (the three-term recurrence alone). `memory_bytes`: the basis (when held in memory) plus the
    working vectors, on `device`; `disk_bytes`: the basis on disk. Neither includes the model or
    the graph of the Hessian-vector product, which the caller holds anyway."""

    n: int
    steps: int
    dtype: str
    itemsize: int
    reorth: str
    basis: str                  # "memory", "disk" or "none"
    device: str
    memory_bytes: int
    disk_bytes: int
    available_memory: int | None
    available_disk: int | None
    directory: str | None = None

    def describe(self) -> str:
        where = {"memory": f"the basis held on {self.device}", "disk": f"the basis streamed to disk "
                 f"({_gib(self.disk_bytes)} in {self.directory})", "none": "no basis kept"}[self.basis]
        avail = "" if self.available_memory is None else f" of {_gib(self.available_memory)} available"
        return (f"Lanczos: {self.steps} steps, n = {self.n:,} ({self.dtype}), {self.reorth} "
                f"reorthogonalization, {where}; needs {_gib(self.memory_bytes)} on {self.device}{avail} "
                f"beyond the model and its HVP graph")

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _gib(b: int | float) -> str:
    return f"{b / 2 ** 30:.2f} GiB" if b >= 2 ** 28 else f"{b / 2 ** 20:.1f} MiB"


def available_memory(device) -> int | None:
    """Free bytes where vectors of `device` live: the GPU's free memory (torch.cuda.mem_get_info),
    or MemAvailable of /proc/meminfo for the CPU (None where neither can be read)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    from qdsl.machine import available_memory as host_available
    return host_available()


def lanczos_plan(n: int, steps: int, dtype, device="cpu", *, reorth: str = "auto", basis: str = "auto",
                 directory: str | None = None, memory_limit: int | None = None) -> LanczosPlan:
    r"""Choose and check the memory of `steps` Lanczos steps on vectors of length n.

    reorth="auto" keeps full reorthogonalization while the basis (steps·n numbers) takes at most
    FULL_BASIS_BUDGET (1 GiB) and half the free memory, and switches to partial
    reorthogonalization with the basis streamed to disk above that. basis="auto" holds the basis
    in memory for "full", on disk for "partial". Raises `qdsl.SizeLimitError` (E0710) when the plan
    does not fit the free memory (`memory_limit` bytes when given, else `available_memory`) or the
    free disk space of `directory` (default: the temporary directory)."""
    import shutil
    import tempfile

    from ..diagnostics import Diagnostic, SizeLimitError

    if reorth not in ("auto", "full", "partial", "none"):
        raise ValueError(f"reorth must be 'auto', 'full', 'partial' or 'none', not {reorth!r}")
    if basis not in ("auto", "memory", "disk"):
        raise ValueError(f"basis must be 'auto', 'memory' or 'disk', not {basis!r}")
    dtype = torch.empty(0, dtype=dtype).dtype
    item = torch.empty(0, dtype=dtype).element_size()
    device = torch.device(device)
    free = int(memory_limit) if memory_limit is not None else available_memory(device)
    vec = n * item
    basis_bytes = steps * vec
    if reorth == "auto":
        small = basis_bytes <= FULL_BASIS_BUDGET and (free is None or basis_bytes <= free // 2)
        reorth = "full" if small or basis == "memory" else "partial"
    if reorth == "full" and basis == "disk":
        raise ValueError("full reorthogonalization reads the whole basis at every step: keep it in memory "
                         "(basis='memory') or use reorth='partial' with basis='disk'")
    where = "none" if reorth == "none" else ("memory" if reorth == "full" or basis == "memory" else "disk")
    chunk = min(basis_bytes, DISK_CHUNK_BYTES) if where == "disk" else 0
    mem = WORKING_VECTORS * vec + (basis_bytes if where == "memory" else 2 * chunk)
    disk = basis_bytes if where == "disk" else 0
    directory = directory or tempfile.gettempdir()
    disk_free = shutil.disk_usage(directory).free if where == "disk" else None
    plan = LanczosPlan(int(n), int(steps), str(dtype).replace("torch.", ""), item, reorth, where, str(device),
                       int(mem), int(disk), free, disk_free, directory if where == "disk" else None)
    if free is not None and mem > free:
        alt = ("reorth='partial' with basis='disk' holds only a few vectors in memory"
               if where == "memory" else "fewer parameters (a sparser support) or a device with more memory")
        raise SizeLimitError(Diagnostic(
            "E0710", f"Lanczos needs {_gib(mem)} on {device} and {_gib(free)} is free "
                     f"({plan.describe()})", file="hessian_spectrum",
            help=f"use {alt}, or fewer lanczos_steps"))
    if disk_free is not None and disk > disk_free:
        raise SizeLimitError(Diagnostic(
            "E0710", f"the Lanczos basis needs {_gib(disk)} of disk in {directory} and {_gib(disk_free)} is free",
            file="hessian_spectrum", help="give lanczos_dir= on a larger disk, or fewer lanczos_steps"))
    return plan


class _Basis:
    """The Lanczos vectors q_0, q_1, …: held in one tensor on the device, or appended to a file and
    read back in chunks (`plan.basis`). `project_out(w)` removes from w its components along every
    stored vector: block classical Gram–Schmidt, twice ("twice is enough", Giraud et al. 2005)."""

    def __init__(self, plan: LanczosPlan, dtype, device):
        self.plan, self.dtype, self.device, self.count = plan, dtype, device, 0
        self.n = plan.n
        if plan.basis == "memory":
            self.Q = torch.empty(plan.steps, plan.n, dtype=dtype, device=device)
        elif plan.basis == "disk":
            import tempfile
            self.file = tempfile.TemporaryFile(dir=plan.directory)
            self.np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
            self.rows = max(1, DISK_CHUNK_BYTES // (plan.n * plan.itemsize))

    def append(self, q: torch.Tensor) -> None:
        if self.plan.basis == "memory":
            self.Q[self.count] = q
        elif self.plan.basis == "disk":
            self.file.seek(0, 2)
            # written from the tensor's own buffer: no vector-sized copy per step (with glibc such
            # temporaries fragment the heap — the resident peak grew ~3x the plan at 7M parameters)
            self.file.write(memoryview(np.ascontiguousarray(q.detach().cpu().numpy())).cast("B"))
        self.count += 1

    def _chunks(self):
        if self.plan.basis == "memory":
            yield self.Q[:self.count]
            return
        self.file.seek(0)
        left = self.count
        if getattr(self, "buf", None) is None:   # one read buffer for the whole run (see append)
            self.buf = np.empty(self.rows * self.n, dtype=self.np_dtype)
        while left:
            r = min(self.rows, left)
            buf = self.buf[: r * self.n]
            self.file.readinto(memoryview(buf).cast("B"))
            # the caller uses each chunk before asking for the next, so the buffer is reused
            yield torch.from_numpy(buf.reshape(r, self.n)).to(self.device)
            left -= r

    def project_out(self, w: torch.Tensor) -> torch.Tensor:
        for _ in range(2):
            for C in self._chunks():
                w = w - C.T @ (C @ w)
        return w

    def close(self) -> None:
        if self.plan.basis == "disk":
            self.file.close()


def lanczos(hvp, v: torch.Tensor, steps: int, *, plan: LanczosPlan | None = None,
            stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""m ≤ `steps` Lanczos steps on the operator `hvp` from v (normalized here), on v's device.
    Returns the tridiagonal's diagonal α (m,) and off-diagonal β (m − 1,). Stops early when the
    Krylov space becomes invariant (β_j ≤ √n·u·max|T|), where the quadrature is already exact.

    `plan` (default: `lanczos_plan` with reorth="full", the basis in memory) sets the
    reorthogonalization:
    - "full": classical Gram–Schmidt applied twice against every previous vector at every step;
    - "partial" (Simon 1984): the level of orthogonality ω_{j+1,k} ≈ q_{j+1}ᵀq_k is tracked by
      Simon's recurrence β_j ω_{j+1,k} = β_k ω_{j,k+1} + (α_k − α_j) ω_{j,k} + β_{k−1} ω_{j,k−1}
      − β_{j−1} ω_{j−1,k} ± u(β_k + β_j) (its neighbours ω_{j+1,j}, ω_{j+1,j−1} measured exactly),
      and the new vector — and the one after it — is reorthogonalized against the whole basis
      (read back from memory or disk) only when max_k |ω_{j+1,k}| passes √u. The basis then stays
      semi-orthogonal (|q_jᵀq_k| ≤ √u), under which T_m is the matrix of H on span(Q) to O(u‖H‖)
      (Simon 1984, Thm. 4), so its Ritz values and Gauss quadrature are as accurate as with full
      reorthogonalization;
    - "none": the three-term recurrence alone (O(n) memory; in floating point converged Ritz
      values reappear as copies and share their quadrature weight — Greenbaum 1989).
    `stats` (a dict) receives the number of reorthogonalizations and the largest estimated ω."""
    n = v.numel()
    dtype, device = v.dtype, v.device
    if plan is None:
        plan = lanczos_plan(n, steps, dtype, device, reorth="full")
    eps = torch.finfo(dtype).eps
    store = _Basis(plan, dtype, device)
    mode = plan.reorth
    q = v / torch.linalg.vector_norm(v)
    q_prev = None
    alpha, beta = [], []
    scale = 0.0
    reorths, force_next, worst = 0, False, 0.0
    root = math.sqrt(eps)
    w_prev = np.zeros(0)           # ω_{j-1, k}, k < j-1 ... kept as full rows ω_{j-1,0..j-1}
    w_cur = np.ones(1)             # ω_{j, 0..j}
    try:
        for j in range(steps):
            store.append(q)
            w = hvp(q)
            a = float(torch.dot(w, q))
            alpha.append(a)
            if mode == "full":
                w = store.project_out(w)
            else:
                w = w - a * q
                if q_prev is not None:
                    w = w - beta[-1] * q_prev
            b = float(torch.linalg.vector_norm(w))
            if mode == "partial" and j >= 1:
                # Simon's recurrence for ω_{j+1,k}, k = 0..j-1 (ω_{j,·} = w_cur, ω_{j-1,·} = w_prev)
                bk = np.array(beta)                     # β_0..β_{j-1}
                ak = np.array(alpha[:j])                # α_0..α_{j-1}
                nxt = np.zeros(j + 2)
                k = np.arange(j)
                val = bk[k] * w_cur[k + 1] + (ak - a) * w_cur[k]
                val[1:] += bk[k[1:] - 1] * w_cur[k[1:] - 1]
                wp = np.concatenate([w_prev, np.zeros(max(0, j - w_prev.size))])[:j]
                val -= beta[-1] * wp
                val += np.sign(val + (val == 0)) * eps * (bk[k] + b)
                nxt[:j] = val / b if b > 0 else val
                nxt[j] = float(torch.dot(w, q)) / b if b > 0 else 0.0   # measured: local orthogonality
                if j >= 1 and q_prev is not None:
                    nxt[j - 1] = float(torch.dot(w, q_prev)) / b if b > 0 else 0.0
                nxt[j + 1] = 1.0
                big = float(np.max(np.abs(nxt[:j + 1])))
                worst = max(worst, big)
                if force_next or big > root:
                    w = store.project_out(w)
                    b = float(torch.linalg.vector_norm(w))
                    nxt[:j + 1] = eps
                    reorths += 1
                    force_next = not force_next   # reorthogonalize this vector and the next one
                w_prev, w_cur = w_cur, nxt
            elif mode == "partial":
                w_prev, w_cur = w_cur, np.array([eps, 1.0])
            scale = max(scale, abs(a), b)
            if j == steps - 1 or b <= math.sqrt(n) * eps * scale:
                break
            beta.append(b)
            q_prev, q = q, w / b
    finally:
        store.close()
    if stats is not None:
        stats.update(reorthogonalizations=reorths, max_orthogonality_estimate=worst, reorth=mode, last_beta=b)
    return np.array(alpha), np.array(beta)


def gauss_quadrature(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes θ_j (eigenvalues of the Lanczos tridiagonal) and weights τ_j = (first component of
    its j-th unit eigenvector)², which sum to 1."""
    from scipy.linalg import eigh_tridiagonal

    if alpha.size == 1:
        return alpha.copy(), np.ones(1)
    theta, S = eigh_tridiagonal(alpha, beta)
    return theta, S[0] ** 2


def broaden(nodes: np.ndarray, weights: np.ndarray, lo: float, hi: float, *, steps: int,
            grid_points: int = PAPER_GRID_POINTS, kappa: float = PAPER_KAPPA,
            margin: float = PAPYAN_MARGIN) -> Density:
    r"""ρ(λ) = Σ_j w_j N(x(λ); x_j, σ)/d on `grid_points` points, x = (λ − c)/d the rescaling of
    [lo − margin·w, hi + margin·w] onto [−1, 1], σ = (2/(steps − 1))/√(8 ln κ) (Papyan's
    LanczosApproxSpec; κ = 1.25 in the reference paper)."""
    if kappa <= 1:
        raise ValueError("kappa must be greater than 1")
    width = hi - lo
    if width <= 0:  # a single eigenvalue: give the window a scale
        width = max(abs(hi), 1.0)
    lo, hi = lo - margin * width, hi + margin * width
    c, d = (hi + lo) / 2, (hi - lo) / 2
    x = np.linspace(-1.0, 1.0, int(grid_points))
    sigma = (2.0 / (steps - 1)) / math.sqrt(8.0 * math.log(kappa))
    z = ((nodes - c) / d)[:, None]
    vals = (weights[:, None] * np.exp(-0.5 * ((x[None, :] - z) / sigma) ** 2)).sum(0) / (sigma * math.sqrt(2 * math.pi) * d)
    return Density(c + d * x, vals, sigma * d, float(kappa), float(margin))
