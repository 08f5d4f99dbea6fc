"""Notebook display: the command line's tables as HTML and Markdown, figures, drawing backends.

Every result object that the command line prints (`Certificate`, `SimulateResult`, `RunResult`,
`ResourceReport`, and a `Compilation`'s summary) gets `_repr_html_` and `_repr_markdown_` from
`TextReport`: both show exactly the text its `render()` gives the terminal (the CLI's own table
code; nothing is formatted a second way), in a monospaced block under a title, and key/value
tables (`rows()`, where a result has them) as a real HTML/Markdown table above it.
"""
from __future__ import annotations

import html as _html
import sys

__all__ = ["TextReport", "html_report", "markdown_report", "plot_backend"]


def plot_backend(path) -> None:
    """Off-screen drawing (Agg) for a file written before anything chose a backend (the command
    line); a notebook's (or a user's) pyplot backend is left as it is."""
    if path is not None and "matplotlib.pyplot" not in sys.modules:
        import matplotlib
        matplotlib.use("Agg")


def html_report(title: str, text: str, rows=None) -> str:
    """`title` in bold, the key/value `rows` (pairs) as a table, then `text` (the CLI's output)
    verbatim in a <pre> block; everything escaped."""
    esc = _html.escape
    out = [f'<div class="qdsl-report"><p><b>{esc(title)}</b></p>']
    if rows:
        out.append('<table class="qdsl-table">')
        out += [f'<tr><th style="text-align:left">{esc(str(k))}</th>'
                f'<td style="text-align:left">{esc(str(v))}</td></tr>' for k, v in rows]
        out.append("</table>")
    if text:
        out.append(f'<pre style="font-size:smaller">{esc(text)}</pre>')
    out.append("</div>")
    return "\n".join(out)


def markdown_report(title: str, text: str, rows=None) -> str:
    """The same as `html_report` in Markdown: a bold title, a two-column table, a fenced block."""
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = [f"**{title}**", ""]
    if rows:
        out += ["| | |", "|---|---|"] + [f"| {cell(k)} | {cell(v)} |" for k, v in rows] + [""]
    if text:
        fence = "```"
        while fence in text:
            fence += "`"
        out += [fence + "text", text, fence]
    return "\n".join(out)


class TextReport:
    """Mixin: `_repr_html_`/`_repr_markdown_` from `render()` (the CLI's text), `_display_title()`
    and, when the class has them, `rows()` (key/value pairs shown as a table)."""

    def _display_title(self) -> str:
        return type(self).__name__

    def _display_rows(self):
        return None

    def _display_text(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        return html_report(self._display_title(), self._display_text(), self._display_rows())

    def _repr_markdown_(self) -> str:
        return markdown_report(self._display_title(), self._display_text(), self._display_rows())
