"""How fast the network → circuit path refuses a dense extraction, and the sizes it predicts.

    .venv/bin/python benchmarks/torch_circuit_refusals.py                  # n = 55, degree 2, order 2, T = 10
    .venv/bin/python benchmarks/torch_circuit_refusals.py --keep 45 --assemble
        # also assemble the history system the refusal avoids, and time it

A tanh MLP 8 → 8 → 3 (91 weights) on 32 generated samples, pruned by global magnitude to about
`--keep` weights (`keep_last=False`; with the biases n = 55 at the default), extracted at
`--degree` (F_2 of a degree-2 extraction is dense: n³ nonzeros) and compiled at Carleman order 2
over T = `--steps`. Prints the processor seconds and peak memory of `c.program` until it refuses
(E0508 from the block-encoding's cost functions, before the Carleman lift and the history system
exist), then `c.history_size` — the history system's dimension, nonzeros and bytes predicted from
the lift — and, with `--assemble`, the seconds to build that history system and its real size
(the work the refusal used to come after). One torch thread; CPU only.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=int, default=45, help="surviving weights of the 91 (default 45)")
    ap.add_argument("--degree", type=int, default=2, choices=[1, 2])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--assemble", action="store_true", help="also assemble the history system and time it")
    a = ap.parse_args(argv)

    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "torch"))
    from torch_models import classification_data, tanh_mlp

    import qdsl
    import qdsl.torch as qt

    model = tanh_mlp([8, 8, 3], seed=0)
    x, y = classification_data(32, 8, 3)
    s = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, sparsity=1 - a.keep / 91,
                   degree=a.degree, steps=a.steps, keep_last=False)
    print(f"extraction: n = {s.n}, degree {a.degree}, nnz(F_ℓ) = {[int(F.nnz) for F in s.F]}, order 2, T = {a.steps}")
    c = qdsl.compile(system=s, order=2)
    t0 = time.process_time()
    try:
        c.program
        outcome = f"compiled: {c.program.num_qubits} qubits"
    except qdsl.SizeLimitError as e:
        d = e.diagnostics[0]
        outcome = f"refused {d.code} (exit {e.exit_status}): {d.message}"
    took = time.process_time() - t0
    built = "carleman" in c.__dict__, "linear_system" in c.__dict__
    print(f"{outcome}\n  in {took:.2f} processor seconds; Carleman lift built: {built[0]}, history system built: "
          f"{built[1]}; peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    t0 = time.process_time()
    h = c.history_size
    print(f"history system predicted from the lift ({time.process_time() - t0:.1f} s, the lift included): "
          f"dim {h.dim:,}, nnz {h.nnz:,}, {h.bytes / 2 ** 30:.2f} GiB of CSR arrays")
    if a.assemble:
        t0 = time.process_time()
        L = c.linear_system.matrix
        print(f"assembled (κ estimate included): {time.process_time() - t0:.1f} processor seconds; dim {L.shape[0]:,}, "
              f"nnz {L.nnz:,}, {(L.data.nbytes + L.indices.nbytes + L.indptr.nbytes) / 2 ** 30:.2f} GiB — "
              f"prediction {'equal' if (h.dim, h.nnz) == (L.shape[0], L.nnz) else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
