"""examples/torch/digits_hybrid.py runs (quick mode) and writes what it says it writes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "torch" / "digits_hybrid.py"


@pytest.mark.slow  # two interpreter starts with torch, training, three figures: ~15-30 s on two shared cores
def test_digits_example_quick(tmp_path):
    out = tmp_path / "figs"
    r = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("fig2_digits.png", "spectrum_support.png", "proxy_cuts.png"):
        assert (out / name).stat().st_size > 10_000, name
    doc = json.loads((out / "history.json").read_text())
    s, h = doc["summary"], doc["history"]
    assert len(h["accuracy"]) == 10 + 40 + 1 and len(s["downloads"]) == 2
    assert s["surviving"] < s["parameters"] and 0.5 < s["zero_mass_all_weights"] < 1
    assert s["zero_mass_surviving"] < s["zero_mass_all_weights"]   # the pruned entries' spike is gone
    assert "download at step 30" in r.stdout
    # refuses to overwrite without being asked
    again = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr
