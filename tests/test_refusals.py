"""Requests over a size limit are refused up front — exit 3 with a suggestion, never after minutes
of work or gigabytes of memory — both through the real command line (a subprocess whose address
space is capped with `resource.setrlimit`, killed past its time limit) and over mutated models with
large sizes (hypothesis, each case under `limits.limited`)."""
from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline_cases
from limits import limited

ROOT = Path(__file__).parents[1]
GiB = 2 ** 30

BIG_SUM = """model big {
    param w[100000000]
    loss = sum(i in 0..100000000: w[i]^2)
    evolve gd(lr = 0.1, steps = 5)
    carleman order 1
}
"""
LONG_RUN = """model longsteps {
    param x = 0.3
    loss = x^2 + 0.25*x^4
    evolve gd(lr = 0.1, steps = 1000000000)
    carleman order 2
}
"""
WIDE_SUM = """model wide {
    param w[1000]
    data X[1000] = 0.5
    loss = sum(i in 0..1000: sum(j in 0..1000: sum(k in 0..1000: X[k]*w[i]*w[j])))
    evolve gd(lr = 0.1, steps = 5)
}
"""
BIG_DATA = """model bigdata {
    param w = 0.1
    data X[100000, 100000] = 0.5
    loss = w^2
    evolve gd(lr = 0.1, steps = 5)
}
"""


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (2 * GiB, 2 * GiB))


def run_qdsl(args, tmp_path, text, seconds=30):
    """The real command line in a subprocess under 2 GiB of address space (the interpreter, NumPy,
    SciPy and Qiskit take about 1 GiB of it) and a kill limit."""
    f = tmp_path / "model.qd"
    f.write_text(text)
    return subprocess.run([sys.executable, "-m", "qdsl", *args, str(f)], capture_output=True, text=True,
                          preexec_fn=_cap_memory, timeout=seconds, cwd=tmp_path)


@pytest.mark.parametrize("command,text,code,hint", [
    ("check", BIG_SUM, "E0222", "--params 100000000"),
    ("simulate", LONG_RUN, "E0402", "--steps"),
    ("compile", LONG_RUN, "E0402", "--steps"),
    ("check", WIDE_SUM, "E0222", "fewer parameters"),
    ("check", BIG_DATA, "E0222", "sample"),
], ids=["param-1e8-sum", "simulate-1e9-steps", "compile-1e9-steps", "nested-sums", "data-1e10"])
def test_command_line_refuses_at_once(command, text, code, hint, tmp_path):
    r = run_qdsl([command], tmp_path, text)
    assert r.returncode == 3, r.stderr
    assert f"error[{code}]" in r.stderr and "help:" in r.stderr and hint in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_refused_in_the_library_under_one_gib():
    """The same refusals through the Python API in a child process with 1 GiB more memory and 5 s
    (a refusal costs well under a second; the limits catch a regression that builds first)."""
    system, simulated = pipeline_cases.derive, pipeline_cases.simulate
    for fn, text, code in ((system, BIG_SUM, "E0222"), (simulated, LONG_RUN, "E0402"),
                           (system, WIDE_SUM, "E0222"), (system, BIG_DATA, "E0222")):
        out = limited(fn, text, seconds=5, memory=GiB)
        assert out.status == 3 and code in out.codes, out


def test_huge_data_file_refused_from_its_header(tmp_path):
    import numpy as np

    big = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=float, shape=(20_000_000,))
    del big  # a sparse file: its header says 20M entries, nothing is read
    text = f'model m {{\n param w = 0.1\n data X = load("{tmp_path / "X.npy"}")\n loss = w^2\n' \
           f' evolve gd(lr = 0.1, steps = 2)\n}}\n'
    out = limited(pipeline_cases.derive, text, seconds=5, memory=GiB)
    assert out.status == 3 and "E0222" in out.codes and "20,000,000" in out.message, out


# --------------------------------------------------------------------- mutated models, large sizes

EXAMPLES = [p for p in sorted((ROOT / "examples").glob("*.qd"))]

HUGE = ["100000000", "1000000000", "1e9", "123456789", "1e12", "99999999999"]
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:e-?\d+)?)")


@st.composite
def enlarged(draw):
    """An example with some of its numbers (sizes, steps, ranges, orders, shapes, values) replaced
    by huge ones — in declared shapes, sum ranges, steps, times, batches, orders."""
    path = draw(st.sampled_from(EXAMPLES))
    text = path.read_text()
    parts = NUMBER.split(text)
    picks = draw(st.lists(st.integers(0, len(parts) // 2), min_size=1, max_size=3))
    for k in picks:
        j = 2 * k + 1
        if j < len(parts):
            parts[j] = draw(st.sampled_from(HUGE))
    return path, "".join(parts)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(enlarged())
def test_large_sizes_are_refused_within_five_seconds_and_one_gib(case):
    path, text = case
    out = limited(pipeline_cases.certificate_and_simulate, text, str(path.parent), seconds=5, memory=GiB)
    assert out.status in (0, 1, 2, 3), (out, text)
    if out.status in (2, 3):
        assert out.codes and all(c[0] in "EW" for c in out.codes), out


@pytest.mark.parametrize("basis", ["kronecker", "symmetric"])
def test_block_encodings_over_the_build_limit_are_refused_from_their_cost(basis, monkeypatch):
    """A block-encoding whose cost functions exceed MAX_BLOCK_GATES is refused (E0508, exit 3)
    before it is built; the structured (kronecker) and sparse-access (symmetric) constructions."""
    import qdsl
    import qdsl.synthesis.structured as structured
    from qdsl.diagnostics import SizeLimitError

    ex = Path(__file__).parents[1] / "examples" / "gd_cubic.qd"
    built = qdsl.compile(ex, basis=basis)
    gates = sum(int(v) for v in built.encoding.cost.values())
    monkeypatch.setattr(structured, "MAX_BLOCK_GATES", gates - 1)
    with pytest.raises(SizeLimitError) as ei:
        qdsl.compile(ex, basis=basis).program
    d = ei.value.diagnostics[0]
    assert d.code == "E0508" and f"{gates:,} gates" in d.message and ei.value.exit_status == 3
    monkeypatch.setattr(structured, "MAX_BLOCK_GATES", gates)
    assert qdsl.compile(ex, basis=basis).program.circuit.num_qubits > 0


SGD_LONG = """model sgdlong {
    param w = 0.3
    data x[4] = [0.5, 1.0, -0.6, 0.8]
    data y[4] = [0.2, 0.5, -0.3, 0.3]
    loss = mean(k in 0..4: (w*x[k] + 0.2*(w*x[k])^2 - y[k])^2)
    evolve sgd(lr = 0.5, steps = STEPS, batch = 2, seed = 3)
    carleman order 2
}
"""
DEEP_RUN = """model deep20 {
    param w[20]
    loss = sum(i in 0..20: w[i]^2 + w[i]^4)
    evolve gd(lr = 0.1, steps = 5)
    carleman order 12
}
"""


@pytest.mark.parametrize("fn,text,code", [
    (pipeline_cases.check, SGD_LONG.replace("STEPS", "1000000"), "E0222"),
    (pipeline_cases.run_verified, DEEP_RUN, "E0401"),
], ids=["sgd-1e6-steps", "run-order-12"])
def test_new_refusals_under_one_second(fn, text, code):
    """Refused from the sizes alone: under a second of processor time, a quarter GiB."""
    out = limited(fn, text, seconds=1, memory=GiB // 4)
    assert out.status == 3 and code in out.codes, out


def _sgd_limit_steps() -> int:
    from qdsl.semantics.derive import SGD_STEP_NODES, SGD_WORK_LIMIT, guard_work

    import qdsl

    c = qdsl.compile(source=SGD_LONG.replace("STEPS", "10"))
    from qdsl.semantics.derive import ConstEvaluator

    m = c.model
    nodes = guard_work(m, ConstEvaluator(m.consts, m.data, {}, m.symbols))
    return SGD_WORK_LIMIT // (SGD_STEP_NODES + nodes)


def test_sgd_limit_is_what_the_refusal_names():
    """The refusal's "at most N steps" is the largest steps count the limit admits."""
    import qdsl
    from qdsl.diagnostics import SizeLimitError

    most = _sgd_limit_steps()
    with pytest.raises(SizeLimitError) as ei:
        qdsl.compile(source=SGD_LONG.replace("STEPS", str(most + 1))).system
    assert f"at most {most:,} for this loss" in ei.value.diagnostics[0].help


@pytest.mark.slow
def test_sgd_at_the_limit_checks_within_ten_seconds_of_work():
    """`check` at exactly the largest sgd steps the limit admits finishes in ≤ 10 s of processor
    time (the limit's calibration; it was 2·10^6 per-sample derivations, minutes of work)."""
    out = limited(pipeline_cases.check, SGD_LONG.replace("STEPS", str(_sgd_limit_steps())),
                  seconds=10, memory=GiB)
    assert out.status == 0, out
