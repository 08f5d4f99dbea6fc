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


#: qdsl's size limits scaled to a fuzz child's 2 GiB: the defaults are sized for the 24 GiB machine
#: (a history-state system of 8·10^7 nonzeros — tanh_unit at Carleman order 10, T = 20 — is within
#: them and peaks at 3 GiB while it is assembled, ~37 B a nonzero); at 3·10^7 the largest allowed
#: system peaks near 1.1 GiB
FUZZ_LIMITS = {"QDSL_MAX_NNZ": "3e7", "QDSL_MAX_DIM": "2e6"}


def compile_qasm_within_fuzz_limits(text: str, directory: str | None = None) -> int:
    """`compile_qasm` with FUZZ_LIMITS (set in this child process only)."""
    import os

    os.environ.update(FUZZ_LIMITS)
    return compile_qasm(text, directory)


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
