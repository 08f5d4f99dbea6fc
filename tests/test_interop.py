"""The bridges of qdsl.interop keep the structure and the state.

Every bridge is checked against qdsl's own simulator (`interop.qdsl_statevector`: the dense numpy
simulator `qdsl run` uses, on the emitted file loaded back) by another package's simulator:
Qiskit Aer for `to_qiskit`, PennyLane's lightning.qubit for `to_pennylane`, Cirq (through
Qualtran's own conversion) for `to_qualtran`. The examples are the three small QSVT programs,
run with one training step in the default suite so that each simulation takes seconds on a
shared machine (13–16 qubits); the programs as written (16–21 qubits) run under -m slow.

Tolerance of the overlaps: both sides apply the same ≤ 4·10⁴ gates in double precision; each gate
rounds at ~1e-16 relative, so the states agree to ~gates·1e-16 ≈ 1e-11 — 1 − 1e-9 leaves two
orders of margin and still fails for any wrong gate, angle or qubit order (a single misplaced
gate moves the overlap by O(1); `qml.from_qiskit` of the same circuit gives 0.20).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import qdsl
from qdsl import interop
from qdsl.diagnostics import CompileError

ROOT = Path(__file__).resolve().parents[1]
OVERLAP_TOL = 1e-9   # module docstring
BLOCKS = {"state_prep", "block_encoding", "block_encoding_dg", "zero_flip"}

#: (example, steps override) — small enough for the default suite
SMALL = [("gd_cubic", 1), ("sgd_cubic", 1), ("flow_cubic", 1)]
FULL = [("gd_cubic", None), ("sgd_cubic", None), ("flow_cubic", None)]


def _compile(name, steps):
    return qdsl.compile(str(ROOT / "examples" / f"{name}.qd"), steps=steps)


_CACHE: dict = {}


def compiled(name, steps):
    """(compilation, qdsl's own statevector), once per module run."""
    key = (name, steps)
    if key not in _CACHE:
        c = _compile(name, steps)
        _CACHE[key] = (c, interop.qdsl_statevector(c))
    return _CACHE[key]


def _pl_state_to_qiskit_order(st, n):
    """default.qubit/lightning index wire 0 as the most significant bit; Qiskit the least."""
    return np.asarray(st).reshape([2] * n).transpose(list(range(n))[::-1]).ravel()


# ---------------------------------------------------------------------------------------------
# Qiskit
# ---------------------------------------------------------------------------------------------

def _aer_state(qc):
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="statevector", seed_simulator=0)
    qc = qc.copy()
    qc.save_statevector()
    return np.asarray(sim.run(transpile(qc, sim, optimization_level=0)).result().get_statevector())


@pytest.mark.parametrize("name,steps", SMALL)
def test_to_qiskit_keeps_blocks_and_state(name, steps):
    c, ref = compiled(name, steps)
    qc = c.to_qiskit(flatten=False)
    ops = dict(qc.count_ops())
    assert BLOCKS <= set(ops), ops                          # named blocks kept as gates
    assert ops["block_encoding"] + ops["block_encoding_dg"] == c.program.meta["degree"]
    assert qc.num_qubits == c.program.num_qubits and qc.num_clbits == 0
    assert 1 - interop.state_overlap(ref, _aer_state(qc)) <= OVERLAP_TOL
    flat = c.to_qiskit(flatten=True)
    assert set(flat.count_ops()) <= set(interop._NATIVE)
    assert dict(flat.count_ops()) == c.program.cost.to_dict() == c.emitted.counts
    assert c.to_qiskit(measure=True).num_clbits == qc.num_qubits


# ---------------------------------------------------------------------------------------------
# PennyLane
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,steps", SMALL)
def test_to_pennylane_keeps_blocks_and_state(name, steps):
    qml = pytest.importorskip("pennylane")
    c, ref = compiled(name, steps)
    fn = c.to_pennylane()
    n = c.program.num_qubits
    ops = fn.operations()
    assert BLOCKS <= {op.name for op in ops}
    be = next(op for op in ops if op.name == "block_encoding")
    # a block's decomposition is its definition: same gates, nested blocks kept as operations
    definition = c.to_qiskit().data[[i.operation.name for i in c.to_qiskit().data].index("block_encoding")]
    assert len(be.decomposition()) == len(definition.operation.definition.data)

    @qml.qnode(qml.device("lightning.qubit", wires=n))
    def state():
        fn()
        return qml.state()

    st = _pl_state_to_qiskit_order(state(), n)
    assert 1 - interop.state_overlap(ref, st) <= OVERLAP_TOL
    counts = qml.specs(state)()["resources"].gate_types
    assert counts["block_encoding"] + counts["block_encoding_dg"] == c.program.meta["degree"]
    assert counts["zero_flip"] == 2 * (c.program.meta["degree"] + 1)


def test_pennylane_resource_estimator_and_to_bloq_see_the_blocks():
    qml = pytest.importorskip("pennylane")
    pytest.importorskip("qualtran")
    from qualtran.resource_counting import QECGatesCost, get_cost_value

    c, _ = compiled("gd_cubic", 1)
    fn = c.to_pennylane()
    est = qml.estimator.estimate(fn)()
    cost = c.program.cost
    gates = {k.name: v for k, v in est.gate_types.items()}
    # PennyLane's estimator expands the blocks by their decompositions: the same Toffolis, CNOTs,
    # Xs and Zs as qdsl's cost record (its rotations it turns into T gates by its own model)
    assert (gates["Toffoli"], gates["CNOT"], gates["X"], gates["Z"]) == \
        (cost["ccx"], cost["cx"], cost["x"], cost["z"]), gates
    zf = next(op for op in fn.operations() if op.name == "zero_flip")
    bloq = qml.to_bloq(zf)
    assert "zero_flip" in str(bloq)
    costs = interop.block_costs(c)["zero_flip"]
    assert get_cost_value(bloq, QECGatesCost()) == interop._qualtran_classes()["qec_counts"](costs)


# ---------------------------------------------------------------------------------------------
# Qualtran
# ---------------------------------------------------------------------------------------------

def _qec_of_counts(counts):
    from qualtran.resource_counting import GateCounts
    return GateCounts(t=counts.get("t", 0) + counts.get("tdg", 0), toffoli=counts.get("ccx", 0),
                      rotation=counts.get("ry", 0) + counts.get("rz", 0),
                      clifford=sum(counts.get(g, 0) for g in ("x", "h", "z", "s", "sdg", "cx")))


@pytest.mark.parametrize("name,steps", SMALL)
def test_to_qualtran_costs_equal_qdsl_resources(name, steps):
    pytest.importorskip("qualtran")
    from qualtran.resource_counting import QECGatesCost, get_bloq_call_graph, get_cost_value

    c, _ = compiled(name, steps)
    bloq = c.to_qualtran()
    rep = qdsl.resources(c)
    assert rep.method == "counted"               # the gates of the emitted file
    got = get_cost_value(bloq, QECGatesCost())
    assert got == _qec_of_counts(rep.counts), (got, rep.counts)
    # Qualtran sees the blocks by name, each called as often as the circuit calls it
    _, sigma = get_bloq_call_graph(bloq, max_depth=1)
    calls = {}
    for b, k in sigma.items():
        calls[getattr(b, "name", type(b).__name__)] = calls.get(getattr(b, "name", type(b).__name__), 0) + k
    d = c.program.meta["degree"]
    assert calls["zero_flip"] == 2 * (d + 1)
    assert calls["block_encoding"] + calls["block_encoding_dg"] == d


def test_qualtran_block_records_match_their_own_decompositions():
    """Each block's cost record (from the synthesizer's cost function) against Qualtran's count of
    the same block's gate-by-gate decomposition (no record attached): two routes to one number."""
    pytest.importorskip("qualtran")
    from qualtran.resource_counting import QECGatesCost, get_cost_value

    c, _ = compiled("gd_cubic", 1)
    QdslBlock = interop._qualtran_classes()["QdslBlock"]
    qec = interop._qualtran_classes()["qec_counts"]
    top = c.to_qiskit()
    seen = set()
    for inst in top.data:
        op = inst.operation
        if op.name in BLOCKS and op.name not in seen:
            seen.add(op.name)
            bare = QdslBlock(name=op.name, n=op.num_qubits, cost=None, definition=op.definition)
            assert get_cost_value(bare, QECGatesCost()) == qec(interop.block_costs(c)[op.name]), op.name
    assert seen == BLOCKS


def test_qualtran_musical_score_draws():
    pytest.importorskip("qualtran")
    from qualtran.drawing import draw_musical_score, get_musical_score_data

    c, _ = compiled("gd_cubic", 1)
    cbloq = c.to_qualtran().decompose_bloq()
    fig, ax = draw_musical_score(get_musical_score_data(cbloq))
    labels = {t.get_text() for t in ax.texts}
    assert {"zero_flip", "block_encoding", "state_prep"} & labels, sorted(labels)[:20]


def _qualtran_state(bloq):
    import cirq

    n = bloq.n
    qs = cirq.LineQubit.range(n)
    circuit, _ = bloq.decompose_bloq().flatten().to_cirq_circuit_and_quregs(q=np.array(qs).reshape(n, 1))
    st = cirq.final_state_vector(circuit, qubit_order=qs, dtype=np.complex128)
    return _pl_state_to_qiskit_order(st, n)


@pytest.mark.parametrize("name,steps", SMALL)
def test_to_qualtran_state(name, steps):
    """Qualtran's decomposition of the wrapped program (blocks into its basic gates), converted
    to Cirq by Qualtran and simulated by Cirq, against qdsl's simulator (one step: seconds)."""
    pytest.importorskip("qualtran")
    c, ref = compiled(name, steps)
    assert 1 - interop.state_overlap(ref, _qualtran_state(c.to_qualtran())) <= OVERLAP_TOL


@pytest.mark.slow
@pytest.mark.parametrize("name,steps", FULL)
def test_bridges_full_examples(name, steps):
    """The three bridges on the examples as written (tens of seconds each)."""
    c, ref = compiled(name, steps)
    assert 1 - interop.state_overlap(ref, _aer_state(c.to_qiskit())) <= OVERLAP_TOL
    qml = pytest.importorskip("pennylane")
    fn = c.to_pennylane()
    n = c.program.num_qubits

    @qml.qnode(qml.device("lightning.qubit", wires=n))
    def state():
        fn()
        return qml.state()

    assert 1 - interop.state_overlap(ref, _pl_state_to_qiskit_order(state(), n)) <= OVERLAP_TOL
    pytest.importorskip("qualtran")
    assert 1 - interop.state_overlap(ref, _qualtran_state(c.to_qualtran())) <= OVERLAP_TOL


# ---------------------------------------------------------------------------------------------
# refusals and QIR
# ---------------------------------------------------------------------------------------------

def test_qualtran_refuses_hhl_with_a_diagnostic():
    c = qdsl.compile(str(ROOT / "examples" / "cubic_decay.qd"))
    with pytest.raises(CompileError) as e:
        interop.block_costs(c)
    assert e.value.diagnostics[0].code == "E0806"
    ct = qdsl.compile(str(ROOT / "examples" / "gd_cubic.qd"), gate_basis="clifford+t")
    with pytest.raises(CompileError) as e:
        ct.to_qualtran()
    assert e.value.diagnostics[0].code == "E0806" and "native" in e.value.diagnostics[0].help


@pytest.mark.parametrize("module,call", [("pennylane", "to_pennylane"), ("qualtran", "to_qualtran"),
                                         ("qdk", "to_qir")])
def test_missing_optional_package_is_a_diagnostic(monkeypatch, module, call):
    c, _ = compiled("gd_cubic", 1)
    monkeypatch.setitem(sys.modules, module, None)     # import fails as if not installed
    if module == "qdk":
        monkeypatch.setitem(sys.modules, "qdk.openqasm", None)
    with pytest.raises(CompileError) as e:
        getattr(c, call)()
    d = e.value.diagnostics[0]
    assert d.code == "E0805" and f"qdsl-compiler[{module}]" in d.help


def test_compile_emit_qir(tmp_path, monkeypatch):
    pytest.importorskip("qdk")
    from qdsl.cli import main

    monkeypatch.chdir(tmp_path)
    src = str(ROOT / "examples" / "gd_cubic.qd")
    assert main(["compile", src, "--steps", "1", "--emit", "qir", "-o", "gd.ll", "--quiet"]) == 0
    text = (tmp_path / "gd.ll").read_text()
    assert text.startswith("; generated by qdsl")
    c, _ = compiled("gd_cubic", 1)
    n = c.program.num_qubits
    # every gate of the OpenQASM 3 file is one call in the QIR, one measurement per qubit
    import re
    calls = re.findall(r"call void @__quantum__qis__(\w+?)__body", text)
    got = {}
    for g in calls:
        got[g] = got.get(g, 0) + 1
    assert got.pop("m") == n
    assert got == c.emitted.counts
    # our own file is overwritten on the next run; a user's file is not
    assert main(["compile", src, "--steps", "1", "--emit", "qir", "-o", "gd.ll", "--quiet"]) == 0
    (tmp_path / "mine.ll").write_text("; my own QIR\n")
    assert main(["compile", src, "--steps", "1", "--emit", "qir", "-o", "mine.ll", "--quiet"]) == 2
    assert (tmp_path / "mine.ll").read_text() == "; my own QIR\n"
    assert main(["compile", src, "--emit", "qir", "-o", "x.ll", "--readout", "signed", "--quiet"]) == 2
    # QIR inlines every gate: over the limit, refused up front (exit 3) and nothing written
    monkeypatch.setattr(interop, "QIR_MAX_GATES", sum(c.emitted.counts.values()) - 1)
    assert main(["compile", src, "--steps", "1", "--emit", "qir", "-o", "big.ll", "--quiet"]) == 3
    assert not (tmp_path / "big.ll").exists()
    with pytest.raises(ValueError):
        c.to_qir(profile="unrestricted")


# ---------------------------------------------------------------------------------------------
# the block-level drawing
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gd_cubic", "cubic_decay"])
def test_draw_fits_a_screen_and_names_the_blocks(name):
    c = qdsl.compile(str(ROOT / "examples" / f"{name}.qd"))
    text = str(c.draw())
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 120 and len(lines) <= 45
    want = {"state_prep", "zero_flip", "block_encoding_dg"} if c.solver == "qsvt" else {"hhl_invert", "hhl_qft"}
    assert all(w in text for w in want)
    if c.solver == "qsvt":
        assert f"×{c.program.meta['degree'] - 1} " in text   # the periods not drawn are counted


def test_draw_mpl_returns_a_figure():
    pytest.importorskip("pylatexenc")
    from matplotlib.figure import Figure

    c, _ = compiled("gd_cubic", 1)
    assert isinstance(c.draw("mpl"), Figure)
