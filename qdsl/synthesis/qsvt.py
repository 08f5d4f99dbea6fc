r"""QSVT quantum linear-system solver for the history-state system (docs/maths.md).

Given a block-encoding U of A = L/α on a system register (`blocks.base.BlockEncoding`: the
structured construction, the sparse-access one or the dense dilation), V = U† block-encodes
A† = V_A Σ W_A†, and the odd polynomial P ≈ s/(κ′x) on [1/κ′, 1] (`qsp.inverse_polynomial`,
κ′ = α‖L⁻¹‖) gives

    P^{SV}(A†) = V_A P(Σ) W_A† ≈ (s/κ′)·A⁻¹   (Gilyén, Su, Low, Wiebe 2019, Thm. 17/41),

so post-selecting every flag on |0⟩ leaves P^{SV}(A†)·B/‖B‖ ∝ Y on the system register. The QSVT
sequence in the reflection convention is

    e^{iφ_0(2Π−I)} V e^{iφ_1(2Π−I)} V† ⋯ V e^{iφ_d(2Π−I)},   Π = |0⟩⟨0|_flags,

each projector-controlled phase being a zero-controlled X from the flags onto one extra qubit r
(`zero_flip`, a multi-controlled X through the block-encoding's clean temporaries), RZ(2φ_k) on r,
and the same X again. r starts and ends in a Hadamard: the two branches carry Φ and −Φ, whose
average is the real part; RZ(−πd) on r supplies the factor i^d that turns (−i)^d·U(x, Ψ) of the
reflection convention back into the W_x polynomial Re U(x, Ψ)_{00} = P(x) (`qsp.reflection_phases`).

**κ′ without dense linear algebra of the system.** κ′ = α·‖L⁻¹‖ with ‖L⁻¹‖ from
`lowering.history.inverse_norm`, always an upper bound: exact (dense SVD plus its error) where
affordable (dim ≤ 2048), else the smaller of a Lanczos estimate certified with a proven margin (a
block Cholesky of LᵀL − τ²I) and the bound Σ_k max_j ‖M^j‖ — never the Lanczos estimate itself,
which is from below — and the report names the source. The degree is the smallest odd d whose relative error
bound δ_m on [1/κ′, 1] is ≤ eps/4 (`qsp.degree_for`). Where the system is small enough (dim ≤
2048), the exact achieved errors are computed from the SVD of L/α — the state error against the
exact normalized solution and the decoded-trajectory errors θ_t = θ* + Re(a(t,u)/a(t,1)), whose
ratio amplifies small amplitudes — and the degree is lowered to the smallest one that still meets
both tolerances (or raised until it does); elsewhere the report says the error is the bound's.
"""
from __future__ import annotations

import time

import numpy as np

from .blocks.cost import Cost
from .blocks.mcx import mcx, mcx_cost
from .blocks.prepare import PrepareState
from .common import decode_trajectory
from .program import QuantumProgram
from .qsp import check_degree, degree_for, inverse_polynomial, qsp_phases, reflection_phases

__all__ = ["synthesize_qsvt", "qsvt_plan", "qsvt_cost", "qsvt_solution_error", "state_preparation",
           "EXACT_ERROR_DIM", "MAX_DEGREE"]

#: largest history dimension for which ‖L⁻¹‖ and the achieved error are computed exactly (one
#: dense SVD of L: seconds at 2048, a minute at 4096 on two cores)
EXACT_ERROR_DIM = 2048
#: largest QSVT degree qdsl builds: the circuit holds d block-encoding calls, and every call is
#: simulated, emitted and counted (`qdsl resources` projects beyond it without building)
MAX_DEGREE = 20_001


def qsvt_solution_error(ls, svd, alpha, poly):
    r"""Exact errors of the QSVT output x = P^{SV}(A†)·b against Y = L⁻¹B, from the SVD of
    A = L/α on the valid indices (the encoded matrix keeps them invariant, so padding does not
    enter): normalized state error, fidelity, decoded-trajectory and θ_T errors (relative to the
    largest |θ| of the exact trajectory), and the success probability ‖x‖²."""
    W, s, Vh = svd
    sa = s / alpha
    b = np.asarray(ls.rhs, dtype=float)
    b = b / np.linalg.norm(b)
    c = W.T @ b
    x = Vh.T @ (poly(sa) * c)
    y = Vh.T @ (c / sa)
    xn, yn = x / np.linalg.norm(x), y / np.linalg.norm(y)
    th, th_ref = decode_trajectory(ls, x), decode_trajectory(ls, y)
    scale = max(float(np.max(np.abs(th_ref))), 1e-300)
    return {
        "state_error": float(np.linalg.norm(xn - yn)),
        "fidelity": float(np.dot(xn, yn) ** 2),
        "trajectory_error": float(np.max(np.abs(th - th_ref)) / scale),
        "theta_T_error": float(np.max(np.abs(th[-1] - th_ref[-1])) / scale),
        "success_probability": float(np.dot(x, x)),
    }


def _zero_flip(flags, temporaries, system, r):
    """(circuit, cost, qubits): X on r iff every flag is |0⟩ — an MCX through clean temporaries
    when there are enough, else through dirty (borrowed) system qubits."""
    from qiskit import QuantumCircuit

    k = len(flags)
    need = max(0, k - 2)
    if len(temporaries) >= need:
        mode, work = "clean", list(temporaries[:need])
    else:
        mode, work = "dirty", list(temporaries) + [q for q in system][: need - len(temporaries)]
        if len(work) < need:  # pragma: no cover - a block-encoding always has enough qubits
            raise ValueError("not enough qubits for the projector's multi-controlled X")
    qubits = list(flags) + work + [r]
    loc = {q: i for i, q in enumerate(qubits)}
    qc = QuantumCircuit(len(qubits), name="zero_flip")
    mcx(qc, [loc[q] for q in flags], loc[r], values=[0] * k, work=[loc[q] for q in work], mode=mode)
    return qc, mcx_cost(k, k, mode), qubits, mode


def qsvt_plan(ls, alpha: float, *, eps: float = 1e-3, readout_tol: float | None = None,
              degree: int | None = None, max_abs: float = 0.9, max_degree: int = MAX_DEGREE,
              svd=None) -> dict:
    r"""The solver's choices for a block-encoding of L with subnormalization `alpha`, without
    building a circuit: ‖L⁻¹‖ and its source, κ′, the degree bound d0 and the degree d (the smallest
    meeting the tolerances where the exact check is affordable), the polynomial and the achieved
    errors (module docstring). Refuses (E0507) degrees over `max_degree` before building anything.
    `svd`: L's dense SVD when the caller already has it (the end-to-end cost plans several eps)."""
    from qdsl.lowering.history import inverse_norm, svd_inverse_norm

    if readout_tol is None:
        readout_tol = 10.0 * eps
    exact = ls.dim <= EXACT_ERROR_DIM
    if exact:   # one dense SVD serves ‖L⁻¹‖ and the achieved-error check
        svd = np.linalg.svd(ls.matrix.toarray()) if svd is None else svd
        inv_norm, inv_source = svd_inverse_norm(svd[1]), f"exact (dense SVD, dim ≤ {EXACT_ERROR_DIM})"
    else:
        svd = None
        inv_norm, inv_source = inverse_norm(ls, "cheap")
    kappa_prime = max(1.0, alpha * inv_norm)

    def check(poly):
        e = qsvt_solution_error(ls, svd, alpha, poly)
        ok = (e["state_error"] <= eps and e["trajectory_error"] <= readout_tol
              and e["theta_T_error"] <= 2.5 * readout_tol)
        return ok, e

    what = f"the QSVT circuit (eps = {eps:g}, κ′ from {inv_source})"
    if not np.isfinite(kappa_prime):
        check_degree(2 ** 62, kappa_prime=kappa_prime, limit=max_degree, what=what)
    d0 = degree_for(kappa_prime, eps / 4) if degree is None else int(degree)
    check_degree(d0, kappa_prime=kappa_prime, limit=max_degree, what=what)
    ok, err = True, None
    if degree is not None:
        poly = inverse_polynomial(kappa_prime, d0, max_abs=max_abs)
        if exact:
            ok, err = check(poly)
    elif not exact:
        poly = inverse_polynomial(kappa_prime, d0, max_abs=max_abs)
    else:
        # smallest odd degree meeting both tolerances: bisection on m (d = 2m − 1) below d0,
        # then upwards if even d0 does not meet them (the bound is pessimistic, rarely short)
        cache = {}

        def trial(m):
            if m not in cache:
                p = inverse_polynomial(kappa_prime, 2 * m - 1, max_abs=max_abs)
                cache[m] = (p,) + check(p)
            return cache[m]

        hi = (d0 + 1) // 2
        while not trial(hi)[1]:
            check_degree(2 * (2 * hi) - 1, kappa_prime=kappa_prime, limit=max_degree, what=what,
                         reason="the exact achieved error stays over the tolerance below it")
            hi *= 2
        lo = 0  # trial(lo) fails (or lo = 0)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if trial(mid)[1]:
                hi = mid
            else:
                lo = mid
        poly, ok, err = trial(hi)
    return {"inverse_norm": float(inv_norm), "inverse_norm_source": inv_source,
            # ‖L‖ beside α_L (how far the subnormalization is from the least possible): the same SVD
            "norm": float(svd[1][0]) if exact else None,
            "kappa_prime": float(kappa_prime), "degree_bound": int(d0), "poly": poly,
            "degree": int(poly.degree), "achieved": err, "tolerances_met": bool(ok),
            "eps": float(eps), "readout_tol": float(readout_tol), "max_abs": float(max_abs)}


def state_preparation(ls, encoding):
    """(circuit builder, qubits, cost) of B/‖B‖ = |0⟩_t ⊗ y_0/‖y_0‖: the encoding's own
    `initial_state` when it has one (the structured slots: `blocks.lifted`), else a PrepareState
    on the low system qubits (y_0's entries land at solution_map[:D], all below 2^width)."""
    st = getattr(encoding, "initial_state", None)
    if st is not None:
        return st.build, list(st.qubits), st.cost()
    D = ls.block_dim
    smap = np.asarray(encoding.solution_map, dtype=np.int64)
    low = max(1, int(smap[:D].max()).bit_length())
    amp = np.zeros(1 << low)
    amp[smap[:D]] = np.asarray(ls.rhs[:D], dtype=float)
    prep = PrepareState(amp, low)
    return (lambda qc: prep.build(qc, list(range(low)))), list(encoding.system[:low]), prep.cost()


def qsvt_cost(encoding, ls, degree: int) -> Cost:
    r"""The gate counts of the QSVT circuit of `degree` around `encoding` (a BlockEncoding; its
    circuit need not be built): the state preparation, d block-encoding calls, 2(d+1) zero-flips
    and d+2 RZ and 2 H on the extra qubit — the same description `synthesize_qsvt` builds from."""
    _, _, prep_cost = state_preparation(ls, encoding)
    zf_cost = _zero_flip_cost(len(encoding.ancillas), len(encoding.temporaries))
    return (prep_cost + degree * encoding.cost + 2 * (degree + 1) * zf_cost
            + Cost(rz=degree + 2, h=2)).with_qubits(encoding.num_qubits + 1)


def _zero_flip_cost(k: int, temporaries: int) -> Cost:
    return mcx_cost(k, k, "clean" if temporaries >= max(0, k - 2) else "dirty")


#: measured uncomputation (And†, blocks/and_gate.py) is used only when the file it writes — every
#: block holding an And† written out at each call, an OpenQASM 3 `gate` cannot measure — stays
#: within this factor of the file with Toffoli uncomputation (one `gate` definition per block)
INLINE_FACTOR = 1.5


def _file_sizes(enc_cost: Cost, zf_cost: Cost, d: int) -> tuple[int, int]:
    """(instructions with measured blocks written at each call, instructions with one definition
    each) of the QSVT circuit around a block-encoding of cost `enc_cost` (its gates, counted with
    Toffoli uncomputation; an And† writes three lines where a Toffoli writes one, so this is a
    lower estimate of the measured file): d block-encoding calls and 2(d + 1) zero-flips."""
    be, zf = sum(int(v) for v in enc_cost.values()), sum(int(v) for v in zf_cost.values())
    top = 3 * (d + 1) + d + 4
    return d * be + 2 * (d + 1) * zf + top, 2 * be + zf + top


def synthesize_qsvt(ls, encoding=None, *, eps: float = 1e-3, readout_tol: float | None = None,
                    degree: int | None = None, max_abs: float = 0.9,
                    max_degree: int = MAX_DEGREE, measured_encoding=None,
                    uncompute: str = "auto") -> QuantumProgram:
    r"""The QSVT linear-solver circuit for `ls` (a LinearSystem) as a QuantumProgram.

    `encoding`: a BlockEncoding of L (default: the dense dilation, `block_encoding.dense_history`).
    `eps` bounds the relative error of the post-selected state vs. the exact normalized solution;
    `readout_tol` (default 10·eps) the decoded trajectory error max|θ − θ_ref| / max|θ_ref|
    (θ_T: 2.5·readout_tol), checked exactly where the system is small (module docstring).
    `measured_encoding`, when given, rebuilds the same encoding with measured uncomputation (And†,
    blocks/and_gate.py); the circuit uses it when the emitted file, which must write a measured
    block at each of its calls, stays within INLINE_FACTOR of the Toffoli one (`_file_sizes`);
    `uncompute` "measure" uses it whatever the file's size, "toffoli" never ("auto": the rule).
    `degree` forces an odd polynomial degree. `max_abs` is sup |P| on [−1, 1]."""
    from qiskit import QuantumCircuit

    t_start = time.perf_counter()
    if encoding is None:
        # the dense reference: plan with its α = 1 + max(‖M_t‖, 1) first, so an impossible degree
        # is refused before anything is synthesized
        from .block_encoding import dense_alpha, dense_history
        qsvt_plan(ls, dense_alpha(ls), eps=eps, readout_tol=readout_tol, degree=degree,
                  max_abs=max_abs, max_degree=max_degree)
        encoding = dense_history(ls, eps=eps)
    alpha = float(encoding.alpha)
    plan = qsvt_plan(ls, alpha, eps=eps, readout_tol=readout_tol, degree=degree, max_abs=max_abs,
                     max_degree=max_degree)
    poly, err, ok = plan["poly"], plan["achieved"], plan["tolerances_met"]
    kappa_prime, d0 = plan["kappa_prime"], plan["degree_bound"]
    inv_norm, inv_source = plan["inverse_norm"], plan["inverse_norm_source"]
    readout_tol = plan["readout_tol"]
    psi, qsp_info = qsp_phases(poly.coeffs)
    d = len(psi) - 1   # = poly.degree unless the top coefficient vanishes (κ′ = 1: P(x) = x)
    phi = reflection_phases(psi)
    from .blocks.and_gate import and_mode, measurement_uncompute
    sizes = None
    if encoding.cost is not None:
        sizes = _file_sizes(encoding.cost,
                            _zero_flip_cost(len(encoding.ancillas), len(encoding.temporaries)), d)
        if uncompute not in ("auto", "measure", "toffoli"):
            raise ValueError(f"uncompute must be auto, measure or toffoli, not {uncompute!r}")
        fits = sizes[0] <= INLINE_FACTOR * sizes[1]
        if (and_mode() == "unitary" and measured_encoding is not None and encoding.cost["ccx"]
                and (uncompute == "measure" or (uncompute == "auto" and fits))):
            with measurement_uncompute():   # the whole circuit (zero-flips too) with And / And†
                return synthesize_qsvt(ls, measured_encoding(), eps=eps, readout_tol=readout_tol,
                                       degree=degree, max_abs=max_abs, max_degree=max_degree,
                                       uncompute=uncompute)
    # the report's record of the choice: measured blocks are written at each call (an OpenQASM 3
    # `gate` cannot measure), so they are used only while the file stays within INLINE_FACTOR
    uncompute = {"method": "measurement (And†)" if and_mode() == "measure" else "toffoli",
                 "requested": uncompute}
    if sizes is not None:
        uncompute.update(file_instructions_measured=int(sizes[0]),
                         file_instructions_toffoli=int(sizes[1]), inline_factor=INLINE_FACTOR)

    # -------- the circuit
    n_be = encoding.num_qubits
    r = n_be
    nq = n_be + 1
    sysq = list(encoding.system)
    smap = np.asarray(encoding.solution_map, dtype=np.int64)
    qc = QuantumCircuit(nq, name="qsvt")
    prep_build, prep_qubits, prep_cost = state_preparation(ls, encoding)
    prep_circ = QuantumCircuit(len(prep_qubits), name="state_prep")
    prep_build(prep_circ)
    if prep_circ.size():
        qc.append(prep_circ.to_gate(label="state_prep"), prep_qubits)
    be_gate = encoding.circuit.to_gate(label="block_encoding")
    be_gate.name = "block_encoding"
    be_dg = be_gate.inverse()
    be_dg.name = "block_encoding_dg"
    zf_circ, zf_cost, zf_qubits, zf_mode = _zero_flip(list(encoding.ancillas), list(encoding.temporaries),
                                                     sysq, r)
    zf = zf_circ.to_gate(label="zero_flip")
    zf.name = "zero_flip"
    be_qubits = list(range(n_be))

    qc.h(r)
    qc.rz(float(-np.pi * (d % 4)), r)
    n_calls = 0
    for k in range(d, -1, -1):
        qc.append(zf, zf_qubits)
        qc.rz(float(2 * phi[k]), r)
        qc.append(zf, zf_qubits)
        if k > 0:
            # applied order: V, V†, V, … (V = U_L† block-encodes A†); odd step count from the right
            qc.append(be_dg if (d - k) % 2 == 0 else be_gate, be_qubits)
            n_calls += 1
    qc.h(r)

    # -------- the cost, from the same description
    cost = qsvt_cost(encoding, ls, d)
    if cost != prep_cost + n_calls * encoding.cost + 2 * (d + 1) * zf_cost + Cost(rz=d + 2, h=2):
        from qdsl.diagnostics import InternalError
        raise InternalError("qsvt_cost disagrees with the circuit just built")

    meta = {
        "construction": encoding.construction,
        "alpha": alpha,
        "kappa": float(ls.kappa),
        "inverse_norm": float(inv_norm),
        "inverse_norm_source": inv_source,
        "kappa_prime": float(kappa_prime),
        "degree": int(d),
        "degree_bound": int(d0),
        "eps": float(eps),
        "readout_tol": float(readout_tol),
        "poly_rel_error": float(poly.rel_error),
        "poly_scale": float(poly.scale),
        "max_abs": float(max_abs),
        "achieved": ({k: float(v) for k, v in err.items()} if err is not None else None),
        "achieved_method": ("exact (dense SVD of L, dim ≤ %d)" % EXACT_ERROR_DIM if err is not None
                            else f"not computed (dim {ls.dim} > {EXACT_ERROR_DIM}): the bound δ_m ≤ eps/4 holds"),
        "tolerances_met": bool(ok),
        "phase_residual": float(qsp_info["residual"]),
        "phase_method": qsp_info.get("method"),
        "phase_seconds": float(qsp_info["seconds"]),
        "phases_reflection": [float(p) for p in phi],
        "block_encoding": {
            "construction": encoding.construction,
            "subnormalization": alpha,
            "ancillas": [int(q) for q in encoding.ancillas],
            "temporaries": len(encoding.temporaries),
            "cost_per_call": encoding.cost.to_dict(),
            "norm_L": plan["norm"],
            "norm_L_source": (f"exact (dense SVD, dim ≤ {EXACT_ERROR_DIM})" if plan["norm"] is not None
                              else f"not computed (dim {ls.dim} > {EXACT_ERROR_DIM})"),
            "zero_flip": zf_mode,
            "uncomputation": uncompute,
            **{k: v for k, v in encoding.meta.items() if k != "layout"},
        },
        "qsvt_ancilla": int(r),
        "block_encoding_calls": int(n_calls),
        "synthesis_seconds": float(time.perf_counter() - t_start),
    }
    return QuantumProgram(circuit=qc, solver="qsvt", system_qubits=tuple(sysq),
                          postselect={q: 0 for q in range(nq) if q not in set(sysq)},
                          solution_map=smap, linear_system=ls, meta=meta,
                          declared=cost.to_dict(), cost=cost)
