r"""The reference paper's experiment (arXiv:2303.03428, Fig. 2) as a command, checkpointed and resumable.

    python -m qdsl.torch.experiment --out runs/paper                  # 7M ResNet, generated CIFAR-shaped data
    python -m qdsl.torch.experiment --out runs/small --preset laptop  # minutes on one core (docs/torch.md)
    python -m qdsl.torch.experiment --out runs/paper --resume         # continue from the last checkpoint
    python -m qdsl.torch.experiment --plot runs/small                 # redraw the figure from saved results

A CIFAR-shaped ResNet (`qdsl.torch.models.cifar_resnet`, `--params`, 7M by default) on data that
is generated (`--data synthetic`: class prototypes plus noise, 3×32×32), ships with scikit-learn
(`--data digits`: 8×8 digits) or is the user's own (`--data PATH`: a `.npz` with `x`, `y` — or
`x_train`, `y_train` — arrays, or the directory of CIFAR-100's python version); nothing is
downloaded. Dense pre-training, global magnitude pruning to keep 1 − `--sparsity` of the conv/linear
weights (the classifier dense), then sparse SGD (`--batch-size`, plain SGD at `--lr`) in segments
of `--segment` steps, each ended by a download (tomography noise at `--epsilon`, the model of
`hybrid_train`) and a re-upload. At every upload the Hessian spectrum on the surviving weights
(SLQ, lean Lanczos where the basis would not fit) gives the segment's error proxy (Eq. 7); every
`--spectrum-every` steps a spectrum gives the edge-of-stability diagnostic η·λ_max against 2.

Everything lands in `--out`: `checkpoint.pt` (every `--checkpoint-every` steps and at the end:
model, optimizer, random generators, history — `--resume` continues from it bit for bit),
`results.json` and `results.npz` (loadable with `load_results`), `figure.png`, and
`proxy_regimes.png` — each upload's measured spectrum with its proxy at η·λ_max = 1.9, 2.002,
2.02 and 2.2 (the edge-of-stability mechanism; `meta["regimes"]`: r → (min, argmin, last value)).
Exit status: 0 done, 2 bad arguments, 3 a request refused as too large (the Lanczos memory plan).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..torch_options import DESCRIPTION, PRESETS, add_experiment_arguments  # noqa: E402 — torch-free (qdsl --help)


# ----------------------------------------------------------------------------- data

def load_data(spec: str, *, samples: int | None, seed: int, classes: int = 100):
    """(x_train, y_train, x_test, y_test, classes, description) as float32/int64 tensors."""
    import torch

    if spec == "synthetic":
        n = int(samples or 4096)
        g = torch.Generator().manual_seed(seed + 100)
        # class prototypes: smooth random patterns (8×8 upsampled), samples = prototype + noise
        proto = torch.nn.functional.interpolate(torch.randn(classes, 3, 8, 8, generator=g), size=(32, 32),
                                                mode="bilinear", align_corners=False)
        total = n + max(256, n // 8)
        y = torch.randint(0, classes, (total,), generator=g)
        x = proto[y] + 1.5 * torch.randn(total, 3, 32, 32, generator=g)
        return (x[:n], y[:n], x[n:], y[n:], classes,
                f"generated CIFAR-shaped data: {n} training samples (3×32×32, {classes} classes, prototype + noise)")
    if spec == "digits":
        from sklearn.datasets import load_digits
        d = load_digits()
        x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)
        y = torch.tensor(d.target, dtype=torch.int64)
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        x, y = x[perm], y[perm]
        n = int(samples or 1437)
        return x[:n], y[:n], x[n:], y[n:], 10, f"scikit-learn digits: {n} training samples (1×8×8, 10 classes)"
    return _load_path(spec, samples)


def _load_path(path: str, samples: int | None):
    import pickle

    import torch

    if os.path.isdir(path) and os.path.exists(os.path.join(path, "train")):   # CIFAR-100, python version
        def read(name):
            with open(os.path.join(path, name), "rb") as f:
                d = pickle.load(f, encoding="bytes")
            x = torch.tensor(np.asarray(d[b"data"], np.float32).reshape(-1, 3, 32, 32) / 255.0)
            key = b"fine_labels" if b"fine_labels" in d else b"labels"
            return x, torch.tensor(np.asarray(d[key], np.int64))
        xtr, ytr = read("train")
        xte, yte = read("test") if os.path.exists(os.path.join(path, "test")) else (xtr[:0], ytr[:0])
    elif os.path.isfile(path) and path.endswith(".npz"):
        with np.load(path) as d:
            keys = set(d.files)
            tr = ("x_train", "y_train") if {"x_train", "y_train"} <= keys else ("x", "y")
            if not set(tr) <= keys:
                raise ValueError(f"{path}: needs arrays x, y (or x_train, y_train); it has {sorted(keys)}")
            xtr = torch.tensor(np.asarray(d[tr[0]], np.float32))
            ytr = torch.tensor(np.asarray(d[tr[1]]).astype(np.int64))
            if {"x_test", "y_test"} <= keys:
                xte = torch.tensor(np.asarray(d["x_test"], np.float32))
                yte = torch.tensor(np.asarray(d["y_test"]).astype(np.int64))
            else:
                xte, yte = xtr[:0], ytr[:0]
        if xtr.dim() != 4:
            raise ValueError(f"{path}: x must be images (N, C, H, W), not of shape {tuple(xtr.shape)}")
    else:
        raise ValueError(f"--data must be synthetic, digits, a .npz file or a CIFAR-100 python directory, "
                         f"not {path!r}")
    n = int(samples) if samples else len(ytr)
    classes = int(max(int(ytr.max()), int(yte.max()) if len(yte) else 0)) + 1
    return xtr[:n], ytr[:n], xte, yte, classes, f"{path}: {n} training samples {tuple(xtr.shape[1:])}, {classes} classes"


# ----------------------------------------------------------------------------- results

@dataclass
class ExperimentResults:
    """What a run recorded (`results.json` + `results.npz`; `load_results(directory)` reads them back).

    `step`, `loss`, `accuracy`, `test_accuracy` (NaN where not measured), `phase` per state θ_t;
    `spectra`: step → dict(eigenvalues, nodes, weights, grid, density, lambda_max, lambda_min);
    `proxies`: upload step → proxy values for t = 0..K; `windows`: global step ranges where a
    segment's proxy stays ≤ 1; `downloads`: one dict per download; `eos`: (step, η·λ_max);
    `meta`: the settings and the run's description."""

    meta: dict
    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    phase: list = field(default_factory=list)
    spectra: dict = field(default_factory=dict)
    proxies: dict = field(default_factory=dict)
    windows: list = field(default_factory=list)
    downloads: list = field(default_factory=list)
    uploads: list = field(default_factory=list)
    eos: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def save(self, directory: str) -> None:
        """results.json (everything but the arrays of the spectra) and results.npz (those arrays)."""
        arrays = {}
        spectra = {}
        for t, s in self.spectra.items():
            spectra[str(t)] = {k: v for k, v in s.items() if not isinstance(v, np.ndarray)}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    arrays[f"spectrum_{t}_{k}"] = v
        for t, p in self.proxies.items():
            arrays[f"proxy_{t}"] = np.asarray(p, float)
        d = {"meta": self.meta, "step": self.step, "loss": self.loss, "accuracy": _nan_none(self.accuracy),
             "test_accuracy": _nan_none(self.test_accuracy), "phase": self.phase, "spectra": spectra,
             "proxy_steps": sorted(int(t) for t in self.proxies), "windows": self.windows,
             "downloads": self.downloads, "uploads": self.uploads, "eos": self.eos, "notes": self.notes}
        _atomic(os.path.join(directory, "results.json"), lambda f: f.write(json.dumps(d, indent=1).encode()))
        _atomic(os.path.join(directory, "results.npz"), lambda f: np.savez_compressed(f, **arrays))

    def plot(self, path: str | None = None):
        """Fig. 2 of the paper, with the edge-of-stability diagnostic: (a) spectral densities on the
        surviving weights with 2/η and the cut ±0.4/η marked, (b) the error proxy per segment (values
        outside the drawn range shown as clipped markers at the edge, not as a line), (c) η·λ_max
        against 2, (d) accuracy with the downloads marked."""
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        lr = float(self.meta["lr"])
        cut = float(self.meta.get("proxy_cut", 0.4))
        fig, axes = plt.subplots(4, 1, figsize=(7.5, 12.5), constrained_layout=True)
        ax = axes[0]
        cmap = plt.get_cmap("viridis")
        ts = sorted(int(t) for t in self.spectra)
        for j, t in enumerate(ts):
            s = self.spectra[t] if t in self.spectra else self.spectra[str(t)]
            grid, dens = np.asarray(s["grid"]), np.asarray(s["density"])
            floor = float(dens.max()) * 1e-9
            ax.plot(grid, np.where(dens > floor, dens, np.nan), color=cmap(j / max(1, len(ts) - 1)), lw=1,
                    label=f"step {t}")
        ax.set_yscale("log")
        mark_lr(ax, lr, cut)
        ax.set_xlabel("Hessian eigenvalue λ")
        ax.set_ylabel("density")
        ax.set_title("(a) Hessian spectral density on the surviving weights")
        ax.legend(fontsize=7, ncol=3)
        proxy_panel(axes[1], {int(t): np.asarray(p) for t, p in self.proxies.items()}, self.windows)
        ax = axes[2]
        if self.eos:
            e = np.asarray(self.eos, float)
            ax.plot(e[:, 0], e[:, 1], "o-", color="C3", ms=3, lw=1, label="η·λ_max")
        ax.axhline(2.0, color="k", lw=0.8, ls="--", label="2 (edge of stability)")
        ax.set_ylabel("η·λ_max")
        ax.set_title("(c) edge of stability: η·λ_max against 2")
        ax.legend(fontsize=8)
        ax = axes[3]
        st = np.asarray(self.step)
        acc = np.asarray(self.accuracy, float)
        ax.plot(st, acc, color="C1", lw=1.2, label="training accuracy")
        te = np.asarray(self.test_accuracy, float)
        if np.isfinite(te).any():
            ok = np.isfinite(te)
            ax.plot(st[ok], te[ok], color="C2", lw=1, label="held-out accuracy")
        for d in self.downloads:
            ax.axvline(d["step"], color="C3", lw=0.8, ls=":")
        pre = int(self.meta.get("pretrain_steps", 0))
        if pre:
            ax.axvspan(0, pre, color="0.85", lw=0, label="dense pre-training")
        ax.set_xlabel("step")
        ax.set_ylabel("accuracy")
        ax.set_title("(d) accuracy (dotted: downloads)")
        ax.legend(fontsize=8)
        for a in axes[1:3]:
            a.set_xlim(axes[3].get_xlim())
        import textwrap
        fig.suptitle("\n".join(textwrap.wrap(self.meta.get("title", ""), 100)), fontsize=8)
        if path is not None:
            fig.savefig(path, dpi=130)
        return fig


RATIOS = (1.9, 2.002, 2.02, 2.2)


def proxy_regimes(nodes, weights, lam_max: float, steps: int, ratios=RATIOS, cut: float = 0.4) -> dict:
    """The error proxy of one measured spectrum at the learning rates η = r/λ_max for each r in
    `ratios` (η·λ_max = r): below 2 every kept mode decays and the proxy falls; just above 2 the
    top modes grow by |1 − η·λ| = η·λ − 1 slightly over 1 per step while the rest decay — the
    proxy dips, then rises; far above 2 it explodes from the first step. Returns r → values."""
    from .proxy import error_proxy
    q = _Quadrature({"nodes": np.asarray(nodes), "weights": np.asarray(weights)})
    out = {}
    for r in ratios:
        try:
            out[r] = error_proxy(q, r / lam_max, steps, cut=cut).values
        except ValueError:
            continue
    return out


def regimes_figure(res: "ExperimentResults", path: str, steps: int = 200) -> dict:
    """proxy_regimes of every upload's spectrum, drawn on one log axis; returns what it drew."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    drawn = {}
    styles = dict(zip(RATIOS, ("-", "--", "-.", ":")))
    for j, t in enumerate(res.uploads):
        s = res.spectra.get(t) or res.spectra.get(str(t))
        if s is None:
            continue
        reg = proxy_regimes(s["nodes"], s["weights"], s["lambda_max"], steps)
        drawn[t] = {r: [float(v) for v in vals] for r, vals in reg.items()}
        for r, vals in reg.items():
            ax.plot(np.arange(vals.size), np.clip(vals, 1e-6, 1e6), styles[r], color=f"C{j}", lw=1,
                    label=f"upload {t}, η·λ_max = {r:g}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1e3)
    ax.set_xlabel("steps after the upload")
    ax.set_ylabel("error proxy (Eq. 7)")
    ax.set_title("the proxy's shape is set by η·λ_max: the run's spectra at η = r/λ_max", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return drawn


def mark_lr(ax, lr: float, cut: float = 0.4) -> None:
    """Vertical lines at λ = 2/η (above it a mode grows under GD) and at λ = ±cut/η (the proxy's
    cut |a| = η|λ| > cut) on a spectrum panel."""
    ax.axvline(2.0 / lr, color="C3", lw=0.9, ls="--", label=f"2/η = {2 / lr:.3g}")
    ax.axvline(cut / lr, color="0.4", lw=0.8, ls=":", label=f"±{cut:g}/η = ±{cut / lr:.3g} (cut)")
    ax.axvline(-cut / lr, color="0.4", lw=0.8, ls=":")


def proxy_panel(ax, proxies: dict, windows, lo: float = 1e-4, hi: float = 1e4, title: str | None = None) -> None:
    """The error proxy of each segment on a log axis drawn within [lo, hi]. Where it leaves the
    range the line stops, and one marker on the edge (▼ below lo, ▲ above hi) says from which step
    it stays out — clipped values are never drawn as a flat line. Shaded: proxy ≤ 1."""
    for t0, p in sorted(proxies.items()):
        p = np.asarray(p, float)
        t = t0 + np.arange(p.size)
        inside = (p >= lo) & (p <= hi)
        ax.plot(t, np.where(inside, p, np.nan), color="C0", lw=1.2)
        for mask, edge, mark, color in ((p < lo, lo, "v", "C0"), (p > hi, hi, "^", "C3")):
            starts = np.flatnonzero(mask & ~np.concatenate([[False], mask[:-1]]))
            for i in starts:
                ax.plot([t[i]], [edge], mark, color=color, ms=6)
                ax.annotate(f"{t[i]}", (t[i], edge), fontsize=6,
                            xytext=(3, 4 if edge == lo else -9), textcoords="offset points", color=color)
    for a, b in windows:
        ax.axvspan(a, b, color="C2", alpha=0.15, lw=0)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_ylim(lo / 3, hi * 3)
    ax.set_ylabel("error proxy (Eq. 7)")
    ax.set_title(title or f"(b) error proxy per segment (shaded: ≤ 1; ▼/▲ n: beyond [{lo:g}, {hi:g}] from step n)")


def load_results(directory: str) -> ExperimentResults:
    """The results a run saved in `directory` (results.json + results.npz)."""
    with open(os.path.join(directory, "results.json")) as f:
        d = json.load(f)
    with np.load(os.path.join(directory, "results.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    spectra = {}
    for t, s in d["spectra"].items():
        s = dict(s)
        for k in ("eigenvalues", "nodes", "weights", "grid", "density"):
            key = f"spectrum_{t}_{k}"
            if key in arrays:
                s[k] = arrays[key]
        spectra[int(t)] = s
    proxies = {int(t): arrays[f"proxy_{t}"] for t in d["proxy_steps"]}
    return ExperimentResults(d["meta"], d["step"], d["loss"], _none_nan(d["accuracy"]), _none_nan(d["test_accuracy"]),
                             d["phase"], spectra, proxies, [tuple(w) for w in d["windows"]], d["downloads"],
                             d["uploads"], [tuple(e) for e in d["eos"]], d.get("notes", []))


def _nan_none(xs):
    return [None if (x is None or (isinstance(x, float) and math.isnan(x))) else x for x in xs]


def _none_nan(xs):
    return [math.nan if x is None else x for x in xs]


def _atomic(path: str, write) -> None:
    """Write through a temporary file and rename: a run killed mid-write keeps the previous file."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- the run

def run(args) -> ExperimentResults:
    import torch

    from .hybrid import classification_accuracy
    from .models import cifar_resnet, count_parameters
    from .objective import magnitude_prune
    from .proxy import error_proxy, windows_below_one
    from .spectrum import hessian_spectrum, lanczos_plan

    torch.set_num_threads(max(1, int(args.threads)))
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    xtr, ytr, xte, yte, classes, described = load_data(args.data, samples=args.samples, seed=args.seed,
                                                       classes=args.classes)
    if args.label_noise:   # a fraction of the training labels replaced at random (seeded): a task
        g = torch.Generator().manual_seed(args.seed + 3)   # whose loss cannot reach 0 quickly
        flip = torch.rand(len(ytr), generator=g) < args.label_noise
        ytr = torch.where(flip, torch.randint(0, classes, (len(ytr),), generator=g), ytr)
        described += f", {100 * args.label_noise:g} % of the training labels random"
    model = cifar_resnet(args.params, classes=classes, in_channels=int(xtr.shape[1]), seed=args.seed,
                         device=device, batchnorm=not args.no_batchnorm)
    xtr, ytr = xtr.to(device), ytr.to(device)
    xte, yte = xte[:args.eval_samples].to(device), yte[:args.eval_samples].to(device)
    N = int(xtr.shape[0])
    bs = N if args.batch_size is None else min(int(args.batch_size), N)
    ns = N if args.spectrum_samples is None else min(int(args.spectrum_samples), N)
    spec_data = (xtr[:ns], ytr[:ns])
    ev = (xtr[:args.eval_samples], ytr[:args.eval_samples])
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    batch_gen = torch.Generator().manual_seed(args.seed + 1)
    noise_gen = torch.Generator().manual_seed(args.seed + 2)
    params = dict(model.named_parameters())
    n_params = count_parameters(model)
    total = args.pretrain_steps + args.steps
    kept = max(1, round((1 - args.sparsity) * n_params))
    # the Lanczos memory, stated and checked before anything is trained
    plan = lanczos_plan(n_params if args.sparsity == 0 else kept, min(args.lanczos_steps, kept),
                        next(model.parameters()).dtype, device, reorth=args.reorth,
                        memory_limit=args.memory_limit)
    meta = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, type(None)))}
    meta.update(parameters=n_params, width=model.width, batchnorm=not args.no_batchnorm, classes=classes, data_description=described,
                batch_size=bs, spectrum_samples=ns, device=str(device), lanczos_plan=plan.describe(),
                proxy_cut=0.4, title=(f"ResNet width {model.width} ({n_params:,} parameters), {described}; "
                                      f"SGD lr {args.lr:g}, batch {bs}, {100 * args.sparsity:g} % pruned, "
                                      f"ε = {args.epsilon:g}"))
    res = ExperimentResults(meta)
    state = {"t": 0, "support": None}
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        batch_gen.set_state(ck["batch_gen"])
        noise_gen.set_state(ck["noise_gen"])
        res = ck["results"]
        state = ck["state"]
        _say(args, f"resumed at step {state['t']} from {ckpt_path}")
    elif os.path.exists(ckpt_path) and not args.force:
        raise FileExistsError(f"{ckpt_path} exists: pass --resume to continue that run or --force to start over")
    _say(args, f"{meta['title']}\n{plan.describe()}")

    def measure(t, phase):
        was = model.training
        model.eval()
        with torch.no_grad():
            out = model(ev[0])
            loss = float(loss_fn(out, ev[1]))
            acc = classification_accuracy(out, ev[1])
            tacc = classification_accuracy(model(xte), yte) if len(yte) and (t % args.eval_every == 0) else math.nan
        model.train(was)
        if res.step and res.step[-1] == t:   # a re-measurement of θ_t (after pruning or a download)
            res.loss[-1], res.accuracy[-1], res.test_accuracy[-1] = loss, acc, tacc
        else:
            res.step.append(t), res.loss.append(loss), res.accuracy.append(acc), res.test_accuracy.append(tacc)
            res.phase.append(phase)

    def masks_of(sup):
        return {nm: m.to(params[nm].dtype) for (nm, m), idx in zip(sup.masks(device).items(), sup.index)
                if idx is not None}

    def spectrum(t, sup):
        if t in res.spectra:
            return res.spectra[t]
        t0 = time.perf_counter()
        s = hessian_spectrum(model, loss_fn, spec_data, support=sup, k=2, lanczos_steps=args.lanczos_steps,
                             vectors=args.vectors, extremes="lanczos", reorth=args.reorth, seed=args.seed,
                             memory_limit=args.memory_limit)
        grid, dens = s.density
        res.spectra[t] = {"eigenvalues": np.asarray(s.eigenvalues), "nodes": s.nodes, "weights": s.weights,
                          "grid": grid, "density": dens, "lambda_max": s.largest, "lambda_min": s.smallest,
                          "seconds": time.perf_counter() - t0, "n": s.n, "reorth": s.meta.get("reorth"),
                          "dissipative_fraction": s.dissipative_fraction(args.lr)}
        res.eos.append((t, args.lr * s.largest))
        res.eos.sort()
        _say(args, f"step {t}: spectrum in {time.perf_counter() - t0:.1f} s: λ ∈ [{s.smallest:.4g}, {s.largest:.4g}], "
                   f"η·λ_max = {args.lr * s.largest:.3f}")
        return s

    def checkpoint():
        res.save(args.out)
        ck = {"model": model.state_dict(), "optimizer": opt.state_dict(), "batch_gen": batch_gen.get_state(),
              "noise_gen": noise_gen.get_state(), "results": res, "state": state}
        _atomic(ckpt_path, lambda f: torch.save(ck, f))

    if not res.step:
        measure(0, "dense")
    sup = state["support"]   # None before pruning; after it, the support saved with the checkpoint
    masks = masks_of(sup) if sup is not None else None
    t0_wall = time.perf_counter()
    while state["t"] < total:
        t = state["t"]
        if t == args.pretrain_steps and sup is None:
            sup = magnitude_prune(model, args.sparsity)
            state["support"] = sup
            masks = masks_of(sup)
            with torch.no_grad():
                for nm, m in masks.items():
                    params[nm].mul_(m)
            res.meta["accuracy_before_pruning"] = res.accuracy[-1]
            measure(t, "sparse")
            res.meta["surviving"] = sup.n
        seg = t - args.pretrain_steps
        if sup is not None and seg >= 0 and seg % args.segment == 0 and t not in res.uploads:
            if seg > 0 and not any(d["step"] == t for d in res.downloads):
                download(t, sup, params, noise_gen, args, res, measure)
            res.uploads.append(t)
            s = spectrum(t, sup)
            K = min(args.segment, total - t)
            try:
                p = error_proxy(_Quadrature(s), args.lr, K)
                res.proxies[t] = p.values
                res.windows.extend((t + a, t + b) for a, b in windows_below_one(p.values))
            except ValueError as exc:
                res.notes.append(f"step {t}: {exc}")
        if args.spectrum_every and t % args.spectrum_every == 0 and t not in res.spectra and sup is not None:
            spectrum(t, sup)
        # one SGD step
        idx = torch.randperm(N, generator=batch_gen)[:bs].to(device) if bs < N else None
        xb, yb = (xtr, ytr) if idx is None else (xtr[idx], ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        if masks is not None:
            for nm, m in masks.items():
                if params[nm].grad is not None:
                    params[nm].grad.mul_(m)
        opt.step()
        state["t"] = t + 1
        measure(t + 1, "sparse" if sup is not None else "dense")
        if (t + 1) % args.progress_every == 0 or t + 1 == total:
            _say(args, f"step {t + 1}/{total}: loss {res.loss[-1]:.4f}, accuracy {res.accuracy[-1]:.3f} "
                       f"({time.perf_counter() - t0_wall:.0f} s)")
        if (t + 1) % args.checkpoint_every == 0 or (args.stop_after and t + 1 == args.stop_after):
            checkpoint()
        if args.stop_after and t + 1 == args.stop_after:   # an interruption, for testing --resume
            return res
    if sup is not None and (total - args.pretrain_steps) % args.segment == 0 and \
            not any(d["step"] == total for d in res.downloads) and total > args.pretrain_steps:
        download(total, sup, params, noise_gen, args, res, measure)
    checkpoint()
    res.plot(os.path.join(args.out, "figure.png"))
    res.meta["regimes"] = {str(t): {str(r): (float(np.min(v)), int(np.argmin(v)), float(v[-1])) for r, v in d.items()}
                           for t, d in regimes_figure(res, os.path.join(args.out, "proxy_regimes.png")).items()}
    res.save(args.out)
    return res


class _Quadrature:
    """The nodes and weights of a saved spectrum, as `error_proxy` reads them."""

    def __init__(self, s):
        self.nodes, self.weights = (s.nodes, s.weights) if hasattr(s, "nodes") else (s["nodes"], s["weights"])


def download(t, sup, params, noise_gen, args, res, measure) -> None:
    """Tomography of the k surviving weights at ℓ2 precision ε (the model of `hybrid_train`)."""
    import torch

    k = sup.n
    rec = {"step": t, "k": k, "epsilon": args.epsilon, "accuracy_before": res.accuracy[-1],
           "loss_before": res.loss[-1]}
    if args.epsilon > 0:
        with torch.no_grad():
            cur = {nm: p.detach() for nm, p in params.items()}
            theta = sup.gather(cur).to(torch.float64)
            xi = torch.randn(k, generator=noise_gen, dtype=torch.float64).to(theta.device)
            norm = float(torch.linalg.vector_norm(theta))
            noise = (args.epsilon * norm / math.sqrt(k)) * xi
            noisy = sup.scatter((theta + noise).to(next(iter(cur.values())).dtype), cur)
            for nm in sup.names:
                params[nm].copy_(noisy[nm])
        rec.update(relative_error=float(torch.linalg.vector_norm(noise)) / max(norm, 1e-300),
                   shots=int(math.ceil(k * max(1.0, math.log(k)) / args.epsilon ** 2)))
        measure(t, "sparse")
    rec.update(accuracy_after=res.accuracy[-1], loss_after=res.loss[-1])
    res.downloads.append(rec)


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    """The options of `python -m qdsl.torch.experiment` (the same as `qdsl torch-experiment`'s:
    `qdsl.torch_options.add_experiment_arguments`)."""
    ap = argparse.ArgumentParser(prog="python -m qdsl.torch.experiment", description=DESCRIPTION)
    add_experiment_arguments(ap)
    return ap


def main(argv=None) -> int:
    """`python -m qdsl.torch.experiment`: the exit status (0 done, 2 bad options or unreadable data,
    3 the Lanczos plan refused); problems are printed as qdsl diagnostics."""
    args = parser().parse_args(argv)
    from ..diagnostics import CompileError
    try:
        return execute(args)
    except CompileError as exc:
        for d in exc.diagnostics:
            print(d.render(), file=sys.stderr)
        return exc.exit_status


def execute(args) -> int:
    """Run (or, with `args.plot`, redraw) the experiment for parsed options (`parser()` or `qdsl
    torch-experiment`): the summary on stdout, 0. Bad options raise CompileError E0720, a missing
    PyTorch E0721, unreadable data or results and an existing run E0722 (exit 2); the Lanczos plan
    over the memory SizeLimitError E0710 (exit 3)."""
    from ..diagnostics import CompileError, Diagnostic

    def fail(code, message, help=None):
        raise CompileError(Diagnostic(code, message, file="torch-experiment", help=help))

    if args.plot:
        try:
            load_results(args.plot).plot(os.path.join(args.plot, "figure.png"))
        except (OSError, KeyError, ValueError) as exc:
            fail("E0722", f"cannot read the results in {args.plot}: {exc}",
                 help="--plot DIR redraws a finished or checkpointed run: DIR must hold results.json "
                      "and results.npz")
        return 0
    if not args.out:
        fail("E0720", "--out is required (or --plot DIR)", help="e.g. --out runs/laptop --preset laptop")
    for k, v in PRESETS[args.preset].items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    bad = [f"--{k.replace('_', '-')} must be positive" for k in ("lr", "segment", "lanczos_steps", "vectors")
           if not getattr(args, k) > 0]
    bad += [] if 0 <= args.sparsity < 1 else ["--sparsity must be in [0, 1)"]
    bad += [] if 0 <= args.epsilon < 1 else ["--epsilon must be in [0, 1)"]
    bad += [] if args.steps >= 0 and args.pretrain_steps >= 0 else ["--steps and --pretrain-steps must be ≥ 0"]
    for k in ("samples", "batch_size", "spectrum_samples", "eval_samples", "params", "classes",
              "checkpoint_every", "progress_every", "eval_every", "threads"):
        v = getattr(args, k, None)
        if v is not None and not v > 0:
            bad.append(f"--{k.replace('_', '-')} must be positive")
    if args.spectrum_every is not None and args.spectrum_every < 0:
        bad.append("--spectrum-every must be ≥ 0")
    if args.label_noise is not None and not 0 <= args.label_noise <= 1:
        bad.append("--label-noise must be in [0, 1]")
    if bad:
        fail("E0720", "; ".join(bad), help="`qdsl torch-experiment --help` lists the options and their ranges")
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("E0721", "the experiment needs PyTorch", help="pip install 'qdsl-compiler[torch]'")
    try:
        res = run(args)
    except FileExistsError as exc:
        fail("E0722", str(exc), help="--resume continues the run in --out; --force starts it over")
    except ValueError as exc:
        fail("E0722", str(exc), help="--data takes synthetic, digits, a .npz with x, y or a CIFAR-100 "
                                     "python directory")
    summary(res, sys.stdout)
    return 0


def summary(res: ExperimentResults, out) -> None:
    """What the run measured, as text."""
    m = res.meta
    print(m["title"], file=out)
    print(f"accuracy before pruning {m.get('accuracy_before_pruning', float('nan')):.3f}; "
          f"surviving weights {m.get('surviving')}", file=out)
    for d in res.downloads:
        print(f"download at step {d['step']}: accuracy {d['accuracy_before']:.3f} → {d['accuracy_after']:.3f}", file=out)
    for t, e in res.eos:
        print(f"step {t}: η·λ_max = {e:.3f}", file=out)
    for t, p in sorted(res.proxies.items()):
        p = np.asarray(p)
        i = int(np.argmin(p))
        print(f"segment from step {t}: proxy min {p[i]:.4g} at +{i}, end {p[-1]:.4g}", file=out)
    print(f"windows (proxy ≤ 1): {res.windows}", file=out)
    print(f"results: {m['out']}/results.json, results.npz, figure.png", file=out)


if __name__ == "__main__":
    sys.exit(main())
