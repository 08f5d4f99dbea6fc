"""The `qdsl` command line (docs/cli.md): thin over `qdsl.api`; imports stages only when needed.

Exit status: 0 success; 1 the model fails its conditions (check) or the quantum answer fails
verification (run); 2 bad input, reported as a diagnostic; 3 a valid request over a size limit.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_SIZE = 0, 1, 2, 3

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
  qdsl explain E0203

exit status: 0 ok, 1 conditions/verification failed, 2 bad input, 3 over a size limit, 70 internal error"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as qdsl diagnostics (exit 2), never a traceback."""

    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error[E0001]: {message}\n  = help: see `{self.prog} --help`\n")
        raise SystemExit(EXIT_INPUT)


def _common(p, json_flag=True, values=True):
    p.add_argument("file", help="the .qd file")
    p.add_argument("--model", help="the model to use when the file holds several")
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
    p.add_argument("--order", type=int, help="override the Carleman order N")
    p.add_argument("--steps", type=int, help="override the number of steps T")
    p.add_argument("--eps", type=float, help="solver precision (QSVT: relative error of the state)")
    p.add_argument("--clock", type=int, help="HHL clock qubits")
    p.add_argument("--block-encoding", choices=["structured", "sparse-access", "dense"],
                   help="how L is block-encoded: structured (from the F_ℓ on Carleman slots; default "
                        "for the Kronecker basis), sparse-access (M's own nonzeros; default for the "
                        "symmetric basis) or dense (a gate-by-gate unitary dilation: small systems)")


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
    p.add_argument("--order", type=int, help="Carleman order for the sparsity of M and L")
    p.add_argument("--carleman-basis", choices=["kronecker", "symmetric"])

    p = sub.add_parser("simulate", help="classical: true trajectory vs Carleman trajectory per order",
                       description="True training trajectory beside the Carleman trajectory of every order ≤ N.")
    _common(p)
    p.add_argument("--order", type=int, help="highest Carleman order (default: the file's)")
    p.add_argument("--carleman-basis", choices=["kronecker", "symmetric"])
    p.add_argument("--steps", type=int, help="override the number of steps T")
    p.add_argument("--plot", metavar="PNG", help="write trajectories and error-vs-order plots")

    p = sub.add_parser("compile", help="emit OpenQASM 3 (and a JSON report)",
                       description="Compile to OpenQASM 3. Default output: FILE's stem + .qasm in the working directory.")
    _common(p, json_flag=False)
    p.add_argument("-o", "--output", help="output .qasm path, or - for stdout")
    p.add_argument("--report", metavar="JSON", help="write the report (readout contract) here")
    p.add_argument("--force", action="store_true", help="overwrite an existing file not written by qdsl")
    _compile_options(p)

    p = sub.add_parser("run", help="compile, simulate the circuit, decode, compare with classical",
                       description="Compile, simulate the emitted circuit, decode θ_t and compare with gradient descent. "
                                   "Exit 1 when the quantum answer fails verification.")
    _common(p)
    _compile_options(p)
    p.add_argument("--backend", choices=["statevector", "aer"], default="statevector")
    p.add_argument("--shots", type=int, help="sample K shots instead of reading the statevector")
    p.add_argument("--seed", type=int, default=0, help="seed for --shots")
    p.add_argument("-o", "--output", help="also write the OpenQASM 3 file here")
    p.add_argument("--report", metavar="JSON", help="also write the report here")
    p.add_argument("--force", action="store_true", help="overwrite existing files not written by qdsl")
    p.add_argument("--plot", metavar="PNG", help="plot true, Carleman and quantum trajectories")

    p = sub.add_parser("resources", help="fault-tolerant resource estimate",
                       description="Logical qubits, T count and a surface-code footprint; --params/--steps project "
                                   "to other sizes without building anything.")
    _common(p)
    p.add_argument("--params", type=float, help="project to this many parameters")
    p.add_argument("--steps", type=int, help="project to this many steps")
    p.add_argument("--eps", type=float, help="target precision")
    p.add_argument("--physical", choices=["builtin", "qdk"], default="builtin",
                   help="physical model: qdsl's (default) or Microsoft's estimator (pip install 'qdsl[qdk]')")
    p.add_argument("--basis", choices=["native", "clifford+t"], default="native",
                   help="count the circuit emitted in this gate set (clifford+t: the T count is the "
                        "t/tdg gates written)")
    p.add_argument("--solver", choices=["qsvt", "hhl"], help="override the file's solver")
    p.add_argument("--block-encoding", choices=["structured", "sparse-access", "dense"],
                   help="how L is block-encoded (see `qdsl compile --help`)")
    p.add_argument("--access", choices=["qrom", "qram"], default="qrom",
                   help="projections: lookups as built (QROM, O(nnz) per query; default) or a QRAM "
                        "assumption (O(log n) per query)")
    p.add_argument("--no-build", action="store_true",
                   help="estimate from the blocks' cost functions without building the circuit")

    p = sub.add_parser("explain", help="the long explanation of a diagnostic code")
    p.add_argument("code", help="e.g. E0203")
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
                   block_encoding=getattr(args, "block_encoding", None))
    for flag in ("order", "steps", "clock"):
        v = getattr(opts, flag)
        if v is not None and v < 1:
            from .diagnostics import CompileError, Diagnostic
            raise CompileError(Diagnostic("E0002", f"--{flag} must be a positive integer, not {v}"))
    return Compilation(load_source(args.file), opts)


def _emit_json(doc):
    sys.stdout.write(json.dumps(doc, indent=2, default=_json_default) + "\n")


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
        _emit_json(cert.to_dict())
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
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        _emit_json(res.to_dict())
    else:
        print(res.render())
    return EXIT_OK


def _synthesis_warnings(c):
    from .diagnostics import Diagnostic
    for w in c.program.meta.get("warnings", ()):
        code, _, text = str(w).partition(": ")
        _print_diag(Diagnostic(code if code.startswith("W") else "W0500", text or str(w), file=c.source.name))


def cmd_compile(args) -> int:
    c = _compilation(args)
    out = args.output or (Path(args.file).stem + ".qasm")
    qasm = _with_header(c)
    _synthesis_warnings(c)
    if out == "-":
        sys.stdout.write(qasm)
    else:
        _write(out, qasm, c, args.force)
        print(f"wrote {out} ({c.program.num_qubits} qubits, {len(qasm.encode()) / 1e3:.1f} kB)", file=sys.stderr)
    if args.report:
        _write(args.report, json.dumps(c.report, indent=2, default=_json_default) + "\n", c, args.force)
        print(f"wrote {args.report}", file=sys.stderr)
    return EXIT_OK


def cmd_run(args) -> int:
    c = _compilation(args)
    if args.output:
        _write(args.output, _with_header(c), c, args.force)
    if args.report:
        _write(args.report, json.dumps(c.report, indent=2, default=_json_default) + "\n", c, args.force)
    res = c.run(backend=args.backend, shots=args.shots, seed=args.seed)
    _synthesis_warnings(c)
    if args.plot:
        res.plot(_output_path(args.plot, c, force=True))
    if args.json:
        _emit_json(res.to_dict())
    else:
        print(res.render())
    return EXIT_OK if res.verified else EXIT_FAIL


def cmd_resources(args) -> int:
    from .backends.resources import resources
    projected_steps, args.steps = args.steps, None   # --steps projects; the model compiles as written
    c = _compilation(args)
    args.steps = projected_steps
    rep = resources(c, params=args.params, steps=args.steps, eps=args.eps, physical=args.physical,
                    access=args.access, count=False if args.no_build else None)
    if args.json:
        _emit_json(rep.to_dict())
    else:
        print(rep.render())
    return EXIT_OK


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
        ours = GENERATED_MARK in head or '"generator": "qdsl"' in head
        if not ours:
            raise CompileError(Diagnostic("E0004", f"{path} exists and was not written by qdsl; not overwriting it",
                                          help="choose another path with -o / --report, or pass --force"))
    try:
        p.write_text(text)
    except OSError as exc:
        raise CompileError(Diagnostic("E0004", f"cannot write {path}: {exc.strerror}"))


def _print_diag(d):
    print(d.render(), file=sys.stderr)


COMMANDS = {"check": cmd_check, "simulate": cmd_simulate, "compile": cmd_compile, "run": cmd_run,
            "resources": cmd_resources, "explain": cmd_explain}


def main(argv=None) -> int:
    """Entry point of the `qdsl` console script; returns the exit status."""
    # One BLAS thread: emitted circuits come from floating-point synthesis, and a threaded BLAS may
    # round differently from run to run — the OpenQASM 3 output must be byte-identical. (It is
    # also faster for the small dense matrices qdsl factors.) Set before numpy is imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from .diagnostics import CompileError
    try:
        return COMMANDS[args.command](args)
    except CompileError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print("error[E0005]: the input nests too deeply to process", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        print("error[E0006]: out of memory\n  = help: lower the Carleman order, the number of steps, "
              "or use `carleman order N basis symmetric`", file=sys.stderr)
        return EXIT_SIZE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an internal bug: say so plainly, with what to report
        if os.environ.get("QDSL_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n  = note: this is a bug in qdsl, not in your "
              f"file; rerun with QDSL_DEBUG=1 for the traceback and report it", file=sys.stderr)
        return 70
