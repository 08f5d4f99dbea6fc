"""How fast oversized requests are refused (exit 3), through the real command line.

    .venv/bin/python benchmarks/refusals.py

Each case runs `python -m qdsl COMMAND model.qd` in a fresh process and prints its exit status,
wall time (interpreter start-up included), processor time and peak resident memory (the wall
time is longer than the processor time on a machine busy with other work). The tests check that these
requests are refused under a 2 GiB address-space cap and a kill limit (tests/test_refusals.py);
this script measures how long they take.
"""
from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "param w[10^8] with a sum (check)": ("check", """model big {
    param w[100000000]
    loss = sum(i in 0..100000000: w[i]^2)
    evolve gd(lr = 0.1, steps = 5)
}
"""),
    "gd with 10^9 steps (simulate)": ("simulate", """model longsteps {
    param x = 0.3
    loss = x^2 + 0.25*x^4
    evolve gd(lr = 0.1, steps = 1000000000)
    carleman order 2
}
"""),
    "three nested sums of 1000 terms (check)": ("check", """model wide {
    param w[1000]
    data X[1000] = 0.5
    loss = sum(i in 0..1000: sum(j in 0..1000: sum(k in 0..1000: X[k]*w[i]*w[j])))
    evolve gd(lr = 0.1, steps = 5)
}
"""),
    "(w0 + w1 + w2)^40 (check)": ("check", """model power {
    param w[3] = [0.1, -0.2, 0.3]
    loss = (w[0] + w[1] + w[2])^40
    evolve gd(lr = 0.1, steps = 4)
}
"""),
    "Carleman order 6 of 60 parameters (simulate)": ("simulate", """model deep {
    param w[60]
    loss = sum(i in 0..60: w[i]^2 + w[i]^4)
    evolve gd(lr = 0.1, steps = 5)
    carleman order 6
}
"""),
    "sgd with 10^6 steps (check)": ("check", """model sgdlong {
    param w = 0.3
    data x[4] = [0.5, 1.0, -0.6, 0.8]
    data y[4] = [0.2, 0.5, -0.3, 0.3]
    loss = mean(k in 0..4: (w*x[k] + 0.2*(w*x[k])^2 - y[k])^2)
    evolve sgd(lr = 0.5, steps = 1000000, batch = 2, seed = 3)
    carleman order 2
}
"""),
    "expand order 30 of a softplus (check)": ("check", """model soft {
    param w[40]
    loss = sum(i in 0..40: log(1 + exp(w[i])) + 0.5*w[i]^2)
    evolve gd(lr = 0.1, steps = 5)
    expand order 30
    carleman order 2
}
"""),
    "Carleman order 12 of 20 parameters (run)": ("run", """model deep20 {
    param w[20]
    loss = sum(i in 0..20: w[i]^2 + w[i]^4)
    evolve gd(lr = 0.1, steps = 5)
    carleman order 12
}
"""),
    "history of 50 steps at order 9 (run)": ("run", """model deep {
    param w[3]
    loss = sum(i in 0..3: w[i]^2 + w[i]^4)
    evolve gd(lr = 0.1, steps = 50)
    carleman order 9
}
"""),
}


def main():
    print(f"{'case':<46} {'exit':>4} {'seconds':>8} {'cpu s':>6} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as d:
        for name, (command, text) in CASES.items():
            f = Path(d) / "model.qd"
            f.write_text(text)
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            before = ru0.ru_maxrss
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "qdsl", command, str(f)], capture_output=True, text=True)
            dt = time.perf_counter() - t
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            peak = ru.ru_maxrss
            cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
            peak_s = f"{peak / 1024:9.0f}" if peak > before else f"{'≤ prev':>9}"
            print(f"{name:<46} {r.returncode:>4} {dt:>8.2f} {cpu:>6.2f} {peak_s}")


if __name__ == "__main__":
    main()
