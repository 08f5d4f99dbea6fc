"""`qdsl lsp`: a real LSP client (pygls' own) starts `python -m qdsl lsp` over stdio, opens
examples/errors/typo.qd and must receive `qdsl check`'s diagnostic — its code, span (as an LSP
range), message and help line — then a hover over it answers with `qdsl explain E0203`."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
from lsprotocol import types  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

ROOT = Path(__file__).parents[1]
TYPO = ROOT / "examples/errors/typo.qd"


async def _session(path: Path, text: str, hover_at=None, change_to=None, timeout=60.0):
    client = LanguageClient("qdsl-test", "1")
    received: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams):
        received.put_nowait(params)

    await client.start_io(sys.executable, "-m", "qdsl", "lsp")
    try:
        result = await asyncio.wait_for(client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri())), timeout)
        client.initialized(types.InitializedParams())
        uri = path.resolve().as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="qd", version=1, text=text)))
        published = await asyncio.wait_for(received.get(), timeout)
        hover = None
        if hover_at is not None:
            hover = await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=hover_at)), timeout)
        changed = None
        if change_to is not None:  # two quick edits: the diagnostics follow the last text
            for version, new in ((2, text + "\n# typing"), (3, change_to)):
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=new)]))
            changed = await asyncio.wait_for(received.get(), timeout)
            while changed.version != 3:  # (an edit checked before the next arrived, on a slow machine)
                changed = await asyncio.wait_for(received.get(), timeout)
        await asyncio.wait_for(client.shutdown_async(None), timeout)
        client.exit(None)
        return result, published, hover, changed
    finally:
        await asyncio.wait_for(client.stop(), timeout)


def test_lsp_publishes_the_diagnostics_of_typo_qd_and_hovers_with_explain():
    text = TYPO.read_text()
    # `lamda` on line 4 (0-based 3), columns 37..41 (1-based), as `qdsl check` prints it
    result, published, hover, changed = asyncio.run(_session(
        TYPO, text, hover_at=types.Position(line=3, character=38), change_to=text.replace("lamda", "lam")))
    assert result.server_info.name == "qdsl"
    assert published.uri == TYPO.resolve().as_uri()
    assert len(published.diagnostics) == 1, published.diagnostics
    d = published.diagnostics[0]
    assert d.code == "E0203" and d.source == "qdsl"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.message.startswith("unknown name `lamda`") and "help: did you mean `lam`?" in d.message
    assert (d.range.start.line, d.range.start.character) == (3, 36)
    assert (d.range.end.line, d.range.end.character) == (3, 41)
    assert text.splitlines()[3][36:41] == "lamda"
    from qdsl.explain import explain
    assert hover is not None and hover.contents.value == explain("E0203")
    assert changed.version == 3 and list(changed.diagnostics) == []   # the typo fixed in the editor


def test_lsp_clean_file_publishes_no_diagnostics():
    path = ROOT / "examples/gd_cubic.qd"
    _, published, hover, _ = asyncio.run(_session(path, path.read_text(), hover_at=types.Position(line=0, character=0)))
    assert list(published.diagnostics) == [] and hover is None


def test_diagnostics_for_spans_every_error_and_warning(tmp_path):
    """The analysis behind the server, without a client: all semantic errors of a file together
    (as `qdsl check` reports them), a syntax error, and the R ≥ 1 warning."""
    from qdsl.lsp import diagnostics_for, to_lsp
    text = "model m {\n    param x = 1\n    loss = a*x^2 + b\n    evolve gd(lr = 0.1, steps = 2)\n}\n"
    ds = diagnostics_for(text, str(tmp_path / "m.qd"))
    assert [d.code for d in ds] == ["E0203", "E0203"]
    assert [text[d.span.start:d.span.end] for d in ds] == ["a", "b"]
    lsp = to_lsp(ds[1], text)
    assert (lsp.range.start.line, lsp.range.start.character) == (2, 19)
    ds = diagnostics_for("model m {\n    param x = \n}\n", None)
    assert len(ds) == 1 and ds[0].code.startswith("E01")
    # the warning `qdsl check` prints when R ≥ 1 (R = |u_0|·‖F_2‖/|λ_1| = 2·(1.5·0.1)/0.1 = 3 here),
    # on the model's name
    text = "model m {\n    param x = 2\n    loss = 0.5*x^2 + 0.5*x^3\n    evolve gd(lr = 0.1, steps = 3)\n}\n"
    (d,) = diagnostics_for(text, None)
    assert d.code == "W0301" and d.message.startswith("R = 3 ≥ 1") and text[d.span.start:d.span.end] == "m"
    assert to_lsp(d, text).severity == types.DiagnosticSeverity.Warning
    # LSP columns count UTF-16 code units: `𝜃` (outside the BMP) is two of them
    text = "model m { param x = 1 # 𝜃 θ\n loss = 0.5*x^2 + q 𝜃\n evolve gd(lr = 0.1, steps = 2) }\n"
    ds = diagnostics_for(text, None)
    assert ds and ds[0].code.startswith("E01"), ds   # the unexpected character `𝜃`
    r = to_lsp(ds[0], text).range
    assert (r.start.line, r.start.character) == (1, 20)
    assert ds[0].span.end - ds[0].span.start == 1 and (r.end.line, r.end.character) == (1, 22)
    text = "model m { param x = 1 # 𝜃 θ\n loss = 0.5*x^2 + q # 𝜃\n evolve gd(lr = 0.1, steps = 2) }\n"
    (d,) = diagnostics_for(text, None)
    assert d.code == "E0203" and to_lsp(d, text).range.start.character == 18
