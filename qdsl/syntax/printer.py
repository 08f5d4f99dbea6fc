"""The .qd printer: `ast` nodes → canonical `.qd` text, so that `parse_text(print_module(m)) == m`.

Canonical form: 4-space indentation, one statement per line, `^` for powers, spaces around binary
`+`/`-` and `=`, none around `*`, `/`, `^`, and only the parentheses the tree needs under the
grammar's precedence (loosest first): `+ -` (left-assoc) < `* /` (left-assoc) < unary `- +` <
`^` (right-assoc; its base is an atom, its exponent may carry a sign) < atoms.
"""
from __future__ import annotations

import math

from . import ast

__all__ = ["print_module", "print_model", "print_statement", "print_expr", "print_number"]

# Precedence levels of the grammar's expression rules (qdsl.lark: sum, product, unary, power, atom).
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5
_INDENT = "    "


def print_module(module: ast.Module) -> str:
    """A whole file: the models separated by blank lines, ending with a newline."""
    return "\n\n".join(print_model(m) for m in module.models) + "\n"


def print_model(model: ast.ModelDecl) -> str:
    """`model NAME { ... }` with one indented statement per line (no trailing newline)."""
    lines = [f"model {model.name} {{"]
    lines += [_INDENT + print_statement(s) for s in model.body]
    lines.append("}")
    return "\n".join(lines)


def print_statement(stmt) -> str:
    """One statement on one line, without indentation."""
    if isinstance(stmt, ast.Param):
        text = f"param {stmt.name}{_shape(stmt.shape)}"
        return text if stmt.init is None else f"{text} = {_init(stmt.init)}"
    if isinstance(stmt, ast.Const):
        return f"const {stmt.name} = {print_expr(stmt.value)}"
    if isinstance(stmt, ast.SymConst):
        lo, hi = "[" if stmt.lo_closed else "(", "]" if stmt.hi_closed else ")"
        return f"const {stmt.name} in {lo}{print_expr(stmt.lo)}, {print_expr(stmt.hi)}{hi}"
    if isinstance(stmt, ast.Data):
        return f"data {stmt.name}{_shape(stmt.shape)} = {_init(stmt.value)}"
    if isinstance(stmt, ast.Loss):
        return f"loss = {print_expr(stmt.expr)}"
    if isinstance(stmt, ast.Rate):
        return f"rate {print_expr(stmt.target)} = {print_expr(stmt.expr)}"
    if isinstance(stmt, (ast.Evolve, ast.Solver)):
        keyword = "evolve" if isinstance(stmt, ast.Evolve) else "solver"
        if not stmt.args:
            return f"{keyword} {stmt.kind}"
        args = ", ".join(f"{a.name} = {print_expr(a.value)}" for a in stmt.args)
        return f"{keyword} {stmt.kind}({args})"
    if isinstance(stmt, ast.Expand):
        text = f"expand order {stmt.order}"
        if stmt.about is None:
            return text
        return f"{text} about {stmt.about if isinstance(stmt.about, str) else _init(stmt.about)}"
    if isinstance(stmt, ast.Carleman):
        text = f"carleman order {stmt.order}"
        return text if stmt.basis is None else f"{text} basis {stmt.basis}"
    raise TypeError(f"not a .qd statement: {stmt!r}")


def _shape(shape) -> str:
    return "" if shape is None else "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _init(value) -> str:
    """An initial value: an expression, an array literal or `load(...)`."""
    if isinstance(value, ast.ArrayLit):
        return "[" + ", ".join(_init(e) for e in value.elements) + "]"
    if isinstance(value, ast.Load):
        if value.key is None:
            return f'load("{value.path}")'
        return f'load("{value.path}", "{value.key}")'
    return print_expr(value)


def print_number(value: float) -> str:
    """A non-negative finite number such that `float(text) == value`; integers without `.0`."""
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a .qd number literal is finite and non-negative, not {value!r}")
    if value.is_integer() and value < 1e16:
        return str(int(value))
    text = repr(value)  # shortest round-tripping form: '0.001', '1.5e-07', '1e+16'
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa and not exponent:  # pragma: no cover - repr always has '.' or 'e'
        text += ".0"
    return text


def print_expr(expr) -> str:
    """An expression with the fewest parentheses that reproduce the same tree."""
    return _expr(expr)[0]


def _expr(e) -> tuple[str, int]:
    """(text, precedence level of the text's outermost construct)."""
    if isinstance(e, ast.Number):
        return print_number(e.value), _ATOM
    if isinstance(e, ast.Name):
        return e.id, _ATOM
    if isinstance(e, ast.Index):
        return f"{e.base.id}[{', '.join(print_expr(i) for i in e.indices)}]", _ATOM
    if isinstance(e, ast.Call):
        return f"{e.func}({', '.join(print_expr(a) for a in e.args)})", _ATOM
    if isinstance(e, ast.Reduce):
        return (f"{e.kind}({e.var} in {print_expr(e.lo)}..{print_expr(e.hi)}: "
                f"{print_expr(e.body)})"), _ATOM
    if isinstance(e, ast.Unary):
        operand = _at_least(e.operand, _UNARY)
        sep = " " if operand[:1] in "+-" else ""
        return f"{e.op}{sep}{operand}", _UNARY
    if isinstance(e, ast.BinOp):
        if e.op == "^":
            return f"{_at_least(e.left, _ATOM)}^{_at_least(e.right, _UNARY)}", _POWER
        if e.op in "*/":
            return f"{_at_least(e.left, _PRODUCT)}{e.op}{_at_least(e.right, _UNARY)}", _PRODUCT
        if e.op in "+-":
            return f"{_at_least(e.left, _SUM)} {e.op} {_at_least(e.right, _PRODUCT)}", _SUM
        raise ValueError(f"unknown operator {e.op!r}")
    raise TypeError(f"not a .qd expression: {e!r}")


def _at_least(e, level: int) -> str:
    text, own = _expr(e)
    return text if own >= level else f"({text})"
