"""Qiskit Aer is an optional extra (`qdsl-compiler[aer]` / `[gpu]`): without it, `--backend aer`
is diagnostic E0802 with the install line, never a traceback, and the default backend needs no Aer."""
from __future__ import annotations

import sys
from pathlib import Path


from qdsl.cli import main

EX = Path(__file__).parents[2] / "examples"


def test_backend_aer_without_aer_is_E0802_and_statevector_needs_no_aer(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "qiskit_aer", None)  # `import qiskit_aer` raises ImportError
    f = str(EX / "gd_cubic.qd")
    assert main(["run", f, "--backend", "aer", "-q"]) == 2
    err = capsys.readouterr().err
    assert "error[E0802]" in err and "pip install 'qdsl-compiler[aer]'" in err and "Traceback" not in err
    assert main(["run", f, "-q"]) == 0
    assert "verified" in capsys.readouterr().out
    from qdsl.explain import explain
    assert "qiskit-aer-gpu" in explain("E0802")


def test_lsp_without_pygls_is_E0803(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pygls", None)
    assert main(["lsp"]) == 2
    assert "error[E0803]" in capsys.readouterr().err
