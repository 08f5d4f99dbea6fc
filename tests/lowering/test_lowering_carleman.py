"""Carleman matrices against independent dense constructions written from the formulas."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
import sympy

from qdsl.diagnostics import SizeLimitError
from qdsl.lowering import carleman as carleman_mod
from qdsl.lowering.carleman import carleman, carleman_dimension, estimate_size
from qdsl.semantics.system import PolynomialSystem


def random_F(rng, n, q, scale=0.3, density=1.0, symmetric=True):
    """F_0..F_q with the symmetric-tensor convention (every permutation holds the same entry)."""
    F = []
    for l in range(q + 1):
        f = rng.normal(size=(n,) + (n,) * l) * scale
        if density < 1:
            f = f * (rng.random(f.shape) < density)
        if symmetric and l >= 2:
            f = sum(np.transpose(f, (0,) + tuple(1 + np.array(p)))
                    for p in itertools.permutations(range(l))) / math.factorial(l)
        F.append(f.reshape(n, n ** l))
    return F


def system(F, kind, n, rng, steps=6, dt=0.1, u=None, step_F=None):
    u = rng.normal(size=n) * 0.2 if u is None else u
    return PolynomialSystem.from_tensors(F, x0=u, kind=kind, dt=dt, steps=steps, step_F=step_F)


def kron_all(mats):
    out = np.ones((1, 1))
    for m in mats:
        out = np.kron(out, m)
    return out


def dense_continuous(F, n, N):
    """PNAS: A_{j, j+ℓ−1} = Σ_p I^{⊗(p−1)} ⊗ F_ℓ ⊗ I^{⊗(j−p)} (numpy kron sums)."""
    sizes = [n ** j for j in range(N + 1)]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    A = np.zeros((offs[-1], offs[-1]))
    for j in range(1, N + 1):
        for l, f in enumerate(F):
            k = j + l - 1
            if k > N:
                continue
            blk = sum(kron_all([np.eye(n ** (p - 1)), f, np.eye(n ** (j - p))]) for p in range(1, j + 1))
            A[offs[j]:offs[j + 1], offs[k]:offs[k + 1]] += blk
    return A


def dense_discrete(F, n, N):
    """Block (j,k) = Σ_{ℓ1+…+ℓj=k} G_{ℓ1}⊗…⊗G_{ℓj}, G_1 = I + F_1, G_ℓ = F_ℓ (explicit compositions)."""
    G = [np.asarray(f, float) for f in F] + [np.zeros((n, n ** l)) for l in range(len(F), 2)]
    G[1] = G[1] + np.eye(n)
    sizes = [n ** j for j in range(N + 1)]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    M = np.zeros((offs[-1], offs[-1]))
    M[0, 0] = 1.0
    for j in range(1, N + 1):
        for ls in itertools.product(range(len(G)), repeat=j):
            k = sum(ls)
            if k > N:
                continue
            M[offs[j]:offs[j + 1], offs[k]:offs[k + 1]] += kron_all([G[l] for l in ls])
    return M


@pytest.mark.parametrize("q", [1, 2, 3])
@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_kronecker_continuous_matches_dense_kron_sums(q, N):
    rng = np.random.default_rng(10 * q + N)
    n = 2 if N >= 4 else 3
    F = random_F(rng, n, q, density=0.7)
    car = carleman(system(F, "flow", n, rng, dt=0.05), N)
    A = dense_continuous(F, n, N)
    np.testing.assert_allclose(car.generator.toarray(), A, atol=1e-13)
    np.testing.assert_allclose(car.matrix.toarray(), np.eye(A.shape[0]) + 0.05 * A, atol=1e-13)
    car.verify()


@pytest.mark.parametrize("q", [1, 2, 3])
@pytest.mark.parametrize("N", [1, 2, 3])
def test_kronecker_discrete_matches_dense_expansion(q, N):
    rng = np.random.default_rng(100 + 10 * q + N)
    n = 2
    F = random_F(rng, n, q, density=0.8)
    car = carleman(system(F, "gd", n, rng), N)
    np.testing.assert_allclose(car.matrix.toarray(), dense_discrete(F, n, N), atol=1e-13)
    assert car.generator is None
    car.verify()


def sym_reference(F, n, N, kind):
    """Symmetric-basis matrix from SymPy polynomials: row m holds the coefficients of
    m(G(u)) (discrete) or Σ_i ∂m/∂u_i · f_i(u) (continuous), truncated at degree N."""
    u = sympy.symbols(f"u0:{n}")
    f = []
    for i in range(n):
        expr = 0
        for l, Fl in enumerate(F):
            for col in range(n ** l):
                c = Fl[i, col]
                if c == 0:
                    continue
                digits = np.unravel_index(col, (n,) * l) if l else ()
                term = sympy.Float(c, 30)
                for a in digits:
                    term *= u[int(a)]
                expr += term
        f.append(sympy.expand(expr))
    monos = [()] + [t for d in range(1, N + 1)
                    for t in itertools.combinations_with_replacement(range(n), d)]
    index = {}
    for k, t in enumerate(monos):
        alpha = [0] * n
        for a in t:
            alpha[a] += 1
        index[tuple(alpha)] = k
    D = len(monos)
    M = np.zeros((D, D))
    for r, t in enumerate(monos):
        m = sympy.Mul(*[u[a] for a in t]) if t else sympy.Integer(1)
        if kind == "flow":
            expr = sum(sympy.diff(m, u[i]) * f[i] for i in range(n))
        else:
            expr = m.subs({u[i]: u[i] + f[i] for i in range(n)}, simultaneous=True)
        expr = sympy.expand(expr)
        if expr == 0:
            continue
        for mon, c in sympy.Poly(expr, *u).as_dict().items():
            if sum(mon) <= N:
                M[r, index[mon]] += float(c)
    return M


@pytest.mark.parametrize("kind", ["flow", "gd"])
@pytest.mark.parametrize("q,N", [(1, 2), (2, 2), (2, 3), (3, 3)])
def test_symmetric_basis_matches_sympy(kind, q, N):
    rng = np.random.default_rng(7 + q + N)
    n = 2
    F = random_F(rng, n, q, density=0.8)
    car = carleman(system(F, kind, n, rng, dt=1.0), N, "symmetric")
    ref = sym_reference(F, n, N, kind)
    got = car.generator.toarray() if kind == "flow" else car.matrix.toarray()
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert car.dim == math.comb(n + N, N)
    car.verify()


def test_symmetric_basis_ignores_the_tensor_convention():
    """Only the polynomial matters: an upper-triangular F_2 with the same polynomial as the
    symmetric one gives the same symmetric-basis matrix (and the same trajectory)."""
    rng = np.random.default_rng(3)
    n = 3
    F = random_F(rng, n, 2)
    F2 = F[2].reshape(n, n, n)
    upper = np.triu(np.ones((n, n)), 1)[None]
    tri = (F2 + F2.transpose(0, 2, 1)) * upper + F2 * np.eye(n)[None]
    G = [F[0], F[1], tri.reshape(n, n * n)]
    assert not np.allclose(G[2], F[2])
    a = carleman(system(F, "gd", n, rng), 3, "symmetric").matrix
    b = carleman(system(G, "gd", n, rng), 3, "symmetric").matrix
    np.testing.assert_allclose(a.toarray(), b.toarray(), atol=1e-13)


@pytest.mark.parametrize("basis", ["kronecker", "symmetric"])
@pytest.mark.parametrize("q,N", [(1, 3), (2, 3), (2, 4), (3, 4)])
def test_lift_identity_discrete(basis, q, N):
    r"""(M·lift(u))_j = lift(G(u))_j exactly for the blocks whose full expansion has degree
    q·j ≤ N (nothing truncated there: every block for q = 1); above that the two differ only by
    terms of degree > N, so the difference shrinks at least like s^{N+1} when u is scaled by s."""
    rng = np.random.default_rng(q * 7 + N)
    n = 2
    F = random_F(rng, n, q)
    car = carleman(system(F, "gd", n, rng), N, basis)
    offs = car.block_offsets()
    u = rng.normal(size=n)
    sysm = system(F, "gd", n, rng)
    exact_blocks = N // q
    d = car.matrix @ car.lift(u) - car.lift(u + sysm.rhs(u))
    assert np.max(np.abs(d[: offs[exact_blocks + 1]])) < 1e-11
    if exact_blocks < N:
        def tail(s):
            v = s * u
            return np.max(np.abs(car.matrix @ car.lift(v) - car.lift(v + sysm.rhs(v))))
        s = 0.05
        assert tail(s / 2) <= tail(s) / 2 ** (N + 1) * 1.3 + 1e-15


@pytest.mark.parametrize("basis", ["kronecker", "symmetric"])
@pytest.mark.parametrize("q,N", [(1, 3), (2, 3), (3, 4)])
def test_lift_identity_continuous(basis, q, N):
    r"""(A·lift(u))_j = d/dt u^{⊗j} = Σ_p u⊗…⊗f(u)⊗…⊗u exactly for j ≤ N + 1 − q (the blocks that
    lose no term of degree j − 1 + q to the truncation)."""
    rng = np.random.default_rng(q * 11 + N)
    n = 2
    F = random_F(rng, n, q)
    s = system(F, "flow", n, rng)
    car = carleman(s, N, basis)
    offs = car.block_offsets()
    u = rng.normal(size=n)
    f = s.rhs(u)
    got = car.generator @ car.lift(u)
    for j in range(1, N + 2 - q):
        if basis == "kronecker":
            want = sum(kron_all([np.atleast_2d(u).T] * (p - 1) + [np.atleast_2d(f).T]
                                + [np.atleast_2d(u).T] * (j - p)).ravel() for p in range(1, j + 1))
        else:
            want = []
            for idx in range(offs[j], offs[j + 1]):
                t = car.component_indices(idx)
                want.append(sum(f[t[p]] * np.prod([u[a] for k, a in enumerate(t) if k != p])
                                for p in range(j)))
            want = np.array(want)
        np.testing.assert_allclose(got[offs[j]:offs[j + 1]], want, atol=1e-11)


def test_order_N_has_exactly_N_plus_1_blocks():
    """pyLIQTR's `carleman(N)` builds N+1 orders for a quadratic system; order N here means the
    constant plus u^{⊗1..N}: N+1 blocks, dimension Σ_{j=0..N} n^j."""
    rng = np.random.default_rng(0)
    n = 3
    s = system(random_F(rng, n, 2), "flow", n, rng)
    for N in (1, 2, 3):
        car = carleman(s, N)
        assert len(car.block_offsets()) == N + 2
        assert car.dim == sum(n ** j for j in range(N + 1)) == carleman_dimension(n, N)
        assert max(len(car.component_indices(i)) for i in range(car.dim)) == N
        sym = carleman(s, N, "symmetric")
        assert sym.dim == math.comb(n + N, N)


def test_components_and_indices():
    rng = np.random.default_rng(1)
    n = 3
    s = system(random_F(rng, n, 2), "gd", n, rng)
    for basis in ("kronecker", "symmetric"):
        car = carleman(s, 3, basis)
        assert car.const_index == 0 and list(car.linear_index) == [1, 2, 3]
        u = rng.normal(size=n)
        y = car.lift(u)
        for i in range(car.dim):
            alpha = car.component(i)
            assert np.isclose(y[i], np.prod(u ** np.array(alpha)))
            assert car.index_of(car.component_indices(i)) == i
        assert car.label(0) == "1" and car.label(1) == "u[0]"
    sym = carleman(s, 2, "symmetric")
    assert [sym.component_indices(i) for i in range(sym.dim)] == (
        [()] + [(0,), (1,), (2,)] + [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)])


def test_dump_is_deterministic():
    rng = np.random.default_rng(2)
    s = system(random_F(rng, 2, 2), "flow", 2, rng)
    a, b = carleman(s, 2).dump(), carleman(s, 2).dump()
    assert a == b and a.startswith("CarlemanSystem kind=flow basis=kronecker order=2 n=2 dim=7")


def test_sgd_builds_one_matrix_per_step():
    rng = np.random.default_rng(4)
    n, T = 2, 4
    steps = [random_F(rng, n, 2) for _ in range(T)]
    s = PolynomialSystem.from_tensors(steps[0], x0=rng.normal(size=n) * 0.2, kind="sgd", steps=T,
                                      step_F=steps)
    car = carleman(s, 2)
    assert len(car.matrices) == T and car.matrix is car.matrices[0]
    for t in range(T):
        np.testing.assert_allclose(car.matrices[t].toarray(), dense_discrete(steps[t], n, 2), atol=1e-13)
    one = carleman(s, 2, step=2)
    np.testing.assert_allclose(one.matrix.toarray(), car.matrices[2].toarray())


@pytest.mark.parametrize("kind", ["flow", "gd"])
@pytest.mark.parametrize("basis", ["kronecker", "symmetric"])
def test_estimate_is_an_upper_bound(kind, basis):
    rng = np.random.default_rng(5)
    for n, q, N in [(3, 2, 3), (4, 1, 3), (2, 3, 4)]:
        F = random_F(rng, n, q, density=0.5)
        car = carleman(system(F, kind, n, rng), N, basis)
        nnz = [sp.csr_matrix(f).nnz for f in F]
        dim, bound = estimate_size(n, q, N, basis, "flow" if kind == "flow" else "discrete", nnz=nnz)
        assert dim == car.dim
        assert car.matrix.nnz <= bound


def test_size_guard_raises_before_building(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the matrix must not be built")

    monkeypatch.setattr(carleman_mod, "_continuous_kron", boom)
    monkeypatch.setattr(carleman_mod, "_discrete", boom)
    n = 100
    F = [sp.random(n, n ** l, density=min(1.0, 50 / n ** l), random_state=l, format="csr")
         for l in range(3)]
    for kind in ("flow", "gd"):
        s = PolynomialSystem.from_tensors(F, x0=np.zeros(n), kind=kind, steps=3)
        with pytest.raises(SizeLimitError) as err:
            carleman(s, 6, "kronecker")
        d = err.value.diagnostics[0]
        assert d.code == "E0401" and "exceeds the limit" in d.message
        assert "basis symmetric" in d.help and f"{math.comb(n + 6, 6):,}" in d.help
        assert err.value.exit_status == 3
    monkeypatch.setenv("QDSL_MAX_NNZ", "1000")
    s = PolynomialSystem.from_tensors(F[:2], x0=np.zeros(n), kind="flow", steps=3)
    with pytest.raises(SizeLimitError):
        carleman(s, 2, "symmetric")


def test_orders_over_the_limit_are_refused_at_once():
    """An order over MAX_ORDER is refused before any size is computed (Σ n^j for order 10^8 is a
    10^8-bit integer), naming the highest order that fits; MAX_ORDER itself is sized normally."""
    import time

    s = PolynomialSystem.from_tensors([sp.csr_matrix(np.array([[0.1], [0.0]])),
                                       sp.csr_matrix(-0.5 * np.eye(2)),
                                       sp.csr_matrix(np.zeros((2, 4)))], x0=np.zeros(2), kind="gd", steps=3)
    t = time.process_time()
    with pytest.raises(SizeLimitError) as err:
        carleman(s, 10 ** 8, "kronecker")
    assert time.process_time() - t < 2.0
    d = err.value.diagnostics[0]
    assert d.code == "E0401" and f"over the limit of {carleman_mod.MAX_ORDER}" in d.message
    import re

    N = int(re.search(r"order (\d+) fits", d.help).group(1))
    with pytest.raises(SizeLimitError) as err:       # the next order is over the size limits
        carleman(s, N + 1, "kronecker")
    assert "exceeds the limit" in err.value.diagnostics[0].message or "nonzeros" in err.value.diagnostics[0].message
    carleman_mod.check_size(2, 2, N, "kronecker", "gd", nnz=[1, 2, 0])   # and N itself is not
    with pytest.raises(SizeLimitError) as err:       # 2^64 components: over the dimension limit
        carleman(s, carleman_mod.MAX_ORDER, "kronecker")
    assert "exceeds the limit" in err.value.diagnostics[0].message


@pytest.mark.parametrize("seed", range(12))
def test_fast_kronecker_flow_matches_the_coo_reference(seed):
    """The in-place canonical builder vs. the plain COO construction (sparse F with missing
    diagonal entries, any degree), including canonical format and M = I + dt·A."""
    rng = np.random.default_rng(seed)
    n, q, N = int(rng.integers(1, 4)), int(rng.integers(0, 4)), int(rng.integers(1, 5))
    F = [sp.random(n, n ** l, density=float(rng.uniform(0.1, 1)), random_state=seed + l, format="csr")
         for l in range(q + 1)]
    s = PolynomialSystem.from_tensors(F, x0=np.zeros(n), kind="flow", dt=0.07)
    car = carleman(s, N)
    ref = carleman_mod._continuous_kron(s.F, n, N)
    assert abs(car.generator - ref).max() < 1e-14
    M = car.matrix
    assert abs(M - (sp.identity(car.dim) + 0.07 * ref)).max() < 1e-14
    c = M.copy()
    c.has_canonical_format = False
    c.sum_duplicates()
    assert np.array_equal(c.indices, M.indices) and np.array_equal(c.indptr, M.indptr)
    assert np.all(M.data != 0)
    car.verify()
