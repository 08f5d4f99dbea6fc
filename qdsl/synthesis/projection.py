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
* κ′ = α_L·(T′+1+p) when the compiled transfer matrix has ‖M‖₂ ≤ 1 (the certified bound), else the
  compiled ‖L⁻¹‖ scaled by (T′+1+p)/(T+1+p) (said to be optimistic), and the degree d from κ′ and ε
  (`qsp.degree_for`, δ = ε/4) — the same rule as the builder before its exact-error refinement;
* the initial state (`blocks.lifted`): per slot a pruned Möttönen tree over the k+1 amplitudes of
  (∅, ū) — k nonzero weights, the compiled fraction times n′ — bounded by min(2^{q′}−1, (k+1)q′)
  rotations and as many CNOTs, controlled on the previous slot for slots 1..N−1.
"""
from __future__ import annotations

import math
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

__all__ = ["project_structured", "ACCESS_MODELS"]

ACCESS_MODELS = ("qrom", "qram")


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


def _project_access(block, r, q2, cw, ell, access, b):
    """Projected cost, flags and work of a sparse-access / diagonal block (see module docstring)."""
    if isinstance(block, DiagonalAccess):
        st = block.stats()
        items = max(1, round((st["items"] - 1) * r) + 1)   # the empty value keeps its 1 entry
        a = cw + q2
        if access == "qram":
            c = _qram_lookup(a, 0, b) + Cost(cx=1)
        else:
            c = diagonal_cost({"nodes": trie_nodes_bound(items, a), "items": items})
        return c, 1, a
    st = block.stats()
    color_w = block.color_width
    col_items = max(1, round(st["col_items"] * r))
    row_items = max(1, round(len(block._row_items()) * r))
    a_c, a_r = cw + color_w + ell * q2, color_w + q2
    if access == "qram":
        c = (_qram_lookup(a_c, q2, b) + _qram_lookup(a_r, ell * q2, b) + Cost(cx=1)
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
        if access == "qram":
            prep_one = Cost(ccx=2 * (cw + q2) * q2 + b * q2, ry=2 * q2, cx=2 * q2)  # q2 loaded angles
        else:
            rot = (1 << q2) - 1                      # a dense F_0: the full Möttönen tree
            prep_one = Cost(ry=2 * rot, cx=(1 << q2) - 2 + 2 * rot)
        c += K * prep_one
        if term._trie is not None:
            c += trie_cost(trie_nodes_bound(K, cw))
        return _Virtual(term.alpha, term.flags, max(mcx_work(q2 + 1), cw), c, "F0")
    raise TypeError(f"cannot project {type(term).__name__}")  # pragma: no cover


def project_structured(c, *, params: int, steps: int, eps: float, access: str = "qrom") -> dict:
    r"""The projected gate counts of the structured QSVT circuit of Compilation `c` at n′ =
    `params`, T′ = `steps` (module docstring). Returns {"counts": Cost (qubits set),
    "block_encoding": Cost per call, "degree", "kappa_prime", "kappa_source", "alpha",
    "state_preparation": Cost, "sizes": {...}}."""
    from .structured import SlotLayout, _history, time_classes, transfer_factors

    if access not in ACCESS_MODELS:
        raise ValueError(f"access model must be one of {ACCESS_MODELS}")
    system = c.system
    n0, N = int(system.n), int(c.order)
    T0 = int(system.dynamics.steps)
    p = int(c.idle)
    n2, T2 = int(params), int(steps)
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
    from qdsl.lowering.history import inverse_norm, transfer_norm_bound
    bound_ok = max(transfer_norm_bound(M)[0] for M in ls0.transfers) <= 1.0 + 1e-12
    alpha_M = float(np.prod([f.alpha for f in factors0])) if factors0 else 1.0
    alpha_L = 1.0 + alpha_M
    if bound_ok:
        inv, source = float(T2 + 1 + p), "bound T′+1+p (‖M‖₂ ≤ 1 at the compiled size, assumed kept)"
    else:
        inv0, how = inverse_norm(ls0)
        inv = inv0 * (T2 + 1 + p) / (T0 + 1 + p)
        source = (f"‖L⁻¹‖ = {inv0:.4g} at T = {T0} ({how}) scaled by (T′+1+p)/(T+1+p): optimistic "
                  "(‖M‖₂ > 1, κ may grow exponentially in T)")
    kappa_prime = max(1.0, alpha_L * inv)
    d = degree_for(kappa_prime, eps / 4)
    s = max([b.num_colors for f in factors0 for t in f.terms
             for b in [getattr(t, "block", None)] if isinstance(b, SparseAccess)] + [1])
    b_bits = max(1, math.ceil(math.log2(d * s / eps)))
    factors = [LCU([_project_term(t, r, q2, N, cw, access, b_bits) for t in f.terms], f.weights)
               for f in factors0]
    step_class2 = [step_class[t % max(T0, 1)] if T0 else 0 for t in range(T2)]
    layout = SlotLayout(n2, N, max(1, bits_for(T2 + 1 + p)))
    stub = SimpleNamespace(steps=T2, idle=p, num_blocks=T2 + 1 + p)
    enc = _history(stub, layout, factors, step_class2, K, "structured", "block_encoding", build=False)
    # the QSVT circuit around it (`qsvt.qsvt_cost`, with the initial state projected)
    k0 = int(np.count_nonzero(system.x0))
    k2 = max(1, round(k0 * r)) if k0 else 0
    # the lifted state slot by slot (blocks.lifted): per slot a pruned tree over k+1 amplitudes
    rot = min((1 << q2) - 1, (k2 + 1) * q2) if k2 else 0
    prep = Cost(ry=rot, cx=rot) + (N - 1) * (2 * mcx_cost(q2, q2) + Cost(x=2, ry=2 * rot, cx=3 * rot)) \
        if k2 else Cost()
    nflags, ntemp = len(enc.ancillas), len(enc.temporaries)
    zf = mcx_cost(nflags, nflags, "clean" if ntemp >= max(0, nflags - 2) else "dirty")
    total = (prep + d * enc.cost + 2 * (d + 1) * zf + Cost(rz=d + 2, h=2)).with_qubits(enc.num_qubits + 1)
    return {"counts": total, "block_encoding": enc.cost, "degree": int(d), "kappa_prime": kappa_prime,
            "kappa_source": source, "alpha": alpha_L, "state_preparation": prep, "access": access,
            "entry_bits": b_bits if access == "qram" else None,
            "sizes": {"n": n2, "T": T2, "N": N, "slot_qubits": q2, "time_qubits": layout.time_qubits,
                      "system_qubits": layout.num_system_qubits, "flag_qubits": nflags,
                      "temporary_qubits": ntemp, "logical_qubits": enc.num_qubits + 1,
                      "classes": K, "nonzero_weights": k2}}
