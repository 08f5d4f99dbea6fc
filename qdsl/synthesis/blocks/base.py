r"""BlockEncoding: a unitary circuit with a flagged block, the interface every solver consumes.

``⟨0_anc| circuit |0_anc⟩ = A / alpha`` on the system qubits: the ancillas (flags) start in |0⟩
and the block is selected by all of them being |0⟩; every other qubit of the circuit is a clean
temporary (|0⟩ in and out, for every input). For a history system, `solution_map[j]` is the system
basis index (k = Σ_b bit(system[b])·2^b) of entry j of Y, and A restricted to those indices is L
(`matrix`, when given, is the whole encoded matrix on the system register; the structured
construction leaves the block on padding patterns unspecified, but keeps it decoupled: valid
patterns map only into valid patterns or flagged branches and padding never reaches a valid
pattern, so the encoded matrix is L ⊕ (a padding block) and a solver started on B only sees L).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cost import Cost

__all__ = ["BlockEncoding"]


@dataclass(frozen=True, eq=False)
class BlockEncoding:
    """See the module docstring. `construction` is "structured", "sparse-access" or "dense";
    `cost` comes from the same description that built `circuit` (None when only the description
    was evaluated: `build=False`); `meta` holds the details (subnormalizations of the parts,
    register sizes). `initial_state`, when given, prepares the normalized right-hand side on
    its `qubits` of this circuit (its own layout-aware construction); solvers otherwise prepare B
    from `solution_map` with a generic state preparation."""

    circuit: object
    alpha: float
    system: tuple
    ancillas: tuple
    construction: str
    cost: Cost
    solution_map: np.ndarray | None = None
    matrix: object = None
    meta: dict = field(default_factory=dict)
    initial_state: object = None   # optional: prepares B/‖B‖ (`qubits`, `build(qc)`, `cost()`)

    @property
    def num_qubits(self) -> int:
        return self.circuit.num_qubits if self.circuit is not None else int(self.cost.qubits)

    @property
    def temporaries(self) -> tuple:
        used = set(self.system) | set(self.ancillas)
        return tuple(q for q in range(self.num_qubits) if q not in used)
