r"""The derivation: CheckedModel → PolynomialSystem (docs/maths.md).

Expressions are evaluated straight from the AST into sparse polynomials in u = θ − θ* (see
`poly.py`), truncated at total degree d+1 for a loss (so that the update has degree d) when the
model says `expand order d`. Non-polynomial pieces (elementary functions, division by a
non-constant, non-integer powers) are replaced by their Taylor series about the value of their
argument at u = 0, with coefficients from SymPy's derivatives — exact to the truncation degree
because the argument's non-constant part has no constant term. Then, for a loss,

    F_ℓ = −(η/ℓ!)·∇^{ℓ+1}L(θ*)      (arXiv:2303.03428 Eq. 3; η = 1 for flow)

assembled as the symmetric flattened tensor: a monomial c·u^α of degree ℓ in ∂L/∂u_i puts
−η·c·α!/ℓ! at every distinct ordering of α (ℓ!/α! of them, so they sum to −η·c).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from ..diagnostics import CompileError, Diagnostic, SizeLimitError
from ..progress import progress

#: sgd derives one update rule per step: a step costs its loss evaluation (the expression nodes
#: guard_work counts, all samples — a bound for its batch) plus about SGD_STEP_NODES node-equivalents
#: of assembly, Carleman lift and certificate conditions (≈ 1 ms; measured: 1.2 ms a step for a
#: one-parameter model of 30 nodes, batch 1, 1.5 ms for batch 4). The limit is ≈ 10 s of work at
#: ≈ 10 µs a node (benchmarks/refusals.py).
SGD_STEP_NODES = 100
SGD_WORK_LIMIT = 1_000_000
RANGE_LIMIT = 10_000_000     # terms of one sum/mean
MAX_DEGREE = 64              # polynomial degree of an untruncated power
TENSOR_LIMIT = 10_000_000    # stored entries of all F_ℓ together
WORK_LIMIT = 5_000_000       # expression nodes evaluated by one derivation, sums unrolled (≈ 10 µs each)
from ..syntax import ast
from . import poly as P
from .model import MOMENTUM_KINDS, CheckedModel
from .system import Dynamics, PolynomialSystem


class EvalError(Exception):
    """An error found while evaluating an expression; carries what a Diagnostic needs."""

    def __init__(self, code, message, span=None, help=None):
        super().__init__(message)
        self.code, self.message, self.span, self.help = code, message, span, help


def _num(text_value: float):
    """A literal as an exact rational (0.1 → 1/10): the literal's decimal text is exact."""
    v = float(text_value)
    if not math.isfinite(v):
        return v
    return Fraction(repr(v)) if abs(v) < 1e300 else v


class ConstEvaluator:
    """Evaluates constant expressions (numbers, consts, symbolic-constant values, data entries,
    range variables) to Fraction/float. Used for shapes, indices, ranges and arguments."""

    def __init__(self, consts: dict, data: dict, values: dict | None = None, symbols=()):
        self.consts, self.data = consts, data
        self.values = values or {}
        self.symbols = set(symbols)
        self._cache: dict = {}
        self._active: set = set()

    def eval(self, e, scope: dict | None = None):
        scope = scope or {}
        if isinstance(e, ast.Number):
            return _num(e.value)
        if isinstance(e, ast.Name):
            if e.id in scope:
                return scope[e.id]
            if e.id in self.values:
                return self.values[e.id]
            if e.id in self.symbols:
                raise EvalError("E0215", f"the symbolic constant `{e.id}` has no value here", e.span,
                                help=f"pass a value with --set {e.id}=VALUE")
            if e.id in self.consts:
                if e.id in self._active:
                    raise EvalError("E0216", f"constant `{e.id}` is defined in terms of itself", e.span)
                if e.id not in self._cache:
                    self._active.add(e.id)
                    try:
                        self._cache[e.id] = self.eval(self.consts[e.id])
                    finally:
                        self._active.discard(e.id)
                return self._cache[e.id]
            if e.id in self.data:
                arr = self.data[e.id]
                if arr.shape == ():
                    return arr[()]
                raise EvalError("E0204", f"`{e.id}` is an array; index it", e.span)
            raise EvalError("E0203", f"unknown name `{e.id}` in a constant expression", e.span,
                            help="a constant expression may use numbers, consts and data entries")
        if isinstance(e, ast.Index):
            if e.base.id not in self.data:
                raise EvalError("E0204", f"`{e.base.id}` is not a data array; a constant expression "
                                         f"cannot index it", e.span)
            arr = self.data[e.base.id]
            idx = tuple(self.index(ix, scope) for ix in e.indices)
            check_bounds(e, idx, arr.shape, scope)
            return arr[idx]
        if isinstance(e, ast.Unary):
            v = self.eval(e.operand, scope)
            return -v if e.op == "-" else v
        if isinstance(e, ast.BinOp):
            a, b = self.eval(e.left, scope), self.eval(e.right, scope)
            return arith(e, a, b)
        if isinstance(e, ast.Call):
            if len(e.args) != 1 or e.func not in P.SMOOTH_FUNCTIONS:
                raise EvalError("E0208", f"`{e.func}` cannot be used here", e.span)
            v = self.eval(e.args[0], scope)
            if not P.domain_ok(e.func, float(v)) and not (e.func == "sqrt" and v == 0):
                raise EvalError("E0220", f"{e.func}({float(v):g}) is undefined", e.span)
            return P.evaluate_function(e.func, v)
        if isinstance(e, ast.Reduce):
            lo, hi = self.index(e.lo, scope), self.index(e.hi, scope)
            total = 0
            for k in range(lo, hi):
                total = total + self.eval(e.body, {**scope, e.var: k})
            if e.kind == "mean":
                if hi <= lo:
                    raise EvalError("E0216", f"mean over the empty range {lo}..{hi}", e.span)
                total = total / (hi - lo) if isinstance(total, float) else Fraction(total) / (hi - lo)
            return total
        raise EvalError("E0200", "not a constant expression", getattr(e, "span", None))

    def index(self, e, scope) -> int:
        v = self.eval(e, scope)
        fv = float(v)
        if not fv.is_integer():
            raise EvalError("E0216", f"index or range bound must be an integer, not {fv:g}",
                            getattr(e, "span", None), help="indices and ranges are integers")
        return int(fv)


def arith(e: ast.BinOp, a, b):
    if e.op == "+":
        return a + b
    if e.op == "-":
        return a - b
    if e.op == "*":
        return a * b
    if e.op == "/":
        if b == 0:
            raise EvalError("E0220", "division by zero", e.span)
        return a / b
    if e.op == "^":
        if a == 0 and b < 0:
            raise EvalError("E0220", "zero to a negative power", e.span)
        if a < 0 and not float(b).is_integer():
            raise EvalError("E0220", f"negative base to the non-integer power {float(b):g}", e.span)
        if isinstance(a, Fraction) and float(b).is_integer() and abs(b) <= 64:
            return a ** int(b)
        try:
            return float(a) ** float(b)
        except OverflowError:
            raise EvalError("E0221", "the value overflows double precision", e.span,
                            help="rescale the constants (qdsl works in float64)") from None
    raise EvalError("E0200", f"unknown operator {e.op}", e.span)


def check_bounds(e: ast.Index, idx, shape, scope):
    for d, (i, s) in enumerate(zip(idx, shape)):
        if not 0 <= i < s:
            where = ", ".join(f"{k} = {v}" for k, v in scope.items())
            raise EvalError("E0205", f"index {i} is out of range for `{e.base.id}` of shape {list(shape)}"
                                     + (f" (when {where})" if where else ""),
                            e.indices[d].span or e.span,
                            help=f"valid indices of dimension {d} are 0..{s - 1}; check the range bounds "
                                 f"(ranges a..b are half-open)")


class PolyEvaluator:
    """Evaluates an expression of the parameters into a truncated sparse polynomial in u."""

    def __init__(self, model: CheckedModel, consts: ConstEvaluator, point: np.ndarray,
                 cap: int | None, batch: dict | None = None):
        self.m, self.c, self.point, self.cap = model, consts, point, cap
        self.params = {p.name: p for p in model.params}
        self.batch = batch or {}
        self.errors: dict = {}
        self.approximate = False

    def fail(self, err: EvalError):
        key = (err.code, err.span.start if err.span else None, err.message)
        self.errors.setdefault(key, Diagnostic(err.code, err.message, err.span, err.help))
        return {}

    def eval(self, e, scope: dict) -> P.Poly:
        try:
            return self._eval(e, scope)
        except EvalError as err:
            return self.fail(err)

    def _var(self, k: int) -> P.Poly:
        x = self.point[k]
        return P.var(k, x if x != 0 else 0)

    def _eval(self, e, scope):
        if isinstance(e, ast.Name) and e.id in self.params:
            return self._var(self.params[e.id].offset)
        if isinstance(e, ast.Index) and e.base.id in self.params:
            p = self.params[e.base.id]
            idx = tuple(self.c.index(ix, scope) for ix in e.indices)
            check_bounds(e, idx, p.shape, scope)
            return self._var(p.offset + int(np.ravel_multi_index(idx, p.shape)))
        if isinstance(e, (ast.Number, ast.Name, ast.Index)):
            return P.const(self.c.eval(e, scope))
        if isinstance(e, ast.Unary):
            v = self.eval(e.operand, scope)
            return P.neg(v) if e.op == "-" else v
        if isinstance(e, ast.BinOp):
            return self.binop(e, scope)
        if isinstance(e, ast.Call):
            return self.call(e, scope)
        if isinstance(e, ast.Reduce):
            return self.reduce(e, scope)
        raise EvalError("E0200", f"unexpected expression {type(e).__name__}", getattr(e, "span", None))

    def mul(self, a, b, span=None):
        d = P.degree(a) + P.degree(b)
        if self.cap is not None and d > self.cap:
            self.approximate = True
        if span is not None:
            self.guard_growth((a, b), d, span)
        return P.mul(a, b, self.cap)

    def guard_growth(self, factors, d: int, span):
        r"""Refuse (E0222) a product or power that is out of reach before expanding it: a polynomial of
        degree d in v variables can hold all v^d entries of the symmetric tensors F_ℓ that the update
        is assembled into (the gradient's n rows × v^{d-1} orderings, or one rate's v^d). The
        variables are only collected when n^d itself is over the limit."""
        d = d if self.cap is None else min(d, self.cap)
        if d <= 1 or not self._over_limit(len(self.point), d):
            return
        v = len(set().union(*(P.variables(f) for f in factors)))
        if self._over_limit(v, d):
            raise SizeLimitError(Diagnostic(
                "E0222", f"this expands to a polynomial of degree {d} in {v} parameters, whose update "
                         f"tensors F_ℓ hold up to {v}^{d} ≈ {float(v) ** d:.3g} entries (limit {TENSOR_LIMIT:,})",
                span, help="lower the degree (`expand order d` truncates the update) or the number of "
                           "parameters the expression couples"))

    @staticmethod
    def _over_limit(v: int, d: int) -> bool:
        return v > 1 and d * math.log10(v) > math.log10(TENSOR_LIMIT)

    def binop(self, e: ast.BinOp, scope):
        a = self.eval(e.left, scope)
        b = self.eval(e.right, scope)
        if e.op == "+":
            return P.add(a, b)
        if e.op == "-":
            return P.add(a, P.neg(b))
        if e.op == "*":
            return self.mul(a, b, e.span)
        if e.op == "/":
            if P.is_const(b):
                bv = P.const_value(b)
                if bv == 0:
                    raise EvalError("E0220", "division by zero", e.right.span or e.span)
                return P.scale(a, 1 / bv if isinstance(bv, float) else Fraction(1) / bv)
            inv = self.series(e, b, lambda c0, K: [(-1) ** k / c0 ** (k + 1) for k in range(K + 1)],
                              "1/x", zero_ok=False)
            return self.mul(a, inv)
        if e.op == "^":
            if not P.is_const(b):
                raise EvalError("E0210", "an exponent must not depend on the parameters", e.right.span or e.span,
                                help="rewrite a^x as exp(x*log(a)) and add `expand order d`")
            ev = P.const_value(b)
            if P.is_const(a):
                return P.const(arith(e, P.const_value(a), ev))
            fe = float(ev)
            if fe.is_integer() and fe >= 0:
                deg = P.degree(a) * fe
                if self.cap is None and deg > MAX_DEGREE:
                    raise SizeLimitError(Diagnostic(
                        "E0222", f"this power has degree {deg:g}, over the limit {MAX_DEGREE}", e.span,
                        help="Carleman linearization at such a degree is out of reach; "
                             "add `expand order d` to truncate the update to degree d"))
                if fe > MAX_DEGREE and not P.const_value(a):
                    self.approximate = True     # every term has degree ≥ fe > the truncation order
                    return {}
                if fe <= MAX_DEGREE:            # else (under `expand`): the binomial series below
                    if self.cap is not None and deg > self.cap:
                        self.approximate = True
                    self.guard_growth((a,), int(deg), e.span)
                    return P.power(a, int(fe), self.cap)

            def coeffs(c0, K):
                out, c = [], 1.0
                for k in range(K + 1):
                    out.append(c * float(c0) ** (fe - k))
                    c *= (fe - k) / (k + 1)
                return out
            return self.series(e, a, coeffs, f"x^{fe:g}", zero_ok=False, positive=not fe.is_integer())
        raise EvalError("E0200", f"unknown operator {e.op}", e.span)

    def series(self, e, arg: P.Poly, coeff_fn, what: str, zero_ok=True, positive=False):
        if self.cap is None:
            raise EvalError("E0210", f"`{_expr_text(e)}` is not a polynomial in the parameters", e.span,
                            help="add `expand order d` (e.g. `expand order 2 about init`) to Taylor-expand it")
        c0 = P.const_value(arg)
        if (not zero_ok and c0 == 0) or (positive and c0 <= 0):
            raise EvalError("E0220", f"cannot expand {what} about {float(c0):g}: the expansion point is "
                                     f"outside its domain", e.span,
                            help="expand about another point: `expand order d about [..]`")
        self.approximate = True
        return P.compose_series(coeff_fn(c0, self.cap), arg, self.cap)

    def call(self, e: ast.Call, scope):
        arg = self.eval(e.args[0], scope)
        if P.is_const(arg):
            v = P.const_value(arg)
            if not P.domain_ok(e.func, float(v)) and not (e.func == "sqrt" and v == 0):
                raise EvalError("E0220", f"{e.func}({float(v):g}) is undefined", e.span)
            return P.const(P.evaluate_function(e.func, v))
        c0 = float(P.const_value(arg))
        if self.cap is not None and not P.domain_ok(e.func, c0):
            raise EvalError("E0220", f"cannot expand {e.func} about {c0:g}: outside its domain", e.span,
                            help="expand about another point: `expand order d about [..]`")
        return self.series(e, arg, lambda c, K: P.taylor_coefficients(e.func, float(c), K), e.func)

    def reduce(self, e: ast.Reduce, scope):
        lo, hi = self.c.index(e.lo, scope), self.c.index(e.hi, scope)
        if hi - lo > RANGE_LIMIT:
            raise SizeLimitError(Diagnostic("E0222", f"the range {lo}..{hi} has {hi - lo:,} terms, over the "
                                                     f"limit {RANGE_LIMIT:,}", e.span,
                                            help="qdsl expands sums term by term; use a smaller model"))
        ks = self.batch.get(id(e))
        if ks is None:
            ks = range(lo, hi)
        acc: dict = {}
        # a long outermost sum shows a progress bar (silent for short ones and off a terminal)
        bar = progress(ks, desc=f"deriving sum over {e.var}", total=len(ks), unit="term") \
            if not scope and len(ks) >= 20_000 else ks
        for k in bar:
            P.accumulate(acc, self.eval(e.body, {**scope, e.var: int(k)}))
        out = P.clean(acc)
        if e.kind == "mean":
            count = len(ks)
            if count <= 0:
                raise EvalError("E0216", f"mean over the empty range {lo}..{hi}", e.span,
                                help="a range a..b holds a, a+1, …, b−1; make b > a")
            out = P.scale(out, Fraction(1, count))
        return out


def guard_work(model: CheckedModel, consts: ConstEvaluator) -> int:
    r"""Refuse (E0222) a derivation that would evaluate more than WORK_LIMIT expression nodes —
    sums and means unrolled, `rate w[i]` once per entry — before evaluating any: a `sum` over 10^8
    terms is refused at once instead of after minutes and gigabytes. Range bounds that depend on
    enclosing range variables are evaluated at both ends of those ranges (exact for affine
    bounds); bounds that cannot be evaluated here are left to the evaluation's own diagnostics."""
    exprs = [(model.loss, 1)] if model.loss is not None else [(expr, max(len(entries), 1))
                                                             for entries, _, expr, _ in model.rates]
    total, worst = 0, None
    for expr, times in exprs:
        w, span = _work(expr, consts, [{}])
        total += w * times
        worst = worst or span
    if total > WORK_LIMIT:
        raise SizeLimitError(Diagnostic(
            "E0222", f"deriving this model evaluates about {total:,} expression terms (sums unrolled), over "
                     f"the limit {WORK_LIMIT:,}", worst or getattr(model.loss, "span", None) or model.decl.span,
            help="qdsl expands sums term by term: use fewer parameters or samples; `qdsl resources "
                 "--params N` on a small version of the model projects the cost at scale"))
    return total


def _work(e, consts: ConstEvaluator, scopes: list) -> tuple[int, object]:
    """(nodes evaluated, span of the largest sum) for expression e under every scope in `scopes`."""
    if isinstance(e, ast.Reduce):
        size, inner = 0, []
        for sc in scopes:
            try:
                lo, hi = consts.index(e.lo, sc), consts.index(e.hi, sc)
            except EvalError:
                return 1, None
            if hi > lo:
                size = max(size, hi - lo)
                inner += [{**sc, e.var: lo}, {**sc, e.var: hi - 1}]
        if size == 0:
            return 1, None
        uniq = list({tuple(sorted(sc.items())): sc for sc in inner}.values())[:16]
        body, span = _work(e.body, consts, uniq)
        return 1 + size * body, span or e.span
    total, span = 1, None
    for f in ("left", "right", "operand"):
        child = getattr(e, f, None)
        if child is not None:
            w, sp = _work(child, consts, scopes)
            total, span = total + w, span or sp
    for child in getattr(e, "args", ()) if isinstance(e, ast.Call) else ():
        w, sp = _work(child, consts, scopes)
        total, span = total + w, span or sp
    if isinstance(e, ast.Index):
        total += len(e.indices)
    return total, span


def _expr_text(e) -> str:
    try:
        return e.span.text() if e.span is not None else e.__class__.__name__
    except Exception:
        return e.__class__.__name__


# ----------------------------------------------------------------------------- the derivation

@dataclass(frozen=True)
class DeriveOptions:
    """`values`: numbers for symbolic constants (from --set); `steps`: override T."""
    values: tuple = ()
    steps: int | None = None


def derive(model: CheckedModel, values: dict | None = None, steps: int | None = None) -> PolynomialSystem:
    """The polynomial system of a checked model, with symbolic constants set to `values`."""
    values = dict(values or {})
    for name, v in values.items():
        info = model.symbols.get(name)
        if info is not None and not info.contains(v):
            raise CompileError(Diagnostic("E0215", f"--set {name}={v:g} is outside its domain {info.describe()}",
                                          info.span, help=f"choose a value in {info.describe()}"))
    consts = ConstEvaluator(model.consts, model.data, values, model.symbols)
    errors: dict = {}

    def const_arg(name, default=None):
        a = model.evolve_arg(name)
        if a is None:
            return default
        try:
            return consts.eval(a.value)
        except EvalError as err:
            errors.setdefault(err.code + err.message, Diagnostic(err.code, err.message, err.span, err.help))
            return default

    kind = model.evolve.kind
    theta0 = np.array([float(v) for p in model.params for v in p.init], dtype=float)
    n = theta0.size
    exp = model.expand
    if exp is None or exp.about is None:
        point = np.zeros(n)
    elif exp.about == "init":
        point = theta0.copy()
    else:
        point = np.array([float(consts.eval(x)) if not isinstance(x, ast.ArrayLit) else 0.0
                          for x in _flat_literal(exp.about)], dtype=float)
    exact_point = [Fraction(repr(float(x))) if x != 0 else 0 for x in point]

    if kind == "flow":
        time, dt = const_arg("time", 1.0), const_arg("dt", 0.1)
        T = round(float(time) / float(dt)) if dt else 0
        if dt and not math.isclose(T * float(dt), float(time), rel_tol=1e-9, abs_tol=1e-12):
            a = model.evolve_arg("dt")
            errors["E0211dt"] = Diagnostic("E0211", f"time = {float(time):g} is not a whole number of "
                                                    f"steps dt = {float(dt):g}", a.span if a else model.evolve.span,
                                           help=f"choose dt dividing time, e.g. dt = {float(time) / max(T, 1):g}")
        lr = Fraction(1)
        dyn = Dynamics("flow", int(steps or T), dt=float(dt), time=float(dt) * int(steps or T))
    else:
        lr = const_arg("lr", Fraction(1, 10))
        T = int(const_arg("steps", 1))
        batch = const_arg("batch")
        seed = const_arg("seed", 0)
        beta = const_arg("beta", 0) if kind in MOMENTUM_KINDS else None
        dyn = Dynamics(kind, int(steps or T), lr=float(lr), batch=int(batch) if batch is not None else None,
                       seed=int(seed) if kind == "sgd" else None,
                       beta=float(beta) if beta is not None else None)
    if errors:
        raise CompileError(list(errors.values()))

    cap = None
    if exp is not None:
        cap = exp.order + (1 if model.loss is not None else 0)
    nodes = guard_work(model, consts)
    if kind == "sgd":
        guard_sgd(model, dyn, nodes)

    def evaluate(batch_map=None):
        ev = PolyEvaluator(model, consts, np.array(exact_point, dtype=object), cap, batch_map)
        if model.loss is not None:
            L = ev.eval(model.loss, {})
            rhs = [P.scale(g, -lr) for g in P.gradient(L, n)]
        else:
            rhs = [None] * n
            for entries, var, expr, _ in model.rates:
                for j, k in enumerate(entries):
                    scope = {var: j} if var else {}
                    rhs[k] = ev.eval(expr, scope)
        if ev.errors:
            raise CompileError(list(ev.errors.values()))
        return rhs, ev.approximate

    try:
        rhs, approx = evaluate()
        if kind in MOMENTUM_KINDS:
            rhs = momentum_rhs(rhs, n, beta, nesterov=kind == "nesterov")
            theta0 = np.concatenate([theta0, np.zeros(n)])   # v_0 = 0, expanded about v = 0
            point = np.concatenate([point, np.zeros(n)])
            n = 2 * n
        span = getattr(model.loss, "span", None) or model.decl.span
        F = assemble(rhs, n, span=span)
        step_F = None
        if kind == "sgd":
            step_F = tuple(assemble(evaluate(b)[0], n, len(F) - 1, span) for b in sgd_batches(model, consts, dyn))
            q = max(len(f) for f in step_F + (F,)) - 1
            F = _pad(F, n, q)
            step_F = tuple(_pad(f, n, q) for f in step_F)
    except OverflowError:
        _overflow(model)
    if not all(np.all(np.isfinite(f.data)) for f in F) or not np.all(np.isfinite(theta0 - point)):
        _overflow(model)
    if model.loss is not None and all(f.nnz == 0 for Fs in [F] + list(step_F or ()) for f in Fs):
        raise CompileError(Diagnostic(
            "E0230", "the loss is constant: its gradient is zero for every parameter, so training never "
                     "moves θ", model.loss.span,
            help="the loss must depend on at least one `param` (a constant term may be dropped)"))
    names = tuple(model.names)
    if kind in MOMENTUM_KINDS:
        names = names + tuple(f"v_{name}" for name in names)
    x0 = theta0 - point
    system = PolynomialSystem(F, x0, names, point, "flow" if kind == "flow" else kind, dyn,
                              step_F=step_F, exact=not approx, model=model.name,
                              meta={"lr_exact": lr, "polynomial_rhs": rhs})
    try:
        system.verify()
    except ValueError as exc:  # the derivation built a malformed system: qdsl's bug
        from ..diagnostics import InternalError
        raise InternalError(str(exc), check="derive: PolynomialSystem.verify") from exc
    return system


def momentum_rhs(grad_step: list, n: int, beta, nesterov: bool) -> list:
    r"""The increments of heavy-ball (Polyak) or Nesterov momentum as polynomials in the joint state
    (u, v), u = θ − θ* in variables 0..n−1 and the velocity v in n..2n−1, from g(u) = −lr·∇L
    (`grad_step`, polynomials in u):

        heavy ball:  v' = βv + g(u),         u' = u + v'    ⇒  Δu = βv + g(u),  Δv = (β − 1)v + g(u)
        Nesterov:    v' = βv + g(u + βv),    u' = u + v'    ⇒  the same with g(u + βv)

    (Polyak 1964; Sutskever et al. 2013's form of Nesterov's method). The joint map is polynomial
    of the degree of g, so Carleman linearization applies to (u, v) as to θ alone; its linear part
    [[I + βI + G, βI], [G, βI]] (G = ∂g/∂u at u = 0) is what the certificate tests."""
    from . import poly as P

    if nesterov:
        shift = {k: {(k,): Fraction(1), (n + k,): beta} if beta else {(k,): Fraction(1)} for k in range(n)}
        g = [_substitute(p, shift) for p in grad_step]
    else:
        g = list(grad_step)
    vel = [{(n + i,): beta} if beta else {} for i in range(n)]
    dv = [{(n + i,): beta - 1} for i in range(n)]
    return [P.add(vel[i], g[i]) for i in range(n)] + [P.add(dv[i], g[i]) for i in range(n)]


def _substitute(p: dict, images: dict) -> dict:
    """p with each variable k replaced by the polynomial images[k] (products expanded)."""
    from . import poly as P

    out: dict = {}
    for m, c in p.items():
        term = P.const(c)
        for k in m:
            term = P.mul(term, images[k])
        P.accumulate(out, term)
    return P.clean(out)


def _overflow(model):
    what = model.decl.body[0].span if model.loss is None else None
    span = getattr(model.loss, "span", None) or what
    raise CompileError(Diagnostic("E0221", "a coefficient of the update overflows double precision "
                                           "(magnitude above 1.8e308)", span,
                                  help="rescale the parameters, data or constants (qdsl works in float64)"))


def _flat_literal(lit):
    for e in lit.elements:
        if isinstance(e, ast.ArrayLit):
            yield from _flat_literal(e)
        else:
            yield e


def assemble(rhs: list, n: int, min_degree: int = 1, span=None) -> tuple:
    r"""F_0..F_q from the polynomial right-hand sides: the degree-ℓ monomial c·u^α of row i goes to
    every distinct ordering of α with c·α!/ℓ! (the symmetric flattened tensor). The ℓ!/α! orderings
    are enumerated as multiset permutations; a system whose tensors would hold more than
    TENSOR_LIMIT entries is refused (E0222) before any is built."""
    q = max([min_degree] + [P.degree(r) for r in rhs])
    if n > 1 and q * math.log2(n) >= 62:
        raise SizeLimitError(Diagnostic("E0222", f"the degree-{q} tensor F_{q} would have {n}^{q} columns, "
                                                 "beyond 64-bit indexing", span,
                                        help="add `expand order d` to truncate the update to a lower degree"))
    total = sum(_orderings_count(m) for r in rhs for m in r)
    if total > TENSOR_LIMIT:
        raise SizeLimitError(Diagnostic("E0222", f"the symmetric tensors F_ℓ of this update would hold "
                                                 f"{total:,} entries, over the limit {TENSOR_LIMIT:,}", span,
                                        help="lower the degree (`expand order d`) or the number of parameters"))
    rows = [[] for _ in range(q + 1)]
    cols = [[] for _ in range(q + 1)]
    vals = [[] for _ in range(q + 1)]
    for i, r in enumerate(rhs):
        for m, c in r.items():
            l = len(m)
            if l == 0:
                rows[0].append(np.array([i])); cols[0].append(np.array([0])); vals[0].append(np.array([float(c)]))
                continue
            support, counts = np.unique(np.array(m, np.int64), return_counts=True)
            digits = _orderings(tuple(int(k) for k in counts))   # K × ℓ positions into `support`
            k = support[digits] @ (n ** np.arange(l - 1, -1, -1, dtype=np.int64))
            rows[l].append(np.full(k.size, i, np.int64)); cols[l].append(k)
            vals[l].append(np.full(k.size, float(c) / k.size))  # c·α!/ℓ! on each ordering
    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    F = []
    for l in range(q + 1):
        F.append(sp.csr_matrix((cat(vals[l], float), (cat(rows[l], np.int64), cat(cols[l], np.int64))),
                               shape=(n, n ** l)))
    _orderings.cache_clear()
    return tuple(F)


def _orderings_count(m: tuple) -> int:
    """ℓ!/α!: the number of distinct orderings of the sorted index tuple m."""
    count = math.factorial(len(m))
    for _, g in itertools.groupby(m):
        count //= math.factorial(sum(1 for _ in g))
    return count


@lru_cache(maxsize=4096)
def _orderings(counts: tuple) -> np.ndarray:
    """Every distinct sequence holding symbol a exactly counts[a] times, one per row (ℓ!/α! rows,
    lexicographic): the distinct orderings of a monomial, without visiting all ℓ! permutations."""
    if sum(counts) == 0:
        return np.zeros((1, 0), np.int64)
    blocks = []
    for a, c in enumerate(counts):
        if c:
            rest = _orderings(counts[:a] + (c - 1,) + counts[a + 1:])
            blocks.append(np.hstack([np.full((rest.shape[0], 1), a, np.int64), rest]))
    return np.vstack(blocks)


def _pad(F, n, q):
    F = list(F)
    while len(F) < q + 1:
        F.append(sp.csr_matrix((n, n ** len(F))))
    return tuple(F)


def guard_sgd(model: CheckedModel, dyn: Dynamics, nodes: int) -> None:
    """Refuse (E0222, before any step is derived) sgd whose per-step update rules cost more than
    SGD_WORK_LIMIT node-equivalents: steps × (SGD_STEP_NODES + the loss's `nodes`)."""
    work = dyn.steps * (SGD_STEP_NODES + int(nodes))
    if work > SGD_WORK_LIMIT:
        a = model.evolve_arg("steps")
        most = max(1, SGD_WORK_LIMIT // (SGD_STEP_NODES + int(nodes)))
        raise SizeLimitError(Diagnostic(
            "E0222", f"sgd with {dyn.steps:,} steps derives {dyn.steps:,} update rules of about "
                     f"{SGD_STEP_NODES + int(nodes):,} terms each ({work:,} in all), over the limit "
                     f"{SGD_WORK_LIMIT:,} (about 10 s)", a.span if a else model.evolve.span,
            help=f"lower `steps` (at most {most:,} for this loss; each sgd step has its own update "
                 f"rule), or train with `gd` on the full batch"))


def sgd_batches(model: CheckedModel, consts: ConstEvaluator, dyn: Dynamics):
    r"""The minibatch of every step: the outermost `mean(k in a..b: ...)` nodes of the loss are
    the data term; step t draws `batch` distinct samples of a..b with numpy's
    default_rng(seed) (a fresh draw per step, without replacement within a step)."""
    means = _outer_means(model.loss)
    ranges = {(consts.index(m.lo, {}), consts.index(m.hi, {})) for m in means}
    if len(ranges) != 1:
        raise CompileError(Diagnostic("E0218", "the loss's mean(...) terms range over different samples",
                                      means[0].span if means else model.loss.span,
                                      help="sgd needs one sample range shared by every data term"))
    lo, hi = ranges.pop()
    N = hi - lo
    if dyn.batch > N:
        a = model.evolve_arg("batch")
        raise CompileError(Diagnostic("E0218", f"batch = {dyn.batch} is larger than the {N} samples",
                                      a.span if a else model.evolve.span, help=f"choose batch ≤ {N}"))
    rng = np.random.default_rng(dyn.seed)
    for _ in range(dyn.steps):
        draw = lo + rng.choice(N, size=dyn.batch, replace=False)
        yield {id(m): [int(k) for k in draw] for m in means}


def _outer_means(e):
    if isinstance(e, ast.Reduce):
        return [e] if e.kind == "mean" else _outer_means(e.body)
    out = []
    for f in ("left", "right", "operand"):
        if hasattr(e, f):
            out += _outer_means(getattr(e, f))
    if isinstance(e, ast.Call):
        for a in e.args:
            out += _outer_means(a)
    return out
