"""Multi-controlled X (qdsl.synthesis.blocks.mcx): truth tables and count == cost."""
import numpy as np
import pytest
import sympy as sp
from qiskit import QuantumCircuit

from flagged import simulate_column
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.mcx import mcx, mcx_cost, mcx_work


@pytest.mark.parametrize("mode", ["clean", "dirty"])
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 6])
def test_truth_table_and_cost(k, mode):
    rng = np.random.default_rng(k)
    values = [int(v) for v in rng.integers(0, 2, k)]
    w = mcx_work(k)
    n = k + 1 + w
    qc = QuantumCircuit(n)
    work = list(range(k + 1, n))
    mcx(qc, list(range(k)), k, values=values, work=work, mode=mode)
    assert count_circuit(qc) == mcx_cost(k, values.count(0), mode)
    # every input: controls, target, and (dirty mode) any work state
    for x in range(1 << n):
        if mode == "clean" and x >> (k + 1):
            continue
        idx, amp = simulate_column(qc, x)
        assert idx.size == 1 and abs(amp[0] - 1) < 1e-12
        fire = all(((x >> i) & 1) == values[i] for i in range(k))
        assert int(idx[0]) == x ^ ((1 << k) if fire else 0)


def test_symbolic_cost_matches_numbers():
    k = sp.Symbol("k", integer=True, positive=True)
    for mode in ("clean", "dirty"):
        formula = mcx_cost(k, k, mode)
        for kv in (3, 5, 9):
            assert formula.subs({k: kv}) == mcx_cost(kv, kv, mode)
