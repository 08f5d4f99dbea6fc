"""For every example (and solver), the circuit qdsl builds: qubits, depth, gate counts, OpenQASM 3
size, compile seconds, simulate seconds (emitted file loaded back, exact statevector: dense numpy up
to 14 qubits, the sparse simulator above), fidelity.

    python benchmarks/circuits.py [EXAMPLE ...]      (default: every example under examples/)
    python benchmarks/circuits.py --clifford-t [EXAMPLE ...]
        compile to Clifford+T instead: seconds, T count (the t/tdg written), file size
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
    names = [a for a in args if a != "--clifford-t"] or sorted(p.stem for p in (ROOT / "examples").glob("*.qd"))
    (main_clifford_t if ct else main)(names)
