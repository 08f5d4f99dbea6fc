"""Every `$ qdsl …` transcript in README.md and docs/*.md is run and compared with its real output.

A transcript is a fenced block whose lines start with `$ ` (commands, run by bash in order, in a
scratch folder where `examples/` is the repository's) followed by the output they print. Rules:

* the output is compared with stdout, or with stderr when the command prints nothing on stdout
  (diagnostics); a command shown without output only has to succeed (exit 0 or 1);
* a line `...` stands for any number of lines, `…` inside a line for any text;
* measured durations (`0.27 s`, `[12 ms]`) are not compared; trailing spaces are ignored.

Blocks that sample shots (`--shots`) are marked slow (CI runs them with `pytest -m slow`).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s)\b")


def transcripts():
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    out = []
    for f in files:
        if not f.exists():
            continue
        text = f.read_text()
        for m in FENCE.finditer(text):
            body = m.group(1)
            if not body.lstrip().startswith("$ qdsl"):
                continue
            line = text[: m.start()].count("\n") + 1
            out.append((f"{f.name}:{line}", body))
    return out


def steps(body: str):
    """[(command, expected output lines)] of one block."""
    result = []
    for line in body.splitlines():
        if line.startswith("$ "):
            result.append((line[2:], []))
        elif result:
            result[-1][1].append(line)
    return result


def _norm(line: str) -> str:
    return DURATION.sub("<time>", line.rstrip())


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line match with `...` lines and `…` wildcards."""
    exp = [_norm(x) for x in expected]
    act = [_norm(x) for x in actual]
    while exp and not exp[-1]:
        exp.pop()
    while act and not act[-1]:
        act.pop()
    pats = [None if e == "..." else re.compile("".join(".*" if c == "…" else re.escape(c) for c in e) + r"\Z")
            for e in exp]

    def go(i, j):
        if i == len(pats):
            return j == len(act)
        if pats[i] is None:
            return any(go(i + 1, k) for k in range(j, len(act) + 1))
        return j < len(act) and bool(pats[i].match(act[j])) and go(i + 1, j + 1)

    return go(0, 0)


CASES = transcripts()


def _marks(body):
    return [pytest.mark.slow] if re.search(r"^\$ qdsl run\b.*--shots", body, re.M) else []


@pytest.mark.parametrize("where,body", [pytest.param(w, b, id=w, marks=_marks(b)) for w, b in CASES])
def test_transcript(where, body, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               COLUMNS="100", QDSL_PROGRESS="0")
    for command, expected in steps(body):
        r = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
        assert "Traceback" not in r.stderr, r.stderr
        if not any(x.strip() for x in expected):
            assert r.returncode in (0, 1), f"{where}: `{command}` exited {r.returncode}\n{r.stderr}"
            continue
        actual = (r.stdout if r.stdout.strip() else r.stderr).splitlines()
        assert matches(expected, actual), (f"{where}: `{command}` printed\n" + "\n".join(actual)
                                           + "\n--- the document shows ---\n" + "\n".join(expected))


def test_the_documents_hold_transcripts():
    assert len(CASES) >= 5


def test_matcher():
    assert matches(["a", "...", "z"], ["a", "b", "c", "z"]) and matches(["a", "..."], ["a"])
    assert matches(["x = …!"], ["x = 12!"]) and not matches(["a"], ["b"])
    assert matches(["took 1.2 s"], ["took 3 s"]) and not matches(["a", "b"], ["a"])
