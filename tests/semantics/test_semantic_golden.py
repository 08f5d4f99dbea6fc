"""Rendered semantic diagnostics (names, shapes, files, statements), compared with
tests/golden/semantics/NAME.err; `pytest --update-golden` rewrites them for review."""
from __future__ import annotations

from pathlib import Path

import pytest

from qdsl.api import Compilation, Options
from qdsl.diagnostics import CompileError
from qdsl.source import SourceFile

GOLDEN = Path(__file__).parents[1] / "golden" / "semantics"
CASES = sorted(GOLDEN.glob("*.qd"))


def render(path: Path) -> str:
    src = SourceFile(path.name, path.read_text(), GOLDEN)
    c = Compilation(src, Options())
    with pytest.raises(CompileError) as err:
        c.system
    assert err.value.exit_status == 2
    return err.value.render() + "\n"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_semantic_diagnostic(path, golden):
    golden.check(path.with_suffix(".err"), render(path))


def test_several_errors_reported_together():
    text = render(GOLDEN / "several_errors.qd")
    assert text.count("error[") >= 5, text


def test_every_semantic_code_has_an_explanation():
    from qdsl.explain import explain
    for err in GOLDEN.glob("*.err"):
        for line in err.read_text().splitlines():
            if line.startswith("error["):
                code = line[6:11]
                assert explain(code), code
