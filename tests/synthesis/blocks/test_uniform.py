"""Uniform state preparation by one round of amplitude amplification (qdsl.synthesis.blocks.uniform):
the state is Σ_{j<s}|j⟩/√s with every work qubit back in |0⟩ — the full statevector against numpy,
so every work qubit ends in |0⟩ with amplitude one, up to the stated global phase — and
count == cost, 4(m − 1) Toffolis and two rotations."""
import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.uniform import UniformState

# O(100) gates in double precision (the angle θ from acos, exact to an ulp): 1e3·u with margin
TOL = 1e3 * np.finfo(float).eps


@pytest.mark.parametrize("s", list(range(1, 34)) + [40, 48, 77, 100])
def test_exact_uniform_state_and_clean_work(s):
    P = UniformState(s)
    n = P.num_qubits
    qc = QuantumCircuit(n + P.work)
    P.build(qc, range(n), range(n, n + P.work))
    assert count_circuit(qc) == P.cost()
    got = Statevector(qc).data * np.exp(-1j * P.global_phase)
    want = np.zeros(1 << (n + P.work))
    want[:s] = 1 / np.sqrt(s)
    assert np.max(np.abs(got - want)) < TOL          # exact amplitudes, work in |0⟩


@pytest.mark.parametrize("s,m", [(3, 2), (5, 3), (1000, 7), (10 ** 4, 10), (777, 10)])
def test_cost_is_logarithmic(s, m):
    P = UniformState(s)
    assert P.m == m
    c = P.cost()
    assert c["ccx"] == 4 * (m - 1)
    assert c.rotations == 2 and c["t"] == 0


def test_wider_register_and_errors():
    P = UniformState(6, 5)
    qc = QuantumCircuit(5 + P.work)
    P.build(qc, range(5), range(5, 5 + P.work))
    want = np.zeros(1 << (5 + P.work))
    want[:6] = 1 / np.sqrt(6)
    assert np.max(np.abs(Statevector(qc).data * np.exp(-1j * P.global_phase) - want)) < TOL
    with pytest.raises(ValueError):
        UniformState(0)
    with pytest.raises(ValueError):
        UniformState(9, 3)
