"""Progress bars for long work (tqdm, on stderr), shared by every stage.

    from qdsl.progress import progress
    for k in progress(range(n), desc="derivation", total=n):
        ...
    with progress(total=G, desc="Clifford+T rotations", unit="rot") as bar:
        bar.update(1)

Bars are shown only when stderr is a terminal or the process is a Jupyter kernel, the command
line was not given `--quiet`, and QDSL_PROGRESS is not "0" (QDSL_PROGRESS=1 forces them on, e.g.
for a log file); short work stays silent because a bar appears only after `delay` seconds (tqdm's
`delay`). In a kernel the bar is `tqdm.auto`'s (a notebook widget where ipywidgets is installed,
else text in the cell's output). Nothing here ever writes to stdout, so `--json` output stays one
JSON document.
"""
from __future__ import annotations

import os
import sys

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (or allow) progress bars for this process (the CLI's `--quiet`)."""
    global _quiet
    _quiet = bool(quiet)


def in_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel: its stderr is no terminal, but the
    notebook shows `tqdm.auto` bars. Never imports IPython itself."""
    ip = sys.modules.get("IPython")
    if ip is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def enabled() -> bool:
    """Whether bars are shown: not quiet, and stderr is a terminal or this is a Jupyter kernel
    (or QDSL_PROGRESS=1)."""
    flag = os.environ.get("QDSL_PROGRESS")
    if _quiet or flag == "0":
        return False
    if flag == "1" or in_kernel():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Silent:
    """The do-nothing bar used when progress is disabled (no tqdm import at all)."""

    def __init__(self, iterable=None):
        self._it = iterable

    def __iter__(self):
        return iter(self._it)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress(iterable=None, *, total: int | None = None, desc: str | None = None, unit: str = "it",
             delay: float = 1.0, leave: bool = False):
    """A tqdm bar on stderr around `iterable` (or a manual bar with `total`), or a silent stand-in
    with the same interface (`update`, `set_postfix_str`, context manager, iteration)."""
    if not enabled():
        return _Silent(iterable)
    if in_kernel():
        from tqdm.auto import tqdm
        return tqdm(iterable, total=total, desc=desc, unit=unit, delay=delay, leave=leave)
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, delay=delay, leave=leave,
                file=sys.stderr, dynamic_ncols=True)
