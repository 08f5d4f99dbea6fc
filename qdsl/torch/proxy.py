r"""The error proxy of arXiv:2303.03428 (its Eq. 7), as docs/torch.md defines it.

For a Hessian eigenvalue λ and learning rate η let a = −η·λ, so that 1 + a is the eigenvalue of
I + F_1 — the factor by which gradient descent multiplies that mode per step. With the spectral
measure given by quadrature nodes λ_k and weights w_k (the SLQ quadrature of a `Spectrum`),

    proxy(t) = (1/N_c) · Σ_{k : |a_k| > cut} w_k · |1 + a_k|^t,     N_c = Σ_{k : |a_k| > cut} w_k,

the discrete form of (1/N_c)[∫_{−∞}^{−cut} + ∫_{cut}^{∞}] ρ(a)|1 + a|^t da with cut = 0.4:
modes with |a| ≤ cut are dropped, and N_c makes proxy(0) = 1. The proxy is computed from the
quadrature itself, so it does not depend on the Gaussian broadening used for plots.
proxy(t) ≤ 1 means that, on the modes it weighs, the linearized error has not grown after t steps;
the windows are the maximal runs of steps t ≥ 1 where it stays ≤ 1 (t = 0 is 1 by definition).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_CUT = 0.4


@dataclass(frozen=True)
class ErrorProxy:
    """proxy(t) for t = `steps` (0..T), the `windows` (first, last) where it stays ≤ 1, and
    `kept_weight` = N_c, the quadrature weight with |a| > cut."""

    steps: np.ndarray
    values: np.ndarray
    windows: tuple[tuple[int, int], ...]
    lr: float
    cut: float
    kept_weight: float

    def to_dict(self) -> dict:
        return {"lr": self.lr, "cut": self.cut, "kept_weight": self.kept_weight,
                "steps": self.steps.tolist(), "values": [float(v) for v in self.values],
                "windows": [list(w) for w in self.windows]}


def error_proxy(spectrum, lr: float, steps: int, *, cut: float = PAPER_CUT) -> ErrorProxy:
    r"""proxy(t) for t = 0..`steps` from `spectrum`'s quadrature (see the module docstring:
    a_k = −lr·λ_k, modes with |a_k| ≤ `cut` dropped, normalized to proxy(0) = 1).

    Raises ValueError when no quadrature node has |a| > cut (N_c = 0: the proxy is undefined;
    a larger lr moves more of the spectrum past the cut)."""
    lr, T = float(lr), int(steps)
    if not lr > 0:
        raise ValueError("lr must be positive")
    if T < 0:
        raise ValueError("steps must be ≥ 0")
    if spectrum.nodes is None:
        raise ValueError("the error proxy needs the spectrum's quadrature (hessian_spectrum(..., density=True))")
    a = -lr * np.asarray(spectrum.nodes, float)
    w = np.asarray(spectrum.weights, float)
    kept = np.abs(a) > cut
    Nc = float(np.sum(w[kept]))
    if not Nc > 0:
        raise ValueError(f"no quadrature node has |a| = lr·|λ| > {cut} at lr = {lr:g} "
                         f"(|λ| ≤ {max(abs(spectrum.nodes.min()), abs(spectrum.nodes.max())):.4g}): "
                         f"the proxy is undefined; a larger lr moves modes past the cut")
    t = np.arange(T + 1)
    with np.errstate(divide="ignore"):  # a zero weight contributes nothing: log 0 = −inf is exact here
        logw = np.log(w[kept])
    with np.errstate(divide="ignore"):
        logr = np.log(np.abs(1.0 + a[kept]))          # −inf where 1 + a = 0: that mode is gone after a step
    e = logw[None, :] + t[1:, None] * logr[None, :]   # log of each term, t ≥ 1 (log-sum-exp: no overflow until the value does)
    top = np.max(e, axis=1, keepdims=True)
    finite = np.isfinite(top[:, 0])
    vals = np.zeros(T)
    with np.errstate(over="ignore"):
        s = np.sum(np.exp(e[finite] - top[finite]), axis=1)
        vals[finite] = np.exp(top[finite, 0] + np.log(s) - np.log(Nc))
    values = np.concatenate([[1.0], vals])
    return ErrorProxy(t, values, windows_below_one(values), lr, float(cut), Nc)


def windows_below_one(values) -> tuple[tuple[int, int], ...]:
    """Maximal runs (first, last) of indices t ≥ 1 with values[t] ≤ 1."""
    ok = np.asarray(values, float) <= 1.0
    ok[0] = False
    out, start = [], None
    for t, v in enumerate(ok):
        if v and start is None:
            start = t
        elif not v and start is not None:
            out.append((start, t - 1))
            start = None
    if start is not None:
        out.append((start, len(ok) - 1))
    return tuple(out)
