r"""What `qdsl run` verifies, and the bounds it verifies against (the tolerances are derived in
`qdsl.tolerances`). Three checks, each with its measured value, its bound and the formula:

(a) **state** — the post-selected output state ψ (normalized over every system basis state, so
    amplitude leaking onto padded indices counts as error) against the exact normalized solution
    Ŷ = Y/‖Y‖ of L·Y = B, up to global phase: ‖ψ − e^{iφ}Ŷ‖ ≤ ε_a with

        ε_a = eps + 2·δ/√p + 2·ε_solve,

    eps the state error the synthesizer promises for the user's `eps` (QSVT: its polynomial's
    error; HHL: its inversion's), δ the error of the circuit as simulated (rounding of G gates,
    any synthesis error the synthesizer reports, Clifford+T rotation synthesis), p the success
    probability, ε_solve the relative error of the classical reference solve.

(b) **readout** — the trajectory decoded by the report's readout against the one decoded from Y:
    |θ_q − θ_C|_{t,i} ≤ ε_a·A_t·√(1 + r²)/(1 − ε_a·A_t) + rounding, with A_t = ‖Y‖/|Y_{t,1}|
    the readout amplification and r = θ_C − θ* (`tolerances.readout_error`). Given (a) this is a
    theorem; it fails only when the readout contract points at the wrong amplitudes.

(c) **Carleman** — the Carleman trajectory (decoded from the solve of the compiled L·Y = B)
    against true training. Where the PNAS a-priori bounds apply (flows, quadratic, R < 1) it is a
    verification: the measured error against the exact ODE must be below truncation + Euler bound,
    computed from the F_ℓ and u_in, not measured. Elsewhere no bound exists, and (c) is a
    *measurement* (`kind="measurement"`, no bound): its gap to training is reported, and it passes
    only when the compiled system's trajectory equals the order-N trajectory `qdsl simulate`
    computes (its own lift, history system and forward substitution) within two solves' rounding
    — never by comparing the measurement with itself.

Any check whose measured value or bound is NaN, infinite or undefined fails as "not verifiable",
with the quantity named (`Check.reason`); JSON writes such numbers as null with `measured_reason`
/ `bound_reason`.

From shots only the signed θ is observable: (a) is then "not observable", (b) becomes "the
simultaneous 95 % intervals, widened by the (b) bound at ε_a = eps, contain the exact θ".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import tolerances as tol


@dataclass(frozen=True)
class Check:
    """One verification check: `measured` ≤ `bound` (`passed`), with the formula behind the bound."""

    key: str
    title: str
    measured: float | None
    bound: float | None
    passed: bool
    formula: str
    observable: bool = True
    details: dict = field(default_factory=dict)
    note: str = ""
    kind: str = "verification"       # "verification": measured ≤ bound; "measurement": no bound exists
    reason: str = ""                 # why the check is not verifiable (a NaN, ∞ or undefined quantity)

    def __post_init__(self):
        # A comparison with NaN, ∞ or a missing number is not a pass: an observable check whose
        # measured value or bound is undefined fails, and says which quantity it was.
        if not self.observable:
            return
        why = []
        if not _finite(self.measured):
            why.append(f"the measured value is {_undefined(self.measured)}")
        if self.kind == "verification" and not _finite(self.bound):
            why.append(f"the bound is {_undefined(self.bound)}")
        if why:
            text = " and ".join(why)
            object.__setattr__(self, "reason", f"{text}: {self.reason}" if self.reason else text)
        if self.reason:
            object.__setattr__(self, "passed", False)

    @property
    def status(self) -> str:
        """"passed", "failed", "not verifiable" (an undefined quantity), "measured" (a measurement
        with no bound; its own consistency check passed) or "not observable"."""
        if not self.observable:
            return "not observable"
        if self.reason:
            return "not verifiable"
        if not self.passed:
            return "failed"
        return "measured" if self.kind == "measurement" else "passed"

    def to_dict(self) -> dict:
        d = {"check": self.key, "title": self.title, "kind": self.kind, "status": self.status,
             "measured": _num(self.measured), "bound": _num(self.bound), "passed": self.passed,
             "observable": self.observable, "formula": self.formula,
             **{k: _jsonable(v) for k, v in self.details.items()}}
        if self.reason:
            d["reason"] = self.reason
        # strict JSON: a non-finite number is written as null, and its reason beside it
        for key in ("measured", "bound"):
            v = getattr(self, key)
            if d[key] is None and self.observable and not (key == "bound" and self.kind == "measurement"):
                d[f"{key}_reason"] = _undefined(v)
        return d

    def line(self) -> str:
        mark = "✓" if self.passed else "✗"
        if not self.observable:
            return f"  ({self.key}) {self.title:<42} not observable: {self.formula}"
        note = f"   [{self.note}]" if self.note else ""
        why = f"\n      not verifiable: {self.reason}" if self.reason else ""
        if self.kind == "measurement":
            return (f"  ({self.key}) {self.title:<42} {_fmt(self.measured):>9}   measured, no bound "
                    f"{mark}{note}{why}")
        return (f"  ({self.key}) {self.title:<42} {_fmt(self.measured):>9} ≤ {_fmt(self.bound):<9} "
                f"{mark}{note}{why}")


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _undefined(v) -> str:
    """How a non-finite quantity is named: "undefined (none)", "NaN", "infinite"."""
    if v is None:
        return "undefined"
    v = float(v)
    return "NaN" if math.isnan(v) else ("infinite" if math.isinf(v) else f"{v:.3g}")


def _fmt(v) -> str:
    return "—" if v is None else ("NaN" if math.isnan(v) else "∞" if not math.isfinite(v) else f"{v:.3g}")


def _short(v) -> str:
    return "NaN" if math.isnan(v) else "∞" if not math.isfinite(v) else f"{v:.2g}"


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()] if v.ndim else _jsonable(v.item())
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (float, np.floating)):
        return _num(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


# ----------------------------------------------------------------------------- the pieces

def circuit_error(program, emitted, pruned: float = 0.0) -> dict:
    r"""δ, the error of the state as simulated against the ideal circuit's: rounding of its G
    flattened gates (`tolerances.statevector_error`), the synthesis error the synthesizer reports
    in ``program.meta["circuit_error_bound"]`` (dense pieces, measured where they are built), the
    Clifford+T rotation synthesis (rotations × precision), and `pruned`, the 2-norm of the
    amplitudes a sparse simulator dropped (`backends.sparse_sim`)."""
    G = int(sum(int(v) for k, v in emitted.counts.items() if k not in ("measure", "barrier")))
    parts = {"gates": G, "rounding": tol.statevector_error(G, width=3),   # ccx: 3 qubits
             "synthesis": float(program.meta.get("circuit_error_bound", 0.0) or 0.0),
             "rotation_synthesis": float(getattr(emitted, "error_bound", 0.0) or 0.0),
             "pruning": float(pruned)}
    parts["total"] = parts["rounding"] + parts["synthesis"] + parts["rotation_synthesis"] + parts["pruning"]
    return parts


def promised_eps(program) -> float:
    """The state error the synthesizer promises (its `eps`)."""
    eps = program.meta.get("eps")
    if eps is None:
        from .diagnostics import InternalError
        raise InternalError(f"the {program.solver} program states no `eps` (the state error it promises)",
                            check="verification")
    return float(eps)


def reference(ls) -> dict:
    """The classical reference: Y (sparse LU), its decoded trajectory, the ratios r = θ − θ*,
    the readout amplification A_t and the solve's relative error bound."""
    from .synthesis.common import classical_solution, decode_trajectory

    Y = classical_solution(ls)
    theta = decode_trajectory(ls, Y)
    A = tol.readout_amplification(Y, ls.block_dim, ls.const_index, ls.steps)
    s = int(ls.sparsity)
    kappa = float(ls.kappa) if ls.kappa_method == "exact" else _kappa_bound(ls)
    return {"Y": Y, "theta": theta, "ratio": theta - np.asarray(ls.expansion_point)[None, :],
            "amplification": A, "solve_error": tol.solve_error(kappa, s), "kappa": kappa,
            "sparsity": s}


def _kappa_bound(ls) -> float:
    r"""An upper bound on κ(L) where it was not computed exactly: ‖L‖ ≤ 1 + max_t ‖M_t‖₂
    (`transfer_norm_bound`, rigorous) times the certified ‖L⁻¹‖ (`inverse_norm`, "cheap") — the
    Lanczos estimate of κ is from below, and a tolerance must not rest on it."""
    from .lowering.history import inverse_norm, transfer_norm_bound
    top = 1.0 + max(transfer_norm_bound(M)[0] for M in ls.transfers)
    return top * inverse_norm(ls, "cheap")[0]


def state_tolerance(eps: float, delta: float, p: float, solve_error: float) -> float:
    """ε_a = eps + 2δ/√p + 2·ε_solve (module docstring, check (a))."""
    return float(eps) + tol.postselected_error(delta, p) + 2.0 * float(solve_error)


# ----------------------------------------------------------------------------- the checks

def check_state(post_state, Y, solution_map, eps_a: float, parts: dict) -> Check:
    """(a): ‖ψ − e^{iφ}Ŷ‖ over the whole system register against ε_a."""
    psi = np.asarray(post_state, complex)
    yhat = np.zeros(psi.size, complex)
    yhat[np.asarray(solution_map, np.int64)] = np.asarray(Y) / np.linalg.norm(Y)
    ov = np.vdot(yhat, psi)
    phase = ov / abs(ov) if abs(ov) > 0 else 1.0
    err = float(np.linalg.norm(psi - phase * yhat))
    note = (f"eps {_short(parts['eps'])} + 2δ/√p {_short(eps_a - parts['eps'] - 2 * parts['solve_error'])}"
            f" + 2ε_solve {_short(2 * parts['solve_error'])}") if "eps" in parts else ""
    reason = ""
    if not np.all(np.isfinite(psi)):
        reason = "the post-selected state has NaN or infinite amplitudes (nothing survived post-selection)"
    return Check("a", "state vs exact normalized solution", err, eps_a, err <= eps_a,
                 "eps + 2δ/√p + 2ε_solve", details=parts, note=note, reason=reason)


def check_readout(theta_q, ref: dict, eps_a: float) -> Check:
    """(b): |θ_q − θ_C| per (t, i) within the readout bound that follows from ε_a."""
    bound = tol.readout_error(eps_a, ref["amplification"], ref["ratio"]) + tol.decode_rounding(ref["ratio"])
    theta_q = np.asarray(theta_q, float)
    diff = np.abs(theta_q - ref["theta"])
    ok = bool(np.all(np.isfinite(diff)) and np.all(diff <= bound))
    A = float(np.max(ref["amplification"]))
    reasons = []
    bad = ~np.isfinite(theta_q)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        reasons.append(f"the decoded θ is NaN or infinite at {int(bad.sum())} of {bad.size} (t, i) entries "
                       f"(first at t = {t}): the readout divides by the amplitude of block t's constant "
                       f"component, which the circuit left at zero")
    A_t = np.asarray(ref["amplification"], float)
    if np.any(eps_a * A_t >= 1.0):
        t = int(np.argmax(eps_a * A_t >= 1.0))
        reasons.append(f"ε_a·A_t = {eps_a:.3g} × {A_t[t]:.3g} ≥ 1 at t = {t}, so a state within ε_a bounds "
                       f"nothing about θ_t; lower eps below {1.0 / float(np.max(A_t)):.3g} (1/A)")
    diff = np.where(np.isfinite(diff), diff, np.nan)
    measured = float(np.nan if bad.any() else np.max(diff))
    return Check("b", "decoded trajectory vs Carleman", measured, float(np.max(bound)), ok,
                 "ε_a·A_t·√(1+r²)/(1−ε_a·A_t), A_t = ‖Y‖/|Y_{t,1}|",
                 note=f"per (t, i); readout amplification A = ‖Y‖/|Y_t,1| ≤ {A:.3g}", reason="; ".join(reasons),
                 details={"amplification": float(np.max(ref["amplification"])),
                          "theta_T_error": float(np.max(diff[-1])), "theta_T_bound": float(np.max(bound[-1])),
                          "worst_ratio": float(np.max(diff / np.where(bound > 0, bound, np.inf)))})


def check_carleman(c, ref: dict) -> Check:
    """(c): the compiled system's Carleman trajectory = `simulate`'s order-N trajectory within two
    solves' rounding; its gap to true training is the measured truncation error; a-priori bounds
    checked where they apply."""
    from .lowering.simulate import simulate

    ls = c.linear_system
    sim = simulate(c.system, c.order, c.basis, idle=ls.idle, orders=[c.order], kappa=False)
    N = c.order
    theta_sim = sim.carleman[N]
    two_solves = tol.solve_error(ref["kappa"], ref["sparsity"], solves=2)
    consistency = tol.readout_error(two_solves, ref["amplification"], ref["ratio"]) + tol.decode_rounding(ref["ratio"])
    diff_sim = np.abs(ref["theta"] - theta_sim)
    consistent = bool(np.all(diff_sim <= consistency))
    with np.errstate(invalid="ignore"):
        gap = float(np.max(np.abs(ref["theta"] - sim.true)))
    truncation = float(sim.errors[N]["max"])
    solves = float(np.max(consistency))
    details = {"simulate_truncation_error": truncation, "gap_to_training": gap,
               "vs_simulate": float(np.max(diff_sim)), "vs_simulate_bound": solves,
               "consistent_with_simulate": consistent}
    apriori = sim.bounds.get("truncation", {})
    same = (f"compiled system = `simulate`'s order {N}: {_short(details['vs_simulate'])} ≤ "
            f"{_short(solves)} {'✓' if consistent else '✗'}")
    if apriori.get("applicable") and sim.exact_ode is not None:
        # a verification: the measured error against the exact ODE is compared with the PNAS
        # a-priori bounds (truncation + Euler), which are computed from F and u_in, not measured
        euler = sim.bounds.get("euler", {})
        limit = float(apriori["value"]) + (float(euler["value"]) if euler.get("applicable") else math.inf)
        # the reference ODE solution (DOP853, rtol 1e-10, atol 1e-12) is not exact: allow 10^4×
        # its tolerance on the largest |u|, far below the PNAS bounds it is compared with
        ode_tol = 1e-6 * (1.0 + float(np.max(np.abs(sim.exact_ode))))
        with np.errstate(invalid="ignore"):
            vs_ode = float(np.max(np.abs(ref["theta"] - sim.exact_ode)))
        bound = limit + ode_tol + solves
        details.update(a_priori_bound=limit, vs_exact_ode=vs_ode, a_priori="PNAS Lemmas 1–2 (truncation + Euler)")
        reason = "" if math.isfinite(limit) else ("the Euler bound does not apply: "
                                                  + str(euler.get("reason", "")).removeprefix("not applicable: "))
        return Check("c", "Carleman trajectory vs exact ODE", vs_ode, bound, consistent and vs_ode <= bound,
                     "PNAS a-priori bound (truncation + Euler) + ODE reference tolerance + two solves' rounding",
                     details=details, reason=reason,
                     note=f"a priori, PNAS Lemmas 1–2: {_short(limit)}; gap to Euler training {_short(gap)}; {same}")
    why = str(apriori.get("reason", "not applicable")).removeprefix("not applicable: ")
    details["a_priori"] = why
    passed, formula, note = consistent, ("measured: the Carleman trajectory's gap to training, with no a-priori "
                                         "bound; passes when the compiled system's trajectory equals "
                                         "`simulate`'s within two solves' rounding"), ""
    gd = getattr(c.system, "meta", {}).get("torch_gd")
    if gd is not None:   # an extracted network (qdsl.torch): compare with torch's own gradient descent
        # |θ_C − y_torch| ≤ |θ_C − x| + |x − y_torch|: the measured gap to the polynomial surrogate's
        # training x plus the a-priori bound on the surrogate's distance to torch's steps
        tg = torch_gd_bound(c.system, np.asarray(gd, float), sim.true)
        vs_torch = float(np.max(np.abs(ref["theta"] - (np.asarray(c.system.expansion_point, float) + gd))))
        torch_bound = gap + tg["taylor_bound"] + solves
        details.update(vs_torch_gd=vs_torch, vs_torch_gd_bound=torch_bound, taylor_bound=tg["taylor_bound"],
                       taylor_gap=tg["gap"])
        passed = passed and vs_torch <= torch_bound
        formula += ("; vs torch's GD: ≤ the measured gap to the surrogate's training + Σ_t Λ_t^… ‖e_t‖ "
                    "from the Taylor defects e_t of torch's steps")
        note = f"; vs torch's GD {_short(vs_torch)} ≤ {_short(torch_bound)}"
    return Check("c", "Carleman trajectory vs true training", gap, None, passed, formula,
                 details=details, kind="measurement",
                 note=f"no a-priori bound ({why.split(';')[0]}); {same}{note}")


def torch_gd_bound(system, gd: np.ndarray, surrogate: np.ndarray) -> dict:
    r"""How far torch's gradient descent y_t (on the network) may be from the polynomial system's
    trajectory x_t, from the one-step Taylor defects alone. With G(u) = u + F_0 + F_1u + F_2(u⊗u)
    the extracted update and e_t = y_{t+1} − G(y_t) (what the polynomial misses of torch's step,
    in u = θ − θ* coordinates), d_t = y_t − x_t obeys d_{t+1} = G(y_t) − G(x_t) + e_t, and
    ‖G(y) − G(x)‖ ≤ (‖I + F_1‖₂ + ‖F_2‖_F(‖x‖ + ‖y‖))‖y − x‖, so
    ‖d_{t+1}‖ ≤ Λ_t‖d_t‖ + ‖e_t‖, d_0 = 0. Returns that bound (max over t, a bound on every
    |entry| too) and the measured max |y_t − x_t|."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    F0 = np.asarray(sp.csr_matrix(system.F[0]).toarray(), float).ravel()
    F1 = sp.csr_matrix(system.F[1]) if system.degree >= 1 else None
    F2 = sp.csr_matrix(system.F[2]) if system.degree >= 2 else None
    u0 = np.asarray(system.expansion_point, float)
    x = np.asarray(surrogate, float) - u0      # the surrogate's trajectory in u coordinates
    y = np.asarray(gd, float)
    T = min(len(x), len(y)) - 1

    def G(u):
        out = u + F0
        if F1 is not None:
            out = out + F1 @ u
        if F2 is not None:
            out = out + F2 @ np.kron(u, u)
        return out
    n = y.shape[1]
    if F1 is not None:
        A = np.eye(n) + F1.toarray()
        l1 = float(np.linalg.norm(A, 2))
    else:
        l1 = 1.0
    f2 = float(spla.norm(F2)) if F2 is not None and F2.nnz else 0.0
    d, worst = 0.0, 0.0
    for t in range(T):
        e = float(np.linalg.norm(y[t + 1] - G(y[t])))
        lam = l1 + f2 * (float(np.linalg.norm(x[t])) + float(np.linalg.norm(y[t])))
        d = lam * d + e
        worst = max(worst, d)
    # rounding of the defects themselves: the steps and G are float64 sums of O(n²) terms
    worst += 4 * (n + 1) ** 2 * np.finfo(float).eps * (1.0 + float(np.max(np.abs(y))))
    return {"taylor_bound": worst, "gap": float(np.max(np.abs(y[:T + 1] - x[:T + 1])))}


def shots_check(estimate, ref: dict, eps_a: float, level: float = 0.95) -> Check:
    """Shots: the simultaneous `level` intervals θ̂ ± z·σ (`readout.simultaneous_rows`), widened by
    the (b) bound at ε_a (the circuit's own θ differs from the Carleman θ by at most that), must
    contain the exact θ of every (t, i) measured."""
    z = tol.simultaneous_z(len(estimate.plan), level)
    idx_t = np.array([sc.t for sc in estimate.plan], int)
    idx_i = np.array([sc.i for sc in estimate.plan], int)
    bias = (tol.readout_error(eps_a, ref["amplification"], ref["ratio"]) + tol.decode_rounding(ref["ratio"]))[idx_t, idx_i]
    half = z * estimate.sigma + bias
    exact = ref["theta"][idx_t, idx_i]
    miss = np.abs(estimate.theta - exact)
    inside = np.isfinite(miss) & (miss <= half)
    worst = float(np.max(np.where(half > 0, miss / half, np.inf))) if len(half) else 0.0
    worst = worst if math.isfinite(worst) else math.inf
    return Check("b", "signed θ: intervals contain exact θ", worst, 1.0, bool(np.all(inside)),
                 f"|θ̂ − θ_C| / (z·σ + bound at ε_a), z = {z:.3f} (Bonferroni over {len(half)})",
                 details={"z": z, "level": level, "inside": inside.tolist(), "bias_bound": bias.tolist()},
                 note=f"largest |θ̂ − θ_C| / (z·σ + (b) bound {_short(float(np.max(bias, initial=0)))}); "
                      f"simultaneous {100 * level:g} %")


def promises(c) -> dict:
    """The report's `verification` section: what `qdsl run` will check and the bounds known before
    any simulation — the promised eps, the circuit's error terms, the classical solve's error, the
    readout amplification, and the trajectory bound at ε = eps (p, measured by the simulation,
    adds 2δ/√p to ε)."""
    prog, ls = c.program, c.linear_system
    ref = reference(ls)
    parts = circuit_error(prog, c.emitted)
    eps = promised_eps(prog)
    at_eps = tol.readout_error(eps, ref["amplification"], ref["ratio"]) + tol.decode_rounding(ref["ratio"])
    return {
        "state": {"formula": "‖ψ − e^{iφ}Ŷ‖ ≤ eps + 2δ/√p + 2ε_solve", "eps": eps,
                  "circuit_error": parts, "solve_error": ref["solve_error"]},
        "readout": {"formula": "|θ_q − θ_C| ≤ ε·A_t·√(1+r²)/(1−ε·A_t), A_t = ‖Y‖/|Y_{t,1}|",
                    "amplification": float(np.max(ref["amplification"])),
                    "trajectory_bound_at_eps": float(np.max(at_eps))},
        "carleman": _carleman_promise(c),
    }


def _carleman_promise(c) -> dict:
    """What (c) will be: a verification against the PNAS a-priori bound (with its value) where it
    applies, else a measurement with the reason no bound exists."""
    from .lowering.errors import a_priori_bounds

    b = a_priori_bounds(c.system, c.order)
    t, e = b["truncation"], b["euler"]
    if t.get("applicable") and e.get("applicable"):
        return {"kind": "verification", "formula": "|θ_C − θ_ODE| ≤ PNAS truncation + Euler bound "
                                                   "(+ ODE reference tolerance + two solves' rounding)",
                "a_priori_bound": float(t["value"]) + float(e["value"])}
    why = str((t if not t.get("applicable") else e).get("reason", "")).removeprefix("not applicable: ")
    return {"kind": "measurement", "formula": "|θ_C − θ_true| measured (no a-priori bound); passes when the "
                                              "compiled system's trajectory equals `qdsl simulate`'s within "
                                              "two solves' rounding", "a_priori": why}
