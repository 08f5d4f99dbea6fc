r"""The readout contract of SPEC §4, applied: θ_t from a statevector or from shot counts.

Everything here reads only the report's ``readout`` dict —

    system_qubits  [q…]         basis index k = Σ_b bit(system_qubits[b])·2^b
    postselect     {"q": 0|1}   every other qubit, with the value to keep
    const_index    [k_t]        where the constant component of block t lands
    theta_index    [[k_{t,i}]]  where u_i of block t lands

— and the expansion point θ*, never the synthesizer's internals, so it decodes any synthesizer's
register layout (and `qdsl decode` decodes a user's own simulator or hardware results).

**Amplitudes** (SPEC §3): θ_t[i] = θ*_i + Re(a(t, u_i)/a(t, 1)), a the post-selected amplitudes.

**Signed readout from shots.** Counts in the computational basis give |a|² only. For one (t, i),
with k0 = const_index[t] and k1 = theta_index[t][i], the measurement circuit appends to the solver
(acting on system qubits only, so the post-selection is untouched):

1. X on every system qubit where k0 has a 1: k0 ↦ 0, k1 ↦ s = k0 ⊕ k1;
2. with j the lowest bit of s, CX(system_qubits[j] → system_qubits[b]) for every other bit b of s:
   s ↦ e_j, 0 ↦ 0 — so k_{t,const} ↦ x0 = 0 and k_{t,i} ↦ x1 = e_j differ on qubit j only;
3. H on system_qubits[j]: the outcomes "x with qubit j = 0 / 1" get amplitudes (a0 ± a1)/√2.

Hence, with probabilities conditioned on the post-selection,

    P(x, 0) − P(x, 1) = (|a0 + a1|² − |a0 − a1|²)/2 = 2·Re(a1·a0*),

i.e. Re(a_i a_0*) = (P(x,0) − P(x,1))/2, and θ_t[i] = θ*_i + Re(a_i a_0*)/|a_0|², where |a_0|² is
the post-selected frequency of k0 in the plain (amplitude) circuit's counts.

Errors (delta method, counts of the two circuits independent): with N post-selected shots of the
signed circuit and frequencies P0, P1, ĉ = (P0 − P1)/2 has Var ĉ = (P0 + P1 − (P0 − P1)²)/(4N); with
N′ post-selected shots of the plain circuit, p̂0 = n(k0)/N′ has Var p̂0 = p0(1 − p0)/N′; and
Var θ̂ ≈ Var ĉ/p0² + ĉ²·Var p̂0/p0⁴.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["system_amplitudes", "decode_amplitudes", "system_counts", "magnitudes", "SignedCircuit",
           "signed_plan", "with_gates", "signed_estimates", "parse_counts", "SignedEstimate"]


# ----------------------------------------------------------------------------- amplitudes

def _system_index(indices: np.ndarray, readout: dict) -> tuple[np.ndarray, np.ndarray]:
    """(kept mask, system basis index) of full-register basis indices."""
    idx = np.asarray(indices, np.int64)
    keep = np.ones(idx.shape, bool)
    for q, v in readout["postselect"].items():
        keep &= ((idx >> int(q)) & 1) == int(v)
    k = np.zeros(idx.shape, np.int64)
    for b, q in enumerate(readout["system_qubits"]):
        k |= ((idx >> int(q)) & 1) << b
    return keep, k


def system_amplitudes(statevector, readout: dict, *, indices=None, num_qubits: int | None = None
                      ) -> tuple[np.ndarray, float]:
    r"""(sub, p): sub[k] the amplitude of system basis state k with every ancilla at its
    post-selected value (unnormalized), p = ‖sub‖² the success probability. `statevector` is the
    full state, or — with `indices` (and `num_qubits`) — the amplitudes of those basis states only
    (a sparse simulator's nonzero entries)."""
    sv = np.asarray(statevector, complex).reshape(-1)
    if indices is None:
        nq = int(round(math.log2(sv.size))) if sv.size else 0
        if 1 << nq != sv.size:
            raise ValueError(f"a statevector has a power-of-two length, not {sv.size}")
        indices = np.arange(sv.size)
    else:
        nq = int(num_qubits)
    qubits = [int(q) for q in readout["system_qubits"]] + [int(q) for q in readout["postselect"]]
    if sorted(qubits) != list(range(nq)):
        raise ValueError(f"the readout names qubits {sorted(qubits)}, the statevector has {nq} qubits")
    keep, k = _system_index(indices, readout)
    sub = np.zeros(1 << len(readout["system_qubits"]), complex)
    np.add.at(sub, k[keep], sv[keep])
    return sub, float(np.vdot(sub, sub).real)


def decode_amplitudes(sub, readout: dict, expansion_point) -> np.ndarray:
    """θ_t[i] = θ*_i + Re(a(t, u_i)/a(t, 1)) for every block t of the readout, shape (T+1, n)."""
    sub = np.asarray(sub)
    ci = np.asarray(readout["const_index"], np.int64)
    ti = np.asarray(readout["theta_index"], np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sub[ti] / sub[ci][:, None]
    return np.asarray(expansion_point, float)[None, :] + ratio.real


# ----------------------------------------------------------------------------- counts

def system_counts(counts: dict, readout: dict) -> tuple[np.ndarray, int, int]:
    """(n_sys, n_post, shots): post-selected counts per system basis index."""
    outcomes = np.fromiter((int(k) for k in counts), np.int64, len(counts))
    hits = np.fromiter((int(v) for v in counts.values()), np.int64, len(counts))
    keep, k = _system_index(outcomes, readout)
    n_sys = np.zeros(1 << len(readout["system_qubits"]), np.int64)
    np.add.at(n_sys, k[keep], hits[keep])
    return n_sys, int(n_sys.sum()), int(hits.sum())


def magnitudes(counts: dict, readout: dict) -> dict:
    r"""What computational-basis counts give: the success probability p (binomial error) and
    |θ_t[i] − θ*_i| = √(n(k_{t,i})/n(k_{t,1})) with delta-method errors ½·r·√(1/n_i + 1/n_0)."""
    n_sys, n_post, shots = system_counts(counts, readout)
    p = n_post / shots if shots else float("nan")
    c0 = n_sys[np.asarray(readout["const_index"], np.int64)][:, None].astype(float)
    ci = n_sys[np.asarray(readout["theta_index"], np.int64)].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(c0 > 0, np.sqrt(ci / c0), np.nan)
        err = np.where((c0 > 0) & (ci > 0), 0.5 * ratio * np.sqrt(1 / np.maximum(ci, 1) + 1 / c0),
                       np.where(c0 > 0, np.sqrt(1.0 / c0), np.nan))
    return {"shots": shots, "postselected_shots": n_post, "success_probability": p,
            "success_probability_err": math.sqrt(max(p * (1 - p), 1.0 / shots) / shots) if shots else None,
            "abs_theta_minus_expansion_point": ratio, "standard_error": err, "system_counts": n_sys}


# ----------------------------------------------------------------------------- signed readout

@dataclass(frozen=True)
class SignedCircuit:
    """One interference measurement: block t, parameter i; `gates` appended to the solver
    (("x", q), ("cx", c, t), ("h", q)) on circuit qubits; after them, the constant component sits
    at the system pattern `pattern` (every system qubit but `qubit` at its value) with
    `qubit` = 0, and u_i at the same pattern with `qubit` = 1."""

    t: int
    i: int
    parameter: str
    const_index: int
    theta_index: int
    qubit: int
    pattern: dict
    gates: tuple

    def to_dict(self, file: str | None = None, postselect: dict | None = None) -> dict:
        d = {"role": "signed", "t": self.t, "i": self.i, "parameter": self.parameter,
             "const_index": self.const_index, "theta_index": self.theta_index,
             "qubit": self.qubit, "pattern": {str(q): int(v) for q, v in self.pattern.items()},
             "gates": [list(g) for g in self.gates]}
        if file is not None:
            d["file"] = file
        if postselect is not None:
            d["postselect"] = {str(q): int(v) for q, v in postselect.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SignedCircuit":
        return cls(int(d["t"]), int(d["i"]), str(d.get("parameter", d["i"])), int(d["const_index"]),
                   int(d["theta_index"]), int(d["qubit"]), {int(q): int(v) for q, v in d["pattern"].items()},
                   tuple(tuple(g) for g in d.get("gates", ())))


def _measurement_gates(k0: int, k1: int, system_qubits) -> tuple[tuple, int]:
    """The gates of steps 1–3 of the module docstring, and the interfering circuit qubit."""
    if k0 == k1:
        raise ValueError("the constant component and u_i share one basis index")
    sq = [int(q) for q in system_qubits]
    gates = [("x", sq[b]) for b in range(len(sq)) if (k0 >> b) & 1]
    s = k0 ^ k1
    j = (s & -s).bit_length() - 1
    gates += [("cx", sq[j], sq[b]) for b in range(len(sq)) if b != j and (s >> b) & 1]
    gates.append(("h", sq[j]))
    return tuple(gates), sq[j]


def signed_plan(readout: dict, names, theta="T") -> list[SignedCircuit]:
    """The measurement circuits for θ_T (`theta="T"`), every θ_t (`"all"`) or one step t (an int)."""
    T = len(readout["const_index"]) - 1
    if theta == "T":
        steps = [T]
    elif theta == "all":
        steps = list(range(T + 1))
    else:
        t = int(theta)
        if not 0 <= t <= T:
            raise ValueError(f"--theta must be between 0 and T = {T}, not {t}")
        steps = [t]
    sq = [int(q) for q in readout["system_qubits"]]
    plan = []
    for t in steps:
        k0 = int(readout["const_index"][t])
        for i, k1 in enumerate(readout["theta_index"][t]):
            gates, j = _measurement_gates(k0, int(k1), sq)
            pattern = {q: 0 for q in sq if q != j}
            plan.append(SignedCircuit(t, i, str(names[i]), k0, int(k1), j, pattern, gates))
    return plan


_MEASURE = re.compile(r"^\s*\w+\[\d+\]\s*=\s*measure\s+\w+\[\d+\]\s*;\s*$")
_QUBITS = re.compile(r"^\s*qubit\[(\d+)\]\s+(\w+)\s*;\s*$", re.M)


def with_gates(qasm: str, gates) -> str:
    """The OpenQASM 3 program `qasm` (one `qubit[n] q;` register, ending by measuring every qubit,
    SPEC §4) with `gates` inserted before its final measurements."""
    m = _QUBITS.search(qasm)
    if m is None:
        raise ValueError("the program declares no `qubit[n] name;` register")
    reg = m.group(2)
    lines = qasm.splitlines(keepends=True)
    first = len(lines)
    while first > 0 and (_MEASURE.match(lines[first - 1]) or not lines[first - 1].strip()):
        first -= 1
    if first == len(lines):
        raise ValueError("the program does not end by measuring its qubits")
    body = "".join(f"{g[0]} " + ", ".join(f"{reg}[{int(q)}]" for q in g[1:]) + ";\n" for g in gates)
    return "".join(lines[:first]) + body + "".join(lines[first:])


@dataclass(frozen=True)
class SignedEstimate:
    """Signed θ_t[i] from shots: `theta` the estimates, `sigma` their standard errors, per
    (t, i) of the plan; `re_product` Re(a_i a_0*) and `p0` |a_0|²; shot totals."""

    plan: tuple
    theta: np.ndarray
    sigma: np.ndarray
    re_product: np.ndarray
    re_product_err: np.ndarray
    p0: np.ndarray
    p0_err: np.ndarray
    shots: int
    postselected_shots: int

    def rows(self):
        for k, sc in enumerate(self.plan):
            yield sc, float(self.theta[k]), float(self.sigma[k])


def _pattern_counts(counts: dict, sc: SignedCircuit, postselect: dict) -> tuple[int, int, int, int]:
    """(n0, n1, n_post, shots) of one signed circuit's counts."""
    n0 = n1 = n_post = shots = 0
    fixed_mask = fixed_val = 0
    for q, v in list(postselect.items()) + list(sc.pattern.items()):
        fixed_mask |= 1 << int(q)
        fixed_val |= int(v) << int(q)
    post_mask = post_val = 0
    for q, v in postselect.items():
        post_mask |= 1 << int(q)
        post_val |= int(v) << int(q)
    for key, c in counts.items():
        k, c = int(key), int(c)
        shots += c
        if k & post_mask != post_val:
            continue
        n_post += c
        if k & fixed_mask == fixed_val:
            if (k >> sc.qubit) & 1:
                n1 += c
            else:
                n0 += c
    return n0, n1, n_post, shots


def signed_estimates(plain_counts: dict, signed_counts, plan, readout: dict, expansion_point) -> SignedEstimate:
    """Signed θ_t[i] with delta-method standard errors from the plain circuit's counts (for
    |a_0|²) and one counts dict per circuit of `plan` (see the module docstring)."""
    n_sys, n_post_plain, shots_plain = system_counts(plain_counts, readout)
    xs = np.asarray(expansion_point, float)
    K = len(plan)
    theta, sigma = np.full(K, np.nan), np.full(K, np.inf)
    rp, rp_err, p0s, p0_err = (np.full(K, np.nan) for _ in range(4))
    total, total_post = shots_plain, n_post_plain
    post = {int(q): int(v) for q, v in readout["postselect"].items()}
    for k, (sc, counts) in enumerate(zip(plan, signed_counts)):
        n0, n1, n_post, shots = _pattern_counts(counts, sc, post)
        total += shots
        total_post += n_post
        if n_post == 0 or n_post_plain == 0:
            continue
        P0, P1 = n0 / n_post, n1 / n_post
        c = (P0 - P1) / 2
        var_c = max(P0 + P1 - (P0 - P1) ** 2, 1.0 / n_post) / (4 * n_post)
        p0 = n_sys[sc.const_index] / n_post_plain
        var_p0 = max(p0 * (1 - p0), 1.0 / n_post_plain) / n_post_plain
        rp[k], rp_err[k], p0s[k], p0_err[k] = c, math.sqrt(var_c), p0, math.sqrt(var_p0)
        if p0 > 0:
            theta[k] = xs[sc.i] + c / p0
            sigma[k] = math.sqrt(var_c / p0 ** 2 + c * c * var_p0 / p0 ** 4)
    return SignedEstimate(tuple(plan), theta, sigma, rp, rp_err, p0s, p0_err, total, total_post)


# ----------------------------------------------------------------------------- counts files

def _outcome(key) -> int:
    """A measured outcome as an integer (bit q = qubit q): Qiskit bitstrings (clbit 0 rightmost,
    registers separated by spaces), '0x…' hex keys (Qiskit result JSON), or integers."""
    if isinstance(key, (int, np.integer)):
        return int(key)
    s = str(key).strip()
    if s.lower().startswith("0x"):
        return int(s, 16)
    s = s.replace(" ", "")
    if not s or set(s) - {"0", "1"}:
        raise ValueError(f"not a measurement outcome: {key!r}")
    return int(s, 2)


def parse_counts(doc) -> list[dict]:
    """Counts from a JSON document: one {outcome: n} dict, a list of them, {"counts": …} with
    either, or a Qiskit `Result.to_dict()` ("results": [{"data": {"counts": …}}]). Returns one
    {int outcome: n} dict per circuit, in order."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    if isinstance(doc, dict) and "results" in doc:
        doc = [r.get("data", {}).get("counts") for r in doc["results"]]
        if any(c is None for c in doc):
            raise ValueError("a result holds no counts")
    elif isinstance(doc, dict) and "counts" in doc:
        doc = doc["counts"]
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list) or not all(isinstance(c, dict) for c in doc):
        raise ValueError("expected a dict of outcome counts or a list of them")
    out = []
    for c in doc:
        d: dict = {}
        for k, v in c.items():
            n = int(v)
            if n < 0 or n != v:
                raise ValueError(f"a count must be a non-negative integer, not {v!r}")
            d[_outcome(k)] = d.get(_outcome(k), 0) + n
        out.append(d)
    return out


def counts_to_json(counts: dict, num_qubits: int) -> dict:
    """{bitstring: n} in Qiskit's convention (qubit 0 the rightmost character), sorted."""
    return {format(int(k), f"0{num_qubits}b"): int(v) for k, v in sorted(counts.items())}


# ----------------------------------------------------------------------------- `qdsl decode`

def simultaneous_rows(estimate: SignedEstimate, level: float = 0.95) -> tuple[list[dict], float]:
    """The rows of a signed table: estimate ± z·σ with simultaneous `level` coverage over the
    plan (`tolerances.simultaneous_z`), and z."""
    from .tolerances import simultaneous_z

    z = simultaneous_z(len(estimate.plan), level)
    rows = []
    for sc, th, sg in estimate.rows():
        ok = math.isfinite(th) and math.isfinite(sg)
        rows.append({"t": sc.t, "i": sc.i, "parameter": sc.parameter, "theta": th if ok else None,
                     "sigma": sg if ok else None, "half_width": z * sg if ok else None})
    return rows, z


def format_signed(row: dict) -> str:
    """'θ ± half-width' exactly as `qdsl run` and `qdsl decode` print it."""
    if row["theta"] is None:
        return "—"
    return f"{row['theta']:.5f} ± {row['half_width']:.5f}"


def decode_document(doc: dict, *, statevector=None, counts=None, level: float = 0.95) -> dict:
    """Decode a compiled program's output by its report (or signed-readout manifest) `doc`:
    a full-register `statevector`, or `counts` (a list of {outcome: n}: the compiled circuit's,
    then one per signed-readout circuit of the manifest, in its order — or just the first, which
    gives magnitudes). Returns a JSON-able dict (see `render_decoded`)."""
    ro = doc["readout"]
    names = list(doc.get("parameters") or [f"u[{i}]" for i in range(len(ro["theta_index"][0]))])
    xs = np.asarray(doc.get("expansion_point") or np.zeros(len(names)), float)
    out = {"model": doc.get("model"), "parameters": names}
    if statevector is not None:
        sub, p = system_amplitudes(statevector, ro)
        out.update(mode="statevector", success_probability=p,
                   trajectory=decode_amplitudes(sub, ro, xs).tolist())
        return out
    counts = list(counts)
    mag = magnitudes(counts[0], ro)
    out.update(success_probability=mag["success_probability"],
               success_probability_err=mag["success_probability_err"],
               shots=mag["shots"], postselected_shots=mag["postselected_shots"])
    circuits = [c for c in (doc.get("signed_readout") or {}).get("circuits", []) if c.get("role") == "signed"]
    if len(counts) == 1:
        out.update(mode="magnitudes",
                   abs_theta_minus_expansion_point=_nan_to_none(mag["abs_theta_minus_expansion_point"]),
                   standard_error=_nan_to_none(mag["standard_error"]))
        return out
    if len(counts) != 1 + len(circuits):
        raise ValueError(f"{len(counts)} counts for {1 + len(circuits)} circuits (the compiled one and "
                         f"{len(circuits)} signed-readout circuits, in the manifest's order)")
    plan = [SignedCircuit.from_dict(c) for c in circuits]
    est = signed_estimates(counts[0], counts[1:], plan, ro, xs)
    rows, z = simultaneous_rows(est, level)
    out.update(mode="signed", rows=rows, z=z, level=level, total_shots=est.shots,
               postselected_shots=est.postselected_shots)
    return out


def _nan_to_none(a):
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a)]


def render_decoded(d: dict) -> str:
    """The `qdsl decode` table."""
    names = d["parameters"]
    L = [f"decode {d.get('model') or 'model'}: {d['mode']}"]
    w = max(8, max(len(n) for n in names))
    if d["mode"] == "signed":
        L.append(f"  {'θ_t':<{w}} {'t':>4} {'quantum (signed)':>24}")
        for r in d["rows"]:
            L.append(f"  {r['parameter']:<{w}} {r['t']:>4} {format_signed(r):>24}")
        L.append(f"  intervals: simultaneous {100 * d['level']:g} % (z = {d['z']:.3f}·σ, Bonferroni over "
                 f"{len(d['rows'])}); {d['total_shots']} shots in all, {d['postselected_shots']} post-selected")
    else:
        head = "θ_t" if d["mode"] == "statevector" else "|θ_t − θ*|"
        L.append(f"  {'t':>4} " + " ".join(f"{n:>{max(12, len(n))}}" for n in names) + f"   ({head})")
        rows = d["trajectory"] if d["mode"] == "statevector" else d["abs_theta_minus_expansion_point"]
        errs = None if d["mode"] == "statevector" else d["standard_error"]
        for t, row in enumerate(rows):
            cells = []
            for i, n in enumerate(names):
                v = row[i]
                s = "—" if v is None else (f"{v:.6f}" if errs is None else
                                           f"{v:.4f}±{errs[t][i]:.4f}" if errs[t][i] is not None else f"{v:.4f}")
                cells.append(f"{s:>{max(12, len(n))}}")
            L.append(f"  {t:>4} " + " ".join(cells))
    p = d["success_probability"]
    err = d.get("success_probability_err")
    L.append(f"  success probability  {p:.4g}" + (f" ± {err:.2g}" if err else ""))
    if d["mode"] == "magnitudes":
        L.append("  note: computational-basis counts give |θ_t − θ*| only; signed θ needs the "
                 "signed-readout circuits (`qdsl compile --readout signed`)")
    return "\n".join(L)


# ----------------------------------------------------------------------------- input checks

def _bad_input(code: str, message: str, help: str):
    from .diagnostics import CompileError, Diagnostic
    raise CompileError(Diagnostic(code, message, help=help))


def check_statevector(sv, doc: dict) -> np.ndarray:
    r"""`qdsl decode --statevector`: refuse (E0911) a state that is not one the compiled circuit can
    have produced — non-finite amplitudes, or a norm off 1 by more than the simulator's rounding
    (`tolerances.statevector_error` of the report's gate count, plus the sum of squares' own
    rounding, size·u of the array's precision) — or (E0912) one of the wrong number of qubits."""
    from .tolerances import statevector_error

    sv = np.asarray(sv)
    if sv.dtype.kind not in "fc" or sv.size == 0:
        _bad_input("E0911", f"the statevector must be a non-empty float or complex array, not {sv.dtype} "
                            f"of {sv.size} entries", "save the simulator's state with numpy.save")
    if not np.all(np.isfinite(sv)):
        bad = int(np.sum(~np.isfinite(sv)))
        _bad_input("E0911", f"the statevector has {bad} NaN or infinite amplitude(s) of {sv.size}",
                   "a simulator's output state is finite; check how it was produced")
    ro = doc["readout"]
    n = len(ro["system_qubits"]) + len(ro["postselect"])
    if sv.size != 1 << n:
        _bad_input("E0912", f"the statevector has {sv.size} amplitudes; the report's circuit has {n} "
                            f"qubits (2^{n} = {1 << n} amplitudes)",
                   "decode the output of the circuit this report describes")
    gates = sum(int(v) for k, v in ((doc.get("circuit") or {}).get("counts") or {}).items()
                if k not in ("measure", "barrier"))
    u = float(np.finfo(sv.real.dtype).eps) / 2
    # without the gate count (a signed-readout manifest states none) the bound is not known: 1e-6
    tol = statevector_error(gates, width=3) + sv.size * u + 1e-12 if gates else 1e-6
    norm = float(np.linalg.norm(sv.astype(complex)))
    if abs(norm - 1.0) > tol:
        _bad_input("E0911", f"the statevector's norm is {norm:.12g}, not 1 within the simulator's rounding "
                            f"({tol:.2g} for {gates:,} gates)", "a simulator's output state is a unit vector; "
                                                              "was it post-selected or renormalized?")
    return sv


def check_counts(raw, doc: dict) -> None:
    """`qdsl decode --counts/--result`: refuse counts that cannot come from this report's circuits —
    an outcome wider than its qubits (bitstrings must have exactly that many bits; E0912) — or a
    circuit with no shots at all (E0913). Runs on the JSON as read, before outcomes become ints."""
    ro = doc["readout"]
    n = len(ro["system_qubits"]) + len(ro["postselect"])
    if isinstance(raw, dict) and "results" in raw:
        lists = [(r.get("data") or {}).get("counts") for r in raw["results"]]
    elif isinstance(raw, dict) and "counts" in raw:
        lists = raw["counts"]
    else:
        lists = raw
    lists = [lists] if isinstance(lists, dict) else lists
    if not isinstance(lists, list) or not lists:
        _bad_input("E0913", "the counts hold no circuit's outcomes", "give {bitstring: n} (or a list of them)")
    for j, c in enumerate(lists):
        if not isinstance(c, dict):
            continue   # parse_counts names the shape error
        which = "the compiled circuit" if j == 0 else f"signed-readout circuit {j}"
        total = 0
        for k, v in c.items():
            if isinstance(k, str) and not k.strip().lower().startswith("0x"):
                bits = k.replace(" ", "")
                if bits and set(bits) <= {"0", "1"} and len(bits) != n:
                    _bad_input("E0912", f"{which}: outcome '{k}' has {len(bits)} bits; the report's circuit "
                                        f"measures {n} qubits", "decode counts of the circuits this report describes")
            try:
                out = _outcome(k)
            except ValueError:
                continue
            if out >> n:
                _bad_input("E0912", f"{which}: outcome {k!r} does not fit in the report's {n} qubits",
                           "decode counts of the circuits this report describes")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total += v
        if total <= 0:
            _bad_input("E0913", f"{which} has no shots (its counts are empty or all zero)",
                       "decode counts from a run with --shots K > 0")
