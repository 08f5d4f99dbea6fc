"""The language version a `.qd` file may declare (`language 1`, first; docs/language.md): every
example reads the same with or without it, another version is E0800 at the number, and the line
anywhere else is a syntax error that says where it goes."""
from __future__ import annotations

from pathlib import Path

import pytest

from qdsl.diagnostics import CompileError
from qdsl.formats import LANGUAGE_VERSION, LANGUAGE_VERSIONS
from qdsl.syntax.parser import parse_text

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.qd"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_reads_the_same_with_language_1(path):
    text = path.read_text()
    plain = parse_text(text, path.name)
    declared = parse_text(f"language {LANGUAGE_VERSION}\n" + text, path.name)
    assert plain.language is None and declared.language == LANGUAGE_VERSION == 1
    assert [m.name for m in plain.models] == [m.name for m in declared.models]
    # the same statements (spans differ by the added line)
    assert [type(s).__name__ for m in plain.models for s in m.body] == \
        [type(s).__name__ for m in declared.models for s in m.body]


MODEL = "model m {\n    param x = 1\n    loss = x^2\n    evolve gd(lr = 0.1, steps = 2)\n}\n"


@pytest.mark.parametrize("version", ["2", "0", "1.0", "10", "1e0"])
def test_unsupported_version_is_E0800_at_the_number(version):
    text = f"# a comment first is fine\nlanguage {version}\n" + MODEL
    with pytest.raises(CompileError) as e:
        parse_text(text, "v.qd")
    (d,) = e.value.diagnostics
    assert d.code == "E0800" and f"`{version}`" in d.message
    assert text[d.span.start:d.span.end] == version and d.span.line == 2
    assert f"language {LANGUAGE_VERSIONS[-1]}" in d.help


@pytest.mark.parametrize("text", [MODEL + "language 1\n", "language 1\nlanguage 1\n" + MODEL])
def test_language_line_only_first(text):
    with pytest.raises(CompileError) as e:
        parse_text(text, "v.qd")
    (d,) = e.value.diagnostics
    assert d.code == "E0100" and "first statement" in d.message
    assert text[d.span.start:d.span.end] == "language"


def test_language_is_still_a_name_inside_a_model():
    m = parse_text("model language {\n    param language = 1\n    loss = language^2\n"
                   "    evolve gd(lr = 0.1, steps = 2)\n}\n")
    assert m.models[0].name == "language" and m.language is None
