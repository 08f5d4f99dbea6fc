r"""Sweeps: one qdsl stage over models × a grid of options, on any executor (docs/api.md, "Sweeps").

    import qdsl
    records = qdsl.sweep(["examples/quartic.qd"], {"params": [1e4, 1e6, 1e8], "steps": [10, 100]},
                         what="resources", jobs=2)

Every point is independent — the scale and scaling benchmarks, resource projections, crossover
surfaces — so a sweep is a map. It runs on any `concurrent.futures.Executor`: none (in this
process, one point after another), joblib's loky process pool (`jobs=N`, the default when N > 1:
workers that survive a crashed point and are reused between sweeps), a Dask cluster
(`Client.get_executor()`, or `executor="dask://ADDRESS"`, `"dask://local"` for a LocalCluster)
or anything with `multiprocessing.Pool`'s `apply_async` (`PoolExecutor`: a Ray
`ray.util.multiprocessing.Pool`, `"ray://ADDRESS"`). Each point gives one JSON record

    {"format": "qdsl.sweep/1", "model": PATH, "what": WHAT, "point": {…}, "ok": true,
     "result": {the stage's own document, with its own "format"}}                               or
    {"format": "qdsl.sweep/1", "model": PATH, "what": WHAT, "point": {…}, "ok": false,
     "error": {"code", "message", "exit_status"}}

in the order of the grid whatever the order of completion, so a sweep's records equal those of
running its points one by one (the tests check it on loky and on a Dask LocalCluster). A point that
fails (bad option, refused size) is a record, not an exception: the sweep goes on. Records hold only
JSON types (they are serialized and parsed once in the worker): the same document whichever
executor ran the point.
"""
from __future__ import annotations

import itertools
import json
import math
import os
from concurrent.futures import Executor, Future
from pathlib import Path

__all__ = ["sweep", "points", "evaluate", "executor_from", "PoolExecutor", "STAGES"]

#: the stages a sweep can run, and the options each takes from a point (the rest go to compile)
STAGES = {
    "check": (),
    "simulate": (),
    "compile": (),
    "resources": ("params", "steps", "eps", "access", "physical", "count"),
    "run": ("backend", "shots", "seed"),
}
#: compile options a point may set (`qdsl.compile`'s keywords)
COMPILE_OPTIONS = ("model", "order", "basis", "steps", "solver", "eps", "clock", "idle",
                   "gate_basis", "block_encoding")


def points(grid) -> list[dict]:
    """The points of a grid: a dict {name: [values]} is its Cartesian product (in the order of the
    names, the last varying fastest), a list of dicts is taken as it is, None is one empty point."""
    if grid is None:
        return [{}]
    if isinstance(grid, dict):
        names = list(grid)
        values = [list(v) if isinstance(v, (list, tuple, range)) else [v] for v in grid.values()]
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]
    return [dict(p) for p in grid]


def _plain(doc):
    """`doc` as plain JSON types: NumPy scalars and arrays converted, non-finite floats as strings
    ("inf", "nan": strict JSON has no tokens for them)."""
    def default(o):
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    def finite(o):
        if isinstance(o, float) and not math.isfinite(o):
            return str(o)
        if isinstance(o, dict):
            return {k: finite(v) for k, v in o.items()}
        if isinstance(o, list):
            return [finite(v) for v in o]
        return o

    return finite(json.loads(json.dumps(doc, default=default)))


def evaluate(model, point: dict, what: str = "resources") -> dict:
    """One point of a sweep, in whatever process runs it: compile `model` with the point's compile
    options, run the stage `what` with the rest, and return its JSON record (module docstring).
    User errors and refusals become records with "error"; so does a bug (E0070), which names it."""
    from .diagnostics import CompileError

    from .formats import stamp

    name = what if isinstance(what, str) else f"{what.__module__}.{what.__qualname__}"
    record = stamp({"model": str(model), "what": name, "point": dict(point)}, "sweep")
    try:
        if callable(what):    # a function of the caller's: what(model, **point) → a JSON-able dict
            record["result"] = _plain(what(str(model), **dict(point)))
        else:
            kind = "report" if what == "compile" else what
            record["result"] = _plain(stamp(_stage(str(model), dict(point), what), kind))
        record["ok"] = True
    except CompileError as e:
        d = e.diagnostics[0] if getattr(e, "diagnostics", None) else None
        record["ok"] = False
        record["error"] = {"code": getattr(d, "code", "E0002"), "message": getattr(d, "message", str(e)),
                           "exit_status": int(e.exit_status)}
    except MemoryError:
        record["ok"] = False
        record["error"] = {"code": "E0006", "message": "out of memory", "exit_status": 3}
    except Exception as exc:   # a bug in qdsl: recorded, the sweep goes on
        record["ok"] = False
        record["error"] = {"code": "E0070", "message": f"internal error: {type(exc).__name__}: {exc}",
                           "exit_status": 70}
    return record


def _stage(model: str, point: dict, what: str) -> dict:
    from . import api
    from .diagnostics import CompileError, Diagnostic

    if what not in STAGES:
        raise CompileError(Diagnostic("E0625", f"unknown sweep stage `{what}`",
                                      help=f"one of {', '.join(STAGES)}"))
    stage_keys = STAGES[what]
    unknown = [k for k in point if k not in stage_keys and k not in COMPILE_OPTIONS and k != "values"]
    if unknown:
        raise CompileError(Diagnostic(
            "E0625", f"`{unknown[0]}` is not an option of a `{what}` sweep",
            help=f"compile options: {', '.join(COMPILE_OPTIONS)}; {what} options: "
                 f"{', '.join(stage_keys) or 'none'}"))
    stage_args = {k: point[k] for k in stage_keys if k in point}
    compile_args = {k: v for k, v in point.items() if k not in stage_args}
    for k in ("order", "steps", "clock", "idle"):
        if k in compile_args:
            compile_args[k] = _whole(k, compile_args[k])
    c = api.compile(model, **compile_args)
    if what == "check":
        return c.certificate.to_dict()
    if what == "simulate":
        return c.simulate().to_dict()
    if what == "compile":
        return c.report
    if what == "run":
        return c.run(**stage_args).to_dict()
    from .backends.resources import resources
    for k in ("params", "steps"):
        if k in stage_args:
            stage_args[k] = _whole(k, stage_args[k])
    return resources(c, **stage_args).to_dict()


def _whole(name, v):
    """A point's integer option: 1e8 and "1e8" are 100000000; 2.5, 0 (or a negative idle) are
    errors (E0625)."""
    from .diagnostics import CompileError, Diagnostic
    least = 0 if name == "idle" else 1
    try:
        f = float(v)
        if not math.isfinite(f) or f != int(f) or f < least:
            raise ValueError
        return int(f)
    except (TypeError, ValueError, OverflowError):
        raise CompileError(Diagnostic("E0625", f"`{name}` must be a whole number ≥ {least}, not {v!r}",
                                      help=f"e.g. {name}=100 or {name}=1e8")) from None


def _evaluate_in_worker(model, point: dict, what):
    """`evaluate` in an executor's worker process: no progress bars there (the sweep draws one)."""
    os.environ["QDSL_PROGRESS"] = "0"
    return evaluate(model, point, what)


class PoolExecutor(Executor):
    """A `concurrent.futures.Executor` over anything with `multiprocessing.Pool`'s `apply_async`
    (the standard library's Pool, Ray's `ray.util.multiprocessing.Pool`)."""

    def __init__(self, pool):
        self._pool = pool

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        fut.set_running_or_notify_cancel()
        self._pool.apply_async(fn, args, kwargs, callback=fut.set_result, error_callback=fut.set_exception)
        return fut

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._pool.close()
        if wait:
            self._pool.join()


def executor_from(spec: str | None, jobs: int | None = None):
    """(executor, owned) from a spec: None or "loky" (joblib's loky pool with `jobs` workers;
    `jobs` ≤ 1 or None: no executor, in this process), "dask://local" (a Dask LocalCluster of
    `jobs` workers), "dask://ADDRESS" (a running Dask scheduler), "ray://ADDRESS" or "ray://local"
    (a Ray multiprocessing pool). `owned`: whether the sweep must shut it down."""
    from .diagnostics import CompileError, Diagnostic

    jobs = None if jobs is None else int(jobs)
    if spec in (None, "", "loky"):
        if not jobs or jobs <= 1:
            return None, False
        from joblib.externals.loky import get_reusable_executor
        return get_reusable_executor(max_workers=jobs), False
    scheme, sep, address = spec.partition("://")
    if not sep or scheme not in ("dask", "ray"):
        raise CompileError(Diagnostic("E0626", f"unknown executor `{spec}`",
                                      help="use loky (default), dask://ADDRESS, dask://local, ray://ADDRESS "
                                           "or ray://local; in Python pass any concurrent.futures.Executor"))
    if scheme == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise CompileError(Diagnostic("E0626", "the Dask executor needs dask.distributed",
                                          help="pip install 'qdsl-compiler[dask]'")) from None
        if address == "local":
            cluster = LocalCluster(n_workers=max(1, jobs or 1), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address if "://" in address else f"tcp://{address}")
        return _DaskExecutor(client, own_cluster=address == "local"), True
    try:
        import ray
        from ray.util.multiprocessing import Pool
    except ImportError:
        raise CompileError(Diagnostic("E0626", "the Ray executor needs ray",
                                      help="pip install ray, or pass an executor in Python")) from None
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address)
    return PoolExecutor(Pool(processes=jobs) if jobs else Pool()), True


class _DaskExecutor(Executor):
    """A Dask client's executor that closes the client (and a LocalCluster it made) on shutdown."""

    def __init__(self, client, own_cluster: bool):
        self._client, self._ex, self._own = client, client.get_executor(pure=False), own_cluster

    def submit(self, fn, /, *args, **kwargs):
        return self._ex.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._ex.shutdown(wait=wait)
        cluster = self._client.cluster if self._own else None
        self._client.close()
        if cluster is not None:
            cluster.close()


def sweep(models, grid=None, what="resources", *, executor=None, jobs: int | None = None,
          on_record=None) -> list[dict]:
    """Run the stage `what` ("check", "simulate", "compile", "resources", "run") on every model
    (a path or a list of paths) at every point of `grid` (`points`), and return one JSON record per
    (model, point), in that order (module docstring). `what` may also be a function
    `what(model_path, **point) -> dict` (importable or picklable by the executor: the benchmarks
    sweep their own measurements this way); its record's "what" is the function's name.

    `executor`: a `concurrent.futures.Executor` (kept open), or a spec string for `executor_from`
    (made and shut down here); None with `jobs` > 1 uses joblib's loky pool, else this process.
    `on_record(record)` is called as each point finishes (in completion order), e.g. to stream
    records to a file."""
    from .progress import progress

    model_list = [models] if isinstance(models, (str, os.PathLike)) else list(models)
    tasks = [(str(Path(m)), p) for m in model_list for p in points(grid)]
    owned = False
    if executor is None or isinstance(executor, str):
        executor, owned = executor_from(executor, jobs)
    out: list = [None] * len(tasks)
    try:
        with progress(total=len(tasks), desc=f"sweep {what}", unit="pt") as bar:
            if executor is None:
                for i, (m, p) in enumerate(tasks):
                    out[i] = evaluate(m, p, what)
                    if on_record:
                        on_record(out[i])
                    bar.update(1)
            else:
                from concurrent.futures import as_completed
                futures = {executor.submit(_evaluate_in_worker, m, p, what): i for i, (m, p) in enumerate(tasks)}
                for fut in as_completed(futures):
                    i = futures[fut]
                    out[i] = fut.result()
                    if on_record:
                        on_record(out[i])
                    bar.update(1)
    finally:
        if owned:
            executor.shutdown(wait=True)
    return out


class _CallableModule(type(os)):
    """`qdsl.sweep(...)` is the function, but importing this module (`from qdsl.sweep import
    PoolExecutor`) binds the attribute `qdsl.sweep` to the module itself: calling the module calls
    the function, so both spellings work whatever was imported first."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
