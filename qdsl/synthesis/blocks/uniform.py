r"""Uniform superposition over s basis states with O(log s) Toffolis and three rotations (Babbush,
Gidney, Berry, Wiebe, McClean, Paler, Fowler, Neven, PRX 8, 041015 (2018), Fig. 12 — the
construction behind Qualtran's ``PrepareUniformSuperposition``).

|0⟩ ↦ Σ_{j<s} |j⟩/√s on a register x, exactly (no success probability below one): write
s = 2^k·L with L odd and m = ⌈log₂ L⌉. The low k qubits get Hadamards. On the next m qubits
(x_hi) and one rotation ancilla r, let A = H^{⊗m} ⊗ RY(θ)_r with cos(θ/2) = √(2^m/(4L)), so that
A|0⟩ has amplitude exactly 1/2 on the good subspace χ = {x_hi < L, r = 0} (L > 2^{m−1} makes
cos(θ/2) < 1). One round of amplitude amplification, Q = A·(2|0⟩⟨0| − I)·A†·(I − 2Π_χ), turns an
amplitude sin φ = 1/2 into sin 3φ = 1: Q·A|0⟩ is the good state Σ_{x<L}|x⟩|r=0⟩/√L exactly, and
every temporary is back in |0⟩ (no flag to post-select: the success "flag" is r, which ends in
|0⟩ with amplitude exactly 1, checked by the tests against numpy).

* **I − 2Π_χ** (phase −1 on x_hi < L ∧ r = 0): the comparison x_hi < L bit by bit from the least
  significant, lt_1 = ¬x_0 (L is odd), lt_{i+1} = ¬x_i ∧ lt_i where L_i = 0 and ¬(x_i ∧ ¬lt_i)
  where L_i = 1 — one Toffoli per bit into a clean work qubit (kept in whichever polarity the
  recurrence gives), the top bit (L_{m−1} = 1) as g = x_{m−1} ∧ ¬lt_{m−1} with lt_m = ¬g; then a
  CZ between ¬g and ¬r (Clifford) and the ladder again to uncompute: 2(m − 1) Toffolis.
* **2|0⟩⟨0| − I** on (x_hi, r): a multi-controlled Z (`mcx` on r with m zero-controls between H's,
  X's on r) — phase −1 on |0…0⟩ — times −1 (the Clifford word z·x·z·x = −I on r).

Cost for L > 1: 2(m − 1) + mcx(m) Toffolis (4m − 5 for m ≥ 3 with the clean ladder), two RY
(RY(θ) in each A and RY(−θ) in A†: three rotations, whatever s), Hadamards and Cliffords; work:
r plus max(m − 1, mcx work) clean qubits. L = 1 (s a power of two): k Hadamards, nothing else.
`UniformState.cost()` counts from the same description as `build`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .cost import Cost
from .mcx import mcx, mcx_cost, mcx_work

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
    def theta(self) -> float:
        return 2.0 * math.acos(math.sqrt((1 << self.m) / (4.0 * self.L)))

    @property
    def work(self) -> int:
        """Clean work qubits: r and the comparison / reflection ladder (0 when L = 1)."""
        if self.L == 1:
            return 0
        return 1 + max(self.m - 1, mcx_work(self.m))

    # -- the circuit ----------------------------------------------------------------------------
    def _compare_phase(self, qc, x, r, w):
        """Phase −1 on (x < L) ∧ (r = 0), every work qubit back in |0⟩."""
        L, m = self.L, self.m
        steps = []                       # (x qubit, x value, prev qubit, prev value, target)
        prev, pval = x[0], 0             # lt_1 = ¬x_0: "x_0 on value 0"
        for i in range(1, m - 1):
            if (L >> i) & 1:             # lt_{i+1} = ¬(x_i ∧ ¬lt_i): w = x_i ∧ ¬lt_i = ¬lt_{i+1}
                steps.append((x[i], 1, prev, 1 - pval, w[i - 1]))
                prev, pval = w[i - 1], 0
            else:                        # lt_{i+1} = ¬x_i ∧ lt_i
                steps.append((x[i], 0, prev, pval, w[i - 1]))
                prev, pval = w[i - 1], 1
        g = w[m - 2]                     # g = x_{m−1} ∧ ¬lt_{m−1}, lt_m = ¬g
        steps.append((x[m - 1], 1, prev, 1 - pval, g))

        def toffoli(a, av, b, bv, t):
            for q, v in ((a, av), (b, bv)):
                if not v:
                    qc.x(q)
            qc.ccx(a, b, t)
            for q, v in ((a, av), (b, bv)):
                if not v:
                    qc.x(q)

        for st in steps:
            toffoli(*st)
        qc.x(g); qc.x(r)                        # CZ(¬g, ¬r) as H·CX·H
        qc.h(r); qc.cx(g, r); qc.h(r)
        qc.x(g); qc.x(r)
        for st in reversed(steps):
            toffoli(*st)

    def _reflect_zero(self, qc, x, r, w):
        """2|0⟩⟨0| − I on (x, r)."""
        qc.x(r)
        qc.h(r)
        mcx(qc, x, r, values=[0] * len(x), work=w)
        qc.h(r)
        qc.x(r)
        qc.z(r); qc.x(r); qc.z(r); qc.x(r)        # −I

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
        x = qubits[self.k: self.k + self.m]
        r, w = work[0], work[1: self.work]
        th = self.theta

        def A():
            for q in x:
                qc.h(q)
            qc.ry(th, r)

        A()
        self._compare_phase(qc, x, r, w)
        for q in x:                       # A†
            qc.h(q)
        qc.ry(-th, r)
        self._reflect_zero(qc, x, r, w)
        A()

    def cost(self) -> Cost:
        """Gate counts (module docstring), from the same description as `build`."""
        c = Cost(h=self.k)
        if self.L == 1:
            return c
        L, m = self.L, self.m
        x_gates = 0
        pval = 0
        for i in range(1, m - 1):         # the X's around each ladder Toffoli (as in build)
            if (L >> i) & 1:
                x_gates += 2 * ((1 - pval) == 0)
                pval = 0
            else:
                x_gates += 2 + 2 * (pval == 0)
                pval = 1
        x_gates += 2 * ((1 - pval) == 0)
        compare = Cost(ccx=2 * (m - 1), x=2 * x_gates + 4, h=2, cx=1)
        reflect = Cost(x=4, h=2, z=2) + mcx_cost(m, m)
        return c + compare + reflect + Cost(h=3 * m, ry=3)
