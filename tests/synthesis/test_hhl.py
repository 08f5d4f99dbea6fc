"""HHL synthesis: building blocks against Qiskit operators, the walk variant's error analysis against
the exact phase-estimation kernel, whole circuits against scipy solves written here.

Tolerances.  Floating point: circuits of G ≲ 10^8 gates simulated by fused dense products in double
precision move amplitudes by ≲ G·u ≈ 10^8 · 1.1e-16 ≈ 1e-8, so FLOAT = 1e-7 on unit vectors.  The
walk HHL's accuracy is checked against the bound its clock promises (`solution_error_bound`, derived
in qdsl/synthesis/hhl.py), never against a number one machine printed."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from qdsl.diagnostics import CompileError, SizeLimitError
from qdsl.lowering.history import LinearSystem
from qdsl.synthesis.common import linear_system_from_transfers
from linear_systems import cubic_system, ridge_system, scalar_system
from qdsl.synthesis import hhl
from qdsl.synthesis.hhl import NATIVE_BASIS, synthesize_hhl, uniformly_controlled_ry

FLOAT = 1e-7
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ systems and readout used below
def raw_system(L, B, D):
    """A LinearSystem around an arbitrary matrix (T + 1 = N/D blocks, no history structure)."""
    L = sp.csr_matrix(L)
    N = L.shape[0]
    s = np.linalg.svd(L.toarray(), compute_uv=False)
    return LinearSystem(matrix=L, rhs=np.asarray(B, float), transfers=(), steps=N // D - 1, idle=0,
                        block_dim=D, const_index=0, theta_index=np.arange(1, D),
                        expansion_point=np.zeros(D - 1), kappa=float(s[0] / s[-1]),
                        kappa_method="exact")


def random_system(seed, n, hermitian):
    r"""A seeded 2^n × 2^n system with singular values in [0.3, 1] (κ ≤ 3.3 by construction):
    Hermitian Q·diag(±d)·Qᵀ (indefinite) or Q₁·diag(d)·Q₂ᵀ."""
    rng = np.random.default_rng(seed)
    N = 2 ** n
    Q1 = np.linalg.qr(rng.normal(size=(N, N)))[0]
    Q2 = np.linalg.qr(rng.normal(size=(N, N)))[0]
    d = rng.uniform(0.3, 1.0, N)
    d[[0, -1]] = 0.3, 1.0
    if hermitian:
        A = Q1 @ np.diag(d * rng.choice([-1.0, 1.0], N)) @ Q1.T
        A = (A + A.T) / 2
    else:
        A = Q1 @ np.diag(d) @ Q2.T
    return raw_system(A, rng.normal(size=N), D=2)


def statevector(circuit):
    from qdsl.backends.qiskit_sim import _numpy_statevector

    return _numpy_statevector(circuit)


def postselected_state(prog, sv=None):
    """(state, p): the post-selected amplitudes of every system basis state (padding included),
    normalized, and the success probability."""
    sv = statevector(prog.circuit) if sv is None else sv
    idx = np.arange(sv.size)
    keep = np.ones(sv.size, bool)
    for q, v in prog.postselect.items():
        keep &= ((idx >> int(q)) & 1) == int(v)
    k = np.zeros(sv.size, np.int64)
    for b, q in enumerate(prog.system_qubits):
        k |= ((idx >> int(q)) & 1) << b
    sub = np.zeros(2 ** len(prog.system_qubits), complex)
    sub[k[keep]] = sv[keep]
    p = float(np.vdot(sub, sub).real)
    return sub / math.sqrt(p), p


def reference_state(ls, prog):
    """scipy's solve of L·Y = B, placed at the solution map and normalized."""
    Y = sla.solve(ls.matrix.toarray(), np.asarray(ls.rhs, float))
    ref = np.zeros(2 ** len(prog.system_qubits))
    ref[np.asarray(prog.solution_map)] = Y
    return ref / np.linalg.norm(ref)


def check_walk_solution(prog, ls, sim=None):
    """The post-selected, normalized state is within the promised bound of the solution, with a
    real positive proportionality constant (g(H) is real); returns (error, p).  `sim`: a
    SimulationResult of `prog` to read the state from instead of simulating here."""
    if sim is None:
        x, p = postselected_state(prog)
    else:
        x, p = sim.postselected_state, sim.success_probability
    ref = reference_state(ls, prog)
    overlap = np.vdot(ref, x)
    assert abs(overlap.imag) <= FLOAT and overlap.real > 0
    err = float(np.linalg.norm(x - ref))
    assert err <= prog.meta["solution_error_bound"] + FLOAT
    assert p >= prog.meta["success_probability_lower_bound"] * (1 - FLOAT)
    return err, p


# ------------------------------------------------------------------ building blocks
def test_uniformly_controlled_ry_matches_ucry():
    from qiskit.circuit.library import UCRYGate
    from qiskit.quantum_info import Operator

    rng = np.random.default_rng(3)
    for k in range(0, 5):
        angles = rng.uniform(-np.pi, np.pi, 2 ** k)
        qc = uniformly_controlled_ry(angles)
        assert set(qc.count_ops()) <= {"ry", "cx"}
        assert Operator(qc).equiv(Operator(UCRYGate(list(angles))))


# ------------------------------------------------------------------ the walk variant's error analysis
def kernel(phi, c):
    """p_φ(k) for k = 0..2^c−1 (rows: the entries of φ), straight from the definition
    |N^{-1/2} Σ_j w_j e^{ij(φ−2πk/N)}|² — a discrete Fourier transform over j."""
    N = 2 ** c
    j = np.arange(N)
    w = hhl.window_state(c)
    a = np.fft.fft(w * np.exp(1j * np.outer(np.atleast_1d(phi), j)), axis=1) / np.sqrt(N)
    p = np.abs(a) ** 2
    return p[0] if np.ndim(phi) == 0 else p


@pytest.mark.parametrize("c", [2, 5, 8])
def test_window_moments_and_kernel_closed_forms(c):
    N, M = 2 ** c, 2 ** c + 1
    w = hhl.window_state(c)
    assert np.linalg.norm(w) == pytest.approx(1.0, abs=1e-14)
    one_minus_a1, w0wn, v2 = hhl._window_moments(N)
    assert 1 - np.dot(w[1:], w[:-1]) == pytest.approx(one_minus_a1, abs=1e-14)
    assert w[0] * w[-1] == pytest.approx(w0wn, rel=1e-12)
    rng = np.random.default_rng(c)
    for phi in rng.uniform(-np.pi, np.pi, 5):
        p = kernel(phi, c)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        delta = np.angle(np.exp(1j * (phi - 2 * np.pi * np.arange(N) / N)))     # wrapped to (−π, π]
        closed = (math.sin(math.pi / M) ** 2 * np.cos(M * delta / 2) ** 2
                  / (2 * N * M * (np.sin(delta / 2) ** 2 - math.sin(math.pi / (2 * M)) ** 2) ** 2))
        far = np.abs(delta) > math.pi / M + 1e-9
        np.testing.assert_allclose(p[far], closed[far], rtol=1e-9, atol=1e-15)
        assert np.all(p[far] <= hhl.window_envelope(delta[far], N) * (1 + 1e-9) + 1e-16)
        # first and second moments used by the bound
        m1 = np.dot(p, np.exp(2j * np.pi * np.arange(N) / N))
        want = (1 - one_minus_a1) * np.exp(1j * phi) + w0wn * np.exp(-1j * (N - 1) * phi)
        assert abs(m1 - want) <= 1e-12
        assert np.dot(p, np.abs(np.exp(2j * np.pi * np.arange(N) / N) - np.exp(1j * phi)) ** 2) <= v2 + 1e-12


@pytest.mark.parametrize("c, kappa_hat", [(6, 3.0), (8, 3.0), (8, 7.0), (9, 11.0), (10, 11.0)])
def test_inversion_error_bound_holds_on_the_exact_kernel(c, kappa_hat):
    """max over |x| ∈ [1/κ̂, 1] of |x·g(x)/c₀ − 1|, g from the exact kernel and the circuit's own
    table, stays below the derived δ (checked on 400 points per sign, including both ends)."""
    alpha = 1.0
    C = alpha / (2 * kappa_hat)
    _, f, _ = hhl.inversion_table(c, alpha, C)
    delta = hhl.inversion_error_bound(c, kappa_hat)
    x = np.concatenate([np.geomspace(1 / kappa_hat, 1.0, 400), -np.geomspace(1 / kappa_hat, 1.0, 400)])
    worst = np.max(np.abs(x * (kernel(np.arccos(x), c) @ f) / C - 1))
    assert worst <= delta
    # and the bound is not vacuous where it matters: within a factor 20 of the truth once < 0.1
    if delta < 0.1:
        assert delta <= 20 * worst


def test_clock_choice_is_the_smallest_that_meets_eps():
    for kappa_hat in (1.0, 3.0, 10.0, 40.0):
        for eps in (0.1, 1e-2, 1e-3):
            c = hhl.choose_clock(kappa_hat, eps)
            assert hhl.solution_error_bound(c, kappa_hat) <= eps
            assert c == 2 or hhl.solution_error_bound(c - 1, kappa_hat) > eps
            # c ≈ log2(2πκ̂/√ε) + O(1): the phase resolution near π/2 enters squared
            assert abs(c - math.log2(2 * math.pi * kappa_hat / math.sqrt(eps))) <= 3
    assert hhl.choose_clock(1e3, 1e-12) is None


def test_inversion_table_from_the_clock_alone():
    c, alpha, C = 6, 2.5, 0.1
    lam, f, angles = hhl.inversion_table(c, alpha, C)
    N = 2 ** c
    k = np.arange(N)
    np.testing.assert_allclose(lam, alpha * np.cos(2 * np.pi * k / N), atol=1e-15)
    np.testing.assert_allclose(f[1:], f[1:][::-1], atol=1e-15)          # k and N − k: same λ̃
    big = np.abs(lam) >= C
    np.testing.assert_allclose(f[big] * lam[big], C, rtol=1e-14)
    np.testing.assert_allclose(f[~big], np.sign(lam[~big]))
    assert f[N // 4] == f[3 * N // 4] == 0.0
    np.testing.assert_allclose(np.sin(angles / 2), f, atol=1e-15)


# ------------------------------------------------------------------ whole walk-HHL circuits
@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("hermitian", [True, False], ids=["hermitian", "non-hermitian"])
def test_random_systems(n, hermitian):
    """4×4, 8×8, 16×16, κ ≤ 3.3: the decoded state is within the promised bound."""
    ls = random_system(10 * n + hermitian, n, hermitian)
    prog = synthesize_hhl(ls, eps=0.03)
    assert prog.meta["variant"] == "walk" and prog.meta["dilated"] == (not hermitian)
    assert prog.meta["solution_error_bound"] <= 0.03 and prog.meta["clock_auto"]
    if not hermitian:
        assert prog.postselect[prog.meta["dilation_qubit"]] == 1
    check_walk_solution(prog, ls)


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("hermitian", [True, False], ids=["hermitian", "non-hermitian"])
def test_random_systems_tight(n, hermitian):
    ls = random_system(10 * n + hermitian + 1, n, hermitian)
    prog = synthesize_hhl(ls, eps=1e-3)
    check_walk_solution(prog, ls)


def test_diagonal_hermitian_system_with_negative_eigenvalues():
    L = np.diag([1.0, -0.5, 2.0, 0.8])
    ls = raw_system(L, [0.3, 0.5, -0.7, 0.2], D=2)
    prog = synthesize_hhl(ls, eps=0.02)
    assert not prog.meta["dilated"]
    check_walk_solution(prog, ls)


@pytest.mark.parametrize("T, idle", [(0, 0), (0, 2), (2, 3)])
def test_tiny_histories_and_idle_steps(T, idle):
    """T = 0 (L = I: Hermitian, eigenvalue α, phase 0) and idle blocks (padding)."""
    M = np.array([[1.0, 0.0], [0.1, 0.7]])
    ls = linear_system_from_transfers([M] * T, np.array([1.0, 0.5]), idle=idle)
    prog = synthesize_hhl(ls, eps=0.02)
    assert prog.meta["dilated"] == (T + idle > 0)
    check_walk_solution(prog, ls)


def test_user_clock_below_the_promise_warns():
    ls = scalar_system()
    prog = synthesize_hhl(ls, clock=4)
    assert not prog.meta["clock_auto"] and prog.meta["clock"] == 4
    assert prog.meta["solution_error_bound"] > prog.meta["eps"]
    assert prog.meta["warnings"] and prog.meta["warnings"][0].startswith("W0502")
    check_walk_solution(prog, ls)      # holds, if loosely


def test_contract_meta_and_declared_counts():
    ls = scalar_system()
    prog = synthesize_hhl(ls, clock=3)
    qc = prog.circuit
    assert prog.solver == "hhl" and qc.num_qubits == prog.num_qubits
    assert len(qc.qregs) == 1 and qc.num_clbits == 0
    allq = set(range(qc.num_qubits))
    assert set(prog.system_qubits) | set(prog.postselect) == allq
    assert not set(prog.system_qubits) & set(prog.postselect)
    m = prog.meta
    lay = m["layout"]
    assert prog.postselect[lay["flag"]] == 1 and all(prog.postselect[c] == 0 for c in lay["clock"])
    assert all(prog.postselect[q] == 0 for q in lay["walk_flags"] + lay["temporaries"])
    assert m["variant"] == "walk" and m["hamiltonian_simulation"] == "qubitized walk"
    assert m["block_encoding"]["construction"] == "dense-dilation"
    assert m["walk_steps"] == 2 * (2 ** 3 - 1) and m["block_encoding_calls"] == 2 * m["walk_steps"]
    assert m["inversion_constant"] == pytest.approx(m["lambda_lo"] / 2)
    assert m["kappa_hat"] == pytest.approx(m["alpha"] * m["inverse_norm"])
    json.dumps(m)
    # declared counts = counts of the fully inlined circuit, every gate in the native basis
    flat = qc
    for _ in range(12):
        names = {i.operation.name for i in flat.data} - set(NATIVE_BASIS)
        if not names:
            break
        flat = flat.decompose(gates_to_decompose=sorted(names))
    assert dict(flat.count_ops()) == prog.declared
    assert set(prog.declared) <= set(NATIVE_BASIS)
    # the walk is called 2^c − 1 times forward and backward
    calls = {}
    for inst in qc.data:
        calls[inst.operation.name] = calls.get(inst.operation.name, 0) + 1
    assert calls["hhl_cwalk_p0"] == calls["hhl_cwalk_dg_p0"] == 1


def test_given_inverse_norm_and_block_encoding():
    """An explicit BlockEncoding (here the dense adapter built outside) and an explicit ‖L⁻¹‖ bound
    are used as given; a bound that contradicts α is refused."""
    from qdsl.synthesis.common import layout_for, pad_system
    from qdsl.synthesis.walk import dense_block_encoding

    ls = scalar_system()
    layout = layout_for(ls)
    Lp, _ = pad_system(ls, layout)
    be = dense_block_encoding(Lp, solution_map=layout.solution_map())
    smin = np.linalg.svd(ls.matrix.toarray(), compute_uv=False)[-1]
    prog = synthesize_hhl(ls, block_encoding=be, inverse_norm=1.0 / smin, eps=0.02)
    assert prog.meta["inverse_norm_source"] == "given"
    assert prog.meta["kappa_hat"] == pytest.approx(be.alpha / smin)
    check_walk_solution(prog, ls)
    with pytest.raises(CompileError) as ei:
        synthesize_hhl(ls, block_encoding=be, inverse_norm=0.1 / be.alpha)
    assert ei.value.diagnostics[0].code == "E0505"


@pytest.mark.parametrize("make", [scalar_system, lambda: cubic_system(T=1)], ids=["scalar", "cubic"])
def test_with_the_projects_block_encoding_class(make):
    """The walk HHL on a `blocks.base.BlockEncoding` built elsewhere (the dense history
    construction: LCU of I and S·M̄, three flags, no `controlled` circuit: generic control)."""
    from qdsl.synthesis.block_encoding import dense_history

    ls = make()
    be = dense_history(ls)
    prog = synthesize_hhl(ls, block_encoding=be, eps=0.05)
    assert prog.meta["block_encoding"]["construction"] == "dense" and prog.meta["dilated"]
    assert prog.meta["alpha"] == be.alpha
    check_walk_solution(prog, ls)


def test_default_path_calls_no_eigen_solver(monkeypatch):
    """numpy's and scipy's eigen-solvers raise; the walk HHL still synthesizes (both the Hermitian
    and the dilated path), while the oracle reference cannot."""
    import scipy.sparse.linalg as spla

    systems = [ridge_system(), random_system(1, 2, hermitian=True)]

    def forbidden(*args, **kwargs):
        raise AssertionError("an eigen-solver was called")

    for name in ("eig", "eigh", "eigvals", "eigvalsh"):
        monkeypatch.setattr(np.linalg, name, forbidden)
    for name in [n for n in dir(sla) if n.startswith("eig")]:
        monkeypatch.setattr(sla, name, forbidden)
    for name in ("eigs", "eigsh"):
        monkeypatch.setattr(spla, name, forbidden)
    for ls in systems:
        prog = synthesize_hhl(ls, clock=4)
        assert prog.meta["variant"] == "walk"
    with pytest.raises(AssertionError, match="eigen-solver"):
        synthesize_hhl(systems[0], variant="oracle")


def test_size_limits_refused_up_front():
    ls = ridge_system(T=40)  # 41 blocks × 4 -> 8 system qubits: a 9-qubit dense block-encoding
    with pytest.raises(SizeLimitError) as ei:
        synthesize_hhl(ls)
    d = ei.value.diagnostics[0]
    assert d.code == "E0502" and "qsvt" in d.help and ei.value.exit_status == 3
    with pytest.raises(SizeLimitError):
        synthesize_hhl(scalar_system(), clock=hhl.MAX_CLOCK + 1)
    with pytest.raises(SizeLimitError) as ei:
        synthesize_hhl(scalar_system(), eps=1e-12)            # would need > MAX_CLOCK clock bits
    assert "eps" in ei.value.diagnostics[0].help


def test_bad_requests():
    with pytest.raises(CompileError):
        synthesize_hhl(cubic_system(), variant="magic")
    with pytest.raises(CompileError):
        synthesize_hhl(cubic_system(), clock=1)


# ------------------------------------------------------------------ OpenQASM 3
def test_qasm_round_trip_simulates_to_the_same_answer():
    from qdsl.backends import qasm3

    ls = scalar_system()
    prog = synthesize_hhl(ls, clock=6)
    res = qasm3.emit_with_info(prog)
    assert res.counts == prog.declared
    qasm3.validate(res.text)                         # openqasm3.parse
    import openqasm3
    openqasm3.parse(res.text)
    loaded = qasm3.load(res.text)                    # qiskit.qasm3.loads
    assert loaded.num_qubits == prog.num_qubits
    defined = qasm3.defined_gates(res.text)
    assert {"hhl_cwalk_p5", "hhl_cwalk_dg_p5", "hhl_invert", "hhl_window", "hhl_cblock"} <= defined
    assert len(res.text.splitlines()) < 5000          # powers are gates calling gates: no unrolling
    x, p = postselected_state(prog)
    y, q = postselected_state(prog, statevector(loaded.remove_final_measurements(inplace=False)))
    ov = np.vdot(x, y)           # gate definitions lose their global phases: equal up to one phase
    assert abs(ov) == pytest.approx(1.0, abs=FLOAT)
    assert p == pytest.approx(q, abs=FLOAT)
    assert np.linalg.norm(y - ov / abs(ov) * x) <= FLOAT


# ------------------------------------------------------------------ the product's examples
@pytest.mark.parametrize("name, clock", [("cubic_decay", None), ("ridge", 10)])
def test_examples_through_compile(name, clock):
    """examples/cubic_decay.qd (auto clock) and examples/ridge.qd (its file says clock = 7; 10 meets
    eps = 1e-2): the decoded state within the promised bound, the trajectory decoded from it."""
    import qdsl
    from qdsl.backends.qiskit_sim import simulate

    c = qdsl.compile(REPO / "examples" / f"{name}.qd", solver="hhl", clock=clock)
    prog = c.program
    m = prog.meta
    assert m["variant"] == "walk" and m["hamiltonian_simulation"] == "qubitized walk"
    assert m["solution_error_bound"] <= m["eps"] == 1e-2
    r = simulate(prog)
    check_walk_solution(prog, c.linear_system, r)
    # ŷ = y + d with ‖d‖ ≤ ε: |ŷ_i/ŷ_0 − y_i/y_0| ≤ ε(1 + |y_i/y_0|)/(|y_0| − ε) for every block
    ls = c.linear_system
    Y = reference_state(ls, prog)[prog.solution_map].reshape(-1, ls.block_dim)[: ls.steps + 1]
    ratio = Y[:, ls.theta_index] / Y[:, [ls.const_index]]
    eps = m["solution_error_bound"]
    allowed = eps * (1 + np.abs(ratio)) / (np.abs(Y[:, [ls.const_index]]) - eps)
    assert np.all(np.abs(r.trajectory - r.exact_trajectory) <= allowed + FLOAT)


def test_ridge_file_clock_is_honoured_with_a_warning():
    import qdsl

    c = qdsl.compile(REPO / "examples" / "ridge.qd", solver="hhl")
    m = c.program.meta
    assert m["clock"] == 7 and not m["clock_auto"]
    assert any(w.startswith("W0502") for w in m["warnings"])
    check_walk_solution(c.program, c.linear_system)


def test_cli_run_and_report(tmp_path, capsys):
    from qdsl.cli import main

    src = REPO / "examples" / "cubic_decay.qd"
    rep = tmp_path / "c.json"
    rc = main(["compile", str(src), "-o", str(tmp_path / "c.qasm"), "--report", str(rep),
               "--solver", "hhl"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(rep.read_text())
    assert report["circuit"]["solver"] == "hhl"
    assert report["solver"]["variant"] == "walk"
    assert report["solver"]["hamiltonian_simulation"] == "qubitized walk"
    assert report["solver"]["solution_error_bound"] <= 1e-2
    construction = report["circuit"]["construction"]
    assert construction["name"] == "dense-dilation"
    assert construction["queries"] == report["solver"]["block_encoding_calls"] == 4 * (2 ** report["solver"]["clock"] - 1)
    capsys.readouterr()
    rc = main(["run", str(src), "--solver", "hhl", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["verified"]
    assert 0 < d["success_probability"] <= 1 and d["fidelity"] >= 1 - 1e-4


# ------------------------------------------------------------------ the oracle reference
def test_oracle_variant_is_the_eigendecomposition_reference():
    from qdsl.backends.qiskit_sim import simulate

    ls = cubic_system()
    prog = synthesize_hhl(ls, clock=7, variant="oracle")
    assert prog.meta["variant"] == "oracle" and prog.meta["hamiltonian_simulation"] == "dense-synthesis"
    assert prog.meta["label_collisions"] == 0
    r = simulate(prog)
    assert r.fidelity >= 1 - 1e-9 and r.trajectory_error <= 1e-7


def test_oracle_controlled_evolution_is_exp_iHt():
    """The eigenbasis construction V·c-diag·V† is a controlled function of H (same eigenvectors)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator
    from qdsl.synthesis.common import pad_system

    ls = cubic_system(T=1)
    prog = synthesize_hhl(ls, clock=4, variant="oracle")
    m = prog.meta["hermitian_qubits"]
    Lp = pad_system(ls)[0].toarray()
    Z = np.zeros_like(Lp)
    H = np.block([[Z, Lp], [Lp.T, Z]])
    ops = {inst.operation.name: inst.operation for inst in prog.circuit.data}
    qc = QuantumCircuit(m + 1)
    qc.append(ops["hhl_eigbasis"].inverse(), range(m))
    qc.append(ops["hhl_cevolve_0"], range(m + 1))
    qc.append(ops["hhl_eigbasis"], range(m))
    U = Operator(qc).data[2 ** m:, 2 ** m:]
    np.testing.assert_allclose(U @ H, H @ U, atol=1e-9)


def test_oracle_too_small_clock_merges_labels():
    prog = synthesize_hhl(ridge_system(), clock=3, variant="oracle")
    assert prog.meta["label_collisions"] > 0 and prog.meta["warnings"][0].startswith("W0501")
