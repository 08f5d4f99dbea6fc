"""The eigenbasis block-encoding (qdsl.synthesis.blocks.eigen): the flagged block is A/‖A‖₂ on
every code (padding codes give 0), nothing leaks, the control off is the identity, count == cost
— against a dense numpy reference."""
import numpy as np
import pytest
from qiskit import QuantumCircuit

from flagged import flagged_block
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.eigen import EigenAccess, givens_sequence

# the eigendecomposition is backward stable (‖A − VΛVᵀ‖ ≲ d·u·‖A‖) and amplitudes pass through
# O(10³) gates: 1e3·u with margin
TOL = 1e3 * np.finfo(float).eps


def test_givens_reduce_an_orthogonal_matrix_to_signs():
    rng = np.random.default_rng(0)
    V, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    seq, signs = givens_sequence(V)
    P = np.eye(7)
    for r, th in seq:
        R = np.eye(7)
        c, s = np.cos(th), np.sin(th)
        R[r - 1, r - 1], R[r - 1, r], R[r, r - 1], R[r, r] = c, s, -s, c
        P = R @ P
    np.testing.assert_allclose(P @ V, np.diag(signs), atol=1e-13)


@pytest.mark.parametrize("d,w,seed", [(2, 1, 0), (3, 2, 1), (4, 2, 2), (5, 3, 3), (7, 3, 4), (8, 3, 5)])
@pytest.mark.parametrize("controlled", [True, False])
def test_flagged_block_is_A_over_spectral_norm(d, w, seed, controlled):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, d))
    A = np.eye(d) - 0.3 * (X + X.T)
    B = EigenAccess(A, width=w)
    assert B.alpha == pytest.approx(np.linalg.norm(A, 2), rel=1e-13)
    reg, f = list(range(w)), w
    work = list(range(w + 1, w + 1 + B.work))
    ctrl = w + 1 + B.work if controlled else None
    qc = QuantumCircuit(w + 1 + B.work + int(controlled))
    B.build(qc, reg, f, work, ctrl=ctrl)
    assert count_circuit(qc) == B.cost(controlled)
    basis = list(range(1 << w))
    M, leak = flagged_block(qc, basis, basis, [f] + work, {ctrl: 1} if controlled else {})
    ref = np.zeros((1 << w, 1 << w))
    ref[:d, :d] = A
    assert np.max(np.abs(M - ref / B.alpha)) < TOL and leak < TOL
    if controlled:
        M0, leak0 = flagged_block(qc, basis, basis, [f] + work, {ctrl: 0})
        assert np.max(np.abs(M0 - np.eye(1 << w))) < TOL and leak0 < TOL


def test_refuses_a_non_symmetric_matrix():
    with pytest.raises(ValueError):
        EigenAccess(np.array([[1.0, 2.0], [0.0, 1.0]]), width=1)
