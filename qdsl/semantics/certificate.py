r"""The certificate of `qdsl check` (docs/maths.md): is training dissipative and sparse enough?

Linear part F_1 = −η·H (a loss; H the Hessian at θ*) or the Jacobian of the rates.
Discrete kinds (gd, sgd): spectral radius ρ(I+F_1) and norm ‖I+F_1‖₂, dissipative when ρ < 1
(for a loss: 0 < η·λ_i(H) < 2 for every i); ‖I+F_1‖₂ ≤ 1 makes the linear part a contraction — it
does not bound κ(L) by itself (the lift's M holds the nonlinear couplings; docs/maths.md).
Continuous kind (flow): spectral abscissa max Re λ(F_1) and log-norm μ₂(F_1) = λ_max((F_1+F_1ᵀ)/2),
dissipative when the abscissa is < 0 (PNAS 2021; Krovi 2023: μ(F_1) < 0 suffices).
The PNAS number R = (‖u_in‖‖F_2‖ + ‖F_0‖/‖u_in‖ + Σ_{ℓ≥3}‖F_ℓ‖‖u_in‖^{ℓ−1}) / |Re λ_1| (R < 1 gives
the convergence guarantee of Carleman truncation), null with a reason where undefined.
Symbolic constants: the set of values for which each condition holds, solved by SymPy where the
structure allows (the constant only scales the learning rate) and numerically otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..diagnostics import CompileError, Diagnostic
from ..display import TextReport
from .model import CheckedModel
from .system import PolynomialSystem

DENSE_EIG_LIMIT = 4000
LIFT_BUDGET_DIM, LIFT_BUDGET_NNZ = 2_000_000, 5_000_000  # what `check` builds for the sparsity of M, L


@dataclass(frozen=True, eq=False)
class Certificate(TextReport):
    """The results of §3's checks; `to_dict()` is `check --json`, `render()` the table."""
    data: dict = field(default_factory=dict)

    @property
    def dissipative(self) -> bool:
        return bool(self.data["dissipative"])

    @property
    def passed(self) -> bool:
        """What `check`'s exit status reports: dissipative at the given values, or (symbolic
        constants left open) dissipative for at least some values of the domain."""
        sym = self.data.get("symbolic")
        if sym:
            return all(len(iv) > 0 for iv in sym.values())
        return self.dissipative

    def __getitem__(self, key):
        return self.data[key]

    def to_dict(self) -> dict:
        return self.data

    def render(self) -> str:
        return render_certificate(self.data)

    def _display_title(self) -> str:
        return f"qdsl check: certificate of {self.data.get('model')} ({self.data.get('status')})"


# ----------------------------------------------------------------------------- numerics

def sparsity(m) -> dict:
    """Row and column sparsity (max nonzeros in a row / column) of a sparse matrix."""
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    if m.nnz == 0:
        return {"row": 0, "col": 0, "s": 0, "nnz": 0}
    row = int(np.diff(m.indptr).max())
    # columns of F_ℓ number n^ℓ: count the used ones only, never allocate n^ℓ counters
    col = int(np.unique(m.indices, return_counts=True)[1].max())
    return {"row": row, "col": col, "s": max(row, col), "nnz": int(m.nnz)}


def spectral_norm(m) -> float:
    """‖F‖₂ of an n × n^ℓ sparse matrix, computed on its nonzero columns only (the columns of
    u^{⊗ℓ} that F never touches do not change the norm, and n^ℓ may be astronomically large)."""
    m = sp.csr_matrix(m)
    if m.nnz == 0:
        return 0.0
    cols, inv = np.unique(m.indices, return_inverse=True)
    c = sp.csr_matrix((m.data, inv, m.indptr), shape=(m.shape[0], cols.size))
    g = (c @ c.T) if c.shape[0] <= c.shape[1] else (c.T @ c)  # the smaller Gram matrix
    if g.shape[0] <= 300:
        return float(math.sqrt(max(np.linalg.eigvalsh(g.toarray()).max(), 0.0)))
    top = spla.eigsh(g, k=1, which="LA", ncv=min(g.shape[0], 48), tol=1e-10, return_eigenvectors=False)
    return float(math.sqrt(max(top[0], 0.0)))


def linear_spectrum(F1, symmetric: bool):
    """All eigenvalues of F_1, or None when that is too costly (then only extremes are found).

    A symmetric F_1 (a Hessian) is reordered by reverse Cuthill–McKee; when that leaves a narrow
    band (chain- or grid-coupled models) the banded eigensolver costs O(n·b²) instead of O(n³),
    which is what keeps `check` on param w[2000] at a fraction of a second."""
    n = F1.shape[0]
    if symmetric and n > 64:
        band = _banded_eigenvalues(F1)
        if band is not None:
            return band.astype(complex)
    if n > DENSE_EIG_LIMIT:
        return None
    A = F1.toarray()
    if symmetric:
        return np.linalg.eigvalsh(0.5 * (A + A.T)).astype(complex)
    return np.linalg.eigvals(A)


def _banded_eigenvalues(F1, max_band_fraction: float = 0.1):
    from scipy.linalg import eigvals_banded
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    S = sp.csr_matrix(0.5 * (F1 + F1.T))
    perm = reverse_cuthill_mckee(S, symmetric_mode=True)
    P = S[perm][:, perm].tocoo()
    b = int(np.max(np.abs(P.row - P.col))) if P.nnz else 0
    n = S.shape[0]
    if b > max_band_fraction * n:
        return None
    ab = np.zeros((b + 1, n))  # lower banded storage: ab[i - j, j] = A[i, j] for i ≥ j
    low = P.row >= P.col
    ab[P.row[low] - P.col[low], P.col[low]] = P.data[low]
    return eigvals_banded(ab, lower=True)


def _extremes_sparse(F1, symmetric):
    k = 1
    if symmetric:
        hi = spla.eigsh(F1, k=k, which="LA", return_eigenvectors=False)
        lo = spla.eigsh(F1, k=k, which="SA", return_eigenvectors=False)
        return np.concatenate([lo, hi]).astype(complex)
    ev = spla.eigs(F1.astype(float), k=2, which="LR", return_eigenvectors=False)
    ev2 = spla.eigs(F1.astype(float), k=2, which="LM", return_eigenvectors=False)
    return np.concatenate([ev, ev2])


def conditions(system: PolynomialSystem, F1=None) -> dict:
    """The spectral quantities of one F_1 (used for the certificate and for symbolic scans)."""
    F1 = system.F[1] if F1 is None else F1
    n = F1.shape[0]
    symmetric = abs(F1 - F1.T).sum() <= 1e-12 * max(1.0, abs(F1).sum())
    ev = linear_spectrum(F1, symmetric)
    complete = ev is not None
    if ev is None:
        ev = _extremes_sparse(F1.tocsr(), symmetric)
    out = {"eigenvalues": ev, "symmetric": bool(symmetric), "complete": complete}
    if system.kind == "flow":
        absc = float(np.max(ev.real))
        S = 0.5 * (F1 + F1.T)
        if n <= DENSE_EIG_LIMIT:
            mu = float(np.linalg.eigvalsh(S.toarray()).max())
        else:
            mu = float(spla.eigsh(S, k=1, which="LA", return_eigenvectors=False)[0])
        out.update(spectral_abscissa=absc, log_norm=mu, dissipative=absc < 0,
                   modes=(ev.real < 0))
    else:
        rho = float(np.max(np.abs(1 + ev)))
        I = sp.identity(n, format="csr")
        if symmetric:
            norm = rho if complete else rho
        else:
            norm = spectral_norm(I + F1)
        out.update(spectral_radius=rho, transfer_norm=norm, dissipative=rho < 1,
                   modes=(np.abs(1 + ev) < 1))
    return out


# ----------------------------------------------------------------------------- certificate

def certify(system: PolynomialSystem, model: CheckedModel | None = None, *, values=None,
            carleman_order: int | None = None, basis: str = "kronecker", steps: int | None = None) -> Certificate:
    """All checks of docs/maths.md for one numeric system (plus symbolic intervals when `model` has
    symbolic constants without values). Linear algebra that breaks down on the model's numbers
    (coefficients near the float64 range: eigenvalues that do not converge, overflowing Gram
    matrices) becomes diagnostic E0223."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return _certify(system, model, values=values, carleman_order=carleman_order, basis=basis,
                            steps=steps)
    except (np.linalg.LinAlgError, spla.ArpackError, spla.ArpackNoConvergence, ValueError) as exc:
        big = max((float(abs(f).max()) for f in system.F if f.nnz), default=0.0)
        raise CompileError(Diagnostic("E0223", f"the certificate's linear algebra failed ({exc}); the "
                                               f"largest coefficient of the update is {big:.3g}",
                                      model.decl.name_span or model.decl.span if model is not None else None,
                                      file=system.model,
                                      help="rescale the parameters, data or constants")) from None


def _certify(system, model, *, values, carleman_order, basis, steps) -> Certificate:
    values = dict(values or {})
    c = conditions(system)
    ev = c["eigenvalues"]
    n = system.n
    d: dict = {"model": system.model, "kind": system.kind, "parameters": list(system.names),
               "n": n, "degree": system.degree, "exact_polynomial": bool(system.exact),
               "expansion_point": [float(v) for v in system.expansion_point],
               "dynamics": system.dynamics.to_dict()}
    d["eigenvalues_F1"] = _ev_json(ev)
    d["eigenvalues_complete"] = c["complete"]
    if system.kind == "flow":
        d["spectral_abscissa"] = c["spectral_abscissa"]
        d["log_norm"] = c["log_norm"]
        d["condition"] = "max Re λ(F_1) < 0"
    else:
        d["spectral_radius"] = c["spectral_radius"]
        d["transfer_norm"] = c["transfer_norm"]
        d["condition"] = "ρ(I + F_1) < 1"
    d["dissipative"] = bool(c["dissipative"])
    modes = c["modes"]
    frac = float(np.mean(modes)) if c["complete"] else None
    d["dissipative_fraction"] = frac
    d["status"] = ("dissipative" if c["dissipative"] else
                   "almost dissipative" if frac is not None and frac > 0 else "not dissipative")
    if system.kind == "sgd":
        worst = max(conditions(system, Ft[1])["spectral_radius"] for Ft in system.step_F)
        d["worst_step_spectral_radius"] = float(worst)
        d["full_batch"] = True

    # R (PNAS 2021), with higher degrees adding ‖F_ℓ‖‖u_in‖^{ℓ−1}
    norms = [float(np.linalg.norm(system.F[0].toarray()))] + [spectral_norm(f) for f in system.F[1:]]
    d["F_norms"] = norms
    u_in = float(np.linalg.norm(system.x0))
    d["u_in_norm"] = u_in
    lam1 = float(np.max(ev.real))
    d["lambda_1"] = lam1
    if lam1 >= 0:
        d["R"], d["R_reason"] = None, f"Re λ_1 = {lam1:.4g} ≥ 0: F_1 is not dissipative"
    elif u_in == 0:
        d["R"], d["R_reason"] = None, ("‖u_in‖ = 0 (the expansion point is the initial point): "
                                       "R divides by ‖u_in‖")
    else:
        num = norms[0] / u_in + sum(norms[l] * u_in ** (l - 1) for l in range(2, len(norms)))
        d["R"], d["R_reason"] = num / abs(lam1), None

    # R < 1 is the PNAS convergence criterion of continuous flows: for gd/sgd it is informational
    d["R_is_condition"] = system.kind == "flow"

    # learning-rate / step-size window
    d["lr_window"], d["lr_window_reason"] = _window(system, ev, c)

    # sparsity of F_ℓ, M and L
    sps = {f"F_{l}": sparsity(f) for l, f in enumerate(system.F)}
    sps.update(_lifted_sparsity(system, carleman_order, basis, steps))
    d["sparsity"] = sps
    d["s"] = max(v["s"] for v in sps.values() if v is not None)
    theta0 = system.theta0
    d["nonzero_initial_weights"] = int(np.count_nonzero(theta0))
    d["density_initial_weights"] = float(np.count_nonzero(theta0) / max(n, 1))
    if values:
        d["values"] = {k: float(v) for k, v in values.items()}
    if model is not None:
        open_syms = [k for k in model.symbols if k not in values]
        if open_syms:
            from .symbolic import solve_symbolic
            d.update(solve_symbolic(model, system, open_syms, values))
    return Certificate(d)


def _ev_json(ev):
    if np.all(np.abs(ev.imag) <= 1e-12 * max(1.0, float(np.max(np.abs(ev))) if ev.size else 1.0)):
        return [float(x) for x in np.sort(ev.real)]
    order = np.lexsort((ev.imag, ev.real))
    return [[float(ev[i].real), float(ev[i].imag)] for i in order]


def _window(system, ev, c):
    """Learning rates (discrete, loss) or Euler steps dt (flow) for which every mode decays."""
    if system.kind == "flow":
        if np.any(ev.real >= 0):
            return None, "some eigenvalue of F_1 has Re λ ≥ 0: no step size makes every mode decay"
        dtmax = float(np.min(-2 * ev.real / np.abs(ev) ** 2))
        return [0.0, dtmax], f"Euler steps dt ∈ (0, {dtmax:.6g}) keep |1 + dt·λ| < 1"
    if system.kind in ("momentum", "nesterov"):
        return None, (f"{system.kind}: the stable learning rates depend on β as well; ρ(I + F_1) of the "
                      "joint (θ, v) map above is the condition")
    lr = system.dynamics.lr
    if not lr or "polynomial_rhs" not in system.meta and lr is None:
        return None, "no learning rate"
    h = -ev.real / lr  # Hessian eigenvalues (for a loss)
    if not c["symmetric"]:
        return None, "F_1 is not symmetric (not a gradient system)"
    if np.min(h) <= 0:
        k = int(np.sum(h <= 0))
        return None, f"the Hessian has {k} non-positive eigenvalue(s): no learning rate makes every mode decay"
    hi = float(2 / np.max(h))
    return [0.0, hi], f"0 < lr < 2/λ_max(H) = {hi:.6g}"


def _lifted_sparsity(system, order, basis, steps):
    """Sparsity of the transfer matrix M and of L when they are small enough to build quickly
    (the size is checked before building; over the certificate's budget they are reported as
    null rather than built)."""
    if order is None:
        return {}
    from ..diagnostics import SizeLimitError
    from ..lowering.carleman import carleman, guard
    from ..lowering.history import history_system

    T = steps or system.dynamics.steps
    try:
        dim, nnz = guard(system, order, basis, max_dim=LIFT_BUDGET_DIM, max_nnz=LIFT_BUDGET_NNZ)
    except SizeLimitError:
        return {"M": None, "L": None}
    car = carleman(system, order, basis)
    out = {"M": sparsity(car.matrix), "L": None}
    if car.dim * (T + 1) <= LIFT_BUDGET_DIM:
        out["L"] = sparsity(history_system(car, T, kappa="none").matrix)
    return out


# ----------------------------------------------------------------------------- rendering

def render_certificate(d: dict) -> str:
    L = []
    add = L.append
    size = (f"n = {d['n']} state entries ({d['n'] // 2} parameter(s) and their velocities)"
            if d["kind"] in ("momentum", "nesterov") else f"n = {d['n']} parameter(s)")
    add(f"model {d['model']}: {d['kind']}, {size}, update degree {d['degree']}"
        + ("" if d.get("exact_polynomial", True) else " (Taylor-truncated)"))
    if d.get("values"):
        add("  values: " + ", ".join(f"{k} = {v:g}" for k, v in d["values"].items()))
    if d.get("evaluated_at"):
        add("  numbers below at " + ", ".join(f"{k} = {v:g}" for k, v in d["evaluated_at"].items())
            + " (domain midpoint; --set to choose)")
    ev = d["eigenvalues_F1"]
    shown = ev if len(ev) <= 8 else ev[:4] + ["…"] + ev[-4:]
    fmt = lambda x: x if isinstance(x, str) else (f"{x:.6g}" if not isinstance(x, list) else f"{x[0]:.4g}{x[1]:+.4g}i")
    rows = [("eigenvalues of F_1", "[" + ", ".join(fmt(x) for x in shown) + "]")]
    if d["kind"] == "flow":
        rows += [("spectral abscissa max Re λ(F_1)", f"{d['spectral_abscissa']:.6g}", "< 0"),
                 ("log-norm μ₂(F_1)", f"{d['log_norm']:.6g}", "< 0")]
    else:
        rows += [("spectral radius ρ(I + F_1)", f"{d['spectral_radius']:.6g}", "< 1"),
                 ("norm ‖I + F_1‖₂", f"{d['transfer_norm']:.6g}", "< 1")]
        if "worst_step_spectral_radius" in d:
            rows.append(("worst single sgd step ρ", f"{d['worst_step_spectral_radius']:.6g}", "< 1"))
    frac = d["dissipative_fraction"]
    rows.append(("dissipative modes", "n/a" if frac is None else f"{frac:.1%}", "100 %"))
    R_text = f"{d['R']:.6g}" if d["R"] is not None else f"null — {d['R_reason']}"
    if d["kind"] == "flow":
        rows.append(("R (PNAS)", R_text, "< 1"))
    else:
        # R < 1 is PNAS's criterion for continuous flows; for a discrete map it is no condition
        # (ρ(I + F_1) above is), so it is shown without a mark
        rows.append(("R (PNAS, flows)", f"{R_text}   (the continuous-time criterion: not a condition "
                                         f"of {d['kind']})"))
    win = d["lr_window"]
    rows.append(("lr window" if d["kind"] != "flow" else "Euler dt window",
                 f"({win[0]:g}, {win[1]:.6g})" if win else f"none — {d['lr_window_reason']}"))
    for k, v in d["sparsity"].items():
        if v is None:
            rows.append((f"sparsity of {k}", "not built (over the size limit)"))
        else:
            rows.append((f"sparsity of {k}", f"s = {v['s']} (row {v['row']}, col {v['col']}, nnz {v['nnz']})"))
    rows.append(("nonzero initial weights", f"{d['nonzero_initial_weights']} of {d['n']}"))
    w = max(len(r[0]) for r in rows)
    for r in rows:
        line = f"  {r[0]:<{w}}  {r[1]}"
        if len(r) > 2:
            ok = _holds(r)
            line += f"   (want {r[2]}){'' if ok is None else ('  ✓' if ok else '  ✗')}"
        add(line)
    for name, info in (d.get("symbolic_conditions") or {}).items():
        add(f"  {name}: dissipative for {name} ∈ {_fmt_intervals(d['symbolic'][name])}"
            f"   [{info['method']}]" + (f"   exact: {info['exact']}" if info.get("exact") else ""))
        if info.get("norm") is not None and info.get("norm") != d['symbolic'][name]:
            add(f"  {name}: ‖I + F_1‖₂ < 1 for {name} ∈ {_fmt_intervals(info['norm'])}")
    verdict = d["status"]
    if d.get("symbolic"):
        sym = d["symbolic"]
        if d["dissipative"]:
            verdict = "dissipative on the whole domain"
        elif all(sym.values()):
            verdict = "dissipative only for " + "; ".join(f"{k} ∈ {_fmt_intervals(v)}" for k, v in sym.items())
        else:
            verdict = "not dissipative for any value of " + ", ".join(k for k, v in sym.items() if not v)
    add(f"verdict: {verdict}")
    return "\n".join(L)


def _holds(r):
    try:
        v = float(r[1])
    except ValueError:
        return None
    return v < float(r[2].split()[-1].replace("%", "")) if "<" in r[2] else None


def _fmt_intervals(ivs):
    if not ivs:
        return "∅ (no value)"
    return " ∪ ".join(f"({a:.6g}, {b:.6g})" for a, b in ivs)
