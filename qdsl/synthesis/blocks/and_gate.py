r"""Temporary logical-AND with measurement-based uncomputation (Gidney, Quantum 2, 74 (2018),
"Halving the cost of quantum addition", Fig. 3).

* **And** (`and_compute`): |a⟩|b⟩|0⟩ ↦ |a⟩|b⟩|a∧b⟩ with 4 T gates, the target promised |0⟩ —
  prepare |T⟩ = T·H|0⟩ on the target, then CX a→t, CX b→t, CX t→a, CX t→b, T† a, T† b, T t,
  CX t→a, CX t→b, H t, S t (`AND_WORD`; the test checks it against the Toffoli on every input
  with target |0⟩).
* **And†** (`and_uncompute`): the target, promised to hold a∧b, is measured in the X basis (H, then
  a Z measurement m); when m = 1 a CZ on the controls removes the phase (−1)^{a∧b} and an X resets
  the target to |0⟩. No T gate. The outcome is uniformly random and the state after the fix-up
  is the same for both outcomes (each has probability exactly 1/2): a statevector simulator may
  take either branch and renormalize by √2, exactly.

In the Qiskit circuit the pair are the gates ``and`` / ``and_dg`` (`AndGate`, `AndDgGate`), both
defined as the Toffoli — the unitary they agree with on their promised inputs — so circuits that
hold them can still be simulated as unitaries, inverted (`inverse()` swaps the two: the inverse of
And·V·And† is And·V†·And†, again a pair) and wrapped in gates; the OpenQASM 3 emitter writes
``and`` as a call of the 4-T gate ``gidney_and`` and ``and_dg`` as the mid-circuit measurement
and ``if`` block (backends/qasm3.py). The cost records count them as the gate kinds ``and`` and
``and_dg``: T states = 4 per ``and``; each ``and_dg`` is one measurement and one classically
controlled CZ + X (Cliffords).

OpenQASM 3 gate definitions cannot hold a measurement, and the two OpenQASM 3 importers of
Qiskit 2.6 (`qiskit.qasm3.loads`, `loads_experimental`) reject `def` subroutines, so a block
holding an And† is written out inline at each of its calls: a block-encoding called d times by
QSVT would be written d times (quartic: 78 kB → 1.39 MB). The **default mode is therefore
unitary** (`unitary_uncompute`: every And / And† a Toffoli, one `gate` definition per block), and
a builder switches to measured uncomputation (`measurement_uncompute`) only where the file it
writes stays small: `synthesis.qsvt` does when the inlined copies keep the file within
`qsvt.INLINE_FACTOR` of the Toffoli one; standalone blocks (the tests, benchmarks/primitives.py)
may always. The mode is read by the builders and the cost functions alike, so a cost record
always equals the gates its block emitted.
"""
from __future__ import annotations

import contextlib
import contextvars

from .cost import Cost

__all__ = ["AndGate", "AndDgGate", "and_compute", "and_uncompute", "and_cost", "and_dg_cost",
           "unitary_uncompute", "measurement_uncompute", "AND_WORD", "and_mode"]

_MODE = contextvars.ContextVar("qdsl_and_mode", default="unitary")

#: Gidney's 4-T And on (a, b, t) = qubits (0, 1, 2), circuit order, target promised |0⟩
AND_WORD = (("h", (2,)), ("t", (2,)), ("cx", (0, 2)), ("cx", (1, 2)), ("cx", (2, 0)), ("cx", (2, 1)),
            ("tdg", (0,)), ("tdg", (1,)), ("t", (2,)), ("cx", (2, 0)), ("cx", (2, 1)), ("h", (2,)),
            ("s", (2,)))


def and_mode() -> str:
    """"unitary" (Toffoli pairs, the default) or "measure" (And / And†)."""
    return _MODE.get()


@contextlib.contextmanager
def unitary_uncompute():
    """Build (and cost) blocks with Toffoli pairs instead of And / And† (the default)."""
    tok = _MODE.set("unitary")
    try:
        yield
    finally:
        _MODE.reset(tok)


@contextlib.contextmanager
def measurement_uncompute():
    """Build (and cost) blocks with And / And† (module docstring: where the file stays small)."""
    tok = _MODE.set("measure")
    try:
        yield
    finally:
        _MODE.reset(tok)


def _gate_classes():
    from qiskit.circuit import Gate, QuantumCircuit

    class AndGate(Gate):
        """Gidney's temporary AND (target promised |0⟩); defined as the Toffoli."""

        def __init__(self, label=None):
            super().__init__("and", 3, [], label=label)

        def _define(self):
            qc = QuantumCircuit(3, name="and")
            qc.ccx(0, 1, 2)
            self.definition = qc

        def inverse(self, annotated: bool = False):
            return AndDgGate()

    class AndDgGate(Gate):
        """Measurement-based uncomputation of an And (target promised a∧b); defined as the
        Toffoli."""

        def __init__(self, label=None):
            super().__init__("and_dg", 3, [], label=label)

        def _define(self):
            qc = QuantumCircuit(3, name="and_dg")
            qc.ccx(0, 1, 2)
            self.definition = qc

        def inverse(self, annotated: bool = False):
            return AndGate()

    return AndGate, AndDgGate


_CLASSES = None


def _classes():
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _gate_classes()
        for cls, name in zip(_CLASSES, ("_AndGateClass", "_AndDgGateClass")):
            cls.__qualname__ = cls.__name__ = name   # picklable by reference
            cls.__module__ = __name__
            globals()[name] = cls
    return _CLASSES


def AndGate():
    """A new ``and`` gate (module docstring)."""
    return _classes()[0]()


def AndDgGate():
    """A new ``and_dg`` gate (module docstring)."""
    return _classes()[1]()


def and_compute(qc, a, b, t) -> None:
    """Append t ← a∧b (t promised |0⟩): an ``and`` gate, or a ``ccx`` under `unitary_uncompute`."""
    if _MODE.get() == "unitary":
        qc.ccx(a, b, t)
    else:
        qc.append(AndGate(), [a, b, t])


def and_uncompute(qc, a, b, t) -> None:
    """Append t ← t ⊕ a∧b = |0⟩ (t promised a∧b): an ``and_dg``, or a ``ccx`` in unitary mode."""
    if _MODE.get() == "unitary":
        qc.ccx(a, b, t)
    else:
        qc.append(AndDgGate(), [a, b, t])


def and_cost(k=1) -> Cost:
    """Cost of k `and_compute` calls in the current mode."""
    return Cost(ccx=k) if _MODE.get() == "unitary" else Cost({"and": k})


def and_dg_cost(k=1) -> Cost:
    """Cost of k `and_uncompute` calls in the current mode."""
    return Cost(ccx=k) if _MODE.get() == "unitary" else Cost(and_dg=k)
