r"""LinearSystem: the history-state linear system L·Y = B over all time steps (docs/maths.md).

For T steps and p idle steps, with transfer matrices M_t (D × D, constant component first):
    L = Σ_t |t⟩⟨t|⊗I − Σ_{t=1..T} |t⟩⟨t−1|⊗M_{t−1} − Σ_{t=T+1..T+p} |t⟩⟨t−1|⊗I,   B = |0⟩⊗y_0.
Block t of Y is the lifted state y_t (arXiv:2303.03428 Eq. 6; PNAS 2021 Eq. 21).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class LinearSystem:
    """L·Y = B of docs/maths.md.

    Attributes: `matrix` (L, sparse, (T+1+p)·D square), `rhs` (B), `transfers` (M_0..M_{T−1}),
    `steps` (T), `idle` (p), `block_dim` (D), `const_index` (index of the constant component inside
    a block, 0), `theta_index` (indices of u_1..u_n inside a block), `expansion_point` (θ*),
    `kappa` (condition number of L), `kappa_method` ("exact" for a dense SVD, "estimate" otherwise).
    """

    matrix: sp.csr_matrix
    rhs: np.ndarray
    transfers: tuple
    steps: int
    idle: int
    block_dim: int
    const_index: int
    theta_index: np.ndarray
    expansion_point: np.ndarray
    kappa: float
    kappa_method: str
    inverse_norm_estimate: float = float("nan")   # ‖L⁻¹‖ when `kappa` was estimated (reused)

    @property
    def num_blocks(self) -> int:
        return self.steps + 1 + self.idle

    @property
    def dim(self) -> int:
        return self.num_blocks * self.block_dim

    # -- the classical reference solve --------------------------------------------------------
    def blocks(self, Y) -> np.ndarray:
        """Y reshaped to (T+1+p, D): row t is the lifted state y_t."""
        return np.asarray(Y).reshape(self.num_blocks, self.block_dim)

    def transfer(self, t: int):
        return self.transfers[t] if len(self.transfers) > 1 else self.transfers[0]

    def solve(self, method: str = "forward") -> np.ndarray:
        r"""Y with L·Y = B.

        L is block lower-bidiagonal with identity diagonal blocks, so forward substitution
        Y_0 = B_0, Y_t = B_t + M_{t−1} Y_{t−1} (idle: Y_t = B_t + Y_{t−1}) is exact and costs T
        sparse products (`method="forward"`, default). `"spsolve"` factors the whole sparse L (a
        cross-check), `"triangular"` uses scipy's sparse triangular solve (L is lower triangular).
        """
        if method == "forward":
            B = self.blocks(self.rhs)
            Y = np.empty_like(B, dtype=np.result_type(B.dtype, float))
            Y[0] = B[0]
            for t in range(1, self.num_blocks):
                prev = Y[t - 1]
                Y[t] = B[t] + (self.transfer(t - 1) @ prev if t <= self.steps else prev)
            return Y.ravel()
        if method == "spsolve":
            from scipy.sparse.linalg import spsolve
            return np.asarray(spsolve(self.matrix.tocsc(), self.rhs))
        if method == "triangular":
            from scipy.sparse.linalg import spsolve_triangular
            return np.asarray(spsolve_triangular(self.matrix.tocsr(), self.rhs, lower=True))
        raise ValueError(f"unknown method {method!r}")

    def residual(self, Y) -> float:
        """‖L·Y − B‖₂ / ‖B‖₂."""
        return float(np.linalg.norm(self.matrix @ Y - self.rhs) / max(np.linalg.norm(self.rhs), 1e-300))

    def decode(self, Y) -> np.ndarray:
        r"""θ_t[i] = θ*_i + Re(Y[t, u_i] / Y[t, 1]) for t = 0..T (docs/maths.md readout), shape (T+1, n)."""
        Yb = self.blocks(Y)[: self.steps + 1]
        ratio = Yb[:, self.theta_index] / Yb[:, [self.const_index]]
        return self.expansion_point[None, :] + np.real(ratio)

    def trajectory(self, method: str = "forward") -> np.ndarray:
        return self.decode(self.solve(method))

    @property
    def sparsity(self) -> int:
        """Max nonzeros per row or column of L."""
        L = self.matrix
        rows = int(np.diff(L.indptr).max()) if L.shape[0] else 0
        cols = int(np.bincount(L.indices, minlength=L.shape[1]).max()) if L.nnz else 0
        return max(rows, cols)

    def verify(self) -> None:
        """Shapes, identity diagonal blocks, B = |0⟩⊗y_0 with y_0[const] = 1, L·forward = B; a
        failure is a bug in the lowering (InternalError).

        Forward substitution is backward stable row by row (Higham Thm 8.5): the residual obeys
        ‖L·Ŷ − B‖ ≤ γ_{s+1}·‖|L|·|Ŷ|‖ ≤ γ_{s+1}·√(‖L‖₁‖L‖_∞)·‖Ŷ‖, s the nonzeros per row."""
        from ..diagnostics import InternalError
        from ..tolerances import gamma

        def fail(msg):
            raise InternalError(msg, check="LinearSystem.verify")

        D, K = self.block_dim, self.num_blocks
        if self.matrix.shape != (K * D, K * D) or self.rhs.shape != (K * D,):
            fail("L / B have the wrong shape")
        if len(self.transfers) not in (1, self.steps) or any(M.shape != (D, D) for M in self.transfers):
            fail("transfer matrices do not match the block size")
        if self.rhs[self.const_index] != 1.0 or np.any(self.rhs[D:] != 0):
            fail("B must be |0⟩⊗y_0 with a unit constant component")
        if np.any(self.matrix.diagonal() != 1.0):
            fail("the diagonal blocks of L must be identities")
        if self.dim <= 5_000_000:
            Y = self.solve()
            absL = abs(self.matrix)
            norm = float(np.sqrt(absL.sum(axis=0).max() * absL.sum(axis=1).max()))
            bound = gamma(self.sparsity + 1) * norm * float(np.linalg.norm(Y))
            if not np.linalg.norm(self.matrix @ Y - self.rhs) <= bound:
                fail("forward substitution does not solve L·Y = B")

    def dump(self, limit: int = 40) -> str:
        lines = [f"LinearSystem steps={self.steps} idle={self.idle} block_dim={self.block_dim} "
                 f"dim={self.dim} nnz={self.matrix.nnz} sparsity={self.sparsity} "
                 f"kappa={self.kappa:.6g} ({self.kappa_method})",
                 f"  const_index {self.const_index} theta_index {[int(i) for i in self.theta_index]}",
                 f"  expansion_point {[round(float(v), 12) for v in self.expansion_point]}",
                 f"  y0 {[round(float(v), 12) for v in self.rhs[: min(self.block_dim, limit)]]}"]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"dim": self.dim, "kappa": float(self.kappa), "kappa_method": self.kappa_method,
                "sparsity": self.sparsity, "steps": self.steps, "idle": self.idle,
                "block_dim": self.block_dim}


def assemble_history(transfers, steps: int, idle: int = 0) -> sp.csr_matrix:
    r"""L = Σ_t |t⟩⟨t|⊗I − Σ_{t=1..T}|t⟩⟨t−1|⊗M_{t−1} − Σ_{t=T+1..T+p}|t⟩⟨t−1|⊗I as canonical
    CSR, built row block by row block: row i of block t holds −M_{t−1}[i, :] (columns of block
    t−1) followed by the 1 on the diagonal, so sorted order comes for free."""
    D = transfers[0].shape[0]
    K = steps + 1 + idle
    indptrs, indices, data = [np.zeros(1, dtype=np.int64)], [], []
    nnz = 0
    eye_ptr = np.arange(1, D + 1, dtype=np.int64)
    for t in range(K):
        if t == 0 or t > steps:
            if t == 0:
                ptr = eye_ptr
                idx = t * D + np.arange(D, dtype=np.int64)
                val = np.ones(D)
            else:
                ptr = 2 * eye_ptr
                ar = np.arange(D, dtype=np.int64)
                idx = np.stack([(t - 1) * D + ar, t * D + ar], axis=1).ravel()
                val = np.tile([-1.0, 1.0], D)
        else:
            M = transfers[t - 1] if len(transfers) > 1 else transfers[0]
            M = M.tocsr()
            M.sum_duplicates()
            rc = np.diff(M.indptr).astype(np.int64)
            ptr = (M.indptr[1:].astype(np.int64) + np.arange(1, D + 1))
            idx = np.empty(M.nnz + D, dtype=np.int64)
            val = np.empty(M.nnz + D)
            row_of = np.repeat(np.arange(D, dtype=np.int64), rc)
            pos = np.arange(M.nnz, dtype=np.int64) + row_of
            idx[pos] = (t - 1) * D + M.indices
            val[pos] = -M.data
            diag = ptr - 1
            idx[diag] = t * D + np.arange(D)
            val[diag] = 1.0
        indptrs.append(nnz + ptr)
        indices.append(idx)
        data.append(val)
        nnz += int(ptr[-1])
    L = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.concatenate(indptrs)),
                      shape=(K * D, K * D))
    return L


def guard_history(steps: int, idle: int, block_dim: int, transfer_nnz: int, *, max_dim: int | None = None,
                  max_nnz: int | None = None) -> tuple[int, int]:
    r"""Refuse (SizeLimitError E0402), before anything is built or iterated, a history-state system
    L·Y = B of (T+1+p)·D unknowns and about T·nnz(M) + (T+1+p)·D nonzeros over the limits of
    the Carleman stage (QDSL_MAX_DIM, QDSL_MAX_NNZ): the same memory, now per time step. Returns
    (dimension, nonzeros)."""
    from .carleman import _limits

    from ..diagnostics import Diagnostic, SizeLimitError

    max_dim, max_nnz = _limits(max_dim, max_nnz)
    T, p, D = int(steps), int(idle), max(int(block_dim), 1)
    dim = (T + 1 + p) * D
    nnz = T * int(transfer_nnz) + dim
    if dim <= max_dim and nnz <= max_nnz:
        return dim, nnz
    per_step = D + max(int(transfer_nnz), 0)
    fit = max(0, min(max_dim // D - 1 - p, (max_nnz - D * (1 + p)) // per_step))
    what = (f"{dim:,} unknowns (limit {max_dim:,})" if dim > max_dim else f"{nnz:,} nonzeros (limit {max_nnz:,})")
    raise SizeLimitError(Diagnostic(
        "E0402", f"the history-state system of {T:,} steps × Carleman dimension {D:,} would have {what}",
        help=(f"lower the number of steps (at most {fit:,} fit at this order: `--steps {fit}`), "
              if fit >= 1 else "lower the Carleman order or the number of parameters, ")
        + "or raise the limit with QDSL_MAX_DIM / QDSL_MAX_NNZ"))


def history_system(car, steps: int | None = None, idle: int = 0, *, expansion_point=None,
                   x0=None, y0=None, kappa: str = "auto") -> LinearSystem:
    r"""The history-state system L·Y = B of a CarlemanSystem over T steps and p idle steps.

    B = |0⟩⊗y_0 with y_0 = lift(u_0) (`x0` overrides u_0, `y0` the whole lifted vector); sgd
    uses the per-step transfer matrices M_0..M_{T−1}. `kappa`: "auto" (exact dense SVD for
    dim ≤ 2000, otherwise an estimate), "exact", "estimate" or "none" (also True = "auto",
    False/None = "none"; then `kappa` is NaN and `kappa_method` "skipped").
    """
    transfers = tuple(car.matrices)
    if steps is None:
        steps = len(transfers) if len(transfers) > 1 else None
        if steps is None:
            raise ValueError("history_system needs the number of steps")
    steps, idle = int(steps), int(idle)
    guard_history(steps, idle, car.dim, max(M.nnz for M in transfers))
    if len(transfers) > 1:
        if len(transfers) < steps:
            raise ValueError(f"{len(transfers)} transfer matrices for {steps} steps")
        transfers = transfers[:steps]
    D = car.dim
    if y0 is None:
        y0 = car.lift(car.x0 if x0 is None else x0)
    y0 = np.asarray(y0, dtype=float).ravel()
    if y0.shape != (D,):
        raise ValueError("y0 does not match the Carleman dimension")
    K = steps + 1 + idle
    B = np.zeros(K * D)
    B[:D] = y0
    L = assemble_history(transfers, steps, idle)
    xs = car.expansion_point if expansion_point is None else np.asarray(expansion_point, float)
    value, method, inv = condition_number(L, transfers, steps, idle, kappa, with_inverse=True)
    return LinearSystem(L, B, transfers, steps, idle, D, int(car.const_index),
                        np.asarray(car.linear_index), np.asarray(xs, float), value, method, inv)


LANCZOS_MAX_DIM = 50_000  # above this, κ comes from a fixed number of power iterations


def condition_number(L, transfers, steps, idle, how: str = "auto", *, with_inverse: bool = False):
    r"""κ(L) = σ_max(L)·σ_max(L^{−1}).

    "exact": a dense SVD (the default up to dim 2000). "estimate": both norms from the normal
    operators LᵀL and L^{−T}L^{−1}, where L^{−1} is applied exactly by forward substitution and
    L^{−T} by backward substitution (Z_t = W_t + M_tᵀ Z_{t+1}) — by Lanczos (ARPACK eigsh, tight
    tolerance) up to dim 5·10⁴, beyond that by 40 power iterations (a lower bound within a few
    percent for these block-bidiagonal matrices). "none" skips it (NaN, "skipped").
    """
    dim = L.shape[0]
    if how is None or how is False:
        how = "none"
    elif how is True:
        how = "auto"
    if how not in ("auto", "exact", "estimate", "none"):
        raise ValueError(f"kappa must be 'auto', 'exact', 'estimate' or 'none', not {how!r}")
    nan = float("nan")
    if how == "none":
        return (nan, "skipped", nan) if with_inverse else (nan, "skipped")
    if how == "exact" or (how == "auto" and dim <= 2000):
        s = np.linalg.svd(L.toarray(), compute_uv=False)
        with np.errstate(divide="ignore", invalid="ignore"):   # singular L: κ = ∞, stated as such
            out = (float(s[0] / s[-1]), "exact")
            return out + (float(1.0 / s[-1]),) if with_inverse else out
    LT = L.T.tocsr()
    fwd = (lambda x: LT @ (L @ x))
    inv = _inverse_norm_estimate(transfers, steps, idle)
    out = (float(_top_norm(fwd, dim) * inv), "estimate")
    return out + (inv,) if with_inverse else out


def _substitutions(transfers, steps, idle):
    """(L⁻¹·, L⁻ᵀ·) by forward and backward substitution (exact, T sparse products each)."""
    D = transfers[0].shape[0]
    K = steps + 1 + idle
    Ts = [transfers[t] if len(transfers) > 1 else transfers[0] for t in range(steps)]
    TsT = [M.T.tocsr() for M in Ts] if len(transfers) > 1 else [transfers[0].T.tocsr()] * steps

    def inv(b):
        B = b.reshape(K, D)
        Y = np.empty_like(B)
        Y[0] = B[0]
        for t in range(1, K):
            Y[t] = B[t] + (Ts[t - 1] @ Y[t - 1] if t <= steps else Y[t - 1])
        return Y.ravel()

    def inv_t(b):
        B = b.reshape(K, D)
        Z = np.empty_like(B)
        Z[K - 1] = B[K - 1]
        for t in range(K - 2, -1, -1):
            Z[t] = B[t] + (TsT[t] @ Z[t + 1] if t < steps else Z[t + 1])
        return Z.ravel()

    return inv, inv_t


def _top_norm(normal, dim) -> float:
    """‖X‖₂ from the top eigenvalue of the normal operator XᵀX: Lanczos (ARPACK, tol 1e-10) up to
    LANCZOS_MAX_DIM, else (or when ARPACK fails) 40 power iterations (a lower bound)."""
    v0 = np.random.default_rng(0).standard_normal(dim)
    if dim <= LANCZOS_MAX_DIM:
        from scipy.sparse.linalg import LinearOperator, eigsh
        try:
            op = LinearOperator((dim, dim), matvec=lambda x: normal(np.ravel(x)), dtype=float)
            return float(np.sqrt(eigsh(op, k=1, which="LA", tol=1e-10, v0=v0,
                                       return_eigenvectors=False)[0]))
        except Exception:  # ARPACK did not converge: fall through to power iterations
            pass
    return _power_norm(normal, v0)


def _inverse_norm_estimate(transfers, steps, idle) -> float:
    inv, inv_t = _substitutions(transfers, steps, idle)
    dim = (steps + 1 + idle) * transfers[0].shape[0]
    return _top_norm(lambda x: inv_t(inv(x)), dim)


#: largest history dimension whose ‖L⁻¹‖ is computed exactly (dense SVD) by `inverse_norm`
EXACT_INVERSE_DIM = 2048


def transfer_norm_bound(M) -> tuple[float, str]:
    r"""An upper bound on ‖M‖₂ and how it was obtained: the exact 2-norm (dense SVD) for
    D ≤ 2000, else √(‖M‖₁·‖M‖_∞) (Hölder; sparse, rigorous)."""
    D = M.shape[0]
    if D <= 2000:
        return float(np.linalg.norm(M.toarray(), 2)), "2-norm"
    a = abs(M)
    return float(np.sqrt(a.sum(axis=0).max() * a.sum(axis=1).max())), "sqrt(‖M‖₁‖M‖∞)"


def inverse_norm(ls, how: str = "auto") -> tuple[float, str]:
    r"""‖L⁻¹‖₂ of a history system and the method:

    * ``"exact"`` — a dense SVD, only where affordable (dim ≤ EXACT_INVERSE_DIM);
    * ``"bound"`` — certified: if ‖M_t‖₂ ≤ 1 for every step (`transfer_norm_bound`), then
      L⁻¹ = Σ_{k=0}^{T+p} (S·M̄)^k has ‖L⁻¹‖ ≤ T+1+p (the shift is nilpotent after T+p steps);
    * ``"estimate"`` — Lanczos on L⁻ᵀL⁻¹ applied by forward and backward substitution (sparse, no
      matrix inverse formed; an estimate from below, tolerance 1e-10 on the eigenvalue).

    `how`: "auto" (exact where affordable, else bound where certified, else estimate), "cheap"
    (bound where certified, else estimate: no dense algebra), or one of the three names."""
    if how in ("auto", "exact") and (how == "exact" or ls.dim <= EXACT_INVERSE_DIM):
        s = np.linalg.svd(ls.matrix.toarray(), compute_uv=False)
        return float(1.0 / s[-1]), "exact (dense SVD)"
    if how in ("auto", "cheap", "bound"):
        worst = max(transfer_norm_bound(M) for M in ls.transfers)
        if worst[0] <= 1.0 + 1e-12:
            return float(ls.steps + 1 + ls.idle), f"bound T+1+p (‖M‖₂ ≤ 1 by {worst[1]})"
        if how == "bound":
            raise ValueError("no certified bound: ‖M‖₂ may exceed 1")
    if np.isfinite(ls.inverse_norm_estimate):   # computed with κ when the system was lowered
        return float(ls.inverse_norm_estimate), "estimate (Lanczos on L⁻ᵀL⁻¹)"
    return _inverse_norm_estimate(ls.transfers, ls.steps, ls.idle), "estimate (Lanczos on L⁻ᵀL⁻¹)"


def _power_norm(normal, v, iters: int = 40) -> float:
    """‖X‖₂ from power iterations on the normal operator XᵀX (a lower bound)."""
    v = v / np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        w = normal(v)
        lam = float(np.linalg.norm(w))
        if lam == 0.0 or not np.isfinite(lam):
            break
        v = w / lam
    return float(np.sqrt(lam))
