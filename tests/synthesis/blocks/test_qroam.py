"""Select-swap lookups (qdsl.synthesis.blocks.qroam): target ⊕= data[address] on every valid
address (numpy reference: the data array itself), registers restored (clean: |0⟩; dirty: any
state), count == cost at several sizes, the bound formula, and the block-size choice."""
import numpy as np
import pytest
from qiskit import QuantumCircuit

from flagged import simulate_column
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.qroam import (QROAM, choose_lookup, qroam_cost_bound, unary_lookup_cost)


@pytest.fixture(autouse=True)
def _measured_uncomputation():
    """Blocks built with And / And† (measured uncomputation; the default is Toffoli pairs)."""
    from qdsl.synthesis.blocks.and_gate import measurement_uncompute

    with measurement_uncompute():
        yield

SIZES = [(5, 2, 1), (11, 3, 2), (16, 2, 2), (9, 1, 3)]   # (L, bits, log2 k)


def _layout(q: QROAM, controlled: bool):
    a, b, k = q.address_width, q.bits, q.block
    addr = list(range(a))
    tgt = list(range(a, a + b))
    regs = list(range(a + b, a + b + k * b))
    work = list(range(a + b + k * b, a + b + k * b + q.work))
    n = a + b + k * b + q.work + int(controlled)
    return addr, tgt, regs, work, (n - 1 if controlled else None), n


@pytest.mark.parametrize("dirty", [False, True])
@pytest.mark.parametrize("L,bits,kb", SIZES)
def test_lookup_truth_table_and_cost(L, bits, kb, dirty):
    rng = np.random.default_rng(L * 7 + bits + kb)
    data = [int(x) for x in rng.integers(0, 1 << bits, L)]
    q = QROAM(data, bits, kb, dirty=dirty)
    for controlled in (True, False):
        addr, tgt, regs, work, ctrl, n = _layout(q, controlled)
        qc = QuantumCircuit(n)
        q.build(qc, ctrl, addr, tgt, regs, work)
        assert count_circuit(qc) == q.cost(controlled)
        assert q.qubits(controlled) == n
        for x in range(L):
            t0 = int(rng.integers(0, 1 << bits))
            g = int(rng.integers(0, 1 << len(regs))) if dirty else 0   # dirty registers: any state
            for c in ([0, 1] if controlled else [1]):
                inp = x | (t0 << tgt[0]) | (g << regs[0]) | ((c << ctrl) if controlled else 0)
                idx, amp = simulate_column(qc, inp)
                want = inp ^ (((data[x] if c else 0)) << tgt[0])
                assert idx.tolist() == [want] and abs(amp[0] - 1) < 1e-12


@pytest.mark.parametrize("L,bits,kb", SIZES)
def test_bound_is_exact_when_every_bit_is_set(L, bits, kb):
    full = [(1 << bits) - 1] * L
    for dirty in (False, True):
        for controlled in (True, False):
            exact = QROAM(full, bits, kb, dirty).cost(controlled)
            bound = qroam_cost_bound(L, bits, kb, dirty, controlled)
            # the bound's select writes every word of the last group too (k·G ≥ L words)
            for g in exact:
                if g != "cx":
                    assert bound[g] == exact[g]
            assert bound["cx"] >= exact["cx"]


def test_symbolic_bound_matches_numbers_at_powers_of_two():
    import sympy as sp

    L, b = sp.symbols("L b", positive=True, integer=True)
    f = qroam_cost_bound(L, b, 3)
    for Lv, bv in ((64, 4), (256, 10), (1024, 20)):
        num = qroam_cost_bound(Lv, bv, 3)
        got = f.subs({L: Lv, b: bv})
        assert {g: int(v) for g, v in got.items()} == dict(num.items())


def test_choice_within_a_qubit_budget():
    L, b = 10 ** 4, 20
    unary = choose_lookup(L, b, max_qubits=60)
    assert unary["kind"] == "unary" and unary["t_states"] == 4 * (L - 1)
    best = choose_lookup(L, b)
    assert best["kind"] == "qroam-clean" and best["t_states"] < unary["t_states"] / 3
    k = best["block"]
    # the optimum of 8(⌈L/k⌉ − 1) + 8(k − 1)b sits near √(L/b) ≈ 22: k = 16 or 32
    assert k in (16, 32)
    tight = choose_lookup(L, b, max_qubits=best["qubits"] - 1)
    assert tight["qubits"] <= best["qubits"] - 1 and tight["t_states"] >= best["t_states"]
    assert unary_lookup_cost(L, b)["and"] == L - 1
