"""QSP phase factors and the 1/x polynomial (qdsl.synthesis.qsp).

References written here, independent of the module: the sequential product of the SU(2) matrices
(`product_response`), P at Chebyshev nodes by an explicit cosine sum (`cosine_sum`), and the old
construction of the polynomial (numpy's `chebinterpolate` of the closed form with T_m through
cos/arccos and cosh/arccosh). Tolerances:

* `cosine_sum`: each cos(kθ) is rounded with error ≤ (kθ + 1)·u ≤ (πd + 1)·u, the sum adds
  ≤ (d+1)·u·Σ|c_k|, so |error| ≤ (πd + d + 2)·u·‖c‖_1;
* `product_response` and the phases: `qsp.response_tolerance(d)` = 32·(d+1)·u (d SU(2) factors
  in double precision; the module docstring's error analysis);
* Newton's reference phases meet 1e-12 at d̃ = ⌈(d+1)/2⌉ Chebyshev nodes; Re U − P is a polynomial
  of that parity, so its max on [−1, 1] is at most the Lebesgue constant 1 + (2/π)·ln(d+1) times that.
"""
import numpy as np
import pytest
from numpy.polynomial import chebyshev as C

import qdsl
from qdsl.diagnostics import SizeLimitError
from qdsl.synthesis import qsp
from qdsl.synthesis.qsp import (degree_for, inverse_polynomial, qsp_chebyshev, qsp_phases,
                                qsp_response, reflection_phases, relative_error_bound,
                                response_tolerance)

U = 2.0 ** -53


def nodes(G):
    return np.pi * (np.arange(G) + 0.5) / G


def cosine_sum(coeffs, theta):
    """P(cos θ) = Σ c_k cos(kθ), and its rounding bound (module docstring)."""
    c = np.asarray(coeffs, dtype=float)
    k = np.arange(len(c))
    vals = np.cos(np.outer(theta, k)) @ c
    d = len(c) - 1
    return vals, (np.pi * d + d + 2) * U * np.sum(np.abs(c))


def product_response(phases, x):
    """U(x, Ψ)_00 by multiplying e^{iψ_0 Z} W e^{iψ_1 Z} … W e^{iψ_d Z} from the left, row vector."""
    x = np.asarray(x, dtype=float)
    s = np.sqrt(1 - x * x)
    W = np.empty((len(x), 2, 2), dtype=complex)
    W[:, 0, 0] = W[:, 1, 1] = x
    W[:, 0, 1] = W[:, 1, 0] = 1j * s
    row = np.zeros((len(x), 1, 2), dtype=complex)
    row[:, 0, 0] = np.exp(1j * phases[0])
    for p in phases[1:]:
        row = (row @ W) * np.array([np.exp(1j * p), np.exp(-1j * p)])
    return row[:, 0, 0]


def lebesgue(d):
    return 1 + 2 / np.pi * np.log(d + 1)


# ------------------------------------------------------------------------------- the polynomial

@pytest.mark.parametrize("kappa,delta", [(3.0, 1e-3), (14.7, 1e-4), (40.0, 1e-5)])
def test_inverse_polynomial_relative_error(kappa, delta):
    P = inverse_polynomial(kappa, delta=delta)
    assert P.degree % 2 == 1
    assert np.all(P.coeffs[0::2] == 0)
    x = np.linspace(1 / kappa, 1, 4001)
    rel = np.max(np.abs(x * P(x) / P.scale - 1))
    assert rel <= delta * (1 + 1e-6)
    assert rel == pytest.approx(P.rel_error, rel=1e-3)
    # degree O(κ log(1/δ)), and minimal
    assert P.degree <= kappa * np.log(2 / delta) + 3
    m = (P.degree + 1) // 2
    assert relative_error_bound(kappa, m - 1) > delta


def old_construction(kappa, degree):
    """numpy's chebinterpolate of (1 − T_m(h)/T_m(h0))/x with T_m by cos·arccos / cosh·arccosh."""
    a = 1 / kappa
    m = (degree + 1) // 2
    h0 = (1 + a * a) / (1 - a * a)

    def T(y):
        y = np.asarray(y, dtype=float)
        inside = np.abs(y) <= 1
        return np.where(inside, np.cos(m * np.arccos(np.clip(y, -1, 1))),
                        np.sign(y) ** m * np.cosh(m * np.arccosh(np.maximum(np.abs(y), 1))))

    c = C.chebinterpolate(lambda x: (1 - T((1 + a * a - 2 * x * x) / (1 - a * a)) / T(h0)) / x, degree)
    c[0::2] = 0
    return c, m, T(h0)


@pytest.mark.parametrize("kappa,degree", [(30.0, 301), (200.0, 1201), (5.0, 41)])
def test_polynomial_equals_old_construction(kappa, degree):
    """Same polynomial as numpy's chebinterpolate of the closed form. The old T_m loses up to
    m²·u (|T_m'| ≤ m² on [−1, 1]) per value, divided by T_m(h0) and by the smallest node
    |x| ≥ 1/(d+1); interpolation maps value errors ε to coefficient errors ≤ 2ε."""
    P = inverse_polynomial(kappa, degree)
    old, m, Tm0 = old_construction(kappa, degree)
    tol = 2 * (degree + 1) * (m * m + 4) * U / Tm0 + 2 * (degree + 1) * U * np.max(np.abs(old)) * 8
    assert np.max(np.abs(P.coeffs / P.scale - old)) <= tol
    # the sup norm is max_abs: no grid value above it, and a dense grid around the largest value of
    # a coarse one reaches it to within the Bernstein bound |P''(θ)| ≤ d²·max|P| (step²·d²/8)
    th = np.linspace(0, np.pi, 8 * (degree + 1) + 1)
    vals, err = cosine_sum(P.coeffs, th)
    assert np.max(np.abs(vals)) <= P.max_abs + err
    k = int(np.argmax(np.abs(vals)))
    fine = np.linspace(th[max(k - 1, 0)], th[min(k + 1, len(th) - 1)], 4001)
    fvals, ferr = cosine_sum(P.coeffs, fine)
    step = fine[1] - fine[0]
    assert np.max(np.abs(fvals)) <= P.max_abs + ferr
    assert np.max(np.abs(fvals)) >= P.max_abs * (1 - (degree * step) ** 2 / 8) - ferr


def test_polynomial_high_degree_fast_and_bounded():
    """Degree 2·10^4 (the old chebinterpolate needed a 2·10^4-square Vandermonde matrix)."""
    P = inverse_polynomial(2000.0, 20001)
    th = nodes(64)
    vals, err = cosine_sum(P.coeffs, th)
    assert np.max(np.abs(vals)) <= P.max_abs + err + 1e-13
    x = np.cos(th)
    on = x >= 1 / 2000
    assert np.max(np.abs(x[on] * vals[on] / P.scale - 1)) <= P.rel_error + err / P.scale


def test_degree_monotone():
    assert degree_for(10, 1e-2) < degree_for(10, 1e-4) < degree_for(10, 1e-8)
    assert degree_for(10, 1e-4) < degree_for(30, 1e-4)


def test_degree_for_huge_kappa_is_finite_and_refused():
    """κ′ ≈ 8.6e16 made h(0) round to 1 and arccosh(1) = 0 (OverflowError, issue 11); now the
    degree is an exact int ≈ κ′·ln(2/δ)/2·2 and `inverse_polynomial` refuses it up front."""
    d = degree_for(8.6e16, 2.5e-4)
    assert isinstance(d, int) and d % 2 == 1
    assert d == pytest.approx(8.6e16 * np.log(2 / 2.5e-4), rel=1e-3)
    with pytest.raises(SizeLimitError) as e:
        inverse_polynomial(8.6e16, delta=2.5e-4)
    diag = e.value.diagnostics[0]
    assert diag.code == "E0507" and "κ′ = 8.6e+16" in diag.message and f"{d:,}" in diag.message
    assert e.value.exit_status == 3
    with pytest.raises(SizeLimitError):
        degree_for(float("inf"), 1e-3)


def test_degree_limit_env(monkeypatch):
    monkeypatch.setenv("QDSL_MAX_QSP_DEGREE", "999")
    with pytest.raises(SizeLimitError) as e:
        qsp_phases(np.r_[np.zeros(1000), 0.5])  # degree 1000, refused before any work
    assert "QDSL_MAX_QSP_DEGREE" in e.value.diagnostics[0].help
    with pytest.raises(SizeLimitError):
        inverse_polynomial(100.0, 1001)
    inverse_polynomial(100.0, 999)


# ---------------------------------------------------------------------------------- the phases

@pytest.mark.parametrize("kappa,delta", [(2.0, 1e-2), (14.7, 1e-4), (60.0, 1e-6)])
def test_phases_reproduce_polynomial(kappa, delta):
    P = inverse_polynomial(kappa, delta=delta)
    phases, info = qsp_phases(P.coeffs)
    assert info["method"] == "nlft"
    assert len(phases) == P.degree + 1
    assert np.all(phases == phases[::-1])
    th = nodes(2001)
    ref, err = cosine_sum(P.coeffs, th)
    tol = response_tolerance(P.degree) + err
    assert np.max(np.abs(product_response(phases, np.cos(th)).real - ref)) <= tol
    assert info["residual"] <= response_tolerance(P.degree)


@pytest.mark.parametrize("kappa,degree", [(30.0, 301), (100.0, 871)])
def test_fast_phases_match_newton(kappa, degree):
    """The inverse NLFT and the Newton reference give the same responses (both the maximal
    solution); bounds: response_tolerance for the fast phases, the Lebesgue constant times
    Newton's node residual, and the evaluation error of the product."""
    P = inverse_polynomial(kappa, degree)
    fast, info = qsp_phases(P.coeffs)
    newton, ninfo = qsp_phases(P.coeffs, method="newton")
    assert ninfo["method"] == "newton" and ninfo["residual"] < 1e-12
    x = np.cos(nodes(1500))
    tol = 2 * response_tolerance(degree) + lebesgue(degree) * 1e-12
    assert np.max(np.abs(product_response(fast, x).real - product_response(newton, x).real)) <= tol


def test_symmetric_shortcut_equals_full_inverse():
    """Only ⌈(d+1)/2⌉ coefficients are computed and mirrored; the full inverse NLFT of all d+1
    gives the same sequence (rounding of the recursion: ~log₂(d) levels of FFT products of
    vectors of norm ≤ 1, far below the 16·(d+1)·u allotted to the phases)."""
    P = inverse_polynomial(25.0, 257)
    d = P.degree
    psi, info = qsp_phases(P.coeffs)
    alpha, *_ = qsp._weiss(P.coeffs, d, info["grid"])
    j = np.arange(d + 1)
    beta = -0.5 * P.coeffs[np.abs(d - 2 * j)]
    tau, _, _ = qsp._inverse_nlft(alpha[: d + 1].copy(), beta)
    full = np.arctan(tau)
    full[0] += np.pi / 4
    full[-1] += np.pi / 4
    assert np.max(np.abs(full - psi)) <= 16 * (d + 1) * U


@pytest.mark.parametrize("degree", [301, 302])
def test_qsp_chebyshev_is_the_product(degree):
    """(★): U_00 = Σ (re_k + i im_k) T_k, by the forward NLFT, for arbitrary phases (also
    |ψ| > π/2, where F = i tan ψ does not exist)."""
    rng = np.random.default_rng(degree)
    phases = rng.uniform(-np.pi, np.pi, degree + 1)
    re, im = qsp_chebyshev(phases)
    th = nodes(700)
    ref = product_response(phases, np.cos(th))
    vr, er = cosine_sum(re, th)
    vi, ei = cosine_sum(im, th)
    tol = 2 * response_tolerance(degree) + er + ei
    assert np.max(np.abs(vr + 1j * vi - ref)) <= tol


def test_chebyshev_at_nodes_folds_high_degree():
    rng = np.random.default_rng(3)
    c = rng.normal(size=1000)
    for G in (37, 64, 1000, 1500):
        vals, err = cosine_sum(c, nodes(G))
        assert np.max(np.abs(qsp.chebyshev_at_nodes(c, G) - vals)) <= 2 * err + 4 * np.log2(2 * G) * U * np.sum(np.abs(c))


def test_phases_degree_two_times_ten_to_four():
    """Degree 20001 (κ′ = 2000): the fast path at a size the Newton solver could not reach; the
    response checked by the sequential product on 40 Chebyshev nodes."""
    P = inverse_polynomial(2000.0, 20001)
    phases, info = qsp_phases(P.coeffs)
    th = nodes(40)
    ref, err = cosine_sum(P.coeffs, th)
    assert np.max(np.abs(product_response(phases, np.cos(th)).real - ref)) <= response_tolerance(20001) + err
    assert info["residual"] <= response_tolerance(20001)


def test_phases_even_and_generic_polynomials():
    for coeffs in ([0.3, 0, -0.2, 0, 0.25], [0, 0.5, 0, -0.3, 0, 0.1], [0.7], [0, -0.8]):
        for method in ("nlft", "newton"):
            phases, _ = qsp_phases(coeffs, method=method)
            th = nodes(501)
            ref, err = cosine_sum(coeffs, th)
            tol = response_tolerance(len(coeffs) - 1) + err + (lebesgue(len(coeffs)) * 1e-12 if method == "newton" else 0)
            assert np.max(np.abs(product_response(phases, np.cos(th)).real - ref)) <= tol


def test_phases_reject_bad_polynomials():
    with pytest.raises(ValueError, match="parity"):
        qsp_phases([0.1, 0.2])
    with pytest.raises(ValueError, match="< 1"):
        qsp_phases([0, 1.2])
    with pytest.raises(ValueError, match="unknown QSP method"):
        qsp_phases([0, 0.5], method="lbfgs")


def test_qsp_response_matches_the_independent_product():
    rng = np.random.default_rng(7)
    phases = rng.uniform(-1, 1, 60)
    x = np.linspace(-1, 1, 5000)  # > one chunk of 4096
    assert np.max(np.abs(qsp_response(phases, x) - product_response(phases, x))) <= 2 * response_tolerance(59)


def test_reflection_convention():
    """e^{iφ0 Z} R e^{iφ1 Z} R … R e^{iφd Z} = (−i)^d U(x, Ψ)."""
    P = inverse_polynomial(4.0, delta=1e-2)
    psi, _ = qsp_phases(P.coeffs)
    phi = reflection_phases(psi)
    d = len(psi) - 1
    for x in (0.1, 0.37, 0.9):
        s = np.sqrt(1 - x * x)
        R = np.array([[x, s], [s, -x]])
        Um = np.diag(np.exp([1j * phi[0], -1j * phi[0]]))
        for k in range(1, d + 1):
            Um = Um @ R @ np.diag(np.exp([1j * phi[k], -1j * phi[k]]))
        assert abs(Um[0, 0] - (-1j) ** d * qsp_response(psi, [x])[0]) <= 2 * response_tolerance(d)


# --------------------------------------------------------------- models that crashed (issue 11)

GROWING_FAST = """model grow8 {
    param u = 0.1
    rate u = 8*u - 0.5*u^2
    evolve flow(time = 3.0, dt = 0.1)
    carleman order 3
    solver qsvt
}"""

GROWING_SLOW = """model grow2 {
    param u = 0.1
    rate u = 2*u
    evolve flow(time = 4.0, dt = 0.1)
    carleman order 1
    solver qsvt
}"""


@pytest.mark.parametrize("source,kappa_min", [(GROWING_FAST, 1e15), (GROWING_SLOW, 1e4)])
def test_growing_flows_are_refused_with_the_cause(source, kappa_min):
    """κ ≈ 2.6e16 (κ′ ≈ 2.3e15) ended in OverflowError inside qsp.py (exit 70: h(0) rounded to 1 for
    any κ′ ≳ 10^8); κ′ ≈ 10^4 made chebinterpolate
    ask for 67 GiB. Both are now E0507 (exit 3), naming κ′ and the degree over the limit."""
    c = qdsl.compile(source=source)
    with pytest.raises(SizeLimitError) as e:
        c.program  # noqa: B018
    diag = e.value.diagnostics[0]
    assert diag.code == "E0507" and e.value.exit_status == 3
    from qdsl.synthesis.qsvt import MAX_DEGREE
    if "κ′ = inf" in diag.message:
        # κ ≈ 2.6e16 is beyond what a double-precision SVD can certify: σ_min lies below the SVD's
        # own error γ_{10n}·σ_max, so the certified ‖L⁻¹‖ (history.svd_inverse_norm) is ∞
        assert kappa_min >= 1e15
        assert "numerically singular" in diag.message or f"over the limit {MAX_DEGREE:,}" in diag.message
        return
    assert "κ′ = " in diag.message and f"over the limit {MAX_DEGREE:,}" in diag.message
    kappa = float(diag.message.split("κ′ = ")[1].split()[0])
    assert kappa >= kappa_min
    degree = int(diag.message.split("polynomial degree ")[1].split()[0].replace(",", ""))
    # the degree for δ = eps/4 at the printed κ′ (4 significant digits: relative error ≤ 5e-4)
    assert degree == pytest.approx(degree_for(kappa, 1e-3 / 4), rel=1e-3) or degree > MAX_DEGREE


def test_growing_flow_cli_exit_status(tmp_path, capsys):
    from qdsl.cli import main

    f = tmp_path / "grow2.qd"
    f.write_text(GROWING_SLOW)
    assert main(["compile", str(f), "-o", str(tmp_path / "out.qasm")]) == 3
    err = capsys.readouterr().err
    assert "error[E0507]" in err and "κ′" in err and "internal error" not in err


def test_the_check_detects_a_corrupted_phase():
    """A phase off by 1e-9 moves the response by ≈ 1e-9·|∂U/∂ψ| ≫ response_tolerance: the forward
    check (`qsp_chebyshev`) sees it, so the self-check in `qsp_phases` can fail."""
    P = inverse_polynomial(30.0, 301)
    psi, _ = qsp_phases(P.coeffs)
    bad = psi.copy()
    bad[100] += 1e-9
    re, _ = qsp_chebyshev(bad)
    assert np.sum(np.abs(re - P.coeffs)) > 10 * response_tolerance(301)
