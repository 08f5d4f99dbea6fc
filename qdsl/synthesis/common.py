r"""Helpers shared by the linear-solver synthesizers (QSVT, HHL): padding, register layout, readout.

The system register holds the padded history state: block index t (time) and component d inside a
block, padded to powers of two, N_pad = 2^{n_t} ≥ T+1+p blocks of D_pad = 2^{n_d} ≥ D components.
Little-endian with the block qubits first:

    basis index k = t·D_pad + d,    system_qubits = (block qubits b_0..b_{n_d−1}, time qubits),

so `solution_map[t·D + d] = t·D_pad + d` (docs/cli.md readout). Padded rows of the padded matrix are
identity rows with a zero right-hand side, and no real block is coupled to a padded one, so the
padded solution is the true solution with zeros in the padding.

Readout (docs/maths.md): θ_t[i] = θ*_i + Re(a(t, u_i) / a(t, 1)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = [
    "qubits_for",
    "RegisterLayout",
    "layout_for",
    "pad_system",
    "classical_solution",
    "linear_system_from_transfers",
    "postselect_zero",
    "postselected_amplitudes",
    "decode_trajectory",
    "compare_solution",
]


def qubits_for(n: int) -> int:
    """Number of qubits needed to index n basis states (0 for n ≤ 1)."""
    n = int(n)
    return max(0, (n - 1).bit_length())


@dataclass(frozen=True)
class RegisterLayout:
    """Where the padded history state lives.

    `block_qubits` (n_d) and `time_qubits` (n_t) qubits, starting at circuit qubit `offset`; block
    qubits first (little-endian), then time qubits. `num_blocks` = T+1+p real blocks of
    `block_dim` = D real components.
    """

    block_dim: int
    num_blocks: int
    block_qubits: int
    time_qubits: int
    offset: int = 0

    @property
    def block_pad(self) -> int:
        """D_pad = 2^{n_d}."""
        return 1 << self.block_qubits

    @property
    def time_pad(self) -> int:
        """N_pad = 2^{n_t}, the number of (padded) time blocks."""
        return 1 << self.time_qubits

    @property
    def num_system_qubits(self) -> int:
        return self.block_qubits + self.time_qubits

    @property
    def padded_dim(self) -> int:
        return self.block_pad * self.time_pad

    @property
    def block_register(self) -> tuple[int, ...]:
        return tuple(range(self.offset, self.offset + self.block_qubits))

    @property
    def time_register(self) -> tuple[int, ...]:
        start = self.offset + self.block_qubits
        return tuple(range(start, start + self.time_qubits))

    @property
    def system_qubits(self) -> tuple[int, ...]:
        return self.block_register + self.time_register

    def index(self, t, d):
        """Padded basis index of component d of block t."""
        return np.asarray(t) * self.block_pad + np.asarray(d)

    def solution_map(self) -> np.ndarray:
        """Y index j = t·D + d  →  system basis index t·D_pad + d."""
        j = np.arange(self.num_blocks * self.block_dim)
        return self.index(j // self.block_dim, j % self.block_dim).astype(np.int64)

    def to_dict(self) -> dict:
        return {"block_dim": self.block_dim, "num_blocks": self.num_blocks,
                "block_qubits": self.block_qubits, "time_qubits": self.time_qubits,
                "offset": self.offset}


def layout_for(ls, *, offset: int = 0, min_time_blocks: int = 0) -> RegisterLayout:
    """The register layout of a LinearSystem (`min_time_blocks`: ask for at least this many
    padded blocks, e.g. one spare block)."""
    nb = max(ls.num_blocks, int(min_time_blocks))
    return RegisterLayout(block_dim=int(ls.block_dim), num_blocks=int(ls.num_blocks),
                          block_qubits=qubits_for(ls.block_dim), time_qubits=qubits_for(nb),
                          offset=int(offset))


def _embed_matrix(layout: RegisterLayout, matrix: sp.spmatrix) -> sp.csr_matrix:
    """Re-index an (N·D)² matrix into the padded (N_pad·D_pad)² index space (no identity fill)."""
    coo = sp.coo_matrix(matrix)
    D = layout.block_dim
    rows = layout.index(coo.row // D, coo.row % D)
    cols = layout.index(coo.col // D, coo.col % D)
    n = layout.padded_dim
    return sp.csr_matrix((coo.data, (rows, cols)), shape=(n, n))


def pad_system(ls, layout: RegisterLayout | None = None):
    r"""(L_pad, B_pad): L re-indexed into the padded space with identity rows (and zero rhs) on
    every padded index. Padded indices are decoupled, so Y_pad[solution_map] = Y and Y_pad = 0
    elsewhere."""
    layout = layout or layout_for(ls)
    smap = layout.solution_map()
    n = layout.padded_dim
    L = _embed_matrix(layout, ls.matrix)
    pad_mask = np.ones(n, dtype=bool)
    pad_mask[smap] = False
    fill = sp.diags(pad_mask.astype(float), format="csr")
    B = np.zeros(n, dtype=np.result_type(np.asarray(ls.rhs).dtype, float))
    B[smap] = np.asarray(ls.rhs)
    return (L + fill).tocsr(), B


def classical_solution(ls) -> np.ndarray:
    """Y = L⁻¹B by a sparse LU (the classical reference)."""
    return np.asarray(spla.spsolve(sp.csc_matrix(ls.matrix), np.asarray(ls.rhs, dtype=float)))


def linear_system_from_transfers(transfers, y0, *, idle: int = 0, theta_index=None,
                                 expansion_point=None, kappa: float | None = None):
    r"""Build the history-state LinearSystem of docs/maths.md from transfer matrices M_0..M_{T−1}:
    L = I − Σ_{t=1..T} |t⟩⟨t−1|⊗M_{t−1} − Σ_{t=T+1..T+p} |t⟩⟨t−1|⊗I, B = |0⟩⊗y_0.
    (A reference constructor for tests and synthesis; the lowering stage has its own.)"""
    from qdsl.lowering.history import LinearSystem

    transfers = tuple(sp.csr_matrix(M) for M in transfers)
    T = len(transfers)
    D = transfers[0].shape[0] if T else len(y0)
    nb = T + 1 + idle
    blocks = []
    for t in range(1, nb):
        M = transfers[t - 1] if t <= T else sp.identity(D, format="csr")
        shift = sp.csr_matrix(([1.0], ([t], [t - 1])), shape=(nb, nb))
        blocks.append(sp.kron(shift, M))
    L = sp.identity(nb * D, format="csr")
    for b in blocks:
        L = L - b
    L = sp.csr_matrix(L)
    B = np.zeros(nb * D)
    B[:D] = np.asarray(y0, dtype=float)
    if theta_index is None:
        theta_index = np.arange(1, D)
    theta_index = np.asarray(theta_index, dtype=np.int64)
    if expansion_point is None:
        expansion_point = np.zeros(len(theta_index))
    method = "exact"
    if kappa is None:
        if nb * D <= 4096:
            s = np.linalg.svd(L.toarray(), compute_uv=False)
            kappa = float(s[0] / s[-1])
        else:
            kappa, method = float("nan"), "estimate"
    return LinearSystem(matrix=L, rhs=B, transfers=transfers, steps=T, idle=int(idle),
                        block_dim=int(D), const_index=0, theta_index=theta_index,
                        expansion_point=np.asarray(expansion_point, dtype=float),
                        kappa=float(kappa), kappa_method=method)


def postselect_zero(num_qubits: int, system_qubits) -> dict:
    """{qubit: 0} for every qubit outside the system register."""
    sys_set = set(int(q) for q in system_qubits)
    return {q: 0 for q in range(num_qubits) if q not in sys_set}


def postselected_amplitudes(statevector, program) -> tuple[np.ndarray, float]:
    r"""From a full statevector of `program.circuit`, the (unnormalized) amplitudes of Y's entries
    after post-selecting every ancilla on its `postselect` value, and the success probability.
    Returns (y, p) with y[j] = amplitude at system basis index solution_map[j]."""
    psi = np.asarray(statevector, dtype=complex).reshape(-1)
    n = int(round(np.log2(psi.size)))
    sysq = [int(q) for q in program.system_qubits]
    # Index of a basis state: Σ_q bit_q 2^q. Build the ancilla part once.
    anc_value = 0
    for q, v in program.postselect.items():
        if int(v):
            anc_value |= 1 << int(q)
    ks = np.arange(1 << len(sysq))
    full = np.full(ks.shape, anc_value, dtype=np.int64)
    for b, q in enumerate(sysq):
        full |= ((ks >> b) & 1) << q
    sub = psi[full]
    p = float(np.vdot(sub, sub).real)
    smap = np.asarray(program.solution_map, dtype=np.int64)
    del n
    return sub[smap], p


def decode_trajectory(ls, Y) -> np.ndarray:
    """θ_t[i] = θ*_i + Re(Y[t, u_i] / Y[t, 1]) for t = 0..T (docs/maths.md), shape (T+1, n)."""
    D = ls.block_dim
    Y = np.asarray(Y).reshape(ls.num_blocks, D)[: ls.steps + 1]
    ratio = Y[:, np.asarray(ls.theta_index)] / Y[:, [ls.const_index]]
    return np.asarray(ls.expansion_point)[None, :] + ratio.real


def compare_solution(ls, Y, Y_ref=None) -> dict:
    r"""Fidelity |⟨Ŷ_ref|Ŷ⟩|², normalized state error (up to global phase) and decoded-trajectory
    errors of a candidate Y against the classical solve."""
    Y = np.asarray(Y, dtype=complex)
    ref = classical_solution(ls) if Y_ref is None else np.asarray(Y_ref)
    a = Y / np.linalg.norm(Y)
    b = ref / np.linalg.norm(ref)
    ov = np.vdot(b, a)
    phase = ov / abs(ov) if abs(ov) > 0 else 1.0
    th = decode_trajectory(ls, Y)
    th_ref = decode_trajectory(ls, ref)
    scale = max(np.max(np.abs(th_ref)), 1e-300)
    thT_ref = th_ref[-1]
    return {
        "fidelity": float(abs(ov) ** 2),
        "state_error": float(np.linalg.norm(a / phase - b)),
        "trajectory_error": float(np.max(np.abs(th - th_ref)) / scale),
        "theta_T_error": float(np.max(np.abs(th[-1] - thT_ref)) / max(np.max(np.abs(thT_ref)), 1e-300)),
        "theta": th,
        "theta_ref": th_ref,
    }
