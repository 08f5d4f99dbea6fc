"""Time `qdsl check` on a chain-coupled quartic model with param w[N] written with sum(...).

    python benchmarks/check_scale.py [N ...]      (default: 2000 5000, the README's sizes)

Prints the time of each stage (parse+check, derivation of F_ℓ, certificate) — the target is under
10 s for N = 2000 on a 2-core machine. The parse column also times the (cached) Lark parser.
"""
import sys
import time

import numpy as np

import qdsl


def source(n: int) -> str:
    init = ", ".join(f"{v:.3f}" for v in np.random.default_rng(0).uniform(-0.1, 0.1, n))
    return f"""model chain{n} {{
    param w[{n}] = [{init}]
    loss = sum(i in 0..{n - 1}: 0.25*(w[i] - w[i+1])^4 + 0.1*w[i]*w[i+1]) + sum(i in 0..{n}: 0.5*w[i]^2)
    evolve gd(lr = 0.1, steps = 10)
    carleman order 2
}}
"""


def main(sizes):
    print(f"{'n':>6} {'parse+check s':>14} {'derive s':>9} {'certificate s':>14} {'total s':>8}  nnz(F_3)")
    for n in sizes:
        t0 = time.perf_counter()
        c = qdsl.compile(source=source(n))
        t1 = time.perf_counter()
        system = c.system
        t2 = time.perf_counter()
        cert = c.certificate
        t3 = time.perf_counter()
        print(f"{n:>6} {t1 - t0:>14.2f} {t2 - t1:>9.2f} {t3 - t2:>14.2f} {t3 - t0:>8.2f}  {system.F[3].nnz}"
              f"   dissipative={cert.dissipative}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2000, 5000])
