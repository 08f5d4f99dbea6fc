"""Rendered syntax diagnostics, compared with tests/golden/syntax/NAME.err (--update-golden rewrites)."""
from __future__ import annotations

from pathlib import Path

import pytest

from qdsl.diagnostics import CompileError
from qdsl.source import SourceFile
from qdsl.syntax.parser import EXPLANATIONS, parse

GOLDEN = Path(__file__).parents[1] / "golden" / "syntax"
CASES = sorted(GOLDEN.glob("*.qd"))


def render(path: Path) -> str:
    source = SourceFile(path.name, path.read_bytes().decode("utf-8", errors="replace"))
    with pytest.raises(CompileError) as err:
        parse(source)
    return err.value.render() + "\n"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_diagnostic(path, golden):
    golden.check(path.with_suffix(".err"), render(path))


def test_golden_cases_cover_every_code():
    codes = set()
    for path in CASES:
        err = path.with_suffix(".err")
        if err.exists():
            codes.add(err.read_text().split("]")[0].removeprefix("error["))
    assert codes == set(EXPLANATIONS), codes
    assert len(CASES) >= 12
