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
    against true training: it must equal the order-N trajectory `qdsl simulate` computes (its own
    lift, history system and forward substitution) within two solves' rounding, so its gap to
    gradient descent is the truncation error `simulate` measures; where the PNAS a-priori bounds
    apply (flows, quadratic, R < 1) the measured error against the exact ODE must also be below
    truncation + Euler bound.

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

    def to_dict(self) -> dict:
        return {"check": self.key, "title": self.title, "measured": _num(self.measured),
                "bound": _num(self.bound), "passed": self.passed, "observable": self.observable,
                "formula": self.formula, **{k: _jsonable(v) for k, v in self.details.items()}}

    def line(self) -> str:
        mark = "✓" if self.passed else "✗"
        if not self.observable:
            return f"  ({self.key}) {self.title:<42} not observable: {self.formula}"
        note = f"   [{self.note}]" if self.note else ""
        return f"  ({self.key}) {self.title:<42} {_fmt(self.measured):>9} ≤ {_fmt(self.bound):<9} {mark}{note}"


def _fmt(v) -> str:
    return "—" if v is None else ("∞" if not math.isfinite(v) else f"{v:.3g}")


def _short(v) -> str:
    return "∞" if not math.isfinite(v) else f"{v:.2g}"


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
    kappa = float(ls.kappa) if math.isfinite(float(ls.kappa)) else _kappa_bound(ls)
    return {"Y": Y, "theta": theta, "ratio": theta - np.asarray(ls.expansion_point)[None, :],
            "amplification": A, "solve_error": tol.solve_error(kappa, s), "kappa": kappa,
            "sparsity": s}


def _kappa_bound(ls) -> float:
    from .lowering.history import condition_number
    return condition_number(ls.matrix, ls.transfers, ls.steps, ls.idle, "estimate")[0]


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
    return Check("a", "state vs exact normalized solution", err, eps_a, err <= eps_a,
                 "eps + 2δ/√p + 2ε_solve", details=parts, note=note)


def check_readout(theta_q, ref: dict, eps_a: float) -> Check:
    """(b): |θ_q − θ_C| per (t, i) within the readout bound that follows from ε_a."""
    bound = tol.readout_error(eps_a, ref["amplification"], ref["ratio"]) + tol.decode_rounding(ref["ratio"])
    diff = np.abs(np.asarray(theta_q) - ref["theta"])
    diff = np.where(np.isfinite(diff), diff, np.inf)
    ok = bool(np.all(diff <= bound))
    A = float(np.max(ref["amplification"]))
    return Check("b", "decoded trajectory vs Carleman", float(np.max(diff)), float(np.max(bound)), ok,
                 "ε_a·A_t·√(1+r²)/(1−ε_a·A_t), A_t = ‖Y‖/|Y_{t,1}|",
                 note=f"per (t, i); readout amplification A = ‖Y‖/|Y_t,1| ≤ {A:.3g}",
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
    gap = float(np.max(np.abs(ref["theta"] - sim.true)))
    truncation = float(sim.errors[N]["max"])
    bound = truncation + float(np.max(consistency))
    details = {"simulate_truncation_error": truncation, "gap_to_training": gap,
               "vs_simulate": float(np.max(diff_sim)), "vs_simulate_bound": float(np.max(consistency))}
    passed = consistent and gap <= bound
    formula = "truncation error measured by `simulate` + two solves' rounding"
    apriori = sim.bounds.get("truncation", {})
    if apriori.get("applicable") and sim.exact_ode is not None:
        euler = sim.bounds.get("euler", {})
        limit = float(apriori["value"]) + (float(euler["value"]) if euler.get("applicable") else math.inf)
        # the reference ODE solution (DOP853, rtol 1e-10, atol 1e-12) is not exact: allow 10^4×
        # its tolerance on the largest |u|, far below the PNAS bounds it is compared with
        ode_tol = 1e-6 * (1.0 + float(np.max(np.abs(sim.exact_ode))))
        vs_ode = float(np.max(np.abs(ref["theta"] - sim.exact_ode)))
        details.update(a_priori_bound=limit, vs_exact_ode=vs_ode, a_priori="PNAS Lemmas 1–2 (truncation + Euler)")
        passed = passed and vs_ode <= limit + ode_tol + float(np.max(consistency))
        formula += "; PNAS a-priori bound vs the exact ODE"
    else:
        details["a_priori"] = apriori.get("reason", "not applicable")
    gd = getattr(c.system, "meta", {}).get("torch_gd")
    if gd is not None:   # an extracted network (qdsl.torch): compare with torch's own gradient descent
        tg = torch_gd_bound(c.system, np.asarray(gd, float), sim.true)
        vs_torch = float(np.max(np.abs(ref["theta"] - (np.asarray(c.system.expansion_point, float) + gd))))
        torch_bound = bound + tg["taylor_bound"]
        details.update(vs_torch_gd=vs_torch, vs_torch_gd_bound=torch_bound, taylor_bound=tg["taylor_bound"],
                       taylor_gap=tg["gap"])
        passed = passed and vs_torch <= torch_bound
        formula += "; vs torch's GD: + Σ_t Λ_t^… ‖e_t‖ from the Taylor defects e_t of torch's steps"
    note = f"truncation error measured by `simulate` {_short(truncation)} + solves {_short(float(np.max(consistency)))}"
    if gd is not None:
        note += f"; vs torch's GD {_short(details['vs_torch_gd'])} ≤ {_short(details['vs_torch_gd_bound'])}"
    if "a_priori_bound" in details:
        note += f"; vs exact ODE {_short(details['vs_exact_ode'])} ≤ PNAS {_short(details['a_priori_bound'])}"
    else:
        reason = str(details["a_priori"]).removeprefix("not applicable: ").split(";")[0]
        note += f"; no a-priori bound ({reason})"
    return Check("c", "Carleman trajectory vs true training", gap, bound, passed, formula, details=details,
                 note=note)


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
        "carleman": {"formula": "|θ_C − θ_true| ≤ truncation error measured by `qdsl simulate` (+ solves)"},
    }
