r"""Tolerances from error analysis: one function per check, used by the library's self-checks and
by the tests alike, each with its derivation.

Notation: u = 2^-53 is the unit roundoff of IEEE double precision; γ_n = n·u/(1 − n·u) (Higham,
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1). States are unit vectors in the
2-norm; "error" is a 2-norm (states) or operator 2-norm (unitaries) unless said otherwise. Every
bound here is an upper bound of a worst case, not a fit to what one machine prints: a check that
uses it holds on every BLAS kernel (OPENBLAS_CORETYPE set or unset), because the analysis only
assumes the IEEE model fl(a ∘ b) = (a ∘ b)(1 + δ), |δ| ≤ u, for each operation.

The chain that `qdsl run` checks (see `qdsl.verification`):

1. the circuit as simulated differs from the ideal circuit by the simulator's rounding
   (`statevector_error`) plus whatever synthesis reports (`unitary_product_error`);
2. post-selection divides by √p (`postselected_error`);
3. the readout θ_t = θ* + Re(a(t,u)/a(t,1)) amplifies a state error ε by the readout
   amplification A_t = ‖Y‖/|Y_{t,1}| (`readout_error`);
4. the classical reference Y comes from a triangular / sparse solve (`solve_error`).
"""
from __future__ import annotations

import math

import numpy as np

#: the unit roundoff of IEEE 754 double precision (round to nearest)
UNIT_ROUNDOFF = 2.0 ** -53

#: widest fused unitary a statevector simulator applies: qdsl's own simulator fuses up to 5
#: qubits (`backends.qiskit_sim.FUSE_WIDTH`), so does Aer (`fusion_max_qubit` = 5)
FUSED_WIDTH = 5

#: entries of a gate matrix are computed from its angles by cos/sin/exp and ≤ 2 products:
#: each entry within 4u of the exact one (correctly rounded libm within 1 ulp, then ≤ 2 roundings
#: and one for the stored product: (1+u)^4 − 1 ≤ 4u + O(u²))
MATRIX_ENTRY_ULPS = 4


def gamma(n: float) -> float:
    r"""γ_n = n·u/(1 − n·u): the bound on |∏(1+δ_i)^{±1} − 1| for n roundings (Higham Lemma 3.1).
    Infinite when n·u ≥ 1 (no bound)."""
    nu = float(n) * UNIT_ROUNDOFF
    return nu / (1.0 - nu) if nu < 1.0 else math.inf


def gate_error(width: int) -> float:
    r"""Rounding error, relative to ‖ψ‖, of applying one gate on `width` qubits to a state.

    With d = 2^width, each output amplitude is a complex inner product of length d:
    |fl(Uψ) − Uψ| ≤ √2·γ_{d+2}·|U|·|ψ| componentwise (Higham Thm 3.5, complex arithmetic costs
    the √2 and two more roundings), so ‖fl(Uψ) − Uψ‖₂ ≤ √2·γ_{d+2}·‖|U|‖₂·‖ψ‖₂ ≤
    √2·γ_{d+2}·√d·‖ψ‖₂ because ‖|U|‖₂ ≤ ‖U‖_F = √d for a unitary. The matrix itself is stored
    with entrywise error ≤ 4u (`MATRIX_ENTRY_ULPS`), i.e. ‖ΔU‖₂ ≤ ‖ΔU‖_F ≤ 4u·d. Together:

        e(width) = √2·γ_{d+2}·√d + 4·d·u.
    """
    d = 1 << int(width)
    return math.sqrt(2.0) * gamma(d + 2) * math.sqrt(d) + MATRIX_ENTRY_ULPS * d * UNIT_ROUNDOFF


def statevector_error(num_gates: int, *, width: int = 2, fused_width: int = FUSED_WIDTH) -> float:
    r"""Bound on ‖ψ̂ − ψ‖₂ for a unit ψ = U_G⋯U_1|0⟩ computed in double precision, G = `num_gates`
    gates of at most `width` qubits, by a simulator that may first multiply gates into fused
    unitaries of at most `fused_width` qubits (qdsl's simulator and Aer both do).

    Each gate contributes once to forming a fused matrix (it is applied to the 2^f columns of the
    partial product: ‖ΔV‖₂ ≤ ‖ΔV‖_F ≤ √(2^f)·e(width)), and each fused unitary — at most one per
    gate — once to the state, e(f). Since every exact factor is unitary, errors do not grow from
    one step to the next but add (ψ̂_g = U_g ψ̂_{g−1} + δ_g, ‖δ_g‖ ≤ c·u·‖ψ̂_{g−1}‖), and
    ‖ψ̂_g‖ ≤ (1 + c·u)^g. So with c = √(2^f)·e(width) + e(f):

        ‖ψ̂ − ψ‖ ≤ (1 + c)^G − 1 ≤ G·c·exp(G·c).

    `fused_width=0` gives the bound for a simulator that applies the gates one by one (G·e(width)).
    """
    G = max(int(num_gates), 0)
    if fused_width and fused_width > width:
        c = math.sqrt(1 << int(fused_width)) * gate_error(width) + gate_error(fused_width)
    else:
        c = gate_error(width)
    x = G * c
    return x * math.exp(x) if x < 1 else math.inf


def postselected_error(full_error: float, success_probability: float) -> float:
    r"""Bound on the error of the normalized post-selected state, given an error `full_error` of
    the full (unit) state and the success probability p of the post-selection.

    With a = Πψ̂ and b = Πψ (Π the projector onto the kept outcomes, ‖b‖ = √p):
    ‖a/‖a‖ − b/‖b‖‖ ≤ ‖a − b‖/‖b‖ + |‖b‖ − ‖a‖|/‖b‖ ≤ 2‖a − b‖/‖b‖ ≤ 2·full_error/√p."""
    if success_probability <= 0:
        return math.inf
    return 2.0 * float(full_error) / math.sqrt(float(success_probability))


def unitary_product_error(errors) -> float:
    r"""Operator-norm error of a product of unitaries whose factors are each within δ_i of the
    intended ones: ‖∏U_i − ∏V_i‖ ≤ Σ‖U_i − V_i‖ (telescoping; every partial product has norm 1).
    `errors` is an iterable of δ_i, or of (δ_i, count) pairs for a factor used `count` times."""
    total = 0.0
    for e in errors:
        if isinstance(e, (tuple, list)):
            total += float(e[0]) * int(e[1])
        else:
            total += float(e)
    return total


def synthesized_unitary_error(circuit, target) -> float:
    r"""A-posteriori synthesis error of a small circuit meant to implement `target` (a unitary
    matrix, Qiskit's little-endian order): ‖U(circuit) − target‖₂ measured, plus the rounding of
    computing U(circuit) itself (each of its 2^n columns is a statevector simulation:
    ‖ΔU‖₂ ≤ ‖ΔU‖_F ≤ √(2^n)·statevector_error(G)).

    For a dense synthesis (Quantum Shannon / KAK decompositions) no useful a-priori bound exists:
    their eigen-decompositions of nearly degenerate unitaries are ill-conditioned, so the error is
    measured where the block is built and carried forward by `unitary_product_error`."""
    from qiskit.quantum_info import Operator

    U = np.asarray(Operator(circuit).data)
    target = np.asarray(target)
    G = sum(int(v) for k, v in circuit.count_ops().items() if k not in ("barrier", "measure"))
    measured = float(np.linalg.norm(U - target, 2))
    return measured + math.sqrt(U.shape[0]) * statevector_error(G)


def block_encoding_error(num_gates: int, *, synthesis_error: float = 0.0, block_norm_bound: float = 1.0,
                         nnz_per_row: int = 1) -> float:
    r"""Tolerance of the check ⟨0_anc|U|0_anc⟩v = B·v on a unit v (`verify_block`): the circuit's
    block differs from the intended one by at most the synthesis error (reported by the
    synthesizer, `unitary_product_error` over its dense pieces; 0 for exact constructions), the
    simulation's rounding `statevector_error(G)`, and the reference product B·v computed as
    sparse dot products of length s = `nnz_per_row`: ‖fl(Bv) − Bv‖ ≤ γ_s·‖|B|‖₂ ≤
    γ_s·√s·‖B‖₂ with ‖B‖₂ ≤ `block_norm_bound` (1 for a block-encoding)."""
    s = max(int(nnz_per_row), 1)
    return (float(synthesis_error) + statevector_error(num_gates)
            + gamma(s) * math.sqrt(s) * float(block_norm_bound))


def solve_error(kappa: float, nnz_per_row: int, *, solves: int = 1) -> float:
    r"""Bound on the relative error ‖Ŷ − Y‖/‖Y‖ of a triangular (or sparse LU) solve of L·Y = B.

    Substitution is backward stable componentwise: (L + ΔL)Ŷ = B with |ΔL| ≤ γ_s|L|, s the
    number of nonzeros per row (Higham Thm 8.5), so ‖ΔL‖₂ ≤ γ_s·‖|L|‖₂ ≤ γ_s·√s·‖L‖₂ and, to
    first order, ‖Ŷ − Y‖/‖Y‖ ≤ κ(L)·γ_s·√s / (1 − κ(L)·γ_s·√s). `solves` solutions compared with
    each other differ by at most the sum of their bounds. κ(L) must be an upper bound: the exact
    condition number (dense SVD, dimension ≤ 2000) or `verification._kappa_bound` above — the
    Lanczos estimate of κ is from below and never enters here."""
    s = max(int(nnz_per_row), 1)
    x = float(kappa) * gamma(s) * math.sqrt(s)
    if not math.isfinite(x) or x >= 1:
        return math.inf
    return int(solves) * x / (1.0 - x)


def readout_amplification(Y, block_dim: int, const_index: int, steps: int) -> np.ndarray:
    r"""A_t = ‖Y‖/|Y_{t,1}| for t = 0..T: how much the readout ratio a(t,u)/a(t,1) of the
    normalized state amplifies a state error (Y_{t,1} is the constant component of block t, 1
    for the Carleman lift, so A_t = ‖Y‖ ≥ √(T+1))."""
    Y = np.asarray(Y)
    blocks = Y.reshape(-1, int(block_dim))[: int(steps) + 1]
    c = np.abs(blocks[:, int(const_index)])
    with np.errstate(divide="ignore"):
        return np.where(c > 0, np.linalg.norm(Y) / np.maximum(c, 1e-300), np.inf)


def readout_error(state_error: float, amplification, ratio) -> np.ndarray:
    r"""Bound on |θ̂_t[i] − θ_t[i]| when the normalized state is within `state_error` = ε of the
    normalized exact solution Ŷ (after aligning the global phase, which the ratio cancels).

    With r = Ŷ_{t,i}/Ŷ_{t,1} = θ_t[i] − θ*_i and errors δ_i, δ_1 of the two amplitudes
    (|δ_i|² + |δ_1|² ≤ ε²):

        |(Ŷ_i + δ_i)/(Ŷ_1 + δ_1) − r| = |δ_i − r·δ_1| / |Ŷ_1 + δ_1| ≤ ε·√(1 + r²) / (|Ŷ_1| − ε)

    (Cauchy–Schwarz), and |Ŷ_1| = 1/A_t; so the bound is ε·A_t·√(1 + r²)/(1 − ε·A_t), infinite when
    ε·A_t ≥ 1. Taking the real part does not increase it. Shapes: `amplification` (T+1,),
    `ratio` (T+1, n); returns (T+1, n)."""
    A = np.asarray(amplification, float)[:, None]
    r = np.asarray(ratio, float)
    eA = float(state_error) * A
    with np.errstate(divide="ignore", invalid="ignore"):
        out = eA * np.sqrt(1.0 + r * r) / (1.0 - eA)
    return np.where(eA < 1.0, out, np.inf)


def decode_rounding(ratio) -> np.ndarray:
    r"""Rounding of the readout itself, θ* + Re(a_i/a_1): one complex division and one addition,
    |error| ≤ (√2·γ_4 + u)·(|θ*| + |r|) ≤ 8u·(|θ*| + |r|) per component; returned as 8u·(1 + |r|)
    relative to the scale 1 (qdsl's parameters are O(1))."""
    return 8.0 * UNIT_ROUNDOFF * (1.0 + np.abs(np.asarray(ratio, float)))


def simultaneous_z(components: int, level: float = 0.95) -> float:
    r"""z such that m intervals estimate ± z·σ hold simultaneously with probability ≥ `level`
    (Bonferroni: each two-sided at 1 − (1 − level)/m; σ the delta-method standard error, so the
    level is asymptotic in the number of shots)."""
    from statistics import NormalDist

    m = max(int(components), 1)
    return float(NormalDist().inv_cdf(1.0 - (1.0 - level) / (2.0 * m)))
