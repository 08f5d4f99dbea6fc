"""The user documentation (docs/*.md) and the README's transcripts are executed, so they cannot
drift from the code.

What runs, page by page, in a fresh temporary working directory per page (with `examples/` linked
into it, so commands read the repository's examples and write their outputs beside them):

* **Command blocks** — a fenced block whose first line starts with ``$ qdsl``. Each ``$ qdsl …``
  line is run as ``python -m qdsl …`` (stdout and stderr together, in the order printed, 80
  columns), and the lines that follow it, up to the next ``$`` line, are its expected output. A
  last line ``[exit status N]`` states a non-zero exit status (absent: 0). A line ``...`` stands for
  any number of lines (abridged output). Any other line starting with ``$ `` in a fenced block is
  an error: every command the docs show is run.
* **File blocks** — info string ``qd file=NAME`` (any language, ``file=NAME``): the block's text is
  written to NAME in the working directory before the blocks after it run.
* **Python blocks** — info string ``python runnable``: executed in order, in one namespace per page,
  in the working directory. A block with info string ``text output`` right after one is compared with
  what it printed.
* **Abridged JSON** — info string ``json subset-of=FILE``: every key shown must be in FILE (written
  by an earlier command) with a matching value; a list whose last element is ``"…"`` matches any
  list that starts with the elements shown.
* A block preceded by the line ``<!-- slow -->`` runs only under ``pytest -m slow`` (it must not
  depend on files written by the page's other blocks).

**Normalization of outputs** (written once here, applied to every comparison): trailing
whitespace and trailing blank lines are ignored; numbers are compared as numbers and the text
between them exactly. An integer (no decimal point, no exponent; ``1,026,162`` is one integer)
must match exactly (when both are integers: a rounding-noise value is printed as ``0`` on one
machine and ``5.6e-17`` on another, and the rule below then applies). A decimal number matches when it is within a relative 1e-6 of the one
shown: the figures qdsl prints are computed to about 1e-12 relative whatever BLAS kernel numpy
picks (dense eigen/SVD factorizations, statevector simulation of ~10^5 gates), so a difference
above 1e-6 is a changed result, not rounding noise. Two numbers both below 1e-9 in magnitude are
rounding noise (e.g. an error of 1.5e-15 against an exact solution) and match each other.

Also here: ``docs/diagnostics.md`` is what ``docs/generate_diagnostics.py`` writes now, every
relative link in the docs and the README points at a file of the repository, and nothing refers to
a path outside it.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
#: the pages whose blocks run: the docs and the README (its `$ qdsl …` transcripts)
RUN_PAGES = PAGES + [ROOT / "README.md"]

# ----------------------------------------------------------------------------- parsing the pages

FENCE = re.compile(r"^```(.*)$")


@dataclass
class Block:
    page: Path
    line: int          # 1-based line of the opening fence
    info: str          # the fence's info string
    text: str
    slow: bool

    @property
    def kind(self) -> str:
        words = self.info.split()
        if self.text.lstrip().startswith("$ qdsl"):
            return "command"
        if any(w.startswith("file=") for w in words):
            return "file"
        if words[:2] == ["python", "runnable"]:
            return "python"
        if words[:2] == ["text", "output"]:
            return "output"
        if words[:1] == ["json"] and any(w.startswith("subset-of=") for w in words):
            return "json-subset"
        return "other"

    def option(self, key: str) -> str:
        return next(w.split("=", 1)[1] for w in self.info.split() if w.startswith(key + "="))

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    out, lines = [], page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, info = i, m.group(1).strip()
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        slow = start > 0 and lines[start - 1].strip() == "<!-- slow -->"
        out.append(Block(page, start + 1, info, "\n".join(lines[start + 1:j]), slow))
        i = j + 1
    return out


# ----------------------------------------------------------------------------- comparing outputs

NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w])"
                    r"|(?<=[A-Za-z_])\d+")
NOISE = 1e-9
RELATIVE = 1e-6


def _split(line: str):
    nums = [m.group(0) for m in NUMBER.finditer(line)]
    return NUMBER.sub("#", line), nums


def number_matches(shown: str, got: str) -> bool:
    """The module docstring's rule for one number."""
    integral = [not re.search(r"[.eE]", x) for x in (shown, got)]
    if all(integral):
        return shown == got
    try:
        a, b = float(shown.replace(",", "")), float(got.replace(",", ""))
    except ValueError:
        return False
    if abs(a) < NOISE and abs(b) < NOISE:
        return True
    if any(integral):
        return False
    return abs(a - b) <= RELATIVE * max(abs(a), abs(b))


def line_matches(shown: str, got: str) -> bool:
    shown, got = shown.rstrip(), got.rstrip()
    if shown == got:
        return True
    (ts, ns), (tg, ng) = _split(shown), _split(got)
    return ts == tg and len(ns) == len(ng) and all(map(number_matches, ns, ng))


def output_matches(shown: list[str], got: list[str]) -> bool:
    """Line by line; a shown line '...' matches any run of lines (zero or more)."""
    shown = _trim(shown)
    got = _trim(got)

    @lru_cache(maxsize=None)
    def match(i: int, j: int) -> bool:
        if i == len(shown):
            return j == len(got)
        if shown[i].strip() == "...":
            return any(match(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and line_matches(shown[i], got[j]) and match(i + 1, j + 1)

    return match(0, 0)


def _trim(lines: list[str]) -> list[str]:
    lines = [ln.rstrip() for ln in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def json_subset(shown, got, path="$") -> list[str]:
    """Where the abridged JSON `shown` does not match `got` (empty: it matches)."""
    if isinstance(shown, dict):
        if not isinstance(got, dict):
            return [f"{path}: not an object"]
        errs = []
        for k, v in shown.items():
            errs += [f"{path}.{k}: missing"] if k not in got else json_subset(v, got[k], f"{path}.{k}")
        return errs
    if isinstance(shown, list):
        if not isinstance(got, list):
            return [f"{path}: not a list"]
        prefix = bool(shown) and shown[-1] == "…"
        items = shown[:-1] if prefix else shown
        if len(got) < len(items) or (not prefix and len(got) != len(items)):
            return [f"{path}: {len(got)} items, the docs show {len(items)}{'+' if prefix else ''}"]
        errs = []
        for k, v in enumerate(items):
            errs += json_subset(v, got[k], f"{path}[{k}]")
        return errs
    if isinstance(shown, bool) or shown is None or isinstance(shown, str):
        return [] if shown == got else [f"{path}: {got!r}, the docs show {shown!r}"]
    if isinstance(shown, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool):
        ok = number_matches(json.dumps(shown), json.dumps(got)) if isinstance(shown, float) \
            else shown == got
        return [] if ok else [f"{path}: {got!r}, the docs show {shown!r}"]
    return [f"{path}: {got!r}, the docs show {shown!r}"]


# ----------------------------------------------------------------------------- running a page

@dataclass
class Command:
    line: str
    expected: list[str]
    status: int


def commands(block: Block) -> list[Command]:
    out: list[Command] = []
    for ln in block.text.splitlines():
        if ln.startswith("$ "):
            out.append(Command(ln[2:].strip(), [], 0))
        elif out:
            out[-1].expected.append(ln)
    for c in out:
        exp = _trim(c.expected)
        m = re.fullmatch(r"\[exit status (\d+)\]", exp[-1].strip()) if exp else None
        if m:
            c.status, c.expected = int(m.group(1)), exp[:-1]
    return out


def run_command(cmd: Command, cwd: Path) -> tuple[int, str]:
    argv = shlex.split(cmd.line)
    assert argv[0] == "qdsl", f"only qdsl commands are run: {cmd.line}"
    env = {k: v for k, v in os.environ.items() if k != "QDSL_DEBUG"}
    # QDSL_PROGRESS=0: no bars and no `run` prediction line, whose length depends on this machine
    env.update(PYTHONUNBUFFERED="1", COLUMNS="80", PYTHONIOENCODING="utf-8", QDSL_PROGRESS="0")
    r = subprocess.run([sys.executable, "-m", "qdsl", *argv[1:]], cwd=cwd, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    return r.returncode, r.stdout


def workdir(tmp_path: Path) -> Path:
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return tmp_path


def run_page(page: Path, cwd: Path, slow: bool) -> list[str]:
    """Run the page's blocks in order (only the slow ones when `slow`); return the failures."""
    failures: list[str] = []
    namespace: dict = {"__name__": "__docs__"}
    printed = None
    for b in blocks(page):
        kind = b.kind
        if kind == "file":
            (cwd / b.option("file")).write_text(b.text + "\n", encoding="utf-8")
            continue
        if kind == "output":
            if printed is not None and not output_matches(b.text.splitlines(), printed.splitlines()):
                failures.append(f"{b.where()}: the Python block above printed\n{printed}")
            printed = None
            continue
        printed = None
        if b.slow != slow:
            continue
        if kind == "command":
            for c in commands(b):
                status, out = run_command(c, cwd)
                if status != c.status or not output_matches(c.expected, out.splitlines()):
                    failures.append(f"{b.where()}: `{c.line}` exited {status} (docs: {c.status}) and "
                                    f"printed\n{out}")
        elif kind == "python":
            buf = io.StringIO()
            old = Path.cwd()
            try:
                os.chdir(cwd)
                with contextlib.redirect_stdout(buf):
                    exec(compile(b.text, b.where(), "exec"), namespace)
            except Exception as exc:  # report every failing block of the page, not only the first
                failures.append(f"{b.where()}: {type(exc).__name__}: {exc}")
            finally:
                os.chdir(old)
            printed = buf.getvalue()
        elif kind == "json-subset":
            got = json.loads((cwd / b.option("subset-of")).read_text())
            errs = json_subset(json.loads(b.text), got)
            if errs:
                failures.append(f"{b.where()}: " + "; ".join(errs[:10]))
    return failures


def _has_slow(page: Path) -> bool:
    return any(b.slow for b in blocks(page))


@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: p.name)
def test_page(page, tmp_path):
    failures = run_page(page, workdir(tmp_path), slow=False)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in RUN_PAGES if _has_slow(p)], ids=lambda p: p.name)
def test_page_slow_blocks(page, tmp_path):
    failures = run_page(page, workdir(tmp_path), slow=True)
    assert not failures, "\n\n".join(failures)


# ----------------------------------------------------------------------------- page hygiene

def test_every_shown_command_is_run():
    """A `$ ` line anywhere but in a qdsl command block would be a command nobody checks."""
    for page in RUN_PAGES:
        for b in blocks(page):
            if b.kind != "command":
                assert not any(ln.startswith("$ ") for ln in b.text.splitlines()), b.where()
            else:
                assert all(shlex.split(c.line)[0] == "qdsl" for c in commands(b)), b.where()


def test_pages_have_runnable_content():
    """The pages this test is for exist and each shows something that runs."""
    names = {p.name for p in PAGES}
    for name in ("index.md", "language.md", "maths.md", "formats.md", "cli.md", "api.md",
                 "diagnostics.md", "resources.md", "performance.md", "torch.md"):
        assert name in names, name
    for name in ("language.md", "formats.md", "cli.md", "api.md", "resources.md"):
        assert any(b.kind in ("command", "python") for b in blocks(DOCS / name)), name


LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page: lower case, punctuation dropped, spaces to
    hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.startswith("#"):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        k = seen.get(slug, 0)
        seen[slug] = k + 1
        out.add(slug if k == 0 else f"{slug}-{k}")
    return out


@pytest.mark.parametrize("page", PAGES + [ROOT / "README.md"], ids=lambda p: p.name)
def test_links_stay_in_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text and "SPEC.md" not in text and "/work/" not in text
    for target, anchor in LINK.findall(text):
        if re.match(r"[a-z]+:", target):     # http(s):, mailto:
            continue
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: broken link {target}"
        assert ROOT in path.parents or path == ROOT, f"{page.name}: {target} leaves the repository"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page.name}: no heading #{anchor} in {target or page.name}"


def test_cli_page_documents_every_option():
    """docs/cli.md names every option of every command, in that command's section (or among the
    shared options; `run` takes `compile`'s options too)."""
    import argparse

    from qdsl.cli import build_parser

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = body
    shared = sections["Options every command shares"]
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        allowed = sections[f"`qdsl {name}`"] + shared
        if name == "run":
            allowed += sections["`qdsl compile`"]
        for action in parser._actions:
            if action.option_strings and "--help" not in action.option_strings:
                assert any(f"`{o}" in allowed for o in action.option_strings), (name, action.option_strings)


def _generator():
    spec = importlib.util.spec_from_file_location("generate_diagnostics", DOCS / "generate_diagnostics.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_diagnostics_page_is_current():
    text = _generator().render()
    assert (DOCS / "diagnostics.md").read_text(encoding="utf-8") == text, \
        "docs/diagnostics.md is out of date: run python docs/generate_diagnostics.py"


def test_diagnostics_page_lists_every_code():
    from qdsl.explain import all_codes
    text = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    for code in all_codes():
        assert f"\n### {code}\n" in text, code


# ----------------------------------------------------------------------------- the normalization itself

@pytest.mark.parametrize("shown, got, ok", [
    ("0.053369", "0.053369", True), ("0.053369", "0.053370", False), ("1.81e-04", "1.81e-04", True),
    ("1.81e-04", "1.82e-04", False), ("1.53e-15", "2.2e-16", True), ("5.55e-17", "0", True), ("0", "5.6e-17", True),
    ("16", "17", False), ("16", "16.0", False), ("0", "1e-3", False), ("1,026,162", "1,026,162", True),
    ("1,026,162", "1,026,163", False), ("0.7", "0.7000000001", True), ("0.7", "0.7001", False),
])
def test_number_rule(shown, got, ok):
    assert line_matches(f"x = {shown} y", f"x = {got} y") is ok


def test_text_between_numbers_is_exact_and_ellipsis_spans_lines():
    assert not line_matches("E0203 unknown", "E0204 unknown")
    assert not line_matches("qubits 16", "qubit 16")
    assert output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert output_matches(["a", "...", "b"], ["a", "b"])
    assert not output_matches(["a", "d"], ["a", "b", "d"])


def test_json_subset_rule():
    got = {"a": [1, 2, 3], "b": {"c": 0.5, "d": "x"}, "e": 7}
    assert not json_subset({"a": [1, 2, "…"], "b": {"c": 0.5}}, got)
    assert json_subset({"a": [1, 2]}, got)
    assert json_subset({"b": {"c": 0.6}}, got)
    assert json_subset({"f": 1}, got)
