r"""An exact sparse statevector simulator for circuits that are mostly classical logic.

Structured block-encodings are built from X, CNOT and Toffoli gates (lookups, swaps, increments)
plus a few rotations on flag and PREP qubits: from a basis state the state stays supported on few
basis states, however many qubits there are (a 30-qubit QSVT circuit of the quartic example keeps
a few thousand). The state is a pair of arrays — basis indices (int64; up to 62 qubits) and
complex amplitudes — and each gate is one vectorized numpy operation on them:

* permutations (x, cx, ccx, swap): the indices are rewritten in place;
* diagonal gates (z, s, sdg, t, tdg, rz, p, cz): the amplitudes are multiplied;
* controlled RY written as RY(a)·CX·RY(−a)·CX (the blocks' entry rotations): only the entries
  whose control is set split;
* other one-qubit gates (h, ry, rx, u, sx, …): every index k splits into k with bit 0 and bit 1,
  the pairs are merged (``np.unique`` + ``np.bincount``) and amplitudes with
  |a| ≤ `PRUNE` (= 1e-14, exact cancellations left at rounding level) are dropped. Each drop
  changes the state by at most PRUNE in 2-norm per dropped entry, so a circuit of G gates whose
  splits drop at most k entries each is exact to G·k·PRUNE (≤ 1e-8 for 10^5 gates and k ≤ 10);
  the state records a bound on its distance to the unpruned state (`SparseState.dropped`: the
  sum over gates of the 2-norm each dropped — later gates are unitary), which `qdsl run` adds to
  the error it allows the simulated state. A split whose qubit holds the same value in every
  entry (a fresh ancilla's rotation) needs no merge; otherwise one sort of the S indices with
  that bit cleared pairs the entries that meet.

Named gates of at least BLOCK_MIN instructions are `_Block`s, one per definition and qubit tuple
(the loaded OpenQASM 3 shares one definition per `gate`, so every call of a block is the same
object): a block whose columns are single entries (permutations and phases: reflections, index
arithmetic) is applied from a cache of its columns — one gather per call — and a wider one
(a PREP superposition its inverse recombines) gate by gate, which is cheaper there. Smaller named
gates are expanded into flat instruction lists (memoized per definition). Any other multi-qubit
gate is applied from its matrix on the bits it touches. The simulator is written for `qdsl run`
(backend "statevector" picks it for circuits too wide for a dense vector) and is tested against
Qiskit's `Statevector` on random circuits and against its own gate-by-gate replay.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["sparse_statevector", "SparseState", "PRUNE", "MAX_QUBITS", "Budget"]

PRUNE = 1e-14
MAX_QUBITS = 62

_PHASE = {"z": np.pi, "s": np.pi / 2, "sdg": -np.pi / 2, "t": np.pi / 4, "tdg": -np.pi / 4}


class SparseState:
    """Indices `keys` (int64) and amplitudes `amps` (complex) of the nonzero entries."""

    def __init__(self, keys, amps, dropped: float = 0.0):
        self.keys = np.asarray(keys, dtype=np.int64)
        self.amps = np.asarray(amps, dtype=complex)
        self.dropped = float(dropped)   # 2-norm of the amplitudes pruned on the way (≤ PRUNE each)

    def to_dense(self, num_qubits: int) -> np.ndarray:
        out = np.zeros(1 << num_qubits, complex)
        np.add.at(out, self.keys, self.amps)
        return out

    def norm(self) -> float:
        return float(np.sqrt(np.sum(np.abs(self.amps) ** 2)))


def _flatten(circuit, memo):
    """[(name, qubit tuple, params or matrix)] of a circuit, named gates expanded."""
    key = id(circuit)
    hit = memo.get(key)
    if hit is not None and hit[0] is circuit:
        return hit[1]
    idx = {b: i for i, b in enumerate(circuit.qubits)}
    out = []
    for inst in circuit.data:
        _flat_one(inst, tuple(idx[b] for b in inst.qubits), memo, out)
    memo[key] = (circuit, out)
    return out


def _flat_one(inst, qs, memo, out):
    """Append one instruction on qubits `qs` to `out`, expanded to the simulator's names."""
    name = inst.operation.name
    if name in ("barrier", "delay", "measure"):
        return
    if name in ("x", "y", "cx", "ccx", "swap", "cz", "h", "id") or name in _PHASE:
        out.append((name, qs, None))
        return
    if name in ("rz", "p", "u1", "ry", "rx"):
        try:
            out.append((name, qs, float(inst.operation.params[0])))
            return
        except (TypeError, ValueError):
            pass
    op = inst.operation
    defn = op.definition if not (len(qs) == 1) else None
    if defn is not None and name not in ("unitary",):
        sub = _flatten(defn, memo)
        out.extend((n, tuple(qs[q] for q in sq), p) for n, sq, p in sub)
        gp = float(defn.global_phase) if defn.global_phase else 0.0
        if gp:
            out.append(("gphase", (), gp))
        return
    out.append(("matrix", qs, np.asarray(op.to_matrix(), complex)))


def _fuse_controlled_ry(ops):
    """Rewrite RY(a)·CX(c,t)·RY(−a)·CX(c,t) on a target t as one controlled RY(2a) ("cry"): with
    the control 0 the rotations cancel, with it 1 they add (X·RY(−a)·X = RY(a)) — so only the
    entries whose control is set split, instead of all of them twice."""
    out, i, n = [], 0, len(ops)
    while i < n:
        if i + 3 < n:
            a, b, c, d = ops[i], ops[i + 1], ops[i + 2], ops[i + 3]
            if (a[0] == "ry" and b[0] == "cx" and c[0] == "ry" and d[0] == "cx"
                    and b[1] == d[1] and b[1][1] == a[1][0] == c[1][0] and b[1][0] != a[1][0]
                    and c[2] == -a[2]):
                out.append(("cry", (b[1][0], a[1][0]), 2 * a[2]))
                i += 4
                continue
        out.append(ops[i])
        i += 1
    return out


def _merge(keys, amps):
    if keys.size == 0:
        return keys, amps
    u, inv = np.unique(keys, return_inverse=True)
    if u.size == keys.size:          # no two entries meet: no sums to form
        order = np.empty_like(inv)
        order[inv] = np.arange(inv.size)
        return u, amps[order]
    re = np.bincount(inv, weights=amps.real, minlength=u.size)
    im = np.bincount(inv, weights=amps.imag, minlength=u.size)
    return u, re + 1j * im


def _apply_1q(keys, amps, q, U):
    m = np.int64(1) << q
    bit = ((keys >> q) & 1).astype(bool)
    k0 = keys & ~m
    a0 = np.where(bit, U[0, 1], U[0, 0]) * amps
    a1 = np.where(bit, U[1, 1], U[1, 0]) * amps
    nset = int(np.count_nonzero(bit))
    if nset == 0 or nset == keys.size:
        # bit q is the same in every entry (a fresh ancilla's rotation): k0 are distinct, so the
        # two halves never meet — no sort needed
        return np.concatenate([k0, k0 | m]), np.concatenate([a0, a1])
    # pairs k, k ^ m share k0: one sort of the S values k0 (not of the 2S outputs) finds them
    order = np.argsort(k0)
    sk = k0[order]
    dup = np.flatnonzero(sk[1:] == sk[:-1])
    if dup.size == 0:
        return np.concatenate([k0, k0 | m]), np.concatenate([a0, a1])
    i, j = order[dup], order[dup + 1]          # the two entries of a pair (keys distinct)
    a0[i] += a0[j]
    a1[i] += a1[j]
    keep = np.ones(keys.size, bool)
    keep[j] = False
    k0, a0, a1 = k0[keep], a0[keep], a1[keep]
    return np.concatenate([k0, k0 | m]), np.concatenate([a0, a1])


def _apply_matrix(keys, amps, qs, U):
    """A k-qubit unitary on bits qs (qs[0] least significant in U's index)."""
    k = len(qs)
    sub = np.zeros(keys.shape, dtype=np.int64)
    base = keys.copy()
    for i, q in enumerate(qs):
        sub |= ((keys >> q) & 1) << i
        base &= ~(np.int64(1) << q)
    new_keys, new_amps = [], []
    for out in range(1 << k):
        kk = base.copy()
        for i, q in enumerate(qs):
            if (out >> i) & 1:
                kk |= np.int64(1) << q
        new_keys.append(kk)
        new_amps.append(U[out, sub] * amps)
    return _merge(np.concatenate(new_keys), np.concatenate(new_amps))


def _ry(theta):
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array([[c, -s], [s, c]], complex)


def _rx(theta):
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array([[c, -1j * s], [-1j * s, c]], complex)


_H = np.array([[1, 1], [1, -1]], complex) / np.sqrt(2)
_Y = np.array([[0, -1j], [1j, 0]], complex)


class Budget(Exception):
    """Raised by the simulator when it passes its time or memory budget (`Limits`): the caller
    refuses the run instead of letting it run on or be killed."""


class Limits:
    """What one simulation may use: `max_support` nonzero amplitudes (OverflowError past it),
    `deadline` (a time.process_time() value; `Budget` past it); it also accumulates the bound on the
    pruned norm (`dropped`), the largest support seen (`peak`) and the gate operations applied
    (`gate_ops`, `entry_ops`: numpy calls and entries they touched)."""

    def __init__(self, max_support=None, deadline=None):
        self.max_support = max_support
        self.deadline = deadline
        self.dropped = 0.0
        self.peak = 0
        self.gate_ops = 0
        self.entry_ops = 0
        self.bits: dict = {}          # classical bits of mid-circuit measurements (And†)
        self.forced = None            # the outcome every mid-circuit measurement takes, if set

    def check(self, size: int) -> None:
        if size > self.peak:
            self.peak = size
        if self.max_support is not None and size > self.max_support:
            raise OverflowError(f"more than {self.max_support:,} nonzero amplitudes")
        if self.deadline is not None and time.process_time() > self.deadline:
            raise Budget("over the time budget")


def _prune(keys, amps, lim):
    keep = np.abs(amps) > PRUNE
    if not keep.all():
        # this gate's pruned vector, in 2-norm; later gates are unitary, so the state's error is at
        # most the sum of these norms (triangle inequality)
        lim.dropped += float(np.sqrt(np.sum(np.abs(amps[~keep]) ** 2)))
        keys, amps = keys[keep], amps[keep]
    lim.check(keys.size)
    return keys, amps


def _gate(name, qs, par, keys, amps, lim):
    """One flat instruction on (keys, amps)."""
    one = np.int64(1)
    split = False                # a gate that splits amplitudes: merge, prune, check the support
    if name == "x":
        keys = keys ^ (one << qs[0])
    elif name == "cx":
        keys = keys ^ (((keys >> qs[0]) & 1) << qs[1])
    elif name == "ccx":
        keys = keys ^ (((keys >> qs[0]) & (keys >> qs[1]) & 1) << qs[2])
    elif name == "swap":
        d = ((keys >> qs[0]) ^ (keys >> qs[1])) & 1
        keys = keys ^ ((d << qs[0]) | (d << qs[1]))
    elif name in _PHASE:
        amps = amps * np.where((keys >> qs[0]) & 1, np.exp(1j * _PHASE[name]), 1.0)
    elif name == "cz":
        amps = amps * np.where((keys >> qs[0]) & (keys >> qs[1]) & 1, -1.0, 1.0)
    elif name == "rz":
        amps = amps * np.where((keys >> qs[0]) & 1, np.exp(0.5j * par), np.exp(-0.5j * par))
    elif name in ("p", "u1"):
        amps = amps * np.where((keys >> qs[0]) & 1, np.exp(1j * par), 1.0)
    elif name == "gphase":
        amps = amps * np.exp(1j * par)
    elif name == "id":
        pass
    elif name == "h":
        keys, amps = _apply_1q(keys, amps, qs[0], _H)
        split = True
    elif name in ("ry", "rx", "y"):
        U = _ry(par) if name == "ry" else (_rx(par) if name == "rx" else _Y)
        keys, amps = _apply_1q(keys, amps, qs[0], U)
        split = True
    elif name == "cry":
        sel = ((keys >> qs[0]) & 1).astype(bool)
        if sel.any():
            k1, a1 = _apply_1q(keys[sel], amps[sel], qs[1], _ry(par))
            keys = np.concatenate([keys[~sel], k1])
            amps = np.concatenate([amps[~sel], a1])
            split = True
    elif name == "matrix":
        if len(qs) == 1:
            keys, amps = _apply_1q(keys, amps, qs[0], par)
        else:
            keys, amps = _apply_matrix(keys, amps, qs, par)
        split = True
    else:  # pragma: no cover - _flatten only emits the names above
        raise ValueError(f"sparse simulator: unknown instruction {name}")
    lim.gate_ops += 1
    lim.entry_ops += keys.size
    if split:
        keys, amps = _prune(keys, amps, lim)
    return keys, amps


def run(ops, state: SparseState, max_support: int | None = None) -> SparseState:
    """Apply a flat instruction list to a sparse state; OverflowError when the number of nonzero
    amplitudes exceeds `max_support`."""
    lim = Limits(max_support)
    keys, amps = state.keys.copy(), state.amps.copy()
    from qdsl.progress import progress

    for name, qs, par in progress(ops, desc="simulate (sparse)", unit="gate", total=len(ops)):
        keys, amps = _gate(name, qs, par, keys, amps, lim)
    return SparseState(keys, amps, state.dropped + lim.dropped)


# ------------------------------------------------------------------ blocks applied from their columns

#: a named gate whose expansion has at least this many instructions is simulated as a block: its
#: columns are computed once per input pattern and reused by every later call
BLOCK_MIN = 24
#: a block whose columns hold more than this many entries on average is run gate by gate
WIDE_COLUMNS = 2


class _Block:
    r"""A named gate on qubits `qs` (global positions) applied from its columns.

    U acts on the bits in `mask` only, so a basis state |k⟩ = |p⟩⊗|r⟩ (p = k & mask, r the other
    bits) goes to (U|p⟩)⊗|r⟩. The columns U|p⟩ are computed once for every pattern p the state
    presents (all new patterns of a call in one batch, each tagged in bits above the block's
    highest qubit so they never mix) and cached as a CSR table; a call is then one gather and one
    merge, however many gates the block expands to. Error: a cached column differs from U|p⟩ by
    e_p (pruning while it was computed); the call's error Σ_p e_p ⊗ v_p (v_p the state's part
    with pattern p) has norm ≤ (Σ_p ‖e_p‖²)^{1/2}·‖x‖, and Σ_p ‖e_p‖² ≤ Σ over batches of the
    square of the batch's pruned-norm bound (a batch is a direct sum of its columns)."""

    def __init__(self, prog, qs, length):
        self.prog = prog
        self.length = length          # flat instructions
        self.mask = np.int64(0)
        for q in qs:
            self.mask |= np.int64(1) << int(q)
        self.shift = max(qs) + 1      # tag bits start here
        self.P = np.zeros(0, np.int64)            # cached patterns, sorted
        self.ptr = np.zeros(1, np.int64)
        self.out = np.zeros(0, np.int64)
        self.coef = np.zeros(0, complex)
        self.errsq = 0.0
        self.calls = 0
        self.inline = False           # columns too wide to pay: run the block's program instead

    def _compute(self, missing, lim):
        chunk = 1 << max(0, 62 - self.shift)
        outs, coefs, cols = [self.out], [self.coef], []
        new_ptr_counts = []
        for s in range(0, missing.size, chunk):
            pats = missing[s:s + chunk]
            sub = Limits(lim.max_support, lim.deadline)
            keys = pats | (np.arange(pats.size, dtype=np.int64) << self.shift)
            amps = np.ones(pats.size, complex)
            keys, amps = _exec(self.prog, keys, amps, sub)
            lim.gate_ops += sub.gate_ops
            lim.entry_ops += sub.entry_ops
            lim.peak = max(lim.peak, sub.peak)
            self.errsq += sub.dropped ** 2
            tag = keys >> self.shift
            order = np.argsort(tag, kind="stable")
            tag, keys, amps = tag[order], keys[order], amps[order]
            new_ptr_counts.append(np.bincount(tag, minlength=pats.size))
            outs.append(keys & self.mask)
            coefs.append(amps)
        counts_old = np.diff(self.ptr)
        P = np.concatenate([self.P, missing])
        counts = np.concatenate([counts_old] + new_ptr_counts)
        out = np.concatenate(outs)
        coef = np.concatenate(coefs)
        starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
        order = np.argsort(P, kind="stable")
        self.P = P[order]
        cnt = counts[order]
        idx = _ranges(starts[order], cnt)
        self.out, self.coef = out[idx], coef[idx]
        self.ptr = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)

    def apply(self, keys, amps, lim):
        self.calls += 1
        if self.inline:
            return _exec(self.prog, keys, amps, lim)
        if keys.size == 0:
            return keys, amps
        pat = keys & self.mask
        up, inv = np.unique(pat, return_inverse=True)
        j = np.searchsorted(self.P, up)
        hit = (j < self.P.size) & (self.P[np.minimum(j, max(self.P.size - 1, 0))] == up) \
            if self.P.size else np.zeros(up.size, bool)
        if not hit.all():
            if not self.P.size:       # decide on one column whether the cache can pay
                self._compute(up[~hit][:1], lim)
                if self.out.size > WIDE_COLUMNS:
                    self.inline = True
                    return _exec(self.prog, keys, amps, lim)
                hit[np.searchsorted(up, self.P[:1])] = True
            self._compute(up[~hit], lim)
            j = np.searchsorted(self.P, up)
            if self.out.size > WIDE_COLUMNS * self.P.size:
                # the block spreads a basis state over several (a PREP superposition that its
                # inverse recombines): the state's overlapping columns cost more than its gates
                self.inline = True
        col = j[inv]
        cnt = self.ptr[col + 1] - self.ptr[col]
        idx = _ranges(self.ptr[col], cnt)
        rep = np.repeat(np.arange(keys.size), cnt)
        new_keys = (keys[rep] & ~self.mask) | self.out[idx]
        new_amps = amps[rep] * self.coef[idx]
        if self.errsq:
            lim.dropped += float(np.sqrt(self.errsq) * np.sqrt(np.sum(np.abs(amps) ** 2)))
        lim.gate_ops += 1
        lim.entry_ops += new_keys.size
        if not (cnt == 1).all():      # a column with one entry is a permutation: nothing meets
            new_keys, new_amps = _merge(new_keys, new_amps)
        return _prune(new_keys, new_amps, lim)


def _ranges(starts, counts):
    """Concatenated arange(s, s + c) for each (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    offs = np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
    return np.repeat(starts, counts) + offs


def _exec(prog, keys, amps, lim):
    for item in prog:
        if type(item) is _Block:
            keys, amps = item.apply(keys, amps, lim)
        elif item[0] == "measure":
            keys, amps, lim.bits[item[2]] = _measure(keys, amps, item[1][0], lim.forced)
        elif item[0] == "if":
            bit, value, body = item[2]
            if lim.bits.get(bit) == value:
                keys, amps = _exec(body, keys, amps, lim)
        else:
            keys, amps = _gate(item[0], item[1], item[2], keys, amps, lim)
    return keys, amps


# -- mid-circuit measurement and classical control (measurement-based uncomputation) -------------
# A measurement whose bit an `if` reads is applied: the outcome is chosen (the likelier one, or
# `forced` where it has nonzero probability), the state projected and renormalized; an
# ``if (bit == v) { body }`` applies its body when the bit holds v. For Gidney's And† (H, measure,
# if 1: CZ + X) both outcomes have probability exactly 1/2 and lead to the same state, so either
# choice is exact. Other measurements (the final ones) are dropped, as before.

def _measure(keys, amps, q, forced):
    """(keys, amps, outcome): a Z measurement of qubit q, projected and renormalized."""
    bit = ((keys >> q) & 1).astype(bool)
    p1 = float(np.sum(np.abs(amps[bit]) ** 2))
    tot = float(np.sum(np.abs(amps) ** 2))
    p0 = tot - p1
    m = (1 if p1 > p0 else 0) if forced is None else int(forced)
    if (p1 if m else p0) <= 0.0:
        m = 1 - m
    sel = bit if m else ~bit
    return keys[sel], amps[sel] * np.sqrt(tot / (p1 if m else p0)), m


def _mid_bits(circuit) -> set:
    """Indices of the classical bits that an ``if`` of the circuit (top level) reads."""
    out = set()
    for inst in circuit.data:
        if inst.operation.name == "if_else":
            cond = inst.operation.condition
            if not isinstance(cond, tuple):
                raise ValueError("sparse simulator: only single-bit `if` conditions are supported")
            out.add(circuit.find_bit(cond[0]).index)
    return out


def _flat_len(circuit, memo):
    key = id(circuit)
    hit = memo.get(key)
    if hit is not None and hit[0] is circuit:
        return hit[1]
    total = 0
    for inst in circuit.data:
        op = inst.operation
        if len(inst.qubits) > 1 and not inst.is_standard_gate() and op.definition is not None \
                and op.name != "unitary":
            total += _flat_len(op.definition, memo)
        else:
            total += 1
    memo[key] = (circuit, total)
    return total


def program(circuit, qs=None, memo=None):
    """The circuit as a program for `_exec`: flat instructions (as `_flatten` writes them, in the
    circuit's qubit positions) and `_Block`s for named gates of at least BLOCK_MIN instructions
    (one block per definition and qubit tuple, so repeated calls share one column cache)."""
    memo = {} if memo is None else memo
    lens = memo.setdefault("#len", {})
    flat = memo.setdefault("#flat", {})
    qs = tuple(range(circuit.num_qubits)) if qs is None else qs
    idx = {b: i for i, b in enumerate(circuit.qubits)}
    out, run_ = [], []

    def flush():
        if run_:
            out.extend(_fuse_controlled_ry(run_))
            run_.clear()

    mid = memo.get("#mid", set())
    for inst in circuit.data:
        op = inst.operation
        lq = tuple(idx[b] for b in inst.qubits)
        gq = tuple(qs[q] for q in lq)
        if op.name == "measure" and inst.clbits and circuit.find_bit(inst.clbits[0]).index in mid:
            flush()      # a mid-circuit measurement (top level: the `if` that reads it is there)
            out.append(("measure", gq, circuit.find_bit(inst.clbits[0]).index))
            continue
        if op.name == "if_else":
            if op.params[1] is not None:
                raise ValueError("sparse simulator: `if` with an `else` branch is not supported")
            bit, value = op.condition
            flush()
            out.append(("if", (), (circuit.find_bit(bit).index, int(value),
                                   program(op.params[0], gq, memo))))
            continue
        defn = None
        if len(lq) > 1 and not inst.is_standard_gate() and op.name != "unitary":
            defn = op.definition
        if defn is not None and _flat_len(defn, lens) >= BLOCK_MIN:
            key = (id(defn), gq)
            hit = memo.get(key)
            if hit is None or hit[0] is not defn:
                hit = memo[key] = (defn, _Block(program(defn, gq, memo), gq, _flat_len(defn, lens)))
            flush()
            out.append(hit[1])
            gp = float(defn.global_phase) if defn.global_phase else 0.0
            if gp:
                run_.append(("gphase", (), gp))
            continue
        _flat_one(inst, gq, flat, run_)
    flush()
    return out


def sparse_statevector(circuit, initial: int = 0, *, max_support: int | None = None,
                       deadline: float | None = None, stats: dict | None = None,
                       forced: int | None = None) -> SparseState:
    """The final state of `circuit` (final measurements dropped; a mid-circuit one that an ``if``
    reads — Gidney's And† — applied, its outcome the likelier or `forced`) from the basis state
    `initial` (OverflowError past `max_support` nonzero amplitudes, `Budget` past `deadline`, a
    time.perf_counter() value). `stats`, a dict, receives the peak support, the number of gate
    operations and of entries they touched, and the blocks' calls."""
    if circuit.num_qubits > MAX_QUBITS:
        raise ValueError(f"the sparse simulator handles at most {MAX_QUBITS} qubits")
    prog = program(circuit, memo={"#mid": _mid_bits(circuit)})
    lim = Limits(max_support, deadline)
    lim.forced = forced
    keys, amps = _exec(prog, np.array([initial], np.int64), np.ones(1, complex), lim)
    if stats is not None:
        stats.update(peak_support=lim.peak, gate_ops=lim.gate_ops, entry_ops=lim.entry_ops)
    return SparseState(keys, amps, lim.dropped)
