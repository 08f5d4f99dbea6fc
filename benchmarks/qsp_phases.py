"""QSP phase factors of the 1/x polynomial up to degree 10^5: time, peak memory, max error.

    .venv/bin/python benchmarks/qsp_phases.py [--points 10000] [--ref-max-degree 2000]
                                              [--nlft-ref-max-degree 20000] [--no-refs]

For κ′ = 10, 100, 1000, 10^4 at δ = 2.5e-4 (QSVT's eps = 1e-3), and for the forced degrees 10^4+1
and 10^5+1 (κ′ = 10^4), each row prints:

* `poly s`  — `inverse_polynomial` (closed form at the Chebyshev nodes, one DCT, DCT sup norm),
* `phases s` — `qsp_phases` (Weiss + inverse nonlinear FFT, with its forward-NLFT self-check),
* `peak MiB` — tracemalloc's peak over both (numpy registers its buffers with tracemalloc; measured
  in a second run so the timings carry no tracing overhead),
* `max err` — max |Re U(x, Ψ)_00 − P(x)| over `--points` Chebyshev nodes x_l = cos(π(l+½)/G), the
  response from the phases by the forward NLFT (O(d log² d)) and P from its coefficients (DCT),
* `prod err` — the same on 200 of those nodes by the sequential product of the d SU(2) matrices
  (`qsp_response`, independent of the NLFT code),
* `tol` — `qsp.response_tolerance(d)` = 32·(d+1)·u.

Beside it, where installed (`pip install 'qdsl-compiler[qsp-ref]'`): qsppack's NLFT (up to
`--nlft-ref-max-degree`) and Newton, and pyqsp's symmetric-QSP Newton (up to `--ref-max-degree`:
both are O(d³) in time), each timed on the same polynomial with its own error on the same nodes.
Timings are wall-clock on whatever machine runs this; on a shared machine they are inflated by
other load.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time
import tracemalloc

import numpy as np

from qdsl.synthesis import qsp

CASES = [(10.0, None), (100.0, None), (1000.0, None), (10000.0, None), (10000.0, 10001),
         (10000.0, 100001)]
DELTA = 2.5e-4


def max_error(phases, coeffs, G: int) -> tuple[float, float]:
    """(max error on G Chebyshev nodes by the forward NLFT, max error on 200 of them by the product)."""
    re, _ = qsp.qsp_chebyshev(phases)
    err = float(np.max(np.abs(qsp.chebyshev_at_nodes(re - coeffs, G))))
    sub = np.linspace(0, G - 1, 200).astype(int)
    x = np.cos(np.pi * (sub + 0.5) / G)
    target = qsp.chebyshev_at_nodes(coeffs, G)[sub]
    prod = float(np.max(np.abs(qsp.qsp_response(phases, x).real - target)))
    return err, prod


def run_ours(kappa, degree):
    t0 = time.perf_counter()
    poly = qsp.inverse_polynomial(kappa, degree, delta=DELTA)
    t1 = time.perf_counter()
    psi, info = qsp.qsp_phases(poly.coeffs)
    t2 = time.perf_counter()
    return poly, psi, t1 - t0, t2 - t1, info


def peak_mib(kappa, degree) -> float:
    tracemalloc.start()
    run_ours(kappa, degree)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


def references(coeffs, degree, args):
    """[(name, seconds, phases)] of the reference packages that are installed and within caps."""
    out = []
    odd = coeffs[1::2] if degree % 2 else coeffs[0::2]
    parity = degree % 2
    try:
        import qsppack
    except ImportError:
        qsppack = None
    if qsppack is not None:
        if degree <= args.nlft_ref_max_degree:
            N = 1 << int(np.ceil(np.log2(16 * (degree + 1))))
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                phi, _ = qsppack.solve(odd, parity, {"method": "NLFT", "N": N})
            out.append(("qsppack NLFT", time.perf_counter() - t, np.asarray(phi)))
        if degree <= args.ref_max_degree:
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                phi, _ = qsppack.solve(odd, parity, {"method": "Newton", "criteria": 1e-13})
            out.append(("qsppack Newton", time.perf_counter() - t, np.asarray(phi)))
    try:
        from pyqsp.sym_qsp_opt import newton_solver
    except ImportError:
        newton_solver = None
    if newton_solver is not None and degree <= args.ref_max_degree:
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            _, _, _, proto = newton_solver(odd, parity, crit=1e-13)
        # pyqsp targets Im U_00; −π/4 on both ends turns it into Re U_00 (U_00 ↦ −i·U_00)
        full = np.array(proto.full_phases, dtype=float)
        full[0] -= np.pi / 4
        full[-1] -= np.pi / 4
        out.append(("pyqsp Newton", time.perf_counter() - t, full))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--ref-max-degree", type=int, default=2000)
    ap.add_argument("--nlft-ref-max-degree", type=int, default=20_000)
    ap.add_argument("--no-refs", action="store_true")
    args = ap.parse_args(argv)
    print(f"1/x polynomial, δ = {DELTA:g} unless the degree is given; max |P| = 0.9; "
          f"errors on {args.points} Chebyshev nodes")
    print(f"{'kappa':>7} {'degree':>7} {'poly s':>7} {'phases s':>8} {'peak MiB':>8} {'max err':>9} "
          f"{'prod err':>9} {'tol':>9}  grid")
    refs = []
    for kappa, degree in CASES:
        poly, psi, tp, tq, info = run_ours(kappa, degree)
        err, prod = max_error(psi, poly.coeffs, args.points)
        mib = peak_mib(kappa, degree)
        print(f"{kappa:7.0f} {poly.degree:7d} {tp:7.3f} {tq:8.3f} {mib:8.1f} {err:9.2e} {prod:9.2e} "
              f"{qsp.response_tolerance(poly.degree):9.2e}  {info['grid']}", flush=True)
        if not args.no_refs:
            for name, sec, phi in references(poly.coeffs, poly.degree, args):
                e, p = max_error(phi, poly.coeffs, args.points)
                refs.append(f"{kappa:7.0f} {poly.degree:7d}  {name:15s} {sec:8.3f} s  max err {e:9.2e}  "
                            f"prod err {p:9.2e}")
    if not args.no_refs:
        print("\nreference packages (phases only, same polynomial):")
        print("\n".join(refs) if refs else "  none installed (pip install 'qdsl-compiler[qsp-ref]')")


if __name__ == "__main__":
    main()
