"""Cost of qdsl.torch's Hessian machinery on a pruned model with over a million parameters (CPU).

    python benchmarks/torch_spectrum.py                  # MLP 64→1024→1024→10 (1 126 410 weights)
    python benchmarks/torch_spectrum.py --no-compile     # skip the torch.compile measurement
    python benchmarks/torch_spectrum.py --support all    # the Hessian over every weight (the paper's)

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
    args = ap.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
