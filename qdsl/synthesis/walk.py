r"""The qubitized walk operator of a Hermitian matrix given by a block-encoding (HHL's unitary).

**Block-encoding** (the interface HHL is written against).  A `BlockEncoding` holds a unitary
circuit U, a subnormalization α, the system qubits (little-endian: basis index
k = Σ_b bit(system[b])·2^b) and the flag qubits ("ancillas") with

    (⟨0_anc| ⊗ I) U (|0_anc⟩ ⊗ I) = A / α          on the system register,

every other qubit of U being a clean temporary (|0⟩ in and out for every input).

**A Hermitian, self-inverse block-encoding V.**  Qubitization needs V = V† (Low & Chuang,
Quantum 3, 163 (2019), Lemma 10 and §4; Gilyén, Su, Low, Wiebe, STOC 2019, Lemma 8).  With one
more qubit z and

    V = X_z · (|1⟩⟨1|_z ⊗ U + |0⟩⟨0|_z ⊗ U†) = |0⟩⟨1|_z ⊗ U + |1⟩⟨0|_z ⊗ U†

V is Hermitian and unitary: V† = |1⟩⟨0|⊗U† + |0⟩⟨1|⊗U = V, and V² = |0⟩⟨0|⊗UU† + |1⟩⟨1|⊗U†U = I.
Two uses of this one construction:

* **A not Hermitian (dilation).**  z is the dilation qubit, part of the system:
  ⟨0_anc|V|0_anc⟩ = (|0⟩⟨1|⊗A + |1⟩⟨0|⊗A†)/α = H/α with H = [[0, A], [A†, 0]] (rows indexed by z).
  H·(x₀, x₁) = (A x₁, A† x₀) = (b, 0) gives x₁ = A⁻¹b, x₀ = 0: the solution of A·x = b lives in
  the half z = 1.
* **A Hermitian.**  z is one more flag qubit, conjugated by a Hadamard (V′ = H_z V H_z, again
  Hermitian and unitary): ⟨0_z 0_anc|V′|0_z 0_anc⟩ = ⟨+|⟨0_anc|V|+⟩|0_anc⟩ = (A + A†)/(2α) = A/α.
  (A Hermitian U would serve directly, but U† = U cannot be assumed of a synthesized circuit.)

**The walk.**  W = R·V with R = 2Π − I, Π = |0_anc′⟩⟨0_anc′| ⊗ I the projector onto the flag
qubits of V (anc′ = anc, plus z in the Hermitian case).  For each eigenpair H|λ⟩ = λ|λ⟩ the plane
spanned by |0_anc′⟩|λ⟩ and V|0_anc′⟩|λ⟩ is invariant, V acts on it as the reflection
[[x, s], [s, −x]] (x = λ/α, s = √(1−x²)) and R as diag(1, −1), so W = [[x, s], [−s, x]]: a rotation
with eigenvalues e^{±iφ}, φ = arccos(λ/α) ∈ [0, π], eigenvectors (|0λ⟩ ∓ i|⊥λ⟩)/√2 (for λ = ±α the
plane degenerates to the line |0λ⟩ with W = ±1).  Phase estimation of W therefore reads λ through
cos φ, and the input |0_anc′⟩|b⟩ = Σ_j β_j |0λ_j⟩ is an equal mix of the two branches ±φ_j.

**Controlled W** for phase estimation, on the clock qubit q, with one clean temporary t:

    c-V:  ccx(q, z, t) · c_t-U · cx(q, t) · c_t-U† · cx(q, t) · ccx(q, z, t) · cx(q, z)
          (t = q∧z selects U, then t = q∧¬z selects U†; Hadamards on z around it if z is a flag)
    c-R:  Z_q · [X on anc′] · C^{q, anc′}Z · [X on anc′]    (−1 unless q = 1 and anc′ = 0)
    c-W = c-R · c-V,   c-W† = c-V · c-R   (c-V and c-R are self-inverse on clean temporaries).

Each controlled walk step makes two calls of controlled U (the block-encoding query count is twice
the walk's).  c-U comes from the block-encoding's own `controlled` circuit when it has one (a dense
adapter synthesizes block_diag(I, U) directly, ~2.3× the gates of U instead of ~4.7× for a generic
control), otherwise from Qiskit's `control()` of U, lowered to standard gates.  Powers W^{2^j}
are gates defined as two calls of W^{2^{j−1}}, so the circuit (and its OpenQASM 3 text) grows with
log of the walk length while the flattened gate count is exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .block_encoding import _lower, dilation

__all__ = ["BlockEncoding", "dense_block_encoding", "holder_norm_bound", "temporaries", "WalkCircuits",
           "controlled_walk", "NATIVE_BASIS"]

#: the gate set inside every block this module builds (all in OpenQASM 3's stdgates.inc)
NATIVE_BASIS = ("cx", "rz", "ry", "h", "x")


# the interface this module reads: qdsl.synthesis.blocks.base.BlockEncoding (`controlled`, when
# given, is U controlled by an extra last qubit; `construction` names it in reports)
from .blocks.base import BlockEncoding  # noqa: E402


def temporaries(be) -> tuple[int, ...]:
    """The clean temporaries of a block-encoding: every qubit of its circuit that is neither a
    system qubit nor a flag (works for any object with the BlockEncoding fields)."""
    used = set(be.system) | set(be.ancillas)
    return tuple(q for q in range(be.circuit.num_qubits) if q not in used)


def holder_norm_bound(A) -> float:
    r"""‖A‖₂ ≤ √(‖A‖₁‖A‖_∞) (max column sum times max row sum; Hölder): a certified bound that needs
    no singular values."""
    import scipy.sparse as sp

    M = abs(sp.csr_matrix(A))
    return float(np.sqrt(M.sum(axis=0).max() * M.sum(axis=1).max()))


def dense_block_encoding(A, *, alpha: float | None = None, solution_map=None) -> BlockEncoding:
    r"""The dense unitary dilation U(A/α) = [[A/α, √(I−AA†/α²)], [√(I−A†A/α²), −A†/α]] of a small
    2^n × 2^n matrix as a BlockEncoding: system qubits 0..n−1, one flag qubit n (the top qubit of
    the dilation), α = √(‖A‖₁‖A‖_∞) unless given (a norm bound from the entries; an α below ‖A‖₂
    would make U(A/α) fail to be unitary, so a given α is checked against this bound only when it
    is smaller).  Dense: 4^{n+1} amplitudes, Quantum Shannon Decomposition (~0.45·4^{n+1} CX) — a
    stand-in for small systems and tests, not a scalable block-encoding."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate

    A = np.asarray(A.toarray() if hasattr(A, "toarray") else A)
    dim = A.shape[0]
    n = max(1, (dim - 1).bit_length())
    if A.shape != (dim, dim) or dim != 1 << n:
        raise ValueError(f"dense_block_encoding needs a 2^n-square matrix, got {A.shape}")
    bound = holder_norm_bound(A)
    if alpha is None:
        alpha = bound
    elif alpha < bound and np.linalg.norm(A, 2) > alpha * (1 + 1e-12):
        raise ValueError(f"alpha = {alpha} is below ‖A‖₂")
    U = dilation(A / alpha)
    qc = QuantumCircuit(n + 1, name="hhl_block")
    qc.append(UnitaryGate(U, check_input=False), list(range(n + 1)))
    CU = np.eye(2 * U.shape[0], dtype=complex)
    CU[U.shape[0]:, U.shape[0]:] = U          # the control is the top (last) qubit
    cqc = QuantumCircuit(n + 2, name="hhl_cblock")
    cqc.append(UnitaryGate(CU, check_input=False), list(range(n + 2)))
    return BlockEncoding(circuit=_lower(qc, NATIVE_BASIS), alpha=float(alpha), system=tuple(range(n)),
                         ancillas=(n,), matrix=A, solution_map=solution_map,
                         controlled=_lower(cqc, NATIVE_BASIS), construction="dense-dilation",
                         meta={"alpha_source": "Hölder bound √(‖A‖₁‖A‖∞)" if alpha == bound else "given"})


# ---------------------------------------------------------------------------------------------
# named gates
# ---------------------------------------------------------------------------------------------

def _gate(name: str, circuit):
    """A named gate whose definition is `circuit` (already in NATIVE_BASIS or named gates)."""
    from qiskit.circuit import Gate

    gate = Gate(name, circuit.num_qubits, [])
    gate.definition = circuit
    return gate


def _lowered_gate(name: str, circuit):
    """A named gate whose definition is `circuit` lowered to NATIVE_BASIS (no qubit assumed |0⟩)."""
    return _gate(name, _lower(circuit, NATIVE_BASIS))


@dataclass(frozen=True, eq=False)
class WalkCircuits:
    r"""The controlled walk of one block-encoding, as named gates on a local frame of
    `num_qubits` qubits: `system` (the Hermitian operator's system: U's system qubits, then the
    dilation qubit z when `dilated`), `ancillas` (the walk's flag qubits anc′), `temporaries` (U's
    temporaries and the AND temporary t; clean), `control` (the clock qubit, last).
    `powers[j]` = c-W^{2^j}, `inverse_powers[j]` = c-W^{−2^j}; `alpha` the subnormalization of
    H/α; `z` the symmetrizing qubit."""

    num_qubits: int
    system: tuple[int, ...]
    ancillas: tuple[int, ...]
    temporaries: tuple[int, ...]
    control: int
    z: int
    dilated: bool
    alpha: float
    powers: list
    inverse_powers: list
    controlled_block: object


def _controlled_block(be):
    """c-U on U's qubits (in U's order) and the control last, in NATIVE_BASIS."""
    from qiskit import QuantumCircuit

    nq = be.circuit.num_qubits
    given = getattr(be, "controlled", None)   # a BlockEncoding of another module may lack it
    if given is not None:
        if given.num_qubits != nq + 1:
            raise ValueError("BlockEncoding.controlled must act on U's qubits plus one control")
        return _gate("hhl_cblock", given)
    gate = be.circuit.to_gate()
    qc = QuantumCircuit(nq + 1, name="hhl_cblock")
    qc.append(gate.control(1), [nq] + list(range(nq)))
    return _lowered_gate("hhl_cblock", qc)


def controlled_walk(be, *, dilate: bool, clock_bits: int) -> WalkCircuits:
    r"""c-W^{2^j} and c-W^{−2^j} for j < `clock_bits` (module docstring).  `dilate`: encode the
    Hermitian dilation [[0, A], [A†, 0]] (z joins the system) instead of A itself (A must then be
    Hermitian; z joins the flags)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import MCXGate

    s, na = len(be.system), len(be.ancillas)
    temps = temporaries(be)
    nq = be.circuit.num_qubits
    # local frame: system, z, ancillas, U's temporaries, t, q
    local = {}
    for b, qb in enumerate(be.system):
        local[qb] = b
    z = s
    for a, qb in enumerate(be.ancillas):
        local[qb] = s + 1 + a
    for m, qb in enumerate(temps):
        local[qb] = s + 1 + na + m
    t, q = nq + 1, nq + 2
    k = nq + 3
    u_qubits = [local[i] for i in range(nq)]
    cu = _controlled_block(be)
    cu_dg = _gate("hhl_cblock_dg", cu.definition.inverse())

    # the loose Toffolis are lowered on their own: transpiling around the c-U calls would unroll them
    toffoli = QuantumCircuit(3)
    toffoli.ccx(0, 1, 2)
    toffoli = _lower(toffoli, NATIVE_BASIS)
    sel = QuantumCircuit(k, name="hhl_walk_select")
    if not dilate:
        sel.h(z)
    sel.compose(toffoli, [q, z, t], inplace=True)
    sel.append(cu, u_qubits + [t])
    sel.cx(q, t)
    sel.append(cu_dg, u_qubits + [t])
    sel.cx(q, t)
    sel.compose(toffoli, [q, z, t], inplace=True)
    sel.cx(q, z)
    if not dilate:
        sel.h(z)
    c_select = _gate("hhl_walk_select", sel)

    flags = [local[qb] for qb in be.ancillas] + ([] if dilate else [z])
    ref = QuantumCircuit(k, name="hhl_walk_reflect")
    ref.z(q)
    for f in flags:
        ref.x(f)
    target = flags[-1]
    ctrls = [q] + flags[:-1]
    ref.h(target)
    if len(ctrls) == 1:
        ref.cx(ctrls[0], target)
    else:
        ref.append(MCXGate(len(ctrls)), ctrls + [target])
    ref.h(target)
    for f in flags:
        ref.x(f)
    c_reflect = _lowered_gate("hhl_walk_reflect", ref)

    fwd = QuantumCircuit(k, name="hhl_cwalk")
    fwd.append(c_select, range(k))
    fwd.append(c_reflect, range(k))
    bwd = QuantumCircuit(k, name="hhl_cwalk_dg")
    bwd.append(c_reflect, range(k))
    bwd.append(c_select, range(k))
    powers = [_gate("hhl_cwalk_p0", fwd)]
    inverse_powers = [_gate("hhl_cwalk_dg_p0", bwd)]
    for j in range(1, clock_bits):
        for ladder, name in ((powers, "hhl_cwalk_p"), (inverse_powers, "hhl_cwalk_dg_p")):
            qc = QuantumCircuit(k, name=f"{name}{j}")
            qc.append(ladder[-1], range(k))
            qc.append(ladder[-1], range(k))
            ladder.append(_gate(f"{name}{j}", qc))
    system = tuple(range(s)) + ((z,) if dilate else ())
    ancillas = tuple(local[qb] for qb in be.ancillas) + (() if dilate else (z,))
    clean = tuple(local[qb] for qb in temps) + (t,)
    return WalkCircuits(num_qubits=k, system=system, ancillas=ancillas, temporaries=clean,
                        control=q, z=z, dilated=bool(dilate), alpha=float(be.alpha), powers=powers,
                        inverse_powers=inverse_powers, controlled_block=cu)
