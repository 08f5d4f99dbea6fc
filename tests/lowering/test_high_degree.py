"""Update degree q above the Carleman order N: the terms of degree > N are truncated away in
both bases (found by the semantic robustness fuzzer: the symmetric basis indexed past its
monomial table)."""
import numpy as np
import pytest

import qdsl


@pytest.mark.parametrize("kind", ["gd(lr = 0.2, steps = 5)", "flow(time = 0.5, dt = 0.1)"])
@pytest.mark.parametrize("N", [1, 2, 3])
def test_bases_agree_when_degree_exceeds_order(kind, N):
    src = f"""model hi {{
        param w[3] = [0.2, -0.1, 0.15]
        loss = sum(i in 0..2: (w[i] - w[i+1])^7 + 0.1*(w[i] - w[i+1])^4) + sum(i in 0..3: 0.5*w[i]^2)
        evolve {kind}
    }}"""
    s = qdsl.compile(source=src).system
    assert s.degree == 6 > N
    from qdsl.lowering.carleman import carleman
    from qdsl.lowering.history import history_system
    trajs = [history_system(carleman(s, N, b), s.dynamics.steps).trajectory() for b in ("kronecker", "symmetric")]
    np.testing.assert_allclose(trajs[0], trajs[1], atol=1e-12)
