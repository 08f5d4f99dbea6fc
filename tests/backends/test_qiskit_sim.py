"""Qiskit simulation backend: post-selection, fidelity, decoding, shots, limits, and agreement with
the emitted OpenQASM 3. References are written here (scipy solve, numpy readout); tolerances come
from `qdsl.tolerances` (tests/bounds.py). The developers' decoder ../shared/tools/decode_qasm.py
is an extra opinion where it is checked out beside the repository."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qdsl import tolerances as tol
from qdsl.backends import qasm3
from qdsl.backends.qiskit_sim import SimulationResult, _numpy_statevector, simulate
from qdsl.diagnostics import SizeLimitError
from qdsl.synthesis.program import QuantumProgram

from bounds import decode_by_readout, exact, flat_gate_count, readout_bound, two_simulators

REPO = Path(__file__).resolve().parents[2]
SECOND_OPINION = REPO.parent / "shared" / "tools" / "decode_qasm.py"   # developers only, optional


@pytest.fixture(scope="module")
def sv_result(cubic_program):
    return simulate(cubic_program)


@pytest.fixture(scope="module")
def loaded(cubic_qasm):
    return qasm3.load(cubic_qasm.text)


def test_numpy_statevector_matches_qiskit():
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Statevector

    for seed in range(4):
        qc = random_circuit(5, 8, max_operands=3, seed=seed)
        qc.cx(0, 3)
        qc.cx(4, 1)
        err = np.linalg.norm(_numpy_statevector(qc) - Statevector(qc).data)
        assert err <= two_simulators(flat_gate_count(qc))


def _state_tolerance(prog, p):
    """What the program promises for its post-selected state (check (a) of `qdsl run`): its eps
    plus the rounding of simulating its gates, amplified by post-selection."""
    from qdsl.backends.qasm3 import emit_with_info

    G = sum(emit_with_info(prog).counts.values())
    return prog.meta["eps"] + tol.postselected_error(tol.statevector_error(G), p)


def test_statevector_result(sv_result, cubic_program):
    r = sv_result
    ls = cubic_program.linear_system
    assert isinstance(r, SimulationResult)
    ref = exact(ls)
    Yn = ref["Y"] / np.linalg.norm(ref["Y"])
    eps = _state_tolerance(cubic_program, r.success_probability)
    # fidelity F = |⟨Ŷ,ψ⟩|² and state error e = min_φ‖ψ − e^{iφ}Ŷ‖ satisfy e² = 2 − 2√F
    assert 2 - 2 * np.sqrt(r.fidelity) <= eps ** 2
    np.testing.assert_allclose(r.exact_solution / np.linalg.norm(r.exact_solution), Yn,
                               atol=2 * tol.solve_error(ls.kappa, ls.sparsity))
    assert np.all(np.abs(r.exact_trajectory - ref["theta"]) <= readout_bound(ref, 2 * tol.solve_error(ls.kappa, ls.sparsity)))
    assert r.trajectory.shape == (ls.steps + 1, len(ls.theta_index))
    assert np.all(np.abs(r.trajectory - ref["theta"]) <= readout_bound(ref, eps))
    np.testing.assert_array_equal(r.theta_T, r.trajectory[-1])
    assert 0 < r.success_probability <= 1
    assert r.repetitions == pytest.approx(1 / r.success_probability)
    assert r.amplification_rounds == math.floor(math.pi / (4 * math.asin(math.sqrt(r.success_probability))))
    # amplitudes ∝ Y within the state error, and the post-selected state is normalized
    a = r.amplitudes / np.linalg.norm(r.amplitudes)
    ov = np.vdot(Yn, a)
    assert np.linalg.norm(a - ov / abs(ov) * Yn) <= eps
    assert np.linalg.norm(r.postselected_state) == pytest.approx(1.0, abs=4 * tol.UNIT_ROUNDOFF * r.postselected_state.size)
    json.dumps(r.to_dict())


def _agree(r, s, G, ls):
    """Two simulations of one G-gate circuit: states within δ = two_simulators(G), so p within
    2δ + δ², fidelity within 2ε and θ within the readout bound of ε = 2δ/√p."""
    delta = two_simulators(G)
    assert abs(r.success_probability - s.success_probability) <= 2 * delta + delta ** 2
    eps = tol.postselected_error(delta, s.success_probability)
    assert abs(r.fidelity - s.fidelity) <= 2 * eps
    assert np.all(np.abs(r.trajectory - s.trajectory) <= readout_bound(exact(ls), eps))


def test_aer_agrees_with_statevector(sv_result, cubic_program, cubic_qasm):
    r = simulate(cubic_program, backend="aer", seed=1)
    _agree(r, sv_result, sum(cubic_qasm.counts.values()), cubic_program.linear_system)


def test_emitted_qasm_simulates_like_the_circuit(sv_result, cubic_program, loaded, cubic_qasm):
    r = simulate(loaded, cubic_program.readout, cubic_program.linear_system)
    _agree(r, sv_result, sum(cubic_qasm.counts.values()), cubic_program.linear_system)


def test_emitted_file_decodes_independently(sv_result, cubic_program, cubic_qasm, tmp_path):
    """The emitted text loaded by qiskit.qasm3.loads, simulated by Qiskit's Statevector and decoded
    by the readout written above agrees with `simulate`; so does the developers' decoder where
    it is checked out."""
    import qiskit.qasm3
    from qiskit.quantum_info import Statevector

    ls = cubic_program.linear_system
    qc = qiskit.qasm3.loads(cubic_qasm.text)
    qc.remove_final_measurements(inplace=True)
    theta, p = decode_by_readout(Statevector(qc).data, cubic_program.readout, ls.expansion_point)
    G = sum(cubic_qasm.counts.values())
    delta = two_simulators(G)
    assert abs(p - sv_result.success_probability) <= 2 * delta + delta ** 2
    bound = readout_bound(exact(ls), tol.postselected_error(delta, p))
    assert np.all(np.abs(theta - sv_result.trajectory) <= bound)
    if SECOND_OPINION.exists():
        (tmp_path / "m.qasm").write_text(cubic_qasm.text)
        (tmp_path / "m.json").write_text(json.dumps({"readout": cubic_program.readout,
                                                     "expansion_point": list(map(float, ls.expansion_point))}))
        out = subprocess.run([sys.executable, str(SECOND_OPINION), str(tmp_path / "m.qasm"),
                              str(tmp_path / "m.json"), "--json"], capture_output=True, text=True, check=True)
        assert np.all(np.abs(np.array(json.loads(out.stdout)["trajectory"]) - theta) <= 2 * bound)


def test_shots_mode_magnitudes_with_error_bars(sv_result, cubic_program):
    r = simulate(cubic_program, backend="aer", shots=20000, seed=7)
    again = simulate(cubic_program, backend="aer", shots=20000, seed=7)
    assert r.counts == again.counts  # seeded
    assert sum(r.counts.values()) == 20000
    # what shots cannot give is absent, not borrowed from the statevector
    assert r.trajectory is None and r.fidelity is None and r.amplitudes is None
    p = sv_result.success_probability
    assert abs(r.success_probability - p) <= 5 * r.success_probability_err
    exact_abs = np.abs(sv_result.exact_trajectory)
    ok = np.abs(r.trajectory_abs - exact_abs) <= 5 * r.trajectory_abs_err   # 5σ: p < 6e-7 each
    assert ok.all()
    assert r.magnitude_fidelity >= 0.98
    json.dumps(r.to_dict())


def test_qubit_limit(cubic_program, monkeypatch):
    """QDSL_MAX_QUBITS bounds the dense simulations (Aer, shots); the exact sparse statevector of
    wide structured circuits is bounded by its support instead."""
    monkeypatch.setenv("QDSL_MAX_QUBITS", str(cubic_program.num_qubits - 1))
    with pytest.raises(SizeLimitError) as ei:
        simulate(cubic_program, backend="aer")
    assert ei.value.diagnostics[0].code == "E0501" and ei.value.exit_status == 3
    assert "QDSL_MAX_QUBITS" in ei.value.diagnostics[0].help
    monkeypatch.setenv("QDSL_MAX_QUBITS", str(cubic_program.num_qubits))
    assert simulate(cubic_program, backend="aer").fidelity > 0.99


def test_work_limit(cubic_program, monkeypatch):
    """A simulation whose estimated work (multiply-adds of the fused program, or Aer's expanded
    gates times 2^n) is over WORK_LIMIT is refused before any state is built, on both backends."""
    import qdsl.backends.qiskit_sim as qs

    monkeypatch.setattr(qs, "WORK_LIMIT", 1 << cubic_program.num_qubits)
    for backend in ("statevector", "aer"):
        with pytest.raises(SizeLimitError) as ei:
            simulate(cubic_program, backend=backend)
        d = ei.value.diagnostics[0]
        assert d.code == "E0501" and "multiply-adds" in d.message and "clock" in d.help
    monkeypatch.setattr(qs, "WORK_LIMIT", 10 ** 12)
    assert simulate(cubic_program).fidelity > 0.99


def test_leakage_outside_the_solution_lowers_fidelity():
    """90 % of the post-selected weight on Y, 10 % on a padded index: fidelity 0.9."""
    from qiskit import QuantumCircuit

    from linear_systems import ridge_system
    from qdsl.synthesis.common import layout_for
    from qdsl.synthesis.hhl import real_state_preparation

    ls = ridge_system(T=1)  # D = 3 -> D_pad = 4: index 3 of each block is padding
    lay = layout_for(ls)
    ref = exact(ls)
    Y = ref["Y"]
    v = np.zeros(lay.padded_dim)
    v[lay.solution_map()] = math.sqrt(0.9) * Y / np.linalg.norm(Y)
    v[3] = math.sqrt(0.1)
    n = lay.num_system_qubits
    qc = QuantumCircuit(n + 1)
    qc.compose(real_state_preparation(v), range(n), inplace=True)
    qc.h(n)  # an ancilla post-selected on 0: p = 1/2
    prog = QuantumProgram(qc, "test", tuple(lay.system_qubits), {n: 0}, lay.solution_map(), ls)
    r = simulate(prog)
    delta = tol.statevector_error(flat_gate_count(qc))     # the state preparation's rounding
    assert r.success_probability == pytest.approx(0.5, abs=2 * delta + delta ** 2)
    eps = tol.postselected_error(delta, 0.5)
    assert r.fidelity == pytest.approx(0.9, abs=2 * eps)
    assert r.meta["leakage"] == pytest.approx(0.1, abs=2 * eps)
    # the ratios survive leakage: the state on Y's indices is exactly ∝ Y (up to rounding)
    assert np.all(np.abs(r.trajectory - ref["theta"]) <= readout_bound(ref, eps / math.sqrt(0.9)))


def test_circuit_needs_its_readout(loaded):
    with pytest.raises(ValueError):
        simulate(loaded)


def test_unknown_backend(cubic_program):
    from qdsl.diagnostics import CompileError

    with pytest.raises(CompileError):
        simulate(cubic_program, backend="gpu-magic")


@pytest.mark.slow
def test_ridge_end_to_end_through_qasm_and_decoder(tmp_path):
    """Ridge (n = 2, order 1, 6 steps): HHL → QASM → decode_qasm.py, against the targets."""
    from linear_systems import ridge_system
    from qdsl.synthesis.hhl import synthesize_hhl

    import qiskit.qasm3

    prog = synthesize_hhl(ridge_system(), clock=7, variant="oracle")
    r = simulate(prog, backend="aer")
    ref = exact(prog.linear_system)
    eps = _state_tolerance(prog, r.success_probability)
    assert 2 - 2 * np.sqrt(r.fidelity) <= eps ** 2
    assert np.all(np.abs(r.trajectory - ref["theta"]) <= readout_bound(ref, eps))
    emitted = qasm3.emit_with_info(prog)
    qasm3.validate(emitted.text)
    qc = qiskit.qasm3.loads(emitted.text)
    qc.remove_final_measurements(inplace=True)
    theta, p = decode_by_readout(_numpy_statevector(qc), prog.readout, [0.0, 0.0])
    bound = readout_bound(ref, tol.postselected_error(two_simulators(sum(emitted.counts.values())), p))
    assert np.all(np.abs(theta - r.trajectory) <= bound)
    if SECOND_OPINION.exists():
        (tmp_path / "r.qasm").write_text(emitted.text)
        (tmp_path / "r.json").write_text(json.dumps({"readout": prog.readout, "expansion_point": [0.0, 0.0]}))
        out = subprocess.run([sys.executable, str(SECOND_OPINION), str(tmp_path / "r.qasm"),
                              str(tmp_path / "r.json"), "--json"], capture_output=True, text=True, check=True)
        assert np.all(np.abs(np.array(json.loads(out.stdout)["trajectory"]) - theta) <= 2 * bound)


def _random_block(rng, nq, name, subs=(), n_gates=30):
    """A named gate on nq qubits: random standard gates, sub-blocks on permuted qubits (some
    inverted), and a global phase on its definition."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import C3XGate, GlobalPhaseGate

    qc = QuantumCircuit(nq, global_phase=float(rng.uniform(-np.pi, np.pi)))
    for _ in range(n_gates):
        r = int(rng.integers(0, 10))
        qs = [int(q) for q in rng.permutation(nq)]
        if (r in (3, 4, 5, 6) and nq < 2) or (r == 7 and nq < 3):
            r = 2
        a = float(rng.uniform(-np.pi, np.pi))
        if r == 0:
            qc.u(a, 0.3 * a, -0.7 * a, qs[0])
        elif r == 1:
            getattr(qc, ["h", "s", "t", "sdg", "x", "sx"][int(rng.integers(0, 6))])(qs[0])
        elif r == 2:
            getattr(qc, ["rx", "ry", "rz", "p"][int(rng.integers(0, 4))])(a, qs[0])
        elif r in (3, 4):
            qc.cx(qs[0], qs[1])
        elif r == 5:
            getattr(qc, ["cz", "swap", "iswap"][int(rng.integers(0, 3))])(qs[0], qs[1])
        elif r == 6:
            getattr(qc, ["crx", "rzz", "cp"][int(rng.integers(0, 3))])(a, qs[0], qs[1])
        elif r == 7:
            qc.ccx(qs[0], qs[1], qs[2])
        elif r == 8 and nq >= 4:
            qc.append(C3XGate(), qs[:4])
        elif r == 9:
            qc.append(GlobalPhaseGate(a), [])
        if subs and rng.random() < 0.3:
            sub = subs[int(rng.integers(0, len(subs)))]
            g = sub.inverse() if rng.random() < 0.3 else sub
            qc.append(g, qs[:sub.num_qubits])
    return _as_gate(qc, name)


def _as_gate(qc, name):
    from qiskit.circuit import Gate

    g = Gate(name, qc.num_qubits, [])
    g.definition = qc
    return g


def test_fused_statevector_nested_blocks_match_qiskit():
    """Fusion with per-block memoization: named blocks of 4–7 qubits nested and reused on
    different qubit orders (and inverted), global phases on the definitions, blocks that share a
    name but not a body, and equal bodies built as separate objects."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    for seed in range(3):
        rng = np.random.default_rng(seed)
        small = [_random_block(rng, int(rng.integers(1, 4)), f"s{i}", n_gates=6) for i in range(2)]
        lvl1 = [_random_block(rng, int(rng.integers(4, 6)), f"b{i}", small) for i in range(3)]
        lvl1.append(_random_block(rng, lvl1[0].num_qubits, "b0", small))  # same name, other body
        twin = _as_gate(lvl1[1].definition.copy(), "b1")                   # same body, new object
        lvl1.append(twin)
        lvl2 = [_random_block(rng, int(rng.integers(6, 8)), f"c{i}", lvl1, n_gates=40)
                for i in range(2)]
        n = 8
        qc = QuantumCircuit(n, global_phase=0.4)
        qc.h(range(n))
        for _ in range(12):
            g = (lvl2 + lvl1 + small)[int(rng.integers(0, len(lvl2) + len(lvl1) + len(small)))]
            g = g.inverse() if rng.random() < 0.25 else g
            qc.append(g, [int(q) for q in rng.permutation(n)[:g.num_qubits]])
            qc.rz(float(rng.uniform(-3, 3)), int(rng.integers(0, n)))
            qc.cx(int(rng.integers(0, 4)), int(rng.integers(4, n)))
        ref = Statevector(qc).data
        G = flat_gate_count(qc)
        for width in (2, 3, 5):
            assert np.linalg.norm(_numpy_statevector(qc, width) - ref) <= two_simulators(G, width=4)


@pytest.mark.parametrize("name,via_qasm,clock", [("gd_cubic", True, None), ("cubic_decay", False, 2)])
def test_fused_statevector_on_compiled_programs(name, via_qasm, clock):
    """A QSVT (gd_cubic, structured: named blocks nested three deep) and an HHL (cubic_decay, walk variant with a 2-bit clock: its
    powers of the walk are simulated as dense blocks) program agree with Qiskit's Statevector;
    the QSVT program's OpenQASM 3 round trip (fresh definition objects per call) simulates the
    same up to the global phase that OpenQASM 3 does not carry."""
    import qdsl
    from qiskit.quantum_info import Statevector

    c = qdsl.compile(str(REPO / "examples" / f"{name}.qd"), clock=clock)
    qc = c.program.circuit
    qc = qc.remove_final_measurements(inplace=False) if qc.num_clbits else qc
    psi = _numpy_statevector(qc)
    G = flat_gate_count(qc)
    assert np.linalg.norm(psi - Statevector(qc).data) <= two_simulators(G)
    if not via_qasm:                  # (loading OpenQASM 3 is slow for the HHL program)
        return
    lq = qasm3.load(c.qasm)
    lq = lq.remove_final_measurements(inplace=False) if lq.num_clbits else lq
    phi = _numpy_statevector(lq)
    ov = np.vdot(phi, psi)            # OpenQASM 3 carries no global phase: compare up to one
    # the loaded file is re-lowered gate by gate (no dense synthesis): rounding of both simulations
    bound = two_simulators(G) + two_simulators(flat_gate_count(lq))
    assert abs(abs(ov) - 1) <= 2 * bound
    assert np.linalg.norm(phi * ov / abs(ov) - psi) <= 2 * bound
