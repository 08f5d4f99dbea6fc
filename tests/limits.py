"""Run a piece of qdsl under a hard time and memory limit, as a user's machine would impose it.

`limited(fn, *args, seconds=5, memory=2**30)` forks the test process (modules already imported,
so a case costs no interpreter start-up), runs `fn(*args)` in the child and returns an `Outcome`:
the exit status qdsl's command line would give (0, 2, 3, or 70 for anything else that escaped),
the diagnostic codes, the exception text, the time, the peak memory, or "timeout" / "memory"
when a limit stopped it. A MemoryError in the child is reported as such, never as a diagnostic.

Limits: processor time by `resource.setrlimit(RLIMIT_CPU)` (CPU seconds, so a machine busy with
other work does not fail a case; a wall-clock kill at 10× guards against a child that sleeps);
memory as resident memory beyond the parent's at the fork — the parent polls the child's VmRSS and
kills it past `memory`, and the child's own peak (getrusage ru_maxrss) is checked at the end.
Not an address-space cap (RLIMIT_AS): Qiskit's Rust linear algebra (faer) reserves about 1 GiB of
virtual memory per thread for its matrix-multiply buffers and aborts when it cannot, although it
touches little of it; resident memory is what a user's machine runs out of. (The command-line
refusal tests, which never reach that code, cap the address space of a real subprocess.)
"""
from __future__ import annotations

import math
import os
import pickle
import resource
import signal
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    status: object            # 0, 2, 3, 70, "memory", "timeout" or "crash"
    codes: list = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    value: object = None
    peak: int = 0             # the child's peak resident memory beyond the parent's at the fork
    where: str = ""           # for status 70: "file:line" of the innermost frame of the exception


def _rss(pid="self") -> int:
    """Resident memory of a process, bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child(fn, args, memory, seconds, w):
    from qdsl.diagnostics import CompileError

    cpu = max(1, int(math.ceil(seconds)))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    # one Rust (rayon) worker: a pool of workers spin-waits while the machine is busy with other
    # work, and that spinning would count against the case's CPU time
    os.environ["RAYON_NUM_THREADS"] = "1"
    try:
        value = fn(*args)
        out = Outcome(0, value=value)
    except CompileError as e:
        out = Outcome(e.exit_status, [d.code for d in e.diagnostics], e.render())
    except MemoryError:
        out = Outcome("memory", message="MemoryError")
    except BaseException as e:  # noqa: BLE001 — everything else is what the CLI calls exit 70
        import traceback

        frames = traceback.extract_tb(e.__traceback__)
        out = Outcome(70, message=f"{type(e).__name__}: {e}",
                      where=f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "")
    out.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        data = pickle.dumps(out)
    except Exception:
        data = pickle.dumps(Outcome(out.status, out.codes, out.message, peak=out.peak, where=out.where))
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]
    os.close(w)
    os._exit(0)


def limited(fn, *args, seconds: float = 5.0, memory: int = 2 ** 30) -> Outcome:
    """fn(*args) in a forked child under `seconds` of wall time and `memory` more bytes."""
    r, w = os.pipe()
    base = _rss()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            _child(fn, args, memory, seconds, w)
        finally:
            os._exit(1)
    os.close(w)
    os.set_blocking(r, False)
    chunks = []
    status = None
    while True:
        try:
            chunk = os.read(r, 1 << 16)
            if chunk:
                chunks.append(chunk)
        except BlockingIOError:
            pass
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        over_time = time.perf_counter() - t0 > 10 * seconds
        over_memory = _rss(pid) - base > memory
        if over_time or over_memory:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return Outcome("memory" if over_memory else "timeout", seconds=time.perf_counter() - t0,
                           message=f"resident memory over {memory / 2 ** 30:g} GiB" if over_memory else "")
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    while True:
        try:
            chunk = os.read(r, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    if not chunks:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
            return Outcome("timeout", message=f"over {seconds} s of CPU time", seconds=elapsed)
        return Outcome("crash", message=f"child ended with status {status}", seconds=elapsed)
    out = pickle.loads(b"".join(chunks))
    out.seconds = elapsed
    out.peak = max(0, out.peak - base)
    if out.peak > memory:
        return Outcome("memory", message=f"peak resident memory {out.peak / 2 ** 30:.2f} GiB", seconds=elapsed,
                       peak=out.peak)
    return out
