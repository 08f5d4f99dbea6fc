r"""Proper edge colouring of a bipartite graph with Δ colours (König's line-colouring theorem).

The nonzeros (i, j) of a sparse matrix are the edges of the bipartite graph rows–columns; a proper
edge colouring with Δ = max(row sparsity, column sparsity) colours splits the matrix into Δ partial
permutation matrices (each colour meets every row and every column at most once). That is what the
sparse-access block-encoding needs: within one colour, the column determines the row and the row
determines the column, so both index oracles are lookups keyed by (colour, index) and no separate
"position in row" ↔ "position in column" map is needed.

Algorithm: edges are coloured one by one; for edge (u, v) take a colour a free at u and b free at v;
if a is not free at v, swap a ↔ b along the alternating a/b path that starts at v (it cannot reach
u in a bipartite graph), then colour the edge a. O(E·V) worst case, near-linear in practice.

With ``diagonal=True`` (rows and columns index the same set: a square matrix) the diagonal edges
(i, i) take colour 0 whole — they form a partial permutation by themselves — and König colours the
off-diagonal edges with colours 1..Δ′ (Δ′ their own maximum degree). For a diagonal-dominant matrix
such as I + F₁ this keeps the large entries in one colour, so the sparse-access subnormalization
Σ_c max|A_c| is max|A_ii| plus the off-diagonal colours' maxima, instead of repeating the diagonal's
size in every colour that holds a diagonal entry.
"""
from __future__ import annotations

import numpy as np

__all__ = ["edge_coloring"]


def edge_coloring(rows, cols, *, diagonal: bool = False) -> tuple[np.ndarray, int]:
    """Colours (0..Δ−1) of the edges (rows[e], cols[e]) (distinct pairs) and the number of colours
    Δ. With `diagonal`, the edges rows[e] == cols[e] are colour 0 and the others are coloured
    1..Δ−1 (module docstring); without diagonal edges this is the plain colouring."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if diagonal:
        on = rows == cols
        if on.any():
            color = np.zeros(rows.size, dtype=np.int64)
            off, deg = edge_coloring(rows[~on], cols[~on])
            color[~on] = off + 1
            return color, deg + 1
    E = rows.size
    if E == 0:
        return np.zeros(0, dtype=np.int64), 0
    deg = max(int(np.bincount(np.unique(rows, return_inverse=True)[1]).max()),
              int(np.bincount(np.unique(cols, return_inverse=True)[1]).max()))
    # vertex → {colour: edge}; rows are vertices ("r", i), columns ("c", j)
    at: dict = {}
    color = np.full(E, -1, dtype=np.int64)

    def free(v):
        used = at.get(v, {})
        for c in range(deg):
            if c not in used:
                return c
        raise AssertionError("no free colour (degree bound violated)")  # pragma: no cover

    for e in range(E):
        u, v = ("r", int(rows[e])), ("c", int(cols[e]))
        a, b = free(u), free(v)
        if a not in at.get(v, {}):
            c = a
        else:
            # alternating path from v: edges coloured a, b, a, … ; swap a ↔ b along it
            path = []
            x, want = v, a
            while want in at.get(x, {}):
                f = at[x][want]
                path.append(f)
                fx = ("r", int(rows[f])) if x[0] == "c" else ("c", int(cols[f]))
                x, want = fx, (b if want == a else a)
            for f in path:
                for w in (("r", int(rows[f])), ("c", int(cols[f]))):
                    if at[w].get(color[f]) == f:
                        del at[w][color[f]]
            for f in path:
                color[f] = b if color[f] == a else a
                for w in (("r", int(rows[f])), ("c", int(cols[f]))):
                    at.setdefault(w, {})[int(color[f])] = f
            c = a
        color[e] = c
        at.setdefault(u, {})[c] = e
        at.setdefault(v, {})[c] = e
    return color, deg
