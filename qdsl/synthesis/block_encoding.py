r"""Block-encoding of the history-state matrix L = I − S·M̄ by a linear combination of unitaries.

With the time shift S|t⟩ = |t+1 mod N_pad⟩ and the time-multiplexed transfer

    M̄ = Σ_t |t⟩⟨t| ⊗ M̄_t,   M̄_t = M_t (t < T),  I (idle, T ≤ t < T+p),  0 (t ≥ T+p),

the padded history matrix of docs/maths.md is L = I − S·M̄: M̄_{T+p} = 0 cuts both the wrap-around of the
cyclic shift and any coupling from the last real block into padding blocks, which are therefore
identity rows with zero right-hand side. M̄ is block-encoded with subnormalization
β = max(max_t ‖M_t‖₂, 1) by the unitary dilation (one extra qubit `dil`)

    U(A) = [[A, √(I − AA†)], [√(I − A†A), −A†]],   A = M_t / β   (zero-padded to D_pad),

applied controlled on a flag qubit that marks the time steps of one class (steps sharing a
matrix: gd/flow have one class, sgd one per distinct batch), the idle steps by RY(2 arccos 1/β)
on `dil`, and the dropped steps by X on `dil` (the dilation of 0). The LCU (one `sel` qubit)

    PREP = RY(2 atan √β),  SELECT = |0⟩⟨0| ⊗ I − |1⟩⟨1| ⊗ S·W_M̄,  U_L = PREP† · SELECT · PREP

has ⟨0_anc| U_L |0_anc⟩ = (I − S·M̄)/α with α = 1 + β (Childs, Kothari, Somma 2017; Gilyén, Su,
Low, Wiebe 2019, Lemma 52). The increment is a ladder of multi-controlled X gates; the dilations are
the only dense pieces, synthesized once per class on n_d + 2 qubits (`qs_decomposition` without
its "A.1" CZ-absorbing optimization, which loses ~1e-5 of accuracy on some inputs; the exact
variant is accurate to rounding).

`dense_history` wraps the circuit as a `blocks.base.BlockEncoding`; its self-check compares the
flagged block with L_pad/α on random inputs, within the error budget the QSVT solver allots to the
block-encoding (`block_tolerance`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .common import RegisterLayout, classical_solution, layout_for

__all__ = ["BlockEncodingLayout", "block_encoding", "dense_history", "dilation", "dyadic_cover",
           "BASIS_GATES", "encoded_matrix", "transfer_at", "verify_block", "block_tolerance"]

#: the standard gate set that block-encoding bodies are lowered to (all in OpenQASM 3 stdgates.inc)
BASIS_GATES = ("cx", "ry", "rz", "h", "x")


@dataclass(frozen=True, eq=False)
class BlockEncodingLayout:
    """Where things are in a block-encoding circuit, and what it encodes.

    `system` is the RegisterLayout of the padded history state (qubits 0..n_sys−1); `ancillas`
    the block-encoding's flag qubits (all |0⟩ select the encoded block): (sel, dil[, flag]).
    `matrix` is the padded matrix encoded (sparse, N_pad·D_pad square); `beta` the transfer
    subnormalization; `classes` a list of {"kind", "steps"} describing the multiplexing."""

    system: RegisterLayout
    sel: int
    dil: int
    flag: int | None
    matrix: sp.csr_matrix
    beta: float
    classes: list = field(default_factory=list)

    @property
    def ancillas(self) -> tuple[int, ...]:
        return (self.sel, self.dil) + (() if self.flag is None else (self.flag,))

    @property
    def num_qubits(self) -> int:
        return self.system.num_system_qubits + len(self.ancillas)


def dilation(A: np.ndarray) -> np.ndarray:
    r"""U(A) = [[A, √(I−AA†)], [√(I−A†A), −A†]] for ‖A‖ ≤ 1 (real A gives a real orthogonal U)."""
    A = np.asarray(A)
    n = A.shape[0]
    W, s, Vh = np.linalg.svd(A)
    s = np.clip(s, 0.0, 1.0)
    c = np.sqrt(1.0 - s * s)
    top_right = (W * c) @ W.conj().T
    bottom_left = (Vh.conj().T * c) @ Vh
    U = np.zeros((2 * n, 2 * n), dtype=A.dtype if np.iscomplexobj(A) else float)
    U[:n, :n] = A
    U[:n, n:] = top_right
    U[n:, :n] = bottom_left
    U[n:, n:] = -A.conj().T
    return U


def dyadic_cover(steps, nbits: int) -> list[tuple[int, int]]:
    """Cover a set of integers in [0, 2^nbits) exactly by disjoint aligned blocks
    (value, free_bits): {value + k : 0 ≤ k < 2^free_bits}, value a multiple of 2^free_bits."""
    s = sorted(set(int(t) for t in steps))
    out = []
    i = 0
    while i < len(s):
        start = s[i]
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        end = s[j] + 1  # run [start, end)
        a = start
        while a < end:
            f = 0
            while f < nbits and a % (1 << (f + 1)) == 0 and a + (1 << (f + 1)) <= end:
                f += 1
            out.append((a, f))
            a += 1 << f
        i = j + 1
    return out


def transfer_at(ls, t: int):
    """M_t (a LinearSystem may hold a single transfer matrix shared by every step)."""
    tr = ls.transfers
    return tr[t] if len(tr) > 1 else tr[0]


def _transfer_classes(ls, layout: RegisterLayout):
    """Time steps grouped by their M̄_t: [(kind, matrix or None, steps)]."""
    T, p = ls.steps, ls.idle
    classes: list[list] = []
    for t in range(T):
        M = sp.csr_matrix(transfer_at(ls, t))
        for c in classes:
            diff = abs(c[1] - M)
            if diff.nnz == 0 or diff.max() <= 1e-14:
                c[2].append(t)
                break
        else:
            classes.append(["transfer", M, [t]])
    out = [tuple(c) for c in classes]
    if p > 0:
        out.append(("idle", None, list(range(T, T + p))))
    out.append(("zero", None, list(range(T + p, layout.time_pad))))
    return out


def encoded_matrix(ls, layout: RegisterLayout, beta_idle: bool = True) -> sp.csr_matrix:
    """I − S·M̄ in the padded index space (what `block_encoding` encodes, times α)."""
    Dp, Np = layout.block_pad, layout.time_pad
    D = ls.block_dim
    rows, cols, vals = [], [], []
    for t in range(ls.steps + ls.idle):
        if t < ls.steps:
            M = sp.coo_matrix(transfer_at(ls, t))
            r, c, v = M.row, M.col, M.data
        else:  # idle: identity on the whole padded block
            r = c = np.arange(Dp)
            v = np.ones(Dp)
        rows.append((t + 1) * Dp + r)
        cols.append(t * Dp + c)
        vals.append(-np.asarray(v, dtype=float))
    n = Dp * Np
    off = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n)) if rows else sp.csr_matrix((n, n))
    del D
    return (sp.identity(n, format="csr") + off).tocsr()


def _pattern_mcx(qc, controls_extra, time_qubits, value: int, free: int, target: int):
    """Flip `target` when every qubit in controls_extra is 1 and the fixed (high) time bits equal
    those of `value` (the low `free` bits are unconstrained)."""
    from qiskit.circuit.library import MCXGate

    fixed = list(range(free, len(time_qubits)))
    zeros = [time_qubits[b] for b in fixed if not (value >> b) & 1]
    ctrls = list(controls_extra) + [time_qubits[b] for b in fixed]
    for q in zeros:
        qc.x(q)
    if len(ctrls) == 0:
        qc.x(target)
    elif len(ctrls) == 1:
        qc.cx(ctrls[0], target)
    else:
        qc.append(MCXGate(len(ctrls)), ctrls + [target])
    for q in zeros:
        qc.x(q)


def _lower(qc, basis=BASIS_GATES):
    """Transpile to standard gates without assuming any qubit starts in |0⟩."""
    from qiskit import transpile

    return transpile(qc, basis_gates=list(basis), optimization_level=1,
                     qubits_initially_zero=False, seed_transpiler=0)


def _controlled_dilation_circuit(A: np.ndarray, nd: int, name: str):
    """(n_d + 2)-qubit circuit on [block..., dil, ctrl]: |0⟩⟨0|_ctrl ⊗ I + |1⟩⟨1|_ctrl ⊗ U(A)."""
    from qiskit.synthesis import qs_decomposition

    U = dilation(A)
    n = U.shape[0]
    CU = np.eye(2 * n, dtype=complex)
    CU[n:, n:] = U
    qc = qs_decomposition(CU, opt_a1=False)
    low = _lower(qc)
    low.name = name
    return low


def block_encoding(ls, *, verify: bool = True, basis=BASIS_GATES, tol: float | None = None):
    r"""Block-encode the padded history matrix: returns (circuit, alpha, layout).

    `circuit` acts on layout.num_qubits qubits (system register first, then sel, dil[, flag]) and
    ⟨0_anc|circuit|0_anc⟩ = layout.matrix / alpha on the system register. Supports per-step
    transfer matrices (multiplexed by class), idle steps and any T, D (padded to powers of two).
    `verify` checks the encoded matrix against the LinearSystem's solution (classically) and the
    circuit's flagged block against it by simulation (≤ VERIFY_MAX_QUBITS qubits), within `tol`
    (default: `block_tolerance` at eps = 1e-3)."""
    from qiskit import QuantumCircuit

    layout = layout_for(ls, min_time_blocks=2)  # T = p = 0 still gets a (padded) time qubit
    nd, nt = layout.block_qubits, layout.time_qubits
    Dp = layout.block_pad
    classes = _transfer_classes(ls, layout)
    norms = [float(np.linalg.norm(c[1].toarray(), 2)) for c in classes if c[0] == "transfer"]
    beta = max(norms + [1.0])
    alpha = 1.0 + beta
    n_sys = layout.num_system_qubits
    sel, dil = n_sys, n_sys + 1
    needs_flag = any(c[0] == "transfer" for c in classes) or (ls.idle > 0 and beta > 1 + 1e-15)
    flag = n_sys + 2 if needs_flag else None
    nq = n_sys + 2 + (1 if needs_flag else 0)
    block = list(layout.block_register)
    time = list(layout.time_register)

    qc = QuantumCircuit(nq, name="block_encoding")
    prep = 2 * np.arctan(np.sqrt(beta))
    qc.ry(prep, sel)
    info = []
    for k, (kind, M, steps) in enumerate(classes):
        info.append({"kind": kind, "steps": [int(t) for t in steps]})
        if not steps:
            continue
        cover = dyadic_cover(steps, nt)
        if kind == "zero":
            for value, free in cover:
                _pattern_mcx(qc, [sel], time, value, free, dil)
            continue
        if kind == "idle" and beta <= 1 + 1e-15:
            continue
        for value, free in cover:
            _pattern_mcx(qc, [sel], time, value, free, flag)
        if kind == "idle":
            qc.cry(2 * np.arccos(1.0 / beta), flag, dil)
        else:
            A = np.zeros((Dp, Dp))
            A[: ls.block_dim, : ls.block_dim] = M.toarray() / beta
            sub = _controlled_dilation_circuit(A, nd, f"dilation_{k}")
            qc.compose(sub, block + [dil, flag], inplace=True)
        for value, free in reversed(cover):
            _pattern_mcx(qc, [sel], time, value, free, flag)
    # controlled increment on the time register: bit k flips when sel and all lower bits are 1
    from qiskit.circuit.library import MCXGate
    for k in reversed(range(nt)):
        ctrls = [sel] + time[:k]
        if len(ctrls) == 1:
            qc.cx(sel, time[k])
        else:
            qc.append(MCXGate(len(ctrls)), ctrls + [time[k]])
    qc.z(sel)
    qc.ry(-prep, sel)
    circuit = _lower(qc, basis)
    circuit.name = "block_encoding"

    matrix = encoded_matrix(ls, layout)
    bel = BlockEncodingLayout(system=layout, sel=sel, dil=dil, flag=flag, matrix=matrix,
                              beta=beta, classes=info)
    if verify:
        _verify_encoded_solution(ls, layout, matrix)
        if nq <= VERIFY_MAX_QUBITS:
            verify_block(circuit, matrix / alpha, n_sys,
                         tol=block_tolerance(ls, alpha) if tol is None else tol)
    return circuit, alpha, bel


def block_tolerance(ls, alpha: float, eps: float = 1e-3, max_abs: float = 0.9) -> float:
    r"""The error the QSVT solver can allow the flagged block of one block-encoding call.

    QSVT applies the block-encoding d times; a flagged block off by δ in operator norm moves the
    unnormalized output P^{SV}(A†)b by at most d·δ (triangle inequality over the d calls), and
    the output has norm ≥ max_abs/κ′ (|P(x)| ≈ max_abs·x_min/x on [1/κ′, 1]), so the normalized
    solution moves by ≤ 2·d·δ·κ′/max_abs. Allotting eps/4 of the solver's eps to it:
    δ ≤ eps·max_abs / (8·d·κ′), with κ′ = α·‖L⁻¹‖ and d = qsp.degree_for(κ′, eps/4)."""
    from qdsl.lowering.history import inverse_norm

    from .qsp import degree_for

    kp = max(1.0, alpha * inverse_norm(ls)[0])
    d = degree_for(kp, eps / 4)
    return eps * max_abs / (8.0 * d * kp)


def dense_alpha(ls) -> float:
    """α = 1 + β of the dense construction, β = max(max_t ‖M_t‖₂, 1), without synthesizing it."""
    layout = layout_for(ls, min_time_blocks=2)
    return 1.0 + max([float(np.linalg.norm(c[1].toarray(), 2)) for c in _transfer_classes(ls, layout)
                      if c[0] == "transfer"] + [1.0])


def dense_history(ls, *, eps: float = 1e-3):
    """The dense block-encoding of L as a `blocks.base.BlockEncoding` (construction "dense"),
    checked within `block_tolerance(ls, α, eps)`."""
    from .blocks.base import BlockEncoding
    from .blocks.cost import count_circuit

    layout = layout_for(ls, min_time_blocks=2)
    if layout.block_qubits + 2 > DENSE_MAX_QUBITS:
        from qdsl.diagnostics import Diagnostic, SizeLimitError
        raise SizeLimitError(Diagnostic(
            "E0504", f"the dense block-encoding would synthesize a {layout.block_qubits + 2}-qubit "
                     f"unitary gate by gate (the dilation of the {ls.block_dim}-dimensional transfer "
                     f"matrix), over the limit of {DENSE_MAX_QUBITS} qubits",
            help="use --block-encoding structured (the default) or sparse-access"))
    circuit, alpha, bel = block_encoding(ls, tol=block_tolerance(ls, dense_alpha(ls), eps))
    return BlockEncoding(circuit, alpha, tuple(bel.system.system_qubits), tuple(bel.ancillas),
                         "dense", count_circuit(circuit), solution_map=bel.system.solution_map(),
                         matrix=bel.matrix,
                         meta={"beta": float(bel.beta), "classes": bel.classes,
                               "method": "lcu(identity, shift*multiplexed dense dilation)"})


#: block-encodings up to this many qubits are checked by simulation right after synthesis
VERIFY_MAX_QUBITS = 14
#: the widest controlled dilation synthesized densely (a QSD of 4^k entries, ~0.8·4^k rotations)
DENSE_MAX_QUBITS = 9


def verify_block(circuit, block, n_sys: int, *, samples: int = 2, tol: float) -> float:
    r"""Check ⟨0_anc|circuit|0_anc⟩ = block on random inputs (the system register is qubits
    0..n_sys−1, every other qubit an ancilla in |0⟩); raises qdsl's InternalError past `tol` (the
    error budget, `block_tolerance`). Guards against synthesis passes that borrow ancillas as if
    they were clean, and against inaccurate synthesis."""
    from qiskit.quantum_info import Statevector

    rng = np.random.default_rng(1234)
    N = 1 << n_sys
    worst = 0.0
    for _ in range(samples):
        v = rng.standard_normal(N) + 1j * rng.standard_normal(N)
        v /= np.linalg.norm(v)
        full = np.zeros(1 << circuit.num_qubits, dtype=complex)
        full[:N] = v
        out = Statevector(full).evolve(circuit).data
        want = block @ v
        worst = max(worst, float(np.max(np.abs(out[:N] - want))))
    if worst > tol:
        from qdsl.diagnostics import InternalError
        raise InternalError(f"dense block-encoding check failed: max deviation {worst:.3g} over "
                            f"the error budget {tol:.3g}")
    return worst


def _verify_encoded_solution(ls, layout: RegisterLayout, matrix) -> None:
    """The encoded padded matrix must reproduce L's solution with zeros in the padding."""
    import scipy.sparse.linalg as spla

    smap = layout.solution_map()
    B = np.zeros(layout.padded_dim)
    B[smap] = np.asarray(ls.rhs, dtype=float)
    Yp = spla.spsolve(sp.csc_matrix(matrix), B)
    Y = classical_solution(ls)
    scale = max(np.linalg.norm(Y), 1e-300)
    pad = np.delete(Yp, smap)
    # two sparse LU solves of unit-lower-triangular systems: agreement to κ(L)·u·dim per entry
    tol = 64 * float(ls.kappa if np.isfinite(ls.kappa) else 1e6) * np.finfo(float).eps * layout.padded_dim
    if np.linalg.norm(Yp[smap] - Y) > tol * scale or (pad.size and np.max(np.abs(pad)) > tol * scale):
        from qdsl.diagnostics import InternalError
        raise InternalError("padded block-encoded system does not reproduce the history solution")
