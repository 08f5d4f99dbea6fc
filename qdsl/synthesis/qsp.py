r"""Polynomial approximation of 1/x and symmetric QSP phase factors (pure numpy).

**The polynomial.** For a = 1/κ′ the odd polynomial of degree d = 2m − 1

    x·f(x) = 1 − T_m(h(x)) / T_m(h(0)),    h(x) = (1 + a² − 2x²) / (1 − a²),

is the *minimax relative-error* approximation of 1/x on [a, 1]: h maps x² ∈ [a², 1] onto [−1, 1],
so |x f(x) − 1| ≤ δ_m = 1 / T_m((1+a²)/(1−a²)) ≈ 2 e^{−2m a} on [a, 1] (the Chebyshev residual
polynomial behind the conjugate-gradient bound). Hence d ≈ κ′ log(2/δ), the optimal
O(κ′ log(κ′/ε)) of the QSVT linear-system algorithm (Gilyén, Su, Low, Wiebe 2019, Thm. 41; Childs,
Kothari, Somma 2017). It is then scaled by a constant so that |P| ≤ `max_abs` < 1 on [−1, 1].

**The phases.** Symmetric QSP in the W_x convention (Dong, Lin, Ni, Meng, Whaley, PRA 103 042419
(2021); Dong, Lin, Ni, Wang, *Robust iterative method for symmetric QSP*, 2023):

    U(x, Ψ) = e^{iψ_0 Z} Π_{k=1..d} W(x) e^{iψ_k Z},  W(x) = [[x, i√(1−x²)], [i√(1−x²), x]],
    P(x) = Re U(x, Ψ)_{00},  Ψ symmetric (ψ_k = ψ_{d−k}).

The d̃ = ⌈(d+1)/2⌉ free phases solve F(Φ̃)(x_j) = P(x_j) on the positive Chebyshev nodes
x_j = cos((2j−1)π / (4d̃)); Newton's method with the analytic Jacobian (prefix/suffix products),
started from Φ̃ = (π/4, 0, …, 0), converges quadratically for ‖P‖_∞ ≤ 1 − δ.

`reflection_phases` converts to the reflection convention used by the QSVT circuit:
R(x) = −i e^{iπ/4 Z} W(x) e^{iπ/4 Z}, so e^{iφ_0 Z} R e^{iφ_1 Z} R … R e^{iφ_d Z} = (−i)^d U(x, Ψ)
with φ_0 = ψ_0 − π/4, φ_k = ψ_k − π/2 (0 < k < d), φ_d = ψ_d − π/4.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import chebyshev as C

__all__ = [
    "InversePolynomial",
    "inverse_polynomial",
    "relative_error_bound",
    "degree_for",
    "qsp_phases",
    "qsp_response",
    "reflection_phases",
    "QSPError",
]


class QSPError(RuntimeError):
    """Phase finding did not converge."""


def _cheb_T(m: int, y: np.ndarray) -> np.ndarray:
    """T_m(y) for real y of any size (cosh branch outside [−1, 1])."""
    y = np.asarray(y, dtype=float)
    out = np.empty_like(y)
    inside = np.abs(y) <= 1
    out[inside] = np.cos(m * np.arccos(y[inside]))
    yo = y[~inside]
    out[~inside] = np.sign(yo) ** m * np.cosh(m * np.arccosh(np.abs(yo)))
    return out


def relative_error_bound(kappa_prime: float, m: int) -> float:
    """δ_m = 1/T_m((1+a²)/(1−a²)), a = 1/κ′: the max relative error of the degree-(2m−1) polynomial."""
    a = 1.0 / float(kappa_prime)
    if a >= 1:
        return 0.0
    h0 = (1 + a * a) / (1 - a * a)
    t = m * np.arccosh(h0)
    return float(1.0 / np.cosh(min(t, 700.0)))


def degree_for(kappa_prime: float, delta: float) -> int:
    """Smallest odd degree d = 2m − 1 whose relative error on [1/κ′, 1] is ≤ δ."""
    a = 1.0 / float(kappa_prime)
    if a >= 1:
        return 1
    h0 = (1 + a * a) / (1 - a * a)
    m = int(np.ceil(np.arccosh(1.0 / float(delta)) / np.arccosh(h0)))
    m = max(m, 1)
    while m > 1 and relative_error_bound(kappa_prime, m - 1) <= delta:
        m -= 1
    while relative_error_bound(kappa_prime, m) > delta:
        m += 1
    return 2 * m - 1


@dataclass(frozen=True)
class InversePolynomial:
    r"""P(x) = scale · f(x) ≈ scale / x on [1/κ′, 1], odd, |P| ≤ max_abs on [−1, 1].

    `coeffs`: Chebyshev coefficients of P (degree `degree`); `rel_error`: max |x f(x) − 1| on
    [1/κ′, 1]; `scale`: P(x)·x → scale on [1/κ′, 1]."""

    kappa_prime: float
    degree: int
    coeffs: np.ndarray
    scale: float
    rel_error: float
    max_abs: float

    def __call__(self, x):
        return C.chebval(np.asarray(x, dtype=float), self.coeffs)


def _sup_norm(coeffs) -> float:
    """max |P| on [−1, 1]: a fine grid in θ = arccos x, refined around the best point."""
    n = 40 * len(coeffs) + 400
    th = np.linspace(0, np.pi, n)
    v = np.abs(C.chebval(np.cos(th), coeffs))
    k = int(np.argmax(v))
    h = np.pi / (n - 1)
    fine = np.linspace(max(0.0, th[k] - 2 * h), min(np.pi, th[k] + 2 * h), 4001)
    return float(max(v[k], np.max(np.abs(C.chebval(np.cos(fine), coeffs)))))


def _f_unscaled(x: np.ndarray, kappa_prime: float, m: int) -> np.ndarray:
    a = 1.0 / kappa_prime
    h0 = (1 + a * a) / (1 - a * a)
    Tm0 = _cheb_T(m, np.array([h0]))[0]
    h = (1 + a * a - 2 * x * x) / (1 - a * a)
    return (1.0 - _cheb_T(m, h) / Tm0) / x


def inverse_polynomial(kappa_prime: float, degree: int | None = None, *, delta: float = 1e-3,
                       max_abs: float = 0.9) -> InversePolynomial:
    """The minimax relative-error odd polynomial for 1/x on [1/κ′, 1] (module docstring), of the
    given odd degree or of the smallest degree with relative error ≤ δ, scaled to sup |P| = max_abs."""
    kappa_prime = float(kappa_prime)
    if kappa_prime < 1:
        raise ValueError("kappa_prime must be ≥ 1")
    if degree is None:
        degree = degree_for(kappa_prime, delta)
    if degree % 2 == 0:
        raise ValueError("degree must be odd")
    m = (degree + 1) // 2
    if kappa_prime == 1.0:
        coeffs = np.zeros(degree + 1)
        coeffs[1] = 1.0
        fmax = 1.0
    else:
        # Interpolation at the degree+1 (even count) Chebyshev points, which avoid x = 0: exact
        # for a polynomial of this degree up to rounding.
        coeffs = C.chebinterpolate(lambda x: _f_unscaled(x, kappa_prime, m), degree)
        coeffs[0::2] = 0.0
        fmax = _sup_norm(coeffs)
    scale = max_abs / fmax
    return InversePolynomial(kappa_prime=kappa_prime, degree=int(degree), coeffs=coeffs * scale,
                             scale=float(scale), rel_error=relative_error_bound(kappa_prime, m)
                             if kappa_prime > 1 else 0.0, max_abs=float(max_abs))


# ----------------------------------------------------------------------------------------------
# Symmetric QSP (W_x convention)


def _qsp_matrices_top_row(phases: np.ndarray, x: np.ndarray):
    """Row vectors e_0ᵀ·(prefix products) after each e^{iψ_k Z}: shape (d+1, G, 2)."""
    d = len(phases) - 1
    c = x
    s = np.sqrt(np.clip(1 - x * x, 0, None))
    G = len(x)
    rows = np.empty((d + 1, G, 2), dtype=complex)
    v = np.zeros((G, 2), dtype=complex)
    v[:, 0] = np.exp(1j * phases[0])
    rows[0] = v
    for k in range(1, d + 1):
        # v ← v W
        v0 = v[:, 0] * c + v[:, 1] * 1j * s
        v1 = v[:, 0] * 1j * s + v[:, 1] * c
        v = np.stack([v0 * np.exp(1j * phases[k]), v1 * np.exp(-1j * phases[k])], axis=1)
        rows[k] = v
    return rows


def _qsp_suffix_cols(phases: np.ndarray, x: np.ndarray):
    """Column vectors (product after e^{iψ_k Z})·e_0: shape (d+1, G, 2); entry d is e_0."""
    d = len(phases) - 1
    c = x
    s = np.sqrt(np.clip(1 - x * x, 0, None))
    G = len(x)
    cols = np.empty((d + 1, G, 2), dtype=complex)
    w = np.zeros((G, 2), dtype=complex)
    w[:, 0] = 1.0
    cols[d] = w
    for k in range(d, 0, -1):
        # w ← W e^{iψ_k Z} w
        w = np.stack([w[:, 0] * np.exp(1j * phases[k]), w[:, 1] * np.exp(-1j * phases[k])], axis=1)
        w = np.stack([c * w[:, 0] + 1j * s * w[:, 1], 1j * s * w[:, 0] + c * w[:, 1]], axis=1)
        cols[k - 1] = w
    return cols


def qsp_response(phases, x) -> np.ndarray:
    """U(x, Ψ)_{00} (complex) for full W_x-convention phases Ψ = (ψ_0..ψ_d)."""
    phases = np.asarray(phases, dtype=float)
    x = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.empty(len(x), dtype=complex)
    for i in range(0, len(x), 4096):
        xs = x[i:i + 4096]
        d = len(phases) - 1
        c, s = xs, np.sqrt(np.clip(1 - xs * xs, 0, None))
        v0 = np.exp(1j * phases[0]) * np.ones(len(xs), dtype=complex)
        v1 = np.zeros(len(xs), dtype=complex)
        for k in range(1, d + 1):
            a0 = v0 * c + v1 * 1j * s
            a1 = v0 * 1j * s + v1 * c
            v0, v1 = a0 * np.exp(1j * phases[k]), a1 * np.exp(-1j * phases[k])
        out[i:i + 4096] = v0
    return out


def qsp_phases(coeffs, *, tol: float = 1e-12, maxiter: int = 100) -> tuple[np.ndarray, dict]:
    r"""Full symmetric W_x phases Ψ (length d+1) with Re U(x, Ψ)_{00} = P(x), P given by its
    Chebyshev coefficients (definite parity, ‖P‖_∞ < 1). Newton's method on the reduced phases.
    Returns (phases, info) with info = {iterations, residual (max over the nodes), seconds}."""
    import time

    coeffs = np.trim_zeros(np.asarray(coeffs, dtype=float), "b")
    d = len(coeffs) - 1
    if d < 0:
        raise ValueError("zero polynomial")
    parity = d % 2
    if np.any(np.abs(coeffs[1 - parity::2]) > 1e-12 * max(1.0, np.max(np.abs(coeffs)))):
        raise ValueError("polynomial must have definite parity")
    t0 = time.perf_counter()
    dt = (d + 2) // 2  # number of free phases: ⌈(d+1)/2⌉
    j = np.arange(1, dt + 1)
    x = np.cos((2 * j - 1) * np.pi / (4 * dt))
    target = C.chebval(x, coeffs)
    red = np.zeros(dt)
    red[0] = np.pi / 4
    idx = np.minimum(np.arange(d + 1), d - np.arange(d + 1))
    res = np.inf
    for it in range(1, maxiter + 1):
        full = red[idx]
        rows = _qsp_matrices_top_row(full, x)
        F = rows[d][:, 0].real
        err = F - target
        res = float(np.max(np.abs(err)))
        if res < tol:
            break
        cols = _qsp_suffix_cols(full, x)
        # dU00/dψ_k = p_k · iZ · s_k
        dfull = (1j * (rows[:, :, 0] * cols[:, :, 0] - rows[:, :, 1] * cols[:, :, 1])).real  # (d+1, G)
        J = np.zeros((len(x), dt))
        np.add.at(J.T, idx, dfull)
        step = np.linalg.solve(J, err)
        red = red - step
    else:
        full = red[idx]
        res = float(np.max(np.abs(qsp_response(full, x).real - target)))
        if res > 1e3 * tol:
            raise QSPError(f"QSP Newton did not converge: residual {res:.3g} after {maxiter} iterations")
    full = red[idx]
    return full, {"iterations": it, "residual": res, "seconds": time.perf_counter() - t0}


def reflection_phases(phases) -> np.ndarray:
    r"""W_x phases Ψ → reflection-convention phases Φ (module docstring):
    e^{iφ_0 Z} R e^{iφ_1 Z} R … R e^{iφ_d Z} = (−i)^d U(x, Ψ)."""
    phi = np.asarray(phases, dtype=float) - np.pi / 2
    phi[0] += np.pi / 4
    phi[-1] += np.pi / 4
    if len(phi) == 1:
        phi[0] = phases[0]
    return phi
