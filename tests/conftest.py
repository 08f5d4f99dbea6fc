"""Shared test machinery: golden files.

Golden files hold what users read (rendered diagnostics, dumps, emitted text). A test compares its
output with the stored file; `pytest --update-golden` rewrites the stored files instead, and the
diff is then reviewed like any other change. Any stage can use it:

    def test_dump(golden):
        golden.check(GOLDEN_DIR / "ridge.dump", dump(model))

or, without the fixture, `check_golden(path, text, request)`.
"""
from __future__ import annotations

import os

# One BLAS thread, as the `qdsl` command line uses: on two shared cores a threaded BLAS makes the
# many small products of the statevector simulator 10–100× slower (set before numpy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import difflib
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files (tests/golden/**) with the current output")


def check_golden(path: str | Path, text: str, request) -> None:
    """Compare `text` with the golden file at `path` (or rewrite it under --update-golden)."""
    path = Path(path)
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; run pytest --update-golden and review it")
    expected = path.read_text(encoding="utf-8")
    if expected != text:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"{path} (golden)", "actual"))
        pytest.fail(f"output differs from {path}; if the change is intended, run "
                    f"pytest --update-golden and review the diff\n{diff}")


class Golden:
    """The `golden` fixture: `golden.check(path, text)`; `golden.updating` under --update-golden."""

    def __init__(self, request):
        self._request = request
        self.updating = bool(request.config.getoption("--update-golden"))

    def check(self, path: str | Path, text: str) -> None:
        check_golden(path, text, self._request)


@pytest.fixture
def golden(request) -> Golden:
    return Golden(request)
