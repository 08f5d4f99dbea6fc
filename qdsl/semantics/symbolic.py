r"""Symbolic constants: for which values does training stay dissipative?

Exact path (SymPy): a loss model whose symbolic constant c appears only in the learning rate.
Then F_1 = −lr(c)·H with H independent of c, the condition ρ(I + F_1) < 1 is
0 < lr(c)·λ_i(H) < 2 for every i, i.e. lr(c)·λ_min > 0 and lr(c)·λ_max < 2, and SymPy solves the
two inequalities in c over its domain. λ_min, λ_max are exact algebraic numbers when H is rational
and small (≤ 6 × 6), else floats (the method says which).

Numeric path: everything else (c inside the loss or the rates). The condition's margin
(1 − ρ, or −max Re λ for flows) is evaluated on a grid over the domain, re-deriving the system at
each point, and every sign change is bisected to a relative width of 1e-10. Intervals narrower
than the grid spacing can be missed; the report says so.
"""
from __future__ import annotations

import numpy as np
import sympy as s

from ..syntax import ast
from .model import CheckedModel, _walk

GRID = 161


def _uses(model: CheckedModel, expr, name: str, seen=None) -> bool:
    seen = seen or set()
    for x in _walk(expr):
        if isinstance(x, ast.Name):
            if x.id == name:
                return True
            if x.id in model.consts and x.id not in seen:
                seen.add(x.id)
                if _uses(model, model.consts[x.id], name, seen):
                    return True
    return False


def _domain(info):
    lo, hi = s.nsimplify(info.lo, rational=True), s.nsimplify(info.hi, rational=True)
    return s.Interval(lo, hi, left_open=not info.lo_closed, right_open=not info.hi_closed)


def _set_to_intervals(st) -> list:
    if st is s.S.EmptySet or st == s.S.EmptySet:
        return []
    if isinstance(st, s.Union):
        out = []
        for a in st.args:
            out += _set_to_intervals(a)
        return out
    if isinstance(st, s.Interval):
        return [[float(st.start), float(st.end)]]
    if isinstance(st, s.FiniteSet):
        return []  # isolated points carry no interval
    raise ValueError(f"unexpected set {st}")


def _exact_path(model, system, name, values):
    """SymPy's solution when `name` only scales the learning rate; None if not applicable."""
    if model.loss is None or system.kind == "flow":
        return None
    if _uses(model, model.loss, name):
        return None
    lr_arg = model.evolve_arg("lr")
    if lr_arg is None or not _uses(model, lr_arg.value, name):
        return None
    from .sympy_bridge import SympyBuilder

    c = s.Symbol(name, real=True)
    b = SympyBuilder(model, symbols={**{k: s.Symbol(k, real=True) for k in model.symbols}, name: c},
                     values={k: v for k, v in values.items() if k != name})
    lr_expr = b.build(lr_arg.value)
    if lr_expr.free_symbols - {c}:
        return None
    # H from the exact linear part: F_1 = −lr·H at the evaluated value of lr
    lr_now = system.dynamics.lr
    rhs = system.meta.get("polynomial_rhs")
    n = system.n
    exact = False
    lam_min = lam_max = None
    if rhs is not None and n <= 6:
        from fractions import Fraction
        lr_exact = system.meta.get("lr_exact")
        coeffs = [[r.get((j,), 0) for j in range(n)] for r in rhs]
        if isinstance(lr_exact, Fraction) and all(isinstance(x, (Fraction, int)) for row in coeffs for x in row):
            H = s.Matrix(n, n, lambda i, j: -s.Rational(coeffs[i][j].numerator, coeffs[i][j].denominator)
                         / s.Rational(lr_exact.numerator, lr_exact.denominator) if coeffs[i][j] else 0)
            H = (H + H.T) / 2
            roots = s.Poly(H.charpoly(s.Symbol("lam")).as_expr(), s.Symbol("lam")).real_roots()
            if roots:
                lam_min, lam_max = min(roots), max(roots)
                exact = True
    if lam_min is None:
        F1 = system.F[1].toarray()
        hev = np.linalg.eigvalsh(-(F1 + F1.T) / 2 / lr_now)
        lam_min, lam_max = s.Float(float(hev.min()), 15), s.Float(float(hev.max()), 15)
    dom = _domain(model.symbols[name])
    sol = s.reduce_inequalities([lr_expr * lam_min > 0, lr_expr * lam_max < 2], [c])
    st = sol.as_set().intersect(dom)
    text = str(st) if exact else None
    if exact and isinstance(st, s.Interval):
        text = (f"{st.start} {'≤' if not st.left_open else '<'} {name} "
                f"{'≤' if not st.right_open else '<'} {st.end}")
    return {"intervals": _set_to_intervals(st), "norm": _set_to_intervals(st),
            "method": "exact (SymPy)" if exact else "SymPy on floating-point Hessian eigenvalues",
            "exact": text}


def _numeric_path(model, name, values, margin_fn):
    info = model.symbols[name]
    lo, hi = info.lo, info.hi
    width = hi - lo
    inset = width * 1e-9
    grid = np.linspace(lo + (0 if info.lo_closed else inset), hi - (0 if info.hi_closed else inset), GRID)

    def margins(v):
        return margin_fn({**values, name: float(v)})

    vals = [margins(v) for v in grid]
    out = {}
    for key in ("spectral", "norm"):
        m = np.array([v[key] for v in vals])
        ok = m > 0
        intervals, start = [], None
        for i, v in enumerate(grid):
            if ok[i] and start is None:
                start = grid[i] if i == 0 else _bisect(margins, key, grid[i - 1], v)
            if not ok[i] and start is not None:
                intervals.append([float(start), float(_bisect(margins, key, grid[i - 1], v))])
                start = None
        if start is not None:
            intervals.append([float(start), float(hi if True else grid[-1])])
        if intervals and intervals[0][0] == grid[0]:
            intervals[0][0] = float(lo)
        out[key] = intervals
    return {"intervals": out["spectral"], "norm": out["norm"],
            "method": f"numeric ({GRID}-point grid over the domain, boundaries bisected to 1e-10 "
                      f"relative; features narrower than {width / (GRID - 1):.3g} may be missed)",
            "exact": None}


def _bisect(margins, key, a, b):
    fa = margins(a)[key] > 0
    for _ in range(60):
        mid = 0.5 * (a + b)
        if (margins(mid)[key] > 0) == fa:
            a = mid
        else:
            b = mid
        if abs(b - a) <= 1e-10 * max(1.0, abs(a)):
            break
    return _snap(0.5 * (a + b), 1e-9 * max(1.0, abs(a)))


def _snap(x: float, tol: float) -> float:
    """A bisected boundary within `tol` of a simple rational (denominator ≤ 1000) is that rational:
    boundaries like 0 or 2/3 come out exactly instead of as 4.7e-11 or 0.66666666663."""
    from fractions import Fraction
    r = Fraction(x).limit_denominator(1000)
    return float(r) if abs(float(r) - x) <= tol else x


def solve_symbolic(model: CheckedModel, system, open_syms, values) -> dict:
    """`symbolic: {name: [[lo, hi], ...]}` (intervals where the system is dissipative) and
    `symbolic_conditions: {name: {spectral, norm, method, exact}}`; other open constants are held
    at the values the numbers were evaluated at."""
    from .certificate import conditions
    from .derive import derive

    evaluated = system.meta.get("evaluated_at", {})
    base = {**evaluated, **values}

    def margin_fn(vals):
        sysv = derive(model, vals)
        c = conditions(sysv)
        if sysv.kind == "flow":
            return {"spectral": -c["spectral_abscissa"], "norm": -c["log_norm"]}
        return {"spectral": 1 - c["spectral_radius"], "norm": 1 - c["transfer_norm"]}

    sym, conds = {}, {}
    for name in open_syms:
        res = _exact_path(model, system, name, {k: v for k, v in base.items() if k != name})
        if res is None:
            res = _numeric_path(model, name, {k: v for k, v in base.items() if k != name}, margin_fn)
        sym[name] = res["intervals"]
        conds[name] = {"spectral": res["intervals"], "norm": res["norm"], "method": res["method"],
                       "exact": res["exact"],
                       "domain": model.symbols[name].describe()}
    whole = all(len(sym[nm]) == 1 and abs(sym[nm][0][0] - model.symbols[nm].lo) < 1e-9
                and abs(sym[nm][0][1] - model.symbols[nm].hi) < 1e-9 for nm in open_syms)
    return {"symbolic": sym, "symbolic_conditions": conds, "dissipative": bool(whole),
            "evaluated_at": evaluated}
