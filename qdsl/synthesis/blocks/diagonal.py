r"""Block-encoding of a diagonal matrix (or a family selected by a class register) on one register.

A = diag(d_j) over the codes j of a register: a unary iteration keyed by (class, j) rotates the
entry flag f, which starts failed (f ^= ctrl): at code j, RY(−2 asin(d_j/α)) turns |1⟩ into
(d_j/α)|0⟩ + …; codes with no entry keep f = 1 (encoded as 0). α = max |d_j|. No index oracles, no
target register, no swap — the cheap case of `sparse_access` for a diagonal (one-colour, row =
column) matrix, e.g. G_1 = I + F_1 of a separable loss on one Carleman slot.

Cost: the trie of `lookup.UnaryIteration` plus, per entry, a controlled RY (2 ``ry`` + 2 ``cx``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cost import Cost
from .lookup import UnaryIteration, trie_cost, trie_nodes

__all__ = ["DiagonalAccess", "diagonal_cost"]


@dataclass(frozen=True, eq=False)
class DiagonalAccess:
    """diag(values[k]) on `codes` of a `width`-qubit register, class k from a `class_width` register."""

    codes: np.ndarray
    values: np.ndarray
    width: int
    class_width: int = 0

    def __init__(self, codes, values, *, width: int, class_width: int = 0):
        c = np.asarray(codes, dtype=np.int64).ravel()
        v = np.atleast_2d(np.asarray(values, dtype=float))
        if v.shape[1] != c.size or len(set(c.tolist())) != c.size:
            raise ValueError("codes and values disagree, or codes repeat")
        if c.size and (c.min() < 0 or c.max() >= 1 << width) or v.shape[0] > 1 << class_width:
            raise ValueError("a code or class does not fit its register")
        object.__setattr__(self, "codes", c)
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "width", int(width))
        object.__setattr__(self, "class_width", int(class_width))

    @property
    def alpha(self) -> float:
        return float(np.max(np.abs(self.values))) if self.values.size else 1.0

    flags = 1

    def _items(self):
        items = {}
        for k in range(self.values.shape[0]):
            for j in np.flatnonzero(self.values[k]):
                addr = int(self.codes[j]) + (k << self.width)
                items[addr] = -2.0 * float(np.arcsin(np.clip(self.values[k, j] / self.alpha, -1, 1)))
        return items

    def _trie(self):
        return UnaryIteration(self.class_width + self.width, list(self._items()))

    @property
    def work(self) -> int:
        return self._trie().work

    def build(self, qc, reg, f, work, ctrl=None, klass=()) -> None:
        """Append the block-encoding on register `reg` with flag `f` (see the module docstring)."""
        reg, klass = list(reg), list(klass)
        if len(reg) != self.width or len(klass) != self.class_width:
            raise ValueError("register widths do not match the block")
        if ctrl is None:
            qc.x(f)
        else:
            qc.cx(ctrl, f)
        items = self._items()

        def leaf(qc, q, item):
            theta = items[item[0]]
            qc.ry(theta / 2, f)
            qc.cx(q, f)
            qc.ry(-theta / 2, f)
            qc.cx(q, f)

        self._trie().build(qc, ctrl, reg + klass, work, leaf)

    def stats(self) -> dict:
        t = self._trie()
        return {"nodes": trie_nodes(t.items, t.width), "items": len(t.items)}

    def cost(self, controlled: bool = True) -> Cost:
        return diagonal_cost(self.stats(), controlled)


def diagonal_cost(st: dict, controlled: bool = True) -> Cost:
    """Gate counts from the sizes: the trie, a controlled RY per entry, the flag flip."""
    L = st["items"]
    return trie_cost(st["nodes"], controlled) + Cost(ry=2 * L, cx=2 * L) + (
        Cost(cx=1) if controlled else Cost(x=1))

    def matrix(self, klass: int = 0) -> dict:
        return {(int(c), int(c)): float(v) for c, v in zip(self.codes, self.values[klass]) if v != 0}
