"""`python -m qdsl.torch.experiment`: a tiny run end to end — results saved and loaded back,
resumed bit for bit after an interruption, the figure drawn, the Lanczos plan refused with exit 3."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from qdsl.torch.experiment import load_results, main  # noqa: E402

TINY = ["--preset", "laptop", "--data", "digits", "--samples", "96", "--params", "3000", "--pretrain-steps", "4",
        "--steps", "8", "--segment", "4", "--spectrum-every", "4", "--lanczos-steps", "8", "--vectors", "1",
        "--epsilon", "0.3", "--eval-samples", "96", "--checkpoint-every", "3", "--quiet"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.mark.slow   # three short runs and a figure: ~15 s on an idle core
def test_run_save_load_resume_plot(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main(TINY + ["--out", a]) == 0
    ra = load_results(a)
    assert len(ra.step) == 13 and ra.step[-1] == 12           # θ_0 … θ_12
    assert [d["step"] for d in ra.downloads] == [8, 12] and ra.uploads == [4, 8]
    assert sorted(ra.spectra) == [4, 8] and sorted(ra.proxies) == [4, 8]
    for t, s in ra.spectra.items():   # the saved quadrature gives back the saved λ_max and η·λ_max
        assert s["weights"].sum() == pytest.approx(1.0, abs=1e-12)
        assert dict(ra.eos)[t] == pytest.approx(ra.meta["lr"] * s["lambda_max"], rel=1e-12)
    for d in ra.downloads:            # the download moved the weights: accuracy re-measured
        assert d["relative_error"] == pytest.approx(0.3, rel=0.5)
    assert os.path.getsize(os.path.join(a, "figure.png")) > 10_000
    assert os.path.exists(os.path.join(a, "proxy_regimes.png")) and set(ra.meta["regimes"]) <= {"4", "8"}
    # an interrupted run resumed from its checkpoint records exactly the same numbers
    assert main(TINY + ["--out", b, "--stop-after", "6"]) == 0
    assert len(load_results(b).step) == 7
    assert main(TINY + ["--out", b]) == 2                     # refuses to overwrite without --resume
    assert main(TINY + ["--out", b, "--resume"]) == 0
    rb = load_results(b)
    assert rb.loss == ra.loss and rb.accuracy == ra.accuracy and rb.downloads == ra.downloads
    for t in ra.proxies:
        assert np.array_equal(ra.proxies[t], rb.proxies[t])
    with open(os.path.join(a, "results.json")) as f:
        assert json.load(f)["meta"]["parameters"] > 0
    assert main(["--plot", a]) == 0


def test_lanczos_plan_refused_with_exit_3(tmp_path, capsys):
    """Refused before any training: the plan of full reorthogonalization is over --memory-limit."""
    out = tmp_path / "c"
    assert main(TINY + ["--out", str(out), "--reorth", "full", "--memory-limit", "1K"]) == 3
    err = capsys.readouterr().err
    assert "E0710" in err and "Traceback" not in err
    assert not (out / "checkpoint.pt").exists()
    with pytest.raises(SystemExit) as exc:
        main(TINY + ["--out", str(tmp_path / "d"), "--lr", "-1"])
    assert exc.value.code == 2 and "--lr must be positive" in capsys.readouterr().err
