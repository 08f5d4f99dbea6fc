r"""Real-amplitude state preparation (Möttönen et al., QIC 5, 467 (2005)), optionally controlled.

`PrepareState(amplitudes)` maps |0…0⟩ to Σ_j a_j|j⟩/‖a‖ (little-endian, zero-padded to 2^k) with a
binary tree of uniformly controlled RY rotations: the rotation on qubit q, multiplexed by the higher
qubits q+1..k−1, splits each subtree's weight between its two halves; leaf angles 2·atan2(b, a) of
the signed amplitudes, so negative entries need no phase gates. A multiplexor drops every control
whose value cannot matter: one that is |0⟩ with certainty at that point (the amplitudes vanish
where it is 1) and one on which its angles do not depend. A uniformly controlled RY with c
controls is, in Gray-code order, 2^c rotations θ_i = 2^{−c} Σ_j (−1)^{popcount(j ∧ gray(i))} α_j,
each followed by a ``cx`` from the control whose bit changes next. Multiplexors whose angles all
vanish (empty subtrees: sparse vectors) are skipped, and so are single rotations whose angle is
below `ANGLE_EPS` (rounding level of the angle transform; the state changes by at most ANGLE_EPS/2
per dropped rotation).

**Controlled** (``ctrl`` given): every RY(θ) becomes RY(θ/2)·CX·RY(−θ/2)·CX from the control; the
multiplexors' own ``cx`` stay uncontrolled — each control bit flips an even number of times along a
cyclic Gray code and the ``cx`` share one target, so without rotations they multiply to I.

`uniform(s, k)` is the uniform superposition over the first s basis states (Σ_{j<s}|j⟩/√s), built
by amplitude amplification (`uniform.UniformState`), not by this tree.
The cost is counted from the same angle vectors (`PrepareState.cost`): data-dependent, exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cost import Cost

__all__ = ["PrepareState", "uniform", "ANGLE_EPS"]

#: rotations with |θ| ≤ ANGLE_EPS are dropped (≈ 25 ulp of π: rounding noise of the transform)
ANGLE_EPS = 25 * np.finfo(float).eps * np.pi


def _gray(i):
    return i ^ (i >> 1)


def _multiplexor_angles(alpha: np.ndarray) -> np.ndarray:
    """Gray-code rotation angles θ of a uniformly controlled RY with per-branch angles α:
    θ_i = 2^{−c} Σ_j (−1)^{popcount(j ∧ gray(i))} α_j, a Walsh–Hadamard transform (O(n log n)
    butterflies, no n × n sign matrix: HHL multiplexes over 2^16 clock values) read in Gray-code
    order."""
    a = np.array(alpha, dtype=float)
    n = len(a)
    if n == 1:
        return a
    h = 1
    while h < n:
        a = a.reshape(-1, 2, h)
        a = np.stack((a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]), axis=1).reshape(-1)
        h *= 2
    return a[_gray(np.arange(n))] / n


@dataclass(frozen=True, eq=False)
class PrepareState:
    """|0…0⟩ ↦ a/‖a‖ on `num_qubits` qubits (module docstring)."""

    amplitudes: np.ndarray
    num_qubits: int

    def __init__(self, amplitudes, num_qubits: int | None = None):
        a = np.asarray(amplitudes, dtype=float).ravel()
        k = max(1, (len(a) - 1).bit_length()) if num_qubits is None else int(num_qubits)
        if len(a) > (1 << k):
            raise ValueError("amplitude vector does not fit the register")
        full = np.zeros(1 << k)
        full[: len(a)] = a
        nrm = np.linalg.norm(full)
        if not nrm > 0:
            raise ValueError("zero amplitude vector")
        object.__setattr__(self, "amplitudes", full / nrm)
        object.__setattr__(self, "num_qubits", k)

    def _levels(self):
        """[(q, kept control bit positions, θ-vector or None)] from the top qubit down; None: the
        multiplexor is skipped."""
        k = self.num_qubits
        amps = self.amplitudes
        support = np.flatnonzero(amps)
        zero_bit = [not np.any((support >> b) & 1) for b in range(k)]
        out = []
        for q in reversed(range(k)):
            blocks = amps.reshape(-1, 2, 1 << q)
            if q == 0:
                a, b = blocks[:, 0, 0], blocks[:, 1, 0]
            else:
                a = np.linalg.norm(blocks[:, 0, :], axis=1)
                b = np.linalg.norm(blocks[:, 1, :], axis=1)
            alpha = 2 * np.arctan2(b, a)      # index j: the value of the controls q+1..k−1
            if np.all(np.abs(alpha) <= ANGLE_EPS):
                out.append((q, [], None))
                continue
            kept = list(range(k - q - 1))      # control c ↔ qubit q+1+c ↔ bit c of j
            for c in reversed(range(k - q - 1)):
                A = alpha.reshape(-1, 2, 1 << c)
                if zero_bit[q + 1 + c]:
                    alpha = A[:, 0, :].ravel()
                elif np.all(np.abs(A[:, 0, :] - A[:, 1, :]) <= ANGLE_EPS):
                    alpha = A[:, 0, :].ravel()
                else:
                    continue
                kept.remove(c)
            out.append((q, [q + 1 + c for c in kept], _multiplexor_angles(alpha)))
        return out

    def build(self, qc, qubits, ctrl=None, below: int | None = None) -> None:
        """Append the preparation on `qubits` (qubits[b] = bit b), controlled by `ctrl` if given.
        With `below` = w only the rotations on qubits 0..w−1 are applied (multiplexed by all the
        higher qubits): a *multiplexed* preparation |j⟩|0⟩ ↦ |j⟩|ψ_j⟩, ψ_j the normalized slice of
        the amplitudes at high part j (`frobenius.FrobeniusAccess`)."""
        qubits = list(qubits)
        k = self.num_qubits
        if len(qubits) != k:
            raise ValueError("register width does not match")

        def ry(theta, t):
            if ctrl is None:
                qc.ry(float(theta), t)
            else:
                qc.ry(float(theta) / 2, t)
                qc.cx(ctrl, t)
                qc.ry(-float(theta) / 2, t)
                qc.cx(ctrl, t)

        for q, kept, theta in self._levels():
            if theta is None or (below is not None and q >= below):
                continue
            controls = [qubits[b] for b in kept]
            c = len(controls)
            n = 1 << c
            for i in range(n):
                if abs(theta[i]) > ANGLE_EPS:
                    ry(theta[i], qubits[q])
                if c:
                    changed = _gray(i) ^ _gray((i + 1) % n)
                    qc.cx(controls[changed.bit_length() - 1], qubits[q])

    def build_inverse(self, qc, qubits, ctrl=None) -> None:
        """Append the inverse of `build` (PREP†)."""
        from qiskit import QuantumCircuit

        qubits = list(qubits)
        k = len(qubits)
        sub = QuantumCircuit(k + (ctrl is not None))
        self.build(sub, list(range(k)), None if ctrl is None else k)
        qc.compose(sub.inverse(), qubits + ([] if ctrl is None else [ctrl]), inplace=True)

    def cost(self, controlled: bool = False, below: int | None = None) -> Cost:
        """Gate counts, from the same angle vectors (exact); `below` as in `build`."""
        rot = cx = 0
        for q, kept, theta in self._levels():
            if theta is None or (below is not None and q >= below):
                continue
            c = len(kept)
            if c:
                cx += 1 << c
            rot += int(np.sum(np.abs(theta) > ANGLE_EPS))
        if controlled:
            return Cost(ry=2 * rot, cx=cx + 2 * rot)
        return Cost(ry=rot, cx=cx)


def uniform(s: int, num_qubits: int | None = None):
    """The uniform superposition over the first s basis states: `uniform.UniformState` (O(log s)
    Toffolis and two rotations, exact up to a stated global phase; its `work` clean qubits are passed to `build`), no longer
    a rotation tree (which `PrepareState(np.ones(s))` still builds)."""
    from .uniform import UniformState
    return UniformState(s, num_qubits)
