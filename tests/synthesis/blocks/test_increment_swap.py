"""Controlled increment and controlled slot moves (qdsl.synthesis.blocks.increment, .swap)."""
import numpy as np
import pytest
import sympy as sp
from qiskit import QuantumCircuit

from flagged import simulate_column
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.increment import increment, increment_cost, increment_work
from qdsl.synthesis.blocks.swap import cswap_cost, cswap_registers, shift_slots_left, shift_slots_right, shift_swaps


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_increment(m):
    n = 1 + m + increment_work(m)
    qc = QuantumCircuit(n)
    increment(qc, 0, list(range(1, m + 1)), list(range(m + 1, n)))
    assert count_circuit(qc) == increment_cost(m)
    ms = sp.Symbol("m")
    assert increment_cost(ms).subs({ms: m}) == increment_cost(m)
    for c in (0, 1):
        for x in range(1 << m):
            idx, _ = simulate_column(qc, c | (x << 1))
            assert int(idx[0]) == c | (((x + c) % (1 << m)) << 1)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_cswap_registers(width):
    qc = QuantumCircuit(1 + 2 * width)
    A, B = list(range(1, width + 1)), list(range(width + 1, 2 * width + 1))
    cswap_registers(qc, 0, A, B)
    assert count_circuit(qc) == cswap_cost(width)
    for x in range(1 << (2 * width + 1)):
        idx, _ = simulate_column(qc, x)
        a, b = (x >> 1) & ((1 << width) - 1), x >> (width + 1)
        want = x if not x & 1 else 1 | (b << 1) | (a << (width + 1))
        assert int(idx[0]) == want


@pytest.mark.parametrize("lo,hi,gap", [(1, 4, 1), (1, 5, 2), (0, 3, 1), (2, 6, 3)])
def test_slot_shifts_move_the_empty_window(lo, hi, gap):
    q, N = 2, hi
    rng = np.random.default_rng(lo + hi + gap)
    qc = QuantumCircuit(1 + q * N)
    slots = [[1 + p * q + b for b in range(q)] for p in range(N)]
    shift_slots_left(qc, 0, slots, lo, hi, gap)
    assert count_circuit(qc) == len(shift_swaps(lo, hi, gap)) * cswap_cost(q)
    vals = [int(v) for v in rng.integers(1, 4, N)]
    for p in range(lo, lo + gap):
        vals[p] = 0       # the known-empty window
    x = 1 | sum(v << (1 + p * q) for p, v in enumerate(vals))
    idx, _ = simulate_column(qc, x)
    out = [(int(idx[0]) >> (1 + p * q)) & 3 for p in range(N)]
    assert out == vals[:lo] + vals[lo + gap: hi] + [0] * gap
    back = QuantumCircuit(1 + q * N)
    shift_slots_right(back, 0, slots, lo, hi, gap)
    idx2, _ = simulate_column(qc.compose(back), x)
    assert int(idx2[0]) == x
