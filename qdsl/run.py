"""`qdsl run`: simulate the compiled circuit, decode θ_t by the readout contract, and verify the
quantum answer — (a) the state against the exact solution within what the user's eps promises,
(b) the decoded trajectory against the Carleman solution within the bound that follows from (a),
(c) the Carleman trajectory against true training within the truncation error `simulate`
measures. The checks and their bounds are defined in `qdsl.verification`; "verified" means all
three hold.

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

    @property
    def quantum(self):
        return self.sim.trajectory

    @property
    def verified(self) -> bool:
        return all(ch.passed for ch in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"({ch.key}) {ch.title}" for ch in self.checks if not ch.passed]

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
             "verified": self.verified, "circuit": self.circuit}
        if s.shots:
            d["success_probability_err"] = s.success_probability_err
            d["magnitudes"] = {"abs_theta_minus_expansion_point": _nan_list(s.trajectory_abs),
                               "standard_error": _nan_list(s.trajectory_abs_err),
                               "magnitude_fidelity": s.magnitude_fidelity}
        if self.signed is not None:
            d["signed"] = {k: v for k, v in self.signed.items() if k != "counts"}
        return d

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
            L.append(f"  {'θ_T':<12} {'gradient descent':>17} {'Carleman (exact)':>17} {'quantum':>17} {'|q − C|':>10}")
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
        L.append("checks (measured ≤ bound)")
        L += [ch.line() for ch in self.checks]
        if self.verified:
            L.append("verified: (a), (b) and (c) hold" if self.checks[0].observable else
                     "verified: (b) and (c) hold; (a) is not observable from counts")
        else:
            L.append("NOT verified: " + "; ".join(self.failures))
        return "\n".join(L)

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


def _nan_list(a):
    if a is None:
        return None
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a)]


def run_compilation(c, *, backend="statevector", shots=None, seed=None, from_qasm=True,
                    readout: str | None = None, theta="T") -> RunResult:
    """Simulate the emitted OpenQASM 3 loaded back (or the circuit object), decode, verify.

    `readout`: with shots, "signed" (default) runs the signed-readout circuits for the θ chosen
    by `theta` ("T", "all" or a step t); "amplitudes" gives magnitudes only (not verifiable)."""
    from . import verification as V
    from .backends.qiskit_sim import simulate

    prog = c.program
    ls = c.linear_system
    circuit = prog.circuit
    if from_qasm:
        from .backends.qasm3 import load
        circuit = load(c.qasm)
    readout_dict = prog.readout
    sim = simulate(circuit, readout_dict, ls, backend=backend, shots=shots, seed=seed,
                   solution_map=prog.solution_map)
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
    return RunResult(c.system.model, tuple(c.system.names), prog.solver, true, ref["theta"], sim,
                     checks, circuit_info, signed)


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
