"""History-state system L·Y = B and the classical reference (`simulate`)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qdsl.diagnostics import Diagnostic
from qdsl.lowering.carleman import carleman
from qdsl.lowering.history import LinearSystem, condition_number, history_system
from qdsl.lowering.simulate import SimulationResult, simulate
from qdsl.semantics.system import PolynomialSystem


def quadratic(rng, n, kind="flow", steps=8, decay=0.5, scale=0.1, u_scale=0.3, dt=0.1):
    F0 = rng.normal(size=n) * scale * 0.1
    F1 = -decay * np.eye(n) + scale * rng.normal(size=(n, n))
    F2 = scale * rng.normal(size=(n, n, n))
    F2 = ((F2 + F2.transpose(0, 2, 1)) / 2).reshape(n, n * n)
    return PolynomialSystem.from_tensors([F0, F1, F2], x0=rng.normal(size=n) * u_scale, kind=kind,
                                         dt=dt, steps=steps)


def iterate(car, steps):
    y = car.lift(car.x0)
    out = [y]
    for t in range(steps):
        y = (car.matrices[t] if len(car.matrices) > 1 else car.matrix) @ y
        out.append(y)
    return np.array(out)


@pytest.mark.parametrize("kind", ["flow", "gd"])
@pytest.mark.parametrize("basis", ["kronecker", "symmetric"])
def test_solution_of_L_equals_step_by_step_iteration(kind, basis):
    rng = np.random.default_rng(0)
    s = quadratic(rng, 3, kind)
    car = carleman(s, 3, basis)
    ls = history_system(car, 8)
    assert isinstance(ls, LinearSystem)
    ls.verify()
    Yit = iterate(car, 8)
    for method in ("forward", "spsolve", "triangular"):
        Y = ls.solve(method)
        np.testing.assert_allclose(ls.blocks(Y), Yit, atol=1e-12)
        assert ls.residual(Y) < 1e-12
    np.testing.assert_allclose(ls.decode(ls.solve()), s.expansion_point + Yit[:, 1:4], atol=1e-12)
    assert ls.trajectory().shape == (9, 3)


def test_idle_steps_copy_the_last_block():
    rng = np.random.default_rng(1)
    car = carleman(quadratic(rng, 2), 2)
    ls = history_system(car, 5, idle=3)
    assert ls.num_blocks == 9 and ls.dim == 9 * car.dim
    Yb = ls.blocks(ls.solve("spsolve"))
    for t in range(6, 9):
        np.testing.assert_allclose(Yb[t], Yb[5], atol=1e-13)
    assert ls.decode(ls.solve()).shape == (6, 2)


def test_structure_of_L():
    rng = np.random.default_rng(2)
    car = carleman(quadratic(rng, 2, "gd"), 2)
    T, p, D = 3, 1, car.dim
    ls = history_system(car, T, p)
    L = ls.matrix.toarray()
    ref = np.eye((T + 1 + p) * D)
    for t in range(1, T + 1):
        ref[t * D:(t + 1) * D, (t - 1) * D:t * D] = -car.matrix.toarray()
    ref[(T + 1) * D:, T * D:(T + 1) * D] -= np.eye(D)
    np.testing.assert_array_equal(L, ref)
    assert ls.matrix.has_canonical_format
    np.testing.assert_array_equal(ls.rhs[:D], car.lift(car.x0))
    assert not ls.rhs[D:].any()
    assert ls.sparsity == max((L != 0).sum(0).max(), (L != 0).sum(1).max())


def test_kappa_exact_and_estimate_agree():
    rng = np.random.default_rng(3)
    car = carleman(quadratic(rng, 3, "flow"), 2)  # D = 13
    ls = history_system(car, 30, idle=2)           # dim = 429
    assert ls.kappa_method == "exact"
    est, how = condition_number(ls.matrix, ls.transfers, 30, 2, "estimate")
    assert how == "estimate"
    assert est == pytest.approx(ls.kappa, rel=1e-5)
    big = history_system(car, 154)                 # dim = 2015 > 2000: estimated
    assert big.kappa_method == "estimate" and np.isfinite(big.kappa) and big.kappa >= 1
    # arXiv:2303.03428: ‖I + A‖ ≤ 1 ⇒ κ ≤ 2(T+1); our Euler step of a dissipative system is close
    assert ls.kappa < 3 * (30 + 2 + 1)


@pytest.mark.parametrize("kind", ["flow", "gd"])
def test_symmetric_and_kronecker_give_the_same_trajectories(kind):
    rng = np.random.default_rng(4)
    s = quadratic(rng, 3, kind, steps=10)
    for N in (1, 2, 3):
        a = history_system(carleman(s, N, "kronecker"), 10, kappa="none").trajectory()
        b = history_system(carleman(s, N, "symmetric"), 10, kappa="none").trajectory()
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_sgd_uses_its_per_step_matrices():
    """An affine sgd step (q = 1) is exactly linear in the lift: order 1 reproduces the true
    trajectory only if the matrix of step t is the one used at step t."""
    rng = np.random.default_rng(5)
    n, T = 3, 6
    steps = [[rng.normal(size=n) * 0.1, -0.3 * np.eye(n) + 0.1 * rng.normal(size=(n, n))]
             for _ in range(T)]
    s = PolynomialSystem.from_tensors(steps[0], x0=rng.normal(size=n), kind="sgd", steps=T,
                                      step_F=steps, expansion_point=np.ones(n))
    ls = history_system(carleman(s, 1), T)
    assert len(ls.transfers) == T
    np.testing.assert_allclose(ls.trajectory(), s.trajectory(), atol=1e-12)
    frozen = PolynomialSystem.from_tensors(steps[0], x0=s.x0, kind="gd", steps=T,
                                           expansion_point=np.ones(n))
    assert not np.allclose(history_system(carleman(frozen, 1), T).trajectory(), s.trajectory())
    # and with a quadratic term, both bases still agree step by step
    steps2 = [F + [0.05 * rng.normal(size=(n, n * n))] for F in steps]
    s2 = PolynomialSystem.from_tensors(steps2[0], x0=s.x0 * 0.3, kind="sgd", steps=T, step_F=steps2)
    r = simulate(s2, 3, "symmetric")
    assert r.errors[3]["max"] < r.errors[1]["max"]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), kind=st.sampled_from(["flow", "gd"]),
       n=st.integers(1, 3))
def test_carleman_converges_on_small_dissipative_systems(seed, kind, n):
    """Small-norm dissipative systems: the error decreases monotonically with the order.

    Discrete kinds converge to the true iteration itself. A flow's Carleman system takes Euler
    steps in the lifted space, which differ from Euler steps on u by O(h²) in the higher blocks:
    its errors decrease until they reach that floor (measured with order 8)."""
    rng = np.random.default_rng(seed)
    s = quadratic(rng, n, kind, steps=10, decay=0.3, scale=0.05, u_scale=0.1)
    r = simulate(s, 4, "symmetric", orders=[1, 2, 3, 4, 8], kappa=False)
    floor = 2 * r.errors[8]["max"] if kind == "flow" else 1e-13
    errs = [r.errors[N]["max"] for N in range(1, 5)]
    for a, b in zip(errs, errs[1:]):
        assert b <= a * (1 + 1e-9) or b < max(floor, 1e-13)
    assert errs[-1] < errs[0] and not r.warnings
    if kind == "gd":
        assert errs[-1] < 1e-5


def test_simulate_result_and_json(tmp_path):
    s = PolynomialSystem.from_tensors([np.zeros(1), [[-1.0]], [[0.3]]], x0=[0.4], kind="flow",
                                      dt=0.1, steps=20, names=["u"], model="logistic_flow")
    r = simulate(s, 4)
    assert isinstance(r, SimulationResult)
    assert r.true.shape == (21, 1) and sorted(r.carleman) == [1, 2, 3, 4]
    np.testing.assert_allclose(r.true, s.trajectory())
    assert r.exact_ode is not None and abs(r.exact_ode[-1, 0] - 0.4 * np.exp(-2) / (1 - 0.3 * 0.4 * (1 - np.exp(-2)))) < 1e-8
    errs = [r.errors[N]["max"] for N in range(1, 5)]
    assert errs == sorted(errs, reverse=True)
    assert r.bounds["truncation"]["applicable"] and r.bounds["truncation"]["value"] > 0
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert len(d["trajectory"]) == 21 and len(d["trajectory"][0]) == 1
    assert set(d["carleman"]) == {"1", "2", "3", "4"} and len(d["carleman"]["4"]) == 21
    assert d["names"] == ["u"] and d["warnings"] == [] and "errors" in d and "bounds" in d
    text = r.render()
    assert "true θ_T" in text and "N=4" in text and "t=20" not in text.split("per step")[0]
    path = tmp_path / "sim.png"
    r.plot(path)
    assert path.stat().st_size > 1000


def test_simulate_warns_on_divergence_and_large_errors():
    s = PolynomialSystem.from_tensors([np.zeros(1), [[-1.0]], [[3.0]]], x0=[0.5], kind="flow",
                                      dt=0.1, steps=20, names=["u"], model="bad")
    r = simulate(s, 3)
    assert r.warnings and all(isinstance(w, Diagnostic) and w.code == "W0401" for w in r.warnings)
    assert any("diverges" in w.message for w in r.warnings)
    assert not r.bounds["truncation"]["applicable"]
    assert r.bounds["truncation"]["reason"].startswith("not applicable: R = ")
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["warnings"][0]["code"] == "W0401"
    gd = PolynomialSystem.from_tensors([np.zeros(1), [[-0.5]], [[0.9]]], x0=[0.9], kind="gd", steps=8)
    r = simulate(gd, 2)
    assert r.bounds["euler"]["reason"].startswith("not applicable: discrete")
    assert any("deviates" in w.message for w in r.warnings)
