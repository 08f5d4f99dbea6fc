r"""Polynomial approximation of 1/x and symmetric QSP phase factors (pure numpy/scipy.fft).

**The polynomial.** For a = 1/κ′ the odd polynomial of degree d = 2m − 1

    x·f(x) = 1 − T_m(h(x)) / T_m(h(0)),    h(x) = (1 + a² − 2x²) / (1 − a²),

is the *minimax relative-error* approximation of 1/x on [a, 1]: h maps x² ∈ [a², 1] onto [−1, 1],
so |x f(x) − 1| ≤ δ_m = 1 / T_m((1+a²)/(1−a²)) ≈ 2 e^{−2m a} on [a, 1] (the Chebyshev residual
polynomial behind the conjugate-gradient bound). Hence d ≈ κ′ log(2/δ), the optimal
O(κ′ log(κ′/ε)) of the QSVT linear-system algorithm (Gilyén, Su, Low, Wiebe 2019, Thm. 41; Childs,
Kothari, Somma 2017). It is then scaled by a constant so that |P| ≤ `max_abs` < 1 on [−1, 1].
Its Chebyshev coefficients are interpolated at the d+1 Chebyshev nodes by one DCT-II (O(d log d));
the sup norm is the maximum over a 4×-oversampled DCT-III grid, refined by Newton's method on
dP/dθ = 0 (`_sup_norm`). Since cosh(m·arccosh h(0)) = cosh(2m·artanh a), no T_m is ever formed
outside [−1, 1]: the ratio T_m(h)/T_m(h(0)) is evaluated in a form that cannot overflow.

**The phases.** Symmetric QSP in the W_x convention (Dong, Lin, Ni, Meng, Whaley, PRA 103 042419
(2021); Dong, Lin, Ni, Wang, *Robust iterative method for symmetric QSP*, 2023):

    U(x, Ψ) = e^{iψ_0 Z} Π_{k=1..d} W(x) e^{iψ_k Z},  W(x) = [[x, i√(1−x²)], [i√(1−x²), x]],
    P(x) = Re U(x, Ψ)_{00},  Ψ symmetric (ψ_k = ψ_{d−k}).

*Default method: the inverse nonlinear FFT* (Ni, Sarkar, Ying, Lin, arXiv:2505.12615, 2025; the
QSP–NLFT dictionary of Alexis, Mnatsakanyan, Thiele, Rev. Mat. Complut. 2024 and Alexis, Lin,
Mnatsakanyan, Thiele, Wang, arXiv:2407.05634). With x = cos θ, z = e^{2iθ} and F_k = i·tan ψ_k,
conjugating by a Hadamard turns U into

    H U H = e^{iψ_0 X} Π (e^{iθZ} e^{iψ_k X}) = [Π_{k=0..d} G_k(F_k)] · diag(z^{d/2}, z^{−d/2}),
    G_k(F) = (1+|F|²)^{−1/2} [[1, F z^k], [−F̄ z^{−k}, 1]],   Π_k G_k = [[a, b], [−b*, a*]],

the SU(2) nonlinear Fourier transform of (F_k); so U_{00}(cos θ) = Re(a z^{d/2}) + i·Im(b z^{−d/2}).
For real phases a* = Σ_j α_j z^j and b = i Σ_j β_j z^j have real coefficients, and

    U_{00}(x) = Σ_{j=0..d} (α_j + i β_j) · T_{|d−2j|}(x)                                      (★)

is an explicit Chebyshev series. The phases of a target P are found in three steps:

1. b(z) = −i z^{d/2} P((z^{1/2}+z^{−1/2})/2), i.e. β_j = −c_{|d−2j|}/2 (−c_0 at j = d/2), so that
   Im(b z^{−d/2}) = −P; the shift ψ_0, ψ_d += π/4 below multiplies U_{00} by i and makes Re U_{00} = P.
2. Weiss: a* is the outer function with |a*| = √(1 − |b|²) on the circle,
   a* = exp(ĝ_0 + 2Σ_{k≥1} ĝ_k z^k), ĝ the Fourier coefficients of g = ½ log(1 − |b|²), computed
   by DCTs on N equispaced points. N starts at 16(d+1) and doubles until the tail of ĝ is below
   u·max(1, ‖g‖_∞) (g is analytic in an annulus, so ĝ decays geometrically; the aliasing error
   is that tail).
3. Inverse NLFT by halving (the Schur-type recursion of arXiv:2505.12615): F_0..F_{m−1} depend
   only on a*, b mod z^m, because b·a₁* − a*·b₁ = b₂ = O(z^m) for (a, b) = (a₁, b₁)·(a₂, b₂);
   the remainder's data are (a₂*, z^{−m} b₂) = (b₁* b + a₁ a*, z^{−m}(a₁* b − b₁ a*)), truncated,
   which are FFT products; leaves of ≤ 64 coefficients are layer-stripped (F = b(0)/a*(0)).
   Cost O(d log² d), memory O(N) = O(d). The solution is symmetric because b_j = b_{d−j}, so only
   the first ⌈(d+1)/2⌉ coefficients are computed and mirrored (tests compare with the full run).

The answer is checked a posteriori by the forward NLFT (★) evaluated with FFT products in a
tree order (`qsp_chebyshev`): the ℓ1 norm of the Chebyshev-coefficient difference bounds
max_{[−1,1]} |Re U_{00} − P|. *Reference method* `method="newton"`: Newton's method on the d̃ =
⌈(d+1)/2⌉ reduced phases at the positive Chebyshev nodes with the analytic Jacobian, started from
Φ̃ = (π/4, 0, …, 0) — O(d³), kept for tests. Both find the same ("maximal") solution.

**Error analysis.** The phases are forward-stable (arXiv:2505.12615, Thm. on the inverse NLFFT:
error O(d·u) for ‖b‖_∞ ≤ 1 − η up to η-dependent factors); evaluating a product of d SU(2)
factors in double precision adds at most ≈ c·d·u (c ≈ 8 flops per entry per factor, u = 2^−53).
So the response error tolerance used by `qsp_phases` and the tests is `response_tolerance(d)`
= 32·(d+1)·u (16·d·u for the phases and their check, 16·d·u for the evaluation).

`reflection_phases` converts to the reflection convention used by the QSVT circuit:
R(x) = −i e^{iπ/4 Z} W(x) e^{iπ/4 Z}, so e^{iφ_0 Z} R e^{iφ_1 Z} R … R e^{iφ_d Z} = (−i)^d U(x, Ψ)
with φ_0 = ψ_0 − π/4, φ_k = ψ_k − π/2 (0 < k < d), φ_d = ψ_d − π/4.

**Limits.** Degrees above `max_degree()` (10^6, or QDSL_MAX_QSP_DEGREE) are refused before
anything is allocated, with diagnostic E0507 naming κ′ and the degree (a SizeLimitError, exit 3).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial import chebyshev as C
from scipy import fft as sfft

__all__ = [
    "InversePolynomial",
    "inverse_polynomial",
    "relative_error_bound",
    "degree_for",
    "qsp_phases",
    "qsp_response",
    "qsp_chebyshev",
    "chebyshev_at_nodes",
    "reflection_phases",
    "response_tolerance",
    "max_degree",
    "check_degree",
    "QSPError",
]

#: unit roundoff of float64
_U = 2.0 ** -53

#: default largest polynomial degree (env QDSL_MAX_QSP_DEGREE): at 10^6 the phases took 38 s and
#: 463 MiB (tracemalloc peak) on a busy 2-core machine; 10^5 takes ~2 s
DEFAULT_MAX_DEGREE = 10 ** 6

#: bytes per Weiss grid point at the peak of `qsp_phases` (float and complex work arrays)
_BYTES_PER_GRID_POINT = 48

#: leaves of the inverse/forward NLFT recursions (layer stripping / sequential products)
_LEAF = 64


class QSPError(RuntimeError):
    """Phase finding did not converge or did not reproduce the polynomial."""


def response_tolerance(degree: int) -> float:
    """32·(d+1)·u: the max error of Re U(x, Ψ)_{00} against P allowed for degree d (module
    docstring, *Error analysis*: 16·d·u for the phases, 16·d·u for evaluating d SU(2) factors)."""
    return 32.0 * (int(degree) + 1) * _U


# ----------------------------------------------------------------------------------------------
# size limits


def max_degree() -> int:
    """The largest polynomial degree qdsl builds or finds phases for: QDSL_MAX_QSP_DEGREE, default
    10^6 (≈ 40 s and ≈ 0.5 GiB for the phases on one busy core)."""
    v = os.environ.get("QDSL_MAX_QSP_DEGREE")
    if v is None:
        return DEFAULT_MAX_DEGREE
    try:
        return int(float(v))
    except ValueError:
        from qdsl.diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0507", f"QDSL_MAX_QSP_DEGREE must be a number, got {v!r}"))


def _grid_size(degree: int) -> int:
    """The first Weiss grid: the power of two ≥ 16(d+1)."""
    return 1 << max(6, int(np.ceil(np.log2(16 * (int(degree) + 1)))))


def check_degree(degree: int, *, kappa_prime: float | None = None, limit: int | None = None,
                 what: str = "QSP phase factors", reason: str | None = None) -> None:
    """Raise SizeLimitError E0507 when `degree` is over `limit` (default `max_degree()`), before
    anything of that size is allocated; the message names κ′ and the degree."""
    own_limit = limit is None
    limit = max_degree() if own_limit else int(limit)
    if degree <= limit:
        return
    from qdsl.diagnostics import Diagnostic, SizeLimitError

    kap = f" for κ′ = {kappa_prime:.4g}" if kappa_prime is not None else ""
    notes = [reason] if reason else []
    if degree < 2 ** 50:
        notes.append(f"finding its phase factors would take ≈ "
                     f"{_grid_size(degree) * _BYTES_PER_GRID_POINT / 2 ** 30:.3g} GiB of memory")
    raise SizeLimitError(Diagnostic(
        "E0507", f"{what}: polynomial degree {degree:,}{kap} is over the limit {limit:,}",
        notes=tuple(notes),
        help="the degree grows like κ′·ln(1/ε): lower κ′ (fewer --steps, a smaller learning rate or "
             "dt, a dissipative model) or raise ε; `qdsl resources --params/--steps` estimates "
             "larger sizes without building anything"
             + ("; QDSL_MAX_QSP_DEGREE raises this limit" if own_limit else "")))


def _refuse_infinite(kappa_prime: float) -> None:
    from qdsl.diagnostics import Diagnostic, SizeLimitError

    raise SizeLimitError(Diagnostic(
        "E0507", f"κ′ = {kappa_prime}: the system is numerically singular, no polynomial degree suffices",
        help="the model's linear system is not invertible in double precision: lower the steps, the "
             "learning rate or dt, or make the model dissipative"))


# ----------------------------------------------------------------------------------------------
# the 1/x polynomial


def _t0(a: float) -> float:
    """arccosh h(0) = arccosh((1+a²)/(1−a²)) = 2·artanh(a), accurate for tiny a."""
    return 2.0 * float(np.arctanh(a))


def _sech(y):
    """1/cosh(y) without overflow (→ 0 for large y)."""
    e = np.exp(-np.abs(y))
    return 2.0 * e / (1.0 + e * e)


def relative_error_bound(kappa_prime: float, m: int) -> float:
    """δ_m = 1/T_m((1+a²)/(1−a²)), a = 1/κ′: the max relative error of the degree-(2m−1) polynomial."""
    a = 1.0 / float(kappa_prime)
    if a >= 1:
        return 0.0
    return float(_sech(m * _t0(a)))


def degree_for(kappa_prime: float, delta: float) -> int:
    """Smallest odd degree d = 2m − 1 whose relative error on [1/κ′, 1] is ≤ δ (an exact Python
    int, also for κ′ far beyond what can be built: `check_degree` refuses those)."""
    if not np.isfinite(kappa_prime):
        _refuse_infinite(kappa_prime)
    a = 1.0 / float(kappa_prime)
    if a >= 1 or delta >= 1:
        return 1
    m = max(1, int(np.ceil(np.arccosh(1.0 / float(delta)) / _t0(a))))
    if m < 2 ** 40:  # beyond, m·t0 no longer resolves m ± 1 in float64 (and nothing is built)
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


def _residual_ratio(x: np.ndarray, a: float, m: int) -> np.ndarray:
    r"""q(x) = T_m(h(x)) / T_m(h(0)) (so x f(x) = 1 − q), for |x| ≤ 1, without cancellation in h ∓ 1
    and without overflow: with t0 = 2 artanh a,

        |x| ≥ a:  q = cos(m ϑ)·sech(m t0),  ϑ = arccos h = 2·atan2(√((|x|−a)(|x|+a)), √((1−|x|)(1+|x|)));
        |x| < a:  q = e^{m(t − t0)}·(1 + e^{−2mt}) / (1 + e^{−2m t0}),  t = arccosh h = 2·asinh √((a²−x²)/(1−a²)).
    """
    ax = np.abs(np.asarray(x, dtype=float))
    t0 = _t0(a)
    out = np.empty_like(ax)
    inside = ax >= a
    xi = ax[inside]
    th = 2.0 * np.arctan2(np.sqrt((xi - a) * (xi + a)), np.sqrt((1.0 - xi) * (1.0 + xi)))
    out[inside] = np.cos(m * th) * _sech(m * t0)
    xo = ax[~inside]
    t = 2.0 * np.arcsinh(np.sqrt((a - xo) * (a + xo) / (1.0 - a * a)))
    out[~inside] = np.exp(m * (t - t0)) * (1.0 + np.exp(-2.0 * m * t)) / (1.0 + np.exp(-2.0 * m * t0))
    return out


def _cheb_interpolate(values: np.ndarray) -> np.ndarray:
    r"""Chebyshev coefficients of the degree-(n−1) interpolant of values at x_j = cos(π(j+½)/n):
    c_k = (2/n) Σ_j v_j cos(πk(j+½)/n), c_0 halved — one DCT-II (= numpy's chebinterpolate)."""
    n = len(values)
    c = sfft.dct(values, type=2) / n
    c[0] /= 2
    return c


def chebyshev_at_nodes(coeffs, G: int) -> np.ndarray:
    r"""Σ_k c_k T_k(x_l) at the G Chebyshev nodes x_l = cos(π(l+½)/G), l = 0..G−1, for any degree,
    in O(d + G log G): T_k(x_l) = cos(kθ_l) is periodic in k with cos((k+2G)θ_l) = −cos(kθ_l) and
    cos((2G−k)θ_l) = −cos(kθ_l), so the coefficients fold onto 0..G−1 before one DCT-III."""
    c = np.asarray(coeffs)
    G = int(G)
    k = np.arange(len(c))
    r = k % (2 * G)
    sign = np.where((k // (2 * G)) % 2 == 0, 1.0, -1.0)
    upper = r > G
    sign = np.where(upper, -sign, sign)
    r = np.where(upper, 2 * G - r, r)
    keep = r < G  # r == G: cos(Gθ_l) = cos(π(l+½)) = 0
    folded = np.zeros(G, dtype=c.dtype)
    np.add.at(folded, r[keep], sign[keep] * c[keep])
    if np.iscomplexobj(folded):
        return chebyshev_at_nodes(folded.real, G) + 1j * chebyshev_at_nodes(folded.imag, G)
    y = sfft.dct(folded, type=3)  # y_l = f_0 + 2 Σ_{k≥1} f_k cos(πk(2l+1)/(2G))
    return (y + folded[0]) / 2


def _trig_derivatives(c: np.ndarray, q: int, L: int):
    """P, dP/dθ, d²P/dθ² at θ = π·q/L, P(cos θ) = Σ c_k cos kθ; the angles kθ are reduced exactly
    in integers (k·q mod 2L), so the O(d) sums lose no accuracy to large k·θ."""
    k = np.arange(len(c), dtype=np.int64)
    ang = np.pi * ((k * q) % (2 * L)).astype(float) / L
    cs, sn = np.cos(ang), np.sin(ang)
    kf = k.astype(float)
    return float(c @ cs), float(-(kf * c) @ sn), float(-(kf * kf * c) @ cs)


def _sup_norm(coeffs) -> float:
    r"""max |P| on [−1, 1] for P = Σ c_k T_k. The values on the grid θ_j = π(j+½)/M, M = 4(d+1)
    (one DCT-III) locate the maxima to within π/M; the few largest local maxima are refined by
    safeguarded Newton steps on dP/dθ = 0 with exactly reduced angles on a lattice of spacing
    π/(2^p M), and x = ±1 are added. A trigonometric polynomial of degree d has
    |P''(θ)| ≤ d²·max|P| (Bernstein), so the refined maximum is exact to ≈ (dπ/(2^p M))²/8 ≤ 1e-13."""
    c = np.asarray(coeffs, dtype=float)
    d = len(c) - 1
    if d <= 0:
        return float(abs(c[0])) if len(c) else 0.0
    M = max(64, 4 * (d + 1))
    cc = np.zeros(M)
    cc[: d + 1] = c
    v = np.abs((sfft.dct(cc, type=3) + c[0]) / 2)
    best = max(float(v.max()), abs(float(np.sum(c))), abs(float(np.sum(c * (-1.0) ** np.arange(d + 1)))))
    # local maxima of |P| on the grid, largest first
    inner = np.flatnonzero((v[1:-1] >= v[:-2]) & (v[1:-1] >= v[2:])) + 1
    # the grid underestimates a maximum by at most (dπ/M)²/8 < 8 % (Bernstein): refine those within 10 %
    cand = inner[v[inner] >= 0.9 * v.max()]
    cand = cand[np.argsort(v[cand])[::-1][:8]]
    p = max(0, min(20, 62 - int(np.ceil(np.log2((d + 1) * 2 * M)))))
    L = M << p
    L2 = 2 * L  # θ = π·q/L2 with q an integer; the grid point θ_j is q = (2j+1)·L/M
    for j in cand:
        lo, hi = (2 * j - 1) * L // M, (2 * j + 3) * L // M  # θ_{j−1}, θ_{j+1} on the lattice π q/L2
        q = (2 * j + 1) * L // M
        for _ in range(40):
            P0, P1, P2 = _trig_derivatives(c, q, L2)
            best = max(best, abs(P0))
            s = 1.0 if P0 >= 0 else -1.0
            g, gp = s * P1, s * P2          # maximize s·P: root of g with g' < 0
            if g > 0:
                lo = q
            else:
                hi = q
            if hi - lo <= 1:
                break
            step = -g / gp if gp < 0 else None
            qn = None if step is None else int(round(q + step * L2 / np.pi))
            if qn is None or not (lo < qn < hi) or qn == q:
                qn = (lo + hi) // 2
            q = qn
        best = max(best, abs(_trig_derivatives(c, q, L2)[0]))
    return best


def inverse_polynomial(kappa_prime: float, degree: int | None = None, *, delta: float = 1e-3,
                       max_abs: float = 0.9) -> InversePolynomial:
    """The minimax relative-error odd polynomial for 1/x on [1/κ′, 1] (module docstring), of the
    given odd degree or of the smallest degree with relative error ≤ δ, scaled to sup |P| = max_abs.
    Degrees over `max_degree()` raise SizeLimitError E0507 before anything is allocated."""
    kappa_prime = float(kappa_prime)
    if not kappa_prime >= 1:
        raise ValueError("kappa_prime must be ≥ 1")
    if degree is None:
        degree = degree_for(kappa_prime, delta)
    if degree % 2 == 0:
        raise ValueError("degree must be odd")
    check_degree(degree, kappa_prime=kappa_prime, what="the 1/x polynomial")
    m = (degree + 1) // 2
    if kappa_prime == 1.0:
        coeffs = np.zeros(degree + 1)
        coeffs[1] = 1.0
        fmax = 1.0
    else:
        # Interpolation at the degree+1 (even count) Chebyshev nodes, which avoid x = 0: exact for
        # a polynomial of this degree up to rounding.
        n = degree + 1
        x = np.cos(np.pi * (np.arange(n) + 0.5) / n)
        coeffs = _cheb_interpolate((1.0 - _residual_ratio(x, 1.0 / kappa_prime, m)) / x)
        coeffs[0::2] = 0.0
        fmax = _sup_norm(coeffs)
    scale = max_abs / fmax
    return InversePolynomial(kappa_prime=kappa_prime, degree=int(degree), coeffs=coeffs * scale,
                             scale=float(scale), rel_error=relative_error_bound(kappa_prime, m)
                             if kappa_prime > 1 else 0.0, max_abs=float(max_abs))


# ----------------------------------------------------------------------------------------------
# the SU(2) nonlinear Fourier transform in real arithmetic
#
# A pair (α, β) of real arrays of length n stands for a*(z) = Σ α_j z^j, b(z) = i Σ β_j z^j, the
# NLFT of n coefficients F_k = i·τ_k (k = 0..n−1). Products (Π G_k over a first block of length m,
# then over the next block shifted by z^m) and remainders are polynomial products, done by rfft at
# one size ≥ n per node: every coefficient that is kept lies below the wrap-around.


@lru_cache(maxsize=256)
def _twiddle(shift: int, nf: int) -> np.ndarray:
    """e^{−2πik·shift/nf}, k = 0..nf/2 (cached: the nodes of one recursion level share sizes)."""
    return np.exp(-2j * np.pi * ((shift * np.arange(nf // 2 + 1)) % nf) / nf)


def _combine(a1, b1, a2, b2, nf=None, Fa1=None, Fb1=None):
    r"""(α, β) of the concatenated sequence: a* = a₁* a₂* − z^m b₁* b₂, b = b₁ a₂* + z^m a₁ b₂
    (m = len(a₁); b₁* = z^{−(m−1)}·reversed), i.e. α = α₁α₂ − z·rev(β₁)β₂, β = β₁α₂ + z·rev(α₁)β₂.
    For real x of length m, rfft(z·rev(x))_k = e^{−2πikm/nf}·conj(rfft(x)_k); every product has
    length ≤ n ≤ nf, so nothing wraps around."""
    m, n = len(a1), len(a1) + len(a2)
    if n <= 2 * _LEAF:
        al = np.zeros(n)
        be = np.zeros(n)
        al[: n - 1] = np.convolve(a1, a2)
        al[1:] -= np.convolve(b1[::-1], b2)
        be[: n - 1] = np.convolve(b1, a2)
        be[1:] += np.convolve(a1[::-1], b2)
        return al, be
    if nf is None:
        nf = sfft.next_fast_len(n, real=True)
        Fa1, Fb1 = sfft.rfft(a1, nf), sfft.rfft(b1, nf)
    Fa2, Fb2 = sfft.rfft(a2, nf), sfft.rfft(b2, nf)
    w = _twiddle(m, nf)
    al = sfft.irfft(Fa1 * Fa2 - w * np.conj(Fb1) * Fb2, nf)[:n]
    be = sfft.irfft(Fb1 * Fa2 + w * np.conj(Fa1) * Fb2, nf)[:n]
    return al, be


def _append(al: np.ndarray, be: np.ndarray, k: int, ca: float, sb: float) -> None:
    """Right-multiply the pair (α, β)[:k] in place by one factor with α₂ = [ca], β₂ = [sb] (the
    k-th of the sequence): α ← ca·α − z·sb·rev(β), β ← ca·β + z·sb·rev(α) (`_combine`, m = k)."""
    if k == 0:
        al[0], be[0] = ca, sb
        return
    ra, rb = al[k - 1::-1].copy(), be[k - 1::-1].copy()
    al[: k + 1] *= ca
    be[: k + 1] *= ca
    al[1: k + 1] -= sb * rb
    be[1: k + 1] += sb * ra


def _strip(A: np.ndarray, B: np.ndarray):
    """Layer stripping of a leaf: τ_k = β(0)/α(0), then the remainder (m = 1 in `_inverse_nlft`);
    returns τ and the leaf's own pair (α, β), built one factor at a time."""
    n = len(A)
    tau = np.empty(n)
    al = np.zeros(n)
    be = np.zeros(n)
    for k in range(n):
        t = B[0] / A[0]
        c = 1.0 / np.sqrt(1.0 + t * t)
        tau[k] = t
        A, B = c * (A[:-1] + t * B[:-1]), c * (B[1:] - t * A[1:])
        _append(al, be, k, c, c * t)
    return tau, al, be


def _inverse_nlft(A: np.ndarray, B: np.ndarray):
    r"""τ_0..τ_{n−1} (F_k = iτ_k) from α = a* mod z^n and β = b/i mod z^n, and the pair of those
    n coefficients. First half from (α, β) mod z^m; remainder α₂ = (rev(β₁)β + rev(α₁)α)[m−1 : n−1],
    β₂ = (α₁β − β₁α)[m : n] (module docstring, step 3)."""
    n = len(A)
    if n <= _LEAF:
        return _strip(A, B)
    m = n // 2
    t1, a1, b1 = _inverse_nlft(A[:m], B[:m])
    nf = sfft.next_fast_len(n, real=True)
    FA, FB = sfft.rfft(A, nf), sfft.rfft(B, nf)
    Fa1, Fb1 = sfft.rfft(a1, nf), sfft.rfft(b1, nf)
    B2 = sfft.irfft(Fa1 * FB - Fb1 * FA, nf)[m:n]
    # rfft(rev x) = e^{−2πik(m−1)/nf}·conj(rfft x) for real x of length m
    A2 = sfft.irfft(_twiddle(m - 1, nf) * (np.conj(Fb1) * FB + np.conj(Fa1) * FA), nf)[m - 1:n - 1]
    t2, a2, b2 = _inverse_nlft(A2, B2)
    al, be = _combine(a1, b1, a2, b2, nf, Fa1, Fb1)
    return np.concatenate([t1, t2]), al, be


def _forward_nlft(cos_psi: np.ndarray, sin_psi: np.ndarray):
    """(α, β) of the factors e^{iψ_k X} conjugated by diag(z^{k/2}, z^{−k/2}) — valid for any real
    ψ_k (G_k(i tan ψ) = e^{iψX} when cos ψ > 0; the pair (cos ψ, sin ψ) covers every ψ)."""
    n = len(cos_psi)
    if n <= _LEAF:
        al, be = np.zeros(n), np.zeros(n)
        for k in range(n):
            _append(al, be, k, cos_psi[k], sin_psi[k])
        return al, be
    m = n // 2
    a1, b1 = _forward_nlft(cos_psi[:m], sin_psi[:m])
    a2, b2 = _forward_nlft(cos_psi[m:], sin_psi[m:])
    return _combine(a1, b1, a2, b2)


def qsp_chebyshev(phases) -> tuple[np.ndarray, np.ndarray]:
    r"""Chebyshev coefficients (re, im) of U(x, Ψ)_{00} = Σ_k (re_k + i·im_k) T_k(x) for full W_x
    phases Ψ (any real values), by the forward NLFT (★) in O(d log² d): a tree of FFT products of
    the d+1 SU(2) factors, then the fold T_{|d−2j|}. An evaluation independent of `qsp_response`'s
    sequential product (same matrix product, another order and arithmetic)."""
    psi = np.asarray(phases, dtype=float)
    d = len(psi) - 1
    check_degree(d)
    al, be = _forward_nlft(np.cos(psi), np.sin(psi))
    k = np.abs(d - 2 * np.arange(d + 1))
    re = np.zeros(d + 1)
    im = np.zeros(d + 1)
    np.add.at(re, k, al)
    np.add.at(im, k, be)
    return re, im


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
    """U(x, Ψ)_{00} (complex) for full W_x-convention phases Ψ = (ψ_0..ψ_d): the sequential product
    of the d SU(2) factors, O(d) per point, in chunks of 4096 points (bounded memory)."""
    phases = np.asarray(phases, dtype=float)
    x = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.empty(len(x), dtype=complex)
    ep = np.exp(1j * phases)
    em = np.conj(ep)
    d = len(phases) - 1
    for i in range(0, len(x), 4096):
        xs = x[i:i + 4096]
        c, s = xs, 1j * np.sqrt(np.clip(1 - xs * xs, 0, None))
        v0 = ep[0] * np.ones(len(xs), dtype=complex)
        v1 = np.zeros(len(xs), dtype=complex)
        for k in range(1, d + 1):
            v0, v1 = (v0 * c + v1 * s) * ep[k], (v0 * s + v1 * c) * em[k]
        out[i:i + 4096] = v0
    return out


def _check_polynomial(coeffs) -> tuple[np.ndarray, int]:
    coeffs = np.trim_zeros(np.asarray(coeffs, dtype=float), "b")
    d = len(coeffs) - 1
    if d < 0:
        raise ValueError("zero polynomial")
    if not np.all(np.isfinite(coeffs)):
        raise ValueError("polynomial coefficients must be finite")
    parity = d % 2
    if np.any(np.abs(coeffs[1 - parity::2]) > 1e-12 * max(1.0, np.max(np.abs(coeffs)))):
        raise ValueError("polynomial must have definite parity")
    return coeffs, d


def _weiss(coeffs: np.ndarray, d: int, N: int):
    r"""Taylor coefficients α_0..α_{N−1} of the outer a* with |a*| = √(1 − P(cos(φ/2))²) on the
    circle (module docstring, step 2), the cosine coefficients ĝ of g = ½ log(1 − |b|²), and
    max |P| on the grid. Only φ ∈ [0, π] is sampled: g is even in φ, so ĝ is a DCT-I, and a* has
    real coefficients, so its values on the upper half circle determine them (irfft)."""
    cc = np.zeros(N + 1)
    cc[: d + 1] = coeffs
    Pv = (sfft.dct(cc, type=1) + coeffs[0]) / 2     # P(cos(πl/N)), l = 0..N: DCT-I
    del cc
    pmax = float(np.max(np.abs(Pv)))
    if not pmax < 1:
        raise ValueError(f"QSP needs |P| < 1 on [−1, 1]; max |P| ≥ {pmax:.6g}")
    g = 0.5 * np.log1p(-Pv[: N // 2 + 1] ** 2)        # g(φ_l), φ_l = 2πl/N, l = 0..N/2
    del Pv
    gh = sfft.dct(g, type=1) / N                     # ĝ_k = (1/N) Σ_l g(φ_l) e^{−ikφ_l}
    gmax = float(np.max(np.abs(g)))
    del g
    h = np.zeros(N)
    h[0] = gh[0]
    h[1: N // 2] = 2 * gh[1: N // 2]
    h[N // 2] = gh[N // 2]
    av = np.exp(np.conj(sfft.rfft(h)))                # a*(e^{iφ_l}) = exp(Σ_k h_k e^{ikφ_l}), l ≤ N/2
    del h
    alpha = sfft.irfft(np.conj(av), N)               # α_k = (1/N) Σ_l a*(e^{iφ_l}) e^{−ikφ_l}
    return alpha, gh, gmax, pmax


def _phases_nlft(coeffs: np.ndarray, d: int) -> tuple[np.ndarray, dict]:
    j = np.arange(d + 1)
    beta = -0.5 * coeffs[np.abs(d - 2 * j)]
    if d % 2 == 0:
        beta[d // 2] *= 2
    N = _grid_size(d)
    while True:
        alpha, gh, gmax, pmax = _weiss(coeffs, d, N)
        tail = float(np.max(np.abs(gh[3 * N // 8:])))
        if tail <= _U * max(1.0, gmax):
            break
        if 2 * N > 64 * _grid_size(d) or 2 * N * _BYTES_PER_GRID_POINT > 4 * 2 ** 30:
            raise QSPError(f"the Weiss grid did not resolve log(1 − P²) with {N} points (max |P| = "
                           f"{pmax:.6g} is too close to 1 for degree {d})")
        N *= 2
    n = (d + 2) // 2  # the sequence is symmetric: the first ⌈(d+1)/2⌉ coefficients suffice
    tau, _, _ = _inverse_nlft(np.ascontiguousarray(alpha[:n]), np.ascontiguousarray(beta[:n]))
    del alpha
    tau = np.concatenate([tau, tau[: d + 1 - n][::-1]])
    psi = np.arctan(tau)
    psi[0] += np.pi / 4
    psi[-1] += np.pi / 4
    return psi, {"grid": N, "weiss_tail": tail, "max_abs_on_grid": pmax}


def _phases_newton(coeffs: np.ndarray, d: int, tol: float, maxiter: int) -> tuple[np.ndarray, dict]:
    if d > 4000:
        check_degree(d, limit=4000, what="QSP phase factors by Newton's method (dense Jacobian)",
                     reason="method='newton' is the O(d³) reference; the default method='nlft' is near-linear")
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
    return red[idx], {"iterations": it, "residual": res}


def qsp_phases(coeffs, *, method: str = "nlft", tol: float | None = None,
               maxiter: int = 100) -> tuple[np.ndarray, dict]:
    r"""Full symmetric W_x phases Ψ (length d+1) with Re U(x, Ψ)_{00} = P(x), P given by its
    Chebyshev coefficients (definite parity, ‖P‖_∞ < 1).

    `method="nlft"` (default): Weiss + inverse nonlinear FFT, O(d log² d) time and O(d) memory,
    then the a-posteriori check `residual` = ‖Chebyshev coefficients of Re U_{00} − P‖_1 ≥
    max_{[−1,1]} |Re U_{00} − P| by the forward NLFT; QSPError if it exceeds `tol` (default
    `response_tolerance(d)`). `method="newton"`: the reference Newton iteration (d ≤ 4000), whose
    `residual` is the max error at the d̃ Chebyshev nodes (tol default 1e-12).
    Returns (phases, info): info = {method, iterations, residual, seconds, …}. Degrees over
    `max_degree()` raise SizeLimitError E0507 before anything is allocated."""
    coeffs, d = _check_polynomial(coeffs)
    check_degree(d)
    t0 = time.perf_counter()
    if method == "newton":
        psi, info = _phases_newton(coeffs, d, 1e-12 if tol is None else tol, maxiter)
    elif method == "nlft":
        psi, info = _phases_nlft(coeffs, d)
        re, _ = qsp_chebyshev(psi)
        info["residual"] = float(np.sum(np.abs(re - coeffs)))
        info["iterations"] = 0
        bound = response_tolerance(d) if tol is None else tol
        if not info["residual"] <= bound:
            raise QSPError(f"QSP phases (inverse NLFT) reproduce P only to {info['residual']:.3g} "
                           f"(allowed {bound:.3g} at degree {d})")
    else:
        raise ValueError(f"unknown QSP method {method!r} (use 'nlft' or 'newton')")
    info["method"] = method
    info["seconds"] = time.perf_counter() - t0
    return psi, info


def reflection_phases(phases) -> np.ndarray:
    r"""W_x phases Ψ → reflection-convention phases Φ (module docstring):
    e^{iφ_0 Z} R e^{iφ_1 Z} R … R e^{iφ_d Z} = (−i)^d U(x, Ψ)."""
    phi = np.asarray(phases, dtype=float) - np.pi / 2
    phi[0] += np.pi / 4
    phi[-1] += np.pi / 4
    if len(phi) == 1:
        phi[0] = phases[0]
    return phi
