"""qdsl.plan for a qdsl.torch network, per training window (issue 14): the quantum cost of the
window against the network's own training steps (FLOPs by torch's counter, checked against the
hand count of a tiny MLP), beside the Eq. 7 proxy of that window (checked against the formula).
Integer FLOP counts are compared exactly; the proxy to the rounding of a sum of K-th powers."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qdsl  # noqa: E402
import qdsl.torch as qt  # noqa: E402
from qdsl.torch.plan import training_step_flops  # noqa: E402


@pytest.fixture(scope="module")
def net():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    x, y = torch.randn(12, 2), torch.randn(12, 1)
    return model, torch.nn.MSELoss(), (x, y)


def test_training_step_flops_by_hand(net):
    model, loss_fn, (x, y) = net
    B = x.shape[0]
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    fwd = sum(2 * B * m.in_features * m.out_features for m in layers)
    # backward: every weight's gradient, and the input gradient of every layer but the first
    # (x does not require a gradient)
    bwd = fwd + sum(2 * B * m.in_features * m.out_features for m in layers[1:])
    P = sum(p.numel() for p in model.parameters())
    f = training_step_flops(model, loss_fn, (x, y))
    assert f["forward_backward"] == fwd + bwd
    assert f["per_step"] == fwd + bwd + 2 * P
    assert all(p.grad is None for p in model.parameters())     # the model's gradients restored


def test_window_plan(net):
    model, loss_fn, batch = net
    sys_ = qt.extract(model, loss_fn, batch, lr=0.3, sparsity=0.5, degree=2, steps=4)
    spec = qt.hessian_spectrum(model, loss_fn, batch, support=sys_.meta["support"], k=1,
                               lanczos_steps=sys_.n, vectors=1, extremes="lanczos")
    K = 4
    p = qdsl.plan(sys_, network=(model, loss_fn, batch), window=K, precision=1e-2, spectrum=spec)
    w = p["torch_window"]
    assert w["steps"] == K and p["sizes"]["T"] == K and not p["sizes"]["projected"]
    assert w["quantum"]["calls"] == p["quantum"]["total"]["calls"]
    assert w["quantum"]["t_states"] == p["quantum"]["total"]["t_states"]
    step = training_step_flops(model, loss_fn, batch)["per_step"]
    assert w["classical"]["flops"] == K * step
    assert w["classical"]["runtime_s"] == pytest.approx(K * step / p["classical"]["rate"], rel=1e-12)
    assert w["ratio"] == pytest.approx(w["quantum"]["runtime_s"] / w["classical"]["runtime_s"], rel=1e-12)
    # Eq. 7 by hand from the same quadrature
    a = -0.3 * np.asarray(spec.nodes)
    keep = np.abs(a) > 0.4
    if keep.any():
        wk = np.asarray(spec.weights)[keep]
        direct = [float(np.sum(wk * np.abs(1 + a[keep]) ** t) / wk.sum()) for t in range(K + 1)]
        assert w["proxy"]["values"] == pytest.approx(direct, rel=1e-12)
        assert w["proxy"]["at_end"] == pytest.approx(direct[-1], rel=1e-12)
    else:
        assert w["proxy"]["values"] is None and "0.4" in w["proxy"]["reason"]
    json.dumps(p, allow_nan=False)
    assert "torch window" in p.render() and "Eq. 7 proxy" in p.render()


def test_window_needs_the_network(net):
    model, loss_fn, batch = net
    sys_ = qt.extract(model, loss_fn, batch, lr=0.3, sparsity=0.5, degree=1, steps=3)
    with pytest.raises(qdsl.CompileError, match="E0634"):
        qdsl.plan(sys_, window=3)
    with pytest.raises(qdsl.CompileError, match="E0634"):
        qdsl.plan(sys_, network=(model, loss_fn, batch), window=0)
