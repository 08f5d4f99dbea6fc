r"""Names, shapes and statements: ast.ModelDecl → CheckedModel.

Every semantic error of the stage is collected before stopping (one CompileError with all of them).
Data files are loaded here (paths relative to the .qd file). Nothing here evaluates user text as
Python: values come from the AST's numbers and from numpy's file readers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..diagnostics import CompileError, Diagnostic, DiagnosticSink, SizeLimitError, did_you_mean
from ..source import SourceFile, Span
from ..syntax import ast
from .poly import NON_SMOOTH, SMOOTH_FUNCTIONS

EVOLVE_ARGS = {
    "gd": ({"lr", "steps"}, set()),
    "sgd": ({"lr", "steps", "batch"}, {"seed"}),
    "flow": ({"time", "dt"}, set()),
    "momentum": ({"lr", "beta", "steps"}, set()),   # heavy ball: v ← βv − lr∇L(θ), θ ← θ + v
    "nesterov": ({"lr", "beta", "steps"}, set()),   # v ← βv − lr∇L(θ + βv), θ ← θ + v
}
#: training methods whose state is (θ, v): the derivation lowers them as polynomial maps on both
MOMENTUM_KINDS = ("momentum", "nesterov")
SOLVER_ARGS = {"qsvt": {"eps", "idle"}, "hhl": {"clock", "idle", "eps"}, "classical": {"idle"}}
BASES = ("kronecker", "symmetric")
MAX_EXPAND_ORDER = 10
#: flat parameters of one model, and entries of one data array: the derivation works term by term
#: in Python (about 10^5 terms a second), so larger models are refused before any array is made;
#: `qdsl resources --params N` projects the cost of larger models without building them
PARAM_LIMIT = 1_000_000
DATA_LIMIT = 10_000_000
CSV_BYTES_LIMIT = 256 * 2 ** 20


@dataclass(frozen=True, eq=False)
class ParamInfo:
    """One `param` statement: its shape, flat offset into θ, and initial values."""
    name: str
    shape: tuple[int, ...]  # () for a scalar
    offset: int
    init: np.ndarray  # object array of Fraction/float, flattened
    span: Span | None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def entry_names(self) -> list[str]:
        if not self.shape:
            return [self.name]
        return [f"{self.name}[{', '.join(map(str, idx))}]" for idx in np.ndindex(*self.shape)]


@dataclass(frozen=True, eq=False)
class SymbolInfo:
    """A symbolic constant `const c in (lo, hi)`."""
    name: str
    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool
    span: Span | None

    def contains(self, v: float) -> bool:
        return ((self.lo < v or (self.lo_closed and v == self.lo))
                and (v < self.hi or (self.hi_closed and v == self.hi)))

    def describe(self) -> str:
        return f"{'[' if self.lo_closed else '('}{self.lo:g}, {self.hi:g}{']' if self.hi_closed else ')'}"


@dataclass(frozen=True, eq=False)
class CheckedModel:
    """A model whose names, shapes and statements are consistent: the input of the derivation."""
    name: str
    source: SourceFile
    params: tuple[ParamInfo, ...]
    consts: dict            # name → ast.Expr (evaluated lazily: may refer to symbolic constants)
    symbols: dict           # name → SymbolInfo
    data: dict              # name → np.ndarray (object dtype for exact inline literals)
    loss: ast.Expr | None
    rates: tuple            # (target flat index set spec, var name|None, expr, span)
    evolve: ast.Evolve
    expand: ast.Expand | None
    carleman: ast.Carleman | None
    solver: ast.Solver | None
    decl: ast.ModelDecl = field(repr=False)

    @property
    def n(self) -> int:
        return sum(p.size for p in self.params)

    @property
    def names(self) -> list[str]:
        out = []
        for p in self.params:
            out += p.entry_names()
        return out

    def param(self, name: str) -> ParamInfo | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def evolve_arg(self, name: str) -> ast.Arg | None:
        for a in self.evolve.args:
            if a.name == name:
                return a
        return None

    @property
    def carleman_order(self) -> int:
        return self.carleman.order if self.carleman else 1

    @property
    def basis(self) -> str:
        return (self.carleman.basis if self.carleman and self.carleman.basis else "kronecker")


# ----------------------------------------------------------------------------- the checker

class _Checker:
    def __init__(self, decl: ast.ModelDecl, source: SourceFile):
        self.decl = decl
        self.source = source
        self.sink = DiagnosticSink()
        self.globals: dict[str, tuple[str, object]] = {}  # name → (kind, node)

    def err(self, code, msg, span, help=None, notes=()):
        self.sink.error(code, msg, span, help, notes)

    # -- definitions ---------------------------------------------------------------------
    def define(self, name: str, kind: str, node, span) -> bool:
        if name in self.globals:
            prev_kind, prev = self.globals[name]
            pspan = getattr(prev, "name_span", None) or getattr(prev, "span", None)
            where = f" (first defined as a {prev_kind} at line {pspan.line})" if pspan else ""
            self.err("E0201", f"`{name}` is defined twice{where}", span,
                     help=f"rename one of the two definitions of `{name}`")
            return False
        self.globals[name] = (kind, node)
        return True

    def run(self) -> CheckedModel:
        d = self.decl
        params, consts, symbols, data = [], {}, {}, {}
        losses, rates, evolves, expands, carlemans, solvers = [], [], [], [], [], []
        offset = 0
        for st in d.body:
            if isinstance(st, ast.Param):
                if self.define(st.name, "param", st, st.name_span or st.span):
                    info = self.param_info(st, offset)
                    if info is not None:
                        params.append(info)
                        offset += info.size
            elif isinstance(st, ast.Const):
                if self.define(st.name, "const", st, st.name_span or st.span):
                    consts[st.name] = st.value
            elif isinstance(st, ast.SymConst):
                if self.define(st.name, "symbolic const", st, st.name_span or st.span):
                    info = self.symbol_info(st)
                    if info is not None:
                        symbols[st.name] = info
            elif isinstance(st, ast.Data):
                if self.define(st.name, "data", st, st.name_span or st.span):
                    arr = self.data_value(st)
                    if arr is not None:
                        data[st.name] = arr
            elif isinstance(st, ast.Loss):
                losses.append(st)
            elif isinstance(st, ast.Rate):
                rates.append(st)
            elif isinstance(st, ast.Evolve):
                evolves.append(st)
            elif isinstance(st, ast.Expand):
                expands.append(st)
            elif isinstance(st, ast.Carleman):
                carlemans.append(st)
            elif isinstance(st, ast.Solver):
                solvers.append(st)
        self.params = {p.name: p for p in params}
        self.data = data
        self.consts = consts
        self.symbols = symbols

        for group, what in ((losses, "loss"), (evolves, "evolve"), (expands, "expand"),
                            (carlemans, "carleman"), (solvers, "solver")):
            for extra in group[1:]:
                self.err("E0209", f"more than one `{what}` statement", extra.span,
                         help=f"a model has at most one `{what}`; delete or merge the others")
        if not params and not self.sink.errors:
            self.err("E0209", f"model `{d.name}` declares no `param`", d.name_span or d.span,
                     help="declare the trainable parameters, e.g. `param x = 0.3`")
        if losses and rates:
            self.err("E0209", "a model has either a `loss` or `rate` equations, not both",
                     rates[0].span, help="delete the `rate` lines to train the loss, or the `loss`")
        if not losses and not rates:
            self.err("E0209", f"model `{d.name}` has no `loss` and no `rate` equations",
                     d.name_span or d.span, help="add `loss = EXPR` (or `rate x = EXPR` per parameter)")
        if not evolves:
            self.err("E0212", f"model `{d.name}` does not say how it is trained",
                     d.name_span or d.span,
                     help="add `evolve gd(lr = 0.1, steps = 10)` (or sgd(...), flow(time = .., dt = ..))")

        for c in consts.values():
            self.check_expr(c, {}, const_only=True)
        loss = losses[0].expr if losses else None
        if loss is not None:
            self.check_expr(loss, {})
        rate_specs = self.check_rates(rates) if rates and not losses else ()
        evolve = evolves[0] if evolves else None
        if evolve is not None:
            self.check_evolve(evolve, rates_model=bool(rates) and not losses, loss=loss)
        expand = expands[0] if expands else None
        if expand is not None:
            self.check_expand(expand, offset)
        carleman = carlemans[0] if carlemans else None
        if carleman is not None:
            if carleman.order < 1:
                self.err("E0214", f"Carleman order must be at least 1, not {carleman.order}",
                         carleman.span, help="write `carleman order 1` or higher")
            if carleman.basis is not None and carleman.basis not in BASES:
                self.err("E0214", f"unknown Carleman basis `{carleman.basis}`", carleman.span,
                         help="use `basis kronecker` (the paper's u^{⊗j}) or `basis symmetric` (monomials)")
        solver = solvers[0] if solvers else None
        if solver is not None:
            self.check_solver(solver)
        self.sink.raise_if_errors()
        return CheckedModel(d.name, self.source, tuple(params), consts, symbols, data, loss,
                            rate_specs, evolve, expand, carleman, solver, d)

    # -- params / data --------------------------------------------------------------------
    def param_info(self, st: ast.Param, offset: int) -> ParamInfo | None:
        shape = tuple(st.shape) if st.shape else ()
        if any(s_ <= 0 for s_ in shape):
            self.err("E0206", f"parameter `{st.name}` has an empty shape {list(shape)}", st.span,
                     help="every dimension must be a positive integer")
            return None
        size = math.prod(shape) if shape else 1
        if offset + size > PARAM_LIMIT:
            raise SizeLimitError(Diagnostic(
                "E0222", f"`{st.name}` brings the model to {offset + size:,} parameters, over the limit "
                         f"{PARAM_LIMIT:,}", st.span,
                help=f"declare a smaller model; `qdsl resources` on it with `--params {offset + size}` "
                     f"projects the quantum cost at this size without building anything"))
        if st.init is None:
            init = np.array([Fraction(0)] * size, dtype=object)
        else:
            arr = self.array_value(st.init, st.name, shape, st.span)
            if arr is None:
                return None
            init = arr.reshape(-1)
        return ParamInfo(st.name, shape, offset, init, st.name_span or st.span)

    def data_value(self, st: ast.Data):
        shape = tuple(st.shape) if st.shape else None
        if shape and math.prod(shape) > DATA_LIMIT:
            self.refuse_data(st.name, math.prod(shape), st.span)
        return self.array_value(st.value, st.name, shape, st.span)

    @staticmethod
    def refuse_data(name, entries, span, what="entries"):
        raise SizeLimitError(Diagnostic(
            "E0222", f"data `{name}` would hold {entries:,} {what}, over the limit {DATA_LIMIT:,} entries",
            span, help="use a sample of the data (qdsl expands the loss term by term)"))

    def array_value(self, value, name, shape, span):
        """Evaluate an initializer (literal, scalar expression or load) and check its shape."""
        if isinstance(value, ast.Load):
            arr = self.load(value)
            if arr is None:
                return None
        elif isinstance(value, ast.ArrayLit):
            arr = self.literal(value)
            if arr is None:
                return None
        else:
            v = self.const_number(value)
            if v is None:
                return None
            if shape:  # a scalar initializer broadcasts: `param w[4] = 0.1`
                return np.full(int(np.prod(shape)), v, dtype=object).reshape(shape)
            return np.array(v, dtype=object)
        if shape is not None and tuple(arr.shape) != tuple(shape):
            vspan = getattr(value, "span", None) or span
            self.err("E0206", f"`{name}` is declared with shape {list(shape)} but its value has "
                              f"shape {list(arr.shape)}", vspan,
                     help=f"make the value {_shape_words(shape)}, or change the declared shape to "
                          f"{list(arr.shape)}")
            return None
        if shape is not None and shape == () and arr.shape != ():
            return None
        return arr

    def literal(self, lit: ast.ArrayLit):
        def walk(node):
            if isinstance(node, ast.ArrayLit):
                items = [walk(e) for e in node.elements]
                if any(i is None for i in items):
                    return None
                shapes = {_nested_shape(i) for i in items}
                if len(shapes) > 1:
                    self.err("E0206", "ragged array literal: rows have different lengths", node.span,
                             help="every row of an array literal must have the same length")
                    return None
                return items
            return self.const_number(node)
        rows = walk(lit)
        if rows is None:
            return None
        if rows == []:
            self.err("E0206", "empty array literal", lit.span, help="write at least one value")
            return None
        arr = np.empty(_nested_shape(rows), dtype=object)
        flat = list(_flatten(rows))
        arr.reshape(-1)[:] = flat
        return arr

    def load(self, node: ast.Load):
        base = self.source.directory or Path.cwd()
        path = (base / node.path)
        suffix = path.suffix.lower()
        if suffix not in (".npy", ".npz", ".csv"):
            self.err("E0207", f"cannot load `{node.path}`: unsupported file type `{suffix or '(none)'}`",
                     node.span, help="load() reads .npy, .npz (with a key) and .csv files")
            return None
        if not path.is_file():
            self.err("E0207", f"data file `{node.path}` not found", node.span,
                     help=f"paths are relative to the folder of {Path(self.source.name).name}")
            return None
        self.check_file_size(node, path, suffix)
        try:
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
            elif suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    keys = list(z.keys())
                    key = node.key if node.key is not None else (keys[0] if len(keys) == 1 else None)
                    if key is None or key not in keys:
                        what = f"no array `{node.key}`" if node.key else "several arrays"
                        self.err("E0207", f"`{node.path}` has {what}", node.span,
                                 help=f"name one of its arrays: load(\"{node.path}\", \"KEY\") with KEY in {keys}")
                        return None
                    arr = z[key]
            else:
                arr = np.loadtxt(path, delimiter=",", dtype=float, ndmin=1)
        except Exception as exc:  # numpy's readers raise many types for malformed files
            self.err("E0207", f"cannot read `{node.path}`: {type(exc).__name__}: {exc}".strip(), node.span,
                     help="the file must be a numeric .npy/.npz array or a comma-separated .csv of numbers")
            return None
        if arr.dtype.kind not in "biuf":
            self.err("E0207", f"`{node.path}` holds {arr.dtype} values, not real numbers", node.span,
                     help="save a numeric (integer or float) array")
            return None
        arr = np.asarray(arr, dtype=float)
        if not np.all(np.isfinite(arr)):
            self.err("E0207", f"`{node.path}` contains NaN or infinite values", node.span,
                     help="clean the data before loading it")
            return None
        return arr.astype(object)

    def check_file_size(self, node, path, suffix) -> None:
        """Refuse a data file over DATA_LIMIT entries from its header (or its size, for .csv),
        before reading it."""
        import zipfile

        shape = None
        try:
            if suffix == ".npy":
                shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
            elif suffix == ".npz":
                with zipfile.ZipFile(path) as z:
                    names = [n for n in z.namelist() if n.endswith(".npy")]
                    want = f"{node.key}.npy" if node.key is not None else (names[0] if len(names) == 1 else None)
                    if want in names:
                        with z.open(want) as f:
                            major, _ = np.lib.format.read_magic(f)
                            read = (np.lib.format.read_array_header_1_0 if major == 1
                                    else np.lib.format.read_array_header_2_0)
                            shape = read(f)[0]
            elif path.stat().st_size > CSV_BYTES_LIMIT:
                self.refuse_data(node.path, path.stat().st_size, node.span, what="bytes of text")
        except (OSError, ValueError, zipfile.BadZipFile):
            return  # malformed: the reader below reports it
        if shape is not None and math.prod(shape) > DATA_LIMIT:
            self.refuse_data(node.path, math.prod(shape), node.span)

    # -- constants -------------------------------------------------------------------------
    def const_number(self, expr):
        """Evaluate a constant expression (numbers, consts, data entries); None after an error."""
        from .derive import ConstEvaluator, EvalError

        try:
            return ConstEvaluator(self.consts_so_far(), self.data_so_far()).eval(expr)
        except EvalError as e:
            self.err(e.code, e.message, e.span, help=e.help)
            return None

    def consts_so_far(self):
        return {k: v[1].value for k, v in self.globals.items() if v[0] == "const"}

    def data_so_far(self):
        return getattr(self, "data", None) or {}

    def symbol_info(self, st: ast.SymConst) -> SymbolInfo | None:
        lo, hi = self.const_number(st.lo), self.const_number(st.hi)
        if lo is None or hi is None:
            return None
        if not float(lo) < float(hi):
            self.err("E0206", f"empty domain for `{st.name}`: {float(lo):g} is not below {float(hi):g}",
                     st.span, help="write the interval as (LO, HI) with LO < HI")
            return None
        return SymbolInfo(st.name, float(lo), float(hi), st.lo_closed, st.hi_closed, st.name_span or st.span)

    # -- expressions ----------------------------------------------------------------------
    def check_expr(self, e, scope: dict, const_only: bool = False) -> None:
        """Names resolve, functions exist, indices match ranks."""
        if isinstance(e, ast.Number):
            return
        if isinstance(e, ast.Name):
            if e.id in scope:
                return
            kind = self.globals.get(e.id, (None,))[0]
            if kind is None:
                cands = list(self.globals) + list(scope)
                self.err("E0203", f"unknown name `{e.id}`", e.span, help=did_you_mean(e.id, cands)
                         or "declare it with `param`, `const` or `data`, or bind it in sum(i in a..b: ...)")
            elif const_only and kind == "param":
                self.err("E0204", f"a constant cannot depend on the parameter `{e.id}`", e.span,
                         help="constants are fixed numbers; use the parameter in the loss instead")
            elif kind in ("param", "data"):
                shape = self.shape_of(e.id)
                if shape:
                    self.err("E0204", f"`{e.id}` has shape {list(shape)} and needs {len(shape)} "
                                      f"ind{'ex' if len(shape) == 1 else 'ices'}", e.span,
                             help=f"write `{e.id}[{', '.join('ijk'[:len(shape)])}]`, e.g. inside "
                                  f"sum(i in 0..{shape[0]}: ...)")
            return
        if isinstance(e, ast.Index):
            name = e.base.id
            for ix in e.indices:
                self.check_expr(ix, scope, const_only=True)
            if name in scope:
                self.err("E0204", f"`{name}` is a range variable and cannot be indexed", e.span)
                return
            kind = self.globals.get(name, (None,))[0]
            if kind is None:
                self.err("E0203", f"unknown name `{name}`", e.base.span,
                         help=did_you_mean(name, list(self.globals)) or "declare it with `param` or `data`")
                return
            if const_only and kind == "param":
                self.err("E0204", f"a constant cannot depend on the parameter `{name}`", e.span)
                return
            shape = self.shape_of(name)
            if shape is None:
                return
            if len(shape) != len(e.indices):
                what = "a scalar" if not shape else f"shape {list(shape)}"
                self.err("E0204", f"`{name}` has {what} but is indexed with {len(e.indices)} "
                                  f"ind{'ex' if len(e.indices) == 1 else 'ices'}", e.span,
                         help=(f"write `{name}` without brackets" if not shape else
                               f"use {len(shape)} ind{'ex' if len(shape) == 1 else 'ices'}: "
                               f"`{name}[{', '.join('ijk'[:len(shape)])}]`"))
            return
        if isinstance(e, ast.BinOp):
            self.check_expr(e.left, scope, const_only)
            self.check_expr(e.right, scope, const_only)
            return
        if isinstance(e, ast.Unary):
            self.check_expr(e.operand, scope, const_only)
            return
        if isinstance(e, ast.Call):
            fspan = e.func_span or e.span
            if e.func in NON_SMOOTH:
                self.err("E0208", f"`{e.func}` is not smooth: its Taylor expansion does not exist "
                                  f"everywhere", fspan, help=f"non-smooth: use {NON_SMOOTH[e.func]}")
            elif e.func not in SMOOTH_FUNCTIONS:
                self.err("E0208", f"unknown function `{e.func}`", fspan,
                         help=did_you_mean(e.func, SMOOTH_FUNCTIONS)
                         or f"the functions are {', '.join(SMOOTH_FUNCTIONS)}")
            elif len(e.args) != 1:
                self.err("E0208", f"`{e.func}` takes 1 argument, not {len(e.args)}", e.span)
            for a in e.args:
                self.check_expr(a, scope, const_only)
            return
        if isinstance(e, ast.Reduce):
            self.check_expr(e.lo, scope, const_only=True)
            self.check_expr(e.hi, scope, const_only=True)
            if e.var in self.params:
                self.err("E0202", f"range variable `{e.var}` shadows the parameter `{e.var}`",
                         e.var_span or e.span, help="rename the range variable (e.g. `k`)")
            self.check_expr(e.body, {**scope, e.var: True}, const_only)
            return
        self.err("E0200", f"unexpected expression {type(e).__name__}", getattr(e, "span", None))

    def shape_of(self, name):
        if name in self.params:
            return self.params[name].shape
        if name in self.data:
            return tuple(self.data[name].shape)
        kind = self.globals.get(name, (None,))[0]
        if kind in ("const", "symbolic const"):
            return ()
        return None

    # -- rates, evolve, expand, solver ------------------------------------------------------
    def check_rates(self, rates):
        specs, covered = [], {}
        for r in rates:
            t = r.target
            name = t.id if isinstance(t, ast.Name) else t.base.id
            tspan = t.span
            p = self.params.get(name)
            if p is None:
                self.err("E0203", f"`rate {name}`: `{name}` is not a parameter", tspan,
                         help=did_you_mean(name, list(self.params)) or "declare it with `param`")
                continue
            if isinstance(t, ast.Name):
                if p.shape:
                    self.err("E0204", f"`{name}` has shape {list(p.shape)}: write `rate {name}[i] = ...`",
                             tspan, help=f"bind an index: `rate {name}[i] = EXPR` (i ranges over 0..{p.shape[0]})")
                    continue
                entries = [p.offset]
                self.check_expr(r.expr, {})
                specs.append((entries, None, r.expr, r.span))
            else:
                if len(t.indices) != len(p.shape):
                    self.err("E0204", f"`{name}` has {len(p.shape)} dimension(s) but the rate target has "
                                      f"{len(t.indices)} ind{'ex' if len(t.indices) == 1 else 'ices'}", tspan)
                    continue
                bound = [ix.id for ix in t.indices if isinstance(ix, ast.Name)
                         and ix.id not in self.globals]
                if bound and len(bound) == len(t.indices) and len(p.shape) == 1:
                    entries = [p.offset + k for k in range(p.size)]
                    self.check_expr(r.expr, {bound[0]: True})
                    specs.append((entries, bound[0], r.expr, r.span))
                else:
                    idx = []
                    for ix in t.indices:
                        v = self.const_number(ix)
                        if v is None:
                            break
                        idx.append(v)
                    if len(idx) != len(t.indices):
                        continue
                    if any(not float(v).is_integer() or not 0 <= int(v) < s_ for v, s_ in zip(idx, p.shape)):
                        self.err("E0205", f"rate target `{name}{[int(v) if float(v).is_integer() else float(v) for v in idx]}` "
                                          f"is outside shape {list(p.shape)}", tspan)
                        continue
                    flat = int(np.ravel_multi_index([int(v) for v in idx], p.shape))
                    self.check_expr(r.expr, {})
                    specs.append(([p.offset + flat], None, r.expr, r.span))
            for e in specs[-1][0] if specs else []:
                if e in covered and covered[e] is not r:
                    self.err("E0209", f"two `rate` equations for the same entry of `{name}`", r.span)
                    break
                covered[e] = r
        if not self.sink.errors:
            n = sum(p.size for p in self.params.values())
            missing = [i for i in range(n) if i not in covered]
            if missing:
                names = []
                for p in self.params.values():
                    names += p.entry_names()
                self.err("E0209", f"no `rate` equation for {', '.join(names[i] for i in missing[:5])}"
                                  f"{' …' if len(missing) > 5 else ''}", rates[0].span,
                         help="give every parameter a rate (`rate x = 0` keeps it fixed)")
        return tuple(specs)

    def check_evolve(self, ev: ast.Evolve, rates_model: bool, loss):
        kspan = ev.kind_span or ev.span
        if ev.kind not in EVOLVE_ARGS:
            self.err("E0211", f"unknown training method `{ev.kind}`", kspan,
                     help=did_you_mean(ev.kind, EVOLVE_ARGS) or "use gd(lr, steps), sgd(lr, steps, batch, seed), "
                                                               "momentum(lr, beta, steps), nesterov(lr, beta, steps) or flow(time, dt)")
            return
        if rates_model and ev.kind != "flow":
            self.err("E0211", f"`rate` equations define an ODE: train them with `flow`, not `{ev.kind}`",
                     kspan, help="write `evolve flow(time = 2.0, dt = 0.1)`")
        required, optional = EVOLVE_ARGS[ev.kind]
        seen = {}
        for a in ev.args:
            if a.name in seen:
                self.err("E0211", f"argument `{a.name}` given twice", a.span)
            seen[a.name] = a
            if a.name not in required | optional:
                self.err("E0211", f"`{ev.kind}` has no argument `{a.name}`", a.span,
                         help=did_you_mean(a.name, required | optional)
                         or f"its arguments are {', '.join(sorted(required | optional))}")
                continue
            # momentum's certificate is numeric (the joint linear part of (θ, v)): no symbolic lr
            allowed = {"dt", "time"} if ev.kind == "flow" else set() if ev.kind in MOMENTUM_KINDS else {"lr"}
            self.check_expr(a.value, {}, const_only=True)
            if self.refers_symbol(a.value) and a.name not in allowed:
                self.err("E0211", f"`{a.name}` cannot be symbolic", a.span,
                         help="give it a number; only the learning rate (or dt) may be a symbolic constant")
                continue
            if not self.refers_symbol(a.value):
                v = self.const_number(a.value)
                if v is None:
                    continue
                self.check_arg_value(ev.kind, a, v)
        missing = sorted(required - set(seen))
        if missing:
            self.err("E0211", f"`evolve {ev.kind}` is missing {', '.join(f'`{m}`' for m in missing)}",
                     ev.span, help=f"write e.g. `evolve {ev.kind}({_example_args(ev.kind)})`")
        if ev.kind == "sgd" and loss is not None and not _has_mean(loss):
            self.err("E0218", "sgd draws samples from the loss's data term, but the loss has no "
                              "`mean(k in ..: ...)`", ev.span,
                     help="write the data term as mean(k in 0..N: ...), or train with `gd`")

    def check_arg_value(self, kind, a: ast.Arg, v):
        fv = float(v)
        if a.name in ("steps", "batch"):
            if not fv.is_integer() or fv <= 0:
                self.err("E0211", f"`{a.name}` must be a positive integer, not {fv:g}", a.value.span or a.span,
                         help=f"e.g. `{a.name} = 10`")
        elif a.name == "seed":
            if not fv.is_integer() or fv < 0:
                self.err("E0211", f"`seed` must be a non-negative integer, not {fv:g}", a.value.span or a.span)
        elif a.name == "beta":
            if not 0 <= fv < 1:
                self.err("E0231", f"the momentum `beta` must lie in [0, 1), not {fv:g}", a.value.span or a.span,
                         help="e.g. `beta = 0.9` (β ≥ 1 never forgets the velocity)")
        elif a.name in ("lr", "dt", "time"):
            if fv <= 0:
                self.err("E0211", f"`{a.name}` must be positive, not {fv:g}", a.value.span or a.span,
                         help=f"e.g. `{a.name} = 0.1`")

    def refers_symbol(self, e) -> bool:
        return any(isinstance(x, ast.Name) and x.id in self.symbols for x in _walk(e))

    def check_expand(self, ex: ast.Expand, n: int):
        if ex.order < 1:
            self.err("E0214", f"expansion order must be at least 1, not {ex.order}", ex.span,
                     help="`expand order 2` keeps the update up to degree 2")
        elif ex.order > MAX_EXPAND_ORDER:
            self.err("E0214", f"expansion order {ex.order} is above the supported {MAX_EXPAND_ORDER}", ex.span,
                     help="the Taylor coefficients come from symbolic derivatives, whose size grows fast; "
                          f"use `expand order d` with d ≤ {MAX_EXPAND_ORDER}")
        if isinstance(ex.about, ast.ArrayLit):
            arr = self.literal(ex.about)
            if arr is not None and arr.size != n:
                self.err("E0217", f"expansion point has {arr.size} entries but the model has {n} "
                                  f"parameters", ex.about.span,
                         help="give one value per parameter entry, in declaration order (vectors flattened)")
        elif ex.about not in (None, "init"):
            self.err("E0217", f"unknown expansion point `{ex.about}`", ex.span,
                     help="write `about init` or `about [..]` (one value per parameter)")

    def check_solver(self, so: ast.Solver):
        kspan = so.kind_span or so.span
        if so.kind not in SOLVER_ARGS:
            self.err("E0213", f"unknown solver `{so.kind}`", kspan,
                     help=did_you_mean(so.kind, SOLVER_ARGS) or "use qsvt(eps = 1e-3), hhl(clock = 7) or classical")
            return
        for a in so.args:
            if a.name not in SOLVER_ARGS[so.kind]:
                self.err("E0213", f"solver `{so.kind}` has no argument `{a.name}`", a.span,
                         help=did_you_mean(a.name, SOLVER_ARGS[so.kind])
                         or f"its arguments are {', '.join(sorted(SOLVER_ARGS[so.kind]))}")
                continue
            v = self.const_number(a.value)
            if v is None:
                continue
            fv = float(v)
            if a.name in ("clock", "idle") and (not fv.is_integer() or fv < (1 if a.name == "clock" else 0)):
                self.err("E0213", f"`{a.name}` must be a {'positive' if a.name == 'clock' else 'non-negative'} "
                                  f"integer, not {fv:g}", a.span)
            if a.name == "eps" and not 0 < fv < 1:
                self.err("E0213", f"`eps` must lie in (0, 1), not {fv:g}", a.span, help="e.g. `eps = 1e-3`")


def _walk(e):
    yield e
    for child in getattr(e, "__dataclass_fields__", {}):
        v = getattr(e, child)
        if isinstance(v, tuple):
            for x in v:
                if hasattr(x, "__dataclass_fields__"):
                    yield from _walk(x)
        elif hasattr(v, "__dataclass_fields__") and not isinstance(v, (Span, SourceFile)):
            yield from _walk(v)


def _has_mean(e) -> bool:
    return any(isinstance(x, ast.Reduce) and x.kind == "mean" for x in _walk(e))


def _nested_shape(x):
    if isinstance(x, list):
        return (len(x),) + (_nested_shape(x[0]) if x else ())
    return ()


def _flatten(x):
    if isinstance(x, list):
        for y in x:
            yield from _flatten(y)
    else:
        yield x


def _shape_words(shape):
    if len(shape) == 1:
        return f"a list of {shape[0]} values"
    return f"{shape[0]} rows of {shape[1]} values" if len(shape) == 2 else f"shape {list(shape)}"


def _example_args(kind):
    return {"gd": "lr = 0.1, steps = 10", "sgd": "lr = 0.1, steps = 10, batch = 2, seed = 0",
            "momentum": "lr = 0.1, beta = 0.9, steps = 10", "nesterov": "lr = 0.1, beta = 0.9, steps = 10",
            "flow": "time = 2.0, dt = 0.1"}[kind]


def check_model(decl: ast.ModelDecl, source: SourceFile) -> CheckedModel:
    """Names, shapes, statements and arguments of one model: collects every error, then raises."""
    return _Checker(decl, source).run()


def select_model(module: ast.Module, source: SourceFile, name: str | None) -> ast.ModelDecl:
    """The model to work on: the only one, or the one named by --model."""
    models = module.models
    if name is None:
        if len(models) == 1:
            return models[0]
        names = [m.name for m in models]
        raise CompileError(Diagnostic("E0219", f"{source.name} holds {len(models)} models: "
                                               f"{', '.join(names)}", models[1].name_span or models[1].span,
                                      help=f"choose one with --model NAME (e.g. --model {names[0]})"))
    for m in models:
        if m.name == name:
            return m
    raise CompileError(Diagnostic("E0219", f"no model named `{name}` in {source.name}", None,
                                  help=did_you_mean(name, [m.name for m in models])
                                  or f"the models are {', '.join(m.name for m in models)}",
                                  file=source.name))
