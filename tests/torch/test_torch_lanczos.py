"""Lanczos that scales: partial reorthogonalization (basis in memory or on disk) against full
reorthogonalization and dense eigenvalues; the memory plan and its refusal; devices."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qdsl  # noqa: E402
import qdsl.torch as qt  # noqa: E402
from qdsl.torch.spectrum import gauss_quadrature, lanczos, lanczos_plan, ritz_extremes  # noqa: E402
from torch_models import U64, classification_data, small_resnet, tanh_mlp  # noqa: E402


@pytest.fixture(scope="module")
def operator():
    """A symmetric H (n = 300) with a Hessian-like spectrum: a bulk near 0, negative curvature and
    a few large outliers — the case where plain Lanczos loses orthogonality fastest."""
    rng = np.random.default_rng(0)
    n = 300
    lam = np.concatenate([rng.normal(0, 0.05, n - 8), [-1.5, -0.7, 3.0, 5.0, 8.0, 12.0, 20.0, 40.0]])
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = (Q * lam) @ Q.T
    H = 0.5 * (H + H.T)
    return torch.from_numpy(H), np.sort(lam)


@pytest.mark.parametrize("basis", ["memory", "disk"])
def test_partial_reorthogonalization_matches_full(operator, basis, tmp_path):
    r"""120 steps: semi-orthogonality (|q_jᵀq_k| ≤ √u, Simon 1984) keeps T_m the projection of H to
    O(u‖H‖), so the Gauss-quadrature moments vᵀH^p v (p ≤ 2m − 1) equal the full-reorthogonalization
    ones to rounding, m·√n·u·‖H‖^p per moment (Paige's bound, twice), and the extreme Ritz values
    (converged here) agree to their residuals. Fewer reorthogonalizations than steps."""
    H, lam = operator
    n, m = H.shape[0], 120
    v = torch.from_numpy(np.random.default_rng(1).standard_normal(n))
    full = gauss_quadrature(*lanczos(lambda q: H @ q, v, m))
    plan = lanczos_plan(n, m, torch.float64, reorth="partial", basis=basis, directory=str(tmp_path))
    assert plan.reorth == "partial" and plan.basis == basis
    stats = {}
    alpha, beta = lanczos(lambda q: H @ q, v, m, plan=plan, stats=stats)
    part = gauss_quadrature(alpha, beta)
    assert 0 < stats["reorthogonalizations"] < m
    nrm = float(np.max(np.abs(lam)))
    vn = (v / torch.linalg.vector_norm(v)).numpy()
    w = vn.copy()
    for p in range(12):
        exact = vn @ w
        tol = 2 * 10 * max(p, 1) * m * math.sqrt(n) * U64 * nrm ** p
        assert abs(np.sum(part[1] * part[0] ** p) - exact) <= tol, p
        assert abs(np.sum(full[1] * full[0] ** p) - exact) <= tol, p
        w = H.numpy() @ w
    ext, res = ritz_extremes(alpha, beta, 3, stats["last_beta"])
    ref = np.concatenate([lam[:3], lam[-3:]])
    # each Ritz value is within its residual of an eigenvalue; these have converged to the extremes
    assert np.all(np.abs(ext - ref) <= res + 1e3 * U64 * nrm), (ext, ref, res)
    assert np.max(res) < 1e-6 * nrm


def test_plain_lanczos_keeps_low_moments(operator):
    """reorth='none' (three-term recurrence): the low moments stay right (Greenbaum: it is exact
    Lanczos for a matrix with eigenvalues in tiny clusters about H's) though ghosts appear."""
    H, lam = operator
    n, m = H.shape[0], 60
    v = torch.from_numpy(np.random.default_rng(2).standard_normal(n))
    plan = lanczos_plan(n, m, torch.float64, reorth="none")
    th, tau = gauss_quadrature(*lanczos(lambda q: H @ q, v, m, plan=plan))
    vn = (v / torch.linalg.vector_norm(v)).numpy()
    for p in (1, 2, 3, 4):
        exact = vn @ np.linalg.matrix_power(H.numpy(), p) @ vn
        assert abs(np.sum(tau * th ** p) - exact) <= 1e-8 * np.max(np.abs(lam)) ** p


def test_plan_chooses_and_refuses():
    # small: full reorthogonalization with the basis in memory
    small = lanczos_plan(10_000, 256, torch.float32, memory_limit=1 << 30)
    assert (small.reorth, small.basis) == ("full", "memory")
    assert small.memory_bytes == (256 + 6) * 10_000 * 4
    # 7M parameters, float32: the basis (256 × 7e6 × 4 B = 6.7 GiB) goes to disk, a few vectors stay
    big = lanczos_plan(7_000_000, 256, torch.float32, memory_limit=2 << 30)
    assert (big.reorth, big.basis) == ("partial", "disk")
    assert big.memory_bytes < 2 << 30 and big.disk_bytes == 256 * 7_000_000 * 4
    assert "streamed to disk" in big.describe() and "GiB" in big.describe()
    # a full basis that does not fit the memory given: refused before any product, exit status 3
    with pytest.raises(qdsl.SizeLimitError) as exc:
        lanczos_plan(7_000_000, 256, torch.float32, reorth="full", memory_limit=2 << 30)
    assert exc.value.exit_status == 3 and exc.value.diagnostics[0].code == "E0710"
    with pytest.raises(qdsl.SizeLimitError):   # not even the working vectors fit
        lanczos_plan(7_000_000, 256, torch.float32, reorth="partial", memory_limit=10 << 20)


def test_spectrum_refused_before_any_product():
    model = tanh_mlp([4, 6, 2], seed=0)
    x, y = classification_data(20, 4, 2)
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    with pytest.raises(qdsl.SizeLimitError):
        qt.hessian_spectrum(model, torch.nn.CrossEntropyLoss(), (x, y), k=1, lanczos_steps=10, vectors=1,
                            reorth="full", memory_limit=100)
    assert not calls


def test_lean_spectrum_of_a_resnet_equals_full():
    """hessian_spectrum with partial reorthogonalization on disk and Ritz extremes, against full
    reorthogonalization and ARPACK, on a ResNet with train-mode BatchNorm given as a loader (the
    graph cache kept: one graph per batch, built once)."""
    net = small_resnet(channels=3, classes=3, seed=1).train()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(12, 3, 6, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=g)
    loader = [(x[:6], y[:6]), (x[6:], y[6:])]
    loss_fn = torch.nn.CrossEntropyLoss()
    opts = dict(k=2, lanczos_steps=40, vectors=1, support="all", seed=3)
    full = qt.hessian_spectrum(net, loss_fn, loader, reorth="full", **opts)
    lean = qt.hessian_spectrum(net, loss_fn, loader, reorth="partial", basis="disk", extremes="lanczos", **opts)
    assert lean.meta["reorth"] == "partial" and "disk" in lean.meta["lanczos_plan"]
    res = np.array(lean.meta["extreme_residuals"])
    assert np.all(np.abs(lean.eigenvalues - full.eigenvalues) <= res + 1e-9 * np.abs(full.eigenvalues))
    scale = float(np.max(np.abs(full.eigenvalues)))
    for p in (1, 2, 3):
        assert abs(lean.moment(p) - full.moment(p)) <= 1e-9 * scale ** p
