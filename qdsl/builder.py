"""`qdsl.Model`: build a model from Python and print it back as `.qd` text.

    m = qdsl.Model("ridge")
    m.param("w", [0.8, -0.5]).const("lam", 0.5)
    m.data("X", [[1.0, 0.2], [0.3, 1.0], [0.5, 0.5]]).data("y", [1.0, 0.0, 0.4])
    m.loss("mean(k in 0..3: (X[k,0]*w[0] + X[k,1]*w[1] - y[k])^2) + lam/2 * sum(i in 0..2: w[i]^2)")
    m.evolve("sgd", lr=0.2, steps=6, batch=2, seed=7).carleman(1).solver("hhl", clock=7)
    print(m)            # the .qd text
    c = m.compile()     # a qdsl Compilation, as qdsl.compile(source=str(m))

Expressions are given as `.qd` expression text and parsed by qdsl's own parser (never by Python);
numbers and nested lists become literals. Every method returns the model, so calls chain.
"""
from __future__ import annotations

import numpy as np

from .syntax import ast


def _number(v) -> ast.Expr:
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{v} is not a finite number")
    return ast.Unary("-", ast.Number(-v)) if v < 0 or (v == 0 and np.signbit(v)) else ast.Number(v)


def _literal(value):
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return _number(arr)

    def walk(a):
        if a.ndim == 1:
            return ast.ArrayLit(tuple(_number(x) for x in a))
        return ast.ArrayLit(tuple(walk(x) for x in a))
    return walk(arr)


def _expr(text) -> ast.Expr:
    """A `.qd` expression from text (or a number), via qdsl's parser."""
    if isinstance(text, (int, float, np.number)):
        return _number(text)
    from .syntax.parser import parse_text
    module = parse_text(f"model _ {{\n    loss = {text}\n}}\n", name="<expression>")
    return _strip(module.models[0].body[0].expr)


def _strip(node):
    """The node rebuilt without spans into the wrapper text (spans are not part of equality)."""
    return node


class Model:
    """A model built in Python; `str(model)` is its canonical `.qd` text."""

    def __init__(self, name: str):
        if not name.isidentifier():
            raise ValueError(f"model name must be an identifier, not {name!r}")
        self.name = name
        self._body: list = []

    def _add(self, stmt) -> "Model":
        self._body.append(stmt)
        return self

    def param(self, name: str, value=None, shape=None) -> "Model":
        """`param name = value` (a number, a list/array, or None for zeros with `shape`)."""
        if value is None:
            return self._add(ast.Param(name, tuple(shape) if shape else None, None))
        if isinstance(value, str):
            return self._add(ast.Param(name, tuple(shape) if shape else None, ast.Load(value)))
        arr = np.asarray(value, dtype=float)
        shp = tuple(shape) if shape else (tuple(arr.shape) or None)
        return self._add(ast.Param(name, shp, _literal(arr)))

    def const(self, name: str, value=None, *, domain=None, closed=(False, False)) -> "Model":
        """`const name = value`, or a symbolic `const name in (lo, hi)` with `domain=(lo, hi)`."""
        if domain is not None:
            lo, hi = domain
            return self._add(ast.SymConst(name, _number(lo), _number(hi), closed[0], closed[1]))
        return self._add(ast.Const(name, _expr(value)))

    def data(self, name: str, value, key: str | None = None) -> "Model":
        """`data name[shape] = [...]`, or `data name = load("path"[, "key"])` for a string."""
        if isinstance(value, str):
            return self._add(ast.Data(name, None, ast.Load(value, key)))
        arr = np.asarray(value, dtype=float)
        return self._add(ast.Data(name, tuple(arr.shape) or None, _literal(arr)))

    def loss(self, expr) -> "Model":
        """`loss = EXPR` (EXPR as .qd text)."""
        return self._add(ast.Loss(_expr(expr)))

    def rate(self, target: str, expr) -> "Model":
        """`rate target = EXPR`, e.g. rate("w[i]", "-w[i]")."""
        return self._add(ast.Rate(_expr(target), _expr(expr)))

    def evolve(self, kind: str, **args) -> "Model":
        """`evolve kind(name = value, ...)`."""
        return self._add(ast.Evolve(kind, tuple(ast.Arg(k, _expr(v)) for k, v in args.items())))

    def expand(self, order: int, about=None) -> "Model":
        """`expand order d [about init | about [..]]` (about="init" or a list)."""
        point = about if about in (None, "init") else _literal(np.ravel(np.asarray(about, float)))
        if isinstance(point, ast.Unary) or isinstance(point, ast.Number):
            point = ast.ArrayLit((point,))
        return self._add(ast.Expand(int(order), point))

    def carleman(self, order: int, basis: str | None = None) -> "Model":
        """`carleman order N [basis kronecker|symmetric]`."""
        return self._add(ast.Carleman(int(order), basis))

    def solver(self, kind: str, **args) -> "Model":
        """`solver qsvt(eps = ..)`, `solver hhl(clock = ..)`, `solver classical`."""
        return self._add(ast.Solver(kind, tuple(ast.Arg(k, _expr(v)) for k, v in args.items())))

    def to_ast(self) -> ast.ModelDecl:
        return ast.ModelDecl(self.name, tuple(self._body))

    def to_qd(self) -> str:
        """The canonical `.qd` text of the model."""
        from .syntax.printer import print_model
        return print_model(self.to_ast()) + "\n"

    __str__ = to_qd

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {len(self._body)} statements)"

    def save(self, path, *, overwrite: bool = False) -> None:
        """Write the .qd text to `path` (refuses to overwrite unless asked)."""
        from pathlib import Path
        p = Path(path)
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists; pass overwrite=True to replace it")
        p.write_text(self.to_qd())

    def compile(self, **kwargs):
        """`qdsl.compile(source=str(self), **kwargs)`."""
        from .api import compile
        return compile(source=self.to_qd(), name=f"<Model {self.name}>", **kwargs)
