"""A Pygments lexer for `.qd` files, registered under the `pygments.lexers` entry point as `qdsl`
(aliases `qd`, `qdsl`), so that ```` ```qd ```` blocks in the docs, `pygmentize -l qd` and any
Pygments-based renderer highlight the language.

The token classes follow the grammar (grammar/qdsl.lark): keywords are the words that start a
statement or a clause (`model param const data loss rate evolve expand carleman solver order about
basis in language`), the built-in functions and reductions are `Name.Builtin`, the names after
`evolve`/`solver`/`basis`/`about` are `Name.Function`-like choices (`gd`, `qsvt`, …), and `load`
with its file name reads as a call with a string. Only Pygments is imported (no parser, no SymPy):
the lexer is a table of regular expressions, kept in step with the grammar by tests/test_editors.py.
"""
from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

#: statement and clause keywords (the grammar's keyword terminals)
KEYWORDS = ("model", "param", "const", "data", "loss", "rate", "evolve", "expand", "carleman",
            "solver", "order", "about", "basis", "in", "language")
#: the functions and reductions of the expression language (docs/language.md)
BUILTINS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sinh", "cosh", "sigmoid", "softplus",
            "sum", "mean", "load")
#: the choices named after `evolve`, `solver`, `basis` and `about`
CHOICES = ("gd", "sgd", "flow", "qsvt", "hhl", "classical", "kronecker", "symmetric", "init")


class QdslLexer(RegexLexer):
    """Pygments lexer for qdsl's `.qd` language."""

    name = "qdsl"
    aliases = ["qd", "qdsl"]
    filenames = ["*.qd"]
    mimetypes = ["text/x-qdsl"]

    tokens = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"(model)(\s+)([A-Za-z_][A-Za-z0-9_]*)", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(param|const|data)(\s+)([A-Za-z_][A-Za-z0-9_]*)",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(BUILTINS, suffix=r"\b"), Name.Builtin),
            (words(CHOICES, suffix=r"\b"), Name.Function),
            (r'"[^"\n]*"', String.Double),
            (r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", Number),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"\.\.|\*\*|[-+*/^=:]", Operator),
            (r"[{}()\[\],]", Punctuation),
            (r".", Text),
        ],
    }
