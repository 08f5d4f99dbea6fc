r"""Sparse-access block-encoding of any sparse matrix from its nonzeros (GSLW 2019, Lemma 48).

The matrix A (or a family A_k selected by a read-only *class* register: sgd's per-step matrices)
is given by its nonzeros, each column j by an integer **code** on the column register and each row
i by a code on the row register (for the Carleman slots: column (a_1..a_ℓ) ↦ ℓ slots, row b ↦ one
slot; for a square matrix both are the plain index). The nonzeros are split by a proper edge
colouring (`coloring.edge_coloring`) into Δ partial permutations P_c, so A = Σ_c A∘P_c.

Registers: the column register ``col`` (the system), its first ``row_width`` qubits ``row`` (where
the row code lands), a target ``t`` (row_width qubits), the colour register ``c`` and an entry flag
``f``; all of t, c, f are flags (|0⟩ in, post-selected on |0⟩). Circuit, under a control qubit:

1. PREP on c:  Σ_c √(μ_c/α) |c⟩,  μ_c = max |A_e| over the edges of colour c,  α = Σ_c μ_c;
2. f ^= ctrl  (every branch starts failed);
3. column lookup (unary iteration keyed by (class, c, col)): for the edge e of colour c in column
   j: t ^= code(row_e), and RY(−2 asin(A_e/μ_c)) on f, which turns |1⟩ into (A_e/μ_c)|0⟩ + …;
4. row lookup keyed by (c, t): t = code(i) of an edge of colour c ⇒ col ^= code(j_e) (the column
   register is cleared);
5. swap t ↔ row (controlled);  6. PREP† on c.

For input column j and output row i (other column qubits 0, flags 0) exactly one colour c holds the
edge (i, j), so ⟨0,i|U|0,j⟩ = (√(μ_c/α))²·A_ij/μ_c = A_ij/α: a (α, |c|+|t|+1, 0)-block-encoding
with α = Σ_c μ_c ≤ Δ·max|A| — "s·max|a| or better". For a square matrix the colouring that keeps
the diagonal as its own colour is used when its α is smaller: α(I + F₁) ≈ 1 + (off-diagonal
colours) instead of ≈ 2 when König spreads the diagonal over several colours. Branches that miss an edge keep f = 1 (and
possibly junk in t), so they are flagged; a column code that is no column at all (an empty slot,
an unused value) is mapped to a flagged branch, i.e. to 0. With ctrl = |0⟩ nothing but the PREP
pair acts: the identity.

**Entries by phase gradient** (`entry_bits` = b; Gidney 2018, Sanders et al. 2020): instead of a
controlled RY per nonzero, the column lookup also XORs the b-bit code k_e of the entry's half-angle
(RY(θ_e) = RY(4πk_e/2^b), k_e = round(θ_e·2^b/4π)) into a clean register d, one RY on f by the
value of d is applied by adding ±d into a b-qubit phase-gradient register (`phase_gradient`,
b − 2 ANDs), and the column lookup runs again to clear d. The block is then Ã/α, Ã the entries of
the rounded angles (‖Ã − A‖ ≤ α·π/2^b: b = `phase_gradient.entry_bits_for(ε)`); no rotation is
left in the block — the gradient state's b rotations are prepared once per program.

Cost: two preparations, the two tries (`lookup.UnaryIteration`), per column item popcount(row
code) ``cx`` and one controlled RY (2 ``ry`` + 2 ``cx``), per row item popcount(column code)
``cx``, and `row_width` Fredkins — linear in nnz, with no dependence on the matrix dimension
beyond the address widths.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .coloring import edge_coloring
from .cost import Cost
from .lookup import UnaryIteration, trie_cost, trie_nodes
from .phase_gradient import ry_by_register, ry_by_register_cost, ry_by_register_work
from .prepare import PrepareState
from .swap import cswap_cost, cswap_registers

__all__ = ["SparseAccess", "sparse_access_cost", "bits_for"]


def bits_for(n: int) -> int:
    """Qubits to hold the values 0..n−1 (0 for n ≤ 1)."""
    return max(0, (int(n) - 1).bit_length())


def _popcount(x: int) -> int:
    return bin(int(x)).count("1")


@dataclass(frozen=True, eq=False)
class SparseAccess:
    r"""The block-encoding of the module docstring.

    `row_codes`, `col_codes`: codes of the union pattern's nonzeros (E entries each); `values`:
    shape (K, E) — the value of each nonzero in each class (0 where a class lacks it); widths of
    the column code, row code and class register. `square`: rows and columns are codes of the same
    index set (row code i is column code i), so the diagonal may be kept whole as one colour
    (`coloring.edge_coloring(diagonal=True)`); it is, when that gives the smaller α.
    `entry_bits` = b: entries by phase gradient (module docstring) instead of a controlled RY per
    nonzero; the block is then Ã/α with every entry's half-angle rounded to 2π/2^b
    (`rounded_values`, ‖Ã − A‖/α ≤ π/2^b)."""

    row_codes: np.ndarray
    col_codes: np.ndarray
    values: np.ndarray
    col_width: int
    row_width: int
    class_width: int = 0
    colors: np.ndarray = None
    num_colors: int = 0
    mu: np.ndarray = None
    entry_bits: int | None = None

    def __init__(self, row_codes, col_codes, values, *, col_width: int, row_width: int,
                 class_width: int = 0, square: bool = False, entry_bits: int | None = None):
        r = np.asarray(row_codes, dtype=np.int64).ravel()
        c = np.asarray(col_codes, dtype=np.int64).ravel()
        v = np.atleast_2d(np.asarray(values, dtype=float))
        if v.shape[1] != r.size or r.size != c.size:
            raise ValueError("row codes, column codes and values disagree in length")
        if v.shape[0] > (1 << class_width):
            raise ValueError("more classes than the class register holds")
        if r.size and (r.max() >= 1 << row_width or c.max() >= 1 << col_width or min(r.min(), c.min()) < 0):
            raise ValueError("a code does not fit its register")
        if len(set(zip(r.tolist(), c.tolist()))) != r.size:
            raise ValueError("duplicate nonzeros")
        if row_width > col_width:
            raise ValueError("the row code must fit inside the column register")
        keep = np.any(v != 0, axis=0)
        r, c, v = r[keep], c[keep], v[:, keep]

        def colour(diagonal):
            colors, deg = edge_coloring(r, c, diagonal=diagonal)
            mu = np.array([np.max(np.abs(v[:, colors == k])) for k in range(deg)])
            return colors, deg, mu

        colors, deg, mu = colour(False)
        if square:   # the diagonal as its own colour where that lowers α (coloring.py)
            alt = colour(True)
            if float(np.sum(alt[2])) < float(np.sum(mu)):
                colors, deg, mu = alt
        for name, val in (("row_codes", r), ("col_codes", c), ("values", v), ("col_width", int(col_width)),
                          ("row_width", int(row_width)), ("class_width", int(class_width)),
                          ("colors", colors), ("num_colors", int(deg)), ("mu", mu),
                          ("entry_bits", None if entry_bits is None else int(entry_bits))):
            object.__setattr__(self, name, val)

    # -- description ----------------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """Subnormalization Σ_c μ_c (≤ Δ·max|A|)."""
        return float(np.sum(self.mu))

    @property
    def color_width(self) -> int:
        return bits_for(self.num_colors)

    @property
    def nnz(self) -> int:
        return int(self.row_codes.size)

    def _prep(self):
        return PrepareState(np.sqrt(self.mu), self.color_width) if self.color_width else None

    def _col_items(self):
        """{(address value): (row code, angle)}: address = col + (colour + class·2^cw)·2^{w_col}."""
        cw, wc = self.color_width, self.col_width
        items = {}
        for k in range(self.values.shape[0]):
            for e in np.flatnonzero(self.values[k]):
                addr = int(self.col_codes[e]) + ((int(self.colors[e]) + (k << cw)) << wc)
                theta = -2.0 * float(np.arcsin(np.clip(self.values[k, e] / self.mu[self.colors[e]], -1, 1)))
                items[addr] = (int(self.row_codes[e]), theta)
        return items

    def _angle_code(self, theta: float) -> int:
        """k with RY(4πk/2^b) ≈ RY(θ): k = round(θ·2^b/(4π)) mod 2^b."""
        b = self.entry_bits
        return int(round(theta * (1 << b) / (4 * np.pi))) % (1 << b)

    def rounded_values(self) -> np.ndarray:
        """The entries the block encodes (shape (K, E)): the values themselves, or with
        `entry_bits` the values of the rounded angles, μ_c·sin(−θ̃/2), θ̃ = 4πk/2^b."""
        if self.entry_bits is None:
            return self.values
        out = np.zeros_like(self.values)
        for k in range(self.values.shape[0]):
            for e in np.flatnonzero(self.values[k]):
                mu = self.mu[self.colors[e]]
                theta = -2.0 * float(np.arcsin(np.clip(self.values[k, e] / mu, -1, 1)))
                th = 4 * np.pi * self._angle_code(theta) / (1 << self.entry_bits)
                out[k, e] = -mu * np.sin(th / 2)
        return out

    def _row_items(self):
        wr = self.row_width
        return {int(self.row_codes[e]) + (int(self.colors[e]) << wr): int(self.col_codes[e])
                for e in range(self.nnz)}

    def _tries(self):
        col = UnaryIteration(self.class_width + self.color_width + self.col_width, list(self._col_items()))
        row = UnaryIteration(self.color_width + self.row_width, list(self._row_items()))
        return col, row

    @property
    def flags(self) -> int:
        """Flag qubits: t (row_width) + colour + f."""
        return self.row_width + self.color_width + 1

    @property
    def work(self) -> int:
        """Clean work qubits: the tries' (and, with entry_bits, b angle qubits before them plus
        the adder's b − 1 carry qubits, which reuse the tries' qubits)."""
        col, row = self._tries()
        if self.entry_bits is None:
            return max(col.work, row.work)
        return self.entry_bits + max(col.work, row.work, ry_by_register_work(self.entry_bits))

    # -- the circuit ----------------------------------------------------------------------------
    def build(self, qc, col, t, color, f, work, ctrl=None, klass=(), gradient=()) -> None:
        """Append the block-encoding: `col` the column register (its first row_width qubits are the
        row register), `t`, `color`, `f` the flags, `work` clean work qubits, `klass` the class
        register (read-only), `ctrl` a control qubit or None; with entry_bits, `gradient` the
        b-qubit phase-gradient register (`phase_gradient.prepare_gradient`, left unchanged)."""
        col, t, color, klass = list(col), list(t), list(color), list(klass)
        if (len(col), len(t), len(color), len(klass)) != (self.col_width, self.row_width,
                                                           self.color_width, self.class_width):
            raise ValueError("register widths do not match the block")
        prep = self._prep()
        if prep is not None:
            prep.build(qc, color)
        if ctrl is None:
            qc.x(f)
        else:
            qc.cx(ctrl, f)
        col_items, row_items = self._col_items(), self._row_items()
        col_trie, row_trie = self._tries()

        def col_leaf(qc, q, item):
            code, theta = col_items[item[0]]
            for b in range(self.row_width):
                if (code >> b) & 1:
                    qc.cx(q, t[b])
            qc.ry(theta / 2, f)
            qc.cx(q, f)
            qc.ry(-theta / 2, f)
            qc.cx(q, f)

        def row_leaf(qc, q, item):
            code = row_items[item[0]]
            for b in range(self.col_width):
                if (code >> b) & 1:
                    qc.cx(q, col[b])

        if self.entry_bits is None:
            col_trie.build(qc, ctrl, col + color + klass, work, col_leaf)
        else:   # load the angle codes with the row codes, rotate by phase gradient, unload
            b = self.entry_bits
            d, work = list(work[:b]), list(work[b:])
            gradient = list(gradient)
            if len(gradient) != b:
                raise ValueError(f"entries by phase gradient need a {b}-qubit gradient register")

            def load(qc, q, item, rows=True):
                code, theta = col_items[item[0]]
                if rows:
                    for j in range(self.row_width):
                        if (code >> j) & 1:
                            qc.cx(q, t[j])
                k = self._angle_code(theta)
                for j in range(b):
                    if (k >> j) & 1:
                        qc.cx(q, d[j])

            col_trie.build(qc, ctrl, col + color + klass, work, load)
            ry_by_register(qc, f, d, gradient, work)
            col_trie.build(qc, ctrl, col + color + klass, work,
                           lambda qc, q, item: load(qc, q, item, rows=False))
        row_trie.build(qc, ctrl, t + color, work, row_leaf)
        row = col[: self.row_width]
        if ctrl is None:
            for a, b in zip(t, row):
                qc.cx(b, a); qc.cx(a, b); qc.cx(b, a)
        else:
            cswap_registers(qc, ctrl, t, row)
        if prep is not None:
            prep.build_inverse(qc, color)

    def stats(self) -> dict:
        """The sizes the cost depends on, exact from the nonzeros (`sparse_access_cost`)."""
        col_items, row_items = self._col_items(), self._row_items()
        col_trie, row_trie = self._tries()
        prep = self._prep()
        return {"col_nodes": trie_nodes(col_trie.items, col_trie.width),
                "row_nodes": trie_nodes(row_trie.items, row_trie.width),
                "col_items": len(col_items), "row_bits": sum(_popcount(c) for c, _ in col_items.values()),
                "col_bits": sum(_popcount(c) for c in row_items.values()), "row_width": self.row_width,
                "prep": prep.cost() if prep is not None else Cost(),
                "entry_bits": self.entry_bits,
                "angle_bits": (None if self.entry_bits is None else
                               sum(_popcount(self._angle_code(th)) for _, th in col_items.values()))}

    def cost(self, controlled: bool = True) -> Cost:
        """Gate counts (exact, from the nonzeros; see the module docstring)."""
        return sparse_access_cost(self.stats(), controlled)


def sparse_access_cost(st: dict, controlled: bool = True) -> Cost:
    r"""Gate counts of a sparse-access block-encoding from its sizes `st`: the two tries
    (`col_nodes`, `row_nodes`), per column item popcount(row code) CNOTs (`row_bits` in all) and a
    controlled RY, per row item popcount(column code) CNOTs (`col_bits`), the flag flip, the
    `row_width` Fredkins and the colour preparation twice (`prep`). Sizes may be symbolic."""
    c = trie_cost(st["col_nodes"], controlled) + trie_cost(st["row_nodes"], controlled)
    if st.get("entry_bits") is None:
        c += Cost(cx=st["row_bits"] + 2 * st["col_items"], ry=2 * st["col_items"])
    else:   # the column trie twice (load, unload), the angle bits twice, one register rotation
        c += trie_cost(st["col_nodes"], controlled) + Cost(cx=st["row_bits"] + 2 * st["angle_bits"])
        c += ry_by_register_cost(st["entry_bits"])
    c += Cost(cx=st["col_bits"])
    c += Cost(cx=1) if controlled else Cost(x=1)
    c += cswap_cost(st["row_width"]) if controlled else Cost(cx=3 * st["row_width"])
    return c + 2 * st["prep"]

    def matrix(self, klass: int = 0):
        """The encoded matrix (times α) on codes: a dict {(row code, col code): value}."""
        return {(int(r), int(c)): float(v) for r, c, v in
                zip(self.row_codes, self.col_codes, self.values[klass]) if v != 0}

