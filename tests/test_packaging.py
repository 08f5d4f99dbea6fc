"""SPEC §1: the wheel ships the grammar inside the package and exposes the backends as
`qdsl.backends` (not a bare top-level `backends` module). The distribution is `qdsl-compiler` (the
name `qdsl` on the package index is another project), with the import name and command `qdsl`, as
the README says; Qiskit Aer is an extra, not a default dependency (so it never replaces a GPU build)."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_ships_grammar_and_backends(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("qdsl_compiler-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "qdsl/grammar/qdsl.lark" in names
    assert "qdsl/backends/qasm3.py" in names and "qdsl/backends/qiskit_sim.py" in names
    assert not any(n.startswith(("backends/", "grammar/")) for n in names), names
    entry = [n for n in names if n.endswith("entry_points.txt")]
    entry_text = zipfile.ZipFile(wheel).read(entry[0]).decode()
    assert entry and "qdsl = qdsl.cli:main" in entry_text
    assert "[pygments.lexers]\nqdsl = qdsl.lexer:QdslLexer" in entry_text
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "\nName: qdsl-compiler\n" in meta
    requires = re.findall(r"^Requires-Dist: (.*)$", meta, re.M)
    assert not any(r.startswith("qiskit-aer") and "extra ==" not in r for r in requires), requires
    assert any(r.startswith("qiskit-aer>") and 'extra == "aer"' in r for r in requires), requires
    assert any(r.startswith("qiskit-aer-gpu") and 'extra == "gpu"' in r for r in requires), requires

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


def test_distribution_name_is_the_documented_one():
    """pyproject.toml's name is the one README and docs tell users to install, and it is not the
    index's other `qdsl`; the import name and the command stay `qdsl`."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = meta["name"]
    assert name == "qdsl-compiler"
    readme = (ROOT / "README.md").read_text()
    assert f"pip install {name}" in readme and f"pip install '{name}[aer]'" in readme
    assert f"`{name}`" in (ROOT / "docs/index.md").read_text()
    assert meta["scripts"] == {"qdsl": "qdsl.cli:main"}
    assert not any(d.startswith("qiskit-aer") for d in meta["dependencies"])
    assert meta["optional-dependencies"]["aer"] == ["qiskit-aer>=0.17"]
    # no other document tells users to install the wrong project
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        assert not re.search(r"pip install '?qdsl(\[|'|\s|$)", text), page
