"""The compile report of SPEC §4 (`--report OUT.json`, `Compilation.report`)."""
from __future__ import annotations

STANDARD = {"cx", "rz", "ry", "rx", "h", "x", "y", "z", "s", "sdg", "t", "tdg", "u", "p", "sx", "cz",
            "swap", "id", "measure", "reset"}


def flat_depth(circuit) -> int:
    """Depth of the circuit with every named block expanded to its standard gates (a block
    counted as one layer would hide most of the depth)."""
    nq = circuit.num_qubits
    level = [0] * nq
    index = {q: i for i, q in enumerate(circuit.qubits)}

    def walk(qc, qmap):
        for inst in qc.data:
            op = inst.operation
            qs = [qmap[qc.find_bit(q).index] for q in inst.qubits]
            if op.name == "barrier":
                continue
            if op.name not in STANDARD and op.definition is not None:
                walk(op.definition, qs)
                continue
            d = max(level[q] for q in qs) + 1 if qs else 0
            for q in qs:
                level[q] = d

    walk(circuit, [index[q] for q in circuit.qubits])
    return max(level, default=0)


def build_report(c) -> dict:
    """The report dict of a Compilation: model, dynamics, Carleman, linear system, circuit, readout."""
    from .semantics.certificate import sparsity
    from .verification import promises

    system, car, ls, prog = c.system, c.carleman, c.linear_system, c.program
    em = c.emitted
    dyn = system.dynamics.to_dict()
    dyn["idle"] = ls.idle
    circuit = {"solver": prog.solver, "num_qubits": prog.num_qubits, "depth": flat_depth(prog.circuit),
               "counts": dict(em.counts), "gate_basis": em.basis, "qasm_bytes": len(c.qasm.encode()),
               "gate_definitions": em.gate_definitions, "t_count": em.t_count}
    if em.basis == "clifford+t":
        circuit.update(rotation_precision=em.precision, synthesized_rotations=em.rotations,
                       synthesis_error_bound=em.error_bound)
    return {
        "generator": "qdsl",
        "version": __import__("qdsl").__version__,
        "model": system.model,
        "source": c.source.name,
        "parameters": list(system.names),
        "expansion_point": [float(v) for v in system.expansion_point],
        "theta0": [float(v) for v in system.theta0],
        "dynamics": dyn,
        "carleman": {"order": car.order, "basis": car.basis, "dim": car.dim, "nnz": int(car.matrix.nnz)},
        "linear_system": {"dim": ls.dim, "blocks": ls.num_blocks, "block_dim": ls.block_dim,
                          "kappa": float(ls.kappa), "kappa_method": ls.kappa_method,
                          "sparsity": sparsity(ls.matrix)["s"]},
        "circuit": circuit,
        "solver": _jsonable(prog.meta),
        "readout": prog.readout,
        "verification": _jsonable(promises(c)),
    }


def _jsonable(d):
    import numpy as np
    if isinstance(d, dict):
        return {str(k): _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    if isinstance(d, np.ndarray):
        return d.tolist()
    if isinstance(d, np.generic):
        return d.item()
    return d
