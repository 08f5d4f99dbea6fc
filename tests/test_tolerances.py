"""The bounds of qdsl.tolerances hold where they claim to: each is checked against a computation in
extended precision (numpy's longdouble, 64-bit mantissa on x86) or against its inequality on
random instances."""
from __future__ import annotations

import math

import numpy as np
import pytest

from qdsl import tolerances as tol

LD = np.longdouble


def _gate(rng, k):
    """A random k-qubit unitary (QR of a complex Gaussian), exact in longdouble and rounded."""
    z = rng.standard_normal((2 ** k, 2 ** k)) + 1j * rng.standard_normal((2 ** k, 2 ** k))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _apply(psi, U, qs, n):
    k = len(qs)
    axes = [n - 1 - q for q in reversed(qs)]
    out = np.tensordot(U.reshape((2,) * (2 * k)), psi, axes=(list(range(k, 2 * k)), axes))
    return np.moveaxis(out, list(range(k)), axes)


@pytest.mark.skipif(np.finfo(LD).nmant < 60, reason="needs an extended-precision longdouble")
def test_statevector_error_bounds_double_against_extended_precision():
    rng = np.random.default_rng(0)
    n, G = 5, 400
    gates = []
    for _ in range(G):
        k = int(rng.integers(1, 3))
        gates.append((tuple(int(q) for q in rng.choice(n, size=k, replace=False)), _gate(rng, k)))
    psi = np.zeros((2,) * n, complex)
    psi[(0,) * n] = 1
    re = np.zeros((2,) * n, LD)
    im = np.zeros((2,) * n, LD)
    re[(0,) * n] = 1
    for qs, U in gates:
        psi = _apply(psi, U, qs, n)
        # the same (rounded) matrix applied in longdouble: isolates the application's rounding
        Ur, Ui = U.real.astype(LD), U.imag.astype(LD)
        re, im = (_apply(re, Ur, qs, n) - _apply(im, Ui, qs, n), _apply(re, Ui, qs, n) + _apply(im, Ur, qs, n))
    err = math.sqrt(float(np.sum((psi.real - re) ** 2 + (psi.imag - im) ** 2)))
    assert err <= tol.statevector_error(G, width=2, fused_width=0)


def test_postselected_error_inequality():
    rng = np.random.default_rng(1)
    for _ in range(500):
        b = rng.standard_normal(16) + 1j * rng.standard_normal(16)
        b *= rng.uniform(0.01, 1) / np.linalg.norm(b)
        d = rng.standard_normal(16) + 1j * rng.standard_normal(16)
        a = b + d * 10 ** rng.uniform(-8, -1) / np.linalg.norm(d)
        lhs = np.linalg.norm(a / np.linalg.norm(a) - b / np.linalg.norm(b))
        assert lhs <= tol.postselected_error(np.linalg.norm(a - b), np.linalg.norm(b) ** 2) * (1 + 1e-12)


def test_unitary_product_error_telescopes():
    rng = np.random.default_rng(2)
    Us = [_gate(rng, 2) for _ in range(6)]
    Vs = [U @ _gate_near_identity(rng, 1e-4) for U in Us]
    P, Q = np.eye(4), np.eye(4)
    for U, V in zip(Us, Vs):
        P, Q = U @ P, V @ Q
    errs = [np.linalg.norm(U - V, 2) for U, V in zip(Us, Vs)]
    assert np.linalg.norm(P - Q, 2) <= tol.unitary_product_error(errs) * (1 + 1e-9)
    assert tol.unitary_product_error([(0.5, 3), 0.25]) == 1.75


def _gate_near_identity(rng, eps):
    h = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    h = (h + h.conj().T) / 2
    w, v = np.linalg.eigh(h)
    return (v * np.exp(1j * eps * w / np.max(np.abs(w)))) @ v.conj().T


@pytest.mark.skipif(np.finfo(LD).nmant < 60, reason="needs an extended-precision longdouble")
def test_solve_error_bounds_forward_substitution():
    """A history system with random contracting transfers, solved in double by qdsl and in
    longdouble here: the relative error is within κ·γ_s·√s/(1 − …)."""
    from qdsl.synthesis.common import linear_system_from_transfers

    rng = np.random.default_rng(3)
    D, T = 6, 12
    Ms = []
    for _ in range(T):
        M = np.zeros((D, D))
        M[0, 0] = 1
        X = rng.standard_normal((D - 1, D - 1))
        M[1:, 1:] = 0.95 * X / np.linalg.norm(X, 2)
        M[1:, 0] = 0.1 * rng.standard_normal(D - 1)
        Ms.append(M)
    y0 = np.r_[1.0, 0.3 * rng.standard_normal(D - 1)]
    ls = linear_system_from_transfers(Ms, y0)
    Y = ls.solve()
    Yl = [y0.astype(LD)]
    for M in Ms:
        Yl.append(M.astype(LD) @ Yl[-1])
    Yl = np.concatenate(Yl)
    rel = float(np.linalg.norm(Y.astype(LD) - Yl) / np.linalg.norm(Yl))
    assert rel <= tol.solve_error(ls.kappa, ls.sparsity)


def test_simultaneous_z():
    assert tol.simultaneous_z(1) == pytest.approx(1.959964, abs=1e-6)
    assert tol.simultaneous_z(2) == pytest.approx(2.241403, abs=1e-6)   # Φ⁻¹(1 − 0.025/2)
    assert tol.simultaneous_z(10) > tol.simultaneous_z(2)


def test_gate_error_and_infinite_regimes():
    assert tol.gamma(1e17) == math.inf
    assert tol.statevector_error(10 ** 20) == math.inf
    assert tol.solve_error(1e20, 4) == math.inf
    assert np.isinf(tol.readout_error(0.5, np.array([3.0]), np.zeros((1, 2)))).all()
    # c·u per gate: 33u for a 2-qubit gate applied alone
    assert tol.gate_error(2) / tol.UNIT_ROUNDOFF == pytest.approx(math.sqrt(2) * 6 * 2 + 16, rel=1e-12)
