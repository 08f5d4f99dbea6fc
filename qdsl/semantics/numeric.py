r"""The loss (or rates) *as written*, evaluated numerically — the reference a Taylor-expanded model
is compared with (`simulate`, `run`: the expansion's own error).

`expand order d` replaces the update by its Taylor polynomial, so the polynomial system's training
is training on a surrogate. Here the checked model's expression tree (never the user's text) is
evaluated in float64 at each iterate, with its gradient by forward-mode differentiation: every
node carries (value, ∂value/∂θ) and the rules are the chain rule for + − × ÷, x^c (c constant —
the semantics stage refuses parameter-dependent exponents) and the ten smooth functions,

    exp' = exp, log' = 1/x, sqrt' = 1/(2√x), sin' = cos, cos' = −sin, tanh' = 1 − tanh²,
    sinh' = cosh, cosh' = sinh, sigmoid' = σ(1 − σ), softplus' = σ.

Training is then the model's own rule on the true gradient: θ ← θ − η∇L(θ) (gd; sgd on each
step's minibatch, the same draws as the derivation's), θ ← θ + dt·r(θ) (flow: −∇L or the rates).
A point outside a function's domain (log of a non-positive number) stops with the step named.
"""
from __future__ import annotations

import math

import numpy as np

from ..syntax import ast

#: expression nodes × steps one numeric training may evaluate (≈ 11 µs a node measured with a
#: 20-entry gradient, so at most ≈ 5 s): beyond this the trajectory of the loss as written is
#: reported as not computed, with the reason, rather than slowing `simulate`/`run` down
WORK_BUDGET = 500_000


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _f_and_df(name: str, x: float) -> tuple[float, float]:
    """(f(x), f'(x)) for the smooth functions the language accepts."""
    if name in ("log", "sqrt") and x <= 0:
        raise ValueError(f"{name}({x:.6g}) is undefined")
    if name == "exp":
        v = math.exp(x)
        return v, v
    if name == "log":
        return math.log(x), 1.0 / x
    if name == "sqrt":
        v = math.sqrt(x)
        return v, 0.5 / v
    if name == "sin":
        return math.sin(x), math.cos(x)
    if name == "cos":
        return math.cos(x), -math.sin(x)
    if name == "tanh":
        v = math.tanh(x)
        return v, 1.0 - v * v
    if name == "sinh":
        return math.sinh(x), math.cosh(x)
    if name == "cosh":
        return math.cosh(x), math.sinh(x)
    if name == "sigmoid":
        v = _sigmoid(x)
        return v, v * (1.0 - v)
    if name == "softplus":
        return _softplus(x), _sigmoid(x)
    raise ValueError(f"`{name}` has no numeric evaluation")


class _Evaluator:
    """Evaluates an expression of θ to (value, gradient or None) — None when it is constant."""

    def __init__(self, model, consts, theta: np.ndarray, grad: bool, batch: dict | None = None):
        self.c = consts
        self.theta = theta
        self.grad = grad
        self.n = theta.size
        self.params = {p.name: p for p in model.params}
        self.batch = batch or {}

    def _param(self, k: int):
        g = None
        if self.grad:
            g = np.zeros(self.n)
            g[k] = 1.0
        return float(self.theta[k]), g

    def eval(self, e, scope: dict):
        if isinstance(e, ast.Name) and e.id in self.params:
            return self._param(self.params[e.id].offset)
        if isinstance(e, ast.Index) and e.base.id in self.params:
            p = self.params[e.base.id]
            idx = tuple(self.c.index(ix, scope) for ix in e.indices)
            return self._param(p.offset + int(np.ravel_multi_index(idx, p.shape)))
        if isinstance(e, (ast.Number, ast.Name, ast.Index)):
            return float(self.c.eval(e, scope)), None
        if isinstance(e, ast.Unary):
            v, g = self.eval(e.operand, scope)
            return (-v, None if g is None else -g) if e.op == "-" else (v, g)
        if isinstance(e, ast.BinOp):
            return self.binop(e, scope)
        if isinstance(e, ast.Call):
            v, g = self.eval(e.args[0], scope)
            f, df = _f_and_df(e.func, v)
            return f, None if g is None else df * g
        if isinstance(e, ast.Reduce):
            lo, hi = self.c.index(e.lo, scope), self.c.index(e.hi, scope)
            ks = self.batch.get(id(e))
            ks = range(lo, hi) if ks is None else ks
            total, grad = 0.0, None
            for k in ks:
                v, g = self.eval(e.body, {**scope, e.var: int(k)})
                total += v
                if g is not None:
                    grad = g.copy() if grad is None else grad + g
            if e.kind == "mean":
                total /= len(ks)
                grad = None if grad is None else grad / len(ks)
            return total, grad
        raise ValueError(f"unexpected expression {type(e).__name__}")

    def binop(self, e, scope):
        a, ga = self.eval(e.left, scope)
        b, gb = self.eval(e.right, scope)
        op = e.op
        if op in "+-":
            s = 1.0 if op == "+" else -1.0
            g = ga if gb is None else (s * gb if ga is None else ga + s * gb)
            return a + s * b, g
        if op == "*":
            g = _axpy(b, ga, a, gb)
            return a * b, g
        if op == "/":
            if b == 0:
                raise ValueError("division by zero")
            g = _axpy(1.0 / b, ga, -a / (b * b), gb)
            return a / b, g
        if op == "^":
            if a == 0 and b < 0 or a < 0 and not float(b).is_integer():
                raise ValueError(f"{a:.6g}^{b:g} is undefined")
            v = a ** b if not float(b).is_integer() else a ** int(b)
            if ga is None:
                return float(v), None
            d = b * (a ** (b - 1) if not float(b).is_integer() else (a ** int(b - 1) if b != 0 else 0.0))
            return float(v), d * ga
        raise ValueError(f"unknown operator {op}")


def _axpy(a: float, x, b: float, y):
    if x is None and y is None:
        return None
    if x is None:
        return b * y
    if y is None:
        return a * x
    return a * x + b * y


def train_as_written(model, values: dict, system) -> np.ndarray | str:
    """θ_0..θ_T of the model's training on its loss (rates) as written, shape (T+1, n); or a string
    saying why it was not computed (over `WORK_BUDGET`). Raises ValueError naming the step where
    the loss leaves its domain."""
    from .derive import ConstEvaluator, guard_work, sgd_batches

    consts = ConstEvaluator(model.consts, model.data, values, model.symbols)
    dyn = system.dynamics
    T = int(dyn.steps)
    nodes = guard_work(model, consts)
    n = system.n
    work = nodes * T * max(1, 2 if model.loss is None else 1 + n // 32)
    if work > WORK_BUDGET:
        return (f"evaluating the loss as written {T} times ({nodes:,} expression nodes each, gradient "
                f"of {n} entries) is over the budget of {WORK_BUDGET:,} node evaluations")
    kind = system.kind
    batches = list(sgd_batches(model, consts, dyn)) if kind == "sgd" else None
    lr = float(dyn.lr) if dyn.lr is not None else 1.0
    beta = float(dyn.beta) if getattr(dyn, "beta", None) is not None else 0.0

    def grad_at(theta, t):
        ev = _Evaluator(model, consts, theta, True, batches[t] if batches else None)
        _, g = ev.eval(model.loss, {})
        return np.zeros(theta.size) if g is None else g

    def rates_at(theta):
        ev = _Evaluator(model, consts, theta, False)
        out = np.zeros(theta.size)
        for entries, var, expr, _ in model.rates:
            for j, k in enumerate(entries):
                out[k] = ev.eval(expr, {var: j} if var else {})[0]
        return out

    p = sum(q.size for q in model.params)
    theta = np.array(system.theta0[:p], float)
    vel = np.zeros(p)
    out = [np.concatenate([theta, vel]) if kind in ("momentum", "nesterov") else theta.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            try:
                if kind == "flow":
                    r = rates_at(theta) if model.loss is None else -grad_at(theta, t)
                    theta = theta + float(dyn.dt) * r
                elif kind in ("gd", "sgd"):
                    theta = theta - lr * grad_at(theta, t)
                elif kind == "momentum":
                    vel = beta * vel - lr * grad_at(theta, t)
                    theta = theta + vel
                elif kind == "nesterov":
                    vel = beta * vel - lr * grad_at(theta + beta * vel, t)
                    theta = theta + vel
                else:
                    raise ValueError(f"no numeric training for `{kind}`")
            except (ValueError, OverflowError, ZeroDivisionError) as exc:
                raise ValueError(f"the loss as written is undefined at step {t}: {exc}") from None
            out.append(np.concatenate([theta, vel]) if kind in ("momentum", "nesterov") else theta.copy())
    return np.array(out)
