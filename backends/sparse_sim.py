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
  the state records the exact 2-norm of what it dropped (`SparseState.dropped`), which
  `qdsl run` adds to the error it allows the simulated state.

Named gates are expanded once into flat instruction lists (memoized per definition). Any other
multi-qubit gate is applied from its matrix on the bits it touches. The simulator is written for
`qdsl run` (backend "statevector" picks it for circuits too wide for a dense vector) and is tested
against Qiskit's `Statevector` on random circuits.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sparse_statevector", "SparseState", "PRUNE", "MAX_QUBITS"]

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
        name = inst.operation.name
        qs = tuple(idx[b] for b in inst.qubits)
        if name in ("barrier", "delay", "measure"):
            continue
        if name in ("x", "y", "cx", "ccx", "swap", "cz", "h", "id") or name in _PHASE:
            out.append((name, qs, None))
            continue
        if name in ("rz", "p", "u1", "ry", "rx"):
            try:
                out.append((name, qs, float(inst.operation.params[0])))
                continue
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
            continue
        out.append(("matrix", qs, np.asarray(op.to_matrix(), complex)))
    memo[key] = (circuit, out)
    return out


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
    re = np.bincount(inv, weights=amps.real, minlength=u.size)
    im = np.bincount(inv, weights=amps.imag, minlength=u.size)
    return u, re + 1j * im


def _apply_1q(keys, amps, q, U):
    m = np.int64(1) << q
    bit = ((keys >> q) & 1).astype(bool)
    k0 = keys & ~m
    a0 = np.where(bit, U[0, 1], U[0, 0]) * amps
    a1 = np.where(bit, U[1, 1], U[1, 0]) * amps
    return _merge(np.concatenate([k0, k0 | m]), np.concatenate([a0, a1]))


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


def run(ops, state: SparseState, max_support: int | None = None) -> SparseState:
    """Apply a flat instruction list to a sparse state; OverflowError when the number of nonzero
    amplitudes exceeds `max_support`."""
    keys, amps = state.keys.copy(), state.amps.copy()
    dropped = state.dropped ** 2     # Σ|a|² of the amplitudes pruned so far
    one = np.int64(1)
    from qdsl.progress import progress

    for name, qs, par in progress(ops, desc="simulate (sparse)", unit="gate", total=len(ops)):
        split = False                # a gate that splits amplitudes: merge, prune, check the support
        if name == "x":
            keys ^= one << qs[0]
        elif name == "cx":
            keys ^= ((keys >> qs[0]) & 1) << qs[1]
        elif name == "ccx":
            keys ^= ((keys >> qs[0]) & (keys >> qs[1]) & 1) << qs[2]
        elif name == "swap":
            d = ((keys >> qs[0]) ^ (keys >> qs[1])) & 1
            keys ^= (d << qs[0]) | (d << qs[1])
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
        if split:
            keep = np.abs(amps) > PRUNE
            if not keep.all():
                dropped += float(np.sum(np.abs(amps[~keep]) ** 2))
                keys, amps = keys[keep], amps[keep]
            if max_support is not None and keys.size > max_support:
                raise OverflowError(f"more than {max_support:,} nonzero amplitudes")
    return SparseState(keys, amps, float(np.sqrt(dropped)))


def sparse_statevector(circuit, initial: int = 0, *, max_support: int | None = None) -> SparseState:
    """The final state of `circuit` (measurements dropped) from the basis state `initial`
    (OverflowError past `max_support` nonzero amplitudes)."""
    if circuit.num_qubits > MAX_QUBITS:
        raise ValueError(f"the sparse simulator handles at most {MAX_QUBITS} qubits")
    ops = _fuse_controlled_ry(_flatten(circuit, {}))
    return run(ops, SparseState([initial], [1.0]), max_support)
