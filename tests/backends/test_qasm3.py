"""OpenQASM 3 emission: SPEC §4 rules, round trips through both parsers, Clifford+T."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qdsl import tolerances as tol
from qdsl.backends import qasm3

REPO = Path(__file__).resolve().parents[2]


def _sv(circuit):
    from qdsl.backends.qiskit_sim import _numpy_statevector

    qc = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit
    return _numpy_statevector(qc)


def _same_state(a, b, atol=1e-9):
    ov = np.vdot(a, b)
    return abs(abs(ov) - 1) < atol and np.linalg.norm(a * ov / abs(ov) - b) < 1e-6


def test_one_register_and_final_measurements(cubic_qasm, cubic_program):
    text = cubic_qasm.text
    n = cubic_program.num_qubits
    assert re.findall(r"^qubit\[(\d+)\] (\w+);$", text, re.M) == [(str(n), "q")]
    assert len(re.findall(r"^\s*qubit\b", text, re.M)) == 1
    assert re.findall(r"^bit\[(\d+)\] c;$", text, re.M) == [str(n)]
    tail = text.rstrip().splitlines()[-n:]
    assert tail == [f"c[{i}] = measure q[{i}];" for i in range(n)]


def test_reference_parser_and_qiskit_accept(cubic_qasm, cubic_program):
    import qiskit.qasm3

    prog = qasm3.validate(cubic_qasm.text)
    assert prog.statements
    qc = qasm3.load(cubic_qasm.text)           # the emitter's own format: shared definitions
    assert qc.num_qubits == cubic_program.num_qubits
    assert _same_state(_sv(qc), _sv(cubic_program.circuit))
    by_qiskit = qiskit.qasm3.loads(cubic_qasm.text)
    assert _same_state(_sv(by_qiskit), _sv(qc))


def test_named_blocks_are_gate_definitions(cubic_qasm):
    defined = qasm3.defined_gates(cubic_qasm.text)
    assert {"hhl_eigbasis", "hhl_invert", "hhl_iqft", "hhl_cevolve_0"} <= defined
    assert cubic_qasm.gate_definitions == len(defined)
    # called by name at top level, not inlined: the top level is short
    body = cubic_qasm.text.split("qubit[", 1)[1]
    assert len(body.splitlines()) < 100
    called = qasm3.gate_names(cubic_qasm.text)
    assert called - defined <= set(qasm3.NATIVE_BASIS)


def test_counts_are_flattened_native_counts(cubic_qasm, cubic_program):
    assert cubic_qasm.counts == cubic_program.declared


_EMIT = """
import hashlib, sys
sys.path.insert(0, {tests!r})
from linear_systems import cubic_system
from qdsl.synthesis.hhl import synthesize_hhl
from qdsl.backends.qasm3 import emit
print(hashlib.sha256(emit(synthesize_hhl(cubic_system(), clock=6, variant="oracle")).encode()).hexdigest())
"""


def test_byte_identical_across_processes(cubic_qasm):
    code = _EMIT.format(tests=str(Path(__file__).parents[1]))
    digests = set()
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                             check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
    assert digests == {hashlib.sha256(cubic_qasm.text.encode()).hexdigest()}


def test_no_ids_or_random_names(cubic_qasm):
    assert not re.search(r"_\d{6,}", cubic_qasm.text)


def test_library_gates_that_qiskit_cannot_export():
    """UnitaryGate and complex StatePreparation make Qiskit's exporter fail; emit lowers them."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation, UnitaryGate
    from scipy.stats import unitary_group

    rng = np.random.default_rng(2)
    v = rng.normal(size=4) + 1j * rng.normal(size=4)
    v /= np.linalg.norm(v)
    u = UnitaryGate(unitary_group.rvs(4, random_state=3))
    qc = QuantumCircuit(3)
    qc.append(StatePreparation(v), [0, 1])
    qc.append(u, [1, 2])
    qc.append(u, [0, 2])
    qc.mcx([0, 1], 2)
    qc.cp(0.3, 0, 2)
    text = qasm3.emit(qc)
    qasm3.validate(text)
    assert "unitary" in qasm3.defined_gates(text)
    assert text.count("gate unitary ") == 1  # the repeated gate is defined once
    assert _same_state(_sv(qasm3.load(text)), _sv(qc))


def test_distinct_gates_with_one_name_get_distinct_definitions():
    from qiskit import QuantumCircuit
    from qiskit.circuit import Gate

    def blk(theta):
        d = QuantumCircuit(2)
        d.h(0)
        d.cx(0, 1)
        d.rz(theta, 1)
        g = Gate("blk", 2, [])
        g.definition = d
        return g

    qc = QuantumCircuit(2)
    qc.append(blk(0.1), [0, 1])
    qc.append(blk(0.1), [1, 0])
    qc.append(blk(0.2), [0, 1])
    text = qasm3.emit(qc)
    assert qasm3.defined_gates(text) == {"blk", "blk_1"}
    assert _same_state(_sv(qasm3.load(text)), _sv(qc))


def test_validate_rejects_garbage():
    with pytest.raises(qasm3.QasmValidationError, match="reference parser"):
        qasm3.validate("OPENQASM 3.0;\nqubit[2] q;\nh q[0]\ncx q[0] q[1];\n")


def test_unknown_basis():
    from qiskit import QuantumCircuit

    from qdsl.diagnostics import CompileError

    with pytest.raises(CompileError):
        qasm3.emit(QuantumCircuit(1), basis="rigetti")


CLIFFORD_T = {"h", "s", "sdg", "t", "tdg", "x", "y", "z", "cx"}


def _gate_calls(text):
    """Every gate name called anywhere (regex, independent of the AST walk)."""
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("OPENQASM", "include", "gate ", "}", "bit", "qubit", "//")):
            continue
        if "measure" in line:
            continue
        names.add(re.match(r"([A-Za-z_]\w*)", line).group(1))
    return names


def test_clifford_t_small_circuit():
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(3)
    qc.h(0)
    qc.ry(0.3, 1)
    qc.cx(0, 1)
    qc.rz(0.77, 2)
    qc.ccx(0, 1, 2)
    qc.cp(0.4, 0, 2)
    qc.ry(np.pi / 2, 0)
    qc.sx(2)
    r = qasm3.emit_with_info(qc, basis="clifford+t", precision=1e-8)
    qasm3.validate(r.text)
    calls = _gate_calls(r.text)
    defined = qasm3.defined_gates(r.text)
    assert calls - defined <= CLIFFORD_T
    assert qasm3.gate_names(r.text) - defined <= CLIFFORD_T
    assert r.precision == 1e-8 and r.rotations > 0 and r.t_count > 0
    assert r.error_bound == pytest.approx(r.rotations * 1e-8)
    assert set(r.counts) <= CLIFFORD_T
    a, b = _sv(qasm3.load(r.text)), _sv(qc)
    ov = np.vdot(b, a)
    assert np.linalg.norm(a * abs(ov) / ov - b) <= 2 * r.error_bound


@pytest.mark.parametrize("precision", [1e-4, pytest.param(1e-8, marks=pytest.mark.slow)])
def test_clifford_t_hhl_still_solves(scalar_program, precision):
    """A whole (small) HHL circuit in Clifford+T decodes within the stated precision."""
    from qdsl.backends.qiskit_sim import simulate

    r = qasm3.emit_with_info(scalar_program, basis="clifford+t", precision=precision)
    calls = qasm3.gate_names(r.text)
    assert calls - qasm3.defined_gates(r.text) <= CLIFFORD_T
    assert set(r.counts) <= CLIFFORD_T
    qc = qasm3.load(r.text)
    exact = simulate(scalar_program)
    approx = simulate(qc, scalar_program.readout, scalar_program.linear_system)
    # the two circuits' states differ by δ ≤ error_bound (operator norm) + both simulations'
    # rounding; p = ‖Πψ‖² moves by ≤ 2δ + δ², the post-selected state by 2δ/√p, and the decoded
    # θ by the readout bound of that (tolerances.readout_error, A and r from a scipy solve)
    from bounds import exact as exact_solution, readout_bound, two_simulators
    delta = r.error_bound + two_simulators(sum(r.counts.values()), width=2)
    assert abs(approx.success_probability - exact.success_probability) <= 2 * delta + delta ** 2
    eps = tol.postselected_error(delta, exact.success_probability)
    assert approx.fidelity >= exact.fidelity - 2 * eps
    ref = exact_solution(scalar_program.linear_system)
    err = np.abs(approx.trajectory - exact.trajectory)
    assert np.all(err <= readout_bound(ref, eps)), float(np.max(err / readout_bound(ref, eps)))


_EMIT_CT = """
import hashlib, sys
import numpy as np
from qiskit import QuantumCircuit
from qdsl.backends.qasm3 import emit
qc = QuantumCircuit(2)
for k in range(12):
    qc.ry(0.1 + 0.37 * k, k % 2)
    qc.cx(k % 2, 1 - k % 2)
    qc.rz(0.05 * k - 0.4, 1)
print(hashlib.sha256(emit(qc, basis="clifford+t", precision=1e-6).encode()).hexdigest())
"""


def test_clifford_t_byte_identical_across_processes():
    digests = {subprocess.run([sys.executable, "-c", _EMIT_CT], capture_output=True, text=True,
                              cwd=REPO, check=True).stdout.strip() for _ in range(2)}
    assert len(digests) == 1
