"""Rotations through a phase-gradient register (qdsl.synthesis.blocks.phase_gradient): the general
adder is exact on every basis input; the adder into |G⟩ multiplies it by e^{2πi(a+c)/2^b} for every
addend and carry; RY(4πk/2^b) by a register value equals qiskit's RY on f for every k (whole
statevector, the gradient register returned unchanged, work clean), count == cost — with Toffoli
pairs (the default) and with And / And† (the And† executed as a measurement in test_and.py)."""
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.and_gate import measurement_uncompute, unitary_uncompute
from qdsl.synthesis.blocks.phase_gradient import (add_into, add_into_gradient, add_into_gradient_cost,
                                                  entry_bits_for, prepare_gradient, ry_by_register,
                                                  ry_by_register_cost, ry_by_register_work)

MODES = {"toffoli": unitary_uncompute, "measure": measurement_uncompute}

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


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("b", [2, 3, 5])
def test_adder_into_gradient_is_the_phase(b, mode):
    # qubits: a (b), g (b), carry-in + b − 2 carries; |a⟩|G⟩|c⟩ ↦ e^{2πi(a+c)/2^b}|a⟩|G⟩|c⟩
    a, g = list(range(b)), list(range(b, 2 * b))
    carry = list(range(2 * b, 3 * b - 1))
    nq = 3 * b - 1
    with MODES[mode]():
        add = QuantumCircuit(nq)
        add_into_gradient(add, a, g, carry)
        cost = add_into_gradient_cost(b)
        assert count_circuit(add) == cost
    # b − 2 carries (Qualtran's AddIntoPhaseGrad: b − 2 Toffolis), each a Toffoli pair by default
    assert (cost["and"], cost["ccx"]) == ((b - 2, 0) if mode == "measure" else (0, 2 * (b - 2)))
    for x in range(1 << b):
        for cin in (0, 1):
            qc = QuantumCircuit(nq)
            prepare_gradient(qc, g)
            for j in range(b):
                if (x >> j) & 1:
                    qc.x(a[j])
            if cin:
                qc.x(carry[0])
            want = Statevector(qc).data * np.exp(2j * np.pi * (x + cin) / (1 << b))
            got = Statevector(qc.compose(add)).data
            assert np.max(np.abs(got - want)) < TOL


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("b", [2, 3, 4])
def test_ry_by_register_matches_ry(b, mode):
    # qubits: f, d (b), g (b), work (b − 1)
    f, d = 0, list(range(1, 1 + b))
    g = list(range(1 + b, 1 + 2 * b))
    work = list(range(1 + 2 * b, 1 + 2 * b + ry_by_register_work(b)))
    nq = 1 + 2 * b + ry_by_register_work(b)
    rot = QuantumCircuit(nq)
    with MODES[mode]():
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
