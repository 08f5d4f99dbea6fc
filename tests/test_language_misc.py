"""Smaller things a stranger hits (issue 18): long flat sums, a constant loss, a BOM, numpy
warnings on stderr, W0401 printed once, the README's Clifford+T precision."""
from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import qdsl
from qdsl.cli import main
from qdsl.diagnostics import CompileError

ROOT = Path(__file__).parents[1]


def test_a_flat_sum_of_5000_terms_derives_exactly():
    """w^4 + Σ_{k<5000} ±c_k·w² with decimal c_k (exact rationals in qdsl), alternating signs:
    F_1 = −lr·2·Σ±c_k and F_3 = −lr·4, computed here with Fractions."""
    from fractions import Fraction

    coeffs = [f"0.{k % 13 + 1:03d}" for k in range(5000)]
    body = coeffs[0] + "*w^2" + "".join((" - " if k % 2 else " + ") + f"{c}*w^2"
                                        for k, c in enumerate(coeffs[1:], 1))
    c = qdsl.compile(source=f"model big {{ param w = 0.5  loss = {body} + w^4  evolve gd(lr = 0.1, steps = 2) }}")
    exact = sum((-1 if k % 2 else 1) * Fraction(x) for k, x in enumerate(coeffs))
    assert c.system.F[1].toarray()[0, 0] == float(-Fraction(1, 10) * 2 * exact)
    assert c.system.F[3].toarray()[0, 0] == pytest.approx(-0.4, rel=1e-15)


@pytest.mark.parametrize("loss", ["3", "c^2 + 1", "0*w^2", "w - w + 2", "sum(i in 0..3: c)"])
def test_a_constant_loss_is_E0230(loss):
    with pytest.raises(CompileError) as ei:
        qdsl.compile(source=f"model k {{ param w = 0.5  const c = 2  loss = {loss}  "
                            f"evolve gd(lr = 0.1, steps = 3) }}").system
    d = ei.value.diagnostics[0]
    assert d.code == "E0230" and d.span is not None


def test_a_utf8_bom_is_accepted(tmp_path, capsys):
    f = tmp_path / "bom.qd"
    f.write_bytes(b"\xef\xbb\xbf" + (ROOT / "examples" / "gd_cubic.qd").read_bytes())
    assert main(["check", str(f), "-q"]) == 0
    assert qdsl.compile(source="\ufeff" + (ROOT / "examples" / "gd_cubic.qd").read_text()).model.name == "gd_cubic"
    capsys.readouterr()


def test_no_numpy_runtime_warning_reaches_stderr(tmp_path):
    """A model whose training overflows (and whose history matrix is singular): the CLI reports
    divergence itself (W0401) and numpy's RuntimeWarnings stay off stderr, even under -W always."""
    f = tmp_path / "huge.qd"
    f.write_text("""model huge {
        param w = 3.0
        param v = -2.0
        loss = 1e150*w^4 + v^6 + exp(w*v)
        evolve gd(lr = 0.9, steps = 30)
        expand order 3 about init
        carleman order 2
    }""")
    r = subprocess.run([sys.executable, "-W", "always", "-m", "qdsl", "simulate", str(f), "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "RuntimeWarning" not in r.stderr and "W0401" in r.stderr


def test_W0401_printed_once(tmp_path, capsys):
    f = tmp_path / "drift.qd"
    f.write_text("""model drift { param w = 0.9  loss = 0.5*w^2 - 0.6*w^3
        evolve gd(lr = 0.5, steps = 12)  carleman order 2 }""")
    assert main(["simulate", str(f), "-q"]) == 0
    cap = capsys.readouterr()
    msgs = re.findall(r"warning\[W0401\]: (.*)", cap.out + cap.err)
    assert msgs and len(msgs) == len(set(msgs)) and "W0401" not in cap.out


def test_readme_states_the_emitted_clifford_t_precision():
    from qdsl.backends.qasm3 import emit_with_info
    precision = inspect.signature(emit_with_info).parameters["precision"].default
    readme = (ROOT / "README.md").read_text()
    stated = {float(m) for m in re.findall(r"gridsynth to (?:operator-norm )?precision ([0-9.e-]+)", readme)}
    assert stated == {precision}, stated
    assert "ε/rotations each" not in readme
