"""Readers of block-encodings for the tests: the flagged block ⟨0_flags, out| U |0_flags, in⟩ of a
circuit, simulated column by column from basis states.

`simulate_column` uses Qiskit's `Statevector` up to DENSE_MAX qubits and the exact sparse simulator
(`qdsl.backends.sparse_sim`, itself checked against `Statevector` in test_sparse_sim.py) above."""
import numpy as np

DENSE_MAX = 14


def simulate_column(circuit, i):
    """(indices, amplitudes) of U|i⟩."""
    n = circuit.num_qubits
    if n <= DENSE_MAX:
        from qiskit.quantum_info import Statevector

        sv = Statevector.from_int(int(i), 1 << n).evolve(circuit).data
        idx = np.flatnonzero(np.abs(sv) > 0)
        return idx, sv[idx]
    from qdsl.backends.sparse_sim import SparseState, _flatten, run

    st = run(_flatten(circuit, {}), SparseState([int(i)], [1.0]))
    return st.keys, st.amps


def flagged_block(circuit, inputs, outputs, flags, fixed=None):
    """B[o, i] = ⟨outputs[o], flags = 0| U |inputs[i]⟩ (flags 0 on input too), with `fixed`
    {qubit: value} set on input and required on output; also the largest amplitude that lands on
    any other basis state with the flags 0 and `fixed` holding (leakage: padding outputs or dirty
    temporaries)."""
    extra = 0
    for q, v in (fixed or {}).items():
        extra |= int(v) << int(q)
    inputs = [int(i) | extra for i in inputs]
    outputs = [int(o) | extra for o in outputs]
    pos = {o: k for k, o in enumerate(outputs)}
    B = np.zeros((len(outputs), len(inputs)), complex)
    leak = 0.0
    for c, i in enumerate(inputs):
        idx, amp = simulate_column(circuit, i)
        ok = np.ones(idx.size, bool)
        for q in flags:
            ok &= ((idx >> int(q)) & 1) == 0
        for q, v in (fixed or {}).items():
            ok &= ((idx >> int(q)) & 1) == int(v)
        for k, a in zip(idx[ok], amp[ok]):
            r = pos.get(int(k))
            if r is None:
                leak = max(leak, abs(a))
            else:
                B[r, c] += a
    return B, leak
