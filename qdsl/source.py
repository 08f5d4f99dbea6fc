"""Source files and spans: character offsets into a file, line/column computed on demand."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    """The text of one `.qd` file (or of a string given to the API) and where it came from."""

    name: str
    text: str
    directory: Path | None = field(default=None, compare=False)

    @classmethod
    def from_path(cls, path: str | Path) -> "SourceFile":
        """Read a file as UTF-8 (undecodable bytes become U+FFFD so a diagnostic can still show them);
        a leading byte-order mark, which some editors write, is not part of the text."""
        p = Path(path)
        data = p.read_bytes()
        return cls(str(path), data.decode("utf-8-sig", errors="replace"), p.resolve().parent)

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        return starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        starts = self._line_starts
        if not 1 <= line <= len(starts):
            return ""
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1]:end].rstrip("\r")


@dataclass(frozen=True)
class Span:
    """A half-open range [start, end) of character offsets in a SourceFile."""

    source: SourceFile = field(repr=False, compare=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def merge(self, other: "Span | None") -> "Span":
        """The smallest span covering both."""
        if other is None:
            return self
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))
