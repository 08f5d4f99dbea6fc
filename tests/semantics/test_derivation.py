"""The derivation (sparse polynomials) against derivatives of losses written by hand in this test.

Reference: F_ℓ[i, (a1..aℓ)] = −(η/ℓ!)·∂^{ℓ+1}L/∂θ_i∂θ_a1…∂θ_aℓ at θ*, by sympy.diff of the loss
typed out below (with sigmoid and softplus defined here, not qdsl's function table), evaluated at
the exact rational point to 40 digits — so the reference is exact to far below double precision.

Tolerances: a polynomial loss is derived in exact rationals and rounded once per coefficient and
once per ordering share (c·α!/ℓ! / #orderings): |error| ≤ 2u·|F| + one more rounding of the
reference, so rtol = 4u. A Taylor-expanded loss composes floating-point series: each coefficient
of degree ≤ d is a sum of at most (d+1)² products per composition level, ≤ 3 nested levels per
term and ≤ 8 terms, so at most N = 8·3·(d+1)² ≤ 400 roundings, each relative to the largest
intermediate, bounded by the largest |F| times d! (the factorials the series carry): the bound is
γ_N·d!·max|F|.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as s

import qdsl
from qdsl.tolerances import UNIT_ROUNDOFF, gamma

EX = "examples"
R = s.Rational


def sigmoid(z):
    return 1 / (1 + s.exp(-z))


def softplus(z):
    return s.log(1 + s.exp(z))


def reference_F(expr, theta, point, lr, degree):
    """F_0..F_degree of the loss `expr` in the symbols `theta` about the rational `point`."""
    n = len(theta)
    at = dict(zip(theta, point))
    grads = [s.diff(expr, t) for t in theta]
    F = []
    for l in range(degree + 1):
        M = np.zeros((n, n ** l))
        for i in range(n):
            for idx in itertools.product(range(n), repeat=l):
                d = grads[i]
                for a in idx:
                    d = s.diff(d, theta[a])
                col = 0
                for a in idx:
                    col = col * n + a
                M[i, col] = float((-R(lr) / math.factorial(l) * d.subs(at)).evalf(40))
        F.append(M)
    return F


x, y, a, b = s.symbols("x y a b")
w = s.symbols("w0:3")

POLYNOMIAL = [
    ("model m { param x = 0.3\n param y = -0.2\n loss = x^2 + 0.5*y^2 + 0.25*x^4 + 0.1*x*y^2\n"
     " evolve gd(lr = 0.1, steps = 3) }",
     x ** 2 + R(1, 2) * y ** 2 + R(1, 4) * x ** 4 + R(1, 10) * x * y ** 2, (x, y), "1/10"),
    ("model m { param w[3] = [0.1, -0.2, 0.3]\n loss = sum(i in 0..2: (w[i] - w[i+1])^4) + "
     "0.3*w[0]*w[1]*w[2] + sum(i in 0..3: w[i]^2)\n evolve gd(lr = 0.05, steps = 3) }",
     (w[0] - w[1]) ** 4 + (w[1] - w[2]) ** 4 + R(3, 10) * w[0] * w[1] * w[2] + sum(v ** 2 for v in w),
     w, "1/20"),
    ("model m { param a = 0.5\n param b = -0.1\n loss = (a*b - 0.2)^2 + a^3\n"
     " evolve flow(time = 1.0, dt = 0.1) }",
     (a * b - R(1, 5)) ** 2 + a ** 3, (a, b), "1"),
]


@pytest.mark.parametrize("src,expr,theta,lr", POLYNOMIAL, ids=["quartic", "chain", "flow"])
def test_polynomial_loss_matches_hand_derivatives(src, expr, theta, lr):
    c = qdsl.compile(source=src)
    F = c.system.F
    ref = reference_F(expr, theta, [0] * len(theta), lr, len(F) - 1)
    for l, (got, want) in enumerate(zip(F, ref)):
        np.testing.assert_allclose(got.toarray(), want, rtol=4 * UNIT_ROUNDOFF, atol=0, err_msg=f"F_{l}")
    assert c.system.exact


def taylor_tolerance(F_ref, d):
    return gamma(8 * 3 * (d + 1) ** 2) * math.factorial(d) * max(np.max(np.abs(f)) for f in F_ref)


def test_taylor_expansion_matches_hand_derivatives():
    c = qdsl.compile(f"{EX}/tanh_unit.qd", values={"eta": 0.4})
    F = c.system.F
    assert len(F) == 3 and not c.system.exact
    xs = [R("0.1"), R("0.4"), R("-0.3"), R("0.8")]
    ts = [R("0.2"), R("0.3"), R("-0.2"), R("0.5")]
    loss = sum((s.tanh(a * xk + b) - tk) ** 2 for xk, tk in zip(xs, ts)) / 4 + R(1, 20) * (a ** 2 + b ** 2)
    ref = reference_F(loss, (a, b), [R(1, 2), R(-1, 10)], "2/5", 2)
    tol = taylor_tolerance(ref, 2)
    for l in range(3):
        np.testing.assert_allclose(F[l].toarray(), ref[l], rtol=0, atol=tol, err_msg=f"F_{l}")
    np.testing.assert_array_equal(c.system.expansion_point, [0.5, -0.1])
    np.testing.assert_array_equal(c.system.x0, [0.0, 0.0])


def test_expansion_about_a_point_and_functions():
    src = """model m {
        param a = 0.2
        param b = 0.7
        loss = exp(a*b) + log(1 + b^2) + sqrt(2 + a) + sigmoid(a - b) + softplus(b) + 1/(3 + a) + (1 + b)^0.5
        expand order 3 about [0.1, 0.5]
        evolve gd(lr = 0.1, steps = 3)
    }"""
    c = qdsl.compile(source=src)
    loss = (s.exp(a * b) + s.log(1 + b ** 2) + s.sqrt(2 + a) + sigmoid(a - b) + softplus(b) + 1 / (3 + a)
            + s.sqrt(1 + b))
    ref = reference_F(loss, (a, b), [R(1, 10), R(1, 2)], "1/10", 3)
    tol = taylor_tolerance(ref, 3)
    for l in range(4):
        np.testing.assert_allclose(c.system.F[l].toarray(), ref[l], rtol=0, atol=tol, err_msg=f"F_{l}")
    # u_0 = θ_0 − θ*: the literals 0.2, 0.7, 0.1, 0.5 are each within u of their decimal value,
    # and the subtraction rounds once: |error| ≤ u·(|θ_0| + |θ*|) + u·|u_0|
    np.testing.assert_allclose(c.system.x0, [0.1, 0.2], rtol=0, atol=2 * UNIT_ROUNDOFF * (0.7 + 0.5))


def test_rate_equations_vector():
    src = """model osc {
        param w[3] = [0.3, -0.1, 0.2]
        rate w[i] = -w[i] + 0.1*w[i]^2 - 0.05*sum(j in 0..3: w[j])
        evolve flow(time = 1.0, dt = 0.1)
    }"""
    c = qdsl.compile(source=src)
    F = c.system.F
    np.testing.assert_allclose(F[0].toarray(), 0)
    np.testing.assert_allclose(F[1].toarray(), -np.eye(3) - 0.05)
    F2 = F[2].toarray()
    for i in range(3):
        assert F2[i, i * 3 + i] == pytest.approx(0.1)
    assert F[2].nnz == 3
    assert c.system.kind == "flow" and c.system.dynamics.steps == 10


def test_trajectory_equals_direct_gradient_descent():
    c = qdsl.compile(f"{EX}/quartic.qd")
    traj = c.system.trajectory()
    th = np.array([0.3, -0.2])
    # each step evaluates ≤ 8 roundings of terms ≤ |θ| ≤ 1 on either side, and the map is a
    # contraction here (ρ(I + F_1) = 0.9), so the two iterations stay within t·16u
    for t in range(10):
        x, y = th
        g = np.array([2 * x + x ** 3 + 0.1 * y ** 2, y + 0.2 * x * y])
        th = th - 0.1 * g
        np.testing.assert_allclose(traj[t + 1], th, rtol=0, atol=(t + 1) * 16 * UNIT_ROUNDOFF)


def test_sgd_batches_are_seeded_and_per_step():
    c = qdsl.compile(f"{EX}/ridge.qd")
    sysm = c.system
    assert sysm.kind == "sgd" and len(sysm.step_F) == 6
    X = np.array([[1.0, 0.2], [0.3, 1.0], [0.5, 0.5]]); y = np.array([1.0, 0.0, 0.4])
    rng = np.random.default_rng(7)
    w = np.array([0.8, -0.5])
    traj = sysm.trajectory()
    for t in range(6):
        b = rng.choice(3, size=2, replace=False)
        g = 2 * X[b].T @ (X[b] @ w - y[b]) / 2 + 0.5 * w
        w = w - 0.2 * g
        # ≤ 16 roundings per step of terms ≤ 2 in size, contraction: (t+1)·32u
        np.testing.assert_allclose(traj[t + 1], w, rtol=0, atol=(t + 1) * 32 * UNIT_ROUNDOFF)
    # the full-batch system is what the certificate is about (sums of 3 products: γ_4·|H|)
    H = 2 * X.T @ X / 3 + 0.5 * np.eye(2)
    np.testing.assert_allclose(sysm.F[1].toarray(), -0.2 * H, rtol=0, atol=gamma(8) * 0.2 * np.abs(H).max())


def test_data_from_files(tmp_path):
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    np.save(tmp_path / "X.npy", X)
    np.savez(tmp_path / "d.npz", y=np.array([0.1, 0.2]), z=np.zeros(2))
    np.savetxt(tmp_path / "w0.csv", np.array([0.3, -0.3]), delimiter=",")
    (tmp_path / "m.qd").write_text("""model files {
        param w[2] = load("w0.csv")
        data X = load("X.npy")
        data y = load("d.npz", "y")
        loss = mean(k in 0..2: (X[k,0]*w[0] + X[k,1]*w[1] - y[k])^2)
        evolve gd(lr = 0.1, steps = 4)
    }""")
    c = qdsl.compile(tmp_path / "m.qd")
    np.testing.assert_allclose(c.system.x0, [0.3, -0.3], rtol=2 * UNIT_ROUNDOFF)
    # data enter as floats, sums of 2 products and the learning rate: γ_6 relative to the terms
    scale = 0.1 * np.abs(X).T @ np.abs(X)
    np.testing.assert_allclose(c.system.F[1].toarray(), -0.1 * X.T @ X, rtol=0, atol=gamma(6) * scale.max())
    np.testing.assert_allclose(c.system.F[0].toarray().ravel(), 0.1 * X.T @ np.array([0.1, 0.2]), rtol=0,
                               atol=gamma(6) * 0.1 * (np.abs(X).T @ np.array([0.1, 0.2])).max())


@pytest.mark.parametrize("content,needle", [
    (b"\x93NUMPY garbage", "cannot read"),
    (None, "not found"),
])
def test_bad_data_files_are_diagnostics(tmp_path, content, needle):
    if content is not None:
        (tmp_path / "X.npy").write_bytes(content)
    (tmp_path / "m.qd").write_text('model m {\n param x = 1\n data X = load("X.npy")\n loss = x^2\n evolve gd(lr = 0.1, steps = 2)\n}\n')
    with pytest.raises(qdsl.CompileError) as e:
        qdsl.compile(tmp_path / "m.qd")
    assert e.value.diagnostics[0].code == "E0207" and needle in e.value.diagnostics[0].message


def test_from_tensors_roundtrip():
    F0 = np.array([0.1, 0.0]); F1 = -0.5 * np.eye(2); F2 = np.zeros((2, 4)); F2[0, 3] = 0.2
    sysm = qdsl.PolynomialSystem.from_tensors([F0, F1, F2], x0=[0.3, 0.1], kind="flow", dt=0.05, steps=4)
    assert sysm.n == 2 and sysm.degree == 2 and sysm.dynamics.dt == 0.05
    u = np.array([0.3, 0.1])
    np.testing.assert_allclose(sysm.rhs(u), F0 + F1 @ u + F2 @ np.kron(u, u))
