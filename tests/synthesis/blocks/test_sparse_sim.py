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


def test_controlled_rotations_of_the_blocks():
    """The blocks' entry rotations (RY·CX·RY·CX, simulated as one controlled RY) on a sparse-access
    block-encoding, from a superposition input, against Statevector."""
    from qiskit import QuantumCircuit

    from qdsl.synthesis.blocks.sparse_access import SparseAccess

    rng = np.random.default_rng(4)
    r, c = np.nonzero(rng.random((4, 4)) < 0.5)
    B = SparseAccess(r, c, rng.standard_normal(r.size), col_width=2, row_width=2)
    n = 2 + 2 + B.color_width + 1 + B.work + 1
    qc = QuantumCircuit(n)
    qc.h([0, 1, n - 1])
    B.build(qc, [0, 1], [2, 3], list(range(4, 4 + B.color_width)), 4 + B.color_width,
            list(range(5 + B.color_width, n - 1)), ctrl=n - 1)
    want = Statevector(qc).data
    got = sparse_statevector(qc).to_dense(n)
    assert np.max(np.abs(got - want)) < len(qc.data) * (16 * np.finfo(float).eps + PRUNE)
