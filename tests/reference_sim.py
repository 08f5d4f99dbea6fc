"""An independent exact simulator for the end-to-end tests: a circuit loaded by
`qiskit.qasm3.loads`, applied gate by gate to a *sparse* state (basis indices and amplitudes in
numpy arrays), so the wide structured circuits (25–28 qubits, few nonzero amplitudes) can be
decoded without a 2^n vector and without any of qdsl's own simulators.

Gate matrices are Qiskit's (`Operation.to_matrix`); named gates are expanded through their
definitions. Amplitudes that cancel to below `DROP` are removed, and the 2-norm of everything
removed is returned, so a test adds it to its tolerance (the state is exact up to it and rounding).
"""
from __future__ import annotations

import numpy as np

DROP = 1e-13


def _matrix(op):
    try:
        return np.asarray(op.to_matrix(), complex)
    except Exception:
        return None


def _apply(keys, amps, U, qs):
    """U (2^k × 2^k, little-endian on qs) applied to the sparse state."""
    k = len(qs)
    local = np.zeros(keys.size, np.int64)
    mask = 0
    for b, q in enumerate(qs):
        local |= ((keys >> q) & 1) << b
        mask |= 1 << q
    rest = keys & ~mask
    nz = np.abs(U) > 0
    if np.count_nonzero(nz) == U.shape[0] and np.all(nz.sum(axis=0) == 1):   # monomial: permutation × phases
        target = np.argmax(nz, axis=0)
        new_local, factor = target[local], U[target[local], local]
        new = rest.copy()
        for b, q in enumerate(qs):
            new |= ((new_local >> b) & 1) << q
        return new, amps * factor
    outs_k, outs_a = [], []
    for row in range(1 << k):
        coef = U[row, local]
        sel = coef != 0
        if not np.any(sel):
            continue
        kk = rest[sel].copy()
        for b, q in enumerate(qs):
            if (row >> b) & 1:
                kk |= 1 << q
        outs_k.append(kk)
        outs_a.append(coef[sel] * amps[sel])
    allk, alla = np.concatenate(outs_k), np.concatenate(outs_a)
    uk, inv = np.unique(allk, return_inverse=True)
    ua = np.zeros(uk.size, complex)
    np.add.at(ua, inv, alla)
    return uk, ua


def sparse_statevector(qc) -> tuple[np.ndarray, np.ndarray, float]:
    """(basis indices, amplitudes, dropped norm) of the circuit's final state from |0…0⟩."""
    keys = np.zeros(1, np.int64)
    amps = np.ones(1, complex)
    dropped = [0.0]
    cache: dict = {}

    read = {qc.find_bit(inst.operation.condition[0]).index for inst in qc.data
            if inst.operation.name == "if_else"}
    bits: dict = {}

    def run(circ, qmap, keys, amps):
        for inst in circ.data:
            op = inst.operation
            if op.name == "measure" and circ is qc and qc.find_bit(inst.clbits[0]).index in read:
                # a mid-circuit measurement (Gidney's And†): project on the likelier outcome and
                # renormalize — its `if` fix-up makes the state the same for either outcome
                q = qmap[circ.find_bit(inst.qubits[0]).index]
                one = ((keys >> q) & 1).astype(bool)
                p1, tot = float(np.sum(np.abs(amps[one]) ** 2)), float(np.sum(np.abs(amps) ** 2))
                m = int(p1 > tot - p1)
                keep = one if m else ~one
                keys, amps = keys[keep], amps[keep] * np.sqrt(tot / (p1 if m else tot - p1))
                bits[qc.find_bit(inst.clbits[0]).index] = m
                continue
            if op.name == "if_else":
                bit, value = op.condition
                if bits.get(qc.find_bit(bit).index) == int(value):
                    qs = [qmap[circ.find_bit(q).index] for q in inst.qubits]
                    keys, amps = run(op.params[0], qs, keys, amps)
                continue
            if op.name in ("barrier", "measure", "delay"):
                continue
            qs = [qmap[circ.find_bit(q).index] for q in inst.qubits]
            U = None
            if len(qs) <= 3:
                key = (op.name, tuple(float(p) for p in op.params)) if all(
                    isinstance(p, (int, float)) for p in op.params) else None
                U = cache.get(key) if key else None
                if U is None:
                    U = _matrix(op) if (op.definition is None or inst.is_standard_gate() or len(qs) <= 2) else None
                    if U is not None and key:
                        cache[key] = U
            if U is None:
                defn = op.definition
                if defn is None:
                    raise ValueError(f"cannot simulate {op.name}")
                if defn.global_phase:
                    amps = amps * np.exp(1j * float(defn.global_phase))
                keys, amps = run(defn, qs, keys, amps)
                continue
            keys, amps = _apply(keys, amps, U, qs)
            small = np.abs(amps) < DROP
            if np.any(small):
                dropped[0] = float(np.hypot(dropped[0], np.linalg.norm(amps[small])))
                keys, amps = keys[~small], amps[~small]
        return keys, amps

    keys, amps = run(qc, list(range(qc.num_qubits)), keys, amps)
    if qc.global_phase:
        amps = amps * np.exp(1j * float(qc.global_phase))
    return keys, amps, dropped[0]
