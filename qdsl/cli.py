"""The `qdsl` command line (docs/cli.md): thin over `qdsl.api`; imports stages only when needed.

Exit status: 0 success; 1 the model fails its conditions (check) or the quantum answer fails
verification (run); 2 bad input, reported as a diagnostic; 3 a valid request over a size limit;
70 an internal error (a bug in qdsl: one line; the traceback with QDSL_DEBUG=1).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_SIZE, EXIT_INTERNAL = 0, 1, 2, 3, 70

DESCRIPTION = """\
qdsl compiles the training dynamics of a model (.qd file) into Carleman-linearized quantum
linear-solver circuits, certifies whether that is worth doing, and checks the quantum answer
against classical gradient descent."""

EPILOG = """\
examples:
  qdsl check examples/quartic.qd            the dissipativity/sparsity certificate
  qdsl simulate examples/quartic.qd --plot traj.png
  qdsl compile examples/quartic.qd -o quartic.qasm --report quartic.json
  qdsl run examples/ridge.qd                quantum answer vs. gradient descent
  qdsl run examples/quartic.qd --shots 20000   signed θ_T from shots, with intervals
  qdsl plan examples/quartic.qd --plot plan.png   quantum end to end vs classical
  qdsl decode quartic.json --counts counts.json
  qdsl torch-experiment --out runs/laptop --preset laptop   the paper's experiment, small
  qdsl explain E0203
  qdsl lsp                                  language server for editors (stdio)

exit status: 0 ok, 1 conditions/verification failed, 2 bad input, 3 over a size limit,
70 internal error (a bug in qdsl)"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as qdsl diagnostics (exit 2), never a traceback."""

    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error[E0001]: {message}\n  = help: see `{self.prog} --help`\n")
        raise SystemExit(EXIT_INPUT)


def _quiet(p):
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars on stderr")


def _common(p, json_flag=True, values=True):
    p.add_argument("file", help="the .qd file")
    p.add_argument("--model", help="the model to use when the file holds several")
    _quiet(p)
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    if values:
        p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="give a symbolic constant a value (repeatable)")


def _compile_options(p):
    p.add_argument("--solver", choices=["qsvt", "hhl"], help="override the file's solver")
    p.add_argument("--basis", choices=["native", "clifford+t"], default="native",
                   help="gate set of the emitted circuit (default native)")
    p.add_argument("--carleman-basis", choices=["kronecker", "symmetric"], help="override the lift's basis")
    p.add_argument("--order", help="override the Carleman order N")
    p.add_argument("--steps", help="override the number of steps T (1e3 is fine when integral)")
    p.add_argument("--eps", help="solver precision, 0 < EPS < 1 (QSVT: relative error of the state)")
    p.add_argument("--clock", help="HHL clock qubits, kept as given (a model's hhl(clock) is raised to meet eps)")
    p.add_argument("--block-encoding", choices=["structured", "sparse-access", "dense"],
                   help="how L is block-encoded: structured (from the F_ℓ on Carleman slots; default "
                        "for the Kronecker basis), sparse-access (M's own nonzeros; default for the "
                        "symmetric basis) or dense (a gate-by-gate unitary dilation: small systems)")
    p.add_argument("--uncompute", choices=["auto", "measure", "toffoli"], default="auto",
                   help="temporary ANDs of QSVT's block-encoding: auto (measured And† only where the "
                        "file stays within 1.5x of the Toffoli one; default), measure (always: each "
                        "measured block written at every call, a much larger file) or toffoli")
    p.add_argument("--readout", choices=["amplitudes", "signed"],
                   help="amplitudes: the compiled circuit only; signed: also the measurement circuits "
                        "that give the sign of θ from shots (compile default amplitudes; run --shots "
                        "default signed)")
    p.add_argument("--theta", default="T", metavar="T|all|t",
                   help="which θ_t the signed readout measures: T (default), all, or a step t")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="qdsl", description=DESCRIPTION, epilog=EPILOG,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version="qdsl 0.1.0")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("check", help="certificate: dissipativity, R, learning-rate window, sparsity",
                       description="The certificate: dissipativity, R, learning-rate window, sparsity (docs/maths.md). "
                                   "Exit 1 when training is not dissipative.")
    _common(p)
    p.add_argument("--order", help="Carleman order for the sparsity of M and L")
    p.add_argument("--carleman-basis", choices=["kronecker", "symmetric"])

    p = sub.add_parser("simulate", help="classical: true trajectory vs Carleman trajectory per order",
                       description="True training trajectory beside the Carleman trajectory of every order ≤ N.")
    _common(p)
    p.add_argument("--order", help="highest Carleman order (default: the file's)")
    p.add_argument("--carleman-basis", choices=["kronecker", "symmetric"])
    p.add_argument("--steps", help="override the number of steps T (1e3 is fine when integral)")
    p.add_argument("--plot", metavar="PNG", help="write trajectories and error-vs-order plots")

    p = sub.add_parser("compile", help="emit OpenQASM 3 (and a JSON report)",
                       description="Compile to OpenQASM 3. Default output: FILE's stem + .qasm in the working directory.")
    _common(p, json_flag=False)
    p.add_argument("-o", "--output", help="output .qasm path, or - for stdout")
    p.add_argument("--emit", choices=["qasm", "qir"], default="qasm",
                   help="qasm: OpenQASM 3 (default); qir: QIR (LLVM text, FILE's stem + .ll) compiled "
                        "from the OpenQASM 3 by Microsoft's QDK (pip install 'qdsl-compiler[qdk]')")
    p.add_argument("--report", metavar="JSON", help="write the report (readout contract) here")
    p.add_argument("--force", action="store_true", help="overwrite an existing file not written by qdsl")
    _compile_options(p)

    p = sub.add_parser("run", help="compile, simulate the circuit, decode, compare with classical",
                       description="Compile, simulate the emitted circuit, decode θ_t and compare with gradient descent. "
                                   "Exit 1 when the quantum answer fails verification.")
    _common(p)
    _compile_options(p)
    p.add_argument("--backend", choices=["statevector", "aer"], default="statevector")
    p.add_argument("--shots", type=int, help="sample K shots of each circuit (Aer) instead of reading the "
                                             "statevector; signed θ with simultaneous 95 %% intervals")
    p.add_argument("--seed", type=int, default=0, help="seed for --shots (circuit k uses seed + k)")
    p.add_argument("--save-counts", metavar="JSON", help="with --shots: write the counts (the compiled circuit's, "
                                                        "then each signed-readout circuit's) for `qdsl decode`")
    p.add_argument("-o", "--output", help="also write the OpenQASM 3 file here")
    p.add_argument("--report", metavar="JSON", help="also write the report here")
    p.add_argument("--force", action="store_true", help="overwrite existing files not written by qdsl")
    p.add_argument("--plot", metavar="PNG", help="plot true, Carleman and quantum trajectories")
    p.add_argument("--max-seconds", type=float, default=None, metavar="S",
                   help="time budget of the simulation, processor seconds: a run predicted to take "
                        "longer is refused (exit 3) before it starts (default 300)")

    p = sub.add_parser("resources", help="fault-tolerant resource estimate",
                       description="Logical qubits, T count and a surface-code footprint; --params/--steps project "
                                   "to other sizes without building anything.")
    _common(p)
    p.add_argument("--params", help="project to this many parameters (1e8 is fine)")
    p.add_argument("--steps", help="project to this many steps (1e3 is fine)")
    p.add_argument("--eps", help="target precision, 0 < EPS < 1")
    p.add_argument("--physical", choices=["builtin", "qdk"], default="builtin",
                   help="physical model: qdsl's (default) or Microsoft's estimator (pip install 'qdsl-compiler[qdk]')")
    p.add_argument("--basis", choices=["native", "clifford+t"], default="native",
                   help="count the circuit emitted in this gate set (clifford+t: the T count is the "
                        "t/tdg gates written)")
    p.add_argument("--solver", choices=["qsvt", "hhl"], help="override the file's solver")
    p.add_argument("--block-encoding", choices=["structured", "sparse-access", "dense"],
                   help="how L is block-encoded (see `qdsl compile --help`)")
    p.add_argument("--access", choices=["qrom", "qroam", "qram", "qram-counted", "qram-free"], default="qrom",
                   help="projections: lookups as built (QROM, O(nnz) per query; default), select-swap "
                        "QROAM, a QRAM assumption (O(log n) per query), QRAM with its memory paid "
                        "at every query, or QRAM with the initial state free")
    p.add_argument("--no-build", action="store_true",
                   help="estimate from the blocks' cost functions without building the circuit")
    p.add_argument("--output", default="all", metavar="all|top:K|functional|none",
                   help="the end-to-end cost of getting this out of θ_T (default all; none: one "
                        "attempt only)")
    p.add_argument("--precision", type=float, default=1e-3,
                   help="end-to-end: absolute precision on each θ_T entry (default 1e-3)")
    p.add_argument("--download", type=int, metavar="K",
                   help="end-to-end: download θ every K steps and re-upload it (⌈T/K⌉ windows)")
    p.add_argument("--max-qubits", metavar="Q",
                   help="projections with --access qroam: the logical qubits one attempt may use; "
                        "each lookup's select-swap block size is the one of fewest Toffolis that "
                        "fits (default: no budget — the fewest Toffolis, and the qubits they take)")

    p = sub.add_parser("plan", help="is it worth it? quantum end to end vs classical training, crossover",
                       description="The end-to-end quantum cost of getting θ_T (or part of it) out, against "
                                   "training the same model classically: their ratio, and the crossover n "
                                   "per access model (qrom, qroam, qram, qram-counted, qram-free) or why there is none.")
    _common(p)
    p.add_argument("--output", default="all", metavar="all|top:K|functional",
                   help="all of θ_T (default), its K largest weights, or a linear functional w·θ_T")
    p.add_argument("--precision", type=float, default=1e-3,
                   help="absolute precision on each θ_T entry (default 1e-3)")
    p.add_argument("--access", choices=["qrom", "qroam", "qram", "qram-counted", "qram-free"], default="qrom",
                   help="the access model of the stated size's quantum cost (the crossover tries all)")
    p.add_argument("--params", help="project to this many parameters (e.g. 1e8)")
    p.add_argument("--steps", help="project to this many steps (e.g. 1e3)")
    p.add_argument("--download", type=int, metavar="K",
                   help="download θ every K steps and re-upload it (⌈T/K⌉ windows)")
    p.add_argument("--rate", type=float, help="classical flop rate (default: stated, 1e9 flop/s)")
    p.add_argument("--measure-rate", action="store_true",
                   help="measure the classical rate with a sparse mat-vec micro-benchmark")
    p.add_argument("--physical", choices=["builtin", "qdk"], default="builtin",
                   help="physical model of the stated size's quantum cost")
    p.add_argument("--plot", metavar="PNG", help="write the crossover plot (runtime against n)")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="search the access models' crossovers in parallel on this many worker processes "
                        "(qdsl sweep's executors; default 1: in this process)")
    p.add_argument("--executor", metavar="SPEC",
                   help="the crossovers' executor: loky (default with --jobs > 1), dask://ADDRESS, dask://local, "
                        "ray://ADDRESS, ray://local")

    p = sub.add_parser("decode", help="θ_t from a compiled program's output (statevector, counts, Qiskit result)",
                       description="Decode θ_t by the report's readout: amplitudes from a statevector (.npy), "
                                   "or shot counts of the compiled circuit and of the signed-readout circuits "
                                   "(JSON, in the manifest's order) with error bars.")
    p.add_argument("report", help="the report (compile --report) or signed-readout manifest (*.signed.json)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--statevector", metavar="SV.npy", help="full-register statevector (numpy .npy)")
    src.add_argument("--counts", metavar="COUNTS.json",
                     help="counts: {bitstring: n}, a list of them, or {\"counts\": [...]}")
    src.add_argument("--result", metavar="RESULT.json", help="a Qiskit Result.to_dict() document")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    _quiet(p)

    p = sub.add_parser("sweep", help="one stage over models × a grid of options, in parallel (JSON lines)",
                       description="Run check, simulate, compile, resources or run on every model at every point "
                                   "of a grid (the Cartesian product of the --grid options), on joblib's loky "
                                   "pool (--jobs), a Dask cluster or a Ray pool (--executor); one JSON record "
                                   "per point, in grid order, on stdout or in -o FILE (JSON lines).")
    p.add_argument("files", nargs="+", metavar="FILE", help="the .qd files")
    p.add_argument("--what", choices=["check", "simulate", "compile", "resources", "run"], default="resources",
                   help="the stage to run at each point (default resources)")
    p.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,…",
                   help="an option and its values (repeatable; e.g. --grid params=1e4,1e6,1e8 --grid "
                        "steps=10,100): compile options (order, steps, eps, solver, basis, …) and the "
                        "stage's own (resources: params, steps, eps, access)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1: in this process)")
    p.add_argument("--executor", metavar="SPEC",
                   help="loky (default with --jobs > 1), dask://ADDRESS, dask://local, ray://ADDRESS, ray://local")
    p.add_argument("-o", "--output", metavar="JSONL", help="write the records here (JSON lines) instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    _quiet(p)

    from .torch_options import DESCRIPTION as EXPERIMENT, add_experiment_arguments  # torch-free
    p = sub.add_parser("torch-experiment", help="the paper's experiment on a pruned ResNet: sparse SGD, Hessian "
                                                "spectra, error proxy (needs the torch extra)",
                       description=EXPERIMENT + " The same as `python -m qdsl.torch.experiment`.")
    add_experiment_arguments(p)

    p = sub.add_parser("explain", help="the long explanation of a diagnostic code")
    p.add_argument("code", help="e.g. E0203")

    sub.add_parser("lsp", help="language server for editors (LSP over stdio)",
                   description="A language server (Language Server Protocol over stdin/stdout) that publishes "
                               "`qdsl check`'s diagnostics and hovers with `qdsl explain`; started by an "
                               "editor (docs/editors.md). Needs the `lsp` extra.")
    return ap


def _values(args):
    from .diagnostics import CompileError, Diagnostic
    vals = {}
    for item in args.set:
        name, eq, text = item.partition("=")
        try:
            if not eq or not name.strip():
                raise ValueError
            v = float(text)
        except ValueError:
            raise CompileError(Diagnostic("E0002", f"--set expects NAME=NUMBER, not `{item}`",
                                          help="e.g. --set eta=0.1")) from None
        vals[name.strip()] = v
    return vals


def _compilation(args):
    from .api import Compilation, Options, load_source
    opts = Options(model=args.model, order=getattr(args, "order", None),
                   basis=getattr(args, "carleman_basis", None), steps=getattr(args, "steps", None),
                   solver=getattr(args, "solver", None), eps=getattr(args, "eps", None),
                   clock=getattr(args, "clock", None), values=tuple(sorted(_values(args).items())),
                   gate_basis=getattr(args, "basis", "native") or "native",
                   block_encoding=getattr(args, "block_encoding", None),
                   uncompute=getattr(args, "uncompute", None) or "auto")
    # --order, --steps, --clock and --eps arrive as text: qdsl.options validates them (E0900–E0903)
    return Compilation(load_source(args.file), opts, api=False)


def _emit_json(doc):
    sys.stdout.write(_dumps(doc) + "\n")


def _dumps(doc, indent=2) -> str:
    """Strict JSON (RFC 8259): no NaN/Infinity tokens. A non-finite number is written as null;
    where it carries meaning the document says why beside it (a check's `measured_reason` /
    `bound_reason`, docs/cli.md "JSON output")."""
    return json.dumps(_strict(doc), indent=indent, default=_json_default, allow_nan=False)


def _strict(o):
    import math
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if type(o).__module__ == "numpy":
        return _strict(_json_default(o))
    return o


def _stamp(doc, kind):
    """`doc` with its versioned `format` first (qdsl/formats.py; schemas in docs/schemas/)."""
    from .formats import stamp
    return stamp(doc, kind)


def _format_id(kind):
    from .formats import format_id
    return format_id(kind)


def _json_default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ----------------------------------------------------------------------------- commands

def cmd_check(args) -> int:
    c = _compilation(args)
    cert = c.certificate
    d = cert.to_dict()
    if d.get("R") is not None and d["R"] >= 1:
        from .diagnostics import Diagnostic
        _print_diag(Diagnostic("W0301", f"R = {d['R']:.4g} ≥ 1: the PNAS convergence guarantee of Carleman "
                                        f"truncation does not hold from this initial point", file=c.source.name,
                               help="`qdsl simulate` shows the truncation error order by order"))
    if args.json:
        _emit_json(_stamp(cert.to_dict(), "check"))
    else:
        print(cert.render())
    return EXIT_OK if cert.passed else EXIT_FAIL


def cmd_simulate(args) -> int:
    c = _compilation(args)
    res = c.simulate()
    for w in getattr(res, "warnings", ()):
        _print_diag(w)
    if args.plot:
        out = _output_path(args.plot, c, force=True)
        res.plot(out)
        _say(f"wrote {out}")
    if args.json:
        _emit_json(_stamp(res.to_dict(), "simulate"))
    else:
        print(res.render(warnings=False))   # the warnings went to stderr above, once
    return EXIT_OK


def _synthesis_warnings(c):
    from .diagnostics import Diagnostic
    for w in c.program.meta.get("warnings", ()):
        code, _, text = str(w).partition(": ")
        _print_diag(Diagnostic(code if code.startswith("W") else "W0500", text or str(w), file=c.source.name))


def cmd_compile(args) -> int:
    c = _compilation(args)
    if getattr(args, "emit", "qasm") == "qir":
        return _compile_qir(c, args)
    out = args.output or (Path(args.file).stem + ".qasm")
    signed = args.readout == "signed"
    if signed and out == "-":
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0002", "--readout signed writes several files; it needs -o PATH, not -o -",
                                      help="e.g. -o quartic.qasm (the signed-readout circuits go beside it)"))
    theta = _theta(args)
    from .options import distinct_outputs
    stem = out[:-5] if out.endswith(".qasm") else out
    distinct_outputs({"-o": out, "--report": args.report,
                      **({"the signed-readout manifest": f"{stem}.signed.json"} if signed else {})})
    qasm = _with_header(c)
    _synthesis_warnings(c)
    report = c.report
    if out == "-":
        sys.stdout.write(qasm)
    else:
        _write(out, qasm, c, args.force)
        _say(f"wrote {out} ({c.program.num_qubits} qubits, {len(qasm.encode()) / 1e3:.1f} kB)")
    if signed:
        report = dict(report, signed_readout=_write_signed(c, out, theta, args.force))
    if args.report:
        _write(args.report, _dumps(report) + "\n", c, args.force)
        _say(f"wrote {args.report}")
    return EXIT_OK


def _compile_qir(c, args) -> int:
    """`compile --emit qir`: the emitted OpenQASM 3 compiled to QIR by Microsoft's QDK."""
    from .diagnostics import CompileError, Diagnostic
    from .interop import to_qir

    if args.readout == "signed":
        raise CompileError(Diagnostic("E0809", "--readout signed writes OpenQASM 3 circuits; it does not "
                                               "combine with --emit qir",
                                      help="compile the signed-readout circuits with --emit qasm"))
    out = args.output or (Path(args.file).stem + ".ll")
    _synthesis_warnings(c)
    qir = to_qir(c)
    text = f"{QIR_MARK} {__import__('qdsl').__version__}: model {c.model.name} ({c.solver}), QIR by Microsoft's QDK\n" + qir
    if out == "-":
        sys.stdout.write(text)
    else:
        _write(out, text, c, args.force)
        _say(f"wrote {out} ({c.program.num_qubits} qubits, QIR base profile, {len(text.encode()) / 1e3:.1f} kB)")
    if args.report:
        _write(args.report, json.dumps(c.report, indent=2, default=_json_default) + "\n", c, args.force)
        _say(f"wrote {args.report}")
    return EXIT_OK


def _theta(args):
    """--theta: "T", "all" or a step t (checked against the readout when it is used)."""
    v = getattr(args, "theta", "T") or "T"
    if v in ("T", "all"):
        return v
    try:
        t = int(v)
        if t < 0:
            raise ValueError
        return t
    except ValueError:
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0002", f"--theta takes T, all or a step number, not `{v}`")) from None


def _write_signed(c, out, theta, force) -> dict:
    """Write the signed-readout circuits beside `out` and their manifest; return the manifest's
    `signed_readout` section (also stored in the report)."""
    from .run import signed_circuits, signed_section

    stem = str(out)[:-5] if str(out).endswith(".qasm") else str(out)
    try:
        pairs = signed_circuits(c, theta, header=_with_header(c))
    except ValueError as exc:
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0002", str(exc))) from None
    files = []
    for sc, text in pairs:
        path = f"{stem}.signed.t{sc.t}.i{sc.i}.qasm"
        _write(path, text, c, force)
        files.append(path)
    section = signed_section(c, theta, Path(out).name, [Path(f).name for f in files])
    manifest = f"{stem}.signed.json"
    doc = {"format": _format_id("signed-manifest"), "generator": "qdsl", "version": __import__("qdsl").__version__,
           "model": c.system.model,
           "parameters": list(c.system.names),
           "expansion_point": [float(v) for v in c.system.expansion_point],
           "readout": c.program.readout, "signed_readout": dict(section, manifest=Path(manifest).name)}
    _write(manifest, _dumps(doc) + "\n", c, force)
    _say(f"wrote {len(files)} signed-readout circuit(s) {Path(stem).name}.signed.t*.i*.qasm and {manifest}")
    return doc["signed_readout"]


def cmd_run(args) -> int:
    c = _compilation(args)
    theta = _theta(args)
    if args.save_counts and not args.shots:
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0002", "--save-counts needs --shots K"))
    from .options import distinct_outputs
    distinct_outputs({"-o": args.output, "--report": args.report, "--save-counts": args.save_counts,
                      "--plot": args.plot})
    if args.output:
        _write(args.output, _with_header(c), c, args.force)
    from .backends.qiskit_sim import DEFAULT_MAX_SECONDS
    max_seconds = DEFAULT_MAX_SECONDS if args.max_seconds is None else args.max_seconds
    if not (max_seconds > 0 and max_seconds != float("inf")):
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0532", f"--max-seconds must be a positive number of seconds, got {max_seconds:g}"))
    res = c.run(backend=args.backend, shots=args.shots, seed=args.seed, readout=args.readout, theta=theta,
                max_seconds=max_seconds, announce=True)
    if args.report:
        report = c.report
        if res.signed is not None:
            from .run import signed_section
            report = dict(report, signed_readout=signed_section(c, theta))
        _write(args.report, _dumps(report) + "\n", c, args.force)
    if args.save_counts:
        from .readout import counts_to_json
        n = c.program.num_qubits
        doc = {"format": _format_id("counts"), "generator": "qdsl", "model": c.system.model, "shots_per_circuit": args.shots, "seed": args.seed,
               "order": "the compiled circuit, then the signed-readout circuits in the manifest's order",
               "counts": [counts_to_json(k, n) for k in (res.signed["counts"] if res.signed else [res.sim.counts])]}
        _write(args.save_counts, _dumps(doc, indent=1) + "\n", c, args.force)
    _synthesis_warnings(c)
    if args.plot:
        res.plot(_output_path(args.plot, c, force=True))
    if args.json:
        _emit_json(_stamp(res.to_dict(), "run"))
    else:
        print(res.render())
    return EXIT_OK if res.verified else EXIT_FAIL


def cmd_resources(args) -> int:
    from .backends.resources import _check_max_qubits, _check_options, resources
    _check_options(args.params, args.steps, args.eps)   # E0601–E0603, before anything is compiled
    _check_max_qubits(args.max_qubits, args.access, args.params is not None or args.steps is not None)
    projected_steps, args.steps = args.steps, None   # --steps projects; the model compiles as written
    c = _compilation(args)
    args.steps = projected_steps
    rep = resources(c, params=args.params, steps=args.steps, eps=args.eps, physical=args.physical,
                    access=args.access, count=False if args.no_build else None,
                    output=None if args.output == "none" else args.output, precision=args.precision,
                    download=args.download, max_qubits=args.max_qubits)
    if args.json:
        _emit_json(_stamp(rep.to_dict(), "resources"))
    else:
        print(rep.render())
    return EXIT_OK


def cmd_plan(args) -> int:
    from .backends.plan import plan
    from .backends.resources import _check_options
    params, steps, _ = _check_options(args.params, args.steps, None)
    projected_steps, args.steps = args.steps, None   # --steps projects; the model compiles as written
    c = _compilation(args)
    args.steps = projected_steps
    if args.rate is not None and not (args.rate > 0 and args.rate < float("inf")):
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0613", f"--rate must be a positive flop rate, not {args.rate}",
                                      help="e.g. --rate 1e9, or --measure-rate"))
    if args.jobs < 1:
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0625", f"--jobs must be a positive integer, not {args.jobs}"))
    rep = plan(c, output=args.output, precision=args.precision, access=args.access, params=params,
               steps=steps, rate=args.rate, measure=args.measure_rate, physical=args.physical,
               download=args.download, executor=args.executor, jobs=args.jobs)
    if args.plot:
        rep.plot(_output_path(args.plot, c, force=True))
    if args.json:
        sys.stdout.write(json.dumps(_stamp(dict(rep), "plan"), indent=2, allow_nan=False) + "\n")
    else:
        print(rep.render())
    return EXIT_OK


def cmd_decode(args) -> int:
    from .diagnostics import CompileError, Diagnostic
    from .readout import check_counts, check_statevector, decode_document, parse_counts, render_decoded

    def load_json(path, what):
        try:
            return json.loads(Path(path).read_text())
        except OSError as exc:
            raise CompileError(Diagnostic("E0207", f"cannot read {what} {path}: {exc.strerror}", file=str(path)))
        except ValueError as exc:
            raise CompileError(Diagnostic("E0207", f"{what} {path} is not JSON: {exc}", file=str(path)))

    doc = load_json(args.report, "report")
    from .formats import check_format
    check_format(doc, ("report", "signed-manifest"), args.report)
    if not isinstance(doc, dict) or "readout" not in doc:
        raise CompileError(Diagnostic("E0207", f"{args.report} has no `readout` section", file=args.report,
                                      help="give the report written by `qdsl compile --report` or a *.signed.json manifest"))
    try:
        if args.statevector:
            import numpy as np
            try:
                sv = np.load(args.statevector, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise CompileError(Diagnostic("E0207", f"cannot read the statevector {args.statevector}: {exc}",
                                              file=args.statevector))
            d = decode_document(doc, statevector=check_statevector(sv, doc))
        else:
            path = args.counts or args.result
            raw = load_json(path, "counts" if args.counts else "result")
            if args.counts:
                check_format(raw, ("counts",), path)
            if args.result and isinstance(raw, dict) and raw.get("results") and \
                    "statevector" in (raw["results"][0].get("data") or {}):
                d = decode_document(doc, statevector=check_statevector(_statevector_from_result(raw), doc))
            else:
                check_counts(raw, doc)
                d = decode_document(doc, counts=parse_counts(raw))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CompileError(Diagnostic("E0207", f"cannot decode: {exc}", file=args.report,
                                      help="the data must come from the circuits of this report")) from None
    if args.json:
        _emit_json(_stamp(d, "decode"))
    else:
        print(render_decoded(d))
    return EXIT_OK


def _statevector_from_result(raw):
    """The first experiment's statevector in a Qiskit result document: [re, im] pairs or
    {"re": [...], "im": [...]}."""
    import numpy as np
    v = raw["results"][0]["data"]["statevector"]
    if isinstance(v, dict):
        return np.asarray(v["re"], float) + 1j * np.asarray(v["im"], float)
    a = np.asarray(v, float)
    return a[:, 0] + 1j * a[:, 1] if a.ndim == 2 else a.astype(complex)


def _grid(items) -> dict:
    """--grid NAME=V1,V2,… options → {NAME: [values]}: numbers where they parse (never evaluated)."""
    from .diagnostics import CompileError, Diagnostic
    grid = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name or not text.strip():
            raise CompileError(Diagnostic("E0625", f"--grid expects NAME=V1,V2,…, not `{item}`",
                                          help="e.g. --grid params=1e4,1e6 --grid steps=10,100"))
        values = []
        for v in text.split(","):
            v = v.strip()
            try:
                f = float(v)
                values.append(int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f)
            except ValueError:
                values.append(v)
        grid[name] = values
    return grid


def cmd_sweep(args) -> int:
    from .diagnostics import CompileError, Diagnostic
    from .sweep import sweep
    if args.jobs < 1:
        raise CompileError(Diagnostic("E0625", f"--jobs must be a positive integer, not {args.jobs}"))
    for f in args.files:
        from .api import load_source
        load_source(f)                      # a missing file is a diagnostic before any work
    grid = _grid(args.grid)
    out = None
    if args.output:
        p = Path(args.output)
        if p.exists() and not args.force:
            raise CompileError(Diagnostic("E0004", f"{args.output} exists; not overwriting it",
                                          help="choose another path with -o, or pass --force"))
        out = p.open("w")
    records = []
    try:
        def emit(rec):
            line = json.dumps(rec, allow_nan=False)
            if out is not None:
                out.write(line + "\n")
                out.flush()
            records.append(rec)
        done = sweep(args.files, grid, what=args.what, executor=args.executor, jobs=args.jobs,
                     on_record=emit if out is not None else None)
    finally:
        if out is not None:
            out.close()
    if out is None:
        for rec in done:
            sys.stdout.write(json.dumps(rec, allow_nan=False) + "\n")
    else:
        bad = sum(not r["ok"] for r in done)
        _say(f"wrote {len(done)} records to {args.output}" + (f" ({bad} with errors)" if bad else ""))
    return EXIT_OK if all(r["ok"] for r in done) else EXIT_FAIL


def cmd_explain(args) -> int:
    from .explain import explain
    text = explain(args.code)
    if text is None:
        from .diagnostics import Diagnostic
        from .explain import all_codes, did_you_mean_code
        print(Diagnostic("E0003", f"no explanation for `{args.code}`", help=did_you_mean_code(args.code)
                         or f"known codes: {', '.join(all_codes())}").render(), file=sys.stderr)
        return EXIT_INPUT
    print(text)
    return EXIT_OK


# ----------------------------------------------------------------------------- helpers

GENERATED_MARK = "// generated by qdsl"
#: the first line of a QIR file qdsl writes (an LLVM comment)
QIR_MARK = "; generated by qdsl"


def _with_header(c) -> str:
    """The emitted program with a provenance comment after the version line (deterministic)."""
    text = c.qasm
    head, nl, rest = text.partition("\n")
    return f"{head}\n{GENERATED_MARK} {__import__('qdsl').__version__}: model {c.model.name} ({c.solver})\n{rest}"


def _output_path(path, c, force):
    p = Path(path)
    if c is not None and p.resolve() == Path(c.source.name).resolve():
        from .diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0004", f"refusing to overwrite the input file {path}",
                                      help="choose another output path with -o"))
    return p


def _write(path, text, c, force):
    """Write an output file; never the input, never a user's file unless --force."""
    from .diagnostics import CompileError, Diagnostic
    p = _output_path(path, c, force)
    if p.exists() and not force:
        try:
            head = p.read_text(errors="replace")[:400]
        except OSError:
            head = ""
        ours = GENERATED_MARK in head or '"generator": "qdsl"' in head or head.startswith(QIR_MARK)
        if not ours:
            raise CompileError(Diagnostic("E0004", f"{path} exists and was not written by qdsl; not overwriting it",
                                          help="choose another path with -o / --report, or pass --force"))
    try:
        p.write_text(text)
    except OSError as exc:
        raise CompileError(Diagnostic("E0004", f"cannot write {path}: {exc.strerror}"))


def _say(text: str) -> None:
    """A line on stderr, after whatever stdout holds (so the two never share a line)."""
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def _print_diag(d):
    _say(d.render())


def cmd_lsp(args) -> int:
    from .lsp import main as lsp_main
    return lsp_main()


def cmd_torch_experiment(args) -> int:
    from .diagnostics import CompileError, Diagnostic
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CompileError(Diagnostic("E0721", "`qdsl torch-experiment` needs PyTorch",
                                      help="pip install 'qdsl-compiler[torch]'")) from None
    from .torch.experiment import execute
    vars(args).pop("command", None)       # the run's options only (saved in its results' meta)
    return execute(args)


COMMANDS = {"check": cmd_check, "simulate": cmd_simulate, "compile": cmd_compile, "run": cmd_run,
            "resources": cmd_resources, "plan": cmd_plan, "decode": cmd_decode, "sweep": cmd_sweep,
            "explain": cmd_explain, "lsp": cmd_lsp, "torch-experiment": cmd_torch_experiment}


def main(argv=None) -> int:
    """Entry point of the `qdsl` console script; returns the exit status."""
    # One BLAS thread: emitted circuits come from floating-point synthesis, and a threaded BLAS may
    # round differently from run to run — the OpenQASM 3 output must be byte-identical. (It is
    # also faster for the small dense matrices qdsl factors.) Set before numpy is imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # numpy's floating-point RuntimeWarnings (overflow, division by zero on a diverging model) are
    # not for the user: what they signal is reported as qdsl's own findings (W0401 divergence,
    # "not verifiable" checks, κ = ∞). QDSL_DEBUG=1 shows them.
    if not os.environ.get("QDSL_DEBUG"):
        import warnings
        warnings.filterwarnings("ignore", category=RuntimeWarning)
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from .diagnostics import CompileError
    from .progress import set_quiet
    set_quiet(getattr(args, "quiet", False))
    try:
        return COMMANDS[args.command](args)
    except CompileError as e:
        _say(e.render())
        return e.exit_status
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except RecursionError:
        _say("error[E0005]: the input nests too deeply to process")
        return EXIT_INPUT
    except MemoryError:
        _say("error[E0006]: ran out of memory before a size guard refused the request\n  = help: lower the "
             "model's size (parameters, steps, Carleman order, eps); please also report it: qdsl should "
             "have refused this up front")
        return EXIT_SIZE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an internal bug (InternalError or not): one line, with what to report
        if os.environ.get("QDSL_DEBUG"):
            raise
        _say(internal_error_line(exc))
        return EXIT_INTERNAL


def internal_error_line(exc: BaseException) -> str:
    """The one line an internal error gets: what failed, that it is qdsl's bug, what to send."""
    from .diagnostics import InternalError
    if isinstance(exc, InternalError):
        what = exc.summary()
    else:
        text = " ".join(str(exc).split())
        what = f"internal error: {type(exc).__name__}" + (f": {text[:300]}" if text else "")
    return (f"error[E0070]: {what} — a bug in qdsl, not in your input; please report it with the "
            f".qd file and the command (QDSL_DEBUG=1 shows the traceback)")
