r"""One training window of a PyTorch network, quantum against classical, beside the Eq. 7 proxy.

`qdsl.plan(system, network=(model, loss_fn, batch), window=K)` (`backends.plan.plan`) adds a
`torch_window` section to the verdict of an extracted system (`qdsl.torch.extract`):

* **quantum, per window** — the end-to-end cost (`backends.endtoend.end_to_end`) of K steps of
  the extracted update read out in full at the window's end (all of θ, to download it before the
  next window re-uploads it): calls, T states, runtime on the surface-code model;
* **classical, per window** — K steps of the training the network actually runs: the forward and
  backward pass of `loss_fn(model(x), y)` on the batch, its FLOPs counted by PyTorch's own
  `torch.utils.flop_counter.FlopCounterMode` (matrix products and convolutions: 2 flops per
  multiply–add; elementwise operations — activations, the loss, bias additions — are not counted,
  so this is a lower bound on the classical work, which only favours the quantum side), plus the
  SGD update, 2 flops per trainable weight; runtime at the stated or measured rate;
* **the Eq. 7 proxy** of that window (`qdsl.torch.error_proxy`, arXiv:2303.03428): from the
  Hessian spectrum on the extracted support (given, or measured by SLQ here), proxy(t) for
  t = 0..K, its value at K, its largest value and the runs where it stays ≤ 1 — whether the
  linearized error the window's download would fix has grown.
"""
from __future__ import annotations


__all__ = ["training_step_flops", "window_section", "render_window"]


def training_step_flops(model, loss_fn, batch) -> dict:
    """FLOPs of one training step of `model` on `batch` (a pair `(x, y)`): the forward and
    backward pass of `loss_fn(model(x), y)` as `FlopCounterMode` counts them, plus 2 per trainable
    weight for the SGD update. The model's gradients are restored afterwards."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x, y = batch
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [None if p.grad is None else p.grad.detach().clone() for p in params]
    try:
        with FlopCounterMode(display=False) as fc:
            loss_fn(model(x), y).backward()
        counts = {str(k): int(v) for k, v in fc.get_flop_counts().get("Global", {}).items()}
        fb = int(fc.get_total_flops())
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    weights = int(sum(p.numel() for p in params))
    return {"forward_backward": fb, "update": 2 * weights, "per_step": fb + 2 * weights,
            "by_operation": counts, "trainable_weights": weights,
            "batch": int(x.shape[0]) if hasattr(x, "shape") else None,
            "counter": "torch.utils.flop_counter.FlopCounterMode (matrix products and convolutions; "
                       "elementwise operations not counted) + 2 flops per weight for the SGD update",
            "torch": torch.__version__}


def _spectrum_of(system, network, spectrum, lanczos_steps: int):
    """The quadrature the proxy needs: `spectrum` (a `Spectrum`, or a dict with nodes and weights)
    or, with the network, an SLQ run on the extracted support."""
    if spectrum is not None:
        return spectrum, "given"
    from .spectrum import hessian_spectrum
    model, loss_fn, batch = network
    sup = system.meta.get("support", "surviving")
    n = int(system.n)
    s = hessian_spectrum(model, loss_fn, batch, support=sup, k=1, density=True,
                         lanczos_steps=max(2, min(int(lanczos_steps), n)), vectors=1,
                         extremes="lanczos", seed=0)
    return s, f"measured (SLQ, {min(int(lanczos_steps), n)} Lanczos steps, 1 vector, on the extracted support)"


class _Q:
    def __init__(self, s):
        self.nodes, self.weights = (s.nodes, s.weights) if hasattr(s, "nodes") else (s["nodes"], s["weights"])


def window_section(system, quantum: dict, network, window: int, *, rate: float, spectrum=None,
                   lanczos_steps: int = 32) -> dict:
    """The `torch_window` section of `qdsl.plan` (module docstring): `quantum` is the plan's
    end-to-end cost of the window (K = `window` steps), `network` the `(model, loss_fn, batch)`
    the system was extracted from, `rate` the classical machine's flop/s."""
    import numpy as np

    from .proxy import error_proxy

    K = int(window)
    lr = float(system.dynamics.lr)
    step = training_step_flops(*network)
    flops = K * step["per_step"]
    cl_rt = flops / float(rate)
    q = quantum["total"]
    q_rt = q["runtime_s"] if q["runtime_s"] is not None else q.get("runtime_lower_bound_s")
    out = {"steps": K, "lr": lr,
           "quantum": {"calls": q["calls"], "t_states": q["t_states"], "runtime_s": q_rt,
                       "output": quantum["output"]["kind"], "precision": quantum["output"]["precision"]},
           "classical": {"flops_per_step": step["per_step"], "flops": flops, "runtime_s": cl_rt,
                         "rate": float(rate), "step": step},
           "ratio": (q_rt / cl_rt) if (q_rt is not None and cl_rt > 0) else None}
    try:
        s, how = _spectrum_of(system, network, spectrum, lanczos_steps)
        p = error_proxy(_Q(s), lr, K)
        v = np.asarray(p.values, float)
        out["proxy"] = {"values": [float(x) for x in v], "at_end": float(v[-1]), "max": float(v.max()),
                        "windows": [list(w) for w in p.windows], "cut": p.cut, "kept_weight": p.kept_weight,
                        "spectrum": how, "grown": bool(v[-1] > 1),
                        "meaning": "Eq. 7 of arXiv:2303.03428: the weighted growth |1 − ηλ|^t of the "
                                   "linearized error over the modes with η|λ| > cut, normalized to 1 at t = 0"}
    except ValueError as exc:     # no quadrature node past the cut: the proxy is undefined
        out["proxy"] = {"values": None, "at_end": None, "reason": str(exc)}
    return out


def render_window(w: dict) -> list[str]:
    """The torch section of `PlanReport.render()`."""
    def num(v):
        return "—" if v is None else (f"{v:,.0f}" if abs(v) < 1e6 else f"{v:.3e}")
    q, cl, p = w["quantum"], w["classical"], w["proxy"]
    qrt = "—" if q["runtime_s"] is None else f"{q['runtime_s']:.3g} s"
    lines = [f"torch window ({w['steps']} steps between downloads, lr {w['lr']:g}):",
             f"  quantum                {num(q['calls'])} calls, {num(q['t_states'])} T states, "
             f"{qrt} (read out {q['output']} of θ to ± {q['precision']:g})",
             f"  classical (network)    {num(cl['flops_per_step'])} flops per step × {w['steps']} = "
             f"{num(cl['flops'])} flops, {cl['runtime_s']:.3g} s at {cl['rate']:.3g} flop/s "
             f"(forward+backward by FlopCounterMode, + SGD update)",
             f"  ratio quantum/classical {w['ratio']:.3g}" if w["ratio"] is not None else
             "  ratio quantum/classical unknown"]
    if p.get("values") is not None:
        lines.append(f"  Eq. 7 proxy            {p['at_end']:.4g} at the window's end (max {p['max']:.4g}; "
                     f"≤ 1 on steps {p['windows'] or 'none'}; spectrum {p['spectrum']})")
    else:
        lines.append(f"  Eq. 7 proxy            undefined: {p['reason']}")
    return lines
