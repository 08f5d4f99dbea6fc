"""Gidney's And / And† (qdsl.synthesis.blocks.and_gate) in the ladders that use them — MCX,
increment, unary iteration, the uniform superposition, the rotation by a phase gradient — executed with real mid-circuit measurements: each block is emitted to
OpenQASM 3, accepted by both parsers, loaded back and simulated by the sparse simulator, the dense
path, the tests' reference simulator and Aer; the And† outcome is forced both ways and the final
states agree to 1e-12 (the fix-up makes the state independent of the outcome) and equal the
unitary reference (numpy truth tables on a superposition of inputs)."""
import numpy as np
import pytest
from qiskit import QuantumCircuit

from qdsl.synthesis.blocks.and_gate import AND_WORD, unitary_uncompute
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.increment import increment, increment_cost, increment_work
from qdsl.synthesis.blocks.lookup import UnaryIteration
from qdsl.synthesis.blocks.mcx import mcx, mcx_cost, mcx_work
from qdsl.synthesis.blocks.phase_gradient import prepare_gradient, ry_by_register, ry_by_register_work
from qdsl.synthesis.blocks.uniform import UniformState


@pytest.fixture(autouse=True)
def _measured_uncomputation():
    """Blocks built with And / And† (measured uncomputation; the default is Toffoli pairs)."""
    from qdsl.synthesis.blocks.and_gate import measurement_uncompute

    with measurement_uncompute():
        yield

# exactness: every amplitude is a product of ≤ n factors 1/√2 and a few dozen gates; 1e-12 is
# rounding with ample room (no approximation anywhere in the construction)
TOL = 1e-12


def test_and_word_is_the_toffoli_on_a_clean_target():
    from qiskit.quantum_info import Operator

    qc = QuantumCircuit(3)
    for g, qs in AND_WORD:
        getattr(qc, g)(*qs)
    U = Operator(qc).data
    assert sum(g in ("t", "tdg") for g, _ in AND_WORD) == 4
    for a in range(2):
        for b in range(2):
            col = U[:, a | (b << 1)]
            want = np.zeros(8)
            want[a | (b << 1) | ((a & b) << 2)] = 1
            assert np.max(np.abs(col - want)) < TOL


def _superposed(n_in, build, n):
    """H on the first n_in qubits, then the block."""
    qc = QuantumCircuit(n)
    for q in range(n_in):
        qc.h(q)
    build(qc)
    return qc


def _cases():
    # MCX, 5 controls (two on |0⟩), 3 clean work qubits
    k = 5
    def b_mcx(qc):
        mcx(qc, list(range(k)), k, values=[1, 0, 1, 1, 0], work=list(range(k + 1, k + 1 + mcx_work(k))))
    yield "mcx", k, b_mcx, k + 1 + mcx_work(k), lambda: mcx_cost(k, 2)
    # controlled increment of a 4-bit register: ctrl = qubit 0, register 1..4, work 5..7
    m = 4
    def b_inc(qc):
        increment(qc, 0, list(range(1, m + 1)), list(range(m + 1, m + 1 + increment_work(m))))
    yield "increment", m + 1, b_inc, m + 1 + increment_work(m), lambda: increment_cost(m)
    # controlled lookup of 6 items on 3 address bits writing 3-bit words
    it = UnaryIteration(3, list(range(6)))
    data = [5, 3, 6, 1, 7, 2]
    def b_lookup(qc):
        def leaf(qc, q, item):
            for j in range(3):
                if (data[item[0]] >> j) & 1:
                    qc.cx(q, 4 + it.work + j)
        it.build(qc, 3, [0, 1, 2], list(range(4, 4 + it.work)), leaf)
    yield "lookup", 4, b_lookup, 4 + it.work + 3, None
    # uniform superposition over 100 states (L = 25: both ladders), from |0⟩
    P = UniformState(100)
    def b_uniform(qc):
        P.build(qc, range(P.num_qubits), range(P.num_qubits, P.num_qubits + P.work))
    yield "uniform", 0, b_uniform, P.num_qubits + P.work, P.cost
    # RY by a 3-bit register through a prepared phase gradient: f and d superposed
    b = 3
    f, d, g = 0, [1, 2, 3], [4, 5, 6]
    def b_gradient(qc):
        prepare_gradient(qc, g)
        ry_by_register(qc, f, d, g, list(range(7, 7 + ry_by_register_work(b))))
    yield "phase_gradient", 4, b_gradient, 7 + ry_by_register_work(b), None


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: c[0])
def test_measured_uncomputation_is_exact_for_both_outcomes(case):
    from qiskit.quantum_info import Statevector

    import qiskit.qasm3
    import reference_sim
    from qdsl.backends.qasm3 import emit, load_emitted, validate
    from qdsl.backends.qiskit_sim import _numpy_midcircuit
    from qdsl.backends.sparse_sim import sparse_statevector

    name, n_in, build, n, cost = case
    qc = _superposed(n_in, build, n)
    if cost is not None:
        assert count_circuit(qc) == cost() + count_circuit(_superposed(n_in, lambda q: None, n))
    assert count_circuit(qc)["and_dg"] > 0
    # the unitary reference: the same block with Toffoli uncomputation
    with unitary_uncompute():
        ref = Statevector(_superposed(n_in, build, n)).data
    text = emit(qc)
    assert "measure q[" in text and "if (and_m)" in text
    validate(text)                                    # the OpenQASM 3 reference parser
    loaded_q = qiskit.qasm3.loads(text)               # Qiskit's importer
    import warnings
    with warnings.catch_warnings():   # Qiskit's Rust importer (an independent decoder's first try)
        warnings.simplefilter("ignore")   # handles no `if` yet: it must fail catchably, so the
        try:                              # caller falls back to qiskit.qasm3.loads
            rust = qiskit.qasm3.loads_experimental(text)
            assert rust.count_ops().get("if_else", 0) == count_circuit(qc)["and_dg"]
        except Exception:
            pass
    assert loaded_q.count_ops()["if_else"] == count_circuit(qc)["and_dg"]
    loaded = load_emitted(text)
    assert loaded is not None
    body = loaded.remove_final_measurements(inplace=False)
    for forced in (0, 1):
        st = sparse_statevector(body, forced=forced)
        assert np.max(np.abs(st.to_dense(n) - ref)) < TOL
        dense = _numpy_midcircuit(body, forced=forced)
        assert np.max(np.abs(dense - ref)) < TOL
    keys, amps, dropped = reference_sim.sparse_statevector(loaded_q.remove_final_measurements(inplace=False))
    out = np.zeros(1 << n, complex)
    out[keys] = amps
    assert np.max(np.abs(out - ref)) < TOL + dropped


def test_aer_executes_the_measurements():
    from qiskit import transpile
    from qiskit.quantum_info import Statevector
    from qiskit_aer import AerSimulator

    from qdsl.backends.qasm3 import emit, load_emitted

    name, n_in, build, n, cost = next(_cases())
    with unitary_uncompute():
        ref = Statevector(_superposed(n_in, build, n)).data
    loaded = load_emitted(emit(_superposed(n_in, build, n))).remove_final_measurements(inplace=False)
    sim = AerSimulator(method="statevector")
    for seed in (1, 2, 3):
        qc = loaded.copy()
        qc.save_statevector()
        sv = np.asarray(sim.run(transpile(qc, sim, optimization_level=0), seed_simulator=seed)
                        .result().get_statevector())
        assert np.max(np.abs(sv - ref)) < 1e-10   # Aer computes in its own order: 1e-10


@pytest.mark.parametrize("k", [3, 10, 40])
def test_mcx_and_counts(k):
    """k − 2 And, k − 2 And†, one Toffoli: k − 1 Toffoli-equivalents, 4(k − 1) T states."""
    qc = QuantumCircuit(k + 1 + mcx_work(k))
    mcx(qc, list(range(k)), k, work=list(range(k + 1, qc.num_qubits)))
    c = count_circuit(qc)
    assert c == mcx_cost(k)
    assert c.toffoli_equivalents == k - 1 and c.t_states == 4 * (k - 1) and c.measurements == k - 2


@pytest.mark.parametrize("m", [2, 8, 32])
def test_increment_and_counts(m):
    qc = QuantumCircuit(1 + m + increment_work(m))
    increment(qc, 0, list(range(1, m + 1)), list(range(m + 1, qc.num_qubits)))
    c = count_circuit(qc)
    assert c == increment_cost(m) and c["and"] == m - 1 and c["ccx"] == 0


def test_inverse_swaps_and_and_and_dg():
    """(And·V·And†)† = And·V†·And†: the inverse keeps compute/uncompute pairs."""
    qc = QuantumCircuit(7)
    mcx(qc, [0, 1, 2, 3], 4, work=[5, 6])
    inv = qc.inverse()
    names = [i.operation.name for i in inv.data]
    assert names == ["and", "and", "ccx", "and_dg", "and_dg"]


def test_qsvt_measures_only_where_the_file_stays_small(monkeypatch):
    """QSVT writes a block holding an And† at each of its d calls (a `gate` cannot measure), so it
    uses measured uncomputation only while that file stays within INLINE_FACTOR of the one with
    Toffoli pairs: gd_cubic (d = 63) keeps Toffolis and says why; with the factor lifted the same
    model compiles with And / And†, its emitted file holds the measurements, and `run` verifies
    it from that file (loaded back, simulated through the mid-circuit measurements)."""
    from pathlib import Path

    import qdsl
    import qdsl.synthesis.qsvt as Q
    from qdsl.backends.qasm3 import load_emitted
    from qdsl.synthesis.blocks import and_gate
    from qdsl.synthesis.blocks.and_gate import and_mode

    ex = Path(__file__).resolve().parents[3] / "examples" / "gd_cubic.qd"
    tok = and_gate._MODE.set("unitary")     # the compiler's default (this module's fixture measures)
    try:
        plain = qdsl.compile(str(ex)).program
        u = plain.meta["block_encoding"]["uncomputation"]
        assert u["method"] == "toffoli"
        assert u["file_instructions_measured"] > Q.INLINE_FACTOR * u["file_instructions_toffoli"]
        assert "and_dg" not in plain.meta["block_encoding"]["cost_per_call"]
        monkeypatch.setattr(Q, "INLINE_FACTOR", 1e6)
        c = qdsl.compile(str(ex))
        be = c.program.meta["block_encoding"]
        assert be["uncomputation"]["method"] == "measurement (And†)"
        assert be["cost_per_call"]["and_dg"] > 0 and be["cost_per_call"]["and"] > 0
        assert count_circuit(c.program.circuit) == c.program.cost      # the record is the circuit
        counts = c.report["circuit"]["counts"]
        assert counts["and"] == c.program.cost["and"] and counts["and_dg"] == c.program.cost["and_dg"]
        assert "if (and_m)" in c.qasm
        loaded = load_emitted(c.qasm)
        assert loaded.count_ops()["if_else"] == c.program.cost["and_dg"]
        assert c.run().verified
        assert and_mode() == "unitary"       # the measured rebuild's mode does not leak
    finally:
        and_gate._MODE.reset(tok)


def test_uncompute_option_forces_either_choice(tmp_path):
    """--uncompute measure writes gd_cubic with And / And† whatever the file's size (and records
    what was asked); --uncompute toffoli and the default keep Toffoli pairs; the emitted file of the
    measured compile holds the measurements its report counts."""
    import json
    from pathlib import Path

    from qdsl.cli import main
    from qdsl.synthesis.blocks import and_gate

    ex = Path(__file__).resolve().parents[3] / "examples" / "gd_cubic.qd"
    tok = and_gate._MODE.set("unitary")     # the compiler's default (this module's fixture measures)
    try:
        for mode, method in (("measure", "measurement (And†)"), ("toffoli", "toffoli"),
                             ("auto", "toffoli")):
            out, rep = tmp_path / f"{mode}.qasm", tmp_path / f"{mode}.json"
            assert main(["compile", str(ex), "--uncompute", mode, "-o", str(out), "--report", str(rep)]) == 0
            r = json.loads(rep.read_text())
            u = r["circuit"]["construction"]["uncomputation"]
            assert (u["method"], u["requested"]) == (method, mode)
            text = out.read_text()
            assert text.count("if (and_m)") == r["circuit"]["counts"].get("and_dg", 0)
            assert (text.count("if (and_m)") > 0) == (mode == "measure")
    finally:
        and_gate._MODE.reset(tok)
