"""The dense block-encoding of the history matrix (qdsl.synthesis.block_encoding, `--block-encoding dense`)."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla
from qiskit.quantum_info import Operator

from qdsl.diagnostics import InternalError
from qdsl.synthesis.block_encoding import block_encoding, block_tolerance, dilation, dyadic_cover
from qdsl.synthesis.common import classical_solution, linear_system_from_transfers, pad_system


def random_transfer(D, rng, contraction=0.85):
    """A dissipative Carleman-like transfer: constant component fixed, contracting rest."""
    M = np.zeros((D, D))
    M[0, 0] = 1.0
    X = rng.standard_normal((D - 1, D - 1))
    M[1:, 1:] = contraction * X / np.linalg.norm(X, 2)
    M[1:, 0] = 0.1 * rng.standard_normal(D - 1)
    return M


def make_system(D, T, idle, per_step, seed):
    rng = np.random.default_rng(seed)
    Ms = [random_transfer(D, rng) for _ in range(T)] if per_step else [random_transfer(D, rng)] * T
    y0 = np.r_[1.0, 0.3 * rng.standard_normal(D - 1)]
    return linear_system_from_transfers(Ms, y0, idle=idle)


def test_dilation_is_unitary_with_top_block():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    A /= 1.3 * np.linalg.norm(A, 2)
    U = dilation(A)
    assert np.allclose(U @ U.T, np.eye(8), atol=1e-12)
    assert np.allclose(U[:4, :4], A)


def test_dyadic_cover_exact():
    for steps in ([0, 1, 2, 3, 4, 5, 6], [3, 4, 5], [7], [1, 2, 5, 6, 7], []):
        cover = dyadic_cover(steps, 3)
        got = sorted(v + k for v, f in cover for k in range(1 << f))
        assert got == sorted(steps)
        assert all(v % (1 << f) == 0 for v, f in cover)


@pytest.mark.parametrize("D,T,idle,per_step,seed", [
    (3, 4, 1, False, 0),   # uniform M, idle step, D and blocks padded
    (3, 3, 0, True, 1),    # sgd-like per-step M
    (4, 3, 0, False, 2),   # num_blocks = 4: no time padding, the wrap-around must be cut
    (2, 2, 2, True, 3),
    (5, 6, 1, False, 4),
])
def test_flagged_block_equals_L_over_alpha(D, T, idle, per_step, seed):
    ls = make_system(D, T, idle, per_step, seed)
    qc, alpha, lay = block_encoding(ls)
    assert set(qc.count_ops()) <= {"cx", "ry", "rz", "h", "x"}
    n_sys = lay.system.num_system_qubits
    N = 1 << n_sys
    U = Operator(qc).data
    # within the error budget the QSVT solver allots to one block-encoding call (block_tolerance:
    # eps·max_abs/(8·d·κ′) at eps = 1e-3), the same bound the library's own check uses
    assert np.max(np.abs(U[:N, :N] - lay.matrix.toarray() / alpha)) <= block_tolerance(ls, alpha)
    # the encoded padded matrix is L on the real indices and reproduces the history solution
    smap = lay.system.solution_map()
    Lp, Bp = pad_system(ls, lay.system)
    assert np.allclose(lay.matrix.toarray()[np.ix_(smap, smap)], ls.matrix.toarray())
    Y = spla.spsolve(lay.matrix.tocsc(), Bp)
    assert np.allclose(Y[smap], classical_solution(ls))
    assert np.allclose(np.delete(Y, smap), 0)
    assert alpha == pytest.approx(1 + lay.beta)


def test_verify_block_rejects_a_wrong_encoding():
    from qdsl.synthesis.block_encoding import verify_block

    ls = make_system(3, 3, 0, False, 7)
    qc, alpha, lay = block_encoding(ls)
    good = lay.matrix.toarray() / alpha
    tol = block_tolerance(ls, alpha)
    assert verify_block(qc, good, lay.system.num_system_qubits, tol=tol) <= tol
    with pytest.raises(InternalError):
        verify_block(qc, good * 1.01, lay.system.num_system_qubits, tol=tol)
