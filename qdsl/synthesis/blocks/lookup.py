r"""Unary iteration over an address register (Babbush et al., PRX 8, 041015 (2018), Fig. 7).

`UnaryIteration(width, items)` visits a set of disjoint **prefix items** of an address register of
`width` bits — item (value, free) stands for the 2^free addresses value + k, k < 2^free (value a
multiple of 2^free) — under a control qubit, and calls ``leaf(qc, q, item)`` with a qubit q that
is |1⟩ exactly when the control is |1⟩ and the address lies in the item. A *lookup* (QROM) is a
unary iteration whose leaves XOR data into a target register (``cx`` from q) or rotate a flag by
an item-dependent angle; the leaves are the caller's, the tree is this block's.

The tree is a binary trie over the address bits, most significant first, pruned to the branches
that hold items. Work qubit w_d holds the AND of the control and the first d+1 address bits of the
current node. At an internal node with control c over bit b:

* both children:  x(b) ccx(c, b, w) x(b) · left · cx(c, w) · right · ccx(c, b, w)
  (the ``cx`` turns c∧¬b into c∧b: Babbush's sibling step);  2 ccx, 1 cx, 2 x;
* left only:      x(b) ccx(c, b, w) · left · ccx(c, b, w) x(b);                     2 ccx, 2 x;
* right only:     ccx(c, b, w) · right · ccx(c, b, w);                              2 ccx.

Without a control qubit the root level uses the address bit itself (``cx``/``x`` instead of ccx).
So a lookup of L contiguous items costs 2(L − 1) Toffolis — Babbush's L − 1 with measurement-free
uncomputation — and sparse items cost two Toffolis per trie node; the work qubits (one per level)
are clean in and out. `UnaryIteration.cost()` counts the trie nodes from the items, independently
of the builder.
"""
from __future__ import annotations

from dataclasses import dataclass

from .cost import Cost

__all__ = ["UnaryIteration", "trie_nodes", "trie_cost", "trie_nodes_bound"]


def _normalize(items, width):
    out = []
    for it in items:
        value, free = (it, 0) if isinstance(it, int) else (int(it[0]), int(it[1]))
        if not 0 <= free <= width or value % (1 << free) or not 0 <= value < (1 << width):
            raise ValueError(f"bad prefix item {(value, free)} for {width} address bits")
        out.append((value, free))
    out.sort()
    for (v1, f1), (v2, _f2) in zip(out, out[1:]):
        if v1 + (1 << f1) > v2:
            raise ValueError("unary iteration items overlap")
    return tuple(out)


def trie_nodes(items, width) -> dict:
    """Internal nodes of the pruned trie by kind: {"both": …, "left": …, "right": …, "root": kind
    of the root node or None}. A node is a prefix of length d (d < depth of some item below it)."""
    items = _normalize(items, width)
    counts = {"both": 0, "left": 0, "right": 0}
    root = None
    for d in range(width):
        # prefixes of length d that still branch (an item below them is deeper than d)
        nodes: dict[int, set] = {}
        for value, free in items:
            if width - free > d:
                prefix = value >> (width - d)
                bit = (value >> (width - d - 1)) & 1
                nodes.setdefault(prefix, set()).add(bit)
        for prefix, bits in nodes.items():
            kind = "both" if len(bits) == 2 else ("left" if 0 in bits else "right")
            if d == 0:
                root = kind
            counts[kind] += 1
    counts["root"] = root
    return counts


def trie_cost(nodes: dict, controlled: bool = True) -> Cost:
    """Gate counts of a trie with nodes {"both", "left", "right", "root"} (module docstring); the
    counts may be SymPy expressions (projections)."""
    both, left, right = nodes["both"], nodes["left"], nodes["right"]
    c = Cost(ccx=2 * (both + left + right), cx=both, x=2 * (both + left))
    if not controlled and nodes.get("root") is not None:
        # the root uses cx instead of ccx (and x on w instead of cx for "both")
        root = {"both": Cost(ccx=-2, cx=2 - 1, x=1), "left": Cost(ccx=-2, cx=2),
                "right": Cost(ccx=-2, cx=2)}[nodes["root"]]
        c = c + root
    return c


def trie_nodes_bound(L, width) -> dict:
    r"""An upper bound on the trie nodes of L items in `width` address bits, for projections: the
    top k = ⌊log₂ L⌋ levels full (2^k − 1 two-child nodes), below them one chain of width − k
    single-child nodes per item (counted as left-only, the dearer kind). Exact for L contiguous
    items with L a power of two and width = log₂ L."""
    L, width = int(L), int(width)
    if L <= 0:
        return {"both": 0, "left": 0, "right": 0, "root": None}
    k = min(width, L.bit_length() - 1)
    return {"both": (1 << k) - 1, "left": L * (width - k), "right": 0,
            "root": "both" if k > 0 else "left"}


@dataclass(frozen=True)
class UnaryIteration:
    """Iterate over `items` (prefix items, module docstring) of a `width`-bit address register."""

    width: int
    items: tuple

    def __init__(self, width: int, items):
        object.__setattr__(self, "width", int(width))
        object.__setattr__(self, "items", _normalize(items, int(width)))

    @property
    def work(self) -> int:
        """Clean work qubits needed: one per trie level below the root that is ever entered."""
        return max((self.width - f for _, f in self.items), default=0)

    def build(self, qc, ctrl, address, work, leaf) -> None:
        """Append the iteration. `address[b]` is address bit b (least significant first), `ctrl` a
        qubit or None, `work` at least `self.work` clean qubits, `leaf(qc, q, item)` appends the
        leaf's operations controlled by qubit q (q is `ctrl` for an item covering everything)."""
        address = list(address)
        work = list(work)
        if len(address) != self.width:
            raise ValueError("address register has the wrong width")
        if len(work) < self.work:
            raise ValueError(f"unary iteration needs {self.work} work qubits, got {len(work)}")
        if not self.items:
            return
        W = self.width

        def rec(c, d, items):
            if len(items) == 1 and W - items[0][1] == d:
                leaf(qc, c, items[0])
                return
            b = address[W - 1 - d]
            w = work[d]
            left = [it for it in items if not (it[0] >> (W - 1 - d)) & 1]
            right = [it for it in items if (it[0] >> (W - 1 - d)) & 1]
            if c is None:  # root without control: the AND is the address bit itself
                if left and right:
                    qc.x(b); qc.cx(b, w); qc.x(b)
                    rec(w, d + 1, left)
                    qc.x(w)
                    rec(w, d + 1, right)
                    qc.cx(b, w)
                elif left:
                    qc.x(b); qc.cx(b, w)
                    rec(w, d + 1, left)
                    qc.cx(b, w); qc.x(b)
                else:
                    qc.cx(b, w)
                    rec(w, d + 1, right)
                    qc.cx(b, w)
                return
            if left and right:
                qc.x(b); qc.ccx(c, b, w); qc.x(b)
                rec(w, d + 1, left)
                qc.cx(c, w)
                rec(w, d + 1, right)
                qc.ccx(c, b, w)
            elif left:
                qc.x(b); qc.ccx(c, b, w)
                rec(w, d + 1, left)
                qc.ccx(c, b, w); qc.x(b)
            else:
                qc.ccx(c, b, w)
                rec(w, d + 1, right)
                qc.ccx(c, b, w)

        rec(ctrl, 0, list(self.items))

    def cost(self, controlled: bool = True) -> Cost:
        """Gate counts of the trie (leaves excluded), from the items alone."""
        return trie_cost(trie_nodes(self.items, self.width), controlled)

    def leaves(self) -> int:
        return len(self.items)
