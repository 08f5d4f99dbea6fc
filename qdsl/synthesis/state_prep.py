r"""Real-amplitude state preparation from RY and CX gates only (Möttönen et al., QIC 5, 467 (2005)).

A binary tree of uniformly controlled RY rotations: the rotation on qubit q, controlled by the
higher qubits q+1..n−1, splits the weight of each subtree between its two halves. The leaf angles
are 2·atan2(b, a) of the signed amplitudes, so negative entries need no phase gates. Each
uniformly controlled RY with k controls is 2^k RY and 2^k CX (Gray-code ordering); multiplexors
whose angles all vanish (zero subtrees: sparse vectors) are skipped, so a k-sparse vector costs
little beyond its support.
"""
from __future__ import annotations

import numpy as np

__all__ = ["real_state_preparation", "uniformly_controlled_ry"]


def _gray(i: int) -> int:
    return i ^ (i >> 1)


def uniformly_controlled_ry(qc, angles, controls, target) -> None:
    r"""Append Σ_j |j⟩⟨j|_controls ⊗ RY(angles[j]) (control bit b ↔ controls[b]) with RY and CX.

    θ_i = 2^{−k} Σ_j (−1)^{popcount(j ∧ gray(i))} α_j; RY(θ_i) then CX from the control whose bit
    changes between gray(i) and gray(i+1)."""
    angles = np.asarray(angles, dtype=float)
    k = len(controls)
    if k == 0:
        if abs(angles[0]) > 1e-15:
            qc.ry(float(angles[0]), target)
        return
    if np.all(np.abs(angles) <= 1e-15):
        return
    n = 1 << k
    j = np.arange(n)
    g = np.array([_gray(i) for i in range(n)])
    parity = np.array([[bin(jj & gg).count("1") & 1 for jj in j] for gg in g])
    theta = ((-1.0) ** parity) @ angles / n
    for i in range(n):
        if abs(theta[i]) > 1e-15:
            qc.ry(float(theta[i]), target)
        changed = _gray(i) ^ _gray((i + 1) % n)
        b = changed.bit_length() - 1
        qc.cx(controls[b], target)


def real_state_preparation(vector, num_qubits: int | None = None, *, name: str = "state_prep"):
    r"""A circuit mapping |0…0⟩ to the normalized real `vector` (little-endian, padded with zeros
    to 2^num_qubits), built from RY and CX only."""
    from qiskit import QuantumCircuit

    v = np.asarray(vector)
    if np.iscomplexobj(v):
        if np.max(np.abs(v.imag)) > 1e-12 * max(np.max(np.abs(v)), 1e-300):
            raise ValueError("real_state_preparation needs a real vector")
        v = v.real
    v = v.astype(float)
    if num_qubits is None:
        num_qubits = max(1, (len(v) - 1).bit_length())
    N = 1 << num_qubits
    if len(v) > N:
        raise ValueError("vector does not fit the register")
    amps = np.zeros(N)
    amps[: len(v)] = v
    nrm = np.linalg.norm(amps)
    if nrm == 0:
        raise ValueError("zero vector")
    amps /= nrm
    qc = QuantumCircuit(num_qubits, name=name)
    for q in reversed(range(num_qubits)):
        blocks = amps.reshape(-1, 2, 1 << q)  # [high-bits value j, bit q, low bits]
        if q == 0:
            a, b = blocks[:, 0, 0], blocks[:, 1, 0]
        else:
            a = np.linalg.norm(blocks[:, 0, :], axis=1)
            b = np.linalg.norm(blocks[:, 1, :], axis=1)
        angles = 2 * np.arctan2(b, a)
        uniformly_controlled_ry(qc, angles, list(range(q + 1, num_qubits)), q)
    return qc
