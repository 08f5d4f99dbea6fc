"""`qdsl lsp`: a language server for `.qd` files (Language Server Protocol over stdin/stdout, pygls 2;
the optional extra `lsp`). docs/editors.md says how an editor starts it.

It publishes what `qdsl check` reports — every diagnostic of every model of the file, with its span,
code, message, notes and help line, and the R ≥ 1 warning W0301 — each time a document is opened,
changed (once the edits pause for DEBOUNCE_S) or saved, and answers a hover over a diagnostic with
`qdsl explain CODE`. The check runs on the server's own thread: on a model that takes seconds to
check, other requests wait for it. The analysis is
`diagnostics_for(text, path)`, usable without pygls (the tests use it too); nothing of the user's
text is evaluated as Python, and a bug in qdsl becomes one E0070 diagnostic instead of a crash of
the server.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

#: the server's name, as the editor shows it
SERVER_NAME = "qdsl"
#: seconds without a newer edit before a changed document is checked again
DEBOUNCE_S = 0.3


def diagnostics_for(text: str, path: str | None = None) -> list:
    """The diagnostics `qdsl check` reports for the `.qd` text `text` (read as the file `path`, so
    that `load("...")` resolves beside it): a list of `qdsl.Diagnostic`, errors first. Warnings
    (W0301) come from the certificate of each model that has no errors; a model whose certificate
    cannot be computed contributes its diagnostics (size limits included)."""
    from .api import Compilation, Options
    from .diagnostics import CompileError, Diagnostic
    from .semantics.certificate import certify  # noqa: F401 - fail here, not per model, if broken
    from .source import SourceFile

    name = path or "<untitled>.qd"
    directory = Path(path).resolve().parent if path else Path.cwd()
    source = SourceFile(name, text, directory)
    try:
        module = Compilation(source).module
    except CompileError as e:
        return list(e.diagnostics)
    out: list = []
    seen: set = set()
    for decl in module.models:
        c = Compilation(source, Options(model=decl.name))
        try:
            d = c.certificate.to_dict()
        except CompileError as e:
            found = list(e.diagnostics)
        except Exception as exc:  # a bug in qdsl: one diagnostic, never a dead server
            from .cli import internal_error_line
            found = [Diagnostic("E0070", internal_error_line(exc).removeprefix("error[E0070]: "),
                                decl.name_span)]
        else:
            found = []
            if d.get("R") is not None and d["R"] >= 1:
                found.append(Diagnostic(
                    "W0301", f"R = {d['R']:.4g} ≥ 1: the PNAS convergence guarantee of Carleman truncation "
                             f"does not hold from this initial point", decl.name_span,
                    help="`qdsl simulate` shows the truncation error order by order"))
        for diag in found:  # a file-level error (a bad data file) repeats for every model: once
            key = (diag.code, diag.message, diag.span.start if diag.span else None)
            if key not in seen:
                seen.add(key)
                out.append(diag)
    return sorted(out, key=lambda d: (d.severity != "error", d.span.start if d.span else -1))


def lsp_range(diag, text: str):
    """The LSP range (0-based line, UTF-16 column) of a diagnostic's span in `text`; the first
    line's start when it has no span."""
    from lsprotocol import types

    def position(offset: int):
        line = text.count("\n", 0, offset)
        start = text.rfind("\n", 0, offset) + 1
        return types.Position(line=line, character=len(text[start:offset].encode("utf-16-le")) // 2)

    if diag.span is None:
        return types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    start, end = diag.span.start, max(diag.span.end, diag.span.start)
    return types.Range(start=position(min(start, len(text))), end=position(min(end, len(text))))


def to_lsp(diag, text: str):
    """A qdsl Diagnostic as an LSP Diagnostic: its range, code, severity and message, with the notes
    and the help line appended to the message (as `qdsl check` prints them)."""
    from lsprotocol import types

    message = diag.message
    for note in diag.notes:
        message += f"\nnote: {note}"
    if diag.help:
        message += f"\nhelp: {diag.help}"
    if diag.span is None and diag.file:
        message += f"\n(in {diag.file})"
    severity = types.DiagnosticSeverity.Warning if diag.severity == "warning" else types.DiagnosticSeverity.Error
    return types.Diagnostic(range=lsp_range(diag, text), message=message, severity=severity,
                            code=diag.code, source=SERVER_NAME)


def _path_of(uri: str) -> str | None:
    from pygls.uris import to_fs_path
    return to_fs_path(uri) if uri.startswith("file:") else None


def build_server():
    """The pygls LanguageServer with qdsl's features: diagnostics on open/change/save, hover with
    `qdsl explain` over a diagnostic's span."""
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from . import __version__
    from .explain import explain

    server = LanguageServer(SERVER_NAME, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
    published: dict[str, list] = {}  # uri -> the qdsl Diagnostics last published (for hovers)

    def publish(uri: str, version=None):
        doc = server.workspace.get_text_document(uri)
        diags = diagnostics_for(doc.source, _path_of(uri))
        published[uri] = [(d, to_lsp(d, doc.source)) for d in diags]
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=[lsp for _, lsp in published[uri]]))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams):
        publish(params.text_document.uri, params.text_document.version)

    latest: dict[str, int] = {}  # uri -> the newest version the editor sent

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(params: types.DidChangeTextDocumentParams):
        # while the user types, check only the text they paused at (DEBOUNCE_S without a newer edit)
        uri, version = params.text_document.uri, params.text_document.version
        latest[uri] = version
        await asyncio.sleep(DEBOUNCE_S)
        if latest.get(uri) == version:
            publish(uri, version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams):
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams):
        published.pop(params.text_document.uri, None)
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=params.text_document.uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams):
        pos = params.position
        for diag, lsp in published.get(params.text_document.uri, ()):
            r = lsp.range
            if (r.start.line, r.start.character) <= (pos.line, pos.character) <= (r.end.line, r.end.character):
                text = explain(diag.code) or diag.code
                return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text),
                                   range=r)
        return None

    return server


def main() -> int:
    """Run the server on stdin/stdout until the client says exit (`qdsl lsp`)."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0803", "`qdsl lsp` needs pygls, which is not installed",
                                      help="pip install 'qdsl-compiler[lsp]'")) from None
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from .progress import set_quiet
    set_quiet(True)  # stdout is the protocol's channel; no bars on stderr either
    build_server().start_io()
    return 0
