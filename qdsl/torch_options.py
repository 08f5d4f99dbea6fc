"""The options of the paper's experiment (`qdsl torch-experiment`, `python -m qdsl.torch.experiment`),
defined without importing torch or numpy so that `qdsl --help` stays instant; the experiment
itself is `qdsl.torch.experiment`."""
from __future__ import annotations

import argparse
import math

PRESETS = {
    # the paper's setting (its Fig. 2): 7M ResNet, SGD on 2,048 samples, 90 % pruned
    "paper": dict(data="synthetic", params=7e6, samples=8192, batch_size=2048, lr=0.05, pretrain_steps=50,
                  steps=200, segment=50, spectrum_every=25, lanczos_steps=128, vectors=2, spectrum_samples=512,
                  label_noise=0.0),
    # minutes on one CPU core: the edge-of-stability mechanism at a size this machine runs
    "laptop": dict(data="digits", params=2e4, samples=720, batch_size=None, lr=0.05, pretrain_steps=60,
                   steps=100, segment=20, spectrum_every=0, lanczos_steps=40, vectors=1, spectrum_samples=None,
                   label_noise=0.2),
}

DESCRIPTION = ("The reference paper's Fig. 2 experiment (arXiv:2303.03428): ResNet, pruning, sparse SGD "
               "with downloads, Hessian spectra, error proxy, edge-of-stability diagnostic — checkpointed "
               "and resumable (docs/torch.md). Needs the torch extra.")


def _bytes(text: str) -> int:
    units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = units.get(t[-1:], 1)
    try:
        v = float(t[:-1] if t[-1:] in units else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"not a positive size: {text!r}")
    return int(v)


def add_experiment_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the experiment's options to `ap` (a parser or a `qdsl` subcommand's)."""
    ap.add_argument("--out", help="directory for checkpoint, results and figure")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="paper",
                    help="defaults for everything below: paper (7M ResNet, batch 2048) or laptop (minutes)")
    ap.add_argument("--plot", metavar="DIR", help="only redraw DIR/figure.png from DIR's saved results")
    ap.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    ap.add_argument("--force", action="store_true", help="start over even if --out holds a checkpoint")
    ap.add_argument("--data", help="synthetic, digits, a .npz (x, y) or a CIFAR-100 python directory")
    ap.add_argument("--samples", type=int, help="training samples used")
    ap.add_argument("--classes", type=int, default=100, help="classes of the synthetic data")
    ap.add_argument("--label-noise", type=float, help="fraction of training labels replaced at random")
    ap.add_argument("--params", type=float, help="ResNet parameter budget (the width is chosen for it)")
    ap.add_argument("--no-batchnorm", action="store_true", help="the ResNet without its BatchNorm layers")
    ap.add_argument("--batch-size", type=int, help="SGD batch (default: the preset's; none = full batch)")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--pretrain-steps", type=int)
    ap.add_argument("--steps", type=int, help="steps after pruning")
    ap.add_argument("--segment", type=int, help="sparse steps between downloads (K)")
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--epsilon", type=float, default=0.1, help="tomography precision of a download")
    ap.add_argument("--spectrum-every", type=int, help="a spectrum every so many steps (0: only at uploads)")
    ap.add_argument("--spectrum-samples", type=int, help="samples the Hessian is taken over")
    ap.add_argument("--lanczos-steps", type=int)
    ap.add_argument("--vectors", type=int)
    ap.add_argument("--reorth", default="auto", choices=["auto", "full", "partial", "none"])
    ap.add_argument("--memory-limit", type=_bytes, help="memory the Lanczos plan may use (e.g. 2G; "
                    "default: the device's free memory); over it the run is refused with exit status 3")
    ap.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--eval-samples", type=int, default=2048)
    ap.add_argument("--eval-every", type=int, default=1, help="held-out accuracy every so many steps")
    ap.add_argument("--checkpoint-every", type=int, default=20)
    ap.add_argument("--progress-every", type=int, default=10)
    ap.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when present)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    return ap


