r"""End-to-end cost: what it takes to get θ_T out of the quantum solver, not one attempt of it.

One attempt of the QSVT circuit (`backends.resources`) prepares the normalized history state
|Y⟩ = Y/‖Y‖ only when its flags read 0 — probability p_s — and θ_T sits in the final block
(probability P_T) as *ratios* of amplitudes, θ_T,i − θ*_i = Y_{T,u_i}/Y_{T,1}. Getting the numbers
out costs (docs/resources.md#end-to-end-cost, every formula there with its source):

* **the readout's amplification** — the ratio's error is the amplitude error times
  A = 1/|a_1| (a_1 the constant component's amplitude): through the whole state A_T = ‖Y‖/|Y_{T,1}|,
  or, post-selecting the final block first, ‖y_T‖. For an ℓ∞ amplitude error δ,
  |r̂ − r| ≤ δ(1 + |r|)/(|a_1| − δ), so δ = ε_θ|a_1|/(1 + |r| + ε_θ) meets ε_θ exactly;
* **the state error each call needs** — part f of that δ (the rest to the samples), through the
  post-selection of the final block (2ε_s/√P_T, `tolerances.postselected_error`), and the degree
  of that state error;
* **p_s and P_T** — exact at compiled sizes, from the compiled system's own solution Y = L⁻¹B and
  the SVD of L/α (`qsvt.qsvt_solution_error`); in projections certified bounds:
  T+1+p ≤ ‖Y‖² ≤ ‖y_0‖²·Σ_t ρ^{2 min(t,T)} (every block's constant component is 1; ρ an upper
  bound on ‖M_t‖₂), p_s ≥ (s_P(1−δ_m))²·α²‖Y‖²/‖B‖² with s_P ≥ max|P|/sup_bound the polynomial's
  scale (`poly_scale_bounds`);
* **amplitude amplification** — exact (Brassard, Høyer, Mosca, Tapp 2002) when the good
  probability g is known exactly (at compiled sizes: the circuit's own output's weight on the
  final blocks, from the SVD): R rounds minimizing (2R+1)/sin²((2R+1)·asin √g); fixed-point
  (Yoder, Low, Chuang, PRL 113, 210501 (2014)) when only g ≥ w is known: L = 2l+1 ≥ ln(2/δ)/√w
  calls, success ≥ 1 − δ², δ = 1/2;
* **samples** — all of θ_T or its K largest: ℓ∞ tomography (Kerenidis, Landman, Prakash, ICLR
  2020, arXiv:1911.01117, its ℓ∞ tomography, after Kerenidis–Prakash 2020): N = ⌈36 ln d/δ²⌉
  copies for the magnitudes and N more of the controlled preparation for the signs, success
  ≥ 1 − 1/d^0.83; a linear functional w·θ_T (‖w‖ = 1): amplitude estimation (Brassard et al. 2002,
  Thm. 12: |P̂ − P| ≤ 2π√(P(1−P))/M + π²/M² with probability ≥ 8/π²) of three probabilities
  P_±, P_1, each the median of R_med runs (Hoeffding: failure ≤ e^{−2R(8/π² − ½)²});
* **idle steps p** — chosen, among a few candidates, to minimize the total;
* the total — calls × one attempt + the reflections of every amplification round + the controlled
  attempt of every sign copy + the state preparations the readout needs — and its surface-code
  estimate (`backends.physical`, the code distance chosen for the whole run).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["end_to_end", "parse_output", "tomography_copies", "amplification", "qae_calls",
           "median_runs", "poly_scale_bounds", "ratio_budget", "controlled_overhead",
           "KLP_CONSTANT", "FAILURE_BUDGET"]

#: ℓ∞ tomography: N = KLP_CONSTANT·ln d/δ² copies (Kerenidis, Landman, Prakash 2020, ℓ∞ tomography)
KLP_CONSTANT = 36
#: probability that the readout fails (amplitude estimation's medians); tomography's own is 1/d^0.83
FAILURE_BUDGET = 0.01
#: fixed-point amplitude amplification's δ (success ≥ 1 − δ²): minimizes ln(2/δ)/(1 − δ²) nearly
FPAA_DELTA = 0.5
#: the split candidates f (share of the amplitude error budget given to the state, the rest to
#: the samples)
SPLITS = (0.3, 0.1, 0.03)


# ---------------------------------------------------------------------------------------------
# the formulas, each on its own (tests recompute them by hand)
# ---------------------------------------------------------------------------------------------

def parse_output(output) -> tuple[str, int | None]:
    """("all", None), ("top", K) or ("functional", None) from "all" | "top:K" | "functional"."""
    from qdsl.diagnostics import CompileError, Diagnostic

    text = str(output).strip()
    if text in ("all", "functional"):
        return text, None
    if text.startswith("top:"):
        try:
            k = int(text[4:])
        except ValueError:
            k = 0
        if k >= 1:
            return "top", k
    raise CompileError(Diagnostic("E0610", f"unknown output `{text}`",
                                  help="use --output all, --output top:K (K ≥ 1) or --output functional"))


def check_precision(precision) -> float:
    """ε_θ as a float in (0, 1), else E0611."""
    from qdsl.diagnostics import CompileError, Diagnostic
    try:
        eps = float(precision)
    except (TypeError, ValueError):
        eps = float("nan")
    if not (math.isfinite(eps) and 0 < eps < 1):
        raise CompileError(Diagnostic("E0611", f"--precision must be in (0, 1), not {precision}",
                                      help="e.g. --precision 1e-3 (absolute error on each θ_T entry)"))
    return eps


def ratio_budget(eps_theta: float, a1: float, r: float) -> float:
    r"""The ℓ∞ amplitude error δ that keeps |r̂ − r| ≤ ε_θ for r = a_u/a_1: from
    |r̂ − r| = |e_u − r·e_1|/|a_1 + e_1| ≤ δ(1 + |r|)/(|a_1| − δ), δ = ε_θ|a_1|/(1 + |r| + ε_θ)."""
    return float(eps_theta) * float(a1) / (1.0 + float(r) + float(eps_theta))


def tomography_copies(dim: int, delta: float) -> int:
    """N = ⌈36 ln d / δ²⌉: ℓ∞ tomography of a d-dimensional state to δ (Kerenidis–Landman–Prakash 2020)."""
    return int(math.ceil(KLP_CONSTANT * math.log(max(int(dim), 2)) / float(delta) ** 2))


def amplification(g: float, exact: bool) -> dict:
    r"""Amplitude amplification of a good probability g (exact) or of g ≥ w (a bound).

    Exact: R rounds (2R+1 calls), success sin²((2R+1)θ), θ = asin √g, R minimizing the expected
    calls (2R+1)/sin²((2R+1)θ). Bound: fixed-point (Yoder–Low–Chuang 2014): L = 2l+1 calls with
    L ≥ ln(2/δ)/√w, success ≥ 1 − δ² for every g ≥ w."""
    g = min(max(float(g), 1e-300), 1.0)
    if exact:
        th = math.asin(math.sqrt(g))
        top = int(math.ceil(math.pi / (4 * th))) + 1
        R = np.arange(0, top + 1)
        succ = np.sin((2 * R + 1) * th) ** 2
        with np.errstate(divide="ignore"):
            cost = np.where(succ > 0, (2 * R + 1) / np.maximum(succ, 1e-300), np.inf)
        i = int(np.argmin(cost))
        return {"method": "exact (Brassard–Høyer–Mosca–Tapp 2002)", "rounds": int(R[i]),
                "calls": int(2 * R[i] + 1), "success": float(succ[i]),
                "expected_calls": float(cost[i]), "good_probability": g}
    L = math.ceil(math.log(2 / FPAA_DELTA) / math.sqrt(g))
    L += 1 - L % 2
    succ = 1 - FPAA_DELTA ** 2
    return {"method": "fixed-point (Yoder–Low–Chuang 2014), δ = 1/2", "rounds": (L - 1) // 2,
            "calls": int(L), "success": succ, "expected_calls": L / succ, "good_probability": g}


def qae_calls(p_hi: float, delta_p: float) -> int:
    r"""M such that amplitude estimation with M Grover iterates has |P̂ − P| ≤ δ (BHMT Thm. 12:
    2π s/M + π²/M² ≤ δ with s = √(P(1−P)) ≤ √p_hi): M = ⌈π/(√(s²+δ) − s)⌉."""
    s = math.sqrt(max(0.0, min(float(p_hi), 1.0) * (1 - min(float(p_hi), 0.5))))
    s = max(s, 0.0)
    return int(math.ceil(math.pi / (math.sqrt(s * s + delta_p) - s)))


def median_runs(eta: float, estimates: int) -> int:
    """R (odd) with e^{−2R(8/π² − 1/2)²} ≤ η/estimates: the median of R runs of amplitude
    estimation (each right with probability ≥ 8/π²) fails with probability ≤ η/estimates."""
    gap = 8 / math.pi ** 2 - 0.5
    R = math.ceil(math.log(estimates / eta) / (2 * gap * gap))
    return int(R + 1 - R % 2)


def poly_scale_bounds(kappa_prime: float, degree: int, max_abs: float = 0.9) -> tuple[float, float, str]:
    r"""(lower, upper) bounds on the scale s_P of qdsl's 1/x polynomial P = s_P·(1 − q(x))/x
    (`qsp.inverse_polynomial`: s_P = max_abs/sup|(1−q)/x|), without building it.

    sup ≥ (1 − δ_m)κ′ (the value near x = 1/κ′); sup ≤ max((1+δ_m)κ′, m) (on [1/κ′, 1]
    |(1−q)/x| ≤ (1+δ_m)/x; below, by the convexity of T_m, (1−q)/x ≤ m), or, for degrees up to
    10^6, the grid maximum over θ (x = cos θ) divided by 1 − h·d/2 (Bernstein: |dP/dθ| ≤ d·max; 8(d+1) points, a margin ≤ 1/(1 − π/32))."""
    from qdsl.synthesis.qsp import _residual_ratio, relative_error_bound

    kp = float(kappa_prime)
    if kp <= 1.0:
        return max_abs, max_abs, "κ′ = 1"
    m = (int(degree) + 1) // 2
    dm = relative_error_bound(kp, m)
    lo_sup = (1 - dm) * kp
    hi_sup, how = max((1 + dm) * kp, float(m)), "max((1+δ_m)κ′, m)"
    d = int(degree)
    if d <= 1_000_000:
        npts = 8 * (d + 1)
        h = (math.pi / 2) / npts
        th = (np.arange(npts) + 0.5) * h
        x = np.cos(th)
        f = (1.0 - _residual_ratio(x, 1.0 / kp, m)) / x
        grid = float(np.max(np.abs(f))) / (1 - h * d / 2)
        if grid < hi_sup:
            hi_sup, how = grid, "grid maximum with Bernstein's margin"
    return max_abs / hi_sup, max_abs / lo_sup, how


#: extra T states when one gate is controlled by one more qubit (an upper bound per gate kind):
#: X, Z, CX → CX, CZ, CCX (Clifford, Clifford, a Toffoli: 4); H, S, S† → ≤ one Toffoli-equivalent
#: (4); T, T† and rotations → two rotations; CCX → C³X through one temporary AND (4, Gidney 2018)
_CONTROLLED_EXTRA = {"x": 0, "z": 0, "cx": 4, "ccx": 4, "h": 4, "s": 4, "sdg": 4}


def controlled_overhead(counts, eps: float) -> float:
    """T states added to a circuit of native `counts` when every gate is controlled by one qubit
    (`_CONTROLLED_EXTRA`; T gates and rotations become two rotations each)."""
    from .resources import t_per_rotation

    rot = counts.get("ry", 0) + counts.get("rz", 0) + counts.get("t", 0) + counts.get("tdg", 0)
    extra = sum(v * counts.get(k, 0) for k, v in _CONTROLLED_EXTRA.items())
    if rot:
        extra += 2 * rot * t_per_rotation(eps / (2 * rot)) - (counts.get("t", 0) + counts.get("tdg", 0))
    return float(extra)


def dense_prep_cost(k: int, width: int, access: str, b: int):
    """A state preparation of k nonzero amplitudes on `width` qubits: a pruned Möttönen tree of
    min(2^w − 1, (k+1)·w) rotations and as many CNOTs (the projection's rule for the initial
    state), or, under QRAM, w looked-up angles (2w·w + b·w Toffolis, and one per stored angle
    under "qram-counted"); free under "qram-free"."""
    from qdsl.synthesis.blocks.cost import Cost

    w = max(1, int(width))
    if access == "qram-free":
        return Cost()
    if access in ("qram", "qram-counted"):
        return Cost(ccx=2 * w * w + b * w + (min(int(k), 1 << min(w, 62)) if access == "qram-counted" else 0),
                    ry=w, cx=w)
    rot = min((1 << w) - 1, (int(k) + 1) * w) if w < 4000 else (int(k) + 1) * w
    return Cost(ry=rot, cx=rot)


# ---------------------------------------------------------------------------------------------
# the solution's norms: exact at compiled sizes, bounds in projections
# ---------------------------------------------------------------------------------------------

def _exact_norms(ls) -> dict:
    """Norms of the compiled system's exact solution (idle blocks repeat y_T, so any p follows)."""
    Yb = ls.blocks(ls.solve())
    T = ls.steps
    yt2 = np.sum(Yb[: T + 1] ** 2, axis=1)
    yT = Yb[T]
    u = yT[np.asarray(ls.theta_index)] / yT[ls.const_index]
    rest = float(np.sum(yt2[:T]))
    return {"exact": True, "rest": (rest, rest), "yT2": (float(yt2[T]),) * 2,
            "const_T": float(yT[ls.const_index]), "B2": float(np.dot(ls.rhs, ls.rhs)),
            "U_max": float(np.max(np.abs(u))) if u.size else 0.0,
            "U_norm": float(np.linalg.norm(u)),
            "source": "exact (the compiled system's solution Y = L⁻¹B)"}


def _bound_norms(ls, T: int) -> dict:
    """Certified bounds at T steps from ρ ≥ max ‖M_t‖₂ and ‖y_0‖ (kept from the compiled model)."""
    from qdsl.lowering.history import transfer_norm_bound

    rho = max(transfer_norm_bound(M)[0] for M in ls.transfers)
    B2 = float(np.dot(ls.rhs, ls.rhs))
    r2 = rho * rho
    if abs(r2 - 1) < 1e-12:
        geo = float(T)
    elif r2 < 1:
        geo = (1 - r2 ** T) / (1 - r2)
    else:
        geo = (r2 ** T - 1) / (r2 - 1) if T * math.log(r2) < 700 else math.inf
    yT2_hi = max(B2 * r2 ** T if T * math.log(max(r2, 1e-300)) < 700 else math.inf, 1.0)
    u_hi = math.sqrt(max(yT2_hi - 1, 0.0))
    return {"exact": False, "rest": (float(T), max(B2 * geo, float(T))), "yT2": (1.0, yT2_hi),
            "const_T": 1.0, "B2": B2, "U_max": u_hi, "U_norm": u_hi, "rho": rho,
            "source": (f"bounds: every block's constant component is 1 (‖Y‖² ≥ T+1+p, ‖y_T‖ ≥ 1); "
                       f"‖y_t‖ ≤ ρ^t‖y_0‖, ρ = {rho:.6g} ≥ max‖M_t‖₂ at the compiled size (kept); "
                       f"‖y_0‖² = {B2:.6g} kept from the compiled model")}


def _with_idle(norms: dict, p: int) -> dict:
    """‖Y‖², P_T = (p+1)‖y_T‖²/‖Y‖², A_T = ‖Y‖/|Y_{T,1}| for p idle steps: (low, high) each."""
    (r_lo, r_hi), (y_lo, y_hi) = norms["rest"], norms["yT2"]
    Y2 = (r_lo + (p + 1) * y_lo, r_hi + (p + 1) * y_hi)
    PT = ((p + 1) * y_lo / (r_hi + (p + 1) * y_lo), (p + 1) * y_hi / (r_lo + (p + 1) * y_hi))
    c = abs(norms["const_T"])
    AT = (math.sqrt(Y2[0]) / c, math.sqrt(Y2[1]) / c)
    return {"Y2": Y2, "P_T": PT, "A_T": AT}


# ---------------------------------------------------------------------------------------------
# one attempt at a requested state error: exact at compiled sizes, projected (bounds) elsewhere
# ---------------------------------------------------------------------------------------------

class _Attempts:
    """attempt(p, eps_s) → degree, counts (a Cost), κ′, α, p_s (low, high, exact?), flags, time
    qubits; exact at compiled sizes under the built access model, else the projection."""

    def __init__(self, c, n, T, access, exact):
        self.c, self.n, self.T, self.access, self.exact = c, int(n), int(T), access, exact
        self._ls, self._enc, self._svd, self._memo, self._scale = {}, {}, {}, {}, {}

    def _system(self, p):
        from qdsl.lowering.history import history_system
        if p not in self._ls:
            c = self.c
            ls = c.linear_system if p == c.idle else history_system(c.carleman, self.T, p, kappa="none")
            if c.construction == "structured":
                from qdsl.synthesis.structured import structured_history
                enc = structured_history(c.system, ls, c.order, build=False)
            elif c.construction == "sparse-access":
                from qdsl.synthesis.structured import sparse_access_history
                enc = sparse_access_history(ls, build=False)
            else:
                enc = c.encoding
            self._ls[p], self._enc[p] = ls, enc
            self._svd[p] = np.linalg.svd(ls.matrix.toarray())
        return self._ls[p], self._enc[p], self._svd[p]

    def exact_ok(self, p) -> bool:
        from qdsl.synthesis.qsvt import EXACT_ERROR_DIM
        c = self.c
        if not self.exact:
            return False
        if p != c.idle and c.construction == "dense":
            return False
        return (self.T + 1 + p) * int(c.linear_system.block_dim) <= EXACT_ERROR_DIM

    def __call__(self, p, eps_s, norms_p):
        key = (p, float(eps_s))
        if key in self._memo:
            return self._memo[key]
        if self.exact_ok(p):
            out = self._exact(p, eps_s)
        else:
            out = self._bound(p, eps_s, norms_p)
        self._memo[key] = out
        return out

    def _exact(self, p, eps_s):
        from qdsl.synthesis.qsvt import qsvt_cost, qsvt_plan
        ls, enc, svd = self._system(p)
        plan = qsvt_plan(ls, enc.alpha, eps=eps_s, readout_tol=math.inf, svd=svd)
        d = plan["degree"]
        counts = qsvt_cost(enc, ls, d)
        ps = float(plan["achieved"]["success_probability"])
        # the circuit's own output x = P^{SV}(A†)·b̂ block by block: its weight on the final
        # blocks t ≥ T is the exact good probability of "flags 0 and t ≥ T"
        from numpy.polynomial import chebyshev
        W, sv, Vh = svd
        b = np.asarray(ls.rhs, dtype=float)
        x = Vh.T @ (chebyshev.chebval(sv / enc.alpha, plan["poly"].coeffs) * (W.T @ (b / np.linalg.norm(b))))
        g_final = float(np.sum(ls.blocks(x)[ls.steps:] ** 2))
        return {"g_final": g_final,"degree": d, "counts": counts, "kappa_prime": plan["kappa_prime"],
                "kappa_source": plan["inverse_norm_source"], "alpha": float(enc.alpha),
                "p_s": (ps, ps), "p_s_source": "exact (‖P(A†)b‖² from the SVD of L/α)",
                "flags": len(enc.ancillas), "time_qubits": max(1, int(ls.num_blocks - 1).bit_length()),
                "qubits": int(counts.qubits), "exact": True, "entry_bits": 0,
                "state_error": float(plan["achieved"]["state_error"])}

    def _bound(self, p, eps_s, norms_p):
        from qdsl.synthesis.projection import project
        from qdsl.synthesis.qsp import relative_error_bound
        pr = project(self.c, params=self.n, steps=self.T, eps=eps_s, access=self.access, idle=p)
        kp, alpha, d = float(pr["kappa_prime"]), float(pr["alpha"]), int(pr["degree"])
        if (kp, d) not in self._scale:
            self._scale[(kp, d)] = poly_scale_bounds(kp, d)
        s_lo, s_hi, how = self._scale[(kp, d)]
        dm = relative_error_bound(kp, (d + 1) // 2)
        B2 = self.B2
        Y2 = norms_p["Y2"]
        ps_lo = min(1.0, (s_lo * (1 - dm)) ** 2 * alpha ** 2 * Y2[0] / B2)
        ps_hi = min(1.0, (s_hi * (1 + dm)) ** 2 * alpha ** 2 * Y2[1] / B2)
        return {"degree": d, "counts": pr["counts"], "kappa_prime": kp, "kappa_source": pr["kappa_source"],
                "alpha": alpha, "p_s": (ps_lo, ps_hi),
                "p_s_source": f"bounds (s_P(1∓δ_m))²α²‖Y‖²/‖B‖², s_P from {how}",
                "flags": int(pr["sizes"]["flag_qubits"]), "time_qubits": int(pr["sizes"]["time_qubits"]),
                "qubits": int(pr["sizes"]["logical_qubits"]), "exact": False,
                **({"qroam_data_qubits": int(pr["sizes"]["qroam_data_qubits"])}
                   if "qroam_data_qubits" in pr["sizes"] else {}),
                "entry_bits": int(pr["entry_bits"] or 0), "state_error": None}


class _HHLAttempts:
    r"""HHL (walk variant) at the compiled size: attempt(p, eps_s) → the compiled circuit re-made
    with the smallest clock c whose certified state error 2δ(c, κ̂) ≤ eps_s (`hhl.choose_clock`;
    same block-encoding, α, C), its counts (`hhl.walk_attempt_cost`: the compiled circuit's own
    preparation and walk step, the clock's blocks by their cost functions, checked equal to the
    circuit at its own clock) and its exact output g(H)b̂ (`hhl.walk_output`): p_s = ‖g(H)b̂‖², the
    final blocks' weight and the achieved state error — all exact, from the SVD of L. The idle
    steps are the compiled circuit's (its history system)."""

    def __init__(self, c):
        from qdsl.diagnostics import CompileError, Diagnostic
        from qdsl.synthesis.qsvt import EXACT_ERROR_DIM
        self.c, self.prog = c, c.program
        meta = self.prog.meta
        if meta.get("variant") != "walk":
            raise CompileError(Diagnostic(
                "E0632", "the end-to-end cost of HHL models its walk variant (phase estimation on the "
                         "block-encoding's walk); the oracle variant reads its inversion table from a "
                         "classical eigendecomposition and synthesizes e^{iHt} densely",
                help="compile with the walk variant (the default), or use --solver qsvt"))
        ls = c.linear_system
        if int(ls.dim) > EXACT_ERROR_DIM:
            raise CompileError(Diagnostic(
                "E0631", f"HHL's end-to-end cost needs its exact output (an SVD of L, dimension "
                         f"{ls.dim}), above the exact evaluation's {EXACT_ERROR_DIM}; HHL has no "
                         f"projection (E0630)",
                help="use --solver qsvt (its end-to-end cost is bounded in projections)"))
        self.ls = ls
        self.svd = np.linalg.svd(ls.matrix.toarray())
        Y = ls.solve()
        self.y_hat = Y / np.linalg.norm(Y)   # the normalized solution every attempt is measured against
        self._memo = {}

    def exact_ok(self, p) -> bool:
        return p == self.c.idle

    def __call__(self, p, eps_s, norms_p):
        from qdsl.diagnostics import CompileError, Diagnostic
        from qdsl.synthesis.hhl import (MAX_RESPONSE_CLOCK, choose_clock, solution_error_bound,
                                        walk_attempt_cost, walk_output)
        meta = self.prog.meta
        kh = float(meta["kappa_hat"])
        clock = choose_clock(kh, float(eps_s), max_clock=MAX_RESPONSE_CLOCK)
        if clock is None:
            raise CompileError(Diagnostic(
                "E0633", f"HHL would need more than {MAX_RESPONSE_CLOCK} clock bits for the state error "
                         f"{eps_s:.3g} this output needs (κ̂ = α‖L⁻¹‖ = {kh:.4g}; c ≈ log₂(2πκ̂/√ε))",
                help="ask for a coarser --precision, or use --solver qsvt (its degree grows as log(1/ε))"))
        if clock in self._memo:
            return self._memo[clock]
        counts = walk_attempt_cost(self.prog, clock)
        x, ps = walk_output(self.ls, self.prog, clock, svd=self.svd)
        ls = self.ls
        err = float(np.linalg.norm(x / math.sqrt(ps) - self.y_hat))
        calls = 4 * ((1 << clock) - 1)
        out = {"g_final": float(np.sum(ls.blocks(x)[ls.steps:] ** 2)), "degree": calls,
               "clock": clock, "counts": counts, "kappa_prime": kh,
               "kappa_source": meta.get("inverse_norm_source", "measured"), "alpha": float(meta["alpha"]),
               "p_s": (ps, ps), "p_s_source": "exact (‖g(H)b̂‖², g the walk's inversion response, from the "
                                               "SVD of L)",
               "flags": len(self.prog.postselect),
               "time_qubits": max(1, int(ls.num_blocks - 1).bit_length()),
               "qubits": int(counts.qubits), "exact": True, "entry_bits": 0, "state_error": err,
               "state_error_bound": solution_error_bound(clock, kh)}
        self._memo[clock] = out
        return out


# ---------------------------------------------------------------------------------------------
# the readout routes and the total
# ---------------------------------------------------------------------------------------------

def _tstates(cost, eps) -> float:
    from .resources import t_states
    d = cost.to_dict() if hasattr(cost, "to_dict") else dict(cost)
    rot = int(d.get("ry", 0) + d.get("rz", 0))
    return float(t_states(d, rot, eps)[0]) if d else 0.0


def _toffolis(cost) -> float:
    return float(cost.get("ccx", 0))


def _reflections(att, extra_controls: int = 0):
    r"""One amplification round's two reflections: about the good subspace (flags all 0 and, for
    the final block, t ≥ T: a comparator of 2·m_t Toffolis and an MCX over flags + 1) and about
    the initial state (an MCX over every qubit), each with `extra_controls` more controls."""
    from qdsl.synthesis.blocks.cost import Cost
    from qdsl.synthesis.blocks.mcx import mcx_cost
    k1 = att["flags"] + 1 + extra_controls
    k0 = att["qubits"] + extra_controls
    return mcx_cost(k1, k1) + Cost(ccx=2 * att["time_qubits"]) + mcx_cost(k0, k0)


def _tomography(att, amp, N, dim, eps_s, access, n_sign_prep):
    """T states and calls of 2N copies (N magnitudes, N signs) of the amplified state; every
    amplified try of a sign copy has one controlled attempt and the reference branch's preparation
    (twice its T states: controlled)."""
    t1 = _tstates(att["counts"], eps_s)
    refl = _tstates(_reflections(att), eps_s)
    refl_c = _tstates(_reflections(att, 1), eps_s)
    rounds_per_copy = amp["expected_calls"] * amp["rounds"] / amp["calls"]
    width = max(1, int(dim - 1).bit_length())
    prep = _tstates(dense_prep_cost(n_sign_prep, width, access, max(1, att["entry_bits"])), eps_s)
    ctrl = controlled_overhead(att["counts"], eps_s)
    tries = amp["expected_calls"] / amp["calls"]     # amplified tries per copy (1/success)
    calls = 2 * N * amp["expected_calls"]
    parts = {"attempts": calls * t1,
             "amplification_reflections": N * rounds_per_copy * (refl + refl_c),
             "sign_control": N * tries * ctrl,
             "sign_preparation": N * tries * 2 * prep}
    return calls, parts


def _qae(att, M, R_med, eps_s, access, n, q_w):
    """T states and calls of 3 amplitude estimations (P_+, P_−, P_1), each the median of R_med
    runs of M Grover iterates (A, A† per iterate; only the reflections controlled)."""
    from qdsl.synthesis.blocks.cost import Cost
    t1 = _tstates(att["counts"], eps_s)
    wprep = _tstates(dense_prep_cost(n, q_w, access, max(1, att["entry_bits"])), eps_s)
    refl = _tstates(_reflections(att, 1), eps_s)
    m = max(1, int(M).bit_length())
    qft = _tstates(Cost(rz=m * (m - 1), cx=m * (m - 1), h=m), eps_s)
    runs = 3 * R_med
    calls = runs * (2 * M + 1)
    parts = {"attempts": calls * t1, "functional_preparation": calls * wprep,
             "amplification_reflections": runs * M * refl, "phase_estimation": runs * qft}
    return calls, parts, m


def _evaluate(kind, att_of, norms, p, f, eps, D, n, access, q_w):
    """One candidate (route, p, split f): its total T states and everything that led to them."""
    np_ = _with_idle(norms, p)
    rows = []
    if kind in ("all", "top"):
        r = norms["U_max"]
        # route 1: post-select the final block first (amplify flags and t ≥ T together)
        y_hi = norms["yT2"][1]
        a1 = abs(norms["const_T"]) / math.sqrt(y_hi)
        Delta = ratio_budget(eps, a1, r)
        eps_s = f * Delta * math.sqrt(np_["P_T"][0]) / 2
        att = att_of(p, eps_s, np_)
        exact_g = att["exact"] and norms["exact"]
        g = att["g_final"] if exact_g else att["p_s"][0] * np_["P_T"][0]
        amp = amplification(g, exact_g)
        N = tomography_copies(D, (1 - f) * Delta)
        calls, parts = _tomography(att, amp, N, D, eps_s, access, min(N, D))
        rows.append(("final block", att, eps_s, amp, N, calls, parts, D, Delta))
        # route 2: the whole history state, the ratio amplified by A_T
        a1w = 1.0 / np_["A_T"][1]
        Dw = ratio_budget(eps, a1w, r)
        eps_w = f * Dw
        attw = att_of(p, eps_w, np_)
        ampw = amplification(attw["p_s"][0], attw["exact"] and norms["exact"])
        dimw = (norms["T"] + 1 + p) * D
        Nw = tomography_copies(dimw, (1 - f) * Dw)
        callsw, partsw = _tomography(attw, ampw, Nw, dimw, eps_w, access, min(Nw, dimw))
        rows.append(("whole state", attw, eps_w, ampw, Nw, callsw, partsw, dimw, Dw))
        out = []
        for route, a, es, am, N_, cl, pa, dim, De in rows:
            out.append({"route": route, "p": p, "split": f, "attempt": a, "state_error": es,
                        "amplification": am, "copies": N_, "calls": cl, "parts": pa,
                        "t_states": sum(pa.values()), "dim": dim, "amplitude_budget": De,
                        "norms": np_})
        return out
    # a linear functional: amplitude estimation through A_T (the time register on T)
    r = norms["U_norm"]
    a1_lo, a1_hi = 1.0 / np_["A_T"][1], 1.0 / np_["A_T"][0]
    eps_s = ratio_budget(eps / 2, a1_lo, r)
    att = att_of(p, eps_s, np_)
    P1_lo = att["p_s"][0] * (a1_lo - eps_s) ** 2
    dP = ratio_budget(eps / 2, P1_lo, r + eps / 2)
    P_hi = min(1.0, att["p_s"][1] * (a1_hi * (1 + r) + 2 * eps_s) ** 2)
    M = qae_calls(P_hi, dP)
    R_med = median_runs(FAILURE_BUDGET, 3)
    calls, parts, m = _qae(att, M, R_med, eps_s, access, n, q_w)
    return [{"route": "amplitude estimation", "p": p, "split": 0.5, "attempt": att,
             "state_error": eps_s, "amplification": None, "copies": None, "calls": calls,
             "parts": parts, "t_states": sum(parts.values()), "dim": None,
             "qae": {"iterates": M, "median_runs": R_med, "estimates": 3, "phase_qubits": m,
                     "probability_error": dP, "P_1_lower": P1_lo, "P_upper": P_hi},
             "amplitude_budget": ratio_budget(eps, a1_lo, r), "norms": np_}]


def _sanitize(v):
    """Strict JSON: non-finite floats become None, tuples lists, Cost records dicts."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (np.floating, np.integer)):
        return _sanitize(v.item())
    if isinstance(v, dict):
        return {str(k): _sanitize(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_sanitize(x) for x in v]
    if hasattr(v, "to_dict"):
        return _sanitize(v.to_dict())
    return v


def idle_candidates(T: int, compiled: int) -> list[int]:
    """The idle-step counts tried: the compiled p, 0, T/2 and T."""
    return sorted({int(compiled), 0, max(1, T // 2), T})


def end_to_end(c, *, output: str = "all", precision: float = 1e-3, params=None, steps=None,
               access: str = "qrom", physical: str = "builtin", idle=None, splits=None,
               download=None) -> dict:
    r"""The end-to-end cost of getting `output` of θ_T ("all", "top:K" or "functional": w·θ_T for
    any unit w) to absolute precision `precision` (ℓ∞ on θ) out of Compilation `c`'s QSVT solver,
    at the compiled size or projected to n = `params`, T = `steps` under `access` (module
    docstring). `idle`: fix p instead of choosing it; `splits`: the state/sample splits tried;
    `physical`: "builtin", "qdk", or None (the algorithm's runtime only, for sweeps).
    `download`: a download interval K < T — train in ⌈T/K⌉ windows, each read out (all of θ) and
    re-uploaded as the next window's initial state (`_windows`).
    Returns a strict-JSON dict: per_call (one attempt), total, breakdown, the chosen route, p and
    every quantity that led to them, and the assumptions."""
    if download is not None:
        try:
            K = int(download)
        except (TypeError, ValueError):
            K = 0
        T_ = int(steps) if steps is not None else int(c.system.dynamics.steps)
        if K < 1 or K != download:
            from qdsl.diagnostics import CompileError, Diagnostic
            raise CompileError(Diagnostic("E0614", f"--download must be a positive whole number of steps, "
                                                   f"not {download}", help="e.g. --download 10"))
        if K < T_:
            return _windows(c, output=output, precision=precision, params=params, T=T_, K=K,
                            access=access, physical=physical)
    from qdsl.diagnostics import CompileError, Diagnostic
    from qdsl.lowering.carleman import carleman_dimension

    kind, K = parse_output(output)
    eps = check_precision(precision)
    if c.solver not in ("qsvt", "hhl"):
        raise CompileError(Diagnostic("E0612", "the end-to-end cost models the QSVT and HHL solvers",
                                      help="use --solver qsvt or --solver hhl"))
    hhl = c.solver == "hhl"
    system = c.system
    n0, T0 = int(system.n), int(system.dynamics.steps)
    n = int(params) if params is not None else n0
    T = int(steps) if steps is not None else T0
    at_compiled = n == n0 and T == T0
    exact = at_compiled and access == "qrom"
    if hhl and not exact:
        raise CompileError(Diagnostic(
            "E0630", "HHL's end-to-end cost is made at the compiled size under QROM only: one attempt is "
                     "the compiled circuit re-made with the clock the output needs, its controlled walk "
                     "step counted from that circuit — a controlled block-encoding that qdsl synthesizes "
                     "(a dense dilation by QSD, or a generic control of the built block) and has no cost "
                     "function for at another size or access model",
            help="drop --params/--steps/--access to cost HHL as compiled, or use --solver qsvt to project"))
    ls0 = c.linear_system
    norms = _exact_norms(ls0) if at_compiled else _bound_norms(ls0, T)
    norms["T"] = T
    att_of = _HHLAttempts(c) if hhl else _Attempts(c, n, T, access, exact)
    att_of.B2 = norms["B2"]
    D = carleman_dimension(n, int(c.order), c.basis)
    q_w = max(1, int(n).bit_length())
    ps = [int(idle)] if idle is not None else idle_candidates(T, int(c.idle))
    if hhl:     # its attempt is the compiled circuit: the compiled history system's idle steps
        ps = [int(c.idle)]
    if exact:   # at the compiled size: the candidates small enough for the exact evaluation
        ok = [p for p in ps if att_of.exact_ok(p)]
        if ok:
            ps = ok
    fs = (0.5,) if kind == "functional" else tuple(splits or SPLITS)
    cands = []
    for p in ps:
        for f in fs:
            cands += _evaluate(kind, att_of, norms, p, f, eps, D, n, access, q_w)
    best = min(cands, key=lambda r: r["t_states"])
    att = best["attempt"]
    routes = {}
    for r in cands:
        if r["p"] == best["p"] and r["split"] == best["split"]:
            routes[r["route"]] = r["t_states"]
    idles = {}
    for r in cands:
        if r["route"] == best["route"]:
            idles[r["p"]] = min(idles.get(r["p"], math.inf), r["t_states"])
    total_t = best["t_states"]
    per_call_t = _tstates(att["counts"], best["state_error"])
    toff_share = _toffolis(att["counts"]) * 4 / max(per_call_t, 1.0)
    extra_q = 1 if kind != "functional" else best["qae"]["phase_qubits"]
    memory = _memory(c, n, access, att)
    Q = att["qubits"] + extra_q + (memory["qroam_data_qubits"]
                                   if access == "qroam" and "qroam_data_qubits" not in att else 0)
    ph, ph_note = _run_physical(total_t, toff_share, Q, best["calls"], physical)
    one = _physical_one(att, best["state_error"], physical) if physical is not None else {}
    nv = best["norms"]
    download = {"all": n, "top": min(K or 0, n), "functional": 1}[kind]
    out = {
        "output": {"kind": kind, "K": K, "precision": eps,
                   "meaning": {"all": "every θ_T,i to ± precision (ℓ∞)",
                               "top": f"the {K} largest |θ_T,i − θ*_i|, each to ± precision",
                               "functional": "w·θ_T to ± precision for any unit vector w"}[kind]},
        "sizes": {"n": n, "T": T, "N": int(c.order), "block_dim": D, "compiled": {"n": n0, "T": T0},
                  "projected": not at_compiled, "access": access},
        "route": best["route"], "routes": routes, "idle": best["p"], "idle_totals": idles,
        "split": best["split"], "state_error": best["state_error"],
        "solution": {"source": norms["source"], "norm_Y": [math.sqrt(x) for x in nv["Y2"]],
                     "A_T": list(nv["A_T"]), "P_T": list(nv["P_T"]),
                     "norm_y_T": [math.sqrt(x) for x in norms["yT2"]],
                     "max_abs_u_T": norms["U_max"], "norm_u_T": norms["U_norm"],
                     "exact": bool(norms["exact"])},
        "p_s": {"low": att["p_s"][0], "high": att["p_s"][1], "source": att["p_s_source"]},
        "solver": c.solver,
        **({"hhl": {"clock": att["clock"], "compiled_clock": int(c.program.meta["clock"]),
                    "block_encoding_calls": att["degree"],
                    "state_error_bound": att["state_error_bound"],
                    "achieved_state_error": att["state_error"],
                    "inversion_constant": float(c.program.meta["inversion_constant"]),
                    "clock_rule": "the smallest clock c with 2δ(c, κ̂) ≤ the state error per attempt "
                                  "(hhl.choose_clock); degree = block-encoding calls 4(2^c − 1)"}}
           if hhl else {}),
        "degree": att["degree"], "kappa_prime": att["kappa_prime"], "kappa_source": att["kappa_source"],
        "alpha": att["alpha"],
        "amplification": best["amplification"],
        "samples": (_tomo_record(best) if kind != "functional" else
                    dict(best["qae"], protocol="amplitude estimation (Brassard–Høyer–Mosca–Tapp 2002, "
                         "Thm. 12), median of runs (Hoeffding)", failure_budget=FAILURE_BUDGET)),
        "per_call": {"label": "one attempt", "t_states": per_call_t,
                     "toffolis": _toffolis(att["counts"]), "logical_qubits": att["qubits"],
                     "degree": att["degree"], "state_error": best["state_error"],
                     "runtime_s": one.get("runtime_seconds"),
                     "physical_qubits": one.get("physical_qubits")},
        "total": {"calls": best["calls"], "t_states": total_t,
                  "logical_qubits": Q, "physical_qubits": ph.get("physical_qubits"),
                  "code_distance": ph.get("code_distance"), "runtime_s": ph.get("runtime_seconds"),
                  "runtime_lower_bound_s": ph.get("runtime_lower_bound_s"),
                  "memory": memory, "downloaded_values": download},
        "breakdown": best["parts"],
        "toffoli_share": toff_share,
        "whole_solver": _whole_solver(att, best["state_error"], norms["exact"]),
        "physical_note": ph_note,
        "assumptions": _assumptions(kind, norms, att, exact, access) + ([
            f"HHL: one attempt is the compiled walk-variant circuit re-made with clock {att['clock']} "
            f"(compiled: {c.program.meta['clock']}), the smallest whose certified state error "
            f"2δ(c, κ̂) ≤ {best['state_error']:.3g}; its output g(H)b̂ is exact (achieved state error "
            f"{att['state_error']:.3g}); the idle steps are the compiled circuit's (p = {c.idle})"]
            if hhl else []),
    }
    return _sanitize(out)


def _run_physical(total_t, toff_share, Q, calls, physical):
    """The surface-code estimate of a whole run of `total_t` T states (the Toffolis' share of them
    as in one attempt) on Q logical qubits, one measurement per qubit and call; physical=None: the
    algorithm's runtime only (`physical.algorithm_runtime`, for sweeps)."""
    from .physical import LogicalCounts
    ccz = total_t * toff_share / 4
    lc = LogicalCounts(qubits=Q, t_count=int(math.ceil(max(total_t - 4 * ccz, 0))),
                       ccz_count=int(math.ceil(ccz)), measurement_count=int(math.ceil(Q * calls)))
    if physical is None:
        from .physical import algorithm_runtime
        ar = algorithm_runtime(lc)
        return ({"code_distance": ar["code_distance"], "runtime_seconds": ar["runtime_seconds"],
                 "physical_qubits": ar.get("data_physical_qubits"),
                 "runtime_lower_bound_s": ar.get("runtime_lower_bound_seconds")},
                "algorithm runtime only (no factory search)")
    return _physical_total(lc, physical)


def _windows(c, *, output, precision, params, T, K, access, physical) -> dict:
    r"""Training in ⌈T/K⌉ windows of K steps (the last T − (⌈T/K⌉−1)·K): every window but the last
    reads out all of θ (to download it) and its end is re-uploaded as the next window's initial
    state — prepared at every attempt of that window, as the first window's is; the last window
    reads out `output`. Each window gets ε_θ/⌈T/K⌉ (errors add when the K-step map is
    non-expansive: an assumption, stated). Windows are projected (bounds): their initial states are
    not the compiled one."""
    eps = check_precision(precision)
    n = int(params) if params is not None else int(c.system.n)
    cycles = -(-T // K)
    last_T = T - (cycles - 1) * K
    eps_w = eps / cycles
    win = end_to_end(c, output="all", precision=eps_w, params=n, steps=K, access=access, physical=None)
    last = end_to_end(c, output=output, precision=eps_w, params=n, steps=last_T, access=access,
                      physical=None)
    calls = (cycles - 1) * win["total"]["calls"] + last["total"]["calls"]
    t_all = (cycles - 1) * win["total"]["t_states"] + last["total"]["t_states"]
    Q = max(win["total"]["logical_qubits"], last["total"]["logical_qubits"])
    share = (((cycles - 1) * win["total"]["t_states"] * win["toffoli_share"]
              + last["total"]["t_states"] * last["toffoli_share"]) / max(t_all, 1.0))
    ph, note = _run_physical(t_all, share, Q, calls, physical)
    out = dict(last)
    out["sizes"] = dict(last["sizes"], T=T)
    out["total"] = dict(last["total"], calls=calls, t_states=t_all, logical_qubits=Q,
                        physical_qubits=ph.get("physical_qubits"), code_distance=ph.get("code_distance"),
                        runtime_s=ph.get("runtime_seconds"),
                        runtime_lower_bound_s=ph.get("runtime_lower_bound_s"))
    keys = list(win["breakdown"]) + [k for k in last["breakdown"] if k not in win["breakdown"]]
    out["breakdown"] = {k: (cycles - 1) * win["breakdown"].get(k, 0) + last["breakdown"].get(k, 0)
                        for k in keys}
    out["output"] = dict(last["output"], precision=eps)
    out["physical_note"] = note
    out["download"] = {"interval": K, "cycles": cycles, "precision_per_window": eps_w,
                       "window": {"steps": K, "calls": win["total"]["calls"],
                                  "t_states": win["total"]["t_states"], "route": win["route"],
                                  "idle": win["idle"], "degree": win["degree"]},
                       "last_window": {"steps": last_T, "calls": last["total"]["calls"],
                                       "t_states": last["total"]["t_states"]}}
    out["assumptions"] = list(last["assumptions"]) + [
        f"download every {K} steps: {cycles} windows, each to ε_θ/{cycles} (errors add: the K-step map "
        "taken non-expansive); a window's initial state is the downloaded θ, re-prepared at every "
        "attempt with the compiled model's fraction of nonzero weights and ‖y_0‖"]
    return _sanitize(out)


def _whole_solver(att, eps_s, exact_norms) -> dict:
    """Whole solver against whole solver: qdsl's queries for one state of error ε_s with constant
    success — the attempt's degree d times the 2R+1 calls amplifying p_s — beside Dalzell,
    Koczor, Kothari, et al.'s 56κ′ + 1.05κ′·ln(1/ε) (arXiv:2406.12086, Thm. 1: constant success)."""
    amp = amplification(att["p_s"][0], att["exact"] and exact_norms)
    kp = att["kappa_prime"]
    return {"qdsl_queries": amp["calls"] * att["degree"], "success": amp["success"],
            "rounds": amp["rounds"], "eps": eps_s,
            "dalzell_queries": int(math.ceil(56 * kp + 1.05 * kp * math.log(1 / eps_s)))}


def _tomo_record(best) -> dict:
    return {"protocol": "ℓ∞ tomography (Kerenidis–Landman–Prakash 2020, arXiv:1911.01117): N = ⌈36 ln d/δ²⌉ "
                        "copies for the magnitudes and N of the controlled preparation for the signs",
            "copies": 2 * best["copies"], "N": best["copies"], "dim": best["dim"],
            "delta": (1 - best["split"]) * best["amplitude_budget"],
            "success": f"≥ 1 − 1/d^0.83"}


def _physical_total(lc, backend):
    """The surface-code estimate of the whole run; beyond the model's distance 49 it is redone
    with the limit lifted (said so)."""
    from qdsl.diagnostics import CompileError
    from .physical import physical_estimate
    note = None
    if backend == "qdk":
        try:
            return physical_estimate(lc, backend="qdk"), None
        except Exception as exc:   # qdk takes counts as 64-bit integers: whole runs overflow them
            why = exc.diagnostics[0].message if getattr(exc, "diagnostics", None) else str(exc)
            note = f"Microsoft's estimator cannot take this run ({why}); priced by the built-in model, "
    try:
        ph = physical_estimate(lc, backend="builtin")
        return ph, (note + "within its limits") if note else None
    except CompileError:
        try:
            ph = physical_estimate(lc, backend="builtin",
                                   constants={"max_code_distance": 75})
            return ph, ((note or "") + f"beyond the model's code distance 49: extrapolated to "
                                       f"d = {ph['code_distance']}")
        except CompileError:
            # a lower bound only: every logical cycle (≥ one per T state and 3 per Toffoli) takes at
            # least 75 code cycles at the distance the model could not reach
            from .physical import DEFAULT_CONSTANTS
            lb = (lc.t_count + 3 * lc.ccz_count) * 75 * float(DEFAULT_CONSTANTS["code_cycle_seconds"])
            return {"runtime_lower_bound_s": lb}, ((note or "") + "beyond the surface-code model even "
                                                   "at code distance 75: the runtime is a lower bound")


def _physical_one(att, eps_s, backend):
    from .resources import _physical, _rotations_of
    counts = att["counts"].to_dict()
    try:
        return _physical(counts, att["qubits"], _rotations_of(counts), eps_s, backend)
    except Exception:  # the one-attempt figure is informative only; the total decides
        return {}


def _memory(c, n, access, att) -> dict | None:
    """The classical data a QRAM / QROAM holds: every F_ℓ's nonzeros (scaled to n), each its ℓ+1
    indices of ⌈log₂(n+1)⌉ bits and a b-bit entry."""
    if access == "qrom":
        return None
    from qdsl.synthesis.projection import qroam_lookup_cost
    n0 = int(c.system.n)
    q = max(1, int(n).bit_length())
    b = max(1, att["entry_bits"])
    items = [(l, max(1, round(F.nnz * n / n0))) for l, F in enumerate(c.system.F) if F.nnz]
    if getattr(c, "basis", "kronecker") == "symmetric":
        # the sparse-access circuit reads M's nonzeros (`projection.project_sparse_access`): each a
        # row and a column index of ⌈log₂ D⌉ bits (stored as ℓ + 1 = 2 index fields)
        from qdsl.synthesis.projection import symmetric_transfer_size
        D2, nnz2, _, _ = symmetric_transfer_size(c.linear_system, n, c.order)
        q = max(1, int(D2 - 1).bit_length())
        items = [(1, nnz2)]
    bits = sum(k * ((l + 1) * q + b) for l, k in items)
    out = {"entries": sum(k for _, k in items), "bits": bits}
    if access == "qroam":
        if "qroam_data_qubits" in att:   # the projection's data register (in att["qubits"] already)
            out["qroam_data_qubits"] = att["qroam_data_qubits"]
        else:
            big = max(items, key=lambda it: it[1])
            out["qroam_data_qubits"] = qroam_lookup_cost(big[1], (big[0] + 1) * q + b)[1]
    else:
        out["qram_memory_qubits"] = bits
        out["note"] = "QRAM memory counted as qubits, not in the runtime"
    return out


def _assumptions(kind, norms, att, exact, access) -> list[str]:
    a = [f"the solution's norms: {norms['source']}",
         f"p_s: {att['p_s_source']}",
         f"κ′ = {att['kappa_prime']:.6g} ({att['kappa_source']})",
         "precision is absolute, per entry of θ_T (ℓ∞); the ratio bound |r̂ − r| ≤ δ(1+|r|)/(|a_1|−δ) "
         "is exact, not first order",
         f"readout failure probability: tomography ≤ 1/d^0.83, amplitude estimation ≤ {FAILURE_BUDGET}",
         "rotations synthesized at the attempt's state error / rotations each (as `qdsl resources`)",
         "a controlled gate costs at most its extra T states in `_CONTROLLED_EXTRA` (sign copies)"]
    if kind == "top":
        a.append("top:K needs the same ℓ∞ tomography as all (its copies depend on the dimension only "
                 "through ln d); it downloads K values instead of n")
    if kind == "functional":
        a.append("w dense (a worst case for its preparation); |w·u_T| ≤ ‖u_T‖")
    if not exact:
        a.append(f"access model {access}: see `qdsl resources --access` (projection)")
    return a
