"""Compile order-2 gd models of n = 10 … 200 weights to structured QSVT circuits: qubits, QSVT
degree, gate counts, OpenQASM 3 size and seconds (and the dense path where it still runs).

The model (written as a .qd file with its random sparse data in .npy files, as a user would): a
banded regression with random coefficients, an L2 penalty and random cubic couplings
d_i·w_i·w_{i+1}², so the update has F_0, F_1 (banded) and F_2 (sparse) from data:

    loss = mean(i: (a_i w_i + b_i w_{i+1} − y_i)²) + 0.05·Σ w_i² + Σ d_i w_i w_{i+1}²

    python benchmarks/structured_scale.py [n ...]        (default: 10 20 50 100 200)
    python benchmarks/structured_scale.py --steps 32 100 (T; default 8 for n ≤ 20, 32 above)
"""
import argparse
import os
import sys
import tempfile
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # as the CLI does
    os.environ.setdefault(_var, "1")

from pathlib import Path

import numpy as np

import qdsl
from qdsl.diagnostics import CompileError

MODEL = """model scale{n} {{
    param w[{n}] = load("w0.npy")
    data a[{n}] = load("a.npy")
    data b[{n}] = load("b.npy")
    data y[{n}] = load("y.npy")
    data d[{n}] = load("d.npy")
    loss = mean(i in 0..{m}: (a[i]*w[i] + b[i]*w[i+1] - y[i])^2) + 0.05*sum(i in 0..{n}: w[i]^2) + sum(i in 0..{m}: d[i]*w[i]*w[i+1]^2)
    evolve gd(lr = 0.2, steps = {T})
    carleman order 2
    solver qsvt(eps = 1e-3)
}}
"""


def write_model(folder: Path, n: int, T: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    sparse = lambda scale: np.where(rng.random(n) < 0.5, scale * rng.standard_normal(n), 0.0)  # noqa: E731
    np.save(folder / "a.npy", 1.0 + 0.3 * rng.standard_normal(n))
    np.save(folder / "b.npy", sparse(0.5))
    np.save(folder / "y.npy", rng.standard_normal(n))
    np.save(folder / "d.npy", sparse(0.1))
    np.save(folder / "w0.npy", 0.1 * rng.standard_normal(n))
    path = folder / f"scale{n}.qd"
    path.write_text(MODEL.format(n=n, m=n - 1, T=T))
    return path


def measure(path: Path, construction: str) -> str:
    t0 = time.perf_counter()
    try:
        c = qdsl.compile(path, block_encoding=construction)
        prog = c.program
        t1 = time.perf_counter()
        text = c.qasm
        t2 = time.perf_counter()
    except CompileError as e:
        return f"{construction:<11} refused: {e.diagnostics[0].code} {e.diagnostics[0].message[:70]}"
    cost = prog.cost
    counts = c.emitted.counts
    return (f"{construction:<11} {prog.num_qubits:>6} {prog.meta['degree']:>6} "
            f"{counts.get('ccx', 0):>11,} {counts.get('ry', 0) + counts.get('rz', 0):>11,} "
            f"{sum(counts.values()):>12,} {len(text.encode()) / 1e6:>8.2f} {t1 - t0:>8.1f} {t2 - t1:>7.1f}"
            f"   κ′ {prog.meta['kappa_prime']:.3g} ({prog.meta['inverse_norm_source'].split(' (')[0]})"
            + ("" if cost is None or cost == counts else "  COST MISMATCH"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="*", type=int, default=[10, 20, 50, 100, 200])
    ap.add_argument("--steps", type=int, help="T (default 8 for n ≤ 20, 32 above)")
    ap.add_argument("--dense", action="store_true", help="also try the dense path")
    a = ap.parse_args(argv)
    print(f"{'n':>5} {'T':>4} {'D':>7} {'path':<11} {'qubits':>6} {'degree':>6} {'Toffolis':>11} "
          f"{'rotations':>11} {'gates':>12} {'QASM MB':>8} {'build s':>8} {'emit s':>7}", flush=True)
    for n in a.n:
        T = a.steps or (8 if n <= 20 else 32)
        with tempfile.TemporaryDirectory() as tmp:
            path = write_model(Path(tmp), n, T)
            for construction in ["structured"] + (["dense"] if a.dense else []):
                print(f"{n:>5} {T:>4} {1 + n + n * n:>7} " + measure(path, construction), flush=True)


if __name__ == "__main__":
    sys.exit(main())
