r"""Fault-tolerant resources of a compiled model: one cost model, counted = estimated = emitted.

Three ways to the same gate counts, all by gate kind (``x h z s sdg t tdg cx ccx ry rz``):

* **counted** (``method: "counted"``) — the circuit is built and emitted in the requested basis
  (``--basis native`` or ``clifford+t``) and the gates *written in the file* are summed (the
  emitter's own tally over its gate definitions, each definition times its calls). With
  ``--basis clifford+t`` the T count is the number of ``t``/``tdg`` in that file, exactly: what
  Microsoft's estimator counts when it reads the file.
* **estimated** (``method: "estimated"``) — nothing is built: the structured (or sparse-access)
  description is evaluated and the blocks' cost functions (`qdsl.synthesis.blocks`) are summed,
  around the QSVT degree the solver would choose (`synthesis.qsvt.qsvt_plan`,
  `synthesis.qsvt.qsvt_cost`). These are the functions the circuit builder uses, so at any size
  where both exist, estimated == counted for every native gate kind (tested for every example).
* **projected** (``--params n --steps T``, also ``method: "estimated"``) — the same composition
  evaluated at sizes where nothing can be built (`synthesis.projection`), with the sizes' scaling
  and the *access model* stated: "qrom" (the lookups qdsl builds: O(nnz) Toffolis per query) or
  "qram" (the paper's assumption: O(log n) per query).

**From gates to T states.** A native circuit holds exact T gates, Toffolis and arbitrary-angle
rotations: T states = t + 4·Toffoli (a CCZ from four T states, Jones 2013 / Gidney 2018) +
T_rot·rotations, T_rot(δ) = 3·log₂(1/δ) + 2 per rotation (Ross & Selinger 2016, fitted to Qiskit's
gridsynth), δ = ε/rotations. In the Clifford+T file each Toffoli is its exact 7-T word and every
rotation its gridsynth word, so its T count is larger than the T-state count (which the physical
estimate uses either way: `backends.physical`).

**Query count.** The report states one attempt's queries to the block-encoding of L: the QSVT
degree d (the smallest odd degree whose relative-error bound δ_m ≤ ε/4 on [1/κ′, 1], lowered by the
exact achieved error where that is affordable). An attempt succeeds with probability p_s only; the
end-to-end section (`backends.endtoend`) compares whole solvers with whole solvers: qdsl's queries
for one state with constant success, (2R+1)·d after amplifying p_s, beside Dalzell's
56κ′ + 1.05κ′·ln(1/ε) (arXiv:2406.12086), a whole solver of constant success.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from qdsl.display import TextReport

from .physical import DEFAULT_CONSTANTS as PHYSICAL_CONSTANTS
from .physical import LogicalCounts, physical_estimate, summary

__all__ = ["ResourceReport", "resources", "t_per_rotation", "t_states", "SURFACE_CODE",
           "GRIDSYNTH_A", "GRIDSYNTH_B", "T_PER_TOFFOLI"]

#: T states per Toffoli (a CCZ from four T states: Jones 2013; Gidney's temporary AND)
T_PER_TOFFOLI = 4

#: gridsynth T-count model T_rot(δ) = GRIDSYNTH_A·log₂(1/δ) + GRIDSYNTH_B
GRIDSYNTH_A, GRIDSYNTH_B = 3, 2

#: surface-code constants (all reported under `assumptions`): those of `backends.physical`
SURFACE_CODE = {**PHYSICAL_CONSTANTS, "t_states_per_rotation": "3*log2(1/delta) + 2 (gridsynth)",
                "t_states_per_toffoli": T_PER_TOFFOLI}


def t_per_rotation(delta: float) -> float:
    r"""T gates of one gridsynth rotation at operator-norm error δ: 3·log₂(1/δ) + 2."""
    return GRIDSYNTH_A * math.log2(1.0 / float(delta)) + GRIDSYNTH_B


def t_states(counts, rotations: int, eps: float) -> tuple[int, float]:
    """(T states, T per rotation): t + tdg + 4·(ccx + and) + T_rot(ε/rotations)·rotations (an
    ``and`` is Gidney's 4-T temporary AND; its ``and_dg`` uncomputation is measured, no T)."""
    t_rot = t_per_rotation(eps / rotations) if rotations else 0.0
    total = counts.get("t", 0) + counts.get("tdg", 0) \
        + T_PER_TOFFOLI * (counts.get("ccx", 0) + counts.get("and", 0)) + t_rot * rotations
    return int(math.ceil(total)), t_rot


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceReport(TextReport):
    """What `resources(c, ...)` returns: `to_dict()` (the JSON of `qdsl resources --json`) and
    `render()` (a table)."""

    method: str
    logical_qubits: int
    t_count: int
    counts: dict
    physical: dict
    inputs: dict
    formulas: dict = field(default_factory=dict)
    assumptions: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    notes: tuple = ()
    model: str = "model"
    end_to_end: dict | None = None

    def to_dict(self) -> dict:
        return {"model": self.model, "method": self.method, "logical_qubits": int(self.logical_qubits),
                "t_count": int(self.t_count), "counts": dict(self.counts),
                "physical": self.physical, "inputs": self.inputs, "formulas": self.formulas,
                "assumptions": self.assumptions, "details": self.details, "notes": list(self.notes),
                "end_to_end": self.end_to_end}

    def rows(self) -> list:
        """The table of `render()` as (label, value) pairs (also the notebook's HTML table)."""
        i, ph, c = self.inputs, self.physical, self.counts
        rot = self.details.get("rotations", 0)
        rows = [
            ("model", f"{self.model} ({self.method}; solver {i.get('solver')}, "
                      f"block-encoding {i.get('construction')}, gates {i.get('gate_basis')})"),
            ("parameters n", f"{i['n']:,}"), ("steps T", f"{i['T']}"),
            ("Carleman order N / basis", f"{i['N']} / {i['basis']}"),
            ("Carleman dimension D", _big(i["carleman_dim"])),
            ("system qubits", f"{i['system_qubits']}"),
            ("κ′ (source)", f"{i['kappa_prime']:.6g} ({i['kappa_source']})"),
            ("ε", f"{i['eps']:g}"),
            *([("access model", {"qrom": "QROM lookups of the F_ℓ nonzeros (as built)",
                                 "qroam": "QROAM (select-swap) lookups (not built)",
                                 "qram": "QRAM queries (assumed, not built)",
                                 "qram-counted": "QRAM queries, every memory cell paid (assumed)",
                                 "qram-free": "QRAM queries, initial state free (assumed)"}[i["access"]])]
              if "access" in i else []),
            (_queries_row(i)[0], _queries_row(i)[1] + ("   (one attempt)" if i.get("degree") is not None else "")),
            ("logical qubits", f"{self.logical_qubits:,}"),
            *([("  QROAM data register", _qroam_row(i["sizes"]))]
              if "qroam_data_qubits" in i.get("sizes", {}) else []),
            ("Toffolis / rotations / T gates", f"{_big(c.get('ccx', 0))} / {_big(rot)} / "
                                               f"{_big(c.get('t', 0) + c.get('tdg', 0))}"),
            *([("Ands (4 T) / measured uncomputations", f"{_big(c.get('and', 0))} / "
                                                        f"{_big(c.get('and_dg', 0))}")]
              if c.get("and", 0) or c.get("and_dg", 0) else []),
            ("T count" if i.get("gate_basis") == "clifford+t" else "T states (4 per Toffoli)",
             _big(self.t_count)),
            ("code distance", f"{ph['code_distance']}"),
            ("physical qubits", _big(ph["physical_qubits"])),
            ("runtime", _duration(ph["runtime_seconds"])),
        ]
        if i.get("gate_basis") != "clifford+t" and rot:
            rows.insert(-4, ("  T per rotation", f"{self.details.get('t_per_rotation', 0):.1f}"))
        return rows

    def render(self) -> str:
        rows = self.rows()
        ph = self.physical
        w = max(len(r[0]) for r in rows)
        out = [f"fault-tolerant resources of `{self.model}`", "-" * (w + 40)]
        out += [f"{k.ljust(w)}  {v}" for k, v in rows]
        out += ["", summary(ph)]
        if self.end_to_end is not None:
            out += ["", *render_end_to_end(self.end_to_end)]
        out += [f"note: {x}" for x in self.notes]
        return "\n".join(out)

    def _display_title(self) -> str:
        return f"qdsl resources: fault-tolerant resources of {self.model} ({self.method})"

    def _display_rows(self):
        return [(k.strip(), v) for k, v in self.rows()]

    def _display_text(self) -> str:
        e2e = ["", *render_end_to_end(self.end_to_end)] if self.end_to_end is not None else []
        return "\n".join([summary(self.physical), *e2e] + [f"note: {x}" for x in self.notes])


def render_end_to_end(e: dict) -> list[str]:
    """The end-to-end section of `qdsl resources` (`backends.endtoend.end_to_end`'s dict)."""
    o, tot, pc = e["output"], e["total"], e["per_call"]
    sol, ps = e["solution"], e["p_s"]
    kind = {"all": "all of θ_T", "top": f"the {o['K']} largest weights of θ_T",
            "functional": "a linear functional w·θ_T"}[o["kind"]]
    how = "exact" if sol["exact"] else "bounds"

    def rng(v, fmt=".4g"):
        lo, hi = v if isinstance(v, (list, tuple)) else (v, v)
        return f"{lo:{fmt}}" if hi is None or abs(hi - lo) <= 1e-12 * max(abs(hi), 1) else f"[{lo:.3g}, {hi:.3g}]"

    rows = [("output", f"{kind} to ± {o['precision']:g} (absolute, per entry)"),
            ("route", {"final block": "post-select the final block (amplify flags and t ≥ T), "
                                      "then tomography of y_T",
                       "whole state": "tomography of the whole history state, ratios amplified by A_T",
                       "amplitude estimation": "amplitude estimation of P_± and P_1 (time register on T)"}
             [e["route"]]),
            ("idle steps p (chosen)", f"{e['idle']}  (totals tried: "
             + ", ".join(f"p={k}: {_big(float(v))}" for k, v in e["idle_totals"].items()) + ")"),
            ("state error per attempt", f"{e['state_error']:.3g}  (QSVT degree {pc['degree']})" if not e.get("hhl")
             else f"{e['state_error']:.3g}  (HHL clock {e['hhl']['clock']} bits, compiled with "
                  f"{e['hhl']['compiled_clock']}: {_big(pc['degree'])} block-encoding calls)"),
            (f"p_s / P_T / A_T ({how})", f"{rng((ps['low'], ps['high']))} / {rng(sol['P_T'])} / {rng(sol['A_T'])}"),
            ]
    a = e.get("amplification")
    if a:
        rows.append(("amplification", f"{a['rounds']} rounds, {a['calls']} calls, success {a['success']:.3g} "
                                      f"({a['method']})"))
    sm = e["samples"]
    if "copies" in sm:
        rows.append(("samples", f"{_big(sm['copies'])} copies: ℓ∞ tomography 2·⌈36 ln d/δ²⌉, d = "
                                f"{_big(sm['dim'])}, δ = {sm['delta']:.3g}"))
    else:
        rows.append(("samples", f"3 estimates × {sm['median_runs']} runs × {_big(sm['iterates'])} iterates "
                                f"(amplitude estimation, failure ≤ {sm['failure_budget']:g})"))
    ws = e.get("whole_solver")
    if ws:
        rows.append(("whole solver, one state", f"{_big(ws['qdsl_queries'])} queries (success {ws['success']:.3g}) "
                                                f"vs Dalzell 56κ′+1.05κ′ln(1/ε): {_big(ws['dalzell_queries'])}"))
    rows += [("one attempt", f"{_big(float(pc['t_states']))} T states, {pc['logical_qubits']} logical qubits"),
             ("calls (attempts, in all)", _big(float(tot["calls"]))),
             ("T states (in all)", _big(float(tot["t_states"])))]
    rows.append(("  breakdown", ", ".join(f"{k.replace('_', ' ')} {_big(float(v))}"
                                          for k, v in e["breakdown"].items() if v)))
    rt = tot["runtime_s"]
    rows += [("logical / physical qubits", f"{tot['logical_qubits']} / "
              + (_big(tot["physical_qubits"]) if tot["physical_qubits"] is not None else "—")),
             ("runtime (in all)", _duration(rt) if rt is not None
              else f"≥ {_duration(tot['runtime_lower_bound_s'])} (beyond the surface-code model)")]
    if tot.get("memory"):
        m = tot["memory"]
        rows.append(("QRAM/QROAM memory", f"{_big(m['entries'])} entries, {_big(m['bits'])} bits"
                     + (f", {_big(m['qroam_data_qubits'])} QROAM data qubits" if "qroam_data_qubits" in m else "")))
    dl = e.get("download")
    if dl:
        rows.insert(1, ("download / re-upload", f"every {dl['interval']} steps: {dl['cycles']} windows, "
                                                f"each to ± {dl['precision_per_window']:.3g}; a window "
                                                f"{_big(float(dl['window']['t_states']))} T states (figures below: "
                                                f"the last window, totals: all)"))
    w = max(len(r[0]) for r in rows)
    out = ["end to end (what it takes to get the output, not one attempt)", "-" * (w + 40)]
    out += [f"{k.ljust(w)}  {v}" for k, v in rows]
    if e.get("physical_note"):
        out.append(f"note: {e['physical_note']}")
    return out


def _big(v) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3e}"
    v = int(v)
    return f"{v:,}" if abs(v) < 10 ** 12 else f"{v:.3e}"


def _duration(sec: float) -> str:
    for unit, k in (("years", 3.156e7), ("days", 86400), ("hours", 3600), ("s", 1)):
        if sec >= k:
            return f"{sec / k:.3g} {unit} ({sec:.3e} s)"
    return f"{sec:.3e} s"


# ---------------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------------

def _bad(code: str, message: str, help: str):
    from qdsl.diagnostics import CompileError, Diagnostic
    raise CompileError(Diagnostic(code, message, help=help))


#: projected steps `resources --steps` accepts: the structured projection enumerates the time
#: register's steps (`structured._history`), about 4 s per 10^6, so more is refused up front
PROJECT_STEPS_LIMIT = 1_000_000


def _check_options(params, steps, eps):
    """--params, --steps, --eps through qdsl's one option validation path (`qdsl.options`), with
    this command's codes: E0601 params, E0602 steps, E0603 eps (text such as "1e8" accepted)."""
    from qdsl.options import precision, whole_number
    if params is not None:
        params = whole_number(params, "params", code="E0601")
    if steps is not None:
        steps = whole_number(steps, "steps", code="E0602")
        if steps > PROJECT_STEPS_LIMIT:
            from qdsl.diagnostics import Diagnostic, SizeLimitError
            raise SizeLimitError(Diagnostic(
                "E0905", f"--steps {steps:,} is over the {PROJECT_STEPS_LIMIT:,} steps a projection enumerates",
                help="the structured projection walks the time register's steps one by one (seconds per "
                     "10^6); project to at most 1e6 steps"))
    if eps is not None:
        eps = precision(eps, "eps", code="E0603")
    return params, steps, eps


def _model_eps(c) -> float:
    e = c.options.eps if c.options.eps is not None else c._solver_arg("eps")
    return float(e) if e is not None else 1e-3


def _physical(counts: dict, qubits: int, rotations: int, eps: float, backend: str) -> dict:
    """The surface-code estimate of native or Clifford+T counts (`backends.physical`): rotations
    enter as the T gates qdsl's own Clifford+T emission would synthesize them into (gridsynth,
    T_rot(ε/rotations) each), so both physical backends see the same T states and Toffolis."""
    return physical_estimate(_logical_counts(counts, qubits, rotations, eps), backend=backend)


def _logical_counts(counts: dict, qubits: int, rotations: int, eps: float) -> LogicalCounts:
    """The physical estimators' input: T gates with the rotations synthesized (T_rot(ε/rotations)
    each), Toffolis and Ands as CCZs (4 T states each), a measurement per qubit and per And†."""
    t_rot = t_per_rotation(eps / rotations) if rotations else 0.0
    t = counts.get("t", 0) + counts.get("tdg", 0) + t_rot * rotations
    return LogicalCounts(qubits=int(qubits), t_count=int(math.ceil(t)),
                         ccz_count=int(counts.get("ccx", 0) + counts.get("and", 0)),
                         measurement_count=int(qubits + counts.get("and_dg", 0)))


def _rotations_of(counts: dict) -> int:
    return int(counts.get("ry", 0) + counts.get("rz", 0))


def resources(c, *, params=None, steps=None, eps=None, count: bool | None = None,
              access: str = "qrom", physical: str = "builtin", output: str | None = "all",
              precision: float = 1e-3, download=None, max_qubits=None) -> ResourceReport:
    """See `_resources`; with `output` ("all", "top:K", "functional"; None: one attempt only) the
    report also holds the end-to-end cost of that output of θ_T to `precision`
    (`backends.endtoend.end_to_end`, QSVT only; a note says why when it is not available);
    `download`: a download interval K (θ read out and re-uploaded every K steps); `max_qubits`:
    with `access="qroam"` and a projection, the logical qubits one attempt may use — each QROAM
    lookup's block size k is the one of fewest Toffolis that fits (`projection.qubit_budget`;
    default: no budget, the k of fewest Toffolis, its qubits stated)."""
    from qdsl.synthesis.projection import qubit_budget

    params, steps, eps = _check_options(params, steps, eps)   # one validation for both costs
    max_qubits = _check_max_qubits(max_qubits, access, params is not None or steps is not None)
    with qubit_budget(max_qubits):
        return _resources_and_end_to_end(c, params, steps, eps, count, access, physical, output,
                                         precision, download)


def _check_max_qubits(max_qubits, access: str, projecting: bool):
    """`max_qubits` as an int, or a diagnostic (E0451) where it does not apply or is no count."""
    if max_qubits is None:
        return None
    try:
        v = float(max_qubits)
        ok = v == int(v) and v >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        _bad("E0451", f"--max-qubits must be a positive whole number, not {max_qubits}",
             "e.g. --max-qubits 1e5")
    if access != "qroam" or not projecting:
        _bad("E0451", "--max-qubits sets the qubit budget of QROAM lookups in a projection",
             "use it with --access qroam and --params or --steps")
    return int(v)


def _resources_and_end_to_end(c, params, steps, eps, count, access, physical, output, precision,
                              download) -> ResourceReport:
    from qdsl.diagnostics import CompileError
    rep = _resources(c, params=params, steps=steps, eps=eps, count=count, access=access,
                     physical=physical)
    if output is None:
        return rep
    from .endtoend import check_precision, end_to_end, parse_output
    parse_output(output)
    check_precision(precision)
    if c.solver not in ("qsvt", "hhl"):
        return replace(rep, notes=rep.notes + ("the end-to-end cost models the QSVT and HHL solvers only",))
    ce = c
    if c.solver == "hhl" and (params is not None or steps is not None):
        # the projected attempt is QSVT's over the same history system (`_projected`): so is the
        # end-to-end cost around it
        from qdsl.api import Compilation
        ce = Compilation(c.source, replace(c.options, solver="qsvt"))
    try:
        e = end_to_end(ce, output=output, precision=precision, params=params, steps=steps,
                       access=access, physical=physical, download=download)
    except CompileError as exc:
        if exc.diagnostics and exc.diagnostics[0].code in ("E0610", "E0611", "E0614"):
            raise
        return replace(rep, notes=rep.notes + (f"no end-to-end cost: {exc.diagnostics[0].message}",))
    return replace(rep, end_to_end=e)


def _qroam_row(sz: dict) -> str:
    w = sz["qroam_widest_lookup"]
    return (f"{sz['qroam_data_qubits']:,} qubits (k = {sz['qroam_block']:,} copies of the widest "
            f"lookup's {w['bits']}-bit entries, {_big(w['items'])} of them"
            + (f"; budget {sz['qubit_budget']:,} logical qubits" if sz.get("qubit_budget") is not None
               else "; k of fewest Toffolis, no --max-qubits") + ")")


def _resources(c, *, params=None, steps=None, eps=None, count: bool | None = None,
               access: str = "qrom", physical: str = "builtin") -> ResourceReport:
    r"""Fault-tolerant resources of a Compilation `c` (docs/cli.md; module docstring).

    Without `params`/`steps`: the circuit is built and its emitted file counted
    (``method="counted"``, in `c.options.gate_basis`), and the cost functions are evaluated beside
    it (``details["estimated"]``, equal for every native gate kind); ``count=False`` skips the
    build (``method="estimated"``). With `params`/`steps`: the structured circuit is projected to
    n = `params`, T = `steps` without building anything, under the `access` model ("qrom" — what
    qdsl builds — or "qram"). `eps`: target precision (default: the model's). `physical`:
    "builtin" or "qdk" (Microsoft's estimator on the same logical counts)."""
    params, steps, eps = _check_options(params, steps, eps)
    from qdsl.synthesis.projection import ACCESS_MODELS

    if access not in ACCESS_MODELS:
        _bad("E0605", f"unknown access model `{access}`", "use --access qrom, qroam, qram, qram-counted or qram-free")
    system = c.system
    n0, T0 = int(system.n), int(system.dynamics.steps)
    epsv = eps if eps is not None else _model_eps(c)
    projecting = params is not None or steps is not None
    basis = c.options.gate_basis
    from qdsl.lowering.carleman import carleman_dimension, check_order

    check_order(params or n0, int(c.order))
    inputs = {"n": params or n0, "T": steps or T0, "N": int(c.order), "basis": c.basis,
              "eps": epsv, "gate_basis": basis, "solver": c.solver, "compiled": {"n": n0, "T": T0},
              "carleman_dim": carleman_dimension(params or n0, int(c.order), c.basis)}
    assumptions = {"surface_code": dict(SURFACE_CODE),
                   "t_states": "t + 4·(Toffoli + And) + (3·log2(rotations/eps) + 2)·rotations",
                   "rotations": "synthesized into T gates as the Clifford+T emission does (gridsynth, "
                                "3·log2(rotations/eps) + 2 each) before the physical estimate"}
    notes = []
    if projecting:
        try:
            return _projected(c, params or n0, steps or T0, epsv, access, physical, inputs, assumptions,
                              notes)
        except OverflowError:
            from qdsl.diagnostics import Diagnostic, SizeLimitError
            raise SizeLimitError(Diagnostic(
                "E0905", f"projecting to n = {params or n0:.3g} parameters, T = {steps or T0:.3g} steps at "
                         f"order {c.order} gives costs beyond float64 (above 1.8e308)",
                help="project to fewer parameters or steps, or a lower order")) from None
    if c.solver != "qsvt":
        count = True if count is None else count
        if not count:
            _bad("E0606", "only the QSVT solver's cost is estimated without building the circuit",
                 "drop --no-build, or use --solver qsvt")
    est = _estimated_here(c, epsv) if c.solver == "qsvt" else None
    if count is None or count:
        em = c.emitted
        prog = c.program
        counts = dict(em.counts)
        rot = int(em.rotations)
        qubits = int(em.num_qubits)
        details = {"rotations": rot, "gate_definitions": em.gate_definitions,
                   "qasm_bytes": len(em.text.encode())}
        if basis == "clifford+t":
            t_count = int(counts.get("t", 0) + counts.get("tdg", 0))
            details.update(rotation_precision=em.precision, synthesis_error_bound=em.error_bound)
            ph = _physical(counts, qubits, 0, epsv, physical)
        else:
            t_count, t_rot = t_states(counts, rot, epsv)
            details["t_per_rotation"] = t_rot
            ph = _physical(counts, qubits, rot, epsv, physical)
        if est is not None:
            details["estimated"] = est["counts"].to_dict()
            if basis == "native":
                details["estimated_equals_counted"] = est["counts"] == counts
                if not details["estimated_equals_counted"]:
                    notes.append("the cost functions disagree with the emitted file: please report this "
                                 "as a bug in qdsl")
        inputs.update(_solver_inputs(prog.meta, c))
        return ResourceReport("counted", qubits, t_count, counts, ph, inputs, _formulas(),
                              assumptions, details, tuple(notes), c.model.name)
    counts = est["counts"].to_dict()
    rot = _rotations_of(counts)
    t_count, t_rot = t_states(counts, rot, epsv)
    ph = _physical(counts, est["qubits"], rot, epsv, physical)
    inputs.update(est["inputs"])
    notes.append("estimated from the blocks' cost functions (nothing built); rotations counted by "
                 "gate, whatever their angle")
    return ResourceReport("estimated", est["qubits"], t_count, counts, ph, inputs, _formulas(),
                          assumptions, {"rotations": rot, "t_per_rotation": t_rot}, tuple(notes),
                          c.model.name)


def _queries_row(i: dict) -> tuple[str, str]:
    """The query-count row: QSVT's degree, HHL's block-encoding calls (walk variant), or why the
    dense-synthesis HHL makes none — never a bare `None`."""
    if i.get("degree") is not None:
        return "QSVT degree = block-encoding queries", f"{i['degree']}"
    if i.get("block_encoding_calls") is not None:
        return "block-encoding queries (HHL walk)", f"{_big(i['block_encoding_calls'])}"
    if i.get("solver") == "hhl":
        return ("block-encoding queries", "none: this HHL applies e^{iHt·2^k} as synthesized dense unitaries "
                                          "(no block-encoding of L)")
    return "block-encoding queries", "not stated by the solver"


def _solver_inputs(meta: dict, c) -> dict:
    kp = float(meta.get("kappa_prime", float("nan")))
    out = {"construction": meta.get("construction", meta.get("block_encoding", {}).get("construction")
                                    if isinstance(meta.get("block_encoding"), dict) else None),
           "degree": meta.get("degree"), "kappa_prime": kp,
           **({"block_encoding_calls": int(meta["block_encoding_calls"])} if "block_encoding_calls" in meta else {}),
           "kappa_source": meta.get("inverse_norm_source", "measured"),
           "system_qubits": len(c.program.system_qubits)}
    if math.isfinite(kp):
        out["dalzell_queries"] = int(math.ceil(56 * kp + 1.05 * kp * math.log(1 / float(meta.get("eps", 1e-3)))))
    return out


def _estimated_here(c, eps: float) -> dict:
    """The QSVT cost at the compiled size from the cost functions alone (no circuit)."""
    from qdsl.synthesis.qsvt import qsvt_cost, qsvt_plan

    construction = c.construction
    ls = c.linear_system
    if construction == "structured":
        from qdsl.synthesis.structured import structured_history
        enc = structured_history(c.system, ls, c.order, build=False)
    elif construction == "sparse-access":
        from qdsl.synthesis.structured import sparse_access_history
        enc = sparse_access_history(ls, build=False)
    else:
        enc = c.encoding   # the dense dilation is synthesized: its cost is its circuit's
    plan = qsvt_plan(ls, enc.alpha, eps=eps)
    d = plan["degree"]
    counts = qsvt_cost(enc, ls, d)
    return {"counts": counts, "qubits": int(counts.qubits),
            "inputs": {"construction": construction, "degree": d, "kappa_prime": plan["kappa_prime"],
                       "kappa_source": plan["inverse_norm_source"],
                       "system_qubits": len(enc.system),
                       "dalzell_queries": int(math.ceil(56 * plan["kappa_prime"] + 1.05 * plan["kappa_prime"]
                                                        * math.log(1 / eps)))}}


def _formulas() -> dict:
    return {"t_states": "t + tdg + 4*(ccx + and) + rotations*(3*log2(rotations/eps) + 2)",
            "qsvt": "prep + d*U_L + 2(d+1)*zero_flip + (d+2) rz + 2 h",
            "degree": "smallest odd d = 2m-1 with 1/T_m((1+a^2)/(1-a^2)) <= eps/4, a = 1/kappa'"}


def _projected(c, n, T, eps, access, physical, inputs, assumptions, notes) -> ResourceReport:
    from qdsl.synthesis.projection import project

    pr = project(c, params=n, steps=T, eps=eps, access=access)
    if c.solver == "hhl":
        # what is projected is the QSVT circuit over the same history system (projection.py);
        # HHL's own attempt has no cost function at another size (E0630)
        inputs.update(solver="qsvt", compiled_solver="hhl")
        notes.append("projected with the QSVT solver over the same history system: the model compiles "
                     "to HHL, whose attempt qdsl costs at the compiled size only (E0630; `qdsl explain "
                     "E0630`) — without --params/--steps `qdsl resources` prices the HHL circuit")
    counts = pr["counts"].to_dict()
    rot = _rotations_of(counts)
    t_count, t_rot = t_states(counts, rot, eps)
    from qdsl.diagnostics import CompileError
    try:
        ph = _physical(counts, pr["sizes"]["logical_qubits"], rot, eps, physical)
    except CompileError as exc:
        if not (exc.diagnostics and exc.diagnostics[0].code == "E0604"):
            raise
        # a projected attempt beyond the model's code distance 49: extrapolated as the end-to-end
        # total is (`endtoend._physical_total`), and said so, instead of no figure at all
        from .endtoend import _physical_total
        ph, note = _physical_total(_logical_counts(counts, pr["sizes"]["logical_qubits"], rot, eps),
                                   physical)
        notes.append(f"one attempt: {note}" if note else "one attempt: beyond the model's code distance 49")
        if "code_distance" not in ph:
            raise
    kp = pr["kappa_prime"]
    inputs.update({"construction": pr.get("construction", "structured"), "degree": pr["degree"], "kappa_prime": kp,
                   "kappa_source": pr["kappa_source"], "system_qubits": pr["sizes"]["system_qubits"],
                   "access": access, "sizes": pr["sizes"],
                   "dalzell_queries": int(math.ceil(56 * kp + 1.05 * kp * math.log(1 / eps))),
                   "gate_basis": "native"})
    assumptions.update(access={
        "qrom": "QROM: every lookup of the F_ℓ nonzeros is a unary iteration over them (what qdsl "
                "builds): O(nnz) Toffolis per query",
        "qram": f"QRAM (assumed, not built): one query costs 2·(address bits) + b Toffolis, "
                f"b = {pr['entry_bits']} entry bits",
        "qroam": f"QROAM (select-swap, not built): a lookup of L entries of b bits costs "
                 f"⌈L/k⌉ + b(k−1) Toffolis and its uncomputation ⌈L/k′⌉ + k′ (Berry et al. 2019), "
                 f"b·k data qubits; b = index bits + {pr['entry_bits']} entry bits; each k the power "
                 f"of two of fewest Toffolis"
                 + (f" within {pr['sizes']['qubit_budget']:,} logical qubits (--max-qubits)"
                    if pr["sizes"].get("qubit_budget") is not None else "")
                 + "; the data register, reused by every lookup, counted in the logical qubits",
        "qram-counted": f"QRAM as in `qram` (b = {pr['entry_bits']} entry bits), its memory paid for at "
                        f"every query: one Toffoli per cell of every table read (a fault-tolerant "
                        f"bucket brigade activates every router; Di Matteo, Gheorghiu, Mosca 2020)",
        "qram-free": f"QRAM as in `qram` (b = {pr['entry_bits']} entry bits), and the initial state "
                     f"prepared for free (the most favourable reading of the reference paper)"}[access],
        scaling=("nonzeros of every F_ℓ per parameter, colours and entry maxima kept from the "
                 "compiled model; the Carleman order, degree and sgd classes kept")
        if pr.get("construction") != "sparse-access" else
                ("symmetric basis, sparse-access construction: blocks of C(n+N, N) components; every "
                 "row of the transfer matrix M keeps its nonzeros (nnz(M) scaled by the block "
                 "dimension), M its colours, entry maxima and transfer norms; the Carleman order and "
                 "sgd classes kept"))
    notes.append(f"projected from the compiled model (n = {inputs['compiled']['n']}, "
                 f"T = {inputs['compiled']['T']}); nothing was built at the projected size")
    details = {"rotations": rot, "t_per_rotation": t_rot,
               "block_encoding_per_query": pr["block_encoding"].to_dict(),
               "state_preparation": pr["state_preparation"].to_dict(),
               "sizes": pr["sizes"]}
    return ResourceReport("estimated", pr["sizes"]["logical_qubits"], t_count, counts, ph, inputs,
                          _formulas(), assumptions, details, tuple(notes), c.model.name)
