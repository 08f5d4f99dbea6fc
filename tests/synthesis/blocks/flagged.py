"""An independent reader of block-encodings: simulate the circuit on chosen input basis states and
return the flagged block ⟨0_flags, out| U |0_flags, in⟩ (numpy/qiskit Statevector only)."""
import numpy as np


def flagged_block(circuit, inputs, outputs, flags, fixed=None):
    """Matrix B[o, i] = ⟨o, flags=0| U |i⟩ for basis-state indices `inputs`/`outputs` of the whole
    circuit (flags zero in both); `fixed` {qubit: value} other qubits prepared/projected (e.g. a
    control = 1). Returns also the largest amplitude that lands outside `outputs` with flags 0."""
    from qiskit.quantum_info import Statevector

    n = circuit.num_qubits
    extra = 0
    for q, v in (fixed or {}).items():
        extra |= int(v) << int(q)
    inputs = [int(i) | extra for i in inputs]
    outputs = [int(o) | extra for o in outputs]
    idx = np.arange(1 << n)
    ok = np.ones(idx.size, bool)
    for q in flags:
        ok &= ((idx >> int(q)) & 1) == 0
    for q, v in (fixed or {}).items():
        ok &= ((idx >> int(q)) & 1) == int(v)
    out_set = np.zeros(idx.size, bool)
    out_set[outputs] = True
    B = np.zeros((len(outputs), len(inputs)), complex)
    leak = 0.0
    for c, i in enumerate(inputs):
        sv = Statevector.from_int(i, 1 << n).evolve(circuit).data
        B[:, c] = sv[outputs]
        rest = np.abs(sv[ok & ~out_set])
        leak = max(leak, float(rest.max()) if rest.size else 0.0)
    return B, leak
