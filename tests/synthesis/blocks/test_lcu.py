"""LCU and product combinators (qdsl.synthesis.blocks.lcu): Σλ_i A_i/α and Π A_k/Πα_k with the
compressed flag counter, against numpy."""
import numpy as np
from qiskit import QuantumCircuit

from flagged import flagged_block
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.blocks.lcu import LCU, Context, Identity, fold_cost, fold_flags, fold_work
from qdsl.synthesis.blocks.sparse_access import SparseAccess

TOL = 1e3 * np.finfo(float).eps


class Term:
    """A sparse-access block on a 2-qubit register as an LCU term."""

    def __init__(self, A):
        r, c = np.nonzero(A)
        self.A = A
        self.block = SparseAccess(r, c, A[r, c], col_width=2, row_width=2)
        self.alpha, self.work = self.block.alpha, self.block.work
        self.flags = self.block.flags

    def build(self, qc, ctrl, ctx):
        b, fl = self.block, ctx.flags
        b.build(qc, ctx.system["reg"], fl[:2], fl[2:2 + b.color_width], fl[2 + b.color_width],
                ctx.work, ctrl=ctrl)

    def cost(self):
        return self.block.cost(True)


def random_A(rng):
    A = rng.standard_normal((4, 4))
    A[rng.random((4, 4)) < 0.5] = 0
    A[0, 0] = 0.5
    return A


def test_lcu_of_two_terms_and_identity():
    rng = np.random.default_rng(1)
    terms = [Identity(), Term(random_A(rng)), Term(random_A(rng))]
    weights = [1.0, 0.3, 0.7]
    lcu = LCU(terms, weights)
    n = 2 + lcu.flags + lcu.work + 1
    reg, flags = [0, 1], list(range(2, 2 + lcu.flags))
    work = list(range(2 + lcu.flags, n - 1))
    ctrl = n - 1
    qc = QuantumCircuit(n)
    lcu.build(qc, ctrl, Context({"reg": reg}, flags, work))
    assert count_circuit(qc) == lcu.cost()
    ref = (np.eye(4) + 0.3 * terms[1].A + 0.7 * terms[2].A) / lcu.alpha
    M, leak = flagged_block(qc, range(4), range(4), flags, {ctrl: 1})
    assert np.max(np.abs(M - ref)) < TOL and leak < TOL


def test_product_with_compressed_flags():
    rng = np.random.default_rng(2)
    factors = [LCU([Identity(), Term(random_A(rng))]) for _ in range(3)]
    F = max(f.flags for f in factors)
    cw = 2
    work_n = max(max(f.work for f in factors), fold_work(F, cw))
    n = 2 + F + cw + work_n + 1
    reg, flags = [0, 1], list(range(2, 2 + F))
    counter = list(range(2 + F, 2 + F + cw))
    work = list(range(2 + F + cw, n - 1))
    ctrl = n - 1
    qc = QuantumCircuit(n)
    ctx = Context({"reg": reg}, flags, work)
    for i, f in enumerate(factors):
        f.build(qc, ctrl, ctx)
        if i < len(factors) - 1:
            fold_flags(qc, flags[: f.flags], counter, work)
    cost = sum((f.cost() for f in factors[1:]), factors[0].cost())
    cost += sum((fold_cost(f.flags, cw) for f in factors[:-1]), type(cost)())
    assert count_circuit(qc) == cost
    ref = np.eye(4)
    alpha = 1.0
    for f in factors:
        ref = (np.eye(4) + f.terms[1].A) @ ref
        alpha *= f.alpha
    M, leak = flagged_block(qc, range(4), range(4), flags + counter, {ctrl: 1})
    assert np.max(np.abs(M - ref / alpha)) < TOL and leak < TOL
