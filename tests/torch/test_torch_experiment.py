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
    assert main(TINY + ["--out", str(tmp_path / "d"), "--lr", "-1"]) == 2
    err = capsys.readouterr().err
    assert "error[E0720]" in err and "--lr must be positive" in err


def test_qdsl_torch_experiment_has_the_same_options():
    """`qdsl torch-experiment` is the module's command: the same options (one definition, in the
    torch-free qdsl.torch_options), the same defaults."""
    from qdsl.cli import build_parser
    from qdsl.torch.experiment import parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["torch-experiment"]

    def options(p):
        return {o: (a.default, a.choices) for a in p._actions for o in a.option_strings}
    assert options(sub) == options(parser()) and "--lanczos-steps" in options(sub)


@pytest.mark.parametrize("argv,code", [
    (["--lr", "-1", "--out", "x"], "E0720"), (["--sparsity", "1.5", "--out", "x"], "E0720"),
    (["--batch-size", "0", "--out", "x"], "E0720"), ([], "E0720"), (["--plot", "no-such-run"], "E0722"),
    (["--data", "no-such.npz", "--out", "x", "--preset", "laptop"], "E0722")])
def test_bad_options_are_diagnostics_with_exit_2(argv, code, tmp_path, capsys, monkeypatch):
    from qdsl.cli import main as qdsl_main
    monkeypatch.chdir(tmp_path)
    assert qdsl_main(["torch-experiment", *argv]) == 2
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and "help:" in err and "Traceback" not in err
    assert main(argv) == 2                                  # python -m qdsl.torch.experiment alike
    assert f"error[{code}]" in capsys.readouterr().err


def test_qdsl_torch_experiment_refuses_the_lanczos_plan_with_exit_3(tmp_path, capsys):
    from qdsl.cli import main as qdsl_main
    out = tmp_path / "c"
    assert qdsl_main(["torch-experiment", *TINY, "--out", str(out), "--reorth", "full", "--memory-limit", "1K"]) == 3
    assert "E0710" in capsys.readouterr().err
