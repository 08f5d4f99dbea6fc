r"""Uniform superposition over s basis states with O(log s) Toffolis and two rotations (Babbush,
Gidney, Berry, Wiebe, McClean, Paler, Fowler, Neven, PRX 8, 041015 (2018), Fig. 12 — the
construction behind Qualtran's ``PrepareUniformSuperposition``: one round of amplitude
amplification with phases instead of a rotated ancilla).

|0⟩ ↦ e^{iγ}·Σ_{j<s}|j⟩/√s on a register x, exactly (no success probability below one; γ is
`global_phase`, known in closed form): write s = 2^k·L with L odd and m = ⌈log₂ L⌉. The low k
qubits get Hadamards. On the next m qubits, |s⟩ = H^{⊗m}|0⟩ = sin α|g⟩ + cos α|b⟩ with
|g⟩ = Σ_{x<L}|x⟩/√L, a = sin²α = L/2^m ∈ (1/2, 1). With P(φ) = I − (1 − e^{iφ})Π_g and
R_s(φ) = I − (1 − e^{iφ})|s⟩⟨s|, the bad component of R_s(φ)P(φ)|s⟩ is
cos α·[1 − (1 − z)(1 − a + az)], z = e^{iφ}: it vanishes when a·z² − (2a − 1)·z + a = 0, whose
roots lie on the unit circle for a ≥ 1/4 — so R_s(φ)P(φ)|s⟩ = e^{iγ}|g⟩ exactly, every work qubit
back in |0⟩ (the "success flag" is the work register, |0⟩ with amplitude one: the tests check the
whole statevector against numpy).

* **P(φ)**: the comparison x < L bit by bit from the least significant, lt_1 = ¬x_0 (L is odd),
  lt_{i+1} = ¬x_i ∧ lt_i where L_i = 0 and ¬(x_i ∧ ¬lt_i) where L_i = 1 — one Toffoli per bit into
  a clean work qubit (kept in whichever polarity the recurrence gives), the top bit (L_{m−1} = 1)
  as g = x_{m−1} ∧ ¬lt_{m−1} = ¬[x < L]; RZ(−φ) on g (phase e^{iφ} on g = 0, up to e^{−iφ/2});
  the ladder again to uncompute: 2(m − 1) Toffolis.
* **R_s(φ)** = H^{⊗m}·(phase e^{iφ} on |0…0⟩)·H^{⊗m}: the AND of the m negated bits by a Toffoli
  ladder (m − 1), RZ(φ) on it, the ladder again: 2(m − 1) Toffolis.

Every Toffoli of the two ladders writes a clean work qubit and is undone by its mirror image, so
each pair is Gidney's And / And† (`and_gate`): cost for L > 1, 2(m − 1) ``and`` + 2(m − 1)
``and_dg`` under `and_gate.measurement_uncompute()` (Qualtran's count for the same construction),
4(m − 1) Toffolis in the default unitary mode; two RZ, Hadamards and X's; m − 1 clean work
qubits. L = 1 (s a power of two): k Hadamards, nothing else. `UniformState.cost()` counts from the same description as `build`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .and_gate import and_compute, and_cost, and_dg_cost, and_uncompute
from .cost import Cost

__all__ = ["UniformState"]


@dataclass(frozen=True)
class UniformState:
    """Σ_{j<s}|j⟩/√s on `num_qubits` qubits (module docstring)."""

    s: int
    num_qubits: int

    def __init__(self, s: int, num_qubits: int | None = None):
        s = int(s)
        if s < 1:
            raise ValueError("uniform superposition needs s ≥ 1")
        need = max(1, (s - 1).bit_length())
        k = need if num_qubits is None else int(num_qubits)
        if k < (s - 1).bit_length():
            raise ValueError("the register cannot hold s values")
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "num_qubits", k)

    @property
    def k(self) -> int:
        """Trailing zero bits of s (the Hadamard qubits)."""
        return (self.s & -self.s).bit_length() - 1

    @property
    def L(self) -> int:
        return self.s >> self.k

    @property
    def m(self) -> int:
        return (self.L - 1).bit_length()

    @property
    def phi(self) -> float:
        """The reflections' phase: z = e^{iφ} solves a·z² − (2a − 1)·z + a = 0, a = L/2^m."""
        a = self.L / float(1 << self.m)
        return math.atan2(math.sqrt(4 * a - 1), 2 * a - 1)

    @property
    def global_phase(self) -> float:
        """γ with build's state = e^{iγ}·Σ_{j<s}|j⟩/√s (from the two-dimensional picture)."""
        if self.L == 1:
            return 0.0
        a = self.L / float(1 << self.m)
        z = complex(math.cos(self.phi), math.sin(self.phi))
        good = z - (1 - z) * (a * z + 1 - a)         # ⟨g|R_s(φ)P(φ)|s⟩ / sin α
        return float(np.angle(good)) - self.phi      # rz's global phases: e^{−iφ/2} twice

    @property
    def work(self) -> int:
        """Clean work qubits: the comparison / zero-test ladder (0 when L = 1)."""
        return 0 if self.L == 1 else self.m - 1

    # -- the circuit ----------------------------------------------------------------------------
    def _compare_steps(self, x, w):
        """Toffolis (a, a value, b, b value, target) computing g = ¬[x < L] into w[m − 2]."""
        L, m = self.L, self.m
        steps = []
        prev, pval = x[0], 0             # lt_1 = ¬x_0: "x_0 on value 0"
        for i in range(1, m - 1):
            if (L >> i) & 1:             # lt_{i+1} = ¬(x_i ∧ ¬lt_i): w = x_i ∧ ¬lt_i = ¬lt_{i+1}
                steps.append((x[i], 1, prev, 1 - pval, w[i - 1]))
                prev, pval = w[i - 1], 0
            else:                        # lt_{i+1} = ¬x_i ∧ lt_i
                steps.append((x[i], 0, prev, pval, w[i - 1]))
                prev, pval = w[i - 1], 1
        steps.append((x[m - 1], 1, prev, 1 - pval, w[m - 2]))   # g = x_{m−1} ∧ ¬lt_{m−1}
        return steps

    @staticmethod
    def _toffoli(qc, a, av, b, bv, t, undo=False):
        for q, v in ((a, av), (b, bv)):
            if not v:
                qc.x(q)
        (and_uncompute if undo else and_compute)(qc, a, b, t)
        for q, v in ((a, av), (b, bv)):
            if not v:
                qc.x(q)

    def build(self, qc, qubits, work=()) -> None:
        """Append the preparation on `qubits` (qubits[b] = bit b) with `work` ≥ `self.work` clean
        qubits (returned clean)."""
        qubits, work = list(qubits), list(work)
        if len(qubits) != self.num_qubits:
            raise ValueError("register width does not match")
        if len(work) < self.work:
            raise ValueError(f"the uniform preparation needs {self.work} work qubits")
        for q in qubits[: self.k]:
            qc.h(q)
        if self.L == 1:
            return
        m = self.m
        x, w = qubits[self.k: self.k + m], work[: m - 1]
        for q in x:
            qc.h(q)
        # P(φ): phase e^{iφ} on x < L, i.e. on g = 0: rz(−φ) on g
        steps = self._compare_steps(x, w)
        for st in steps:
            self._toffoli(qc, *st)
        qc.rz(-self.phi, w[m - 2])
        for st in reversed(steps):
            self._toffoli(qc, *st, undo=True)
        # R_s(φ) = H·(phase e^{iφ} on |0…0⟩)·H: the AND of the m negated bits, rz(φ) on it
        for q in x:
            qc.h(q)
            qc.x(q)
        ladder = [(x[0], x[1], w[0])] + [(w[i - 2], x[i], w[i - 1]) for i in range(2, m)]
        for a, b, t in ladder:
            and_compute(qc, a, b, t)
        qc.rz(self.phi, w[m - 2])
        for a, b, t in reversed(ladder):
            and_uncompute(qc, a, b, t)
        for q in x:
            qc.x(q)
            qc.h(q)

    def cost(self) -> Cost:
        """Gate counts (module docstring), from the same description as `build`."""
        c = Cost(h=self.k)
        if self.L == 1:
            return c
        m = self.m
        xs = sum(2 * ((not av) + (not bv)) for _, av, _, bv, _ in
                 self._compare_steps(list(range(m)), list(range(m, 2 * m - 1))))
        return c + and_cost(2 * (m - 1)) + and_dg_cost(2 * (m - 1)) + Cost(x=2 * xs + 2 * m, h=3 * m, rz=2)
