"""Sizes predicted before anything large is built: the history-state system (dimension, nonzeros,
bytes of its CSR arrays) from the Carleman lift, and the block-encoding's gate count (E0508) from
the F_ℓ alone — so a dense extraction is refused in a fraction of a second instead of after a
minute of assembling a history system it will never use."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import qdsl
from qdsl.diagnostics import SizeLimitError

EXAMPLES = Path(__file__).parents[1] / "examples"

# (file, compile options): discrete, sgd (one class per batch), flow, idle steps, the symmetric
# basis, Carleman orders 2–4
CASES = [("gd_cubic.qd", {}), ("sgd_cubic.qd", {}), ("flow_cubic.qd", {}), ("gd_cubic.qd", {"idle": 3}),
         ("quartic.qd", {"order": 3}), ("chain.qd", {}), ("momentum.qd", {}),
         ("gd_cubic.qd", {"basis": "symmetric"}), ("tanh_unit.qd", {"order": 4, "steps": 5, "values": {"eta": 0.5}})]


def _boom(*args, **kwargs):
    raise AssertionError("built although the refusal comes from the predicted size")


@pytest.mark.parametrize("name,opts", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_history_size_prediction_equals_the_assembled_system(name, opts):
    """`history_size` (from the lift, before assembly) gives the assembled L's dimension, stored
    entries and CSR bytes exactly."""
    c = qdsl.compile(EXAMPLES / name, **opts)
    pred = c.history_size
    L = c.linear_system.matrix
    assert pred.dim == L.shape[0] == c.linear_system.dim
    assert pred.nnz == L.nnz
    assert pred.bytes == L.data.nbytes + L.indices.nbytes + L.indptr.nbytes


@pytest.mark.parametrize("name,opts", [c for c in CASES if c[1].get("basis") != "symmetric"],
                         ids=[f"{n}-{o}" for n, o in CASES if o.get("basis") != "symmetric"])
def test_structured_cost_before_building_equals_the_built_block(name, opts):
    """The structured block-encoding's cost record from the F_ℓ and T, p alone equals the cost
    of the block built from the assembled history system (whose declared cost equals its counted
    gates: tests/synthesis); the instant floor is below it."""
    from qdsl.synthesis.structured import structured_gates_floor, structured_history, structured_history_cost

    c = qdsl.compile(EXAMPLES / name, **opts)
    T, p = c.system.dynamics.steps, c.idle
    predicted, _ = structured_history_cost(c.system, c.order, T, p)
    built = structured_history(c.system, c.linear_system, c.order)
    assert dict(predicted) == dict(built.cost)
    assert 0 <= structured_gates_floor(c.system, c.order, T) <= sum(int(v) for v in predicted.values())


@pytest.mark.parametrize("name,opts", [("gd_cubic.qd", {}), ("sgd_cubic.qd", {}), ("flow_cubic.qd", {})])
def test_e0508_refused_before_the_lift_and_the_history(name, opts, monkeypatch):
    """With the build limit one gate below the block's cost, E0508 (exit 3) is raised with the
    exact figure while neither the Carleman lift nor the history system is built."""
    import qdsl.lowering.carleman as car
    import qdsl.lowering.history as hist
    import qdsl.synthesis.structured as structured

    gates = sum(int(v) for v in qdsl.compile(EXAMPLES / name, **opts).encoding.cost.values())
    monkeypatch.setattr(structured, "MAX_BLOCK_GATES", gates - 1)
    for fn in ("_discrete", "_continuous_kron_fast", "_continuous"):
        monkeypatch.setattr(car, fn, _boom)
    monkeypatch.setattr(hist, "assemble_history", _boom)
    c = qdsl.compile(EXAMPLES / name, **opts)
    with pytest.raises(SizeLimitError) as ei:
        c.program
    d = ei.value.diagnostics[0]
    assert d.code == "E0508" and ei.value.exit_status == 3 and d.help
    assert f"{gates:,} gates" in d.message or "at least" in d.message
    assert "carleman" not in c.__dict__ and "linear_system" not in c.__dict__


def test_sparse_access_refused_before_the_history(monkeypatch):
    """The symmetric basis' sparse-access block: refused from Σ nnz(M) (a lower bound: ≥ 1 gate a
    nonzero) with the lift built but not the history system."""
    import qdsl.lowering.history as hist
    import qdsl.synthesis.structured as structured

    c = qdsl.compile(EXAMPLES / "gd_cubic.qd", basis="symmetric")
    monkeypatch.setattr(structured, "MAX_BLOCK_GATES", c.carleman.matrix.nnz - 1)
    monkeypatch.setattr(hist, "assemble_history", _boom)
    with pytest.raises(SizeLimitError) as ei:
        c.program
    assert ei.value.diagnostics[0].code == "E0508" and "at least" in ei.value.diagnostics[0].message
    assert "linear_system" not in c.__dict__


def test_dense_torch_extraction_refused_in_a_second(monkeypatch):
    """A degree-2 extraction of 55 weights (F_2 holds 166,375 nonzeros), order 2, T = 10: its
    history system has 9.5·10^7 nonzeros (1.1 GB) and took about a minute to assemble before
    E0508 was reached. Now it is refused from the floor of the block's cost — 4 gates per nonzero
    of F_2 — with nothing of the lift built, in well under the seconds colouring would take."""
    torch = pytest.importorskip("torch")
    import sys
    sys.path.insert(0, str(Path(__file__).parent / "torch"))
    from torch_models import classification_data, tanh_mlp

    import qdsl.lowering.carleman as car
    import qdsl.torch as qt

    torch.set_num_threads(1)
    model = tanh_mlp([8, 8, 3], seed=0)
    x, y = classification_data(32, 8, 3)
    s = qt.extract(model, torch.nn.CrossEntropyLoss(), (x, y), lr=0.1, sparsity=1 - 45 / 91, degree=2,
                   steps=10, keep_last=False)
    assert s.n == 55 and s.F[2].nnz == 55 ** 3
    monkeypatch.setattr(car, "_discrete", _boom)
    c = qdsl.compile(system=s, order=2)
    t0 = time.process_time()
    with pytest.raises(SizeLimitError) as ei:
        c.program
    assert time.process_time() - t0 < 5
    d = ei.value.diagnostics[0]
    # the floor: G1 (56 codes: the dense encodings are tried, so not counted) + F_2 at slot 0
    assert d.code == "E0508" and f"at least {4 * 55 ** 3:,} gates" in d.message
    assert "carleman" not in c.__dict__
