"""Bipartite edge colouring with Δ colours (qdsl.synthesis.blocks.coloring)."""
import numpy as np
import pytest

from qdsl.synthesis.blocks.coloring import edge_coloring


@pytest.mark.parametrize("seed", range(30))
def test_proper_with_max_degree_colours(seed):
    rng = np.random.default_rng(seed)
    R, C = (int(v) for v in rng.integers(1, 25, 2))
    E = int(rng.integers(1, R * C + 1))
    idx = rng.choice(R * C, E, replace=False)
    rows, cols = idx // C, idx % C
    colors, deg = edge_coloring(rows, cols)
    assert deg == max(np.bincount(rows).max(), np.bincount(cols).max())
    assert colors.min() >= 0 and colors.max() < deg
    for side in (rows, cols):
        pairs = set(zip(side.tolist(), colors.tolist()))
        assert len(pairs) == E          # no vertex sees a colour twice


@pytest.mark.parametrize("seed", range(20))
def test_diagonal_kept_as_one_colour(seed):
    """diagonal=True: the diagonal edges are colour 0 whole, the rest a proper colouring with
    colours 1..Δ′ (Δ′ = the off-diagonal maximum degree)."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 20))
    mask = rng.random((n, n)) < rng.uniform(0.1, 1)
    mask[np.arange(n), np.arange(n)] |= rng.random(n) < 0.8
    mask[0, 0] = True
    rows, cols = np.nonzero(mask)
    colors, deg = edge_coloring(rows, cols, diagonal=True)
    on = rows == cols
    assert np.all(colors[on] == 0) and np.all(colors[~on] >= 1)
    off_deg = max([0] + [np.bincount(s[~on]).max() for s in (rows, cols) if (~on).any()])
    assert deg == off_deg + 1 and colors.max() < deg
    for side in (rows, cols):
        assert len(set(zip(side.tolist(), colors.tolist()))) == rows.size
