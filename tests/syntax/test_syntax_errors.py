"""Which diagnostic code (and where) each common mistake gets."""
from __future__ import annotations

import pytest

from qdsl.diagnostics import CompileError
from qdsl.syntax.parser import parse_text


def diagnose(text: str):
    with pytest.raises(CompileError) as err:
        parse_text(text, "t.qd")
    (d,) = err.value.diagnostics
    return d


@pytest.mark.parametrize("text, code, at", [
    ("", "E0101", ""),
    ("   # only a comment\n", "E0101", ""),
    ("param x = 1", "E0101", "param"),
    ("model m { parm x = 1 }", "E0102", "parm"),
    ("model m { x = 1 }", "E0102", "x"),
    ("model m { loss = x\n  evolv gd(lr = 0.1) }", "E0102", "evolv"),
    ("model m { loss = x @ y }", "E0103", "@"),
    ("model m { loss = x\x00 }", "E0103", "\x00"),
    ("model m { param \u03b7 = 1 }", "E0103", "\u03b7"),
    ("model m { loss = \ufffd }", "E0103", "\ufffd"),
    ('model m { data X = load("x.npy) }', "E0103", '"x.npy) }'),
    ("model m { loss = 1.2.3 }", "E0104", "1.2.3"),
    ("model m { loss = 1e }", "E0104", "1e"),
    ("model m { loss = 1e+ }", "E0104", "1e+"),
    ("model m { loss = 1. + x }", "E0104", "1."),
    ("model m { loss = .5 }", "E0104", ".5"),
    ("model m { loss = 1e999 }", "E0104", "1e999"),
    ("model m { loss = sum(i in 0.5.: x) }", "E0104", "0.5."),
    ("model m {\n param x = 1\n", "E0105", "{"),
    ("model m { loss = (x + 1 }", "E0105", "("),
    ("model m { loss = w[0 }", "E0105", "["),
    ("model m { loss x }", "E0106", "x"),
    ("model m { param x 0.3 }", "E0106", "0.3"),
    ("model m { loss = }", "E0106", "}"),
    ("model m { loss = x +\n evolve gd(lr = 0.1) }", "E0106", "evolve"),
    ("model m { evolve gd(lr 0.1) }", "E0106", "0.1"),
    ("model m { loss = " + "-" * 300 + "x }", "E0107", "-" * 99 + "x"),
    ("model m { evolve gd(0.1) }", "E0108", "0.1"),
    ("model m { carleman order 2 basis kron }", "E0108", "kron"),
    ("model m { expand order 2 about here }", "E0108", "here"),
    ("model m { param w[2.5] }", "E0108", "2.5"),
    ("model m { carleman order 1e3 }", "E0108", "1e3"),
    ("model m { loss = prod(i in 0..3: x) }", "E0108", "prod"),
    ('model m { param w[3] = lod("w.npy") }', "E0108", "lod"),
    ("model m { loss = 2 x }", "E0100", "x"),
    ("model m { loss = x } }", "E0100", "}"),
    ("model m { carleman 3 }", "E0100", "3"),
    ("model m { loss = x } loss = y", "E0100", "loss"),
    ("model { }", "E0100", "{"),
])
def test_codes(text, code, at):
    d = diagnose(text)
    assert d.code == code, d.render()
    if code == "E0107":
        assert d.span.text().endswith(at)
    else:
        assert d.span.text() == at, d.render()


def test_did_you_mean_statement():
    assert "did you mean `param`?" in diagnose("model m { parm x = 1 }").help
    assert "did you mean `kronecker`?" in diagnose("model m { carleman order 2 basis kroneker }").help
    assert "did you mean `mean`?" in diagnose("model m { loss = maen(k in 0..3: x) }").help


def test_help_is_specific():
    assert "2*x" in diagnose("model m { loss = 2 x }").help
    assert "`theta`" in diagnose("model m { param \u03b8 = 1 }").help
    assert "ASCII `-`" in diagnose("model m { loss = x \u2212 y }").help
    assert "0.5" in diagnose("model m { loss = .5 }").help
    assert "`,` missing" in diagnose("model m { evolve gd(lr = 0.1 steps = 3) }").help
    assert "const c in (0, 1)" in diagnose("model m { const c 3 }").help


def test_rendered_like_rustc():
    d = diagnose("model quartic {\n    param x = 0.3\n    parm y = -0.2\n}\n")
    lines = d.render().splitlines()
    assert lines[0] == "error[E0102]: unknown statement 'parm'"
    assert lines[1] == " --> t.qd:3:5"
    assert lines[3] == "3 |     parm y = -0.2"
    assert lines[4] == "  |     ^^^^"
    assert lines[5].startswith("  = help: did you mean `param`?")
