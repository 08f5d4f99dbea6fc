"""Versioned formats: every JSON document qdsl writes starts with `"format": "qdsl.KIND/1"` and
validates against its JSON Schema under docs/schemas/ — checked here on the real outputs of the
examples (the command line, in process) — and `qdsl decode` refuses a document of another kind or
a newer major version with E0801, while accepting one written before formats had versions."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

from qdsl.cli import main  # noqa: E402
from qdsl.formats import FORMATS, check_format, format_id, stamp  # noqa: E402

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "docs/schemas"
EX = ROOT / "examples"


def schema(kind: str) -> dict:
    s = json.loads((SCHEMAS / f"qdsl.{kind}.v1.json").read_text())
    jsonschema.Draft202012Validator.check_schema(s)
    return s


def validate(doc: dict, kind: str) -> None:
    assert next(iter(doc)) == "format" and doc["format"] == format_id(kind) == f"qdsl.{kind}/1"
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema(kind)).iter_errors(doc)]
    assert not errors, errors[:5]


def qdsl_json(capsys, *argv, status=0) -> dict:
    capsys.readouterr()
    assert main(list(argv)) == status
    return json.loads(capsys.readouterr().out)


def test_one_schema_per_format_and_each_is_strict_enough():
    assert {p.name for p in SCHEMAS.glob("*.json")} == {f"qdsl.{k}.v1.json" for k in FORMATS}
    for kind in FORMATS:
        s = schema(kind)
        assert s["properties"]["format"] == {"const": f"qdsl.{kind}/1", "description": s["properties"]["format"]["description"]}
        assert len(s["required"]) >= 4, kind
    assert list(stamp({"a": 1, "format": "x"}, "run")) == ["format", "a"]


def test_every_json_output_of_gd_cubic_validates(tmp_path, monkeypatch, capsys):
    """check, simulate, compile --report (signed readout: the report and the manifest), run --json
    (amplitudes and --shots), the saved counts, decode --json (counts), resources --json (counted and
    projected) — each against its schema."""
    monkeypatch.chdir(tmp_path)
    f = str(EX / "gd_cubic.qd")
    validate(qdsl_json(capsys, "check", f, "--json"), "check")
    validate(qdsl_json(capsys, "simulate", f, "--json"), "simulate")
    assert main(["compile", f, "-o", "g.qasm", "--report", "g.json", "--readout", "signed", "-q"]) == 0
    report = json.loads(Path("g.json").read_text())
    validate(report, "report")
    validate(json.loads(Path("g.signed.json").read_text()), "signed-manifest")
    validate(qdsl_json(capsys, "run", f, "--json", "-q"), "run")
    run = qdsl_json(capsys, "run", f, "--json", "-q", "--shots", "2000", "--save-counts", "counts.json")
    validate(run, "run")
    counts = json.loads(Path("counts.json").read_text())
    validate(counts, "counts")
    assert len(counts["counts"]) == 1 + len(run["signed"]["rows"])
    validate(qdsl_json(capsys, "decode", "g.json", "--counts", "counts.json", "--json"), "decode")
    validate(qdsl_json(capsys, "decode", "g.signed.json", "--counts", "counts.json", "--json"), "decode")
    validate(qdsl_json(capsys, "resources", f, "--json"), "resources")
    validate(qdsl_json(capsys, "resources", f, "--json", "--params", "1e6", "--steps", "50"), "resources")
    validate(qdsl_json(capsys, "plan", f, "--json"), "plan")
    validate(qdsl_json(capsys, "plan", f, "--json", "--output", "functional", "--params", "1e6", "--steps", "50",
                       "--access", "qram"), "plan")

    # the schemas reject what they should: a wrong format, a missing key, a mistyped value
    v = jsonschema.Draft202012Validator(schema("report"))
    for mutate in (lambda d: d.update(format="qdsl.report/2"), lambda d: d.pop("readout"),
                   lambda d: d["circuit"].update(num_qubits="16"),
                   lambda d: d["readout"]["postselect"].update({"5": 2})):
        bad = copy.deepcopy(report)
        mutate(bad)
        assert not v.is_valid(bad)
    bad = copy.deepcopy(counts)
    bad["counts"][0]["01x"] = 3
    assert not jsonschema.Draft202012Validator(schema("counts")).is_valid(bad)


@pytest.mark.parametrize("name, status", [("flow_cubic", 0), ("tanh_unit", 0), ("saddle", 1), ("sgd_cubic", 0)])
def test_check_json_of_other_kinds_validates(name, status, capsys):
    """flows (spectral abscissa), symbolic constants (intervals), a failing certificate, sgd."""
    validate(qdsl_json(capsys, "check", str(EX / f"{name}.qd"), "--json", status=status), "check")


def test_simulate_json_of_a_flow_validates(capsys):
    validate(qdsl_json(capsys, "simulate", str(EX / "flow_cubic.qd"), "--json"), "simulate")


@pytest.mark.slow
@pytest.mark.parametrize("name, solver", [("cubic_decay", "hhl"), ("ridge", "qsvt"), ("flow_cubic", "qsvt")])
def test_report_and_run_json_of_more_examples_validate(name, solver, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    f = str(EX / f"{name}.qd")
    run = qdsl_json(capsys, "run", f, "--solver", solver, "--json", "-q", "--report", "r.json")
    validate(run, "run")
    validate(json.loads(Path("r.json").read_text()), "report")
    validate(qdsl_json(capsys, "resources", f, "--json", "--solver", solver, "--no-build") if solver == "qsvt"
             else qdsl_json(capsys, "resources", f, "--json", "--solver", solver), "resources")


def test_decode_refuses_other_formats_with_E0801(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    f = str(EX / "gd_cubic.qd")
    assert main(["compile", f, "-o", "g.qasm", "--report", "g.json", "-q"]) == 0
    report = json.loads(Path("g.json").read_text())
    import numpy as np
    np.save("sv.npy", np.eye(1, 2 ** report["circuit"]["num_qubits"], 0, dtype=complex)[0])
    capsys.readouterr()
    # a newer major version of the report
    Path("newer.json").write_text(json.dumps(dict(report, format="qdsl.report/2")))
    assert main(["decode", "newer.json", "--statevector", "sv.npy"]) == 2
    err = capsys.readouterr().err
    assert "error[E0801]" in err and "newer version" in err and "qdsl.report/1" in err
    # a counts file given as the report
    Path("c.json").write_text(json.dumps({"format": "qdsl.counts/1", "counts": [{"0": 1}]}))
    assert main(["decode", "c.json", "--statevector", "sv.npy"]) == 2
    assert "error[E0801]" in capsys.readouterr().err
    # a report given as the counts
    assert main(["decode", "g.json", "--counts", "g.json"]) == 2
    assert "error[E0801]" in capsys.readouterr().err
    # a report written before formats had versions still decodes
    old = {k: v for k, v in report.items() if k != "format"}
    Path("old.json").write_text(json.dumps(old))
    assert main(["decode", "old.json", "--statevector", "sv.npy", "--json"]) == 0
    check_format(old, ("report",))
    check_format(report, ("report", "signed-manifest"))
