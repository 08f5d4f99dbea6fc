r"""HHL: phase estimation, eigenvalue inversion, uncomputation (Harrow, Hassidim, Lloyd 2009).

For L·Y = B (docs/maths.md) we build a Hermitian H on m qubits:

* L Hermitian:      H = L_pad (`common.pad_system`: block-padded, identity on padded indices), m = s;
* L not Hermitian:  H = [[0, L], [L†, 0]] (the Hermitian dilation), m = s + 1.  With
  b̃ = (B, 0) the solution of H·x = b̃ is x = (0, L⁻¹B): it lives in the half of the register
  where the **dilation qubit (the top system qubit, index s) is 1**.

Circuit, one register ``q`` (little-endian):  q[0..s-1] solution qubits (`common.layout_for`: block
qubits, then time qubits; Y entry t·D + d at basis index t·D_pad + d), q[s] dilation qubit (if
any), q[m..m+c-1] the clock (q[m] least significant), q[m+c] the flag.

    prep(b̃) · V† · H^{⊗c} · Π_k c-D_k · QFT† · R_y(invert) · QFT · Π_k c-D_k† · H^{⊗c} · V

(by default prep(b̃)·V† is fused into one preparation of V†b̃: the same state, one QSD fewer).

Phase estimation applies controlled e^{iHt·2^k} for k = 0..c−1.  H is small in the supported regime,
so each evolution is synthesized densely from the eigen-decomposition H = V Λ V†:
c-e^{iHt2^k} = (I⊗V)·c-diag(e^{iλ_j t 2^k})·(I⊗V†), and the V†·V between consecutive controlled
evolutions cancel.  So the whole QPE costs one V† (Quantum Shannon Decomposition, ~0.45·4^m CX), c
controlled diagonals (2^{m+1} CX each) and a QFT — the same unitary as textbook QPE, far fewer gates
than c separate dense controlled unitaries.  Recorded as ``meta["hamiltonian_simulation"] =
"dense-synthesis"``.

Eigenvalue inversion: a uniformly controlled R_y on the flag, angle 2·asin(C/λ̃(k)) for clock
value k read as a signed (two's-complement) integer, so the ± eigenvalue pairs of the dilation get
the right sign.  Two variants:

``variant="textbook"``: U = e^{iHt}, t chosen so that the largest |λ| maps to clock value
    2^{c−1}−1 (no wrap-around); λ̃(k) = 2π·k/(2^c t).  Accuracy is limited by the phase-estimation
    leakage of eigenphases that are not multiples of 2π/2^c (error ~ κ/2^c).
``variant="spectral"`` (default): phase estimation of U = e^{2πi·K(H)/2^c}, where K maps each
    eigenvalue of H to an integer clock label (its textbook rounding, nudged so that distinct
    eigenvalues get distinct labels; order and sign kept).  U is a function of H (same
    eigenvectors), the phase estimation is then exact, and the inversion table holds the exact
    1/λ of the eigenvalue carrying each label.  This reads the table from the classical
    eigen-decomposition of H — affordable only because H is small here, and not a scalable
    quantum algorithm; it is what reaches the product's accuracy targets with a few clock bits.

SizeLimitError E0502 for more than ``max_qubits`` Hermitian-register qubits (dense synthesis).
"""
from __future__ import annotations

import math

import numpy as np

from qdsl.diagnostics import CompileError, Diagnostic, SizeLimitError
from qdsl.synthesis.common import layout_for, pad_system
from qdsl.synthesis.program import QuantumProgram

#: the gate set inside every block this module builds (all in OpenQASM 3's stdgates.inc)
NATIVE_BASIS = ("cx", "rz", "ry", "h", "x")

MAX_HERMITIAN_QUBITS = 7


# ---------------------------------------------------------------------------------------------
# small gate-level building blocks (named gates whose definitions use only NATIVE_BASIS)
# ---------------------------------------------------------------------------------------------

def _lower(circuit):
    from qiskit import transpile

    return transpile(circuit, basis_gates=list(NATIVE_BASIS), optimization_level=1,
                     seed_transpiler=0)


def _block(name: str, circuit):
    """A named gate whose definition is `circuit` lowered to NATIVE_BASIS."""
    from qiskit.circuit import Gate

    lowered = _lower(circuit)
    gate = Gate(name, circuit.num_qubits, [])
    gate.definition = lowered
    return gate


def _inverse_block(name: str, gate):
    from qiskit.circuit import Gate

    inv = Gate(name, gate.num_qubits, [])
    inv.definition = gate.definition.inverse()
    return inv


def uniformly_controlled_ry(angles) -> "QuantumCircuit":
    r"""Uniformly controlled R_y in standard gates: qubit 0 the target, qubits 1..k the controls;
    angle ``angles[j]`` when the controls hold j (little-endian).  Möttönen et al. (2004):
    θ = 2^{-k} Mᵀ α with M_{ij} = (−1)^{b_j · g_i} (g the Gray code), then R_y(θ_i)·CX alternating."""
    from qiskit import QuantumCircuit

    angles = np.asarray(angles, float)
    k = int(round(math.log2(len(angles))))
    qc = QuantumCircuit(k + 1)
    if k == 0:
        if abs(angles[0]) > 1e-14:
            qc.ry(float(angles[0]), 0)
        return qc
    n = 2 ** k
    gray = np.arange(n) ^ (np.arange(n) >> 1)
    # M[i, j] = (-1)^{popcount(j & gray[i])}
    bits = np.array([[bin(int(j) & int(g)).count("1") & 1 for j in range(n)] for g in gray])
    M = 1.0 - 2.0 * bits
    theta = M @ angles / n
    for i in range(n):
        if abs(theta[i]) > 1e-14:
            qc.ry(float(theta[i]), 0)
        # control bit that changes between gray[i] and gray[i+1] (cyclic)
        changed = int(gray[i] ^ gray[(i + 1) % n])
        ctrl = changed.bit_length() - 1
        qc.cx(1 + ctrl, 0)
    return qc


def _reduce_controls(angles, care):
    """Drop the controls a uniformly controlled rotation does not depend on (`care[j]` False: the
    angle for control value j is free, its branch has zero amplitude).  Returns (angles, kept)
    with `kept` the surviving control bit positions."""
    angles = np.asarray(angles, float)
    care = np.asarray(care, bool)
    k = int(round(math.log2(len(angles))))
    kept = list(range(k))
    b = k - 1
    while b >= 0:
        pos = kept.index(b)
        a = angles.reshape(-1, 2, 2 ** pos)
        c = care.reshape(-1, 2, 2 ** pos)
        both = c[:, 0] & c[:, 1]
        if np.allclose(a[:, 0][both], a[:, 1][both], atol=1e-13):
            angles = np.where(c[:, 0], a[:, 0], a[:, 1]).reshape(-1)
            care = (c[:, 0] | c[:, 1]).reshape(-1)
            kept.pop(pos)
        b -= 1
    return angles, kept


def real_state_preparation(vec) -> "QuantumCircuit":
    r"""|0…0⟩ → Σ_j v_j |j⟩ for a real unit vector v, by a binary tree of uniformly controlled R_y
    (magnitudes on the upper levels, signs through atan2 on the last level); standard gates only.
    Controls that do not matter (zero-amplitude branches, equal angles) are dropped, so a vector
    supported on a few basis states costs few gates."""
    from qiskit import QuantumCircuit

    v = np.asarray(vec, float)
    v = v / np.linalg.norm(v)
    n = int(round(math.log2(len(v))))
    qc = QuantumCircuit(n)
    # level l: target qubit n-1-l, controlled by the more significant qubits already prepared;
    # prefix index p (the values of qubits target+1..n-1) has bit b on qubit target+1+b.
    for level in range(n):
        target = n - 1 - level
        blocks = v.reshape(2 ** level, 2, 2 ** target)
        if level == n - 1:
            a, b = blocks[:, 0, 0], blocks[:, 1, 0]
        else:
            a = np.linalg.norm(blocks[:, 0, :], axis=1)
            b = np.linalg.norm(blocks[:, 1, :], axis=1)
        care = np.hypot(a, b) > 1e-14
        angles = 2.0 * np.arctan2(b, a)
        angles, kept = _reduce_controls(angles, care)
        if np.allclose(angles, 0.0, atol=1e-14):
            continue
        ucr = uniformly_controlled_ry(angles)
        qc.compose(ucr, [target] + [target + 1 + b for b in kept], inplace=True)
    return qc


# ---------------------------------------------------------------------------------------------
# the spectral data
# ---------------------------------------------------------------------------------------------

def _hermitian_system(ls, layout):
    """(H, b̃, dilated): the padded Hermitian matrix (common.pad_system's padding) and right-hand
    side (unnormalized)."""
    Lp, Bp = pad_system(ls, layout)
    Lp = Lp.toarray()
    hermitian = np.allclose(Lp, Lp.conj().T, atol=1e-12 * max(1.0, np.abs(Lp).max()))
    if hermitian:
        return Lp, Bp, False
    Z = np.zeros_like(Lp)
    H = np.block([[Z, Lp], [Lp.conj().T, Z]])
    b = np.concatenate([Bp, np.zeros_like(Bp)])
    return H, b, True


def _labels(lam, c):
    """Integer clock labels for eigenvalues `lam` (signed, |label| ≤ 2^{c−1}−1): textbook rounding
    with the largest |λ| at 2^{c−1}−1, nudged so that distinct |λ| get distinct labels; ± pairs get
    ± labels.  Returns (labels, collisions): how many distinct |λ| had to share a label (> 0 only
    when the clock is too small)."""
    kmax = 2 ** (c - 1) - 1
    a = np.abs(lam)
    amax = a.max()
    distinct = []  # representative values of distinct |λ|
    for x in np.sort(a):
        if not distinct or x - distinct[-1] > 1e-9 * amax:
            distinct.append(x)
    distinct = np.array(distinct)
    lab = np.maximum(1, np.rint(distinct / amax * kmax)).astype(int)
    # nudge upward to make the labels strictly increasing, then pull back from the top
    for i in range(1, len(lab)):
        lab[i] = max(lab[i], lab[i - 1] + 1)
    collisions = 0
    if lab[-1] > kmax:
        for i in range(len(lab) - 1, -1, -1):
            top = kmax if i == len(lab) - 1 else lab[i + 1] - 1
            lab[i] = min(lab[i], top)
        lab = np.maximum(lab, 1)
        collisions = int(len(lab) - len(np.unique(lab)))
    idx = np.searchsorted(distinct, a - 1e-9 * amax)
    idx = np.clip(idx, 0, len(distinct) - 1)
    return np.sign(lam).astype(int) * lab[idx], collisions


def choose_clock(kappa_h: float, n_distinct: int, eps: float, variant: str) -> int:
    """Clock bits: textbook needs λ_min at clock value ≳ 1/eps, i.e. 2^{c−1} ≳ κ/eps; spectral needs
    one label per distinct |λ| plus the sign bit."""
    if variant == "textbook":
        return 1 + max(1, math.ceil(math.log2(kappa_h / eps + 1)))
    return 1 + max(1, math.ceil(math.log2(n_distinct + 1)))


# ---------------------------------------------------------------------------------------------
# synthesis
# ---------------------------------------------------------------------------------------------

def synthesize_hhl(ls, *, clock: int | None = None, eps: float = 1e-2, variant: str = "spectral",
                   max_qubits: int = MAX_HERMITIAN_QUBITS, fuse_prep: bool = True) -> QuantumProgram:
    r"""HHL circuit for `ls` (a LinearSystem).  See the module docstring for the layout.

    clock: clock bits (None: chosen from κ and eps, see `choose_clock`); eps: target relative
    accuracy of the eigenvalue inversion (textbook variant); variant: "spectral" | "textbook";
    max_qubits: refuse Hermitian registers larger than this (SizeLimitError E0502); fuse_prep:
    prepare V†b̃ directly instead of prep(b̃) followed by V† (same state, one QSD fewer).
    Post-selection: flag = 1, clock = 0, dilation qubit = 1.  Y entry t·D + d lands at basis index
    t·D_pad + d of the solution qubits q[0..s−1] (`common.layout_for`)."""
    from qiskit import QuantumCircuit, QuantumRegister
    from qiskit.circuit.library import DiagonalGate, QFTGate
    from qiskit.synthesis import qs_decomposition

    if variant not in ("spectral", "textbook"):
        raise CompileError(Diagnostic("E0503", f"unknown HHL variant '{variant}'",
                                      help="use variant='spectral' or 'textbook'"))
    N = int(ls.dim)
    layout = layout_for(ls)
    if layout.num_system_qubits == 0:  # a 1×1 system still needs one qubit
        layout = layout_for(ls, min_time_blocks=2)
    s = layout.num_system_qubits
    m_guess = s if _is_hermitian_cheap(ls) else s + 1
    if m_guess > max_qubits:
        raise SizeLimitError(Diagnostic(
            "E0502",
            f"HHL with dense Hamiltonian simulation needs a {m_guess}-qubit Hermitian register "
            f"(system dimension {N}, padded to {layout.padded_dim}"
            f"{'' if m_guess == s else ', plus the dilation qubit'}); the limit is {max_qubits}",
            help="use solver qsvt (block-encoded, scales to large systems), or lower --steps / "
                 "--order"))
    H, b, dilated = _hermitian_system(ls, layout)
    m = s + 1 if dilated else s
    if not np.allclose(np.imag(b), 0) or not np.allclose(np.imag(H), 0):
        raise CompileError(Diagnostic("E0503", "HHL here supports real linear systems only"))
    H = np.real(H)
    b = np.real(b)
    lam, V = np.linalg.eigh(H)
    amin, amax = float(np.abs(lam).min()), float(np.abs(lam).max())
    if amin <= 1e-12 * amax:
        raise CompileError(Diagnostic("E0503", "the linear system is singular; HHL cannot invert it"))
    kappa_h = amax / amin
    a_sorted = np.sort(np.abs(lam))
    n_distinct = 1 + int(np.sum(np.diff(a_sorted) > 1e-9 * amax))
    auto_clock = clock is None
    c = int(clock) if clock is not None else choose_clock(kappa_h, n_distinct, eps, variant)
    if c < 2:
        raise CompileError(Diagnostic("E0503", f"HHL needs at least 2 clock bits (got {c})"))

    kmax = 2 ** (c - 1) - 1
    two_c = 2 ** c
    collisions = 0
    if variant == "textbook":
        scale = kmax / amax                       # clock value per unit eigenvalue
        t = 2 * math.pi * scale / two_c           # evolution time: e^{iHt}, eigenphase λt
        phases = lam * t                          # per eigenvector, radians for U^{1}
        k_signed = np.arange(two_c)
        k_signed = np.where(k_signed < 2 ** (c - 1), k_signed, k_signed - two_c)
        lam_tilde = np.where(k_signed != 0, k_signed / scale, np.inf)
        C = amin                                 # clip |C/λ̃| at 1 for the leakage below λ_min
    else:
        labels, collisions = _labels(lam, c)
        scale = kmax / amax
        t = None
        phases = 2 * math.pi * labels / two_c
        k_signed = np.arange(two_c)
        k_signed = np.where(k_signed < 2 ** (c - 1), k_signed, k_signed - two_c)
        lam_tilde = np.where(k_signed != 0, k_signed / scale, np.inf)
        # exact eigenvalue of each used label (mean of 1/λ if a too-small clock merged several)
        for lab in np.unique(labels):
            sel = labels == lab
            lam_tilde[int(lab) % two_c] = 1.0 / np.mean(1.0 / lam[sel])
        C = amin
    warnings = []
    if collisions:
        warnings.append(f"W0501: {c} clock bits give {kmax} labels for {n_distinct} distinct "
                        f"|eigenvalues|; {collisions} of them share a label and are inverted approximately "
                        f"(use clock ≥ {choose_clock(kappa_h, n_distinct, eps, 'spectral')})")
    ratio = np.clip(C / lam_tilde, -1.0, 1.0)
    rot_angles = 2.0 * np.arcsin(ratio)

    # ---- blocks --------------------------------------------------------------------------------
    v = _block("hhl_eigbasis", qs_decomposition(V))
    if fuse_prep:
        # prep(b̃)·V† on |0⟩ is the state V†b̃: prepare it directly (eigenbasis coordinates)
        prep = _block("hhl_prep_eigbasis", real_state_preparation(V.T @ b))
    else:
        prep = _block("hhl_prep", real_state_preparation(b))
    phase_gates = []
    for k in range(c):
        diag = np.concatenate([np.ones(2 ** m), np.exp(1j * phases * 2 ** k)])
        qc = QuantumCircuit(m + 1)
        qc.append(DiagonalGate(list(diag)), list(range(m + 1)))
        phase_gates.append(_block(f"hhl_cevolve_{k}", qc))
    qft_circ = QuantumCircuit(c)
    qft_circ.append(QFTGate(c).inverse(), list(range(c)))
    iqft = _block("hhl_iqft", qft_circ)
    qft = _inverse_block("hhl_qft", iqft)
    invert = _block("hhl_invert", uniformly_controlled_ry(rot_angles))

    q = QuantumRegister(m + c + 1, "q")
    circ = QuantumCircuit(q, name="hhl")
    sysq = list(range(m))
    clk = list(range(m, m + c))
    flag = m + c
    circ.append(prep, sysq)
    if not fuse_prep:
        circ.append(_inverse_block("hhl_eigbasis_dg", v), sysq)
    for j in clk:
        circ.h(j)
    for k in range(c):
        circ.append(phase_gates[k], sysq + [clk[k]])
    circ.append(iqft, clk)
    circ.append(invert, [flag] + clk)
    circ.append(qft, clk)
    for k in reversed(range(c)):
        circ.append(_inverse_block(f"hhl_cevolve_{k}_dg", phase_gates[k]), sysq + [clk[k]])
    for j in clk:
        circ.h(j)
    circ.append(v, sysq)

    postselect = {flag: 1}
    postselect.update({j: 0 for j in clk})
    if dilated:
        postselect[s] = 1
    system_qubits = tuple(layout.system_qubits)
    solution_map = layout.solution_map()

    declared = _count_flat(circ)
    meta = {
        "variant": variant,
        "hamiltonian_simulation": "dense-synthesis",
        "hamiltonian_simulation_detail": "eigenbasis: c-exp(iHt2^k) = V·c-diag·V†, V by QSD; "
                                         "adjacent V†·V cancelled"
                                         + ("; prep(b̃)·V† fused into prep(V†b̃)" if fuse_prep else ""),
        "fuse_prep": bool(fuse_prep),
        "clock": c,
        "clock_auto": auto_clock,
        "eps": float(eps),
        "dilated": bool(dilated),
        "dilation_qubit": int(s) if dilated else None,
        "solution_half": "dilation qubit = 1" if dilated else "whole register",
        "hermitian_qubits": int(m),
        "padded_dim": int(layout.padded_dim),
        "register_layout": layout.to_dict(),
        "kappa_hermitian": float(kappa_h),
        "lambda_min": amin,
        "lambda_max": amax,
        "distinct_abs_eigenvalues": int(n_distinct),
        "label_collisions": int(collisions),
        "warnings": warnings,
        "evolution_time": None if t is None else float(t),
        "clock_scale": float(scale),
        "inversion_constant": float(C),
        "layout": {"solution": list(system_qubits), "dilation": int(s) if dilated else None,
                   "clock": clk, "flag": flag},
    }
    return QuantumProgram(circuit=circ, solver="hhl", system_qubits=system_qubits,
                          postselect=postselect, solution_map=solution_map, linear_system=ls,
                          meta=meta, declared=declared)


def _is_hermitian_cheap(ls) -> bool:
    M = ls.matrix
    try:
        d = (M - M.conj().T)
        return (abs(d).max() if d.nnz else 0.0) <= 1e-12
    except AttributeError:
        A = np.asarray(M)
        return np.allclose(A, A.conj().T)


def _count_flat(circ) -> dict:
    """Gate counts after inlining every named block, computed additively from each block's counts."""
    memo: dict[int, dict] = {}

    def counts(qc) -> dict:
        out: dict[str, int] = {}
        for inst in qc.data:
            op = inst.operation
            if op.name in NATIVE_BASIS:
                sub = {op.name: 1}
            else:
                key = id(op.definition)
                if key not in memo:
                    memo[key] = counts(op.definition)
                sub = memo[key]
            for g, n in sub.items():
                out[g] = out.get(g, 0) + n
        return out

    return dict(sorted(counts(circ).items()))
