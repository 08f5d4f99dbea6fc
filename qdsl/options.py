"""One validation path for the options a user passes outside the `.qd` file — the CLI's flags and
the API's keywords alike (`--eps`/`eps=`, `--order`/`order=`, `--clock`, `--steps`, `--idle`,
`resources --params`): each is checked here as strictly as the file's own arguments are, and a
bad value raises `CompileError` with a code (exit 2 on the command line), never a raw
ValueError, a silent default or an internal error.

Whole numbers may be written in scientific notation (`--steps 1e3`, `--params 7e6`) but must be
integral; precisions must be finite and strictly inside (0, 1).
"""
from __future__ import annotations

import math
from dataclasses import replace

from .diagnostics import CompileError, Diagnostic, SizeLimitError

#: the largest whole-number option accepted (parameters, steps): beyond 10^18 no count qdsl
#: makes is representable in int64 indexing, and float64 cost formulas overflow soon after
WHOLE_LIMIT = 10 ** 18

#: which code each option's bad value gets (E0900–E0905; `resources` keeps its own E0601–E0603)
CODES = {"eps": "E0900", "order": "E0901", "clock": "E0902", "steps": "E0903", "idle": "E0904",
         "params": "E0601"}

_EXAMPLES = {"eps": "1e-3", "order": "3", "clock": "7", "steps": "100", "idle": "0", "params": "1e8"}


def _flag(name: str, api: bool) -> str:
    return f"{name}=" if api else f"--{name}"


def whole_number(value, name: str, *, minimum: int = 1, code: str | None = None, api: bool = False) -> int:
    """`value` (int, integral float, or text such as "1e3") as an int ≥ `minimum`; CompileError
    with `code` otherwise (SizeLimitError, exit 3, above `WHOLE_LIMIT`)."""
    code = code or CODES.get(name, "E0903")
    flag = _flag(name, api)
    what = "a positive whole number" if minimum >= 1 else "a non-negative whole number"
    if isinstance(value, bool):
        v = math.nan
    elif isinstance(value, int):
        v = value
    else:
        try:
            text = value.strip() if isinstance(value, str) else value
            v = int(text) if isinstance(text, str) and text.lstrip("+-").isdigit() else float(text)
        except (TypeError, ValueError, OverflowError):
            v = math.nan
    if isinstance(v, float) and (not math.isfinite(v) or not v.is_integer()):
        raise CompileError(Diagnostic(code, f"{flag} must be {what}, not `{value}`"
                                      if not isinstance(value, (int, float)) or isinstance(value, bool)
                                      else f"{flag} must be {what}, not {value:g}",
                                      help=f"e.g. {flag}{'' if api else ' '}{_EXAMPLES.get(name, '1')}"
                                           " (scientific notation such as 1e3 is fine when it is integral)"))
    v = int(v)
    if v < minimum:
        raise CompileError(Diagnostic(code, f"{flag} must be {what}, not {v}",
                                      help=f"e.g. {flag}{'' if api else ' '}{_EXAMPLES.get(name, '1')}"))
    if v > WHOLE_LIMIT:
        raise SizeLimitError(Diagnostic("E0905", f"{flag} {v:.3g} is over the limit of {WHOLE_LIMIT:.0e}",
                                        help="no model or projection of that size is representable "
                                             "(int64 indices, float64 costs); use a smaller value"))
    return v


def precision(value, name: str = "eps", *, code: str | None = None, api: bool = False) -> float:
    """`value` as a float strictly inside (0, 1) — `0`, `1`, `inf`, `nan` and negatives are errors."""
    code = code or CODES.get(name, "E0900")
    flag = _flag(name, api)
    try:
        v = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        v = math.nan
    if not (math.isfinite(v) and 0.0 < v < 1.0):
        shown = f"`{value}`" if isinstance(value, str) or not isinstance(value, (int, float)) else f"{value:g}"
        raise CompileError(Diagnostic(code, f"{flag} must be a precision strictly between 0 and 1, not {shown}",
                                      help=f"e.g. {flag}{'' if api else ' '}1e-3 (the error allowed in the "
                                           "post-selected solution state)"))
    return v


def validate(options, *, api: bool = False):
    """The `Options` with eps, order, clock, steps and idle checked and normalized (ints, floats)."""
    changes = {}
    for name in ("order", "clock", "steps"):
        v = getattr(options, name)
        if v is not None:
            changes[name] = whole_number(v, name, api=api)
    if options.idle is not None:
        changes["idle"] = whole_number(options.idle, "idle", minimum=0, api=api)
    if options.eps is not None:
        changes["eps"] = precision(options.eps, "eps", api=api)
    return replace(options, **changes)


def distinct_outputs(paths: dict) -> None:
    """Refuse (E0910) two outputs of one command that name the same file (`compile -o X --report
    X` would write the circuit and then overwrite it with the report). `paths`: flag → path."""
    from pathlib import Path
    seen: dict = {}
    for flag, path in paths.items():
        if path is None or path == "-":
            continue
        key = Path(path).resolve()
        if key in seen:
            raise CompileError(Diagnostic("E0910", f"{seen[key]} and {flag} both write {path}",
                                          help="give each output its own path"))
        seen[key] = flag
