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
def test_contiguous_lookup_costs_one_and_per_item(L):
    """L contiguous items from 0 (a QROM of L words): L − 1 Ands (Babbush et al. 2018, Gidney's
    measurement-based uncomputation) when L is a power of two; every trie node costs one And and
    one And†, no Toffoli; under unitary uncomputation two Toffolis per node, as before."""
    from qdsl.synthesis.blocks.and_gate import measurement_uncompute

    W = max(1, (L - 1).bit_length())
    it = UnaryIteration(W, list(range(L)))
    nodes = trie_nodes(it.items, W)
    n = nodes["both"] + nodes["left"] + nodes["right"]
    with measurement_uncompute():
        assert it.cost()["and"] == it.cost()["and_dg"] == n and it.cost()["ccx"] == 0
        if L > 1 and L & (L - 1) == 0:
            assert it.cost()["and"] == L - 1
    assert it.cost()["ccx"] == 2 * n and it.cost()["and"] == 0   # the default: Toffoli pairs


def test_overlapping_items_are_rejected():
    with pytest.raises(ValueError):
        UnaryIteration(3, [(0, 2), (2, 0)])


@pytest.mark.parametrize("L", [3, 6, 11, 13])
@pytest.mark.parametrize("controlled", [True, False])
def test_domain_promise_gives_l_minus_one_ands(L, controlled):
    """Addresses promised < L: L − 1 Ands (controlled) for any L, leaves exact on [0, L)."""
    W = (L - 1).bit_length()
    it = UnaryIteration(W, list(range(L)), domain=L)
    assert it.cost(True)["ccx"] == 2 * (L - 1)      # Toffoli pairs (the default)
    from qdsl.synthesis.blocks.and_gate import measurement_uncompute
    with measurement_uncompute():
        assert it.cost(True)["and"] == L - 1
    n = W + it.work + L + int(controlled)
    addr, work, tg = list(range(W)), list(range(W, W + it.work)), list(range(W + it.work, W + it.work + L))
    ctrl = n - 1 if controlled else None
    qc = QuantumCircuit(n)
    it.build(qc, ctrl, addr, work, lambda qc, q, item: qc.cx(q, tg[item[0]]))
    assert count_circuit(qc) == it.cost(controlled) + Cost(cx=L)
    for a in range(L):
        for c in ([0, 1] if controlled else [1]):
            x = a | ((c << ctrl) if controlled else 0)
            idx, amp = simulate_column(qc, x)
            assert idx.tolist() == [x | ((1 << tg[a]) if c else 0)] and abs(amp[0] - 1) < 1e-12
