"""Editor support: the Pygments lexer (registered by entry point, used by the docs) and the VS Code
TextMate grammar agree with the grammar's keywords and highlight every example without an error
token."""
from __future__ import annotations

import json
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Error, Keyword, Name, Number, Comment  # noqa: E402

from qdsl.lexer import BUILTINS, KEYWORDS, QdslLexer  # noqa: E402

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.qd")) + [ROOT / "examples/errors/typo.qd"]
VSCODE = ROOT / "editors/vscode"


def grammar_keywords() -> set[str]:
    """The keyword terminals of grammar/qdsl.lark (`NAME.2: /word\\b/`)."""
    text = (ROOT / "grammar/qdsl.lark").read_text()
    return set(re.findall(r"^[A-Z]+\.2: /(\w+)\\b/", text, re.M))


def test_lexer_is_registered_by_entry_point():
    eps = [ep for ep in entry_points(group="pygments.lexers") if ep.name == "qdsl"]
    assert eps and eps[0].value == "qdsl.lexer:QdslLexer" and eps[0].load() is QdslLexer
    assert isinstance(get_lexer_by_name("qd"), QdslLexer)
    assert isinstance(get_lexer_for_filename("model.qd"), QdslLexer)


def test_keywords_match_the_grammar():
    assert set(KEYWORDS) == grammar_keywords()
    from qdsl.semantics.poly import SMOOTH_FUNCTIONS
    assert set(BUILTINS) == set(SMOOTH_FUNCTIONS) | {"sum", "mean", "load"}
    tm = json.loads((VSCODE / "syntaxes/qd.tmLanguage.json").read_text())
    kw = re.search(r"\((.*)\)", tm["repository"]["keyword"]["match"]).group(1).split("|")
    assert set(kw) == grammar_keywords()
    bi = re.search(r"\((.*)\)", tm["repository"]["builtin"]["match"]).group(1).split("|")
    assert set(bi) == set(BUILTINS)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_lexes_without_error_tokens(path):
    text = path.read_text()
    toks = list(QdslLexer().get_tokens(text))
    assert "".join(v for _, v in toks) == (text if text.endswith("\n") else text + "\n")
    assert not [v for t, v in toks if t in Error], path
    kinds = {t for t, _ in toks}
    assert any(t in Keyword for t in kinds) and any(t in Number for t in kinds)
    words = {v: t for t, v in toks}
    assert words.get("model") in Keyword and words.get("evolve") in Keyword
    for t, v in toks:  # every parameter name and comment has its class
        if v.startswith("#"):
            assert t in Comment


def test_lexer_classes():
    toks = [(t, v) for t, v in QdslLexer().get_tokens(
        "language 1\nmodel m {\n  param w[2] = load(\"w.npy\")\n  loss = sum(i in 0..2: w[i]^2)  # c\n"
        "  evolve gd(lr = 1e-2, steps = 3)\n  solver qsvt(eps = 1e-3)\n}\n") if v.strip()]
    d = dict((v, t) for t, v in toks)
    assert d["language"] in Keyword and d["model"] in Keyword and d["m"] in Name.Class
    assert d["w"] in Name and d["sum"] in Name.Builtin and d["load"] in Name.Builtin
    assert d["gd"] in Name.Function and d["qsvt"] in Name.Function and d["1e-2"] in Number
    assert d["# c"] in Comment and d['"w.npy"'] in pygments.token.String


def test_vscode_extension_is_complete():
    pkg = json.loads((VSCODE / "package.json").read_text())
    (lang,) = pkg["contributes"]["languages"]
    (gram,) = pkg["contributes"]["grammars"]
    assert lang["extensions"] == [".qd"] and gram["language"] == lang["id"]
    assert (VSCODE / lang["configuration"]).is_file() and (VSCODE / gram["path"]).is_file()
    json.loads((VSCODE / lang["configuration"]).read_text())
    tm = json.loads((VSCODE / gram["path"]).read_text())
    assert tm["scopeName"] == gram["scopeName"] == "source.qd"
    includes = [p["include"].lstrip("#") for p in tm["patterns"]]
    assert set(includes) == set(tm["repository"])

    def regexes(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("match", "begin", "end"):
                    yield v
                else:
                    yield from regexes(v)
        elif isinstance(node, list):
            for v in node:
                yield from regexes(v)
    # the grammar's regexes (Oniguruma) use only syntax Python's re reads the same way: check them
    for rx in regexes(tm):
        re.compile(rx)
    # and they tokenize a line as the lexer does: keywords, builtins, numbers
    line = "    loss = sum(i in 0..2: w[i]^2) * 1e-3"
    kw = re.compile(tm["repository"]["keyword"]["match"])
    assert [m.group(0) for m in kw.finditer(line)] == ["loss", "in"]
    num = re.compile(tm["repository"]["number"]["match"])
    assert [m.group(0) for m in num.finditer(line)] == ["0", "2", "2", "1e-3"]


def test_help_imports_no_editor_tooling():
    """`qdsl --help` (and `qdsl lsp --help`) stay instant: no pygls, lsprotocol, Pygments."""
    import subprocess
    import sys
    code = ("import sys; from qdsl.cli import main\n"
            "for argv in (['--help'], ['lsp', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('pygls', 'lsprotocol', 'pygments', 'jsonschema', 'qiskit', 'numpy', 'lark')"
            " if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "lsp" in out, out
