"""The exact sparse simulator (qdsl.backends.sparse_sim) against Qiskit's Statevector."""
import numpy as np
import pytest
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Statevector

from qdsl.backends.sparse_sim import PRUNE, sparse_statevector


@pytest.mark.parametrize("seed", range(20))
def test_random_circuits(seed):
    qc = random_circuit(6, 10, max_operands=3, seed=seed)
    qc.remove_final_measurements()
    want = Statevector(qc).data
    got = sparse_statevector(qc).to_dense(6)
    # ~60 gates: rounding ~ G·u, plus at most PRUNE per dropped amplitude
    assert np.max(np.abs(got - want)) < 60 * (16 * np.finfo(float).eps + PRUNE)


def test_support_limit():
    from qiskit import QuantumCircuit
    qc = QuantumCircuit(12)
    qc.h(range(12))
    with pytest.raises(OverflowError):
        sparse_statevector(qc, max_support=100)
