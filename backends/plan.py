r"""The verdict: the quantum end-to-end cost against training the same model classically.

`plan(c, ...)` (`qdsl plan`, docs/resources.md#the-verdict-qdsl-plan) puts side by side

* **quantum** — `backends.endtoend.end_to_end`: the runtime of getting the stated output of θ_T
  to the stated precision, on the surface-code model of `backends.physical`;
* **classical** — sparse gradient descent on the same polynomial system: per step every nonzero
  of F_ℓ costs ℓ+1 flops (ℓ−1 products of the monomial, one by the coefficient, one sum) and the
  update n more, so T·(Σ_ℓ (ℓ+1)·nnz_ℓ + n) flops, and it streams every nonzero once per step
  (8 bytes of value, 8 of column index, 8 per factor read: T·Σ_ℓ nnz_ℓ·(16 + 8ℓ) bytes, plus the
  vector, 24·n per step); its runtime is the roofline max(flops/rate, bytes/bandwidth) with the
  machine's rate stated (`STATED_RATE`, `STATED_BANDWIDTH`) or measured (`measure_rate`: a
  sparse matrix–vector micro-benchmark);
* their **ratio** (quantum runtime / classical runtime) and, per access model, the **crossover**
  n* where the ratio falls to 1 — found by bisection on log n over the cost functions themselves
  (`crossover`), at the stated T, ε_θ and output — or "never", with the growth rates that decide.
"""
from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["plan", "classical_cost", "measure_rate", "crossover", "crossovers", "PlanReport", "STATED_RATE",
           "STATED_BANDWIDTH", "N_MAX"]

#: the classical machine when not measured: one CPU core on a sparse update (≈ 1 GFLOP/s, as a
#: CSR matrix–vector product runs) and its memory stream (10 GB/s)
STATED_RATE = 1e9
STATED_BANDWIDTH = 1e10
#: the largest n a crossover is searched to
N_MAX = 10 ** 20


def measure_rate(size: int = 2_000_000, repeats: int = 5) -> dict:
    """(flop rate, bandwidth) of this machine on a CSR matrix–vector product with `size`
    nonzeros (5 per row, random columns): the kernel a sparse gradient step runs."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    rows = size // 5
    A = sp.random(rows, rows, density=5 / rows, format="csr", random_state=rng)
    x = rng.standard_normal(rows)
    A @ x
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ x
        best = min(best, time.perf_counter() - t0)
    flops = 2 * A.nnz
    bytes_ = A.nnz * (8 + 4 + 8) + rows * (8 + 4 + 8)
    return {"rate": flops / best, "bandwidth": bytes_ / best, "source": f"measured (CSR mat-vec, "
            f"{A.nnz:,} nonzeros, best of {repeats})"}


def classical_cost(c, *, params=None, steps=None, rate=None, bandwidth=None, measured=None) -> dict:
    """FLOPs, bytes and runtime of T steps of sparse gradient descent on Compilation `c`'s system
    at n = `params` (every F_ℓ's nonzeros scaled by n/n₀, as projections do) — module docstring."""
    system = c.system
    n0 = int(system.n)
    n = int(params) if params is not None else n0
    T = int(steps) if steps is not None else int(system.dynamics.steps)
    Fs = system.step_F if system.step_F else (system.F,)
    nnz = [float(np.mean([F[ell].nnz for F in Fs])) * n / n0 for ell in range(len(system.F))]
    per_step = sum((ell + 1) * z for ell, z in enumerate(nnz)) + n
    bytes_step = sum(z * (16 + 8 * ell) for ell, z in enumerate(nnz)) + 24 * n
    if measured is not None:
        rate, bandwidth, src = measured["rate"], measured["bandwidth"], measured["source"]
    else:
        rate = STATED_RATE if rate is None else float(rate)
        bandwidth = STATED_BANDWIDTH if bandwidth is None else float(bandwidth)
        src = "stated"
    flops, bytes_ = T * per_step, T * bytes_step
    return {"flops": flops, "bytes": bytes_, "runtime_s": max(flops / rate, bytes_ / bandwidth),
            "rate": rate, "bandwidth": bandwidth, "rate_source": src, "n": n, "T": T,
            "nnz": nnz, "formula": "T·(Σ_ℓ (ℓ+1)·nnz_ℓ + n) flops; T·(Σ_ℓ nnz_ℓ·(16+8ℓ) + 24n) bytes; "
                                   "runtime max(flops/rate, bytes/bandwidth)",
            "model": "sparse gradient descent on the model's polynomial update"
                     + (" (a qdsl.torch network: its extracted update on the pruned support, a FLOP "
                        "estimate of the training step the network runs there)"
                        if "drop_tol" in system.meta and "support" in system.meta else "")}


def _log_ratio(c, n, T, output, eps, access, cl_kw, fixed, seen=None):
    from .endtoend import end_to_end
    if fixed.get("download"):   # windows choose their own p and split
        fixed = {"download": fixed["download"]}
    q = end_to_end(c, output=output, precision=eps, params=n, steps=T, access=access, physical=None,
                   **fixed)
    cl = classical_cost(c, params=n, steps=T, **cl_kw)
    if seen is not None:
        seen[int(n)] = (_runtime(q), cl["runtime_s"])
    return math.log(_runtime(q) / cl["runtime_s"]), q, cl


def _runtime(q) -> float:
    """The quantum runtime, or its lower bound beyond the surface-code model (sound for "the
    quantum side loses", and said so)."""
    t = q["total"]
    return t["runtime_s"] if t["runtime_s"] is not None else t["runtime_lower_bound_s"]


def crossover(c, *, access: str, output: str, precision: float, steps: int, classical: dict,
              n_max: int = N_MAX, idle=None, split=None, seen: dict | None = None,
              download=None) -> dict:
    r"""The n* ≥ n₀ where quantum runtime / classical runtime falls to 1 under `access`, by
    bisection on log n over the cost functions (T, ε_θ and the output fixed; p and the split
    fixed at the values chosen at the stated size), or n* = None with the reason: the growth
    exponents d log(runtime)/d log n of both sides at n_max, and the quantum side's largest part.
    Runtimes are the algorithm's (`physical.algorithm_runtime`); `seen` collects every (n: quantum,
    classical runtime) evaluated (the plot's curves)."""
    n0 = int(c.system.n)
    cl_kw = {"measured": classical} if classical.get("rate_source", "stated") != "stated" else \
        {"rate": classical["rate"], "bandwidth": classical["bandwidth"]}
    fixed = {}
    if idle is not None:
        fixed["idle"] = int(idle)
    if split is not None:
        fixed["splits"] = (float(split),)
    if download is not None:
        fixed["download"] = int(download)
    grid = [n0] + [10 ** k for k in range(2 * (int(math.log10(n0)) // 2 + 1), int(math.log10(n_max)) + 1, 2)]
    vals = []
    for n in grid:
        g, q, cl = _log_ratio(c, n, steps, output, precision, access, cl_kw, fixed, seen)
        vals.append((n, g, q, cl))
        if g <= 0:
            break
    if vals[0][1] <= 0:
        return {"n_star": n0, "reason": "the quantum side already wins at the compiled size",
                "ratio_at_n_star": math.exp(vals[0][1])}
    if vals[-1][1] > 0:
        (n1, g1, q1, c1), (n2, g2, q2, c2) = vals[-2], vals[-1]
        lq = math.log(_runtime(q2) / _runtime(q1)) / math.log(n2 / n1)
        lc = math.log(c2["runtime_s"] / c1["runtime_s"]) / math.log(n2 / n1)
        part = max(q2["breakdown"], key=q2["breakdown"].get)
        if lq is not None and lq >= lc:
            why = (f"never: the quantum runtime grows as n^{lq:.2f}, the classical as n^{lc:.2f} "
                   f"(largest quantum part: {part.replace('_', ' ')})")
        else:
            why = (f"not below n = {n_max:.0e}: the ratio is {math.exp(g2):.3g} there and falls as "
                   f"n^{(lq or 0) - lc:.2f} (quantum n^{lq:.2f}, classical n^{lc:.2f}; largest "
                   f"quantum part: {part.replace('_', ' ')})")
        return {"n_star": None, "reason": why, "ratio_at_n_max": math.exp(g2),
                "quantum_exponent": lq, "classical_exponent": lc}
    lo, hi = math.log(vals[-2][0]), math.log(vals[-1][0])
    for _ in range(30):
        if hi - lo < math.log(1.01):
            break
        mid = (lo + hi) / 2
        g, _, _ = _log_ratio(c, int(round(math.exp(mid))), steps, output, precision, access, cl_kw,
                             fixed, seen)
        if g <= 0:
            hi = mid
        else:
            lo = mid
    return {"n_star": int(math.ceil(math.exp(hi))),
            "reason": "quantum runtime ≤ classical for n ≥ n* (bisection on log n to 1 %)"}


class PlanReport(dict):
    """`plan`'s result: a dict (the JSON of `qdsl plan --json`) with `render()` and `plot(path)`."""

    def render(self) -> str:
        q, cl = self["quantum"], self["classical"]
        s = self["sizes"]
        out = [f"plan for `{self['model']}`: {self['output']['meaning']} (ε_θ = {self['output']['precision']:g}), "
               f"n = {s['n']:,}, T = {s['T']}, access {s['access']}", "-" * 78]
        pc, tot = q["per_call"], q["total"]
        solver = (f"QSVT degree {pc['degree']}" if not q.get("hhl") else
                  f"HHL clock {q['hhl']['clock']}, {_num(pc['degree'])} block-encoding calls")
        out.append(f"quantum, one attempt     {_num(pc['t_states'])} T states, {solver}, "
                   f"{pc['logical_qubits']} logical qubits")
        out.append(f"quantum, end to end      {_num(tot['calls'])} calls × one attempt + readout = "
                   f"{_num(tot['t_states'])} T states")
        out.append(f"  route                  {q['route']}; idle steps p = {q['idle']}; state error "
                   f"per call {q['state_error']:.3g}")
        ps = q["p_s"]
        pt = q["solution"]["P_T"]
        out.append(f"  p_s, P_T, A_T          {_rng(ps['low'], ps['high'])}, {_rng(*pt)}, "
                   f"{_rng(*q['solution']['A_T'])} ({'exact' if q['solution']['exact'] else 'bounds'})")
        if q["amplification"]:
            a = q["amplification"]
            out.append(f"  amplification          {a['rounds']} rounds ({a['method']})")
        sm = q["samples"]
        if "copies" in sm:
            out.append(f"  samples                {_num(sm['copies'])} copies (ℓ∞ tomography, 36 ln d/δ², "
                       f"δ = {sm['delta']:.3g})")
        else:
            out.append(f"  samples                3 × {sm['median_runs']} runs × {_num(sm['iterates'])} "
                       f"iterates (amplitude estimation)")
        if q.get("download"):
            dl = q["download"]
            out.append(f"  download / re-upload   every {dl['interval']} steps: {dl['cycles']} windows, "
                       f"each to ± {dl['precision_per_window']:.3g}")
        out.append(f"  runtime, qubits        {_dur(tot['runtime_s'])}, {_num(tot['physical_qubits'])} "
                   f"physical (d = {tot['code_distance']})")
        out.append(f"classical                {_num(cl['flops'])} flops, {_num(cl['bytes'])} bytes, "
                   f"{_dur(cl['runtime_s'])} ({cl['rate_source']}: {cl['rate']:.3g} flop/s, "
                   f"{cl['bandwidth']:.3g} B/s)")
        r = self["ratio"]
        out.append(f"ratio quantum/classical  {r:.3g}" if r is not None else "ratio quantum/classical  unknown")
        out.append("crossover (n where the quantum side would win, same T, ε_θ, output):")
        for acc, x in self["crossover"].items():
            v = f"n* = {x['n_star']:.3g}" if x["n_star"] is not None else "none"
            out.append(f"  {acc:12s} {v}: {x['reason']}")
        if self.get("torch_window"):
            from qdsl.torch.plan import render_window
            out += render_window(self["torch_window"])
        out.append("assumptions:")
        out += [f"  - {a}" for a in self["assumptions"]]
        return "\n".join(out)

    def plot(self, path) -> None:
        """Quantum and classical runtime against n, one quantum curve per access model."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        curves = self["curves"]
        ns = curves["n"]
        ax.loglog(ns, curves["classical"], "k-", lw=2, label="classical (sparse GD)")
        for acc, ys in curves["quantum"].items():
            pts = [(n, y) for n, y in zip(ns, ys) if y]
            if pts:
                ax.loglog(*zip(*pts), "-o", ms=3, label=f"quantum ({acc})")
        for acc, x in self["crossover"].items():
            if x["n_star"]:
                ax.axvline(x["n_star"], ls=":", lw=1)
        ax.set_xlabel("parameters n")
        ax.set_ylabel("runtime (s)")
        ax.set_title(f"{self['model']}: {self['output']['kind']} of θ_T to {self['output']['precision']:g}, "
                     f"T = {self['sizes']['T']}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def _num(v) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"{v:,.0f}" if abs(v) < 1e6 else f"{v:.3e}"


def _rng(lo, hi) -> str:
    return f"{lo:.4g}" if lo == hi or hi is None else f"[{lo:.3g}, {hi:.3g}]"


def _dur(sec) -> str:
    if sec is None:
        return "—"
    for unit, k in (("years", 3.156e7), ("days", 86400), ("hours", 3600), ("s", 1)):
        if sec >= k:
            return f"{sec / k:.3g} {unit}"
    return f"{sec:.3g} s"


def _crossover_point(model, *, source, options, access, kw) -> dict:
    """One access model's crossover as a `qdsl.sweep` point, in whatever process runs it: the
    compilation rebuilt from its source text and options (deterministic: the same cost functions
    give the same figures), and the (n, quantum, classical runtime) pairs it evaluated."""
    from qdsl.api import Compilation

    from .endtoend import _sanitize

    seen: dict = {}
    r = crossover(Compilation(source, options), access=access, seen=seen, **kw)
    return _sanitize({"crossover": r, "seen": [[n, a, b] for n, (a, b) in sorted(seen.items())]})


def crossovers(c, accesses, kw: dict, *, executor=None, jobs=None) -> tuple[dict, dict]:
    """({access: crossover}, {access: {n: (quantum, classical runtime)}}) for every access model:
    one after another in this process, or — with an `executor` (a concurrent.futures.Executor or
    a `qdsl.sweep.executor_from` spec) or `jobs` > 1 — one `qdsl.sweep` point per access model on
    it (a compilation of a .qd source only; a system given in Python runs here). The records equal
    the serial ones (tests/test_sweep.py); a point that fails is rerun here, to raise its error."""
    from qdsl.api import Compilation
    from qdsl.sweep import sweep

    cross, seen = {}, {}
    parallel = executor is not None or (jobs is not None and int(jobs) > 1)
    if parallel and type(c) is Compilation:
        grid = [{"source": c.source, "options": c.options, "access": acc, "kw": kw} for acc in accesses]
        for rec in sweep(c.source.name, grid, what=_crossover_point, executor=executor, jobs=jobs):
            acc = rec["point"]["access"]
            if rec["ok"]:
                cross[acc] = rec["result"]["crossover"]
                seen[acc] = {int(n): (a, b) for n, a, b in rec["result"]["seen"]}
    for acc in accesses:
        if acc not in cross:
            seen[acc] = {}
            cross[acc] = crossover(c, access=acc, seen=seen[acc], **kw)
    return {acc: cross[acc] for acc in accesses}, {acc: seen[acc] for acc in accesses}


def plan(c, *, output: str = "all", precision: float = 1e-3, access: str = "qrom", params=None,
         steps=None, rate=None, bandwidth=None, measure: bool = False,
         physical: str = "builtin", download=None, network=None, window=None,
         spectrum=None, executor=None, jobs=None) -> PlanReport:
    r"""Is it worth it? The quantum end-to-end cost of `output` of θ_T to `precision` (under
    `access`) against classical training of the same model, their ratio, and the crossover n* per
    access model (module docstring). `params`/`steps` project; `rate`/`bandwidth` state the
    classical machine, `measure=True` measures it; `download`: θ read out and re-uploaded every
    that many steps. For a `qdsl.torch` extracted system, `network=(model, loss_fn, batch)` and
    `window=K` (default: the system's steps) add `torch_window`: the quantum cost of one training
    window between downloads (the steps are K) against K training steps of the network itself
    (FLOPs by torch's counter), beside the Eq. 7 proxy of that window (`spectrum`: a measured
    `Spectrum`, else an SLQ run here) — `qdsl.torch.plan`. `executor`/`jobs`: the crossover
    searches (one per access model) as `qdsl.sweep` points on that executor (`crossovers`).
    Returns a PlanReport (strict JSON)."""
    from qdsl.synthesis.projection import ACCESS_MODELS

    from .endtoend import _sanitize, end_to_end

    if access not in ACCESS_MODELS:
        from qdsl.diagnostics import CompileError, Diagnostic
        raise CompileError(Diagnostic("E0605", f"unknown access model `{access}`",
                                      help="use --access qrom, qroam, qram, qram-counted or qram-free"))
    system = c.system
    if window is not None or network is not None:
        from qdsl.diagnostics import CompileError, Diagnostic
        if network is None or "support" not in system.meta:
            raise CompileError(Diagnostic(
                "E0634", "a training window (`window=`, `network=`) is planned for a system extracted "
                         "from a PyTorch network, with that network",
                help="qdsl.plan(qdsl.torch.extract(model, loss_fn, (x, y), lr=…), network=(model, "
                     "loss_fn, (x, y)), window=K)"))
        K = int(window) if window is not None else int(system.dynamics.steps)
        if K < 1 or (window is not None and K != window) or steps is not None:
            raise CompileError(Diagnostic(
                "E0634", f"window must be a positive whole number of steps (not {window}), and it "
                         f"replaces steps=", help="e.g. window=10"))
        steps = None if K == int(system.dynamics.steps) else K
    n = int(params) if params is not None else int(system.n)
    T = int(steps) if steps is not None else int(system.dynamics.steps)
    q = end_to_end(c, output=output, precision=precision, params=params, steps=steps, access=access,
                   physical=physical, download=download)
    measured = measure_rate() if measure else None
    cl = classical_cost(c, params=n, steps=T, rate=rate, bandwidth=bandwidth, measured=measured)
    rt = _runtime(q)
    ratio = rt / cl["runtime_s"]
    if c.solver == "hhl":   # E0630: no projection of HHL, so no n at which to compare
        cross = {acc: {"n_star": None, "reason": (
            "not searched: HHL is costed at the compiled size only (E0630; `qdsl explain E0630`)"
            " — compile with --solver qsvt for the crossover")} for acc in ACCESS_MODELS}
        seen = {acc: ({n: (rt, cl["runtime_s"])} if acc == access else {}) for acc in ACCESS_MODELS}
    else:
        cross, seen = crossovers(c, ACCESS_MODELS, {
            "output": output, "precision": precision, "steps": T, "classical": cl,
            "idle": q["idle"], "download": download,
            "split": q["split"] if q["output"]["kind"] != "functional" else None},
            executor=executor, jobs=jobs)
    for acc in ACCESS_MODELS:
        cross[acc]["at"] = {"T": T, "precision": float(precision), "output": str(output),
                            "idle": q["idle"], "download": download}
    ns = sorted(set().union(*[set(v) for v in seen.values()]))
    curve = {"n": ns, "classical": [classical_cost(c, params=m, steps=T, rate=cl["rate"],
                                                   bandwidth=cl["bandwidth"])["runtime_s"] for m in ns],
             "quantum": {acc: [seen[acc].get(m, (None,))[0] for m in ns] for acc in ACCESS_MODELS}}
    assumptions = list(q["assumptions"]) + [
        f"classical: {cl['model']}; {cl['formula']}; machine {cl['rate_source']}",
        "quantum runtime: one surface-code machine (backends.physical), calls run one after another",
        "crossover: T, ε_θ, the output, the idle steps p and the error split fixed at the stated "
        "size; projections keep every F_ℓ's nonzeros per parameter, colours and entry maxima, "
        "ρ ≥ max‖M_t‖₂ and ‖y_0‖ of the compiled model" + (
            " (symmetric basis: the sparse-access circuit of M, no row of M fuller than the compiled "
            "M's fullest, M's colours, maxima and transfer norms kept — a premise a small model's "
            "boundary rows can miss: docs/resources.md)" if getattr(c, "basis", "") == "symmetric" else ""),
        "access models: qrom (as built, O(nnz) per lookup), qroam (select-swap, Berry et al. 2019), "
        "qram (bucket brigade, O(log n) per query; its memory as qubits, not in the runtime), "
        "qram-counted (qram, one Toffoli per memory cell and query), qram-free (qram, and the "
        "initial state free)"]
    body = {"model": c.model.name, "output": q["output"], "sizes": q["sizes"],
            "quantum": q, "classical": cl, "ratio": ratio, "crossover": cross,
            "curves": curve, "assumptions": assumptions}
    if network is not None:
        from qdsl.torch.plan import window_section
        body["torch_window"] = window_section(system, q, network, T, rate=cl["rate"], spectrum=spectrum)
        body["assumptions"] = assumptions + [
            f"torch window: {T} steps between downloads, θ read out in full at its end; the network's "
            "step counted by torch's FlopCounterMode (matrix products; elementwise operations not "
            "counted: a lower bound on the classical side) + 2 flops per weight (SGD)"]
    return PlanReport(_sanitize(body))
