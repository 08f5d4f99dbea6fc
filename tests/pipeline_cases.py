"""The pieces of qdsl that tests run under `limits.limited` (module-level, so a forkserver child
can unpickle them by name; preloaded by the forkserver). Each returns something small."""
from __future__ import annotations

from pathlib import Path


def compile_qasm(text: str, directory: str | None = None) -> int:
    """Lowering, synthesis and emission through the public API: `qdsl.compile(source=...).qasm`
    (data paths relative to `directory`, this child process's working directory)."""
    import os

    import qdsl

    if directory is not None:
        os.chdir(directory)
    values = {"eta": 0.5} if "eta in" in text else None
    return len(qdsl.compile(source=text, name="fuzz.qd", values=values).qasm)


def derive(text: str) -> None:
    """The derivation only (`Compilation.system`)."""
    import qdsl

    qdsl.compile(source=text).system


def simulate(text: str) -> None:
    import qdsl

    qdsl.compile(source=text).simulate()


def certificate_and_simulate(text: str, directory: str) -> None:
    """The front end, the certificate and `simulate`, for a file that lives in `directory`."""
    from qdsl.api import Compilation, Options
    from qdsl.source import SourceFile

    values = (("eta", 0.5),) if "eta in" in text else ()
    c = Compilation(SourceFile("mutant.qd", text, Path(directory)), Options(values=values))
    c.certificate
    c.simulate()


def run_verified(text: str, max_seconds: float | None = None) -> bool:
    """`qdsl run` through the API (the prediction and its budget first): whether it verified."""
    import qdsl

    return bool(qdsl.compile(source=text).run(max_seconds=max_seconds).verified)


def check(text: str) -> bool:
    """`qdsl check`: the derivation and the certificate; whether it certifies."""
    import qdsl

    return bool(qdsl.compile(source=text).certificate.passed)
