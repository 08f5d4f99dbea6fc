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
