r"""OpenQASM 3 emission, loading and validation (docs/cli.md "Emitted OpenQASM 3").

`emit(program)` lowers a QuantumProgram's circuit (or a bare QuantumCircuit) to standard gates
(Qiskit's transpiler, block by block) and prints the text itself — Qiskit's exporter fails on
unitary gates and complex StatePreparation and is slow on million-gate Clifford+T bodies — so that
the text

* declares exactly one quantum register, ``qubit[n] q;``, and one ``bit[n] c;``;
* ends by measuring every qubit, ``c[i] = measure q[i];``;
* is byte-identical for identical input (no ids, timestamps or random names: block names are
  derived from the gate names, made unique by a counter in order of first appearance);
* keeps each repeated sub-circuit (a named gate with a definition: HHL's blocks, QSVT's
  block-encodings, library gates such as ``unitary`` or ``mcx``) as one ``gate`` definition,
  lowered once and called wherever it is used, instead of inlining it at every use.

Bases: ``"native"`` = ``x h z s sdg t tdg cx ccx ry rz`` (all in stdgates.inc: the gates the
structured blocks are built from, so their counts are the file's counts; anything else is lowered
by Qiskit's transpiler to ``cx rz ry h x``), printed as they are — no peephole, so the file holds
exactly the gates the blocks' cost records count.  ``"clifford+t"`` = only
``h s sdg t tdg x y z cx`` (and the measurement): from the native form, ``ccx`` becomes its exact
7-T word (Nielsen & Chuang Fig. 4.9), ``ry(θ) = s·h·rz(θ)·h·sdg`` (circuit order sdg, h, rz, h,
s), rotations by multiples of π/4 become exact Clifford+T words, and every other ``rz`` is
approximated by Ross–Selinger gridsynth (``qiskit.synthesis.gridsynth_rz``) to operator-norm error
``precision``, up to a global phase; adjacent inverse pairs (h·h, s·sdg, t·tdg, …) are dropped.  The whole circuit is then within
``rotations × precision`` of the native one (triangle inequality); `EmitResult` records both numbers
and the T count.

Determinism: block names come from the gate names (a counter separates different definitions of
one name), floats print as their shortest round-trip decimal, nothing depends on ids or time.
One caveat, from the synthesizer: Qiskit's gridsynth uses randomized, time-limited factoring, so
under a heavily loaded CPU it can (rarely) return a different word of the same precision; the
emitter calls it once per distinct angle in sorted order to keep the output reproducible.

Global phases of gate definitions are dropped by OpenQASM 3 gate definitions; that is harmless here
because no emitted gate is ever used under a control (controlled gates are lowered as their own
definitions), so only the irrelevant global phase of the whole state changes.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np

NATIVE_BASIS = ("cx", "rz", "ry", "h", "x", "ccx", "z", "s", "sdg", "t", "tdg")
#: what Qiskit's transpiler lowers any other loose gate to
TRANSPILE_BASIS = ("cx", "rz", "ry", "h", "x")
CLIFFORD_T_BASIS = ("h", "s", "sdg", "t", "tdg", "x", "y", "z", "cx")
#: Gidney's temporary AND and its measurement-based uncomputation (qdsl/synthesis/blocks/and_gate.py)
_AND_GATES = ("and", "and_dg")
#: the 4-T And, written once as a `gate` when used; And† uses the one classical bit AND_BIT
AND_GATE_NAME = "gidney_and"
AND_BIT = "and_m"

# names a custom gate must not take: OpenQASM 3 keywords and stdgates.inc gates
_RESERVED = {
    "p", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "cx", "cy", "cz", "cp",
    "crx", "cry", "crz", "ch", "swap", "ccx", "cswap", "cu", "CX", "phase", "cphase", "id", "u1",
    "u2", "u3", "U", "gphase", "gate", "qubit", "bit", "measure", "reset", "barrier", "if", "else",
    "for", "while", "in", "let", "def", "return", "input", "output", "const", "include", "box",
    "delay", "ctrl", "negctrl", "inv", "pow", "pi", "tau", "euler", "q", "c", "int", "uint",
    "float", "angle", "bool", "complex", "array", "duration", "stretch", "end", "defcal", "cal",
    "extern", "opaque", "break", "continue", "switch", "case", "default", "mutable", "readonly",
    "gidney_and", "and_m",
}


class QasmValidationError(ValueError):
    """The text is not accepted by the reference OpenQASM 3 parser."""


@dataclass(frozen=True)
class EmitResult:
    """The emitted text and what it took: `basis`, `precision` (per synthesized rotation,
    clifford+t only), `rotations` (rz/ry angles that are not multiples of π/4 — the ones
    clifford+t approximates by gridsynth — counted over the flattened circuit, in either basis),
    `error_bound` (rotations × precision, operator norm; 0 for native), `t_count` (T and T† over
    the flattened circuit), `counts` (flattened gate counts), `num_qubits`, `gate_definitions`
    (number of `gate` definitions in the text)."""

    text: str
    basis: str
    num_qubits: int
    counts: dict
    gate_definitions: int
    precision: float | None = None
    rotations: int = 0
    error_bound: float = 0.0
    t_count: int = 0
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# lowering
# ---------------------------------------------------------------------------------------------

def _sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "g_" + s
    if s in _RESERVED:
        s = s + "_gate"
    return s


class _Lowerer:
    """Lowers circuits level by level, keeping named gates as memoized definitions."""

    def __init__(self, basis: str, precision: float):
        self.basis = basis
        self.precision = precision
        self.blocks: dict = {}        # fingerprint -> Gate
        self.names: set[str] = set()
        self.by_obj: dict[int, object] = {}  # id(op) -> lowered Gate (op kept alive in keep)
        self.keep: list = []
        self.rz_cache: dict = {}
        self.order: list = []         # blocks in order of creation
        self.block_rot: dict[str, int] = {}

    # -- one level ----------------------------------------------------------------------------
    def lower(self, qc):
        """(circuit, rotations): a circuit on one register `q` whose instructions are basis gates
        or lowered blocks, and the number of non-Clifford rotations in it, blocks flattened."""
        from qiskit import QuantumCircuit, QuantumRegister, transpile

        n = qc.num_qubits
        work = QuantumCircuit(QuantumRegister(n, "q"))
        block_names: set[str] = set()
        inline_rot = 0  # rotations of inlined (non-gate) definitions, counted before conversion
        for inst in qc.data:
            op = inst.operation
            qargs = [qc.find_bit(b).index for b in inst.qubits]
            if op.name in ("barrier", "delay"):
                continue
            if op.name in ("measure", "reset") or inst.clbits:
                raise ValueError(f"cannot emit a circuit that already holds '{op.name}'; the emitter "
                                 "adds the final measurements itself")
            if op.name in _AND_GATES:   # Gidney's And / And† (kept whole, printed by _Printer)
                work.append(op, qargs)
                continue
            if op.name in NATIVE_BASIS or op.name in ("sx", "y", "z", "s", "sdg", "t", "tdg", "p",
                                                       "u", "rx", "cz", "swap", "ccx", "cp", "id",
                                                       "u1", "u2", "u3", "sxdg", "cy", "ch"):
                work.append(op, qargs)
                continue
            if _is_block(op):
                g = self.block(op)
                if isinstance(g, tuple):   # holds a measurement (And†): inlined, not a `gate`
                    sub = g[0]    # its rotations are counted below, with the instructions
                    for sinst in sub.data:
                        work.append(sinst.operation, [qargs[sub.find_bit(b).index] for b in sinst.qubits])
                        if sinst.operation.name in self.names:
                            block_names.add(sinst.operation.name)
                    continue
                block_names.add(g.name)
                work.append(g, qargs)
            elif op.definition is not None:
                sub, r = self.lower(op.definition)
                inline_rot += r
                for sinst in sub.data:
                    work.append(sinst.operation, [qargs[sub.find_bit(b).index] for b in sinst.qubits])
                    if sinst.operation.name in self.names:
                        block_names.add(sinst.operation.name)
            else:
                raise ValueError(f"gate '{op.name}' has no definition and is not a standard gate")
        if any(inst.operation.name not in NATIVE_BASIS and inst.operation.name not in block_names
               and inst.operation.name not in _AND_GATES for inst in work.data):
            # transpile the runs of loose gates between blocks (Qiskit's transpile accepts no
            # custom names in basis_gates, so the blocks stay out of it)
            final = QuantumCircuit(QuantumRegister(n, "q"))
            run = QuantumCircuit(QuantumRegister(n, "q"))

            def flush():
                if not run.data:
                    return
                if all(i.operation.name in NATIVE_BASIS for i in run.data):
                    seg = run
                else:
                    seg = transpile(run, basis_gates=list(TRANSPILE_BASIS), optimization_level=1,
                                    seed_transpiler=0)
                for i in seg.data:
                    final.append(i.operation, [seg.find_bit(b).index for b in i.qubits])
                run.data.clear()

            for inst in work.data:
                qs = [work.find_bit(b).index for b in inst.qubits]
                if inst.operation.name in block_names or inst.operation.name in _AND_GATES:
                    flush()
                    final.append(inst.operation, qs)
                else:
                    run.append(inst.operation, qs)
            flush()
            work = final
        rot = inline_rot
        for inst in work.data:
            op = inst.operation
            if op.name in ("rz", "ry"):
                rot += 0 if _is_pi4(float(op.params[0])) else 1
            elif op.name in self.names:
                rot += self.block_rot[op.name]
        return work, rot

    def block(self, op):
        from qiskit.circuit import Gate

        if id(op) in self.by_obj:
            return self.by_obj[id(op)]
        body, rot = self.lower(op.definition)
        if any(inst.operation.name == "and_dg" for inst in body.data):
            # an OpenQASM 3 `gate` cannot measure: a block holding an And† is written inline
            self.by_obj[id(op)] = (body, rot)
            self.keep.append(op)
            return self.by_obj[id(op)]
        fp = (op.num_qubits, _fingerprint(body))
        g = self.blocks.get(fp)
        if g is None:
            base = _sanitize(op.name)
            name, i = base, 0
            while name in self.names:
                i += 1
                name = f"{base}_{i}"
            self.names.add(name)
            g = Gate(name, op.num_qubits, [])
            g.definition = body
            self.blocks[fp] = g
            self.block_rot[name] = rot
            self.order.append(g)
        self.by_obj[id(op)] = g
        self.keep.append(op)
        return g

    # -- Clifford+T ---------------------------------------------------------------------------
    def prefetch(self, top):
        r"""Synthesize every distinct non-Clifford angle of `top` and its blocks up front, one after
        the other in sorted order, so the sequence of gridsynth calls depends only on the circuit.

        Why not in parallel: Qiskit's gridsynth (rsgridsynth) solves its Diophantine step with
        randomized, time-limited factoring and process-wide caches; a cold cache or a loaded CPU
        can make it skip a candidate and return another (equally valid, ≤ precision) word.  A
        fixed call order in one process keeps the text reproducible in practice; the residual
        timing dependence is a property of the synthesizer, documented in the report."""
        angles = set()
        for qc in [top] + [g.definition for g in self.order]:
            for inst in qc.data:
                if inst.operation.name in ("rz", "ry"):
                    th = float(inst.operation.params[0])
                    if not _is_pi4(th) and th not in self.rz_cache:
                        angles.add(th)
        from qdsl.progress import progress

        for th in progress(sorted(angles), desc="Clifford+T: gridsynth", unit="angle"):
            self.rz_word(th)

    def rz_word(self, theta: float) -> tuple[str, ...]:
        key = float(theta)
        if key in self.rz_cache:
            return self.rz_cache[key]
        if _is_pi4(theta):
            word = _EXACT_PI4[round(theta / (math.pi / 4)) % 8]
        else:
            word = _gridsynth_word(theta, self.precision)
        self.rz_cache[key] = word
        return word


def _gridsynth_word(theta: float, precision: float) -> tuple[str, ...]:
    """Rz(θ) as a Clifford+T word (circuit order), Ross–Selinger gridsynth to `precision`."""
    from qiskit.synthesis import gridsynth_rz

    c = gridsynth_rz(float(theta), epsilon=float(precision))
    word = tuple(inst.operation.name for inst in c.data)
    bad = set(word) - set(CLIFFORD_T_BASIS)
    if bad:  # pragma: no cover - gridsynth emits h s t x (and sdg/tdg/z)
        raise ValueError(f"gridsynth produced gates outside Clifford+T: {sorted(bad)}")
    return word


# Rz(kπ/4) = e^{-ikπ/8}·P(kπ/4), and P(π/4) = T
_EXACT_PI4 = {0: (), 1: ("t",), 2: ("s",), 3: ("s", "t"), 4: ("z",), 5: ("z", "t"), 6: ("sdg",),
              7: ("tdg",)}


def _is_pi4(theta: float) -> bool:
    k = theta / (math.pi / 4)
    return abs(k - round(k)) < 1e-12


def _is_block(op) -> bool:
    """Keep as a named gate definition: a unitary gate with a definition of at least two
    instructions that is not a standard one-op gate (HHL's and QSVT's blocks, unitary, diagonal,
    mcx, state preparation, …).  Gates with symbolic parameters are inlined instead."""
    from qiskit.circuit import Gate, ParameterExpression

    if not isinstance(op, Gate) or op.definition is None:
        return False
    if any(isinstance(p, ParameterExpression) for p in op.params):
        return False
    return len(op.definition.data) >= 2


def _fingerprint(body) -> tuple:
    rows = []
    for inst in body.data:
        op = inst.operation
        params = tuple(round(float(p), 14) for p in op.params) if op.params else ()
        rows.append((op.name, tuple(body.find_bit(b).index for b in inst.qubits), params))
    return tuple(rows)


# Toffoli (controls a = 0, b = 1, target c = 2) in Clifford+T: 7 T/T†, 6 CX, 2 H (exact)
_CCX_WORD = (("h", (2,)), ("cx", (1, 2)), ("tdg", (2,)), ("cx", (0, 2)), ("t", (2,)), ("cx", (1, 2)),
             ("tdg", (2,)), ("cx", (0, 2)), ("t", (1,)), ("t", (2,)), ("h", (2,)), ("cx", (0, 1)),
             ("t", (0,)), ("tdg", (1,)), ("cx", (0, 1)))

_INVERSE = {"h": "h", "x": "x", "y": "y", "z": "z", "s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t"}


def _and_word():
    from qdsl.synthesis.blocks.and_gate import AND_WORD

    return AND_WORD


def _fmt(x: float) -> str:
    """An angle as an OpenQASM 3 float literal, to 12 significant digits: the last bits of an angle
    computed through a dense SVD or an FFT differ between BLAS kernels, and the text must not
    (a rounding error ≤ 5e-13 relative per rotation, far below any synthesis precision)."""
    return f"{float(x):.12g}"


class _Printer:
    r"""Prints the lowered circuit as OpenQASM 3 text directly (Qiskit's exporter would need every
    Clifford+T word built as circuit objects first — the slow part for big circuits).  Each block
    becomes one ``gate`` definition (children before parents); Clifford+T words are joined with a
    per-qubit peephole that drops adjacent inverse pairs (h·h, s·sdg, t·tdg, …)."""

    def __init__(self, lowerer: _Lowerer):
        self.lw = lowerer
        self.counts: dict[str, dict] = {}
        self.uses_and = False
        self.uses_and_dg = False

    def body(self, qc, ref) -> tuple[list[str], dict]:
        lines: list[str | None] = []
        last: dict[int, tuple[int, str]] = {}   # qubit -> (line index, 1q gate) still cancellable
        counts: dict[str, int] = {}
        idx = {b: i for i, b in enumerate(qc.qubits)}
        ct = self.lw.basis == "clifford+t"

        def one(name: str, q: int):
            prev = last.get(q)
            if ct and prev is not None and _INVERSE.get(prev[1]) == name:
                lines[prev[0]] = None
                counts[prev[1]] -= 1
                last.pop(q)
                return
            last[q] = (len(lines), name)
            lines.append(f"{name} {ref(q)};")
            counts[name] = counts.get(name, 0) + 1

        def many(line: str, qs, sub: dict):
            for q in qs:
                last.pop(q, None)
            lines.append(line)
            for g, n in sub.items():
                counts[g] = counts.get(g, 0) + n

        for inst in qc.data:
            op = inst.operation
            qs = [idx[b] for b in inst.qubits]
            name = op.name
            if name in self.lw.names:
                many(f"{name} {', '.join(ref(q) for q in qs)};", qs, self.counts[name])
            elif name == "and" and not ct:
                self.uses_and = True
                many(f"{AND_GATE_NAME} {', '.join(ref(q) for q in qs)};", qs, {"and": 1})
            elif name == "and":   # Clifford+T: the 4-T word itself
                for g, gq in _and_word():
                    if len(gq) == 1:
                        one(g, qs[gq[0]])
                    else:
                        many(f"cx {ref(qs[gq[0]])}, {ref(qs[gq[1]])};", [qs[i] for i in gq], {"cx": 1})
            elif name == "and_dg":  # X-basis measurement, then CZ + X when the outcome is 1
                self.uses_and_dg = True
                a, b, t = (ref(q) for q in qs)
                many(f"h {t};\n{AND_BIT} = measure {t};\nif ({AND_BIT}) {{ cz {a}, {b}; x {t}; }}",
                     qs, {"and_dg": 1})
            elif ct and name == "ccx":
                for g, gq in _CCX_WORD:
                    if len(gq) == 1:
                        one(g, qs[gq[0]])
                    else:
                        many(f"cx {ref(qs[gq[0]])}, {ref(qs[gq[1]])};", [qs[i] for i in gq], {"cx": 1})
            elif len(qs) > 1:
                many(f"{name} {', '.join(ref(q) for q in qs)};", qs, {name: 1})
            elif not ct:
                if op.params:
                    many(f"{name}({_fmt(op.params[0])}) {ref(qs[0])};", qs, {name: 1})
                else:
                    one(name, qs[0])
            elif name == "rz":
                for g in self.lw.rz_word(float(op.params[0])):
                    one(g, qs[0])
            elif name == "ry":  # Ry(θ) = S·H·Rz(θ)·H·S†
                q = qs[0]
                for g in ("sdg", "h") + self.lw.rz_word(float(op.params[0])) + ("h", "s"):
                    one(g, q)
            elif name in CLIFFORD_T_BASIS:
                one(name, qs[0])
            else:  # pragma: no cover - lower() only produces NATIVE_BASIS and blocks
                raise ValueError(f"unexpected gate '{name}' in Clifford+T lowering")
        return [ln for ln in lines if ln is not None], {g: n for g, n in counts.items() if n}

    def program(self, top) -> str:
        out = ['OPENQASM 3.0;', 'include "stdgates.inc";']
        for g in self.lw.order:
            k = g.num_qubits
            lines, counts = self.body(g.definition, lambda q: f"_gate_q_{q}")
            self.counts[g.name] = counts
            params = ", ".join(f"_gate_q_{q}" for q in range(k))
            out.append(f"gate {g.name} {params} {{")
            out.extend("  " + ln for ln in lines)
            out.append("}")
        n = top.num_qubits
        lines, counts = self.body(top, lambda q: f"q[{q}]")
        self.counts["<top>"] = counts
        if self.uses_and:   # Gidney's 4-T And (target |0⟩ in), defined once, before its callers
            out[2:2] = ([f"gate {AND_GATE_NAME} _gate_q_0, _gate_q_1, _gate_q_2 {{"]
                        + [f"  {g} {', '.join(f'_gate_q_{i}' for i in gq)};" for g, gq in _and_word()]
                        + ["}"])
        out.append(f"bit[{n}] c;")
        out.append(f"qubit[{n}] q;")
        if self.uses_and_dg:
            out.append(f"bit {AND_BIT};")
        out.extend(lines)
        out.extend(f"c[{i}] = measure q[{i}];" for i in range(n))
        return "\n".join(out) + "\n"


def lower(circuit, *, basis: str = "native", precision: float = 1e-10):
    """The circuit lowered to the native basis on one register `q` (named blocks kept as gates
    whose definitions are lowered too), without measurements.  Returns (circuit, rotations,
    lowerer): `rotations` counts the rz/ry that are not multiples of π/4 (those that clifford+t
    approximates), blocks flattened — see `emit`."""
    if basis not in ("native", "clifford+t"):
        from qdsl.diagnostics import CompileError, Diagnostic

        raise CompileError(Diagnostic("E0510", f"unknown basis '{basis}'",
                                      help="use --basis native or --basis clifford+t"))
    qc = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit
    lw = _Lowerer(basis, precision)
    body, rot = lw.lower(qc)
    return body, rot, lw


def emit_with_info(program, *, basis: str = "native", precision: float = 1e-10) -> EmitResult:
    """Emit OpenQASM 3 for a QuantumProgram (or a bare QuantumCircuit); see the module docstring."""
    circuit = getattr(program, "circuit", program)
    body, rotations, lw = lower(circuit, basis=basis, precision=precision)
    if basis == "clifford+t":
        lw.prefetch(body)
    printer = _Printer(lw)
    text = printer.program(body)
    counts = dict(sorted(printer.counts["<top>"].items()))
    t_count = int(counts.get("t", 0) + counts.get("tdg", 0))
    return EmitResult(
        text=text, basis=basis, num_qubits=body.num_qubits, counts=counts,
        gate_definitions=len(lw.order),
        precision=float(precision) if basis == "clifford+t" else None, rotations=rotations,
        error_bound=float(rotations * precision) if basis == "clifford+t" else 0.0,
        t_count=t_count,
    )


def emit(program, *, basis: str = "native", precision: float = 1e-10) -> str:
    """OpenQASM 3 text of a QuantumProgram or QuantumCircuit (see `emit_with_info`)."""
    return emit_with_info(program, basis=basis, precision=precision).text


# ---------------------------------------------------------------------------------------------
# loading and validation
# ---------------------------------------------------------------------------------------------

def load(text: str):
    """QuantumCircuit from OpenQASM 3 text: Qiskit's Rust importer when it accepts the text (it
    rejects custom gate definitions); for text in the emitter's own line format, `load_emitted`
    (one shared definition per gate); else `qiskit.qasm3.loads`.

    Why not always `qiskit.qasm3.loads`: it deep-copies a gate's definition at every call, so a
    definition that calls another twice (HHL's walk powers W^{2^j}) is materialized 2^j times —
    the whole flattened circuit in memory (41 s and 8 GB for a 9-bit clock).  The tests check that
    `qiskit.qasm3.loads` accepts the emitted text and agrees with `load_emitted`."""
    import warnings

    import qiskit.qasm3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if f"bit {AND_BIT};" not in text:   # it rejects the And† measurements with a printed error
                return qiskit.qasm3.loads_experimental(text)
        except Exception:
            pass
        shared = load_emitted(text)
        if shared is not None:
            return shared
        return qiskit.qasm3.loads(text)


_GATE_HEAD = re.compile(r"gate (\w+) (_gate_q_\d+(?:, _gate_q_\d+)*) \{")
_CALL = re.compile(r"(\w+)(?:\(([^()]*)\))? ([^;]+);")
_MEASURE = re.compile(r"c\[(\d+)\] = measure q\[(\d+)\];")
_AND_MEASURE = re.compile(r"and_m = measure q\[(\d+)\];")
_AND_IF = re.compile(r"if \(and_m\) \{ cz q\[(\d+)\], q\[(\d+)\]; x q\[(\d+)\]; \}")


def load_emitted(text: str):
    r"""QuantumCircuit from text in `emit`'s line format — ``gate`` definitions over
    ``_gate_q_k`` arguments, one ``qubit[n] q;`` and ``bit[n] c;``, calls of standard gates or
    defined gates with literal float parameters, final ``c[i] = measure q[i];``, ``//`` comments —
    with one Gate object per definition, shared by all its calls (so memory and time stay linear
    in the text).  None when the text is not in that format (the caller falls back to Qiskit)."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit import Gate
    from qiskit.circuit.library import get_standard_gate_name_mapping

    lines = [ln.strip() for ln in text.splitlines()]
    if not lines or lines[0] != "OPENQASM 3.0;":
        return None
    std = get_standard_gate_name_mapping()
    defined: dict[str, object] = {}
    top = None
    body = None            # (name, circuit) of the definition being read
    arg_index: dict[str, int] = {}
    and_bit = None         # the classical bit of the And† measurements, once declared

    def operation(name: str, params: str | None):
        ps = [float(p) for p in params.split(",")] if params else []
        if name in defined and not ps:
            return defined[name]
        if name in std and name not in ("measure", "reset", "barrier", "delay"):
            proto = std[name]
            if len(proto.params) != len(ps):
                raise ValueError(name)
            return proto.base_class(*ps)
        raise ValueError(name)

    try:
        for ln in lines[1:]:
            if not ln or ln.startswith("//") or ln == 'include "stdgates.inc";':
                continue
            if body is not None:
                if ln == "}":
                    gate = Gate(body[0], body[1].num_qubits, [])
                    gate.definition = body[1]
                    defined[body[0]] = gate
                    body = None
                    continue
                m = _CALL.fullmatch(ln)
                qs = [arg_index[a.strip()] for a in m.group(3).split(",")]
                body[1].append(operation(m.group(1), m.group(2)), qs)
                continue
            m = _GATE_HEAD.fullmatch(ln)
            if m:
                args = [a.strip() for a in m.group(2).split(",")]
                arg_index = {a: i for i, a in enumerate(args)}
                body = (m.group(1), QuantumCircuit(len(args), name=m.group(1)))
                continue
            if top is None:
                m = re.fullmatch(r"bit\[(\d+)\] c;", ln)
                if m:
                    nbits = int(m.group(1))
                    continue
                m = re.fullmatch(r"qubit\[(\d+)\] q;", ln)
                n = int(m.group(1))
                top = QuantumCircuit(QuantumRegister(n, "q"), ClassicalRegister(nbits, "c"))
                continue
            m = _MEASURE.fullmatch(ln)
            if m:
                top.measure(int(m.group(2)), int(m.group(1)))
                continue
            if ln == f"bit {AND_BIT};":
                and_bit = ClassicalRegister(1, AND_BIT)
                top.add_register(and_bit)
                continue
            m = _AND_MEASURE.fullmatch(ln)
            if m:
                top.measure(int(m.group(1)), and_bit[0])
                continue
            m = _AND_IF.fullmatch(ln)
            if m:
                a, b, t = (int(m.group(i)) for i in (1, 2, 3))
                with top.if_test((and_bit[0], 1)):
                    top.cz(a, b)
                    top.x(t)
                continue
            m = _CALL.fullmatch(ln)
            qs = []
            for a in m.group(3).split(","):
                qm = re.fullmatch(r"q\[(\d+)\]", a.strip())
                qs.append(int(qm.group(1)))
            top.append(operation(m.group(1), m.group(2)), qs)
    except (AttributeError, KeyError, ValueError, TypeError, UnboundLocalError, IndexError):
        return None    # not the emitter's format: a regex did not match, an unknown gate, …
    return top if body is None else None


def validate(text: str):
    """Parse with the reference parser (`openqasm3.parse`); return the AST program or raise
    QasmValidationError with the parser's message."""
    import openqasm3

    try:
        return openqasm3.parse(text)
    except Exception as exc:  # the reference parser raises its own QASM3ParsingError
        raise QasmValidationError(f"OpenQASM 3 reference parser rejected the text: {exc}") from exc


def gate_names(text: str) -> set[str]:
    """Names of every gate called in the text (inside gate bodies and at top level), not counting
    `measure`, declarations and `gate` headers; uses the reference parser's AST."""
    import openqasm3.ast as A

    prog = _parsed(text)
    found: set[str] = set()

    def visit(stmts):
        for st in stmts:
            if isinstance(st, A.QuantumGate):
                found.add(st.name.name)
            elif isinstance(st, A.QuantumGateDefinition):
                visit(st.body)

    visit(prog.statements)
    return found


def defined_gates(text: str) -> set[str]:
    """Names of the gates the text defines with `gate NAME ... { }`."""
    import openqasm3.ast as A

    return {st.name.name for st in _parsed(text).statements if isinstance(st, A.QuantumGateDefinition)}


@functools.lru_cache(maxsize=4)
def _parsed(text: str):
    return validate(text)
