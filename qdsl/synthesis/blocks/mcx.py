r"""Multi-controlled X with stated ancilla use.

`mcx(qc, controls, target, values=…, work=…, mode=…)` flips `target` when every control i holds
`values[i]` (1: control on |1⟩, 0: on |0⟩, by X before and after). For k controls:

* k = 0: ``x``; k = 1: ``cx``; k = 2: ``ccx``;
* ``mode="clean"`` (k ≥ 3): a ladder through k − 2 **clean** work qubits (|0⟩ in and out),
  computing w_0 = c_0 ∧ c_1, w_i = w_{i−1} ∧ c_{i+1} with Gidney's temporary And (4 T each), the
  last Toffoli onto the target (whose state is arbitrary), then uncomputing the work qubits with
  And† (a measurement and a classically controlled CZ; blocks/and_gate.py): k − 2 ``and``,
  k − 2 ``and_dg`` and one ``ccx`` — k − 1 Toffoli-equivalents (Qualtran's MultiControlX: k − 1
  And). Under `and_gate.unitary_uncompute()` (the default) the pairs are Toffolis: 2k − 3 ``ccx``;
* ``mode="dirty"`` (k ≥ 3): Barenco et al., PRA 52, 3457 (1995), Lemma 7.2 — k − 2 **dirty** work
  qubits in any state, restored: 4(k − 2) Toffolis.

Cost (both modes): ``x`` 2·(number of controls on |0⟩).
"""
from __future__ import annotations

from .and_gate import and_compute, and_cost, and_dg_cost, and_uncompute
from .cost import Cost

__all__ = ["mcx", "mcx_cost", "mcx_work"]


def mcx_work(k: int, mode: str = "clean") -> int:
    """Work qubits the k-control MCX needs (clean or dirty, by `mode`)."""
    return max(0, k - 2)


def _ladder(qc, c, target, w):
    k = len(c)
    and_compute(qc, c[0], c[1], w[0])
    for i in range(2, k - 1):
        and_compute(qc, w[i - 2], c[i], w[i - 1])
    qc.ccx(w[k - 3], c[k - 1], target)
    for i in range(k - 2, 1, -1):
        and_uncompute(qc, w[i - 2], c[i], w[i - 1])
    and_uncompute(qc, c[0], c[1], w[0])


def _barenco(qc, c, target, w):
    """C^k X with k − 2 dirty ancillas (Barenco Lemma 7.2): the V-chain applied twice."""
    k = len(c)

    def chain():
        qc.ccx(w[k - 3], c[k - 1], target)
        for i in range(k - 2, 1, -1):
            qc.ccx(w[i - 2], c[i], w[i - 1])
        qc.ccx(c[0], c[1], w[0])
        for i in range(2, k - 1):
            qc.ccx(w[i - 2], c[i], w[i - 1])

    chain()
    chain()


def mcx(qc, controls, target, *, values=None, work=(), mode: str = "clean") -> None:
    """Append a multi-controlled X (module docstring). `work` must hold at least
    `mcx_work(len(controls))` qubits, clean or dirty according to `mode`."""
    controls = list(controls)
    k = len(controls)
    values = [1] * k if values is None else [int(v) for v in values]
    neg = [c for c, v in zip(controls, values) if not v]
    for q in neg:
        qc.x(q)
    if k == 0:
        qc.x(target)
    elif k == 1:
        qc.cx(controls[0], target)
    elif k == 2:
        qc.ccx(controls[0], controls[1], target)
    else:
        w = list(work)[: k - 2]
        if len(w) < k - 2:
            raise ValueError(f"mcx with {k} controls needs {k - 2} work qubits, got {len(w)}")
        if mode == "clean":
            _ladder(qc, controls, target, w)
        elif mode == "dirty":
            _barenco(qc, controls, target, w)
        else:
            raise ValueError(f"unknown mcx mode {mode!r}")
    for q in neg:
        qc.x(q)


def mcx_cost(k, zeros=0, mode: str = "clean") -> Cost:
    """Gate counts of `mcx` with k controls of which `zeros` are on |0⟩ (k may be symbolic when
    k ≥ 3 is known)."""
    x = 2 * zeros
    if isinstance(k, int) and k < 3:
        return Cost({("x", "cx", "ccx")[k]: 1}) + Cost(x=x)
    if mode == "clean":
        return and_cost(k - 2) + and_dg_cost(k - 2) + Cost(ccx=1, x=x)
    return Cost(ccx=4 * (k - 2), x=x)
