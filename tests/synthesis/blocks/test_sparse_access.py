"""Sparse-access and diagonal block-encodings (qdsl.synthesis.blocks.sparse_access, .diagonal):
the flagged block equals A/α on every code of the column register (codes that are no column give
0), nothing leaks, α = Σ_c μ_c ≤ Δ·max|A|, and count == cost — against a dense numpy reference."""
import numpy as np
import pytest
from qiskit import QuantumCircuit

from flagged import flagged_block
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.diagonal import DiagonalAccess
from qdsl.synthesis.blocks.sparse_access import SparseAccess

# amplitudes pass through O(100) gates in double precision: 1e3·u bounds the rounding with margin
TOL = 1e3 * np.finfo(float).eps


def allocate(*widths):
    out, n = [], 0
    for w in widths:
        out.append(list(range(n, n + w)))
        n += w
    return out, n


def slot_problem(rng, n, ell, K, density):
    """F_ℓ-like n × n^ℓ matrices with slot codes (value a+1 in slot p at bits [qp, qp+q))."""
    q = max(1, n.bit_length())
    mask = rng.random((n, n ** ell)) < density
    mask[0, 0] = True
    rows, cols = np.nonzero(mask)
    vals = rng.standard_normal((K, rows.size))
    if K > 1:
        vals[1:, rng.random(rows.size) < 0.3] = 0.0
    code = np.zeros(cols.size, dtype=np.int64)
    for p in range(ell):
        code += ((cols // n ** (ell - 1 - p)) % n + 1) << (q * p)
    return rows + 1, code, vals, ell * q, q


@pytest.mark.parametrize("case", [
    ("square", 3, 1, 1, 0.5), ("square", 3, 1, 2, 0.5), ("slots", 2, 2, 1, 0.5),
    ("slots", 3, 2, 1, 0.25), ("slots", 2, 3, 1, 0.3), ("slots", 2, 2, 2, 0.6)])
@pytest.mark.parametrize("controlled", [True, False])
def test_flagged_block_equals_matrix_over_alpha(case, controlled):
    kind, n, ell, K, density = case
    rng = np.random.default_rng(hash(case) % 1000)
    if kind == "square":
        w = n.bit_length()
        mask = rng.random((n, n)) < density
        mask[0, 1] = True
        rows, cols = np.nonzero(mask)
        vals = rng.standard_normal((K, rows.size))
        rc, cc, wc, wr = rows, cols, w, w
    else:
        rc, cc, vals, wc, wr = slot_problem(rng, n, ell, K, density)
    cw = max(0, (K - 1).bit_length())
    B = SparseAccess(rc, cc, vals, col_width=wc, row_width=wr, class_width=cw)
    (col, t, color, f, klass, work, ctrl), nq = allocate(wc, wr, B.color_width, 1, cw, B.work,
                                                          int(controlled))
    qc = QuantumCircuit(nq)
    B.build(qc, col, t, color, f[0], work, ctrl=ctrl[0] if controlled else None, klass=klass)
    assert count_circuit(qc) == B.cost(controlled)
    assert B.alpha <= B.num_colors * np.max(np.abs(vals)) * (1 + 1e-12)
    for k in range(K):
        fixed = {ctrl[0]: 1} if controlled else {}
        for b in range(cw):
            fixed[klass[b]] = (k >> b) & 1
        basis = [c << col[0] for c in range(1 << wc)]
        M, leak = flagged_block(qc, basis, basis, t + color + f, fixed)
        ref = np.zeros((1 << wc, 1 << wc))
        for r, c, v in zip(rc, cc, vals[k]):
            ref[r, c] = v
        assert np.max(np.abs(M - ref / B.alpha)) < TOL and leak < TOL


def test_control_off_is_identity():
    rng = np.random.default_rng(0)
    rc, cc, vals, wc, wr = slot_problem(rng, 2, 2, 1, 0.5)
    B = SparseAccess(rc, cc, vals, col_width=wc, row_width=wr)
    (col, t, color, f, work, ctrl), nq = allocate(wc, wr, B.color_width, 1, B.work, 1)
    qc = QuantumCircuit(nq)
    B.build(qc, col, t, color, f[0], work, ctrl=ctrl[0])
    basis = [c << col[0] for c in range(1 << wc)]
    M, leak = flagged_block(qc, basis, basis, t + color + f, {ctrl[0]: 0})
    assert np.max(np.abs(M - np.eye(len(basis)))) < TOL and leak < TOL


@pytest.mark.parametrize("K", [1, 3])
def test_diagonal_access(K):
    rng = np.random.default_rng(K)
    codes = np.array([0, 1, 2, 5])
    vals = rng.standard_normal((K, 4))
    cw = max(0, (K - 1).bit_length())
    B = DiagonalAccess(codes, vals, width=3, class_width=cw)
    (reg, f, klass, work, ctrl), nq = allocate(3, 1, cw, B.work, 1)
    qc = QuantumCircuit(nq)
    B.build(qc, reg, f[0], work, ctrl=ctrl[0], klass=klass)
    assert count_circuit(qc) == B.cost(True)
    for k in range(K):
        fixed = {ctrl[0]: 1, **{klass[b]: (k >> b) & 1 for b in range(cw)}}
        basis = list(range(8))
        M, leak = flagged_block(qc, basis, basis, f, fixed)
        ref = np.zeros(8)
        ref[codes] = vals[k]
        assert np.max(np.abs(M - np.diag(ref) / B.alpha)) < TOL and leak < TOL


def test_diagonal_colour_lowers_alpha_and_keeps_the_block():
    """I + F for a small dense F: with the diagonal as its own colour α = max|1 + F_ii| + Σ over
    the off-diagonal colours of their max, well under the plain König colouring's, and the flagged
    block is still A/α exactly (dense numpy reference)."""
    rng = np.random.default_rng(7)
    n = 6
    F = 0.05 * rng.standard_normal((n, n))
    A = np.eye(n) + F
    rows, cols = np.nonzero(A)
    plain = SparseAccess(rows, cols, A[rows, cols], col_width=3, row_width=3)
    B = SparseAccess(rows, cols, A[rows, cols], col_width=3, row_width=3, square=True)
    assert B.num_colors == n                      # the diagonal + n − 1 off-diagonal colours
    assert B.alpha == pytest.approx(np.max(np.abs(np.diag(A))) + sum(
        np.max(np.abs(A[rows[B.colors == c], cols[B.colors == c]])) for c in range(1, n)), abs=0)
    assert B.alpha < plain.alpha - 0.5
    (col, t, color, f, work, ctrl), nq = allocate(3, 3, B.color_width, 1, B.work, 1)
    qc = QuantumCircuit(nq)
    B.build(qc, col, t, color, f[0], work, ctrl=ctrl[0])
    assert count_circuit(qc) == B.cost(True)
    basis = [c << col[0] for c in range(8)]
    M, leak = flagged_block(qc, basis, basis, t + color + f, {ctrl[0]: 1})
    ref = np.zeros((8, 8))
    ref[:n, :n] = A
    assert np.max(np.abs(M - ref / B.alpha)) < TOL and leak < TOL


@pytest.mark.parametrize("case", [("square", 3, 1, 1), ("slots", 2, 2, 1), ("square", 3, 1, 2)])
@pytest.mark.parametrize("b", [3, 5])
def test_entries_by_phase_gradient(case, b):
    """entry_bits = b: the flagged block is Ã/α exactly, Ã the entries of the b-bit rounded
    half-angles (within μ_c·π/2^b of A in every entry), with the gradient register prepared around
    the block and returned to |0⟩; no rotation per nonzero; count == cost; control off = I."""
    from qdsl.synthesis.blocks.phase_gradient import prepare_gradient

    kind, n, ell, K = case
    rng = np.random.default_rng(b + 10 * K)
    if kind == "square":
        w = n.bit_length()
        mask = rng.random((n, n)) < 0.6
        mask[0, 1] = True
        rows, cols = np.nonzero(mask)
        vals = rng.standard_normal((K, rows.size))
        rc, cc, wc, wr = rows, cols, w, w
    else:
        rc, cc, vals, wc, wr = slot_problem(rng, n, ell, K, 0.5)
    cw = max(0, (K - 1).bit_length())
    B = SparseAccess(rc, cc, vals, col_width=wc, row_width=wr, class_width=cw, entry_bits=b)
    (col, t, color, f, klass, work, g, ctrl), nq = allocate(wc, wr, B.color_width, 1, cw, B.work, b, 1)
    blk = QuantumCircuit(nq)
    B.build(blk, col, t, color, f[0], work, ctrl=ctrl[0], klass=klass, gradient=g)
    assert count_circuit(blk) == B.cost(True)
    # the only rotations left are the colour preparation's (PREP and PREP†), none per nonzero
    prep = B._prep()
    assert B.cost(True).rotations == (2 * prep.cost().rotations if prep is not None else 0)
    qc = QuantumCircuit(nq)
    prepare_gradient(qc, g)
    qc.compose(blk, inplace=True)
    inv = QuantumCircuit(nq)
    prepare_gradient(inv, g)
    qc.compose(inv.inverse(), inplace=True)
    Ar = B.rounded_values()
    mu_e = B.mu[B.colors]
    assert np.all(np.abs(Ar - B.values) <= mu_e * np.pi / 2 ** b + 1e-15)
    basis = [c << col[0] for c in range(1 << wc)]
    for k in range(K):
        fixed = {ctrl[0]: 1, **{klass[j]: (k >> j) & 1 for j in range(cw)}}
        M, leak = flagged_block(qc, basis, basis, t + color + f + g, fixed)
        ref = np.zeros((1 << wc, 1 << wc))
        for r, c, v in zip(B.row_codes, B.col_codes, Ar[k]):
            ref[r, c] = v
        assert np.max(np.abs(M - ref / B.alpha)) < TOL and leak < TOL
    M0, leak0 = flagged_block(qc, basis, basis, t + color + f + g, {ctrl[0]: 0})
    assert np.max(np.abs(M0 - np.eye(len(basis)))) < TOL and leak0 < TOL
