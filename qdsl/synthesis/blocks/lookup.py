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

* both children:  x(b) And(c, b, w) x(b) · left · cx(c, w) · right · And†(c, b, w)
  (the ``cx`` turns c∧¬b into c∧b: Babbush's sibling step);  1 and, 1 and_dg, 1 cx, 2 x;
* left only:      x(b) And(c, b, w) · left · And†(c, b, w) x(b);           1 and, 1 and_dg, 2 x;
* right only:     And(c, b, w) · right · And†(c, b, w);                    1 and, 1 and_dg.

And is Gidney's temporary AND (4 T), And† its measurement-based uncomputation (an X-basis
measurement and a classically controlled CZ, no T; blocks/and_gate.py); under
`and_gate.unitary_uncompute()` — the default — both are Toffolis. Without a control qubit the root level
uses the address bit itself (``cx``/``x`` instead of And). So a controlled lookup of L contiguous
items costs L − 1 Ands — Babbush's L − 1 Toffolis, Qualtran's L − 1 And — and sparse items one And
per trie node; the work qubits (one per level) are clean in and out. With a promised `domain`
(every address < domain) a one-child node whose other half lies wholly outside the domain passes
its control through without an And, so L contiguous items cost L − 1 Ands for any L. `UnaryIteration.cost()` counts the trie nodes from the items, independently
of the builder.
"""
from __future__ import annotations

from dataclasses import dataclass

from .and_gate import and_compute, and_cost, and_dg_cost, and_uncompute
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


def _passes(prefix: int, d: int, width: int, bits: set, domain) -> bool:
    """A one-child node whose missing half lies wholly at or above `domain` (addresses promised
    below it): its AND would equal its control, so the control passes through, no gate."""
    if domain is None or len(bits) != 1 or 0 not in bits:
        return False
    return ((2 * prefix + 1) << (width - d - 1)) >= domain


def trie_nodes(items, width, domain: int | None = None) -> dict:
    """Internal nodes of the pruned trie by kind: {"both": …, "left": …, "right": …, "root": kind
    of the root node or None, "pass": nodes passed through}. A node is a prefix of length d
    (d < depth of some item below it). With `domain` (addresses promised < domain) a left-only
    node whose right half is wholly out of the domain costs nothing (module docstring)."""
    items = _normalize(items, width)
    counts = {"both": 0, "left": 0, "right": 0, "pass": 0}
    root = None
    chain = True     # every level so far was one passed-through node: the next node is the root
    for d in range(width):
        # prefixes of length d that still branch (an item below them is deeper than d)
        nodes: dict[int, set] = {}
        for value, free in items:
            if width - free > d:
                prefix = value >> (width - d)
                bit = (value >> (width - d - 1)) & 1
                nodes.setdefault(prefix, set()).add(bit)
        for prefix, bits in nodes.items():
            if _passes(prefix, d, width, bits, domain):
                counts["pass"] += 1
                continue
            kind = "both" if len(bits) == 2 else ("left" if 0 in bits else "right")
            if chain and root is None:
                root = kind
            counts[kind] += 1
        chain = chain and root is None and len(nodes) == 1
    counts["root"] = root
    return counts


def trie_cost(nodes: dict, controlled: bool = True) -> Cost:
    """Gate counts of a trie with nodes {"both", "left", "right", "root"} (module docstring); the
    counts may be SymPy expressions (projections)."""
    both, left, right = nodes["both"], nodes["left"], nodes["right"]
    n = both + left + right
    c = and_cost(n) + and_dg_cost(n) + Cost(cx=both, x=2 * (both + left))
    if not controlled and nodes.get("root") is not None:
        # the root uses cx instead of And/And† (and x on w instead of cx for "both")
        pair = and_cost(-1) + and_dg_cost(-1)
        root = {"both": Cost(cx=2 - 1, x=1), "left": Cost(cx=2),
                "right": Cost(cx=2)}[nodes["root"]]
        c = c + pair + root
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
    domain: int | None = None

    def __init__(self, width: int, items, domain: int | None = None):
        """`domain`, when given, promises every address < domain: a node whose other half lies
        wholly at or above it passes its control through (no And) — L contiguous items from 0
        with domain = L cost L − 1 Ands for any L, Babbush's count."""
        object.__setattr__(self, "width", int(width))
        object.__setattr__(self, "items", _normalize(items, int(width)))
        object.__setattr__(self, "domain", None if domain is None else int(domain))

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
            if not right and _passes(items[0][0] >> (W - d), d, W, {0}, self.domain):
                rec(c, d + 1, left)     # the right half is out of the domain: c ∧ ¬b = c
                return
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
                qc.x(b); and_compute(qc, c, b, w); qc.x(b)
                rec(w, d + 1, left)
                qc.cx(c, w)
                rec(w, d + 1, right)
                and_uncompute(qc, c, b, w)
            elif left:
                qc.x(b); and_compute(qc, c, b, w)
                rec(w, d + 1, left)
                and_uncompute(qc, c, b, w); qc.x(b)
            else:
                and_compute(qc, c, b, w)
                rec(w, d + 1, right)
                and_uncompute(qc, c, b, w)

        rec(ctrl, 0, list(self.items))

    def cost(self, controlled: bool = True) -> Cost:
        """Gate counts of the trie (leaves excluded), from the items alone."""
        return trie_cost(trie_nodes(self.items, self.width, self.domain), controlled)

    def leaves(self) -> int:
        return len(self.items)
