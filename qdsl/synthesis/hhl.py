r"""HHL: phase estimation, eigenvalue inversion, uncomputation (Harrow, Hassidim, Lloyd 2009).

Two variants.  ``variant="walk"`` (the default) needs no classical eigenvalues: phase estimation
runs on the qubitized walk operator of a block-encoding of the system (`qdsl.synthesis.walk`), and
the inversion angles are functions of the clock value alone.  ``variant="oracle"`` is the
reference: it reads its inversion table from a classical eigendecomposition of the system and
synthesizes e^{iHt} densely from it — exact with few clock bits, affordable only for tiny systems,
not a quantum algorithm anyone can run at scale.  ``meta["variant"]`` and
``meta["hamiltonian_simulation"]`` ("qubitized walk" / "dense-synthesis") say which one ran.

**The system.**  For L·Y = B (docs/maths.md), padded to a power of two with identity rows
(`common.pad_system`): if L is Hermitian, H = L; otherwise H = [[0, L], [L†, 0]], whose solution of
H·x = (B, 0) is x = (0, L⁻¹B): it lives where the **dilation qubit z is 1**.

**Walk variant.**  A block-encoding U of L with subnormalization α (⟨0|U|0⟩ = L/α; by default the
dense unitary dilation of the padded L, `walk.dense_block_encoding`; pass `block_encoding=` for
another) is symmetrized into a Hermitian unitary V and turned into the walk W = (2Π − I)·V, whose
eigenphases on the eigenvector |λ⟩ of H are ±φ, φ = arccos(λ/α) (Low & Chuang 2019; see
`walk`).  Circuit, c clock qubits, N = 2^c:

    prep(b) · window · Π_j c-W^{2^j} · QFT† · R_y(invert) · QFT · Π_j c-W^{−2^j} · window†

*Window.*  The clock starts in w_j = √(2/M)·sin(π(j+1)/M), M = N + 1 (j = 0..N−1), the state of
minimal Holevo phase variance (Luis & Peřina, PRA 54, 4564 (1996); Berry & Wiseman, PRL 85, 5098
(2000); HHL's Appendix A uses the same idea, sin(π(j+½)/N)), instead of H^{⊗c}: the distribution
of the clock value k for eigenphase φ,

    p_φ(k) = |N^{−½} Σ_j w_j e^{ij(φ − φ̃_k)}|² = sin²(π/M)·cos²(MΔ/2) / (2NM·(sin²(Δ/2) − sin²(π/2M))²),

Δ = φ − φ̃_k, φ̃_k = 2πk/N (second differences of w summed by parts), decays as Δ⁻⁴ instead of the
Fejér kernel's Δ⁻²; its envelope P̄(Δ) (cos² → 1) is decreasing for π/M < |Δ| ≤ π.  Its first
moment is exact: Σ_k p_φ(k) e^{iφ̃_k} = A₁e^{iφ} + w₀w_{N−1}e^{−i(N−1)φ}, A₁ = Σ_j w_j w_{j−1} =
cos(π/M) (w is the top eigenvector of the path graph), w₀w_{N−1} = (2/M)·sin²(π/M).

*Inversion, from the clock value alone.*  k ↦ φ̃_k ↦ λ̃_k = α·cos φ̃_k (sign included) ↦ flag
rotation RY(2·asin f_k) with f_k = C/λ̃_k where |λ̃_k| ≥ C and f_k = sign(λ̃_k) below (a uniformly
controlled RY; no eigen-solver anywhere).  The two eigenphases ±φ of one λ land on clock values k
and N − k, and cos φ̃_{N−k} = cos φ̃_k: **both branches get the same λ̃**, which is why the
inversion needs no sign bit and why the branches recombine after the uncomputation.

*What comes out, exactly.*  After uncomputing the phase estimation, the amplitude on clock = 0,
flag = 1 of the eigenvector |w_±⟩ of W is Σ_k p_{±φ}(k)·f_k; since p_{−φ}(k) = p_φ(−k) and
f_{−k} = f_k it is the same real number g(λ) for both branches, so they recombine into |0_anc′⟩|λ⟩
and the post-selected state is exactly g(H)|b⟩ with g(λ) = Σ_k p_φ(k)·f_k.

*Error bound* (the precision a clock size promises).  Let x = λ/α, |x| ≥ x_lo = 1/κ̂ with
κ̂ = α·‖L⁻¹‖ (one scalar, `lowering.history.inverse_norm`: exact by an SVD where affordable,
else a certified bound or an estimate; the inversion table never sees a spectrum),
C = α·x_lo/2, x̃ = λ̃/α, and e(λ) = λ·g(λ)/C − 1 = Σ_k p_φ(k)·r_k.  For unclipped k (|x̃_k| ≥ C/α) r_k = x/x̃_k − 1 =
−(x̃_k − x)/x + (x̃_k − x)²/(x·x̃_k); clipped k need |x̃_k − x| > |x|/2, hence an angle |Δ| > |x|/2
(|cos a − cos b| ≤ |a − b|).  With E[(x̃ − x)²] ≤ E|e^{iφ̃} − e^{iφ}|² ≤ V₂ = 2(1 − A₁) + 2w₀w_{N−1}:

    |e(λ)| ≤ δ = (1 − A₁) + w₀w_{N−1}·κ̂            (first moment: the bias cancels to O(N⁻²))
               + 2κ̂²·V₂                              (second moment, |x·x̃| ≥ x_lo²/2)
               + sup_{x_lo ≤ x ≤ 1} Π(x − C/α)·(x·α/C + 5/2)   (clipped bins)

where Π(d) = P(|Δ| > d) ≤ min(1, 2 Σ_{m≥0} P̄(d + 2πm/N)) for d > π/M (else 1).  Per eigenvalue
g(λ) = (C/λ)(1 + e(λ)), so ‖g(H)b − C·H⁻¹b‖ ≤ δ·C‖H⁻¹b‖ and the normalized post-selected state is
within **2δ** of the normalized solution (‖v/‖v‖ − u/‖u‖‖ ≤ 2‖v − u‖/‖u‖; g is real, no phase).
The dominant term is 2κ̂²V₂ ≈ 2π²κ̂²/N²: the phase resolution 2π/N near φ = π/2 (where
dλ/dφ = −α sin φ ≈ −α, so δλ/λ ≈ κ̂·δφ) enters squared, because the symmetric window makes the
kernel average of 1/λ̃ unbiased to first order.  So **c ≈ log₂(2π·κ̂/√ε)**, plus a bit or two for
the clipped-bin tail; `choose_clock` takes the smallest c with 2δ ≤ ε, evaluating the bound.
Success probability ≥ (1 − δ)²/(4κ̂²).

Circuit, one register ``q`` (little-endian): q[0..s−1] solution qubits (`common.layout_for`: block
qubits, then time qubits; Y entry t·D + d at basis index t·D_pad + d), q[s] the dilation qubit z
(if any), then the walk's flag qubits (U's ancillas, and z when L is Hermitian), then clean
temporaries (U's, and the AND temporary of the controlled walk), the clock, the flag.
Post-selection: flag = 1, clock = 0, flags and temporaries 0, z = 1.

Cost: 2(2^c − 1) controlled walk steps = 4(2^c − 1) controlled block-encoding calls, the window
preparation and its inverse (2^c RY and CX each), the QFT pair and the inversion multiplexer (2^c RY,
2^c CX).  Powers of W are gates defined by two calls of the previous power.

**Oracle variant** (reference).  Phase estimation of U = e^{2πi·K(H)/2^c}, where K maps each
eigenvalue of H to an integer clock label (textbook rounding, nudged so that distinct eigenvalues
get distinct labels; order and sign kept): c-U^{2^k} = (I⊗V)·c-diag·(I⊗V†) from H = VΛV†, and the
table holds the exact 1/λ of each label's eigenvalue.  One V† (QSD, ~0.45·4^m CX), c controlled
diagonals, a QFT; prep(b̃)·V† is fused into one preparation of V†b̃.  SizeLimitError E0502 over
``max_qubits`` Hermitian-register qubits.
"""
from __future__ import annotations

import math

import numpy as np

from qdsl.diagnostics import CompileError, Diagnostic, SizeLimitError
from qdsl.synthesis.block_encoding import _lower
from qdsl.synthesis.common import layout_for, pad_system
from qdsl.synthesis.program import QuantumProgram
from qdsl.synthesis.walk import NATIVE_BASIS, controlled_walk, dense_block_encoding

__all__ = ["synthesize_hhl", "choose_clock", "inversion_error_bound", "solution_error_bound",
           "qft_cost", "multiplexer_cost", "walk_attempt_cost", "inversion_response", "walk_output",
           "window_state", "inversion_table", "real_state_preparation", "uniformly_controlled_ry",
           "NATIVE_BASIS", "VARIANTS"]

VARIANTS = ("walk", "oracle")

#: oracle variant: largest Hermitian register synthesized densely
MAX_HERMITIAN_QUBITS = 7
#: walk variant with the dense adapter: largest dense block-encoding unitary (system + 1 flag);
#: its controlled version, synthesized by QSD, has one qubit more (~0.45·4^8 CX at the limit)
MAX_DENSE_BLOCK_QUBITS = 7
#: largest clock register (2^c − 1 walk steps per phase estimation)
MAX_CLOCK = 14   # 2^14 walk steps; the window and inversion blocks grow as 2^c (a 2^16 clock: 13 MB, 15 s)


# ---------------------------------------------------------------------------------------------
# small gate-level building blocks (named gates whose definitions use only NATIVE_BASIS)
# ---------------------------------------------------------------------------------------------

def _block(name: str, circuit):
    """A named gate whose definition is `circuit` lowered to NATIVE_BASIS (no qubit assumed |0⟩:
    blocks are used in the middle of circuits)."""
    from qiskit.circuit import Gate

    lowered = _lower(circuit, NATIVE_BASIS)
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
    angle ``angles[j]`` when the controls hold j (little-endian).  Möttönen et al. (2004): the
    Gray-code angles of `blocks.prepare` (a Walsh–Hadamard transform), then R_y(θ_i)·CX
    alternating, the CX from the control whose bit changes next (cyclically)."""
    from qiskit import QuantumCircuit

    from qdsl.synthesis.blocks.prepare import _gray, _multiplexor_angles

    angles = np.asarray(angles, float)
    k = int(round(math.log2(len(angles))))
    qc = QuantumCircuit(k + 1)
    theta = _multiplexor_angles(angles)
    n = 1 << k
    for i in range(n):
        if abs(theta[i]) > 1e-14:
            qc.ry(float(theta[i]), 0)
        if k:
            qc.cx(1 + (_gray(i) ^ _gray((i + 1) % n)).bit_length() - 1, 0)
    return qc


def real_state_preparation(vec) -> "QuantumCircuit":
    r"""|0…0⟩ → Σ_j v_j|j⟩/‖v‖ for a real vector v (length 2^n): `blocks.prepare.PrepareState`
    (a binary tree of uniformly controlled R_y, controls that cannot matter dropped) as a
    circuit on n qubits."""
    from qiskit import QuantumCircuit

    from qdsl.synthesis.blocks.prepare import PrepareState

    prep = PrepareState(np.asarray(vec, float))
    qc = QuantumCircuit(prep.num_qubits)
    prep.build(qc, range(prep.num_qubits))
    return qc


# ---------------------------------------------------------------------------------------------
# the walk variant: window, error bound, clock, inversion table
# ---------------------------------------------------------------------------------------------

def window_state(c: int) -> np.ndarray:
    r"""w_j = √(2/M)·sin(π(j+1)/M), M = 2^c + 1, j = 0..2^c−1: the clock's initial state (unit
    norm; module docstring)."""
    N = 1 << int(c)
    M = N + 1
    return np.sqrt(2.0 / M) * np.sin(np.pi * (np.arange(N) + 1) / M)


def _window_moments(N: int) -> tuple[float, float, float]:
    """(1 − A₁, w₀·w_{N−1}, V₂) of the window for N clock values."""
    M = N + 1
    one_minus_a1 = 2.0 * math.sin(math.pi / (2 * M)) ** 2          # 1 − cos(π/M), no cancellation
    w0wn = 2.0 / M * math.sin(math.pi / M) ** 2
    return one_minus_a1, w0wn, 2.0 * one_minus_a1 + 2.0 * w0wn


def window_envelope(delta, N: int) -> np.ndarray:
    r"""P̄(Δ) = sin²(π/M) / (2NM·(sin²(Δ/2) − sin²(π/2M))²) ≥ p_φ(k) at Δ = φ − φ̃_k, for
    π/M < |Δ| ≤ π (module docstring)."""
    M = N + 1
    d = np.asarray(delta, float)
    den = np.sin(d / 2) ** 2 - math.sin(math.pi / (2 * M)) ** 2
    return math.sin(math.pi / M) ** 2 / (2.0 * N * M * den ** 2)


def window_tail(d: float, N: int) -> float:
    r"""Π(d) ≥ P(|Δ| > d): bins beyond distance d on each side lie at d + m·2π/N or farther, and
    P̄ is decreasing there, so Π(d) = min(1, 2 Σ_{m≥0, d+2πm/N ≤ π} P̄(d + 2πm/N)); 1 when the
    envelope does not apply (d ≤ π/M)."""
    M = N + 1
    if d <= math.pi / M:
        return 1.0
    D = d + (2 * math.pi / N) * np.arange(N // 2 + 1)
    D = D[D <= math.pi]
    return float(min(1.0, 2.0 * window_envelope(D, N).sum()))


def inversion_error_bound(c: int, kappa_hat: float) -> float:
    r"""δ: a bound on |λ·g(λ)/C − 1| for every |λ| ∈ [α/κ̂, α], with C = α/(2κ̂) and c clock bits
    (module docstring, *Error bound*).  Needs only c and κ̂."""
    N = 1 << int(c)
    kh = float(kappa_hat)
    one_minus_a1, w0wn, v2 = _window_moments(N)
    x_lo = 1.0 / kh
    c0 = x_lo / 2.0
    # sup over x ∈ [x_lo, 1] of Π(x − c0)·(x/c0 + 5/2) on a geometric grid: on [x_i, x_{i+1}]
    # the tail is at most Π(x_i − c0) (decreasing in d) and the factor at most its value at x_{i+1}
    n_grid = max(1, math.ceil(4 * math.log2(kh))) if kh > 1 else 1
    xs = np.minimum(1.0, x_lo * 2.0 ** (np.arange(n_grid + 1) / 4.0))
    clipped = max(window_tail(xs[i] - c0, N) * (xs[i + 1] / c0 + 2.5) for i in range(n_grid))
    return float(one_minus_a1 + w0wn * kh + 2.0 * kh * kh * v2 + clipped)


def solution_error_bound(c: int, kappa_hat: float) -> float:
    """2δ: the bound on ‖x̂ − x‖ between the normalized post-selected state and the normalized
    solution (capped at 2, the distance of two unit vectors)."""
    return float(min(2.0, 2.0 * inversion_error_bound(c, kappa_hat)))


def choose_clock(kappa_hat: float, eps: float, max_clock: int = MAX_CLOCK) -> int | None:
    r"""The smallest c ≥ 2 with solution_error_bound(c, κ̂) ≤ eps (≈ log₂(2πκ̂/√ε) + 1); None if
    even `max_clock` bits do not reach it."""
    for c in range(2, int(max_clock) + 1):
        if solution_error_bound(c, kappa_hat) <= eps:
            return c
    return None


def inversion_table(c: int, alpha: float, C: float):
    r"""(λ̃, f, angles) for clock values k = 0..2^c−1: λ̃_k = α·cos(2πk/2^c), f_k = C/λ̃_k where
    |λ̃_k| ≥ C and sign(λ̃_k) below (0 at λ̃ = 0), angle 2·asin(f_k) (the flag's RY); symmetric
    under k ↔ 2^c − k exactly, as the recombination of the two branches needs."""
    N = 1 << int(c)
    k = np.arange(N)
    k = np.minimum(k, N - k)          # k and N − k: the same λ̃ to the last bit (branches ±φ)
    lam = alpha * np.cos(2.0 * np.pi * k / N)
    lam[4 * k == N] = 0.0             # φ̃ = π/2 exactly
    big = np.abs(lam) >= C
    f = np.where(big, C / np.where(big, lam, 1.0), np.sign(lam))
    return lam, f, 2.0 * np.arcsin(f)


# ---------------------------------------------------------------------------------------------
# synthesis
# ---------------------------------------------------------------------------------------------

def synthesize_hhl(ls, *, clock: int | None = None, eps: float = 1e-2, variant: str = "walk",
                   block_encoding=None, inverse_norm: float | None = None,
                   max_qubits: int = MAX_HERMITIAN_QUBITS, fuse_prep: bool = True,
                   clock_is_minimum: bool = False) -> QuantumProgram:
    r"""HHL circuit for `ls` (a LinearSystem).  See the module docstring for both variants.

    clock: clock bits (None: the smallest c whose error bound meets eps, `choose_clock`; oracle:
    one label per distinct |λ|); eps: bound on the distance between the normalized post-selected
    state and the normalized solution (walk); variant: "walk" | "oracle".
    Walk only — block_encoding: a BlockEncoding of the padded L (`walk.BlockEncoding`; None: the
    dense dilation of `common.pad_system`'s L); inverse_norm: an upper bound on ‖L⁻¹‖₂ (None:
    `lowering.history.inverse_norm`, the one QSVT uses); clock_is_minimum: a `clock` whose error
    bound misses eps is raised to the smallest sufficient one (W0502 says so) instead of kept —
    how a model's `solver hhl(clock = c)` is read, so the answer meets its eps.
    Oracle only — max_qubits: refuse Hermitian registers larger than this (E0502); fuse_prep:
    prepare V†b̃ directly instead of prep(b̃) followed by V† (same state, one QSD fewer).
    Post-selection: flag = 1, clock = 0, walk flags/temporaries 0, dilation qubit = 1.  Y entry
    t·D + d lands at basis index t·D_pad + d of the solution qubits q[0..s−1]."""
    if variant not in VARIANTS:
        raise CompileError(Diagnostic("E0503", f"unknown HHL variant '{variant}'",
                                      help="use variant='walk' (default) or 'oracle' (the "
                                           "eigendecomposition reference)"))
    if variant == "oracle":
        return _synthesize_oracle(ls, clock=clock, eps=eps, max_qubits=max_qubits,
                                  fuse_prep=fuse_prep)
    return _synthesize_walk(ls, clock=clock, eps=eps, block_encoding=block_encoding,
                            inverse_norm=inverse_norm, clock_is_minimum=clock_is_minimum)


def dense_fits(ls) -> bool:
    """Whether the walk variant can block-encode `ls` by its dense dilation (system qubits plus one
    flag within MAX_DENSE_BLOCK_QUBITS); otherwise it needs a `block_encoding`."""
    return _system_layout(ls).num_system_qubits + 1 <= MAX_DENSE_BLOCK_QUBITS


def _system_layout(ls):
    layout = layout_for(ls)
    if layout.num_system_qubits == 0:  # a 1×1 system still needs one qubit
        layout = layout_for(ls, min_time_blocks=2)
    return layout


def _inverse_norm_bound(ls, padded: bool) -> tuple[float, str]:
    r"""(‖L_pad⁻¹‖₂, how it was obtained): `lowering.history.inverse_norm` (the one QSVT uses:
    an upper bound: exact by a dense SVD where affordable, else certified);
    identity padding adds the singular value 1."""
    from qdsl.lowering.history import inverse_norm

    try:
        value, how = inverse_norm(ls)
    except ValueError as exc:
        raise CompileError(Diagnostic(
            "E0505", f"HHL needs a bound on ‖L⁻¹‖ to choose its inversion threshold: {exc}",
            help="pass inverse_norm= (an upper bound on ‖L⁻¹‖₂) to synthesize_hhl")) from None
    if not (math.isfinite(value) and value > 0):
        raise CompileError(Diagnostic(
            "E0505", f"HHL needs a finite bound on ‖L⁻¹‖ (got {value}, {how})",
            help="pass inverse_norm= (an upper bound on ‖L⁻¹‖₂) to synthesize_hhl"))
    return (max(value, 1.0) if padded else value), how


def _synthesize_walk(ls, *, clock, eps, block_encoding, inverse_norm,
                     clock_is_minimum=False) -> QuantumProgram:
    from qiskit import QuantumCircuit, QuantumRegister
    from qiskit.circuit.library import QFTGate

    if not 0 < float(eps) < 1:
        raise CompileError(Diagnostic("E0503", f"HHL eps must lie strictly between 0 and 1 (got {eps})"))
    N_rows = int(ls.dim)
    rhs = np.asarray(ls.rhs)
    if np.iscomplexobj(rhs) and np.max(np.abs(rhs.imag), initial=0.0) > 0:
        raise CompileError(Diagnostic("E0503", "HHL here supports a real right-hand side only"))
    rhs = np.real(rhs).astype(float)

    if block_encoding is None:
        layout = _system_layout(ls)
        s = layout.num_system_qubits
        if not dense_fits(ls):
            raise SizeLimitError(Diagnostic(
                "E0502",
                f"HHL with the dense block-encoding needs a {s + 1}-qubit dense unitary (system "
                f"dimension {N_rows}, padded to {layout.padded_dim}, plus one flag qubit); the limit "
                f"is {MAX_DENSE_BLOCK_QUBITS}",
                help="use solver qsvt (structured block-encoding, scales to large systems), or "
                     "lower --steps / --order"))
        Lp, _ = pad_system(ls, layout)
        be = dense_block_encoding(Lp, solution_map=layout.solution_map())
        layout_dict = layout.to_dict()
        padded = layout.padded_dim > N_rows
        matrix = Lp
    else:
        be = block_encoding
        if be.solution_map is None:
            raise CompileError(Diagnostic("E0503", "the block-encoding has no solution_map (Y index "
                                                   "→ system basis index)"))
        s = len(be.system)
        layout_dict = None
        padded = (1 << s) > N_rows
        matrix = be.matrix
    smap = np.asarray(be.solution_map, dtype=np.int64)
    b_sys = np.zeros(1 << s)
    b_sys[smap] = rhs
    if not np.any(b_sys):
        raise CompileError(Diagnostic("E0503", "the right-hand side is zero: the solution is zero"))
    dilated = not (matrix is not None and _is_hermitian(matrix))

    if inverse_norm is None:
        inverse_norm, inverse_norm_source = _inverse_norm_bound(ls, padded)
    else:
        inverse_norm, inverse_norm_source = float(inverse_norm), "given"
    alpha = float(be.alpha)
    lam_lo = 1.0 / inverse_norm
    kappa_hat = alpha / lam_lo
    if not kappa_hat >= 1.0:
        raise CompileError(Diagnostic(
            "E0505", f"α·‖L⁻¹‖ = {kappa_hat:.4g} < 1: the bound on ‖L⁻¹‖ is inconsistent with the "
                     f"block-encoding's α = {alpha:.6g} (α ≥ ‖L‖ ≥ 1/‖L⁻¹‖)",
            help="pass an upper bound on ‖L⁻¹‖₂ as inverse_norm"))
    C = lam_lo / 2.0
    auto_clock = clock is None
    if auto_clock:
        c = choose_clock(kappa_hat, float(eps))
        if c is None:
            raise SizeLimitError(Diagnostic(
                "E0502",
                f"HHL phase estimation would need more than {MAX_CLOCK} clock bits (2^{MAX_CLOCK} "
                f"walk steps) to reach eps = {eps:g} at κ̂ = α‖L⁻¹‖ = {kappa_hat:.4g}",
                help="raise eps, or use solver qsvt (its cost grows with log(1/eps))"))
    else:
        c = int(clock)
        if c < 2:
            raise CompileError(Diagnostic("E0503", f"HHL needs at least 2 clock bits (got {c})"))
        if c > MAX_CLOCK:
            raise SizeLimitError(Diagnostic(
                "E0502", f"{c} clock bits means 2^{c} walk steps; the limit is {MAX_CLOCK}",
                help=f"use clock ≤ {MAX_CLOCK}, or solver qsvt"))
    bound = solution_error_bound(c, kappa_hat)
    warnings = []
    if bound > eps:
        # a clock too small for eps is kept when asked for exactly (clock_is_minimum False: the
        # Python API), and raised to the smallest sufficient one when it is a model's request
        need = choose_clock(kappa_hat, float(eps))
        promise = (f"bound the solution's error only by {bound:.3g}" if bound < 2.0 else
                   "give no useful bound on the solution's error")
        warnings.append(f"W0502: {c} clock bits {promise} at κ̂ = α‖L⁻¹‖ = {kappa_hat:.4g} "
                        f"(eps = {eps:g})"
                        + ((f"; using clock = {need}, the smallest that meets eps (a larger eps "
                            f"keeps {c})" if clock_is_minimum else f"; clock = {need} meets eps")
                           if need is not None else ""))
        if need is None and clock_is_minimum:     # no clock within the limit meets eps
            raise SizeLimitError(Diagnostic(
                "E0502",
                f"HHL phase estimation would need more than {MAX_CLOCK} clock bits (2^{MAX_CLOCK} "
                f"walk steps) to reach eps = {eps:g} at κ̂ = α‖L⁻¹‖ = {kappa_hat:.4g}",
                help="raise eps, or use solver qsvt (its cost grows with log(1/eps))"))
        if need is not None and clock_is_minimum:
            c = need
            bound = solution_error_bound(c, kappa_hat)

    # ---- blocks --------------------------------------------------------------------------------
    walk = controlled_walk(be, dilate=dilated, clock_bits=c)
    N = 1 << c
    _, f, rot_angles = inversion_table(c, alpha, C)
    prep = _block("hhl_prep", real_state_preparation(b_sys))
    window = _block("hhl_window", real_state_preparation(window_state(c)))
    window_dg = _inverse_block("hhl_window_dg", window)
    qft_circ = QuantumCircuit(c)
    qft_circ.append(QFTGate(c).inverse(), list(range(c)))
    iqft = _block("hhl_iqft", qft_circ)
    qft = _inverse_block("hhl_qft", iqft)
    invert = _block("hhl_invert", uniformly_controlled_ry(rot_angles))

    # ---- register: walk frame (system, flags, temporaries), clock, flag ------------------------
    frame = list(walk.system) + list(walk.ancillas) + list(walk.temporaries)
    glob = {local: i for i, local in enumerate(frame)}
    n_frame = len(frame)
    clk = list(range(n_frame, n_frame + c))
    flag = n_frame + c
    q = QuantumRegister(n_frame + c + 1, "q")
    circ = QuantumCircuit(q, name="hhl")
    body = [glob[l] for l in range(walk.num_qubits - 1)]   # the walk gates' qubits, control last
    solution = [glob[l] for l in walk.system[:s]]
    circ.append(prep, solution)
    circ.append(window, clk)
    for j in range(c):
        circ.append(walk.powers[j], body + [clk[j]])
    circ.append(iqft, clk)
    circ.append(invert, [flag] + clk)
    circ.append(qft, clk)
    for j in reversed(range(c)):
        circ.append(walk.inverse_powers[j], body + [clk[j]])
    circ.append(window_dg, clk)

    postselect = {flag: 1}
    postselect.update({j: 0 for j in clk})
    postselect.update({glob[l]: 0 for l in walk.ancillas + walk.temporaries})
    if dilated:
        postselect[glob[walk.z]] = 1
    system_qubits = tuple(solution)
    declared = _count_flat(circ)
    steps = 2 * (N - 1)
    cblock = _count_flat(walk.controlled_block.definition)
    delta = inversion_error_bound(c, kappa_hat)
    meta = {
        "variant": "walk",
        "hamiltonian_simulation": "qubitized walk",
        "hamiltonian_simulation_detail": "phase estimation of W = (2Π − I)·V, V = X_z(|1⟩⟨1|⊗U + "
                                         "|0⟩⟨0|⊗U†) Hermitian and unitary; eigenphases "
                                         "±arccos(λ/α)",
        "block_encoding": {   # the keys QSVT's meta uses (report.circuit.construction)
            **{k: v for k, v in (getattr(be, "meta", None) or {}).items() if k != "layout"},
            "construction": getattr(be, "construction", None) or getattr(be, "method", type(be).__name__),
            "subnormalization": alpha,
            "ancillas": [int(q) for q in be.ancillas],
            "temporaries": len(be.circuit.qubits) - s - len(be.ancillas),
            "system_qubits": int(s),
            "controlled_cx": int(cblock.get("cx", 0)),
        },
        "clock": c,
        "clock_auto": auto_clock,
        "clock_window": "sin(π(j+1)/(2^c+1)) (minimal Holevo variance)",
        "eps": float(eps),
        "inversion_error_bound": float(delta),
        "solution_error_bound": float(bound),
        "success_probability_lower_bound": float(max(0.0, 1.0 - delta) ** 2 / (4 * kappa_hat ** 2)),
        "inverse_norm": float(inverse_norm),
        "inverse_norm_source": inverse_norm_source,
        "kappa_hat": float(kappa_hat),
        "kappa_prime": float(kappa_hat),
        "kappa": float(ls.kappa),
        "alpha": alpha,
        "lambda_lo": float(lam_lo),
        "inversion_constant": float(C),
        "inversion_table": "λ̃_k = α·cos(2πk/2^c), RY(2·asin(C/λ̃_k)), clipped to ±π where |λ̃_k| < C",
        "clipped_clock_values": int(np.sum(np.abs(f) >= 1.0)),
        "walk_steps": int(steps),
        "block_encoding_calls": int(2 * steps),
        "dilated": bool(dilated),
        "dilation_qubit": int(glob[walk.z]) if dilated else None,
        "solution_half": "dilation qubit = 1" if dilated else "whole register",
        "hermitian_qubits": int(len(walk.system)),
        "register_layout": layout_dict,
        "warnings": warnings,
        "layout": {"solution": list(system_qubits), "dilation": int(glob[walk.z]) if dilated else None,
                   "walk_flags": [glob[l] for l in walk.ancillas],
                   "temporaries": [glob[l] for l in walk.temporaries], "clock": clk, "flag": flag},
    }
    return QuantumProgram(circuit=circ, solver="hhl", system_qubits=system_qubits,
                          postselect=postselect, solution_map=smap, linear_system=ls,
                          meta=meta, declared=declared)


# ---------------------------------------------------------------------------------------------
# the oracle variant (reference): inversion table from a classical eigendecomposition
# ---------------------------------------------------------------------------------------------

def _hermitian_system(ls, layout):
    """(H, b̃, dilated): the padded Hermitian matrix (common.pad_system's padding) and right-hand
    side (unnormalized)."""
    Lp, Bp = pad_system(ls, layout)
    Lp = Lp.toarray()
    if _is_hermitian(Lp):
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


def _oracle_clock(n_distinct: int) -> int:
    """Oracle clock bits: one label per distinct |λ| plus the sign bit."""
    return 1 + max(1, math.ceil(math.log2(n_distinct + 1)))


def _synthesize_oracle(ls, *, clock, eps, max_qubits, fuse_prep) -> QuantumProgram:
    from qiskit import QuantumCircuit, QuantumRegister
    from qiskit.circuit.library import DiagonalGate, QFTGate
    from qiskit.synthesis import qs_decomposition

    N = int(ls.dim)
    layout = _system_layout(ls)
    s = layout.num_system_qubits
    m_guess = s if _is_hermitian(ls.matrix) else s + 1
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
    c = int(clock) if clock is not None else _oracle_clock(n_distinct)
    if c < 2:
        raise CompileError(Diagnostic("E0503", f"HHL needs at least 2 clock bits (got {c})"))

    kmax = 2 ** (c - 1) - 1
    two_c = 2 ** c
    labels, collisions = _labels(lam, c)
    scale = kmax / amax
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
                        f"(use clock ≥ {_oracle_clock(n_distinct)})")
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
        "variant": "oracle",
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
        "clock_scale": float(scale),
        "inversion_constant": float(C),
        "layout": {"solution": list(system_qubits), "dilation": int(s) if dilated else None,
                   "clock": clk, "flag": flag},
    }
    return QuantumProgram(circuit=circ, solver="hhl", system_qubits=system_qubits,
                          postselect=postselect, solution_map=solution_map, linear_system=ls,
                          meta=meta, declared=declared)


def _is_hermitian(M) -> bool:
    """M = M† to 1e-12 of its largest entry (dense or sparse; no spectral information)."""
    import scipy.sparse as sp

    if sp.issparse(M):
        d = sp.csr_matrix(M - M.conj().T)
        scale = max(1.0, float(abs(sp.csr_matrix(M)).max()) if M.nnz else 1.0)
        return (float(abs(d).max()) if d.nnz else 0.0) <= 1e-12 * scale
    A = np.asarray(M)
    return bool(np.allclose(A, A.conj().T, rtol=0.0, atol=1e-12 * max(1.0, float(np.abs(A).max()))))


def _count_flat(circ) -> dict:
    """Gate counts after inlining every named block (`blocks.cost.count_circuit`)."""
    from .blocks.cost import count_circuit

    return count_circuit(circ).to_dict()


# ---------------------------------------------------------------------------------------------
# the walk variant's cost and output at any clock (the end-to-end cost, `backends.endtoend`)
# ---------------------------------------------------------------------------------------------

#: largest clock whose exact output `walk_output` evaluates (2^c complex numbers per eigenvalue)
MAX_RESPONSE_CLOCK = 20


def qft_cost(c: int):
    """Native counts of the (inverse) QFT on c qubits as the HHL blocks lower it: c H, c(c−1)/2
    controlled phases (2 CX and 3 RZ each) and ⌊c/2⌋ swaps (3 CX each)."""
    from .blocks.cost import Cost
    c = int(c)
    return Cost(h=c, cx=c * (c - 1) + 3 * (c // 2), rz=3 * c * (c - 1) // 2)


def multiplexer_cost(angles):
    """Native counts of `uniformly_controlled_ry(angles)`: one RY per nonzero Gray-code angle, one
    CX per angle (none without controls)."""
    from qdsl.synthesis.blocks.prepare import _multiplexor_angles
    from .blocks.cost import Cost
    angles = np.asarray(angles, float)
    k = int(round(math.log2(len(angles))))
    theta = _multiplexor_angles(angles)
    return Cost(ry=int(np.sum(np.abs(theta) > 1e-14)), cx=(1 << k) if k else 0)


def _walk_pieces(program) -> dict:
    """The compiled walk-variant circuit's own pieces that do not depend on the clock: the
    preparation of b and one controlled walk step each way (`hhl_cwalk_p0`, `hhl_cwalk_dg_p0`)."""
    from qiskit import QuantumCircuit
    from .blocks.cost import count_circuit

    out = {}
    for inst in program.circuit.data:
        name = inst.operation.name
        if name in ("hhl_prep", "hhl_cwalk_p0", "hhl_cwalk_dg_p0"):
            qc = QuantumCircuit(inst.operation.num_qubits)
            qc.append(inst.operation, range(inst.operation.num_qubits))
            out[name] = count_circuit(qc)
    if len(out) != 3:
        return {}
    return out


def _clock_pieces(c: int, alpha: float, C: float):
    """Window, its inverse, the QFT pair and the inversion multiplexer at c clock bits."""
    from qdsl.synthesis.blocks.prepare import PrepareState
    window = PrepareState(window_state(c)).cost()
    _, _, angles = inversion_table(c, alpha, C)
    return window + window + qft_cost(c) + qft_cost(c) + multiplexer_cost(angles)


def walk_attempt_cost(program, clock: int):
    r"""Native counts of one attempt of `program`'s walk-variant HHL circuit re-made with `clock`
    clock bits (same block-encoding, α and C): prep(b) + window + (2^c − 1) controlled walk steps
    each way + QFT† + inversion + QFT + window† (module docstring, *Cost*). The clock-independent
    pieces are counted from the compiled circuit itself; at its own clock the sum equals its
    declared counts (checked: an InternalError otherwise)."""
    from qdsl.diagnostics import InternalError
    from .blocks.cost import Cost

    meta = program.meta
    if meta.get("variant") != "walk":
        raise ValueError("walk_attempt_cost needs the walk variant")
    pieces = _walk_pieces(program)
    alpha, C = float(meta["alpha"]), float(meta["inversion_constant"])

    def total(c):
        steps = (1 << int(c)) - 1
        return (pieces["hhl_prep"] + _clock_pieces(c, alpha, C)
                + steps * (pieces["hhl_cwalk_p0"] + pieces["hhl_cwalk_dg_p0"]))

    c0 = int(meta["clock"])
    at_c0 = total(c0)
    declared = Cost(program.declared)
    if at_c0 != declared:
        raise InternalError(f"HHL cost function {dict(at_c0)} disagrees with the circuit's "
                            f"declared counts {dict(declared)} at clock {c0}")
    out = total(clock)
    return Cost(dict(out), qubits=int(program.circuit.num_qubits) + int(clock) - c0)


def inversion_response(c: int, alpha: float, C: float, lam) -> np.ndarray:
    r"""g(λ) = Σ_k p_φ(k)·f_k, φ = arccos(λ/α): the exact factor the walk-variant HHL applies to
    the eigenvalue λ of H on the post-selected branch (module docstring, *What comes out*);
    p_φ(k) = |N^{−½} Σ_j w_j e^{ij(φ − 2πk/N)}|² by one FFT per eigenvalue."""
    N = 1 << int(c)
    w = window_state(c)
    _, f, _ = inversion_table(c, alpha, C)
    j = np.arange(N)
    lam = np.atleast_1d(np.asarray(lam, float))
    out = np.empty(lam.shape)
    for i, x in enumerate(lam):
        phi = math.acos(min(1.0, max(-1.0, x / alpha)))
        p = np.abs(np.fft.fft(w * np.exp(1j * j * phi))) ** 2 / N
        out[i] = float(p @ f)
    return out


def walk_output(ls, program, clock: int, svd=None):
    r"""The unnormalized post-selected output x (in the history system's Y coordinates) of
    `program`'s walk-variant HHL re-made with `clock` bits, for the normalized right-hand side
    b̂: with L = W·Σ·Vᵀ and H its dilation [[0, L], [Lᵀ, 0]] (eigenvalues ±σ_i),
    x = Σ_i (w_i·b̂)·(g(σ_i) − g(−σ_i))/2 · v_i (the z = 1 half); for a symmetric L (no dilation),
    x = Σ_i g(λ_i)(v_i·b̂)v_i. Its squared norm is the exact success probability p_s of one
    attempt. Identity padding carries no part of b̂. Returns (x, p_s)."""
    meta = program.meta
    alpha, C = float(meta["alpha"]), float(meta["inversion_constant"])
    b = np.asarray(ls.rhs, float)
    b = b / np.linalg.norm(b)
    A = ls.matrix.toarray()
    if meta.get("dilated", True):
        W, s, Vh = svd if svd is not None else np.linalg.svd(A)
        g = inversion_response(clock, alpha, C, np.concatenate([s, -s]))
        h = (g[: len(s)] - g[len(s):]) / 2
        x = Vh.T @ (h * (W.T @ b))
    else:
        lam, V = np.linalg.eigh((A + A.T) / 2)
        x = V @ (inversion_response(clock, alpha, C, lam) * (V.T @ b))
    return x, float(x @ x)
