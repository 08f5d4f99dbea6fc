"""The Frobenius-norm block-encoding (qdsl.synthesis.blocks.frobenius): the flagged block is A/‖A‖_F
on every code (padding codes give 0), nothing leaks, the control off is the identity, and
count == cost — against a dense numpy reference."""
import numpy as np
import pytest
from qiskit import QuantumCircuit

from flagged import flagged_block
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.frobenius import FrobeniusAccess
from qdsl.synthesis.blocks.sparse_access import SparseAccess

# amplitudes pass through O(10³) rotations in double precision: 1e3·u bounds the rounding
TOL = 1e3 * np.finfo(float).eps


@pytest.mark.parametrize("n,w,density,seed", [(3, 2, 1.0, 0), (5, 3, 1.0, 1), (6, 3, 0.5, 2),
                                              (4, 2, 1.0, 3), (7, 3, 0.8, 4)])
@pytest.mark.parametrize("controlled", [True, False])
def test_flagged_block_is_A_over_frobenius_norm(n, w, density, seed, controlled):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) * (rng.random((n, n)) < density)
    A[:, 1] = 0.0                          # a zero column: the tree may drop its controls
    B = FrobeniusAccess(A, width=w)
    assert B.alpha == pytest.approx(np.linalg.norm(A), rel=1e-15)
    nq = 2 * w + int(controlled)
    reg, flags = list(range(w)), list(range(w, 2 * w))
    ctrl = 2 * w if controlled else None
    qc = QuantumCircuit(nq)
    B.build(qc, reg, flags, ctrl=ctrl)
    assert count_circuit(qc) == B.cost(controlled)
    basis = list(range(1 << w))
    M, leak = flagged_block(qc, basis, basis, flags, {ctrl: 1} if controlled else {})
    ref = np.zeros((1 << w, 1 << w))
    ref[:n, :n] = A
    assert np.max(np.abs(M - ref / B.alpha)) < TOL and leak < TOL
    if controlled:   # the control off: the identity, flags untouched
        M0, leak0 = flagged_block(qc, basis, basis, flags, {ctrl: 0})
        assert np.max(np.abs(M0 - np.eye(1 << w))) < TOL and leak0 < TOL


def test_dense_block_alpha_far_below_sparse_access():
    """A dense 20 × 20 block with large off-diagonal entries of both signs: ‖·‖_F is less than
    half the colouring's Σ_c max (each of the 20 colours meets an entry near the largest)."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((20, 20))
    r, c = np.nonzero(A)
    sa = SparseAccess(r, c, A[r, c], col_width=5, row_width=5, square=True)
    fa = FrobeniusAccess(A, width=5)
    assert fa.alpha == pytest.approx(np.linalg.norm(A), rel=1e-14)
    assert fa.alpha < sa.alpha / 2
