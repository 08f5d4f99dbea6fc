"""Whatever the input, the parser returns a Module or raises CompileError — never anything else."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdsl.diagnostics import CompileError
from qdsl.syntax import parser
from qdsl.syntax.parser import MAX_DEPTH, parse_text

EXAMPLES = [p.read_text() for p in sorted((Path(__file__).parent / "spec_examples").glob("*.qd"))]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALPHABET = "model param const data loss rate evolve expand carleman solver order about basis in " \
           "{}()[]=,:..+-*/^**#\"\n\t 0123456789.eE_xyzw\x00\u2212θ"


def parse_or_diagnose(text: str):
    """Parse; on a CompileError check that its diagnostics are well-formed and render."""
    try:
        return parse_text(text, "fuzz.qd")
    except CompileError as err:
        assert len(err.diagnostics) == 1
        d = err.diagnostics[0]
        assert d.code.startswith("E01") and d.message and d.span is not None
        assert d.message != parser._FALLBACK_MESSAGE  # the classifier itself did not fail
        assert 0 <= d.span.start <= d.span.end <= len(text)
        rendered = err.render()
        assert rendered.startswith(f"error[{d.code}]: ") and "--> fuzz.qd:" in rendered
        return None


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text):
    parse_or_diagnose(text)


@SETTINGS
@given(st.text(alphabet=ALPHABET, max_size=200))
def test_random_qd_like_text(text):
    parse_or_diagnose(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data):
    parse_or_diagnose(data.decode("utf-8", errors="replace"))


@st.composite
def mutated_examples(draw):
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 5)):]
        elif kind == "insert":
            text = text[:i] + draw(st.text(alphabet=ALPHABET, min_size=1, max_size=3)) + text[i:]
        elif kind == "duplicate":
            j = i + draw(st.integers(1, 12))
            text = text[:j] + text[i:j] + text[j:]
        else:
            j = draw(st.integers(0, len(text)))
            a, b = sorted((i, j))
            text = text[:a] + text[b:b + 3] + text[a + 3:b] + text[a:a + 3] + text[b + 3:]
    return text


@SETTINGS
@given(mutated_examples())
def test_mutated_examples(text):
    parse_or_diagnose(text)


def test_every_single_character_deletion_of_an_example():
    text = EXAMPLES[0]
    for i in range(len(text)):
        parse_or_diagnose(text[:i] + text[i + 1:])


def test_every_prefix_of_an_example():
    text = EXAMPLES[1]
    for i in range(len(text)):
        parse_or_diagnose(text[:i])


@pytest.mark.parametrize("body", [
    "(" * 5000 + "x" + ")" * 5000,          # parentheses alone add no depth
    "-" * 5000 + "x",
    "x" + "^x" * 5000,
    "f(" * 5000 + "x" + ")" * 5000,
    "w[" * 5000 + "0" + "]" * 5000,
    "(" * 20000,
])
def test_pathological_nesting(body):
    result = parse_or_diagnose(f"model m {{ loss = {body} }}")
    if body.startswith("((") and body.endswith("))"):
        assert result is not None
    else:
        assert result is None


def _depth(e) -> int:
    kids = [getattr(e, f) for f in ("left", "right", "operand") if hasattr(e, f)]
    return 1 + max((_depth(k) for k in kids), default=0)


@pytest.mark.parametrize("op", ["+", "-", "+-"])
def test_flat_sums_of_any_length_parse_balanced(op):
    """A flat sum is not nesting: 5,000 terms parse into a tree of depth ⌈log2 5000⌉ + 1, with the
    value of the left-to-right sum (signs relative to the split: a − b − c + d = (a − b) − (c − d))."""
    ops = [op[k % len(op)] for k in range(4999)]
    body = "1" + "".join(f" {o} {k + 2}" for k, o in enumerate(ops))
    expr = parse_text(f"model m {{ loss = {body} }}").models[0].body[0].expr
    assert _depth(expr) <= 14

    def value(e):
        if hasattr(e, "value"):
            return e.value
        a, b = value(e.left), value(e.right)
        return a + b if e.op == "+" else a - b
    want = 1 + sum((k + 2) * (1 if o == "+" else -1) for k, o in enumerate(ops))
    assert value(expr) == want


def test_long_sums_nested_in_each_other_still_count_towards_the_depth_limit():
    terms = " + ".join(["x"] * 40)
    expr = "x"
    for _ in range(60):   # each level: a balanced 41-term sum (depth 6) inside a product
        expr = f"({terms} + {expr}) * 2"
    with pytest.raises(CompileError) as err:
        parse_text(f"model m {{ loss = {expr} }}")
    assert err.value.diagnostics[0].code == "E0107"


def test_depth_limit_boundary():
    ok = "-" * (MAX_DEPTH - 1) + "x"
    assert parse_or_diagnose(f"model m {{ loss = {ok} }}") is not None
    with pytest.raises(CompileError) as err:
        parse_text(f"model m {{ loss = -{ok} }}")
    assert err.value.diagnostics[0].code == "E0107"
    with pytest.raises(CompileError) as err:
        parse_text("model m { data X = " + "[" * 300 + "]" * 300 + " }")
    assert err.value.diagnostics[0].code == "E0107"


def test_long_flat_input_is_fine():
    body = "\n".join(f"    param p{i} = {i}" for i in range(3000))
    module = parse_text(f"model big {{\n{body}\n    loss = p0^2\n}}")
    assert len(module.models[0].body) == 3001


def test_random_garbage_seeded():
    rng = random.Random(0)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        parse_or_diagnose(data.decode("utf-8", errors="replace"))
        parse_or_diagnose(data.decode("latin-1"))
