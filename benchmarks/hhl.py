"""HHL (walk variant) on the HHL examples: clock, κ̂ = α‖L⁻¹‖, the promised error bound, qubits,
gate counts, walk steps, synthesis / emission / simulation seconds, and the measured error of the
post-selected state against scipy's solve.

    python benchmarks/hhl.py [EXAMPLE[:CLOCK] ...]     (default: cubic_decay ridge ridge:10)
"""
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # as the CLI does
    os.environ.setdefault(_var, "1")

from pathlib import Path

import numpy as np
import scipy.linalg as sla

import qdsl
from qdsl.backends.qiskit_sim import simulate

ROOT = Path(__file__).parents[1]


def row(spec):
    name, _, clock = spec.partition(":")
    t0 = time.perf_counter()
    c = qdsl.compile(ROOT / "examples" / f"{name}.qd", solver="hhl", clock=int(clock) if clock else None)
    prog = c.program
    t1 = time.perf_counter()
    qasm = c.qasm
    t2 = time.perf_counter()
    r = simulate(prog)
    t3 = time.perf_counter()
    ls = c.linear_system
    ref = np.zeros(2 ** len(prog.system_qubits))
    ref[prog.solution_map] = sla.solve(ls.matrix.toarray(), ls.rhs)
    err = np.linalg.norm(r.postselected_state - ref / np.linalg.norm(ref))
    m, k = prog.meta, prog.declared
    return (f"{spec:<14} {m['clock']:>5} {m['kappa_hat']:>6.2f} {m['solution_error_bound']:>9.2e} {err:>9.2e} "
            f"{r.trajectory_error:>8.2e} {r.success_probability:>6.4f} {prog.num_qubits:>6} {m['walk_steps']:>6} "
            f"{k.get('cx', 0):>10} {sum(k.values()):>11} {len(qasm) / 1e3:>7.0f} {t1 - t0:>6.1f} {t2 - t1:>6.1f} "
            f"{t3 - t2:>6.1f}")


def main(specs):
    print(f"{'example':<14} {'clock':>5} {'κ̂':>6} {'bound':>9} {'error':>9} {'traj':>8} {'p':>6} "
          f"{'qubits':>6} {'steps':>6} {'cx':>10} {'gates':>11} {'qasm kB':>7} {'synth':>6} {'emit':>6} "
          f"{'sim s':>6}", flush=True)
    for spec in specs:
        print(row(spec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["cubic_decay", "ridge", "ridge:10"])
