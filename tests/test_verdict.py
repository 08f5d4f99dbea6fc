"""A verdict that can only be earned (issue 18): an undefined quantity fails its check by name,
`run --json` is strict JSON, (c) never compares a measurement with itself, non-dissipative training
and Taylor surrogates are stated, and an `expand` model is also trained on the loss as written
(checked here against gradient descent coded by hand)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qdsl
from qdsl.cli import main
from qdsl.verification import Check


def _strict(text: str):
    """json.loads that refuses NaN / Infinity tokens (RFC 8259 JSON)."""
    def bad(token):
        raise AssertionError(f"non-JSON token {token}")
    return json.loads(text, parse_constant=bad)


def _write(tmp_path, name, body) -> str:
    p = tmp_path / f"{name}.qd"
    p.write_text(f"model {name} {{\n{body}\n}}\n")
    return str(p)


# ----------------------------------------------------------------------------- Check itself

@pytest.mark.parametrize("measured,bound,what", [(math.nan, 1.0, "measured value is NaN"),
                                                 (0.1, math.inf, "bound is infinite"),
                                                 (None, 1.0, "measured value is undefined"),
                                                 (math.inf, math.inf, "measured value is infinite")])
def test_an_undefined_quantity_is_not_a_pass(measured, bound, what):
    ch = Check("b", "x", measured, bound, True, "f")
    assert not ch.passed and ch.status == "not verifiable" and what in ch.reason
    d = ch.to_dict()
    assert d["passed"] is False and "reason" in d
    json.dumps(d, allow_nan=False)


def test_a_measurement_needs_a_finite_value_but_no_bound():
    assert Check("c", "x", 1e-3, None, True, "f", kind="measurement").status == "measured"
    assert Check("c", "x", math.nan, None, True, "f", kind="measurement").status == "not verifiable"


# ----------------------------------------------------------------------------- run: eps = 0.9

EPS_09 = """    param w = 0.6
    loss = 0.02*w + 0.5*w^2 + 0.15*w^3
    evolve gd(lr = 0.3, steps = 5)
    carleman order 2
    solver qsvt(eps = 0.9)"""


def test_eps_09_is_not_verifiable_and_says_why(tmp_path, capsys):
    """The documented range (0, 1) includes 0.9: its degree-5 polynomial leaves later blocks'
    constant component at zero amplitude, so θ decodes to NaN and ε_a·A ≥ 1 makes (b)'s bound ∞."""
    f = _write(tmp_path, "eps09", EPS_09)
    assert main(["run", f, "-q"]) == 1
    out = capsys.readouterr().out
    assert "NOT verified: (b) decoded trajectory vs Carleman is not verifiable" in out
    assert "NaN" in out and "lower eps below" in out and "\nverified" not in out
    assert main(["run", f, "-q", "--json"]) == 1
    d = _strict(capsys.readouterr().out)
    b = d["checks"][1]
    assert d["verified"] is False and b["status"] == "not verifiable" and b["passed"] is False
    assert b["measured"] is None and b["measured_reason"] == "NaN"
    assert b["bound"] is None and b["bound_reason"] == "infinite"


def test_non_dissipative_training_is_stated(tmp_path, capsys):
    """ρ(I + F_1) = |1 − 1.0·2.4| = 1.4: `check` exits 1, and `run` may verify the circuit but says so."""
    f = _write(tmp_path, "rho14", """    param w = 0.2
    loss = 1.2*w^2 + 0.1*w^3
    evolve gd(lr = 1.0, steps = 3)
    carleman order 2
    solver qsvt(eps = 1e-3)""")
    assert main(["check", f, "-q"]) == 1
    capsys.readouterr()
    rc = main(["run", f, "-q", "--json"])
    d = _strict(capsys.readouterr().out)
    assert d["training"]["dissipative"] is False
    assert d["training"]["spectral_radius"] == pytest.approx(1.4, abs=1e-12)
    assert any("not dissipative (ρ(I + F_1) = 1.4 ≥ 1)" in c for c in d["caveats"])
    assert rc == (0 if d["verified"] else 1)
    main(["run", f, "-q"])
    assert "caveat: training is not dissipative" in capsys.readouterr().out


# ----------------------------------------------------------------------------- check (c)

def test_c_for_gd_is_a_measurement_not_a_comparison_with_itself():
    from qdsl.verification import check_carleman, reference

    c = qdsl.compile(source="""model g { param w = 0.5  loss = 0.5*w^2 + 0.1*w^4
        evolve gd(lr = 0.2, steps = 4)  carleman order 2 }""")
    ch = check_carleman(c, reference(c.linear_system))
    assert ch.kind == "measurement" and ch.bound is None and ch.status == "measured"
    assert "discrete dynamics" in ch.details["a_priori"]
    # what passes is the compiled system agreeing with `simulate`'s own solve, to rounding
    assert ch.details["vs_simulate"] <= ch.details["vs_simulate_bound"] < 1e-10
    # a linear system of another initial point must fail it
    from qdsl.lowering.history import history_system
    ls = c.linear_system
    c.__dict__["linear_system"] = history_system(c.carleman, ls.steps, ls.idle, x0=1.2 * c.system.x0)
    assert not check_carleman(c, reference(c.linear_system)).passed


def test_c_for_a_flow_compares_with_the_pnas_bound_computed_from_F():
    """du/dt = −u + 0.3u² from u = 0.4 (R = 0.3·0.4/1 < 1): (c) measures against the exact ODE
    (scipy here, independently) and the bound is PNAS t·N·‖F_2‖·‖u‖^{N+1} + Euler, not a measurement."""
    from scipy.integrate import solve_ivp

    from qdsl.verification import check_carleman, reference

    c = qdsl.compile(source="""model f { param u = 0.4  rate u = -1.0*u + 0.3*u^2
        evolve flow(time = 0.5, dt = 0.05)  carleman order 3 }""")
    ref = reference(c.linear_system)
    ch = check_carleman(c, ref)
    assert ch.kind == "verification" and ch.passed
    t = 0.5
    trunc = t * 3 * 0.3 * 0.4 ** 4
    h, norms = 0.05, 1.0 + 0.3
    euler = 3 * 3 ** 2.5 * t * h * norms ** 2
    assert ch.details["a_priori_bound"] == pytest.approx(trunc + euler, rel=1e-9)
    assert ch.bound >= trunc + euler and ch.bound <= (trunc + euler) * (1 + 1e-3) + 1e-5
    ode = solve_ivp(lambda s, u: -u + 0.3 * u ** 2, (0, t), [0.4], t_eval=np.arange(11) * h,
                    rtol=1e-12, atol=1e-14).y.T
    assert ch.measured == pytest.approx(float(np.max(np.abs(ref["theta"] - ode))), abs=1e-9)


# ----------------------------------------------------------------------------- check's R

def test_check_marks_R_only_for_flows(tmp_path, capsys):
    g = _write(tmp_path, "g", "param x = 0.5\n loss = x^2 + 0.1*x^3\n evolve gd(lr = 0.1, steps = 3)")
    main(["check", g, "-q"])
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("R (PNAS"))
    assert "✓" not in row and "✗" not in row and "continuous-time criterion" in row
    main(["check", g, "-q", "--json"])
    assert _strict(capsys.readouterr().out)["R_is_condition"] is False
    f = _write(tmp_path, "f", "param u = 0.4\n rate u = -1.0*u + 0.3*u^2\n evolve flow(time = 1.0, dt = 0.1)")
    main(["check", f, "-q"])
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("R (PNAS"))
    assert row.rstrip().endswith("✓")


# ----------------------------------------------------------------------------- the loss as written

SIGMOID = """    param a = 0.5
    param b = -0.1
    data x[4] = [0.1, 0.4, -0.3, 0.8]
    data t[4] = [0.2, 0.3, -0.2, 0.5]
    loss = mean(k in 0..4: (sigmoid(a*x[k] + b) - t[k])^2) + 0.05*(a^2 + b^2)
    evolve {evolve}
    expand order 2 about init
    carleman order 2
    solver qsvt(eps = 1e-3)"""
X = np.array([0.1, 0.4, -0.3, 0.8])
Y = np.array([0.2, 0.3, -0.2, 0.5])


def _grad(th, ks):
    """∇ of mean_k (σ(a x_k + b) − t_k)² + 0.05(a² + b²) over the samples ks, by hand."""
    a, b = th
    s = 1 / (1 + np.exp(-(a * X[ks] + b)))
    d = 2 * (s - Y[ks]) * s * (1 - s)
    return np.array([np.mean(d * X[ks]) + 0.1 * a, np.mean(d) + 0.1 * b])


def test_simulate_reports_the_taylor_truncation_error(tmp_path, capsys):
    f = _write(tmp_path, "sig", SIGMOID.format(evolve="gd(lr = 0.8, steps = 6)"))
    th, want = np.array([0.5, -0.1]), [np.array([0.5, -0.1])]
    for _ in range(6):
        th = th - 0.8 * _grad(th, np.arange(4))
        want.append(th)
    want = np.array(want)
    assert main(["simulate", f, "-q", "--json"]) == 0
    d = _strict(capsys.readouterr().out)
    w = d["as_written"]
    assert np.max(np.abs(np.array(w["trajectory"]) - want)) < 1e-13
    poly = np.array(d["trajectory"])        # training on the Taylor polynomial
    assert w["taylor_error"] == pytest.approx(float(np.max(np.abs(poly - want))), rel=1e-9)
    assert w["taylor_error"] > 1e-4          # the surrogate is visibly not the model
    for N in ("1", "2"):
        assert w["carleman_errors"][N] == pytest.approx(
            float(np.max(np.abs(np.array(d["carleman"][N]) - want))), rel=1e-9)
    main(["simulate", f, "-q"])
    assert "Taylor truncation error (max over t)" in capsys.readouterr().out


def test_run_says_which_surrogate_it_verified_against():
    from qdsl.run import training_caveats

    c = qdsl.compile(source="model sig {\n" + SIGMOID.format(evolve="gd(lr = 0.8, steps = 4)") + "\n}")
    from qdsl.verification import reference
    theta_c = reference(c.linear_system)["theta"]
    training, caveats = training_caveats(c, theta_c, c.system.trajectory())
    w = training["as_written"]
    assert w["surrogate"] == "expand order 2 about init"
    assert any("verified against training on the Taylor expansion (`expand order 2 about init`)" in x
               for x in caveats)
    assert w["carleman_error"] == pytest.approx(float(np.max(np.abs(theta_c - w["trajectory"]))), rel=1e-12)


def test_sgd_as_written_uses_the_derivations_batches():
    c = qdsl.compile(source="model sig {\n" + SIGMOID.format(evolve="sgd(lr = 0.5, steps = 5, batch = 2, seed = 4)")
                     + "\n}")
    from qdsl.run import as_written
    w = as_written(c)
    rng = np.random.default_rng(4)
    th, want = np.array([0.5, -0.1]), [np.array([0.5, -0.1])]
    for _ in range(5):
        th = th - 0.5 * _grad(th, rng.choice(4, size=2, replace=False))
        want.append(th)
    assert np.max(np.abs(w["trajectory"] - np.array(want))) < 1e-13


def test_a_loss_leaving_its_domain_names_the_step():
    c = qdsl.compile(source="""model lg { param w = 0.2  loss = -log(w) + 2*w^2
        evolve gd(lr = 0.9, steps = 6)  expand order 2 about init  carleman order 2 }""")
    from qdsl.run import as_written
    w = as_written(c)
    assert w["trajectory"] is None and "undefined at step" in w["reason"] and "log(" in w["reason"]


# ----------------------------------------------------------------------------- property

@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(w0=st.floats(-0.7, 0.7).filter(lambda v: abs(v) > 0.05), cubic=st.floats(-0.3, 0.3),
       lr=st.floats(0.1, 1.1), eps=st.sampled_from([1e-3, 0.2, 0.6, 0.9]), order=st.integers(1, 2))
def test_run_json_is_strict_and_every_verified_bound_is_finite(tmp_path_factory, w0, cubic, lr, eps, order):
    """No `run --json` output holds a NaN/Infinity token, and "verified" is never earned with an
    undefined number: every verification check then has finite measured ≤ finite bound, and every
    measurement a finite value."""
    import contextlib
    import io

    f = _write(tmp_path_factory.mktemp("p"), "p", f"""    param w = {w0!r}
    loss = 0.5*w^2 + {cubic!r}*w^3
    evolve gd(lr = {lr!r}, steps = 2)
    carleman order {order}
    solver qsvt(eps = {eps!r})""")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = main(["run", f, "-q", "--json"])
    d = _strict(out.getvalue())
    assert rc == (0 if d["verified"] else 1)
    if d["verified"]:
        for ch in d["checks"]:
            assert ch["measured"] is not None and math.isfinite(ch["measured"])
            if ch["kind"] == "verification":
                assert ch["bound"] is not None and math.isfinite(ch["bound"]) and ch["measured"] <= ch["bound"]


def test_expanded_rates_are_integrated_as_written():
    """A flow given by non-polynomial rates: Euler steps of du/dt = −sin(u) + 0.2·exp(−u), by hand."""
    from qdsl.run import as_written
    c = qdsl.compile(source="""model r { param u = 0.7  rate u = -sin(u) + 0.2*exp(-u)
        evolve flow(time = 1.0, dt = 0.1)  expand order 2 about init  carleman order 2 }""")
    w = as_written(c)
    u, want = 0.7, [0.7]
    for _ in range(10):
        u = u + 0.1 * (-np.sin(u) + 0.2 * np.exp(-u))
        want.append(u)
    assert np.max(np.abs(w["trajectory"][:, 0] - np.array(want))) < 1e-14
    assert w["taylor_error"] == pytest.approx(
        float(np.max(np.abs(c.system.trajectory()[:, 0] - np.array(want)))), rel=1e-9)


def test_the_reports_promise_for_c_says_which_kind_it_will_be():
    from qdsl.verification import _carleman_promise
    gd = qdsl.compile(source="""model g { param w = 0.5  loss = 0.5*w^2 + 0.1*w^3
        evolve gd(lr = 0.2, steps = 3)  carleman order 2 }""")
    assert _carleman_promise(gd)["kind"] == "measurement"
    fl = qdsl.compile(source="""model f { param u = 0.4  rate u = -1.0*u + 0.3*u^2
        evolve flow(time = 0.5, dt = 0.05)  carleman order 3 }""")
    pr = _carleman_promise(fl)
    assert pr["kind"] == "verification"
    assert pr["a_priori_bound"] == pytest.approx(0.5 * 3 * 0.3 * 0.4 ** 4 + 3 * 3 ** 2.5 * 0.5 * 0.05 * 1.3 ** 2)


def test_over_budget_the_loss_as_written_is_reported_not_trained():
    from qdsl.run import training_caveats
    from qdsl.semantics.numeric import WORK_BUDGET
    c = qdsl.compile(source="""model big { param w = 0.2  data x[3000] = 0.5
        loss = mean(k in 0..3000: (sigmoid(w*x[k]) - 0.3)^2)
        evolve gd(lr = 0.5, steps = 60)  expand order 2 about init  carleman order 1 }""")
    training, caveats = training_caveats(c, c.system.trajectory())
    w = training["as_written"]
    assert w["trajectory"] is None and f"{WORK_BUDGET:,}" in w["reason"]
    assert any("the loss as written was not trained" in x for x in caveats)
