"""Resources: counted (the emitted file) = estimated (the blocks' cost functions) = what Microsoft's
estimator reads in the file; projections; the CLI."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import qdsl
from qdsl.backends.resources import resources, t_per_rotation
from cli_capture import cli

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
QUARTIC = str(EX / "quartic.qd")

#: models whose circuits are counted and estimated in the default suite (small and quick)
MODELS = [("gd_cubic", {}), ("flow_cubic", {}), ("sgd_cubic", {}), ("cubic_decay", {"solver": "qsvt"}),
          ("regression_file", {}), ("logistic_flow", {})]
REQUIRED = {"logical_qubits", "t_count", "method", "physical", "formulas", "assumptions", "inputs"}


def file_counts(text: str) -> dict:
    """Gate counts of an OpenQASM 3 file, flattened through its gate definitions — read from the
    text with a regular expression, independently of the emitter's own tally."""
    defs, top, cur = {}, [], None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"gate (\w+) ", line)
        if m:
            cur = defs.setdefault(m.group(1), [])
            continue
        if line == "}":
            cur = None
            continue
        if re.fullmatch(r"and_m = measure q\[\d+\];", line):   # And†: h, measure, if (…) { cz; x; }
            assert top[-1] == "h"
            top.pop()
            continue
        if re.fullmatch(r"if \(and_m\) \{ cz q\[\d+\], q\[\d+\]; x q\[\d+\]; \}", line):
            top.append("and_dg")
            continue
        m = re.match(r"([a-z_]\w*)(\(|\s)", line)
        if not m or m.group(1) in ("bit", "qubit", "include", "c", "OPENQASM"):
            continue
        (cur if cur is not None else top).append("and" if m.group(1) == "gidney_and" else m.group(1))
    memo = {}

    def flat(names):
        out = {}
        for g in names:
            if g in defs:
                if g not in memo:
                    memo[g] = flat(defs[g])
                for k, v in memo[g].items():
                    out[k] = out.get(k, 0) + v
            else:
                out[g] = out.get(g, 0) + 1
        return out

    return flat(top)


@pytest.mark.parametrize("name,kw", MODELS, ids=[m[0] for m in MODELS])
def test_counted_equals_estimated_for_every_gate_kind(name, kw):
    c = qdsl.compile(str(EX / f"{name}.qd"), **kw)
    rep = resources(c)
    assert rep.method == "counted"
    assert file_counts(c.qasm) == {k: v for k, v in rep.counts.items() if v}   # the file itself
    assert rep.details["estimated"] == rep.counts                            # the cost functions
    assert rep.details["estimated_equals_counted"] is True
    est = resources(c, count=False)                                          # nothing built
    assert est.method == "estimated" and est.counts == rep.counts
    assert est.logical_qubits == rep.logical_qubits == c.program.num_qubits


CT_MODELS = ["gd_cubic", "flow_cubic", "sgd_cubic", "cubic_decay", "regression_file"]


@pytest.mark.parametrize("name", CT_MODELS)
def test_clifford_t_count_is_the_files_and_microsofts(name):
    c = qdsl.compile(str(EX / f"{name}.qd"), solver="qsvt", gate_basis="clifford+t")
    rep = resources(c)
    fc = file_counts(c.qasm)
    # and_dg: Gidney's measured uncomputation (h, measure, classically controlled cz + x): Clifford
    assert set(fc) <= {"h", "s", "sdg", "t", "tdg", "x", "y", "z", "cx", "and_dg"}
    assert rep.t_count == fc.get("t", 0) + fc.get("tdg", 0)
    qdk = pytest.importorskip("qdk.openqasm")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert qdk.estimate(c.qasm)["logicalCounts"]["tCount"] == rep.t_count


def test_t_states_of_native_counts():
    c = qdsl.compile(str(EX / "gd_cubic.qd"))
    rep = resources(c)
    rot = rep.details["rotations"]
    eps = c.program.meta["eps"]
    want = rep.counts.get("t", 0) + rep.counts.get("tdg", 0) \
        + 4 * (rep.counts.get("ccx", 0) + rep.counts.get("and", 0)) \
        + rot * t_per_rotation(eps / rot)
    assert rep.t_count == int(-(-want // 1))


def test_gridsynth_formula_matches_qiskit():
    import numpy as np
    from qiskit.synthesis import gridsynth_rz

    rng = np.random.default_rng(3)
    for delta in (1e-4, 1e-8):
        ts = [sum(v for g, v in gridsynth_rz(float(th), epsilon=delta).count_ops().items()
                  if g in ("t", "tdg")) for th in rng.uniform(0, 2 * np.pi, 6)]
        # the fit 3·log₂(1/δ) + 2 is a mean: individual words scatter by a few T gates
        assert abs(np.mean(ts) / t_per_rotation(delta) - 1) < 0.1


# ------------------------------------------------------------------------- projections

def test_projection_bounds_the_compiled_size():
    """At the compiled size the projection's trie bounds and degree bound can only overestimate."""
    c = qdsl.compile(QUARTIC)
    exact = resources(c, count=False)
    proj = resources(c, params=2, steps=10)
    tof = lambda r: r.counts.get("ccx", 0) + r.counts.get("and", 0)   # Toffolis + Ands
    assert tof(proj) >= tof(exact)
    assert proj.inputs["degree"] >= exact.inputs["degree"]


def test_projection_scaling_and_access_models():
    c = qdsl.compile(QUARTIC)
    rows = {}
    for n in (10 ** 3, 10 ** 5, 10 ** 8):
        for access in ("qrom", "qram"):
            rows[n, access] = resources(c, params=n, steps=100, access=access)
    # QROM lookups grow like n·log n per query (items × trie depth below the full levels);
    # QRAM queries like log n (address bits)
    def tof(row):   # Toffolis + Ands (Gidney's temporary AND) per query
        q = row.details["block_encoding_per_query"]
        return q.get("ccx", 0) + q.get("and", 0)

    q3, q8 = (tof(rows[n, "qrom"]) for n in (10 ** 3, 10 ** 8))
    r3, r8 = (tof(rows[n, "qram"]) for n in (10 ** 3, 10 ** 8))
    assert 1e5 <= q8 / q3 <= 1e5 * 27 / 10
    assert 1 < r8 / r3 < 4
    for n in (10 ** 3, 10 ** 8):
        assert rows[n, "qram"].t_count < rows[n, "qrom"].t_count
    assert rows[10 ** 8, "qrom"].logical_qubits > rows[10 ** 3, "qrom"].logical_qubits


def test_projection_in_T():
    c = qdsl.compile(QUARTIC)
    a, b = (resources(c, params=1000, steps=T) for T in (10, 1000))
    assert a.inputs["degree"] < b.inputs["degree"] and a.t_count < b.t_count


# ------------------------------------------------------------------------- the CLI

def test_cli_counted_json():
    rc, out, err = cli("resources", str(EX / "gd_cubic.qd"), "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert REQUIRED <= set(d) and d["method"] == "counted"
    assert set(d["physical"]) >= {"code_distance", "physical_qubits", "runtime_seconds"}
    assert d["logical_qubits"] == 16 and d["t_count"] > 0
    assert d["details"]["estimated_equals_counted"] is True


def test_cli_projected_json():
    rc, out, err = cli("resources", QUARTIC, "--params", "1e8", "--steps", "100", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert REQUIRED <= set(d) and d["method"] == "estimated"
    assert d["inputs"]["n"] == 10 ** 8 and d["inputs"]["T"] == 100 and d["inputs"]["access"] == "qrom"
    assert "access" in d["assumptions"] and "surface_code" in d["assumptions"]
    assert d["physical"]["physical_qubits"] > d["logical_qubits"]
    rc, text, _ = cli("resources", QUARTIC, "--params", "1e8", "--steps", "100", "--access", "qram")
    assert rc == 0 and "T states" in text and "physical qubits" in text


@pytest.mark.parametrize("argv,code", [(("--params", "0"), "E0601"), (("--params", "-5"), "E0601"),
                                       (("--params", "2.5"), "E0601"), (("--eps", "-1"), "E0603"),
                                       (("--eps", "2"), "E0603")])
def test_cli_bad_inputs(argv, code):
    rc, out, err = cli("resources", QUARTIC, *argv, "--json")
    assert rc == 2
    assert f"error[{code}]" in err and "help:" in err and out == ""


def test_api_bad_steps():
    c = qdsl.compile(QUARTIC)
    with pytest.raises(qdsl.CompileError) as ei:
        resources(c, steps=0)
    assert ei.value.diagnostics[0].code == "E0602"


def test_qroam_lookup_cost_under_a_qubit_budget_by_hand():
    """The block size k is the power of two of fewest compute Toffolis with b·k ≤ the budget
    (k = 1 always allowed); the uncomputation's k′ is capped alike."""
    import math

    from qdsl.synthesis.projection import qroam_lookup_cost

    for L, b, cap in ((1000, 10, 35), (10 ** 6, 40, 4000), (10 ** 6, 40, 10), (7, 3, 100)):
        kmax = max(1, cap // b)
        ks = [2 ** j for j in range(0, 40) if 2 ** j <= L and (2 ** j <= kmax or j == 0)]
        comp = min((math.ceil(L / k) + b * (k - 1), k) for k in ks)
        unc = min(math.ceil(L / k) + k for k in ks)
        tof, qubits, k = qroam_lookup_cost(L, b, cap)
        assert (tof, qubits, k) == (comp[0] + unc, b * comp[1], comp[1])
        assert qubits <= max(cap, b)
        assert tof >= qroam_lookup_cost(L, b)[0]


def test_qroam_projection_counts_its_data_register_and_obeys_max_qubits():
    """At 10^8 parameters the select-swap data register is counted in the logical qubits and
    stated; a budget trades Toffolis back for qubits and is met; a budget below the circuit plus
    the widest output register is refused (E0450, exit 3); --max-qubits outside a QROAM
    projection is a usage error (E0451, exit 2)."""
    from qdsl.diagnostics import SizeLimitError

    c = qdsl.compile(QUARTIC)
    free = resources(c, params=10 ** 8, steps=10, access="qroam", output=None)
    sz = free.inputs["sizes"]
    w = sz["qroam_widest_lookup"]
    assert sz["qroam_data_qubits"] == sz["qroam_block"] * w["bits"] > 0
    assert free.logical_qubits == sz["logical_qubits"] > sz["qroam_data_qubits"]
    qrom = resources(c, params=10 ** 8, steps=10, access="qrom", output=None)
    assert free.logical_qubits == qrom.logical_qubits + sz["qroam_data_qubits"]
    # select-swap at 10^8: orders of magnitude fewer Toffolis than unary iteration over the nonzeros
    assert qrom.counts["ccx"] > 1000 * free.counts["ccx"]
    tight = resources(c, params=10 ** 8, steps=10, access="qroam", output=None, max_qubits=2000)
    assert tight.logical_qubits <= 2000 and tight.inputs["sizes"]["qubit_budget"] == 2000
    assert tight.counts["ccx"] > free.counts["ccx"]
    assert "QROAM data register" in tight.render() and "budget 2,000" in tight.render()
    with pytest.raises(SizeLimitError) as e:
        resources(c, params=10 ** 8, steps=10, access="qroam", output=None, max_qubits=150)
    assert e.value.diagnostics[0].code == "E0450"
    least = int(re.search(r"at least --max-qubits (\d+)", e.value.diagnostics[0].help).group(1))
    assert resources(c, params=10 ** 8, steps=10, access="qroam", output=None,
                     max_qubits=least).logical_qubits <= least
    rc, _, err = cli("resources", QUARTIC, "--params", "1e8", "--access", "qroam", "--max-qubits", "150")
    assert rc == 3 and "E0450" in err
    for argv in (("--max-qubits", "1e5"), ("--params", "1e8", "--max-qubits", "1e5"),
                 ("--params", "1e8", "--access", "qroam", "--max-qubits", "-3")):
        rc, _, err = cli("resources", QUARTIC, *argv)
        assert rc == 2 and "E0451" in err
