"""References for the tests, written here and independent of the code under test: the exact
solution (a scipy solve), the SPEC §4 readout applied to a statevector (a few lines of numpy), and
tolerances from `qdsl.tolerances` (the functions the library's own checks use)."""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from qdsl import tolerances as tol


def exact(ls) -> dict:
    """Y = L⁻¹B by scipy's sparse LU, its decoded trajectory θ_t = θ* + Y[t,u]/Y[t,1], the ratios
    r = θ_t − θ* and the readout amplification A_t = ‖Y‖/|Y[t,1]|."""
    Y = np.asarray(spla.spsolve(ls.matrix.tocsc(), np.asarray(ls.rhs, float)))
    blocks = Y.reshape(ls.num_blocks, ls.block_dim)[: ls.steps + 1]
    ratio = blocks[:, np.asarray(ls.theta_index)] / blocks[:, [ls.const_index]]
    return {"Y": Y, "theta": np.asarray(ls.expansion_point)[None, :] + ratio, "ratio": ratio,
            "A": np.linalg.norm(Y) / np.abs(blocks[:, ls.const_index])}


def _system_amplitudes(sv, readout: dict, indices=None) -> np.ndarray:
    """The post-selected amplitudes a[k] of the system register: keep the basis states whose
    `postselect` qubits hold their values, index the system register little-endian by
    `system_qubits`."""
    sv = np.asarray(sv)
    idx = np.arange(sv.size) if indices is None else np.asarray(indices, np.int64)
    keep = np.ones(sv.size, bool)
    for q, v in readout["postselect"].items():
        keep &= ((idx >> int(q)) & 1) == v
    k = np.zeros(sv.size, np.int64)
    for b, q in enumerate(readout["system_qubits"]):
        k |= ((idx >> q) & 1) << b
    a = np.zeros(2 ** len(readout["system_qubits"]), complex)
    np.add.at(a, k[keep], sv[keep])
    return a


def decode_by_readout(sv, readout: dict, expansion_point, *, indices=None
                      ) -> tuple[np.ndarray, float]:
    """The readout contract (docs/formats.md), written out: keep the basis states whose
    `postselect` qubits hold their values, index the system register little-endian by
    `system_qubits`, and decode θ_t[i] = θ*_i + Re(a[k_{t,i}] / a[k_{t,1}]). `sv` is the full state,
    or the amplitudes at `indices` (a sparse state). Returns (θ, success probability)."""
    a = _system_amplitudes(sv, readout, indices)
    theta = np.array([[(a[j] / a[readout["const_index"][t]]).real for j in row]
                      for t, row in enumerate(readout["theta_index"])])
    return theta + np.asarray(expansion_point, float), float(np.sum(np.abs(a) ** 2))


def amplification(sv, readout: dict, expansion_point, *, indices=None) -> dict:
    """The decoded state's own ratios r and readout amplification A_t = ‖a‖/|a[k_{t,1}]| (the
    post-selected amplitudes a), for `readout_bound` when two simulations of one circuit are
    compared: what amplifies their difference is that circuit's state, which for a deliberately
    coarse circuit (HHL with a small clock) can be far from the exact solution."""
    theta, _ = decode_by_readout(sv, readout, expansion_point, indices=indices)
    a = _system_amplitudes(sv, readout, indices)
    const = np.abs(a[np.asarray(readout["const_index"])])
    return {"ratio": theta - np.asarray(expansion_point, float)[None, :],
            "A": np.linalg.norm(a) / np.maximum(const, 1e-300)}


def readout_bound(ref: dict, state_error: float) -> np.ndarray:
    """Per-(t, i) bound on a decoded θ whose normalized state is within `state_error`."""
    return tol.readout_error(state_error, ref["A"], ref["ratio"]) + tol.decode_rounding(ref["ratio"])


def flat_gate_count(qc) -> int:
    """Gates of a circuit with every named block expanded (what a simulator applies, at most)."""
    total = 0
    for inst in qc.data:
        op = inst.operation
        if op.name in ("barrier", "measure"):
            continue
        d = op.definition if len(inst.qubits) > 3 or not _has_matrix(op) else None
        total += flat_gate_count(d) if d is not None else 1
    return total


def _has_matrix(op) -> bool:
    try:
        op.to_matrix()
        return True
    except Exception:
        return False


def two_simulators(G: int, width: int = 3) -> float:
    """Two double-precision simulations of the same G-gate circuit differ by at most twice one
    simulation's bound (each is within `statevector_error` of the exact state)."""
    return 2.0 * tol.statevector_error(G, width=width)
