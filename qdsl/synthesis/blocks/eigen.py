r"""Block-encoding of a real symmetric matrix with α = ‖A‖ (its spectral norm): a basis change to
the eigenbasis by two-level (Givens) rotations around a diagonal block-encoding of the eigenvalues.

A = V Λ Vᵀ (numpy's `eigh` on the codes 0..d−1 of a w-qubit register; codes ≥ d are padding,
encoded as 0). A QR reduction of V by Givens rotations R_k on adjacent codes (r−1, r) gives
P·V = S with P = R_m⋯R_1 (m ≤ d(d−1)/2, rotations whose angle vanishes are left out) and S a
diagonal of ±1, so A = Pᵀ S Λ S P = Pᵀ Λ P. Circuit, under a control qubit:

    P (uncontrolled)  ·  DiagonalAccess(λ_k on code k), controlled  ·  Pᵀ (uncontrolled)

With the control |0⟩ the diagonal block is the identity and Pᵀ P = I. The flagged block is
Pᵀ (Λ/α) P = A/α on the codes, α = max_k |λ_k| = ‖A‖ — the smallest α any block-encoding of A
can have. Padding codes are fixed by P and have no diagonal entry: flagged.

A **two-level rotation** between codes x and y (B = x ⊕ y, b its lowest bit, x with bit b = 0):
CNOTs from bit b to the other bits of B make y ↦ x ⊕ 2^b, then RY(φ) on bit b controlled by every
other bit equal to x's (`mcx` twice around RY(±φ/2): RY(φ/2)·X·RY(−φ/2)·X = RY(φ)), then the
CNOTs again. Cost per rotation: 2 ``ry``, 2·(|B| − 1) ``cx`` and two (w − 1)-control `mcx`;
the rotations of P and Pᵀ are the same (angles negated), so the cost is twice P's plus the
diagonal's — independent of the sparsity: for dense blocks, where α matters most.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cost import Cost
from .diagonal import DiagonalAccess
from .mcx import mcx, mcx_cost, mcx_work
from .prepare import ANGLE_EPS

__all__ = ["EigenAccess", "givens_sequence"]


def givens_sequence(V: np.ndarray) -> tuple[list, np.ndarray]:
    """[(r, θ)] with P = R_m⋯R_1 (R = rotation by θ on rows r−1, r: [[c, s], [−s, c]]) such that
    P·V is diagonal (±1), and that diagonal."""
    W = np.array(V, dtype=float)
    d = W.shape[0]
    seq = []
    for c in range(d - 1):
        for r in range(d - 1, c, -1):
            a, b = W[r - 1, c], W[r, c]
            if abs(b) <= 1e-300:
                continue
            th = float(np.arctan2(b, a))
            cs, sn = np.cos(th), np.sin(th)
            top, bot = W[r - 1].copy(), W[r].copy()
            W[r - 1], W[r] = cs * top + sn * bot, -sn * top + cs * bot
            W[r, c] = 0.0
            if abs(th) > ANGLE_EPS:
                seq.append((r, th))
    return seq, np.sign(np.diag(W))


@dataclass(frozen=True, eq=False)
class EigenAccess:
    """A (real symmetric, d × d, d ≤ 2^w) on `width`-qubit codes (module docstring)."""

    matrix: np.ndarray
    width: int
    rotations: tuple
    diagonal: DiagonalAccess

    def __init__(self, matrix, *, width: int):
        A = np.asarray(matrix, dtype=float)
        w = int(width)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] > (1 << w):
            raise ValueError("a square matrix that fits the register")
        if not np.array_equal(A, A.T):
            raise ValueError("the eigenbasis encoding needs a symmetric matrix")
        lam, V = np.linalg.eigh(A)
        seq, _signs = givens_sequence(V)
        d = A.shape[0]
        keep = np.abs(lam) > 0
        diag = DiagonalAccess(np.arange(d)[keep], lam[keep][None, :], width=w)
        object.__setattr__(self, "matrix", A)
        object.__setattr__(self, "width", w)
        object.__setattr__(self, "rotations", tuple(seq))
        object.__setattr__(self, "diagonal", diag)

    @property
    def alpha(self) -> float:
        """max |λ| = ‖A‖₂."""
        return self.diagonal.alpha

    flags = 1

    @property
    def work(self) -> int:
        return max(mcx_work(self.width - 1), self.diagonal.work)

    def _two_level(self, qc, reg, work, x, y, theta):
        """Rows (x, y) ↦ [[c, s], [−s, c]]·(ψ_x, ψ_y): RY(−2θ) with x on |0⟩."""
        B = x ^ y
        b = (B & -B).bit_length() - 1
        phi = -2.0 * theta
        if (x >> b) & 1:              # y holds bit b = 0: the same rotation read from y's side
            x, y, phi = y, x, -phi
        others = [k for k in range(self.width) if k != b]
        flips = [k for k in others if (B >> k) & 1]
        for k in flips:
            qc.cx(reg[b], reg[k])
        ctl = [reg[k] for k in others]
        vals = [(x >> k) & 1 for k in others]
        qc.ry(phi / 2, reg[b])
        mcx(qc, ctl, reg[b], values=vals, work=work)
        qc.ry(-phi / 2, reg[b])
        mcx(qc, ctl, reg[b], values=vals, work=work)
        for k in reversed(flips):
            qc.cx(reg[b], reg[k])

    def build(self, qc, reg, f, work, ctrl=None) -> None:
        """Append the block-encoding on `reg` (w qubits) with flag `f`, `work` clean qubits."""
        reg, work = list(reg), list(work)
        if len(reg) != self.width:
            raise ValueError("register width does not match the block")
        for r, th in self.rotations:
            self._two_level(qc, reg, work, r - 1, r, th)
        self.diagonal.build(qc, reg, f, work, ctrl=ctrl)
        for r, th in reversed(self.rotations):
            self._two_level(qc, reg, work, r - 1, r, -th)

    def cost(self, controlled: bool = True) -> Cost:
        """Gate counts from the same rotation list (exact)."""
        c = Cost()
        w = self.width
        for r, _th in self.rotations:
            B = (r - 1) ^ r
            b = (B & -B).bit_length() - 1
            x = r - 1 if not ((r - 1) >> b) & 1 else r
            zeros = sum(1 for k in range(w) if k != b and not (x >> k) & 1)
            c += Cost(ry=2, cx=2 * (bin(B).count("1") - 1)) + 2 * mcx_cost(w - 1, zeros)
        return 2 * c + self.diagonal.cost(controlled)
