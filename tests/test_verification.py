"""`qdsl run`'s verification can fail: (a) a corrupted phase sequence, (b) a readout that points at
the wrong amplitudes, (c) a linear system that is not the model's each fail their own check —
and the bounds the report states are recomputed here from an independent scipy solve."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import qdsl
from qdsl import tolerances as tol
from qdsl.cli import main

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "regression_file.qd"


@pytest.fixture(scope="module")
def compiled():
    return qdsl.compile(EXAMPLE)


@pytest.fixture(scope="module")
def result(compiled):
    return compiled.run()


def test_three_checks_hold_with_stated_bounds(compiled, result):
    checks = {ch.key: ch for ch in result.checks}
    assert set(checks) == {"a", "b", "c"} and result.verified
    for ch in (checks["a"], checks["b"]):
        assert ch.observable and ch.kind == "verification" and ch.measured <= ch.bound and ch.formula
    # (c) for gd has no a-priori bound: a measurement, passing on the compiled system's agreement
    # with `simulate`'s own order-N solve, never on a bound equal to what it measures
    c = checks["c"]
    assert c.kind == "measurement" and c.bound is None and c.status == "measured"
    assert c.details["vs_simulate"] <= c.details["vs_simulate_bound"] < 1e-9
    eps = compiled.program.meta["eps"]
    # (a): the user's eps plus the implementation terms, which are far below it here
    assert eps <= checks["a"].bound <= eps * (1 + 1e-3)
    # (b): recompute the bound from an independent solve: ε_a·A_t·√(1+r²)/(1−ε_a·A_t)
    ls = compiled.linear_system
    Y = spla.spsolve(ls.matrix.tocsc(), ls.rhs)
    D = ls.block_dim
    blocks = Y.reshape(-1, D)[: ls.steps + 1]
    r = blocks[:, 1:1 + len(ls.theta_index)] / blocks[:, [0]]
    A = np.linalg.norm(Y) / np.abs(blocks[:, 0])
    e = checks["a"].bound
    mine = e * A[:, None] * np.sqrt(1 + r ** 2) / (1 - e * A[:, None])
    assert checks["b"].bound == pytest.approx(float(np.max(mine)), rel=1e-6)
    # (c): the Carleman trajectory's gap to gradient descent is simulate's truncation error
    sim = compiled.simulate()
    assert checks["c"].details["simulate_truncation_error"] == pytest.approx(
        sim.errors[compiled.order]["max"], rel=1e-9, abs=1e-15)
    d = result.to_dict()
    json.dumps(d)
    assert [c["check"] for c in d["checks"]] == ["a", "b", "c"] and d["failures"] == []


def _corrupt_phases(prog):
    """Shift one phase of the solver's phase sequence (a top-level rz, mid-sequence) by 0.3 rad."""
    from qiskit.circuit.library import RZGate

    qc = prog.circuit
    rz = [k for k, inst in enumerate(qc.data) if inst.operation.name == "rz"]
    assert len(rz) > 4, "no phase sequence found"
    k = rz[len(rz) // 2]
    inst = qc.data[k]
    qc.data[k] = inst.replace(operation=RZGate(float(inst.operation.params[0]) + 0.3))
    return prog


def test_corrupted_phase_sequence_fails_check_a(monkeypatch, capsys):
    import qdsl.synthesis.qsvt as qsvt

    original = qsvt.synthesize_qsvt
    monkeypatch.setattr(qsvt, "synthesize_qsvt", lambda *a, **kw: _corrupt_phases(original(*a, **kw)))
    rc = main(["run", str(EXAMPLE)])
    out = capsys.readouterr().out
    assert rc == 1, out
    assert "NOT verified: (a)" in out, out
    rc = main(["run", str(EXAMPLE), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 1 and not d["verified"] and d["failures"][0].startswith("(a)")
    a = d["checks"][0]
    assert a["check"] == "a" and a["measured"] > a["bound"]


def test_wrong_readout_fails_check_b_only(compiled):
    from qdsl.synthesis.program import QuantumProgram

    class Reversed(QuantumProgram):
        @property
        def readout(self):
            r = QuantumProgram.readout.fget(self)
            return dict(r, theta_index=[row[::-1] for row in r["theta_index"]])

    c = qdsl.compile(EXAMPLE)
    prog = compiled.program
    c.__dict__["program"] = Reversed(**{f.name: getattr(prog, f.name) for f in dataclasses.fields(prog)})
    res = c.run()
    status = {ch.key: ch.passed for ch in res.checks}
    assert status == {"a": True, "b": False, "c": True}
    assert "NOT verified: (b)" in res.render()


def test_linear_system_of_another_model_fails_check_c():
    from qdsl.lowering.history import history_system

    c = qdsl.compile(EXAMPLE)
    ls = c.linear_system
    c.__dict__["linear_system"] = history_system(c.carleman, ls.steps, ls.idle, x0=1.5 * c.system.x0)
    res = c.run()
    status = {ch.key: ch.passed for ch in res.checks}
    assert status == {"a": True, "b": True, "c": False}, res.render()


def test_eps_sets_the_bound_of_check_a():
    c = qdsl.compile(EXAMPLE, eps=0.05)
    a = c.run().checks[0]
    assert 0.05 <= a.bound < 0.05 + 1e-6 and a.measured <= a.bound


def test_readout_bound_holds_for_any_state_error_direction():
    """tolerances.readout_error against random perturbations of exactly the stated size."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        T, n, D = 3, 2, 4
        Y = rng.standard_normal((T + 1, D))
        Y[:, 0] = 1.0
        Y = Y.ravel()
        yhat = Y / np.linalg.norm(Y)
        eps = 10 ** rng.uniform(-6, -1.5)
        d = rng.standard_normal(Y.size) + 1j * rng.standard_normal(Y.size)
        psi = yhat + eps * d / np.linalg.norm(d)
        blocks, pb = yhat.reshape(T + 1, D), psi.reshape(T + 1, D)
        exact = blocks[:, 1:1 + n] / blocks[:, [0]]
        got = (pb[:, 1:1 + n] / pb[:, [0]]).real
        A = tol.readout_amplification(Y, D, 0, T)
        assert np.all(np.abs(got - exact) <= tol.readout_error(eps, A, exact))
