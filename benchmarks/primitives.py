"""Fault-tolerant primitives: qdsl's cost records beside Qualtran 0.7.0's at the same sizes.

    .venv/bin/python benchmarks/primitives.py

For each primitive — controlled unary-iteration lookup, multi-controlled X, controlled increment,
select-swap lookup (QROAM, clean and dirty), uniform superposition, the addition into a phase
gradient (one RY by a b-bit register), the sparse-matrix block-encoding with entries by phase
gradient — prints qdsl's Toffolis + Ands, T states (4 per Toffoli or And, plus T gates), arbitrary
rotations and qubits, the same with Toffoli uncomputation (qdsl before
measurement-based uncomputation), and Qualtran's `get_cost_value(bloq, QECGatesCost())` when
qualtran is installed (`pip install -e '.[qualtran]'`). Counts are from the blocks' cost records,
which the tests check equal to the gates of the built circuits. The blocks are costed with
measured uncomputation (`and_gate.measurement_uncompute`: what a block written once in the file
uses); compiled QSVT circuits use it only where the file stays small (qdsl/synthesis/qsvt.py,
INLINE_FACTOR), else the "before" column's Toffoli pairs.
"""
from __future__ import annotations

import numpy as np

from qdsl.synthesis.blocks.and_gate import measurement_uncompute, unitary_uncompute
from qdsl.synthesis.blocks.increment import increment_cost, increment_work
from qdsl.synthesis.blocks.lookup import UnaryIteration
from qdsl.synthesis.blocks.mcx import mcx_cost, mcx_work
from qdsl.synthesis.blocks.phase_gradient import ry_by_register_cost, ry_by_register_work
from qdsl.synthesis.blocks.qroam import QROAM, choose_lookup, lookup_qubits
from qdsl.synthesis.blocks.sparse_access import SparseAccess
from qdsl.synthesis.blocks.uniform import UniformState

BITS = 20


def _data(L):
    return [int(x) for x in (np.arange(L, dtype=np.int64) * 7919 + 13) % (1 << BITS)]


def _qualtran(bloq_fn):
    try:
        from qualtran.resource_counting import QECGatesCost, QubitCount, get_cost_value
    except ImportError:
        return None
    bloq = bloq_fn()
    c = get_cost_value(bloq, QECGatesCost())
    t = c.total_t_count(ts_per_rotation=0)
    return c.toffoli + c.and_bloq, t, c.rotation, get_cost_value(bloq, QubitCount())


def _banded(n, k):
    """Row and column indices of the symmetric band |i − j| ≤ k of a 2^n square matrix."""
    N = 1 << n
    rc = [(i, j) for i in range(N) for j in range(max(0, i - k), min(N, i + k + 1))]
    return np.array([r for r, _ in rc]), np.array([c for _, c in rc])


def rows():
    out = []
    for L in (100, 1000, 10 ** 4):
        W = (L - 1).bit_length()
        it = UnaryIteration(W, list(range(L)), domain=L)
        with unitary_uncompute():
            old = UnaryIteration(W, list(range(L))).cost(True)

        def q(L=L):
            from qualtran.bloqs.data_loading.qrom import QROM
            return QROM.build_from_data(np.array(_data(L)), target_bitsizes=(BITS,), num_controls=1)
        out.append((f"lookup (unary, controlled) L={L}", it.cost(True), old, W + BITS + it.work + 1, q))
    for k in (5, 20, 40):
        with unitary_uncompute():
            old = mcx_cost(k)

        def q(k=k):
            from qualtran.bloqs.mcmt import MultiControlX
            return MultiControlX(cvs=(1,) * k)
        out.append((f"MCX k={k}", mcx_cost(k), old, k + 1 + mcx_work(k), q))
    for m in (8, 16, 32):
        with unitary_uncompute():
            old = increment_cost(m)

        def q(m=m):
            from qualtran import QUInt
            from qualtran.bloqs.arithmetic import AddK
            return AddK(QUInt(m), k=1).controlled()
        out.append((f"increment m={m} (controlled)", increment_cost(m), old, 1 + m + increment_work(m), q))
    for L in (100, 1000, 10 ** 4):
        for dirty in (False, True):
            best = choose_lookup(L, BITS, controlled=False, dirty=dirty)
            kb = max(1, best["block"].bit_length() - 1)
            qr = QROAM(_data(L), BITS, kb, dirty)

            def q(L=L, dirty=dirty):
                from qualtran.bloqs.data_loading.select_swap_qrom import SelectSwapQROM
                return SelectSwapQROM.build_from_data(np.array(_data(L)), target_bitsizes=(BITS,),
                                                      use_dirty_ancilla=dirty)
            out.append((f"QROAM {'dirty' if dirty else 'clean'} L={L} k={qr.block}", qr.cost(False), None,
                        lookup_qubits(L, BITS, kb, controlled=False), q))
    for s in (5, 100, 1000):
        P = UniformState(s)
        with unitary_uncompute():
            old = P.cost()

        def q(s=s):
            from qualtran.bloqs.state_preparation import PrepareUniformSuperposition
            return PrepareUniformSuperposition(s)
        out.append((f"uniform superposition s={s}", P.cost(), old, P.num_qubits + P.work, q))
    for b in (4, 10, 16):
        with unitary_uncompute():
            old = ry_by_register_cost(b)

        def q(b=b):
            from qualtran.bloqs.rotations.phase_gradient import AddIntoPhaseGrad
            return AddIntoPhaseGrad(b, b)
        out.append((f"add into phase gradient b={b} (RY)", ry_by_register_cost(b), old,
                    1 + 2 * b + ry_by_register_work(b), q))
    for n, k in ((4, 1), (6, 2), (8, 1)):
        r, c = _banded(n, k)
        vals = np.random.default_rng(n).uniform(0.05, 0.95, r.size)
        B = SparseAccess(r, c, vals, col_width=n, row_width=n, square=True, entry_bits=10)
        with unitary_uncompute():
            old = B.cost(True)

        def q(n=n, k=k, vals=vals, r=r, c=c):
            from qualtran.bloqs.block_encoding.sparse_matrix import (ExplicitEntryOracle, SparseMatrix,
                                                                      SymmetricBandedRowColumnOracle)
            A = np.zeros((1 << n, 1 << n))
            A[r, c] = vals
            rc = SymmetricBandedRowColumnOracle(n, bandsize=k)
            return SparseMatrix(rc, rc, ExplicitEntryOracle(system_bitsize=n, data=A, entry_bitsize=10),
                                eps=0)
        out.append((f"sparse block 2^{n}, {r.size} nnz, b=10", B.cost(True), old,
                    2 * n + B.color_width + 2 + B.work + 10, q))
    return out


def main():
    hdr = (f"{'primitive':<38} {'Tof+And':>8} {'T states':>9} {'rot':>4} {'qubits':>6}   {'before':>8} "
           f"{'Qualtran Tof+And':>16} {'T':>7} {'rot':>4} {'qubits':>6}")
    print(hdr)
    print("-" * len(hdr))
    with measurement_uncompute():
        table = rows()
    for name, cost, old, qubits, bloq in table:
        theirs = _qualtran(bloq)
        before = f"{int(old.toffoli_equivalents):>8,}" if old is not None else f"{'':>8}"
        tq = (f"{int(theirs[0]):>16,} {int(theirs[1]):>7,} {int(theirs[2]):>4} {int(theirs[3]):>6}"
              if theirs else f"{'(qualtran not installed)':>36}")
        print(f"{name:<38} {int(cost.toffoli_equivalents):>8,} {int(cost.t_states):>9,} "
              f"{int(cost.rotations):>4} {qubits:>6}   {before} {tq}")
    print("\nbefore: the same block with Toffoli uncomputation (qdsl until measurement-based "
          "uncomputation; unary lookups also without the address-domain promise).")
    print("T states: 4 per Toffoli or And plus T gates; arbitrary rotations (rot) apart, on both sides. "
          "Phase-gradient blocks: the gradient register (b qubits, prepared once) is in the qubits.")
    print("QROAM: qdsl's controlled swaps are Toffolis (4 T states each); Qualtran writes them as "
          "4-T CSwapApprox, so its Tof+And omits them — compare T states.")


if __name__ == "__main__":
    main()
