"""The readout contract applied (qdsl.readout): the signed-readout measurement identity on random
states and layouts, the OpenQASM 3 files and manifest `compile --readout signed` writes, counts
files in every accepted form, and `qdsl decode` reproducing `qdsl run`'s tables."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qdsl import readout as R
from qdsl.cli import main

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "regression_file.qd"
#: the dense reference block-encoding keeps these circuits at 9 qubits (the structured default has
#: 18; the slow end-to-end tests run signed readout on every example's structured circuit)
DENSE = ["--block-encoding", "dense"]


def apply_gates(psi, gates, nq):
    """The measurement gates (x, cx, h) applied to a statevector, written out here with numpy
    (index bit q = qubit q)."""
    psi = psi.copy()
    idx = np.arange(psi.size)
    for g in gates:
        if g[0] == "x":
            psi = psi[idx ^ (1 << g[1])]
        elif g[0] == "cx":
            c, t = g[1], g[2]
            psi = psi[np.where((idx >> c) & 1, idx ^ (1 << t), idx)]
        elif g[0] == "h":
            q = g[1]
            lo, hi = idx[((idx >> q) & 1) == 0], idx[((idx >> q) & 1) == 1]
            a, b = psi[lo].copy(), psi[hi].copy()
            psi[lo], psi[hi] = (a + b) / np.sqrt(2), (a - b) / np.sqrt(2)
        else:
            raise AssertionError(g)
    return psi


@st.composite
def layout(draw):
    nq = draw(st.integers(2, 6))
    perm = draw(st.permutations(range(nq)))
    ns = draw(st.integers(1, nq))
    system = list(perm[:ns])
    post = {str(q): draw(st.integers(0, 1)) for q in perm[ns:]}
    k0 = draw(st.integers(0, 2 ** ns - 1))
    k1 = draw(st.integers(0, 2 ** ns - 1).filter(lambda k: k != k0)) if ns > 1 or k0 == 0 else 0
    return nq, system, post, k0, k1


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(layout(), st.integers(0, 2 ** 32 - 1))
def test_signed_identity_on_random_states(lay, seed):
    """P(x,0) − P(x,1) = 2·Re(a1·a0*) (conditioned on the post-selection) for any state, any
    system-qubit order, any post-selection pattern and any two basis indices."""
    nq, system, post, k0, k1 = lay
    if k0 == k1:
        return
    rng = np.random.default_rng(seed)
    psi = rng.standard_normal(2 ** nq) + 1j * rng.standard_normal(2 ** nq)
    psi /= np.linalg.norm(psi)
    ro = {"system_qubits": system, "postselect": post, "const_index": [k0], "theta_index": [[k1]]}
    sub, p = R.system_amplitudes(psi, ro)
    (sc,) = R.signed_plan(ro, ["u"], "T")
    out = apply_gates(psi, sc.gates, nq)
    assert all(g[0] in ("x", "cx", "h") for g in sc.gates) and sc.gates[-1] == ("h", sc.qubit)
    assert all(q in system for g in sc.gates for q in g[1:])          # ancillas untouched
    sub2, p2 = R.system_amplitudes(out, ro)
    assert p2 == pytest.approx(p, rel=1e-12)
    j = system.index(sc.qubit)
    P0, P1 = abs(sub2[0]) ** 2 / p, abs(sub2[1 << j]) ** 2 / p
    want = (sub[k1] * np.conj(sub[k0])).real / p
    assert (P0 - P1) / 2 == pytest.approx(want, abs=1e-12)


def test_with_gates_inserts_before_the_measurements():
    text = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nbit[3] c;\nqubit[3] q;\nh q[0];\n' \
           + "".join(f"c[{i}] = measure q[{i}];\n" for i in range(3))
    out = R.with_gates(text, [("x", 2), ("cx", 0, 1), ("h", 0)])
    assert out.splitlines()[5:8] == ["x q[2];", "cx q[0], q[1];", "h q[0];"]
    assert out.splitlines()[8] == "c[0] = measure q[0];"
    import openqasm3
    openqasm3.parse(out)
    with pytest.raises(ValueError):
        R.with_gates("OPENQASM 3.0;\nqubit[1] q;\nh q[0];\n", [("h", 0)])


def test_parse_counts_forms():
    one = {"0101": 3, "1 0": 2}
    assert R.parse_counts(one) == [{5: 3, 2: 2}]
    assert R.parse_counts({"counts": [one, {"0x3": 4}]}) == [{5: 3, 2: 2}, {3: 4}]
    res = {"results": [{"data": {"counts": {"0x1f": 7}}, "header": {"name": "a"}}]}
    assert R.parse_counts(json.dumps(res)) == [{31: 7}]
    for bad in ({"01x": 1}, {"01": -1}, {"01": 1.5}, [1, 2]):
        with pytest.raises(ValueError):
            R.parse_counts(bad)


def test_signed_estimate_by_hand():
    """θ = θ* + ((n0 − n1)/(2N)) / (n(k0)/N′), with the delta-method σ, on hand-made counts:
    one system qubit pair, no ancilla; k0 = 0, k1 = 1 (qubit 0 interferes)."""
    ro = {"system_qubits": [0, 1], "postselect": {}, "const_index": [0], "theta_index": [[1]]}
    (sc,) = R.signed_plan(ro, ["w"], "T")
    assert sc.gates == (("h", 0),)
    plain = {0: 400, 1: 100, 2: 300, 3: 200}            # N′ = 1000, p0 = 0.4
    signed = {0: 600, 1: 200, 2: 150, 3: 50}             # N = 1000, P0 = 0.6, P1 = 0.2
    est = R.signed_estimates(plain, [signed], [sc], ro, [0.25])
    c, p0 = 0.2, 0.4
    var_c = (0.8 - 0.16) / 4000
    var_p0 = 0.24 / 1000
    assert est.theta[0] == pytest.approx(0.25 + c / p0)
    assert est.sigma[0] == pytest.approx(np.sqrt(var_c / p0 ** 2 + c * c * var_p0 / p0 ** 4))
    assert est.shots == 2000 and est.postselected_shots == 2000


# ------------------------------------------------------------------------ the command line

@pytest.fixture(scope="module")
def signed_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("signed")
    rc = main(["compile", str(EXAMPLE), "-o", str(d / "r.qasm"), "--report", str(d / "r.json"),
               "--readout", "signed", "--theta", "all", "-q", *DENSE])
    assert rc == 0
    return d


def test_compile_writes_signed_circuits_and_manifest(signed_files):
    d = signed_files
    man = json.loads((d / "r.signed.json").read_text())
    rep = json.loads((d / "r.json").read_text())
    assert man["signed_readout"]["circuits"] == rep["signed_readout"]["circuits"]
    circuits = man["signed_readout"]["circuits"]
    assert circuits[0] == {"role": "amplitudes", "file": "r.qasm"}
    T, n = rep["dynamics"]["steps"], len(rep["parameters"])
    assert len(circuits) == 1 + (T + 1) * n
    plain = (d / "r.qasm").read_text()
    import openqasm3
    for k, entry in enumerate(circuits[1:]):
        text = (d / entry["file"]).read_text()
        if k % 8 == 0:  # the reference parser is slow; the texts differ only in the inserted gates
            openqasm3.parse(text)
        assert text == R.with_gates(plain, [tuple(g) for g in entry["gates"]])
        assert entry["postselect"] == rep["readout"]["postselect"]
        assert entry["const_index"] == rep["readout"]["const_index"][entry["t"]]
        assert entry["theta_index"] == rep["readout"]["theta_index"][entry["t"]][entry["i"]]


def test_signed_files_measure_re_a_i_a_0(signed_files):
    """Loaded back with Qiskit and simulated by Aer: every signed circuit's (P(x,0) − P(x,1))/2
    equals Re(a_i a_0*) of the compiled circuit's post-selected state."""
    import qiskit.qasm3
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    def statevector(path):
        qc = qiskit.qasm3.loads(path.read_text())
        qc.remove_final_measurements(inplace=True)
        qc.save_statevector()
        sim = AerSimulator(method="statevector")
        return np.asarray(sim.run(transpile(qc, sim, optimization_level=0)).result().get_statevector())

    d = signed_files
    man = json.loads((d / "r.signed.json").read_text())
    ro = man["readout"]
    sub, p = R.system_amplitudes(statevector(d / "r.qasm"), ro)
    for entry in man["signed_readout"]["circuits"][1:][-2:]:
        sc = R.SignedCircuit.from_dict(entry)
        s2, p2 = R.system_amplitudes(statevector(d / entry["file"]), ro)
        j = [int(q) for q in ro["system_qubits"]].index(sc.qubit)
        lhs = (abs(s2[0]) ** 2 - abs(s2[1 << j]) ** 2) / (2 * p2)
        rhs = (sub[sc.theta_index] * np.conj(sub[sc.const_index])).real / p
        assert lhs == pytest.approx(rhs, abs=1e-9)


def test_decode_reproduces_runs_signed_table(tmp_path, capsys):
    counts, rep = tmp_path / "counts.json", tmp_path / "r.json"
    rc = main(["run", str(EXAMPLE), "--backend", "aer", "--shots", "4000", "--seed", "11", "--json",
               "--save-counts", str(counts), "--report", str(rep), "-q", *DENSE])
    run = json.loads(capsys.readouterr().out)
    assert rc in (0, 1) and run["shots"] == 4000
    rc = main(["decode", str(rep), "--counts", str(counts), "--json"])
    dec = json.loads(capsys.readouterr().out)
    assert rc == 0 and dec["mode"] == "signed"
    got = [(r["t"], r["i"], r["theta"], r["half_width"]) for r in dec["rows"]]
    want = [(r["t"], r["i"], r["theta"], r["half_width"]) for r in run["signed"]["rows"]]
    assert got == want
    assert dec["total_shots"] == run["signed"]["total_shots"] == 4000 * (1 + len(want))
    # the text table prints the same cells as run's (both through readout.format_signed)
    main(["decode", str(rep), "--counts", str(counts)])
    dec_text = capsys.readouterr().out
    for r in run["signed"]["rows"]:
        assert R.format_signed(r) in dec_text
    # the compiled circuit's counts alone give magnitudes
    doc = json.loads(counts.read_text())
    one = tmp_path / "one.json"
    one.write_text(json.dumps(doc["counts"][0]))
    assert main(["decode", str(rep), "--counts", str(one), "--json"]) == 0
    mag = json.loads(capsys.readouterr().out)
    assert mag["mode"] == "magnitudes"
    assert len(mag["abs_theta_minus_expansion_point"]) == len(run["trajectory"]["carleman"])


def test_decode_statevector_and_result(tmp_path, capsys):
    """A statevector written by the user's own simulator (Aer here) decodes to run's trajectory."""
    import qiskit.qasm3
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    q, rep = tmp_path / "r.qasm", tmp_path / "r.json"
    assert main(["compile", str(EXAMPLE), "-o", str(q), "--report", str(rep), "-q", *DENSE]) == 0
    qc = qiskit.qasm3.loads(q.read_text())
    qc.remove_final_measurements(inplace=True)
    qc.save_statevector()
    sim = AerSimulator(method="statevector")
    sv = np.asarray(sim.run(transpile(qc, sim, optimization_level=0)).result().get_statevector())
    np.save(tmp_path / "sv.npy", sv)
    assert main(["decode", str(rep), "--statevector", str(tmp_path / "sv.npy"), "--json"]) == 0
    dec = json.loads(capsys.readouterr().out)
    assert main(["run", str(EXAMPLE), "--json", "-q", *DENSE]) == 0
    run = json.loads(capsys.readouterr().out)
    # two simulators of the same circuit, each within statevector_error(G) of the exact state:
    # post-selection and the readout amplify that by the stated factors (Y from scipy, here)
    import scipy.sparse.linalg as spla

    import qdsl
    from qdsl import tolerances as tol

    ls = qdsl.compile(EXAMPLE).linear_system
    Y = spla.spsolve(ls.matrix.tocsc(), ls.rhs)
    blocks = Y.reshape(-1, ls.block_dim)[: ls.steps + 1]
    A = np.linalg.norm(Y) / np.abs(blocks[:, 0])
    r = np.array(run["trajectory"]["carleman"]) - np.array(ls.expansion_point)[None, :]
    G = sum(run["circuit"]["counts"].values())
    eps = tol.postselected_error(2 * tol.statevector_error(G), run["success_probability"])
    bound = tol.readout_error(eps, A, r) + 2 * tol.decode_rounding(r)
    assert np.all(np.abs(np.array(dec["trajectory"]) - np.array(run["trajectory"]["quantum"])) <= bound)
    res = {"results": [{"data": {"statevector": [[z.real, z.imag] for z in sv]}}]}
    (tmp_path / "res.json").write_text(json.dumps(res))
    assert main(["decode", str(rep), "--result", str(tmp_path / "res.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trajectory"] == dec["trajectory"]


def test_decode_bad_inputs_are_diagnostics(tmp_path, capsys):
    rep = tmp_path / "r.json"
    rep.write_text("{}")
    assert main(["decode", str(rep), "--counts", str(rep)]) == 2
    assert "E0207" in capsys.readouterr().err
    rep.write_text(json.dumps({"readout": {"system_qubits": [0], "postselect": {}, "const_index": [0],
                                           "theta_index": [[1]]}}))
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"counts": [{"0": 1}, {"1": 1}]}))
    assert main(["decode", str(rep), "--counts", str(bad)]) == 2
    assert "E0207" in capsys.readouterr().err
    np.save(tmp_path / "sv.npy", np.ones(8))
    assert main(["decode", str(rep), "--statevector", str(tmp_path / "sv.npy")]) == 2
    assert "Traceback" not in capsys.readouterr().err
