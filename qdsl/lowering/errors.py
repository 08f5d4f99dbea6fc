r"""Error control for the Carleman lowering: a-priori bounds, a-posteriori errors, warnings.

A-priori (Liu et al., PNAS 118 (2021), arXiv:2011.03185), for du/dt = F_2 u^{⊗2} + F_1 u + F_0 with
F_1 diagonalizable, Re λ_1 < 0 and R = (‖u_in‖‖F_2‖ + ‖F_0‖/‖u_in‖)/|Re λ_1| < 1:

- truncation (Lemma 1):  ‖η_j(t)‖ ≤ t·N·‖F_2‖·‖u_in‖^{N+1};
- forward Euler (Lemma 2): ‖ŷ_1(T) − y_1(T)‖ ≤ 3N^{2.5}·T·h·[(‖F_2‖+‖F_1‖+‖F_0‖)² + ‖F_0′‖]
  (‖F_0′‖ = 0: qdsl's systems are autonomous).

Where a hypothesis fails the bound is reported as "not applicable: <reason>" instead of a number.
A-posteriori: for every order, max_t ‖θ_t − θ̂_t‖_∞, the final-step error and the relative error
(divided by max_t ‖θ_t‖_∞). Warnings are W0401 diagnostics.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..diagnostics import Diagnostic

RELATIVE_TOLERANCE = 0.10   # warn when a Carleman trajectory is off by more than 10 %
DIVERGENCE_FACTOR = 1e6     # |θ| growing by this factor over θ_0 counts as divergence


def spectral_norm(f) -> float:
    """‖F‖₂ (dense SVD when small, ARPACK otherwise; 0 for an empty matrix)."""
    if f is None or f.nnz == 0:
        return 0.0
    if f.shape[0] * f.shape[1] <= 4_000_000:
        return float(np.linalg.norm(f.toarray(), 2))
    from scipy.sparse.linalg import svds
    try:
        return float(svds(f.astype(float), k=1, return_singular_vectors=False)[0])
    except Exception:  # fall back to an upper bound
        return float(sp.linalg.norm(f))


def leading_eigenvalue(F1) -> complex | None:
    """The eigenvalue of F_1 with the largest real part (λ_1 in PNAS' ordering)."""
    if F1 is None:
        return None
    n = F1.shape[0]
    if n <= 3000:
        ev = np.linalg.eigvals(F1.toarray())
    else:
        from scipy.sparse.linalg import eigs
        ev = eigs(F1.astype(float), k=1, which="LR", return_eigenvectors=False)
    return complex(ev[np.argmax(ev.real)])


def convergence_number(F, u_in) -> tuple[float | None, str]:
    r"""PNAS' R = (‖u_in‖‖F_2‖ + ‖F_0‖/‖u_in‖)/|Re λ_1| (higher degrees add ‖F_ℓ‖‖u_in‖^{ℓ−1}),
    or (None, reason) where it is undefined."""
    if len(F) < 2:
        return None, "no linear part F_1"
    lam = leading_eigenvalue(F[1])
    if lam is None or lam.real >= 0:
        return None, f"F_1 is not dissipative (max Re λ = {lam.real:.4g} ≥ 0)" if lam is not None else "no F_1"
    nu = float(np.linalg.norm(u_in))
    norms = [spectral_norm(f) for f in F]
    num = 0.0
    if norms[0] > 0:
        if nu == 0:
            return None, "‖u_in‖ = 0 with F_0 ≠ 0"
        num += norms[0] / nu
    for l in range(2, len(F)):
        num += norms[l] * nu ** (l - 1)
    return num / abs(lam.real), ""


def a_priori_bounds(system, order: int) -> dict:
    r"""The PNAS truncation and Euler bounds on the final step, or why they do not apply."""
    N = int(order)
    out = {}
    formula_t = "t·N·‖F_2‖·‖u_in‖^{N+1}  (PNAS Lemma 1)"
    formula_e = "3·N^2.5·T·h·(‖F_2‖+‖F_1‖+‖F_0‖)^2  (PNAS Lemma 2, ‖F_0'‖ = 0)"
    reason = None
    R = None
    if system.kind != "flow":
        reason = f"discrete dynamics ({system.kind}); the PNAS bounds are for continuous flows"
    elif system.degree > 2:
        reason = f"polynomial degree {system.degree} > 2 (the bounds are for quadratic systems)"
    else:
        R, why = convergence_number(system.F, system.x0)
        if R is None:
            reason = why
        elif R >= 1:
            reason = f"R = {R:.4g} ≥ 1"
    if reason is not None:
        na = {"applicable": False, "value": None, "reason": f"not applicable: {reason}", "R": R}
        return {"truncation": dict(na, formula=formula_t), "euler": dict(na, formula=formula_e)}
    F = list(system.F) + [sp.csr_matrix((system.n, system.n ** l)) for l in range(len(system.F), 3)]
    n0, n1, n2 = (spectral_norm(F[l]) for l in range(3))
    h = float(system.dynamics.dt)
    t = h * system.dynamics.steps
    nu = float(np.linalg.norm(system.x0))
    out["truncation"] = {"applicable": True, "value": t * N * n2 * nu ** (N + 1), "R": R,
                         "reason": f"R = {R:.4g} < 1, Re λ_1 < 0", "formula": formula_t}
    step_ok = h * N * (n0 + n1 + n2) <= 1.0
    if step_ok:
        out["euler"] = {"applicable": True, "value": 3 * N ** 2.5 * t * h * (n0 + n1 + n2) ** 2,
                        "R": R, "reason": f"R = {R:.4g} < 1, h·N·(‖F_0‖+‖F_1‖+‖F_2‖) ≤ 1",
                        "formula": formula_e}
    else:
        out["euler"] = {"applicable": False, "value": None, "R": R, "formula": formula_e,
                        "reason": f"not applicable: step h = {h:.4g} too large "
                                  f"(h·N·(‖F_0‖+‖F_1‖+‖F_2‖) = {h * N * (n0 + n1 + n2):.4g} > 1)"}
    return out


def trajectory_errors(true: np.ndarray, approx: np.ndarray) -> dict:
    """A-posteriori error of one Carleman trajectory against the true one."""
    diff = np.abs(np.asarray(approx) - np.asarray(true))
    by_step = diff.max(axis=1) if diff.size else np.zeros(0)
    by_step = np.where(np.isfinite(by_step), by_step, np.inf)
    scale = float(np.max(np.abs(true))) if true.size else 1.0
    scale = scale if scale > 0 else 1.0
    mx = float(by_step.max()) if by_step.size else 0.0
    return {"max": mx, "final": float(by_step[-1]) if by_step.size else 0.0,
            "relative": mx / scale, "by_step": [float(v) for v in by_step]}


def _diverges(traj: np.ndarray, ref: float) -> bool:
    return (not np.all(np.isfinite(traj))) or float(np.max(np.abs(traj))) > DIVERGENCE_FACTOR * (1.0 + ref)


def diagnose(true: np.ndarray, carleman: dict, errors: dict, *, model: str = "model") -> list:
    """W0401 warnings: divergence, relative error over 10 %, error still growing at the end,
    error growing with the order."""
    out = []
    ref = float(np.max(np.abs(true[0]))) if true.size else 0.0
    if _diverges(true, ref):
        out.append(Diagnostic("W0401", f"the true trajectory of `{model}` diverges",
                              help="the dynamics are not dissipative here: lower the learning rate or dt"))
    orders = sorted(carleman)
    if not orders:
        return out
    top = orders[-1]
    if _diverges(carleman[top], ref):
        out.append(Diagnostic("W0401", f"the order-{top} Carleman trajectory diverges",
                              help="lower the learning rate / dt, or expand about a closer point"))
    e = errors[top]
    if e["relative"] > RELATIVE_TOLERANCE:
        out.append(Diagnostic(
            "W0401", f"the order-{top} Carleman trajectory deviates from the true one by "
                     f"{100 * e['relative']:.3g}% (max error {e['max']:.3g})",
            help="raise the Carleman order, lower the learning rate / dt, or shorten the horizon"))
    steps = np.asarray(e["by_step"])
    T = steps.size - 1
    if T >= 4 and np.all(np.isfinite(steps)) and e["relative"] > 1e-3:
        half = steps[T // 2]
        if steps[-1] >= steps.max() and steps[-1] > 10 * max(half, 1e-300):
            out.append(Diagnostic(
                "W0401", f"the order-{top} Carleman error is still growing at the last step "
                         f"({half:.3g} at t = {T // 2}, {steps[-1]:.3g} at t = {T})",
                help="the truncation error compounds over time; use fewer steps or a higher order"))
    for a, b in zip(orders, orders[1:]):
        ea, eb = errors[a]["max"], errors[b]["max"]
        if eb > 1.5 * ea and errors[b]["relative"] > 1e-3:
            out.append(Diagnostic(
                "W0401", f"raising the Carleman order from {a} to {b} increased the error "
                         f"({ea:.3g} → {eb:.3g}): the expansion does not converge here",
                help="the convergence number R is probably ≥ 1; start closer to the fixed point"))
            break
    return out
