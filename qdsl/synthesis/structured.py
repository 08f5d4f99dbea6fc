r"""The Carleman history matrix L = I − S·M̄ as a structured block-encoding, built from the F_ℓ.

**Slots.** The lifted vector y = (1, u, u^{⊗2}, …, u^{⊗N}) (Kronecker basis, docs/maths.md) lives on N
*slots* of q = ⌈log₂(n+1)⌉ qubits: slot value 0 is empty, a + 1 holds the variable u_a. The
component u_{a1}⊗…⊗u_{aj} of level j has slots 0..j−1 filled with a1+1..aj+1 and the rest empty,
its code is Σ_p (a_p + 1)·2^{q·p}; the constant component is all-empty (code 0). Every other slot
pattern (a gap, a value > n) is padding, and every block below maps padding to padding or to a
flagged branch, never into a valid pattern. The time register (m_t = ⌈log₂(T+1+p)⌉ qubits) sits
above the slots: basis index k = code + t·2^{Nq}.

**Discrete kinds (gd, sgd).** Block row j of M is the expansion of G(u)^{⊗j}, G_1 = I + F_1,
G_ℓ = F_ℓ otherwise, truncated at degree N: Σ over compositions (ℓ_1..ℓ_j) of the input level k of
G_{ℓ1}⊗…⊗G_{ℓj}. Split each composition into its parts ℓ ≥ 1 and its zero parts (F_0):

* N *G⁺ steps* m = 0..N−1, each an LCU (`blocks.lcu`) over: G_1^ext at slot m — the (n+1)-square
  matrix with G_1 on the filled values and 1 on the empty value (an exhausted input stays empty,
  coefficient 1: the "stop") — and F_ℓ (2 ≤ ℓ ≤ N−m) consuming slots m..m+ℓ−1 into slot m (a
  sparse-access block-encoding from F_ℓ's nonzeros, `blocks.sparse_access`) followed by the
  compaction of slots m+ℓ.. down to m+1 (controlled slot swaps). Inputs are compact, so step m
  always reads slot m; each composition without zero parts is exactly one path.
* if F_0 ≠ 0, N *insertion steps* m = 0..N−1, each an LCU over: the identity, and "insert F_0 at
  slot m": fail unless slot m−1 is filled (no gaps), shift slots m.. up by one (fail unless the last
  slot was empty: the output level stays ≤ N), prepare F_0/α_0 in slot m. Zero parts are inserted
  in increasing final position, so each composition is one path again.

M = Π insertion · Π G⁺ steps (the product combinator, a compressed flag counter), α_M = Π_m α_m
with α_m = α(G_1^ext) + Σ_ℓ α(F_ℓ) (ℓ ≤ N − m) and α = 1 + α_0 for an insertion step. sgd: every
block is keyed additionally by a class register holding the index of step t's batch, loaded from
the time register; α's are maxima over the classes.

**Continuous kinds (flow, rate).** M = I + h·A with the PNAS generator A_{j,j+ℓ−1} =
Σ_p I^{⊗(p−1)}⊗F_ℓ⊗I^{⊗(j−p)}: one LCU over the identity (weight 1) and the terms (ℓ, p) —
F_ℓ consuming slots p..p+ℓ−1 into slot p with compaction (ℓ ≥ 1), or F_0 inserted at slot p
(ℓ = 0) — each with weight h. α_M = 1 + h·Σ_{(ℓ,p)} α(F_ℓ).

**History.** L = I − S·M̄ (docs/maths.md): an LCU on one qubit `sel`, PREP = RY with
cos²(θ/2) = 1/α_L, α_L = 1 + α_M; under sel: a unary iteration over the time register (prefix
items: dyadic blocks of steps) marks the real steps t < T (a temporary `r` — only needed with idle
steps; without them M̄ is controlled by sel itself — and sgd's class register), rotates a flag z
to amplitude 1/α_M on idle steps (M̄_t = I) and flips z on t ≥ T+p (M̄_t = 0: no wrap-around,
padded time blocks are identity rows); M̄ controlled by r; the same iteration again uncomputes r
and the class; the time register is incremented (`blocks.increment`); Z on sel gives the minus
sign. Then ⟨0_flags|U_L|0_flags⟩ restricted to the valid patterns is L/α_L exactly. The flag z is
bit 0 of the product's counter when M has several factors (a branch with z set is failed already;
the counter holds values up to F, so it cannot wrap), else a qubit of its own.

**Initial state.** B = |0⟩_t ⊗ lift(u_0) is prepared slot by slot (`blocks.lifted`).

Costs come from the blocks' own cost functions (`BlockEncoding.cost`), the circuit from their
builders; both grow with the nonzeros of the F_ℓ and with N, never with the dimension of M.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..diagnostics import Diagnostic, SizeLimitError
from .blocks.base import BlockEncoding
from .blocks.cost import Cost
from .blocks.diagonal import DiagonalAccess
from .blocks.eigen import EigenAccess
from .blocks.frobenius import FrobeniusAccess
from .blocks.increment import increment, increment_cost, increment_work
from .blocks.lcu import LCU, Context, Identity, fold_cost, fold_flags, fold_work
from .blocks.lifted import LiftedState
from .blocks.lookup import UnaryIteration
from .blocks.mcx import mcx, mcx_cost, mcx_work
from .blocks.prepare import PrepareState
from .blocks.sparse_access import SparseAccess, bits_for
from .blocks.swap import cswap_cost, shift_slots_left, shift_slots_right, shift_swaps

__all__ = ["SlotLayout", "structured_history", "time_classes", "transfer_factors"]


# ---------------------------------------------------------------------------------------------
# the register layout
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotLayout:
    """N slots of q qubits (slot p = qubits p·q .. p·q+q−1, from `offset`) and m_t time qubits."""

    n: int
    order: int
    time_qubits: int
    offset: int = 0

    @property
    def q(self) -> int:
        return max(1, bits_for(self.n + 1))

    @property
    def slot_qubits(self) -> int:
        return self.order * self.q

    @property
    def num_system_qubits(self) -> int:
        return self.slot_qubits + self.time_qubits

    def slot(self, p: int) -> list[int]:
        return list(range(self.offset + p * self.q, self.offset + (p + 1) * self.q))

    @property
    def slots(self) -> list[list[int]]:
        return [self.slot(p) for p in range(self.order)]

    @property
    def time(self) -> list[int]:
        s = self.offset + self.slot_qubits
        return list(range(s, s + self.time_qubits))

    @property
    def system(self) -> tuple[int, ...]:
        return tuple(range(self.offset, self.offset + self.num_system_qubits))

    def codes(self) -> np.ndarray:
        """Code of every Kronecker component (lift order: constant, u, u⊗u, …)."""
        n, q = self.n, self.q
        out = [np.zeros(1, dtype=np.int64)]
        for j in range(1, self.order + 1):
            local = np.arange(n ** j, dtype=np.int64)
            code = np.zeros(n ** j, dtype=np.int64)
            for p in range(j):  # slot p holds digit p (most significant first) + 1
                digit = (local // n ** (j - 1 - p)) % n
                code += (digit + 1) << (q * p)
            out.append(code)
        return np.concatenate(out)

    def solution_map(self, num_blocks: int) -> np.ndarray:
        """Y index t·D + d → basis index code(d) + t·2^{Nq}."""
        c = self.codes()
        t = np.arange(num_blocks, dtype=np.int64)
        return (c[None, :] + (t[:, None] << self.slot_qubits)).ravel()


# ---------------------------------------------------------------------------------------------
# terms acting on slots
# ---------------------------------------------------------------------------------------------
def _slot_code(cols_kron: np.ndarray, n: int, l: int, q: int) -> np.ndarray:
    """Codes on ℓ slots of the kron-order column indices of F_ℓ."""
    code = np.zeros(cols_kron.size, dtype=np.int64)
    for p in range(l):
        digit = (cols_kron // n ** (l - 1 - p)) % n
        code += (digit + 1) << (q * p)
    return code


def _union(mats):
    """Union pattern of equally shaped sparse matrices: (rows, cols, values (K, E))."""
    coos = [sp.coo_matrix(m) for m in mats]
    keys = np.unique(np.concatenate([c.row.astype(np.int64) * mats[0].shape[1] + c.col for c in coos]))
    vals = np.zeros((len(mats), keys.size))
    for k, c in enumerate(coos):
        pos = np.searchsorted(keys, c.row.astype(np.int64) * mats[0].shape[1] + c.col)
        np.add.at(vals[k], pos, c.data)
    return keys // mats[0].shape[1], keys % mats[0].shape[1], vals


class AccessTerm:
    """A sparse-access (or diagonal) block on slots [lo, lo+width) whose row lands in slot lo,
    optionally followed by the compaction of slots [lo+1, N) by `gap`."""

    def __init__(self, block, lo: int, width: int, N: int, q: int, gap: int = 0, label: str = ""):
        self.block, self.lo, self.width, self.N, self.q = block, lo, width, N, q
        self.gap, self.label = gap, label

    @property
    def alpha(self):
        return self.block.alpha

    @property
    def flags(self):
        return self.block.flags

    @property
    def work(self):
        return self.block.work

    def build(self, qc, ctrl, ctx):
        slots = ctx.system["slots"]
        reg = [b for p in range(self.lo, self.lo + self.width) for b in slots[p]]
        if isinstance(self.block, DiagonalAccess):
            self.block.build(qc, reg, ctx.flags[0], ctx.work, ctrl=ctrl, klass=ctx.klass)
        elif isinstance(self.block, EigenAccess):
            self.block.build(qc, reg, ctx.flags[0], ctx.work, ctrl=ctrl)
        elif isinstance(self.block, FrobeniusAccess):
            self.block.build(qc, reg, ctx.flags[: self.block.flags], ctrl=ctrl)
        else:
            b = self.block
            fl = list(ctx.flags)
            t, color, f = fl[: b.row_width], fl[b.row_width: b.row_width + b.color_width], \
                fl[b.row_width + b.color_width]
            b.build(qc, reg, t, color, f, ctx.work, ctrl=ctrl, klass=ctx.klass)
        if self.gap:
            shift_slots_left(qc, ctrl, slots, self.lo + 1, self.N, self.gap)

    def cost(self):
        c = self.block.cost(True)
        if self.gap:
            c = c + len(shift_swaps(self.lo + 1, self.N, self.gap)) * cswap_cost(self.q)
        return c


class InsertTerm:
    r"""Insert F_0/α_0 at slot m: fail unless slot m−1 is filled (m > 0) [flag 0]; shift slots
    m..N−1 up by one; fail unless slot m is now empty (the last slot was empty) [flag 1]; prepare
    F_0^k/α_0 in slot m (class k; the slack √(1−‖F_0^k‖²/α_0²) on the empty value) and, when any
    class has slack, fail if slot m stayed empty [flag 2]. α = α_0 = max_k ‖F_0^k‖₂."""

    label = "F0"

    def __init__(self, F0s, m: int, N: int, q: int, class_width: int):
        self.m, self.N, self.q, self.class_width = m, N, q, class_width
        vecs = [np.asarray(f.toarray()).ravel() for f in F0s]
        self.alpha = float(max(np.linalg.norm(v) for v in vecs))
        self.preps = []
        slack_any = False
        for v in vecs:
            amp = np.zeros(1 << q)
            amp[1: v.size + 1] = v / self.alpha
            s2 = max(0.0, 1.0 - float(np.dot(amp, amp)))
            amp[0] = math.sqrt(s2)
            slack_any |= amp[0] > 1e-15
            self.preps.append(PrepareState(amp, q))
        self.slack = slack_any
        self.flags = 3 if slack_any else 2
        self._trie = UnaryIteration(class_width, list(range(len(vecs)))) if class_width else None
        self.work = max(mcx_work(q + 1), self._trie.work if self._trie else 0)

    def build(self, qc, ctrl, ctx):
        slots, fl, work = ctx.system["slots"], ctx.flags, ctx.work
        m, q = self.m, self.q
        if m > 0:
            mcx(qc, [ctrl] + slots[m - 1], fl[0], values=[1] + [0] * q, work=work)
        shift_slots_right(qc, ctrl, slots, m, self.N, 1)
        qc.cx(ctrl, fl[1])
        mcx(qc, [ctrl] + slots[m], fl[1], values=[1] + [0] * q, work=work)
        if self._trie is None:
            self.preps[0].build(qc, slots[m], ctrl=ctrl)
        else:
            self._trie.build(qc, ctrl, ctx.klass, work,
                             lambda qc, c, item: self.preps[item[0]].build(qc, slots[m], ctrl=c))
        if self.slack:
            mcx(qc, [ctrl] + slots[m], fl[2], values=[1] + [0] * q, work=work)

    def cost(self):
        q = self.q
        z = mcx_cost(q + 1, q)
        c = (z if self.m > 0 else Cost()) + Cost(cx=1) + z + (z if self.slack else Cost())
        c += len(shift_swaps(self.m, self.N, 1)) * cswap_cost(q)
        c += sum((p.cost(controlled=True) for p in self.preps), Cost())
        if self._trie is not None:
            c += self._trie.cost(True)
        return c


#: T states per rotation in the α·cost score that picks a block's encoding (gridsynth at δ = 1e−9:
#: 3·log₂(1/δ) + 2, backends/resources.py's rule); a Toffoli is 4 T states
SCORE_T_PER_ROTATION = 3 * math.log2(1e9) + 2
#: the dense encodings (eigenbasis, Frobenius) are tried on square blocks of at most this many codes
DENSE_CODES_MAX = 64


def encoding_score(block) -> float:
    """α × T states of one controlled call: what `_access_block` minimizes."""
    c = block.cost(True)
    return block.alpha * float(4 * c["ccx"] + c["t"] + c["tdg"] + SCORE_T_PER_ROTATION * c.rotations)


def encoding_kind(block) -> str:
    return {DiagonalAccess: "diagonal", SparseAccess: "sparse-access", EigenAccess: "eigenbasis",
            FrobeniusAccess: "frobenius"}[type(block)]


def _access_block(mats, row_codes_fn, col_codes_fn, col_width, row_width, class_width, square,
                  dense: bool = True):
    """The block-encoding of one F_ℓ (or G₁) with the smallest α × cost (`encoding_score`) among:
    DiagonalAccess when every nonzero is on the diagonal of a square block; else SparseAccess
    (the diagonal kept whole as its own colour where that lowers α) and, for a square block of one
    class on at most DENSE_CODES_MAX codes, EigenAccess (α = ‖A‖₂; symmetric blocks) and
    FrobeniusAccess (α = ‖A‖_F). `dense=False` leaves the dense encodings out (projections, whose
    sparse-model premise scales the nonzeros)."""
    rows, cols, vals = _union(mats)
    rc, cc = row_codes_fn(rows), col_codes_fn(cols)
    if square and np.all(rc == cc):
        return DiagonalAccess(cc, vals, width=col_width, class_width=class_width)
    sparse = SparseAccess(rc, cc, vals, col_width=col_width, row_width=row_width,
                          class_width=class_width, square=square)
    d = int(max(rc.max(), cc.max())) + 1 if rc.size else 0
    if not (dense and square and class_width == 0 and len(mats) == 1 and 0 < d <= DENSE_CODES_MAX
            and row_width == col_width):
        return sparse
    A = np.zeros((d, d))
    A[rc, cc] = vals[0]
    candidates = [sparse, FrobeniusAccess(A, width=col_width)]
    if np.array_equal(A, A.T):
        candidates.append(EigenAccess(A, width=col_width))
    return min(candidates, key=encoding_score)


# ---------------------------------------------------------------------------------------------
# the transfer matrix M̄ and the history matrix L
# ---------------------------------------------------------------------------------------------
def time_classes(system, steps: int) -> tuple[list, list[int]]:
    """(distinct F tuples, class index of each step t < T): sgd groups equal batches; other kinds
    have one class."""
    if system.kind != "sgd" or system.step_F is None:
        return [system.F], [0] * steps
    return _group([system.step_F[t] for t in range(steps)],
                  lambda G, F: len(G) == len(F) and all(_equal(a, b) for a, b in zip(G, F)))


def _equal(a, b) -> bool:
    d = abs(a - b)
    return d.nnz == 0 or d.max() == 0


def _group(items, same) -> tuple[list, list[int]]:
    """(distinct items in order of first appearance, index of each item's class)."""
    classes, index = [], []
    for it in items:
        for k, G in enumerate(classes):
            if same(G, it):
                index.append(k)
                break
        else:
            classes.append(it)
            index.append(len(classes) - 1)
    return classes, index


def _F(classes, l, n):
    return [F[l] if l < len(F) else sp.csr_matrix((n, n ** l)) for F in classes]


def transfer_factors(system, N: int, q: int, classes, class_width: int, dense: bool = True):
    """The block-encodings of M's factors (module docstring): a list of LCUs, applied in order.
    `dense=False`: every F_ℓ by sparse (or diagonal) access (`_access_block`)."""
    n = system.n
    nz = lambda mats: any(m.nnz for m in mats)  # noqa: E731
    slot_code = lambda l: (lambda cols: _slot_code(cols, n, l, q))  # noqa: E731
    if system.kind == "flow":
        h = float(system.dynamics.dt)
        terms, weights = [Identity()], [1.0]
        for l in range(0, min(max(len(F) for F in classes) - 1, N) + 1):
            mats = _F(classes, l, n)
            if not nz(mats):
                continue
            for p in range(N - max(l, 1) + 1):
                if l == 0:
                    terms.append(InsertTerm(mats, p, N, q, class_width))
                else:
                    blk = _access_block(mats, lambda r: r + 1, slot_code(l), l * q, q, class_width, l == 1, dense)
                    terms.append(AccessTerm(blk, p, l, N, q, gap=l - 1, label=f"F{l}@{p}"))
                weights.append(h)
        return [LCU(terms, weights)]
    # discrete: G⁺ steps, then insertion steps
    factors = []
    eye = sp.identity(n, format="csr")
    G1 = []
    for F, f1 in zip(classes, _F(classes, 1, n)):
        g = sp.lil_matrix((n + 1, n + 1))
        g[0, 0] = 1.0
        g[1:, 1:] = (eye + f1).tolil()
        G1.append(g.tocsr())
    g1_identity = all(m.nnz == 0 for m in _F(classes, 1, n))
    for m in range(N):
        terms = []
        if g1_identity:
            terms.append(Identity())
        else:
            blk = _access_block(G1, lambda r: r, lambda c: c, q, q, class_width, True, dense)
            terms.append(AccessTerm(blk, m, 1, N, q, label=f"G1@{m}"))
        for l in range(2, min(max(len(F) for F in classes) - 1, N - m) + 1):
            mats = _F(classes, l, n)
            if not nz(mats):
                continue
            blk = _access_block(mats, lambda r: r + 1, slot_code(l), l * q, q, class_width, False, dense)
            terms.append(AccessTerm(blk, m, l, N, q, gap=l - 1, label=f"F{l}@{m}"))
        if not (len(terms) == 1 and isinstance(terms[0], Identity)):
            factors.append(LCU(terms))
    F0 = _F(classes, 0, n)
    if nz(F0):
        for m in range(N):
            factors.append(LCU([Identity(), InsertTerm(F0, m, N, q, class_width)]))
    return factors


def _dyadic(lo: int, hi: int):
    """Aligned dyadic blocks (value, free) covering [lo, hi)."""
    out, a = [], lo
    while a < hi:
        f = 0
        while a % (1 << (f + 1)) == 0 and a + (1 << (f + 1)) <= hi:
            f += 1
        out.append((a, f))
        a += 1 << f
    return out


def _structured_parts(system, N: int, T: int, p: int, factors=None) -> tuple:
    """(classes, step_class, layout, factors) of the structured history encoding over T steps and
    p idle: the sgd time classes, the slot layout, and M's factors (`transfer_factors`, unless
    made already for the same system, order and T)."""
    classes, step_class = time_classes(system, T)
    layout = SlotLayout(system.n, N, max(1, bits_for(T + 1 + p)))
    if factors is None:
        factors = transfer_factors(system, N, layout.q, classes, bits_for(len(classes)))
    return classes, step_class, layout, factors


def structured_history(system, ls, order: int, *, name: str = "block_encoding",
                       build: bool = True, factors=None) -> BlockEncoding:
    """The structured block-encoding of the history matrix of `ls` (the LinearSystem of `system`
    lowered at Carleman `order` in the Kronecker basis), built from the F_ℓ. With build=False
    only the description is evaluated — α, registers and the cost record — and `circuit` is None
    (what `qdsl resources` estimates from). `factors`: M's factors made already for the same
    system, order and T (`guard_build`), reused instead of colouring the F_ℓ again."""
    N = int(order)
    classes, step_class, layout, factors = _structured_parts(system, N, int(ls.steps), int(ls.idle),
                                                             factors)
    enc = _history(ls, layout, factors, step_class, len(classes), "structured", name, build)
    # B = |0⟩_t ⊗ lift(u_0): prepared slot by slot (blocks.lifted), on the slots and temporaries
    u0 = np.asarray(ls.rhs[np.asarray(ls.theta_index)] if ls.block_dim > 1 else [], dtype=float)
    lifted = LiftedState(system.x0 if u0.size == 0 else u0, N, layout.q)
    temps = list(enc.temporaries)[: lifted.work]
    if len(temps) < lifted.work:
        from qdsl.diagnostics import InternalError
        raise InternalError("not enough clean temporaries for the initial state")
    return replace(enc, initial_state=SlotInitialState(lifted, layout, temps))


class SlotInitialState:
    """The lifted initial state (`blocks.lifted.LiftedState`) on a SlotLayout's slots, with clean
    temporaries of the block-encoding as its work qubits."""

    def __init__(self, lifted, layout, work):
        self.lifted, self.layout, self.work = lifted, layout, list(work)

    @property
    def qubits(self) -> list[int]:
        return [b for s in self.layout.slots for b in s] + self.work

    def build(self, qc) -> None:
        """Append on a circuit whose qubit i is `self.qubits[i]`."""
        q = self.layout.q
        slots = [list(range(p * q, (p + 1) * q)) for p in range(self.layout.order)]
        w0 = self.layout.slot_qubits
        self.lifted.build(qc, slots, list(range(w0, w0 + len(self.work))))

    def cost(self) -> Cost:
        return self.lifted.cost()


@dataclass(frozen=True)
class BlockLayout:
    """The plain layout of the sparse-access path: one register of ⌈log₂ D⌉ qubits holds the
    component index d, the time register sits above it (basis index d + t·2^{n_d})."""

    dim: int
    time_qubits: int

    @property
    def slot_qubits(self) -> int:
        return max(1, bits_for(self.dim))

    @property
    def num_system_qubits(self) -> int:
        return self.slot_qubits + self.time_qubits

    @property
    def slots(self) -> list[list[int]]:
        return [list(range(self.slot_qubits))]

    @property
    def time(self) -> list[int]:
        return list(range(self.slot_qubits, self.num_system_qubits))

    @property
    def system(self) -> tuple[int, ...]:
        return tuple(range(self.num_system_qubits))

    def codes(self) -> np.ndarray:
        return np.arange(self.dim, dtype=np.int64)

    def solution_map(self, num_blocks: int) -> np.ndarray:
        t = np.arange(num_blocks, dtype=np.int64)
        return (self.codes()[None, :] + (t[:, None] << self.slot_qubits)).ravel()


def transfer_classes(ls) -> tuple[list, list[int]]:
    """(distinct transfer matrices, class of each step): equal M_t share a class."""
    return _group([ls.transfer(t) for t in range(ls.steps)], _equal)


#: the most gates one block-encoding may hold to be built (Qiskit builds ~10^5–10^6 gates a second
#: here; the block is built once and called d times, so its own size is what building costs)
MAX_BLOCK_GATES = 500_000


def _check_build(gates: int, construction: str, exact: bool = True) -> None:
    """Refuse (E0508) building a block-encoding of `gates` gates (by its cost functions, or a
    lower bound when not `exact`) over MAX_BLOCK_GATES."""
    if gates > MAX_BLOCK_GATES:
        raise SizeLimitError(Diagnostic(
            "E0508", f"the {construction} block-encoding of this system would hold "
                     f"{'' if exact else 'at least '}{gates:,} gates "
                     f"(over the limit of {MAX_BLOCK_GATES:,} for one block; it is built once and "
                     f"called by every solver step)",
            help="`qdsl resources --no-build` estimates its cost without building it; or lower "
                 "the Carleman order, or use the Kronecker basis (structured: its cost grows with "
                 "the nonzeros of the F_ℓ, not of M)"))


def _nonzeros(m) -> int:
    m = sp.csr_matrix(m, copy=True)
    m.sum_duplicates()
    return int(np.count_nonzero(m.data))


def structured_gates_floor(system, order: int, steps: int) -> int:
    r"""A lower bound on the gates of `structured_history`'s block-encoding, from nonzero counts
    alone (no colouring, no lookup, nothing built): each F_ℓ term that is a `SparseAccess` block —
    every F_ℓ with ℓ ≥ 2 (not square), and G₁ (or a flow's F₁) when it is neither diagonal nor small
    enough for the dense encodings — spends, per class k and stored nonzero of F_ℓ^k, one
    controlled RY (2 ry + 2 cx: `sparse_access_cost`), at each slot position where the term
    occurs. The exact count (`structured_history_cost`) colours the nonzeros, which takes seconds
    per 10^5 of them; this floor refuses a dense extraction instantly."""
    N, T = int(order), int(steps)
    classes, _ = time_classes(system, T)
    n = system.n
    q = max(len(F) for F in classes) - 1

    def per_term(l):
        return 4 * sum(_nonzeros(F) for F in _F(classes, l, n))

    def square_is_sparse(mats, shift):
        rows, cols, _ = _union(mats)
        if rows.size == 0 or np.all(rows == cols):
            return False            # diagonal (or empty): DiagonalAccess / Identity
        d = int(max(rows.max(), cols.max())) + 1 + shift
        return not (len(mats) == 1 and d <= DENSE_CODES_MAX)

    total = 0
    if system.kind == "flow":
        for l in range(1, min(q, N) + 1):
            mats = _F(classes, l, n)
            if l == 1 and not square_is_sparse(mats, 1):
                continue
            total += (N - l + 1) * per_term(l)
        return total
    eye = sp.identity(n, format="csr")
    G1 = [(eye + f1).tocsr() for f1 in _F(classes, 1, n)]
    if any(m.nnz for m in _F(classes, 1, n)) and square_is_sparse(G1, 1):
        total += N * 4 * sum(1 + _nonzeros(g) for g in G1)     # G1^ext: G1 and the empty value's 1
    for l in range(2, min(q, N) + 1):
        total += (N - l + 1) * per_term(l)                   # positions m = 0..N−ℓ
    return total


def structured_history_cost(system, order: int, steps: int, idle: int = 0, factors=None):
    """(cost record, factors) of `structured_history`'s block-encoding of the history matrix,
    from the F_ℓ and the sizes alone: the same factors (`transfer_factors`, or `factors` when
    given) and the same `_history` description (build=False) on a stand-in for the LinearSystem
    that carries only T and p — nothing of the Carleman lift or the history system is built. The
    cost equals `structured_history(...).cost`; the factors can be passed on to it."""
    from types import SimpleNamespace

    N, T, p = int(order), int(steps), int(idle)
    classes, step_class, layout, factors = _structured_parts(system, N, T, p, factors)
    stub = SimpleNamespace(steps=T, idle=p, num_blocks=T + 1 + p)
    enc = _history(stub, layout, factors, step_class, len(classes), "structured", "block_encoding",
                   build=False)
    return enc.cost, factors


def guard_build(system, order: int, steps: int, idle: int, construction: str, carleman=None):
    """Refuse (E0508) a block-encoding of the history matrix over MAX_BLOCK_GATES before the
    history system is assembled. Structured: first from `structured_gates_floor` (instant), then
    from the exact cost functions (`structured_history_cost`; no Carleman lift either) — returns
    the factors it made, for `structured_history(factors=...)`. Sparse-access: from Σ nnz(M) over
    the distinct transfer matrices of `carleman` (≥ 1 gate a nonzero, a lower bound). Other
    constructions: nothing to check here (None)."""
    if construction == "structured":
        _check_build(structured_gates_floor(system, order, steps), "structured", exact=False)
        cost, factors = structured_history_cost(system, order, steps, idle)
        _check_build(int(sum(int(v) for v in cost.values())), "structured")
        return factors
    if construction == "sparse-access" and carleman is not None:
        mats = list(carleman.matrices)
        classes, _ = _group(mats[:int(steps)] if len(mats) > 1 else mats[:1], _equal)
        _check_build(sum(int(m.nnz) for m in classes), "sparse-access", exact=False)
    return None


def sparse_access_history(ls, *, name: str = "block_encoding", build: bool = True) -> BlockEncoding:
    r"""The history matrix with M̄ block-encoded by the general sparse-access construction of M's
    own nonzeros (`blocks.sparse_access`), on the plain layout (any basis; the default for the
    symmetric basis and a reference for the structured one). sgd: one class per distinct M_t."""
    T, p = int(ls.steps), int(ls.idle)
    classes, step_class = transfer_classes(ls)
    if not classes:
        classes = [sp.identity(ls.block_dim, format="csr")]
    if build:   # a unary-iteration lookup spends ≥ 1 gate per nonzero of M: refuse before colouring
        _check_build(sum(m.nnz for m in classes), "sparse-access", exact=False)
    cw = bits_for(len(classes))
    layout = BlockLayout(ls.block_dim, max(1, bits_for(T + 1 + p)))
    nd = layout.slot_qubits
    rows, cols, vals = _union(classes)
    blk = _access_block(classes, lambda r: r, lambda c: c, nd, nd, cw, True)
    factors = [LCU([AccessTerm(blk, 0, 1, 1, nd, label="M")])]
    return _history(ls, layout, factors, step_class, len(classes), "sparse-access", name, build)


def _history(ls, layout, factors, step_class, K, construction, name, build=True) -> BlockEncoding:
    """L = I − S·M̄ around the factors of M (module docstring, "History")."""
    from qiskit import QuantumCircuit

    T, p = int(ls.steps), int(ls.idle)
    cw = bits_for(K)
    mt = layout.time_qubits
    if not factors:  # M = I (nothing to apply): an empty LCU factor keeps the bookkeeping uniform
        factors = [LCU([Identity()])]
    alpha_M = float(np.prod([f.alpha for f in factors]))
    alpha_L = 1.0 + alpha_M
    step_flags = max(f.flags for f in factors)
    # the counter holds up to F − 1 increments plus the time-class flag: values 0..F
    cnt_w = bits_for(len(factors) + 1) if len(factors) > 1 else 0

    # time iteration items: real steps by class (r = 1, class index), idle, cut
    real_items = {}
    for k in range(K):
        steps_k = [t for t in range(T) if step_class[t] == k]
        # runs of consecutive steps → dyadic blocks
        i = 0
        while i < len(steps_k):
            j = i
            while j + 1 < len(steps_k) and steps_k[j + 1] == steps_k[j] + 1:
                j += 1
            for it in _dyadic(steps_k[i], steps_k[j] + 1):
                real_items[it] = k
            i = j + 1
    idle_items = _dyadic(T, T + p)
    cut_items = _dyadic(T + p, 1 << mt)
    theta_idle = 2.0 * math.acos(1.0 / alpha_M) if alpha_M > 1 else 0.0
    needs_real = p > 0 or cw > 0   # the real-step leaves write r or the class, else nothing
    it_all = UnaryIteration(mt, (list(real_items) if needs_real else []) + idle_items + cut_items)
    it_real = UnaryIteration(mt, list(real_items) if needs_real else [])

    # qubit allocation
    nq = layout.num_system_qubits
    def reg(k):
        nonlocal nq
        r = list(range(nq, nq + k))
        nq += k
        return r
    sel = reg(1)[0]
    # the time-class flag z: bit 0 of the product's counter when there is one (a branch with z set
    # never applies M̄, so no increment can follow), else its own qubit
    counter = reg(cnt_w)
    z = counter[0] if cnt_w else reg(1)[0]
    flags = reg(step_flags)
    # M̄ is controlled by sel directly when every t < T+p with sel applies M (no idle steps): the
    # cut t ≥ T+p is flagged by z; with idle steps a temporary r marks the real steps
    r = reg(1)[0] if p > 0 else sel
    klass = reg(cw)
    fw = fold_work(step_flags, cnt_w) if cnt_w else 0
    work_n = max(max(f.work for f in factors), fw, it_all.work, increment_work(mt))
    work = reg(work_n)
    qc = QuantumCircuit(nq, name=name) if build else None

    def real_leaf(qc, c, item):
        if r != sel:
            qc.cx(c, r)
        k = real_items[item]
        for b in range(cw):
            if (k >> b) & 1:
                qc.cx(c, klass[b])

    def time_leaf(qc, c, item):
        if item in real_items:
            real_leaf(qc, c, item)
        elif item in idle_items:
            if theta_idle:
                qc.ry(theta_idle / 2, z); qc.cx(c, z); qc.ry(-theta_idle / 2, z); qc.cx(c, z)
        else:
            qc.cx(c, z)

    # the cost, from the blocks' cost functions
    def leaf_cost_all():
        c = Cost()
        for item in it_all.items:
            if item in real_items:
                c += Cost(cx=(p > 0) + bin(real_items[item]).count("1"))
            elif item in idle_items:
                c += Cost(ry=2, cx=2) if theta_idle else Cost()
            else:
                c += Cost(cx=1)
        return c

    real_leaves = sum((Cost(cx=(p > 0) + bin(real_items[it]).count("1")) for it in it_real.items),
                      Cost())
    cost = Cost(ry=2, z=1)
    cost += it_all.cost(True) + leaf_cost_all() + it_real.cost(True) + real_leaves
    cost += sum((f.cost() for f in factors), Cost())
    if cnt_w:
        cost += sum((fold_cost(f.flags, cnt_w) for f in factors[:-1]), Cost())
    cost += increment_cost(mt)
    cost = cost.with_qubits(nq)
    if build:   # refuse, from the cost functions, what would take minutes to build
        _check_build(int(sum(int(v) for v in cost.values())), construction)

    prep = 2.0 * math.acos(math.sqrt(1.0 / alpha_L))
    controlled = None
    if build:
        # everything between the two PREP rotations acts only under sel (or in PREP·PREP† pairs
        # that cancel): with sel = |0⟩ it is the identity. So U is RY·body·RY† and the controlled
        # U (HHL's walk) only controls the two rotations (sel starts in |0⟩, a flag).
        body = QuantumCircuit(nq, name=name)
        it_all.build(body, sel, layout.time, work, time_leaf)
        ctx = Context({"slots": layout.slots}, flags, work, klass)
        for i, f in enumerate(factors):
            f.build(body, r, ctx)
            if cnt_w and i < len(factors) - 1:
                fold_flags(body, flags[: f.flags], counter, work)
        it_real.build(body, sel, layout.time, work, real_leaf)
        increment(body, sel, layout.time, work)
        body.z(sel)
        qc.ry(prep, sel)
        qc.compose(body, inplace=True)
        qc.ry(-prep, sel)
        controlled = QuantumCircuit(nq + 1, name=f"c_{name}")
        controlled.cry(prep, nq, sel)
        controlled.compose(body, list(range(nq)), inplace=True)
        controlled.cry(-prep, nq, sel)
        controlled = _native_cry(controlled)

    ancillas = tuple([sel] + ([] if cnt_w else [z]) + counter + flags)
    meta = {
        "system_registers": {"slots": len(layout.slots), "slot_qubits": len(layout.slots[0]),
                             "time_qubits": mt},
        "classes": K,
        "factors": [{"alpha": f.alpha, "terms": [getattr(t, "label", "?") for t in f.terms],
                     "weights": list(f.weights),
                     "encodings": [_term_encoding(t) for t in f.terms]} for f in factors],
        "alpha_M": alpha_M, "alpha_L": alpha_L, "flag_qubits": len(ancillas),
        "temporary_qubits": nq - layout.num_system_qubits - len(ancillas),
    }
    meta["layout"] = layout
    smap = (layout.solution_map(ls.num_blocks)
            if build or layout_size(layout) * ls.num_blocks <= 10 ** 7 else None)
    return BlockEncoding(qc, alpha_L, layout.system, ancillas, construction, cost,
                         solution_map=smap, meta=meta, controlled=controlled)


def _term_encoding(term) -> dict:
    """How an LCU term is block-encoded (the report's circuit.construction.factors[].encodings):
    the kind (`encoding_kind`) and its α; identity and insertion terms by name. Lookup-based
    blocks also record the lookup (`unary iteration`, the only one the builder emits; select-swap
    lookups, `blocks/qroam.py`, are costed in projections) and how an entry becomes an amplitude:
    `rotation` (a controlled RY per nonzero) or `phase gradient` with its angle bits."""
    block = getattr(term, "block", None)
    if block is None:
        return {"kind": "identity" if isinstance(term, Identity) else "insertion",
                "alpha": float(term.alpha)}
    out = {"kind": encoding_kind(block), "alpha": float(block.alpha)}
    if isinstance(block, (SparseAccess, DiagonalAccess)):
        bits = getattr(block, "entry_bits", None)
        out.update(lookup="unary iteration", entries="rotation" if bits is None else "phase gradient")
        if bits is not None:
            out["entry_bits"] = int(bits)
    return out


def _native_cry(qc):
    """The circuit with every ``cry`` written in the blocks' gates: RY(θ/2)·CX·RY(−θ/2)·CX."""
    from qiskit import QuantumCircuit

    out = QuantumCircuit(qc.num_qubits, name=qc.name)
    for inst in qc.data:
        qs = [qc.find_bit(b).index for b in inst.qubits]
        if inst.operation.name == "cry":
            th = float(inst.operation.params[0])
            out.ry(th / 2, qs[1]); out.cx(qs[0], qs[1]); out.ry(-th / 2, qs[1]); out.cx(qs[0], qs[1])
        else:
            out.append(inst.operation, qs)
    return out


def layout_size(layout) -> int:
    """Number of valid patterns of a layout (the lifted dimension D), without listing them."""
    if isinstance(layout, BlockLayout):
        return layout.dim
    return sum(layout.n ** j for j in range(layout.order + 1))
