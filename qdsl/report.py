"""The compile report of docs/cli.md (`--report OUT.json`, `Compilation.report`)."""
from __future__ import annotations

import numpy as np

STANDARD = {"cx", "rz", "ry", "rx", "h", "x", "y", "z", "s", "sdg", "t", "tdg", "u", "p", "sx", "cz",
            "swap", "id", "measure", "reset"}


def flat_depth(circuit) -> int:
    r"""Depth of the circuit with every named block expanded to its standard gates (a block
    counted as one layer would hide most of the depth).

    Computed without expanding: each distinct block definition gets, once, its max-plus depth
    matrix D (D[i][o] = the most gates on a path from input wire i to output wire o, −∞ if none,
    0 on an untouched wire), and a call maps wire levels ℓ to ℓ′_o = max_i (ℓ_i + D[i][o]) — the
    same number as the layer-by-layer count of the flattened circuit, in time linear in the
    hierarchy (a block called 2^c times costs one matrix step per call)."""
    memo: dict[int, tuple] = {}

    def matrix(qc) -> np.ndarray:
        key = id(qc)
        hit = memo.get(key)
        if hit is not None and hit[0] is qc:
            return hit[1]
        k = qc.num_qubits
        index = {q: i for i, q in enumerate(qc.qubits)}
        lev = np.full((k, k), -np.inf)     # lev[w] = longest path from each input wire to wire w
        np.fill_diagonal(lev, 0.0)
        for inst in qc.data:
            op = inst.operation
            if op.name == "barrier":
                continue
            qs = [index[q] for q in inst.qubits]
            if not qs:
                continue
            if op.name not in STANDARD and op.definition is not None:
                sub = matrix(op.definition)                       # (k_s, k_s)
                lev[qs] = np.max(lev[qs][:, None, :] + sub[:, :, None], axis=0)
            else:
                lev[qs] = np.max(lev[qs], axis=0) + 1.0
        out = lev.T.copy()                  # out[i][o]: from input i to output o
        memo[key] = (qc, out)
        return out

    D = matrix(circuit)
    finite = D[np.isfinite(D)]
    return int(finite.max()) if finite.size else 0


def build_report(c) -> dict:
    """The report dict of a Compilation: model, dynamics, Carleman, linear system, circuit, readout."""
    from .semantics.certificate import sparsity
    from .verification import promises

    system, car, ls, prog = c.system, c.carleman, c.linear_system, c.program
    em = c.emitted
    dyn = system.dynamics.to_dict()
    dyn["idle"] = ls.idle
    circuit = {"solver": prog.solver, "num_qubits": prog.num_qubits, "depth": flat_depth(prog.circuit),
               "construction": _construction(prog),
               "counts": dict(em.counts), "gate_basis": em.basis, "qasm_bytes": len(c.qasm.encode()),
               "gate_definitions": em.gate_definitions, "t_count": em.t_count}
    if em.basis == "clifford+t":
        circuit.update(rotation_precision=em.precision, synthesized_rotations=em.rotations,
                       synthesis_error_bound=em.error_bound)
    from .formats import format_id
    report = {
        "format": format_id("report"),
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
    meta = getattr(system, "meta", None) or {}
    if "dissipativity" in meta:   # a qdsl.torch extraction: which modes break dissipativity
        from .torch.extract import describe_dissipativity
        report["torch_extraction"] = _jsonable({
            "dissipativity": meta["dissipativity"], "summary": describe_dissipativity(meta["dissipativity"]),
            "support_rest": meta.get("rest"), "dropped": meta.get("dropped"),
            "torch_gd_reference": "torch_gd" in meta})
    return report


def _construction(prog) -> dict | None:
    """What block-encodes L: the construction, its subnormalization, the solver's query count and
    the qubits by role (docs/cli.md "Circuits that scale")."""
    be = prog.meta.get("block_encoding")
    if not isinstance(be, dict) or "construction" not in be:
        return None
    out = {"name": be["construction"], "subnormalization": be.get("subnormalization"),
           "queries": prog.meta.get("block_encoding_calls"),
           "flag_qubits": len(be.get("ancillas", [])), "temporary_qubits": be.get("temporaries"),
           "cost_per_query": be.get("cost_per_call")}
    for k in ("norm_L", "alpha_M", "factors", "system_registers", "classes", "uncomputation"):
        if k in be:
            out[k] = be[k]
    return _jsonable(out)


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
