"""The network → circuit path: a Support holding the other weights at their values, the
dissipativity report, refusals before building, and `run`'s check (c) against torch's own
gradient descent."""
from __future__ import annotations

import copy
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qdsl  # noqa: E402
import qdsl.torch as qt  # noqa: E402
from torch_models import U64, classification_data, dense_hessian, tanh_mlp  # noqa: E402


def _regression(seed=1):
    model = tanh_mlp([2, 2, 1], seed=0)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 2, dtype=torch.float64, generator=g)
    y = torch.tanh(x[:, :1] - 0.5 * x[:, 1:])
    return model, torch.nn.MSELoss(), (x, y)


def test_support_holding_the_rest_at_their_values():
    """Support.select(..., rest="value"): the variables are two weights of the first layer, every
    other weight keeps its value. F_1 is −lr times that 2 × 2 block of the full network's Hessian
    (torch.autograd.functional.hessian over all parameters), F_0 −lr times that part of the
    gradient — not the Hessian of a network whose other weights were zeroed."""
    model, loss_fn, (x, y) = _regression()
    lr = 0.1
    sup = qt.Support.select(model, {"0.weight": [0, 3]}, rest="value")
    assert sup.n == 2 and sup.rest == "value"
    s = qt.extract(model, loss_fn, (x, y), lr=lr, support=sup, degree=1, steps=3)
    H = dense_hessian(model, loss_fn, x, y)           # parameter order: 0.weight (4), 0.bias, 2.weight, 2.bias
    idx = [0, 3]
    ref = -lr * H[np.ix_(idx, idx)]
    assert np.max(np.abs(s.F[1].toarray() - ref)) <= 64 * 16 * U64 * np.max(np.abs(H))
    zeroed = qt.extract(model, loss_fn, (x, y), lr=lr, support=qt.Support.select(model, {"0.weight": [0, 3]},
                                                                                   rest="zero"), degree=1)
    assert np.max(np.abs(zeroed.F[1].toarray() - ref)) > 1e-3   # the other weights matter
    assert s.names == ("0.weight[0,0]", "0.weight[1,1]")
    with pytest.raises(ValueError, match="outside"):
        qt.Support.select(model, {"0.weight": [4]})


def test_dissipativity_report_counts_the_breaking_modes():
    model = tanh_mlp([4, 6, 3], seed=3)
    x, y = classification_data(40, 4, 3, seed=4)
    lr = 2.0   # steep enough that some modes pass 2/lr = 1
    s = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=lr, sparsity=0.0, degree=1, support="all")
    lam = np.linalg.eigvalsh(dense_hessian(model, torch.nn.CrossEntropyLoss(), x, y))
    d = s.meta["dissipativity"]
    zero = lam.size * np.finfo(float).eps * np.max(np.abs(lam))
    neg = int(np.sum(lam < -zero))
    steep = int(np.sum(lam > 2 / lr))
    assert d["exact"] and d["negative_curvature"] == neg and d["too_steep"] == steep
    assert d["breaking"] == d["negative_curvature"] + d["too_steep"] and d["share"] == pytest.approx(d["breaking"] / lam.size)
    assert d["lambda_min"] == pytest.approx(lam[0], abs=1e-10) and neg > 0
    assert "modes break dissipativity" in qt.describe_dissipativity(d)


def test_torch_gd_reference_is_torch_sgd_on_the_network():
    """meta["torch_gd"] = torch.optim.SGD on the model itself (a deep copy, the gradients of every
    entry but the two variables zeroed), to float64 rounding of T steps."""
    model, loss_fn, (x, y) = _regression()
    lr, T = 0.1, 4
    sup = qt.Support.select(model, {"0.weight": [0, 3]}, rest="value")
    s = qt.extract(model, loss_fn, (x, y), lr=lr, support=sup, degree=2, steps=T)
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(ref.parameters(), lr=lr)
    traj = [ref[0].weight.detach().reshape(-1)[[0, 3]].clone()]
    for _ in range(T):
        opt.zero_grad()
        loss_fn(ref(x), y).backward()
        for name, p in ref.named_parameters():
            keep = torch.zeros_like(p)
            if name == "0.weight":
                keep.view(-1)[[0, 3]] = 1
            p.grad.mul_(keep)
        opt.step()
        traj.append(ref[0].weight.detach().reshape(-1)[[0, 3]].clone())
    traj = torch.stack(traj).numpy()
    assert np.max(np.abs(s.meta["torch_gd"] + s.expansion_point - traj)) <= 100 * T * U64


def test_run_checks_carleman_against_torch_gradient_descent():
    """compile + run a two-weight extraction (degree 2, order 2, T = 2): check (c) now also bounds
    the circuit's Carleman trajectory against torch's gradient descent on the network, by the
    measured truncation error plus Σ Λ_t‖e_t‖ from the one-step Taylor defects."""
    model, loss_fn, batch = _regression()
    sup = qt.Support.select(model, {"0.weight": [0, 3]}, rest="value")
    s = qt.extract(model, loss_fn, batch, lr=0.1, support=sup, degree=2, steps=2)
    c = qdsl.compile(system=s, order=2)
    r = c.run()
    ch = {x.key: x for x in r.checks}["c"]
    d = ch.details
    assert "vs_torch_gd" in d and d["vs_torch_gd"] <= d["vs_torch_gd_bound"] and ch.passed
    assert d["taylor_gap"] > 0            # the network is not its Taylor polynomial
    assert d["vs_torch_gd"] > d["gap_to_training"]
    assert "torch's GD" in r.render()


def test_dense_extraction_refused_before_the_lift_is_built(monkeypatch):
    """A dense extraction (n = 80, order 2, 10 steps) whose history system would hold over the
    nonzero limit is refused (E0402, exit status 3) from nnz(I + F_1)^j before the Carleman lift
    is built (it took a minute before)."""
    model = tanh_mlp([8, 8, 3], seed=0)
    x, y = classification_data(32, 8, 3)
    s = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, sparsity=0.0, degree=1, support="all")
    import qdsl.lowering.carleman as car

    def boom(*a, **k):
        raise AssertionError("the Carleman lift was built")
    monkeypatch.setattr(car, "_discrete", boom)
    c = qdsl.compile(system=s, order=2)
    t0 = time.perf_counter()
    with pytest.raises(qdsl.SizeLimitError) as exc:
        c.linear_system
    assert exc.value.diagnostics[0].code == "E0402" and exc.value.exit_status == 3
    assert time.perf_counter() - t0 < 10


def _forbid_simulators(monkeypatch):
    from qdsl.backends import qiskit_sim, sparse_sim

    def forbid(*args, **kwargs):
        raise AssertionError("a simulator was entered although the run was refused up front")
    monkeypatch.setattr(sparse_sim, "sparse_statevector", forbid)
    monkeypatch.setattr(qiskit_sim, "_statevector", forbid)


def test_run_of_an_extraction_over_its_memory_budget_is_refused_before_any_state(monkeypatch):
    """Three weights of a network held in place by the others (degree 1, order 2, T = 10): a
    22-qubit circuit whose sparse simulation is predicted from the program (support × bytes per
    amplitude, deterministic) at tens of MiB. Under an 8 MiB budget `run` refuses it (E0531,
    exit 3) with the figure and a suggestion, and no simulator is entered: no state is allocated."""
    torch.set_num_threads(1)
    model = tanh_mlp([6, 4, 3], seed=0)
    x, y = classification_data(32, 6, 3)
    sup = qt.Support.select(model, {"0.weight": [0, 1, 2]}, rest="value")
    s = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, support=sup, degree=1, steps=10)
    c = qdsl.compile(system=s, order=2)
    c.program  # noqa: B018 — compiling is allowed; only the simulation may not start
    _forbid_simulators(monkeypatch)
    with pytest.raises(qdsl.SizeLimitError) as ei:
        c.run(max_memory=8 * 2 ** 20)
    d = ei.value.diagnostics[0]
    assert d.code == "E0531" and ei.value.exit_status == 3
    assert "predicted to need" in d.message and "--backend aer" in d.help


@pytest.mark.slow
def test_run_of_a_26_weight_extraction_is_refused_under_the_default_budget(monkeypatch):
    """The issue's case: 26 surviving weights (degree 1, order 2, T = 10) — a 40-qubit circuit whose
    sparse simulation grew to 17.8 GB and was killed. With the default budget (half the available
    memory) `run` now refuses it from the prediction (≈ 3·10^10 amplitudes, terabytes: over any
    machine's half) before any simulator state exists."""
    torch.set_num_threads(1)
    model = tanh_mlp([8, 8, 3], seed=0)
    x, y = classification_data(32, 8, 3)
    s = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, sparsity=1 - 16 / 91, degree=1,
                   steps=10, keep_last=False)
    assert s.n == 26
    c = qdsl.compile(system=s, order=2)
    _forbid_simulators(monkeypatch)
    with pytest.raises(qdsl.SizeLimitError) as ei:
        c.run()
    d = ei.value.diagnostics[0]
    assert d.code == "E0531" and ei.value.exit_status == 3
    assert float(d.message.split("need ")[1].split(" GiB")[0]) > 1024    # over a terabyte
