"""AST → SymPy expressions, built node by node (never by parsing text).

Used for the symbolic side of the certificate (the learning rate as a function of a symbolic
constant) and as an independent reference for the derivation: `loss_expression` gives the loss as
one SymPy expression whose derivatives tests compare with the sparse-polynomial F_ℓ.
"""
from __future__ import annotations

import numpy as np
import sympy as s

from ..syntax import ast
from .model import CheckedModel


def _number(v):
    return s.Rational(repr(float(v))) if float(v).is_integer() or abs(float(v)) > 1e-300 else s.Integer(0)


class SympyBuilder:
    """Builds a SymPy expression from an AST expression of a checked model."""

    def __init__(self, model: CheckedModel, symbols: dict | None = None, values: dict | None = None):
        self.m = model
        self.values = values or {}
        self.symbols = symbols if symbols is not None else {
            name: s.Symbol(name, real=True) for name in model.symbols}
        self.param_symbols = {}
        for p in model.params:
            names = p.entry_names()
            self.param_symbols[p.name] = [s.Symbol(nm, real=True) for nm in names]

    @property
    def theta(self) -> list:
        return [x for p in self.m.params for x in self.param_symbols[p.name]]

    def build(self, e, scope=None):
        scope = scope or {}
        if isinstance(e, ast.Number):
            return _number(e.value)
        if isinstance(e, ast.Name):
            if e.id in scope:
                return s.Integer(scope[e.id])
            if e.id in self.values:
                return _number(self.values[e.id])
            if e.id in self.symbols:
                return self.symbols[e.id]
            if e.id in self.m.consts:
                return self.build(self.m.consts[e.id])
            if e.id in self.param_symbols:
                return self.param_symbols[e.id][0]
            if e.id in self.m.data:
                return _number(self.m.data[e.id][()])
            raise KeyError(e.id)
        if isinstance(e, ast.Index):
            idx = tuple(int(self.build(ix, scope)) for ix in e.indices)
            if e.base.id in self.param_symbols:
                p = self.m.param(e.base.id)
                return self.param_symbols[e.base.id][int(np.ravel_multi_index(idx, p.shape))]
            return _number(self.m.data[e.base.id][idx])
        if isinstance(e, ast.Unary):
            v = self.build(e.operand, scope)
            return -v if e.op == "-" else v
        if isinstance(e, ast.BinOp):
            a, b = self.build(e.left, scope), self.build(e.right, scope)
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                    "/": lambda: a / b, "^": lambda: a ** b}[e.op]()
        if isinstance(e, ast.Call):
            from .poly import sympy_function
            x, f = sympy_function(e.func)
            return f.subs(x, self.build(e.args[0], scope))
        if isinstance(e, ast.Reduce):
            lo, hi = int(self.build(e.lo, scope)), int(self.build(e.hi, scope))
            terms = [self.build(e.body, {**scope, e.var: k}) for k in range(lo, hi)]
            total = s.Add(*terms)
            return total / (hi - lo) if e.kind == "mean" else total
        raise TypeError(type(e).__name__)


def loss_expression(model: CheckedModel, values: dict | None = None):
    """(expression, [θ symbols]) of a loss model — for small models and cross-checks."""
    b = SympyBuilder(model, values=values)
    return b.build(model.loss), b.theta
