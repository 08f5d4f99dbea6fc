"""Unary iteration (qdsl.synthesis.blocks.lookup): leaves fire exactly on their addresses, work
qubits come back clean, and the trie's count equals its cost at several sizes."""
import numpy as np
import pytest
from qiskit import QuantumCircuit

from flagged import simulate_column
from qdsl.synthesis.blocks.cost import Cost, count_circuit
from qdsl.synthesis.blocks.lookup import UnaryIteration, trie_nodes


def random_items(width, rng):
    items = []
    for a in sorted(set(int(x) for x in rng.integers(0, 1 << width, int(rng.integers(1, (1 << width) + 1))))):
        f = int(rng.integers(0, 2)) if width > 1 else 0
        v = (a >> f) << f
        if all(v + (1 << f) <= v2 or v2 + (1 << f2) <= v for v2, f2 in items):
            items.append((v, f))
    return items


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("controlled", [True, False])
def test_leaves_fire_on_their_addresses(seed, controlled):
    rng = np.random.default_rng(seed)
    W = int(rng.integers(1, 5))
    it = UnaryIteration(W, random_items(W, rng))
    L = len(it.items)
    n = W + it.work + L + int(controlled)
    addr, work = list(range(W)), list(range(W, W + it.work))
    tg = list(range(W + it.work, W + it.work + L))
    ctrl = n - 1 if controlled else None
    pos = {item: i for i, item in enumerate(it.items)}
    qc = QuantumCircuit(n)
    it.build(qc, ctrl, addr, work, lambda qc, q, item: qc.cx(q, tg[pos[item]]))
    assert count_circuit(qc) == it.cost(controlled) + Cost(cx=L)
    for a in range(1 << W):
        for c in ([0, 1] if controlled else [1]):
            x = a | ((c << ctrl) if controlled else 0)
            idx, amp = simulate_column(qc, x)
            want = x
            if c:
                for i, (v, f) in enumerate(it.items):
                    if v <= a < v + (1 << f):
                        want |= 1 << tg[i]
            assert idx.tolist() == [want] and abs(amp[0] - 1) < 1e-12


@pytest.mark.parametrize("L", [1, 2, 5, 8, 13])
def test_contiguous_lookup_costs_two_toffolis_per_item(L):
    """L contiguous items from 0 (a QROM of L words): 2(L − 1) Toffolis (Babbush et al. 2018 with
    unitary uncomputation) when L is a power of two; every trie node costs two Toffolis."""
    W = max(1, (L - 1).bit_length())
    it = UnaryIteration(W, list(range(L)))
    nodes = trie_nodes(it.items, W)
    assert it.cost()["ccx"] == 2 * (nodes["both"] + nodes["left"] + nodes["right"])
    if L > 1 and L & (L - 1) == 0:
        assert it.cost()["ccx"] == 2 * (L - 1)


def test_overlapping_items_are_rejected():
    with pytest.raises(ValueError):
        UnaryIteration(3, [(0, 2), (2, 0)])
