"""Requests out of reach are refused up front (E0222, exit 3) before any expansion, and numbers
at the edge of float64 become diagnostics (E0221/E0223), never a hang, an out-of-memory kill or a
traceback; the multiset-ordering assembly of F_ℓ matches the definition. Refusals run under a hard
limit (`limits.limited`: killed past 5 s or 1 GiB more memory) — a hang or a blow-up fails the
test; how fast they are is measured by benchmarks/refusals.py, not asserted here."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qdsl.api import Compilation, Options
from qdsl.diagnostics import CompileError
from qdsl.semantics import derive
from qdsl.source import SourceFile

import pipeline_cases
from limits import limited


def compile_text(text: str) -> Compilation:
    return Compilation(SourceFile("limits.qd", text), Options())


def model(loss: str, params: str = "param w[3] = [0.1, -0.2, 0.3]", extra: str = "") -> str:
    return f"model m {{\n    {params}\n    loss = {loss}\n    evolve gd(lr = 0.1, steps = 4)\n{extra}}}\n"


@pytest.mark.parametrize("counts", [(1,), (2, 1), (1, 1, 1), (3, 2, 2), (1, 4, 1, 2)])
def test_orderings_are_the_distinct_permutations(counts):
    word = [a for a, c in enumerate(counts) for _ in range(c)]
    expected = sorted(set(itertools.permutations(word)))
    got = [tuple(r) for r in derive._orderings(tuple(counts))]
    assert got == expected
    assert derive._orderings_count(tuple(word)) == len(expected)


def test_high_degree_tensor_is_symmetric_and_exact():
    # u0^5 u1^4 u2^3 (degree 12: 12! = 479,001,600 permutations, 27,720 distinct orderings)
    m = (0,) * 5 + (1,) * 4 + (2,) * 3
    F = derive.assemble([{m: 2.0}, {}, {}], 3)
    f = F[12]
    assert f.nnz == math.factorial(12) // (math.factorial(5) * math.factorial(4) * math.factorial(3))
    np.testing.assert_allclose(f.sum(), 2.0, rtol=1e-12)           # Σ over orderings = c
    u = np.array([0.3, -0.7, 1.1])
    kron = u
    for _ in range(11):
        kron = np.kron(kron, u)
    np.testing.assert_allclose(f @ kron, [2.0 * 0.3 ** 5 * 0.7 ** 4 * 1.1 ** 3, 0, 0], rtol=1e-12)


@pytest.mark.parametrize("loss, fragment", [
    ("(w[0] + w[1] + w[2])^40", "degree 40 in 3 parameters"),
    ("(w[0] + w[1] + w[2])^20 * (w[0] - w[1])^2", "in 3 parameters"),
    ("w[0]^100", "over the limit 64"),
])
def test_oversized_polynomials_are_refused_up_front(loss, fragment):
    out = limited(pipeline_cases.derive, model(loss), seconds=5, memory=2 ** 30)
    assert out.status == 3, out
    assert "E0222" in out.codes and fragment in out.message and "help:" in out.message, out.message


def test_high_power_under_expansion_is_a_series_not_repeated_squaring():
    # with `expand order 2` about θ0 = 0.1, (0.1 + u)^200 is the float binomial series to degree 2
    c = compile_text(model("0.05*w[0]^200 + w[1]^2 + w[2]^2", extra="    expand order 2 about init\n"))
    F = c.system.F
    assert not c.system.exact
    np.testing.assert_allclose(F[0].toarray()[0, 0], -0.1 * 0.05 * 200 * 0.1 ** 199, rtol=1e-12)
    np.testing.assert_allclose(F[1].toarray()[0, 0], -0.1 * 0.05 * 200 * 199 * 0.1 ** 198, rtol=1e-12)


def test_astronomical_power_is_a_diagnostic_not_a_hang():
    # C(10^300, 2)·0.1^(10^300) is inf·0 in float64
    text = model("0.05*(w[0]^1e300 + w[1]^2) + w[2]^2", extra="    expand order 2 about init\n")
    out = limited(pipeline_cases.derive, text, seconds=5, memory=2 ** 30)
    assert out.status == 2 and out.codes[0] == "E0221", out


def test_overflowing_certificate_is_a_diagnostic():
    c = compile_text(model("1e300*(w[0]^2 + w[1]^2 + w[2]^2)"))
    with pytest.raises(CompileError) as err:
        c.system
        c.certificate
    assert err.value.exit_status == 2
    assert err.value.diagnostics[0].code in {"E0221", "E0223"}
