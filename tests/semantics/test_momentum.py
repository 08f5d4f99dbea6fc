"""`evolve momentum(lr, beta, steps)` (heavy ball) and `evolve nesterov(...)`: polynomial maps on
(θ, v), checked against the optimizers coded here from their definitions (Polyak 1964;
Sutskever et al. 2013), with the certificate on the joint linear part and Carleman converging."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qdsl
from qdsl.cli import main
from qdsl.diagnostics import CompileError

ROOT = Path(__file__).parents[2]


def grad(th):
    """∇ of 0.5w² + 0.8b² + 0.2·w·b² + 0.1·w⁴ (θ = (w, b)), by hand."""
    w, b = th
    return np.array([w + 0.2 * b ** 2 + 0.4 * w ** 3, 1.6 * b + 0.4 * w * b])


def reference(kind, lr, beta, T, th0):
    th, v = np.array(th0, float), np.zeros(len(th0))
    out = [np.concatenate([th, v])]
    for _ in range(T):
        g = grad(th + beta * v) if kind == "nesterov" else grad(th)
        v = beta * v - lr * g
        th = th + v
        out.append(np.concatenate([th, v]))
    return np.array(out)


def model(kind, lr=0.3, beta=0.6, T=6, order=3, extra=""):
    return qdsl.compile(source=f"""model m {{
        param w = 0.4
        param b = -0.3
        loss = 0.5*w^2 + 0.8*b^2 + 0.2*w*b^2 + 0.1*w^4
        evolve {kind}(lr = {lr}, beta = {beta}, steps = {T})
        {extra}
        carleman order {order}
    }}""")


@pytest.mark.parametrize("kind", ["momentum", "nesterov"])
def test_polynomial_map_is_the_optimizer(kind):
    c = model(kind)
    s = c.system
    assert s.names == ("w", "b", "v_w", "v_b") and s.kind == kind and s.dynamics.beta == 0.6
    want = reference(kind, 0.3, 0.6, 6, [0.4, -0.3])
    assert np.max(np.abs(s.trajectory() - want)) < 1e-14   # exact polynomial update: rounding only


@pytest.mark.parametrize("kind", ["momentum", "nesterov"])
def test_certificate_is_the_joint_linear_part(kind):
    """F_1 of (u, v): Δu = βv − lr·H·u (heavy ball; Nesterov: − lr·H·(u + βv)), Δv = (β−1)v − …."""
    lr, beta = 0.3, 0.6
    c = model(kind, lr, beta)
    H = np.array([[1.0, 0.0], [0.0, 1.6]])
    top = np.hstack([-lr * H, beta * np.eye(2) - (lr * beta * H if kind == "nesterov" else 0)])
    bot = np.hstack([-lr * H, (beta - 1) * np.eye(2) - (lr * beta * H if kind == "nesterov" else 0)])
    F1 = np.vstack([top, bot])
    assert np.allclose(c.system.F[1].toarray(), F1, atol=1e-15)
    rho = float(np.max(np.abs(np.linalg.eigvals(np.eye(4) + F1))))
    d = c.certificate.to_dict()
    assert d["spectral_radius"] == pytest.approx(rho, rel=1e-12) and d["dissipative"] == (rho < 1)


def test_carleman_converges_to_heavy_ball():
    c = model("momentum", order=4)
    res = c.simulate()
    want = reference("momentum", 0.3, 0.6, 6, [0.4, -0.3])
    errs = [float(np.max(np.abs(res.carleman[N] - want))) for N in (1, 2, 3, 4)]
    assert errs[3] < errs[1] < errs[0] and errs[3] < 1e-3


def test_beta_outside_0_1_and_symbolic_lr_are_diagnosed():
    with pytest.raises(CompileError) as ei:
        model("momentum", beta=1.0)
    assert ei.value.diagnostics[0].code == "E0231"
    with pytest.raises(CompileError) as ei:
        qdsl.compile(source="""model m { param w = 0.4  const eta in (0, 1)  loss = w^2
            evolve nesterov(lr = eta, beta = 0.5, steps = 3) }""")
    assert ei.value.diagnostics[0].code == "E0211"


def test_expanded_momentum_is_compared_with_the_loss_as_written():
    from qdsl.run import as_written
    c = qdsl.compile(source="""model m { param w = 0.4  loss = (sigmoid(2*w) - 0.3)^2
        evolve momentum(lr = 0.5, beta = 0.5, steps = 5)  expand order 2 about init  carleman order 2 }""")
    w = as_written(c)
    th, v, out = 0.4, 0.0, [[0.4, 0.0]]
    for _ in range(5):
        s = 1 / (1 + np.exp(-2 * th))
        v = 0.5 * v - 0.5 * 2 * (s - 0.3) * s * (1 - s) * 2
        th = th + v
        out.append([th, v])
    assert np.max(np.abs(w["trajectory"] - np.array(out))) < 1e-14


@pytest.mark.slow
def test_example_runs_verified_against_heavy_ball(capsys):
    rc = main(["run", str(ROOT / "examples" / "momentum.qd"), "-q", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["verified"], d["failures"]
    th, v, want = 0.5, 0.0, [[0.5, 0.0]]
    for _ in range(4):
        v = 0.5 * v - 0.2 * (th + 0.4 * th ** 3)
        th = th + v
        want.append([th, v])
    want = np.array(want)
    assert np.max(np.abs(np.array(d["trajectory"]["true"]) - want)) < 1e-14
    c = d["checks"][2]
    carleman = np.array(d["trajectory"]["carleman"])
    assert c["measured"] == pytest.approx(float(np.max(np.abs(carleman - want))), rel=1e-9)
    q = np.array(d["trajectory"]["quantum"])
    assert np.max(np.abs(q - carleman)) <= d["checks"][1]["bound"]
