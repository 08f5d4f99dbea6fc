r"""QuantumProgram: a synthesized linear-solver circuit and the readout contract of docs/cli.md.

The circuit (without final measurements; the emitter adds them) prepares, on the post-selected
subspace, a state proportional to the solution Y of L·Y = B. `solution_map[j]` is the basis index k
(k = Σ_b bit(system_qubits[b])·2^b) where entry j of Y lands; `readout` is the dict of docs/cli.md
(system_qubits, postselect, const_index, theta_index) that any decoder can use.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the readout lists every lifted component's index up to this many entries (docs/cli.md)
COMPONENT_INDEX_LIMIT = 10 ** 6


@dataclass(frozen=True, eq=False)
class QuantumProgram:
    """A QLSA circuit for one LinearSystem.

    Attributes: `circuit` (qiskit.QuantumCircuit, one register, no measurements), `solver`
    ("qsvt" | "hhl"), `system_qubits` (list of qubit indices, little-endian), `postselect`
    ({qubit: value} for every other qubit), `solution_map` (np.ndarray: Y index → system basis
    index), `linear_system` (the LinearSystem solved), `meta` (solver parameters: degree, κ′, α, ε,
    clock bits, …, all JSON-serializable), `declared` (gate counts the synthesizer declares,
    {gate: int}, checked against the circuit in tests), `cost` (the same as a `blocks.cost.Cost`
    record, from the blocks' cost functions).
    """

    circuit: object
    solver: str
    system_qubits: tuple[int, ...]
    postselect: dict
    solution_map: np.ndarray
    linear_system: object
    meta: dict = field(default_factory=dict)
    declared: dict = field(default_factory=dict)
    cost: object = None

    @property
    def num_qubits(self) -> int:
        return self.circuit.num_qubits

    @property
    def readout(self) -> dict:
        """The readout section of the report (docs/cli.md): where θ_t and the constant component of
        every block t land, and — when D·(T+1) ≤ COMPONENT_INDEX_LIMIT — where every lifted
        component of block t lands (`component_index[t][d]`, d in the lift's order)."""
        ls = self.linear_system
        D = ls.block_dim
        smap = np.asarray(self.solution_map, dtype=np.int64)
        T1 = ls.steps + 1
        const_index = [int(smap[t * D + ls.const_index]) for t in range(T1)]
        theta_index = [[int(smap[t * D + int(i)]) for i in ls.theta_index] for t in range(T1)]
        out = {
            "system_qubits": [int(q) for q in self.system_qubits],
            "postselect": {str(q): int(v) for q, v in sorted(self.postselect.items())},
            "const_index": const_index,
            "theta_index": theta_index,
        }
        if D * T1 <= COMPONENT_INDEX_LIMIT:
            out["component_index"] = smap[: D * T1].reshape(T1, D).tolist()
        return out
