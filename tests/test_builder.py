"""qdsl.Model: built in Python, printed as .qd, parsed back equal, compiled like the file."""
import numpy as np

import qdsl
from qdsl.syntax.parser import parse_text


def ridge():
    m = qdsl.Model("ridge")
    m.param("w", [0.8, -0.5]).const("lam", 0.5)
    m.data("X", [[1.0, 0.2], [0.3, 1.0], [0.5, 0.5]]).data("y", [1.0, 0.0, 0.4])
    m.loss("mean(k in 0..3: (X[k,0]*w[0] + X[k,1]*w[1] - y[k])^2) + lam/2 * sum(i in 0..2: w[i]^2)")
    m.evolve("sgd", lr=0.2, steps=6, batch=2, seed=7).carleman(1).solver("hhl", clock=7)
    return m


def test_model_prints_the_spec_example():
    m = ridge()
    from_file = parse_text(open("examples/ridge.qd").read()).models[0]
    assert parse_text(str(m)).models[0] == from_file
    assert m.to_ast() == from_file


def test_model_compiles_like_the_file():
    a = ridge().compile().system
    b = qdsl.compile("examples/ridge.qd").system
    for fa, fb in zip(a.F, b.F):
        np.testing.assert_allclose(fa.toarray(), fb.toarray())
    np.testing.assert_allclose(a.trajectory(), b.trajectory())


def test_symbolic_and_expand():
    m = qdsl.Model("t").param("a", 0.5).param("b", -0.1).const("eta", domain=(0, 1))
    m.loss("tanh(a + b)^2 + 0.1*(a^2 + b^2)").evolve("gd", lr="eta", steps=5).expand(2, about="init").carleman(2)
    text = str(m)
    assert "const eta in (0, 1)" in text and "expand order 2 about init" in text
    assert qdsl.compile(source=text).certificate.to_dict()["symbolic"]["eta"]
