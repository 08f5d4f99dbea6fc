r"""LinearSystem: the history-state linear system L·Y = B over all time steps (docs/maths.md).

For T steps and p idle steps, with transfer matrices M_t (D × D, constant component first):
    L = Σ_t |t⟩⟨t|⊗I − Σ_{t=1..T} |t⟩⟨t−1|⊗M_{t−1} − Σ_{t=T+1..T+p} |t⟩⟨t−1|⊗I,   B = |0⟩⊗y_0.
Block t of Y is the lifted state y_t (arXiv:2303.03428 Eq. 6; PNAS 2021 Eq. 21).
"""
from __future__ import annotations

import math
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


@dataclass(frozen=True)
class HistorySize:
    """The size of a history-state system, predicted before it is assembled (`history_size`):
    `dim` = (T+1+p)·D unknowns, `nnz` stored entries of L, `bytes` of its CSR arrays (float64
    values, int32 indices while they fit, else int64), `transfer_nnz` Σ_t nnz(M_t)."""

    dim: int
    nnz: int
    bytes: int
    transfer_nnz: int

    def to_dict(self) -> dict:
        return {"dim": self.dim, "nnz": self.nnz, "bytes": self.bytes, "transfer_nnz": self.transfer_nnz}


def history_size(transfers, steps: int, idle: int = 0) -> HistorySize:
    r"""The exact size of `assemble_history(transfers, steps, idle)` without building it: row
    block 0 holds the identity (D entries), row block t ≤ T holds M_{t−1}'s stored entries and the
    diagonal 1 (nnz(M_{t−1}) + D), an idle block −I and I (2D). So nnz(L) = Σ_{t<T} nnz(M_t) +
    (T+1)·D + 2p·D; the CSR arrays take 8 bytes a value and 4 (int32, scipy's choice while every
    index and nnz fit) or 8 bytes an index, and (dim + 1) row pointers. `transfers`: the
    canonical (summed, zero-free) M_t of `carleman`, one or one per step."""
    T, p = int(steps), int(idle)
    D = int(transfers[0].shape[0])
    tnnz = T * int(transfers[0].nnz) if len(transfers) == 1 else \
        int(sum(int(M.nnz) for M in transfers[:T]))
    dim = (T + 1 + p) * D
    nnz = tnnz + (T + 1) * D + 2 * p * D
    idx = 4 if max(nnz, dim) <= np.iinfo(np.int32).max else 8
    return HistorySize(dim, nnz, 8 * nnz + idx * nnz + idx * (dim + 1), tnnz)


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


def svd_inverse_norm(singular_values) -> float:
    r"""A certified upper bound on ‖L⁻¹‖₂ = 1/σ_min from LAPACK's singular values of L (dim n):
    they are those of L + E with ‖E‖₂ ≤ p(n)·u·σ_max (LAPACK Users' Guide §4.9; Weyl), p(n) = 10·n
    taken, so σ_min ≥ σ̂_min − γ_{10n}·σ̂_max·(1 + γ_{10n}); ∞ when that is not positive."""
    from qdsl import tolerances as tol

    s = np.asarray(singular_values, float)
    g = tol.gamma(10 * s.size)
    lo = float(s[-1]) - g * float(s[0]) * (1.0 + g)
    return 1.0 / lo if lo > 0 else math.inf


def inverse_norm(ls, how: str = "auto") -> tuple[float, str]:
    r"""A certified upper bound on ‖L⁻¹‖₂ of a history system, and the method — the one QSVT's
    degree and HHL's clock are chosen from (never an estimate from below):

    * ``"exact"`` — a dense SVD where affordable (dim ≤ EXACT_INVERSE_DIM), with the SVD's own
      error added (`svd_inverse_norm`);
    * ``"bound"`` — `inverse_norm_bound`: Σ_k ‖(S·M̄)^k‖ from the norms of the transfer products
      (T+1+p when every ‖M_t‖₂ ≤ 1; geometric on a contraction; growing as ρ^T when the lift grows);
    * ``"certified"`` (part of auto/cheap) — the Lanczos estimate with a proven margin
      (`certify_inverse_norm`: a block Cholesky of LᵀL − τ²I), when it is below the bound;
    * ``"estimate"`` — Lanczos on L⁻ᵀL⁻¹ by forward and backward substitution: an estimate *from
      below*, for reports and cross-checks only; `auto` and `cheap` never return it.

    `how`: "auto" (exact where affordable, else the smaller of the certified estimate and the
    bound), "cheap" (the same without the dense SVD of L), or "exact", "bound", "estimate"."""
    if how not in ("auto", "cheap", "exact", "bound", "estimate"):
        raise ValueError(f"how must be auto, cheap, exact, bound or estimate, not {how!r}")
    if how == "exact" or (how == "auto" and ls.dim <= EXACT_INVERSE_DIM):
        s = np.linalg.svd(ls.matrix.toarray(), compute_uv=False)
        value = svd_inverse_norm(s)
        if math.isfinite(value) or how == "exact":
            return value, "exact (dense SVD)"
    if how == "estimate":
        if np.isfinite(ls.inverse_norm_estimate):   # computed with κ when the system was lowered
            return float(ls.inverse_norm_estimate), "estimate (Lanczos on L⁻ᵀL⁻¹, from below)"
        return (_inverse_norm_estimate(ls.transfers, ls.steps, ls.idle),
                "estimate (Lanczos on L⁻ᵀL⁻¹, from below)")
    bound, how_bound = inverse_norm_bound(ls.transfers, ls.steps, ls.idle)
    if how == "bound":
        return bound, how_bound
    est = (float(ls.inverse_norm_estimate) if np.isfinite(ls.inverse_norm_estimate)
           else _inverse_norm_estimate(ls.transfers, ls.steps, ls.idle))
    cert = certify_inverse_norm(ls.transfers, ls.steps, ls.idle, est)
    if cert is not None and cert[0] < bound:
        return cert[0], (f"certified (Lanczos estimate {est:.6g} with a proven margin: block "
                         f"Cholesky of LᵀL − τ²I at δ = {cert[1]:g})")
    return bound, how_bound


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


# ----------------------------------------------------------------------------- certified ‖L⁻¹‖

#: D above which transfer products are not formed densely: the bound falls back to ‖M_t‖ factors
POWER_BOUND_MAX_DIM = 1500
#: D up to which the norms of the products are exact 2-norms (an SVD each); above it the cheaper
#: min(‖P‖_F, √(‖P‖₁‖P‖_∞)), both rigorous upper bounds on ‖P‖₂
POWER_EXACT_NORM_DIM = 400
#: multiply-adds spent forming products M_{t+j−1}⋯M_t exactly; longer products are bounded by
#: submultiplicativity from the ones formed
POWER_BOUND_WORK = 2e9


def _norm_upper(P) -> float:
    r"""A rigorous upper bound on ‖P‖₂ of a dense D × D matrix computed in floating point.

    D ≤ POWER_EXACT_NORM_DIM: the largest singular value from LAPACK, plus its error: a backward
    stable SVD returns the singular values of P + E with ‖E‖₂ ≤ p(D)·u·‖P‖₂ (LAPACK Users' Guide
    §4.9; Golub–Van Loan Thm 8.6.2 with Weyl's inequality), and we take p(D) = 10·D — far above the
    modest growth LAPACK documents. Larger D: min(‖P‖_F, √(‖P‖₁‖P‖_∞)) (both ≥ ‖P‖₂), each a sum of
    at most D² non-negative terms, so rounded up by the factor 1 + γ_{D²}."""
    from qdsl import tolerances as tol

    D = P.shape[0]
    if D <= POWER_EXACT_NORM_DIM:
        return float(np.linalg.norm(P, 2)) * (1.0 + tol.gamma(10 * D))
    a = np.abs(P)
    frob = float(np.sqrt(np.sum(a * a)))
    holder = float(np.sqrt(a.sum(axis=0).max() * a.sum(axis=1).max()))
    return min(frob, holder) * (1.0 + tol.gamma(D * D + 2))


def power_norm_bounds(transfers, steps: int, jmax: int, *, period: int | None = None):
    r"""log g_j for j = 0..jmax with g_j ≥ max_t ‖M_{t+j−1}⋯M_t‖₂ (certified), and how.

    `transfers` is one M (gd, flows) or one per step (sgd); `period` (default: their number) says
    that M_{t+period} = M_t, so start times modulo the period cover every product. The products
    with j ≤ J are formed densely (J from POWER_BOUND_WORK) and their norms bounded above
    (`_norm_upper`), plus the rounding of the product itself: |fl(M_j⋯M_1) − M_j⋯M_1| ≤
    γ_{jD}·|M_j|⋯|M_1| (Higham §3.5), whose 2-norm is ≤ γ_{jD}·Π‖M_i‖_F. Longer products use
    submultiplicativity, ‖P_{t,j}‖ ≤ ‖P_{t+a,j−a}‖·‖P_{t,a}‖, so g_j ≤ g_a^{⌊j/a⌋}·g_{j mod a} for
    every a ≤ J; with no dense products (D > POWER_BOUND_MAX_DIM) g_j = c^j with c = max_t
    `transfer_norm_bound`(M_t). Logarithms throughout: a non-contractive model's g_j = ρ^j·(…) may
    pass 10³⁰⁸ and the bound must still say so (∞, never a wrapped number)."""
    from qdsl import tolerances as tol

    Ms = list(transfers)
    D = Ms[0].shape[0]
    jmax = int(jmax)
    starts = len(Ms) if period is None else max(1, int(period))
    starts = min(starts, max(1, int(steps)))
    M_at = (lambda t: Ms[t % len(Ms)]) if len(Ms) > 1 else (lambda t: Ms[0])
    lg = np.full(jmax + 1, np.inf)
    lg[0] = 0.0
    c = max(transfer_norm_bound(M)[0] for M in Ms[:starts] or Ms)
    with np.errstate(divide="ignore"):
        lc = math.log(c) if c > 0 else -np.inf
    J = 0
    how = f"‖M‖ ≤ {c:.4g} per step"
    per_product = 2.0 * D ** 3 + (10.0 * D ** 3 if D <= POWER_EXACT_NORM_DIM else 3.0 * D * D)
    if D <= POWER_BOUND_MAX_DIM and jmax > 0:
        J = int(min(jmax, POWER_BOUND_WORK // (per_product * starts)))
    if J > 0:
        with _small_blas(D):
            J, lg, how = _dense_powers(M_at, D, J, jmax, starts, lg, lc, tol)
    if J < jmax:
        js = np.arange(J + 1, jmax + 1)
        out = lc * js if np.isfinite(lc) else np.full(js.shape, -np.inf if c == 0 else np.inf)
        for a in range(1, J + 1):
            out = np.minimum(out, lg[a] * (js // a) + lg[js % a])
        lg[J + 1:] = out
    return lg, how


def _dense_powers(M_at, D, J, jmax, starts, lg, lc, tol):
    """The dense part of `power_norm_bounds`: products for j ≤ J from every start (see there)."""
    frob = [float(sp.linalg.norm(M_at(t), "fro")) if sp.issparse(M_at(t))
            else float(np.linalg.norm(M_at(t))) for t in range(starts + J)]
    best = np.full(J + 1, -np.inf)
    best[0] = 0.0
    for t0 in range(starts):
        P = np.eye(D)
        lf = 0.0     # log Π‖M_i‖_F, for the rounding of the product
        for j in range(1, J + 1):
            M = M_at(t0 + j - 1)
            P = np.asarray(M @ P)
            with np.errstate(divide="ignore"):
                lf += math.log(frob[t0 + j - 1]) if frob[t0 + j - 1] > 0 else -np.inf
            nrm = _norm_upper(P) if np.all(np.isfinite(P)) else np.inf
            err = tol.gamma(j * D) * math.exp(lf) if lf < 700 else np.inf
            val = nrm + err
            lv = math.log(val) if val > 0 else -np.inf
            best[j] = max(best[j], lv)
    lg[: J + 1] = np.minimum(best, lc * np.arange(J + 1)) if np.isfinite(lc) else best
    how = (f"products M_{{t+j−1}}⋯M_t formed for j ≤ {J}, "
           + ("exact 2-norms" if D <= POWER_EXACT_NORM_DIM else "Frobenius/Hölder norms")
           + (", longer ones by submultiplicativity" if J < jmax else ""))
    return J, lg, how


def inverse_norm_bound(transfers, steps: int, idle: int = 0, *, period: int | None = None):
    r"""A certified upper bound on ‖L⁻¹‖₂ of the history system of `transfers` over `steps` real and
    `idle` idle steps, and how it was obtained (docs/maths.md, "‖L⁻¹‖ for the solver").

    L = I − S·M̄ with S·M̄ nilpotent, so L⁻¹ = Σ_{k=0}^{K−1} (S·M̄)^k, K = T+1+p. (S·M̄)^k has one
    block per block row and column — M_{t+k−1}⋯M_t with identities for idle steps — so its norm is
    the largest of those blocks, a product of j = min(t+k, T) − min(t, T) ∈ [max(0, k−p), min(k, T)]
    transfers: ‖(S·M̄)^k‖ ≤ max_{j in that range} g_j (`power_norm_bounds`), and

        ‖L⁻¹‖₂ ≤ Σ_{k=0}^{K−1} max_{max(0,k−p) ≤ j ≤ min(k,T)} g_j.

    With ‖M_t‖ ≤ 1 every g_j ≤ 1 and this is the familiar T+1+p; on a contraction it is the
    geometric sum; on a model whose lift grows (ρ(M) > 1) it grows as ρ^T — exponentially, as the
    true ‖L⁻¹‖ does. Returns (value, how); value is ∞ when it overflows a double."""
    from scipy.ndimage import maximum_filter1d
    from scipy.special import logsumexp

    T, p = int(steps), int(idle)
    lg, how = power_norm_bounds(transfers, T, T, period=period)
    # k = 0..T: the window [k−p, k] of j (clipped at 0); k = T+1..T+p: [k−p, T], a suffix
    head = maximum_filter1d(lg, size=p + 1, origin=p // 2, mode="constant", cval=-np.inf) if p else lg
    terms = [head]
    if p:
        suffix = np.maximum.accumulate(lg[::-1])[::-1]          # max of lg[i..T]
        terms.append(suffix[np.arange(T + 1, T + p + 1) - p])
    logs = np.concatenate(terms)
    if np.any(np.isposinf(logs)):
        return math.inf, how
    total = float(logsumexp(logs))
    value = math.exp(total) if total < 709 else math.inf
    return value, f"bound Σ_k max_j ‖M^j‖ ({how})"


#: multiply-adds the Cholesky certificate of ‖L⁻¹‖ may spend (K blocks of D³ each)
CHOLESKY_CERTIFICATE_WORK = 4e9
#: the margins tried below the Lanczos estimate of σ_min(L)² before giving up on the certificate
CHOLESKY_MARGINS = (0.02, 0.1, 0.3, 0.6)


def certify_inverse_norm(transfers, steps: int, idle: int, estimate: float):
    r"""An upper bound on ‖L⁻¹‖₂ certified from an estimate of it (Lanczos, from below), or None.

    ‖L⁻¹‖₂ ≤ 1/τ ⇔ LᵀL − τ²I ⪰ 0. LᵀL is block tridiagonal — diagonal blocks I + M_tᵀM_t (2I on
    idle steps, I on the last), off-diagonal blocks −M_t — so B = LᵀL − τ²I has a block Cholesky
    factorization in K dense D × D steps. When the factorization in floating point succeeds, R̂ᵀR̂ =
    B̂ + ΔB with |ΔB| ≤ γ_{w+1}|R̂ᵀ||R̂| for inner products of length ≤ w = 2D (Higham, *Accuracy and
    Stability*, Thm 10.3; the order of evaluation does not matter), so ‖ΔB‖₂ ≤ γ_{2D+1}‖R̂‖_F²; B̂,
    formed in floating point, differs from B by ‖E‖₂ ≤ γ_{2D+2}((1 + max‖M_t‖_F)² + τ²) (each entry an
    inner product of ≤ 2D+1 terms of |L|). Hence

        σ_min(L)² ≥ τ² − γ_{2D+1}‖R̂‖_F² − ‖E‖₂,

    and ‖L⁻¹‖₂ ≤ 1/√(that) whenever it is positive: the estimate with a *proven* margin. τ² is
    taken (1 − δ)/estimate² for δ in CHOLESKY_MARGINS; a pivot that is not positive means τ was
    above σ_min (the estimate was too low), and the next margin is tried. None when no margin
    certifies or the work would pass CHOLESKY_CERTIFICATE_WORK."""
    Ms = list(transfers)
    D = Ms[0].shape[0]
    T, p = int(steps), int(idle)
    K = T + 1 + p
    if not (np.isfinite(estimate) and estimate > 0) or K * 3.0 * D ** 3 > CHOLESKY_CERTIFICATE_WORK:
        return None
    M_at = (lambda t: Ms[t]) if len(Ms) > 1 else (lambda t: Ms[0])
    dense = [np.asarray(M.toarray() if sp.issparse(M) else M, float) for M in (Ms if len(Ms) > 1 else Ms[:1])]
    M_at = (lambda t: dense[t]) if len(dense) > 1 else (lambda t: dense[0])
    fro = max(float(np.linalg.norm(M)) for M in dense)
    with _small_blas(D):
        return _certify(M_at, D, T, K, fro, estimate)


def _small_blas(D: int):
    """One BLAS thread for the K small D × D steps of the certificate and the power bound: a threaded
    OpenBLAS spends ~100× the arithmetic waking threads for 15 × 15 products (the CLI sets one
    thread for the whole process; the API may be called from a process that has not)."""
    import contextlib
    if D > 256:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:          # pragma: no cover - a dependency of qdsl
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _certify(M_at, D, T, K, fro, estimate):
    from scipy.linalg import cholesky, solve_triangular

    from qdsl import tolerances as tol

    eye = np.eye(D)
    for delta in CHOLESKY_MARGINS:
        tau2 = (1.0 - delta) / float(estimate) ** 2
        frob2 = 0.0
        R_prev = None
        ok = True
        for t in range(K):
            Mt = M_at(t) if t < T else (eye if t < K - 1 else None)
            A = eye - tau2 * eye if Mt is None else eye + Mt.T @ Mt - tau2 * eye
            if t > 0:
                Mp = M_at(t - 1) if t - 1 < T else eye     # B_{t−1,t} = −M_{t−1}ᵀ
                W = solve_triangular(R_prev, -Mp.T, trans="T", lower=False, check_finite=False)
                A = A - W.T @ W
            try:
                R_prev = cholesky(A, lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                ok = False
                break
            if not np.all(np.isfinite(R_prev)):
                ok = False
                break
            frob2 += float(np.sum(R_prev * R_prev)) + (float(np.sum(W * W)) if t > 0 else 0.0)
        if not ok:
            continue
        lam = tau2 - tol.gamma(2 * D + 1) * frob2 - tol.gamma(2 * D + 2) * ((1.0 + fro) ** 2 + tau2)
        if lam > 0:
            return 1.0 / math.sqrt(lam), delta
    return None
