"""qdsl.torch.hybrid_train: the download/re-upload scheme against plain sparse training."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qdsl.torch as qt  # noqa: E402
from torch_models import classification_data, paper_pruned_copy, tanh_mlp  # noqa: E402

LR = 0.3


@pytest.fixture(scope="module")
def setup():
    model = tanh_mlp([8, 16, 4], seed=21, dtype=torch.float32)
    x, y = classification_data(96, 8, 4, seed=22, dtype=torch.float32)
    return model, torch.nn.CrossEntropyLoss(), x, y


def _plain(model, loss_fn, x, y, *, pretrain, steps, sparsity, batch_size=None, seed=0):
    """The reference: dense SGD, then prune.global_unstructured (L1, last layer dense) and SGD on
    the reparametrized model; losses on the full set in eval mode after every step."""
    m = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)

    def batch():
        if batch_size is None:
            return x, y
        idx = torch.randperm(x.shape[0], generator=gen)[:batch_size]
        return x[idx], y[idx]

    def measure(mod):
        mod.eval()
        with torch.no_grad():
            out = float(loss_fn(mod(x), y))
        mod.train()
        return out

    def train(mod, count):
        opt = torch.optim.SGD(mod.parameters(), lr=LR)
        for _ in range(count):
            xb, yb = batch()
            opt.zero_grad()
            loss_fn(mod(xb), yb).backward()
            opt.step()
            losses.append(measure(mod))

    losses = [measure(m)]
    train(m, pretrain)
    pruned, _ = paper_pruned_copy(m, sparsity)
    losses[-1] = measure(pruned)
    train(pruned, steps)
    return pruned, np.array(losses)


@pytest.mark.parametrize("batch_size", [None, 32])
def test_zero_noise_is_plain_sparse_training_bit_for_bit(setup, batch_size):
    model, loss_fn, x, y = setup
    ref, ref_losses = _plain(model, loss_fn, x, y, pretrain=4, steps=11, sparsity=0.8, batch_size=batch_size)
    m = copy.deepcopy(model)
    hist = qt.hybrid_train(m, loss_fn, (x, y), lr=LR, steps=11, pretrain_steps=4, sparsity=0.8, segment=5,
                           epsilon=0.0, batch_size=batch_size, spectrum=False, quiet=True)
    assert np.array_equal(hist.loss, ref_losses)
    with torch.no_grad():
        for (name, p), mod_name in zip(m.named_parameters(), [n for n, _ in model.named_parameters()]):
            owner = ref
            for part in mod_name.split(".")[:-1]:
                owner = getattr(owner, part)
            leaf = mod_name.rsplit(".", 1)[-1]
            eff = getattr(owner, leaf + "_orig") * getattr(owner, leaf + "_mask") if hasattr(owner, leaf + "_orig") \
                else getattr(owner, leaf)
            assert torch.equal(p, eff), name
    assert hist.uploads == (4, 9, 14) and [d["step"] for d in hist.downloads] == [9, 14, 15]
    assert all(d["shots"] is None and d["noise_norm"] == 0.0 for d in hist.downloads)
    assert hist.phase == ("dense",) * 4 + ("sparse",) * 11
    assert len(hist.loss) == len(hist.accuracy) == len(hist.proxy) == 16


def test_tomography_noise_model(setup):
    model, loss_fn, x, y = setup
    m = copy.deepcopy(model)
    eps = 0.05
    hist = qt.hybrid_train(m, loss_fn, (x, y), lr=LR, steps=10, pretrain_steps=2, sparsity=0.8, segment=5,
                           epsilon=eps, spectrum=False, quiet=True, seed=3)
    sup = qt.magnitude_prune(model, 0.8)
    k = sup.n
    for d in hist.downloads:
        assert d["k"] == k
        assert d["shots"] == math.ceil(k * math.log(k) / eps ** 2)
        # ‖ξ‖/√k for ξ ~ N(0, I_k) is 1 ± O(1/√(2k)); allow 6 standard deviations
        assert abs(d["relative_error"] - eps) <= 6 * eps / math.sqrt(2 * k)
    # the pruned entries stay exactly zero through the noisy downloads
    w = dict(m.named_parameters())["0.weight"].detach()
    assert int((w != 0).sum()) == int(round(0.2 * w.numel()))


def test_proxy_and_spectra_recorded_per_segment(setup, tmp_path):
    model, loss_fn, x, y = setup
    m = copy.deepcopy(model)
    opts = {"k": 2, "lanczos_steps": 20, "vectors": 2}
    hist = qt.hybrid_train(m, loss_fn, (x, y), lr=LR, steps=12, pretrain_steps=3, sparsity=0.8, segment=6,
                           epsilon=0.02, spectrum_options=opts, proxy_cut=0.05, quiet=True)
    assert sorted(hist.spectra) == [3, 9]
    for t0 in hist.uploads:
        p = qt.error_proxy(hist.spectra[t0], LR, 6, cut=0.05)
        assert np.array_equal(p.values, hist.proxies[t0].values)
        assert np.array_equal(hist.proxy[t0:t0 + 6], p.values[:6])
    assert np.all(np.isnan(hist.proxy[:3]))
    assert all(any(a >= t0 and b <= t0 + 6 for t0 in hist.uploads) for a, b in hist.windows)
    fig = hist.plot(tmp_path / "fig2.png")
    assert (tmp_path / "fig2.png").stat().st_size > 10_000
    import matplotlib.pyplot as plt
    plt.close(fig)
    d = hist.to_dict()
    assert d["downloads"][0]["shots"] > 0 and len(d["proxy"]) == len(d["loss"])


def test_qram_variant_regrows_and_reprunes(setup):
    model, loss_fn, x, y = setup
    m = copy.deepcopy(model)
    hist = qt.hybrid_train(m, loss_fn, (x, y), lr=LR, steps=14, pretrain_steps=2, sparsity=0.8, segment=5,
                           qram_steps=2, spectrum=False, quiet=True)
    assert hist.phase == ("dense",) * 2 + ("sparse",) * 5 + ("qram",) * 2 + ("sparse",) * 5 + ("qram",) * 2
    assert hist.uploads == (2, 9)
    w = dict(m.named_parameters())["0.weight"].detach()
    # the last dense steps regrew the pruned weights (no re-pruning after the final segment)
    assert int((w != 0).sum()) > int(round(0.2 * w.numel()))
