r"""Controlled increment modulo 2^m: |c⟩|x⟩ ↦ |c⟩|x + c mod 2^m⟩ (the time shift S of L = I − S·M̄).

Bit k of x flips when the control and the bits 0..k−1 are all 1. The carries
c_1 = ctrl ∧ x_0, c_k = c_{k−1} ∧ x_{k−1} are computed into m − 1 clean work qubits (m − 1
Toffolis); then, from the top down, x_k ^= c_k and c_k is uncomputed while x_{k−1} still holds its
old value (m − 1 Toffolis); last x_0 ^= ctrl. Cost: 2(m − 1) ``ccx`` + m ``cx`` (m ≥ 1), no work
qubit left dirty. (Gidney's measurement-based uncomputation would halve the Toffolis on hardware;
the circuit here stays unitary so it can be simulated and inverted.)
"""
from __future__ import annotations

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
        qc.ccx(ctrl, x[0], w[0])
        for k in range(2, m):
            qc.ccx(w[k - 2], x[k - 1], w[k - 1])
        for k in range(m - 1, 0, -1):
            qc.cx(w[k - 1], x[k])
            if k >= 2:
                qc.ccx(w[k - 2], x[k - 1], w[k - 1])
            else:
                qc.ccx(ctrl, x[0], w[0])
    qc.cx(ctrl, x[0])


def increment_cost(m) -> Cost:
    """2(m − 1) Toffolis and m CNOTs (m may be a SymPy symbol)."""
    return Cost(ccx=2 * (m - 1), cx=m)
