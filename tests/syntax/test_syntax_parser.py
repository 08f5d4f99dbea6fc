"""The parser on the SPEC §2 examples, on every statement form, and on operator precedence."""
from __future__ import annotations

from pathlib import Path

import pytest

from qdsl.diagnostics import CompileError
from qdsl.source import SourceFile, Span
from qdsl.syntax import ast
from qdsl.syntax.parser import EXPLANATIONS, parse, parse_text

EXAMPLES = Path(__file__).parent / "spec_examples"
N, V = ast.Number, ast.Name


def B(op, a, b):
    return ast.BinOp(op, a, b)


def neg(a):
    return ast.Unary("-", a)


def parse_file(name: str) -> ast.Module:
    return parse(SourceFile.from_path(EXAMPLES / f"{name}.qd"))


def expr(text: str):
    (stmt,) = parse_text(f"model m {{ loss = {text} }}").models[0].body
    return stmt.expr


def stmt(text: str):
    (s,) = parse_text(f"model m {{\n    {text}\n}}").models[0].body
    return s


# ----------------------------------------------------------------------------- SPEC §2 examples

def test_quartic():
    (m,) = parse_file("quartic").models
    assert m.name == "quartic"
    assert m.body == (
        ast.Param("x", None, N(0.3)),
        ast.Param("y", None, neg(N(0.2))),
        ast.Loss(B("+", B("+", B("+", B("^", V("x"), N(2)), B("*", N(0.5), B("^", V("y"), N(2)))),
                              B("*", N(0.25), B("^", V("x"), N(4)))),
                     B("*", B("*", N(0.1), V("x")), B("^", V("y"), N(2))))),
        ast.Evolve("gd", (ast.Arg("lr", N(0.1)), ast.Arg("steps", N(10)))),
        ast.Carleman(3, None),
        ast.Solver("qsvt", (ast.Arg("eps", N(1e-3)),)),
    )
    # spans: `param y` is on line 4, its name at column 11
    y = m.body[1]
    assert (y.span.line, y.span.column) == (4, 5)
    assert (y.name_span.line, y.name_span.column) == (4, 11)
    assert y.span.text() == "param y = -0.2"
    assert m.name_span.text() == "quartic"
    assert m.body[3].kind_span.text() == "gd"
    assert m.body[3].args[1].span.text() == "steps = 10"
    assert m.body[2].expr.span.text() == "x^2 + 0.5*y^2 + 0.25*x^4 + 0.1*x*y^2"


def test_ridge():
    (m,) = parse_file("ridge").models
    w, lam, X, y, loss, evolve, car, solver = m.body
    assert w == ast.Param("w", (2,), ast.ArrayLit((N(0.8), neg(N(0.5)))))
    assert lam == ast.Const("lam", N(0.5))
    assert X.shape == (3, 2) and X.value.elements[1] == ast.ArrayLit((N(0.3), N(1.0)))
    assert y == ast.Data("y", (3,), ast.ArrayLit((N(1.0), N(0.0), N(0.4))))
    mean, reg = loss.expr.left, loss.expr.right
    assert isinstance(mean, ast.Reduce) and (mean.kind, mean.var) == ("mean", "k")
    assert (mean.lo, mean.hi) == (N(0), N(3))
    assert mean.body.op == "^" and mean.body.right == N(2)
    assert mean.body.left.left.left.left == ast.Index(V("X"), (V("k"), N(0)))
    assert reg == B("*", B("/", V("lam"), N(2)),
                    ast.Reduce("sum", "i", N(0), N(2), B("^", ast.Index(V("w"), (V("i"),)), N(2))))
    assert evolve.kind == "sgd" and [a.name for a in evolve.args] == ["lr", "steps", "batch", "seed"]
    assert car == ast.Carleman(1) and solver == ast.Solver("hhl", (ast.Arg("clock", N(7)),))
    assert mean.var_span.text() == "k" and (mean.var_span.line, mean.var_span.column) == (7, 17)
    assert X.name_span.text() == "X" and (X.name_span.line, X.name_span.column) == (5, 10)
    idx = mean.body.left.left.left.left
    assert idx.span.text() == "X[k,0]" and idx.base.span.text() == "X"


def test_logistic_flow():
    (m,) = parse_file("logistic_flow").models
    assert m.body == (
        ast.Param("u", None, N(0.4)),
        ast.Rate(V("u"), B("+", B("*", neg(N(1.0)), V("u")), B("*", N(0.3), B("^", V("u"), N(2))))),
        ast.Evolve("flow", (ast.Arg("time", N(2.0)), ast.Arg("dt", N(0.1)))),
        ast.Carleman(4),
    )
    assert m.body[1].target.span.text() == "u"


def test_tanh_unit():
    (m,) = parse_file("tanh_unit").models
    eta = m.body[2]
    assert eta == ast.SymConst("eta", N(0), N(1), False, False)
    assert eta.span.text() == "const eta in (0, 1)"  # the comment after it is not part of it
    assert m.body[-2] == ast.Expand(2, "init")
    assert m.body[-1] == ast.Carleman(2)
    call = m.body[5].expr.left.body.left.left
    assert call == ast.Call("tanh", (B("+", B("*", V("a"), ast.Index(V("x"), (V("k"),))), V("b")),))
    assert call.func_span.text() == "tanh" and call.span.text() == "tanh(a*x[k] + b)"
    assert m.body[6] == ast.Evolve("gd", (ast.Arg("lr", V("eta")), ast.Arg("steps", N(20))))


def test_every_node_has_a_span():
    for path in sorted(EXAMPLES.glob("*.qd")):
        module = parse(SourceFile.from_path(path))
        stack = [module]
        while stack:
            node = stack.pop()
            assert node.span is not None, node
            assert 0 <= node.span.start <= node.span.end <= len(node.span.source.text)
            for value in vars(node).values():
                for v in (value if isinstance(value, tuple) else (value,)):
                    if hasattr(v, "__dataclass_fields__") and not isinstance(v, Span):
                        stack.append(v)


# ----------------------------------------------------------------------------- statement forms

@pytest.mark.parametrize("text, expected", [
    ("param v[3]", ast.Param("v", (3,), None)),
    ("param M[3, 2]", ast.Param("M", (3, 2), None)),
    ("param w[1000] = load(\"w0.npy\")", ast.Param("w", (1000,), ast.Load("w0.npy"))),
    ("data X = load(\"d.npz\", \"X\")", ast.Data("X", None, ast.Load("d.npz", "X"))),
    ("data T[2, 1, 2] = [[[1, 2]], [[3, 4]]]",
     ast.Data("T", (2, 1, 2), ast.ArrayLit((ast.ArrayLit((ast.ArrayLit((N(1), N(2))),)),
                                            ast.ArrayLit((ast.ArrayLit((N(3), N(4))),)))))),
    ("data e[0] = []", ast.Data("e", (0,), ast.ArrayLit(()))),
    ("param w[2] = [1, 2,]", ast.Param("w", (2,), ast.ArrayLit((N(1), N(2))))),
    ("const c = 2*pi", ast.Const("c", B("*", N(2), V("pi")))),
    ("const c in [-1, 2)", ast.SymConst("c", neg(N(1)), N(2), True, False)),
    ("const c in (0, 1]", ast.SymConst("c", N(0), N(1), False, True)),
    ("const c in [lo, 2*lo]", ast.SymConst("c", V("lo"), B("*", N(2), V("lo")), True, True)),
    ("rate w[i] = -w[i]", ast.Rate(ast.Index(V("w"), (V("i"),)), neg(ast.Index(V("w"), (V("i"),))))),
    ("rate w[0] = 1", ast.Rate(ast.Index(V("w"), (N(0),)), N(1))),
    ("evolve flow(time = 2.0, dt = 0.1,)", ast.Evolve("flow", (ast.Arg("time", N(2)), ast.Arg("dt", N(0.1))))),
    ("evolve gd", ast.Evolve("gd", ())),
    ("expand order 3", ast.Expand(3, None)),
    ("expand order 2 about [0.1, -0.2]", ast.Expand(2, ast.ArrayLit((N(0.1), neg(N(0.2)))))),
    ("carleman order 2 basis symmetric", ast.Carleman(2, "symmetric")),
    ("carleman order 2 basis kronecker", ast.Carleman(2, "kronecker")),
    ("solver classical", ast.Solver("classical", ())),
    ("solver classical()", ast.Solver("classical", ())),
    ("solver qsvt(eps = 1e-3, idle = 2)", ast.Solver("qsvt", (ast.Arg("eps", N(1e-3)), ast.Arg("idle", N(2))))),
])
def test_statement_forms(text, expected):
    assert stmt(text) == expected


def test_several_models_and_comments():
    src = "# two models\nmodel a { param x = 1 } # trailing\n\nmodel b {\n# empty\n}\n"
    module = parse_text(src)
    assert [m.name for m in module.models] == ["a", "b"] and module.models[1].body == ()


def test_keywords_are_contextual():
    # names that are keywords elsewhere are fine where a name is expected
    m = parse_text("model model { param order = 1 param basis = 2 param init = 3 param in = 4\n"
                   "param data = 5 loss = order*basis + init + data^param + sum(in) }").models[0]
    assert m.name == "model"
    assert [s.name for s in m.body[:5]] == ["order", "basis", "init", "in", "data"]
    assert m.body[5].expr.right == ast.Call("sum", (V("in"),))
    # keywords need a word boundary: `params` is a name, not `param` + `s`
    with pytest.raises(CompileError) as err:
        parse_text("model m { params x = 1 }")
    assert err.value.diagnostics[0].code == "E0102"


def test_newlines_are_insignificant():
    a = parse_text("model m { param x = 0.3 loss = x^2 evolve gd(lr = 0.1, steps = 3) }")
    b = parse_text("model m {\n param x\n =\n 0.3\n loss =\n x ^\n 2\n evolve gd(\n lr = 0.1,\n steps = 3\n)\n}")
    assert a == b


# ----------------------------------------------------------------------------- precedence

@pytest.mark.parametrize("text, tree", [
    ("-x^2", neg(B("^", V("x"), N(2)))),
    ("a-b-c", B("-", B("-", V("a"), V("b")), V("c"))),
    ("a^b^c", B("^", V("a"), B("^", V("b"), V("c")))),
    ("a/b*c", B("*", B("/", V("a"), V("b")), V("c"))),
    ("2**3", B("^", N(2), N(3))),
    ("2**3^4", B("^", N(2), B("^", N(3), N(4)))),
    ("x^-1", B("^", V("x"), neg(N(1)))),
    ("-a*b", B("*", neg(V("a")), V("b"))),
    ("a - -b", B("-", V("a"), neg(V("b")))),
    ("a + b*c", B("+", V("a"), B("*", V("b"), V("c")))),
    ("(a + b)*c", B("*", B("+", V("a"), V("b")), V("c"))),
    ("(-x)^2", B("^", neg(V("x")), N(2))),
    ("+x", ast.Unary("+", V("x"))),
    ("w[i+1]^2", B("^", ast.Index(V("w"), (B("+", V("i"), N(1)),)), N(2))),
    ("f(a, b)^2", B("^", ast.Call("f", (V("a"), V("b"))), N(2))),
    ("1e-3 + 2.5E+4 + 0.5 + 7", B("+", B("+", B("+", N(1e-3), N(2.5e4)), N(0.5)), N(7))),
    ("sum(i in 0..n-1: x)", ast.Reduce("sum", "i", N(0), B("-", V("n"), N(1)), V("x"))),
])
def test_precedence(text, tree):
    assert expr(text) == tree


def test_range_lexes_without_spaces():
    r = expr("sum(i in 0..3: w[i])")
    assert (r.lo, r.hi) == (N(0), N(3))
    r = expr("mean(k in 1.5..2: k)")
    assert (r.lo, r.hi) == (N(1.5), N(2))


def test_parenthesized_span_includes_parentheses():
    e = expr("(a + b)*c")
    assert e.span.text() == "(a + b)*c" and e.left.span.text() == "a + b"


def test_numbers_are_floats_and_integers_compare_equal():
    assert expr("10") == N(10.0) and isinstance(expr("10").value, float)


def test_parser_is_built_once():
    """The Lark instance is built once per process and reused (its speed is measured by
    benchmarks/check_scale.py, not asserted here)."""
    from qdsl.syntax.parser import _lark

    text = (EXAMPLES / "ridge.qd").read_text()
    first = _lark()
    assert parse_text(text) == parse_text(text)
    assert _lark() is first and _lark.cache_info().currsize == 1


def test_explanations_cover_codes():
    assert {f"E01{i:02d}" for i in range(9)} <= set(EXPLANATIONS)
    assert all(len(text) > 80 for text in EXPLANATIONS.values())
