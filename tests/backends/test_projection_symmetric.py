"""Projections of symmetric-basis models (issue 14: `examples/chain.qd` at 10⁸ parameters): the
sparse-access circuit of the symmetric lift projected (`projection.project_sparse_access`).

What is exact and checked exactly: the history system's sizes under the symmetric lift
(D′ = C(n′+N, N) and the register layout, against a compiled larger chain), and at the compiled
size the block-encoding's α (the same colouring) and the transfer matrix's nonzeros. What is
certified: κ′ ≥ α_L·‖L⁻¹‖ exact (a certified upper bound on ‖L⁻¹‖). What is an upper bound:
the unary-iteration trie (`trie_nodes_bound`), so the projected Toffolis at the compiled size are
≥ the estimated circuit's. The premise (rows of M keep their nonzeros, colours and maxima as n
grows) is an assumption, stated in the report; its deviation on a small chain is measured in
docs/resources.md, not asserted here."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qdsl
from qdsl.lowering.carleman import carleman_dimension
from qdsl.synthesis.projection import project, project_sparse_access
from qdsl.synthesis.structured import sparse_access_history, transfer_classes
from cli_capture import cli

EX = Path(__file__).resolve().parents[2] / "examples"


def chain(n: int) -> str:
    w = ", ".join(f"{0.2 * np.cos(i):.3f}" for i in range(n))
    return f"""model chain{n} {{
    param w[{n}] = [{w}]
    const k = 0.5
    loss = sum(i in 0..{n - 1}: k*(w[i] - w[i+1])^2 + 0.1*(w[i] - w[i+1])^4) + sum(i in 0..{n}: 0.5*w[i]^2)
    evolve gd(lr = 0.2, steps = 5)
    carleman order 2 basis symmetric
    solver qsvt(eps = 1e-3)
}}"""


@pytest.fixture(scope="module")
def c4():
    return qdsl.compile(str(EX / "chain.qd"))


def test_dispatch_and_compiled_size(c4):
    from qdsl.synthesis.qsvt import qsvt_plan
    assert c4.basis == "symmetric"
    ls = c4.linear_system
    pr = project(c4, params=4, steps=5, eps=1e-3)
    assert pr["construction"] == "sparse-access"
    assert pr["sizes"]["block_dim"] == ls.block_dim == carleman_dimension(4, 2, "symmetric")
    M = transfer_classes(ls)[0]
    assert pr["sizes"]["transfer_nonzeros"] == max(np.diff(m.tocsr().indptr).max() for m in M) * ls.block_dim
    assert pr["sizes"]["transfer_nonzeros"] >= sum(m.nnz for m in M)
    enc = sparse_access_history(ls, build=False)
    assert pr["alpha"] == pytest.approx(enc.alpha, rel=1e-12)
    exact = qsvt_plan(ls, enc.alpha, eps=1e-3)
    assert exact["inverse_norm_source"].startswith("exact")
    assert pr["kappa_prime"] >= exact["kappa_prime"] * (1 - 1e-12)     # certified, never below
    assert pr["block_encoding"]["ccx"] >= enc.cost["ccx"]               # the trie bound


@pytest.mark.parametrize("n", [8, 12])
def test_sizes_match_a_compiled_larger_chain(c4, n):
    cn = qdsl.compile(source=chain(n))
    pr = project_sparse_access(c4, params=n, steps=5, eps=1e-3)
    enc = sparse_access_history(cn.linear_system, build=False)
    assert pr["sizes"]["block_dim"] == cn.linear_system.block_dim
    assert pr["sizes"]["system_qubits"] == len(enc.system)
    # the fullest-row rule counts at least the larger chain's nonzeros (its rows are no fuller)
    assert pr["sizes"]["transfer_nonzeros"] >= sum(m.nnz for m in transfer_classes(cn.linear_system)[0])


def test_kronecker_models_keep_the_structured_projection():
    c = qdsl.compile(str(EX / "quartic.qd"))
    assert "construction" not in project(c, params=100, steps=10, eps=1e-3)


def test_chain_resources_and_plan_at_1e8():
    rc, out, err = cli("resources", EX / "chain.qd", "--params", "1e8", "--steps", "100", "--json")
    assert rc == 0, err
    r = json.loads(out)
    assert r["inputs"]["construction"] == "sparse-access"
    assert r["inputs"]["carleman_dim"] == carleman_dimension(10 ** 8, 2, "symmetric")
    e = r["end_to_end"]
    assert e["total"]["t_states"] >= e["total"]["calls"] * e["per_call"]["t_states"]
    rc, out, err = cli("plan", EX / "chain.qd", "--params", "1e4", "--steps", "20", "--access", "qram",
                       "--json")
    assert rc == 0, err
    p = json.loads(out)
    assert set(p["crossover"]) == {"qrom", "qroam", "qram", "qram-counted", "qram-free"}
    assert p["quantum"]["sizes"]["block_dim"] == carleman_dimension(10 ** 4, 2, "symmetric")
