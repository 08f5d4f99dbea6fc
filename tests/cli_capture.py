"""`cli(*argv)`: run `qdsl` in-process and return (exit status, stdout, stderr) — one helper for the
tests that read a command's text or JSON output."""
from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout


def cli(*argv):
    from qdsl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()
