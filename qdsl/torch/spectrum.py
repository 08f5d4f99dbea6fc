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
                     seed: int = 0, cache: bool | None = None) -> Spectrum:
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
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if density and lanczos_steps < 2:
        raise ValueError("lanczos_steps must be at least 2")
    sup = resolve_support(model, support)
    obj = Objective(model, loss_fn, batch, sup, dtype=dtype, seed=seed)
    pt = obj.at(cache=cache)
    n = obj.n
    if tol is None:
        tol = 1e-10 if obj.dtype == torch.float64 else 1e-5
    gen = torch.Generator().manual_seed(int(seed))
    meta = {"k": int(k), "tol": float(tol), "dtype": str(obj.dtype).replace("torch.", ""),
            "support": "custom" if not isinstance(support, str) else support, "sparsity": sup.sparsity}

    t0 = time.perf_counter()
    extremes = extreme_eigenvalues(pt.hvp, n, k, tol=tol, dtype=obj.dtype, generator=gen)
    meta["seconds_extremes"] = time.perf_counter() - t0
    meta["hvps_extremes"] = pt.products

    nodes = weights = dens = None
    if density:
        t1 = time.perf_counter()
        m = min(int(lanczos_steps), n)
        all_nodes, all_weights = [], []
        for _ in range(int(vectors)):
            v = (torch.randint(0, 2, (n,), generator=gen, dtype=torch.int8).to(obj.dtype) * 2 - 1) / math.sqrt(n)
            alpha, beta = lanczos(pt.hvp, v, m)
            th, tau = gauss_quadrature(alpha, beta)
            all_nodes.append(th)
            all_weights.append(tau / int(vectors))
        nodes, weights = np.concatenate(all_nodes), np.concatenate(all_weights)
        lo = min(float(extremes[0]), float(nodes.min()))
        hi = max(float(extremes[-1]), float(nodes.max()))
        dens = broaden(nodes, weights, lo, hi, steps=max(m, 2), grid_points=grid_points, kappa=kappa,
                       margin=margin)
        meta.update(seconds_density=time.perf_counter() - t1, lanczos_steps=m, vectors=int(vectors))
    meta["hvps"] = pt.products
    return Spectrum(extremes, nodes, weights, dens, n, meta)


def extreme_eigenvalues(hvp, n: int, k: int, *, tol: float, dtype, generator=None) -> np.ndarray:
    """The k smallest and k largest eigenvalues (ascending) of the symmetric operator `hvp`
    (a function of a torch vector), by ARPACK; all n of them, from n products, when ARPACK cannot
    be used (n ≤ 2k + 1)."""
    import scipy.sparse.linalg as spla

    if 2 * k + 1 >= n:
        eye = torch.eye(n, dtype=dtype)
        H = hvp(eye).to(torch.float64).numpy()
        return np.linalg.eigvalsh(0.5 * (H + H.T))

    def mv(x):
        return hvp(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64).ravel()).to(dtype)) \
            .to(torch.float64).numpy()

    op = spla.LinearOperator((n, n), matvec=mv, dtype=np.float64)
    v0 = torch.randn(n, generator=generator, dtype=torch.float64).numpy()
    ncv = min(n, max(4 * k + 1, 20))
    ev = spla.eigsh(op, k=2 * k, which="BE", tol=tol, v0=v0, ncv=ncv, return_eigenvectors=False)
    return np.sort(ev)


def lanczos(hvp, v: torch.Tensor, steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""m ≤ `steps` Lanczos steps on the operator `hvp` from v (normalized here), with full
    reorthogonalization (classical Gram–Schmidt applied twice against every previous vector).
    Returns the tridiagonal's diagonal α (m,) and off-diagonal β (m − 1,). Stops early when the
    Krylov space becomes invariant (β_j ≤ √n·u·max|T|), where the quadrature is already exact."""
    n = v.numel()
    dtype = v.dtype
    eps = torch.finfo(dtype).eps
    Q = torch.empty(steps, n, dtype=dtype)
    q = v / torch.linalg.vector_norm(v)
    alpha, beta = [], []
    scale = 0.0
    for j in range(steps):
        Q[j] = q
        w = hvp(q)
        a = float(torch.dot(w, q))
        alpha.append(a)
        basis = Q[:j + 1]
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        b = float(torch.linalg.vector_norm(w))
        scale = max(scale, abs(a), b)
        if j == steps - 1 or b <= math.sqrt(n) * eps * scale:
            break
        beta.append(b)
        q = w / b
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
