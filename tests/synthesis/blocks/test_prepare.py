"""State preparation (qdsl.synthesis.blocks.prepare): amplitudes, the controlled form, and
count == cost, against Qiskit's Statevector."""
import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.prepare import PrepareState, uniform

# the state is built by ≤ 2^k rotations and CNOTs in double precision: each gate moves the state by
# at most a few ulps, so 2^k·16·u bounds the error with room to spare (k ≤ 6 here)
def tol(k):
    return (1 << (k + 4)) * np.finfo(float).eps


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("kind", ["dense", "sparse", "half"])
@pytest.mark.parametrize("controlled", [False, True])
def test_amplitudes_and_cost(k, kind, controlled):
    rng = np.random.default_rng(10 * k + len(kind))
    a = rng.standard_normal(1 << k)
    if kind == "sparse":
        a[rng.random(a.size) < 0.6] = 0.0
        a[1] = 0.7
    if kind == "half":
        a[a.size // 2:] = 0.0
    P = PrepareState(a)
    qc = QuantumCircuit(k + 1)
    P.build(qc, list(range(k)), ctrl=k if controlled else None)
    assert count_circuit(qc) == P.cost(controlled)
    want = a / np.linalg.norm(a)
    if controlled:
        off = Statevector.from_int(0, 1 << (k + 1)).evolve(qc).data
        assert abs(off[0] - 1) < tol(k)
        got = Statevector.from_int(1 << k, 1 << (k + 1)).evolve(qc).data[1 << k:]
    else:
        got = Statevector.from_int(0, 1 << (k + 1)).evolve(qc).data[: 1 << k]
    assert np.max(np.abs(got - want)) < tol(k)


@pytest.mark.parametrize("s", [1, 2, 3, 5, 6, 8, 11])
def test_uniform(s):
    """uniform(): the amplitude-amplified preparation (test_uniform.py has the full checks)."""
    P = uniform(s, 4)
    qc = QuantumCircuit(4 + P.work)
    P.build(qc, range(4), range(4, 4 + P.work))
    got = Statevector(qc).data * np.exp(-1j * P.global_phase)
    want = np.r_[np.ones(s), np.zeros((1 << (4 + P.work)) - s)] / np.sqrt(s)
    assert np.max(np.abs(got - want)) < tol(4)
    if s & (s - 1) == 0:   # a power of two: log₂ s Hadamards, nothing else
        assert P.cost() == {"h": s.bit_length() - 1} and P.work == 0


def test_inverse_undoes_the_preparation():
    P = PrepareState([0.3, -0.1, 0.0, 0.9, 0.2])
    qc = QuantumCircuit(3)
    P.build(qc, range(3))
    P.build_inverse(qc, range(3))
    assert abs(Statevector(qc).data[0] - 1) < tol(3)
