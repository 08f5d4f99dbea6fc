"""`qdsl run` on twenty generated models: the predicted seconds and memory of each simulation
beside the measured ones.

    nice .venv/bin/python benchmarks/run_prediction.py [--max-seconds S] [--only K ...]

The models (written as .qd files, deterministic) have 2–50 parameters, Carleman orders 1–3, gd,
sgd and flow training, QSVT and some HHL: a quadratic well with cubic/quartic terms and chain
couplings (so the gradient has the order's degree), sgd with a data term. Each runs as
``python -m qdsl run MODEL --json --max-seconds S`` in a fresh process; the table shows the
circuit's qubits, the simulator, the predicted and measured simulation seconds (processor
seconds: the JSON's ``simulation.prediction.seconds`` and ``simulation.seconds``), the
simulation's wall-clock seconds (longer on a machine shared with other work), the predicted
simulation memory and
the process's peak resident memory (interpreter, Qiskit and compilation included), and the
outcome: ``ok`` (finished within 2× its prediction), ``SLOW`` (finished, over 2×), ``refused``
(exit 3 before simulating: E0530/E0531 or a compile-time size limit, with the time it took).
The last lines give the median simulation time of the runs on 30–40 qubits. Nothing here is
wall-clock sensitive: predictions and budgets are in processor seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# (parameters, order, training, solver)
SPECS = [
    (2, 1, "gd", "qsvt"), (2, 2, "gd", "qsvt"), (2, 3, "gd", "qsvt"), (3, 2, "flow", "qsvt"),
    (4, 2, "gd", "qsvt"), (4, 2, "sgd", "qsvt"), (5, 1, "flow", "qsvt"), (6, 2, "gd", "qsvt"),
    (8, 2, "gd", "qsvt"), (10, 1, "gd", "qsvt"), (12, 2, "sgd", "qsvt"), (16, 1, "flow", "qsvt"),
    (20, 1, "gd", "qsvt"), (30, 1, "sgd", "qsvt"), (50, 1, "gd", "qsvt"), (3, 3, "gd", "qsvt"),
    (2, 2, "flow", "hhl"), (2, 1, "gd", "hhl"), (3, 2, "gd", "hhl"), (40, 2, "gd", "qsvt"),
]


def model(k: int, n: int, order: int, method: str, solver: str) -> str:
    """The k-th generated model: n parameters, Carleman order `order`."""
    rng = np.random.default_rng(k)
    w0 = ", ".join(f"{v:.3f}" for v in 0.2 * rng.uniform(-1, 1, n))
    c2, c3, c4, k2 = (round(float(v), 3) for v in rng.uniform([0.4, 0.05, 0.02, 0.1], [0.6, 0.15, 0.08, 0.3]))
    terms = [f"sum(i in 0..{n}: {c2}*w[i]^2)"]
    if order >= 2:
        terms.append(f"sum(i in 0..{n}: {c3}*w[i]^3)")
    if order >= 3:
        terms.append(f"sum(i in 0..{n}: {c4}*w[i]^4)")
    terms.append(f"sum(i in 0..{n - 1}: {k2}*(w[i] - w[i+1])^2)")
    lines = [f"model gen{k} {{", f"    param w[{n}] = [{w0}]"]
    if method == "sgd":
        lines.append("    data x[4] = [0.5, 1.0, -0.6, 0.8]")
        terms.append("mean(j in 0..4: (w[0]*x[j] - 0.3)^2)")
        evolve = "evolve sgd(lr = 0.2, steps = 3, batch = 2, seed = 1)"
    elif method == "flow":
        evolve = "evolve flow(time = 0.3, dt = 0.1)"
    else:
        evolve = "evolve gd(lr = 0.2, steps = 3)"
    lines += ["    loss = " + " + ".join(terms), f"    {evolve}",
              f"    carleman order {order}" + (" basis symmetric" if n > 3 and order > 1 else ""),
              f"    solver {solver}(eps = 1e-3)", "}"]
    return "\n".join(lines) + "\n"


def run_one(path: Path, max_seconds: float, timeout: float):
    """(exit status, parsed JSON or None, stderr, wall seconds, peak RSS bytes) of one run."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "qdsl", "run", str(path), "--json",
                             "--max-seconds", str(max_seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, QDSL_PROGRESS="0"))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t
    peak = _peak.pop(proc.pid, 0)
    doc = None
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        pass
    return proc.returncode, doc, err, wall, peak


_peak: dict = {}


def _reap_hook():
    """Record each child's own peak RSS (os.wait4), which subprocess would otherwise discard."""
    orig = subprocess.Popen._try_wait

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return orig(self, wait_flags)
        if pid == self.pid:
            _peak[pid] = ru.ru_maxrss * 1024
        return pid, sts

    subprocess.Popen._try_wait = _try_wait


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-seconds", type=float, default=300.0,
                    help="each run's budget, processor seconds (default 300, as `qdsl run`)")
    ap.add_argument("--timeout", type=float, default=900.0, help="kill a run after this long (a failure)")
    ap.add_argument("--only", type=int, nargs="*", help="run only these model numbers")
    args = ap.parse_args(argv)
    _reap_hook()
    print(f"{'#':>2} {'model':<22} {'qubits':>6} {'sim':<6} {'pred s':>8} {'meas s':>8} {'wall s':>7} "
          f"{'pred MiB':>8} {'peak MiB':>8}  outcome", flush=True)
    wide, failures = [], 0
    with tempfile.TemporaryDirectory() as d:
        for k, (n, order, method, solver) in enumerate(SPECS):
            if args.only and k not in args.only:
                continue
            path = Path(d) / f"gen{k}.qd"
            path.write_text(model(k, n, order, method, solver))
            name = f"n={n} N={order} {method} {solver}"
            code, doc, err, wall, peak = run_one(path, args.max_seconds, args.timeout)
            sim = (doc or {}).get("simulation") or {}
            pred = sim.get("prediction") or {}
            qubits = (doc or {}).get("circuit", {}).get("num_qubits", "")
            ps, ms = pred.get("seconds"), sim.get("seconds")
            pm = pred.get("memory_bytes")
            if code in (0, 1) and ms is not None:
                outcome = "ok" if ms <= 2 * ps else "SLOW"
                failures += outcome != "ok"
                if isinstance(qubits, int) and 30 <= qubits <= 40:
                    wide.append(ms)
            elif code == 3:
                codes = sorted({ln.split("[")[1].split("]")[0] for ln in err.splitlines() if ln.startswith("error[")})
                outcome = f"refused {','.join(codes)} after {wall:.1f} s"
                m = re.search(r"predicted to take ([\d.]+ \w+)", err)
                if m:
                    outcome += f" (predicted {m.group(1)})"
            else:
                outcome = f"FAILED exit {code}: {err.strip().splitlines()[-1] if err.strip() else 'killed'}"
                failures += 1
            fmt = lambda v, f: format(v, f) if isinstance(v, (int, float)) else "–"  # noqa: E731
            print(f"{k:>2} {name:<22} {qubits!s:>6} {pred.get('simulator', '–'):<6} {fmt(ps, '8.1f')} "
                  f"{fmt(ms, '8.1f')} {fmt(sim.get('wall_seconds'), '7.1f')} "
                  f"{fmt(pm and pm / 2 ** 20, '8.0f')} {peak / 2 ** 20:8.0f}  {outcome}", flush=True)
    if wide:
        print(f"runs on 30–40 qubits: {len(wide)}, median simulation {statistics.median(wide):.1f} s")
    print(f"runs over 2× their prediction or failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
