"""Rotations through a phase-gradient register (qdsl.synthesis.blocks.phase_gradient): the adder is
exact on every basis input, RY(2πk/2^b) by a register value equals qiskit's RY on f for every k
(whole statevector, the gradient register returned unchanged, work clean), count == cost."""
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.phase_gradient import (add_into, entry_bits_for, prepare_gradient,
                                                  ry_by_register, ry_by_register_cost)

TOL = 1e3 * np.finfo(float).eps


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adder_on_every_basis_state(n):
    qc = QuantumCircuit(2 * n + 1)
    a, b, c = list(range(n)), list(range(n, 2 * n)), 2 * n
    add_into(qc, a, b, c)
    for x in range(1 << n):
        for y in range(1 << n):
            for cin in (0, 1):
                i = x | (y << n) | (cin << (2 * n))
                out = np.flatnonzero(np.abs(Statevector.from_int(i, 1 << (2 * n + 1)).evolve(qc).data) > 0.5)
                assert out.tolist() == [x | (((x + y + cin) % (1 << n)) << n) | (cin << (2 * n))]


@pytest.mark.parametrize("b", [2, 3, 4])
def test_ry_by_register_matches_ry(b):
    # qubits: f, d (b), g (b), work (1)
    f, d = 0, list(range(1, 1 + b))
    g = list(range(1 + b, 1 + 2 * b))
    work = [1 + 2 * b]
    nq = 2 + 2 * b
    rot = QuantumCircuit(nq)
    ry_by_register(rot, f, d, g, work)
    assert count_circuit(rot) == ry_by_register_cost(b)
    for k in range(1 << b):
        for f_in in (0, 1):
            qc = QuantumCircuit(nq)
            prepare_gradient(qc, g)
            if f_in:
                qc.x(f)
            for j in range(b):
                if (k >> j) & 1:
                    qc.x(d[j])
            ref = qc.copy()
            qc.compose(rot, inplace=True)
            ref.ry(4 * math.pi * k / (1 << b), f)
            got, want = Statevector(qc).data, Statevector(ref).data
            assert np.max(np.abs(got - want)) < TOL      # same state, phases included


def test_bits_from_the_error_budget():
    assert entry_bits_for(1e-3) == 12 and math.pi / 2 ** entry_bits_for(1e-3) <= 1e-3
