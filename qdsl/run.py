"""`qdsl run`: simulate the compiled circuit, decode θ_t by the readout contract, and verify the
quantum answer — (a) the state against the exact solution within what the user's eps promises,
(b) the decoded trajectory against the Carleman solution within the bound that follows from (a),
(c) the Carleman trajectory against true training — against the PNAS a-priori bound where one
exists, else a measurement (labelled so) whose pass is the compiled system's agreement with
`simulate`'s. The checks and their bounds are defined in `qdsl.verification`; "verified" means all
hold, and no check with an undefined quantity (NaN, ∞) ever does. What "verified" does not cover
is said in `caveats`: non-dissipative training, a Carleman system that does not follow training,
and for `expand` models the Taylor surrogate, with training on the loss as written beside it.

With ``shots=K`` the emitted circuit and the signed-readout circuits (`qdsl.readout`) each run K
times (on Aer, or drawn from the exact state with the statevector backend); the signed θ come with
simultaneous 95 % intervals, and (b) becomes "the intervals contain the exact values"; (a) is not
observable from counts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .display import TextReport
from .verification import Check


@dataclass(frozen=True, eq=False)
class RunResult(TextReport):
    """θ trajectories (true, Carleman, quantum), fidelity, success probability, the checks."""
    model: str
    names: tuple
    solver: str
    true: np.ndarray
    carleman: np.ndarray
    sim: object                      # backends.qiskit_sim.SimulationResult
    checks: tuple                    # verification.Check, (a), (b), (c)
    circuit: dict = field(default_factory=dict)
    signed: dict | None = None       # shots: the signed estimate, intervals, plan, counts
    caveats: tuple = ()              # what "verified" does not cover (non-dissipative, a surrogate)
    training: dict = field(default_factory=dict)  # dissipativity; expansion: the loss as written
    kind: str = "gd"                 # the training method (names the reference column)

    @property
    def quantum(self):
        return self.sim.trajectory

    @property
    def verified(self) -> bool:
        """Every check passed and at least one of them is a verification (measured ≤ a bound)."""
        return all(ch.passed for ch in self.checks) and any(
            ch.observable and ch.kind == "verification" for ch in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"({ch.key}) {ch.title}" + (f" is not verifiable ({ch.reason.split(': ')[0]})" if ch.reason else "")
                for ch in self.checks if not ch.passed]

    @property
    def verdict(self) -> str:
        """The last line of `run`: what was verified, what was only measured, and the caveats."""
        if not self.verified:
            return "NOT verified: " + "; ".join(self.failures)
        held = [ch.key for ch in self.checks if ch.observable and ch.kind == "verification"]
        if not held:
            return "nothing verified: no check here has a bound"
        text = "verified: " + (", ".join(f"({k})" for k in held[:-1]) + f" and ({held[-1]})" if len(held) > 1
                               else f"({held[0]})") + (" hold" if len(held) > 1 else " holds")
        measured = [ch for ch in self.checks if ch.kind == "measurement"]
        for ch in measured:
            text += (f"; ({ch.key}) is a measurement, not a verification (no a-priori bound: "
                     f"{str(ch.details.get('a_priori', '')).split(';')[0]})")
        hidden = [ch.key for ch in self.checks if not ch.observable]
        if hidden:
            text += "; " + ", ".join(f"({k})" for k in hidden) + " not observable from counts"
        return text

    def to_dict(self) -> dict:
        s = self.sim
        quantum_T = None if s.trajectory is None else s.trajectory[-1].tolist()
        if self.signed is not None:
            quantum_T = [None if v is None else float(v) for v in self.signed["theta_T"]]
        d = {"model": self.model, "parameters": list(self.names), "solver": self.solver,
             "backend": s.backend, "shots": s.shots,
             "fidelity": s.fidelity, "success_probability": s.success_probability,
             "repetitions": s.repetitions, "amplification_rounds": s.amplification_rounds,
             "theta_T": {"true": self.true[-1].tolist(), "carleman": self.carleman[-1].tolist(),
                         "quantum": quantum_T},
             "trajectory": {"true": self.true.tolist(), "carleman": self.carleman.tolist(),
                            "quantum": None if s.trajectory is None else s.trajectory.tolist()},
             "checks": [ch.to_dict() for ch in self.checks], "failures": self.failures,
             "verified": self.verified, "verdict": self.verdict, "caveats": list(self.caveats),
             "training": self.training, "circuit": self.circuit,
             "simulation": {"prediction": s.meta.get("prediction"), "seconds": s.meta.get("seconds"),
                            "wall_seconds": s.meta.get("wall_seconds")}}
        if s.shots:
            d["success_probability_err"] = s.success_probability_err
            d["magnitudes"] = {"abs_theta_minus_expansion_point": _nan_list(s.trajectory_abs),
                               "standard_error": _nan_list(s.trajectory_abs_err),
                               "magnitude_fidelity": s.magnitude_fidelity}
        if self.signed is not None:
            d["signed"] = {k: v for k, v in self.signed.items() if k != "counts"}
        from .verification import _jsonable
        return _jsonable(d)   # strict JSON: non-finite numbers become null (reasons in the checks)

    def _display_title(self) -> str:
        return f"qdsl run: {self.model} ({'verified' if self.verified else 'NOT verified'})"

    def render(self) -> str:
        s = self.sim
        shots = ""
        if s.shots:
            n_circ = 1 + (len(self.signed["rows"]) if self.signed else 0)
            shots = f", {s.shots} shots × {n_circ} circuit{'s' if n_circ > 1 else ''}"
        L = [f"model {self.model}: {self.solver.upper()} on {self.circuit.get('num_qubits')} qubits, "
             f"{s.backend}{shots}"]
        if self.signed is not None:
            L += self._render_signed()
        else:
            ref = {"momentum": "heavy ball", "nesterov": "Nesterov"}.get(self.kind, "gradient descent")
            L.append(f"  {'θ_T':<12} {ref:>17} {'Carleman (exact)':>17} {'quantum':>17} {'|q − C|':>10}")
            q = s.trajectory[-1] if s.trajectory is not None else None
            for i, name in enumerate(self.names):
                if q is not None:
                    qs, dq = f"{q[i]:>17.6f}", f"{abs(q[i] - self.carleman[-1, i]):>10.2e}"
                else:
                    a, e = s.trajectory_abs[-1, i], s.trajectory_abs_err[-1, i]
                    qs, dq = f"{'|Δ|=' + f'{a:.4f}±{e:.4f}':>17}", f"{'':>10}"
                L.append(f"  {name:<12} {self.true[-1, i]:>17.6f} {self.carleman[-1, i]:>17.6f} {qs} {dq}")
        if s.fidelity is not None:
            L.append(f"  fidelity (post-selected state vs exact normalized solution)  {s.fidelity:.6f}")
        L.append(f"  success probability  {s.success_probability:.4g}"
                 + (f" ± {s.success_probability_err:.2g}" if s.success_probability_err else "")
                 + f"   → about {s.repetitions:.3g} repetitions, or {s.amplification_rounds} "
                   f"round{'' if s.amplification_rounds == 1 else 's'} of amplitude amplification")
        L += self._render_training()
        L.append("checks (measured ≤ bound)")
        L += [ch.line() for ch in self.checks]
        L.append(self.verdict)
        L += [f"  caveat: {c}" for c in self.caveats]
        return "\n".join(L)

    def _render_training(self) -> list[str]:
        w = self.training.get("as_written")
        if not w:
            return []
        if w.get("trajectory") is None:
            return [f"  loss as written: not trained ({w['reason']})"]
        L = [f"  {'θ_T, loss as written':<12} " + "  ".join(f"{name} {v:.6f}" for name, v in
                                                          zip(self.names, w["trajectory"][-1]))]
        L.append(f"  Taylor truncation error (training on the expansion vs on the loss as written)  "
                 f"{_g(w['taylor_error'])};   Carleman vs the loss as written  {_g(w['carleman_error'])}")
        return L

    def _render_signed(self) -> list[str]:
        from .readout import format_signed

        sg = self.signed
        L = [f"  {'θ_t':<12} {'t':>3} {'gradient descent':>17} {'Carleman (exact)':>17} "
             f"{'quantum (signed)':>24}"]
        for r in sg["rows"]:
            q = format_signed(r)
            L.append(f"  {r['parameter']:<12} {r['t']:>3} {self.true[r['t'], r['i']]:>17.6f} "
                     f"{self.carleman[r['t'], r['i']]:>17.6f} {q:>24} {'✓' if r['inside'] else '✗'}")
        L.append(f"  intervals: simultaneous {100 * sg['level']:g} % (z = {sg['z']:.3f}·σ, Bonferroni over "
                 f"{len(sg['rows'])}); {sg['total_shots']} shots in all, {sg['postselected_shots']} post-selected")
        return L

    def plot(self, path=None):
        """Trajectories per parameter: gradient descent, Carleman, quantum. Saved to `path` when
        given; returns the matplotlib Figure either way (a notebook shows it)."""
        from .display import plot_backend
        plot_backend(path)
        import matplotlib.pyplot as plt

        n = len(self.names)
        cols = min(n, 4)
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
        t = np.arange(len(self.true))
        for i, name in enumerate(self.names):
            ax = axes[i // cols][i % cols]
            ax.plot(t, self.true[:, i], "k-", label="gradient descent")
            ax.plot(t, self.carleman[:, i], "b--", label="Carleman (exact)")
            if self.quantum is not None:
                ax.plot(t, self.quantum[:, i], "ro", ms=4, label="quantum (decoded)")
            if self.signed is not None:
                rows_i = [r for r in self.signed["rows"] if r["i"] == i and r["theta"] is not None]
                ax.errorbar([r["t"] for r in rows_i], [r["theta"] for r in rows_i],
                            yerr=[r["half_width"] for r in rows_i], fmt="ro", ms=4, label="quantum (shots)")
            ax.set_title(name)
            ax.set_xlabel("step t")
        for j in range(n, rows * cols):
            axes[j // cols][j % cols].axis("off")
        axes[0][0].legend(fontsize=7)
        fid = self.sim.fidelity
        fig.suptitle(f"{self.model}: {self.solver}" + (f", fidelity {fid:.4f}" if fid is not None else ""))
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        plt.close(fig)   # not shown twice by pyplot; the returned Figure still draws and saves
        return fig


def _g(v) -> str:
    return "∞ or NaN" if v is None or not np.isfinite(v) else f"{v:.3g}"
#: `qdsl run` prints its prediction on stderr when it is this long (or stderr is a terminal); it is
#: always in the JSON output (`simulation.prediction`). `--quiet` or QDSL_PROGRESS=0 silence it, as
#: they silence the bars (the prediction depends on the machine's measured speed)
ANNOUNCE_SECONDS = 30.0


def _announce(pred) -> None:
    import os
    import sys

    from . import progress

    if progress._quiet or os.environ.get("QDSL_PROGRESS") == "0":
        return
    if progress.enabled() or pred.seconds >= ANNOUNCE_SECONDS:
        print(pred.line(), file=sys.stderr, flush=True)


def _nan_list(a):
    if a is None:
        return None
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a)]


def run_compilation(c, *, backend="statevector", shots=None, seed=None, from_qasm=True,
                    readout: str | None = None, theta="T", max_seconds: float | None = None,
                    max_memory: float | None = None, announce: bool = False) -> RunResult:
    """Simulate the emitted OpenQASM 3 loaded back (or the circuit object), decode, verify.

    `readout`: with shots, "signed" (default) runs the signed-readout circuits for the θ chosen
    by `theta` ("T", "all" or a step t); "amplitudes" gives magnitudes only (not verifiable).
    `max_seconds`, `max_memory` (bytes): the simulation's budget — predicted before it starts and
    refused (exit 3, E0530/E0531) over it (`backends.qiskit_sim.simulate`); `announce`: print the
    prediction on stderr."""
    from . import verification as V
    from .backends.qiskit_sim import simulate

    guard_sizes(c)
    prog = c.program
    ls = c.linear_system
    circuit = prog.circuit
    if from_qasm:
        from .backends.qasm3 import load
        circuit = load(c.qasm)
    readout_dict = prog.readout
    sim = simulate(circuit, readout_dict, ls, backend=backend, shots=shots, seed=seed,
                   solution_map=prog.solution_map, max_seconds=max_seconds, max_memory=max_memory,
                   on_prediction=_announce if announce else None)
    true = c.system.trajectory(ls.steps)
    ref = V.reference(ls)
    parts = V.circuit_error(prog, c.emitted, pruned=sim.meta.get("pruned_norm", 0.0))
    eps = V.promised_eps(prog)
    carleman_check = V.check_carleman(c, ref)
    signed = None
    if sim.trajectory is not None:
        eps_a = V.state_tolerance(eps, parts["total"], sim.success_probability, ref["solve_error"])
        checks = (V.check_state(sim.postselected_state, ref["Y"], prog.solution_map, eps_a,
                                dict(parts, eps=eps, solve_error=ref["solve_error"])),
                  V.check_readout(sim.trajectory, ref, eps_a), carleman_check)
    else:
        unobservable = Check("a", "state vs exact normalized solution", None, None, True,
                             "counts carry no phases", observable=False)
        if (readout or "signed") == "signed":
            # p from counts: its lower 95 % limit keeps 2δ/√p an upper bound
            p_low = max(sim.success_probability - 2 * sim.success_probability_err, 1.0 / sim.shots)
            eps_a = V.state_tolerance(eps, parts["total"], p_low, ref["solve_error"])
            signed, b = _signed_shots(c, circuit, sim, ref, eps_a, shots, seed, theta, backend)
        else:
            b = Check("b", "decoded trajectory vs Carleman", None, None, False,
                      "magnitudes only: compile the signed-readout circuits (--readout signed)",
                      observable=False)
        checks = (unobservable, b, carleman_check)
    circuit_info = {"num_qubits": prog.num_qubits, "qasm_bytes": len(c.qasm.encode()),
                    "counts": dict(c.emitted.counts)}
    training, caveats = training_caveats(c, ref["theta"], true)
    return RunResult(c.system.model, tuple(c.system.names), prog.solver, true, ref["theta"], sim,
                     checks, circuit_info, signed, caveats, training, c.system.kind)


def training_caveats(c, carleman_theta, true=None) -> tuple[dict, tuple]:
    """What "verified" does not cover: training that is not dissipative (ρ(I + F_1) ≥ 1, or
    Re λ ≥ 0 for a flow: the Carleman error then grows with T and no a-priori bound holds), and,
    for a model with `expand`, that the training compared with is gradient descent on the
    Taylor-expanded loss — a surrogate — with the distance to training on the loss as written."""
    from .semantics.certificate import conditions

    system = c.system
    with np.errstate(all="ignore"):
        cond = conditions(system)
    if system.kind == "flow":
        what = f"max Re λ(F_1) = {cond['spectral_abscissa']:.4g} ≥ 0"
        value = {"spectral_abscissa": float(cond["spectral_abscissa"])}
    else:
        what = f"ρ(I + F_1) = {cond['spectral_radius']:.4g} ≥ 1"
        value = {"spectral_radius": float(cond["spectral_radius"])}
    training = {"dissipative": bool(cond["dissipative"]), **value}
    caveats = []
    if not cond["dissipative"]:
        caveats.append(f"training is not dissipative ({what}): the checks hold for these "
                       f"{system.dynamics.steps} steps only; the Carleman error grows with T and no "
                       f"a-priori bound applies (`qdsl check` exits 1)")
    if true is not None:
        # the W0401 findings of `simulate` (divergence, a Carleman trajectory far from training):
        # the circuit may still solve its linear system exactly, but that system is not training
        from .lowering.errors import diagnose, trajectory_errors
        N = int(c.order)
        with np.errstate(all="ignore"):
            found = diagnose(true, {N: np.asarray(carleman_theta)},
                             {N: trajectory_errors(true, carleman_theta)}, model=system.model)
        if found:
            caveats.append(f"the order-{N} Carleman system does not follow training here (W0401: "
                           + "; ".join(d.message for d in found)
                           + "): the circuit is verified against that system, not against training")
        training["carleman_follows_training"] = not found
    written = as_written(c, carleman_theta)
    if written is not None:
        training["as_written"] = written
        if written.get("trajectory") is None:
            caveats.append(f"verified against training on the Taylor expansion (`{written['surrogate']}`), "
                           f"a surrogate; the loss as written was not trained: {written['reason']}")
        else:
            caveats.append(f"verified against training on the Taylor expansion (`{written['surrogate']}`), a "
                           f"surrogate: training on the loss as written is {_g(written['taylor_error'])} away "
                           f"(Taylor truncation error), the Carleman trajectory {_g(written['carleman_error'])}")
    return training, tuple(caveats)


def as_written(c, carleman_theta=None) -> dict | None:
    """For a model with `expand` whose update is Taylor-truncated: training on the loss (or rates)
    as written, evaluated numerically (`semantics.numeric`), and its distance to the polynomial
    system's training (the Taylor truncation error) and to the Carleman trajectory; None otherwise."""
    model, system = getattr(c, "model", None), c.system
    if getattr(model, "expand", None) is None or system.exact:
        return None
    from .semantics.numeric import train_as_written

    exp = model.expand
    about = "init" if exp.about == "init" else ("0" if exp.about is None else "a point")
    surrogate = f"expand order {exp.order} about {about}"
    out = {"surrogate": surrogate}
    try:
        traj = train_as_written(model, c.values, system)
    except Exception as exc:  # noqa: BLE001 — reported, never a crash of `run`/`simulate`
        from .diagnostics import CompileError
        if not isinstance(exc, (CompileError, ArithmeticError, ValueError)):
            raise
        return dict(out, trajectory=None, reason=str(exc).splitlines()[0])
    if isinstance(traj, str):
        return dict(out, trajectory=None, reason=traj)
    poly = system.trajectory()
    with np.errstate(invalid="ignore"):
        taylor = float(np.max(np.abs(poly - traj)))
        car = None if carleman_theta is None else float(np.max(np.abs(np.asarray(carleman_theta) - traj)))
    return dict(out, trajectory=traj, taylor_error=taylor if np.isfinite(taylor) else None,
                carleman_error=car if car is None or np.isfinite(car) else None)


def guard_sizes(c) -> None:
    """Refuse (exit 3) from the sizes alone, before the circuit is synthesized, a run whose
    classical reference — the history-state system at the compilation's order and steps, which
    verification solves — is over the limits `qdsl simulate` applies (E0401, E0402)."""
    from .lowering.carleman import guard
    from .lowering.history import guard_history

    dim, nnz = guard(c.system, c.order, c.basis)
    guard_history(c.system.dynamics.steps, c.idle, dim, nnz)


def signed_circuits(c, theta="T", header: str | None = None) -> list[tuple]:
    """[(SignedCircuit, OpenQASM 3 text)] of the signed readout (`qdsl.readout`) for `theta`:
    the emitted program (or `header`, the same text as written to disk) with the measurement
    gates inserted before its final measurements."""
    from .readout import signed_plan, with_gates

    plan = signed_plan(c.program.readout, c.system.names, theta)
    text = c.qasm if header is None else header
    return [(sc, with_gates(text, sc.gates)) for sc in plan]


def signed_section(c, theta="T", amplitudes_file: str | None = None, files=None) -> dict:
    """The report's / manifest's `signed_readout` section: the compiled circuit first (its counts
    give |a_0|²), then one entry per signed-readout circuit with its (t, i), measurement gates,
    interfering qubit, pattern and post-selection."""
    from .readout import signed_plan

    ro = c.program.readout
    plan = signed_plan(ro, c.system.names, theta)
    files = list(files) if files is not None else [None] * len(plan)
    circuits = [dict({"role": "amplitudes"}, **({"file": amplitudes_file} if amplitudes_file else {}))]
    circuits += [sc.to_dict(file=f, postselect=ro["postselect"]) for sc, f in zip(plan, files)]
    return {"theta": theta, "formula": "Re(a_i a_0*) = (P(x,0) − P(x,1))/2, θ_t[i] = θ*_i + Re(a_i a_0*)/|a_0|²",
            "circuits": circuits}


def _signed_shots(c, circuit, sim, ref, eps_a, shots, seed, theta, backend):
    """Sample every signed-readout circuit: the simulated circuit (the emitted file loaded back)
    with the measurement gates appended — the same program as the signed files, which are the
    emitted text with those gates inserted before the measurements (`readout.with_gates`)."""
    from . import verification as V
    from .backends.qiskit_sim import sample_counts
    from .progress import progress
    from .readout import signed_estimates, signed_plan, simultaneous_rows

    plan = signed_plan(c.program.readout, c.system.names, theta)
    base = 0 if seed is None else int(seed)
    counts = []
    body = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit
    for k, sc in enumerate(progress(plan, desc="signed readout", unit="circuit")):
        circ = body.copy()
        for g in sc.gates:
            getattr(circ, g[0])(*g[1:])
        counts.append(sample_counts(circ, shots, base + 1 + k, backend))
    est = signed_estimates(sim.counts, counts, plan, c.program.readout, c.linear_system.expansion_point)
    check = V.shots_check(est, ref, eps_a)
    rows, z = simultaneous_rows(est, check.details["level"])
    for r, ins, bias in zip(rows, check.details["inside"], check.details["bias_bound"]):
        r.update(inside=bool(ins), bias_bound=float(bias), exact=float(ref["theta"][r["t"], r["i"]]))
    T = c.linear_system.steps
    by_i = {r["i"]: r["theta"] for r in rows if r["t"] == T}
    signed = {"rows": rows, "z": z, "level": check.details["level"],
              "total_shots": est.shots, "postselected_shots": est.postselected_shots,
              "shots_per_circuit": int(shots), "seed": base,
              "theta_T": [by_i.get(i) for i in range(len(c.system.names))],
              "counts": [sim.counts] + counts}
    return signed, check
