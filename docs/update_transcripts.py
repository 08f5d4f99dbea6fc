"""Rewrite the output under every `$ qdsl …` line in README.md and docs/*.md with what the command
prints now (a maintainer's tool; tests/test_docs.py and tests/test_readme.py check the result).

Blocks whose expected output elides lines with `...`, and pages that write files for later
commands (```qd file=…``` blocks), are left for a person to edit: the tool lists them. Files a
command writes go to a temporary directory (examples/ linked in), as in the tests.

    python docs/update_transcripts.py [FILE.md ...]      (default: README.md and docs/*.md)
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_docs import Command, run_command  # noqa: E402


def update(path: Path) -> list[str]:
    text = path.read_text()
    parts = text.split("```")
    skipped = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
        for k in range(1, len(parts), 2):
            body = parts[k]
            lines = body.split("\n")
            if not any(ln.startswith("$ qdsl") for ln in lines):
                continue
            if any(ln.strip() == "..." for ln in lines) or "file=" in text:
                skipped.append(f"{path.name}: block with '...' starting {lines[1][:60]!r}")
                continue
            out, i = [lines[0]], 1
            while i < len(lines):
                ln = lines[i]
                if ln.startswith("$ qdsl"):
                    cmd = ln[2:].strip()
                    j = i + 1
                    while j < len(lines) and not lines[j].startswith("$ "):
                        j += 1
                    expected = [x for x in lines[i + 1: j] if x.strip()]
                    m = re.fullmatch(r"\[exit status (\d+)\]", expected[-1].strip()) if expected else None
                    status, printed = run_command(Command(cmd, [], 0), cwd)
                    out.append(ln)
                    out.extend(printed.rstrip("\n").split("\n") if printed.strip() else [])
                    if status or m:
                        out.append(f"[exit status {status}]")
                    out.append("")
                    i = j
                    continue
                out.append(ln)
                i += 1
            while len(out) > 1 and out[-1] == "" and out[-2] == "":
                out.pop()
            parts[k] = "\n".join(out)
    path.write_text("```".join(parts))
    return skipped


def main(argv):
    files = [Path(a) for a in argv] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for f in files:
        for s in update(f):
            print("left for a person:", s)


if __name__ == "__main__":
    main(sys.argv[1:])
