"""The structured block-encoding of the history matrix (qdsl.synthesis.structured) against the
Carleman lowering: on every valid slot pattern the flagged block is L/α_L exactly (L from
qdsl.lowering, an independent construction from the assembled M), nothing leaks into padding or
dirty temporaries, nothing from padding reaches a valid pattern (the encoded matrix is L ⊕ a
padding block), and the circuit's gate counts equal the cost record built beside it."""
import numpy as np
import pytest
import scipy.sparse as sp

import qdsl
from flagged import flagged_block
from qdsl.lowering.history import history_system
from qdsl.synthesis.blocks.cost import count_circuit
from qdsl.synthesis.structured import SlotLayout, sparse_access_history, structured_history

# amplitudes pass through O(10^3) gates in double precision; 1e4·u bounds the rounding with margin
TOL = 1e4 * np.finfo(float).eps


def system(kind, n, q, seed, *, F0=True, steps=3, dt=0.1, classes=1, diagonal=False):
    rng = np.random.default_rng(seed)

    def Fs():
        out = []
        for l in range(q + 1):
            A = 0.15 * rng.standard_normal((n, n ** l))
            A[rng.random(A.shape) < 0.4] = 0.0
            if l == 1:
                A = -0.2 * np.eye(n) + (0 if diagonal else 0.05 * A)
            if l == 0 and not F0:
                A[:] = 0.0
            out.append(A)
        return out

    x0 = 0.3 * rng.standard_normal(n)
    if kind == "sgd":
        sets = [Fs() for _ in range(classes)]
        step_F = [sets[t % classes] for t in range(steps)]
        return qdsl.PolynomialSystem.from_tensors(sets[0], x0, kind="sgd", steps=steps, step_F=step_F)
    return qdsl.PolynomialSystem.from_tensors(Fs(), x0, kind=kind, steps=steps, dt=dt)


def check(S, N, T, idle=0, construction="structured", basis="kronecker"):
    car = qdsl.carleman(S, N, basis)
    ls = history_system(car, T, idle, kappa="none")
    enc = structured_history(S, ls, N) if construction == "structured" else sparse_access_history(ls)
    assert count_circuit(enc.circuit) == enc.cost
    smap = enc.solution_map
    B, leak = flagged_block(enc.circuit, smap, smap, enc.ancillas)
    err = np.max(np.abs(B - ls.matrix.toarray() / enc.alpha))
    assert err < TOL and leak < TOL, (err, leak)
    # and nothing from padding reaches a valid pattern: the encoded matrix is L ⊕ (padding), so a
    # solver started on B never sees the padding block (small registers: every padding input)
    nsys = len(enc.system)
    if nsys <= 7:
        valid = set(int(x) for x in smap)
        pad = [k for k in range(1 << nsys) if k not in valid]
        P, _ = flagged_block(enc.circuit, pad, sorted(valid), enc.ancillas)
        assert not P.size or np.max(np.abs(P)) < TOL
    return enc


@pytest.mark.parametrize("n,q,N,F0,diagonal", [
    (1, 2, 2, True, True), (1, 2, 2, False, True), (1, 3, 3, True, True),
    (2, 2, 2, True, False), (2, 2, 2, False, True), (2, 1, 2, True, False), (2, 3, 3, False, True)])
def test_gd(n, q, N, F0, diagonal):
    check(system("gd", n, q, 10 * n + q, F0=F0, steps=2, diagonal=diagonal), N, 2)


@pytest.mark.parametrize("n,q,N,F0,idle", [(1, 2, 2, True, 0), (1, 2, 3, True, 1), (2, 2, 2, True, 0),
                                            (2, 1, 2, False, 2), (1, 3, 2, False, 0)])
def test_flow(n, q, N, F0, idle):
    check(system("flow", n, q, 7 + n + q, F0=F0, steps=2), N, 2, idle)


@pytest.mark.parametrize("classes,N", [(2, 2), (3, 1), (2, 3)])
def test_sgd_classes_from_the_time_register(classes, N):
    S = system("sgd", 1, 2, classes, steps=3, classes=classes)
    enc = check(S, N, 3)
    assert enc.meta["classes"] == classes


def test_gd_with_idle_steps():
    check(system("gd", 1, 2, 3, steps=2), 2, 2, idle=2)


def test_order_one_and_identity_linear_part():
    S = qdsl.PolynomialSystem.from_tensors([[0.1, -0.2], np.zeros((2, 2))], [0.3, 0.1], kind="gd", steps=2)
    check(S, 1, 2)


@pytest.mark.parametrize("basis", ["kronecker", "symmetric"])
def test_sparse_access_of_M(basis):
    check(system("gd", 2, 2, 5, steps=2), 2, 2, construction="sparse-access", basis=basis)
    check(system("sgd", 1, 2, 6, steps=3, classes=2), 2, 3, construction="sparse-access", basis=basis)


def test_slot_codes_follow_the_kronecker_order():
    lay = SlotLayout(3, 2, 2)
    codes = lay.codes()
    assert codes[0] == 0 and list(codes[1:4]) == [1, 2, 3]
    # u_1⊗u_2 is kron index 1·3 + 2 = 5 of level 2: slot 0 holds 2, slot 1 holds 3
    assert codes[4 + 5] == 2 + (3 << 2)
    assert len(set(codes.tolist())) == codes.size


def test_structured_circuit_is_built_from_the_F_not_from_M(monkeypatch):
    """No dense matrix of M or L is formed: toarray/todense on sparse matrices are refused while
    the structured encoding is built (the assembled M is only read by the test's reference)."""
    S = system("gd", 2, 2, 1, steps=2)
    ls = history_system(qdsl.carleman(S, 2), 2, 0, kappa="none")
    big = ls.block_dim

    def refusing(orig):
        def refuse(self, *a, **k):
            if max(self.shape) >= big:
                raise AssertionError("dense matrix formed")
            return orig(self, *a, **k)
        return refuse

    for cls in (sp.csr_matrix, sp.coo_matrix, sp.csc_matrix, sp.lil_matrix):
        monkeypatch.setattr(cls, "toarray", refusing(cls.toarray))
    structured_history(S, ls, 2)


@pytest.mark.slow
def test_quartic_needs_ten_times_fewer_non_clifford_gates_than_the_dense_circuit():
    """Issue acceptance: the structured circuit of examples/quartic.qd against the dense one, both
    counted by `qdsl resources` from their emitted files (rotations whose angle is not a multiple of
    π/4, T gates and Toffolis)."""
    from pathlib import Path

    from qdsl.backends.resources import resources

    path = Path(__file__).parents[2] / "examples" / "quartic.qd"
    non_clifford = {}
    for be in ("structured", "dense"):
        r = resources(qdsl.compile(path, block_encoding=be))
        non_clifford[be] = (r.details["rotations"] + r.counts.get("t", 0) + r.counts.get("tdg", 0)
                            + r.counts.get("ccx", 0) + r.counts.get("and", 0))
    assert 10 * non_clifford["structured"] <= non_clifford["dense"]


@pytest.mark.parametrize("kind", ["eigenbasis", "frobenius", "sparse-access"])
@pytest.mark.parametrize("evolve", ["gd", "flow"])
def test_dense_encodings_of_G1_keep_the_block_exact(kind, evolve, monkeypatch):
    """A dense symmetric F₁ (n = 3): whichever encoding of G₁ = I + F₁ (gd) or F₁ (flow) the
    builder takes — forced here through the score — the flagged block is L/α_L on every valid
    pattern, count == cost, and the choice is recorded with its α (eigenbasis: α = ‖·‖₂)."""
    from qdsl.synthesis import structured

    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 3))
    F1 = -0.2 * np.eye(3) - 0.1 * (X + X.T)
    F2 = np.zeros((3, 9))
    F2[0, 4] = 0.1
    S = qdsl.PolynomialSystem.from_tensors([0.05 * rng.standard_normal((3, 1)), F1, F2],
                                           0.3 * rng.standard_normal(3), kind=evolve, steps=2, dt=0.1)
    monkeypatch.setattr(structured, "encoding_score",
                        lambda b: 0.0 if structured.encoding_kind(b) == kind else 1.0)
    enc = check(S, 2, 2)
    chosen = [e for f in enc.meta["factors"] for e in f["encodings"] if e["kind"] == kind]
    assert chosen
    for f in enc.meta["factors"]:   # lookup blocks record their lookup and how entries are applied
        for e in f["encodings"]:
            lookup = e["kind"] in ("sparse-access", "diagonal")
            assert ("lookup" in e) == lookup and ("entries" in e) == lookup
            if lookup:
                assert (e["lookup"], e["entries"]) == ("unary iteration", "rotation")
    if kind == "eigenbasis" and evolve == "gd":
        G = np.zeros((4, 4)); G[0, 0] = 1; G[1:, 1:] = np.eye(3) + F1  # noqa: E702
        assert chosen[0]["alpha"] == pytest.approx(np.linalg.norm(G, 2), rel=1e-13)


def test_builder_takes_the_smallest_alpha_times_cost():
    """`_access_block` returns the candidate with the least α × T states: for a dense symmetric
    block with large off-diagonal entries the eigenbasis encoding (α = ‖A‖₂), for a banded one
    sparse access; every candidate's score is at least the chosen one's."""
    from qdsl.synthesis import structured as st
    from qdsl.synthesis.blocks.eigen import EigenAccess
    from qdsl.synthesis.blocks.frobenius import FrobeniusAccess
    from qdsl.synthesis.blocks.sparse_access import SparseAccess

    rng = np.random.default_rng(4)
    X = rng.standard_normal((7, 7))
    dense = sp.csr_matrix(np.eye(7) - 0.3 * (X + X.T))
    band = sp.csr_matrix(np.eye(7) + 0.05 * (np.eye(7, k=1) + np.eye(7, k=-1)))
    for A, kind in ((dense, EigenAccess), (band, SparseAccess)):
        blk = st._access_block([A], lambda r: r, lambda c: c, 3, 3, 0, True)
        assert isinstance(blk, kind)
        d = A.toarray()
        r, c = np.nonzero(d)
        others = [SparseAccess(r, c, d[r, c], col_width=3, row_width=3, square=True),
                  FrobeniusAccess(d, width=3), EigenAccess(d, width=3)]
        assert all(st.encoding_score(blk) <= st.encoding_score(o) for o in others)
    assert st._access_block([dense], lambda r: r, lambda c: c, 3, 3, 0, True, dense=False).alpha > \
        np.linalg.norm(dense.toarray(), 2)
