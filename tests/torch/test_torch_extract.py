"""qdsl.torch.extract: F_0, F_1, F_2 of a pruned model against PyTorch's own derivatives, and the
extracted system through qdsl's certificate, Carleman lift and classical simulation against
torch's gradient-descent steps."""
from __future__ import annotations

import copy
import json
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qdsl  # noqa: E402
import qdsl.torch as qt  # noqa: E402
from torch_models import (U64, classification_data, dense_hessian, paper_pruned_copy,  # noqa: E402
                          support_function, tanh_mlp)

LR = 0.2


@pytest.fixture(scope="module")
def mlp_case():
    model = tanh_mlp([4, 5, 3], seed=3)
    x, y = classification_data(40, 4, 3, seed=4)
    loss_fn = torch.nn.CrossEntropyLoss()
    return model, loss_fn, x, y


def test_support_is_the_papers_global_l1_pruning(mlp_case):
    model, loss_fn, x, y = mlp_case
    _, masks = paper_pruned_copy(model, 0.6)
    sup = qt.magnitude_prune(model, 0.6)
    mine = sup.masks()
    assert list(mine) == [n for n, _ in model.named_parameters()]
    for name, m in masks.items():
        assert torch.equal(mine[name], m), name
    # the last Linear layer and every bias stay dense; 60 % of the first layer's 20 weights go
    assert sup.n == 8 + 5 + 15 + 3 and sup.pruned == ("0.weight",)
    assert sup.sparsity == pytest.approx(0.6)


def test_F0_F1_are_minus_lr_gradient_and_hessian_block(mlp_case):
    model, loss_fn, x, y = mlp_case
    _, masks = paper_pruned_copy(model, 0.6)
    f, theta_s = support_function(model, loss_fn, x, y, masks)
    g_ref = torch.autograd.functional.jacobian(f, theta_s).numpy()
    H_ref = torch.autograd.functional.hessian(f, theta_s).numpy()
    sys_ = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=1, drop_tol=0.0)
    assert isinstance(sys_, qdsl.PolynomialSystem) and sys_.kind == "gd" and sys_.degree == 1
    assert np.array_equal(sys_.expansion_point, theta_s.numpy()) and not np.any(sys_.x0)
    # Each entry is a sum of ≤ m = N·(h + c) products (N samples, h hidden units, c classes),
    # evaluated by two different float64 summation orders: |Δ| ≤ 2·m·u·max|entry| (γ_m bound).
    m = 40 * (5 + 3)
    F0 = sys_.F[0].toarray().ravel()
    F1 = sys_.F[1].toarray()
    assert np.max(np.abs(F0 + LR * g_ref)) <= 2 * m * U64 * LR * np.max(np.abs(g_ref))
    assert np.max(np.abs(F1 + LR * H_ref)) <= 2 * m * U64 * LR * np.max(np.abs(H_ref))
    assert np.array_equal(F1, F1.T)  # built symmetric, entry by entry
    assert sys_.meta["dropped"]["F_1"]["dropped_entries"] == 0


def test_F2_matches_central_differences_of_hessian_vector_products(mlp_case):
    r"""∇³L[:, a, b] against (H(θ + εe_b) − H(θ − εe_b))e_a / 2ε, the HVPs from
    torch.autograd.functional.hvp. The central difference D(ε) = T + cε² + O(ε⁴); with
    D(ε/2) = T + cε²/4 + O(ε⁴), the error of D(ε/2) is (D(ε) − D(ε/2))/3 + O(ε⁴), so
    |T − D(ε/2)| ≤ ½|D(ε) − D(ε/2)| + rounding, rounding ≤ 2·(2m·u·max|H|)/ε for the HVP
    differences divided by ε."""
    model, loss_fn, x, y = mlp_case
    _, masks = paper_pruned_copy(model, 0.6)
    f, theta_s = support_function(model, loss_fn, x, y, masks)
    sys_ = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=2, drop_tol=0.0)
    n = sys_.n
    T = (-2.0 / LR) * sys_.F[2].toarray().reshape(n, n, n)
    # exactly symmetric under every permutation of (i, a, b)
    for perm in [(0, 2, 1), (1, 0, 2), (2, 1, 0)]:
        assert np.array_equal(T, T.transpose(perm))
    Hmax = float(np.max(np.abs(torch.autograd.functional.hessian(f, theta_s).numpy())))
    rounding_per_eps = 2 * (2 * 40 * 8 * U64 * Hmax)

    def D(eps, a, b):
        e_b = torch.zeros(n, dtype=torch.float64)
        e_b[b] = eps
        e_a = torch.zeros(n, dtype=torch.float64)
        e_a[a] = 1.0
        hp = torch.autograd.functional.hvp(f, theta_s + e_b, e_a)[1]
        hm = torch.autograd.functional.hvp(f, theta_s - e_b, e_a)[1]
        return ((hp - hm) / (2 * eps)).numpy()

    rng = np.random.default_rng(0)
    pairs = [(0, 0), (n - 1, n - 1), (0, n - 1)] + [tuple(rng.integers(0, n, 2)) for _ in range(5)]
    eps = 1e-3
    for a, b in pairs:
        d1, d2 = D(eps, a, b), D(eps / 2, a, b)
        tol = 0.5 * np.abs(d1 - d2) + rounding_per_eps / (eps / 2)
        assert np.all(np.abs(T[:, a, b] - d2) <= tol), (a, b, np.max(np.abs(T[:, a, b] - d2)), np.max(tol))
    assert np.max(np.abs(T)) > 1e3 * rounding_per_eps / (eps / 2)  # the check is not vacuous


def test_drop_threshold_and_reported_norm(mlp_case):
    model, loss_fn, x, y = mlp_case
    full = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=2, drop_tol=0.0)
    cut = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=2, drop_tol=0.05)
    for l, key in enumerate(["F_0", "F_1", "F_2"]):
        a, b = full.F[l].toarray(), cut.F[l].toarray()
        rep = cut.meta["dropped"][key]
        thr = 0.05 * np.max(np.abs(a))
        assert rep["threshold"] == pytest.approx(thr, rel=1e-12)
        assert np.all(np.abs(b[b != 0]) > thr)                    # what is kept is above the threshold
        assert np.array_equal(b[b != 0], a[b != 0])               # and unchanged
        assert np.all(np.abs(a[(b == 0) & (a != 0)]) <= thr)      # what is gone was below it
        assert rep["dropped_entries"] == int(np.count_nonzero(a) - np.count_nonzero(b))
        dropped = np.linalg.norm(a - b)
        assert rep["dropped_norm"] == pytest.approx(dropped, rel=1e-10, abs=1e-300)
        assert rep["relative"] == pytest.approx(dropped / np.linalg.norm(a), rel=1e-10, abs=1e-300)
    assert cut.meta["dropped"]["F_2"]["dropped_entries"] > 0
    # still symmetric after dropping
    n = cut.n
    T = cut.F[2].toarray().reshape(n, n, n)
    assert np.array_equal(T, T.transpose(1, 0, 2)) and np.array_equal(T, T.transpose(2, 1, 0))


def _torch_gd_on_pruned(model, loss_fn, x, y, sparsity, steps, keep_last=True, lr=LR):
    """Torch's own training: prune.global_unstructured, then plain SGD on the reparametrized model;
    returns the surviving weights θ_0..θ_T (support order: named_parameters, flat index)."""
    m, masks = paper_pruned_copy(model, sparsity, keep_last)
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    traj = []
    for t in range(steps + 1):
        eff = {n: _effective(m, n) for n in masks}
        traj.append(torch.cat([eff[n].detach().reshape(-1)[masks[n].reshape(-1)] for n in masks]).numpy())
        if t == steps:
            break
        opt.zero_grad()
        loss_fn(m(x), y).backward()
        opt.step()
    return np.array(traj)


def _effective(model, name):
    """The parameter as the forward sees it: weight_orig·weight_mask for a pruned one (the
    module's `weight` attribute is refreshed only by the next forward's pre-hook)."""
    mod = model
    for part in name.split(".")[:-1]:
        mod = getattr(mod, part)
    leaf = name.rsplit(".", 1)[-1]
    if hasattr(mod, leaf + "_orig"):
        return getattr(mod, leaf + "_orig") * getattr(mod, leaf + "_mask")
    return getattr(mod, leaf)


def test_quadratic_loss_reproduces_torch_gd_exactly():
    """Least squares on a linear layer: the loss is quadratic in the weights, so F_2 = 0 and the
    map u ← u + F_0 + F_1 u *is* gradient descent; qdsl's trajectory (direct iteration and the
    order-1 Carleman history solve) equals torch's SGD steps on the pruned weights up to
    rounding: per step both sides form sums of ≤ n + N terms of size ≤ S = max(‖F_1‖·‖u‖, ‖F_0‖),
    so the difference grows by ≤ 2(n + N)·u·S per step, T steps (‖I + F_1‖ ≤ 1 here)."""
    torch.manual_seed(5)
    model = torch.nn.Linear(6, 2).to(torch.float64)
    x = torch.randn(30, 6, dtype=torch.float64)
    y = torch.randn(30, 2, dtype=torch.float64)
    loss_fn = torch.nn.MSELoss()
    steps = 12
    sys_ = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.5, degree=2, steps=steps, keep_last=False,
                      drop_tol=0.0)
    assert sys_.F[2].nnz == 0
    ref = _torch_gd_on_pruned(model, loss_fn, x, y, 0.5, steps, keep_last=False)
    c = qdsl.compile(system=sys_, order=1)
    assert c.certificate["transfer_norm"] <= 1
    n = sys_.n
    S = max(float(np.linalg.norm(sys_.F[0].toarray())), 1.0) * (1 + np.abs(ref).max())
    tol = steps * 2 * (n + 30) * U64 * S
    assert np.max(np.abs(sys_.trajectory() - ref)) <= tol
    # Carleman order 1 is exact for an affine map; the history solve adds κ(L)·u-level error
    kappa = c.linear_system.kappa
    assert np.max(np.abs(c.linear_system.trajectory() - ref)) <= tol + kappa * (steps + 1) * U64 * S
    assert np.max(np.abs(ref[-1] - ref[0])) > 1e6 * tol  # the weights did move


def _a_posteriori_bound(sys_, ref, model, loss_fn, x, y, masks, lr=LR):
    r"""Bound on ‖u^poly_T − u^torch_T‖ from the one-step defects of the truncated map along torch's
    trajectory: with G(u) = u + Σ F_ℓ u^{⊗ℓ} and e_t = (torch's increment) − (G(u_t) − u_t),
    δ_{t+1} ≤ Λ·δ_t + ‖e_t‖ where Λ ≥ sup‖DG‖ = ‖I + F_1‖₂ + 2‖F_2‖₂·r (r the largest ‖u‖ on
    either trajectory), so δ_T ≤ Σ_t Λ^{T−1−t}‖e_t‖."""
    from qdsl.semantics.certificate import spectral_norm
    f, _ = support_function(model, loss_fn, x, y, masks)
    steps = len(ref) - 1
    u_true = ref - sys_.expansion_point
    poly = sys_.trajectory() - sys_.expansion_point
    e = []
    for t in range(steps):
        g = torch.autograd.functional.jacobian(f, torch.from_numpy(ref[t])).numpy()
        e.append(np.linalg.norm(-lr * g - sys_.rhs(u_true[t])))
    r = max(np.linalg.norm(u_true, axis=1).max(), np.linalg.norm(poly, axis=1).max())
    eye = np.eye(sys_.n)
    Lam = np.linalg.norm(eye + sys_.F[1].toarray(), 2) + 2 * spectral_norm(sys_.F[2]) * r
    bound = sum(Lam ** (steps - 1 - t) * e[t] for t in range(steps))
    return bound, poly, u_true


def test_tanh_mlp_trajectory_within_truncation_bound(mlp_case, tmp_path):
    model, loss_fn, x, y = mlp_case
    steps = 8
    sys_ = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=2, steps=steps, drop_tol=0.0)
    _, masks = paper_pruned_copy(model, 0.6)
    ref = _torch_gd_on_pruned(model, loss_fn, x, y, 0.6, steps)
    bound, poly, u_true = _a_posteriori_bound(sys_, ref, model, loss_fn, x, y, masks)
    err = np.linalg.norm(poly[-1] - u_true[-1])
    print(f"error {err:.3g}, bound {bound:.3g}, displacement {np.linalg.norm(u_true[-1]):.3g}")
    # + rounding: a few ulps of the weights per step
    assert err <= bound + steps * 100 * U64 * np.abs(ref).max()
    # informative: the cubic-order defect is far below the displacement itself
    assert bound <= 1e-2 * np.linalg.norm(u_true[-1])


def test_exported_qd_through_the_cli(tmp_path):
    """The .qd export of a small extracted system: `qdsl check` certifies it and `qdsl simulate`'s
    true trajectory is torch's gradient descent on the pruned weights (within the truncation
    bound of the test above, plus the print/parse round trip of the coefficients)."""
    model = tanh_mlp([3, 3, 1], seed=7)
    x = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    y = torch.tanh(x[:, :1] - 0.5 * x[:, 1:2])
    loss_fn = torch.nn.MSELoss()
    steps, lr = 6, 0.05
    sys_ = qt.extract(model, loss_fn, (x, y), lr=lr, sparsity=0.5, degree=2, steps=steps, drop_tol=0.0,
                      name="mlp3")
    path = tmp_path / "mlp3.qd"
    path.write_text(sys_.to_qd())
    # the file re-derives the same system (SymPy on the printed coefficients)
    back = qdsl.compile(str(path)).system
    for a, b in zip(back.F, sys_.F):
        assert abs(a - b).max() <= 8 * U64 * max(1.0, abs(b).max())
    run = [sys.executable, "-m", "qdsl"]
    chk = subprocess.run(run + ["check", str(path), "--json"], capture_output=True, text=True)
    assert chk.returncode in (0, 1), chk.stderr
    cert = json.loads(chk.stdout)
    assert cert["n"] == sys_.n and cert["degree"] == 2
    rho = float(np.max(np.abs(1 + np.linalg.eigvalsh(sys_.F[1].toarray()))))
    assert cert["spectral_radius"] == pytest.approx(rho, rel=1e-9)
    sim = subprocess.run(run + ["simulate", str(path), "--json"], capture_output=True, text=True)
    assert sim.returncode == 0, sim.stderr
    traj = np.array(json.loads(sim.stdout)["trajectory"])
    _, masks = paper_pruned_copy(model, 0.5)
    ref = _torch_gd_on_pruned(model, loss_fn, x, y, 0.5, steps, lr=lr)
    bound, _, u_true = _a_posteriori_bound(sys_, ref, model, loss_fn, x, y, masks, lr=lr)
    assert np.linalg.norm(traj[-1] - ref[-1]) <= bound + steps * 100 * U64 * np.abs(ref).max()
    assert bound <= 1e-2 * np.linalg.norm(u_true[-1])


def test_batchnorm_train_mode_buffers_untouched_and_hessian_of_train_loss():
    torch.manual_seed(11)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(),
                                torch.nn.Linear(4, 2)).to(torch.float64).train()
    x, y = classification_data(16, 3, 2, seed=12)
    loss_fn = torch.nn.CrossEntropyLoss()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sys_ = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.0, degree=1, drop_tol=0.0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # reference: train-mode loss through functional_call on a copy (its buffers may drift)
    H = dense_hessian(copy.deepcopy(model), loss_fn, x, y)
    m = 16 * 8
    assert np.max(np.abs(sys_.F[1].toarray() + LR * H)) <= 2 * m * U64 * LR * np.max(np.abs(H))


def test_size_limits_refuse_up_front():
    model = tanh_mlp([20, 20, 5], seed=0)
    x, y = classification_data(8, 20, 5)
    with pytest.raises(qdsl.SizeLimitError) as exc:
        qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, sparsity=0.5, degree=2)
    assert exc.value.diagnostics[0].code == "E0701"
    small = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, sparsity=0.95, degree=1)
    with pytest.raises(qdsl.SizeLimitError) as exc:
        small.to_qd()
    assert exc.value.diagnostics[0].code == "E0702"
    with pytest.raises(ValueError):
        qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=-1.0)
    with pytest.raises(ValueError):
        qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, degree=3)
    assert math.isfinite(small.meta["loss"])


def test_row_by_row_fallback_gives_the_same_system(mlp_case, monkeypatch):
    """When a layer's backward cannot be vmapped the products are taken one row at a time; the
    entries are the same backward passes, so the system is identical."""
    import qdsl.torch.objective as objective
    model, loss_fn, x, y = mlp_case
    batched = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=2, drop_tol=0.0)
    monkeypatch.setattr(objective, "_batched_vjp", lambda out, leaf, V: None)
    looped = qt.extract(model, loss_fn, (x, y), lr=LR, sparsity=0.6, degree=2, drop_tol=0.0)
    # the same products, batched or not: equal up to the summation order inside vmap's kernels
    for a, b in zip(batched.F, looped.F):
        assert abs(a - b).max() <= 2 * 40 * 8 * U64 * max(abs(a).max(), 1e-300)
