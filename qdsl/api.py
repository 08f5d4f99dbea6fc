"""The Python front door: `qdsl.compile(...)` and friends, thin over the stages.

    SourceFile → ast.Module → CheckedModel → PolynomialSystem → CarlemanSystem → LinearSystem →
    QuantumProgram → (OpenQASM 3 | SimulationResult | report)

Every stage is computed lazily the first time it is asked for and then kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from .diagnostics import CompileError, Diagnostic
from .source import SourceFile


@dataclass(frozen=True)
class Options:
    """What the CLI flags and `compile(...)` keywords may override in the file."""
    model: str | None = None
    order: int | None = None
    basis: str | None = None
    steps: int | None = None
    solver: str | None = None
    eps: float | None = None
    clock: int | None = None
    idle: int | None = None
    values: tuple = ()          # (name, value) pairs from --set
    gate_basis: str = "native"  # native | clifford+t
    block_encoding: str | None = None  # structured | sparse-access | dense (default by basis)
    uncompute: str = "auto"     # auto | measure | toffoli (QSVT's temporary ANDs, synthesis.qsvt)


def load_source(path=None, source: str | None = None, name: str | None = None) -> SourceFile:
    """A SourceFile from a path or from text; unreadable paths become E0207 diagnostics."""
    if source is not None:
        return SourceFile(name or "<source>", source.removeprefix("\ufeff"), Path.cwd())
    p = Path(path)
    if not p.exists():
        raise CompileError(Diagnostic("E0207", f"no such file: {path}", file=str(path),
                                      help="check the path (it is relative to the working directory)"))
    if p.is_dir():
        raise CompileError(Diagnostic("E0207", f"{path} is a directory, not a .qd file", file=str(path)))
    try:
        return SourceFile.from_path(p)
    except OSError as exc:
        raise CompileError(Diagnostic("E0207", f"cannot read {path}: {exc.strerror}", file=str(path)))


class Compilation:
    """One model of one source file, carried through the stages on demand (docs/api.md)."""

    def __init__(self, source: SourceFile, options: Options = Options(), *, api: bool = True):
        from .options import validate
        self.source = source
        self.options = validate(options, api=api)   # one validation path for CLI and API

    # -- front end -----------------------------------------------------------------------------
    @cached_property
    def module(self):
        from .syntax.parser import parse
        return parse(self.source)

    @cached_property
    def model(self):
        """The CheckedModel (names, shapes, statements verified)."""
        from .semantics.model import check_model, select_model
        decl = select_model(self.module, self.source, self.options.model)
        return check_model(decl, self.source)

    @property
    def values(self) -> dict:
        vals = dict(self.options.values)
        m = self.model
        for name in vals:
            if name not in m.symbols:
                from .diagnostics import did_you_mean
                what = "a constant with a fixed value" if name in m.consts else "not a symbolic constant"
                raise CompileError(Diagnostic("E0215", f"--set {name}: `{name}` is {what} of model `{m.name}`",
                                              file=self.source.name,
                                              help=did_you_mean(name, m.symbols) or
                                              (f"the symbolic constants are {', '.join(m.symbols)}" if m.symbols
                                               else "the model declares no `const NAME in (LO, HI)`")))
        return vals

    def _require_values(self):
        missing = [s for s in self.model.symbols if s not in self.values]
        if missing:
            info = self.model.symbols[missing[0]]
            raise CompileError(Diagnostic(
                "E0215", f"the symbolic constant `{missing[0]}` needs a value here",
                info.span, help=f"pass --set {missing[0]}=VALUE with VALUE in {info.describe()} "
                                f"(`qdsl check` tells which values keep training dissipative)"))

    @cached_property
    def system(self):
        """The PolynomialSystem (symbolic constants must have values; see `certificate`)."""
        self._require_values()
        from .semantics.derive import derive
        return derive(self.model, self.values, steps=self.options.steps)

    @cached_property
    def certificate(self):
        """The certificate of docs/maths.md (symbolic constants without values are solved for)."""
        from .semantics.certificate import certify
        from .semantics.derive import derive
        vals = self.values
        open_syms = {k: v for k, v in self.model.symbols.items() if k not in vals}
        mid = {k: _midpoint(v) for k, v in open_syms.items()}
        system = derive(self.model, {**vals, **mid}, steps=self.options.steps) if open_syms else self.system
        if open_syms:
            system.meta["evaluated_at"] = {k: float(v) for k, v in mid.items()}
        return certify(system, self.model, values=vals, carleman_order=self.order, basis=self.basis,
                       steps=self.options.steps)

    # -- lowering --------------------------------------------------------------------------------
    @property
    def order(self) -> int:
        return self.options.order or self.model.carleman_order

    @property
    def basis(self) -> str:
        return self.options.basis or self.model.basis

    @cached_property
    def carleman(self):
        """The CarlemanSystem (transfer matrix with the constant component first)."""
        from .lowering.carleman import carleman
        return carleman(self.system, self.order, self.basis)

    @property
    def idle(self) -> int:
        if self.options.idle is not None:
            return self.options.idle
        return int(self._solver_arg("idle", 0))

    @cached_property
    def linear_system(self):
        """The history-state LinearSystem L·Y = B."""
        from .lowering.history import history_system
        return history_system(self.carleman, self.system.dynamics.steps, self.idle)

    # -- synthesis -------------------------------------------------------------------------------
    @property
    def solver(self) -> str:
        if self.options.solver:
            return self.options.solver
        s = self.model.solver
        return s.kind if s is not None else "qsvt"

    def _solver_arg(self, name, default=None):
        s = self.model.solver
        if s is None:
            return default
        for a in s.args:
            if a.name == name:
                from .semantics.derive import ConstEvaluator
                return ConstEvaluator(self.model.consts, self.model.data, self.values).eval(a.value)
        return default

    @cached_property
    def program(self):
        """The QuantumProgram (circuit + readout) of the chosen solver."""
        solver = self.solver
        if solver == "classical":
            raise CompileError(Diagnostic("E0501", "the model's solver is `classical`: there is no circuit",
                                          self.model.solver.span if self.model.solver else None,
                                          help="compile with --solver qsvt or --solver hhl"))
        if solver == "hhl":
            from .synthesis.hhl import dense_fits, synthesize_hhl
            clock = self.options.clock or self._solver_arg("clock")
            kw = {}
            eps = self.options.eps or self._solver_arg("eps")
            if eps is not None:
                kw["eps"] = float(eps)
            kw["clock"] = int(clock) if clock else None
            # the model's eps is the contract and its clock a floor; a clock passed as an option
            # (--clock, compile(clock=)) is kept exactly, with W0502 when eps needs more
            kw["clock_is_minimum"] = self.options.clock is None
            # HHL's phase estimation multiplies what a simulator carries by 2^clock, so small
            # systems keep the dense dilation of L (exact, few qubits) and larger ones get the
            # construction of `--block-encoding` (structured)
            if self.options.block_encoding is None and dense_fits(self.linear_system):
                return synthesize_hhl(self.linear_system, **kw)
            return synthesize_hhl(self.linear_system, block_encoding=self.encoding, **kw)
        if solver == "qsvt":
            from .synthesis.qsvt import synthesize_qsvt
            eps = self.options.eps or self._solver_arg("eps")
            kw = {"eps": float(eps)} if eps is not None else {}
            self.guard_build()   # E0508 from the cost functions, before the history is assembled
            return synthesize_qsvt(self.linear_system, self.encoding,
                                   measured_encoding=self._measured_encoding,
                                   uncompute=self.options.uncompute, **kw)
        raise CompileError(Diagnostic("E0213", f"unknown solver `{solver}`", file=self.source.name,
                                      help="use qsvt, hhl or classical"))

    @property
    def construction(self) -> str:
        """The block-encoding construction: `--block-encoding`, else "structured" for the
        Kronecker basis and "sparse-access" for the symmetric one."""
        c = self.options.block_encoding
        if c is None:
            return "structured" if self.basis == "kronecker" else "sparse-access"
        if c not in CONSTRUCTIONS:
            raise CompileError(Diagnostic("E0511", f"unknown block-encoding construction `{c}`",
                                          file=self.source.name,
                                          help="use structured, sparse-access or dense"))
        if c == "structured" and self.basis != "kronecker":
            raise CompileError(Diagnostic(
                "E0511", "the structured block-encoding is built on the Kronecker slots; this model "
                         f"uses the {self.basis} basis", file=self.source.name,
                help="use --block-encoding sparse-access (M's own nonzeros) or dense"))
        return c

    @cached_property
    def encoding(self):
        """The block-encoding of the history matrix L (a `synthesis.blocks.base.BlockEncoding`)."""
        c = self.construction
        self.guard_build()
        ls = self.linear_system
        if c == "structured":
            from .synthesis.structured import structured_history
            return structured_history(self.system, ls, self.order, factors=self.__dict__.get("_factors"))
        if c == "sparse-access":
            from .synthesis.structured import sparse_access_history
            return sparse_access_history(ls)
        from .synthesis.block_encoding import dense_history
        eps = self.options.eps or self._solver_arg("eps")
        return dense_history(ls, **({"eps": float(eps)} if eps is not None else {}))

    def guard_build(self) -> None:
        """Refuse (SizeLimitError E0508, exit 3) a block-encoding over the build limit before the
        history system is assembled (`synthesis.structured.guard_build`): the structured
        construction from its cost functions without the Carleman lift, the sparse-access one from
        the lift's nonzeros. A dense extraction used to be refused only after minutes of assembly."""
        c = self.construction
        if c in ("structured", "sparse-access") and "_factors" not in self.__dict__:
            from .lowering.carleman import _limits, carleman_dimension
            from .lowering.history import guard_history
            from .synthesis.structured import guard_build
            # the cost functions walk the T steps: a history over the dimension limit (exact, from
            # the sizes) is refused first, as assembling it would be (E0402)
            T, D = self.system.dynamics.steps, carleman_dimension(self.system.n, self.order, self.basis)
            if (T + 1 + self.idle) * D > _limits(None, None)[0]:
                guard_history(T, self.idle, D, 0)
            self.__dict__["_factors"] = guard_build(
                self.system, self.order, T, self.idle, c,
                self.carleman if c == "sparse-access" else None)

    @property
    def history_size(self):
        """The size of the history-state system — `dim`, `nnz`, `bytes` of its CSR arrays — from
        the Carleman lift, before the system is assembled (`lowering.history.history_size`)."""
        from .lowering.history import history_size
        return history_size(self.carleman.matrices, self.system.dynamics.steps, self.idle)

    def _measured_encoding(self):
        """The block-encoding rebuilt with measured uncomputation (And†; QSVT uses it where the
        file stays small, synthesis.qsvt.INLINE_FACTOR); blocks are built with Toffoli
        uncomputation by default (blocks/and_gate.py)."""
        from .synthesis.blocks.and_gate import measurement_uncompute

        with measurement_uncompute():
            return type(self).encoding.func(self)

    @property
    def circuit(self):
        """The qiskit.QuantumCircuit (no measurements)."""
        return self.program.circuit

    @cached_property
    def emitted(self):
        from .backends.qasm3 import emit_with_info
        return emit_with_info(self.program, basis=self.options.gate_basis)

    @property
    def qasm(self) -> str:
        """OpenQASM 3 text (one `qubit[n] q;`, final measurements, deterministic)."""
        return self.emitted.text

    @cached_property
    def report(self) -> dict:
        """The report of docs/cli.md."""
        from .report import build_report
        return build_report(self)

    def run(self, backend: str = "statevector", shots: int | None = None, seed: int | None = None,
            from_qasm: bool = True, readout: str | None = None, theta="T",
            max_seconds: float | None = None, max_memory: float | None = None, announce: bool = False):
        """Simulate the compiled circuit (by default: the emitted OpenQASM 3, loaded back), decode
        θ_t by the readout contract and verify it (`qdsl.verification`): with `shots`, the
        signed-readout circuits for `theta` ("T", "all" or a step) run beside it. The simulation
        is predicted first and refused (SizeLimitError, E0530/E0531) over `max_seconds` or
        `max_memory` bytes (default: half the available memory); `announce` prints the prediction
        on stderr."""
        from .run import run_compilation
        return run_compilation(self, backend=backend, shots=shots, seed=seed, from_qasm=from_qasm,
                               readout=readout, theta=theta, max_seconds=max_seconds,
                               max_memory=max_memory, announce=announce)

    def simulate(self, orders=None):
        """Classical: the true trajectory beside the Carleman trajectory of each order ≤ N."""
        from .lowering.simulate import simulate
        res = simulate(self.system, self.order, self.basis, idle=self.idle, orders=orders)
        from .run import as_written
        written = as_written(self)
        if written is None:
            return res
        if written.get("trajectory") is not None:
            import numpy as np
            with np.errstate(invalid="ignore"):
                errs = {N: float(np.max(np.abs(traj - written["trajectory"]))) for N, traj in res.carleman.items()}
            written["carleman_errors"] = {N: (v if np.isfinite(v) else None) for N, v in errs.items()}
            written.pop("carleman_error", None)
        return replace(res, as_written=written)

    # -- interop and notebooks (qdsl.interop, qdsl.display) ---------------------------------------
    def to_qiskit(self, flatten: bool = False, measure: bool = False):
        """The circuit of the OpenQASM 3 file as a qiskit.QuantumCircuit: named blocks kept as
        gates with their definitions (`flatten=True`: native gates only); `measure=True` keeps
        the final measurements."""
        from .interop import to_qiskit
        return to_qiskit(self, flatten=flatten, measure=measure)

    def to_pennylane(self):
        """A PennyLane quantum function with every named block a PennyLane Operation
        (`pip install 'qdsl-compiler[pennylane]'`; qdsl.interop.to_pennylane)."""
        from .interop import to_pennylane
        return to_pennylane(self)

    def to_qualtran(self):
        """The program as a Qualtran Bloq whose blocks carry qdsl's cost records
        (`pip install 'qdsl-compiler[qualtran]'`; qdsl.interop.to_qualtran)."""
        from .interop import to_qualtran
        return to_qualtran(self)

    def to_qir(self, profile: str = "base") -> str:
        """QIR (LLVM text) of the emitted file by Microsoft's QDK (`pip install 'qdsl-compiler[qdk]'`)."""
        from .interop import to_qir
        return to_qir(self, profile=profile)

    def draw(self, output: str = "text", fold: int = 120, **kwargs):
        """The block-level drawing of the circuit (the QSVT skeleton with named blocks, one wire
        per register), `fold` columns wide: "text" or "mpl" (a matplotlib Figure)."""
        from .interop import draw
        return draw(self, output=output, fold=fold, **kwargs)

    def summary_rows(self) -> list:
        """(label, value) rows of what has been computed so far (nothing is computed here)."""
        done = self.__dict__
        rows = [("source", self.source.name)]
        if "model" in done:
            rows.append(("model", self.model.name))
        if "system" in done:
            s = self.system
            rows.append(("system", f"{s.kind}, n = {s.n}, degree {s.degree}, T = {s.dynamics.steps}"))
        if "carleman" in done:
            rows.append(("Carleman", f"order {self.order}, {self.basis}, dimension {self.carleman.dim}"))
        if "linear_system" in done:
            ls = self.linear_system
            rows.append(("history system", f"dimension {ls.dim}, κ = {ls.kappa:.4g} ({ls.kappa_method})"))
        if "program" not in done:
            rows.append(("circuit", "not built yet (c.program, c.qasm or c.run() build it)"))
            return rows
        p = self.program
        rows.append(("solver", p.solver))
        rows.append(("qubits", f"{p.num_qubits} ({len(p.system_qubits)} system)"))
        m = p.meta
        if p.solver == "qsvt":
            rows.append(("block-encoding", f"{m['construction']}, α = {m['alpha']:.6g}"))
            rows.append(("QSVT degree (block-encoding calls)", f"{m['degree']}"))
        elif "clock" in m:
            rows.append(("clock bits", f"{m['clock']}"))
        blocks = {}
        for inst in p.circuit.data:
            blocks[inst.operation.name] = blocks.get(inst.operation.name, 0) + 1
        rows.append(("top-level blocks", ", ".join(f"{k} ×{v}" for k, v in sorted(blocks.items()))))
        if "emitted" in done:
            e = self.emitted
            rows.append(("OpenQASM 3", f"{len(e.text.encode()) / 1e3:.1f} kB, {e.basis} gates: "
                                       + ", ".join(f"{k} {v:,}" for k, v in e.counts.items())))
        return rows

    def _repr_html_(self) -> str:
        from .display import html_report
        return html_report(f"qdsl.compile: {self.source.name}", "", self.summary_rows())

    def _repr_markdown_(self) -> str:
        from .display import markdown_report
        return markdown_report(f"qdsl.compile: {self.source.name}", "", self.summary_rows())


#: the block-encoding constructions of the history matrix (docs/cli.md "Circuits that scale")
CONSTRUCTIONS = ("structured", "sparse-access", "dense")


class SystemCompilation(Compilation):
    """The stages after the front end for a PolynomialSystem that did not come from a `.qd` file
    (`qdsl.PolynomialSystem.from_tensors`, `qdsl.torch.extract`): certificate, Carleman lift,
    history system, circuit, report, resources — the same stages as for a file. The Carleman
    order must be given (a system carries none); the solver defaults to qsvt."""

    def __init__(self, system, options: Options):
        from .options import validate
        options = validate(options, api=True)
        if options.order is None:
            raise TypeError("qdsl.compile(system=...) needs order= (the Carleman truncation level)")
        super().__init__(SourceFile(f"<system {system.model}>", "", Path.cwd()), options)
        if options.steps is not None:
            dyn = system.dynamics
            dyn = replace(dyn, steps=options.steps, time=dyn.dt * options.steps if dyn.dt else dyn.time)
            system = replace(system, dynamics=dyn)
            system.verify()
        self.__dict__["system"] = system  # the cached_property's slot

    @cached_property
    def model(self):
        return _SystemModel(self.system.model, self.options.order, self.options.basis or "kronecker")

    @cached_property
    def certificate(self):
        from .semantics.certificate import certify
        return certify(self.system, None, carleman_order=self.order, basis=self.basis,
                       steps=self.options.steps)

    @cached_property
    def carleman(self):
        """The Carleman system, after `history_floor_guard` (a system given directly — a torch
        extraction — is often dense: its history system is refused before the lift is built)."""
        history_floor_guard(self.system, self.order, self.basis, self.idle)
        return Compilation.carleman.func(self)


def history_floor_guard(system, order: int, basis: str, idle: int = 0) -> None:
    r"""Refuse (E0402) a history-state system over the size limits from a lower bound on its
    nonzeros, before the Carleman lift is built. In the Kronecker basis the discrete transfer
    matrix's diagonal block j is exactly (I + F_1)^{⊗j}, so nnz(M) ≥ Σ_{j≤N} nnz(I + F_1)^j (the
    history then holds T·nnz(M) more); `carleman`'s own guard bounds the lift from above only,
    and the history's guard ran after building it (a dense n = 80 extraction: 60 s)."""
    if basis != "kronecker" or system.kind == "flow" or system.degree < 1:
        return
    import scipy.sparse as sp

    from .lowering.carleman import carleman_dimension
    from .lowering.history import guard_history

    n = system.n
    F1 = sp.csr_matrix(system.F[1])
    A = (F1 + sp.identity(n, format="csr")).tocsr()
    A.eliminate_zeros()
    a = int(A.nnz)
    floor = 1 + sum(a ** j for j in range(1, int(order) + 1))
    guard_history(system.dynamics.steps, idle, carleman_dimension(n, int(order), basis), floor)


@dataclass(frozen=True)
class _SystemModel:
    """What the stages read from a checked model, for a system given directly."""
    name: str
    carleman_order: int
    basis: str
    solver: None = None
    symbols: dict = field(default_factory=dict)
    consts: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


def _midpoint(info):
    """The domain's midpoint, as an exact rational (so the exact symbolic path stays exact)."""
    from fractions import Fraction
    return (Fraction(repr(info.lo)) + Fraction(repr(info.hi))) / 2


def compile(path=None, *, source: str | None = None, system=None, name: str | None = None,
            model: str | None = None, order: int | None = None, basis: str | None = None,
            steps: int | None = None, solver: str | None = None, eps: float | None = None,
            clock: int | None = None, idle: int | None = None, values: dict | None = None,
            gate_basis: str = "native", block_encoding: str | None = None,
            uncompute: str = "auto") -> Compilation:
    """Compile a `.qd` file (a path), source text (`source=...`) or a PolynomialSystem built in
    Python (`system=...`, with `order=`).

    The returned Compilation exposes the stages lazily: `.system`, `.certificate`, `.carleman`,
    `.linear_system`, `.circuit`, `.qasm`, `.report`, `.run(...)`. Keyword arguments override the
    file (`order` the Carleman order, `steps` T, `values` the symbolic constants, `block_encoding`
    "structured" | "sparse-access" | "dense", `uncompute` "auto" | "measure" | "toffoli" — how
    QSVT's block-encoding uncomputes its temporary ANDs, `synthesis.qsvt.synthesize_qsvt`, …). The front end
    runs immediately, so syntax and name errors raise `CompileError` here."""
    if sum(x is not None for x in (path, source, system)) != 1:
        raise TypeError("give exactly one of path, source= or system=")
    if uncompute not in ("auto", "measure", "toffoli"):
        raise CompileError(Diagnostic("E0452", f"unknown uncomputation `{uncompute}`",
                                      help="use uncompute=\"auto\", \"measure\" or \"toffoli\""))
    opts = Options(model=model, order=order, basis=basis, steps=steps, solver=solver, eps=eps,
                   clock=clock, idle=idle, values=tuple(sorted((values or {}).items())),
                   gate_basis=gate_basis, block_encoding=block_encoding, uncompute=uncompute)
    if system is not None:
        if values:
            raise TypeError("values= sets symbolic constants of a .qd model; a system has none")
        return SystemCompilation(system, opts)
    src = load_source(path, source, name)
    c = Compilation(src, opts)
    c.model  # noqa: B018 — parse and check now
    return c


def plan(model, *, output: str = "all", precision: float = 1e-3, access: str = "qrom", params=None,
         steps=None, rate=None, measure: bool = False, physical: str = "builtin", download=None,
         network=None, window=None, spectrum=None, order: int | None = None, executor=None,
         jobs=None):
    """Is it worth it? `model`: a Compilation, a .qd path or a PolynomialSystem (compiled at
    `order`, default its degree; a `qdsl.torch` extracted system). The quantum end-to-end cost of
    `output` ("all", "top:K", "functional") of θ_T to `precision` against classical training,
    their ratio and the crossover per access model (`backends.plan.plan`, docs/api.md#qdslplan);
    `executor`/`jobs`: the crossover searches as `qdsl.sweep` points on that executor.
    For an extracted system, `network=(model, loss_fn, batch)` and `window=K` add the cost of one
    training window between downloads against the network's own K training steps, beside the
    Eq. 7 proxy of that window (docs/torch.md, "Is it worth it, per window").
    Returns a PlanReport: a dict (strict JSON) with `render()` and `plot(path)`."""
    from .backends.plan import plan as _plan
    from .backends.resources import _check_options

    params, steps, _ = _check_options(params, steps, None)
    if hasattr(model, "linear_system"):
        c = model
    elif hasattr(model, "F") and hasattr(model, "dynamics"):
        c = compile(system=model, order=order if order is not None else max(int(model.degree), 1))
    else:
        c = compile(model)
    return _plan(c, output=output, precision=precision, access=access, params=params, steps=steps,
                 rate=rate, measure=measure, physical=physical, download=download, network=network,
                 window=window, spectrum=spectrum, executor=executor, jobs=jobs)
