"""qdsl.torch.error_proxy: the paper's Eq. 7 as SPEC §6 defines it, against a direct evaluation."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from qdsl.torch import Spectrum, error_proxy  # noqa: E402
from qdsl.torch.proxy import windows_below_one  # noqa: E402


def _spectrum(nodes, weights):
    nodes, weights = np.asarray(nodes, float), np.asarray(weights, float)
    return Spectrum(np.array([nodes.min(), nodes.max()]), nodes, weights / weights.sum(), None, len(nodes))


def test_proxy_equals_the_formula():
    rng = np.random.default_rng(0)
    nodes = np.concatenate([rng.uniform(-5, 20, 300), [0.0, 1.0, -1.0]])
    w = rng.uniform(0.1, 1.0, nodes.size)
    spec = _spectrum(nodes, w)
    lr, T = 0.07, 120
    p = error_proxy(spec, lr, T)
    a = -lr * spec.nodes
    keep = np.abs(a) > 0.4
    Nc = spec.weights[keep].sum()
    direct = np.array([np.sum(spec.weights[keep] * np.abs(1 + a[keep]) ** t) / Nc for t in range(T + 1)])
    # log-sum-exp vs direct powers: relative rounding ≲ (t + number of terms)·u per value
    assert np.all(np.abs(p.values - direct) <= (T + nodes.size) * 4 * np.finfo(float).eps * direct)
    assert p.values[0] == 1.0 and p.kept_weight == pytest.approx(Nc, rel=1e-15)
    assert np.array_equal(p.steps, np.arange(T + 1))
    # modes with |a| ≤ 0.4 do not count: moving their weight around changes nothing
    w2 = spec.weights.copy()
    w2[~keep] *= 5.0
    p2 = error_proxy(Spectrum(spec.eigenvalues, spec.nodes, w2, None, spec.n), lr, T)
    assert np.allclose(p2.values, p.values, rtol=1e-13, atol=0)


def test_windows_are_the_runs_at_or_below_one():
    vals = np.array([1.0, 0.99, 0.98, 1.01, 1.2, 0.5, 1.0, 1.3, 0.9])
    assert windows_below_one(vals) == ((1, 2), (5, 6), (8, 8))
    # a dip then growth, as in the paper's Fig. 2: decaying modes first, growing ones later
    spec = _spectrum([10.0, -8.0], [0.9, 0.1])          # lr = 0.1: 1 + a = 0.0 and 1.8
    p = error_proxy(spec, 0.1, 10)
    brute = [t for t in range(1, 11) if p.values[t] <= 1.0]
    assert [t for a, b in p.windows for t in range(a, b + 1)] == brute
    assert p.values[1] == pytest.approx(0.1 * 1.8)      # the decaying mode is gone after one step


def test_cut_and_errors():
    spec = _spectrum([1.0, 2.0, 3.0], [1, 1, 1])
    with pytest.raises(ValueError, match="undefined"):
        error_proxy(spec, 0.1, 5)                      # |a| ≤ 0.3 everywhere
    p = error_proxy(spec, 0.1, 5, cut=0.15)            # keeps λ = 2, 3
    assert p.values[2] == pytest.approx((0.8 ** 2 + 0.7 ** 2) / 2, rel=1e-14)
    big = error_proxy(_spectrum([-1000.0, 1.0], [1, 1]), 1.0, 400)
    assert np.isinf(big.values[-1]) and not np.any(np.isnan(big.values))
    with pytest.raises(ValueError):
        error_proxy(Spectrum(np.array([1.0]), None, None, None, 1), 0.1, 3)
