"""SPEC §1: the wheel ships the grammar inside the package and exposes the backends as
`qdsl.backends` (not a bare top-level `backends` module)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_ships_grammar_and_backends(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("qdsl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "qdsl/grammar/qdsl.lark" in names
    assert "qdsl/backends/qasm3.py" in names and "qdsl/backends/qiskit_sim.py" in names
    assert not any(n.startswith(("backends/", "grammar/")) for n in names), names
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "qdsl = qdsl.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "import qdsl, qdsl.backends.qasm3;"
            "from qdsl.syntax.parser import parse_text;"
            "m = parse_text('model m {\\n param x = 1\\n loss = x^2\\n evolve gd(lr = 0.1, steps = 2)\\n}');"
            "assert qdsl.__file__.startswith(sys.argv[1]), qdsl.__file__;"
            "import importlib.util; assert importlib.util.find_spec('backends') is None or "
            "not importlib.util.find_spec('backends').origin.startswith(sys.argv[1]);"
            "print('OK', m.models[0].name)")
    out = subprocess.run([sys.executable, "-c", code, str(unpacked)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0 and "OK m" in out.stdout, out.stderr
