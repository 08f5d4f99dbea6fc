r"""Carleman lowering: PolynomialSystem → CarlemanSystem (SPEC §3).

The lift is y = (1, u, u^{⊗2}, …, u^{⊗N}) — the constant first, then u_0..u_{n−1}.

**Discrete** (gd, sgd), G(u) = u + Σ_ℓ F_ℓ u^{⊗ℓ}: block row j of the transfer matrix M is the
expansion of G(u)^{⊗j} truncated at total degree N,

    M_{j,k} = Σ_{ℓ1+…+ℓj = k} G_{ℓ1} ⊗ … ⊗ G_{ℓj},   G_1 = I + F_1,  G_ℓ = F_ℓ (ℓ ≠ 1, G_0 = F_0),

(arXiv:2303.03428, Methods), and the constant row maps to itself.

**Continuous** (flow): the PNAS generator (Liu et al., PNAS 118 (2021), Eq. 9), for any degree q,

    A_{j, j+ℓ−1} = Σ_{p=1..j} I^{⊗(p−1)} ⊗ F_ℓ ⊗ I^{⊗(j−p)},   ℓ = 0..q,  truncated at N,

then one forward-Euler step M = I + dt·A.

Two bases: ``kronecker`` (dimension Σ_{j≤N} n^j, component (a1..aj) of block j at offset_j +
((a1·n + a2)·n + …)) and ``symmetric`` (the monomials u^α, |α| ≤ N, dimension C(n+N, N), ordered
by degree, then lexicographically by the sorted index tuple (a1 ≤ … ≤ ad) — the constant first,
then u_0..u_{n−1}). The symmetric system is the exact reduction of the Kronecker one to the
symmetric subspace, so both give the same trajectories.

Every matrix is assembled from index arrays in bulk (COO/CSR), never entry by entry; the sizes are
estimated from the inputs *before* anything is built (`estimate_size`) and requests over the limit
raise `SizeLimitError` (E0401).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..diagnostics import Diagnostic, SizeLimitError

BASES = ("kronecker", "symmetric")
DEFAULT_MAX_DIM = 20_000_000      # sized for a 24 GiB machine: CSR at ~12 B/nonzero
DEFAULT_MAX_NNZ = 300_000_000


# ---------------------------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------------------------
def carleman_dimension(n: int, order: int, basis: str = "kronecker") -> int:
    """Σ_{j=0..N} n^j (kronecker) or C(n+N, N) (symmetric)."""
    if basis == "kronecker":
        return sum(n ** j for j in range(order + 1))
    return math.comb(n + order, order)


def estimate_size(n: int, q: int, order: int, basis: str = "kronecker", kind: str = "flow", *,
                  nnz=None) -> tuple[int, int]:
    r"""(dimension, upper bound on the number of stored entries), computed without building.

    `nnz[ℓ]` is the number of nonzeros of F_ℓ (default: dense, n·n^ℓ). Continuous: block row j
    receives j·n^{j−1}·nnz(F_ℓ) entries from each F_ℓ with j+ℓ−1 ≤ N (kronecker; symmetric:
    j·C(n+j−1, j)/n·nnz(F_ℓ)), plus the diagonal. Discrete: block row j holds at most the
    coefficients of (Σ_ℓ g_ℓ x^ℓ)^j of degree ≤ N, g_ℓ = nnz(G_ℓ), capped by the row count times
    the dimension.
    """
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}")
    N = int(order)
    dim = carleman_dimension(n, N, basis)
    if nnz is None:
        nnz = [n * n ** l for l in range(q + 1)]
    nnz = [int(v) for v in nnz] + [0] * max(0, q + 1 - len(nnz))
    total = 1 + dim  # constant row + a diagonal
    for j in range(1, N + 1):
        rows = n ** j if basis == "kronecker" else math.comb(n + j - 1, j)
        if kind == "flow":
            for l, z in enumerate(nnz):
                if j + l - 1 <= N:
                    total += (j * rows * z) // n + (1 if z else 0)
        else:
            g = list(nnz)
            if len(g) < 2:
                g += [0] * (2 - len(g))
            g[1] += n  # the identity in G_1
            # (Σ g_ℓ x^ℓ)^j truncated at degree N, per row of u^{⊗j} (g_ℓ / n entries per row)
            poly = np.zeros(N + 1, dtype=object)
            poly[0] = 1
            per_row = [math.ceil(v / n) for v in g]
            for _ in range(j):
                new = np.zeros(N + 1, dtype=object)
                for a in range(N + 1):
                    if poly[a]:
                        for l, z in enumerate(per_row):
                            if a + l <= N and z:
                                new[a + l] += poly[a] * z
                poly = new
            total += rows * min(int(sum(poly)), dim)
    return dim, int(total)


def _limits(max_dim, max_nnz):
    if max_dim is None:
        max_dim = int(float(os.environ.get("QDSL_MAX_DIM", DEFAULT_MAX_DIM)))
    if max_nnz is None:
        max_nnz = int(float(os.environ.get("QDSL_MAX_NNZ", DEFAULT_MAX_NNZ)))
    return int(max_dim), int(max_nnz)


def check_size(n: int, q: int, order: int, basis: str, kind: str, *, nnz=None, max_dim=None,
               max_nnz=None) -> tuple[int, int]:
    """Raise SizeLimitError (E0401) when the Carleman system would exceed the limits."""
    max_dim, max_nnz = _limits(max_dim, max_nnz)
    dim, bound = estimate_size(n, q, order, basis, kind, nnz=nnz)
    if dim <= max_dim and bound <= max_nnz:
        return dim, bound
    sym = carleman_dimension(n, order, "symmetric")
    lower = [N for N in range(order - 1, 0, -1)
             if estimate_size(n, q, N, basis, kind, nnz=nnz)[0] <= max_dim
             and estimate_size(n, q, N, basis, kind, nnz=nnz)[1] <= max_nnz]
    if dim > max_dim:
        what = f"Carleman dimension {dim:,} (n = {n}, order {order}, basis {basis}) exceeds the limit {max_dim:,}"
    else:
        what = (f"Carleman matrix would hold up to {bound:,} nonzeros (n = {n}, order {order}, basis "
                f"{basis}), over the limit {max_nnz:,}")
    hints = []
    if basis == "kronecker" and sym < dim:
        hints.append(f"use `carleman order {order} basis symmetric` (dimension {sym:,})")
    if lower:
        hints.append(f"a lower order (order {lower[0]} fits)")
    else:
        hints.append("a lower order")
    hints.append("or raise the limit with QDSL_MAX_NNZ / QDSL_MAX_DIM")
    raise SizeLimitError(Diagnostic("E0401", what, help=", ".join(hints)))


# ---------------------------------------------------------------------------------------------
# monomials (symmetric basis)
# ---------------------------------------------------------------------------------------------
class _Monomials:
    r"""The monomials of degree ≤ N in n variables as sorted index tuples, and their ranking.

    Tuples are padded with the sentinel n (sorts last). Within degree d the lexicographic rank of
    a1 ≤ … ≤ ad is Σ_i [C(n−a_{i−1}+m, m+1) − C(n−a_i+m, m+1)], m = d−i, a_0 = 0 (hockey-stick
    sum of the counts of the skipped subtrees); the global index adds C(n+d−1, d−1).
    """

    def __init__(self, n: int, N: int):
        self.n, self.N = n, N
        top = n + N + 2
        tab = np.zeros((top + 1, N + 3), dtype=np.int64)
        for x in range(top + 1):
            for m in range(N + 3):
                tab[x, m] = math.comb(x, m) if math.comb(x, m) < 2 ** 62 else 2 ** 62
        self.binom = tab
        self.offsets = np.array([math.comb(n + d - 1, d - 1) if d > 0 else 0
                                 for d in range(N + 2)], dtype=np.int64)
        self._tuples = {0: np.zeros((1, 0), dtype=np.int64)}
        self._parent = {0: np.zeros(0, dtype=np.int64)}

    def tuples(self, d: int) -> np.ndarray:
        """All degree-d tuples in order, shape (C(n+d−1, d), d)."""
        if d not in self._tuples:
            prev = self.tuples(d - 1)
            last = prev[:, -1] if d > 1 else np.zeros(1, dtype=np.int64)
            counts = self.n - last
            parent = np.repeat(np.arange(prev.shape[0]), counts)
            starts = np.cumsum(counts) - counts
            v = last[parent] + (np.arange(parent.size) - starts[parent])
            self._tuples[d] = np.concatenate([prev[parent], v[:, None]], axis=1)
            self._parent[d] = parent
        return self._tuples[d]

    def parent(self, d: int) -> np.ndarray:
        self.tuples(d)
        return self._parent[d]

    def rank(self, t: np.ndarray) -> np.ndarray:
        """Global indices of sorted, sentinel-padded tuples t (shape (M, W))."""
        n = self.n
        t = np.asarray(t, dtype=np.int64)
        M, W = t.shape
        deg = (t < n).sum(axis=1)
        out = self.offsets[np.minimum(deg, self.N + 1)].copy()
        lo = np.zeros(M, dtype=np.int64)
        for i in range(W):
            hi = t[:, i]
            valid = i < deg
            m = np.where(valid, deg - i - 1, 0)
            hi_c = np.where(valid, hi, lo)
            out += np.where(valid, self.binom[n - lo + m, m + 1] - self.binom[n - hi_c + m, m + 1], 0)
            lo = hi_c
        return out

    def table(self) -> np.ndarray:
        """All monomials of degree ≤ N as padded tuples, shape (dim, N), in index order."""
        rows = []
        for d in range(self.N + 1):
            t = self.tuples(d)
            rows.append(np.concatenate([t, np.full((t.shape[0], self.N - d), self.n)], axis=1))
        return np.concatenate(rows, axis=0)


def _digits(idx: np.ndarray, n: int, width: int) -> np.ndarray:
    """Base-n digits (most significant first) of kron-order indices, shape (M, width)."""
    idx = np.asarray(idx, dtype=np.int64)
    out = np.empty((idx.size, width), dtype=np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = idx % n
        idx = idx // n
    return out


def _poly_rows(F: tuple, n: int, mono: _Monomials) -> sp.csr_matrix:
    """Σ_ℓ F_ℓ u^{⊗ℓ} as polynomials: an n × dim_sym(q) CSR over monomial indices (coefficients of
    all permutations of a column summed, so any tensor convention gives the same polynomial)."""
    rows, cols, vals = [], [], []
    W = mono.N
    for l, f in enumerate(F):
        if f.nnz == 0 or l > mono.N:
            continue
        c = f.tocoo()
        t = np.sort(_digits(c.col, n, l), axis=1)
        t = np.concatenate([t, np.full((t.shape[0], W - l), n)], axis=1)
        rows.append(c.row.astype(np.int64))
        cols.append(mono.rank(t))
        vals.append(c.data)
    dim = math.comb(n + mono.N, mono.N)
    if not rows:
        return sp.csr_matrix((n, dim))
    m = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n, dim))
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


# ---------------------------------------------------------------------------------------------
# the assembled system
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CarlemanSystem:
    """The Carleman-linearized system: y_{t+1} ≈ M_t y_t on y = lift(u).

    Attributes: `matrix` (M, CSR D × D; sgd: step 0), `matrices` (one M per step for sgd, else
    (matrix,)), `generator` (flow: A with matrix = I + dt·A; None for discrete kinds), `basis`,
    `order` (N), `n`, `kind`, `dt`, `expansion_point`, `x0` (u_0), `names`.
    """

    matrix: sp.csr_matrix
    matrices: tuple
    generator: sp.csr_matrix | None
    basis: str
    order: int
    n: int
    kind: str
    dt: float | None
    expansion_point: np.ndarray
    x0: np.ndarray
    names: tuple = ()
    meta: dict = field(default_factory=dict)

    # -- the index of each lifted component ------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def const_index(self) -> int:
        return 0

    @property
    def linear_index(self) -> np.ndarray:
        """Index of u_i in the lift (1..n in both bases)."""
        return np.arange(1, self.n + 1)

    @property
    def steps(self) -> int:
        return len(self.matrices)

    def _mono(self) -> _Monomials:
        if "_mono" not in self.meta:
            self.meta["_mono"] = _Monomials(self.n, self.order)
        return self.meta["_mono"]

    def block_offsets(self) -> np.ndarray:
        """Start index of each degree block j = 0..N (and the end)."""
        n, N = self.n, self.order
        if self.basis == "kronecker":
            sizes = [n ** j for j in range(N + 1)]
        else:
            sizes = [math.comb(n + j - 1, j) for j in range(N + 1)]
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def degree_of(self, index: int) -> int:
        return int(np.searchsorted(self.block_offsets(), index, side="right") - 1)

    def component_indices(self, index: int) -> tuple[int, ...]:
        """The variables (a1, …, aj) of component `index`: u_{a1}⊗…⊗u_{aj} (kronecker) or the
        monomial u_{a1}⋯u_{aj}, a1 ≤ … ≤ aj (symmetric); () is the constant."""
        if not 0 <= index < self.dim:
            raise IndexError(index)
        j = self.degree_of(index)
        local = int(index - self.block_offsets()[j])
        if self.basis == "kronecker":
            return tuple(int(a) for a in _digits(np.array([local]), self.n, j)[0])
        return tuple(int(a) for a in self._mono().tuples(j)[local])

    def component(self, index: int) -> tuple[int, ...]:
        """The exponent vector α (length n) of component `index`: y[index] = u^α."""
        alpha = [0] * self.n
        for a in self.component_indices(index):
            alpha[a] += 1
        return tuple(alpha)

    def index_of(self, indices) -> int:
        """Inverse of `component_indices` (for the symmetric basis, any order of the variables)."""
        indices = [int(a) for a in indices]
        j = len(indices)
        off = int(self.block_offsets()[j])
        if self.basis == "kronecker":
            k = 0
            for a in indices:
                k = k * self.n + a
            return off + k
        t = np.array([sorted(indices) + [self.n] * (self.order - j)], dtype=np.int64)
        return int(self._mono().rank(t)[0])

    def label(self, index: int) -> str:
        """A readable name of a component: '1', 'x', 'x*y', 'x^2' (symmetric) or 'x⊗y'."""
        idx = self.component_indices(index)
        if not idx:
            return "1"
        names = self.names or tuple(f"u[{i}]" for i in range(self.n))
        if self.basis == "kronecker":
            return "⊗".join(names[a] for a in idx)
        alpha = self.component(index)
        return "*".join(names[a] if e == 1 else f"{names[a]}^{e}" for a, e in enumerate(alpha) if e)

    # -- lifting ---------------------------------------------------------------------------
    def lift(self, u) -> np.ndarray:
        """y = (1, u, u^{⊗2}, …, u^{⊗N}) in this basis."""
        u = np.asarray(u, dtype=float).ravel()
        if u.size != self.n:
            raise ValueError(f"lift expects {self.n} values, got {u.size}")
        parts = [np.ones(1)]
        if self.basis == "kronecker":
            cur = np.ones(1)
            for _ in range(self.order):
                cur = np.multiply.outer(cur, u).ravel()
                parts.append(cur)
        else:
            mono = self._mono()
            for d in range(1, self.order + 1):
                parts.append(np.prod(u[mono.tuples(d)], axis=1))
        return np.concatenate(parts)

    def project(self, y) -> np.ndarray:
        """u read from a lifted vector (the linear components divided by the constant)."""
        y = np.asarray(y)
        return np.real(y[self.linear_index] / y[self.const_index])

    def step(self, y, t: int = 0) -> np.ndarray:
        M = self.matrices[t] if len(self.matrices) > 1 else self.matrix
        return M @ y

    # -- invariants and dump ---------------------------------------------------------------
    def verify(self) -> None:
        """Shapes, finiteness, the constant row (M[0] = e_0), M = I + dt·A for flows."""
        D = carleman_dimension(self.n, self.order, self.basis)
        if self.matrix is not self.matrices[0]:
            raise ValueError("matrix must be matrices[0]")
        for M in self.matrices:
            if M.shape != (D, D):
                raise ValueError(f"transfer matrix has shape {M.shape}, expected {(D, D)}")
            if M.nnz and not np.all(np.isfinite(M.data)):
                raise ValueError("transfer matrix has non-finite entries")
            r0 = M.getrow(0)
            if r0.nnz != 1 or r0.indices[0] != 0 or r0.data[0] != 1.0:
                raise ValueError("the constant component must map to itself")
        if self.kind == "flow":
            if self.generator is None or self.generator.shape != (D, D):
                raise ValueError("a flow needs its generator A")
            if D <= 200_000:
                diff = self.matrix - (sp.identity(D, format="csr") + self.dt * self.generator)
                if diff.nnz and np.max(np.abs(diff.data)) > 1e-12 * (1 + np.max(np.abs(self.matrix.data))):
                    raise ValueError("matrix != I + dt·generator")
        elif self.generator is not None:
            raise ValueError("a discrete system has no generator")

    def dump(self, limit: int = 200) -> str:
        """Deterministic text: header, then the first `limit` nonzeros of M with component labels."""
        M = self.matrix
        lines = [f"CarlemanSystem kind={self.kind} basis={self.basis} order={self.order} n={self.n} "
                 f"dim={self.dim} nnz={M.nnz} steps={len(self.matrices)}"
                 + (f" dt={self.dt:.12g}" if self.dt is not None else "")]
        c = M.tocoo()
        order = np.lexsort((c.col, c.row))[:limit]
        for k in order:
            r, col = int(c.row[k]), int(c.col[k])
            lines.append(f"  [{r}, {col}] {float(c.data[k]):.12g}   {self.label(r)} <- {self.label(col)}")
        if M.nnz > limit:
            lines.append(f"  ... {M.nnz - limit} more")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"order": self.order, "basis": self.basis, "dim": self.dim, "nnz": int(self.matrix.nnz)}


# ---------------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------------
def carleman(system, order: int, basis: str = "kronecker", *, step: int | None = None,
             max_dim: int | None = None, max_nnz: int | None = None) -> CarlemanSystem:
    r"""Lower a PolynomialSystem to its order-N Carleman system (see the module docstring).

    sgd builds one transfer matrix per step (from `system.step_F`); `step=t` builds only step t's.
    Raises SizeLimitError (E0401) before building when the estimate exceeds `max_dim`/`max_nnz`
    (defaults 2·10^7 and 3·10^8, or QDSL_MAX_DIM / QDSL_MAX_NNZ).
    """
    N = int(order)
    if N < 1:
        raise ValueError("the Carleman order must be at least 1")
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, not {basis!r}")
    n, kind = system.n, system.kind
    if step is not None:
        Fsets = [system.F_at(step)]
    elif kind == "sgd" and system.step_F is not None:
        Fsets = [system.step_F[t] for t in range(system.dynamics.steps)]
    else:
        Fsets = [system.F]
    q = max(len(F) for F in Fsets) - 1
    nnz = [max((F[l].nnz if l < len(F) else 0) for F in Fsets) for l in range(q + 1)]
    check_size(n, q, N, basis, "flow" if kind == "flow" else "discrete", nnz=nnz,
               max_dim=max_dim, max_nnz=max_nnz)
    mono = _Monomials(n, N) if basis == "symmetric" else None
    generator = None
    dt = system.dynamics.dt if kind == "flow" else None
    if kind == "flow":
        A = _continuous(Fsets[0], n, N, basis, mono)
        M = _identity_plus(A, dt)
        generator = A
        mats = (M,)
    else:
        mats = tuple(_discrete(F, n, N, basis, mono) for F in Fsets)
    meta = {"_mono": mono} if mono is not None else {}
    car = CarlemanSystem(mats[0], mats, generator, basis, N, n, kind, dt,
                         np.asarray(system.expansion_point, float), np.asarray(system.x0, float),
                         tuple(system.names), meta)
    return car


def _identity_plus(A: sp.csr_matrix, dt: float) -> sp.csr_matrix:
    """I + dt·A, keeping the constant row exactly e_0."""
    D = A.shape[0]
    M = (A * dt + sp.identity(D, format="csr")).tocsr()
    M.sum_duplicates()
    M.eliminate_zeros()
    return M


def _csr(rows, cols, vals, shape) -> sp.csr_matrix:
    """Canonical CSR (duplicates summed, zeros dropped) from concatenated COO pieces."""
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        v = np.concatenate(vals)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    m = sp.csr_matrix((v, (r, c)), shape=shape)
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def _continuous(F, n: int, N: int, basis: str, mono) -> sp.csr_matrix:
    if basis == "kronecker":
        return _continuous_kron(F, n, N)
    return _continuous_sym(F, n, N, mono)


def _continuous_kron(F, n: int, N: int) -> sp.csr_matrix:
    r"""A from the COO of each F_ℓ: the term I^{⊗(p−1)}⊗F_ℓ⊗I^{⊗(j−p)} has entries
    row = (a·n + r)·n^s + b, col = (a·n^ℓ + c)·n^s + b for a < n^{p−1}, b < n^s, s = j − p."""
    offs = np.concatenate([[0], np.cumsum([n ** j for j in range(N + 1)])]).astype(np.int64)
    D = int(offs[-1])
    rows, cols, vals = [], [], []
    for l, f in enumerate(F):
        if f.nnz == 0:
            continue
        c = f.tocoo()
        r0, c0, v0 = c.row.astype(np.int64), c.col.astype(np.int64), c.data
        for j in range(max(1, 1 - l), N + 1):
            k = j + l - 1
            if k > N or k < 0:
                continue
            for p in range(1, j + 1):
                s = j - p
                a = np.arange(n ** (p - 1))[:, None, None]
                b = np.arange(n ** s)[None, None, :]
                rr = ((a * n + r0[None, :, None]) * n ** s + b).ravel()
                cc = ((a * n ** l + c0[None, :, None]) * n ** s + b).ravel()
                rows.append(offs[j] + rr)
                cols.append(offs[k] + cc)
                vals.append(np.broadcast_to(v0[None, :, None], (a.shape[0], v0.size, b.shape[2])).ravel())
    return _csr(rows, cols, vals, (D, D))


def _continuous_sym(F, n: int, N: int, mono: _Monomials) -> sp.csr_matrix:
    r"""d/dt u^α = Σ_i α_i u^{α−e_i} f_i(u): for each position p of the tuple of α, replace a_p by
    each monomial β of f_{a_p} (degree |α|−1+|β| ≤ N kept)."""
    P = _poly_rows(F, n, mono)  # n × dim
    table = mono.table()
    pdeg = (table[:, :] < n).sum(axis=1)
    D = math.comb(n + N, N)
    rows, cols, vals = [], [], []
    cnt_all = np.diff(P.indptr)
    for d in range(1, N + 1):
        T = mono.tuples(d)
        R = T.shape[0]
        base = mono.offsets[d]
        for p in range(d):
            v = T[:, p]
            cnt = cnt_all[v]
            tot = int(cnt.sum())
            if tot == 0:
                continue
            rr = np.repeat(np.arange(R), cnt)
            starts = np.cumsum(cnt) - cnt
            e = P.indptr[v[rr]] + (np.arange(tot) - starts[rr])
            beta = P.indices[e]
            keep = d - 1 + pdeg[beta] <= N
            rr, beta, coef = rr[keep], beta[keep], P.data[e][keep]
            rest = np.delete(T, p, axis=1)[rr]
            t = np.concatenate([rest, table[beta]], axis=1)
            t.sort(axis=1)
            rows.append(base + rr)
            cols.append(mono.rank(t[:, :N]) if t.shape[1] >= N else
                        mono.rank(np.concatenate([t, np.full((t.shape[0], N - t.shape[1]), n)], 1)))
            vals.append(coef)
    return _csr(rows, cols, vals, (D, D))


def _discrete(F, n: int, N: int, basis: str, mono) -> sp.csr_matrix:
    r"""Rows of degree j are G(u)^{⊗j} (kronecker) or G(u)^α (symmetric), built recursively as
    P_j = P_{j−1}·G_v: each child row (parent, v) multiplies the parent's polynomial by G_v's and
    keeps the products of degree ≤ N."""
    if basis == "kronecker":
        offs = np.concatenate([[0], np.cumsum([n ** j for j in range(N + 1)])]).astype(np.int64)
        D = int(offs[-1])
        # G as n × D rows over the lift: G_ℓ in block ℓ, plus the identity in block 1
        rows, cols, vals = [np.arange(n)], [offs[1] + np.arange(n)], [np.ones(n)]
        for l, f in enumerate(F):
            if l > N or f.nnz == 0:
                continue
            c = f.tocoo()
            rows.append(c.row.astype(np.int64)); cols.append(offs[l] + c.col); vals.append(c.data)
        G = _csr(rows, cols, vals, (n, D))
        gdeg = np.searchsorted(offs, G.indices, side="right") - 1
        glocal = G.indices - offs[gdeg]
        blocks = [sp.csr_matrix(([1.0], ([0], [0])), shape=(1, D))]
        P = blocks[0]
        for j in range(1, N + 1):
            R = P.shape[0]
            parent = np.repeat(np.arange(R), n)
            v = np.tile(np.arange(n), R)
            P = _multiply_rows(P, parent, v, G, gdeg, glocal, N, D,
                               combine=lambda c1, d1, c2, d2: (offs[d1 + d2] + (c1 - offs[d1])
                                                               * np.power(n, d2) + c2),
                               deg_of=lambda c: np.searchsorted(offs, c, side="right") - 1)
            blocks.append(P)
        return sp.vstack(blocks, format="csr")
    # symmetric
    D = math.comb(n + N, N)
    table = mono.table()
    P1 = _poly_rows(F, n, mono)
    G = (P1 + sp.csr_matrix((np.ones(n), (np.arange(n), 1 + np.arange(n))), shape=(n, D))).tocsr()
    G.sum_duplicates()
    G.eliminate_zeros()
    gdeg = (table[G.indices] < n).sum(axis=1)

    def combine(c1, d1, c2, d2):
        t = np.concatenate([table[c1], table[c2]], axis=1)
        t.sort(axis=1)
        return mono.rank(t[:, :N])

    blocks = [sp.csr_matrix(([1.0], ([0], [0])), shape=(1, D))]
    P = blocks[0]
    for j in range(1, N + 1):
        T = mono.tuples(j)
        P = _multiply_rows(P, mono.parent(j), T[:, -1], G, gdeg, G.indices, N, D, combine=combine,
                           deg_of=lambda c: (table[c] < n).sum(axis=1))
        blocks.append(P)
    return sp.vstack(blocks, format="csr")


def _multiply_rows(P, parent, v, G, gdeg, gcol, N, D, combine, deg_of):
    """Child rows: row c = P[parent[c]] · G[v[c]] (polynomial product truncated at degree N)."""
    pcnt = np.diff(P.indptr)
    gcnt = np.diff(G.indptr)
    cnt = pcnt[parent] * gcnt[v]
    tot = int(cnt.sum())
    R = parent.size
    if tot == 0:
        return sp.csr_matrix((R, D))
    child = np.repeat(np.arange(R), cnt)
    k = np.arange(tot) - (np.cumsum(cnt) - cnt)[child]
    gc = gcnt[v[child]]
    e1 = P.indptr[parent[child]] + k // gc
    e2 = G.indptr[v[child]] + k % gc
    c1 = P.indices[e1].astype(np.int64)
    d1 = deg_of(c1)
    d2 = gdeg[e2]
    keep = d1 + d2 <= N
    child, c1, d1, e1, e2, d2 = child[keep], c1[keep], d1[keep], e1[keep], e2[keep], d2[keep]
    col = combine(c1, d1, gcol[e2].astype(np.int64), d2)
    return _csr([child], [col], [P.data[e1] * G.data[e2]], (R, D))
