"""Versions of what qdsl writes and reads: the JSON documents (docs/formats.md, one JSON Schema each
under docs/schemas/) and the `.qd` language (docs/language.md).

Every JSON document qdsl writes carries `"format": "qdsl.KIND/MAJOR"` as its first key. The major
version changes only when a field is removed or changes meaning; new fields may appear within a
version (the schemas allow them). Readers (`qdsl decode`) accept a document without `format`
(written before versions existed) and refuse an unknown kind or a newer major version with E0801.

A `.qd` file may declare the language version it is written in with a first statement
`language 1`; a file without one is read as version 1. Any other version is refused (E0800).
"""
from __future__ import annotations

#: the language versions this qdsl reads (a file's `language N` must be one of them)
LANGUAGE_VERSIONS = (1,)
LANGUAGE_VERSION = 1

#: document kind -> its current major version; the schema is docs/schemas/qdsl.KIND.v1.json
FORMATS = {
    "report": 1,           # compile/run --report: the readout contract
    "signed-manifest": 1,  # compile --readout signed: the measurement circuits' manifest
    "counts": 1,           # run --shots K --save-counts
    "check": 1,            # check --json: the certificate
    "simulate": 1,         # simulate --json
    "run": 1,              # run --json
    "resources": 1,        # resources --json
    "decode": 1,           # decode --json
    "sweep": 1,            # sweep: one record per point (JSON lines)
    "plan": 1,             # plan --json: quantum vs classical, the crossover
}


def format_id(kind: str) -> str:
    """`qdsl.KIND/MAJOR` for a document kind of FORMATS."""
    return f"qdsl.{kind}/{FORMATS[kind]}"


def stamp(doc: dict, kind: str) -> dict:
    """`doc` with `"format": "qdsl.KIND/MAJOR"` as its first key (a new dict; `doc` is unchanged)."""
    out = {"format": format_id(kind)}
    out.update((k, v) for k, v in doc.items() if k != "format")
    return out


def check_format(doc, accepted: tuple[str, ...], path: str | None = None) -> None:
    """Refuse (E0801, exit 2) a document whose `format` is not one of the `accepted` kinds at a
    major version this qdsl reads. A document without `format` is accepted (older qdsl)."""
    if not isinstance(doc, dict) or "format" not in doc:
        return
    fmt = doc["format"]
    want = ", ".join(format_id(k) for k in accepted)
    kind, _, major = str(fmt).removeprefix("qdsl.").partition("/")
    if isinstance(fmt, str) and fmt.startswith("qdsl.") and kind in accepted and major == str(FORMATS[kind]):
        return
    from .diagnostics import CompileError, Diagnostic
    if isinstance(fmt, str) and kind in accepted and major.isdigit() and int(major) > FORMATS[kind]:
        why = f"`{fmt}` is a newer version of the format than this qdsl reads ({want})"
        help = "upgrade qdsl (pip install -U qdsl-compiler), or write the file with this version"
    else:
        why = f"`{fmt}` is not a format this command reads (it reads {want})"
        help = "give the file qdsl wrote for this purpose (see docs/formats.md)"
    raise CompileError(Diagnostic("E0801", f"{path or 'the document'}: {why}", file=path, help=help))
