"""The reference paper's experiment (arXiv:2303.03428, Fig. 2) at laptop scale, on scikit-learn's
digits (1797 8×8 images that ship with scikit-learn; nothing is downloaded).

    python examples/torch/digits_hybrid.py --out figures/        # one to two minutes on one core
    python examples/torch/digits_hybrid.py --quick --out /tmp/q   # a few seconds (smoke run)

A tanh MLP 64 → 128 → 128 → 10 (26 122 weights) is pre-trained densely, pruned to the top 10 %
of its hidden-layer weights by global magnitude (the classifier layer kept dense, as the paper),
then trained in segments of sparse gradient-descent steps that stand in for the quantum solver;
after every segment the surviving weights are "downloaded" with simulated sparse tomography at
precision ε and re-uploaded. At every upload the Hessian spectrum on the surviving weights is
computed (Lanczos + SLQ) and the paper's error proxy (Eq. 7) of the segment evaluated.

Writes into --out:
  fig2_digits.png         spectra, error proxy and accuracy with the downloads (like the paper's Fig. 2)
  spectrum_support.png    the spectrum on the surviving weights vs on all weights (the zero spike)
  proxy_cuts.png          the error proxy of each upload for the paper's cut |a| > 0.4 and smaller ones
  proxy_regimes.png       each upload's spectrum with its proxy at η·λ_max = 1.9, 2.002, 2.02, 2.2
  history.json            every number the figures show
and prints a summary (accuracy before/after each download, proxy windows, shots).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import qdsl.torch as qt


def digits(train_fraction: float = 0.8, seed: int = 0):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target, dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(train_fraction * len(y))
    return (x[perm[:cut]], y[perm[:cut]]), (x[perm[cut:]], y[perm[cut:]])


def mlp(width: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
                               torch.nn.Tanh(), torch.nn.Linear(width, 10))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the figures and history.json")
    ap.add_argument("--quick", action="store_true", help="a small, fast run (smoke test)")
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--epsilon", type=float, default=0.5, help="tomography precision ε (relative ℓ2)")
    ap.add_argument("--segment", type=int, default=100, help="sparse steps between downloads (K)")
    ap.add_argument("--steps", type=int, default=400, help="steps after pre-training")
    ap.add_argument("--pretrain", type=int, default=50, help="dense pre-training steps")
    ap.add_argument("--qram", type=int, default=0, help="dense steps after each download (QRAM variant)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs in --out")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.pretrain, args.segment = 40, 10, 20
    width = 32 if args.quick else 128
    spec_opts = {"k": 3, "lanczos_steps": 40 if args.quick else 256, "vectors": 2 if args.quick else 4}

    args.out.mkdir(parents=True, exist_ok=True)
    outputs = [args.out / n for n in ("fig2_digits.png", "spectrum_support.png", "proxy_cuts.png", "proxy_regimes.png",
                                      "history.json")]
    existing = [p for p in outputs if p.exists()]
    if existing and not args.overwrite:
        print(f"error: {existing[0]} exists; pass --overwrite to replace the outputs", file=sys.stderr)
        return 2

    torch.set_num_threads(1)
    (xtr, ytr), (xte, yte) = digits(seed=args.seed)
    model = mlp(width, args.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"digits: {len(ytr)} training / {len(yte)} test images; MLP with {n_params} weights; "
          f"lr {args.lr}, ε {args.epsilon}, K {args.segment}")

    t0 = time.perf_counter()
    hist = qt.hybrid_train(model, loss_fn, (xtr, ytr), lr=args.lr, steps=args.steps,
                           pretrain_steps=args.pretrain, sparsity=0.9, segment=args.segment,
                           epsilon=args.epsilon, qram_steps=args.qram, spectrum_options=spec_opts,
                           seed=args.seed)
    seconds = time.perf_counter() - t0

    # after the last download: the spectrum on the surviving weights vs the paper's view — the
    # model pruned with torch.nn.utils.prune and the Hessian taken w.r.t. weight_orig, where every
    # pruned entry is a variable the masked forward ignores: an exact zero mode
    from torch.nn.utils import prune
    masks = hist.support.masks()
    for name, module in model.named_modules():
        if f"{name}.weight" in hist.support.pruned:
            prune.custom_from_mask(module, "weight", masks[f"{name}.weight"])
    s_surv = qt.hessian_spectrum(model, loss_fn, (xtr, ytr), support="surviving", **spec_opts)
    s_all = qt.hessian_spectrum(model, loss_fn, (xtr, ytr), support="all", **spec_opts)
    with torch.no_grad():
        test_acc = float((model(xte).argmax(1) == yte).float().mean())

    hist.plot(args.out / "fig2_digits.png",
              title=f"digits MLP ({n_params} weights, 90 % pruned): lr {args.lr}, ε {args.epsilon}, K {args.segment}")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    s_all.plot(ax, label=f"all {s_all.n} weights (w.r.t. weight_orig, as the paper)", color="0.5")
    s_surv.plot(ax, label=f"{s_surv.n} surviving weights", color="C0")
    ax.legend()
    ax.set_title("Hessian spectral density after the last download")
    fig.savefig(args.out / "spectrum_support.png", dpi=130)

    # Eq. 7 keeps |a| = lr·|λ| > 0.4; how the picture changes when the cut admits more of the spectrum
    cuts = (0.4, 0.1, 0.05, 0.02)
    fig, axes = plt.subplots(1, len(hist.spectra), figsize=(3.2 * max(1, len(hist.spectra)), 3.2),
                             squeeze=False, constrained_layout=True, sharey=True)
    sensitivity = {}
    for ax, (t, s) in zip(axes[0], sorted(hist.spectra.items())):
        for cut in cuts:
            try:
                p = qt.error_proxy(s, args.lr, args.segment, cut=cut)
            except ValueError:
                continue
            sensitivity.setdefault(t, {})[cut] = {"kept_weight": p.kept_weight, "windows": [list(w) for w in p.windows],
                                                  "at_segment_end": float(p.values[-1])}
            ax.plot(p.steps, np.clip(p.values, 1e-6, 1e6), label=f"|a| > {cut}")  # drawn within [1e-6, 1e6]
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(f"upload at step {t}", fontsize=9)
        ax.set_xlabel("steps since upload")
    axes[0][0].set_ylabel("error proxy")
    axes[0][0].legend(fontsize=7)
    fig.savefig(args.out / "proxy_cuts.png", dpi=130)

    # the edge-of-stability mechanism: the proxy's shape is set by η·λ_max. Training here sits
    # below 2, so every kept mode decays and the proxy falls; the same measured spectra at
    # η = r/λ_max with r just above 2 give the paper's dip-then-rise
    from qdsl.torch.experiment import proxy_regimes
    regimes, eos = {}, {}
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for j, (t, s) in enumerate(sorted(hist.spectra.items())):
        eos[t] = args.lr * s.largest
        reg = proxy_regimes(s.nodes, s.weights, s.largest, args.segment)
        regimes[t] = {r: {"min": float(v.min()), "argmin": int(v.argmin()), "end": float(v[-1])} for r, v in reg.items()}
        for r, v in reg.items():
            ax.plot(np.arange(v.size), np.clip(v, 1e-6, 1e6), ("-", "--", "-.", ":")[list(reg).index(r)],
                    color=f"C{j}", lw=1, label=f"upload {t}, η·λ_max = {r:g}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1e3)
    ax.set_xlabel("steps since upload")
    ax.set_ylabel("error proxy (Eq. 7)")
    ax.set_title("each upload's spectrum at η = r/λ_max (the run: η·λ_max < 2)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.savefig(args.out / "proxy_regimes.png", dpi=130)

    def zero_mass(spec):  # quadrature weight within 10⁻³·max|λ| of 0
        return float(np.sum(spec.weights[np.abs(spec.nodes) <= 1e-3 * np.abs(spec.nodes).max()]))
    summary = {"seconds": seconds, "parameters": n_params, "surviving": hist.meta["surviving"],
               "accuracy_before_pruning": hist.meta["accuracy_before_pruning"],
               "accuracy_after_pruning": float(hist.accuracy[args.pretrain]),
               "final_train_accuracy": float(hist.accuracy[-1]), "final_test_accuracy": test_acc,
               "downloads": list(hist.downloads), "windows": [list(w) for w in hist.windows],
               "proxy_min": float(np.nanmin(hist.proxy)), "proxy_max": float(np.nanmax(hist.proxy)),
               "spectrum_range": [[t, s.smallest, s.largest] for t, s in sorted(hist.spectra.items())],
               "dissipative_fraction": {t: s.dissipative_fraction(args.lr) for t, s in sorted(hist.spectra.items())},
               "zero_mass_all_weights": zero_mass(s_all), "zero_mass_surviving": zero_mass(s_surv),
               "proxy_cut_sensitivity": sensitivity, "eta_lambda_max": eos, "proxy_regimes": regimes}
    (args.out / "history.json").write_text(json.dumps({"summary": summary, "history": hist.to_dict()}, default=float))

    print(f"trained in {seconds:.1f} s; accuracy {summary['accuracy_before_pruning']:.3f} before pruning, "
          f"{summary['accuracy_after_pruning']:.3f} after, {summary['final_train_accuracy']:.3f} at the end "
          f"(test {test_acc:.3f})")
    for d in hist.downloads:
        shots = "—" if d["shots"] is None else f"{d['shots']:.3g}"
        print(f"  download at step {d['step']}: k = {d['k']}, relative error {d['relative_error']:.3f}, "
              f"shots ≈ {shots}; accuracy {d['accuracy_before']:.3f} → {d['accuracy_after']:.3f}")
    for t, s in sorted(hist.spectra.items()):
        print(f"  spectrum at step {t}: λ ∈ [{s.smallest:.3g}, {s.largest:.3g}], "
              f"dissipative fraction {s.dissipative_fraction(args.lr):.3f}")
    print(f"  proxy ≤ 1 windows: {[list(w) for w in hist.windows]}; proxy range "
          f"[{summary['proxy_min']:.3f}, {summary['proxy_max']:.3f}]")
    for t, by_cut in sensitivity.items():
        print(f"  upload {t}: " + "; ".join(f"|a| > {c}: weight {v['kept_weight']:.4f}, windows {v['windows']}"
                                          for c, v in by_cut.items()))
    for t, reg in regimes.items():
        r2 = reg.get(2.002)
        print(f"  upload {t}: η·λ_max = {eos[t]:.3f}" + (
            f"; at η·λ_max = 2.002 the proxy dips to {r2['min']:.3g} (step {r2['argmin']}) and is {r2['end']:.3g} "
            f"at step {args.segment}" if r2 else ""))
    print(f"  quadrature weight within 10⁻³·max|λ| of 0: {zero_mass(s_all):.2f} over all weights, "
          f"{zero_mass(s_surv):.2f} over the surviving ones")
    print(f"wrote {', '.join(str(p) for p in outputs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
