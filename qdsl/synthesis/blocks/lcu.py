r"""Combinators: linear combination (LCU) and product of block-encodings, with their subnormalizations.

**Linear combination** (Childs & Wiebe 2012; GSLW 2019, Lemma 52). Terms U_i block-encode A_i/α_i
on a shared system register and a shared flag register (only one term acts in each branch, so the
flag register is as wide as the widest term). With weights λ_i > 0,

    PREP|0⟩ = Σ_i √(λ_i α_i / α) |i⟩,   SELECT = Σ_i |i⟩⟨i| ⊗ U_i,   α = Σ_i λ_i α_i,

and ⟨0|PREP† SELECT PREP|0⟩ = Σ_i λ_i A_i / α. SELECT is a unary iteration over the branch register
(`lookup.UnaryIteration`) whose leaves apply the controlled terms; an identity term has an empty
leaf and is left out of the trie. Under an outer control only SELECT is controlled (PREP·PREP† = I).

**Product** (GSLW 2019, Lemma 53–54, with a compressed flag): the factors V_k of M = V_{K−1}⋯V_0 are
applied in turn on one shared flag register F. After each factor but the last, a counter register
(⌈log₂ K⌉ qubits, never overflowing) is incremented when F ≠ 0 — the branch has failed — so later
factors may run on a non-zero F (inside an already failed branch) without harm. The flags of the
product are the counter and F: ⟨0|U|0⟩ = Π_k A_k / Π_k α_k, α = Π α_k. Each increment costs a
zero-test of F into a clean scratch qubit (`mcx`, twice) and a controlled increment (`increment`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cost import Cost
from .increment import increment, increment_cost, increment_work
from .lookup import UnaryIteration
from .mcx import mcx, mcx_cost, mcx_work
from .prepare import PrepareState
from .sparse_access import bits_for

__all__ = ["Context", "LCU", "fold_flags", "fold_cost", "fold_work"]


@dataclass
class Context:
    """The registers a term may use: `system` (a dict of named registers, e.g. "slots": list of
    per-slot qubit lists), `flags` (the shared flag register), `work` (clean work qubits),
    `klass` (read-only class register)."""

    system: dict
    flags: list
    work: list
    klass: list = field(default_factory=list)

    def sub(self, flags=None, work=None) -> "Context":
        return Context(self.system, self.flags if flags is None else flags,
                       self.work if work is None else work, self.klass)


class Identity:
    """The identity term (α = 1): no gates."""

    alpha = 1.0
    flags = 0
    work = 0
    label = "I"

    def build(self, qc, ctrl, ctx) -> None:
        pass

    def cost(self) -> Cost:
        return Cost()


@dataclass(frozen=True, eq=False)
class LCU:
    """Σ_i λ_i A_i / α from terms with `alpha`, `flags`, `work`, `build(qc, ctrl, ctx)`, `cost()`."""

    terms: tuple
    weights: tuple

    def __init__(self, terms, weights=None):
        terms = tuple(terms)
        weights = tuple(1.0 for _ in terms) if weights is None else tuple(float(w) for w in weights)
        if len(weights) != len(terms) or not terms or min(weights) <= 0:
            raise ValueError("an LCU needs at least one term and positive weights")
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "weights", weights)

    @property
    def alpha(self) -> float:
        return float(sum(w * t.alpha for w, t in zip(self.weights, self.terms)))

    @property
    def branch_width(self) -> int:
        return bits_for(len(self.terms))

    @property
    def flags(self) -> int:
        return self.branch_width + max(t.flags for t in self.terms)

    def _prep(self):
        if self.branch_width == 0:
            return None
        return PrepareState(np.sqrt([w * t.alpha for w, t in zip(self.weights, self.terms)]),
                            self.branch_width)

    def _trie(self):
        return UnaryIteration(self.branch_width,
                              [i for i, t in enumerate(self.terms) if not isinstance(t, Identity)])

    @property
    def work(self) -> int:
        return self._trie().work + max(t.work for t in self.terms)

    def build(self, qc, ctrl, ctx: Context) -> None:
        """Append PREP · SELECT(ctrl) · PREP† with the branch register at the front of ctx.flags."""
        bw = self.branch_width
        branch, rest = list(ctx.flags[:bw]), list(ctx.flags[bw:])
        if bw == 0:
            self.terms[0].build(qc, ctrl, ctx.sub(flags=rest))
            return
        prep = self._prep()
        prep.build(qc, branch)
        trie = self._trie()
        tw = list(ctx.work[: trie.work])
        inner = ctx.sub(flags=rest, work=list(ctx.work[trie.work:]))
        trie.build(qc, ctrl, branch, tw, lambda qc, q, item: self.terms[item[0]].build(qc, q, inner))
        prep.build_inverse(qc, branch)

    def cost(self, controlled: bool = True) -> Cost:
        c = sum((t.cost() for t in self.terms), Cost())
        if self.branch_width == 0:
            return c
        return c + self._trie().cost(controlled) + 2 * self._prep().cost()


def fold_work(num_flags: int, counter_width: int) -> int:
    """Clean work qubits of `fold_flags` (the scratch qubit included)."""
    return 1 + max(mcx_work(num_flags), increment_work(counter_width))


def fold_flags(qc, flags, counter, work) -> None:
    """counter += [flags ≠ 0] (see the module docstring); `work[0]` is the scratch qubit."""
    flags, work = list(flags), list(work)
    s, rest = work[0], work[1:]
    mcx(qc, flags, s, values=[0] * len(flags), work=rest)
    qc.x(s)
    increment(qc, s, counter, rest)
    qc.x(s)
    mcx(qc, flags, s, values=[0] * len(flags), work=rest)


def fold_cost(num_flags, counter_width) -> Cost:
    return 2 * mcx_cost(num_flags, num_flags) + increment_cost(counter_width) + Cost(x=2)
