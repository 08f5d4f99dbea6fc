r"""Physical (surface-code) cost of a fault-tolerant computation given its logical counts.

`physical_estimate(counts, backend="builtin" | "qdk", constants=...)` returns the code distance,
physical qubits, runtime, the T factories and their number, the logical depth, and every assumption.
`backend="qdk"` runs Microsoft's resource estimator (`pip install 'qdsl-compiler[qdk]'`) on the same logical
counts with the same constants; the built-in model is a self-contained implementation of the
model below, written from the cited papers.

**Inputs** (`LogicalCounts`): Q logical qubits, M_T T gates, M_R arbitrary rotations in D_R
layers (rotation depth), M_CCZ Toffoli/CCZ gates, M_M single-qubit measurements; an optional T
depth is reported (the layout below applies non-Clifford gates one at a time, so it does not
change the cost).

**Layout** — Pauli-based computation on a 2D surface-code block ("parallel synthesis sequential
Pauli computation", Litinski, *A Game of Surface Codes*, Quantum 3, 128 (2019); Beverland et al.,
*Assessing requirements to scale to practical quantum advantage*, arXiv:2211.07629 (2022), App. D):

    Q_alg = 2Q + ⌈√(8Q)⌉ + 1                 logical patches (data + routing),
    n_rot = ⌈a·log₂(M_R/ε_rot) + b⌉           T gates per rotation (gridsynth: a = 3, b = 2; Ross &
                                             Selinger 2016 — qdsl's rotation-synthesis model),
    C     = M_M + M_R + M_T + 3·M_CCZ + n_rot·D_R      logical cycles (one per non-Clifford gate),
    N_T   = M_T + 4·M_CCZ + n_rot·M_R                 T states to distil.

**Code distance** (Fowler, Mariantoni, Martinis, Cleland, PRA 86, 032324 (2012)): a rotated
surface-code patch of distance d uses 2d² physical qubits, one logical cycle is d code cycles, and
a patch fails per logical cycle with probability

    p_L(d) = A·(p/p_th)^((d+1)/2);   d = the smallest odd d with Q_alg·C·p_L(d) ≤ ε_log.

**T factories** (15-to-1 distillation, Bravyi & Kitaev 2005; per-level distances as in Litinski,
*Magic state distillation: not as costly as you think*, Quantum 3, 205 (2019); the unit costs of
Beverland et al. 2022, Table VI): a factory is 1–3 rounds; round r runs n_r copies of one unit at
its own distance d_r (lower rounds need less protection), with input error e_{r−1} (e_0 = p_T,
the injected T state) and

    e_r = 35·e_{r−1}³ + 7.1·p_L(d_r),    failure f_r = 15·e_{r−1} + 356·p_L(d_r),
    units: "15-to-1 RM prep" 31 patches × 11 logical cycles, "15-to-1 space-efficient" 20 × 13;

n_r is the smallest count for which round r yields the 15·n_{r+1} inputs of the next round
(n_{R+1} = 1/15: one output) with probability ≥ 99 %. A factory has max_r n_r·(patches)·2d_r²
physical qubits and lasts Σ_r cycles_r·d_r code cycles; the chosen one meets e_R ≤ ε_T/N_T at the
least space-time volume (qubits × duration). If an injected T state is already good enough, no
distillation is needed. The number of factories follows from the logical depth: the algorithm
lasts C logical cycles (at least one factory run), each factory delivers ⌊runtime/duration⌋
states, so F = ⌈N_T / ⌊runtime/duration⌋⌉.

**Totals**: physical qubits = Q_alg·2d² + F·(factory qubits); runtime = max(C·d, factory
duration)·(code cycle); failure ≤ Q_alg·C·p_L(d) + N_T·e_R + ε_rot ≤ ε (split ε_log + ε_T + ε_rot,
halves without rotations, thirds with them).

Earlier qdsl fixed four two-level 15-to-1 factories at the full code distance, distilling to
~10⁻²¹ where ~10⁻¹⁰ sufficed, and tied the runtime to those four: 1.4–7× the qubits and 2.4–23× the
runtime of Microsoft's estimator on the same counts. `benchmarks/physical_vs_qdk.py` prints both.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

__all__ = ["LogicalCounts", "physical_estimate", "DEFAULT_CONSTANTS", "patch_error_rate", "summary"]

#: every constant of the built-in model (all reported under `assumptions`)
DEFAULT_CONSTANTS = {
    "physical_error_rate": 1e-3,        # p: Clifford, measurement and idle error per operation
    "t_error_rate": 1e-3,               # p_T: error of an injected (undistilled) T state
    "threshold": 1e-2,                  # p_th
    "prefactor": 0.1,                   # A in p_L(d) = A·(p/p_th)^((d+1)/2) per logical cycle
    "code_cycle_seconds": 1e-6,         # one syndrome-extraction round; a logical cycle is d of them
    "physical_qubits_per_patch": "2*d^2",
    "failure_budget": 0.01,             # ε
    "budget_split": None,               # (logical, T states, rotations); None: halves, or thirds with rotations
    "max_code_distance": 49,
    "max_distillation_rounds": 3,
    "round_success_probability": 0.99,
    "rotation_synthesis": (3.0, 2.0),   # n_rot = ⌈a·log2(M_R/ε_rot) + b⌉ (gridsynth)
    # Beverland et al. 2022, Table VI: (logical patches, logical cycles) of a 15-to-1 unit
    "distillation_units": {"15-to-1 RM prep": (31, 11), "15-to-1 space efficient": (20, 13)},
    "distillation_output_error": "35*e_in^3 + 7.1*p_L(d)",
    "distillation_failure": "15*e_in + 356*p_L(d)",
}


@dataclass(frozen=True)
class LogicalCounts:
    """The logical cost of a computation: what `physical_estimate` needs (see module docstring)."""

    qubits: int
    t_count: int = 0
    rotation_count: int = 0
    rotation_depth: int = 0
    ccz_count: int = 0
    measurement_count: int = 0
    t_depth: int | None = None

    @classmethod
    def coerce(cls, counts) -> "LogicalCounts":
        """From a LogicalCounts, a dict of its fields, or a dict in qdk's spelling (numQubits, …)."""
        if isinstance(counts, cls):
            return counts
        c = dict(counts)
        qdk_keys = {"numQubits": "qubits", "tCount": "t_count", "rotationCount": "rotation_count",
                    "rotationDepth": "rotation_depth", "cczCount": "ccz_count",
                    "measurementCount": "measurement_count"}
        out = {qdk_keys.get(k, k): v for k, v in c.items() if k != "ccixCount"}
        out["ccz_count"] = out.get("ccz_count", 0) + c.get("ccixCount", 0)
        return cls(**out)

    def to_qdk(self) -> dict:
        return {"numQubits": int(self.qubits), "tCount": int(self.t_count),
                "rotationCount": int(self.rotation_count), "rotationDepth": int(self.rotation_depth),
                "cczCount": int(self.ccz_count), "measurementCount": int(self.measurement_count)}


def patch_error_rate(d: int, constants: dict = DEFAULT_CONSTANTS) -> float:
    """p_L(d) = A·(p/p_th)^((d+1)/2): failure of one patch per logical cycle (Fowler et al. 2012)."""
    c = constants
    return c["prefactor"] * (c["physical_error_rate"] / c["threshold"]) ** ((d + 1) / 2)


def _budget(c: dict, rotations: bool) -> tuple[float, float, float]:
    split = c["budget_split"]
    if split is None:
        split = (1 / 3, 1 / 3, 1 / 3) if rotations else (0.5, 0.5, 0.0)
    total = float(c["failure_budget"])
    return tuple(total * float(s) for s in split)


def _bad(message: str, help: str, *, size: bool = False):
    """E0604: bad counts or backend (exit 2), or a computation beyond the model's reach (exit 3)."""
    from qdsl.diagnostics import CompileError, Diagnostic, SizeLimitError
    raise (SizeLimitError if size else CompileError)(Diagnostic("E0604", message, help=help))


@lru_cache(maxsize=4096)
def _units_needed(successes: int, fail: float, prob: float) -> int | None:
    """Smallest n with P(Binomial(n, 1 − fail) ≥ successes) ≥ prob (None if fail ≥ 1/2: useless)."""
    if fail >= 0.5:
        return None
    if fail <= 0:
        return successes
    # below n = s/(1 − f) the mean falls short of s and P(≥ s) < 99 % (unless n = s already suffices)
    n = max(successes, int(successes / (1 - fail)))
    while n < 100 * successes + 100:
        # P(failures ≤ n − successes)
        k_max = n - successes
        term = (1 - fail) ** n
        cdf = term
        for k in range(1, k_max + 1):
            term *= (n - k + 1) / k * fail / (1 - fail)
            cdf += term
        if cdf >= prob:
            return n
        n += 1
    return None


def _factories(target: float, c: dict) -> dict | None:
    r"""The least-volume factory whose output T error is ≤ `target` (module docstring), or None."""
    pT = c["t_error_rate"]
    if pT <= target:
        return {"rounds": [], "output_error": pT, "physical_qubits_per_patch_run": 0}
    units = c["distillation_units"]
    dmax = int(c["max_code_distance"])
    dists = list(range(3, dmax + 1, 2))
    prob = c["round_success_probability"]
    best = None

    def extend(rounds, e_in):
        nonlocal best
        if best is not None and rounds:
            # every round has ≥ 1 unit: a lower bound on the volume of anything built on `rounds`
            low = (max(r["patches"] * 2 * r["distance"] ** 2 for r in rounds)
                   * sum(r["cycles"] * r["distance"] for r in rounds))
            if low >= best["volume"]:
                return
        if rounds:
            e_out = rounds[-1]["e_out"]
            if e_out <= target:
                plan = _plan(rounds, prob)
                if plan is not None and (best is None or plan["volume"] < best["volume"] or
                                         plan["volume"] == best["volume"] and plan["qubits"] < best["qubits"]):
                    best = plan
                return
        if len(rounds) >= depth_limit:
            return
        cubic = 35 * e_in ** 3
        for d in dists:
            pl = patch_error_rate(d, c)
            if 7.1 * pl >= e_in:        # this level would not improve the state
                continue
            for name, (patches, cycles) in units.items():
                extend(rounds + [{"unit": name, "distance": d, "patches": patches, "cycles": cycles,
                                  "e_out": cubic + 7.1 * pl, "fail": 15 * e_in + 356 * pl}],
                       cubic + 7.1 * pl)
            if 7.1 * pl < min(cubic, target) / 100:  # more distance buys nothing at this level
                break

    for depth_limit in range(1, int(c["max_distillation_rounds"]) + 1):  # fewer rounds first: prunes more
        extend([], pT)
    return best


def _plan(rounds: list, prob: float) -> dict | None:
    """Units per round (back from one output), qubits = max over rounds, duration = Σ rounds."""
    need = 1
    counts = []
    for r in reversed(rounds):
        n = _units_needed(need, r["fail"], prob)
        if n is None:
            return None
        counts.append(n)
        need = 15 * n
    counts.reverse()
    out = []
    for r, n in zip(rounds, counts):
        d = r["distance"]
        out.append({"unit": r["unit"], "distance": d, "units": n,
                    "physical_qubits": n * r["patches"] * 2 * d * d,
                    "code_cycles": r["cycles"] * d, "output_error": r["e_out"],
                    "failure_probability": r["fail"]})
    qubits = max(x["physical_qubits"] for x in out)
    cycles = sum(x["code_cycles"] for x in out)
    return {"rounds": out, "qubits": qubits, "code_cycles": cycles, "volume": qubits * cycles,
            "output_error": rounds[-1]["e_out"]}


def _layout(lc: LogicalCounts, c: dict, max_distance: int) -> tuple:
    """Patches, rotation T count, logical depth, T states and the code distance (None beyond
    `max_distance`) of the layout below."""
    eps_log, eps_T, eps_rot = _budget(c, lc.rotation_count > 0)
    Q = int(lc.qubits)
    q_alg = 2 * Q + math.isqrt(8 * Q - 1) + 1 + 1 if Q > 0 else 0   # ⌈√(8Q)⌉ = isqrt(8Q − 1) + 1
    n_rot = 0
    if lc.rotation_count:
        a, b = c["rotation_synthesis"]
        n_rot = math.ceil(a * math.log2(lc.rotation_count / eps_rot) + b)
    depth = (lc.measurement_count + lc.rotation_count + lc.t_count + 3 * lc.ccz_count
             + n_rot * lc.rotation_depth)
    n_T = lc.t_count + 4 * lc.ccz_count + n_rot * lc.rotation_count
    required = eps_log / max(q_alg * max(depth, 1), 1)
    d = next((k for k in range(1, int(max_distance) + 1, 2)
              if patch_error_rate(k, c) <= required), None)
    return eps_log, eps_T, eps_rot, q_alg, n_rot, depth, n_T, required, d


def algorithm_runtime(logical_counts, constants: dict | None = None, max_distance: int = 201) -> dict:
    """The builtin model's code distance and algorithm runtime (logical depth × d code cycles)
    without the factory search — the part of `physical_estimate`'s runtime that grows with the
    computation (a factory's one run is shorter wherever the computation is long): for sweeps
    over many sizes (`qdsl plan`'s crossover). Distances up to `max_distance`."""
    c = dict(DEFAULT_CONSTANTS)
    c.update(constants or {})
    lc = LogicalCounts.coerce(logical_counts)
    *_, q_alg, _, depth, n_T, _, d = _layout(lc, c, max_distance)
    if d is None:
        return {"code_distance": None, "runtime_seconds": None,
                "runtime_lower_bound_seconds": depth * max_distance * float(c["code_cycle_seconds"])}
    return {"code_distance": int(d), "runtime_seconds": float(depth * d * c["code_cycle_seconds"]),
            "data_physical_qubits": int(q_alg * 2 * d * d)}


def _builtin(lc: LogicalCounts, c: dict) -> dict:
    eps_log, eps_T, eps_rot, q_alg, n_rot, depth, n_T, required, d = _layout(lc, c, c["max_code_distance"])
    if d is None:
        _bad(f"the computation ({q_alg:,} patches × {depth:.3g} logical cycles) needs a logical error "
             f"rate {required:.3g} per patch and cycle, beyond code distance {c['max_code_distance']}",
             "lower the T count (ε, steps, parameters) or the physical error rate", size=True)
    cycle = float(c["code_cycle_seconds"])
    factory = None
    n_fact = 0
    runs = 0
    algo_cycles = depth * d
    if n_T:
        factory = _factories(eps_T / n_T, c)
        if factory is None:
            _bad(f"no 15-to-1 factory of ≤ {c['max_distillation_rounds']} rounds reaches a T-state "
                 f"error of {eps_T / n_T:.3g}", "lower the T count or the physical error rate", size=True)
        if not factory["rounds"]:  # injected T states suffice: one patch-cycle each
            factory.update(qubits=2 * d * d, code_cycles=d)
        algo_cycles = max(algo_cycles, factory["code_cycles"])
        runs = algo_cycles // factory["code_cycles"]
        n_fact = -(-n_T // runs)
    data_q = q_alg * 2 * d * d
    fact_q = n_fact * (factory["qubits"] if factory else 0)
    failure = (q_alg * depth * patch_error_rate(d, c) + (n_T * factory["output_error"] if factory else 0)
               + (eps_rot if n_rot else 0.0))
    return {
        "backend": "builtin",
        "code_distance": int(d),
        "physical_qubits": int(data_q + fact_q),
        "runtime_seconds": float(algo_cycles * cycle),
        "data_physical_qubits": int(data_q),
        "factory_physical_qubits": int(fact_q),
        "factories": int(n_fact),
        "factory": None if factory is None else {
            "physical_qubits": int(factory["qubits"]), "seconds": factory["code_cycles"] * cycle,
            "output_error": factory["output_error"], "runs": int(runs),
            "rounds": factory["rounds"]},
        "logical": {"qubits": int(lc.qubits), "algorithmic_qubits": int(q_alg), "logical_depth": int(depth),
                    "t_states": int(n_T), "t_per_rotation": int(n_rot),
                    "t_depth": lc.t_depth, "rotation_depth": int(lc.rotation_depth)},
        "code_cycles": int(algo_cycles),
        "logical_error_per_patch_cycle": patch_error_rate(d, c),
        "failure_probability": float(failure),
        "error_budget": {"logical": eps_log, "t_states": eps_T, "rotations": eps_rot},
    }


def _qdk_params(c: dict, lc: LogicalCounts) -> dict:
    """The same constants in qdk's spelling: a gate-based qubit with every error rate p (T gates
    p_T) and gate times that make one code cycle (4 two-qubit gates + 2 measurements) last τ."""
    eps_log, eps_T, eps_rot = _budget(c, lc.rotation_count > 0)
    tau_ns = float(c["code_cycle_seconds"]) * 1e9
    p = c["physical_error_rate"]
    return {
        "qubitParams": {"name": "qdsl", "instructionSet": "GateBased",
                        "oneQubitMeasurementTime": f"{tau_ns / 4:g} ns",
                        "oneQubitGateTime": f"{tau_ns / 8:g} ns", "twoQubitGateTime": f"{tau_ns / 8:g} ns",
                        "tGateTime": f"{tau_ns / 8:g} ns",
                        "oneQubitMeasurementErrorRate": p, "oneQubitGateErrorRate": p,
                        "twoQubitGateErrorRate": p, "tGateErrorRate": c["t_error_rate"],
                        "idleErrorRate": p},
        "qecScheme": {"name": "surface_code", "errorCorrectionThreshold": c["threshold"],
                      "crossingPrefactor": c["prefactor"],
                      "physicalQubitsPerLogicalQubit": "2 * codeDistance * codeDistance",
                      "maxCodeDistance": int(c["max_code_distance"]) + 1},
        "errorBudget": {"logical": eps_log, "tStates": eps_T, "rotations": eps_rot},
        "constraints": {"maxDistillationRounds": int(c["max_distillation_rounds"])},
    }


def _qdk(lc: LogicalCounts, c: dict) -> dict:
    try:
        from qdk.estimator import LogicalCounts as QdkCounts
    except ImportError:
        _bad("the physical backend `qdk` needs Microsoft's estimator, which is not installed",
             "pip install 'qdsl-compiler[qdk]' (or use --physical builtin)")
    params = _qdk_params(c, lc)
    r = QdkCounts(lc.to_qdk()).estimate(params)
    pc = r["physicalCounts"]
    # qdk keeps the runtime in nanoseconds in an unsigned 64-bit integer: past ~584 years it wraps
    depth, d = int(pc["breakdown"]["logicalDepth"]), int(r["logicalQubit"]["codeDistance"])
    if depth * d * float(c["code_cycle_seconds"]) * 1e9 >= 2.0 ** 64:
        _bad(f"Microsoft's estimator cannot represent this runtime ({depth:.3e} logical cycles at "
             f"distance {d}: over 2^64 ns, ~584 years; its counter wraps)",
             "use --physical builtin for computations this long", size=True)
    bd = pc["breakdown"]
    tf = r.get("tfactory") or None
    factory = None
    if tf:
        factory = {"physical_qubits": int(tf["physicalQubits"]), "seconds": tf["runtime"] * 1e-9,
                   "output_error": tf["logicalErrorRate"], "runs": int(bd.get("numTfactoryRuns", 0)),
                   "rounds": [{"unit": u, "distance": int(dd), "units": int(n), "physical_qubits": int(q),
                               "seconds": t * 1e-9}
                              for u, dd, n, q, t in zip(tf["unitNamePerRound"], tf["codeDistancePerRound"],
                                                        tf["numUnitsPerRound"], tf["physicalQubitsPerRound"],
                                                        tf["runtimePerRound"])]}
    return {
        "backend": "qdk",
        "code_distance": int(r["logicalQubit"]["codeDistance"]),
        "physical_qubits": int(pc["physicalQubits"]),
        "runtime_seconds": float(pc["runtime"]) * 1e-9,
        "data_physical_qubits": int(bd["physicalQubitsForAlgorithm"]),
        "factory_physical_qubits": int(bd["physicalQubitsForTfactories"]),
        "factories": int(bd["numTfactories"]),
        "factory": factory,
        "logical": {"qubits": int(lc.qubits), "algorithmic_qubits": int(bd["algorithmicLogicalQubits"]),
                    "logical_depth": int(bd["logicalDepth"]), "t_states": int(bd["numTstates"]),
                    "t_per_rotation": int(bd.get("numTsPerRotation") or 0),
                    "t_depth": lc.t_depth, "rotation_depth": int(lc.rotation_depth)},
        "logical_error_per_patch_cycle": float(r["logicalQubit"]["logicalErrorRate"]),
        "error_budget": {"logical": params["errorBudget"]["logical"],
                         "t_states": params["errorBudget"]["tStates"],
                         "rotations": params["errorBudget"]["rotations"]},
        "qdk_params": params,
    }


def _assumptions(backend: str, c: dict) -> list[str]:
    p, A = c["physical_error_rate"], c["prefactor"]
    common = [
        f"physical error rate p = {p:g} (Clifford, measurement, idle); injected T states p_T = {c['t_error_rate']:g}",
        f"surface code: p_L(d) = {A:g}·(p/{c['threshold']:g})^((d+1)/2) per patch per logical cycle "
        f"(Fowler et al. 2012), 2d² physical qubits per patch, code cycle {c['code_cycle_seconds']:g} s, "
        "logical cycle d code cycles",
        f"failure budget {c['failure_budget']:g}, split logical / T states / rotations "
        + ("1/2, 1/2, 0 (thirds when there are rotations)" if c["budget_split"] is None
           else "/".join(f"{s:g}" for s in c["budget_split"])),
    ]
    if backend == "qdk":
        return common + ["Microsoft's resource estimator (qdk.estimator) on these logical counts: its "
                         "PSSPC layout and distillation units (Beverland et al. 2022), with gate times "
                         "making one code cycle (4 two-qubit gates + 2 measurements) last the code cycle"]
    a, b = c["rotation_synthesis"]
    return common + [
        "layout: Q_alg = 2Q + ⌈√(8Q)⌉ + 1 patches, one logical cycle per T gate, rotation, measurement "
        "and 3 per CCZ (Litinski 2019 'Game of Surface Codes'; Beverland et al. 2022, App. D)",
        f"rotations: ⌈{a:g}·log2(M_R/ε_rot) + {b:g}⌉ T gates each, D_R layers",
        "T factories: 1–{0} rounds of 15-to-1 (RM prep 31 patches × 11 cycles, space-efficient 20 × 13; "
        "Beverland et al. 2022 Table VI), e_out = 35e³ + 7.1 p_L(d_r), failure 15e + 356 p_L(d_r), "
        "per-round distance d_r (Litinski 2019 'not as costly'), units per round for ≥ {1:g} success, "
        "least qubits × duration; their number F = ⌈N_T / ⌊runtime/duration⌋⌉".format(
            c["max_distillation_rounds"], c["round_success_probability"]),
    ]


def summary(ph: dict) -> str:
    """One line naming the physical model of an estimate (for tables; the JSON has every assumption)."""
    c = ph["constants"]
    f = ph.get("factory") or {}
    rounds = " → ".join(f"{r['units']}× {r['unit']} d={r['distance']}" for r in f.get("rounds", []))
    return (f"physical model {ph['backend']}: p = {c['physical_error_rate']:g}, p_L = {c['prefactor']:g}·"
            f"(p/{c['threshold']:g})^((d+1)/2) per patch and logical cycle, {c['failure_budget']:g} failure "
            f"budget, {c['code_cycle_seconds'] * 1e6:g} µs code cycle; {ph['factories']} T factories"
            + (f" ({rounds})" if rounds else "") + " (see --json)")


def physical_estimate(logical_counts, *, backend: str = "builtin", constants: dict | None = None) -> dict:
    """Surface-code cost of `logical_counts` (a LogicalCounts or a dict of its fields / qdk's keys).

    `backend`: "builtin" (module docstring) or "qdk" (Microsoft's estimator on the same counts and
    constants). `constants` override `DEFAULT_CONSTANTS`. Returns a dict with code_distance,
    physical_qubits, runtime_seconds, data/factory physical qubits, factories (their number),
    factory (its rounds, qubits, duration, output error), logical (algorithmic qubits, logical
    depth, T states, depths), error_budget, assumptions (every one, as text) and constants."""
    c = dict(DEFAULT_CONSTANTS)
    c.update(constants or {})
    lc = LogicalCounts.coerce(logical_counts)
    for f, v in asdict(lc).items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not math.isfinite(v) or v < 0):
            _bad(f"logical count {f} must be a non-negative number, not {v!r}", "check the counts")
    lc = LogicalCounts(**{f: (int(math.ceil(v)) if v is not None else None) for f, v in asdict(lc).items()})
    if backend == "builtin":
        out = _builtin(lc, c)
    elif backend == "qdk":
        out = _qdk(lc, c)
    else:
        _bad(f"unknown physical backend {backend!r}", "use --physical builtin or --physical qdk")
    out["assumptions"] = _assumptions(backend, c)
    out["constants"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.items()}
    return out
