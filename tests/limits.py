"""Run a piece of qdsl under a hard time and memory limit, as a user's machine would impose it.

`limited(fn, *args, seconds=5, memory=2**30)` runs `fn(*args)` (a module-level function, so it can
be pickled) in a child forked from a multiprocessing *forkserver* — a clean process started once,
with qdsl's stages already imported, so a case costs no interpreter start-up, and a child never
inherits the state of thread pools the test process may have started (a plain fork of a process
whose Rust/OpenBLAS pools are running deadlocks). It returns an `Outcome`:
the exit status qdsl's command line would give (0, 2, 3, or 70 for anything else that escaped),
the diagnostic codes, the exception text, the time, the peak memory, or "timeout" / "memory"
when a limit stopped it. A MemoryError in the child is reported as such, never as a diagnostic.

Limits: processor time by `resource.setrlimit(RLIMIT_CPU)` (CPU seconds, so a machine busy with
other work does not fail a case; a wall-clock kill at 10× guards against a child that sleeps);
memory as resident memory beyond a fresh child of the forkserver — the parent polls the child's
VmRSS and kills it past `memory`, and the child's own peak (getrusage ru_maxrss) is checked at the end.
Not an address-space cap (RLIMIT_AS): Qiskit's Rust linear algebra (faer) reserves about 1 GiB of
virtual memory per thread for its matrix-multiply buffers and aborts when it cannot, although it
touches little of it; resident memory is what a user's machine runs out of. (The command-line
refusal tests, which never reach that code, cap the address space of a real subprocess.)
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import resource
import signal
import time
from dataclasses import dataclass, field

# imported once in the forkserver, before it forks any case
PRELOAD = ["numpy", "scipy.sparse", "scipy.integrate", "sympy", "qiskit", "qdsl", "qdsl.api",
           "qdsl.semantics.derive", "qdsl.semantics.certificate", "qdsl.lowering.simulate",
           "qdsl.synthesis.qsvt", "qdsl.synthesis.hhl", "qdsl.backends.qasm3", "qdsl.backends.qiskit_sim",
           "pipeline_cases"]
_CTX = mp.get_context("forkserver")
_CTX.set_forkserver_preload(PRELOAD)


@dataclass
class Outcome:
    status: object            # 0, 2, 3, 70, "memory", "timeout" or "crash"
    # ("timeout" with `where` set: the child reported where it was when its CPU time ran out)
    codes: list = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    value: object = None
    peak: int = 0             # the child's peak resident memory beyond a fresh forkserver child
    where: str = ""           # for an exception: "file:line" of its innermost frame inside qdsl


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


class CaseTimeout(Exception):
    """Raised in the child when it reaches its CPU-time limit (SIGXCPU)."""


class CaseMemory(Exception):
    """Raised in the child when the parent finds it over its memory limit (SIGUSR1)."""


def _out_of_time(signum, frame):
    raise CaseTimeout("over the CPU-time limit")


def _out_of_memory(signum, frame):
    raise CaseMemory("over the resident-memory limit")


def _child(fn, args, memory, seconds, conn):
    from qdsl.diagnostics import CompileError

    cpu = max(1, int(math.ceil(seconds)))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    signal.signal(signal.SIGXCPU, _out_of_time)   # the soft limit: report where the time went
    signal.signal(signal.SIGUSR1, _out_of_memory)  # the parent's memory watchdog: report where
    # one Rust (rayon) worker: a pool of workers spin-waits while the machine is busy with other
    # work, and that spinning would count against the case's CPU time
    os.environ["RAYON_NUM_THREADS"] = "1"
    try:
        value = fn(*args)
        out = Outcome(0, value=value)
    except CompileError as e:
        out = Outcome(e.exit_status, [d.code for d in e.diagnostics], e.render())
    except BaseException as e:  # noqa: BLE001 — everything else is what the CLI calls exit 70
        import traceback

        frames = [f for f in traceback.extract_tb(e.__traceback__) if "/qdsl/" in f.filename] or \
            traceback.extract_tb(e.__traceback__)
        status = ("memory" if isinstance(e, (MemoryError, CaseMemory)) else
                  "timeout" if isinstance(e, CaseTimeout) else 70)
        out = Outcome(status, message=f"{type(e).__name__}: {e}",
                      where=f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "")
    out.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        conn.send(out)
    except Exception:
        conn.send(Outcome(out.status, out.codes, out.message, peak=out.peak, where=out.where))
    conn.close()


def limited(fn, *args, seconds: float = 5.0, memory: int = 2 ** 30) -> Outcome:
    """fn(*args) in a child of the forkserver under `seconds` of CPU time and `memory` more
    resident bytes than the forkserver holds."""
    base = _server_rss()
    recv, send = _CTX.Pipe(duplex=False)
    t0 = time.perf_counter()
    proc = _CTX.Process(target=_child, args=(fn, args, memory, seconds, send), daemon=True)
    proc.start()
    send.close()
    out = None
    while True:
        if recv.poll(0.005):
            try:
                out = recv.recv()
            except EOFError:
                out = None
            break
        if not proc.is_alive():
            break
        over_time = time.perf_counter() - t0 > 10 * seconds
        over_memory = _rss(proc.pid) - base > memory
        if over_memory:  # ask the child where it is (it raises CaseMemory), then make sure it ends
            os.kill(proc.pid, signal.SIGUSR1)
            if recv.poll(2.0):
                try:
                    out = recv.recv()
                except EOFError:
                    out = None
            if out is not None:
                proc.kill()
                proc.join()
                recv.close()
                out.seconds, out.status = time.perf_counter() - t0, "memory"
                return out
        if over_time or over_memory:
            proc.kill()
            proc.join()
            recv.close()
            return Outcome("memory" if over_memory else "timeout", seconds=time.perf_counter() - t0,
                           message=f"resident memory over {memory / 2 ** 30:g} GiB" if over_memory else "")
    proc.join()
    recv.close()
    elapsed = time.perf_counter() - t0
    if out is None:
        code = proc.exitcode
        if code is not None and code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL):
            return Outcome("timeout", message=f"over {seconds} s of CPU time", seconds=elapsed)
        return Outcome("crash", message=f"child ended with exit code {code}", seconds=elapsed)
    out.seconds = elapsed
    out.peak = max(0, out.peak - base)
    if out.peak > memory:
        return Outcome("memory", message=f"peak resident memory {out.peak / 2 ** 30:.2f} GiB", seconds=elapsed,
                       peak=out.peak)
    return out


_SERVER_RSS = None


def _server_rss() -> int:
    """Resident memory of a freshly forked child of the forkserver (its baseline), measured once."""
    global _SERVER_RSS
    if _SERVER_RSS is None:
        recv, send = _CTX.Pipe(duplex=False)
        proc = _CTX.Process(target=_report_rss, args=(send,), daemon=True)
        proc.start()
        send.close()
        _SERVER_RSS = recv.recv()
        proc.join()
    return _SERVER_RSS


def _report_rss(conn):
    conn.send(_rss())
    conn.close()
