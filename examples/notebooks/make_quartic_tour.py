"""Writes and executes examples/notebooks/quartic_tour.ipynb (the quartic model end to end).

    python examples/notebooks/make_quartic_tour.py

The notebook is committed with its outputs so that it reads without running; tests/test_notebook.py
executes it again (nbclient) and checks the HTML tables and the figure."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

CELLS = [
    ("md", "# The quartic model, end to end\n\n"
           "`examples/quartic.qd`: gradient descent on a two-parameter quartic loss (its gradient is "
           "cubic), Carleman order 3, solved by QSVT. Each result below is the table `qdsl` prints on "
           "the command line, shown as HTML."),
    ("code", "import qdsl\n\nc = qdsl.compile(\"../quartic.qd\")\nprint(open(\"../quartic.qd\").read())"),
    ("md", "## The certificate (`qdsl check`)"),
    ("code", "c.certificate"),
    ("md", "## Carleman truncation against true training (`qdsl simulate`)"),
    ("code", "sim = c.simulate()\nsim"),
    ("code", "sim.plot()   # returns the matplotlib Figure"),
    ("md", "## The circuit, block by block\n\nThe QSVT skeleton: one wire per register, one box per "
           "named block; `c.to_qiskit()` is the full circuit with the same blocks as gates."),
    ("code", "print(c.draw())"),
    ("code", "c   # what has been computed so far"),
    ("md", "## Simulate the emitted circuit, decode θ_t, verify (`qdsl run`)"),
    ("code", "r = c.run()\nr"),
    ("code", "r.plot()"),
    ("md", "## Fault-tolerant resources (`qdsl resources`)"),
    ("code", "qdsl.resources(c)"),
    ("md", "## The same program in other tools\n\n`c.to_pennylane()`, `c.to_qualtran()` and "
           "`c.to_qir()` keep these blocks (see docs/api.md)."),
    ("code", "sorted(dict(c.to_qiskit().count_ops()).items())"),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, text in CELLS:
        nb.cells.append(nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text))
    return nb


def execute(nb, timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, working directory examples/notebooks/."""
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


if __name__ == "__main__":
    out = HERE / "quartic_tour.ipynb"
    nbformat.write(execute(build()), out)
    print(f"wrote {out}")
