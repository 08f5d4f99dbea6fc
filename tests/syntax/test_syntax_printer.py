"""print → parse is the identity: on the SPEC examples and on random well-formed ASTs."""
from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdsl.syntax import ast
from qdsl.syntax.parser import parse_text
from qdsl.syntax.printer import print_expr, print_model, print_module, print_number

EXAMPLES = Path(__file__).parent / "spec_examples"
N, V = ast.Number, ast.Name
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.qd")), ids=lambda p: p.stem)
def test_examples_round_trip(path):
    module = parse_text(path.read_text())
    printed = print_module(module)
    assert parse_text(printed) == module
    assert print_module(parse_text(printed)) == printed  # printing is a fixed point


def test_canonical_text():
    module = parse_text((EXAMPLES / "quartic.qd").read_text())
    assert print_module(module) == (
        "model quartic {\n"
        "    param x = 0.3\n"
        "    param y = -0.2\n"
        "    loss = x^2 + 0.5*y^2 + 0.25*x^4 + 0.1*x*y^2\n"
        "    evolve gd(lr = 0.1, steps = 10)\n"
        "    carleman order 3\n"
        "    solver qsvt(eps = 0.001)\n"
        "}\n")


@pytest.mark.parametrize("tree, text", [
    (ast.Unary("-", ast.BinOp("^", V("x"), N(2))), "-x^2"),
    (ast.BinOp("^", ast.Unary("-", V("x")), N(2)), "(-x)^2"),
    (ast.BinOp("-", V("a"), ast.BinOp("-", V("b"), V("c"))), "a - (b - c)"),
    (ast.BinOp("-", ast.BinOp("-", V("a"), V("b")), V("c")), "a - b - c"),
    (ast.BinOp("^", ast.BinOp("^", V("a"), V("b")), V("c")), "(a^b)^c"),
    (ast.BinOp("^", V("a"), ast.BinOp("^", V("b"), V("c"))), "a^b^c"),
    (ast.BinOp("/", V("a"), ast.BinOp("*", V("b"), V("c"))), "a/(b*c)"),
    (ast.BinOp("*", V("a"), ast.Unary("-", V("b"))), "a*-b"),
    (ast.BinOp("^", V("x"), ast.Unary("-", N(1))), "x^-1"),
    (ast.Unary("-", ast.Unary("-", V("x"))), "- -x"),
    (ast.BinOp("*", ast.Unary("-", V("a")), V("b")), "-a*b"),
    (ast.Unary("-", ast.BinOp("*", V("a"), V("b"))), "-(a*b)"),
])
def test_minimal_parentheses(tree, text):
    assert print_expr(tree) == text
    assert parse_text(f"model m {{ loss = {text} }}").models[0].body[0].expr == tree


@pytest.mark.parametrize("value, text", [
    (0.0, "0"), (3.0, "3"), (0.5, "0.5"), (1e-3, "0.001"), (1e22, "1e+22"), (1.5e-7, "1.5e-07"),
    (123456789012345.0, "123456789012345"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_numbers(value, text):
    assert print_number(value) == text and float(text) == value


def test_number_rejects_negative_and_nonfinite():
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            print_number(bad)


# ----------------------------------------------------------------------------- random ASTs

# Keywords are contextual, so any ASCII identifier is a valid name — including keywords.
_KEYWORDS = ["model", "param", "const", "data", "loss", "rate", "evolve", "expand", "carleman",
             "solver", "order", "about", "basis", "in", "init", "load", "sum", "mean"]
names = st.one_of(
    st.sampled_from(_KEYWORDS + ["x", "w", "lr", "e", "E", "_", "a1", "theta_0"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
)
numbers = st.one_of(
    st.integers(0, 10**6).map(float),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1e-3, 2.5e4, 1e300, 5e-324, 0.1]),
).map(N)


def _exprs(leaves):
    def extend(children):
        return st.one_of(
            st.builds(ast.BinOp, st.sampled_from("+-*/^"), children, children),
            st.builds(ast.Unary, st.sampled_from("-+"), children),
            st.builds(ast.Call, names, st.lists(children, max_size=3).map(tuple)),
            st.builds(ast.Index, names.map(V), st.lists(children, min_size=1, max_size=3).map(tuple)),
            st.builds(ast.Reduce, st.sampled_from(["sum", "mean"]), names, children, children, children),
        )
    return st.recursive(leaves, extend, max_leaves=12)


exprs = _exprs(st.one_of(numbers, names.map(V)))
strings = st.text(alphabet=string.ascii_letters + string.digits + "._/- ", max_size=10)


def _arrays(depth=2):
    leaf_list = st.lists(exprs, max_size=3).map(lambda xs: ast.ArrayLit(tuple(xs)))
    return st.recursive(leaf_list, lambda inner: st.lists(inner, max_size=3).map(
        lambda xs: ast.ArrayLit(tuple(xs))), max_leaves=4)


inits = st.one_of(exprs, _arrays(), st.builds(ast.Load, strings, st.one_of(st.none(), strings)))
shapes = st.one_of(st.none(), st.lists(st.integers(0, 1000), min_size=1, max_size=3).map(tuple))
args = st.lists(st.builds(ast.Arg, names, exprs), max_size=3).map(tuple)

statements = st.one_of(
    st.builds(ast.Param, names, shapes, st.one_of(st.none(), inits)),
    st.builds(ast.Const, names, exprs),
    st.builds(ast.SymConst, names, exprs, exprs, st.booleans(), st.booleans()),
    st.builds(ast.Data, names, shapes, inits),
    st.builds(ast.Loss, exprs),
    st.builds(ast.Rate, st.one_of(names.map(V), st.builds(
        ast.Index, names.map(V), st.lists(exprs, min_size=1, max_size=2).map(tuple))), exprs),
    st.builds(ast.Evolve, names, args),
    st.builds(ast.Solver, names, args),
    st.builds(ast.Expand, st.integers(0, 9), st.one_of(st.none(), st.just("init"), _arrays())),
    st.builds(ast.Carleman, st.integers(0, 9), st.sampled_from([None, "kronecker", "symmetric"])),
)
models = st.builds(ast.ModelDecl, names, st.lists(statements, max_size=6).map(tuple))
modules = st.lists(models, min_size=1, max_size=3).map(lambda ms: ast.Module(tuple(ms)))


@settings(SETTINGS, max_examples=60)
@given(modules)
def test_random_modules_round_trip(module):
    text = print_module(module)
    assert parse_text(text) == module, text


@SETTINGS
@given(exprs)
def test_random_expressions_round_trip(e):
    text = print_expr(e)
    assert parse_text(f"model m {{ loss = {text} }}").models[0].body[0].expr == e, text


def test_print_model_has_no_trailing_newline():
    m = ast.ModelDecl("m", (ast.Carleman(2),))
    assert print_model(m) == "model m {\n    carleman order 2\n}"
