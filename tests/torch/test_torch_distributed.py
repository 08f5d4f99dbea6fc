"""qdsl.torch under torch.distributed: data-parallel HVPs and spectra on 2 gloo processes (CPU)
equal the single-process ones (tests/torch/dist_check.py runs the ranks)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():  # pragma: no cover - depends on the build
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from dist_check import SPECTRUM, cases, compute  # noqa: E402
from torch_models import U64  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "ranks.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, os.path.join(HERE, "dist_check.py"), str(out)], check=True, env=env,
                   timeout=240)
    dp = torch.load(out, weights_only=False)
    single = {name: compute(shards, model, loss_fn) for name, model, loss_fn, shards in cases()}
    return dp, single


@pytest.mark.parametrize("name", ["mlp", "resnet_bn"])
def test_data_parallel_products_equal_one_process(results, name):
    r"""Two ranks, each its shard (the ResNet's BatchNorm in train mode: per-batch statistics, so
    the one-process reference is the loader of the two batches). The all-reduced sum differs from
    the one-process sum only in the order of two additions per entry (and the division by N): a
    few ulps of the largest term — far inside 1e-10 relative."""
    dp, single = results
    a, b = dp[name], single[name]
    assert a["full"]["ranks"] == 2 and b["full"]["ranks"] == 1
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
    for key in ("grad", "hvp", "hvps"):
        scale = float(torch.max(torch.abs(b[key])))
        assert float(torch.max(torch.abs(a[key] - b[key]))) <= 1e-10 * scale, key


@pytest.mark.parametrize("name", ["mlp", "resnet_bn"])
@pytest.mark.parametrize("reorth", ["full", "partial"])
def test_data_parallel_spectra_equal_one_process(results, name, reorth):
    r"""Extremes: ARPACK stops at ‖Hx − θx‖ ≤ tol·|θ| (tol 1e-10 in float64) in both runs, so the
    two values lie within tol·|θ| of the same eigenvalue. SLQ: the Gauss quadrature of each run
    reproduces vᵀH^p v for p ≤ 2m − 1 to rounding (m·√n·u·‖H‖^p, Paige), the start vectors are the
    same (one seed), so the moments agree within twice that."""
    dp, single = results
    a, b = dp[name][reorth], single[name][reorth]
    ev = b["eigenvalues"]
    assert np.all(np.abs(a["eigenvalues"] - ev) <= 2 * 1e-10 * np.abs(ev) + 1e-13), (a["eigenvalues"], ev)
    n = 300  # above both dimensions (MLP 66, ResNet 273)
    nrm = float(np.max(np.abs(ev)))
    m = SPECTRUM["lanczos_steps"]
    for p in range(1, 6):
        ma, mb = np.sum(a["weights"] * a["nodes"] ** p), np.sum(b["weights"] * b["nodes"] ** p)
        assert abs(ma - mb) <= 2 * 10 * p * m * np.sqrt(n) * U64 * nrm ** p, p
