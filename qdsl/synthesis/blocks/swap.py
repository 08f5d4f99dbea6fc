r"""Controlled swaps: of two qubits (Fredkin), of two registers, and slot shifts.

``cswap(c, a, b)`` = cx(b, a) · ccx(c, a, b) · cx(b, a): one Toffoli and two CNOTs. A register swap
is one Fredkin per qubit. `shift_slots_left` moves a known-empty window of slots to the end of a
range by a sequence of slot swaps — a fixed permutation of the slots, controlled by one qubit:
used after an F_ℓ has turned ℓ slots into one (compaction) and, reversed, to open a slot for F_0.
"""
from __future__ import annotations

from .cost import Cost

__all__ = ["cswap", "cswap_registers", "cswap_cost", "shift_slots_left", "shift_slots_right",
           "shift_swaps"]


def cswap(qc, ctrl, a, b) -> None:
    qc.cx(b, a)
    qc.ccx(ctrl, a, b)
    qc.cx(b, a)


def cswap_registers(qc, ctrl, A, B) -> None:
    """Swap registers A and B (equal widths) when `ctrl` is |1⟩."""
    A, B = list(A), list(B)
    if len(A) != len(B):
        raise ValueError("registers of different widths")
    for a, b in zip(A, B):
        cswap(qc, ctrl, a, b)


def cswap_cost(width) -> Cost:
    return Cost(ccx=width, cx=2 * width)


def shift_swaps(lo: int, hi: int, gap: int) -> list[tuple[int, int]]:
    r"""Slot swaps that, when slots [lo, lo+gap) are empty, move slots [lo+gap, hi) down to
    [lo, hi−gap) and the empties to [hi−gap, hi): swap(i, i+gap) for i = lo .. hi−gap−1 (slot i is
    empty when it is swapped: by induction the empty window moves up one slot per swap)."""
    return [(i, i + gap) for i in range(lo, hi - gap)] if gap > 0 else []


def shift_slots_left(qc, ctrl, slots, lo: int, hi: int, gap: int) -> None:
    """Controlled compaction of `slots` (a list of per-slot qubit lists), see `shift_swaps`."""
    for i, j in shift_swaps(lo, hi, gap):
        cswap_registers(qc, ctrl, slots[i], slots[j])


def shift_slots_right(qc, ctrl, slots, lo: int, hi: int, gap: int) -> None:
    """The inverse of `shift_slots_left`: opens `gap` empty slots at lo when [hi−gap, hi) is empty."""
    for i, j in reversed(shift_swaps(lo, hi, gap)):
        cswap_registers(qc, ctrl, slots[i], slots[j])
