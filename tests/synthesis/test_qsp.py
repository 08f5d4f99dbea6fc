"""QSP phase factors and the 1/x polynomial (qdsl.synthesis.qsp)."""
import numpy as np
import pytest
from numpy.polynomial import chebyshev as C

from qdsl.synthesis.qsp import (degree_for, inverse_polynomial, qsp_phases, qsp_response,
                                reflection_phases, relative_error_bound)


@pytest.mark.parametrize("kappa,delta", [(3.0, 1e-3), (14.7, 1e-4), (40.0, 1e-5)])
def test_inverse_polynomial_relative_error(kappa, delta):
    P = inverse_polynomial(kappa, delta=delta)
    assert P.degree % 2 == 1
    assert np.allclose(P.coeffs[0::2], 0)
    x = np.linspace(1 / kappa, 1, 4001)
    rel = np.max(np.abs(x * P(x) / P.scale - 1))
    assert rel <= delta * (1 + 1e-6)
    assert rel == pytest.approx(P.rel_error, rel=1e-3)
    g = np.linspace(-1, 1, 8001)
    assert np.max(np.abs(P(g))) <= P.max_abs + 1e-9
    # degree O(κ log(1/δ)), and minimal
    assert P.degree <= kappa * np.log(2 / delta) + 3
    m = (P.degree + 1) // 2
    assert relative_error_bound(kappa, m - 1) > delta


def test_degree_monotone():
    assert degree_for(10, 1e-2) < degree_for(10, 1e-4) < degree_for(10, 1e-8)
    assert degree_for(10, 1e-4) < degree_for(30, 1e-4)


@pytest.mark.parametrize("kappa,delta", [(2.0, 1e-2), (14.7, 1e-4), (60.0, 1e-6)])
def test_phases_reproduce_polynomial(kappa, delta):
    P = inverse_polynomial(kappa, delta=delta)
    phases, info = qsp_phases(P.coeffs)
    assert len(phases) == P.degree + 1
    assert np.allclose(phases, phases[::-1])
    g = np.linspace(-1, 1, 2001)
    assert np.max(np.abs(qsp_response(phases, g).real - P(g))) <= 1e-8
    assert info["residual"] <= 1e-10


def test_phases_degree_few_hundred():
    P = inverse_polynomial(30.0, degree=301)
    phases, info = qsp_phases(P.coeffs)
    g = np.cos(np.linspace(0, np.pi, 1501))
    assert np.max(np.abs(qsp_response(phases, g).real - P(g))) <= 1e-8


def test_phases_even_and_generic_polynomials():
    # even: a scaled Chebyshev combination; odd: x^3-ish
    for coeffs in ([0.3, 0, -0.2, 0, 0.25], [0, 0.5, 0, -0.3, 0, 0.1]):
        phases, _ = qsp_phases(coeffs)
        g = np.linspace(-1, 1, 501)
        assert np.max(np.abs(qsp_response(phases, g).real - C.chebval(g, coeffs))) <= 1e-8


def test_reflection_convention():
    """e^{iφ0 Z} R e^{iφ1 Z} R … R e^{iφd Z} = (−i)^d U(x, Ψ)."""
    P = inverse_polynomial(4.0, delta=1e-2)
    psi, _ = qsp_phases(P.coeffs)
    phi = reflection_phases(psi)
    d = len(psi) - 1
    for x in (0.1, 0.37, 0.9):
        s = np.sqrt(1 - x * x)
        R = np.array([[x, s], [s, -x]])
        U = np.diag(np.exp([1j * phi[0], -1j * phi[0]]))
        for k in range(1, d + 1):
            U = U @ R @ np.diag(np.exp([1j * phi[k], -1j * phi[k]]))
        assert U[0, 0] == pytest.approx((-1j) ** d * qsp_response(psi, [x])[0], abs=1e-12)
