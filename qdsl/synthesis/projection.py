r"""Projected cost of the structured QSVT circuit at sizes where nothing can be built.

The structured circuit's cost is a sum of block costs, each a function of a few sizes (trie nodes,
items, register widths: `blocks.*.…_cost`). At the compiled size those sizes are read from the
blocks themselves and the sum is exact (`qdsl resources` checks it against the emitted file). To
project to n′ parameters and T′ steps, the same composition (`structured._history` over the same
factors and terms) is evaluated with *projected* sizes:

* the Carleman order N, the update degree q and the number of sgd classes K are kept;
* every F_ℓ keeps its nonzeros per parameter (nnz_ℓ′ = nnz_ℓ·n′/n), its number of colours Δ_ℓ and
  its colour maxima μ_c — hence its subnormalization α_ℓ and α_L — the assumption that sparsity,
  not size, is what the model keeps as it grows (the reference paper's sparse-model premise); so
  every F_ℓ is projected by sparse access, also where the compiled circuit took a dense
  (eigenbasis, Frobenius) encoding, whose cost grows as n′² and whose α the premise cannot carry;
* slot width q′ = ⌈log₂(n′+1)⌉, time register m_t′ = ⌈log₂(T′+1+p)⌉ (its trie is exact);
* **access model "qrom"** (the circuit qdsl builds): a lookup of L items on a-bit addresses is a
  unary iteration whose trie is bounded by `lookup.trie_nodes_bound(L, a)` — O(L) Toffolis per
  query, so a query costs O(nnz) and the total grows linearly in n′;
* **access model "qram"** (assumed, not built): every lookup is one QRAM query of
  2a Toffolis (bucket brigade, Giovannetti–Lloyd–Maccone 2008) plus b = ⌈log₂(d·s/ε)⌉ Toffolis to
  turn a b-bit entry into its rotation (phase gradient) — polylogarithmic in n′, the paper's model;
* popcounts of codes are taken as half the code width (the average);
* κ′ = α_L·‖L⁻¹‖ with ‖L⁻¹‖ ≤ Σ_k max_j ‖M^j‖ over T′+1+p blocks (`projected_inverse_norm`,
  certified for the compiled transfer matrices; their norms assumed kept as n grows): T′+1+p when
  ‖M‖₂ ≤ 1, geometric on a contraction, and growing as ρ(M)^{T′} — exponentially, as the true
  ‖L⁻¹‖ does — when the lift grows (ρ(M) ≥ ρ(I+F₁)^N); refused (E0620) when that overflows. The
  degree d from κ′ and ε (`qsp.degree_for`, δ = ε/4) — the builder's rule before its exact-error
  refinement;
* the initial state (`blocks.lifted`): per slot a pruned Möttönen tree over the k+1 amplitudes of
  (∅, ū) — k nonzero weights, the compiled fraction times n′ — bounded by min(2^{q′}−1, (k+1)q′)
  rotations and as many CNOTs, controlled on the previous slot for slots 1..N−1.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import weakref
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .blocks.cost import Cost
from .blocks.diagonal import DiagonalAccess, diagonal_cost
from .blocks.lcu import LCU, Identity
from .blocks.lookup import trie_cost, trie_nodes_bound
from .blocks.mcx import mcx_cost, mcx_work
from .blocks.sparse_access import SparseAccess, bits_for, sparse_access_cost
from .blocks.swap import cswap_cost, shift_swaps
from .qsp import degree_for

__all__ = ["project_structured", "project_sparse_access", "project", "ACCESS_MODELS",
           "qroam_lookup_cost", "qubit_budget"]

#: "qrom" (as built), "qroam" (select-swap: Toffolis traded for b·k data qubits), "qram" (assumed
#: O(log n) queries), "qram-free" (QRAM, and the initial state prepared for free: the reference
#: paper's most favourable reading)
#: "qram-counted" (QRAM whose memory is paid for at every query: a fault-tolerant bucket brigade
#: activates every router, one Toffoli per memory cell and query — Di Matteo, Gheorghiu, Mosca,
#: IEEE TQE 1, 2020)
ACCESS_MODELS = ("qrom", "qroam", "qram", "qram-counted", "qram-free")


def qroam_lookup_cost(items: int, bits: int, max_qubits: int | None = None) -> tuple[int, int, int]:
    r"""(Toffolis, data qubits, k) of one QROAM lookup of `items` entries of `bits` bits, computed
    and uncomputed — the one place qdsl prices select-swap (advanced QROM).

    Berry, Gidney, Motta, McClean, Babbush, Quantum 3, 208 (2019), App. A (after Low,
    Kliuchnikov, Schaeffer, arXiv:1812.00954): the lookup with k = 2^j copies costs ⌈L/k⌉ + b(k−1)
    Toffolis on b·k data qubits (clean); its measurement-based uncomputation ⌈L/k′⌉ + k′ with k′
    its own power of two. Each k is the power of two minimizing its count (k ≤ L), the compute's k
    with b·k ≤ `max_qubits` when a budget is given (k = 1, b qubits — the output register of a
    plain unary lookup — at least); the uncomputation's k′ needs no data qubits beyond the k′
    ≤ b·k it reuses, so it is capped alike."""
    L, b = max(1, int(items)), max(1, int(bits))
    cap = None if max_qubits is None else max(1, int(max_qubits) // b)

    def best(f):
        ks = [1 << j for j in range(0, max(1, L).bit_length() + 1)]
        return min((f(k), k) for k in ks if k <= max(L, 1) and (cap is None or k <= cap or k == 1))

    compute, k = best(lambda k: -(-L // k) + b * (k - 1))
    uncompute, _ = best(lambda k: -(-L // k) + k)
    return int(compute + uncompute), int(b * k), int(k)


#: the logical-qubit budget of a QROAM projection (`qubit_budget`; None: the k of fewest Toffolis)
_QUBIT_BUDGET: contextvars.ContextVar = contextvars.ContextVar("qdsl_qubit_budget", default=None)
#: the QROAM lookups of the projection in progress: their data-qubit budget and the largest use
_QROAM: contextvars.ContextVar = contextvars.ContextVar("qdsl_qroam_track", default=None)


@contextlib.contextmanager
def qubit_budget(max_qubits: int | None):
    """Project QROAM lookups under a budget of `max_qubits` logical qubits for one attempt (the
    circuit's own qubits plus the lookups' data register, which every lookup reuses): each
    lookup's block size k is the one of fewest Toffolis that fits (`project_structured`)."""
    tok = _QUBIT_BUDGET.set(None if max_qubits is None else int(max_qubits))
    try:
        yield
    finally:
        _QUBIT_BUDGET.reset(tok)


def _qroam(items, bits) -> int:
    """Toffolis of one QROAM lookup in the projection in progress, recording its data qubits."""
    tr = _QROAM.get()
    tof, qubits, k = qroam_lookup_cost(items, bits, None if tr is None else tr["budget"])
    if tr is not None:
        tr["min"] = max(tr["min"], max(1, int(bits)))
        if qubits > tr["data_qubits"]:
            tr.update(data_qubits=qubits, block=k, items=int(items), bits=int(bits))
    return tof


@dataclass
class _Virtual:
    """A term known only by its α, flag and work widths and cost (projected)."""

    alpha: float
    flags: int
    work: int
    _cost: Cost
    label: str = ""

    def cost(self) -> Cost:
        return self._cost

    def build(self, qc, ctrl, ctx):  # pragma: no cover - projections build nothing
        raise RuntimeError("a projected term has no circuit")


def _qram_lookup(a, items_bits, b) -> Cost:
    return Cost(ccx=2 * a + b, cx=items_bits + 2, ry=2)


def _qroam_lookup(items, items_bits, b) -> Cost:
    """A QROAM lookup of `items` entries, each its `items_bits` index bits and a b-bit entry
    (`qroam_lookup_cost`), the entry turned into its rotation as in the QRAM model."""
    return Cost(ccx=_qroam(items, items_bits + b) + b, cx=items_bits + 2, ry=2)


def _is_qram(access) -> bool:
    return access in ("qram", "qram-free", "qram-counted")


def _memory_cost(access, *items) -> Cost:
    """"qram-counted": one Toffoli per memory cell (router) of every table a query reads."""
    return Cost(ccx=int(sum(items))) if access == "qram-counted" else Cost()


def _project_access(block, r, q2, cw, ell, access, b):
    """Projected cost, flags and work of a sparse-access / diagonal block (see module docstring)."""
    if isinstance(block, DiagonalAccess):
        st = block.stats()
        items = max(1, round((st["items"] - 1) * r) + 1)   # the empty value keeps its 1 entry
        a = cw + q2
        if _is_qram(access):
            c = _qram_lookup(a, 0, b) + Cost(cx=1) + _memory_cost(access, items)
        elif access == "qroam":
            c = _qroam_lookup(items, 0, b) + Cost(cx=1)
        else:
            c = diagonal_cost({"nodes": trie_nodes_bound(items, a), "items": items})
        return c, 1, a
    st = block.stats()
    color_w = block.color_width
    col_items = max(1, round(st["col_items"] * r))
    row_items = max(1, round(len(block._row_items()) * r))
    a_c, a_r = cw + color_w + ell * q2, color_w + q2
    if _is_qram(access):
        c = (_qram_lookup(a_c, q2, b) + _qram_lookup(a_r, ell * q2, b) + Cost(cx=1)
             + cswap_cost(q2) + 2 * st["prep"] + _memory_cost(access, col_items, row_items))
    elif access == "qroam":
        c = (_qroam_lookup(col_items, q2, b) + _qroam_lookup(row_items, ell * q2, b) + Cost(cx=1)
             + cswap_cost(q2) + 2 * st["prep"])
    else:
        c = sparse_access_cost({
            "col_nodes": trie_nodes_bound(col_items, a_c), "row_nodes": trie_nodes_bound(row_items, a_r),
            "col_items": col_items, "row_bits": col_items * q2 // 2,
            "col_bits": row_items * ell * q2 // 2, "row_width": q2, "prep": st["prep"]})
    return c, q2 + color_w + 1, max(a_c, a_r)


def _project_term(term, r, q2, N, cw, access, b):
    from .structured import AccessTerm, InsertTerm

    if isinstance(term, Identity):
        return term
    if isinstance(term, AccessTerm):
        c, flags, work = _project_access(term.block, r, q2, cw, term.width, access, b)
        if term.gap:
            c = c + len(shift_swaps(term.lo + 1, term.N, term.gap)) * cswap_cost(q2)
        return _Virtual(term.alpha, flags, work, c, term.label)
    if isinstance(term, InsertTerm):
        z = mcx_cost(q2 + 1, q2)
        c = (z if term.m > 0 else Cost()) + Cost(cx=1) + z + (z if term.slack else Cost())
        c += len(shift_swaps(term.m, term.N, 1)) * cswap_cost(q2)
        K = len(term.preps)
        if _is_qram(access):
            prep_one = Cost(ccx=2 * (cw + q2) * q2 + b * q2, ry=2 * q2, cx=2 * q2)  # q2 loaded angles
            prep_one += _memory_cost(access, (1 << q2) - 1)
        elif access == "qroam":   # level j of the tree: one QROAM lookup of its 2^j angles
            prep_one = Cost(ccx=sum(_qroam(1 << j, b) + b for j in range(q2)),
                            ry=2 * q2, cx=2 * q2)
        else:
            rot = (1 << q2) - 1                      # a dense F_0: the full Möttönen tree
            prep_one = Cost(ry=2 * rot, cx=(1 << q2) - 2 + 2 * rot)
        c += K * prep_one
        if term._trie is not None:
            c += trie_cost(trie_nodes_bound(K, cw))
        return _Virtual(term.alpha, term.flags, max(mcx_work(q2 + 1), cw), c, "F0")
    raise TypeError(f"cannot project {type(term).__name__}")  # pragma: no cover


def projected_inverse_norm(ls, steps: int, idle: int) -> tuple[float, str]:
    r"""A certified upper bound on ‖L⁻¹‖₂ of the history system of the compiled transfer matrices
    (`ls.transfers`, cycled: sgd's per-step matrices repeat with the compiled period) over `steps`
    real and `idle` idle steps, and how (`lowering.history.inverse_norm_bound`). At the compiled T
    it is at least the exact value; at T′ it is exact arithmetic on the same matrices, so a model
    whose lift grows is projected with ρ(M)^{T′}, never with a linear scaling."""

    T, p = int(steps), int(idle)
    memo = _PROJECTED.setdefault(ls, {})     # the end-to-end cost asks again for each idle/degree tried
    if (T, p) not in memo:
        memo[(T, p)] = _projected_inverse_norm(ls, T, p)
    return memo[(T, p)]


#: projected ‖L⁻¹‖ bounds per compiled linear system (weakly held: gone with the system)
_PROJECTED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _projected_inverse_norm(ls, T: int, p: int) -> tuple[float, str]:
    from qdsl.lowering.history import _inverse_norm_estimate, certify_inverse_norm, inverse_norm_bound

    period = len(ls.transfers) if len(ls.transfers) > 1 else None
    value, how = inverse_norm_bound(ls.transfers, T, p, period=period)
    how = how.replace("‖M^j‖", f"‖M^j‖ over T′ = {T} steps of the compiled M", 1)
    D = ls.block_dim
    if (T + 1 + p) <= PROJECTED_CERTIFICATE_BLOCKS and math.isfinite(value):
        # the history system at T′ is small enough to estimate and certify (history.certify_inverse_norm)
        Ms = [ls.transfers[t % len(ls.transfers)] for t in range(T)] if period else [ls.transfers[0]]
        est = _inverse_norm_estimate(Ms, T, p) if (T + 1 + p) * D <= 2_000_000 else math.nan
        cert = certify_inverse_norm(Ms, T, p, est)
        if cert is not None and cert[0] < value:
            return cert[0], (f"certified (Lanczos estimate {est:.6g} over T′ = {T} steps of the compiled M, "
                             f"with a proven margin: block Cholesky at δ = {cert[1]:g})")
    return value, how


#: history systems of up to this many blocks are estimated and certified at the projected T′
#: (a Lanczos estimate and a block Cholesky, seconds); longer ones take the power bound alone
PROJECTED_CERTIFICATE_BLOCKS = 2_048


def _kappa_and_degree(ls0, alpha_L: float, T2: int, p: int, eps: float, degree) -> tuple:
    """(κ′, its source, the QSVT degree) at T′ = `T2` steps and p idle: κ′ = α_L·‖L⁻¹‖ with the
    certified `projected_inverse_norm` of the compiled system; E0620 where that bound overflows."""
    inv, source = projected_inverse_norm(ls0, T2, p)
    kappa_prime = max(1.0, alpha_L * inv)
    if not math.isfinite(kappa_prime):
        from qdsl.diagnostics import Diagnostic, SizeLimitError
        raise SizeLimitError(Diagnostic(
            "E0620", f"cannot project to T = {T2} steps: the certified bound on ‖L⁻¹‖ overflows "
            f"(10^308) — {source}",
            help="the Carleman lift of this model grows with the number of steps (its transfer "
                 "matrix is not a contraction: `qdsl check` says whether training is dissipative); "
                 "project to fewer steps (--steps), or make training dissipative (a smaller lr)"))
    d = degree_for(kappa_prime, eps / 4) if degree is None else int(degree)
    return kappa_prime, source, d


def _qsvt_total(enc, prep: Cost, d: int, data_qubits: int) -> tuple:
    """(zero-flip cost, the whole attempt) of the QSVT circuit around the projected encoding
    (`qsvt.qsvt_cost`): the initial state, d block-encoding calls, 2(d+1) reflections about the
    flags' zero, d+2 phase rotations; qubits: the encoding's, the signal qubit and QROAM's data."""
    nflags, ntemp = len(enc.ancillas), len(enc.temporaries)
    zf = mcx_cost(nflags, nflags, "clean" if ntemp >= max(0, nflags - 2) else "dirty")
    total = (prep + d * enc.cost + 2 * (d + 1) * zf + Cost(rz=d + 2, h=2)).with_qubits(
        enc.num_qubits + 1 + data_qubits)
    return zf, total


def _encoding_under_budget(build, access: str):
    """(enc, track, data_qubits, budget): the projected history encoding `build()` with its QROAM
    lookups recorded (`_qroam`), and — under a `qubit_budget` — rebuilt with the data register
    limited to what the circuit's own qubits leave (E0450 when not even k = 1 fits). The circuit's
    own qubits do not depend on k, so the rest of the budget is the data register's."""
    def encoding(data_budget):
        track = {"budget": data_budget, "data_qubits": 0, "block": 1, "items": 0, "bits": 0, "min": 0}
        tok = _QROAM.set(track)
        try:
            enc = build()
        finally:
            _QROAM.reset(tok)
        return enc, track

    enc, track = encoding(None)
    budget = _QUBIT_BUDGET.get() if access == "qroam" else None
    if budget is not None and enc.num_qubits + 1 + track["data_qubits"] > budget:
        spare = budget - (enc.num_qubits + 1)
        if spare < track["min"]:
            from qdsl.diagnostics import Diagnostic, SizeLimitError
            raise SizeLimitError(Diagnostic(
                "E0450", f"--max-qubits {budget:,} is below the {enc.num_qubits + 1 + track['min']:,} "
                f"logical qubits the projected circuit needs with the plainest QROAM (k = 1: "
                f"{enc.num_qubits + 1:,} for the circuit, {track['min']:,} for the widest lookup's "
                f"output register)",
                help=f"allow at least --max-qubits {enc.num_qubits + 1 + track['min']}, or leave it "
                     f"out to get the k of fewest Toffolis and the qubits it takes"))
        enc, track = encoding(spare)
    return enc, track, (track["data_qubits"] if access == "qroam" else 0), budget


def _sizes(c, params, steps, idle, access) -> tuple:
    """(system, compiled n, order N, compiled T, idle p — the compiled one unless given —,
    projected n′, projected T′) of a projection request, its access model checked."""
    if access not in ACCESS_MODELS:
        raise ValueError(f"access model must be one of {ACCESS_MODELS}")
    system = c.system
    p = int(c.idle) if idle is None else int(idle)
    return (system, int(system.n), int(c.order), int(system.dynamics.steps), p, int(params),
            int(steps))


def _history_steps(step_class, T0: int, T2: int, p: int) -> tuple:
    """(the sizes `structured._history` reads of a history system with T′ real and p idle steps,
    the class of each projected step: the compiled classes repeated with the compiled period)."""
    step_class2 = [step_class[t % max(T0, 1)] if T0 else 0 for t in range(T2)]
    return SimpleNamespace(steps=T2, idle=p, num_blocks=T2 + 1 + p), step_class2


def project_structured(c, *, params: int, steps: int, eps: float, access: str = "qrom",
                       idle: int | None = None, degree: int | None = None) -> dict:
    r"""The projected gate counts of the structured QSVT circuit of Compilation `c` at n′ =
    `params`, T′ = `steps` (module docstring); `idle` overrides the compiled p, `degree` the
    degree chosen from κ′ and `eps` (the end-to-end cost tries several). Returns {"counts": Cost (qubits set),
    "block_encoding": Cost per call, "degree", "kappa_prime", "kappa_source", "alpha",
    "state_preparation": Cost, "sizes": {...}}."""
    from .structured import SlotLayout, _history, time_classes, transfer_factors

    system, n0, N, T0, p, n2, T2 = _sizes(c, params, steps, idle, access)
    r = n2 / n0
    classes, step_class = time_classes(system, T0)
    K = len(classes)
    cw = bits_for(K)
    q0 = max(1, bits_for(n0 + 1))
    q2 = max(1, bits_for(n2 + 1))
    # sparse (or diagonal) access for every F_ℓ: the dense encodings' cost grows as n², which the
    # sparse-model premise below does not describe
    factors0 = transfer_factors(system, N, q0, classes, cw, dense=False)
    # κ′ and the degree first: the QRAM model's entry bits depend on d
    ls0 = c.linear_system
    alpha_M = float(np.prod([f.alpha for f in factors0])) if factors0 else 1.0
    alpha_L = 1.0 + alpha_M
    kappa_prime, source, d = _kappa_and_degree(ls0, alpha_L, T2, p, eps, degree)
    s = max([b.num_colors for f in factors0 for t in f.terms
             for b in [getattr(t, "block", None)] if isinstance(b, SparseAccess)] + [1])
    b_bits = max(1, math.ceil(math.log2(d * s / eps)))
    stub, step_class2 = _history_steps(step_class, T0, T2, p)
    layout = SlotLayout(n2, N, max(1, bits_for(T2 + 1 + p)))

    def factors():
        return [LCU([_project_term(t, r, q2, N, cw, access, b_bits) for t in f.terms], f.weights)
                for f in factors0]

    enc, track, data_qubits, budget = _encoding_under_budget(
        lambda: _history(stub, layout, factors(), step_class2, K, "structured", "block_encoding",
                         build=False), access)
    # the QSVT circuit around it (`qsvt.qsvt_cost`, with the initial state projected)
    k0 = int(np.count_nonzero(system.x0))
    k2 = max(1, round(k0 * r)) if k0 else 0
    # the lifted state slot by slot (blocks.lifted): per slot a pruned tree over k+1 amplitudes
    rot = min((1 << q2) - 1, (k2 + 1) * q2) if k2 else 0
    prep = Cost(ry=rot, cx=rot) + (N - 1) * (2 * mcx_cost(q2, q2) + Cost(x=2, ry=2 * rot, cx=3 * rot)) \
        if k2 and access != "qram-free" else Cost()
    nflags, ntemp = len(enc.ancillas), len(enc.temporaries)
    zf, total = _qsvt_total(enc, prep, d, data_qubits)
    return {"counts": total, "block_encoding": enc.cost, "degree": int(d), "kappa_prime": kappa_prime,
            "kappa_source": source, "alpha": alpha_L, "state_preparation": prep, "access": access,
            "entry_bits": b_bits if access != "qrom" else None, "idle": p, "zero_flip": zf,
            "sizes": {"n": n2, "T": T2, "N": N, "slot_qubits": q2, "time_qubits": layout.time_qubits,
                      "system_qubits": layout.num_system_qubits, "flag_qubits": nflags,
                      "temporary_qubits": ntemp, "logical_qubits": enc.num_qubits + 1 + data_qubits,
                      "classes": K, "nonzero_weights": k2,
                      **({"qroam_data_qubits": data_qubits, "qroam_block": track["block"],
                          "qroam_widest_lookup": {"items": track["items"], "bits": track["bits"]},
                          "qubit_budget": budget} if access == "qroam" else {})}}



def symmetric_transfer_size(ls0, n2: int, N: int) -> tuple:
    """(D′, nnz(M′), classes, step_class) of a symmetric-basis history system `ls0` projected to
    n′ = `n2` parameters: D′ = C(n′+N, N) (exact) and nnz(M′) = (the compiled M's fullest row)·D′
    per transfer class — ≥ nnz(M) at the compiled size, and a small model's boundary rows (fewer
    neighbours) do not lower it (`project_sparse_access`'s premise). `classes`/`step_class`: the
    compiled transfer classes (`structured.transfer_classes`; the identity when there is none)."""
    import scipy.sparse as sp

    from qdsl.lowering.carleman import carleman_dimension

    from .structured import transfer_classes

    D2 = carleman_dimension(int(n2), int(N), "symmetric")
    classes, step_class = transfer_classes(ls0)
    if not classes:
        classes = [sp.identity(int(ls0.block_dim), format="csr")]
    row_max = max(int(np.max(np.diff(m.tocsr().indptr))) for m in classes) \
        if sum(m.nnz for m in classes) else 1
    return D2, row_max * D2 * len(classes), classes, step_class


def project_sparse_access(c, *, params: int, steps: int, eps: float, access: str = "qrom",
                          idle: int | None = None, degree: int | None = None) -> dict:
    r"""The projected gate counts of the sparse-access QSVT circuit of a symmetric-basis
    Compilation `c` (`structured.sparse_access_history`: one sparse-access block of the whole
    transfer matrix M on the plain layout) at n′ = `params`, T′ = `steps`; same keys as
    `project_structured`.

    The history system under the symmetric lift has blocks of D′ = C(n′+N, N) components
    (`carleman_dimension`, exact). The premise is the structured projection's, read on M: no row
    of M′ holds more nonzeros than the compiled M's fullest row s (nnz(M′) = s·D′ per class — a
    row of a monomial couples to the monomials its variables' updates reach, which a sparse model
    keeps as n grows; at the compiled size ≥ nnz(M)), M keeps its
    colours and colour maxima (hence α_M and α_L = 1 + α_M), and its transfer norms (so
    ‖L⁻¹‖ ≤ Σ_k max_j ‖M^j‖ over T′+1+p blocks of the compiled symmetric M, `projected_inverse_norm`:
    certified, exponential in T′ when the lift grows). The block's address is ⌈log₂ D′⌉ bits; its
    lookups are projected as the structured path's (`_project_access`: unary iteration under QROM,
    O(log D′) queries under QRAM, select-swap under QROAM). The initial state: a pruned Möttönen
    tree over the nonzero monomials of y_0 — C(k′+N, N) for k′ nonzero weights — on ⌈log₂ D′⌉ qubits,
    min(2^{⌈log₂ D′⌉} − 1, (C(k′+N, N)+1)·⌈log₂ D′⌉) rotations and as many CNOTs (free under qram-free)."""
    from qdsl.lowering.carleman import carleman_dimension

    from .structured import AccessTerm, BlockLayout, _access_block, _history

    system, n0, N, T0, p, n2, T2 = _sizes(c, params, steps, idle, access)
    ls0 = c.linear_system
    D0 = int(ls0.block_dim)
    D2, nnz2, classes, step_class = symmetric_transfer_size(ls0, n2, N)
    nnz0 = sum(m.nnz for m in classes)
    r = nnz2 / max(nnz0, 1)
    K = len(classes)
    cw = bits_for(K)
    nd0 = max(1, bits_for(D0))
    nd2 = max(1, bits_for(D2))
    blk = _access_block(classes, lambda x: x, lambda x: x, nd0, nd0, cw, True, dense=False)
    term0 = AccessTerm(blk, 0, 1, 1, nd0, label="M")
    alpha_M = float(blk.alpha)
    alpha_L = 1.0 + alpha_M
    kappa_prime, source, d = _kappa_and_degree(ls0, alpha_L, T2, p, eps, degree)
    s = int(getattr(blk, "num_colors", 1) or 1)
    b_bits = max(1, math.ceil(math.log2(d * s / eps)))
    stub, step_class2 = _history_steps(step_class, T0, T2, p)
    layout = BlockLayout(D2, max(1, bits_for(T2 + 1 + p)))
    enc, track, data_qubits, budget = _encoding_under_budget(
        lambda: _history(stub, layout, [LCU([_project_term(term0, r, nd2, N, cw, access, b_bits)])],
                         step_class2, K, "sparse-access", "block_encoding", build=False), access)
    k0 = int(np.count_nonzero(system.x0))
    k2 = max(1, round(k0 * n2 / n0)) if k0 else 0
    amps = carleman_dimension(k2, N, "symmetric")       # y_0's nonzero monomials (the constant 1 too)
    rot = min((1 << nd2) - 1, (amps + 1) * nd2) if nd2 < 4000 else (amps + 1) * nd2
    prep = Cost(ry=rot, cx=rot) if access != "qram-free" else Cost()
    nflags, ntemp = len(enc.ancillas), len(enc.temporaries)
    zf, total = _qsvt_total(enc, prep, d, data_qubits)
    return {"counts": total, "block_encoding": enc.cost, "degree": int(d), "kappa_prime": kappa_prime,
            "kappa_source": source, "alpha": alpha_L, "state_preparation": prep, "access": access,
            "entry_bits": b_bits if access != "qrom" else None, "idle": p, "zero_flip": zf,
            "construction": "sparse-access",
            "sizes": {"n": n2, "T": T2, "N": N, "slot_qubits": nd2, "time_qubits": layout.time_qubits,
                      "system_qubits": layout.num_system_qubits, "flag_qubits": nflags,
                      "temporary_qubits": ntemp, "logical_qubits": enc.num_qubits + 1 + data_qubits,
                      "classes": K, "nonzero_weights": k2, "block_dim": D2,
                      "transfer_nonzeros": int(nnz2),
                      **({"qroam_data_qubits": data_qubits, "qroam_block": track["block"],
                          "qroam_widest_lookup": {"items": track["items"], "bits": track["bits"]},
                          "qubit_budget": budget} if access == "qroam" else {})}}


def project(c, **kw) -> dict:
    """The projection of Compilation `c`'s QSVT circuit: `project_sparse_access` for the symmetric
    basis (whose circuit is the sparse-access one), else `project_structured`."""
    if getattr(c, "basis", "kronecker") == "symmetric":
        return project_sparse_access(c, **kw)
    return project_structured(c, **kw)
