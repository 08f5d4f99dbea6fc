"""Carleman assembly benchmark: dimension, nonzeros and build time.

    .venv/bin/python benchmarks/carleman_assembly.py [--quick]

The headline case: n = 16, N = 5, continuous, Kronecker basis, random sparse F0, F1 (≈20 % filled),
F2 (≈5 % filled): dimension 1,118,481, ≈ 20M nonzeros. Then larger symmetric-basis cases
(n = 30…50, N = 4–5), to show the time is linear in the number of nonzeros. (No other library is
timed here: pyLIQTR, the reference implementation the project compared against, pins numpy 1.26
and cannot share this environment.)
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import scipy.sparse as sp

from qdsl.lowering.carleman import carleman
from qdsl.semantics.system import PolynomialSystem


def random_system(n, kind="flow", densities=(0.2, 0.2, 0.05), seed=0):
    rng = np.random.default_rng(seed)
    F = [sp.random(n, n ** l, density=d, random_state=rng, format="csr",
                   data_rvs=lambda k: rng.normal(size=k) * 0.1)
         for l, d in enumerate(densities)]
    return PolynomialSystem.from_tensors(F, x0=rng.normal(size=n) * 0.1, kind=kind, dt=0.01, steps=10)


def bench(n, N, basis, kind="flow", densities=(0.2, 0.2, 0.05), repeat=3):
    s = random_system(n, kind, densities)
    best = float("inf")
    car = None
    for _ in range(repeat):
        car = None
        t = time.perf_counter()
        car = carleman(s, N, basis)
        best = min(best, time.perf_counter() - t)
    nnz = car.matrix.nnz
    mb = (car.matrix.data.nbytes + car.matrix.indices.nbytes + car.matrix.indptr.nbytes) / 2 ** 20
    print(f"{kind:5s} {basis:10s} n={n:<4d} N={N}  dim={car.dim:>11,d}  nnz={nnz:>12,d}  "
          f"{best:7.3f} s  {1e9 * best / nnz:6.1f} ns/nnz  matrix {mb:7.1f} MiB", flush=True)
    return car.dim, nnz, best


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the headline case")
    args = ap.parse_args(argv)
    print("headline (target < 0.9 s on 2 cores):")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 10
    dim, nnz, _ = bench(16, 5, "kronecker", repeat=5)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 10
    print(f"  peak RSS {peak:.0f} MiB (before: {base:.0f} MiB); M and A share one index array")
    if args.quick:
        return
    print("\nsymmetric basis, growing size (time should be linear in nnz):")
    for n, N in [(30, 4), (40, 4), (50, 4), (24, 5), (30, 5)]:
        bench(n, N, "symmetric", densities=(0.2, 0.2, 0.05), repeat=1)
    print("\ndiscrete (gd), kronecker and symmetric:")
    bench(8, 4, "kronecker", kind="gd", densities=(0.2, 0.2, 0.05), repeat=1)
    bench(20, 4, "symmetric", kind="gd", densities=(0.2, 0.2, 0.05), repeat=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 10
    print(f"\npeak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
