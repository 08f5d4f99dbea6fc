"""Options validated like the file (issue 18): one path (`qdsl.options`) for eps, order, clock,
steps in the CLI and the API; colliding output paths; `decode`'s input; `resources` on HHL."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qdsl
from qdsl.cli import main
from qdsl.diagnostics import CompileError

ROOT = Path(__file__).parents[1]
GD = str(ROOT / "examples" / "gd_cubic.qd")


def code_of(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import re
    m = re.search(r"error\[(E\d+)\]", err)
    return m.group(1) if m else ""


@pytest.mark.parametrize("value", ["0", "2", "1", "inf", "nan", "-1", "1e-3x", "-inf"])
def test_cli_eps_outside_0_1_is_E0900(value, capsys):
    assert main(["compile", GD, "-o", "-", f"--eps={value}"]) == 2
    assert code_of(capsys) == "E0900"


@pytest.mark.parametrize("flag,value,code", [("--order", "0", "E0901"), ("--order", "1.5", "E0901"),
                                             ("--order", "x", "E0901"), ("--steps", "2.5", "E0903"),
                                             ("--steps", "0", "E0903"), ("--steps", "nan", "E0903"),
                                             ("--clock", "1.5", "E0902"), ("--clock", "-3", "E0902")])
def test_cli_whole_numbers(flag, value, code, capsys):
    assert main(["compile", GD, "-o", "-", flag, value]) == 2
    assert code_of(capsys) == code


def test_scientific_notation_is_accepted_when_integral(capsys):
    assert main(["simulate", GD, "-q", "--steps", "1e1", "--order", "2e0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["steps"] == 10 and d["order"] == 2


@pytest.mark.parametrize("kw,code", [({"order": 0}, "E0901"), ({"eps": 2}, "E0900"), ({"eps": 0}, "E0900"),
                                     ({"eps": float("nan")}, "E0900"), ({"steps": 2.5}, "E0903"),
                                     ({"clock": "x"}, "E0902"), ({"idle": -1}, "E0904"),
                                     ({"order": True}, "E0901")])
def test_api_raises_compile_error_with_a_code(kw, code):
    with pytest.raises(CompileError) as ei:
        qdsl.compile(GD, **kw)
    assert ei.value.diagnostics[0].code == code


def test_api_normalizes_integral_values():
    c = qdsl.compile(GD, steps=1e1, order="2", eps="1e-2")
    assert c.options.steps == 10 and isinstance(c.options.steps, int)
    assert c.order == 2 and c.options.eps == 0.01
    assert c.system.dynamics.steps == 10


def test_resources_params_beyond_float64_is_a_size_refusal(capsys):
    assert main(["resources", GD, "--params", "1e300", "--no-build", "-q"]) == 3
    assert code_of(capsys) == "E0905"
    assert main(["resources", GD, "--params", "2.5", "--no-build", "-q"]) == 2
    assert code_of(capsys) == "E0601"
    assert main(["resources", GD, "--params", "1e3", "--steps", "1e2", "--no-build", "-q", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["inputs"]["n"] == 1000 and d["inputs"]["T"] == 100


def test_colliding_outputs_are_refused(tmp_path, capsys):
    x = tmp_path / "X"
    assert main(["compile", GD, "-o", str(x), "--report", str(x)]) == 2
    assert code_of(capsys) == "E0910" and not x.exists()
    assert main(["compile", GD, "-o", str(x), "--report", str(tmp_path / "." / "X")]) == 2
    assert code_of(capsys) == "E0910"
    assert main(["run", GD, "--report", str(x), "--plot", str(x)]) == 2
    assert code_of(capsys) == "E0910"


# ----------------------------------------------------------------------------- decode

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("dec")
    rep = d / "r.json"
    assert main(["compile", GD, "-o", str(d / "r.qasm"), "--report", str(rep), "-q"]) == 0
    return rep


def _nq(report) -> int:
    return json.loads(report.read_text())["circuit"]["num_qubits"]


@pytest.mark.parametrize("make,code", [
    (lambda n: np.full(1 << n, np.nan, complex), "E0911"),
    (lambda n: np.zeros(1 << n, complex), "E0911"),
    (lambda n: np.full(1 << n, 2.0 ** (-n / 2) * 1.001, complex), "E0911"),
    (lambda n: np.full(1 << (n - 1), 2.0 ** (-(n - 1) / 2), complex), "E0912"),
])
def test_decode_refuses_statevectors_no_circuit_makes(report, tmp_path, capsys, make, code):
    sv = tmp_path / "sv.npy"
    np.save(sv, make(_nq(report)))
    assert main(["decode", str(report), "--statevector", str(sv)]) == 2
    assert code_of(capsys) == code


def test_decode_accepts_a_unit_statevector(report, tmp_path, capsys):
    n = _nq(report)
    sv = tmp_path / "sv.npy"
    np.save(sv, np.full(1 << n, 2.0 ** (-n / 2), complex))
    assert main(["decode", str(report), "--statevector", str(sv), "--json"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("counts,code", [("zeros", "E0913"), ({}, "E0913"), ([], "E0913"),
                                         ("wide", "E0912"), ("narrow", "E0912"), ("big", "E0912")])
def test_decode_refuses_counts_of_another_circuit(report, tmp_path, capsys, counts, code):
    n = _nq(report)
    if counts == "zeros":
        counts = {"0" * n: 0, "0" * (n - 1) + "1": 0}
    elif counts == "wide":
        counts = {"1" + "0" * n: 10}
    elif counts == "narrow":
        counts = {"0" * (n - 1): 10}
    elif counts == "big":
        counts = {hex(1 << n): 10}
    f = tmp_path / "c.json"
    f.write_text(json.dumps(counts))
    assert main(["decode", str(report), "--counts", str(f)]) == 2
    assert code_of(capsys) == code


def test_resources_on_hhl_names_its_queries(capsys):
    assert main(["resources", str(ROOT / "examples" / "ridge.qd"), "-q"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if "queries" in ln)
    assert "None" not in out and "HHL walk" in row
    calls = int(row.split("HHL walk)")[1].split()[0].replace(",", ""))
    c = qdsl.compile(ROOT / "examples" / "ridge.qd")
    assert calls == c.program.meta["block_encoding_calls"]


def test_resources_projection_over_the_step_limit_is_refused_at_once(capsys):
    """The structured projection enumerates the time register's steps: beyond 10^6 it would run for
    minutes (10^8: over a minute, 10^15: forever), so the option is refused up front (exit 3)."""
    import time
    t0 = time.perf_counter()
    assert main(["resources", GD, "--steps", "1e15", "--no-build", "-q"]) == 3
    assert code_of(capsys) == "E0905" and time.perf_counter() - t0 < 5
