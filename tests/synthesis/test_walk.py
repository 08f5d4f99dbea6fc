"""The qubitized walk of qdsl.synthesis.walk, against operators built here from numpy.

Tolerances: every check compares unitaries of at most 2^10 entries per row built from ≲ 10^5
double-precision gates; entries move by ≲ G·u ≈ 10^5 · 1.1e-16 ≈ 1e-11, so 1e-9 is a bound, not a
fit."""
from __future__ import annotations

import numpy as np
import pytest

from qdsl.synthesis.walk import BlockEncoding, controlled_walk, dense_block_encoding

TOL = 1e-9


def operator(circuit) -> np.ndarray:
    from qiskit.quantum_info import Operator

    return Operator(circuit).data


def random_matrix(rng, n, hermitian):
    A = rng.normal(size=(2 ** n, 2 ** n))
    return A + A.T if hermitian else A


def project(U, block_qubits, zero_qubits, ones=()):
    """⟨z|U|z⟩ on `block_qubits` (little-endian) with every qubit of `zero_qubits` in |0⟩ and of
    `ones` in |1⟩, as a 2^len(block_qubits) square matrix."""
    nq = int(np.log2(U.shape[0]))
    fixed = 0
    for q in ones:
        fixed |= 1 << q
    ks = np.arange(1 << len(block_qubits))
    idx = np.full(ks.shape, fixed)
    for b, q in enumerate(block_qubits):
        idx |= ((ks >> b) & 1) << q
    assert set(block_qubits).isdisjoint(zero_qubits) and len(block_qubits) + len(zero_qubits) + len(ones) <= nq
    return U[np.ix_(idx, idx)]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_dense_block_encoding(n):
    rng = np.random.default_rng(n)
    A = random_matrix(rng, n, hermitian=False)
    be = dense_block_encoding(A)
    # α is the Hölder bound, which is ≥ ‖A‖₂
    col, row = np.abs(A).sum(0).max(), np.abs(A).sum(1).max()
    assert be.alpha == pytest.approx(np.sqrt(col * row), rel=1e-15)
    assert be.alpha >= np.linalg.norm(A, 2)
    U = operator(be.circuit)
    np.testing.assert_allclose(project(U, be.system, be.ancillas), A / be.alpha, atol=TOL)
    assert set(be.circuit.count_ops()) <= {"cx", "rz", "ry", "h", "x"}
    # the controlled version (control last) is block_diag(I, U)
    CU = operator(be.controlled)
    d = U.shape[0]
    ph = CU[0, 0]                        # one global phase for the whole controlled circuit
    np.testing.assert_allclose(CU[:d, :d], ph * np.eye(d), atol=TOL)
    np.testing.assert_allclose(CU[:d, d:], 0, atol=TOL)
    g = np.vdot(U.ravel(), CU[d:, d:].ravel())
    np.testing.assert_allclose(CU[d:, d:], ph * U, atol=TOL) if abs(g / abs(g) - ph) < 1e-9 else \
        pytest.fail("controlled block differs from U by a relative phase")


def walk_unitary(walk, power=0, inverse=False):
    """The operator of c-W^{±2^power} restricted to control = 1 and temporaries = 0, on
    (system, ancillas) in that order (little-endian), and its control = 0 block."""
    gate = (walk.inverse_powers if inverse else walk.powers)[power]
    U = operator(gate.definition)
    keep = list(walk.system) + list(walk.ancillas)
    on = project(U, keep, list(walk.temporaries), ones=[walk.control])
    off = project(U, keep, list(walk.temporaries) + [walk.control])
    return on, off


@pytest.mark.parametrize("hermitian", [True, False])
def test_walk_eigenphases_are_arccos(hermitian):
    r"""W restricted to the clean temporaries is unitary, the select part V is a Hermitian
    unitary block-encoding of H/α, and W's eigenphases on the invariant planes are
    ±arccos(λ/α) for the eigenvalues λ of H (H = A, or the dilation [[0, A], [Aᵀ, 0]])."""
    rng = np.random.default_rng(7)
    n = 2
    A = random_matrix(rng, n, hermitian)
    be = dense_block_encoding(A)
    walk = controlled_walk(be, dilate=not hermitian, clock_bits=2)
    W, off = walk_unitary(walk)
    dim = W.shape[0]
    np.testing.assert_allclose(off, np.eye(dim), atol=TOL)        # control 0: identity
    np.testing.assert_allclose(W.conj().T @ W, np.eye(dim), atol=TOL)
    if hermitian:
        H = A
    else:
        Z = np.zeros_like(A)
        H = np.block([[Z, A], [A.T, Z]])   # rows indexed by the dilation qubit (the top system qubit)
    # ⟨0_anc|W|0_anc⟩ = ⟨0|R V|0⟩ = ⟨0|V|0⟩ = H/α
    m = len(walk.system)
    sys_idx = np.arange(1 << m)
    np.testing.assert_allclose(W[np.ix_(sys_idx, sys_idx)], H / be.alpha, atol=TOL)
    # eigenphases: for every eigenvalue λ, e^{±i arccos(λ/α)} appear in W's spectrum restricted to
    # the span of |0_anc⟩|λ⟩ and W|0_anc⟩|λ⟩
    lam, vecs = np.linalg.eigh(H)
    for l, v in zip(lam, vecs.T):
        x = np.zeros(dim, complex)
        x[sys_idx] = v
        y = W @ x
        # the plane span{x, Wx}: W x = cos φ x + sin φ x⊥ with cos φ = λ/α
        assert np.vdot(x, y).real == pytest.approx(l / be.alpha, abs=TOL)
        perp = y - np.vdot(x, y) * x
        if np.linalg.norm(perp) < 1e-7:     # λ = ±α: W x = ±x
            continue
        perp /= np.linalg.norm(perp)
        P = np.stack([x, perp], axis=1)
        Wp = P.conj().T @ W @ P
        np.testing.assert_allclose(Wp @ Wp.conj().T, np.eye(2), atol=TOL)   # invariant plane
        ev = np.sort(np.angle(np.linalg.eigvals(Wp)))
        phi = np.arccos(l / be.alpha)
        np.testing.assert_allclose(ev, [-phi, phi], atol=1e-8)


def test_powers_and_inverses():
    rng = np.random.default_rng(3)
    be = dense_block_encoding(random_matrix(rng, 1, hermitian=False))
    walk = controlled_walk(be, dilate=True, clock_bits=3)
    W, _ = walk_unitary(walk, 0)
    for j in range(3):
        P, _ = walk_unitary(walk, j)
        Q, off = walk_unitary(walk, j, inverse=True)
        np.testing.assert_allclose(P, np.linalg.matrix_power(W, 2 ** j), atol=TOL)
        np.testing.assert_allclose(Q @ P, np.eye(P.shape[0]), atol=TOL)
        np.testing.assert_allclose(off, np.eye(P.shape[0]), atol=TOL)


def test_generic_control_of_a_foreign_block_encoding():
    """A BlockEncoding without a `controlled` circuit (as another module may pass) is controlled
    by Qiskit's `control()`; a clean temporary of U stays clean."""
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(11)
    A = random_matrix(rng, 1, hermitian=True)
    dense = dense_block_encoding(A)
    # U's qubits: system 0, a temporary 1 (flipped during U and restored), flag 2
    qc = QuantumCircuit(3)
    qc.x(1)
    qc.cz(1, 2)
    qc.compose(dense.circuit, [0, 2], inplace=True)
    qc.cz(1, 2)
    qc.x(1)
    foreign = BlockEncoding(circuit=qc, alpha=dense.alpha, system=(0,), ancillas=(2,), matrix=A)
    assert foreign.temporaries == (1,)
    walk = controlled_walk(foreign, dilate=False, clock_bits=1)
    W, _ = walk_unitary(walk)
    m = len(walk.system)
    np.testing.assert_allclose(W[: 1 << m, : 1 << m], A / dense.alpha, atol=TOL)
    np.testing.assert_allclose(W.conj().T @ W, np.eye(W.shape[0]), atol=TOL)
