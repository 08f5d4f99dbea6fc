"""The .qd abstract syntax tree: frozen dataclasses, spans excluded from equality.

Each node's docstring shows the `.qd` syntax it comes from. Every node has a `span`
(a `qdsl.source.Span`, or None for nodes built in Python); equality ignores spans, so a
printed-and-reparsed tree compares equal to the original.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..source import Span


def _span():
    return field(default=None, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- expressions

@dataclass(frozen=True)
class Number:
    """`1`, `0.5`, `1e-3` — a numeric literal (always non-negative; `-1` is Unary('-', 1))."""
    value: float
    span: Span | None = _span()


@dataclass(frozen=True)
class Name:
    """`x`, `lam`, `k` — a reference to a param, const, data array or range variable."""
    id: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Index:
    """`w[i]`, `X[k, 0]`, `w[i+1]` — an entry of a vector or array."""
    base: Name
    indices: tuple["Expr", ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class BinOp:
    """`a + b`, `a - b`, `a * b`, `a / b`, `a ^ b` (`**` is printed as `^`)."""
    op: str  # one of + - * / ^
    left: "Expr"
    right: "Expr"
    span: Span | None = _span()


@dataclass(frozen=True)
class Unary:
    """`-a` (and `+a`)."""
    op: str  # '-' or '+'
    operand: "Expr"
    span: Span | None = _span()


@dataclass(frozen=True)
class Call:
    """`tanh(a*x + b)`, `exp(x)` — a function application (the parser accepts any name;
    semantics accepts exp log sqrt sin cos tanh sinh cosh sigmoid softplus)."""
    func: str
    args: tuple["Expr", ...]
    span: Span | None = _span()
    func_span: Span | None = _span()


@dataclass(frozen=True)
class Reduce:
    """`sum(i in 0..n: EXPR)` / `mean(k in 0..3: EXPR)` over the half-open range lo ≤ i < hi."""
    kind: str  # 'sum' or 'mean'
    var: str
    lo: "Expr"
    hi: "Expr"
    body: "Expr"
    span: Span | None = _span()
    var_span: Span | None = _span()


Expr = Union[Number, Name, Index, BinOp, Unary, Call, Reduce]


@dataclass(frozen=True)
class ArrayLit:
    """`[0.8, -0.5]`, `[[1.0, 0.2], [0.3, 1.0]]` — an array literal (elements are Expr or ArrayLit)."""
    elements: tuple[Union["ArrayLit", Expr], ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Load:
    """`load("w0.npy")`, `load("data.npz", "X")` — an array read from a file beside the .qd file
    (.npy, .npz with an optional key, .csv). Paths are relative to the .qd file."""
    path: str
    key: str | None = None
    span: Span | None = _span()


Init = Union[Expr, ArrayLit, Load]


# ----------------------------------------------------------------------------- statements

@dataclass(frozen=True)
class Param:
    """`param x = 0.3`, `param w[4] = [..]`, `param w[1000] = load("w0.npy")`, `param v[3]` (zeros)."""
    name: str
    shape: tuple[int, ...] | None  # None for a scalar
    init: Init | None
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class Const:
    """`const c = EXPR` — a named constant."""
    name: str
    value: Expr
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class SymConst:
    """`const eta in (0, 1)` / `in [LO, HI]` / `(LO, HI]` — a symbolic constant with an interval domain."""
    name: str
    lo: Expr
    hi: Expr
    lo_closed: bool
    hi_closed: bool
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class Data:
    """`data X[3, 2] = [[..], ..]`, `data X = load("X.npy")` — a constant array."""
    name: str
    shape: tuple[int, ...] | None
    value: Union[ArrayLit, Load, Expr]
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class Loss:
    """`loss = EXPR` — the training objective."""
    expr: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class Rate:
    """`rate x = EXPR` / `rate w[i] = EXPR` — the right-hand side of dθ/dt for one parameter
    (with an index: for every entry, i bound over the parameter's range; or one entry `w[0]`)."""
    target: Union[Name, Index]
    expr: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class Arg:
    """`lr = 0.1` — a named argument of `evolve` or `solver`."""
    name: str
    value: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class Evolve:
    """`evolve gd(lr=, steps=)`, `evolve sgd(lr=, steps=, batch=, seed=)`, `evolve flow(time=, dt=)`."""
    kind: str
    args: tuple[Arg, ...]
    span: Span | None = _span()
    kind_span: Span | None = _span()


@dataclass(frozen=True)
class Expand:
    """`expand order d`, `expand order d about init`, `expand order d about [..]`."""
    order: int
    about: Union[None, str, ArrayLit]  # None (the origin), "init", or a point
    span: Span | None = _span()


@dataclass(frozen=True)
class Carleman:
    """`carleman order N`, `carleman order N basis kronecker|symmetric`."""
    order: int
    basis: str | None = None  # None means the default (kronecker)
    span: Span | None = _span()


@dataclass(frozen=True)
class Solver:
    """`solver qsvt(eps = 1e-3)`, `solver hhl(clock = 7)`, `solver classical`, `idle = p` in either."""
    kind: str
    args: tuple[Arg, ...]
    span: Span | None = _span()
    kind_span: Span | None = _span()


Statement = Union[Param, Const, SymConst, Data, Loss, Rate, Evolve, Expand, Carleman, Solver]


@dataclass(frozen=True)
class ModelDecl:
    """`model NAME { statements }`."""
    name: str
    body: tuple[Statement, ...]
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class Module:
    """A whole `.qd` file: one or more models, and the language version it declares (`language N`;
    None when it declares none, read as version 1)."""
    models: tuple[ModelDecl, ...]
    span: Span | None = _span()
    language: int | None = None
