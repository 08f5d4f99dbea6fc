"""The whole pipeline under fuzzing: random tiny models and mutated examples go through lowering,
synthesis and emission (`qdsl.compile(source=...).qasm`, the public API — whatever synthesis is
on main is what gets exercised). Every case runs in a forked child under 10 CPU seconds and 2 GiB
more memory (`limits.limited`); every failure must be a diagnostic with exit 2 or 3 — never an
internal error (exit 70), a MemoryError, a crash or a time-out.

The default run is derandomized (≥ 300 cases); `pytest -m fuzz` runs ≥ 3000 more.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline_cases
from limits import limited

ROOT = Path(__file__).parents[1]
GiB = 2 ** 30

COEF = st.sampled_from(["0.1", "0.25", "0.5", "1", "2", "-0.3", "0.05", "3"])


@st.composite
def term(draw, names):
    """c·(monomial of degree 1–4), sometimes inside a smooth function."""
    deg = draw(st.integers(1, 4))
    factors = [draw(st.sampled_from(names)) for _ in range(deg)]
    mono = "*".join(factors)
    c = draw(COEF)
    if draw(st.integers(0, 5)) == 0:
        f = draw(st.sampled_from(["tanh", "exp", "sigmoid", "softplus", "cos"]))
        return f"{c}*{f}({mono})"
    return f"{c}*{mono}"


@st.composite
def tiny_model(draw):
    """A model of 1–2 parameters, 1–4 steps, Carleman order 1–3: gd, flow with a loss, or rates
    (growing, decaying, or both), solved by QSVT or HHL at a range of eps."""
    n = draw(st.integers(1, 2))
    names = ["x", "y"][:n]
    lines = [f"    param {v} = {draw(st.sampled_from(['0.3', '-0.2', '0.1', '0.5', '0', '1.5']))}" for v in names]
    kind = draw(st.sampled_from(["gd", "gd", "flow", "rate"]))
    smooth = False
    if kind == "rate":
        for v in names:
            terms = draw(st.lists(term(names), min_size=1, max_size=3))
            lines.append(f"    rate {v} = " + " + ".join(terms))
            smooth = smooth or "(" in " ".join(terms)
    else:
        quad = " + ".join(f"{draw(st.sampled_from(['0.5', '1', '0.2', '2']))}*{v}^2" for v in names)
        extra = draw(st.lists(term(names), max_size=2))
        smooth = "(" in " ".join(extra)
        lines.append(f"    loss = {quad}" + "".join(f" + {t}" for t in extra))
    if kind == "gd":
        lines.append(f"    evolve gd(lr = {draw(st.sampled_from(['0.05', '0.1', '0.3', '0.9', '1.5']))}, "
                     f"steps = {draw(st.integers(1, 4))})")
    else:
        steps = draw(st.integers(1, 4))
        dt = draw(st.sampled_from(["0.1", "0.25", "0.5"]))
        lines.append(f"    evolve flow(time = {steps * float(dt):g}, dt = {dt})")
    if smooth or draw(st.integers(0, 4)) == 0:
        lines.append(f"    expand order {draw(st.integers(1, 3))} about init")
    lines.append(f"    carleman order {draw(st.integers(1, 3))}" +
                 draw(st.sampled_from(["", "", " basis symmetric"])))
    solver = draw(st.sampled_from(["qsvt", "qsvt", "qsvt", "hhl"]))
    if solver == "qsvt":
        lines.append(f"    solver qsvt(eps = {draw(st.sampled_from(['0.1', '0.05', '0.01', '1e-3']))})")
    else:
        lines.append(f"    solver hhl(clock = {draw(st.integers(2, 6))})")
    return "model fuzz {\n" + "\n".join(lines) + "\n}\n"


EXAMPLES = {p.stem: p.read_text() for p in sorted((ROOT / "examples").glob("*.qd"))}
SMALL = ["0", "1", "2", "3", "0.5", "0.05", "-1", "1e-3", "4", "10", "0.99"]
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:e-?\d+)?)")


@st.composite
def mutated_example(draw):
    """An example with some numbers replaced by small ones (steps, orders, rates, eps, values):
    valid and invalid variants that stay within the simulator's reach."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    parts = NUMBER.split(EXAMPLES[name])
    for k in draw(st.lists(st.integers(0, len(parts) // 2), min_size=1, max_size=3)):
        if 2 * k + 1 < len(parts):
            parts[2 * k + 1] = draw(st.sampled_from(SMALL))
    return "".join(parts)


def check_case(text: str) -> None:
    # within 10 s and 2 GiB every case compiles or is refused, with qdsl's size limits scaled to
    # those 2 GiB (pipeline_cases.FUZZ_LIMITS): a refusal must come before the memory is spent
    out = limited(pipeline_cases.compile_qasm_within_fuzz_limits, text, str(ROOT / "examples"), seconds=10,
                  memory=2 * GiB)
    assert out.status in (0, 2, 3), f"{out.status}: {out.message} at {out.where}\n--- model ---\n{text}"
    if out.status:
        assert out.codes and all(code[0] == "E" for code in out.codes), out


# (cases compile in the examples folder: regression_file's data paths are relative to it)
SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=240, **SETTINGS)
@given(tiny_model())
def test_random_tiny_models_compile_or_get_a_diagnostic(text):
    check_case(text)


@settings(max_examples=60, **SETTINGS)
@given(mutated_example())
def test_mutated_examples_compile_or_get_a_diagnostic(text):
    check_case(text)


# the long run in parts, so that `pytest -m fuzz -n 2` (CI) keeps both cores busy: 4 × 600 random
# models and 2 × 350 mutated examples, each part drawing its own random cases
@pytest.mark.fuzz
@pytest.mark.parametrize("part", range(4))
@settings(max_examples=600, **dict(SETTINGS, derandomize=False))
@given(tiny_model())
def test_long_random_models(part, text):
    check_case(text)


@pytest.mark.fuzz
@pytest.mark.parametrize("part", range(2))
@settings(max_examples=350, **dict(SETTINGS, derandomize=False))
@given(mutated_example())
def test_long_mutated_examples(part, text):
    check_case(text)


# ------------------------------------------------------------------- regressions (issue 11, the fuzzer)
# Growing and marginal flows: QSP once overflowed (OverflowError), asked numpy for tens of GiB, or
# walked the polynomial degree up for minutes; they must compile or be refused naming κ′/degree.

GROWING_FAST = """model grow {
    param u = 0.5
    rate u = 8*u
    evolve flow(time = 2.0, dt = 0.1)
    carleman order 1
}
"""
GROWING_LONG = """model grow2 {
    param u = 0.5
    rate u = 2*u
    evolve flow(time = 4.0, dt = 0.1)
    carleman order 1
}
"""


MARGINAL = """model marginal {
    param u = 0.1
    rate u = -2*u + 0.3*u^2
    evolve flow(time = 2.0, dt = 1)
    carleman order 4
}
"""


@pytest.mark.parametrize("text", [GROWING_FAST, GROWING_LONG], ids=["rate-8u-kappa-1e16", "rate-2u-40-steps"])
def test_growing_flows_are_refused_with_their_cause(text):
    out = limited(pipeline_cases.compile_qasm, text, str(ROOT / "examples"), seconds=10, memory=2 * GiB)
    assert out.status == 3, out
    assert any(code.startswith("E05") for code in out.codes), out
    assert "κ" in out.message or "kappa" in out.message or "degree" in out.message, out.message


def test_marginal_flow_compiles_or_is_refused_within_ten_seconds():
    """u ← u − 2u·dt with dt = 1 (|1 + dt·λ| = 1): the degree walk of the QSVT polynomial must
    not spend minutes on it."""
    out = limited(pipeline_cases.compile_qasm, MARGINAL, None, seconds=10, memory=2 * GiB)
    assert out.status in (0, 3), out


TINY_BLOCK = """model fuzz {
    param x = 0.3
    loss = 0.2*x^2 + -0.3*x*x
    evolve gd(lr = 0.1, steps = 1)
    carleman order 3
    solver qsvt(eps = 0.1)
}
"""


def test_block_encoding_self_check_tolerance():
    """Found by this fuzzer: the block-encoding self-check once compared with a bare 1e-9."""
    out = limited(pipeline_cases.compile_qasm, TINY_BLOCK, None, seconds=10, memory=2 * GiB)
    assert out.status == 0, out
