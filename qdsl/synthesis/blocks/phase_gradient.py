r"""Rotations by a register value through a phase-gradient register (Gidney, "Halving the cost of
quantum addition", Quantum 2, 74 (2018); Sanders et al., PRX Quantum 1, 020312 (2020), App. A).

With N = 2^b, the phase-gradient state |G⟩ = Σ_j e^{−2πij/N}|j⟩/√N on b qubits is an eigenstate
of "add v": g ← g + v (mod N) multiplies it by e^{2πiv/N}. It is prepared **once** per program
(`prepare_gradient`: a Hadamard and a phase P(−2π·2^j/N) per qubit — the rotations that remain,
b − 2 of them non-Clifford) and is returned unchanged by every use.

`ry_by_register(qc, f, d, g, work)` applies RY(4πk/2^b) to a qubit f, k the value of the b-qubit
register d (the half-angle loaded by a lookup, `sparse_access` with `entry_bits`; RY is 4π-periodic,
so k mod 2^b is all that matters and signed angles need no sign extension): RY(θ) = S·H·RZ(θ)·H·S†,
and RZ(θ) = diag(e^{−iθ/2}, e^{iθ/2}) is the phase e^{±2πik/N} — add +k when f = 1 and −k when
f = 0. The addend is d XORed with 1^b when f = 0 (CNOTs from ¬f: ~k = −k − 1), with carry-in ¬f
(a clean qubit), so addend + carry = ±k (mod N); then the CNOTs again. With k = 0 it is the
identity (±0).

**The addition into |G⟩** (`add_into_gradient`) is Gidney's adder (2018, Fig. 4) specialized to a
phase-gradient target, the construction behind Qualtran's ``AddIntoPhaseGrad``: the carries
c_1 … c_{b−2} are computed into clean qubits by temporary ANDs (c_{i+1} = c_i ⊕ (a_i⊕c_i)∧(g_i⊕c_i)),
and uncomputed by And† in reverse, each sum bit g_i ⊕= a_i ⊕ c_i written on the way back. The top
qubit of |G⟩ is |−⟩ (phase e^{−iπ} on |1⟩), so writing a bit x into it is the phase (−1)^x: the
last carry c_{b−1} = c ⊕ (a⊕c)∧(g⊕c) (c = c_{b−2}, a, g bit b−2) and a_{b−1} are never written —
their phases are Z(c)·CZ(a⊕c, g⊕c) and Z(a_{b−1}), Cliffords. Cost: b − 2 And + b − 2 And†
(`and_gate`; Toffolis in the default unitary mode), no rotation; b − 1 clean work qubits (the
carry-in and the b − 2 carries). `add_into_gradient` is exact only on |G⟩ (the tests check the
statevector with the gradient prepared); `add_into` is the general in-place adder (Cuccaro, Draper,
Kutin, Moulton 2004; 2(b − 1) Toffolis, no work qubit).

`ry_by_register_cost(b)` counts the same gates. A rounded angle moves an entry A_e = μ·sin(θ/2) by at
most μ·|Δθ|/2 ≤ μ·π/2^b (`entry_bits_for`).
"""
from __future__ import annotations

import math

from .and_gate import and_compute, and_cost, and_dg_cost, and_uncompute
from .cost import Cost

__all__ = ["prepare_gradient", "ry_by_register", "ry_by_register_cost", "ry_by_register_work",
           "add_into", "add_into_gradient", "entry_bits_for"]


def entry_bits_for(eps: float) -> int:
    """Angle bits b such that rounding every entry angle to 2π/2^b moves a sparse-access block
    A/α by at most eps in operator norm: |Δentry| ≤ μ_c·π/2^b per colour, Σ_c μ_c = α, so
    ‖ΔA/α‖ ≤ π/2^b ≤ eps."""
    return max(2, math.ceil(math.log2(math.pi / eps)))


def prepare_gradient(qc, g) -> None:
    """|0…0⟩ ↦ |G⟩ on g (g[j] = bit j, N = 2^len(g)); P as rz (a global phase per qubit)."""
    N = 1 << len(g)
    for j, q in enumerate(g):
        qc.h(q)
        qc.rz(-2.0 * math.pi * (1 << j) / N, q)


def add_into(qc, a, b, c) -> None:
    """b ← b + a + c (mod 2^n), registers a, b of n qubits (bit 0 first), carry-in qubit c; a and c
    restored (Cuccaro, Draper, Kutin, Moulton 2004, Fig. 4; mod 2^n the top bit takes two CNOTs
    instead of a MAJ/UMA pair: 2(n − 1) Toffolis)."""
    n = len(a)
    carry = [c] + list(a[:-1])

    def maj(x, y, z):
        qc.cx(z, y); qc.cx(z, x); qc.ccx(x, y, z)  # noqa: E702

    def uma(x, y, z):
        qc.ccx(x, y, z); qc.cx(z, x); qc.cx(x, y)  # noqa: E702

    for i in range(n - 1):
        maj(carry[i], b[i], a[i])
    qc.cx(a[n - 1], b[n - 1])       # the top sum bit a ⊕ b ⊕ carry: no carry out mod 2^n
    qc.cx(carry[n - 1], b[n - 1])
    for i in reversed(range(n - 1)):
        uma(carry[i], b[i], a[i])


def add_into_gradient(qc, a, g, carry) -> None:
    """|a⟩|G⟩ ↦ e^{2πi(a + c)/2^b}|a⟩|G⟩ (b = len(a) ≥ 2, c the carry-in `carry[0]`, restored):
    the module docstring's adder into a phase-gradient register g (g[j] = bit j); `carry` holds the
    carry-in and b − 2 clean qubits for the carries."""
    a, g, carry = list(a), list(g), list(carry)
    b = len(a)
    if b < 2 or len(g) != b or len(carry) < b - 1:
        raise ValueError("the adder into a phase gradient needs b ≥ 2 and b − 1 carry qubits")
    for i in range(b - 2):      # c_{i+1} = c_i ⊕ (a_i ⊕ c_i)∧(g_i ⊕ c_i) into carry[i + 1]
        qc.cx(carry[i], a[i])
        qc.cx(carry[i], g[i])
        and_compute(qc, a[i], g[i], carry[i + 1])
        qc.cx(carry[i], carry[i + 1])
    c = carry[b - 2]            # the top carry and a_{b−1} written into |−⟩: phases
    qc.cx(c, a[b - 2])
    qc.cx(c, g[b - 2])
    qc.h(g[b - 2])              # CZ(a⊕c, g⊕c) in the native gates
    qc.cx(a[b - 2], g[b - 2])
    qc.h(g[b - 2])
    qc.z(c)
    qc.cx(c, a[b - 2])          # g_{b−2} ⊕ c ⊕ a_{b−2}: the sum bit
    qc.cx(a[b - 2], g[b - 2])
    qc.z(a[b - 1])
    for i in reversed(range(b - 2)):
        qc.cx(carry[i], carry[i + 1])
        and_uncompute(qc, a[i], g[i], carry[i + 1])
        qc.cx(carry[i], a[i])
        qc.cx(a[i], g[i])


def add_into_gradient_cost(b: int) -> Cost:
    """Gate counts of `add_into_gradient` with b-bit registers."""
    return and_cost(b - 2) + and_dg_cost(b - 2) + Cost(cx=6 * (b - 2) + 5, h=2, z=2)


def ry_by_register_work(b: int) -> int:
    """Clean work qubits: the carry-in and the b − 2 carries (`add_into_gradient`)."""
    return b - 1


def ry_by_register(qc, f, d, g, work) -> None:
    """RY(4π·value(d)/2^b) on f (module docstring); `g` the b phase-gradient qubits (in |G⟩),
    `work` b − 1 clean qubits."""
    a, g = list(d), list(g)
    if len(g) != len(a):
        raise ValueError("the phase-gradient register and the angle register differ in width")
    work = list(work)
    c = work[0]
    qc.sdg(f)
    qc.h(f)
    qc.x(f)                 # f = 0 ⇒ negate: a ^= 1…1, carry-in 1
    for q in a:
        qc.cx(f, q)
    qc.cx(f, c)
    qc.x(f)
    add_into_gradient(qc, a, g, work)
    qc.x(f)
    qc.cx(f, c)
    for q in a:
        qc.cx(f, q)
    qc.x(f)
    qc.h(f)
    qc.s(f)


def ry_by_register_cost(b: int) -> Cost:
    """Gate counts of `ry_by_register` with a b-bit angle register."""
    return Cost(sdg=1, s=1, h=2, x=4, cx=2 * (b + 1)) + add_into_gradient_cost(b)
