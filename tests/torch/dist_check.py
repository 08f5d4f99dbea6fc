"""Data-parallel Hessian products and spectra under torch.distributed (gloo, CPU), for the tests.

    python tests/torch/dist_check.py OUT.pt            # spawns 2 processes itself
    torchrun --nproc_per_node 2 tests/torch/dist_check.py OUT.pt

Each rank takes its own shard of the data (rank r: the r-th half of an MLP's batch; the r-th
batch of a small ResNet's, BatchNorm in train mode) and computes, under the default process group,
the loss, gradient, one HVP and a spectrum (ARPACK extremes, SLQ, full and partial
reorthogonalization); rank 0 saves them to OUT.pt for tests/torch/test_torch_distributed.py to
compare with one process.
"""
from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def cases():
    """(name, model, loss_fn, the batches of the ranks) — the same on every rank and in the test."""
    from torch_models import classification_data, small_resnet, tanh_mlp

    mlp = tanh_mlp([5, 7, 3], seed=2)
    x, y = classification_data(48, 5, 3, seed=3)
    g = torch.Generator().manual_seed(4)
    net = small_resnet(channels=3, classes=3, seed=5).train()
    xr = torch.randn(16, 3, 6, 6, generator=g, dtype=torch.float64)
    yr = torch.randint(0, 3, (16,), generator=g)
    return [("mlp", mlp, torch.nn.CrossEntropyLoss(), [(x[:24], y[:24]), (x[24:], y[24:])]),
            ("resnet_bn", net, torch.nn.CrossEntropyLoss(), [(xr[:8], yr[:8]), (xr[8:], yr[8:])])]


SPECTRUM = dict(k=2, lanczos_steps=24, vectors=2, seed=7, support="all")


def compute(batches_or_batch, model, loss_fn, **extra):
    """loss, gradient, H·v (v fixed) and spectra (full and partial reorthogonalization)."""
    import qdsl.torch as qt

    sup = qt.magnitude_prune(model, 0.0)
    obj = qt.Objective(model, loss_fn, batches_or_batch, sup, **extra)
    pt = obj.at()
    v = torch.randn(sup.n, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    out = {"loss": pt.loss(), "grad": pt.gradient(), "hvp": pt.hvp(v), "hvps": pt.hvp(torch.stack([v, 2 * v]))}
    for reorth in ("full", "partial"):
        s = qt.hessian_spectrum(model, loss_fn, batches_or_batch, reorth=reorth, **SPECTRUM, **extra)
        out[reorth] = {"eigenvalues": s.eigenvalues, "nodes": s.nodes, "weights": s.weights,
                       "ranks": s.meta["ranks"]}
    return out


def worker(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        results = {}
        for name, model, loss_fn, shards in cases():
            results[name] = compute(shards[rank], model, loss_fn)   # the default group
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


def main(out: str) -> int:
    if "RANK" in os.environ:   # under torchrun
        worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), "env://", out)
        return 0
    import tempfile

    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory() as d:
        mp.spawn(worker, args=(2, "file://" + os.path.join(d, "rendezvous"), out), nprocs=2, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
