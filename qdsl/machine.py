"""What this machine has, read once where it is needed (no heavy imports)."""
from __future__ import annotations


def available_memory() -> int | None:
    """Bytes the kernel reports as available (MemAvailable of /proc/meminfo), or None where it
    cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
