r"""The sparse download / re-upload training scheme of arXiv:2303.03428, emulated classically.

    dense pre-training ──► prune to the top (1 − sparsity) by magnitude ──► upload θ*
      ▲                                                                      │
      │   re-upload (the Carleman error restarts at 0)                       ▼
      └── [QRAM variant: q dense steps, re-prune] ◄── download ◄── K sparse GD steps

The K sparse steps stand in for the quantum solver: gradient descent on the surviving weights
only (the pruned entries stay exactly 0), which is the dynamics the Carleman system of the
segment (`extract` at θ*) linearizes. The download is the tomography of the k-sparse weight vector
θ_S (k = number of surviving weights) at ℓ2 precision ε, modelled as

    θ̂_S = θ_S + ε·‖θ_S‖·ξ/√k,   ξ ~ N(0, I_k),   so that  E‖θ̂_S − θ_S‖² = ε²‖θ_S‖²,

with the norm ‖θ_S‖ taken as known. Pure-state tomography of a k-sparse state to ℓ2 error ε needs
O(k log k/ε²) copies; the report gives shots = ⌈k·max(1, ln k)/ε²⌉ — that count with its constant
set to 1, an order of magnitude, not a bound. With ε = 0 no noise is drawn and the scheme is plain
sparse training, bit for bit.

At every upload the Hessian spectrum on the support is computed (`hessian_spectrum`), and the error
proxy of the segment (`error_proxy`, Eq. 7) is recorded against the steps since the upload.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from .objective import Support, magnitude_prune
from .proxy import PAPER_CUT, error_proxy
from .spectrum import hessian_spectrum


@dataclass(frozen=True, eq=False)
class HybridHistory:
    """What `hybrid_train` recorded. Index t = 0..T is the state θ_t after t updates.

    `loss[t]`, `accuracy[t]`: on the evaluation data at θ_t (accuracy None without a classifier);
    `phase[t]` ("dense", "sparse", "qram"): the kind of update θ_t → θ_{t+1};
    `proxy[t]`: the current segment's error proxy at t − (its upload step), NaN outside segments;
    `uploads`: the steps where a segment starts; `downloads`: one dict per download (step, k,
    epsilon, noise_norm, relative_error, shots, accuracy_before, accuracy_after);
    `spectra`: step → Spectrum; `proxies`: upload step → ErrorProxy; `windows`: global step
    ranges (first, last) where a segment's proxy stays ≤ 1; `support`: the surviving weights of
    the last pruning (a `Support`); `meta`: the settings."""

    steps: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None
    phase: tuple
    proxy: np.ndarray
    uploads: tuple
    downloads: tuple
    spectra: dict
    proxies: dict
    windows: tuple
    support: Support | None = None
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"steps": self.steps.tolist(), "loss": self.loss.tolist(),
                "accuracy": None if self.accuracy is None else self.accuracy.tolist(),
                "phase": list(self.phase), "proxy": [None if math.isnan(p) else float(p) for p in self.proxy],
                "uploads": list(self.uploads), "downloads": [dict(d) for d in self.downloads],
                "windows": [list(w) for w in self.windows],
                "spectra": {str(t): s.to_dict() for t, s in self.spectra.items()},
                "meta": {k: v for k, v in self.meta.items() if isinstance(v, (int, float, str, bool, type(None)))}}

    def plot(self, path=None, *, title: str | None = None):
        """A figure like the paper's Fig. 2: (a) Hessian spectra over training, (b) the error proxy
        of each segment with the windows where it stays ≤ 1, (c) accuracy (or loss) with the
        downloads marked. Saved to `path` when given; returns the matplotlib Figure."""
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(3, 1, figsize=(7.5, 10), constrained_layout=True)
        ax = axes[0]
        cmap = plt.get_cmap("viridis")
        ts = sorted(self.spectra)
        for j, t in enumerate(ts):
            s = self.spectra[t]
            if s.density is not None:
                s.plot(ax, label=f"step {t}", color=cmap(j / max(1, len(ts) - 1)), lw=1)
        ax.set_title("(a) Hessian spectral density on the surviving weights")
        from .experiment import mark_lr, proxy_panel
        mark_lr(ax, float(self.meta["lr"]), float(self.meta.get("proxy_cut", PAPER_CUT)))
        ax.legend(fontsize=7, ncol=2)
        # log scale; a growing mode makes the proxy explode exponentially: values beyond the drawn
        # range are markers on its edge, not a flat line
        proxy_panel(axes[1], {t0: p.values for t0, p in self.proxies.items()}, self.windows)
        ax = axes[2]
        y, label = (self.accuracy, "accuracy") if self.accuracy is not None else (self.loss, "loss")
        ax.plot(self.steps, y, color="C1", lw=1.2)
        for d in self.downloads:
            ax.axvline(d["step"], color="C3", lw=0.8, ls=":")
        pre = self.meta.get("pretrain_steps", 0)
        if pre:
            ax.axvspan(0, pre, color="0.85", lw=0, label="dense pre-training")
        qram = [t for t, ph in enumerate(self.phase) if ph == "qram"]
        for j, t in enumerate(qram):
            ax.axvspan(t, t + 1, color="C4", alpha=0.2, lw=0, label="dense (QRAM) steps" if j == 0 else None)
        if pre or qram:
            ax.legend(fontsize=8)
        ax.set_ylabel(label)
        ax.set_xlabel("step")
        ax.set_title("(c) training " + label + " (dotted: downloads)")
        axes[1].set_xlim(axes[2].get_xlim())
        if title:
            fig.suptitle(title)
        if path is not None:
            fig.savefig(path, dpi=130)
        return fig


def classification_accuracy(output: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose largest logit is the label."""
    return float((output.argmax(dim=1) == y).to(torch.float64).mean())


def hybrid_train(model: torch.nn.Module, loss_fn, data, *, lr: float, steps: int, pretrain_steps: int = 0,
                 sparsity: float = 0.9, segment: int = 100, epsilon: float = 0.0, qram_steps: int = 0,
                 keep_last: bool = True, batch_size: int | None = None, eval_data=None, accuracy_fn="auto",
                 spectrum: bool = True, spectrum_every: int | None = None, spectrum_options: dict | None = None,
                 spectrum_data=None, proxy_cut: float = PAPER_CUT, seed: int = 0,
                 quiet: bool = False) -> HybridHistory:
    r"""Run the download/re-upload scheme (module docstring) on `model`, in place.

    `data` = (x, y): the training set. Each step is one SGD step of size `lr` (`torch.optim.SGD`,
    no momentum) on the full set, or on a minibatch of `batch_size` drawn as
    `torch.randperm(N, generator=g)[:batch_size]` from one generator seeded with `seed`.
    `pretrain_steps` dense steps, then pruning to keep the top 1 − `sparsity` (global magnitude,
    the last layer kept dense), then `steps` further steps in segments of `segment` sparse steps,
    each ended by a download at precision `epsilon`; with `qram_steps` > 0 each download is
    followed by that many dense steps and a re-pruning (the QRAM variant). With `spectrum`, the
    spectrum of each upload (and every `spectrum_every` steps) is computed on `spectrum_data`
    (default `data`) with `spectrum_options` passed to `hessian_spectrum`, and the error proxy of
    each segment from it. Loss and accuracy are measured at every step
    on `eval_data` (default `data`) in eval mode. Progress goes to stderr (tqdm), silent when
    `quiet` or when stderr is not a terminal.
    """
    lr, steps, pretrain_steps, segment = float(lr), int(steps), int(pretrain_steps), int(segment)
    if not lr > 0 or steps < 0 or pretrain_steps < 0 or segment < 1 or qram_steps < 0:
        raise ValueError("lr must be positive, steps/pretrain_steps/qram_steps ≥ 0 and segment ≥ 1")
    if not 0 <= epsilon < 1:
        raise ValueError("epsilon (the tomography precision) must be in [0, 1)")
    from .objective import model_device
    device = model_device(model)
    x, y = (t.to(device) for t in data)
    N = int(x.shape[0])
    ex, ey = (t.to(device) for t in (eval_data if eval_data is not None else (x, y)))
    sdata = spectrum_data if spectrum_data is not None else (x, y)
    sopts = dict(spectrum_options or {})
    if accuracy_fn == "auto":
        was = model.training
        model.eval()  # a batch of one would break train-mode BatchNorm
        with torch.no_grad():
            probe = model(ex[:1])
        model.train(was)
        accuracy_fn = classification_accuracy if probe.dim() == 2 and not ey.is_floating_point() else None
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    batch_gen = torch.Generator().manual_seed(int(seed))
    noise_gen = torch.Generator().manual_seed(int(seed) + 1)
    params = dict(model.named_parameters())

    losses, accs, phases, proxy_vals = [], [], [], []
    uploads, downloads, spectra, proxies, windows = [], [], {}, {}, []
    notes = []

    def measure():
        was = model.training
        model.eval()
        with torch.no_grad():
            out = model(ex)
            losses.append(float(loss_fn(out, ey)))
            accs.append(accuracy_fn(out, ey) if accuracy_fn is not None else float("nan"))
        model.train(was)

    def step(masks):
        if batch_size is None:
            xb, yb = x, y
        else:
            idx = torch.randperm(N, generator=batch_gen)[:batch_size].to(device)
            xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        if masks is not None:
            for name, m in masks.items():
                if params[name].grad is not None:
                    params[name].grad.mul_(m)
        opt.step()

    def spectrum_at(t, sup):
        if not spectrum:
            return None
        try:
            spectra[t] = hessian_spectrum(model, loss_fn, sdata, support=sup, **sopts)
        except ValueError as exc:  # e.g. a model too small for the options given
            notes.append(f"step {t}: no spectrum ({exc})")
        return spectra.get(t)

    from tqdm.auto import tqdm
    bar = tqdm(total=pretrain_steps + steps, file=sys.stderr, disable=quiet or not sys.stderr.isatty(),
               desc="dense pre-training", unit="step", leave=False)
    def dense_steps(count, phase):
        for _ in range(count):
            phases.append(phase)
            proxy_vals.append(math.nan)
            step(None)
            measure()
            bar.update(1)

    measure()
    dense_steps(pretrain_steps, "dense")
    acc_before_pruning = accs[-1]

    def prune_now() -> tuple[Support, dict]:
        sup = magnitude_prune(model, sparsity, keep_last=keep_last)
        masks = {nm: m.to(params[nm].dtype) for (nm, m), idx in zip(sup.masks(device).items(), sup.index)
                 if idx is not None}
        with torch.no_grad():
            for nm, m in masks.items():
                params[nm].mul_(m)
        return sup, masks

    t = pretrain_steps
    sup, masks = prune_now()
    losses.pop(), accs.pop()
    measure()  # θ_t is the pruned state
    end = pretrain_steps + steps
    while t < end:
        # upload: θ* = θ_t; the spectrum at θ* defines the segment's linear part F_1 = −lr·H(θ*)
        uploads.append(t)
        bar.set_description(f"spectrum at step {t}")
        K = min(segment, end - t)
        spec = spectrum_at(t, sup)
        prox = None
        if spec is not None:
            try:
                prox = error_proxy(spec, lr, K, cut=proxy_cut)
                proxies[t] = prox
                windows.extend((t + a, t + b) for a, b in prox.windows)
            except ValueError as exc:
                notes.append(f"step {t}: {exc}")
        bar.set_description("sparse segment")
        for s in range(K):
            phases.append("sparse")
            proxy_vals.append(float(prox.values[s]) if prox is not None else math.nan)
            step(masks)
            measure()
            bar.update(1)
            if spectrum_every and (t + s + 1 - pretrain_steps) % spectrum_every == 0 and s + 1 < K:
                spectrum_at(t + s + 1, sup)
        t += K
        # download: tomography of the k surviving weights at precision ε
        k = sup.n
        rec = {"step": t, "k": k, "epsilon": float(epsilon), "accuracy_before": accs[-1],
               "loss_before": losses[-1]}
        if epsilon > 0:
            with torch.no_grad():
                theta = sup.gather({nm: p.detach() for nm, p in params.items()})
                xi = torch.randn(k, generator=noise_gen, dtype=torch.float64).to(device)
                noise = (epsilon * float(torch.linalg.vector_norm(theta.to(torch.float64))) / math.sqrt(k)) * xi
                noisy = sup.scatter((theta.to(torch.float64) + noise).to(theta.dtype),
                                    {nm: p.detach() for nm, p in params.items()})
                for nm in sup.names:
                    params[nm].copy_(noisy[nm])
            rec.update(noise_norm=float(torch.linalg.vector_norm(noise)),
                       relative_error=float(torch.linalg.vector_norm(noise)) /
                       max(float(torch.linalg.vector_norm(theta.to(torch.float64))), 1e-300),
                       shots=int(math.ceil(k * max(1.0, math.log(k)) / epsilon ** 2)))
            losses.pop(), accs.pop()
            measure()
        else:
            rec.update(noise_norm=0.0, relative_error=0.0, shots=None)
        rec.update(accuracy_after=accs[-1], loss_after=losses[-1])
        downloads.append(rec)
        # θ_t is the next segment's upload, where its proxy restarts at 1 (the previous segment's
        # proxy(K) stays in `proxies`)
        if t < end and qram_steps:
            q = min(int(qram_steps), end - t)
            bar.set_description("QRAM dense steps")
            dense_steps(q, "qram")
            t += q
            if t < end:  # the next upload is sparse again: prune to the new top weights
                sup, masks = prune_now()
                losses.pop(), accs.pop()
                measure()
    bar.close()
    last = proxies.get(uploads[-1]) if uploads and phases and phases[-1] == "sparse" else None
    proxy_vals.append(float(last.values[-1]) if last is not None else math.nan)
    acc = np.array(accs) if accuracy_fn is not None else None
    meta = {"lr": lr, "steps": steps, "pretrain_steps": pretrain_steps, "sparsity": float(sparsity),
            "segment": segment, "epsilon": float(epsilon), "qram_steps": int(qram_steps),
            "batch_size": batch_size, "seed": int(seed), "samples": N, "surviving": sup.n,
            "parameters": sup.total, "accuracy_before_pruning": acc_before_pruning, "proxy_cut": float(proxy_cut),
            "notes": "; ".join(notes) if notes else None}
    return HybridHistory(np.arange(len(losses)), np.array(losses), acc, tuple(phases), np.array(proxy_vals),
                         tuple(uploads), tuple(downloads), spectra, proxies, tuple(windows), sup, meta)
