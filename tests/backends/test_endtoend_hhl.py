"""HHL's end-to-end cost (issue 14): the walk-variant circuit's own counts at any clock, its exact
success probability, and the same readout as QSVT's — recomputed by hand (numpy) on cubic_decay,
against a scipy solve of the same system and, in a slow test, against the simulated circuit.

Tolerances: p_s by hand and by qdsl come from the same SVD-free inputs by different routes (a dense
eigendecomposition of the dilation built here, an O(N²) sum for the clock distribution, against
qdsl's SVD of L and FFT): they agree to rounding, relative 1e-9 (κ(L) ≤ 10² here, N ≤ 2^9 terms).
Against a solve, p_s = C²‖L⁻¹b̂‖²·(1 + e)² with |e| ≤ δ (`hhl.inversion_error_bound`: the
construction's bound per eigenvalue), so the interval [(1−δ)², (1+δ)²]·C²‖L⁻¹b̂‖² must hold
exactly (a 1e-12 relative slack for the solve's rounding). Gate counts are integers: equal."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import qdsl
from qdsl.backends import endtoend as E
from qdsl.synthesis import hhl as H
from cli_capture import cli

EX = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def cubic():
    return qdsl.compile(str(EX / "cubic_decay.qd"))


def by_hand_response(c, alpha, C, lam):
    """g(λ) = Σ_k p_φ(k)·f_k, f_k = C/λ̃_k (±1 where |λ̃_k| < C), λ̃_k = α cos(2πk/N), with the
    window's closed-form distribution (hhl's module docstring, summed by parts — not the FFT qdsl
    uses): p_φ(k) = sin²(π/M)·cos²(MΔ/2) / (2NM·(sin²(Δ/2) − sin²(π/2M))²), Δ = φ − 2πk/N."""
    N = 1 << c
    M = N + 1
    k = np.arange(N)
    lt = alpha * np.cos(2 * np.pi * np.minimum(k, N - k) / N)
    lt[4 * np.minimum(k, N - k) == N] = 0.0
    f = np.where(np.abs(lt) >= C, C / np.where(np.abs(lt) >= C, lt, 1), np.sign(lt))
    out = []
    for x in lam:
        d = math.acos(max(-1.0, min(1.0, x / alpha))) - 2 * np.pi * k / N
        p = (math.sin(math.pi / M) ** 2 * np.cos(M * d / 2) ** 2
             / (2 * N * M * (np.sin(d / 2) ** 2 - math.sin(math.pi / (2 * M)) ** 2) ** 2))
        assert abs(p.sum() - 1) < 1e-9      # a distribution over the clock values
        out.append(float(p @ f))
    return np.array(out)


def by_hand_ps(c_, clock):
    """p_s: the dilation H = [[0, L], [Lᵀ, 0]] built here, g(H) by its eigendecomposition applied to
    (b̂, 0), the z = 1 half kept."""
    ls, meta = c_.linear_system, c_.program.meta
    L = ls.matrix.toarray()
    n = L.shape[0]
    Hm = np.block([[np.zeros((n, n)), L], [L.T, np.zeros((n, n))]])
    lam, V = np.linalg.eigh(Hm)
    b = np.concatenate([ls.rhs / np.linalg.norm(ls.rhs), np.zeros(n)])
    g = by_hand_response(clock, meta["alpha"], meta["inversion_constant"], lam)
    x = (V @ (g * (V.T @ b)))[n:]
    return float(x @ x), x


def test_cost_function_is_the_circuit_at_other_clocks(cubic):
    """walk_attempt_cost extrapolates the compiled circuit to other clocks: equal to the circuit
    synthesized at that clock, gate for gate."""
    prog, ls = cubic.program, cubic.linear_system
    assert dict(H.walk_attempt_cost(prog, prog.meta["clock"])) == dict(cubic.emitted.counts)
    for c in (3, 6):
        other = H.synthesize_hhl(ls, clock=c, eps=0.5, inverse_norm=prog.meta["inverse_norm"])
        assert dict(H.walk_attempt_cost(prog, c)) == dict(other.declared)
        assert H.walk_attempt_cost(prog, c).qubits == other.circuit.num_qubits


def test_qft_and_multiplexer_cost_functions():
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import QFTGate
    for c in range(2, 9):
        q = QuantumCircuit(c)
        q.append(QFTGate(c).inverse(), range(c))
        g = H._block("hhl_iqft", q)
        qc = QuantumCircuit(c)
        qc.append(g, range(c))
        assert dict(H.qft_cost(c)) == H._count_flat(qc)
        _, _, ang = H.inversion_table(c, 2.0, 0.1)
        qc = QuantumCircuit(c + 1)
        qc.append(H._block("hhl_invert", H.uniformly_controlled_ry(ang)), range(c + 1))
        assert dict(H.multiplexer_cost(ang)) == H._count_flat(qc)


@pytest.mark.parametrize("clock", [5, 9])
def test_exact_ps_by_hand_and_against_a_solve(cubic, clock):
    from scipy.sparse.linalg import spsolve
    ls, meta = cubic.linear_system, cubic.program.meta
    x, ps = H.walk_output(ls, cubic.program, clock)
    ps_hand, x_hand = by_hand_ps(cubic, clock)
    assert ps == pytest.approx(ps_hand, rel=1e-9)
    assert np.allclose(x, x_hand, rtol=0, atol=1e-9 * np.linalg.norm(x_hand))
    sol = spsolve(ls.matrix.tocsc(), ls.rhs / np.linalg.norm(ls.rhs))
    C, d = meta["inversion_constant"], H.inversion_error_bound(clock, meta["kappa_hat"])
    ideal = C ** 2 * float(sol @ sol)
    assert max(0.0, 1 - d) ** 2 * ideal * (1 - 1e-12) <= ps <= (1 + d) ** 2 * ideal * (1 + 1e-12)
    if clock == 9:   # δ < 1: the bound is informative
        assert d < 0.01 and ps == pytest.approx(ideal, rel=3 * d)


def test_end_to_end_recomputed_by_hand(cubic):
    eps = 1e-3
    r = E.end_to_end(cubic, output="all", precision=eps)
    assert r["solver"] == "hhl" and r["idle"] == cubic.idle
    ls, meta = cubic.linear_system, cubic.program.meta
    clock = r["hhl"]["clock"]
    # the clock: the smallest whose certified state error meets the state error per attempt
    assert H.solution_error_bound(clock, meta["kappa_hat"]) <= r["state_error"]
    assert H.solution_error_bound(clock - 1, meta["kappa_hat"]) > r["state_error"]
    assert r["degree"] == 4 * (2 ** clock - 1)
    ps, x = by_hand_ps(cubic, clock)
    assert r["p_s"]["low"] == pytest.approx(ps, rel=1e-9) == r["p_s"]["high"]
    # the state error achieved is within the bound
    Y = ls.solve()
    assert r["hhl"]["achieved_state_error"] <= r["hhl"]["state_error_bound"]
    assert r["hhl"]["achieved_state_error"] == pytest.approx(
        np.linalg.norm(x / np.linalg.norm(x) - Y / np.linalg.norm(Y)), rel=1e-6)
    # amplification of the good probability (final block: the output's weight on t ≥ T; whole state: p_s)
    T, D = ls.steps, ls.block_dim
    g = float(np.sum(x[T * D:] ** 2)) if r["route"] == "final block" else ps
    th = math.asin(math.sqrt(g))
    R = min(range(0, 200), key=lambda R: (2 * R + 1) / max(math.sin((2 * R + 1) * th) ** 2, 1e-300))
    succ = math.sin((2 * R + 1) * th) ** 2
    amp = r["amplification"]
    assert amp["rounds"] == R and amp["success"] == pytest.approx(succ, rel=1e-9)
    N = r["samples"]["N"]
    assert r["samples"]["copies"] == 2 * N
    assert r["total"]["calls"] == pytest.approx(2 * N * (2 * R + 1) / succ, rel=1e-9)
    # one attempt: the circuit re-made at the clock, T states as `qdsl resources` counts them
    from qdsl.backends.resources import t_states
    counts = dict(H.walk_attempt_cost(cubic.program, clock))
    rot = counts.get("ry", 0) + counts.get("rz", 0)
    assert r["per_call"]["t_states"] == t_states(counts, rot, r["state_error"])[0]
    # the Done criterion: end to end ≥ (2R+1)·S × one attempt, S the copies
    assert r["total"]["t_states"] >= (2 * R + 1) * 2 * N * r["per_call"]["t_states"]
    json.dumps(r, allow_nan=False)


def test_functional_output_of_hhl(cubic):
    r = E.end_to_end(cubic, output="functional", precision=1e-2)
    assert r["route"] == "amplitude estimation" and r["p_s"]["low"] > 0
    assert r["total"]["t_states"] >= r["total"]["calls"] * r["per_call"]["t_states"]


def test_hhl_projection_and_access_refused(cubic):
    with pytest.raises(qdsl.CompileError, match="E0630"):
        E.end_to_end(cubic, params=100)
    with pytest.raises(qdsl.CompileError, match="E0630"):
        E.end_to_end(cubic, access="qram")
    with pytest.raises(qdsl.CompileError, match="E0633"):
        E.end_to_end(cubic, precision=1e-7)


def test_plan_and_resources_of_hhl_models():
    rc, out, err = cli("plan", EX / "cubic_decay.qd", "--json")
    assert rc == 0, err
    p = json.loads(out)
    assert p["quantum"]["solver"] == "hhl" and p["ratio"] > 1
    assert all(x["n_star"] is None and "E0630" in x["reason"] for x in p["crossover"].values())
    rc, out, err = cli("plan", EX / "ridge.qd")
    assert rc == 0, err
    assert "HHL clock" in out and "ratio quantum/classical" in out
    rc, _, err = cli("plan", EX / "ridge.qd", "--access", "qram")
    assert rc == 2 and "error[E0630]" in err
    rc, out, err = cli("resources", EX / "cubic_decay.qd")
    assert rc == 0 and "T states (in all)" in out and "HHL clock" in out


@pytest.mark.slow
def test_exact_ps_is_the_simulated_circuit(cubic):
    """p_s at the compiled clock equals the statevector simulation of the circuit (≈ 4·10⁷ gates:
    rounding ≤ 1e-16 per gate, so relative 1e-8 is generous)."""
    from qdsl.run import run_compilation
    rep = run_compilation(cubic, from_qasm=False)
    _, ps = H.walk_output(cubic.linear_system, cubic.program, cubic.program.meta["clock"])
    assert rep.sim.success_probability == pytest.approx(ps, rel=1e-8)


def test_hhl_over_the_structured_block_encoding():
    """The same cost function and exact output for HHL's walk over the structured block-encoding
    (what larger systems compile to): equal to the circuit at its clock, p_s by hand."""
    c = qdsl.compile(str(EX / "cubic_decay.qd"), block_encoding="structured")
    prog = c.program
    assert prog.meta["block_encoding"]["construction"] == "structured"
    assert dict(H.walk_attempt_cost(prog, prog.meta["clock"])) == dict(prog.declared)
    _, ps = H.walk_output(c.linear_system, prog, 8)
    assert ps == pytest.approx(by_hand_ps(c, 8)[0], rel=1e-9)
    r = E.end_to_end(c, output="functional", precision=1e-2, physical=None)
    assert r["solver"] == "hhl" and r["total"]["t_states"] >= r["total"]["calls"] * r["per_call"]["t_states"]


def test_projected_hhl_model_says_it_is_priced_as_qsvt():
    """A projection of an HHL model prices the QSVT circuit over the same history system
    (projection.py has no HHL attempt at another size), one attempt and end to end: the report
    must say so, not print a QSVT degree under `solver hhl`."""
    rc, out, err = cli("resources", EX / "ridge.qd", "--params", "1e6", "--steps", "50", "--json")
    assert rc == 0, err
    r = json.loads(out)
    assert r["inputs"]["solver"] == "qsvt" and r["inputs"]["compiled_solver"] == "hhl"
    assert any("projected with the QSVT solver" in n and "E0630" in n for n in r["notes"])
    # the end-to-end cost around it is the same solver's, at the projected size
    assert r["end_to_end"]["per_call"]["logical_qubits"] == r["logical_qubits"]
    assert r["end_to_end"]["total"]["t_states"] >= r["t_count"]
