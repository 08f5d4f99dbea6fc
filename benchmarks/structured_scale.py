"""Compile order-2 gd models of n = 10 … 200 weights to structured QSVT circuits: qubits, QSVT
degree, gate counts, OpenQASM 3 size and seconds (and the dense path where it still runs).

The model (written as a .qd file with its random sparse data in .npy files, as a user would): a
banded regression with random coefficients, an L2 penalty and random cubic couplings
d_i·w_i·w_{i+1}², so the update has F_0, F_1 (banded) and F_2 (sparse) from data:

    loss = mean(i: (a_i w_i + b_i w_{i+1} − y_i)²) + 0.05·Σ w_i² + Σ d_i w_i w_{i+1}²

    python benchmarks/structured_scale.py [n ...]        (default: 10 20 50 100 200)
    python benchmarks/structured_scale.py --steps 32 100 (T; default 8 for n ≤ 20, 32 above)
    python benchmarks/structured_scale.py --jobs 2 [n ...] (rows as qdsl.sweep points on 2 workers)
    python benchmarks/structured_scale.py --alpha [n ...] (default: 10 20)
        α_L of the structured encoding beside ‖L‖ at Carleman orders 2–5, and α_L as the builder
        before issue 15 made it (every F_ℓ by sparse access with the plain König colouring), for
        the model above and a dense 20-weight least-squares model (features with a shared
        factor: XᵀX dense); ‖L‖ by ARPACK where L is assembled within the size guards, else —.
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


def measure(model, construction: str = "structured") -> dict:
    """One row as a `qdsl.sweep` point (run by whichever process the executor gives it): compile
    `model` with `construction`; the circuit's figures and the seconds to build and emit it, or
    the refusal."""
    path = Path(model)
    t0 = time.perf_counter()
    try:
        c = qdsl.compile(path, block_encoding=construction)
        prog = c.program
        t1 = time.perf_counter()
        text = c.qasm
        t2 = time.perf_counter()
    except CompileError as e:
        return {"refused": e.diagnostics[0].code, "message": e.diagnostics[0].message}
    cost = prog.cost
    counts = c.emitted.counts
    return {"n": c.system.n, "T": c.system.dynamics.steps, "qubits": prog.num_qubits,
            "degree": prog.meta["degree"], "toffolis": counts.get("ccx", 0),
            "rotations": counts.get("ry", 0) + counts.get("rz", 0), "gates": sum(counts.values()),
            "qasm_bytes": len(text.encode()), "kappa_prime": prog.meta["kappa_prime"],
            "kappa_source": prog.meta["inverse_norm_source"].split(" (")[0],
            "cost_matches": cost is None or cost == counts, "build_s": t1 - t0, "emit_s": t2 - t1}


def format_row(construction: str, r: dict) -> str:
    if "refused" in r:
        return f"{construction:<11} refused: {r['refused']} {r['message'][:70]}"
    return (f"{construction:<11} {r['qubits']:>6} {r['degree']:>6} {r['toffolis']:>11,} {r['rotations']:>11,} "
            f"{r['gates']:>12,} {r['qasm_bytes'] / 1e6:>8.2f} {r['build_s']:>8.1f} {r['emit_s']:>7.1f}"
            f"   κ′ {r['kappa_prime']:.3g} ({r['kappa_source']})" + ("" if r["cost_matches"] else "  COST MISMATCH"))


LEAST_SQUARES = """model lsq{n} {{
    param w[{n}] = load("w0.npy")
    data X = load("X.npy")
    data y = load("y.npy")
    loss = mean(k in 0..{m}: (sum(j in 0..{n}: X[k, j]*w[j]) - y[k])^2) + 0.1*sum(j in 0..{n}: w[j]^2)
    evolve gd(lr = {lr:.6f}, steps = {T})
    carleman order 2
    solver qsvt(eps = 1e-3)
}}
"""


def write_least_squares(folder: Path, n: int = 20, T: int = 4, seed: int = 1) -> Path:
    """Dense least squares: m = 3n samples whose features share a common factor (XᵀX dense),
    ridge 0.1, lr = 1.8/(λ_max + λ_min) of the Hessian (‖I + F₁‖ < 1)."""
    m = 3 * n
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) + 0.7 * rng.standard_normal((m, 1))
    y = X @ rng.standard_normal(n) + 0.1 * rng.standard_normal(m)
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    np.save(folder / "w0.npy", 0.1 * rng.standard_normal(n))
    ev = np.linalg.eigvalsh(2 * X.T @ X / m + 0.2 * np.eye(n))
    path = folder / f"lsq{n}.qd"
    path.write_text(LEAST_SQUARES.format(n=n, m=m, T=T, lr=1.8 / (ev[-1] + ev[0])))
    return path


def _legacy_access_block(mats, row_codes_fn, col_codes_fn, col_width, row_width, class_width, square,
                         dense=True):
    """The encoding choice before issue 15: diagonal access or sparse access, plain colouring."""
    from qdsl.synthesis.blocks.diagonal import DiagonalAccess
    from qdsl.synthesis.blocks.sparse_access import SparseAccess
    from qdsl.synthesis.structured import _union
    rows, cols, vals = _union(mats)
    rc, cc = row_codes_fn(rows), col_codes_fn(cols)
    if square and np.all(rc == cc):
        return DiagonalAccess(cc, vals, width=col_width, class_width=class_width)
    return SparseAccess(rc, cc, vals, col_width=col_width, row_width=row_width, class_width=class_width)


#: ‖L‖ is computed (assembly + ARPACK) only where (T+1)·max(D, ~nnz(M)) stays below this: order 5
#: at n = 10 (D = 111,111) took minutes
NORM_LIMIT = 2_000_000


def alpha_row(path: Path, order: int) -> str:
    """α_L (now and before) from the factors alone, ‖L‖ where L can be assembled."""
    from unittest import mock

    import scipy.sparse.linalg as sla

    from qdsl.synthesis import structured as st
    from qdsl.synthesis.structured import bits_for, time_classes, transfer_factors

    c = qdsl.compile(path, order=order)
    system = c.system
    T = system.dynamics.steps
    classes, _ = time_classes(system, T)
    q = max(1, bits_for(system.n + 1))
    cw = bits_for(len(classes))

    def alpha_L():
        factors = transfer_factors(system, order, q, classes, cw)
        return 1.0 + float(np.prod([f.alpha for f in factors])), factors

    t0 = time.perf_counter()
    now, factors = alpha_L()
    kinds = sorted({e for f in factors for t in f.terms if hasattr(t, "block")
                    for e in [st.encoding_kind(t.block)]})
    with mock.patch.object(st, "_access_block", _legacy_access_block):
        before, _ = alpha_L()
    D = sum(system.n ** j for j in range(order + 1))
    nnz_M = sum(system.F[1].nnz ** j + system.n ** j for j in range(order + 1)) if len(system.F) > 1 else D
    if (T + 1) * max(D, nnz_M) <= NORM_LIMIT:
        L = c.linear_system.matrix
        norm = f"{float(sla.svds(L, k=1, return_singular_vectors=False)[0]):8.3f}"
    else:
        norm = f"{'—':>8}"
    return (f"{order:>5} {norm} {now:>9.3f} {before:>9.3f} {before / now:>7.2f}×   "
            f"{', '.join(kinds)}  ({time.perf_counter() - t0:.1f} s)")


def main_alpha(ns, steps):
    print(f"{'model':<22} {'order':>5} {'‖L‖':>8} {'α_L':>9} {'α_L old':>9} {'gain':>8}   encodings",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in ns:
            folder = Path(tmp) / f"scale{n}"
            folder.mkdir()
            path = write_model(folder, n, steps or 4)
            for order in (2, 3, 4, 5):
                print(f"{f'scale n={n}':<22} " + alpha_row(path, order), flush=True)
        folder = Path(tmp) / "lsq"
        folder.mkdir()
        path = write_least_squares(folder, 20, steps or 4)
        for order in (2, 3):
            print(f"{'least squares n=20':<22} " + alpha_row(path, order), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="*", type=int, default=None)
    ap.add_argument("--steps", type=int, help="T (default 8 for n ≤ 20, 32 above; --alpha: 4)")
    ap.add_argument("--dense", action="store_true", help="also try the dense path")
    ap.add_argument("--alpha", action="store_true", help="α_L beside ‖L‖ at orders 2–5")
    ap.add_argument("--jobs", type=int, default=1,
                    help="rows in parallel (qdsl.sweep on joblib's loky pool; default 1: one after another)")
    a = ap.parse_args(argv)
    if a.alpha:
        return main_alpha(a.n or [10, 20], a.steps)
    a.n = a.n or [10, 20, 50, 100, 200]
    print(f"{'n':>5} {'T':>4} {'D':>7} {'path':<11} {'qubits':>6} {'degree':>6} {'Toffolis':>11} "
          f"{'rotations':>11} {'gates':>12} {'QASM MB':>8} {'build s':>8} {'emit s':>7}", flush=True)
    constructions = ["structured"] + (["dense"] if a.dense else [])
    with tempfile.TemporaryDirectory() as tmp:
        paths, sizes = [], []
        for n in a.n:
            T = a.steps or (8 if n <= 20 else 32)
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            paths.append(write_model(folder, n, T))
            sizes.append((n, T))
        # every (n, construction) row is independent: one sweep over all of them (qdsl.sweep, on
        # joblib's loky pool with --jobs N; the seconds then share the machine's cores)
        recs = qdsl.sweep(paths, [{"construction": k} for k in constructions], what=measure, jobs=a.jobs)
    for i, rec in enumerate(recs):
        n, T = sizes[i // len(constructions)]
        construction = rec["point"]["construction"]
        row = format_row(construction, rec["result"]) if rec["ok"] else \
            f"{construction:<11} failed: {rec['error']['code']} {rec['error']['message'][:70]}"
        print(f"{n:>5} {T:>4} {1 + n + n * n:>7} " + row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
