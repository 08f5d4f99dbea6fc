r"""Sparse multivariate polynomials in u = θ − θ* with optional total-degree truncation.

A polynomial is a dict {monomial: coefficient} where a monomial is the *sorted tuple of variable
indices* (u_3² u_7 → (3, 3, 7)); coefficients are `fractions.Fraction` while everything is exact
(decimal literals, rational data) and become floats as soon as a float enters (a transcendental
function value, data loaded from a file). This is the representation the derivation needs at scale:
a chain-coupled quartic loss over `param w[2000]` has ~10^4 terms and each term touches ≤ 4
variables, whereas a dense exponent vector (`sympy.Poly`, `sympy.polys.rings`) costs 2000 integers
per term (measured: `ring` needs ~15 s for the loss and its gradient at n = 2000; this takes < 1 s).
SymPy provides the exact Taylor coefficients of the elementary functions (`taylor_coefficients`)
and the symbolic side of the certificate; `to_sympy` converts back for display and cross-checks.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

Poly = dict  # {tuple[int, ...]: Fraction | float}


def const(c) -> Poly:
    return {(): c} if c != 0 else {}


def var(i: int, shift=0) -> Poly:
    """θ_i = θ*_i + u_i as a polynomial in u."""
    p = {(i,): Fraction(1)}
    if shift != 0:
        p[()] = shift
    return p


def is_const(p: Poly) -> bool:
    return all(len(m) == 0 for m in p)


def const_value(p: Poly):
    return p.get((), 0)


def degree(p: Poly) -> int:
    return max((len(m) for m in p), default=0)


def variables(p: Poly) -> set:
    """The indices of the variables that occur in p."""
    return {i for m in p for i in m}


def add(p: Poly, q: Poly) -> Poly:
    if len(p) < len(q):
        p, q = q, p
    r = dict(p)
    for m, c in q.items():
        v = r.get(m, 0) + c
        if v == 0:
            r.pop(m, None)
        else:
            r[m] = v
    return r


def accumulate(into: dict, q: Poly, scale=1) -> None:
    """into += scale·q in place (for long sums: O(total terms), not O(n²))."""
    for m, c in q.items():
        into[m] = into.get(m, 0) + c * scale


def clean(p: dict) -> Poly:
    return {m: c for m, c in p.items() if c != 0}


def scale(p: Poly, s) -> Poly:
    if s == 0:
        return {}
    return {m: c * s for m, c in p.items()}


def neg(p: Poly) -> Poly:
    return {m: -c for m, c in p.items()}


def mul(p: Poly, q: Poly, cap: int | None = None) -> Poly:
    """p·q keeping only monomials of total degree ≤ cap (None: no truncation)."""
    if not p or not q:
        return {}
    if len(p) == 1 and () in p:
        return scale(q, p[()])
    if len(q) == 1 and () in q:
        return scale(p, q[()])
    r: dict = {}
    for m1, c1 in p.items():
        l1 = len(m1)
        for m2, c2 in q.items():
            if cap is not None and l1 + len(m2) > cap:
                continue
            m = tuple(sorted(m1 + m2)) if m1 and m2 else (m1 or m2)
            r[m] = r.get(m, 0) + c1 * c2
    return clean(r)


def power(p: Poly, k: int, cap: int | None = None) -> Poly:
    """p^k for an integer k ≥ 0 by repeated squaring, truncated at each step."""
    result: Poly = {(): Fraction(1)}
    base = p
    while k:
        if k & 1:
            result = mul(result, base, cap)
        k >>= 1
        if k:
            base = mul(base, base, cap)
    return result


def truncate(p: Poly, cap: int | None) -> Poly:
    if cap is None:
        return p
    return {m: c for m, c in p.items() if len(m) <= cap}


def compose_series(coeffs, p: Poly, cap: int) -> Poly:
    r"""Σ_k coeffs[k]·(p − p(0))^k, truncated at degree `cap`: the Taylor expansion of f(p) about
    p(0) when coeffs[k] = f^{(k)}(p(0))/k!. Exact to degree cap because (p − p(0)) has no constant
    term, so its k-th power starts at degree k."""
    p1 = {m: c for m, c in p.items() if m}
    out: dict = {}
    term: Poly = {(): Fraction(1)}
    for k, a in enumerate(coeffs):
        if k > cap:
            break
        if k > 0:
            term = mul(term, p1, cap)
            if not term:
                break
        if a != 0:
            accumulate(out, term, a)
    return clean(out)


def derivative(p: Poly, i: int) -> Poly:
    """∂p/∂u_i."""
    r: dict = {}
    for m, c in p.items():
        k = m.count(i)
        if k:
            j = m.index(i)
            mm = m[:j] + m[j + 1:]
            r[mm] = r.get(mm, 0) + c * k
    return clean(r)


def gradient(p: Poly, n: int) -> list[Poly]:
    """All n partial derivatives in one pass over the terms (O(terms·degree), not O(terms·n))."""
    g: list[dict] = [dict() for _ in range(n)]
    for m, c in p.items():
        prev = None
        for j, i in enumerate(m):
            if i == prev:
                continue
            prev = i
            k = m.count(i)
            mm = m[:j] + m[j + k:] + (i,) * (k - 1)
            mm = tuple(sorted(mm))
            gi = g[i]
            gi[mm] = gi.get(mm, 0) + c * k
    return [clean(x) for x in g]


# --------------------------------------------------------------------- elementary functions

SMOOTH_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sinh", "cosh", "sigmoid", "softplus")
NON_SMOOTH = {"abs": "softplus(x) + softplus(-x) or sqrt(x^2 + eps)", "relu": "softplus",
              "max": "softplus (a smooth maximum)", "min": "-softplus(-x)", "sign": "tanh(k*x)",
              "floor": "a polynomial", "ceil": "a polynomial", "step": "sigmoid(k*x)",
              "heaviside": "sigmoid(k*x)"}


def sympy_function(name: str):
    """The SymPy expression of a supported function of one symbol x (built here, never parsed)."""
    import sympy as s

    x = s.Symbol("x", real=True)
    table = {
        "exp": s.exp(x), "log": s.log(x), "sqrt": s.sqrt(x), "sin": s.sin(x), "cos": s.cos(x),
        "tanh": s.tanh(x), "sinh": s.sinh(x), "cosh": s.cosh(x),
        "sigmoid": 1 / (1 + s.exp(-x)), "softplus": s.log(1 + s.exp(x)),
    }
    return x, table[name]


@lru_cache(maxsize=None)
def _coefficient_functions(name: str, order: int):
    import sympy as s

    x, f = sympy_function(name)
    fns = []
    d = f
    for k in range(order + 1):
        fns.append(s.lambdify(x, d / math.factorial(k), modules="math"))
        d = s.diff(d, x)
    return fns


def domain_ok(name: str, x0: float) -> bool:
    if name == "log":
        return x0 > 0
    if name == "sqrt":
        return x0 > 0
    return True


def taylor_coefficients(name: str, x0: float, order: int) -> list[float]:
    """[f^{(k)}(x0)/k! for k = 0..order], from SymPy's derivatives of f."""
    return [float(fn(float(x0))) for fn in _coefficient_functions(name, order)]


def evaluate_function(name: str, x0) -> float:
    """f(x0) for a constant argument."""
    return taylor_coefficients(name, float(x0), 0)[0]


def to_sympy(p: Poly, symbols):
    """The SymPy expression of a polynomial (for display and independent cross-checks)."""
    import sympy as s

    terms = []
    for m, c in p.items():
        coeff = s.Rational(c.numerator, c.denominator) if isinstance(c, Fraction) else s.Float(c)
        terms.append(coeff * s.Mul(*[symbols[i] for i in m]))
    return s.Add(*terms)
