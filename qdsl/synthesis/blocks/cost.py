r"""Cost records: additive gate counts per gate kind (Qualtran's ``GateCounts`` pattern).

Every block returns a `Cost` from the same description that builds its gates: ``a + b`` adds the
counts of every gate kind, ``k * a`` repeats a block k times, and the qubit high-water mark is
combined by ``max``. Counts may be SymPy expressions, so one cost function gives the exact count of
a built circuit and a formula in the sizes (n, T, N, nnz, …) for projections.

Gate kinds are the names of the native gate set that blocks are built from (`NATIVE_GATES`):
Cliffords ``x h z s sdg cx``, the T gates ``t tdg``, the Toffoli ``ccx`` and the rotations
``ry rz``, and Gidney's temporary AND pair ``and`` (4 T) / ``and_dg`` (an X-basis measurement and
a classically controlled CZ + X, no T; blocks/and_gate.py). `count_circuit` counts a built circuit
the same way, recursing through named gates.
"""
from __future__ import annotations

from collections.abc import Mapping

__all__ = ["Cost", "NATIVE_GATES", "count_circuit"]

#: the gates every structured block is built from (all in OpenQASM 3's stdgates.inc)
NATIVE_GATES = ("x", "h", "z", "s", "sdg", "t", "tdg", "cx", "ccx", "ry", "rz", "and", "and_dg")


def _is_zero(v) -> bool:
    """Exactly zero (an int, a float or a SymPy number; symbolic expressions are not)."""
    try:
        return bool(v == 0)
    except TypeError:  # pragma: no cover
        return False


def _max(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    import sympy as sp
    return sp.Max(a, b)


class Cost(Mapping):
    """An immutable additive record {gate kind: count} plus `qubits` (high-water mark)."""

    __slots__ = ("_c", "qubits")

    def __init__(self, counts: Mapping | None = None, qubits=0, **kw):
        c = {}
        for k, v in list((counts or {}).items()) + list(kw.items()):
            c[k] = c.get(k, 0) + v
        c = {k: v for k, v in c.items() if not _is_zero(v)}
        self._c = c
        self.qubits = qubits

    # -- Mapping ---------------------------------------------------------------------------
    def __getitem__(self, k):
        return self._c.get(k, 0)

    def __iter__(self):
        return iter(sorted(self._c))

    def __len__(self):
        return len(self._c)

    def __contains__(self, k):
        return k in self._c

    # -- algebra ---------------------------------------------------------------------------
    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        c = dict(self._c)
        for k, v in other._c.items():
            c[k] = c.get(k, 0) + v
        return Cost(c, _max(self.qubits, other.qubits))

    def __radd__(self, other):
        if isinstance(other, int) and other == 0:  # sum([...]) starts from 0
            return self
        return NotImplemented

    def __mul__(self, k) -> "Cost":
        return Cost({g: v * k for g, v in self._c.items()}, self.qubits)

    __rmul__ = __mul__

    def __eq__(self, other):
        if isinstance(other, Cost):
            return self._c == other._c
        if isinstance(other, Mapping):
            return self._c == {k: v for k, v in other.items() if v != 0}
        return NotImplemented

    def __hash__(self):
        return hash(tuple(sorted(self._c.items(), key=str)))

    def with_qubits(self, q) -> "Cost":
        return Cost(self._c, q)

    def subs(self, values: dict) -> "Cost":
        """Substitute SymPy symbols (a formula evaluated at concrete sizes)."""
        def sub(v):
            return v.subs(values) if hasattr(v, "subs") else v
        return Cost({k: sub(v) for k, v in self._c.items()}, sub(self.qubits))

    @property
    def toffoli(self):
        return self["ccx"]

    @property
    def ands(self):
        """Temporary ANDs computed (Gidney's And, 4 T each; each uncomputed by a measurement)."""
        return self["and"]

    @property
    def toffoli_equivalents(self):
        """Toffolis + Ands: the count Qualtran reports as Toffoli + And."""
        return self["ccx"] + self["and"]

    @property
    def measurements(self):
        """Mid-circuit measurements: one per ``and_dg`` (its X-basis measurement)."""
        return self["and_dg"]

    @property
    def classically_controlled(self):
        """Classically controlled Clifford groups (CZ + X), one per ``and_dg``."""
        return self["and_dg"]

    @property
    def t_states(self):
        """T states of the exact non-Clifford gates: t + tdg + 4·(ccx + and) (rotations apart)."""
        return self["t"] + self["tdg"] + 4 * (self["ccx"] + self["and"])

    @property
    def rotations(self):
        """Rotation gates (ry, rz) whatever their angle (angle classes are a later, data step)."""
        return self["ry"] + self["rz"]

    @property
    def non_clifford(self):
        """Rotations + T gates + Toffolis + Ands."""
        return self.rotations + self["t"] + self["tdg"] + self["ccx"] + self["and"]

    def to_dict(self) -> dict:
        def js(v):
            if isinstance(v, int):
                return v
            try:
                f = float(v)
                return int(f) if f.is_integer() else f
            except TypeError:
                return str(v)
        return {k: js(self._c[k]) for k in sorted(self._c)}

    def __repr__(self):
        return f"Cost({self.to_dict()}, qubits={self.qubits})"


def count_circuit(circuit) -> Cost:
    """Gate counts of a built circuit by kind, named gates expanded (each definition counted once
    and multiplied by its uses). Barriers are ignored; any other gate must be native or named."""
    memo: dict[int, Cost] = {}

    def walk(qc) -> Cost:
        key = id(qc)
        if key in memo:
            return memo[key][1]
        total: dict = {}
        for inst in qc.data:
            name = inst.operation.name
            if name == "barrier":
                continue
            if name in NATIVE_GATES:
                total[name] = total.get(name, 0) + 1
                continue
            defn = inst.operation.definition
            if defn is None:
                raise ValueError(f"cannot count gate '{name}': not native and no definition")
            for g, v in walk(defn).items():
                total[g] = total.get(g, 0) + v
        out = Cost(total)
        memo[key] = (qc, out)
        return out

    return walk(circuit).with_qubits(circuit.num_qubits)
