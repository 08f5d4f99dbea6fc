"""Diagnostics: errors are data. One renderer prints every diagnostic with its line and carets.

A `Diagnostic` carries a code (E01xx syntax, E02xx names/types/shapes, E03xx model conditions,
E04xx lowering, E05xx synthesis, W.... warnings), a message, the span it points at, notes and a
help line. `CompileError` carries a list of them (user errors, exit status 2); `SizeLimitError`
is a valid request over a size limit (exit 3). `InternalError` is a failed self-check of qdsl's own
work — a bug in qdsl, never the user's input (exit status 70, reported in one line).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span


@dataclass(frozen=True)
class Diagnostic:
    """One message to the user, pointing at a span of their file (or at none)."""

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    notes: tuple[str, ...] = ()
    file: str | None = field(default=None, compare=False)  # for errors about a file with no span

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W") else "error"

    def render(self) -> str:
        """Render like a modern compiler: header, --> file:line:col, source line, carets, help."""
        out = [f"{self.severity}[{self.code}]: {self.message}"]
        if self.span is not None:
            src = self.span.source
            line, col = src.line_col(self.span.start)
            text = src.line_text(line)
            gutter = " " * len(str(line))
            out.append(f"{gutter}--> {src.name}:{line}:{col}")
            out.append(f"{gutter} |")
            shown = text.replace("\t", " ")
            out.append(f"{line} | {shown}")
            end_line, end_col = src.line_col(max(self.span.end - 1, self.span.start))
            last = end_col if end_line == line else len(text)
            width = max(1, last - col + 1) if self.span.end > self.span.start else 1
            width = min(width, max(1, len(text) - col + 1))
            out.append(f"{gutter} | {' ' * (col - 1)}{'^' * width}")
        elif self.file:
            out.append(f" --> {self.file}")
        for note in self.notes:
            out.append(f"  = note: {note}")
        if self.help:
            out.append(f"  = help: {self.help}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        d = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.span is not None:
            d.update(file=self.span.source.name, line=self.span.line, column=self.span.column)
        elif self.file:
            d["file"] = self.file
        if self.help:
            d["help"] = self.help
        if self.notes:
            d["notes"] = list(self.notes)
        return d


class CompileError(Exception):
    """A user error (bad syntax, names, shapes, files, options): exit status 2."""

    exit_status = 2

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    def render(self) -> str:
        return "\n\n".join(d.render() for d in self.diagnostics)


class SizeLimitError(CompileError):
    """A valid request over a size limit (Carleman dimension, simulator qubits): exit status 3."""

    exit_status = 3


class InternalError(RuntimeError):
    """A self-check of qdsl's own work failed: a bug in qdsl, not in the user's input (exit 70).

    Raised instead of `assert` / `AssertionError` by every internal consistency check, so the
    command line can report it as what it is — one line naming the check, with what to send —
    and never as a traceback (unless QDSL_DEBUG=1). `check` names the self-check that failed;
    `details` holds the numbers behind it (measured value, tolerance, …)."""

    exit_status = 70

    def __init__(self, message: str, *, check: str | None = None, details: dict | None = None):
        self.message = message
        self.check = check
        self.details = dict(details or {})
        super().__init__(message)

    def summary(self) -> str:
        """One line for the command line."""
        where = f" [{self.check}]" if self.check else ""
        return f"internal error{where}: {self.message}"


class DiagnosticSink:
    """Collects the diagnostics of one stage so all of them are reported together."""

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span | None = None, help: str | None = None,
              notes: tuple[str, ...] = ()) -> None:
        self.errors.append(Diagnostic(code, message, span, help, tuple(notes)))

    def warn(self, code: str, message: str, span: Span | None = None, help: str | None = None,
             notes: tuple[str, ...] = ()) -> None:
        self.warnings.append(Diagnostic(code, message, span, help, tuple(notes)))

    def raise_if_errors(self) -> None:
        if self.errors:
            raise CompileError(self.errors)


def did_you_mean(name: str, candidates) -> str | None:
    """A 'did you mean' suggestion by edit distance, or None."""
    import difflib

    best = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{best[0]}`?" if best else None
