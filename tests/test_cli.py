"""The command line, end to end through `qdsl.cli.main` and real subprocesses (SPEC §4)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qdsl.cli import main

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.qd"))
SET = {"tanh_unit": ["--set", "eta=0.5"]}
NOT_DISSIPATIVE = {"saddle", "unstable_flow"}


def run_cli(args, capsys):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_help_is_light():
    code = ("import sys; from qdsl.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('qiskit', 'torch', 'scipy', 'sympy', 'numpy', 'lark') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out
    assert "check" in out and "simulate" in out and "compile" in out


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "qdsl", "explain", "E0203"], capture_output=True, text=True)
    assert r.returncode == 0 and "not declared" in r.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_check_every_example(path, capsys):
    rc, out, err = run_cli(["check", path, "--json"], capsys)
    d = json.loads(out)
    for key in ("dissipative", "R", "sparsity"):
        assert key in d
    assert ("spectral_abscissa" in d) if d["kind"] == "flow" else ("spectral_radius" in d)
    assert rc == (1 if path.stem in NOT_DISSIPATIVE else 0), (rc, err)
    assert "Traceback" not in err
    rc2, text, _ = run_cli(["check", path], capsys)
    assert rc2 == rc and "verdict:" in text


def test_check_symbolic_json(capsys):
    rc, out, _ = run_cli(["check", "examples/tanh_unit.qd", "--json"], capsys)
    d = json.loads(out)
    assert rc == 0 and list(d["symbolic"]) == ["eta"]
    lo, hi = d["symbolic"]["eta"][0]
    assert lo == 0.0 and 0.5 < hi < 1.0


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_simulate_every_example(path, capsys):
    rc, out, err = run_cli(["simulate", path, "--json", *SET.get(path.stem, [])], capsys)
    assert rc == 0, err
    d = json.loads(out)
    T = len(d["trajectory"]) - 1
    assert T >= 1 and set(d["carleman"]) == {str(k) for k in range(1, len(d["carleman"]) + 1)}
    for traj in d["carleman"].values():
        assert len(traj) == T + 1 and len(traj[0]) == len(d["trajectory"][0])


def test_simulate_plot(tmp_path, capsys):
    png = tmp_path / "t.png"
    rc, _, _ = run_cli(["simulate", "examples/logistic_flow.qd", "--plot", png], capsys)
    assert rc == 0 and png.read_bytes()[:4] == b"\x89PNG"


def test_compile_writes_files_and_never_clobbers(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = ROOT / "examples" / "regression_file.qd"
    rc, _, err = run_cli(["compile", src, "--report", "r.json"], capsys)
    assert rc == 0, err
    qasm = (tmp_path / "regression_file.qasm").read_text()
    assert qasm.startswith("OPENQASM 3") and "qubit[" in qasm
    rep = json.loads((tmp_path / "r.json").read_text())
    for key in ("model", "parameters", "expansion_point", "dynamics", "carleman", "linear_system", "circuit", "readout"):
        assert key in rep
    assert rep["circuit"]["num_qubits"] >= len(rep["readout"]["system_qubits"])
    # recompiling over qdsl's own output is fine; over a user's file it is refused
    assert run_cli(["compile", src, "--report", "r.json"], capsys)[0] == 0
    (tmp_path / "mine.qasm").write_text("my notes\n")
    rc, _, err = run_cli(["compile", src, "-o", "mine.qasm"], capsys)
    assert rc == 2 and "E0004" in err and (tmp_path / "mine.qasm").read_text() == "my notes\n"
    # never the input file, even with --force
    copy = tmp_path / "m.qd"
    copy.write_text(src.read_text().replace("data/", str(src.parent / "data") + "/"))
    rc, _, err = run_cli(["compile", copy, "-o", copy, "--force"], capsys)
    assert rc == 2 and "input file" in err
    # stdout
    rc, out, _ = run_cli(["compile", src, "-o", "-"], capsys)
    assert rc == 0 and out.startswith("OPENQASM 3")


def test_compile_is_deterministic(tmp_path):
    outs = []
    for k in range(2):
        subprocess.run([sys.executable, "-m", "qdsl", "compile", str(ROOT / "examples/regression_file.qd"),
                        "-o", str(tmp_path / f"{k}.qasm")], check=True, capture_output=True)
        outs.append((tmp_path / f"{k}.qasm").read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.parametrize("text,code", [
    ("", "E0101"),
    ("model m { parm x = 1 }", "E0102"),
    ("\x00\x01\x02garbage", "E0103"),
    ("model m {\n param x = 1\n loss = x^2 + lamda\n evolve gd(lr = 0.1, steps = 3)\n}", "E0203"),
    ("model m {\n param x = 1\n loss = x^2\n evolve gd(lr = 0.1, steps = -2)\n}", "E0211"),
])
def test_bad_input_is_a_diagnostic(tmp_path, capsys, text, code):
    f = tmp_path / "bad.qd"
    f.write_bytes(text.encode("latin-1"))
    for cmd in ("check", "simulate", "compile", "run"):
        rc, out, err = run_cli([cmd, f], capsys)
        assert rc == 2, (cmd, err)
        assert f"[{code}]" in err and "-->" in err and "Traceback" not in err


def test_missing_file_and_bad_options(capsys):
    rc, _, err = run_cli(["check", "nope.qd"], capsys)
    assert rc == 2 and "E0207" in err
    rc, _, err = run_cli(["check", "examples/quartic.qd", "--set", "eta"], capsys)
    assert rc == 2 and "E0002" in err
    rc, _, err = run_cli(["check", "examples/quartic.qd", "--set", "eta=0.1"], capsys)
    assert rc == 2 and "E0215" in err
    rc, _, err = run_cli(["simulate", "examples/tanh_unit.qd", "--set", "eta=3"], capsys)
    assert rc == 2 and "outside its domain" in err
    rc, _, err = run_cli(["frobnicate"], capsys)
    assert rc == 2
    rc, _, err = run_cli(["explain", "E9999"], capsys)
    assert rc == 2 and "E0003" in err


def test_size_limits_exit_3(tmp_path, capsys, monkeypatch):
    f = tmp_path / "big.qd"
    f.write_text("model big {\n param w[60]\n loss = sum(i in 0..60: w[i]^2 + w[i]^4)\n"
                 " evolve gd(lr = 0.1, steps = 5)\n carleman order 6\n}\n")
    rc, _, err = run_cli(["simulate", f], capsys)
    assert rc == 3 and "E0401" in err and "symmetric" in err
    monkeypatch.setenv("QDSL_MAX_QUBITS", "6")
    rc, _, err = run_cli(["run", "examples/regression_file.qd", "--backend", "aer"], capsys)
    assert rc == 3 and "E0501" in err


def test_run_regression_file_json(capsys):
    rc, out, err = run_cli(["run", "examples/regression_file.qd", "--json"], capsys)
    assert rc == 0, err
    d = json.loads(out)
    assert d["fidelity"] >= 0.99 and 0 < d["success_probability"] <= 1
    q, c = d["theta_T"]["quantum"], d["theta_T"]["carleman"]
    scale = max(abs(v) for v in c)
    assert max(abs(a - b) for a, b in zip(q, c)) <= 0.05 * scale


def test_stdout_and_stderr_never_share_a_line(tmp_path):
    """With both streams in one pipe (a terminal, `2>&1`), every stdout line ends before a
    diagnostic starts: qdsl flushes stdout before writing to stderr."""
    f = tmp_path / "m.qd"
    f.write_text("model m {\n    param x = 0.5\n    param y = 0.5\n    loss = 0.2*x^2 + 0.2*y^2 + 2*x*y\n"
                 "    evolve flow(time = 2, dt = 0.5)\n    carleman order 2\n    solver hhl(clock = 4)\n}\n")
    merged = subprocess.run([sys.executable, "-m", "qdsl", "run", str(f), "--clock", "4"],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True).stdout
    lines = merged.splitlines()
    assert any(line.startswith("warning[W050") for line in lines), merged
    assert any(line.startswith("model m: HHL") for line in lines), merged
    assert any(line.startswith("checks (measured ≤ bound)") for line in lines), merged
    for line in lines:  # no stdout text runs into a diagnostic on the same line
        assert "warning[" not in line or line.startswith("warning["), line


@pytest.mark.parametrize("exc", ["internal", "other"])
def test_internal_errors_are_one_line_with_exit_70(exc, capsys, monkeypatch):
    from qdsl.diagnostics import InternalError

    def broken(*a, **k):
        if exc == "internal":
            raise InternalError("block-encoding check failed: deviation 3e-2 > 1e-12", check="verify_block")
        raise ZeroDivisionError("float division by zero")

    import qdsl.lowering.simulate as sim
    monkeypatch.setattr(sim, "simulate", broken)
    monkeypatch.delenv("QDSL_DEBUG", raising=False)
    rc, out, err = run_cli(["simulate", "examples/quartic.qd"], capsys)
    assert rc == 70 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error[E0070]: internal error") and "bug in qdsl" in err
    assert ("[verify_block]" in err) if exc == "internal" else ("ZeroDivisionError" in err)
    monkeypatch.setenv("QDSL_DEBUG", "1")
    with pytest.raises((InternalError, ZeroDivisionError)):
        main(["simulate", "examples/quartic.qd"])
