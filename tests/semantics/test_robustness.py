"""Mutated examples through the whole front end (parse, check, derive, certificate) raise nothing
but CompileError — every bad input becomes a diagnostic, never a traceback."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdsl.api import Compilation, Options
from qdsl.diagnostics import CompileError
from qdsl.source import SourceFile

ROOT = Path(__file__).parents[2] / "examples"
TEXTS = [p.read_text() for p in sorted(ROOT.glob("*.qd"))]
TOKENS = ["x", "w[0]", "w[5]", "0", "-1", "1e9", "0.0", "/", "^", "^ -2", "*", "+", "(", ")", "[", "]",
          "sum(i in 0..3: w[i])", "log(", "sqrt(", "tanh(", "steps = 0", "lr = -1", "batch = 9",
          "order 0", "order 7", "about init", "about [1]", "load(\"nope.npy\")", "eta", "k", ",", "=", "\n"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 12)))
        text = text[:i] + draw(st.sampled_from(TOKENS)) + text[j:]
    return text


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_front_end_raises_only_compile_errors(text):
    values = (("eta", 0.5),) if "eta in" in text else ()
    c = Compilation(SourceFile("mutant.qd", text, ROOT), Options(values=values))
    try:
        c.system
        c.certificate
    except CompileError as e:
        assert e.diagnostics and all(d.code[0] in "EW" for d in e.diagnostics)
        e.render()


NUMBERS = ["0", "1", "2", "3", "7", "0.5", "1e-300", "1e300", "40", "2.5"]


@st.composite
def renumbered(draw):
    """Syntactically valid variants: every numeric literal may become another number, so the
    semantic stage (shapes, indices, ranges, arguments, domains, sizes) is what gets exercised."""
    import re
    text = draw(st.sampled_from(TEXTS))
    parts = re.split(r"(?<![\w.])(\d+(?:\.\d+)?(?:e-?\d+)?)", text)
    out = []
    for k, part in enumerate(parts):
        out.append(draw(st.sampled_from(NUMBERS)) if k % 2 and draw(st.booleans()) and
                   draw(st.integers(0, 3)) == 0 else part)
    return "".join(out)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(renumbered())
def test_semantic_stage_raises_only_compile_errors(text):
    test_front_end_raises_only_compile_errors.hypothesis.inner_test(text)
