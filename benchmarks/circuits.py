"""For every example (and solver), the circuit qdsl builds: qubits, depth, gate counts, OpenQASM 3
size, compile seconds, simulate seconds (emitted file loaded back, exact statevector: dense numpy up
to 14 qubits, the sparse simulator above), fidelity.

    python benchmarks/circuits.py [EXAMPLE ...]      (default: every example under examples/)
    python benchmarks/circuits.py --clifford-t [EXAMPLE ...]
        compile to Clifford+T instead: seconds, T count (the t/tdg written), file size
    python benchmarks/circuits.py --t-states [EXAMPLE ...]
        T states of the emitted file (t + tdg + 4 per Toffoli + gridsynth T per rotation at the
        model's eps, backends/resources.py's rule) beside BEFORE — the same figure before issue 15
        (commit bc87936) — with α_L, the QSVT degree, and `run`'s verdict on the emitted file;
        for QSVT also the T states with measured uncomputation (And†, 4 T per And) and how much
        larger that file would be (its blocks written at each call: the reason qdsl does not emit
        it, qdsl/synthesis/qsvt.py INLINE_FACTOR)
"""
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # as the CLI does
    os.environ.setdefault(_var, "1")

from pathlib import Path

import qdsl
from qdsl.diagnostics import CompileError

ROOT = Path(__file__).parents[1]
SET = {"tanh_unit": {"eta": 0.5}}
HHL_TOO = {"ridge", "cubic_decay"}


def row(name, solver):
    t0 = time.perf_counter()
    c = qdsl.compile(ROOT / "examples" / f"{name}.qd", values=SET.get(name), solver=solver)
    c.program
    qasm = c.qasm
    t1 = time.perf_counter()
    rep = c.report
    r = c.run()
    t2 = time.perf_counter()
    counts = rep["circuit"]["counts"]
    return (f"{name:<16} {solver:<5} {rep['circuit']['num_qubits']:>6} {rep['circuit']['depth']:>8} "
            f"{counts.get('cx', 0):>8} {sum(counts.values()):>9} {len(qasm.encode()) / 1e3:>9.0f} "
            f"{t1 - t0:>9.1f} {t2 - t1:>9.1f} {r.sim.fidelity:>10.6f}")


def clifford_t_row(name, solver):
    t0 = time.perf_counter()
    c = qdsl.compile(ROOT / "examples" / f"{name}.qd", values=SET.get(name), solver=solver,
                     gate_basis="clifford+t")
    qasm = c.qasm
    t1 = time.perf_counter()
    em = c.emitted
    return (f"{name:<16} {solver:<5} {em.num_qubits:>6} {em.t_count:>12,} {em.rotations:>9,} "
            f"{len(qasm.encode()) / 1e6:>8.2f} {t1 - t0:>9.1f}")


def main_clifford_t(names):
    print(f"{'example':<16} {'solver':<5} {'qubits':>6} {'T count':>12} {'rotations':>9} {'MB':>8} "
          f"{'compile s':>9}", flush=True)
    for name in names:
        for solver in ["qsvt"] + (["hhl"] if name in HHL_TOO else []):
            try:
                print(clifford_t_row(name, solver), flush=True)
            except CompileError as e:
                print(f"{name:<16} {solver:<5} refused: {e.diagnostics[0].code} {e.diagnostics[0].message}")


#: (T states, α_L, QSVT degree) of each example's QSVT circuit before issue 15 (commit bc87936,
#: measured with this script's --t-states on that commit), the figures the new ones stand beside
BEFORE: dict = {
    ('chain', 'qsvt'): (1036621, 3.76, 99),
    ('cubic_decay', 'qsvt'): (40512, 2.08, 47),
    ('cubic_decay', 'hhl'): (2854534468, 2.0, None),
    ('flow_cubic', 'qsvt'): (89383, 2.27, 69),
    ('gd_cubic', 'qsvt'): (74264, 2.149, 63),
    ('logistic_flow', 'qsvt'): (345456, 2.49, 233),
    ('quartic', 'qsvt'): (226100, 2.142, 99),
    ('regression_file', 'qsvt'): (315059, 3.37, 121),
    ('ridge', 'qsvt'): (437652, 3.308, 125),
    ('ridge', 'hhl'): (5878075942, 2.161, None),
    ('saddle', 'qsvt'): (2604939, 10.702, 901),
    ('sgd_cubic', 'qsvt'): (283357, 3.26, 81),
    ('tanh_unit', 'qsvt'): (2586958, 6.647, 583),
    ('unstable_flow', 'qsvt'): (418910, 2.37, 155),
}


def t_states_row(name, solver):
    from qdsl.backends.resources import _model_eps, t_states

    t0 = time.perf_counter()
    c = qdsl.compile(ROOT / "examples" / f"{name}.qd", values=SET.get(name), solver=solver)
    em = c.emitted
    eps = _model_eps(c)
    t, t_rot = t_states(em.counts, em.rotations, eps)
    meta = c.program.meta
    alpha = (meta.get("block_encoding") or {}).get("subnormalization")
    deg = meta.get("degree")
    measured = ""
    u = (meta.get("block_encoding") or {}).get("uncomputation") or {}
    if solver == "qsvt" and "file_instructions_measured" in u:
        import qdsl.synthesis.qsvt as Q
        keep, Q.INLINE_FACTOR = Q.INLINE_FACTOR, float("inf")
        try:   # the same circuit with And / And† (not emitted: its cost record is its gate count)
            cm = qdsl.compile(ROOT / "examples" / f"{name}.qd", values=SET.get(name), solver=solver)
            tm, _ = t_states(cm.program.cost.to_dict(), em.rotations, eps)
        finally:
            Q.INLINE_FACTOR = keep
        measured = (f"{tm:>12,} "
                    f"{u['file_instructions_measured'] / u['file_instructions_toffoli']:>6.1f}×")
    t1 = time.perf_counter()
    r = c.run()
    verdict = "verified" if r.verified else "NOT verified"
    b = BEFORE.get((name, solver))
    before = (f"{b[0]:>12,} {b[0] / t:>6.2f}× {b[1]:>8.3f} {b[2]!s:>7}" if b else f"{'—':>12} {'':>7} {'—':>8} {'—':>7}")
    return (f"{name:<16} {solver:<5} {em.num_qubits:>6} {em.counts.get('ccx', 0):>10,} {em.rotations:>9,} "
            f"{t:>12,} {before}  {alpha if alpha is None else round(alpha, 3)!s:>8} {deg!s:>7} "
            f"{t1 - t0:>8.1f} {time.perf_counter() - t1:>7.1f}  {verdict}  {measured}")


def main_t_states(names):
    print(f"{'example':<16} {'solver':<5} {'qubits':>6} {'Toffolis':>10} {'rotations':>9} "
          f"{'T states':>12} {'before':>12} {'gain':>7} {'α_L old':>8} {'deg old':>7}  {'α_L':>8} "
          f"{'degree':>7} {'compile':>8} {'run s':>7}  run       {'T if And†':>12} {'file':>7}",
          flush=True)
    for name in names:
        for solver in ["qsvt"] + (["hhl"] if name in HHL_TOO else []):
            try:
                print(t_states_row(name, solver), flush=True)
            except CompileError as e:
                print(f"{name:<16} {solver:<5} refused: {e.diagnostics[0].code} {e.diagnostics[0].message}")


def main(names):
    print(f"{'example':<16} {'solver':<5} {'qubits':>6} {'depth':>8} {'cx':>8} {'gates':>9} {'qasm kB':>9} "
          f"{'compile s':>9} {'sim s':>9} {'fidelity':>10}", flush=True)
    for name in names:
        solvers = ["qsvt"] + (["hhl"] if name in HHL_TOO else [])
        for solver in solvers:
            try:
                print(row(name, solver), flush=True)
            except CompileError as e:
                print(f"{name:<16} {solver:<5} refused: {e.diagnostics[0].code} {e.diagnostics[0].message}")


if __name__ == "__main__":
    args = sys.argv[1:]
    ct = "--clifford-t" in args
    ts = "--t-states" in args
    names = [a for a in args if not a.startswith("--")] or sorted(p.stem for p in (ROOT / "examples").glob("*.qd"))
    (main_clifford_t if ct else main_t_states if ts else main)(names)
