"""torch is an optional extra: `import qdsl` and `qdsl --help` do not import it."""
import subprocess
import sys

import pytest


def _modules_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_import_qdsl_does_not_import_torch():
    mods = _modules_after("import qdsl; qdsl.compile; qdsl.PolynomialSystem")
    assert "torch" not in mods


def test_cli_help_does_not_import_torch():
    code = ("import contextlib, io\nfrom qdsl.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass")
    assert "torch" not in _modules_after(code)


def test_qdsl_torch_imports_torch():
    pytest.importorskip("torch")
    assert "torch" in _modules_after("import qdsl.torch")
