"""The derivation (sparse polynomials) against an independent SymPy differentiation of the loss.

Reference: F_ℓ[i, (a1..aℓ)] = −(η/ℓ!)·∂^{ℓ+1}L/∂θ_i∂θ_a1…∂θ_aℓ at θ*, from sympy.diff of the
loss expression (built from the AST by `sympy_bridge`, a separate code path), tolerance 1e-12.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as s

import qdsl
from qdsl.semantics.sympy_bridge import loss_expression

EX = "examples"


def reference_F(c, degree):
    expr, theta = loss_expression(c.model, dict(c.options.values))
    point = dict(zip(theta, c.system.expansion_point))
    n = len(theta)
    lr = c.system.dynamics.lr if c.system.kind != "flow" else 1.0
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
                M[i, col] = -lr / math.factorial(l) * float(d.subs(point))
        F.append(M)
    return F


@pytest.mark.parametrize("src", [
    "model m { param x = 0.3\n param y = -0.2\n loss = x^2 + 0.5*y^2 + 0.25*x^4 + 0.1*x*y^2\n evolve gd(lr = 0.1, steps = 3) }",
    "model m { param w[3] = [0.1, -0.2, 0.3]\n loss = sum(i in 0..2: (w[i] - w[i+1])^4) + 0.3*w[0]*w[1]*w[2] + sum(i in 0..3: w[i]^2)\n evolve gd(lr = 0.05, steps = 3) }",
    "model m { param a = 0.5\n param b = -0.1\n loss = (a*b - 0.2)^2 + a^3\n evolve flow(time = 1.0, dt = 0.1) }",
])
def test_polynomial_loss_matches_sympy(src):
    c = qdsl.compile(source=src)
    F = c.system.F
    ref = reference_F(c, len(F) - 1)
    for l, (got, want) in enumerate(zip(F, ref)):
        np.testing.assert_allclose(got.toarray(), want, atol=1e-12, err_msg=f"F_{l}")
    assert c.system.exact


def test_taylor_expansion_matches_sympy():
    c = qdsl.compile(f"{EX}/tanh_unit.qd", values={"eta": 0.4})
    F = c.system.F
    assert len(F) == 3 and not c.system.exact
    ref = reference_F(c, 2)
    for l in range(3):
        np.testing.assert_allclose(F[l].toarray(), ref[l], atol=1e-10, err_msg=f"F_{l}")
    np.testing.assert_allclose(c.system.expansion_point, [0.5, -0.1])
    np.testing.assert_allclose(c.system.x0, [0.0, 0.0])


def test_expansion_about_a_point_and_functions():
    src = """model m {
        param a = 0.2
        param b = 0.7
        loss = exp(a*b) + log(1 + b^2) + sqrt(2 + a) + sigmoid(a - b) + softplus(b) + 1/(3 + a) + (1 + b)^0.5
        expand order 3 about [0.1, 0.5]
        evolve gd(lr = 0.1, steps = 3)
    }"""
    c = qdsl.compile(source=src)
    ref = reference_F(c, 3)
    for l in range(4):
        np.testing.assert_allclose(c.system.F[l].toarray(), ref[l], atol=1e-10, err_msg=f"F_{l}")
    np.testing.assert_allclose(c.system.x0, [0.1, 0.2])


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
    for t in range(10):
        x, y = th
        g = np.array([2 * x + x ** 3 + 0.1 * y ** 2, y + 0.2 * x * y])
        th = th - 0.1 * g
        np.testing.assert_allclose(traj[t + 1], th, atol=1e-14)


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
        np.testing.assert_allclose(traj[t + 1], w, atol=1e-13)
    # the full-batch system is what the certificate is about
    H = 2 * X.T @ X / 3 + 0.5 * np.eye(2)
    np.testing.assert_allclose(sysm.F[1].toarray(), -0.2 * H, atol=1e-13)


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
    np.testing.assert_allclose(c.system.x0, [0.3, -0.3])
    np.testing.assert_allclose(c.system.F[1].toarray(), -0.1 * X.T @ X, atol=1e-12)
    np.testing.assert_allclose(c.system.F[0].toarray().ravel(), 0.1 * X.T @ np.array([0.1, 0.2]), atol=1e-12)


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
