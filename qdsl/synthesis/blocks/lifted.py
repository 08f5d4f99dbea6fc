r"""Preparation of the Carleman-lifted initial state on slots (the right-hand side B of L·Y = B).

y_0 = (1, u, u^{⊗2}, …, u^{⊗N}) on N slots (`structured.SlotLayout`: slot value 0 empty, a+1 the
variable u_a) is, normalized,

    |y_0⟩ = Σ_{j=0..N} |ū⟩^{⊗j} |∅⟩^{⊗(N−j)} · ‖u‖^j / √W_0,   ū = u/‖u‖,  W_p = Σ_{i=p..N} ‖u‖^{2i}.

Slot by slot: slot 0 gets c_0|∅⟩ + s_0|ū⟩, and slot p ≥ 1, *if slot p−1 is filled*, gets
c_p|∅⟩ + s_p|ū⟩, with c_p² = ‖u‖^{2p}/W_p and s_p² = W_{p+1}/W_p (W_{N+1} = 0). The level-j
pattern then carries Π_{p<j} s_p · c_j = ‖u‖^j/√W_0 times Π ū_{a_p}: exactly y_0/‖y_0‖. Each slot
is one `PrepareState` of n+1 amplitudes (pruned for a sparse u), controlled by a temporary that
holds "slot p−1 is filled" (a zero-test MCX and an X, undone afterwards): O(N·k·log n) gates for a
k-sparse u instead of a tree over all 2^{Nq} slot patterns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cost import Cost
from .mcx import mcx, mcx_cost, mcx_work
from .prepare import PrepareState

__all__ = ["LiftedState"]


@dataclass(frozen=True, eq=False)
class LiftedState:
    """|0…0⟩ ↦ lift(u)/‖lift(u)‖ on `order` slots of `q` qubits (module docstring)."""

    u: np.ndarray
    order: int
    q: int

    def __init__(self, u, order: int, q: int):
        u = np.asarray(u, dtype=float).ravel()
        if u.size >= (1 << q):
            raise ValueError("the slots are too narrow for the variables")
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "order", int(order))
        object.__setattr__(self, "q", int(q))

    def _slots(self):
        """[(p, PrepareState or None)]: the preparation of slot p (None: stays empty)."""
        nu = float(np.linalg.norm(self.u))
        if nu == 0.0:
            return []
        N = self.order
        w = [nu ** (2 * i) for i in range(N + 1)]
        W = [sum(w[p:]) for p in range(N + 2)]
        out = []
        for p in range(N):
            c2 = w[p] / W[p]
            amp = np.zeros(1 << self.q)
            amp[0] = math.sqrt(c2)
            amp[1: self.u.size + 1] = math.sqrt(max(0.0, 1.0 - c2)) * self.u / nu
            out.append((p, PrepareState(amp, self.q)))
        return out

    @property
    def work(self) -> int:
        return 1 + mcx_work(self.q)

    def build(self, qc, slots, work) -> None:
        """Append the preparation on `slots` (per-slot qubit lists), `work` clean qubits."""
        flag, rest = work[0], list(work[1:])
        for p, prep in self._slots():
            if p == 0:
                prep.build(qc, slots[0])
                continue
            prev = slots[p - 1]
            mcx(qc, prev, flag, values=[0] * len(prev), work=rest)
            qc.x(flag)
            prep.build(qc, slots[p], ctrl=flag)
            qc.x(flag)
            mcx(qc, prev, flag, values=[0] * len(prev), work=rest)

    def cost(self) -> Cost:
        c = Cost()
        for p, prep in self._slots():
            if p == 0:
                c += prep.cost()
            else:
                c += 2 * mcx_cost(self.q, self.q) + Cost(x=2) + prep.cost(controlled=True)
        return c
