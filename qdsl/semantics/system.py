r"""PolynomialSystem: the training dynamics as a polynomial map or ODE in u = θ − θ*.

Discrete kinds (gd, sgd):   u_{t+1} = u_t + Σ_{ℓ=0..q} F_ℓ u_t^{⊗ℓ}
Continuous kind (flow):     du/dt   =       Σ_{ℓ=0..q} F_ℓ u^{⊗ℓ}

F_ℓ is an n × n^ℓ scipy.sparse matrix in numpy `kron` order: the column of u_{a1} u_{a2} … u_{aℓ}
is ((a1·n + a2)·n + …)·n + aℓ. For a loss, F_ℓ = −(η/ℓ!)∇^{ℓ+1}L(θ*) is the *symmetric* flattened
derivative tensor (every permutation of (a1..aℓ) holds the same entry), so that
Σ_ℓ F_ℓ u^{⊗ℓ} = −η∇L(θ* + u) up to degree q (arXiv:2303.03428, Eq. 3). For an ODE given by `rate`
equations the same symmetric convention holds. For sgd, `step_F[t]` holds step t's F (its batch);
`F` itself is the full-batch system, the one the certificate is about.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

KINDS = ("gd", "sgd", "flow", "momentum", "nesterov")


@dataclass(frozen=True)
class Dynamics:
    """How training runs: `evolve gd(lr, steps)`, `sgd(lr, steps, batch, seed)`, `flow(time, dt)`,
    `momentum(lr, beta, steps)`, `nesterov(lr, beta, steps)` (state (θ, v): see `derive`)."""

    kind: str
    steps: int
    lr: float | None = None
    dt: float | None = None
    time: float | None = None
    batch: int | None = None
    seed: int | None = None
    beta: float | None = None        # momentum / nesterov

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "steps": self.steps}
        for k in ("lr", "dt", "time", "batch", "seed", "beta"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d


@dataclass(frozen=True, eq=False)
class PolynomialSystem:
    """The polynomial update rule / ODE of a model (see module docstring for the conventions).

    Attributes: `F` (tuple of sparse n × n^ℓ, ℓ = 0..q), `x0` (u at t = 0, i.e. θ_0 − θ*),
    `names` (one per entry of θ), `expansion_point` (θ*), `kind` ("gd", "sgd", "flow"),
    `dynamics` (steps, lr, dt, …), `step_F` (sgd: one F tuple per step), `exact` (True when the
    system is the exact update — a polynomial loss of degree ≤ q+1 — rather than a truncated
    Taylor expansion), `model` (name).
    """

    F: tuple
    x0: np.ndarray
    names: tuple[str, ...]
    expansion_point: np.ndarray
    kind: str
    dynamics: Dynamics
    step_F: tuple | None = None
    exact: bool = True
    model: str = "model"
    meta: dict = field(default_factory=dict)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_tensors(cls, F, x0, kind: str = "gd", *, names=None, expansion_point=None,
                     steps: int = 10, lr: float | None = None, dt: float | None = None,
                     step_F=None, model: str = "model") -> "PolynomialSystem":
        """Build a system from F_0..F_q (dense or sparse; F_0 may be a vector) and u_0.

        `kind` is "gd"/"sgd" (the map u ← u + ΣF_ℓ u^{⊗ℓ}, F already including the learning rate)
        or "flow" (du/dt = ΣF_ℓ u^{⊗ℓ}, integrated with Euler steps of size `dt`, default 0.1).
        """
        x0 = np.asarray(x0, dtype=float).ravel()
        n = x0.size
        Fs = tuple(_as_block(f, n, l) for l, f in enumerate(F))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if kind == "flow":
            dt = 0.1 if dt is None else float(dt)
            dyn = Dynamics("flow", int(steps), dt=dt, time=dt * int(steps))
        else:
            dyn = Dynamics(kind, int(steps), lr=lr)
        names = tuple(names) if names is not None else tuple(f"u[{i}]" for i in range(n))
        xs = np.zeros(n) if expansion_point is None else np.asarray(expansion_point, float).ravel()
        if step_F is not None:
            step_F = tuple(tuple(_as_block(f, n, l) for l, f in enumerate(Ft)) for Ft in step_F)
        s = cls(Fs, x0, names, xs, kind, dyn, step_F=step_F, model=model)
        s.verify()
        return s

    # -- invariants -----------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.x0.size)

    @property
    def degree(self) -> int:
        """q, the highest ℓ with F_ℓ present (trailing zero blocks included as given)."""
        return len(self.F) - 1

    @property
    def theta0(self) -> np.ndarray:
        return self.expansion_point + self.x0

    def F_at(self, t: int) -> tuple:
        """The F of step t (sgd: that step's batch; otherwise the one system)."""
        if self.step_F is not None:
            return self.step_F[t]
        return self.F

    def verify(self) -> None:
        """Check shapes and finiteness; raise ValueError on a malformed system."""
        n = self.n
        if len(self.names) != n or self.expansion_point.shape != (n,):
            raise ValueError("names / expansion_point do not match the number of parameters")
        for Fs in [self.F] + list(self.step_F or ()):
            for l, f in enumerate(Fs):
                if f.shape != (n, n ** l):
                    raise ValueError(f"F_{l} has shape {f.shape}, expected {(n, n ** l)}")
                if f.nnz and not np.all(np.isfinite(f.data)):
                    raise ValueError(f"F_{l} has non-finite entries")
        if self.kind == "sgd" and (self.step_F is None or len(self.step_F) < self.dynamics.steps):
            raise ValueError("an sgd system needs one F per step")

    # -- evaluation -----------------------------------------------------------------------
    def rhs(self, u: np.ndarray, t: int = 0) -> np.ndarray:
        """Σ_ℓ F_ℓ u^{⊗ℓ} (the increment for discrete kinds, du/dt for flow), without forming u^{⊗ℓ}
        densely beyond what F_ℓ touches."""
        u = np.asarray(u, float)
        out = np.zeros(self.n)
        for l, f in enumerate(self.F_at(t)):
            if f.nnz == 0:
                continue
            out += _apply_power(f, u, l)
        return out

    def trajectory(self, steps: int | None = None) -> np.ndarray:
        """The true trajectory θ_0..θ_T of this polynomial system: direct iteration of the map
        (gd, sgd) or forward-Euler steps of size dt (flow). Shape (T+1, n)."""
        T = self.dynamics.steps if steps is None else steps
        u = self.x0.copy()
        out = [u.copy()]
        h = self.dynamics.dt if self.kind == "flow" else 1.0
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported (W0401), not warned
            for t in range(T):
                u = u + h * self.rhs(u, t)
                out.append(u.copy())
        return np.array(out) + self.expansion_point

    def dump(self) -> str:
        """A deterministic text dump (for golden tests and debugging)."""
        lines = [f"PolynomialSystem {self.model} kind={self.kind} n={self.n} q={self.degree}",
                 f"  dynamics {self.dynamics.to_dict()}",
                 f"  names {list(self.names)}",
                 f"  expansion_point {[round(float(v), 12) for v in self.expansion_point]}",
                 f"  x0 {[round(float(v), 12) for v in self.x0]}"]
        for l, f in enumerate(self.F):
            c = f.tocoo()
            order = np.lexsort((c.col, c.row))
            lines.append(f"  F_{l} {f.shape} nnz={f.nnz}")
            for k in order:
                lines.append(f"    [{c.row[k]}, {c.col[k]}] {float(c.data[k]):.12g}")
        return "\n".join(lines)


def _as_block(f, n: int, l: int):
    if sp.issparse(f):
        m = sp.csr_matrix(f, dtype=float)
    else:
        a = np.asarray(f, dtype=float)
        if l == 0:
            a = a.reshape(n, 1)
        else:
            a = a.reshape(n, n ** l)
        m = sp.csr_matrix(a)
    if l == 0 and m.shape == (1, n):
        m = m.T.tocsr()
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def _apply_power(f, u: np.ndarray, l: int) -> np.ndarray:
    """F_ℓ u^{⊗ℓ} from F's nonzeros only: column c = (a1..aℓ) in base n contributes Π u_{a_k}."""
    n = u.size
    if l == 0:
        return np.asarray(f.toarray()).ravel()
    c = f.tocoo()
    cols = c.col.astype(np.int64)
    prod = np.ones(cols.size)
    for _ in range(l):
        prod *= u[cols % n]
        cols //= n
    out = np.zeros(f.shape[0])
    np.add.at(out, c.row, c.data * prod)
    return out


def flat_index(indices, n: int) -> int:
    """The numpy-kron column of u_{a1}⊗…⊗u_{aℓ}: ((a1·n + a2)·n + …)·n + aℓ."""
    k = 0
    for a in indices:
        k = k * n + int(a)
    return k


def symmetric_dimension(n: int, N: int) -> int:
    """C(n+N, N): the number of monomials of degree ≤ N in n variables (constant included)."""
    return math.comb(n + N, N)
