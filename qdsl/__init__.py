"""qdsl — a compiler from training dynamics to Carleman-linearized quantum linear-solver circuits.

    import qdsl
    c = qdsl.compile("examples/quartic.qd", order=3)
    c.system, c.certificate, c.carleman, c.linear_system, c.circuit, c.qasm, c.report, c.run()

Heavy modules (SymPy, SciPy, Qiskit) are imported only when a stage needs them.
"""
from __future__ import annotations

from .diagnostics import CompileError, Diagnostic, InternalError, SizeLimitError

__version__ = "0.1.0"

__all__ = ["compile", "CompileError", "SizeLimitError", "InternalError", "Diagnostic",
           "PolynomialSystem", "carleman", "history_system", "Model", "resources", "sweep", "plan",
           "__version__"]


def __getattr__(name):  # lazy: `qdsl --help` must not import SciPy or Qiskit
    if name == "compile":
        from .api import compile
        return compile
    if name == "PolynomialSystem":
        from .semantics.system import PolynomialSystem
        return PolynomialSystem
    if name == "carleman":
        from .lowering.carleman import carleman
        return carleman
    if name == "history_system":
        from .lowering.history import history_system
        return history_system
    if name == "Model":
        from .builder import Model
        return Model
    if name == "resources":
        from .backends.resources import resources
        return resources
    if name == "sweep":
        from .sweep import sweep
        return sweep
    if name == "plan":
        from .api import plan
        return plan
    raise AttributeError(f"module 'qdsl' has no attribute {name!r}")
