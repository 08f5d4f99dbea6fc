"""Run a piece of qdsl under a hard time and memory limit, as a user's machine would impose it.

`limited(fn, *args, seconds=5, memory=2**30)` forks the test process (modules already imported,
so a case costs no interpreter start-up), caps the child's address space at its current size
plus `memory` bytes (`resource.setrlimit(RLIMIT_AS)`) and its processor time at `seconds`
(`RLIMIT_CPU`: CPU seconds, so a machine busy with other work does not make a case fail; a
wall-clock kill at 10× guards against a child that sleeps), runs `fn(*args)` there and returns
an `Outcome`: the exit status qdsl's command line would give (0, 2, 3, or 70 for anything else
that escaped), the diagnostic codes, the exception text, the time, or "timeout" / "memory" when
a limit stopped it. A MemoryError in the child is reported as such, never as a diagnostic.
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


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(fn, args, memory, seconds, w):
    from qdsl.diagnostics import CompileError

    limit = _vm_size() + int(memory)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = max(1, int(math.ceil(seconds)))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        value = fn(*args)
        out = Outcome(0, value=value)
    except CompileError as e:
        out = Outcome(e.exit_status, [d.code for d in e.diagnostics], e.render())
    except MemoryError:
        out = Outcome("memory", message="MemoryError")
    except BaseException as e:  # noqa: BLE001 — everything else is what the CLI calls exit 70
        out = Outcome(70, message=f"{type(e).__name__}: {e}")
    try:
        data = pickle.dumps(out)
    except Exception:
        data = pickle.dumps(Outcome(out.status, out.codes, out.message))
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]
    os.close(w)
    os._exit(0)


def limited(fn, *args, seconds: float = 5.0, memory: int = 2 ** 30) -> Outcome:
    """fn(*args) in a forked child under `seconds` of wall time and `memory` more bytes."""
    r, w = os.pipe()
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
        if time.perf_counter() - t0 > 10 * seconds:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return Outcome("timeout", seconds=time.perf_counter() - t0)
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
    return out
