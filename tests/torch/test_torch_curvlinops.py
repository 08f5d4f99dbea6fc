"""Cross-check against curvlinops-for-pytorch (an independent, maintained curvature library):
its HessianLinearOperator's products and Papyan-style spectral density vs qdsl.torch's."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
curvlinops = pytest.importorskip("curvlinops")

import qdsl.torch as qt  # noqa: E402
from curvlinops.papyan2020traces.spectrum import lanczos_approximate_spectrum_from_iter  # noqa: E402
from qdsl.torch.spectrum import broaden  # noqa: E402
from torch_models import U64, classification_data, tanh_mlp  # noqa: E402

# curvlinops (through torch.jit.script) warns about deprecated torch APIs; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def case():
    model = tanh_mlp([6, 12, 4], seed=31)
    x, y = classification_data(90, 6, 4, seed=32)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = [(x[i:i + 40], y[i:i + 40]) for i in range(0, 90, 40)]   # batches of 40, 40, 10
    return model, loss_fn, loader


def test_hvp_matches_curvlinops_hessian_operator(case):
    model, loss_fn, loader = case
    params = [p for p in model.parameters()]
    H_cl = curvlinops.HessianLinearOperator(model, loss_fn, params, loader, check_deterministic=False)
    sup = qt.magnitude_prune(model, 0.0)
    pt = qt.Objective(model, loss_fn, loader, sup).at()
    rng = np.random.default_rng(0)
    V = torch.from_numpy(rng.standard_normal((3, sup.n)))
    mine = pt.hvp(V).numpy()
    theirs = np.stack([(H_cl @ v).detach().numpy() for v in V])
    # both are float64 sums over 90 samples × (12 + 4) units of the same products
    scale = np.abs(theirs).max()
    assert np.max(np.abs(mine - theirs)) <= 2 * 90 * 16 * U64 * scale * np.sqrt(sup.n)


def test_extremes_match_curvlinops_operator_under_arpack(case):
    import scipy.sparse.linalg as spla
    model, loss_fn, loader = case
    params = [p for p in model.parameters()]
    H_cl = curvlinops.HessianLinearOperator(model, loss_fn, params, loader, check_deterministic=False)
    ref = spla.eigsh(H_cl.to_scipy(), k=6, which="BE", tol=1e-12, return_eigenvectors=False)
    spec = qt.hessian_spectrum(model, loss_fn, loader, k=3, density=False, support="all", tol=1e-12)
    assert np.allclose(np.sort(ref), spec.eigenvalues, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


def test_broadening_is_papyans_lanczosapproxspec():
    """Given the same Lanczos nodes and weights, qdsl's density equals curvlinops' implementation
    of Papyan's LanczosApproxSpec with the reference paper's κ = 1.25."""
    rng = np.random.default_rng(1)
    m = 40
    nodes = np.sort(rng.uniform(-3, 9, m))
    S = np.linalg.qr(rng.standard_normal((m, m)))[0]   # columns: unit eigenvectors of some T_m
    weights = S[0] ** 2
    lo, hi = -3.5, 9.5
    grid_c, dens_c = lanczos_approximate_spectrum_from_iter(
        (torch.from_numpy(nodes), torch.from_numpy(S)), (lo, hi), 1024, 1.25, 0.05)
    mine = broaden(nodes, weights, lo, hi, steps=m, grid_points=1024, kappa=1.25, margin=0.05)
    assert np.allclose(mine.grid, grid_c.numpy(), rtol=0, atol=1e-12)
    assert np.allclose(mine.values, dens_c.numpy(), rtol=1e-10, atol=1e-12 * dens_c.numpy().max())
