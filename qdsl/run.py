"""`qdsl run`: simulate the compiled circuit, decode θ_t by the readout contract, and verify the
quantum answer against the exact Carleman solution and against classical training.

Verification (exit 1 when it fails): the decoded trajectory within 2 % (of its largest entry) of
the exact solution of L·Y = B, θ_T within 5 %, and fidelity ≥ 0.99 — the quantum solver is judged
against the linear system it solves; the Carleman truncation error against true gradient descent
is reported beside it (it is the order's property, not the circuit's). With --shots, only
magnitudes are observable: |θ_t − θ*| is checked within 4 standard errors + 2 %.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRAJ_TOL, THETA_T_TOL, FIDELITY_MIN = 0.02, 0.05, 0.99


@dataclass(frozen=True, eq=False)
class RunResult:
    """θ trajectories (true, Carleman, quantum), fidelity, success probability, verification."""
    model: str
    names: tuple
    solver: str
    true: np.ndarray
    carleman: np.ndarray
    sim: object                      # backends.qiskit_sim.SimulationResult
    verified: bool
    checks: dict = field(default_factory=dict)
    circuit: dict = field(default_factory=dict)

    @property
    def quantum(self):
        return self.sim.trajectory

    def to_dict(self) -> dict:
        s = self.sim
        d = {"model": self.model, "parameters": list(self.names), "solver": self.solver,
             "backend": s.backend, "shots": s.shots,
             "fidelity": s.fidelity, "success_probability": s.success_probability,
             "repetitions": s.repetitions, "amplification_rounds": s.amplification_rounds,
             "theta_T": {"true": self.true[-1].tolist(), "carleman": self.carleman[-1].tolist(),
                         "quantum": None if s.trajectory is None else s.trajectory[-1].tolist()},
             "trajectory": {"true": self.true.tolist(), "carleman": self.carleman.tolist(),
                            "quantum": None if s.trajectory is None else s.trajectory.tolist()},
             "errors": self.checks, "verified": self.verified, "circuit": self.circuit}
        if s.shots:
            d["shots_estimate"] = {"abs_theta_minus_expansion_point": _nan_list(s.trajectory_abs),
                                   "standard_error": _nan_list(s.trajectory_abs_err),
                                   "success_probability_err": s.success_probability_err,
                                   "magnitude_fidelity": s.magnitude_fidelity,
                                   "note": s.meta.get("note")}
        return d

    def render(self) -> str:
        s = self.sim
        L = [f"model {self.model}: {self.solver.upper()} on {self.circuit.get('num_qubits')} qubits, "
             f"{s.backend}{f', {s.shots} shots' if s.shots else ''}"]
        T = len(self.true) - 1
        head = f"  {'θ_T':<12} {'gradient descent':>17} {'Carleman (exact)':>17} {'quantum':>17} {'|q − C|':>10}"
        L.append(head)
        q = s.trajectory[-1] if s.trajectory is not None else None
        for i, name in enumerate(self.names):
            if q is not None:
                qs, dq = f"{q[i]:>17.6f}", f"{abs(q[i] - self.carleman[-1, i]):>10.2e}"
            else:
                a, e = s.trajectory_abs[-1, i], s.trajectory_abs_err[-1, i]
                qs, dq = f"{'|Δ|=' + f'{a:.4f}±{e:.4f}':>17}", f"{'':>10}"
            L.append(f"  {name:<12} {self.true[-1, i]:>17.6f} {self.carleman[-1, i]:>17.6f} {qs} {dq}")
        c = self.checks
        if s.fidelity is not None:
            L.append(f"  fidelity (post-selected state vs exact normalized solution)  {s.fidelity:.6f}")
        L.append(f"  success probability  {s.success_probability:.4g}"
                 + (f" ± {s.success_probability_err:.2g}" if s.success_probability_err else "")
                 + f"   → about {s.repetitions:.3g} repetitions, or {s.amplification_rounds} rounds of "
                   f"amplitude amplification")
        if c.get("trajectory_error") is not None:
            L.append(f"  decoded trajectory error vs Carleman  {c['trajectory_error']:.2e} of its largest entry "
                     f"(θ_T: {c['theta_T_error']:.2e})")
        L.append(f"  Carleman truncation error vs gradient descent  {c['carleman_vs_true']:.2e} "
                 f"(max over t = 0..{T}, absolute)")
        L.append("verified: quantum answer matches the linear-system solution" if self.verified else
                 "NOT verified: " + "; ".join(c.get("failures", [])))
        return "\n".join(L)

    def plot(self, path) -> None:
        """Trajectories per parameter: gradient descent, Carleman, quantum."""
        import matplotlib
        matplotlib.use("Agg")
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
            ax.set_title(name)
            ax.set_xlabel("step t")
        for j in range(n, rows * cols):
            axes[j // cols][j % cols].axis("off")
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{self.model}: {self.solver}, fidelity {self.sim.fidelity if self.sim.fidelity is not None else float('nan'):.4f}")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def _nan_list(a):
    if a is None:
        return None
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a)]


def run_compilation(c, *, backend="statevector", shots=None, seed=None, from_qasm=True) -> RunResult:
    """Compile (if not yet), simulate the emitted OpenQASM 3 loaded back (or the circuit object),
    decode and verify."""
    from .backends.qiskit_sim import simulate

    prog = c.program
    ls = c.linear_system
    circuit = prog.circuit
    if from_qasm:
        from .backends.qasm3 import load
        circuit = load(c.qasm)
    sim = simulate(circuit, prog.readout, ls, backend=backend, shots=shots, seed=seed,
                   solution_map=prog.solution_map)
    true = c.system.trajectory(ls.steps)
    carleman = sim.exact_trajectory
    checks = {"carleman_vs_true": float(np.max(np.abs(carleman - true)))}
    failures = []
    if sim.trajectory is not None:
        checks.update(trajectory_error=sim.trajectory_error, theta_T_error=sim.theta_T_error,
                      fidelity=sim.fidelity,
                      quantum_vs_true=float(np.max(np.abs(sim.trajectory - true))))
        if not sim.fidelity >= FIDELITY_MIN:
            failures.append(f"fidelity {sim.fidelity:.4f} < {FIDELITY_MIN}")
        if not sim.trajectory_error <= TRAJ_TOL:
            failures.append(f"trajectory error {sim.trajectory_error:.3g} > {TRAJ_TOL}")
        if not sim.theta_T_error <= THETA_T_TOL:
            failures.append(f"θ_T error {sim.theta_T_error:.3g} > {THETA_T_TOL}")
    else:
        exact_abs = np.abs(carleman - np.asarray(ls.expansion_point)[None, :])
        est, err = sim.trajectory_abs, sim.trajectory_abs_err
        scale = max(float(np.max(exact_abs)), 1e-300)
        ok = np.abs(est - exact_abs) <= 4 * np.nan_to_num(err, nan=np.inf) + TRAJ_TOL * scale
        checks.update(magnitude_fidelity=sim.magnitude_fidelity,
                      magnitudes_within_error_bars=float(np.mean(ok)))
        if not np.all(ok):
            failures.append(f"{int(np.sum(~ok))} decoded magnitudes outside 4σ + 2 %")
    checks["failures"] = failures
    circuit_info = {"num_qubits": prog.num_qubits, "qasm_bytes": len(c.qasm.encode()),
                    "counts": dict(c.emitted.counts)}
    return RunResult(c.system.model, tuple(c.system.names), prog.solver, true, carleman, sim,
                     not failures, checks, circuit_info)
