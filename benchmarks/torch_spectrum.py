"""Cost of qdsl.torch's Hessian machinery on a pruned model with over a million parameters (CPU).

    python benchmarks/torch_spectrum.py                  # MLP 64→1024→1024→10 (1 126 410 weights)
    python benchmarks/torch_spectrum.py --no-compile     # skip the torch.compile measurement
    python benchmarks/torch_spectrum.py --support all    # the Hessian over every weight (the paper's)
    python benchmarks/torch_spectrum.py --model resnet --batch 64 --threads 1
        # the paper's size: a 7M CIFAR-shaped ResNet (synthetic 3×32×32, 100 classes): HVP/gradient,
        # seconds per HVP (one batch; a loader of two, graph cache kept or not), and the peak memory
        # of full vs partial (basis on disk) vs no reorthogonalization, --measure-steps steps each,
        # with the memory each variant's plan states for 256 steps

Prints, for a tanh MLP on generated data (a batch of 512 samples, float32), pruned to 10 % of
its hidden-layer weights by global magnitude:
  - seconds per gradient, per Hessian-vector product (HVP) as `hessian_spectrum` computes it
    (reverse over reverse, the gradient's graph kept while θ is fixed), per HVP from scratch
    (double backward) and per HVP by torch.func (jvp of grad), eager and under torch.compile
    (whether Dynamo captures it in one graph is printed too); the HVP/gradient ratios (target ≤ 4);
  - seconds and HVP counts of `hessian_spectrum`: the top/bottom eigenvalues (ARPACK) and the
    SLQ density with the paper's 256 Lanczos steps (target: both under 5 minutes);
  - the process's peak resident memory.
No accelerator is used: these are CPU numbers of the machine it runs on (on a shared 2-core
machine, expect them to vary with the load of other processes).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import torch


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeat: int) -> float:
    fn()  # warm-up (allocations, lazy initialization)
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--support", choices=["surviving", "all"], default="surviving")
    ap.add_argument("--k", type=int, default=5, help="eigenvalues at each end")
    ap.add_argument("--lanczos-steps", type=int, default=256)
    ap.add_argument("--vectors", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--model", choices=["mlp", "resnet"], default="mlp",
                    help="resnet: a CIFAR-shaped ResNet (3×32×32, 100 classes) of --params parameters")
    ap.add_argument("--params", type=float, default=7e6, help="resnet: the parameter budget")
    ap.add_argument("--measure-steps", type=int, default=16,
                    help="resnet: Lanczos steps actually run per variant (the memory of 256 is stated and "
                         "extrapolated: full grows by n numbers a step, partial/disk does not)")
    ap.add_argument("--variants", default="full/memory,partial/disk,none/auto",
                    help="resnet: the Lanczos variants measured (reorth/basis, comma-separated)")
    ap.add_argument("--skip-timing", action="store_true", help="resnet: only the Lanczos memory")
    ap.add_argument("--lanczos-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.model == "resnet" or args.lanczos_child:
        return resnet_main(args)

    import qdsl.torch as qt
    from torch.func import grad, jvp

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    w = args.width
    model = torch.nn.Sequential(torch.nn.Linear(64, w), torch.nn.Tanh(), torch.nn.Linear(w, w), torch.nn.Tanh(),
                                torch.nn.Linear(w, 10))
    x = torch.randn(args.batch, 64)
    y = torch.randint(0, 10, (args.batch,))
    loss_fn = torch.nn.CrossEntropyLoss()
    n_params = sum(p.numel() for p in model.parameters())
    base = peak_mib()
    print(f"device: cpu ({torch.get_num_threads()} torch threads, {os.cpu_count()} cores); torch {torch.__version__}")
    print(f"model: tanh MLP 64→{w}→{w}→10, {n_params} parameters, batch {args.batch}, float32")

    t0 = time.perf_counter()
    sup = qt.magnitude_prune(model, args.sparsity)
    with torch.no_grad():  # make the model the pruned one
        for name, m in sup.masks().items():
            dict(model.named_parameters())[name].mul_(m)
    if args.support == "all":
        sup = qt.magnitude_prune(model, 0.0)
    print(f"pruning: {time.perf_counter() - t0:.2f} s; support '{args.support}': n = {sup.n} variables")

    obj = qt.Objective(model, loss_fn, (x, y), sup)
    theta = obj.theta0
    v = torch.randn(sup.n)
    pt = obj.at(cache=True)
    pt.hvp(v)  # builds the cached gradient graph

    def gradient():
        obj.at(cache=False).gradient()

    def hvp_fresh():
        obj.at(cache=False).hvp(v)

    def f(t):
        return obj.batch_loss(t, x, y, 0)

    def hvp_func():
        return jvp(grad(f), (theta,), (v,))[1]

    tg = timed(gradient, args.repeat)
    tc = timed(lambda: pt.hvp(v), args.repeat)
    tf = timed(hvp_fresh, args.repeat)
    tj = timed(hvp_func, args.repeat)
    rows = [("gradient", tg), ("HVP, cached gradient graph (hessian_spectrum's)", tc),
            ("HVP, double backward from scratch", tf), ("HVP, torch.func jvp(grad)", tj)]
    if not args.no_compile:
        from torch import _dynamo
        try:  # does Dynamo capture the whole HVP in one graph?
            torch.compile(hvp_func, fullgraph=True)()
            print("torch.compile(fullgraph=True): the HVP compiles to one graph")
        except Exception as exc:  # report, do not hide
            first = next((ln for ln in str(exc).splitlines() if ln.strip()), "")
            print(f"torch.compile(fullgraph=True) fails: {type(exc).__name__}: {first[:160]}")
        _dynamo.reset()
        try:
            compiled = torch.compile(hvp_func)
            t1 = time.perf_counter()
            compiled()
            t_compile = time.perf_counter() - t1
            rows.append((f"HVP, torch.compile(jvp(grad)) [first call {t_compile:.1f} s]", timed(compiled, args.repeat)))
        except Exception as exc:  # the backend may be missing a compiler
            print(f"torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    print(f"\n{'':52} {'seconds':>9} {'× gradient':>11}")
    for name, t in rows:
        print(f"{name:52} {t:>9.4f} {t / tg:>11.2f}")

    t0 = time.perf_counter()
    spec = qt.hessian_spectrum(model, loss_fn, (x, y), k=args.k, support=sup, lanczos_steps=args.lanczos_steps,
                               vectors=args.vectors)
    total = time.perf_counter() - t0
    m = spec.meta
    print(f"\nhessian_spectrum (n = {spec.n}, float32, ARPACK tol {m['tol']:g}):")
    print(f"  {2 * args.k} extreme eigenvalues: {m['seconds_extremes']:.1f} s, {m['hvps_extremes']} HVPs; "
          f"λ_min = {spec.smallest:.4g}, λ_max = {spec.largest:.4g}")
    print(f"  SLQ density: {m['seconds_density']:.1f} s, {m['vectors']} vectors × {m['lanczos_steps']} Lanczos steps "
          f"(full reorthogonalization), {m['hvps'] - m['hvps_extremes']} HVPs")
    print(f"  total {total:.1f} s; dissipative (λ > 0) fraction {spec.dissipative_fraction():.3f}")
    print(f"\npeak resident memory: {peak_mib():.0f} MiB (after building the model and data: {base:.0f} MiB)")
    return 0


def _resnet_setup(args):
    import qdsl.torch as qt
    from qdsl.torch.models import cifar_resnet, count_parameters

    torch.set_num_threads(args.threads or 1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = cifar_resnet(args.params, classes=100, device=device).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 100, (args.batch,), generator=g).to(device)
    sup = qt.magnitude_prune(model, 0.0)
    return qt, model, (x, y), sup, count_parameters(model), device


def _peak_bytes(device) -> float:
    if device == "cuda":
        return float(torch.cuda.max_memory_allocated())
    return peak_mib() * 2 ** 20


def lanczos_child(args) -> int:
    """One Lanczos run in a fresh process: its peak memory beyond the model, data and HVP graph."""
    import json

    from qdsl.torch.spectrum import lanczos, lanczos_plan
    qt, model, batch, sup, n_params, device = _resnet_setup(args)
    obj = qt.Objective(model, torch.nn.CrossEntropyLoss(), batch, sup)
    pt = obj.at()
    v = (torch.randint(0, 2, (sup.n,), generator=torch.Generator().manual_seed(2)).float() * 2 - 1).to(device)
    pt.hvp(v)   # the graph, built once
    pt.hvp(v)
    base = _peak_bytes(device)
    reorth, basis = args.lanczos_child.split("/")
    plan = lanczos_plan(sup.n, args.measure_steps, obj.dtype, device, reorth=reorth, basis=basis)
    plan256 = lanczos_plan(sup.n, 256, obj.dtype, device, reorth=reorth, basis=basis,
                           memory_limit=1 << 50)   # stated, not refused: for the extrapolation
    stats = {}
    t0 = time.perf_counter()
    lanczos(pt.hvp, v, args.measure_steps, plan=plan, stats=stats)
    dt = time.perf_counter() - t0
    print(json.dumps({"n": sup.n, "steps": args.measure_steps, "seconds": dt,
                      "base_mib": base / 2 ** 20, "peak_mib": _peak_bytes(device) / 2 ** 20,
                      "plan_mib": plan.memory_bytes / 2 ** 20, "plan256_mib": plan256.memory_bytes / 2 ** 20,
                      "plan256": plan256.describe(), "reorthogonalizations": stats.get("reorthogonalizations")}))
    return 0


def resnet_main(args) -> int:
    """The paper-sized model: HVP/gradient, seconds per HVP (one batch, and a loader of two with the
    graph cache kept), and the peak memory of lean vs full Lanczos, each in its own process."""
    if args.lanczos_child:
        return lanczos_child(args)
    import json
    import subprocess

    qt, model, (x, y), sup, n_params, device = _resnet_setup(args)
    loss_fn = torch.nn.CrossEntropyLoss()
    print(f"device: {device} ({torch.get_num_threads()} torch threads, {os.cpu_count()} cores); torch {torch.__version__}")
    print(f"model: CIFAR-shaped ResNet-18 layout, width {model.width}, {n_params:,} parameters, 100 classes, "
          f"batch {args.batch} of 3×32×32 (generated), float32, BatchNorm in train mode")
    obj = qt.Objective(model, loss_fn, (x, y), sup)
    v = torch.randn(sup.n, generator=torch.Generator().manual_seed(3)).to(device)
    half = args.batch // 2
    loader = [(x[:half], y[:half]), (x[half:], y[half:])]
    obj2 = qt.Objective(model, loss_fn, loader, sup)
    pt, pt2 = obj.at(), obj2.at()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def run(f):
        def g():
            f()
            sync()
        return g
    if args.skip_timing:
        tg = tc = tf = tl = tn = float("nan")
    else:
        tg = timed(run(lambda: obj.at(cache=False).gradient()), args.repeat)
        tc = timed(run(lambda: pt.hvp(v)), args.repeat)
        tf = timed(run(lambda: obj.at(cache=False).hvp(v)), args.repeat)
        tl = timed(run(lambda: pt2.hvp(v)), args.repeat)
        tn = timed(run(lambda: obj2.at(cache=False).hvp(v)), args.repeat)
    print(f"\n{'':58} {'seconds':>9} {'× gradient':>11}")
    for name, t in [("gradient", tg), ("HVP, cached gradient graph (hessian_spectrum's)", tc),
                    ("HVP, double backward from scratch", tf),
                    ("HVP, loader of 2 batches, graph cache kept (default)", tl),
                    ("HVP, loader of 2 batches, cache=False (rebuilt each time)", tn)]:
        print(f"{name:58} {t:>9.3f} {t / tg:>11.2f}")
    del pt, pt2, obj, obj2
    print(f"\nLanczos, {args.measure_steps} steps per variant, each in its own process "
          f"(peak {'GPU' if device == 'cuda' else 'resident'} memory beyond the model, data and HVP graph):")
    rows = {}
    for variant in args.variants.split(","):
        cmd = [sys.executable, __file__, "--lanczos-child", variant, "--params", str(args.params),
               "--batch", str(args.batch), "--measure-steps", str(args.measure_steps)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            print(f"  {variant}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows[variant] = r
        extra = r["peak_mib"] - r["base_mib"]
        print(f"  {variant:13} {r['seconds'] / r['steps']:.2f} s/step, peak +{extra:.0f} MiB measured at "
              f"{r['steps']} steps (plan {r['plan_mib']:.0f} MiB); at 256 steps the plan states "
              f"{r['plan256_mib']:.0f} MiB"
              + (f"; {r['reorthogonalizations']} reorthogonalizations" if r["reorthogonalizations"] is not None else ""))
    if rows:
        r = next(iter(rows.values()))
        print(f"  n = {r['n']:,}; 256 steps at {tc:.2f} s per HVP ≈ {256 * tc / 60:.0f} min per SLQ vector on this device")
    return 0


if __name__ == "__main__":
    sys.exit(main())
