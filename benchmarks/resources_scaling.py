"""Projected fault-tolerant resources for n = 10^3 … 10^8 parameters at T = 100 steps.

    .venv/bin/python benchmarks/resources_scaling.py [--eps 1e-3] [--steps 100]

Two models, both through `qdsl.backends.resources.estimate` (the symbolic QSVT model, sparse-access
block-encoding; nothing is built):

* quartic — examples/quartic.qd (Carleman order 3, kronecker), its transfer-matrix sparsity s
  (from the certificate) held fixed as n grows, κ′ from the dissipative bound 2(T+1);
* ResNet-like — a 90 %-pruned network as in arXiv:2303.03428 (7M and 103M parameters): cubic
  truncation of the loss (q = 2: gradient, Hessian, third-order term), Carleman order N = 2 in the
  symmetric basis, each surviving weight coupled through the Hessian / third-order tensor to at
  most ~100 others (same filter and the adjacent layers), so s(F_1) = s(F_2) = 100 and the
  transfer matrix has s ≈ 1 + N·(s(F_1) + s(F_2)) = 401; dissipative (‖I+F_1‖ ≤ 1), κ′ ≤ 2(T+1).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from qdsl.backends.resources import ModelInputs, estimate, surface_code

ROOT = Path(__file__).resolve().parents[1]
SIZES = [10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6, 7 * 10 ** 6, 10 ** 7, 10 ** 8, 103 * 10 ** 6]
RESNET_SPARSITY = 1 + 2 * (100 + 100)


def rows(name, make):
    for nv in sorted(SIZES):
        t0 = time.perf_counter()
        inp = make(nv)
        est = estimate(inp)
        ph = surface_code(est["logical_qubits"], est["t_count"])
        tag = {7 * 10 ** 6: " (paper: ResNet 7M)", 103 * 10 ** 6: " (paper: ResNet 103M)"}.get(nv, "")
        yield (f"{name:8s} {nv:>11,}{tag:22s} m+m_t={est['values']['system_qubits']:3d} "
               f"d={est['values']['d']:5d} Q={est['logical_qubits']:4d} T={est['t_count']:.3e} "
               f"dist={ph['code_distance']:2d} F={ph['factories']:2d} phys={ph['physical_qubits']:.3e} "
               f"time={ph['runtime_seconds']:.3e}s [{1e3 * (time.perf_counter() - t0):.0f} ms]")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=100)
    a = ap.parse_args(argv)

    import qdsl
    c = qdsl.compile(ROOT / "examples" / "quartic.qd")
    s_q = c.certificate.to_dict()["sparsity"]["M"]["s"]
    print(f"T = {a.steps}, eps = {a.eps:g}; κ′ = 2(T+1); surface code p = 1e-3, 1 µs cycles, "
          "T factories sized to the T error (backends/physical.py)")
    print(f"quartic: N = {c.order} ({c.basis}), s = {s_q} (certificate, held fixed); "
          f"resnet: N = 2 (symmetric), s = {RESNET_SPARSITY} (assumed)")
    for line in rows("quartic", lambda nv: ModelInputs(n=nv, steps=a.steps, order=c.order, eps=a.eps,
                                                        sparsity=s_q, basis=c.basis)):
        print(line)
    for line in rows("resnet", lambda nv: ModelInputs(n=nv, steps=a.steps, order=2, eps=a.eps,
                                                       sparsity=RESNET_SPARSITY, basis="symmetric")):
        print(line)


if __name__ == "__main__":
    main()
