r"""Fault-tolerant resources of a compiled model: counted, estimated, physical (SPEC §4, §5).

Three layers, one additive record:

* **GateCounts** — T gates, Toffolis, arbitrary-angle rotations, Cliffords, measurements and the
  qubit high-water mark. ``+`` adds counts and takes the max of qubits, ``k * r`` repeats a block
  k times; entries may be SymPy expressions, so the same code gives exact counts for a built
  circuit and formulas in n, T, N, ε, s (Qualtran's ``GateCounts``).

* **counted** (``method: "counted"``) — the built circuit, lowered to the native basis by the
  OpenQASM 3 emitter (``backends.qasm3.lower``), counted recursively over its named gate
  definitions (each distinct block once, times its number of calls). Angles that are multiples of
  π/2 are Cliffords, odd multiples of π/4 are one exact T; every other ``rz``/``ry`` is one
  rotation, synthesized by Ross–Selinger gridsynth at δ = ε_synth / (number of rotations), costing

      T_rot(δ) = 3·log₂(1/δ) + 2      (Ross & Selinger 2016; fitted to qiskit's gridsynth_rz:
                                      mean 30.7 / 61.6 / 91.8 T at δ = 1e-3 / 1e-6 / 1e-9).

* **estimated** (``method: "estimated"``) — a symbolic model of the QSVT solver of
  ``synthesis/qsvt.py`` for projected sizes, nothing built:

      D = Σ_{j≤N} n^j (kronecker) or C(n+N, N) (symmetric),   m = ⌈log₂ D⌉,
      m_t = ⌈log₂ max(T+1+p, 2)⌉                               (system qubits m + m_t),
      κ′ ≤ α·‖L⁻¹‖ ≤ 2(T+1)  when ‖I+F_1‖ ≤ 1 (α = 1+β, β = 1; L⁻¹ = Σ_{k≤T}(S·M̄)^k),
      d = κ′·ln(8/ε)          (qsp.degree_for at δ = ε/4: δ_m ≈ 2e^{−2m/κ′}, d = 2m − 1),

  and d calls of a block-encoding of L = I − S·M̄ (LCU: one PREP rotation pair, a controlled
  increment of the time register, a block-encoding of M̄) plus d+1 projector phases (a zero-
  controlled flip on the ancillas, one RZ, the flip again). Two block-encodings of M̄:

  - ``sparse`` (the scalable one, default for projections): the sparse-access block-encoding
    (Gilyén–Su–Low–Wiebe 2019, Lemma 48; Qualtran ``SparseMatrix``) with subnormalization s·max|a|:
    two uniform preparations over s slots (2⌈log₂ s⌉ Toffolis each), row and column index oracles
    (2·(2m + m_t) Toffolis each, compute + uncompute, under the **QRAM access model** of the paper:
    one query to the sparsity tables of F costs O(address bits) Toffolis), and an entry oracle
    computing a b-bit Carleman entry as a product of up to N entries of F
    (2·((N−1)·b² + m + b) Toffolis) turned into an amplitude by a phase-gradient rotation
    (b Toffolis), b = ⌈log₂(d·s/ε)⌉;
  - ``dense`` (what qdsl builds today, used to validate against the counted circuit): the
    controlled unitary dilation of each distinct transfer matrix synthesized as a generic
    (m+2)-qubit unitary, ≈ (13/16)·4^{m+2} rotations (measured on qiskit's synthesis: 0.78–0.80
    for m = 4, 5), plus the time-pattern multi-controlled X gates.

* **physical** — the surface-code footprint of `backends.physical` (PSSPC layout, code distance
  from p_L(d) = A·(p/p_th)^{(d+1)/2}, 15-to-1 factories sized to the needed T-state error and
  counted from the logical depth; Fowler 2012, Litinski 2019, Beverland et al. 2022), or
  Microsoft's estimator on the same logical counts (`physical="qdk"`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import sympy as sp

from .physical import DEFAULT_CONSTANTS as PHYSICAL_CONSTANTS
from .physical import LogicalCounts, physical_estimate, summary

__all__ = ["GateCounts", "ResourceReport", "resources", "count_circuit", "estimate", "ModelInputs",
           "surface_code", "t_per_rotation", "SURFACE_CODE", "COUNT_LIMIT_DIM"]

#: largest padded history dimension that `resources` builds and counts (= QSVT's SIZE_LIMIT_DIM)
COUNT_LIMIT_DIM = 4096

#: T gates per Toffoli (Jones 2013 / Gidney's temporary AND: 4 T, measurement-based uncompute)
T_PER_TOFFOLI = 4

#: gridsynth T-count model T_rot(δ) = GRIDSYNTH_A·log₂(1/δ) + GRIDSYNTH_B
GRIDSYNTH_A, GRIDSYNTH_B = 3, 2

#: rotations of a generic k-qubit unitary in qiskit's synthesis, per 4^k (measured, k = 6, 7)
DENSE_ROTATIONS_PER_4K = sp.Rational(13, 16)

#: surface-code constants (all reported under `assumptions`): those of `backends.physical`
SURFACE_CODE = {**PHYSICAL_CONSTANTS, "t_states_per_rotation": "3*log2(1/delta) + 2 (gridsynth)",
                "t_per_toffoli": T_PER_TOFFOLI}


# ---------------------------------------------------------------------------------------------
# the additive record
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GateCounts:
    r"""Additive gate counts: ``a + b`` adds every count and takes max(qubits); ``k * a`` repeats.

    `t` exact T/T† gates, `toffoli` Toffolis (AND gates), `rotations` arbitrary-angle single-qubit
    rotations (each synthesized into T gates later), `cliffords`, `measurements`, `qubits` (the
    high-water mark, never added). Entries are ints or SymPy expressions."""

    t: object = 0
    toffoli: object = 0
    rotations: object = 0
    cliffords: object = 0
    measurements: object = 0
    qubits: object = 0

    @classmethod
    def zero(cls) -> "GateCounts":
        return cls()

    def __add__(self, other: "GateCounts") -> "GateCounts":
        if not isinstance(other, GateCounts):
            return NotImplemented
        return GateCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)
                            if f.name != "qubits"), qubits=_max(self.qubits, other.qubits))

    def __radd__(self, other):
        if other == 0:  # sum([...]) starts from 0
            return self
        return NotImplemented

    def __mul__(self, k) -> "GateCounts":
        return GateCounts(*(getattr(self, f.name) * k for f in fields(self) if f.name != "qubits"),
                          qubits=self.qubits)

    __rmul__ = __mul__

    def with_qubits(self, q) -> "GateCounts":
        return GateCounts(self.t, self.toffoli, self.rotations, self.cliffords, self.measurements, q)

    def t_count(self, t_rot=0):
        r"""T = t + 4·toffoli + rotations·T_rot (T_rot: T gates per synthesized rotation)."""
        return self.t + T_PER_TOFFOLI * self.toffoli + self.rotations * t_rot

    def subs(self, values: dict) -> "GateCounts":
        return GateCounts(*(_subs(getattr(self, f.name), values) for f in fields(self)))

    def to_dict(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


def _max(a, b):
    if isinstance(a, sp.Basic) or isinstance(b, sp.Basic):
        return sp.Max(a, b)
    return max(a, b)


def _subs(v, values):
    return v.subs(values) if isinstance(v, sp.Basic) else v


def _jsonable(v):
    if isinstance(v, sp.Basic):
        if v.is_number:
            return _num(v)
        return str(v)
    return v


def _num(v):
    """An exact integer when the value is integral, else a float (SymPy numbers included)."""
    v = sp.nsimplify(v) if isinstance(v, float) else v
    if isinstance(v, int):
        return v
    if isinstance(v, sp.Basic):
        if v.is_Integer:
            return int(v)
        f = float(sp.N(v, 30))
        return int(round(f)) if f.is_integer() else f
    return v


def t_per_rotation(delta):
    r"""T gates of one gridsynth rotation at operator-norm error δ: 3·log₂(1/δ) + 2 (SymPy-safe)."""
    if isinstance(delta, sp.Basic):
        return GRIDSYNTH_A * sp.log(1 / delta, 2) + GRIDSYNTH_B
    return GRIDSYNTH_A * math.log2(1.0 / float(delta)) + GRIDSYNTH_B


# ---------------------------------------------------------------------------------------------
# counted: the built circuit
# ---------------------------------------------------------------------------------------------

_CLIFFORD_NAMES = {"cx", "cz", "cy", "h", "x", "y", "z", "s", "sdg", "swap", "id", "sx", "sxdg"}


def _angle_class(theta: float) -> str:
    k = theta / (math.pi / 4)
    if abs(k - round(k)) < 1e-12:
        return "clifford" if round(k) % 2 == 0 else "t"
    return "rotation"


def count_circuit(circuit) -> GateCounts:
    """Exact GateCounts of a circuit after native lowering (see `count_lowered`)."""
    return count_lowered(circuit)[0]


def count_lowered(circuit) -> tuple[GateCounts, int]:
    r"""(counts, emitter_rotations): exact GateCounts of a circuit after native lowering (``backends.qasm3.lower``): counted
    recursively over the named gate definitions, each distinct block once (memoized) and multiplied
    by its uses. `rotations` must equal the emitter's own count (``EmitResult.rotations``), returned
    beside it as a cross-check of the two independent classifications."""
    from .qasm3 import lower

    body, emitter_rot, _lw = lower(circuit, basis="native")
    memo: dict[str, GateCounts] = {}

    def walk(qc) -> GateCounts:
        total = GateCounts.zero()
        for inst in qc.data:
            op = inst.operation
            name = op.name
            if name in ("rz", "ry", "rx", "p", "u1"):
                cls = _angle_class(float(op.params[0]))
                total += GateCounts(t=1) if cls == "t" else (
                    GateCounts(rotations=1) if cls == "rotation" else GateCounts(cliffords=1))
            elif name in ("t", "tdg"):
                total += GateCounts(t=1)
            elif name in ("ccx",):
                total += GateCounts(toffoli=1)
            elif name in _CLIFFORD_NAMES:
                total += GateCounts(cliffords=1)
            elif op.definition is not None:
                if name not in memo:
                    memo[name] = walk(op.definition)
                total += memo[name]
            else:  # pragma: no cover - lower() emits only the native basis and blocks
                raise ValueError(f"cannot count gate '{name}'")
        return total

    n = body.num_qubits
    return (walk(body) + GateCounts(measurements=n)).with_qubits(n), int(emitter_rot)


# ---------------------------------------------------------------------------------------------
# estimated: the symbolic model
# ---------------------------------------------------------------------------------------------

# the symbols of the formulas
n, T, N, eps, s = sp.symbols("n T N eps s", positive=True)
K, p_idle = sp.symbols("K p", nonnegative=True)     # distinct transfer matrices, idle steps
D, m, m_t, kappa, d, b = sp.symbols("D m m_t kappa d b", positive=True)


@dataclass(frozen=True)
class ModelInputs:
    """What the estimator needs (no matrices): sizes, conditioning and sparsity of one model.

    `kappa` is κ′ of the block-encoded system (default: the dissipative bound 2(T+1));
    `classes` the number of distinct transfer matrices (sgd: distinct batches, ≤ T)."""

    n: int
    steps: int
    order: int
    eps: float
    sparsity: int
    basis: str = "kronecker"
    idle: int = 0
    classes: int = 1
    kappa: float | None = None
    kappa_source: str = "bound 2(T+1) (‖I+F_1‖ ≤ 1)"
    degree_q: int | None = None


def carleman_dim(n_: int, order: int, basis: str) -> int:
    """Σ_{j=0..N} n^j (kronecker) or C(n+N, N) (symmetric), exact integers (nothing built)."""
    if basis == "kronecker":
        return sum(n_ ** j for j in range(order + 1))
    return math.comb(n_ + order, order)


def _clog2(x: int) -> int:
    """⌈log₂ x⌉ for a positive integer (exact, any size)."""
    return max(0, (int(x) - 1).bit_length())


def _formulas(block_encoding: str, basis: str) -> dict:
    r"""The symbolic model: a dict name → SymPy expression (in n, T, N, eps, s, K, p and the
    derived D, m, m_t, kappa, d, b). GateCounts of the whole solver under key "total"."""
    f: dict = {}
    f["D"] = (sp.Sum(n ** sp.Symbol("j"), (sp.Symbol("j"), 0, N)) if basis == "kronecker"
              else sp.binomial(n + N, N))
    f["m"] = sp.ceiling(sp.log(D, 2))
    f["m_t"] = sp.ceiling(sp.log(sp.Max(T + 1 + p_idle, 2), 2))
    f["kappa"] = 2 * (T + 1)
    f["d"] = kappa * sp.log(8 / eps)
    lg_s = sp.ceiling(sp.log(s, 2))
    increment = GateCounts(toffoli=m_t, cliffords=2 * m_t)
    prep = GateCounts(rotations=2, cliffords=2)               # RY(±2 atan √β) on `sel`
    if block_encoding == "sparse":
        f["b"] = sp.ceiling(sp.log(d * s / eps, 2))
        uniform = GateCounts(toffoli=2 * lg_s, cliffords=2 * lg_s)
        index_oracle = GateCounts(toffoli=2 * (2 * m + m_t), cliffords=4 * m)
        entry_oracle = GateCounts(toffoli=2 * ((N - 1) * b ** 2 + m + b) + b, cliffords=2 * b)
        be_M = 2 * uniform + 2 * index_oracle + entry_oracle + GateCounts(cliffords=2 * m)  # + swap
        be_L = prep + increment + be_M + GateCounts(toffoli=2 * m_t)  # idle/zero time patterns
        anc = 4 + lg_s                      # sel, flag, rotation target, dilation + slot register
        qubits = (m + m_t) + 1 + lg_s + m + 3 * b + 3
        state_prep = GateCounts(toffoli=N * sp.ceiling(sp.log(n + 1, 2)) * b)
    else:
        dil = GateCounts(rotations=DENSE_ROTATIONS_PER_4K * 4 ** (m + 2),
                         cliffords=sp.Rational(1, 4) * 4 ** (m + 2))
        pattern = GateCounts(toffoli=2 * m_t, cliffords=4 * m_t)   # flag on/off for one class
        be_L = prep + increment + K * (dil + pattern) + 2 * pattern  # + idle/zero patterns
        anc = 3                             # sel, dil, flag
        qubits = (m + m_t) + anc + 1
        state_prep = GateCounts(rotations=2 ** m, cliffords=2 ** m)
    zero_flip = GateCounts(toffoli=2 * (anc - 1), cliffords=2 * anc)   # MCX on anc controls
    phase = 2 * zero_flip + GateCounts(rotations=1)
    total = (d * be_L + (d + 1) * phase + GateCounts(rotations=1, cliffords=2) + state_prep
             + GateCounts(measurements=qubits))
    f["block_encoding_L"] = be_L
    f["projector_phase"] = phase
    f["total"] = total.with_qubits(qubits)
    return f


def _odd_ceil(x: float) -> int:
    k = max(1, math.ceil(x))
    return k if k % 2 else k + 1


def estimate(inp: ModelInputs, *, block_encoding: str = "sparse") -> dict:
    r"""Evaluate the symbolic model for `inp`: {"counts": GateCounts (numbers), "values": the
    derived sizes, "formulas": strings, "t_count", "logical_qubits", "t_per_rotation"}.
    Exact integer arithmetic for D, m, m_t (works for n = 10^8 and beyond)."""
    f = _formulas(block_encoding, inp.basis)
    Dv = carleman_dim(int(inp.n), int(inp.order), inp.basis)
    mv = _clog2(Dv)
    mtv = _clog2(max(inp.steps + 1 + inp.idle, 2))
    kv = float(inp.kappa) if inp.kappa is not None else 2.0 * (inp.steps + 1)
    dv = _odd_ceil(kv * math.log(8.0 / inp.eps))
    base = {n: int(inp.n), T: int(inp.steps), N: int(inp.order), eps: sp.Float(inp.eps, 30),
            s: int(max(inp.sparsity, 1)), K: int(inp.classes), p_idle: int(inp.idle)}
    vals = {D: Dv, m: mv, m_t: mtv, kappa: sp.Float(kv, 30), d: dv}
    if "b" in f:
        bv = _clog2(math.ceil(dv * max(inp.sparsity, 1) / inp.eps))
        vals[b] = bv
    allv = {**base, **vals}
    counts = f["total"].subs(allv)
    counts = GateCounts(*(_num(sp.simplify(getattr(counts, x.name))) if isinstance(getattr(counts, x.name), sp.Basic)
                          else getattr(counts, x.name) for x in fields(counts)))
    rot = counts.rotations
    t_rot = t_per_rotation(inp.eps / rot) if rot else 0.0
    t_total = counts.t_count(t_rot)
    formulas = {"D": str(f["D"]), "m": str(f["m"]), "m_t": str(f["m_t"]),
                "kappa": str(f["kappa"]) if inp.kappa is None else f"{kv:.6g} ({inp.kappa_source})",
                "d": str(f["d"]) + "  (rounded up to odd)",
                "system_qubits": "m + m_t"}
    if "b" in f:
        formulas["b"] = str(f["b"])
    tot = f["total"]
    formulas.update({
        "toffoli": str(tot.toffoli), "rotations": str(tot.rotations), "t": str(tot.t),
        "logical_qubits": str(tot.qubits),
        "t_per_rotation": "3*log2(rotations/eps) + 2",
        "t_count": "t + 4*toffoli + rotations*t_per_rotation",
        "block_encoding_L": str(f["block_encoding_L"].t_count(sp.Symbol("t_rot"))),
    })
    values = {"D": Dv, "m": mv, "m_t": mtv, "system_qubits": mv + mtv, "kappa": kv, "d": dv,
              "block_encoding_calls": dv}
    if "b" in f:
        values["b"] = vals[b]
    return {"counts": counts, "values": values, "formulas": formulas, "t_per_rotation": t_rot,
            "t_count": int(math.ceil(t_total)) if t_total < 1e300 else t_total,
            "logical_qubits": int(counts.qubits), "block_encoding": block_encoding}


# ---------------------------------------------------------------------------------------------
# physical: surface code
# ---------------------------------------------------------------------------------------------

def surface_code(logical_qubits: int, t_count: float, constants: dict | None = None, *,
                 backend: str = "builtin") -> dict:
    """The physical footprint of `logical_qubits` and `t_count` T gates (`backends.physical`)."""
    return physical_estimate(LogicalCounts(qubits=logical_qubits, t_count=t_count), backend=backend,
                             constants=constants)


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceReport:
    """What `resources(c, ...)` returns: `to_dict()` (the JSON of `qdsl resources --json`) and
    `render()` (a table)."""

    method: str
    logical_qubits: int
    t_count: int
    counts: GateCounts
    physical: dict
    inputs: dict
    formulas: dict = field(default_factory=dict)
    assumptions: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    notes: tuple = ()
    model: str = "model"

    def to_dict(self) -> dict:
        return {"model": self.model, "method": self.method, "logical_qubits": int(self.logical_qubits),
                "t_count": _jsonable(self.t_count), "counts": self.counts.to_dict(),
                "physical": self.physical, "inputs": self.inputs, "formulas": self.formulas,
                "assumptions": self.assumptions, "details": self.details, "notes": list(self.notes)}

    def render(self) -> str:
        i, ph, c = self.inputs, self.physical, self.counts
        rows = [
            ("model", f"{self.model} ({self.method}; solver {i.get('solver')}, "
                      f"block-encoding {i.get('block_encoding')})"),
            ("parameters n", f"{i['n']:,}"), ("steps T", f"{i['T']}"),
            ("Carleman order N / basis", f"{i['N']} / {i['basis']}"),
            ("Carleman dimension D", _big(i["carleman_dim"])),
            ("system qubits (m + m_t)", f"{i['system_qubits']}"),
            ("κ′ (source)", f"{i['kappa']:.6g} ({i['kappa_source']})"),
            ("sparsity s", f"{i['sparsity']}"), ("ε", f"{i['eps']:g}"),
            ("QSVT degree / block-encoding calls", f"{i.get('degree')}"),
            ("logical qubits", f"{self.logical_qubits:,}"),
            ("T count", _big(self.t_count)),
            ("  Toffolis / rotations / exact T", f"{_big(c.toffoli)} / {_big(c.rotations)} / {_big(c.t)}"),
            ("  T per rotation", f"{self.details.get('t_per_rotation', 0):.1f}"),
            ("code distance", f"{ph['code_distance']}"),
            ("physical qubits", _big(ph["physical_qubits"])),
            ("runtime", _duration(ph["runtime_seconds"])),
        ]
        w = max(len(r[0]) for r in rows)
        out = [f"fault-tolerant resources of `{self.model}`", "-" * (w + 40)]
        out += [f"{k.ljust(w)}  {v}" for k, v in rows]
        out += ["", summary(ph)]
        out += [f"note: {x}" for x in self.notes]
        return "\n".join(out)


def _big(v) -> str:
    v = _num(v) if isinstance(v, sp.Basic) else v
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3e}"
    v = int(v)
    return f"{v:,}" if abs(v) < 10 ** 12 else f"{v:.3e}"


def _duration(sec: float) -> str:
    for unit, k in (("years", 3.156e7), ("days", 86400), ("hours", 3600), ("s", 1)):
        if sec >= k:
            return f"{sec / k:.3g} {unit} ({sec:.3e} s)"
    return f"{sec:.3e} s"


# ---------------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------------

def _bad(code: str, message: str, help: str):
    from qdsl.diagnostics import CompileError, Diagnostic
    raise CompileError(Diagnostic(code, message, help=help))


def _check_options(params, steps, eps):
    if params is not None:
        try:
            pv = float(params)
        except (TypeError, ValueError):
            _bad("E0601", f"--params must be a number, not {params!r}", "e.g. --params 1e8")
        if not math.isfinite(pv) or pv < 1 or pv != int(pv):
            _bad("E0601", f"--params must be a positive whole number of parameters, not {params:g}"
                 if isinstance(params, (int, float)) else f"--params must be positive, not {params}",
                 "e.g. --params 7e6 (the paper's ResNet) or --params 1e8")
        params = int(pv)
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) and not (isinstance(steps, float) and steps.is_integer()) \
                or int(steps) < 1:
            _bad("E0602", f"--steps must be a positive integer, not {steps}", "e.g. --steps 100")
        steps = int(steps)
    if eps is not None:
        try:
            ev = float(eps)
        except (TypeError, ValueError):
            ev = float("nan")
        if not (math.isfinite(ev) and 0 < ev < 1):
            _bad("E0603", f"--eps must be a precision in (0, 1), not {eps}",
                 "e.g. --eps 1e-3 (the error of the post-selected solution state)")
        eps = ev
    return params, steps, eps


def _model_eps(c) -> float:
    e = c.options.eps if c.options.eps is not None else c._solver_arg("eps")
    return float(e) if e is not None else 1e-3


def _lifted_sparsity(c, cert: dict) -> tuple[int, str]:
    sps = cert.get("sparsity") or {}
    M = sps.get("M")
    if M and M.get("s"):
        return int(M["s"]), "certificate: row/column sparsity of the transfer matrix M"
    # not built: every F_ℓ's sparsity enters each of the N factors of a Carleman row
    q = sum(int(v["s"]) for k, v in sps.items() if k.startswith("F_") and v)
    return max(1, 1 + c.order * q), "bound 1 + N·Σ_ℓ s(F_ℓ) (M too large for the certificate)"


def resources(c, *, params=None, steps=None, eps=None, block_encoding: str | None = None,
              count: bool | None = None, physical: str = "builtin") -> ResourceReport:
    r"""Fault-tolerant resources of a Compilation `c` (SPEC §4, §5).

    Without `params`/`steps` and when the padded history system has dimension ≤ 4096 the circuit
    is built and counted (``method="counted"``); otherwise the symbolic QSVT model is evaluated for
    n = `params`, T = `steps` (``method="estimated"``; nothing is built at the projected size).
    `eps`: target precision (default: the model's solver eps, else 1e-3). `block_encoding`
    ("sparse" | "dense") picks the estimator's block-encoding model (default sparse). `count`
    forces (True) or forbids (False) building the circuit. `physical`: "builtin" or "qdk" (Microsoft's
    estimator on the same logical counts; `backends.physical`)."""
    params, steps, eps = _check_options(params, steps, eps)
    system = c.system
    n0, T0 = int(system.n), int(system.dynamics.steps)
    nv = params if params is not None else n0
    Tv = steps if steps is not None else T0
    if steps is not None and steps != T0 and c.options.steps is None:
        pass  # the compilation keeps its own T; the projection uses `steps`
    epsv = eps if eps is not None else _model_eps(c)
    N_, basis = int(c.order), c.basis
    idle = int(c.idle)
    D0 = carleman_dim(n0, N_, basis)
    padded = (1 << _clog2(D0)) * (1 << _clog2(max(T0 + 1 + idle, 2)))
    projecting = params is not None or steps is not None
    solver = c.solver
    if count is None:
        count = (not projecting) and padded <= COUNT_LIMIT_DIM and solver in ("qsvt", "hhl")
    cert = c.certificate.to_dict()
    s_val, s_src = _lifted_sparsity(c, cert)
    classes = 1
    if system.kind == "sgd" and system.step_F:
        distinct = {tuple(f.tobytes() if hasattr(f, "tobytes") else
                          (f.toarray().tobytes() if hasattr(f, "toarray") else repr(f)) for f in Ft)
                    for Ft in system.step_F}
        classes = min(len(distinct), Tv)
    norm = cert.get("transfer_norm")
    if system.kind == "flow":
        dissipative_norm = cert.get("log_norm") is not None and cert["log_norm"] <= 0
    else:
        dissipative_norm = norm is not None and norm <= 1 + 1e-12
    notes = []
    if dissipative_norm:
        kap, ksrc = None, "bound 2(T+1): ‖I+F_1‖ ≤ 1"
    else:
        kap0 = None
        if padded <= COUNT_LIMIT_DIM:
            try:
                kap0 = float(c.linear_system.kappa)
            except Exception:  # noqa: BLE001 - the certificate never blocks an estimate
                kap0 = None
        if kap0 is None or not math.isfinite(kap0):
            kap, ksrc = None, "bound 2(T+1) (‖I+F_1‖ > 1 and κ not measured: optimistic)"
            notes.append("‖I+F_1‖ > 1: κ may grow exponentially in T; the 2(T+1) bound used is optimistic")
        else:
            kap = kap0 * (Tv + 1) / (T0 + 1)
            ksrc = f"measured κ = {kap0:.4g} at T = {T0}, scaled by (T+1)/{T0 + 1}"
    inp = ModelInputs(n=nv, steps=Tv, order=N_, eps=epsv, sparsity=s_val, basis=basis, idle=idle,
                      classes=classes, kappa=kap, kappa_source=ksrc, degree_q=int(system.degree))
    be = block_encoding or "sparse"
    est = estimate(inp, block_encoding=be)
    inputs = {"n": nv, "T": Tv, "N": N_, "basis": basis, "q": int(system.degree), "eps": epsv,
              "kappa": est["values"]["kappa"], "kappa_source": ksrc, "sparsity": s_val,
              "sparsity_source": s_src, "transfer_classes": classes, "idle": idle,
              "carleman_dim": est["values"]["D"],
              "history_dim": est["values"]["D"] * (Tv + 1 + idle),
              "system_qubits": est["values"]["system_qubits"], "solver": "qsvt",
              "block_encoding": be, "degree": est["values"]["d"],
              "compiled": {"n": n0, "T": T0}}
    assumptions = {"surface_code": dict(SURFACE_CODE),
                   "gridsynth": "T per rotation = 3*log2(1/delta) + 2, delta = eps / rotations",
                   "error_budget": "eps for the polynomial (δ = eps/4 relative), eps for rotation "
                                   "synthesis, entries to b = ceil(log2(d*s/eps)) bits",
                   "sparsity": "the sparsity s of the transfer matrix M stays fixed as n grows",
                   "oracle_access": "QRAM-style access to the nonzeros of F_ℓ: one index/entry query "
                                    "costs O(address bits + b) Toffolis (the paper's model)",
                   "kappa": ksrc}
    if projecting:
        notes.append(f"projected from the compiled model (n = {n0}, T = {T0}) with its sparsity "
                     f"s = {s_val} held fixed; nothing was built at the projected size")
    if solver == "hhl":
        notes.append("the estimator models the QSVT solver (HHL's phase estimation scales as κ²/ε "
                     "and is not projected)")
    details = {"estimate": {"t_count": est["t_count"], "logical_qubits": est["logical_qubits"],
                            "counts": est["counts"].to_dict(), "values": est["values"]},
               "t_per_rotation": est["t_per_rotation"]}
    if count:
        return _counted(c, inp, est, inputs, assumptions, details, notes, epsv, physical)
    ph = surface_code(est["logical_qubits"], est["t_count"], backend=physical)
    if not projecting:
        notes.append(f"too large to build (padded history dimension {padded:,} > {COUNT_LIMIT_DIM}); "
                     "estimated")
    return ResourceReport(method="estimated", logical_qubits=est["logical_qubits"],
                          t_count=est["t_count"], counts=est["counts"], physical=ph, inputs=inputs,
                          formulas=est["formulas"], assumptions=assumptions, details=details,
                          notes=tuple(notes), model=c.model.name)


def _counted(c, inp, est, inputs, assumptions, details, notes, epsv, physical="builtin") -> ResourceReport:
    prog = c.program
    counts, emitter_rot = count_lowered(prog.circuit)
    rot = int(counts.rotations)
    delta = epsv / rot if rot else 1.0
    t_rot = t_per_rotation(delta) if rot else 0.0
    t_total = int(math.ceil(counts.t_count(t_rot)))
    dense = estimate(inp, block_encoding="dense")
    meta = prog.meta
    inputs = dict(inputs, solver=prog.solver, block_encoding=meta.get("block_encoding", {}).get(
        "method", prog.solver), degree=meta.get("degree"), kappa=float(meta.get("kappa_prime", meta.get("kappa", 0))),
        kappa_source="measured κ′ = α‖L⁻¹‖ of the built system" if "kappa_prime" in meta else
        "measured κ of the built system")
    details = dict(details, t_per_rotation=t_rot, rotation_precision=delta, emitter_rotations=emitter_rot,
                   estimate_dense={"t_count": dense["t_count"], "logical_qubits": dense["logical_qubits"],
                                   "counts": dense["counts"].to_dict(), "values": dense["values"]},
                   estimate_over_counted={"t_count": dense["t_count"] / max(t_total, 1),
                                          "logical_qubits": dense["logical_qubits"] / counts.qubits},
                   declared=dict(prog.declared))
    formulas = {"t_per_rotation": "3*log2(rotations/eps) + 2",
                "t_count": "t + 4*toffoli + rotations*t_per_rotation (counted gates)",
                "estimator": est["formulas"]}
    ph = surface_code(int(counts.qubits), t_total, backend=physical)
    return ResourceReport(method="counted", logical_qubits=int(counts.qubits), t_count=t_total,
                          counts=counts, physical=ph, inputs=inputs, formulas=formulas,
                          assumptions=assumptions, details=details, notes=tuple(notes),
                          model=c.model.name)
