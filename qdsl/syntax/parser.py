"""The .qd parser: text → `ast.Module`, or a `CompileError` with one E01xx diagnostic.

The grammar lives in `grammar/qdsl.lark` (package data `qdsl.grammar`). Lark's LALR parser calls
the `_Builder` callbacks at every reduction, so the AST is built bottom-up while parsing — no
recursion over the tree, which lets the depth guard (E0107) stop pathological inputs before any
recursive consumer sees them. Syntax errors stop at the first one; `_classify` turns Lark's
exceptions into diagnostics a person can act on.
"""
from __future__ import annotations

import contextvars
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..diagnostics import CompileError, Diagnostic, did_you_mean
from ..source import SourceFile, Span
from . import ast

__all__ = ["parse", "parse_text", "EXPLANATIONS", "MAX_DEPTH", "STATEMENT_KEYWORDS"]

#: Deepest expression / array tree accepted (E0107); deeper input would exhaust Python's stack in
#: the recursive stages after parsing.
MAX_DEPTH = 200

STATEMENT_KEYWORDS = ("param", "const", "data", "loss", "rate", "evolve", "expand", "carleman", "solver")
REDUCTIONS = ("sum", "mean")
BASES = ("kronecker", "symmetric")

_MINIMAL_MODEL = "model m { param x = 0.5  loss = x^2  evolve gd(lr = 0.1, steps = 10) }"
_STATEMENT_LIST = ", ".join(f"`{k}`" for k in STATEMENT_KEYWORDS)

_NUMBER_RE = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_NUMBERISH_RE = re.compile(r"[0-9]*(\.[0-9]*)*([eE][+-]?[0-9.]*)?\Z")


# ----------------------------------------------------------------------------- the Lark instance

@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark.open_from_package(
        "qdsl.grammar", "qdsl.lark", parser="lalr", lexer="contextual",
        propagate_positions=False, keep_all_tokens=True, maybe_placeholders=True,
        transformer=_Builder(),
    )


# ----------------------------------------------------------------------------- AST building

@dataclass
class _Context:
    source: SourceFile
    depth: dict[int, int] = field(default_factory=dict)
    #: flat sums: id(last node of a left-deep `a ± b ± …` chain) → [[(op, term), …], deepest term]
    chains: dict = field(default_factory=dict)
    #: id(chain node) → (chain node, its balanced tree), built once when the chain is used
    balanced: dict = field(default_factory=dict)


#: a flat sum with more terms than this is rebuilt as a balanced tree of depth ⌈log2 k⌉ (so sums of
#: any length stay far from every recursion limit); shorter ones keep the parser's left-deep shape
BALANCE_TERMS = 32


_CTX: contextvars.ContextVar[_Context] = contextvars.ContextVar("qdsl_parse_context")


@dataclass(frozen=True)
class _Paren:
    """A parenthesized expression: the node, and a span that includes the parentheses."""
    node: object
    span: Span


@dataclass(frozen=True)
class _Seq:
    """An intermediate list (shape, argument list, expression list) with its span."""
    items: tuple
    span: Span


def _unwrap(x):
    node = x.node if isinstance(x, _Paren) else x
    ctx = _CTX.get(None)
    if ctx is not None and id(node) in ctx.chains and len(ctx.chains[id(node)][0]) > BALANCE_TERMS:
        hit = ctx.balanced.get(id(node))
        if hit is None:
            hit = ctx.balanced[id(node)] = (node, _balance(ctx.chains[id(node)][0]))
            # the balanced tree's depth is the one the chain was given (deepest term + ⌈log2 k⌉),
            # so nesting long sums inside other expressions still counts towards E0107
            ctx.depth[id(hit[1])] = ctx.depth.get(id(node), 0)
        return hit[1]
    return node


def _balance(terms):
    r"""The balanced tree of t_1 ± t_2 ± … ± t_k (the first sign is +): split in halves and join
    them with the right half's first sign, the right half's signs taken relative to it —
    a − b − c + d = (a − b) − (c − d). Depth ⌈log2 k⌉ instead of k."""
    if len(terms) == 1:
        return terms[0][1]
    mid = len(terms) // 2
    left, right = terms[:mid], terms[mid:]
    op = right[0][0]
    if op == "-":
        right = [("+" if o == "-" else "-", t) for o, t in right]
    right = [("+", right[0][1])] + right[1:]
    a, b = _balance(left), _balance(right)
    return ast.BinOp(op, a, b, span=Span(_CTX.get().source, a.span.start, b.span.end))


def _start(x) -> int:
    return x.start_pos if isinstance(x, Token) else x.span.start


def _end(x) -> int:
    return x.end_pos if isinstance(x, Token) else x.span.end


def _span_of(children) -> Span:
    present = [c for c in children if c is not None]
    return Span(_CTX.get().source, _start(present[0]), _end(present[-1]))


def _tok_span(tok: Token) -> Span:
    return Span(_CTX.get().source, tok.start_pos, tok.end_pos)


def _fail(code: str, message: str, span: Span | None, help: str | None = None,
          notes: tuple[str, ...] = ()) -> CompileError:
    return CompileError(Diagnostic(code, message, span, help, tuple(notes)))


def _values(children) -> list:
    """The non-token children (AST nodes and intermediates), parentheses unwrapped."""
    return [_unwrap(c) for c in children if c is not None and not isinstance(c, Token)]


def _tokens(children, type_: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == type_]


def _whole_number(tok: Token, what: str) -> int:
    text = str(tok)
    if not re.fullmatch(r"[0-9]+", text):
        raise _fail("E0108", f"{what} must be a whole number, found '{text}'", _tok_span(tok),
                    help=f"write {what} as an integer literal such as `{_suggest_int(text)}`")
    return int(text)


def _with_hint(hint: str | None, text: str) -> str:
    """'did you mean `x`? The ...' — a did-you-mean (if any) before a general explanation."""
    return f"{hint} {text[0].upper()}{text[1:]}" if hint else text


def _suggest_int(text: str) -> str:
    try:
        return str(max(0, round(float(text))))
    except (ValueError, OverflowError):
        return "2"


@dataclass(frozen=True)
class _Language:
    """The parsed `language N` declaration (becomes `Module.language`)."""
    version: int


class _Builder(Transformer):
    """Lark callbacks, one per grammar rule (or alias), building `qdsl.syntax.ast` nodes."""

    # -- bookkeeping for the depth guard
    @staticmethod
    def _node(node, children):
        ctx = _CTX.get()
        depth = 1 + max((ctx.depth.get(id(_unwrap(c)), 0) for c in children if c is not None
                         and not isinstance(c, Token)), default=0)
        if depth > MAX_DEPTH:
            raise _fail("E0107", f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                        node.span,
                        help="split it into named `const`s, or use `sum(i in a..b: ...)` for long sums",
                        notes=("deeply nested expressions would exhaust the compiler's stack",))
        ctx.depth[id(node)] = depth
        return node

    # -- file and model
    def start(self, children):
        language = children[0] if children and isinstance(children[0], _Language) else None
        models = tuple(c for c in children if not isinstance(c, _Language))
        src = _CTX.get().source
        if not models:
            raise _fail("E0101", "no model in file", Span(src, 0, 0),
                        help=f"a .qd file holds one or more models, e.g. `{_MINIMAL_MODEL}`")
        return ast.Module(models, span=Span(src, 0, len(src.text)),
                          language=language.version if language else None)

    def language_decl(self, children):
        from ..formats import LANGUAGE_VERSIONS
        _, num = children
        text = str(num)
        known = ", ".join(str(v) for v in LANGUAGE_VERSIONS)
        if not re.fullmatch(r"[0-9]+", text) or int(text) not in LANGUAGE_VERSIONS:
            raise _fail("E0800", f"unsupported language version `{text}`: this qdsl reads version {known}",
                        _tok_span(num), help=f"write `language {LANGUAGE_VERSIONS[-1]}` (or no `language` line), "
                                             "or use the qdsl release that reads this version")
        return _Language(int(text))

    def model(self, children):
        _, name, _, *body, _ = children
        return ast.ModelDecl(str(name), tuple(_unwrap(s) for s in body), span=_span_of(children),
                             name_span=_tok_span(name))

    # -- statements
    def param_stmt(self, children):
        name = children[1]
        shape = next((c for c in children if isinstance(c, _Seq)), None)
        init = children[-1] if _tokens(children, "EQUAL") else None
        return ast.Param(str(name), shape.items if shape else None, _unwrap(init),
                         span=_span_of(children), name_span=_tok_span(name))

    def data_stmt(self, children):
        name = children[1]
        shape = next((c for c in children if isinstance(c, _Seq)), None)
        return ast.Data(str(name), shape.items if shape else None, _unwrap(children[-1]),
                        span=_span_of(children), name_span=_tok_span(name))

    def shape(self, children):
        dims = tuple(_whole_number(t, "an array size") for t in _tokens(children, "NUMBER"))
        return _Seq(dims, _span_of(children))

    def const_stmt(self, children):
        _, name, _, value = children
        return ast.Const(str(name), _unwrap(value), span=_span_of(children), name_span=_tok_span(name))

    def sym_const_stmt(self, children):
        _, name, _, open_, lo, _, hi, close = children
        return ast.SymConst(str(name), _unwrap(lo), _unwrap(hi), open_.type == "LSQB",
                            close.type == "RSQB", span=_span_of(children), name_span=_tok_span(name))

    def loss_stmt(self, children):
        return ast.Loss(_unwrap(children[-1]), span=_span_of(children))

    def rate_stmt(self, children):
        _, target, _, expr = children
        return ast.Rate(_unwrap(target), _unwrap(expr), span=_span_of(children))

    def evolve_stmt(self, children):
        kind = children[1]
        return ast.Evolve(str(kind), self._args(children), span=_span_of(children),
                          kind_span=_tok_span(kind))

    def solver_stmt(self, children):
        kind = children[1]
        return ast.Solver(str(kind), self._args(children), span=_span_of(children),
                          kind_span=_tok_span(kind))

    @staticmethod
    def _args(children) -> tuple:
        seq = next((c for c in children if isinstance(c, _Seq)), None)
        return seq.items if seq else ()

    def arg_list(self, children):
        return _Seq(tuple(c for c in children if isinstance(c, ast.Arg)), _span_of(children))

    def arg(self, children):
        name, _, value = children
        return ast.Arg(str(name), _unwrap(value), span=_span_of(children))

    def expand_stmt(self, children):
        order = _whole_number(children[2], "the expansion order")
        about = None
        if len(children) > 3:
            point = _unwrap(children[4])
            if isinstance(point, Token):
                if str(point) != "init":
                    raise _fail("E0108", f"unknown expansion point '{point}'", _tok_span(point),
                                help="write `about init` (the initial parameters) or a point "
                                     "`about [0.1, -0.2]`")
                about = "init"
            else:
                about = point
        return ast.Expand(order, about, span=_span_of(children))

    def carleman_stmt(self, children):
        order = _whole_number(children[2], "the Carleman order")
        basis = None
        if len(children) > 3:
            word = children[4]
            if str(word) not in BASES:
                hint = did_you_mean(str(word), BASES)
                raise _fail("E0108", f"unknown Carleman basis '{word}'", _tok_span(word),
                            help=_with_hint(hint, "the bases are `kronecker` (the default) and `symmetric`"))
            basis = str(word)
        return ast.Carleman(order, basis, span=_span_of(children))

    # -- initial values
    def array(self, children):
        items = next((c for c in children if isinstance(c, _Seq)), None)
        node = ast.ArrayLit(items.items if items else (), span=_span_of(children))
        return self._node(node, items.items if items else ())

    def array_items(self, children):
        return _Seq(tuple(_values(children)), _span_of(children))

    def load(self, children):
        head = children[0]
        if str(head) != "load":
            raise _fail("E0108", f"'{head}(\"...\")' is not a way to give a value", _tok_span(head),
                        help='read an array from a file with `load("file.npy")` or '
                             '`load("file.npz", "key")`')
        strings = [str(s)[1:-1] for s in _tokens(children, "STRING")]
        return ast.Load(strings[0], strings[1] if len(strings) > 1 else None, span=_span_of(children))

    # -- expressions
    def number(self, children):
        (tok,) = children
        value = float(tok)
        if not math.isfinite(value):
            raise _fail("E0104", f"number '{tok}' is too large", _tok_span(tok),
                        help="numbers must be finite double-precision values (below about 1.8e308)")
        return self._node(ast.Number(value, span=_tok_span(tok)), ())

    def name(self, children):
        (tok,) = children
        return self._node(ast.Name(str(tok), span=_tok_span(tok)), ())

    def index(self, children):
        base, _, indices, _ = children
        name = ast.Name(str(base), span=_tok_span(base))
        return self._node(ast.Index(name, indices.items, span=_span_of(children)), indices.items)

    def call(self, children):
        func, _, args, _ = children
        items = args.items if args is not None else ()
        return self._node(ast.Call(str(func), items, span=_span_of(children), func_span=_tok_span(func)),
                          items)

    def reduce(self, children):
        kind, _, var, _, lo, _, hi, _, body, _ = children
        if str(kind) not in REDUCTIONS:
            hint = did_you_mean(str(kind), REDUCTIONS)
            raise _fail("E0108", f"'{kind}' cannot range over '{var} in ..'", _tok_span(kind),
                        help=_with_hint(hint, "only `sum(i in a..b: ...)` and `mean(i in a..b: ...)` take a range"))
        parts = (lo, hi, body)
        node = ast.Reduce(str(kind), str(var), _unwrap(lo), _unwrap(hi), _unwrap(body),
                          span=_span_of(children), var_span=_tok_span(var))
        return self._node(node, parts)

    def expr_list(self, children):
        return _Seq(tuple(_values(children)), _span_of(children))

    def binop(self, children):
        left, op, right = children
        sym = "^" if op.type == "POW" else str(op)
        if sym in "+-":
            return self._sum(left, sym, right, children)
        return self._node(ast.BinOp(sym, _unwrap(left), _unwrap(right), span=_span_of(children)),
                          (left, right))

    def _sum(self, left, sym, right, children):
        """`a ± b`: extend the flat sum `left` (unparenthesized) or start one. Its depth is what the
        balanced tree will have (`_balance`), so a long flat sum is never "nested too deeply"."""
        ctx = _CTX.get()
        r = _unwrap(right)
        if not isinstance(left, _Paren) and id(left) in ctx.chains:
            terms, deepest = ctx.chains.pop(id(left))
            base = left
        else:
            base = _unwrap(left)
            terms, deepest = [("+", base)], ctx.depth.get(id(base), 0)
        terms.append((sym, r))
        deepest = max(deepest, ctx.depth.get(id(r), 0))
        node = ast.BinOp(sym, base, r, span=_span_of(children))
        ctx.chains[id(node)] = [terms, deepest]
        if len(terms) <= BALANCE_TERMS:   # kept left-deep: its real depth
            depth = 1 + max(ctx.depth.get(id(base), 0), ctx.depth.get(id(r), 0))
        else:
            depth = deepest + math.ceil(math.log2(len(terms)))
        if depth > MAX_DEPTH:
            return self._node(node, (left, right))   # the guard's diagnostic
        ctx.depth[id(node)] = depth
        return node

    def unop(self, children):
        op, operand = children
        return self._node(ast.Unary(str(op), _unwrap(operand), span=_span_of(children)), (operand,))

    def paren(self, children):
        _, inner, _ = children
        return _Paren(_unwrap(inner), _span_of(children))


# ----------------------------------------------------------------------------- entry points

def parse(source: SourceFile) -> ast.Module:
    """Parse a whole `.qd` file. Raises `CompileError` (one E01xx diagnostic) on a syntax error."""
    token = _CTX.set(_Context(source))
    try:
        return _lark().parse(source.text)
    except CompileError:
        raise
    except UnexpectedInput as e:
        raise CompileError(_classify(e, source)) from None
    except (LarkError, RecursionError) as e:  # never let a Lark-internal failure escape
        raise _fail("E0100", "the parser could not read this file", Span(source, 0, 0),
                    notes=(f"internal: {type(e).__name__}: {e}",)) from None
    finally:
        _CTX.reset(token)


def parse_text(text: str, name: str = "<string>") -> ast.Module:
    """Parse `.qd` source text given as a string (`name` is shown in diagnostics)."""
    return parse(SourceFile(name, text))


# ----------------------------------------------------------------------------- error classification

_PUNCT = {
    "LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]",
    "COMMA": ",", "EQUAL": "=", "COLON": ":", "DOTDOT": "..", "PLUS": "+", "MINUS": "-",
    "STAR": "*", "SLASH": "/", "POW": "^",
}
_KEYWORDS = {"MODEL", "LANGUAGE", "PARAM", "CONST", "DATA", "LOSS", "RATE", "EVOLVE", "EXPAND", "CARLEMAN",
             "SOLVER", "ORDER", "ABOUT", "BASIS", "IN"}
_STATEMENT_TERMS = {k.upper() for k in STATEMENT_KEYWORDS}
_EXPR_START = {"NAME", "NUMBER", "LPAR", "MINUS", "PLUS"}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "POW"}
_OPENERS = {"{": "}", "(": ")", "[": "]"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}

# Characters people paste from papers and word processors, and what to type instead.
_LOOKALIKES = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
    "\u00f7": "/", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " ",
    "\u2026": "..", "\u2264": "<=", "\u2265": ">=",
}


def _describe(tok: Token) -> str:
    """A token in words, for 'found ...'."""
    if tok.type == "$END":
        return "end of file"
    if tok.type == "NAME":
        return f"'{tok}'"
    if tok.type == "NUMBER":
        return f"number '{tok}'"
    if tok.type == "STRING":
        return f"string {tok}"
    if tok.type in _KEYWORDS:
        return f"keyword '{tok}'"
    return f"'{tok}'"


def _expected_words(expected: set[str]) -> str:
    exp = set(expected)
    words: list[str] = []
    if _EXPR_START <= exp:
        words.append("an expression")
        exp -= _EXPR_START
    if _STATEMENT_TERMS <= exp:
        words.append("a statement")
        exp -= _STATEMENT_TERMS
    if {"PLUS", "MINUS", "STAR", "SLASH", "POW"} <= exp:
        words.append("an operator")
        exp -= _OPERATORS
    names = {"NAME": "a name", "NUMBER": "a number", "STRING": 'a string "..."',
             "$END": "end of file", "MODEL": "`model`"}
    for t in sorted(exp, key=lambda t: (t not in names, t)):
        if t in names:
            words.append(names[t])
        elif t in _PUNCT:
            words.append(f"`{_PUNCT[t]}`")
        elif t in _KEYWORDS:
            words.append(f"`{t.lower()}`")
        else:  # pragma: no cover - every terminal is named above
            words.append(t)
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _scan_brackets(text: str, upto: int):
    """Unclosed openers [(char, pos)] before `upto`, skipping comments and strings; also the first
    closer that does not match (char, pos, opener) or None."""
    stack: list[tuple[str, int]] = []
    i = 0
    n = min(upto, len(text))
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c == '"':
            j = text.find('"', i + 1)
            k = text.find("\n", i + 1)
            if j < 0 or (0 <= k < j):
                i = n if k < 0 else k + 1
            else:
                i = j + 1
            continue
        if c in _OPENERS:
            stack.append((c, i))
        elif c in _CLOSERS:
            if stack and stack[-1][0] == _CLOSERS[c]:
                stack.pop()
            else:
                return stack, (c, i)
        i += 1
    return stack, None


def _malformed_number(text: str, pos: int) -> tuple[int, int] | None:
    """If the error at `pos` sits in a malformed numeric literal (`1.2.3`, `1e`, `1.`, `.5`),
    its [start, end); else None."""
    n = len(text)

    def word_char(c: str) -> bool:
        return c.isascii() and (c.isalnum() or c in "._")

    start = pos
    while start > 0 and (word_char(text[start - 1])
                         or (text[start - 1] in "+-" and start >= 2 and text[start - 2] in "eE"
                             and start >= 3 and text[start - 3] in "0123456789.")):
        start -= 1
    end = start
    while end < n and (word_char(text[end])
                       or (text[end] in "+-" and end > start and text[end - 1] in "eE"
                           and re.fullmatch(r"[0-9.]+[eE]", text[start:end]) is not None)):
        end += 1
    if not (start <= pos < end or (pos == end and pos > start)):
        return None
    word = text[start:end]
    if ".." in word:  # a range `0..3`: only the part holding the error matters
        offset = 0
        for part in word.split(".."):
            if start + offset <= pos <= start + offset + len(part):
                start, word = start + offset, part
                break
            offset += len(part) + 2
        end = start + len(word)
    if not word or not (word[0].isdigit() or (word[0] == "." and word[1:2].isdigit())):
        return None
    if _NUMBER_RE.match(word) or not _NUMBERISH_RE.match(word):
        return None
    return start, end


def _number_diagnostic(source: SourceFile, start: int, end: int) -> Diagnostic:
    word = source.text[start:end]
    if word.startswith("."):
        fix = "0" + word
    elif word.endswith("."):
        fix = word + "0"
    elif re.search(r"[eE][+-]?\Z", word):
        fix = re.sub(r"[eE][+-]?\Z", "", word) + "e3"
    else:
        fix = None
    help = "numbers look like `1`, `0.5`, `1e-3` or `2.5E+4` (digits on both sides of a dot)"
    if fix and _NUMBER_RE.match(fix):
        help = f"did you mean `{fix}`? " + help
    return Diagnostic("E0104", f"malformed number '{word}'", Span(source, start, end), help)


def _context_keyword(state) -> Token | None:
    """The statement keyword (or `model`) of the innermost construct on the parser's stack."""
    stack = getattr(state, "value_stack", None) or []
    for v in reversed(stack):
        if isinstance(v, Token) and (v.type in _STATEMENT_TERMS or v.type == "MODEL"):
            return v
        if not isinstance(v, Token) and not isinstance(v, (_Paren, _Seq, ast.Arg)) \
                and type(v).__name__ in ("Param", "Const", "SymConst", "Data", "Loss", "Rate",
                                         "Evolve", "Expand", "Carleman", "Solver"):
            return None  # a finished statement: we are between statements
    return None


def _last_token(state) -> Token | None:
    stack = getattr(state, "value_stack", None) or []
    return stack[-1] if stack and isinstance(stack[-1], Token) else None


def _prev_end(state) -> int | None:
    stack = getattr(state, "value_stack", None) or []
    if not stack:
        return None
    v = stack[-1]
    try:
        return _end(v)
    except AttributeError:
        return None


_FALLBACK_MESSAGE = "syntax error"


def _classify(e: UnexpectedInput, source: SourceFile) -> Diagnostic:
    """A friendly diagnostic for a Lark error; a plain one should the classification itself fail."""
    try:
        return _classify_friendly(e, source)
    except Exception:  # never trade a user's syntax error for a traceback
        pos = max(0, min(getattr(e, "pos_in_stream", None) or 0, len(source.text)))
        return Diagnostic("E0100", _FALLBACK_MESSAGE, Span(source, pos, pos))


def _classify_friendly(e: UnexpectedInput, source: SourceFile) -> Diagnostic:
    text = source.text
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream
        bad = _malformed_number(text, pos)
        if bad:
            return _number_diagnostic(source, *bad)
        return _bad_character(source, pos, e)
    if isinstance(e, UnexpectedToken):
        return _unexpected_token(source, e)
    return Diagnostic("E0100", "unexpected input", Span(source, 0, 0))  # pragma: no cover


def _bad_character(source: SourceFile, pos: int, e) -> Diagnostic:
    text = source.text
    c = text[pos]
    span = Span(source, pos, pos + 1)
    code = f"U+{ord(c):04X}"
    uname = unicodedata.name(c, "")
    if c == '"':
        line_end = text.find("\n", pos)
        return Diagnostic("E0103", "unterminated string",
                          Span(source, pos, len(text) if line_end < 0 else line_end),
                          help='close the string with `"` on the same line, e.g. `load("w0.npy")`')
    if c == "\ufffd":
        return Diagnostic("E0103", "invalid UTF-8 in source", span,
                          help=".qd files are UTF-8 text; this byte sequence could not be decoded "
                               "(is this a binary file?)")
    if c in _LOOKALIKES:
        return Diagnostic("E0103", f"unexpected character '{c}' ({code} {uname})", span,
                          help=f"type the ASCII `{_LOOKALIKES[c]}` instead")
    if not c.isascii() and (c.isalpha() or ("a" + c).isidentifier()):
        word_end = pos
        while word_end < len(text) and ("a" + text[word_end]).isidentifier():
            word_end += 1
        word_start = pos
        while word_start > 0 and ("a" + text[word_start - 1]).isidentifier():
            word_start -= 1
        word = text[word_start:word_end]
        ascii_hint = _ascii_name(word)
        return Diagnostic("E0103", f"non-ASCII identifier '{word}'", Span(source, word_start, word_end),
                          help="names use ASCII letters, digits and `_`"
                               + (f"; write e.g. `{ascii_hint}`" if ascii_hint else ""),
                          notes=(f"'{c}' is {code} {uname}",) if uname else ())
    if not c.isprintable() or c in "\x00":
        shown = {"\x00": "NUL", "\t": "tab", "\x0b": "vertical tab"}.get(c, uname or "control character")
        return Diagnostic("E0103", f"unexpected control character {code} ({shown})", span,
                          help="remove it; .qd files are plain text (is this a binary file?)")
    if c == ".":
        return Diagnostic("E0103", "unexpected character '.'", span,
                          help="ranges are written `a..b`, numbers `0.5`; names cannot contain `.`")
    if c == "'":
        return Diagnostic("E0103", "unexpected character \"'\"", span,
                          help='strings use double quotes: `load("w0.npy")`')
    if c in "<>!=&|;%$@?~`\\" or c.isascii():
        helps = {";": "statements need no `;` — put each on its own line",
                 "%": "there is no `%` operator", "!": "there is no `!` operator"}
        return Diagnostic("E0103", f"unexpected character '{c}'", span,
                          help=helps.get(c, "this character has no meaning in a .qd file; "
                                            "operators are `+ - * / ^`"))
    return Diagnostic("E0103", f"unexpected character '{c}' ({code}{' ' + uname if uname else ''})",
                      span, help="this character has no meaning in a .qd file")


def _ascii_name(word: str) -> str | None:
    """`θ0` → `theta0`: spell Greek and accented letters in ASCII where Unicode names allow."""
    out = []
    for ch in word:
        if ch.isascii():
            out.append(ch)
            continue
        name = unicodedata.name(ch, "")
        m = re.match(r"GREEK (SMALL|CAPITAL) LETTER (\w+)$", name)
        if m:
            letter = m.group(2).lower()
            letter = {"lamda": "lam", "lambda": "lam"}.get(letter, letter)
            out.append(letter if m.group(1) == "SMALL" else letter.capitalize())
            continue
        base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        if not base:
            return None
        out.append(base)
    result = "".join(out)
    return result if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", result) else None


def _unexpected_token(source: SourceFile, e: UnexpectedToken) -> Diagnostic:
    text = source.text
    tok: Token = e.token
    try:  # the exact set (LALR's merged lookaheads in e.expected over-approximate it)
        expected = set(e.accepts or e.expected or ())
    except Exception:  # pragma: no cover - defensive: fall back to Lark's approximation
        expected = set(e.expected or ())
    state = e.state
    at_end = tok.type == "$END"
    pos = len(text) if at_end else tok.start_pos
    tok_span = Span(source, pos, pos if at_end else tok.end_pos)

    if tok.type == "LANGUAGE":  # `language N` anywhere but first (docs/language.md)
        return Diagnostic("E0100", "`language N` must be the first statement of the file", tok_span,
                          help="move `language 1` to the top, before the first `model`")

    # malformed numbers: `1e` lexes as 1 then e
    if not at_end:
        bad = _malformed_number(text, pos)
        if bad:
            return _number_diagnostic(source, *bad)

    # unclosed or mismatched brackets
    stack, mismatch = _scan_brackets(text, pos + (0 if at_end else len(str(tok))))
    if at_end and stack:
        opener, where = stack[-1]
        return Diagnostic("E0105", f"unclosed '{opener}'", Span(source, where, where + 1),
                          help=f"add the matching `{_OPENERS[opener]}`",
                          notes=("the file ends before it is closed",))
    if mismatch is not None and not at_end and tok.type in ("RBRACE", "RPAR", "RSQB"):
        closer, cpos = mismatch
        if stack:
            opener, where = stack[-1]
            line, col = source.line_col(cpos)
            return Diagnostic("E0105", f"unclosed '{opener}'", Span(source, where, where + 1),
                              help=f"add the matching `{_OPENERS[opener]}` before the `{closer}` "
                                   f"at {line}:{col}")
        return Diagnostic("E0100", f"unmatched '{closer}'", Span(source, cpos, cpos + 1),
                          help=f"there is no `{_CLOSERS[closer]}` open here; remove it")

    found = _describe(tok)
    words = _expected_words(expected)
    ctx = _context_keyword(state)
    last = _last_token(state)

    # a statement keyword read as a name because an operand was expected (`loss =` + newline + `evolve ...`)
    stack = getattr(state, "value_stack", None) or []
    if (last is not None and last.type == "NAME" and str(last) in STATEMENT_KEYWORDS + ("model",)
            and len(stack) >= 2 and isinstance(stack[-2], Token)
            and stack[-2].type in {"EQUAL", "LPAR", "COMMA", "LSQB"} | _OPERATORS):
        before = stack[-2]
        return Diagnostic("E0106", f"expected an expression after `{before}`, found keyword '{last}'",
                          Span(source, last.start_pos, last.end_pos),
                          help="give a value here, e.g. a number `0.5`, a name or `x^2 + 1`")

    # top level: only `model` may start here
    if expected <= {"MODEL", "$END", "LANGUAGE"}:
        if not re.search(r"\bmodel\b", text[:pos]) and not _any_model_before(state):
            return Diagnostic("E0101", f"expected a model, found {found}", tok_span,
                              help=f"statements go inside `model NAME {{ ... }}`, e.g. `{_MINIMAL_MODEL}`")
        return Diagnostic("E0100", f"expected `model` or end of file, found {found}", tok_span,
                          help="statements go inside a model's `{ ... }`; this is after the "
                               "model's closing `}`")

    # the start of a statement inside a model (possibly right after a finished one)
    if _STATEMENT_TERMS <= expected and tok.type == "NAME":
        same_line = _prev_end(state) is not None and "\n" not in text[_prev_end(state):pos]
        after_value = bool(expected & _OPERATORS) or "LPAR" in expected or "LSQB" in expected
        if after_value and same_line:
            prev = text[_start_of_prev(state, pos):_prev_end(state)] if _prev_end(state) else ""
            return Diagnostic("E0100", f"expected an operator or a new statement, found {found}",
                              tok_span,
                              help=(f"write `{prev}*{tok}` to multiply" if prev and expected & _OPERATORS
                                    else f"statements start with a keyword: {_STATEMENT_LIST}"))
        hint = did_you_mean(str(tok), STATEMENT_KEYWORDS + ("model",))
        rest = text[tok.end_pos:].lstrip(" \t")
        if hint is None and (rest.startswith("=") or rest.startswith("[")):
            hint = f"to declare `{tok}`, write `param {tok} = ...`, `const {tok} = ...` or `data {tok} = ...`."
        return Diagnostic("E0102", f"unknown statement '{tok}'", tok_span,
                          help=_with_hint(hint, f"statements start with {_STATEMENT_LIST}"))

    # `name = value` arguments of evolve / solver
    if ctx is not None and ctx.type in ("EVOLVE", "SOLVER") and last is not None \
            and last.type in ("LPAR", "COMMA") and expected <= {"NAME", "RPAR"} | {"COMMA"}:
        return Diagnostic("E0108", f"arguments of `{ctx}` are written `name = value`, found {found}",
                          tok_span, help=f"e.g. `{ctx} {_example_call(str(ctx))}`")
    if ctx is not None and ctx.type in ("EVOLVE", "SOLVER") and expected == {"EQUAL"}:
        return Diagnostic("E0106", f"expected `=` after the argument name, found {found}", tok_span,
                          help=f"arguments of `{ctx}` are written `name = value`, e.g. "
                               f"`{ctx} {_example_call(str(ctx))}`")

    # a missing `=`
    if "EQUAL" in expected and not (expected & _EXPR_START) and tok.type not in ("LSQB",):
        what = f"`{ctx}`" if ctx is not None else "the name"
        if ctx is not None and ctx.type == "CONST":
            help = "write `const c = 0.5`, or `const c in (0, 1)` for a symbolic constant"
        elif ctx is not None and ctx.type == "PARAM":
            help = "write `param x = 0.3` (or `param w[4]` for zeros)"
        else:
            help = f"write `{_example_statement(ctx)}`"
        return Diagnostic("E0106", f"expected `=` after {what}, found {found}", tok_span, help=help)

    # a missing expression
    if _EXPR_START <= expected:
        if at_end or tok.type in _STATEMENT_TERMS or tok.type in ("RBRACE", "RPAR", "RSQB", "COMMA",
                                                                    "MODEL"):
            after = f"`{last}`" if last is not None else "this point"
            return Diagnostic("E0106", f"expected an expression after {after}, found {found}", tok_span,
                              help="give a value here, e.g. a number `0.5`, a name or `x^2 + 1`")
        if tok.type == "LSQB" and ctx is not None and ctx.type in ("CONST", "LOSS", "RATE"):
            return Diagnostic("E0100", "expected an expression, found '['", tok_span,
                              help="arrays are given with `data NAME[n] = [...]` or "
                                   "`param NAME[n] = [...]`")
        if tok.type == "STRING":
            return Diagnostic("E0100", f"expected an expression, found {found}", tok_span,
                              help='strings only appear in `load("file")`, as a `param` or `data` value')

    if at_end:
        return Diagnostic("E0100", f"unexpected end of file; expected {words}", tok_span)
    help = None
    if tok.type in _STATEMENT_TERMS and ctx is not None:
        help = f"the `{ctx}` statement before it looks incomplete"
    elif expected <= {"NAME", "LSQB"} and ctx is not None and ctx.type == "EXPAND":
        help = "write `about init` (the initial parameters) or a point `about [0.1, -0.2]`"
    elif expected == {"NAME"} and last is not None and last.type in _NAME_HELP:
        help = _NAME_HELP[last.type]
    elif "COLON" in expected and ctx is not None:
        help = "a range is followed by `:`, e.g. `sum(i in 0..n: x[i])`"
    elif "COMMA" in expected and tok.type in ("NAME", "NUMBER", "LPAR", "LSQB"):
        help = "is a `,` missing before it?"
    elif tok.type == "NAME" and last is not None and last.type == "NUMBER" and expected & _OPERATORS:
        help = f"write `{last}*{tok}` to multiply"
    elif tok.type == "EQUAL" and "EQUAL" not in expected:
        help = "`=` only follows the name in a declaration, or an argument name in `name = value`"
    elif tok.type == "NUMBER" and ctx is not None and ctx.type in ("EXPAND", "CARLEMAN"):
        help = f"write `{ctx} order {tok}`"
    return Diagnostic("E0100", f"expected {words}, found {found}", tok_span, help=help)


_NAME_HELP = {
    "MODEL": "name the model: `model m { ... }`",
    "PARAM": "name the parameter: `param x = 0.3`",
    "CONST": "name the constant: `const c = 0.5`",
    "DATA": "name the array: `data X[2] = [1.0, 2.0]`",
    "RATE": "name the parameter whose rate this is: `rate x = -x`",
    "EVOLVE": "name the dynamics: `evolve gd(...)`, `evolve sgd(...)` or `evolve flow(...)`",
    "SOLVER": "name the solver: `solver qsvt(eps = 1e-3)`, `solver hhl(clock = 7)` or `solver classical`",
    "BASIS": "the bases are `kronecker` (the default) and `symmetric`",
}


def _start_of_prev(state, pos: int) -> int:
    stack = getattr(state, "value_stack", None) or []
    try:
        return _start(stack[-1])
    except (AttributeError, IndexError):
        return pos


def _any_model_before(state) -> bool:
    stack = getattr(state, "value_stack", None) or []
    return any(isinstance(v, ast.ModelDecl) for v in stack)


def _example_call(kind: str) -> str:
    return {"evolve": "gd(lr = 0.1, steps = 10)", "solver": "qsvt(eps = 1e-3)"}.get(kind, "(name = 1)")


def _example_statement(ctx) -> str:
    kind = str(ctx) if ctx is not None else ""
    return {"loss": "loss = x^2", "rate": "rate x = -x", "data": "data X[2] = [1.0, 2.0]",
            "param": "param x = 0.3", "const": "const c = 0.5"}.get(kind, "name = value")


# ----------------------------------------------------------------------------- qdsl explain

EXPLANATIONS: dict[str, str] = {
    "E0100": """\
Unexpected token.

The parser met a word or symbol that cannot come at this point of a statement. The message says
what was found and what could have followed. Common causes: a missing operator (`2 x` instead of
`2*x`), a stray `=` or `,`, or a statement that stops half-way (`carleman 3` instead of
`carleman order 3`).

    model m {
        param x = 0.5
        loss = 2 x        # error: expected an operator, found 'x'
    }

Fix the statement to match one of the statement forms (docs/language.md):
`param`, `const`, `data`, `loss`, `rate`, `evolve`, `expand`, `carleman`, `solver`.""",
    "E0101": """\
No model in the file.

A .qd file holds one or more `model NAME { ... }` blocks, and every statement lives inside one.
This error means the file is empty (or only comments), or a statement appears outside a model.

    model quartic {
        param x = 0.3
        loss = x^2 + 0.25*x^4
        evolve gd(lr = 0.1, steps = 10)
    }""",
    "E0102": """\
Unknown statement.

Inside a model every statement starts with one of the keywords
    param const data loss rate evolve expand carleman solver
A word that is none of these (often a typo such as `parm` or `evolv`) cannot start a statement.
To give a name a value, declare it: `param x = 0.3` (trainable), `const c = 0.5` (fixed) or
`data X[3] = [..]` (an array).""",
    "E0103": """\
Unexpected character.

The character has no meaning in a .qd file. Names use ASCII letters, digits and `_` (write `theta`,
not `θ`); operators are `+ - * / ^` (not `×` or the Unicode minus `−`); strings use double quotes
and end on the same line. Control characters or invalid UTF-8 usually mean the file is not text.""",
    "E0104": """\
Malformed number.

Numbers are written `1`, `0.5`, `1e-3` or `2.5E+4`: digits, optionally a dot followed by more
digits, optionally an exponent with digits. `1.`, `.5`, `1.2.3` and `1e` are not numbers (a number
may not end in a dot, so that the range `0..3` reads as 0 .. 3). Numbers must also be finite
double-precision values.""",
    "E0105": """\
Unclosed bracket.

A `{`, `(` or `[` is never closed: the file ends, or a different closing bracket comes first. The
error points at the bracket that was opened; add its partner where the construct ends.

    model m {
        param x = 0.5
        loss = (x - 1^2       # error: unclosed '('
    }""",
    "E0106": """\
Missing `=` or expression.

A declaration needs `=` between the name and its value (`param x = 0.3`, `loss = x^2`,
`evolve gd(lr = 0.1)`), and something must follow the `=`: a number, a name or an expression.""",
    "E0107": """\
Expression nested too deeply.

qdsl accepts expressions and array literals nested up to 200 levels (operators, calls, indexing
and brackets each add a level). Deeper trees are almost always generated by mistake, and they would
exhaust the stack of the stages that follow. Name intermediate results with `const`, or use
`sum(i in a..b: ...)` instead of writing out long sums.""",
    "E0108": """\
Malformed statement part.

A word in a fixed position is not one the language knows, or an argument list is not written as
`name = value`. For example: `carleman order 3 basis kronecker` (bases: kronecker, symmetric);
`expand order 2 about init` or `about [0.1, 0.2]`; orders and array sizes are whole numbers;
`sum(i in 0..n: ...)` and `mean(...)` are the only reductions; values from files are
`load("file.npy")` or `load("file.npz", "key")`; and `evolve gd(lr = 0.1, steps = 10)`.""",
}
