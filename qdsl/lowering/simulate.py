r"""The classical reference (`qdsl simulate`): true trajectory vs. Carleman trajectories.

For each order N' = 1..N the Carleman system is lowered, its history-state system L·Y = B is
solved (forward substitution, exact for the block-bidiagonal L) and decoded by the docs/maths.md readout
θ_t = θ* + Re(Y[t, u]/Y[t, 1]). The true trajectory is the direct iteration of the polynomial map
(flows: its forward-Euler steps); for flows the ODE solution from `scipy.integrate.solve_ivp` at
the same times is kept as a note. For flows the Carleman system takes Euler steps in the *lifted*
space, y ← (I + h·A) y, so even as N → ∞ it differs from Euler on u by O(h²) per step in the
higher blocks (O(h³) on θ); that floor, not the truncation, limits the error at high order — the
part PNAS Lemma 2 bounds against the exact ODE.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..display import TextReport
from ..progress import progress
from .carleman import carleman, guard
from .errors import a_priori_bounds, diagnose, trajectory_errors
from .history import guard_history, history_system

KAPPA_MAX_DIM = 200_000  # κ is estimated only for history systems up to this size


@dataclass(frozen=True, eq=False)
class SimulationResult(TextReport):
    """True vs. Carleman trajectories of one model (shape (T+1, n) each), with their errors."""

    model: str
    names: tuple
    kind: str
    basis: str
    order: int
    steps: int
    idle: int
    times: np.ndarray
    true: np.ndarray
    carleman: dict
    errors: dict
    bounds: dict
    warnings: tuple
    exact_ode: np.ndarray | None = None
    linear_systems: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    as_written: dict | None = None   # `expand`: training on the loss as written (qdsl.run.as_written)

    @property
    def orders(self) -> list[int]:
        return sorted(self.carleman)

    def to_dict(self) -> dict:
        """The `simulate --json` document (docs/cli.md)."""
        d = {
            "model": self.model,
            "names": list(self.names),
            "kind": self.kind,
            "basis": self.basis,
            "order": self.order,
            "steps": self.steps,
            "idle": self.idle,
            "times": _jsonable(self.times),
            "trajectory": _jsonable(self.true),
            "carleman": {str(N): _jsonable(v) for N, v in sorted(self.carleman.items())},
            "errors": {str(N): _jsonable(e) for N, e in sorted(self.errors.items())},
            "bounds": _jsonable(self.bounds),
            "warnings": [w.to_dict() for w in self.warnings],
            "linear_system": {str(N): _jsonable(v) for N, v in sorted(self.linear_systems.items())},
            "timings": _jsonable(self.timings),
        }
        if self.exact_ode is not None:
            d["exact_ode"] = _jsonable(self.exact_ode)
        if self.as_written is not None:
            d["as_written"] = _jsonable(self.as_written)
        return d

    def _display_title(self) -> str:
        return f"qdsl simulate: {self.model}"

    def _render_as_written(self) -> list[str]:
        w = self.as_written
        out = ["", f"expansion error ({w['surrogate']}): training on the loss as written vs on its "
                   "Taylor expansion"]
        if w.get("trajectory") is None:
            return out + [f"  not computed: {w['reason']}"]
        fmt = lambda v: "∞ or NaN" if v is None else f"{v:.4g}"
        out.append(f"  Taylor truncation error (max over t)  {fmt(w['taylor_error'])}")
        out.append("  Carleman vs the loss as written       "
                   + "   ".join(f"N={N}: {fmt(v)}" for N, v in sorted(w["carleman_errors"].items())))
        return out

    def render(self, max_rows: int = 12, warnings: bool = True) -> str:
        """A readable report: θ_T true vs. each order, errors per order, a per-step table (and the
        W0401 warnings, unless `warnings=False`: the CLI prints those once, on stderr)."""
        T = self.steps
        out = [f"simulate {self.model}: {self.kind}, {T} steps, Carleman basis {self.basis}, "
               f"orders {', '.join(map(str, self.orders))}"]
        w = max(8, max(len(s) for s in self.names))
        head = f"  {'param':<{w}} {'true θ_T':>14}" + "".join(f" {'N=' + str(N):>14}" for N in self.orders)
        if self.exact_ode is not None:
            head += f" {'ODE (note)':>14}"
        out += ["", "final parameters θ_T", head]
        for i, name in enumerate(self.names):
            row = f"  {name:<{w}} {self.true[-1, i]:>14.8g}"
            row += "".join(f" {self.carleman[N][-1, i]:>14.8g}" for N in self.orders)
            if self.exact_ode is not None:
                row += f" {self.exact_ode[-1, i]:>14.8g}"
            out.append(row)
        out += ["", "error per order (‖θ_t − θ̂_t‖∞)",
                f"  {'order':>5} {'max over t':>12} {'final':>12} {'relative':>10} {'dim':>9} {'kappa':>10}"]
        for N in self.orders:
            e = self.errors[N]
            ls = self.linear_systems.get(N, {})
            kap = ls.get("kappa")
            kap_s = f"{kap:.4g}" if kap is not None and math.isfinite(kap) else "-"
            out.append(f"  {N:>5} {e['max']:>12.4g} {e['final']:>12.4g} {e['relative']:>10.3g} "
                       f"{ls.get('block_dim', 0):>9} {kap_s:>10}")
        out += ["", "a-priori bounds (final step)"]
        for key, b in self.bounds.items():
            val = f"{b['value']:.4g}" if b.get("applicable") else b["reason"]
            out.append(f"  {key:<11} {val}")
        if T + 1 <= max_rows and self.true.shape[1] <= 4:
            out += ["", "per step (true | order " + str(self.orders[-1]) + ")"]
            top = self.carleman[self.orders[-1]]
            for t in range(T + 1):
                tr = " ".join(f"{v:>11.6g}" for v in self.true[t])
                ca = " ".join(f"{v:>11.6g}" for v in top[t])
                out.append(f"  t={t:<4} {tr} | {ca}")
        if self.as_written is not None:
            out += self._render_as_written()
        for wd in self.warnings if warnings else ():
            out += ["", wd.render()]
        return "\n".join(out)

    def plot(self, path=None):
        """Trajectories per parameter (true vs. each order) and the error vs. order (log scale).
        Saved to `path` when given; returns the matplotlib Figure either way (a notebook shows it)."""
        from ..display import plot_backend
        plot_backend(path)
        import matplotlib.pyplot as plt

        n = len(self.names)
        shown = list(range(min(n, 6)))
        fig, axes = plt.subplots(1, len(shown) + 1, figsize=(4 * (len(shown) + 1), 3.5))
        axes = np.atleast_1d(axes)
        t = self.times
        for ax, i in zip(axes, shown):
            ax.plot(t, self.true[:, i], "k-", lw=2, label="true")
            if self.exact_ode is not None:
                ax.plot(t, self.exact_ode[:, i], "k:", lw=1, label="ODE")
            for N in self.orders:
                ax.plot(t, self.carleman[N][:, i], "--", label=f"N={N}")
            ax.set_title(self.names[i])
            ax.set_xlabel("t")
        axes[0].legend(fontsize=7)
        ax = axes[-1]
        errs = [max(self.errors[N]["max"], 1e-300) for N in self.orders]
        fin = [max(self.errors[N]["final"], 1e-300) for N in self.orders]
        ax.semilogy(self.orders, errs, "o-", label="max over t")
        ax.semilogy(self.orders, fin, "s--", label="final step")
        ax.set_xlabel("Carleman order N")
        ax.set_ylabel("‖θ − θ̂‖∞")
        ax.set_xticks(self.orders)
        ax.legend(fontsize=7)
        ax.set_title("error vs order")
        fig.suptitle(f"{self.model}: true vs Carleman ({self.basis})")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        plt.close(fig)   # not shown twice by pyplot; the returned Figure still draws and saves
        return fig


def simulate(system, order: int, basis: str = "kronecker", *, idle: int = 0,
             orders=None, kappa: bool = True) -> SimulationResult:
    r"""True trajectory vs. the Carleman trajectory of every order in `orders` (default 1..N),
    each obtained by solving its history-state system L·Y = B."""
    from .carleman import check_order

    T = int(system.dynamics.steps)
    check_order(system.n, max([int(order)] + [int(N) for N in (orders or ())]))
    orders = sorted(set(int(N) for N in (orders if orders is not None else range(1, int(order) + 1))))
    # refuse up front: the highest order is the largest system, so check it (and its history
    # over T steps) before building any — and before iterating the true trajectory T times
    dim, nnz = guard(system, max(orders), basis)
    guard_history(T, idle, dim, nnz)
    timings = {}
    t0 = time.perf_counter()
    true = system.trajectory()
    timings["true"] = time.perf_counter() - t0
    exact = None
    if system.kind == "flow":
        dt = float(system.dynamics.dt)
        times = dt * np.arange(T + 1)
        exact = _ode_solution(system, times)
    else:
        times = np.arange(T + 1, dtype=float)
    trajs, errors, lss = {}, {}, {}
    for N in progress(orders, desc="simulate: Carleman orders", unit="order"):
        t1 = time.perf_counter()
        car = carleman(system, N, basis)
        t2 = time.perf_counter()
        ls = history_system(car, T, idle, kappa="auto" if kappa and (T + 1 + idle) * car.dim <= KAPPA_MAX_DIM
                            else "none")
        t3 = time.perf_counter()
        with np.errstate(all="ignore"):
            Y = ls.solve()
            traj = ls.decode(Y)
            res = ls.residual(Y) if np.all(np.isfinite(Y)) else float("inf")
        t4 = time.perf_counter()
        trajs[N] = traj
        errors[N] = trajectory_errors(true, traj)
        lss[N] = {"block_dim": car.dim, "dim": ls.dim, "nnz": int(ls.matrix.nnz),
                  "carleman_nnz": int(car.matrix.nnz), "kappa": ls.kappa,
                  "kappa_method": ls.kappa_method, "sparsity": ls.sparsity, "residual": res}
        timings[f"order_{N}"] = {"carleman": t2 - t1, "history": t3 - t2, "solve": t4 - t3}
    bounds = a_priori_bounds(system, max(orders))
    warnings = tuple(diagnose(true, trajs, errors, model=system.model))
    return SimulationResult(system.model, tuple(system.names), system.kind, basis, int(max(orders)),
                            T, int(idle), times, true, trajs, errors, bounds, warnings,
                            exact_ode=exact, linear_systems=lss, timings=timings)


#: right-hand-side evaluations one ODE reference solve may spend (per method tried)
ODE_BUDGET = 10_000


class _OverBudget(Exception):
    pass


def _ode_solution(system, times) -> np.ndarray | None:
    r"""The exact ODE's solution at `times` (a note beside the Euler trajectories, and the reference
    of the PNAS a-priori check in `qdsl run`): DOP853 at rtol 1e-10, or — when that runs out of its
    evaluation budget, as explicit methods do on stiff systems — Radau (implicit) at the same
    tolerance; None when both give up or the solution blows up."""
    from scipy.integrate import solve_ivp

    cap = 1e6 * (1.0 + float(np.max(np.abs(system.x0), initial=0.0)))

    def blow_up(t, u):  # stop at a finite-time blow-up instead of chasing it
        return cap - float(np.max(np.abs(u)))

    blow_up.terminal = True
    for method in ("DOP853", "Radau"):
        calls = [0]

        def rhs(t, u):
            calls[0] += 1
            if calls[0] > ODE_BUDGET:
                raise _OverBudget
            return system.rhs(u)

        try:
            with np.errstate(all="ignore"):
                sol = solve_ivp(rhs, (times[0], times[-1]), system.x0, t_eval=times, rtol=1e-10,
                                atol=1e-12, method=method, events=blow_up)
        except _OverBudget:
            continue
        except Exception:  # the ODE note is optional; a blow-up must not fail `simulate`
            return None
        if not sol.success or sol.y.shape[1] != times.size:
            return None
        return sol.y.T + system.expansion_point
    return None


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, complex):
        return [x.real, x.imag]
    return x
