r"""Carleman lowering: PolynomialSystem → CarlemanSystem (docs/maths.md).

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
#: the highest Carleman order qdsl lowers: the truncation error falls geometrically with the order
#: (docs/maths.md), so an order this high is never needed, and bounding it keeps every size
#: estimate (O(N³) integer work) and every refusal instant
MAX_ORDER = 64


# ---------------------------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------------------------
def carleman_dimension(n: int, order: int, basis: str = "kronecker") -> int:
    """Σ_{j=0..N} n^j (kronecker) or C(n+N, N) (symmetric)."""
    if basis == "kronecker":
        return sum(n ** j for j in range(order + 1))
    return math.comb(n + order, order)


def estimate_size(n: int, q: int, order: int, basis: str = "kronecker", kind: str = "flow", *,
                  nnz=None, row_nnz=None) -> tuple[int, int]:
    r"""(dimension, upper bound on the stored entries), computed without building anything.

    `nnz[ℓ]` is the number of nonzeros of F_ℓ and `row_nnz[ℓ]` the most in one row (default:
    dense). Continuous (exact before merging duplicates): block row j receives j·n^{j−1}·nnz(F_ℓ)
    entries from each F_ℓ with j+ℓ−1 ≤ N (symmetric: j·C(n+j−1, j)/n·nnz(F_ℓ), every variable
    occurring equally often), plus a diagonal. Discrete, Kronecker: nnz(A⊗B) = nnz(A)·nnz(B), so
    block (j, k) holds at most the coefficient of x^k in (Σ_ℓ nnz(G_ℓ) x^ℓ)^j. Discrete, symmetric:
    a row of degree j holds at most the coefficients of (Σ_ℓ r_ℓ x^ℓ)^j, r_ℓ the most nonzeros in a
    row of G_ℓ, each degree k capped by the C(n+k−1, k) monomials there.
    """
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}")
    N = int(order)
    dim = carleman_dimension(n, N, basis)

    def count(k):  # components of degree k
        return n ** k if basis == "kronecker" else math.comb(n + k - 1, k)

    dense = [n * n ** l for l in range(q + 1)]
    nnz = dense if nnz is None else [int(v) for v in nnz] + [0] * max(0, q + 1 - len(nnz))
    if row_nnz is None:
        row_nnz = [min(n ** l, math.comb(n + l - 1, l)) for l in range(q + 1)]
    row_nnz = [int(v) for v in row_nnz] + [0] * max(0, q + 1 - len(row_nnz))
    total = 1 + dim  # the constant row and a diagonal
    for j in range(1, N + 1):
        rows = count(j)
        if kind == "flow":
            for l, z in enumerate(nnz):
                if j + l - 1 <= N:
                    total += (j * rows * z) // n + 1
            continue
        g = list(nnz) + [0] * max(0, 2 - len(nnz))
        r = list(row_nnz) + [0] * max(0, 2 - len(row_nnz))
        g[1] += n  # the identity inside G_1
        r[1] += 1
        weights = g if basis == "kronecker" else r
        poly = [1] + [0] * N
        for _ in range(j):
            new = [0] * (N + 1)
            for a_, c in enumerate(poly):
                if c:
                    for l, w in enumerate(weights):
                        if a_ + l <= N and w:
                            new[a_ + l] += c * w
            poly = new
        if basis == "kronecker":
            total += sum(min(c, rows * count(k)) for k, c in enumerate(poly))
        else:
            total += rows * sum(min(c, count(k)) for k, c in enumerate(poly))
    return dim, int(total)


def _limits(max_dim, max_nnz):
    if max_dim is None:
        max_dim = int(float(os.environ.get("QDSL_MAX_DIM", DEFAULT_MAX_DIM)))
    if max_nnz is None:
        max_nnz = int(float(os.environ.get("QDSL_MAX_NNZ", DEFAULT_MAX_NNZ)))
    return int(max_dim), int(max_nnz)


def check_order(n: int, order: int, lower=()) -> None:
    """Raise SizeLimitError (E0401) for a Carleman order over MAX_ORDER; `lower`: [the highest
    order that fits the size limits], when known."""
    if order > MAX_ORDER:
        raise SizeLimitError(Diagnostic(
            "E0401", f"Carleman order {order:,} is over the limit of {MAX_ORDER} (n = {n})",
            help=(f"use a lower order (order {lower[0]} fits); " if lower else "use a lower order; ")
            + "the truncation error falls geometrically with the order"))


def check_size(n: int, q: int, order: int, basis: str, kind: str, *, nnz=None, row_nnz=None,
               max_dim=None, max_nnz=None) -> tuple[int, int]:
    """Raise SizeLimitError (E0401) when the Carleman system would exceed the limits."""
    max_dim, max_nnz = _limits(max_dim, max_nnz)

    def fits(N):
        return all(a <= b for a, b in zip(estimate_size(n, q, N, basis, kind, nnz=nnz, row_nnz=row_nnz),
                                          (max_dim, max_nnz)))

    def highest_fitting(top):        # sizes grow with the order: search upwards, stop at the first miss
        N = 0
        while N + 1 < top and fits(N + 1):
            N += 1
        return [N] if N else []

    if order > MAX_ORDER:
        check_order(n, order, highest_fitting(MAX_ORDER + 1))
    dim, bound = estimate_size(n, q, order, basis, kind, nnz=nnz, row_nnz=row_nnz)
    if dim <= max_dim and bound <= max_nnz:
        return dim, bound
    sym = carleman_dimension(n, order, "symmetric")
    lower = highest_fitting(order)
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

    def multab(self) -> np.ndarray:
        r"""The multiplication table: row m (a monomial of degree < N, global index), column b →
        the global index of m·u_b. About N·dim entries; turns every monomial product into
        gathers instead of a merge and a ranking per entry."""
        if getattr(self, "_multab", None) is None:
            n, N = self.n, self.N
            idx = np.int32 if math.comb(n + N, N) < 2 ** 31 - 1 else np.int64
            rows = []
            for k in range(N):
                T = self.tuples(k)
                R = T.shape[0]
                ins = _insert_sorted(np.repeat(T, n, axis=0), np.tile(np.arange(n), R))
                rows.append((self.offsets[k + 1] + _rank_fixed(ins, n, self.binom)).astype(idx)
                            .reshape(R, n))
            self._multab = np.concatenate(rows, axis=0)
        return self._multab


def _digits(idx: np.ndarray, n: int, width: int) -> np.ndarray:
    """Base-n digits (most significant first) of kron-order indices, shape (M, width)."""
    idx = np.asarray(idx, dtype=np.int64)
    out = np.empty((idx.size, width), dtype=np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = idx % n
        idx = idx // n
    return out


# ---------------------------------------------------------------------------------------------
# the assembled system
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CarlemanSystem:
    """The Carleman-linearized system: y_{t+1} ≈ M_t y_t on y = lift(u).

    Attributes: `matrix` (M, CSR D × D; sgd: step 0), `matrices` (one M per step for sgd, else
    (matrix,)), `generator` (flow: A with matrix = I + dt·A; None for discrete kinds; in the
    Kronecker basis it shares M's index array and may store zeros on its diagonal), `basis`,
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
        """Shapes, finiteness, the constant row (M[0] = e_0), M = I + dt·A for flows; a failure is
        a bug in the lowering (InternalError)."""
        from ..diagnostics import InternalError
        from ..tolerances import gamma

        def fail(msg):
            raise InternalError(msg, check="CarlemanSystem.verify")

        D = carleman_dimension(self.n, self.order, self.basis)
        if self.matrix is not self.matrices[0]:
            fail("matrix must be matrices[0]")
        for M in self.matrices:
            if M.shape != (D, D):
                fail(f"transfer matrix has shape {M.shape}, expected {(D, D)}")
            if M.nnz and not np.all(np.isfinite(M.data)):
                fail("transfer matrix has non-finite entries")
            r0 = M.getrow(0)
            if r0.nnz != 1 or r0.indices[0] != 0 or r0.data[0] != 1.0:
                fail("the constant component must map to itself")
        if self.kind == "flow":
            if self.generator is None or self.generator.shape != (D, D):
                fail("a flow needs its generator A")
            if D <= 200_000:
                # an entry of A sums at most N slot terms, each merging at most N orderings (symmetric
                # basis), and M = I + dt·A adds two roundings; M may be assembled by its own
                # summation order: |ΔM| ≤ 2·γ_{N²+2}·(1 + dt·max|A|)
                N = self.order
                scale = 1.0 + abs(self.dt) * (np.max(np.abs(self.generator.data)) if self.generator.nnz else 0.0)
                diff = self.matrix - (sp.identity(D, format="csr") + self.dt * self.generator)
                if diff.nnz and np.max(np.abs(diff.data)) > 2 * gamma(N * N + 2) * scale:
                    fail("matrix != I + dt·generator")
        elif self.generator is not None:
            fail("a discrete system has no generator")

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
def _transfer_sets(system, step=None) -> list:
    if step is not None:
        return [system.F_at(step)]
    if system.kind == "sgd" and system.step_F is not None:
        return [system.step_F[t] for t in range(system.dynamics.steps)]
    return [system.F]


def guard(system, order: int, basis: str = "kronecker", *, step: int | None = None,
          max_dim: int | None = None, max_nnz: int | None = None) -> tuple[int, int]:
    """The size check of `carleman(system, order, basis)` without building anything:
    (dimension, nnz bound), or SizeLimitError E0401."""
    Fsets = _transfer_sets(system, step)
    q = max(len(F) for F in Fsets) - 1
    nnz = [max((F[l].nnz if l < len(F) else 0) for F in Fsets) for l in range(q + 1)]
    row_nnz = [max((int(np.diff(F[l].tocsr().indptr).max(initial=0)) if l < len(F) else 0)
                   for F in Fsets) for l in range(q + 1)]
    return check_size(system.n, q, int(order), basis, "flow" if system.kind == "flow" else "discrete",
                      nnz=nnz, row_nnz=row_nnz, max_dim=max_dim, max_nnz=max_nnz)


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
    Fsets = _transfer_sets(system, step)
    guard(system, N, basis, step=step, max_dim=max_dim, max_nnz=max_nnz)
    mono = _Monomials(n, N) if basis == "symmetric" else None
    generator = None
    dt = system.dynamics.dt if kind == "flow" else None
    if kind == "flow" and basis == "kronecker":
        A, M = _continuous_kron_fast(Fsets[0], n, N, dt)
        generator = A
        mats = (M,)
    elif kind == "flow":
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
    r"""The plain construction of A (kept as the cross-check of `_continuous_kron_fast`): from the
    COO of each F_ℓ, the term I^{⊗(p−1)}⊗F_ℓ⊗I^{⊗(j−p)} has entries
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


CHUNK = 1 << 18  # entries generated per batch: bounds the temporaries and keeps them in cache


def _insert_sorted(t: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Insert vals[i] into the sorted row t[i] (width W → W+1), vectorized over rows."""
    M, W = t.shape
    pos = (t < vals[:, None]).sum(axis=1)
    out = np.empty((M, W + 1), dtype=t.dtype)
    for i in range(W + 1):
        left = t[:, i] if i < W else vals
        right = t[:, i - 1] if i > 0 else vals
        out[:, i] = np.where(i < pos, left, np.where(i == pos, vals, right))
    return out


def _rank_fixed(t: np.ndarray, n: int, binom: np.ndarray) -> np.ndarray:
    """Lexicographic rank of sorted tuples of one degree W = t.shape[1] (see _Monomials)."""
    M, W = t.shape
    out = np.zeros(M, dtype=np.int64)
    lo = np.zeros(M, dtype=np.int64)
    for i in range(W):
        m = W - i - 1
        hi = t[:, i]
        out += binom[n - lo + m, m + 1] - binom[n - hi + m, m + 1]
        lo = hi
    return out


def _poly_terms(F, n: int, mono: _Monomials) -> dict:
    r"""f(u) = Σ_ℓ F_ℓ u^{⊗ℓ} as polynomials, per degree ℓ: a CSR (n × C(n+ℓ−1, ℓ)) over the
    degree-ℓ monomials, with the coefficients of all permutations of a column summed — so any
    tensor convention gives the same polynomial."""
    out = {}
    for l, f in enumerate(F):
        if f.nnz == 0 or l > mono.N:  # a degree above N never survives the truncation
            continue
        c = f.tocoo()
        if l == 0:
            local = np.zeros(c.nnz, dtype=np.int64)
        else:
            t = np.sort(_digits(c.col, n, l), axis=1)
            local = _rank_fixed(t, n, mono.binom)
        m = sp.csr_matrix((c.data, (c.row, local)), shape=(n, math.comb(n + l - 1, l)))
        m.sum_duplicates()
        m.eliminate_zeros()
        if m.nnz:
            out[l] = m
    return out


def _chunks(counts: np.ndarray, limit: int = CHUNK):
    """Split rows into consecutive ranges holding about `limit` entries each."""
    csum = np.cumsum(counts, dtype=np.int64)
    R = counts.size
    start = 0
    while start < R:
        base = csum[start - 1] if start else 0
        stop = int(np.searchsorted(csum, base + limit, side="right"))
        stop = min(R, max(stop, start + 1))
        yield start, stop
        start = stop


def _expand(cnt: np.ndarray):
    """For per-item counts: (item of each generated entry, index within the item)."""
    tot = int(cnt.sum())
    item = np.repeat(np.arange(cnt.size), cnt)
    k = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return item, k


def _continuous_sym(F, n: int, N: int, mono: _Monomials) -> sp.csr_matrix:
    r"""d/dt u^α = Σ_i α_i u^{α−e_i} f_i(u): for each position p of α's sorted tuple, drop a_p and
    insert the variables of each degree-ℓ monomial β of f_{a_p} (result degree |α|−1+ℓ ≤ N; only
    those terms are generated). Rows are produced in batches, each converted to CSR on its own."""
    polys = _poly_terms(F, n, mono)
    D = math.comb(n + N, N)
    multab = mono.multab()
    blocks = [sp.csr_matrix((1, D))]
    for d in range(1, N + 1):
        T = mono.tuples(d)
        R = T.shape[0]
        active = [(l, P, np.diff(P.indptr), mono.tuples(l)) for l, P in polys.items() if d - 1 + l <= N]
        per_row = np.zeros(R, dtype=np.int64)
        for l, P, cnt, _ in active:
            for p in range(d):
                per_row += cnt[T[:, p]]
        for a, b in _chunks(per_row):
            Tc = T[a:b]
            rows, cols, vals = [], [], []
            for p in range(d):
                # u^α / u_{a_p}: its index once per row, then m·u_b by table look-ups per entry
                rest = mono.offsets[d - 1] + _rank_fixed(np.delete(Tc, p, axis=1), n, mono.binom)
                v = Tc[:, p]
                for l, P, cnt, beta_t in active:
                    rr, k = _expand(cnt[v])
                    if rr.size == 0:
                        continue
                    e = P.indptr[v[rr]] + k
                    col = rest[rr]
                    beta = beta_t[P.indices[e]]
                    for i in range(l):
                        col = multab[col, beta[:, i]]
                    rows.append(rr)
                    cols.append(col)
                    vals.append(P.data[e])
            blocks.append(_csr(rows, cols, vals, (b - a, D)))
    return sp.vstack(blocks, format="csr")


def _discrete(F, n: int, N: int, basis: str, mono) -> sp.csr_matrix:
    r"""Rows of degree j are G(u)^{⊗j} (kronecker) or G(u)^α (symmetric), built recursively:
    child row (parent, v) = parent's polynomial × G_v (G_v = u_v + f_v(u)), keeping degree ≤ N.
    A parent's entries are sorted by column, hence by degree, so for each degree ℓ of G only a
    prefix of the parent's entries can pair with it: only the pairs that survive the truncation
    are generated. Duplicates (the same monomial reached twice) are summed per batch."""
    if basis == "kronecker":
        offs = np.concatenate([[0], np.cumsum([n ** j for j in range(N + 1)])]).astype(np.int64)
        D = int(offs[-1])
    else:
        D = math.comb(n + N, N)
        offs = mono.offsets[: N + 2].copy()
        offs[N + 1] = D
        multab = mono.multab()
    # G_ℓ per degree, columns local to the degree-ℓ block (kron index or monomial rank)
    if basis == "kronecker":
        G = {}
        for l, f in enumerate(F):
            if f.nnz and l <= N:
                G[l] = f.tocsr()
    else:
        G = {l: P for l, P in _poly_terms(F, n, mono).items() if l <= N}
    eye = sp.identity(n, format="csr")
    G[1] = (G[1] + eye).tocsr() if 1 in G else eye
    for l in G:
        G[l].sum_duplicates()
        G[l].eliminate_zeros()
    G = {l: g for l, g in G.items() if g.nnz}
    blocks = [sp.csr_matrix(([1.0], ([0], [0])), shape=(1, D))]
    P = blocks[0]
    for j in range(1, N + 1):
        if basis == "kronecker":
            parent = np.repeat(np.arange(n ** (j - 1)), n)
            v = np.tile(np.arange(n), n ** (j - 1))
        else:
            parent = mono.parent(j)
            v = mono.tuples(j)[:, -1]
        # prefix of each parent row with degree ≤ N − ℓ
        pre = {}
        for l in G:
            mask = P.indices < offs[N - l + 1]
            cs = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
            pre[l] = cs[P.indptr[1:]] - cs[P.indptr[:-1]]
        gcnt = {l: np.diff(g.indptr) for l, g in G.items()}
        per_child = sum((pre[l][parent] * gcnt[l][v] for l in G), np.zeros(parent.size, np.int64))
        out = []
        for a, b in _chunks(per_child):
            pa, va = parent[a:b], v[a:b]
            rows, cols, vals = [], [], []
            for l, g in G.items():
                gc = gcnt[l][va]
                ch, k = _expand(pre[l][pa] * gc)
                if ch.size == 0:
                    continue
                gch = gc[ch]
                e1 = P.indptr[pa[ch]] + k // gch
                e2 = g.indptr[va[ch]] + k % gch
                c1 = P.indices[e1].astype(np.int64)
                c2 = g.indices[e2].astype(np.int64)
                if basis == "kronecker":
                    d1 = np.searchsorted(offs, c1, side="right") - 1
                    col = offs[d1 + l] + (c1 - offs[d1]) * n ** l + c2
                else:
                    col = c1
                    beta = mono.tuples(l)[c2]
                    for i in range(l):
                        col = multab[col, beta[:, i]]
                rows.append(ch)
                cols.append(col)
                vals.append(P.data[e1] * g.data[e2])
            out.append(_csr(rows, cols, vals, (b - a, D)))
        P = sp.vstack(out, format="csr") if len(out) > 1 else out[0]
        blocks.append(P)
    return sp.vstack(blocks, format="csr")


# ---------------------------------------------------------------------------------------------
# the fast path: continuous, Kronecker basis, canonical CSR written in place
# ---------------------------------------------------------------------------------------------
try:  # scipy's row-wise CSR concatenation kernel (what sp.hstack uses), writing into our arrays
    from scipy.sparse._sparsetools import csr_hstack as _csr_hstack
except Exception:  # pragma: no cover - a scipy without it takes the slower public route
    _csr_hstack = None


class _Piece:
    """A CSR block of one row group: indptr/indices/data (local columns) and its width."""

    __slots__ = ("indptr", "indices", "data", "width")

    def __init__(self, indptr, indices, data, width):
        self.indptr, self.indices, self.data, self.width = indptr, indices, data, int(width)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1] - self.indptr[0])

    @classmethod
    def of(cls, m: sp.csr_matrix, idx):
        return cls(m.indptr.astype(idx, copy=False), m.indices.astype(idx, copy=False), m.data,
                   m.shape[1])

    @classmethod
    def empty(cls, R: int, width: int, idx):
        return cls(np.zeros(R + 1, dtype=idx), np.zeros(0, dtype=idx), np.zeros(0), width)

    @classmethod
    def uniform(cls, R: int, cols, vals, stride: int, shift: int, width: int, idx):
        r"""Row `rest` holds vals at columns cols·stride + rest − shift (the same count per row,
        sorted because cols is): the F_ℓ ⊗ I blocks of a Kronecker sum."""
        a = len(cols)
        if a == 0:
            return cls.empty(R, width, idx)
        rest = np.arange(R, dtype=idx)
        ind = (rest[:, None] + (np.asarray(cols, dtype=np.int64) * stride - shift).astype(idx)[None, :])
        return cls(np.arange(R + 1, dtype=idx) * a, ind.ravel(), np.tile(np.asarray(vals, float), R),
                   width)

    def rows(self, lo: int, hi: int):
        """Rows lo..hi−1 (a view)."""
        p = self.indptr[lo:hi + 1]
        return _Piece(p - p[0], self.indices[p[0]:p[-1]], self.data[p[0]:p[-1]], self.width)


class _RowGroup:
    """Rows [row0, row0 + R) of the output, the concatenation of `pieces` left to right."""

    __slots__ = ("row0", "R", "pieces", "nnz", "diag")

    def __init__(self, row0, R, pieces, diag=None):
        self.row0, self.R, self.pieces = row0, R, pieces
        self.nnz = sum(p.nnz for p in pieces)
        self.diag = diag  # (piece number, within-piece diagonal offsets per row, values to add)


def _write_groups(groups, nrows: int, ncols: int, idx, lead: int = 0):
    """Concatenate every group's pieces row-wise into one canonical CSR (one kernel call per
    group, writing straight into the final arrays). Returns indptr, indices, data, diagonal
    positions (−1 where a group has no diagonal bookkeeping). `lead` reserves slots in front."""
    total = lead + sum(g.nnz for g in groups)
    indices = np.empty(total, dtype=idx)
    data = np.empty(total)
    indptr = np.empty(nrows + 1, dtype=np.int64 if total >= 2 ** 31 else idx)
    indptr[0] = 0
    diagpos = np.full(nrows, -1, dtype=np.int64)
    work = max((g.nnz for g in groups), default=0)
    wj = np.empty(work, dtype=idx)
    wx = np.empty(work)
    pos = lead
    for g in groups:
        P = len(g.pieces)
        if g.nnz:
            widths = np.array([p.width for p in g.pieces], dtype=idx)
            if _csr_hstack is not None:
                np.concatenate([p.indices for p in g.pieces], out=wj[: g.nnz])
                np.concatenate([p.data for p in g.pieces], out=wx[: g.nnz])
                ptr_cat = np.concatenate([p.indptr for p in g.pieces]).astype(idx, copy=False)
                local = np.empty(g.R + 1, dtype=idx)
                _csr_hstack(P, g.R, widths, ptr_cat, wj[: g.nnz], wx[: g.nnz], local,
                            indices[pos:pos + g.nnz], data[pos:pos + g.nnz])
            else:  # pragma: no cover
                m = sp.hstack([sp.csr_matrix((p.data, p.indices, p.indptr), shape=(g.R, p.width))
                               for p in g.pieces], format="csr")
                indices[pos:pos + g.nnz] = m.indices
                data[pos:pos + g.nnz] = m.data
                local = m.indptr
        else:
            local = np.zeros(g.R + 1, dtype=idx)
        indptr[g.row0 + 1:g.row0 + g.R + 1] = local[1:].astype(indptr.dtype) + pos
        if g.diag is not None:
            k, offset, add = g.diag
            before = sum((g.pieces[i].indptr[1:] - g.pieces[i].indptr[:-1]).astype(np.int64)
                         for i in range(k)) if k else 0
            dp = pos + local[:-1].astype(np.int64) + before + offset
            diagpos[g.row0:g.row0 + g.R] = dp
            if add is not None:
                data[dp] += add
        pos += g.nnz
    return indptr, indices, data, diagpos


def _split_row(f: sp.csr_matrix, v: int, n: int, l: int):
    """Row v of F_ℓ split by the leading digit c_1 of the column: (<v, ==v, >v), as (cols, vals)."""
    cols = f.indices[f.indptr[v]:f.indptr[v + 1]].astype(np.int64)
    vals = f.data[f.indptr[v]:f.indptr[v + 1]]
    lead = cols // n ** (l - 1)
    lo, mid, hi = lead < v, lead == v, lead > v
    return (cols[lo], vals[lo]), (cols[mid] % n ** (l - 1), vals[mid]), (cols[hi], vals[hi])


def _group_pieces(f, S_prev, v: int, j: int, n: int, l: int, idx, diag_prev=None):
    r"""Pieces of rows (v, rest) of S_j = F_ℓ ⊗ I_{n^{j−1}} + I_n ⊗ S_{j−1}: the F_ℓ entries whose
    leading column digit is below v, the middle block S_{j−1} (+ the entries with leading digit v,
    (e_v-row ⊗ I)), and those above v. Returns (pieces, diag) where diag gives the diagonal
    bookkeeping of the middle piece for ℓ = 1."""
    R = n ** (j - 1)
    W = n ** (j + l - 2)
    (lc, lv), (mc, mv), (hc, hv) = _split_row(f, v, n, l)
    lower = _Piece.uniform(R, lc, lv, R, 0, v * W, idx)
    upper = _Piece.uniform(R, hc, hv, R, (v + 1) * W, (n - v - 1) * W, idx)
    diag = None
    if l == 1:
        mid = _Piece.of(S_prev, idx)
        fvv = float(mv[0]) if mv.size else 0.0
        diag = (diag_prev - S_prev.indptr[:-1], fvv if fvv != 0.0 else None)
    elif mc.size:
        E = sp.csr_matrix((np.tile(mv, R), (np.repeat(np.arange(R), mc.size),
                                            (mc[None, :] * R + np.arange(R)[:, None]).ravel())),
                          shape=(R, W))
        m = (S_prev + E).tocsr()
        m.sum_duplicates()
        mid = _Piece.of(m, idx)
    else:
        mid = _Piece.of(S_prev, idx)
    return [lower, mid, upper], diag


def _kron_sum(f, n: int, j: int, l: int, S_prev, diag_prev, idx):
    """S_j = Σ_p I^{⊗(p−1)} ⊗ F_ℓ ⊗ I^{⊗(j−p)} as canonical CSR (ℓ ≥ 1), from S_{j−1}."""
    if j == 1:
        return f, diag_prev
    R = n ** (j - 1)
    groups = []
    for v in range(n):
        pieces, diag = _group_pieces(f, S_prev, v, j, n, l, idx, diag_prev)
        groups.append(_RowGroup(v * R, R, pieces, (1, diag[0], diag[1]) if diag else None))
    indptr, indices, data, diagpos = _write_groups(groups, n ** j, n ** (j + l - 1), idx)
    m = sp.csr_matrix((data, indices, indptr), shape=(n ** j, n ** (j + l - 1)))
    m.has_sorted_indices = True
    return m, (diagpos if l == 1 else None)


def _kron_sum_const(f0, n: int, j: int) -> sp.csr_matrix:
    """The block (j, j−1) = Σ_p I^{⊗(p−1)} ⊗ F_0 ⊗ I^{⊗(j−p)} (n^j × n^{j−1}) from F_0's COO."""
    c = f0.tocoo()
    rows, cols = [], []
    r0 = c.row.astype(np.int64)
    for p in range(1, j + 1):
        s = j - p
        a = np.arange(n ** (p - 1))[:, None, None]
        b = np.arange(n ** s)[None, None, :]
        rows.append(((a * n + r0[None, :, None]) * n ** s + b).ravel())
        cols.append(np.broadcast_to(a * n ** s + b, (a.shape[0], r0.size, b.shape[2])).ravel())
    vals = [np.broadcast_to(c.data[None, :, None], (n ** (p - 1), r0.size, n ** (j - p))).ravel()
            for p in range(1, j + 1)]
    return _csr(rows, cols, vals, (n ** j, n ** (j - 1)))


def _continuous_kron_fast(F, n: int, N: int, dt: float):
    r"""(A, M = I + dt·A) for the Kronecker basis, written directly as canonical CSR.

    Each Kronecker sum obeys S_j = F_ℓ ⊗ I + I ⊗ S_{j−1}. In the rows (v, rest) of block row j the
    F_ℓ ⊗ I entries whose leading column digit is below v come first, then the (shifted) row of
    S_{j−1}, then the rest — so the rows of each group v are a row-wise concatenation of blocks
    that are already sorted, done by one kernel call per group into the final arrays, with no sort
    and no duplicate merging (the only coincident entries, F_1's diagonal, are added to the
    diagonal slot that every row keeps). M shares A's sparsity pattern (A's constant row is
    empty; M's holds the 1), so it costs one pass over the values.
    """
    q = len(F) - 1
    sizes = [n ** j for j in range(N + 1)]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    D = int(offs[-1])
    nnz_bound = estimate_size(n, q, N, "kronecker", "flow", nnz=[f.nnz for f in F])[1]
    idx = np.int32 if max(D, nnz_bound + 1) < 2 ** 31 - 1 else np.int64
    Fs = [f.tocsr() for f in F] + [sp.csr_matrix((n, n ** l)) for l in range(len(F), 2)]
    for f in Fs:
        f.sum_duplicates()
    # F_1 with every diagonal slot stored (explicit zeros allowed) so each Kronecker sum keeps one
    F1 = Fs[1].tocoo()
    keep = F1.row != F1.col
    diagvals = np.asarray(Fs[1].diagonal(), float)
    F1e = sp.csr_matrix((np.concatenate([F1.data[keep], diagvals]),
                         (np.concatenate([F1.row[keep], np.arange(n)]),
                          np.concatenate([F1.col[keep], np.arange(n)]))), shape=(n, n))
    F1e.sort_indices()
    diag1 = np.array([F1e.indptr[r] + np.searchsorted(F1e.indices[F1e.indptr[r]:F1e.indptr[r + 1]], r)
                      for r in range(n)], dtype=np.int64)
    Fs[1] = F1e
    qq = len(Fs) - 1
    S = {l: (Fs[l], diag1 if l == 1 else None) for l in range(1, qq + 1)}  # S_1
    groups = [_RowGroup(0, 1, [_Piece.empty(1, D, idx)])]  # the constant row (empty in A)
    for j in range(1, N + 1):
        ls = [l for l in range(1, qq + 1) if j + l - 1 <= N]
        C0 = _kron_sum_const(Fs[0], n, j)
        R = n ** (j - 1) if j > 1 else n
        nv = n if j > 1 else 1
        for v in range(nv):
            pieces = [_Piece.empty(R, offs[j - 1], idx),
                      _Piece.of(C0, idx).rows(v * R, (v + 1) * R) if j > 1 else _Piece.of(C0, idx)]
            diag = None
            for l in ls:
                if j == 1:
                    pieces.append(_Piece.of(Fs[l], idx))
                    if l == 1:
                        diag = (len(pieces) - 1, diag1 - F1e.indptr[:-1], None)
                    continue
                S_prev, d_prev = S[l]
                ps, dg = _group_pieces(Fs[l], S_prev, v, j, n, l, idx, d_prev)
                if l == 1:
                    diag = (len(pieces) + 1, dg[0], dg[1])
                pieces.extend(ps)
            end = offs[min(N, j + max(ls, default=0) - 1) + 1] if ls else offs[j]
            if D - end:
                pieces.append(_Piece.empty(R, D - end, idx))
            groups.append(_RowGroup(int(offs[j]) + v * R, R, pieces, diag))
        # block row j+1 needs S_j (S_1 = F_ℓ itself)
        if 2 <= j < N:
            for l in range(1, qq + 1):
                if j + l <= N:
                    S[l] = _kron_sum(Fs[l], n, j, l, S[l][0], S[l][1], idx)
    indptr, indices, dataA, diagpos = _write_groups(groups, D, D, idx, lead=1)
    # the lead slot is M[0, 0] = 1 (the constant row); A is the same arrays after that slot
    indices[0] = 0
    dataA[0] = 0.0
    dataM = dataA * dt
    dataM[0] = 1.0
    dataM[diagpos[1:]] += 1.0
    M = sp.csr_matrix((dataM, indices, indptr), shape=(D, D))
    indptrA = indptr - 1
    indptrA[0] = 0
    # A keeps a stored (possibly zero) diagonal slot in every row j ≥ 1, so that it shares M's
    # index array instead of copying 4 bytes per nonzero; `.generator` documents this
    A = sp.csr_matrix((dataA[1:], indices[1:], indptrA), shape=(D, D))
    if not np.all(dataM):
        M = sp.csr_matrix((M.data, M.indices.copy(), M.indptr.copy()), shape=(D, D))
        M.eliminate_zeros()
    for m in (A, M):
        m.has_sorted_indices = True
        m.has_canonical_format = True
    return A, M
