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
"""
from __future__ import annotations

import numpy as np

__all__ = ["edge_coloring"]


def edge_coloring(rows, cols) -> tuple[np.ndarray, int]:
    """Colours (0..Δ−1) of the edges (rows[e], cols[e]) (distinct pairs) and Δ."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
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
