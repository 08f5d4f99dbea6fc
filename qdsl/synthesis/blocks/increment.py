r"""Controlled increment modulo 2^m: |c⟩|x⟩ ↦ |c⟩|x + c mod 2^m⟩ (the time shift S of L = I − S·M̄).

Bit k of x flips when the control and the bits 0..k−1 are all 1. The carries
c_1 = ctrl ∧ x_0, c_k = c_{k−1} ∧ x_{k−1} are computed into m − 1 clean work qubits with
Gidney's temporary And (m − 1 ``and``, 4 T each); then, from the top down, x_k ^= c_k and c_k is
uncomputed by And† (a measurement and a classically controlled CZ, blocks/and_gate.py) while
x_{k−1} still holds its old value; last x_0 ^= ctrl. Cost: m − 1 ``and`` + m − 1 ``and_dg`` +
m ``cx`` (m ≥ 1) — Qualtran's m − 1 And for a controlled m-bit increment — no work qubit left
dirty. Under `and_gate.unitary_uncompute()` (the default) each pair is two Toffolis: 2(m − 1) ``ccx``.
"""
from __future__ import annotations

from .and_gate import and_compute, and_cost, and_dg_cost, and_uncompute
from .cost import Cost

__all__ = ["increment", "increment_cost", "increment_work"]


def increment_work(m: int) -> int:
    return max(0, m - 1)


def increment(qc, ctrl, register, work) -> None:
    """Append the controlled increment of `register` (register[0] least significant)."""
    x = list(register)
    m = len(x)
    if m == 0:
        return
    w = list(work)[: m - 1]
    if len(w) < m - 1:
        raise ValueError(f"increment of {m} bits needs {m - 1} work qubits")
    if m >= 2:
        and_compute(qc, ctrl, x[0], w[0])
        for k in range(2, m):
            and_compute(qc, w[k - 2], x[k - 1], w[k - 1])
        for k in range(m - 1, 0, -1):
            qc.cx(w[k - 1], x[k])
            if k >= 2:
                and_uncompute(qc, w[k - 2], x[k - 1], w[k - 1])
            else:
                and_uncompute(qc, ctrl, x[0], w[0])
    qc.cx(ctrl, x[0])


def increment_cost(m) -> Cost:
    """m − 1 And / And† pairs (Toffoli pairs in unitary mode) and m CNOTs (m may be a SymPy
    symbol)."""
    return and_cost(m - 1) + and_dg_cost(m - 1) + Cost(cx=m)
