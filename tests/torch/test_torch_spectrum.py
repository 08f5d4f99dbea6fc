"""qdsl.torch.hessian_spectrum: Lanczos extremes and SLQ densities against dense eigenvalues."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qdsl.torch as qt  # noqa: E402
from qdsl.torch.spectrum import broaden, gauss_quadrature, lanczos  # noqa: E402
from torch_models import U64, classification_data, dense_hessian, tanh_mlp  # noqa: E402


@pytest.fixture(scope="module")
def least_squares():
    """nn.Linear(d, 1) under MSELoss: L = (1/N)‖X̃w − y‖², so H = (2/N)X̃ᵀX̃ exactly (X̃ = [X, 1])."""
    g = torch.Generator().manual_seed(0)
    N, d = 120, 40
    X = torch.randn(N, d, generator=g, dtype=torch.float64) * torch.linspace(0.2, 2.0, d, dtype=torch.float64)
    y = torch.randn(N, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(1)
    model = torch.nn.Linear(d, 1).to(torch.float64)
    Xt = np.hstack([X.numpy(), np.ones((N, 1))])
    H = 2.0 / N * Xt.T @ Xt
    return model, torch.nn.MSELoss(), (X, y), H


def test_lanczos_extremes_least_squares(least_squares):
    model, loss_fn, batch, H = least_squares
    k, tol = 3, 1e-10
    spec = qt.hessian_spectrum(model, loss_fn, batch, k=k, density=False, support="all", tol=tol)
    ev = np.linalg.eigvalsh(H)
    ref = np.concatenate([ev[:k], ev[-k:]])
    # ARPACK stops at ‖Hx − θx‖ ≤ tol·|θ|, which puts θ within that of an eigenvalue; the HVP
    # itself is H·v up to N·d·u·‖H‖ (sums of N·d products in float64)
    err = np.abs(spec.eigenvalues - ref)
    assert np.all(err <= tol * np.abs(ref) + 120 * 41 * U64 * ev[-1]), err
    assert spec.n == 41 and spec.largest == pytest.approx(ev[-1], rel=1e-9)


def test_lanczos_extremes_tanh_mlp_vs_autograd_hessian():
    model = tanh_mlp([5, 8, 3], seed=2)
    x, y = classification_data(60, 5, 3, seed=3)
    loss_fn = torch.nn.CrossEntropyLoss()
    H = dense_hessian(model, loss_fn, x, y)
    ev = np.linalg.eigvalsh(H)
    k, tol = 4, 1e-10
    spec = qt.hessian_spectrum(model, loss_fn, (x, y), k=k, density=False, support="all", tol=tol)
    ref = np.concatenate([ev[:k], ev[-k:]])
    scale = np.max(np.abs(ev))
    assert np.all(np.abs(spec.eigenvalues - ref) <= tol * np.abs(ref) + 60 * 11 * U64 * scale)
    # negative curvature is present: the check covers both ends
    assert ev[0] < 0 < ev[-1]


def test_gauss_quadrature_is_exact_for_moments_up_to_2m_minus_1(least_squares):
    r"""With m Lanczos steps from v, Σ_j τ_j θ_j^p = vᵀH^p v for p ≤ 2m − 1 (Gauss quadrature).
    In floating point, full-reorthogonalization Lanczos is the exact process for a matrix
    H + δH, ‖δH‖ ≲ m·√n·u·‖H‖ (Paige), which moves the p-th moment by ≤ p·‖H‖^{p−1}‖δH‖."""
    *_, H = least_squares
    n = H.shape[0]
    Ht = torch.from_numpy(H)
    v = torch.from_numpy(np.random.default_rng(3).standard_normal(n))
    v = v / torch.linalg.vector_norm(v)
    m = 8
    alpha, beta = lanczos(lambda q: Ht @ q, v, m)
    assert alpha.size == m
    th, tau = gauss_quadrature(alpha, beta)
    assert tau.sum() == pytest.approx(1.0, abs=10 * m * U64)
    nrm = np.linalg.norm(H, 2)
    vn = v.numpy()
    w = vn.copy()
    for p in range(2 * m):
        exact = vn @ w                 # vᵀ H^p v
        tol = 10 * max(p, 1) * m * math.sqrt(n) * U64 * nrm ** p
        assert abs(np.sum(tau * th ** p) - exact) <= tol, p
        w = H @ w


def test_slq_moments_and_density_vs_dense_spectrum():
    r"""Averaged over V Rademacher vectors, the SLQ moments are Hutchinson estimates of
    tr(H^p)/n: mean tr(A)/n, variance (2/n²)(‖A‖_F² − Σ A_ii²)/V for A = H^p; allow 6σ.
    The broadened density integrates to 1 when the window's margin holds the Gaussians' tails
    (margin 0.5 puts every node ≥ 9σ from the ends for m = 30; the trapezoid rule on a smooth,
    vanishing integrand is then exact to far below 1e-9)."""
    model = tanh_mlp([6, 10, 4], seed=5)
    x, y = classification_data(80, 6, 4, seed=6)
    loss_fn = torch.nn.CrossEntropyLoss()
    H = dense_hessian(model, loss_fn, x, y)
    n = H.shape[0]
    V = 8
    spec = qt.hessian_spectrum(model, loss_fn, (x, y), k=2, support="all", lanczos_steps=30, vectors=V,
                               margin=0.5)
    assert spec.weights.sum() == pytest.approx(1.0, abs=1e-12)
    for p in (1, 2, 3):
        A = np.linalg.matrix_power(H, p)
        mean = np.trace(A) / n
        var = 2.0 / n ** 2 * (np.sum(A * A) - np.sum(np.diag(A) ** 2)) / V
        assert abs(spec.moment(p) - mean) <= 6 * math.sqrt(var), p
    ev = np.linalg.eigvalsh(H)
    assert spec.nodes.min() >= ev[0] - 1e-9 * abs(ev).max() and spec.nodes.max() <= ev[-1] + 1e-9 * abs(ev).max()
    grid, values = spec.density
    assert np.trapezoid(values, grid) == pytest.approx(1.0, abs=1e-9)
    # the paper's broadening: σ = (2/(m − 1))/√(8 ln κ) in units of the half-width of the window
    d = (grid[-1] - grid[0]) / 2
    assert spec.density.sigma == pytest.approx(d * (2 / 29) / math.sqrt(8 * math.log(1.25)), rel=1e-12)
    # dissipative fraction: quadrature weight with |1 − lr·λ| < 1, counted directly
    lr = 0.5
    direct = float(np.sum(spec.weights[(spec.nodes > 0) & (spec.nodes < 2 / lr)]))
    assert spec.dissipative_fraction(lr) == pytest.approx(direct, abs=1e-15)


def test_full_lanczos_recovers_every_eigenvalue():
    """m = n steps with full reorthogonalization: the nodes are the spectrum of H."""
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    lam = np.linspace(-2, 5, 12)
    H = torch.from_numpy(Q @ np.diag(lam) @ Q.T)
    v = torch.from_numpy(rng.standard_normal(12))
    th, tau = gauss_quadrature(*lanczos(lambda q: H @ q, v, 12))
    assert np.max(np.abs(np.sort(th) - lam)) <= 1e3 * U64 * 5
    assert tau.sum() == pytest.approx(1.0, abs=1e-12)


def test_loader_equals_full_batch_and_sum_reduction(least_squares):
    model, loss_fn, (X, y), H = least_squares
    loader = [(X[i:i + 50], y[i:i + 50]) for i in range(0, 120, 50)]  # batches of 50, 50, 20
    sup = qt.magnitude_prune(model, 0.0)
    v = torch.from_numpy(np.random.default_rng(5).standard_normal(sup.n))
    full = qt.Objective(model, loss_fn, (X, y), sup).at().hvp(v).numpy()
    split = qt.Objective(model, loss_fn, loader, sup).at().hvp(v).numpy()
    summed = qt.Objective(model, torch.nn.MSELoss(reduction="sum"), loader, sup).at().hvp(v).numpy()
    ref = H @ v.numpy()
    tol = 120 * 41 * U64 * np.linalg.norm(H, 2) * np.linalg.norm(v.numpy())
    for got in (full, split, summed):
        assert np.max(np.abs(got - ref)) <= tol
    spec = qt.hessian_spectrum(model, loss_fn, loader, k=2, density=False, support="all")
    ev = np.linalg.eigvalsh(H)
    assert spec.largest == pytest.approx(ev[-1], rel=1e-9)


def test_batchnorm_train_mode_and_float64_option():
    torch.manual_seed(8)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                torch.nn.Linear(6, 3)).train()           # float32, train-mode BN
    x, y = classification_data(32, 4, 3, seed=9, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss()
    state = copy.deepcopy(model.state_dict())
    s64 = qt.hessian_spectrum(model, loss_fn, (x, y), k=2, support="all", dtype=torch.float64,
                              lanczos_steps=16, vectors=2)
    s32 = qt.hessian_spectrum(model, loss_fn, (x, y), k=2, support="all", lanczos_steps=16, vectors=2)
    for key, val in model.state_dict().items():   # running statistics did not drift
        assert torch.equal(val, state[key]), key
    assert s64.meta["dtype"] == "float64" and s32.meta["dtype"] == "float32"
    ev = np.linalg.eigvalsh(dense_hessian(copy.deepcopy(model).to(torch.float64), loss_fn, x.double(), y))
    ref = np.concatenate([ev[:2], ev[-2:]])
    scale = np.abs(ev).max()
    assert np.all(np.abs(s64.eigenvalues - ref) <= 1e-10 * np.abs(ref) + 32 * 16 * U64 * scale)
    # float32 HVPs: relative rounding ≈ 32·16·u₃₂ per product, ARPACK tol 1e-5
    u32 = float(np.finfo(np.float32).eps)
    assert np.all(np.abs(s32.eigenvalues - ref) <= 1e-5 * np.abs(ref) + 10 * 32 * 16 * u32 * scale)


def test_broadening_matches_papyans_formula():
    nodes = np.array([-1.0, 0.0, 0.5, 3.0])
    w = np.array([0.1, 0.4, 0.2, 0.3])
    d = broaden(nodes, w, -1.0, 3.0, steps=64, grid_points=513, kappa=1.25, margin=0.05)
    lo, hi = -1.0 - 0.2, 3.0 + 0.2
    assert d.grid[0] == pytest.approx(lo) and d.grid[-1] == pytest.approx(hi)
    sig = (2 / 63) / math.sqrt(8 * math.log(1.25)) * (hi - lo) / 2
    ref = sum(wi * np.exp(-0.5 * ((d.grid - x) / sig) ** 2) / (sig * math.sqrt(2 * math.pi)) for x, wi in zip(nodes, w))
    assert np.max(np.abs(d.values - ref)) <= 1e-12 * ref.max()
    # the Gaussian falls to 1/κ of its peak half a node spacing away (its defining property)
    half = (2 / 63) / 2 * (hi - lo) / 2
    assert math.exp(-0.5 * (half / sig) ** 2) == pytest.approx(1 / 1.25, rel=1e-12)
