"""End-to-end QSVT linear solver (qdsl.synthesis.qsvt): simulate, post-select, compare with scipy."""
import json

import numpy as np
import pytest
from numpy.polynomial import polynomial as Pnp

from qdsl.synthesis.common import (classical_solution, compare_solution, linear_system_from_transfers,
                                   postselected_amplitudes)
from qdsl.synthesis.qsvt import synthesize_qsvt

CUSTOM = ["block_encoding", "block_encoding_dg", "zero_flip", "state_prep"]


def flatten(qc):
    return qc.decompose(CUSTOM)


def simulate(circuit):
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="statevector")
    tq = transpile(flatten(circuit), sim, optimization_level=0)
    tq.save_statevector()
    return np.asarray(sim.run(tq).result().get_statevector().data)


def scalar_carleman(coeffs, order):
    """Transfer matrix of u ← G(u) = Σ_k coeffs[k] u^k (n = 1) lifted to (1, u, …, u^N)."""
    N = order
    M = np.zeros((N + 1, N + 1))
    Gj = np.array([1.0])
    for j in range(N + 1):
        row = Gj[: N + 1]
        M[j, : len(row)] = row
        Gj = Pnp.polymul(Gj, coeffs)
    return M


def scalar_system(order, T, idle=0, u0=0.4, lr=0.3):
    # gd on L(u) = u^2/2 + 0.2 u^3 - ... : u ← u − lr(u + 0.3u²)  (dissipative near 0)
    coeffs = np.array([0.0, 1 - lr, -lr * 0.3])
    M = scalar_carleman(coeffs, order)
    y0 = u0 ** np.arange(order + 1)
    return linear_system_from_transfers([M], y0, idle=idle, theta_index=[1])


def ridge_like(T, idle, seed=5, lr=0.2):
    """n = 2, order 1, per-step (sgd-like) affine maps u ← (I − lr H_t) u − lr g_t."""
    rng = np.random.default_rng(seed)
    Ms = []
    for _ in range(T):
        X = rng.standard_normal((2, 2))
        H = X @ X.T / 2 + 0.5 * np.eye(2)
        g = 0.3 * rng.standard_normal(2)
        M = np.eye(3)
        M[1:, 1:] = np.eye(2) - lr * H
        M[1:, 0] = -lr * g
        Ms.append(M)
    return linear_system_from_transfers(Ms, [1.0, 0.8, -0.5], idle=idle)


def check_program(prog, ls):
    sv = simulate(prog.circuit)
    y, p = postselected_amplitudes(sv, prog)
    cmp = compare_solution(ls, y)
    assert cmp["fidelity"] >= 0.99
    assert cmp["trajectory_error"] <= 0.02
    th, ref = cmp["theta"][-1], cmp["theta_ref"][-1]
    assert np.all(np.abs(th - ref) <= 0.05 * np.maximum(np.abs(ref), 0.1 * np.max(np.abs(cmp["theta_ref"]))))
    # the circuit realizes exactly the matrix function the synthesizer predicted
    assert p == pytest.approx(prog.meta["achieved"]["success_probability"], rel=1e-6)
    assert cmp["state_error"] == pytest.approx(prog.meta["achieved"]["state_error"], rel=1e-4, abs=1e-9)
    assert cmp["state_error"] <= prog.meta["eps"]
    return cmp, p


@pytest.mark.parametrize("order,T,idle", [(1, 4, 0), (2, 3, 1), (3, 4, 0)])
def test_scalar_gd_end_to_end(order, T, idle):
    ls = scalar_system(order, T, idle)
    prog = synthesize_qsvt(ls)
    assert prog.solver == "qsvt"
    check_program(prog, ls)


def test_per_step_transfers_end_to_end():
    ls = ridge_like(T=3, idle=1)
    prog = synthesize_qsvt(ls)
    kinds = [c["kind"] for c in prog.meta["block_encoding"]["classes"]]
    assert kinds.count("transfer") == 3 and "idle" in kinds
    check_program(prog, ls)


def test_program_contract():
    ls = scalar_system(2, 3, 0)
    prog = synthesize_qsvt(ls)
    n = prog.num_qubits
    assert sorted(list(prog.system_qubits) + list(prog.postselect)) == list(range(n))
    assert set(prog.postselect.values()) == {0}
    assert not any(inst.operation.name == "measure" for inst in prog.circuit.data)
    ro = prog.readout
    assert ro["const_index"][0] == prog.solution_map[0]
    assert len(ro["theta_index"]) == ls.steps + 1
    json.dumps(prog.meta)
    for key in ("alpha", "kappa_prime", "degree", "eps", "achieved"):
        assert key in prog.meta
    assert prog.meta["kappa_prime"] >= prog.meta["alpha"] / np.linalg.norm(ls.matrix.toarray(), 2) * ls.kappa * (1 - 1e-9)
    # declared gate counts = counted gates of the flattened circuit
    counted = dict(flatten(prog.circuit).count_ops())
    assert counted == prog.declared
    # named blocks: the block-encoding is defined once and reused
    names = [inst.operation.name for inst in prog.circuit.data]
    assert names.count("block_encoding") + names.count("block_encoding_dg") == prog.meta["degree"]


def test_eps_controls_degree():
    ls = scalar_system(2, 4, 0)
    d = [synthesize_qsvt(ls, eps=e).meta["degree"] for e in (1e-2, 1e-3, 1e-5)]
    assert d[0] <= d[1] < d[2]
    prog = synthesize_qsvt(ls, eps=1e-5)
    assert prog.meta["achieved"]["state_error"] <= 1e-5


def test_qasm3_round_trip():
    import openqasm3
    import qiskit.qasm3

    ls = ridge_like(T=2, idle=0)
    prog = synthesize_qsvt(ls)
    text = qiskit.qasm3.dumps(prog.circuit)
    assert text.count("gate block_encoding ") == 1
    openqasm3.parse(text)
    back = qiskit.qasm3.loads(text)
    assert back.num_qubits == prog.num_qubits
    y1, p1 = postselected_amplitudes(simulate(prog.circuit), prog)
    y2, p2 = postselected_amplitudes(simulate(back), prog)
    assert p2 == pytest.approx(p1, rel=1e-8)
    assert abs(np.vdot(y1, y2)) / (np.linalg.norm(y1) * np.linalg.norm(y2)) == pytest.approx(1, abs=1e-9)
    assert compare_solution(ls, y2)["fidelity"] >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("example", ["quartic", "ridge", "logistic_flow"])
def test_examples_end_to_end(example):
    import qdsl

    ls = qdsl.compile(f"examples/{example}.qd").linear_system
    prog = synthesize_qsvt(ls)
    cmp, _ = check_program(prog, ls)
    assert np.allclose(classical_solution(ls)[: ls.block_dim], ls.rhs[: ls.block_dim])


def test_size_limit_is_a_diagnostic():
    from qdsl.diagnostics import SizeLimitError

    # a growing map: ‖L⁻¹‖ ≈ 1.3^40 ≈ 4e4, so κ′·ln(8/ε) is far over the circuit's degree limit,
    # refused before any polynomial or circuit is built
    M = np.diag([1.0, 1.3])
    ls = linear_system_from_transfers([M] * 40, np.r_[1.0, 0.5], kappa=1.0)
    with pytest.raises(SizeLimitError) as exc:
        synthesize_qsvt(ls)
    assert exc.value.exit_status == 3 and exc.value.diagnostics[0].code == "E0507"
    assert "κ′" in exc.value.diagnostics[0].message


@pytest.mark.parametrize("T,idle", [(0, 0), (1, 2)])
def test_tiny_histories(T, idle):
    M = np.array([[1.0, 0.0], [0.1, 0.7]])
    ls = linear_system_from_transfers([M] * T, [1.0, 0.5], idle=idle)
    check_program(synthesize_qsvt(ls), ls)
