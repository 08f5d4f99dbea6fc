"""`qdsl run` predicts each simulation (processor seconds, memory) from the program before it
starts and refuses (exit 3) what is over its budget — before any state is allocated — and the
sparse simulator stops a run that outgrows its prediction with a diagnostic, never a kill.
benchmarks/run_prediction.py measures the predictions on twenty generated models."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pipeline_cases
from limits import limited

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
GiB = 2 ** 30

# 2 parameters, order 3 on 3 steps: a 29-qubit structured circuit whose sparse state is too large
# for a second of work; order 9 over 50 steps: a history system over the classical limits (E0402)
WIDE = """model wide {
    param w[2] = [0.1, -0.05]
    loss = sum(i in 0..2: 0.5*w[i]^2 + 0.1*w[i]^3 + 0.05*w[i]^4) + 0.2*(w[0] - w[1])^2
    evolve gd(lr = 0.2, steps = 3)
    carleman order 3
}
"""
DEEP = """model deep {
    param w[3]
    loss = sum(i in 0..3: w[i]^2 + w[i]^4)
    evolve gd(lr = 0.1, steps = 50)
    carleman order 9
}
"""


def _forbid(*args, **kwargs):
    raise AssertionError("a simulator was entered although the run was refused up front")


@pytest.mark.parametrize("budget,code", [({"max_seconds": 1e-4}, "E0530"),
                                         ({"max_memory": 1.0}, "E0531")], ids=["time", "memory"])
def test_over_budget_is_refused_before_any_state_is_allocated(budget, code, monkeypatch):
    import qdsl
    from qdsl.backends import qiskit_sim, sparse_sim
    from qdsl.diagnostics import SizeLimitError

    c = qdsl.compile(EXAMPLES / "gd_cubic.qd")
    c.program  # noqa: B018 — compile first: only the simulation may not start
    monkeypatch.setattr(sparse_sim, "sparse_statevector", _forbid)
    monkeypatch.setattr(qiskit_sim, "_statevector", _forbid)
    with pytest.raises(SizeLimitError) as ei:
        c.run(**budget)
    d = ei.value.diagnostics[0]
    assert d.code == code and ei.value.exit_status == 3
    assert "--backend aer" in d.help and "predicted" in d.message


def test_command_line_refuses_with_the_figure_and_a_suggestion(tmp_path):
    f = tmp_path / "wide.qd"
    f.write_text(WIDE)
    r = subprocess.run([sys.executable, "-m", "qdsl", "run", str(f), "--max-seconds", "1"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "error[E0530]" in r.stderr and "predicted to take" in r.stderr and "--backend aer" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf"])
def test_max_seconds_must_be_positive_and_finite(bad, tmp_path):
    r = subprocess.run([sys.executable, "-m", "qdsl", "run", str(EXAMPLES / "gd_cubic.qd"),
                        "--max-seconds", bad], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2 and "error[E0532]" in r.stderr, r.stderr


def test_history_over_the_limits_is_refused_from_the_sizes_before_synthesis():
    """`run` checks the classical reference's sizes (as `simulate` does) before it synthesizes
    the circuit: E0402 in well under a second of processor time and little memory."""
    out = limited(pipeline_cases.run_verified, DEEP, seconds=2, memory=GiB // 4)
    assert out.status == 3 and "E0402" in out.codes, out


@pytest.mark.parametrize("name", ["gd_cubic.qd", "flow_cubic.qd"])
def test_prediction_bounds_the_measured_time_within_two(name):
    """On small models the simulation takes at most twice its prediction (processor seconds), and
    the prediction is not vacuous (within 50× and a second of the measurement)."""
    import qdsl

    res = qdsl.compile(EXAMPLES / name).run()
    meta = res.sim.meta
    pred, took = meta["prediction"]["seconds"], meta["seconds"]
    assert took <= 2 * pred, (took, pred)
    assert pred <= 50 * took + 1.0, (took, pred)
    assert res.to_dict()["simulation"]["prediction"]["simulator"] == meta["simulator"]


def test_sparse_run_that_outgrows_its_budget_stops_with_a_diagnostic():
    """The watchdog: a sparse simulation past its support budget (the memory budget) or its
    processor-time deadline stops with exit 3 instead of running on or being killed."""
    import qdsl
    from qdsl.backends import qiskit_sim, sparse_sim
    from qdsl.backends.qasm3 import load
    from qdsl.diagnostics import SizeLimitError

    c = qdsl.compile(EXAMPLES / "gd_cubic.qd")
    circuit = load(c.qasm)
    assert qiskit_sim._uses_sparse(circuit, "statevector")
    with pytest.raises(SizeLimitError) as ei:
        qiskit_sim._state_entries(circuit, "statevector", 0, {"memory": 8 * qiskit_sim.SPARSE_BYTES_PER_ENTRY})
    assert ei.value.diagnostics[0].code == "E0531"
    with pytest.raises(sparse_sim.Budget):
        sparse_sim.sparse_statevector(circuit, deadline=0.0)


def test_block_columns_reproduce_the_gate_by_gate_state():
    """The sparse simulator's named blocks (permutation blocks applied from cached columns, wide
    ones gate by gate) give the state of the flat gate-by-gate replay of the same circuit, to
    rounding, and the pruned-norm bound covers the difference."""
    import qdsl
    from qdsl.backends import sparse_sim as S
    from qdsl.backends.qasm3 import load

    circuit = load(qdsl.compile(EXAMPLES / "sgd_cubic.qd").qasm)
    prog = S.program(circuit)
    blocks = {id(b): b for b in prog if isinstance(b, S._Block)}
    assert blocks and len(blocks) < sum(isinstance(b, S._Block) for b in prog)  # calls share a block
    lim = S.Limits()
    got = S.SparseState(*S._exec(prog, np.zeros(1, np.int64), np.ones(1, complex), lim), lim.dropped)
    assert any(not b.inline and b.P.size for b in blocks.values())             # some cached columns
    flat = S.run(S._fuse_controlled_ry(S._flatten(circuit, {})), S.SparseState([0], [1.0]))
    a = dict(zip(got.keys.tolist(), got.amps))
    b = dict(zip(flat.keys.tolist(), flat.amps))
    diff = np.sqrt(sum(abs(a.get(k, 0) - b.get(k, 0)) ** 2 for k in set(a) | set(b)))
    # rounding of ~10^4 gates on unit-norm states (~G·u), plus both runs' pruning bounds
    G = sum(getattr(x, "length", 1) for x in prog)
    assert diff <= G * 16 * np.finfo(float).eps + got.dropped + flat.dropped, diff
