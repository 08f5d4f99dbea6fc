"""The certificate (SPEC §3) against numpy on models built here; symbolic intervals checked by
re-deriving the model at sample points inside and outside them."""
from __future__ import annotations

import numpy as np
import pytest

import qdsl


def quad_model(H, lr, x0, extra=""):
    n = len(H)
    terms = " + ".join(f"{0.5 * H[i][j]!r}*w[{i}]*w[{j}]" for i in range(n) for j in range(n) if H[i][j])
    init = ", ".join(repr(float(v)) for v in x0)
    return f"model q {{\n param w[{n}] = [{init}]\n loss = {terms}{extra}\n evolve gd(lr = {lr!r}, steps = 5)\n}}\n"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discrete_certificate_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    n = 4
    A = rng.normal(size=(n, n))
    H = np.round(A @ A.T + 0.3 * np.eye(n) - (1.5 if seed == 2 else 0) * np.eye(n), 3)
    lr = 0.15
    x0 = rng.uniform(-0.3, 0.3, n).round(3)
    c = qdsl.compile(source=quad_model(H.tolist(), lr, x0, extra=" + 0.1*w[0]^3"))
    d = c.certificate.to_dict()
    lam = np.linalg.eigvalsh(H)
    I_F1 = np.eye(n) - lr * H
    assert d["spectral_radius"] == pytest.approx(np.max(np.abs(1 - lr * lam)), rel=1e-10)
    assert d["transfer_norm"] == pytest.approx(np.linalg.norm(I_F1, 2), rel=1e-10)
    np.testing.assert_allclose(sorted(d["eigenvalues_F1"]), np.sort(-lr * lam), atol=1e-12)
    assert d["dissipative"] == bool(np.max(np.abs(1 - lr * lam)) < 1)
    assert d["dissipative_fraction"] == pytest.approx(np.mean(np.abs(1 - lr * lam) < 1))
    if lam.min() > 0:
        assert d["lr_window"][1] == pytest.approx(2 / lam.max(), rel=1e-10)
    else:
        assert d["lr_window"] is None
    # R: ‖F_2‖ from the cubic term 0.1 w0^3: gradient 0.3 w0^2 → F_2[0,0] = −lr·0.3
    u = np.linalg.norm(x0)
    lam1 = np.max(-lr * lam)
    if lam1 < 0:
        assert d["R"] == pytest.approx(u * lr * 0.3 / abs(lam1), rel=1e-9)
    else:
        assert d["R"] is None and "Re λ_1" in d["R_reason"]
    assert d["nonzero_initial_weights"] == int(np.count_nonzero(x0))


def test_flow_certificate_nonsymmetric():
    src = """model f {
        param u = 0.4
        param v = -0.2
        rate u = -1.0*u + 2.0*v + 0.3*u^2
        rate v = -0.5*v - 0.1
        evolve flow(time = 1.0, dt = 0.1)
    }"""
    d = qdsl.compile(source=src).certificate.to_dict()
    F1 = np.array([[-1.0, 2.0], [0.0, -0.5]])
    assert d["spectral_abscissa"] == pytest.approx(-0.5)
    assert d["log_norm"] == pytest.approx(np.linalg.eigvalsh((F1 + F1.T) / 2).max())
    assert d["dissipative"] is True and d["log_norm"] > 0  # dissipative, yet not contractive
    u = np.hypot(0.4, 0.2)
    assert d["R"] == pytest.approx((u * 0.3 + 0.1 / u) / 0.5)
    assert d["sparsity"]["F_1"] == {"row": 2, "col": 2, "s": 2, "nnz": 3}


def test_sgd_reports_worst_step():
    d = qdsl.compile("examples/ridge.qd").certificate.to_dict()
    assert d["worst_step_spectral_radius"] >= d["spectral_radius"] - 1e-12


def test_symbolic_lr_exact_interval():
    # H eigenvalues 3 and 1: dissipative iff 0 < eta < 2/3
    src = """model s {
        param x = 0.5
        param y = 0.2
        const eta in (0, 1)
        loss = 1.5*x^2 + 0.5*y^2
        evolve gd(lr = eta, steps = 10)
    }"""
    c = qdsl.compile(source=src)
    d = c.certificate.to_dict()
    assert d["symbolic"]["eta"] == [[0.0, pytest.approx(2 / 3, abs=1e-15)]]
    assert d["symbolic_conditions"]["eta"]["method"] == "exact (SymPy)"
    assert "2/3" in d["symbolic_conditions"]["eta"]["exact"]
    assert d["dissipative"] is False and c.certificate.passed
    for eta, inside in [(0.1, True), (0.66, True), (0.67, False), (0.95, False)]:
        dv = qdsl.compile(source=src, values={"eta": eta}).certificate.to_dict()
        assert dv["dissipative"] is inside


def test_symbolic_constant_in_loss_numeric_intervals():
    # H = 2·lam + 1.2·x0²-free: x0 = 0.5 → H(lam) = 2 lam + 0.3 ; lr = 0.5: need 0 < 0.5·H < 2
    src = """model s {
        param x = 0.5
        const lam in (-1, 3)
        loss = lam*x^2 + 0.05*x^4
        evolve gd(lr = 0.5, steps = 10)
        expand order 3 about init
    }"""
    c = qdsl.compile(source=src)
    d = c.certificate.to_dict()
    ivs = d["symbolic"]["lam"]
    assert d["symbolic_conditions"]["lam"]["method"].startswith("numeric")
    assert len(ivs) == 1
    lo, hi = ivs[0]
    # H(lam) = 2 lam + 0.6·0.25 = 2 lam + 0.15
    assert lo == pytest.approx(-0.075, abs=1e-8) and hi == pytest.approx((4 - 0.15) / 2, abs=1e-8)
    for lam in np.linspace(-0.95, 2.95, 14):
        dv = qdsl.compile(source=src, values={"lam": float(lam)}).certificate.to_dict()
        assert dv["dissipative"] == (lo < lam < hi), lam


def test_non_dissipative_example_exits_1():
    from qdsl.cli import main
    assert main(["check", "examples/saddle.qd"]) == 1
    assert main(["check", "examples/quartic.qd"]) == 0


def test_r_null_at_expansion_point():
    d = qdsl.compile("examples/tanh_unit.qd", values={"eta": 0.5}).certificate.to_dict()
    assert d["R"] is None and "u_in" in d["R_reason"]
