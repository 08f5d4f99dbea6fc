r"""Block-encoding of a dense square matrix with α = ‖A‖_F, from two state preparations
(Kerenidis & Prakash, ITCS 2017; Clader, Dalzell, Stamatopoulos, Salton, Berta, Zeng, "Quantum
resources required to block-encode a matrix of classical data", IEEE TQE 3 (2022), §III).

A (or a family A_k selected by a read-only class register, with the same column norms' maximum
as α) acts on codes 0..2^w − 1 of a register s; a flag register a of w qubits starts in |0⟩.
Column j has norm c_j = ‖A_{·j}‖ and normalized column ψ_j = A_{·j}/c_j. Under a control qubit:

1. U_R on a, multiplexed by s:  |j⟩_s|0⟩_a ↦ |j⟩_s|ψ_j⟩_a  — the rotations of the Möttönen tree
   of the joint vector (A_ij/c_j) on the a-qubits only (`PrepareState.build(below=w)`);
2. PREP_c† on s, PREP_c|0⟩ = Σ_k (c_k/α)|k⟩;
3. swap a ↔ s.

Then ⟨0_a, i_s|U|0_a, j_s⟩ = ⟨i_a, 0_s| PREP_c†_s U_R |0_a, j_s⟩ = (c_j/α)·(A_ij/c_j) = A_ij/α:
an (α, w, 0)-block-encoding with α = ‖A‖_F (exact up to the rounding of the angles). A column
with c_j = 0 (padding codes) is mapped to a flagged branch whatever U_R does there, since its
PREP_c amplitude vanishes — that is why the tree may drop controls on which no nonzero column
depends. With the control |0⟩ nothing acts (every rotation is controlled, `PrepareState`'s
controlled form; the swap is a Fredkin per qubit).

**Classes** (sgd): the class bits sit above s in U_R's multiplexor and above s in PREP_c's, with
α = max_k ‖A_k‖_F and PREP_c of class k filling its slack √(1 − ‖A_k‖²_F/α²) on an extra flag
qubit — not built here: a class register selects `sparse_access` instead (`FrobeniusAccess`
takes one matrix).

Cost: the multiplexed rotations of U_R (≤ 2^{2w} − 2^w, fewer where columns or rows are zero or
angles repeat), PREP_c's (≤ 2^w − 1), both controlled (2 ``ry`` + 2 ``cx`` each), their
multiplexors' ``cx``, and w Fredkins — no Toffoli but the swap's, independent of the sparsity:
cheaper than sparse access only for dense blocks, where its α (‖A‖_F instead of Σ_colours max)
is much smaller; `structured` picks by α·cost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cost import Cost
from .prepare import PrepareState
from .swap import cswap_cost, cswap_registers

__all__ = ["FrobeniusAccess"]


@dataclass(frozen=True, eq=False)
class FrobeniusAccess:
    """A (square, real) on `width`-qubit codes: A[i, j] = entry (row code i, column code j)."""

    matrix: np.ndarray
    width: int

    def __init__(self, matrix, *, width: int):
        A = np.asarray(matrix, dtype=float)
        w = int(width)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] > (1 << w):
            raise ValueError("a square matrix that fits the register")
        full = np.zeros((1 << w, 1 << w))
        full[: A.shape[0], : A.shape[1]] = A
        if not np.any(full):
            raise ValueError("zero matrix")
        object.__setattr__(self, "matrix", full)
        object.__setattr__(self, "width", w)

    @property
    def alpha(self) -> float:
        """‖A‖_F."""
        return float(np.linalg.norm(self.matrix))

    @property
    def flags(self) -> int:
        return self.width

    work = 0

    def _preps(self):
        A, w = self.matrix, self.width
        c = np.linalg.norm(A, axis=0)
        cols = np.divide(A, c, out=np.zeros_like(A), where=c > 0)
        # joint vector: index i + j·2^w (a = low w qubits, s = high w qubits)
        joint = cols.T.ravel()
        return PrepareState(joint, 2 * w), PrepareState(c, w)

    def build(self, qc, reg, flags, ctrl=None) -> None:
        """Append the block-encoding: `reg` the system register (column code in, row code out),
        `flags` its w flag qubits (|0⟩ in; post-selected on |0⟩), `ctrl` a control or None."""
        reg, a = list(reg), list(flags)[: self.width]
        if len(reg) != self.width or len(a) != self.width:
            raise ValueError("register widths do not match the block")
        ur, pc = self._preps()
        ur.build(qc, a + reg, ctrl=ctrl, below=self.width)
        pc.build_inverse(qc, reg, ctrl=ctrl)
        if ctrl is None:
            for x, y in zip(a, reg):
                qc.cx(x, y); qc.cx(y, x); qc.cx(x, y)
        else:
            cswap_registers(qc, ctrl, a, reg)

    def cost(self, controlled: bool = True) -> Cost:
        """Gate counts from the same angle vectors (exact)."""
        ur, pc = self._preps()
        c = ur.cost(controlled, below=self.width) + pc.cost(controlled)
        return c + (cswap_cost(self.width) if controlled else Cost(cx=3 * self.width))
