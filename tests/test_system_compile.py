"""qdsl.compile(system=...): the stages after the front end for a PolynomialSystem built in Python."""
import numpy as np
import pytest

import qdsl


def _ridge_like():
    # u ← u + F_0 + F_1 u: gradient descent on ½uᵀAu − bᵀu with lr 0.1 (A SPD, so dissipative)
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    b = np.array([0.3, -0.2])
    lr = 0.1
    return qdsl.PolynomialSystem.from_tensors([lr * b, -lr * A], x0=[0.4, -0.1], kind="gd", steps=5, lr=lr,
                                              model="py_ridge"), A, b, lr


def test_system_compile_runs_the_stages_of_a_file():
    sys, A, b, lr = _ridge_like()
    c = qdsl.compile(system=sys, order=1)
    assert c.system is sys
    cert = c.certificate
    # ρ(I + F_1) = max |1 − lr·λ(A)|, computed here independently
    rho = float(np.max(np.abs(1 - lr * np.linalg.eigvalsh(A))))
    assert cert["spectral_radius"] == pytest.approx(rho, rel=1e-12)
    assert cert.dissipative
    # order 1 of an affine map is exact: the history solve reproduces direct iteration
    u = np.array([0.4, -0.1])
    for _ in range(5):
        u = u + lr * (b - A @ u)
    traj = c.linear_system.trajectory()
    assert np.allclose(traj[-1], u, rtol=0, atol=1e-13)
    assert c.simulate().errors[1]["max"] <= 1e-13


def test_system_compile_steps_override_and_errors():
    sys, *_ = _ridge_like()
    c = qdsl.compile(system=sys, order=1, steps=3)
    assert c.system.dynamics.steps == 3 and c.linear_system.num_blocks == 4
    with pytest.raises(TypeError, match="order="):
        qdsl.compile(system=sys)
    with pytest.raises(TypeError, match="exactly one"):
        qdsl.compile("examples/quartic.qd", system=sys)
