r"""LinearSystem: the history-state linear system L·Y = B over all time steps (SPEC §3).

For T steps and p idle steps, with transfer matrices M_t (D × D, constant component first):
    L = Σ_t |t⟩⟨t|⊗I − Σ_{t=1..T} |t⟩⟨t−1|⊗M_{t−1} − Σ_{t=T+1..T+p} |t⟩⟨t−1|⊗I,   B = |0⟩⊗y_0.
Block t of Y is the lifted state y_t (arXiv:2303.03428 Eq. 6; PNAS 2021 Eq. 21).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class LinearSystem:
    """L·Y = B of SPEC §3.

    Attributes: `matrix` (L, sparse, (T+1+p)·D square), `rhs` (B), `transfers` (M_0..M_{T−1}),
    `steps` (T), `idle` (p), `block_dim` (D), `const_index` (index of the constant component inside
    a block, 0), `theta_index` (indices of u_1..u_n inside a block), `expansion_point` (θ*),
    `kappa` (condition number of L), `kappa_method` ("exact" for a dense SVD, "estimate" otherwise).
    """

    matrix: sp.csr_matrix
    rhs: np.ndarray
    transfers: tuple
    steps: int
    idle: int
    block_dim: int
    const_index: int
    theta_index: np.ndarray
    expansion_point: np.ndarray
    kappa: float
    kappa_method: str

    @property
    def num_blocks(self) -> int:
        return self.steps + 1 + self.idle

    @property
    def dim(self) -> int:
        return self.num_blocks * self.block_dim
