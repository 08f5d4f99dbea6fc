r"""Qiskit simulation of a QLSA circuit and the docs/maths.md readout (`qdsl run`).

`simulate(program)` runs the circuit (Qiskit `Statevector` or Aer), post-selects the ancillas, and
compares with the classical solve of L·Y = B:

* ``success_probability`` p = Σ |amplitude|² over the basis states whose `postselect` qubits hold
  their values; ``repetitions`` ≈ 1/p runs of repeat-until-success, or ``amplification_rounds`` =
  ⌊π/(4·asin √p)⌋ rounds of amplitude amplification instead;
* ``fidelity`` = |⟨Ŷ, a⟩|² / ‖a_all‖², Ŷ = Y/‖Y‖ the classical solution, a its entries' amplitudes
  (at `solution_map`) and a_all every post-selected system amplitude — amplitude that lands on a
  padded index outside `solution_map` lowers the fidelity;
* ``trajectory`` θ_t[i] = θ*_i + Re(a(t, u_i)/a(t, 1)) (docs/maths.md), decoded by the report's
  readout dict alone (`qdsl.readout`), beside ``exact_trajectory`` decoded from the classical Y by
  the linear system's own indices — two routes, so a wrong readout contract shows.

Shots mode (``shots=K``): K measurement outcomes of every qubit, seeded — sampled by Aer (backend
"aer") or drawn from the exact final state (backend "statevector": dense, or sparse for wide
circuits; `sample_counts`).  Counts in the
computational basis carry **magnitudes only**: the mode estimates p, |a_j| and the ratios
|a(t, u_i)|/|a(t, 1)| = |θ_t[i] − θ*_i| with binomial / delta-method standard errors, and the
"magnitude fidelity" (Σ_j |Ŷ_j|·√q̂_j)², an upper bound of the fidelity that ignores phases, so
``trajectory`` and ``fidelity`` are None in shots mode; nothing is borrowed from the exact
statevector.  Signed θ from shots comes from the signed-readout circuits (`qdsl.readout`,
`sample_counts`), which `qdsl run --shots` runs beside this one.

A qubit limit (default 26, environment variable QDSL_MAX_QUBITS) refuses larger dense simulations
up front with SizeLimitError E0501. The "statevector" backend switches to the exact sparse
simulator (`backends.sparse_sim`) above SPARSE_FROM qubits: structured circuits keep few nonzero
amplitudes however wide they are; it refuses (E0501) a state whose support outgrows
SPARSE_MAX_SUPPORT entries.

Every simulation is predicted before it starts (`predict`: processor seconds and memory, from the
program and rates `calibrate` measures on this machine) and refused over its budget
(`check_budget`: E0530 past `max_seconds`, E0531 past half the available memory); the sparse
simulator also stops, with the same codes, when it outgrows the budget while running.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from qdsl.diagnostics import CompileError, Diagnostic, SizeLimitError

DEFAULT_MAX_QUBITS = 26
#: the "statevector" backend simulates circuits wider than this with the sparse simulator
SPARSE_FROM = 14
#: the sparse simulator refuses states with more nonzero amplitudes than this (≈ 0.5 GB)
SPARSE_MAX_SUPPORT = 1 << 24


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What one simulation gives (see the module docstring).  Arrays: `amplitudes` (post-selected,
    unnormalized, one per Y entry), `postselected_state` (normalized, every system basis index),
    `trajectory`/`exact_trajectory` ((T+1, n)), `exact_solution` (Y).  Shots mode adds `counts`,
    `success_probability_err`, `abs_amplitudes`(+`_err`), `trajectory_abs`(+`_err`),
    `magnitude_fidelity`."""

    backend: str
    shots: int | None
    seed: int | None
    num_qubits: int
    success_probability: float
    fidelity: float | None
    trajectory: np.ndarray | None
    exact_trajectory: np.ndarray
    exact_solution: np.ndarray
    amplitudes: np.ndarray | None
    postselected_state: np.ndarray | None
    repetitions: float
    amplification_rounds: int
    trajectory_error: float | None
    theta_T_error: float | None
    counts: dict | None = None
    success_probability_err: float | None = None
    abs_amplitudes: np.ndarray | None = None
    abs_amplitudes_err: np.ndarray | None = None
    trajectory_abs: np.ndarray | None = None
    trajectory_abs_err: np.ndarray | None = None
    magnitude_fidelity: float | None = None
    meta: dict = field(default_factory=dict)

    @property
    def theta_T(self):
        """θ_T decoded from the circuit (None in shots mode)."""
        return None if self.trajectory is None else self.trajectory[-1]

    def to_dict(self) -> dict:
        def arr(x):
            if x is None:
                return None
            x = np.asarray(x)
            if np.iscomplexobj(x):
                return {"re": x.real.tolist(), "im": x.imag.tolist()}
            return x.tolist()

        d = {
            "backend": self.backend, "shots": self.shots, "seed": self.seed,
            "num_qubits": self.num_qubits,
            "success_probability": self.success_probability,
            "fidelity": self.fidelity,
            "repetitions": self.repetitions,
            "amplification_rounds": self.amplification_rounds,
            "trajectory": arr(self.trajectory),
            "exact_trajectory": arr(self.exact_trajectory),
            "trajectory_error": self.trajectory_error,
            "theta_T_error": self.theta_T_error,
        }
        if self.shots:
            d.update(success_probability_err=self.success_probability_err,
                     trajectory_abs=arr(self.trajectory_abs),
                     trajectory_abs_err=arr(self.trajectory_abs_err),
                     magnitude_fidelity=self.magnitude_fidelity)
        d["meta"] = dict(self.meta)
        return d


def _aer_simulator():
    """Qiskit Aer's AerSimulator class, imported only for `--backend aer`. Aer is an optional extra
    (`qdsl-compiler[aer]`, or `[gpu]` for qiskit-aer-gpu, which provides the same module): without
    it, a diagnostic (E0802) rather than a traceback."""
    try:
        from qiskit_aer import AerSimulator
    except ImportError as exc:
        raise CompileError(Diagnostic(
            "E0802", f"--backend aer needs Qiskit Aer, which is not installed ({exc})",
            help="pip install 'qdsl-compiler[aer]' (CPU) or 'qdsl-compiler[gpu]' (qiskit-aer-gpu), "
                 "or use the default --backend statevector, which needs neither")) from None
    return AerSimulator


def max_qubits() -> int:
    """The simulator qubit limit: QDSL_MAX_QUBITS, default 26."""
    v = os.environ.get("QDSL_MAX_QUBITS")
    try:
        return int(v) if v else DEFAULT_MAX_QUBITS
    except ValueError:
        raise CompileError(Diagnostic("E0501", f"QDSL_MAX_QUBITS must be an integer, got {v!r}"))


def _statevector(circuit, backend: str, seed):
    qc = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit
    if backend == "statevector":
        return _numpy_statevector(qc)
    from qiskit import transpile
    AerSimulator = _aer_simulator()

    _check_aer_work(qc)
    sim = AerSimulator(method="statevector", seed_simulator=seed)
    qc = qc.copy()
    qc.save_statevector()
    res = sim.run(transpile(qc, sim, optimization_level=0)).result()
    return np.asarray(res.get_statevector(), complex)


#: the simulation's work limit, in multiply-adds: applying a k-qubit unitary to an n-qubit state
#: costs 2^n·(2^k + AMPLITUDE_PASS) (a pass over the state is worth ~32 multiply-adds; numpy does
#: ~5·10^9 a second on one core here), so the limit is about three minutes on one core
WORK_LIMIT = 10 ** 12
AMPLITUDE_PASS = 32


def _check_work(work: float, n: int, what: str) -> None:
    """Refuse (E0501, before any state is touched) a simulation whose estimated work is over
    WORK_LIMIT multiply-adds."""
    if work > WORK_LIMIT:
        raise SizeLimitError(Diagnostic(
            "E0501", f"simulating this {n}-qubit circuit ({what}) takes about {work:.1e} "
                     f"multiply-adds, over the limit of {WORK_LIMIT:.0e} (minutes on one core)",
            help="simulate a smaller model: fewer steps, a lower order, a larger eps (HHL: fewer "
                 "clock bits); `qdsl compile` still writes the circuit"))


def _check_aer_work(qc) -> None:
    """`_check_work` for Aer, which applies every gate of the expanded circuit to the whole state."""
    _check_work(_flat_length(qc) * float((1 << qc.num_qubits) * (2 + AMPLITUDE_PASS)),
                qc.num_qubits, "Aer, every gate expanded")


_SKIP = frozenset(("barrier", "delay"))
FUSE_WIDTH = 5   # fused unitaries act on at most this many qubits
DENSE_BLOCK_WIDTH = 10   # a named block this wide or narrower may be replaced by its dense matrix


def _has_midcircuit(qc) -> bool:
    """Whether the circuit measures mid-way (Gidney's And†: measure, then ``if``) at top level."""
    return any(inst.operation.name in ("measure", "if_else") for inst in qc.data)


def _numpy_midcircuit(qc, forced: int | None = None) -> np.ndarray:
    r"""The dense path for a circuit with mid-circuit measurements (And†, written at top level):
    the unitary runs between them by `_numpy_statevector` from the state so far; a measurement
    projects on the likelier outcome (or `forced`, where it has nonzero probability) and
    renormalizes; an ``if (bit == v)`` applies its body when the bit holds v. For And† both
    outcomes have probability exactly 1/2 and the fix-up makes the state after it the same, so
    either branch is the exact state (tests/backends/test_midcircuit.py forces both)."""
    from qiskit import QuantumCircuit

    from .sparse_sim import _measure

    n = qc.num_qubits
    psi = None
    seg = QuantumCircuit(n)
    bits: dict = {}

    def flush(circ):
        nonlocal psi
        if circ.data or psi is None:
            psi = _numpy_statevector(circ, initial=psi)

    for inst in qc.data:
        name = inst.operation.name
        qs = [qc.find_bit(b).index for b in inst.qubits]
        if name == "measure":
            flush(seg)
            seg = QuantumCircuit(n)
            # the sparse simulator's projection (`sparse_sim._measure`), on every basis index
            keys, amps, m = _measure(np.arange(psi.size), psi, qs[0], forced)
            psi = np.zeros_like(psi)
            psi[keys] = amps
            bits[qc.find_bit(inst.clbits[0]).index] = m
        elif name == "if_else":
            flush(seg)
            seg = QuantumCircuit(n)
            op = inst.operation
            clbit, value = op.condition
            if op.params[1] is not None:
                raise ValueError("dense simulator: if/else with an else branch is not supported")
            if bits.get(qc.find_bit(clbit).index) == int(value):
                body = op.params[0]
                sub = QuantumCircuit(n)
                for binst in body.data:
                    sub.append(binst.operation, [qs[body.find_bit(b).index] for b in binst.qubits])
                flush(sub)
        else:
            seg.append(inst.operation, qs)
    flush(seg)
    return psi


def _numpy_statevector(qc, fuse_width: int = FUSE_WIDTH, dense_width: int = DENSE_BLOCK_WIDTH,
                       work_only: bool = False, initial=None):
    r"""|ψ⟩ = U|0…0⟩ by numpy, independent of Aer, by gate fusion with per-block memoization.

    Every named block (an operation expanded through its ``definition``: wider than 3 qubits, or
    without a matrix) is compiled once per simulation — its instructions flattened (sub-blocks
    inlined from their own compiled programs) and greedily fused into a short program of k-qubit
    unitaries (k ≤ `fuse_width`, block-local little-endian labels: qs[0] is the least significant
    bit of U's index) plus the block's global phase (its definition's ``global_phase`` times its
    sub-blocks').  A block on k qubits, fuse_width < k ≤ `dense_width`, whose fused program is
    longer than 2^{k − fuse_width} items (applying it would cost more than one dense k-qubit
    matrix) is replaced by that matrix, computed once from the program: a block called many times
    (HHL's controlled walk, defined as powers of itself) then costs one matrix product per call and
    per level of the hierarchy instead of its whole flattened program.
    The memo is keyed by ``id(definition)`` and holds a reference to the definition,
    so an id can never be reused by another block during the simulation.  The whole circuit is
    compiled the same way and its fused program replayed on |0…0⟩ by tensor contractions.  An
    operation with neither matrix nor definition falls back to Qiskit's `Statevector`.
    `work_only`: return the estimated multiply-adds of the dry pass instead (nothing is built).

    A circuit with mid-circuit measurements (And†) goes through `_numpy_midcircuit`."""
    from qiskit.quantum_info import Statevector

    if _has_midcircuit(qc):
        if work_only:   # a conservative bound: one dense n-qubit matrix
            return float((1 << qc.num_qubits) * (1 << qc.num_qubits))
        if initial is not None:
            raise ValueError("mid-circuit measurements need _numpy_midcircuit")
        return _numpy_midcircuit(qc)
    n = qc.num_qubits
    mats: dict = {}
    memo: dict = {}     # id(definition) -> (definition, (fingerprint, program, phase))
    canon: dict = {}    # block content (with sub-blocks as fingerprints) -> fingerprint
    by_fp: dict = {}    # fingerprint -> fused program
    dry = True          # first pass: the program's shape and the work of fusing it, no matrices
    fuse_work = 0

    def matrix(op):
        """(key, matrix or None): key identifies the matrix by content (name and float parameters,
        or the matrix bytes where the parameters are not plain numbers)."""
        try:
            key = (type(op), op.name, tuple([float(p) for p in op.params]))
        except (TypeError, ValueError):
            key = None
        if key is not None and key in mats:
            return key, mats[key]
        try:
            m = np.asarray(op.to_matrix(), complex)
        except Exception:
            return key, None
        if key is None:
            key = ("#matrix", m.shape, m.tobytes())
        else:
            mats[key] = m
        return key, m

    def fuse(items):
        """One unitary on the union of the items' qubits (applied in order)."""
        nonlocal fuse_work
        if len(items) == 1:
            return items[0]
        S: list = []
        for qs, _ in items:
            for q in qs:
                if q not in S:
                    S.append(q)
        m = len(S)
        if dry:
            fuse_work += sum(1 << (2 * m + len(qs)) for qs, _ in items)
            return tuple(S), None
        pos = {q: i for i, q in enumerate(S)}
        T = np.eye(2 ** m, dtype=complex).reshape((2,) * m + (2 ** m,))
        for qs, G in items:
            k = len(qs)
            axes = [m - 1 - pos[q] for q in reversed(qs)]
            out = np.tensordot(G.reshape((2,) * (2 * k)), T, axes=(list(range(k, 2 * k)), axes))
            T = np.moveaxis(out, list(range(k)), axes)
        return tuple(S), np.ascontiguousarray(T).reshape(2 ** m, 2 ** m)

    def compile_block(circ, top=False):
        """(fingerprint, program, phase): program a list of (qubits, 2^k×2^k unitary) in circ's
        qubit labels.  Memoized by identity (holding circ) and then by content fingerprint, so
        equal definitions built as separate objects (e.g. by the OpenQASM 3 loader) share one
        compilation while different blocks never do."""
        hit = memo.get(id(circ))
        if hit is not None and hit[0] is circ:
            return hit[1]
        idx = {b: i for i, b in enumerate(circ.qubits)}
        phase = complex(np.exp(1j * float(circ.global_phase)))
        steps: list = []      # (qubits, matrix) or (qubits, sub-program)
        keys: list = []
        qcache: dict = {}
        for inst in circ.data:
            name = inst.name
            if name in _SKIP:
                continue
            qb = inst.qubits
            qs = qcache.get(qb)
            if qs is None:
                qs = qcache[qb] = tuple([idx[b] for b in qb])
            k = len(qs)
            m = None
            if inst.is_standard_gate():
                # fast path: no Python operation object; the matrix is fixed by name and params
                ps = inst.params
                try:
                    key = (name, tuple([float(p) for p in ps])) if ps else name
                except (TypeError, ValueError):
                    key = None
                if key is not None:
                    m = mats.get(key)
                    if m is None:
                        m = inst.matrix
                        if m is not None:
                            m = mats[key] = np.asarray(m, complex)
            if m is None:
                op = inst.operation
                key, m = matrix(op) if k <= 3 else (None, None)
                if m is None:
                    defn = op.definition
                    if defn is None:
                        key, m = matrix(op)
                        if m is None:
                            raise ValueError(
                                f"cannot simulate '{name}': no matrix and no definition")
                    else:
                        fp, sub, sub_phase = compile_block(defn)
                        phase *= sub_phase
                        steps.append((qs, sub))
                        keys.append((qs, fp))
                        continue
            if k == 0:
                phase *= complex(m.reshape(-1)[0])
                continue
            steps.append((qs, m))
            keys.append((qs, key))
        content = (len(idx), tuple(keys))
        fp = canon.get(content)
        if fp is None:
            fp = canon[content] = len(canon)
        compiled = by_fp.get(fp)
        if compiled is None:
            prog: list = []
            group: list = []          # gates being accumulated
            gq: set = set()           # union of their qubits

            def add(qs, G):
                nonlocal gq
                if group and len(gq.union(qs)) > fuse_width:
                    prog.append(fuse(group))
                    group.clear()
                    gq = set()
                group.append((qs, G))
                gq.update(qs)

            for qs, s in steps:
                if isinstance(s, list):
                    for lqs, G in s:
                        add(tuple(qs[q] for q in lqs), G)
                else:
                    add(qs, s)
            if group:
                prog.append(fuse(group))
            if (not top and fuse_width < len(idx) <= dense_width
                    and len(prog) > 1 << (len(idx) - fuse_width)):
                prog = [fuse(prog)]
            compiled = by_fp[fp] = prog
        out = (fp, compiled, phase)
        memo[id(circ)] = (circ, out)
        return out

    try:
        _, prog, phase = compile_block(qc, top=True)
        # the dry pass's program has the real one's shape: check its work before building it
        work = fuse_work + sum((1 << n) * ((1 << len(qs)) + AMPLITUDE_PASS) for qs, _ in prog)
        if work_only:
            return float(work)
        _check_work(work, n, f"{len(prog):,} fused unitaries")
        dry = False
        memo.clear(), canon.clear(), by_fp.clear()
        _, prog, phase = compile_block(qc, top=True)
    except ValueError:
        if work_only:
            return float((1 << n) * (1 << n))
        if initial is not None:
            return np.asarray(Statevector(np.asarray(initial, complex)).evolve(qc).data, complex)
        return np.asarray(Statevector(qc).data, complex)
    if initial is not None:   # from a given state (the runs between mid-circuit measurements)
        psi = np.array(initial, complex).reshape((2,) * n)
    else:
        psi = np.zeros((2,) * n, complex)
        psi[(0,) * n] = 1.0
    from qdsl.progress import progress

    for qs, U in progress(prog, desc="simulate (dense)", unit="block", total=len(prog)):
        k = len(qs)
        axes = [n - 1 - q for q in reversed(qs)]
        out = np.tensordot(U.reshape((2,) * (2 * k)), psi, axes=(list(range(k, 2 * k)), axes))
        psi = np.moveaxis(out, list(range(k)), axes)
    return np.ascontiguousarray(psi).reshape(-1) * phase


def sample_counts(circuit, shots: int, seed, backend: str = "aer") -> dict:
    """{outcome: count} of `shots` runs of `circuit`, every qubit measured (bit q of the outcome =
    qubit q), seeded by `seed`; final measurements already in the circuit are replaced. Backend
    "aer": Aer's sampler. Backend "statevector": the exact final state (dense, or sparse for wide
    circuits, as `simulate` computes it) sampled by a seeded multinomial draw — shots from the
    exact distribution, for circuits too wide for a dense sampler."""
    if backend == "statevector":
        idx, amps, _, _ = _state_entries(circuit, "statevector", seed)
        order = np.argsort(idx)      # the draw depends on the entries' order: make it the indices'
        idx, amps = np.asarray(idx)[order], np.asarray(amps)[order]
        prob = np.abs(amps) ** 2
        draws = np.random.default_rng(seed).multinomial(int(shots), prob / prob.sum())
        hit = np.nonzero(draws)[0]
        return {int(idx[k]): int(draws[k]) for k in hit}
    from qiskit import transpile
    AerSimulator = _aer_simulator()

    qc = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit.copy()
    qc.measure_all()
    _check_aer_work(qc)
    sim = AerSimulator(method="automatic", seed_simulator=seed)
    counts = sim.run(transpile(qc, sim, optimization_level=0, seed_transpiler=0),
                     shots=int(shots)).result().get_counts()
    # with mid-circuit measurements (And†) the key holds their register too: keep measure_all's
    # (keys list the registers last-added first)
    pos = len(qc.cregs) - 1 - [r.name for r in qc.cregs].index("meas")
    return {int(k.split(" ")[pos] if " " in k else k, 2): int(v) for k, v in counts.items()}


def _resolve(program_or_circuit, readout, linear_system, solution_map):
    circuit = getattr(program_or_circuit, "circuit", program_or_circuit)
    if hasattr(program_or_circuit, "readout"):
        readout = readout or program_or_circuit.readout
        linear_system = linear_system or program_or_circuit.linear_system
        if solution_map is None:
            solution_map = program_or_circuit.solution_map
    if readout is None or linear_system is None:
        raise ValueError("simulate(circuit, ...) needs the readout and the linear system")
    ls = linear_system
    if solution_map is None:
        solution_map = readout.get("solution_map")
    if solution_map is None:
        from qdsl.synthesis.common import layout_for

        solution_map = layout_for(ls).solution_map()
        D = ls.block_dim
        ok = all(int(solution_map[t * D + ls.const_index]) == int(readout["const_index"][t])
                 for t in range(ls.steps + 1))
        ok = ok and all(int(solution_map[t * D + int(i)]) == int(readout["theta_index"][t][b])
                        for t in range(ls.steps + 1) for b, i in enumerate(ls.theta_index))
        if not ok:
            raise ValueError("the readout does not follow the standard register layout; pass "
                             "solution_map= explicitly")
    return circuit, readout, ls, np.asarray(solution_map, np.int64)


#: a circuit whose flattened length exceeds this many gates per amplitude stays on the dense path
DENSE_REPEAT_RATIO = 8


def _flat_length(circuit) -> int:
    """Number of instructions with every named definition expanded (memoized per definition,
    so a block called 2^c times is counted once)."""
    memo: dict = {}

    def count(qc) -> int:
        hit = memo.get(id(qc))
        if hit is not None and hit[0] is qc:
            return hit[1]
        total = 0
        for inst in qc.data:
            defn = None if inst.is_standard_gate() else inst.operation.definition
            total += count(defn) if defn is not None and len(inst.qubits) > 1 else 1
        memo[id(qc)] = (qc, total)
        return total

    return count(circuit)


def _state_entries(circuit, backend: str, seed, budget: dict | None = None):
    """(basis indices, amplitudes, "sparse" | "dense", pruned norm) of the final state: every entry of a dense
    simulation, or the nonzero entries of the sparse one (statevector backend, wide circuits).  A circuit that fits
    the dense limit and whose flattened length is over DENSE_REPEAT_RATIO gates per amplitude
    stays dense: such a circuit repeats its blocks (HHL's walk powers W^{2^j}), which the dense
    simulator turns into one matrix each while the sparse one replays every flattened gate.
    `budget` ({"seconds", "memory"}, as `simulate` takes them): the sparse simulator stops with
    E0530/E0531 (exit 3) when it passes either, so a run that outgrows its prediction ends with a
    diagnostic instead of being killed by the kernel; `budget["stats"]` receives its statistics."""
    nq = circuit.num_qubits
    if _uses_sparse(circuit, backend):
        import time

        from .sparse_sim import Budget, sparse_statevector

        budget = budget or {}
        max_support = SPARSE_MAX_SUPPORT
        if budget.get("memory") is not None:
            max_support = min(max_support, int(budget["memory"] // SPARSE_BYTES_PER_ENTRY))
        deadline = None
        if budget.get("seconds") is not None:
            deadline = time.process_time() + float(budget["seconds"])
        stats = budget.setdefault("stats", {})
        try:   # measurements are skipped by the simulator: no copy (a copy unshares the blocks)
            st = sparse_statevector(circuit, max_support=max_support, deadline=deadline, stats=stats)
        except OverflowError as exc:
            code = "E0531" if max_support < SPARSE_MAX_SUPPORT else "E0501"
            raise SizeLimitError(Diagnostic(
                code, f"the state of this {nq}-qubit circuit is not sparse: {exc} "
                      f"(about {max_support * SPARSE_BYTES_PER_ENTRY / 2 ** 30:.1f} GiB); stopped before "
                      f"running out of memory",
                help="use --backend aer, simulate a smaller model (fewer steps or a lower order) or "
                     "a larger --eps")) from None
        except Budget:
            raise SizeLimitError(Diagnostic(
                "E0530", f"the simulation of this {nq}-qubit circuit passed its time budget of "
                         f"{_seconds(float(budget['seconds']))} and was stopped (it outgrew its prediction)",
                help="use --backend aer, fewer steps (--steps), a larger --eps, or raise "
                     "--max-seconds")) from None
        return st.keys, st.amps, "sparse", st.dropped
    sv = _statevector(circuit, backend, seed)
    return np.arange(sv.size, dtype=np.int64), sv, "dense", 0.0


def _errors(traj, exact):
    scale = max(float(np.max(np.abs(exact))), 1e-300)
    scale_T = max(float(np.max(np.abs(exact[-1]))), 1e-300)
    return (float(np.max(np.abs(traj - exact)) / scale),
            float(np.max(np.abs(traj[-1] - exact[-1])) / scale_T))


def _rounds(p: float) -> tuple[float, int]:
    if p <= 0:
        return math.inf, 0
    theta = math.asin(min(1.0, math.sqrt(p)))
    return 1.0 / p, int(math.floor(math.pi / (4 * theta)))


def simulate(program_or_circuit, readout: dict | None = None, linear_system=None, *,
             backend: str = "statevector", shots: int | None = None, seed: int | None = None,
             solution_map=None, max_seconds: float | None = None, max_memory: float | None = None,
             on_prediction=None) -> SimulationResult:
    r"""Simulate a QuantumProgram (or a circuit with its `readout` dict and LinearSystem) and decode.

    backend: "statevector" (qiskit.quantum_info) or "aer" (qiskit-aer); shots: None for the exact
    statevector, an integer K for K sampled runs (Aer, seeded by `seed`; magnitudes only, see the
    module docstring); solution_map: Y index → system basis index (taken from the program, the
    readout's "solution_map", or the standard layout of `qdsl.synthesis.common`).

    Before it starts, the simulation is predicted (`predict`: seconds and memory, in
    ``meta["prediction"]``, passed to `on_prediction` when given) and refused (exit 3) over
    `max_seconds` (E0530) or `max_memory` bytes (E0531; default: half the available memory);
    the sparse simulator also stops at twice the predicted seconds (at least `max_seconds`) or at
    the memory budget, so a run that outgrows its prediction ends with a diagnostic.
    Seconds are processor seconds of this process (the wall-clock time on an otherwise idle
    core): ``meta["seconds"]`` is the simulation's, ``meta["wall_seconds"]`` its wall-clock time."""
    from qdsl.readout import decode_amplitudes, magnitudes, system_amplitudes
    from qdsl.synthesis.common import classical_solution, decode_trajectory

    if backend not in ("statevector", "aer"):
        raise CompileError(Diagnostic("E0510", f"unknown backend '{backend}'",
                                      help="use --backend statevector or --backend aer"))
    circuit, readout, ls, smap = _resolve(program_or_circuit, readout, linear_system, solution_map)
    nq = circuit.num_qubits
    limit = max_qubits()
    sparse_ok = backend == "statevector"
    if nq > (62 if sparse_ok else limit):
        if sparse_ok:
            raise SizeLimitError(Diagnostic(
                "E0501", f"simulating {nq} qubits is over the sparse simulator's limit of 62 qubits",
                help="lower --steps or --order"))
        raise SizeLimitError(Diagnostic(
            "E0501", f"simulating {nq} qubits is over the dense simulator limit of {limit} qubits",
            help="use --backend statevector (exact, sparse for wide circuits), lower --steps or "
                 "--order, or raise the limit with QDSL_MAX_QUBITS (memory grows as 16·2^n bytes)"))
    Y = classical_solution(ls)
    Yn = Y / np.linalg.norm(Y)
    exact_traj = decode_trajectory(ls, Y)
    xs = np.asarray(ls.expansion_point, float)
    meta = {"qubit_limit": limit}
    import time

    pred = predict(circuit, len(smap), backend if shots is None or backend == "aer" else "statevector")
    meta["prediction"] = pred.to_dict()
    if on_prediction is not None:
        on_prediction(pred)
    if max_memory is None:
        max_memory = MEMORY_FRACTION * available_memory()
    check_budget(pred, max_seconds, max_memory)
    budget = {"memory": max_memory,
              "seconds": None if max_seconds is None else max(2 * pred.seconds, float(max_seconds))}
    t_start, c_start = time.perf_counter(), time.process_time()

    if shots is None:
        idx, sv, meta["simulator"], meta["pruned_norm"] = _state_entries(circuit, backend, seed, budget)
        meta["seconds"] = time.process_time() - c_start
        meta["wall_seconds"] = time.perf_counter() - t_start
        if budget.get("stats"):
            meta["sparse"] = dict(budget["stats"])
        sub, p = system_amplitudes(sv, readout, indices=idx, num_qubits=nq)
        amps = sub[smap]
        fid = float(abs(np.vdot(Yn, amps)) ** 2 / p) if p > 0 else 0.0
        traj = decode_amplitudes(sub, readout, xs)
        terr, tTerr = _errors(traj, exact_traj)
        reps, rounds = _rounds(p)
        meta["leakage"] = float(max(0.0, 1.0 - np.sum(np.abs(amps) ** 2) / p)) if p > 0 else None
        return SimulationResult(
            backend=backend, shots=None, seed=seed, num_qubits=nq, success_probability=p,
            fidelity=fid, trajectory=traj, exact_trajectory=exact_traj, exact_solution=Y,
            amplitudes=amps, postselected_state=sub / math.sqrt(p) if p > 0 else sub,
            repetitions=reps, amplification_rounds=rounds, trajectory_error=terr,
            theta_T_error=tTerr, meta=meta)

    shots = int(shots)
    if shots <= 0:
        raise CompileError(Diagnostic("E0510", "--shots must be a positive integer"))
    counts = sample_counts(circuit, shots, seed, backend)
    meta["seconds"] = time.process_time() - c_start
    meta["wall_seconds"] = time.perf_counter() - t_start
    mag = magnitudes(counts, readout)
    n_sys, n_post = mag["system_counts"], mag["postselected_shots"]
    q = n_sys / max(n_post, 1)
    absamp = np.sqrt(q)
    absamp_err = np.where(n_sys > 0, 0.5 * np.sqrt((1 - q) / max(n_post, 1)) / np.maximum(absamp, 1e-300),
                          1.0 / math.sqrt(max(n_post, 1)))
    ratio, ratio_err = mag["abs_theta_minus_expansion_point"], mag["standard_error"]
    p = mag["success_probability"]
    reps, rounds = _rounds(p)
    exact_abs = np.abs(exact_traj - xs[None, :])
    meta.update(postselected_shots=n_post, sampler="qiskit-aer" if backend == "aer" else "exact state, multinomial",
                note="computational-basis shots give magnitudes |θ_t − θ*| only; signed θ needs the "
                     "signed-readout circuits (`--readout signed`)",
                trajectory_abs_error=float(np.nanmax(np.abs(ratio - exact_abs)) /
                                           max(float(np.max(exact_abs)), 1e-300)) if n_post else None)
    return SimulationResult(
        backend=backend, shots=shots, seed=seed, num_qubits=nq, success_probability=p,
        fidelity=None, trajectory=None, exact_trajectory=exact_traj, exact_solution=Y,
        amplitudes=None, postselected_state=None, repetitions=reps, amplification_rounds=rounds,
        trajectory_error=None, theta_T_error=None, counts=dict(sorted(counts.items())),
        success_probability_err=mag["success_probability_err"], abs_amplitudes=absamp[smap],
        abs_amplitudes_err=absamp_err[smap], trajectory_abs=ratio, trajectory_abs_err=ratio_err,
        magnitude_fidelity=float(np.sum(np.abs(Yn) * np.sqrt(q[smap])) ** 2), meta=meta)


# ----------------------------------------------------------------------------- run prediction

#: default time budget of one simulation, seconds (`qdsl run --max-seconds`): a run that is
#: predicted to take longer is refused before it starts (E0530)
DEFAULT_MAX_SECONDS = 300.0
#: fraction of the machine's available memory one simulation may plan to use (E0531 past it)
MEMORY_FRACTION = 0.5
#: the prediction's safety factor over the calibrated cost model
SAFETY = 1.5
#: peak bytes per nonzero amplitude of the sparse simulator (keys + amplitudes, the doubled arrays
#: of a split and np.unique's sort and inverse: measured ≈ 120 on this machine, rounded up)
SPARSE_BYTES_PER_ENTRY = 160
#: the dense fusion pass's cost per instruction visited, in sparse gate applications (HHL's
#: 19-qubit circuit: 6.3 s measured where 1 would predict 4.7 s with the safety factor)
DENSE_VISIT_OPS = 3
#: the dense simulator's safety factor: its cost model (multiply-adds and visits) predicted
#: 0.7–1.0× the measured time of HHL's 19–20-qubit circuits with SAFETY (benchmarks/run_prediction.py)
DENSE_SAFETY = 3.0


@dataclass(frozen=True)
class Prediction:
    """What a simulation is predicted to cost before it starts: `seconds`, `memory` (bytes),
    `simulator` ("sparse" | "dense" | "aer"), the work it is based on (`gate_ops` and `entries`:
    the sparse simulator's gate applications and the entries they touch, or `work` multiply-adds
    of the dense one), and `support` (the sparse state's predicted size)."""
    simulator: str
    seconds: float
    memory: float
    gate_ops: float = 0.0
    entries: float = 0.0
    work: float = 0.0
    support: float = 0.0

    def detail(self) -> str:
        """What the figures count: the simulator and its work."""
        what = (f"support ≈ {self.support:,.0f} amplitudes × {self.gate_ops:,.0f} gate operations"
                if self.simulator == "sparse" else f"{self.work:.2g} multiply-adds")
        return f"{self.simulator} simulator, {what}"

    def line(self) -> str:
        return (f"predicted: {_seconds(self.seconds)} of processor time, {self.memory / 2 ** 20:,.0f} MiB "
                f"({self.detail()})")

    def to_dict(self) -> dict:
        return {"simulator": self.simulator, "seconds": self.seconds, "memory_bytes": self.memory,
                "gate_ops": self.gate_ops, "entries": self.entries, "work": self.work,
                "support": self.support}


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


_RATES: dict = {}


def calibrate() -> dict:
    """Seconds per unit of work on this machine, measured once per process by a ~0.1 s
    micro-benchmark, in processor time (what the process itself spends: on a machine busy with
    other work the wall-clock time is longer, by the share of the processor it gets): `op` per sparse gate application (numpy call overhead), `entry` per entry a
    sparse gate touches (the mix of permutations and splits of the structured circuits), `madd`
    per multiply-add of the dense simulator."""
    if _RATES:
        return _RATES
    import time

    from . import sparse_sim as S

    def timed(fn, reps):
        best = math.inf
        for _ in range(3):
            t = time.process_time()
            for _ in range(reps):
                fn()
            best = min(best, (time.process_time() - t) / reps)
        return best

    rng = np.random.default_rng(0)
    lim = S.Limits()

    def mix(keys, amps):
        # the structured blocks' mix: ~12 permutations per split, half the splits on a mixed bit
        for q in range(6):
            keys, amps = S._gate("cx", (q, q + 7), None, keys, amps, lim)
            keys, amps = S._gate("ccx", (q, q + 1, q + 14), None, keys, amps, lim)
        keys, amps = S._gate("ry", (3,), 0.3, keys, amps, lim)
        return keys, amps

    small = (np.arange(4, dtype=np.int64), np.ones(4, complex))
    big_k = np.unique(rng.integers(0, 1 << 30, 1 << 15))
    big = (big_k, np.ones(big_k.size, complex))
    t_small = timed(lambda: mix(*small), 20) / 13
    t_big = timed(lambda: mix(*big), 3) / 13
    _RATES["op"] = t_small
    _RATES["entry"] = max(t_big - t_small, 0.0) / big_k.size
    psi = np.zeros((2,) * 18, complex)
    U = np.eye(32, dtype=complex).reshape((2,) * 10)
    t_dense = timed(lambda: np.tensordot(U, psi, axes=([5, 6, 7, 8, 9], [0, 1, 2, 3, 4])), 3)
    _RATES["madd"] = t_dense / ((1 << 18) * (32 + AMPLITUDE_PASS))
    return _RATES


def available_memory() -> float:
    """Bytes the kernel reports as available (`qdsl.machine.available_memory`), or 4 GiB where it
    cannot be read."""
    from qdsl.machine import available_memory as read
    m = read()
    return float(m) if m is not None else float(4 << 30)


def _sparse_prediction(circuit, N: int, rates) -> Prediction:
    r"""The sparse simulator's cost from the program: G gate applications (the named blocks
    expanded, each counted at its length) on a state of about S_est = 2·N·W entries — N the
    history vector's length (the system register's support), W the widest column of a named
    block (the block's own superposition over its ancillas, measured by simulating that block on
    one basis state), 2 the solver's signal qubit — and an average support S_est/2 over the run
    (the state grows from one entry to its full size)."""
    from . import sparse_sim as S

    prog = S.program(circuit)
    G, widest, seen = 0, 1, set()
    for item in prog:
        if type(item) is S._Block:
            G += item.length
            if id(item) not in seen:
                seen.add(id(item))
                lim = S.Limits(max_support=SPARSE_MAX_SUPPORT)
                try:
                    k, _ = S._exec(item.prog, np.zeros(1, np.int64), np.ones(1, complex), lim)
                    widest = max(widest, lim.peak, k.size)
                except OverflowError:
                    widest = SPARSE_MAX_SUPPORT
        else:
            G += 1
    n = circuit.num_qubits
    support = float(min(2.0 ** n, 2.0 * N * widest))
    entries = G * support / 2
    seconds = SAFETY * (G * rates["op"] + entries * rates["entry"])
    memory = support * SPARSE_BYTES_PER_ENTRY
    return Prediction("sparse", seconds, memory, gate_ops=G, entries=entries, support=support)


def predict(circuit, history_length: int, backend: str = "statevector") -> Prediction:
    """The predicted seconds and memory of simulating `circuit` the way `simulate` will (dense,
    sparse or Aer), from the program alone, with the rates `calibrate` measures on this machine.
    Nothing is simulated except, for the sparse simulator, each distinct named block once on one
    basis state. `history_length`: the length N of the solution vector (the system register's
    support)."""
    rates = calibrate()
    n = circuit.num_qubits
    if backend == "aer":
        qc = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit
        work = _flat_length(qc) * float((1 << n) * (2 + AMPLITUDE_PASS))
        return Prediction("aer", SAFETY * work * rates["madd"], 3.0 * 16 * 2.0 ** n, work=work)
    if _uses_sparse(circuit, backend):
        return _sparse_prediction(circuit, int(history_length), rates)
    work = _dense_work(circuit)
    # the fusion pass visits every instruction of every distinct definition once, in Python, at
    # about DENSE_VISIT_OPS sparse gate applications' cost each (matrix lookup, fusion, tuples)
    seconds = DENSE_SAFETY * (work * rates["madd"] + _distinct_length(circuit) * DENSE_VISIT_OPS * rates["op"])
    return Prediction("dense", seconds, 3.0 * 16 * 2.0 ** n, work=work)


def _distinct_length(circuit) -> int:
    """Instructions of the circuit and of each distinct definition it calls, each counted once."""
    seen: dict = {}

    def visit(qc) -> int:
        if id(qc) in seen:
            return 0
        seen[id(qc)] = qc
        total = len(qc.data)
        for inst in qc.data:
            if len(inst.qubits) > 1 and not inst.is_standard_gate():
                defn = inst.operation.definition
                if defn is not None:
                    total += visit(defn)
        return total

    return visit(circuit)


def _uses_sparse(circuit, backend: str) -> bool:
    nq = circuit.num_qubits
    return (backend == "statevector" and nq > SPARSE_FROM
            and not (nq <= max_qubits() and _flat_length(circuit) > DENSE_REPEAT_RATIO << nq))


def _dense_work(circuit) -> float:
    """The dense simulator's multiply-adds: its dry compilation pass, the figure E0501 checks."""
    qc = circuit.remove_final_measurements(inplace=False) if circuit.num_clbits else circuit
    return _numpy_statevector(qc, work_only=True)


def check_budget(pred: Prediction, max_seconds: float | None, max_memory: float | None) -> None:
    """Refuse (exit 3) a simulation predicted to take more than `max_seconds` (E0530) or more
    memory than `max_memory` bytes (E0531), with the figure and what to change."""
    if max_seconds is not None and pred.seconds > max_seconds:
        raise SizeLimitError(Diagnostic(
            "E0530", f"this simulation is predicted to take {_seconds(pred.seconds)} of processor time, "
                     f"over the budget of {_seconds(max_seconds)} ({pred.detail()}; "
                     f"{pred.memory / 2 ** 20:,.0f} MiB)",
            help="use --backend aer, fewer steps (--steps), a larger --eps or a lower --order; "
                 "or raise --max-seconds"))
    if max_memory is not None and pred.memory > max_memory:
        raise SizeLimitError(Diagnostic(
            "E0531", f"this simulation is predicted to need {pred.memory / 2 ** 30:.2g} GiB, over the "
                     f"{max_memory / 2 ** 30:.2g} GiB it may use here (half the memory available; "
                     f"{pred.detail()})",
            help="use --backend aer, fewer steps (--steps), a larger --eps or a lower --order"))
