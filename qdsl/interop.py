r"""Bridges that keep qdsl's structure: Qiskit, PennyLane, Qualtran, QIR, and a block-level drawing.

Each bridge starts from the circuit the OpenQASM 3 file holds (`to_qiskit`): the named blocks of
the synthesizer (``state_prep``, ``block_encoding``/``block_encoding_dg``, ``zero_flip`` for QSVT;
HHL's ``hhl_*`` blocks) are gates whose definitions are lowered to the native gate set
``x h z s sdg t tdg cx ccx ry rz``, exactly the gates the cost records count. The other bridges
keep these blocks as their own objects:

* `to_pennylane(c)` — a quantum function (like `qml.from_qiskit`'s) in which every named block is
  a PennyLane `Operation` of that name whose `decomposition()` is the block's definition (nested
  blocks stay operations), so `qml.specs`, `qml.to_bloq` and PennyLane's resource estimator see
  the blocks; PennyLane's wire k is Qiskit's qubit k.
* `to_qualtran(c)` — a Qualtran `Bloq` for the whole program whose decomposition holds one `Bloq`
  per top-level block (`QdslBlock`), each carrying the cost record that qdsl's synthesizer
  computed for it (`synthesis.blocks.cost.Cost`); Qualtran's `QECGatesCost` of the program then
  sums those records over the calls, which must equal `qdsl resources`' count of the file. The
  blocks also decompose, gate by gate, into Qualtran's basic gates.
* `to_qir(c)` — QIR (LLVM text) of the emitted file, compiled by Microsoft's QDK
  (`qdk.openqasm.compile`).

PennyLane, Qualtran and the QDK are optional (`pip install 'qdsl-compiler[pennylane]'`, `'qdsl[qualtran]'`,
`'qdsl[qdk]'`); without them the bridge raises a `CompileError` (E0805) naming the extra.
"""
from __future__ import annotations

from .diagnostics import CompileError, Diagnostic

__all__ = ["to_qiskit", "to_pennylane", "to_qualtran", "to_qir", "draw", "block_costs",
           "qdsl_statevector", "state_overlap"]

#: the gates every emitted block is built from (`backends.qasm3.NATIVE_BASIS`)
_NATIVE = ("x", "h", "z", "s", "sdg", "t", "tdg", "cx", "ccx", "ry", "rz")
#: the gates a file may hold: the native ones and, for `--basis clifford+t`, y
_LEAF = _NATIVE + ("y",)


def _missing(extra: str, what: str, module: str) -> CompileError:
    return CompileError(Diagnostic(
        "E0805", f"{what} needs the optional package `{module}`, which is not installed",
        help=f"pip install 'qdsl-compiler[{extra}]'"))


# ---------------------------------------------------------------------------------------------
# Qiskit
# ---------------------------------------------------------------------------------------------

def to_qiskit(c, *, flatten: bool = False, measure: bool = False):
    """The circuit of `c`'s OpenQASM 3 file as a `qiskit.QuantumCircuit`, one register `q`.

    `flatten=False` (the default) keeps every named block as a gate with its definition (what
    the file's `gate` definitions say; `circuit.draw()` and `circuit.count_ops()` show blocks);
    `flatten=True` inlines them all, leaving only native gates. `measure=True` keeps the file's
    final measurements."""
    from .backends.qasm3 import load

    qc = load(c.qasm)
    if not measure:
        qc = qc.remove_final_measurements(inplace=False)
    return _flatten(qc) if flatten else qc


def _flatten(qc):
    """`qc` with every non-native gate replaced by its definition, recursively."""
    from qiskit import QuantumCircuit

    out = QuantumCircuit(*qc.qregs, *qc.cregs)

    def emit(circ, qmap, cmap):
        for inst in circ.data:
            op = inst.operation
            qs = [qmap[circ.find_bit(q).index] for q in inst.qubits]
            cs = [cmap[circ.find_bit(b).index] for b in inst.clbits]
            if op.name in _LEAF or op.name in ("measure", "barrier") or op.definition is None:
                out.append(op, [out.qubits[i] for i in qs], [out.clbits[i] for i in cs])
            else:
                emit(op.definition, qs, cs)

    emit(qc, list(range(qc.num_qubits)), list(range(qc.num_clbits)))
    return out


def qdsl_statevector(c):
    """The full final state of `c`'s circuit by qdsl's own simulator (`backends.qiskit_sim`, the
    simulator `qdsl run` uses) on the emitted file loaded back: a dense numpy vector, index
    k = Σ_b bit(q_b)·2^b (Qiskit's order). Refuses over the simulator's qubit limit."""
    import numpy as np

    from .backends.qasm3 import load
    from .backends.qiskit_sim import _numpy_statevector, max_qubits

    qc = load(c.qasm).remove_final_measurements(inplace=False)
    if qc.num_qubits > max_qubits():
        from .diagnostics import SizeLimitError
        raise SizeLimitError(Diagnostic("E0501", f"{qc.num_qubits} qubits is over the dense simulator's "
                                                 f"limit of {max_qubits()}",
                                        help="set QDSL_MAX_QUBITS to raise it"))
    return np.asarray(_numpy_statevector(qc), dtype=complex)


def state_overlap(a, b) -> float:
    """|⟨a|b⟩| / (‖a‖·‖b‖): 1 when the two states agree up to a global phase."""
    import numpy as np

    a = np.asarray(a, dtype=complex).ravel()
    b = np.asarray(b, dtype=complex).ravel()
    return float(abs(np.vdot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------------------------------------
# block costs (from the synthesizer's cost functions)
# ---------------------------------------------------------------------------------------------

def block_costs(c) -> dict:
    """{block name: Cost} for the named blocks at the top of `c`'s circuit, each from the cost
    function the synthesizer built it from (`synthesis.qsvt`: the state preparation, the
    block-encoding of L and its inverse, the projector's zero-controlled X), plus one record per
    native gate kind. QSVT programs only: HHL's blocks are counted from their circuits, not
    described by cost functions (E0806)."""
    from .synthesis.blocks.cost import Cost

    if c.solver != "qsvt":
        raise CompileError(Diagnostic(
            "E0806", f"the Qualtran bridge wraps QSVT programs; this model's solver is {c.solver}",
            file=c.source.name,
            help="compile with --solver qsvt (HHL's blocks are counted from their circuits, not "
                 "described by cost records)"))
    if c.options.gate_basis != "native":
        raise CompileError(Diagnostic(
            "E0806", "the Qualtran bridge carries the native blocks' cost records; this compilation "
                     f"emits the {c.options.gate_basis} basis", file=c.source.name,
            help="compile with gate_basis=\"native\" (Qualtran's QECGatesCost then counts the "
                 "Toffolis and rotations that the Clifford+T file expands)"))
    from .synthesis.qsvt import _zero_flip_cost, state_preparation

    enc = c.encoding
    _, _, prep = state_preparation(c.linear_system, enc)
    costs = {"state_prep": prep, "block_encoding": enc.cost, "block_encoding_dg": enc.cost,
             "zero_flip": _zero_flip_cost(len(enc.ancillas), len(enc.temporaries))}
    costs.update({g: Cost({g: 1}) for g in _NATIVE})
    return costs


# ---------------------------------------------------------------------------------------------
# PennyLane
# ---------------------------------------------------------------------------------------------

_PL_NATIVE = {  # qiskit name → (PennyLane operation factory, number of parameters)
    "x": ("PauliX", 0), "y": ("PauliY", 0), "h": ("Hadamard", 0), "z": ("PauliZ", 0), "s": ("S", 0),
    "sdg": ("S†", 0), "t": ("T", 0), "tdg": ("T†", 0), "cx": ("CNOT", 0), "ccx": ("Toffoli", 0),
    "ry": ("RY", 1), "rz": ("RZ", 1),
}


def _pl_native(qml, name, params, wires):
    kind, _ = _PL_NATIVE[name]
    if kind == "S†":
        return qml.adjoint(qml.S(wires=wires))
    if kind == "T†":
        return qml.adjoint(qml.T(wires=wires))
    op = getattr(qml, kind)
    return op(*[float(p) for p in params], wires=wires)


def _pl_classes(qml):
    """The Operation base of qdsl blocks (created once per PennyLane import)."""
    global _PL_BASE
    if _PL_BASE is not None:
        return _PL_BASE

    class QdslBlock(qml.operation.Operation):
        """A qdsl block: its name is the block's; `decomposition()` is its definition (native
        gates and nested blocks). `hyperparameters["definition"]` is the Qiskit definition."""
        num_params = 0
        grad_method = None

        def __init__(self, wires, definition, id=None):
            self._hyperparameters = {"definition": definition}
            super().__init__(wires=wires, id=id)

        @staticmethod
        def compute_decomposition(wires, definition):
            return _pl_ops(qml, definition, list(wires))

        def _flatten(self):
            return (), (self.wires, (("definition", self.hyperparameters["definition"]),))

        @classmethod
        def _unflatten(cls, data, metadata):
            return cls(metadata[0], dict(metadata[1])["definition"])

    _PL_BASE = QdslBlock
    return QdslBlock


_PL_BASE = None
_PL_TYPES: dict = {}


def _pl_block_type(qml, name: str):
    """The Operation subclass named `name` (one class per block name, so PennyLane's counts by
    operation name show the blocks)."""
    base = _pl_classes(qml)
    t = _PL_TYPES.get(name)
    if t is None:
        t = type(name, (base,), {"__doc__": f"qdsl block `{name}` (see qdsl.interop)",
                                 "__module__": __name__})
        _PL_TYPES[name] = t
    return t


def _pl_ops(qml, circ, wires):
    ops = []
    for inst in circ.data:
        op = inst.operation
        w = [wires[circ.find_bit(q).index] for q in inst.qubits]
        if op.name in _PL_NATIVE:
            ops.append(_pl_native(qml, op.name, op.params, w))
        elif op.name == "barrier":
            continue
        elif op.definition is not None:
            ops.append(_pl_block_type(qml, op.name)(w, op.definition))
        else:  # pragma: no cover - the emitter writes native gates and defined blocks only
            raise ValueError(f"gate `{op.name}` is neither native nor defined")
    return ops


def to_pennylane(c):
    """A PennyLane quantum function (no arguments; it queues the operations, as
    `qml.from_qiskit`'s does) of `c`'s circuit with every named block a PennyLane `Operation` of
    that name whose decomposition is the block's definition. Wire k is Qiskit's qubit k (so
    `default.qubit`'s state is indexed with qubit 0 as the *most* significant bit, the reverse of
    Qiskit's). `fn.wires` lists the wires; `fn.operations()` builds the top-level operations."""
    try:
        import pennylane as qml
    except ImportError:
        raise _missing("pennylane", "c.to_pennylane()", "pennylane") from None
    qc = to_qiskit(c)
    n = qc.num_qubits

    def operations():
        with qml.QueuingManager.stop_recording():
            return _pl_ops(qml, qc, list(range(n)))

    def qfunc():
        for op in operations():
            qml.apply(op)

    qfunc.wires = list(range(n))
    qfunc.operations = operations
    qfunc.__name__ = f"qdsl_{c.model.name}"
    return qfunc


# ---------------------------------------------------------------------------------------------
# Qualtran
# ---------------------------------------------------------------------------------------------

_QT = None


def _qualtran_classes():
    """QdslBlock and QdslProgram as Qualtran bloqs (built once, after Qualtran is imported)."""
    global _QT
    if _QT is not None:
        return _QT
    import attrs
    import numpy as np
    from qualtran import Bloq, QBit, Register, Signature
    from qualtran.bloqs import basic_gates as bg
    from qualtran.resource_counting import GateCounts, QECGatesCost

    def native_bloq(name, params):
        if name == "x":
            return bg.XGate()
        if name == "y":
            return bg.YGate()
        if name == "h":
            return bg.Hadamard()
        if name == "z":
            return bg.ZGate()
        if name in ("s", "sdg"):
            return bg.SGate(is_adjoint=name == "sdg")
        if name in ("t", "tdg"):
            return bg.TGate(is_adjoint=name == "tdg")
        if name == "cx":
            return bg.CNOT()
        if name == "ccx":
            return bg.Toffoli()
        if name == "ry":
            return bg.Ry(float(params[0]))
        if name == "rz":
            return bg.Rz(float(params[0]))
        raise ValueError(name)

    def add_circuit(bb, circ, qs):
        """Add `circ`'s instructions on the soquets `qs` (a list, updated in place)."""
        for inst in circ.data:
            op = inst.operation
            idx = [circ.find_bit(q).index for q in inst.qubits]
            if op.name == "barrier":
                continue
            if op.name in _LEAF:
                b = native_bloq(op.name, op.params)
                if op.name in ("cx",):
                    out = bb.add(b, ctrl=qs[idx[0]], target=qs[idx[1]])
                    qs[idx[0]], qs[idx[1]] = out
                elif op.name == "ccx":
                    ctrl, tgt = bb.add(b, ctrl=np.array([qs[idx[0]], qs[idx[1]]]), target=qs[idx[2]])
                    qs[idx[0]], qs[idx[1]], qs[idx[2]] = ctrl[0], ctrl[1], tgt
                else:
                    qs[idx[0]] = bb.add(b, q=qs[idx[0]])
            else:
                blk = QdslBlock(name=op.name, n=len(idx), cost=None, definition=op.definition)
                out = bb.add(blk, q=np.array([qs[i] for i in idx]))
                for j, i in enumerate(idx):
                    qs[i] = out[j]

    def qec_counts(cost) -> GateCounts:
        """A qdsl Cost record as Qualtran's QEC gate counts: t/tdg → t, ccx → toffoli, ry/rz →
        rotation, x h z s sdg cx → clifford."""
        return GateCounts(t=int(cost["t"] + cost["tdg"]), toffoli=int(cost["ccx"]),
                          rotation=int(cost["ry"] + cost["rz"]),
                          clifford=int(sum(cost[g] for g in ("x", "h", "z", "s", "sdg", "cx"))))

    @attrs.frozen
    class QdslBlock(Bloq):
        """One qdsl block on `n` qubits (register `q`, shape (n,)). `cost`: the synthesizer's
        cost record (a qdsl `Cost`), given as Qualtran's `QECGatesCost` (static costs); without
        one (blocks nested inside a block) Qualtran counts the decomposition. `definition`: the
        block's Qiskit circuit, its decomposition into Qualtran's basic gates."""
        name: str
        n: int
        params: tuple = ()
        cost: object = attrs.field(default=None, eq=False, hash=False, repr=False)
        definition: object = attrs.field(default=None, eq=False, hash=False, repr=False)

        @property
        def signature(self):
            return Signature([Register("q", QBit(), shape=(self.n,))])

        def build_composite_bloq(self, bb, q):
            if self.definition is None:
                from qualtran import DecomposeTypeError
                raise DecomposeTypeError(f"{self.name} carries no definition")
            qs = list(q)
            add_circuit(bb, self.definition, qs)
            return {"q": np.array(qs)}

        def my_static_costs(self, cost_key):
            if self.cost is not None and isinstance(cost_key, QECGatesCost):
                return qec_counts(self.cost)
            return NotImplemented

        def __str__(self):
            return self.name

        def wire_symbol(self, reg, idx=tuple()):
            from qualtran.drawing import Text, TextBox
            if reg is None:
                return Text(self.name)
            return TextBox(self.name if idx == (0,) or not idx else "")

    @attrs.frozen
    class QdslProgram(Bloq):
        """A whole qdsl program on `n` qubits (register `q`, shape (n,), Qiskit's qubit order);
        its decomposition is the top level of the circuit, each instruction a `QdslBlock` with
        its cost record (a native gate at the top is a block of one gate)."""
        name: str
        n: int
        circuit: object = attrs.field(eq=False, hash=False, repr=False)
        costs: object = attrs.field(eq=False, hash=False, repr=False)

        @property
        def signature(self):
            return Signature([Register("q", QBit(), shape=(self.n,))])

        def build_composite_bloq(self, bb, q):
            qs = list(q)
            circ = self.circuit
            for inst in circ.data:
                op = inst.operation
                idx = [circ.find_bit(x).index for x in inst.qubits]
                params = ()
                definition = op.definition
                if op.name in _NATIVE:
                    # a native gate at the top (QSVT's phases on r): a block of one gate, so
                    # that it is counted by qdsl's record too (every rz a rotation, whatever
                    # its angle), and decomposes into Qualtran's basic gate
                    params = tuple(float(x) for x in op.params)
                    definition = type(circ)(len(idx))
                    definition.append(op, list(range(len(idx))))
                blk = QdslBlock(name=op.name, n=len(idx), params=params, cost=self.costs[op.name],
                                definition=definition)
                out = bb.add(blk, q=np.array([qs[i] for i in idx]))
                for j, i in enumerate(idx):
                    qs[i] = out[j]
            return {"q": np.array(qs)}

        def __str__(self):
            return f"qdsl:{self.name}"

    _QT = {"QdslBlock": QdslBlock, "QdslProgram": QdslProgram, "qec_counts": qec_counts}
    return _QT


def to_qualtran(c):
    """`c`'s program as a Qualtran `Bloq` (`QdslProgram`): its decomposition is the top level of
    the circuit, each named block a `QdslBlock` whose `QECGatesCost` is qdsl's own cost record of
    that block (`block_costs`), so `get_cost_value(bloq, QECGatesCost())` adds the blocks' records
    over their calls. QSVT programs (E0806 otherwise); needs `pip install 'qdsl-compiler[qualtran]'`."""
    try:
        import qualtran  # noqa: F401
    except ImportError:
        raise _missing("qualtran", "c.to_qualtran()", "qualtran") from None
    costs = block_costs(c)
    qc = to_qiskit(c)
    unknown = sorted({i.operation.name for i in qc.data} - set(costs) - {"barrier"})
    if unknown:
        from .diagnostics import InternalError
        raise InternalError(f"blocks without a cost record at the top of the circuit: {unknown}")
    prog = _qualtran_classes()["QdslProgram"](name=c.model.name, n=qc.num_qubits, circuit=qc,
                                              costs=costs)
    return prog


# ---------------------------------------------------------------------------------------------
# QIR (Microsoft's QDK)
# ---------------------------------------------------------------------------------------------

#: the most gates `to_qir` compiles: the QDK inlines every gate definition, one QIR call (≈ 115
#: bytes of text, ≈ 20 µs) per gate — 2·10⁶ gates are ≈ 230 MB and under a minute
QIR_MAX_GATES = 2_000_000


def to_qir(c, *, profile: str = "base") -> str:
    """QIR (LLVM text) of `c`'s OpenQASM 3 file, compiled by Microsoft's QDK
    (`qdk.openqasm.compile`; `pip install 'qdsl-compiler[qdk]'`). `profile`: the QIR target profile,
    "base" (default: gates and final measurements, what every QIR target takes), "adaptive_ri" or
    "adaptive_rif". QIR holds every gate inlined: programs over `QIR_MAX_GATES` gates are refused
    up front (E0807, exit 3)."""
    profiles = {"base": "Base", "adaptive_ri": "Adaptive_RI", "adaptive_rif": "Adaptive_RIF"}
    if profile not in profiles:
        raise ValueError(f"unknown QIR profile {profile!r}: use " + ", ".join(profiles))
    try:
        from qdk import TargetProfile
        from qdk.openqasm import compile as qdk_compile
    except ImportError:
        raise _missing("qdk", "QIR output (--emit qir)", "qdk") from None
    gates = sum(c.emitted.counts.values())
    if gates > QIR_MAX_GATES:
        from .diagnostics import SizeLimitError
        raise SizeLimitError(Diagnostic(
            "E0807", f"QIR inlines every gate: this program is {gates:,} gates "
                     f"(limit {QIR_MAX_GATES:,}, about {gates * 115 / 1e9:.1f} GB of QIR)",
            file=c.source.name,
            help="lower the steps, the Carleman order or eps (HHL: the clock), or keep the OpenQASM 3 "
                 "file, whose gate definitions are not expanded (--emit qasm)"))
    try:
        prog = qdk_compile(c.qasm, name=_qir_name(c.model.name),
                           target_profile=getattr(TargetProfile, profiles[profile]))
    except Exception as exc:  # the QDK rejected the file: its message, as a diagnostic
        raise CompileError(Diagnostic(
            "E0808", f"Microsoft's QDK could not compile the emitted OpenQASM 3 to QIR: "
                     f"{' '.join(str(exc).split())[:400]}", file=c.source.name,
            help="this is a bug in qdsl or the QDK; the .qasm file (--emit qasm) is unaffected")) from None
    return str(prog)


def _qir_name(name: str) -> str:
    import re
    s = re.sub(r"\W", "_", name)
    return s if s and not s[0].isdigit() else f"m_{s}"


# ---------------------------------------------------------------------------------------------
# block-level drawing
# ---------------------------------------------------------------------------------------------

def skeleton(c):
    """The block-level skeleton of `c`'s circuit: a Qiskit circuit with one wire per register
    (system, flags, temporaries, and QSVT's phase qubit r — each wire labelled with its size) and
    one box per block, the QSVT sequence shown by its first period (zero_flip, rz, zero_flip, a
    block-encoding call), one box for the d − 1 periods after it, and its end. For HHL the top-level blocks, runs of the same block collapsed."""
    from qiskit import QuantumCircuit, QuantumRegister
    from qiskit.circuit import Gate

    p = c.program
    n = p.num_qubits
    system = list(p.system_qubits)
    if p.solver == "qsvt":
        enc = c.encoding
        groups = [("sys", system), ("flags", list(enc.ancillas)), ("tmp", list(enc.temporaries)),
                  ("r", [int(p.meta["qsvt_ancilla"])])]
    else:
        lay = p.meta.get("layout", {})
        clock = list(lay.get("clock", []))
        flag = [lay["flag"]] if lay.get("flag") is not None else []
        rest = [q for q in range(n) if q not in set(system) | set(clock) | set(flag)]
        groups = [("sys", system), ("clock", clock), ("flag", flag), ("anc", rest)]
    groups = [(g, qs) for g, qs in groups if qs]
    regs = [QuantumRegister(1, f"{g}[{len(qs)}]" if len(qs) > 1 else g) for g, qs in groups]
    where = {q: k for k, (_, qs) in enumerate(groups) for q in qs}
    sk = QuantumCircuit(*regs, name=f"{c.model.name} ({p.solver})")

    def box(label, qubits):
        ks = sorted({where[q] for q in qubits})
        sk.append(Gate(label, len(ks), []), [regs[k][0] for k in ks])

    top = to_qiskit(c)
    items = []
    for inst in top.data:
        op = inst.operation
        qs = [top.find_bit(q).index for q in inst.qubits]
        items.append((op.name, qs))
    if p.solver == "qsvt":
        # the top level: [state_prep] h rz, then for k = d..1: zero_flip rz zero_flip (U† or U),
        # then zero_flip rz zero_flip h — shown as the first period, one box for the d − 1
        # periods after it, and the end
        head = 3 if items and items[0][0] == "state_prep" else 2
        period = 4
        body = items[head:-4]
        for lab, qs in items[:head] + body[:period]:
            box(lab, qs)
        rest = body[period:]
        if rest:
            box(f"×{len(rest) // period} (zero_flip·rz·zero_flip·U/U†)",
                sorted({q for _, qs in rest for q in qs}))
        for lab, qs in items[-4:]:
            box(lab, qs)
    else:
        # HHL: runs of one block family on the same registers (the controlled walk powers
        # hhl_cwalk_p0..p8, …) as one box
        import re

        def family(lab, qs):
            return re.sub(r"\d+$", "", lab), frozenset(where[q] for q in qs)

        run = []
        for lab, qs in items + [(None, [])]:
            if run and (lab is None or family(lab, qs) != family(*run[0])):
                name = run[0][0] if len(run) == 1 else f"{run[0][0]}…{run[-1][0][len(family(*run[0])[0]):]}"
                box(name, sorted({q for _, x in run for q in x}))
                run = []
            if lab is not None:
                run.append((lab, qs))
    return sk


def draw(c, output: str = "text", fold: int = 120, **kwargs):
    """The block-level drawing of `c`'s circuit (`skeleton`): Qiskit's drawer on one wire per
    register and one box per block, `fold` columns wide ("text": a `TextDrawing` whose str fits
    in `fold` columns; "mpl": a matplotlib Figure)."""
    return skeleton(c).draw(output=output, fold=fold, **kwargs)
