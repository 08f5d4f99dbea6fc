"""Notebook use: HTML/Markdown tables that are the CLI's, figures returned, tqdm.auto in a kernel,
and the example notebook (examples/notebooks/quartic_tour.ipynb) executed by nbclient."""
from __future__ import annotations

import html
import importlib.util
import sys
import types
from pathlib import Path

import pytest

import qdsl

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "examples" / "notebooks"


@pytest.fixture(scope="module")
def gd():
    return qdsl.compile(str(ROOT / "examples" / "gd_cubic.qd"), steps=2)


def _results(c):
    return {"certificate": c.certificate, "simulate": c.simulate(), "run": c.run(),
            "resources": qdsl.resources(c)}


def test_repr_html_and_markdown_show_the_cli_tables(gd):
    for what, res in _results(gd).items():
        h, m, text = res._repr_html_(), res._repr_markdown_(), res.render()
        if what == "resources":
            # the table rows are the CLI's rows, each label and value in a cell
            for k, v in res.rows():
                assert f"<th style=\"text-align:left\">{html.escape(k.strip())}</th>" in h
                assert html.escape(str(v)) in h and f"| {k.strip()} | {str(v).replace('|', chr(92) + '|')} |" in m
            assert html.escape(text.splitlines()[-1 - len(res.notes)]) in h   # the physical summary
        else:
            assert html.escape(text) in h, what           # the CLI's text, verbatim
            assert text in m, what
        assert h.startswith('<div class="qdsl-report">') and h.rstrip().endswith("</div>")
    # the compilation: what has been computed, nothing more
    fresh = qdsl.compile(str(ROOT / "examples" / "gd_cubic.qd"))
    assert "not built yet" in fresh._repr_html_() and "program" not in fresh.__dict__
    h = gd._repr_html_()
    assert "QSVT degree" in h and "zero_flip ×" in h


def test_html_escapes_user_text():
    from qdsl.display import html_report, markdown_report

    h = html_report("<model>", "a < b & ```", [("k<", "v|x")])
    assert "<model>" not in h and "&lt;model&gt;" in h and "a &lt; b &amp;" in h
    m = markdown_report("t", "x ``` y", [("k", "v|x")])
    assert "````text" in m and "v\\|x" in m


def test_plot_returns_the_figure(gd, tmp_path):
    from matplotlib.figure import Figure

    sim, run = gd.simulate(), gd.run()
    for res in (sim, run):
        fig = res.plot()
        assert isinstance(fig, Figure) and fig.axes
        out = tmp_path / f"{type(res).__name__}.png"
        assert isinstance(res.plot(out), Figure)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_uses_tqdm_auto_in_a_kernel(monkeypatch):
    from qdsl import progress as prog

    monkeypatch.delenv("QDSL_PROGRESS", raising=False)
    monkeypatch.setattr(prog, "_quiet", False)   # an earlier in-process `qdsl … -q` leaves it set
    assert not prog.in_kernel()
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert prog.in_kernel() and prog.enabled()
    import tqdm.auto

    bar = prog.progress(total=3, desc="x")
    try:
        assert isinstance(bar, tqdm.auto.tqdm)
    finally:
        bar.close()
    monkeypatch.setenv("QDSL_PROGRESS", "0")
    assert not prog.enabled()
    prog.set_quiet(True)
    try:
        monkeypatch.delenv("QDSL_PROGRESS")
        assert not prog.enabled()
    finally:
        prog.set_quiet(False)


@pytest.mark.skipif(importlib.util.find_spec("nbclient") is None or importlib.util.find_spec("ipykernel") is None,
                    reason="needs nbclient and ipykernel (the test extra)")
def test_example_notebook_runs_and_shows_tables_and_figures():
    import nbformat

    sys.path.insert(0, str(NB_DIR))
    try:
        import make_quartic_tour as maker
    finally:
        sys.path.remove(str(NB_DIR))
    committed = nbformat.read(NB_DIR / "quartic_tour.ipynb", as_version=4)
    fresh = maker.build()
    # the committed notebook is the script's, executed
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells]
    assert all(c.outputs for c in committed.cells if c.cell_type == "code")
    nb = maker.execute(fresh, timeout=900)
    htmls, pngs = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            data = out.get("data", {})
            if "text/html" in data:
                htmls.append(data["text/html"])
            pngs += "image/png" in data
    text = "\n".join(htmls)
    assert "qdsl check: certificate of quartic" in text
    assert "qdsl simulate: quartic" in text
    assert "qdsl run: quartic (verified)" in text
    assert "qdsl resources: fault-tolerant resources of quartic" in text and "<table" in text
    assert pngs >= 2
