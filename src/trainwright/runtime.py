"""Threads and devices, decided in one place.

Measured on the 2-core development machine (see DESIGN.md): a small model on 2
threads runs 1.1-1.6x faster than on 1 when the machine is quiet; passive OpenMP
waiting keeps LightGBM and torch from spinning against each other.
"""

from __future__ import annotations

import os

__all__ = ["cpu_threads", "resolve_device", "quiet_openmp", "process_started"]


def quiet_openmp() -> None:
    """Make idle OpenMP threads sleep instead of spin; must run before torch/LightGBM load."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cpu_threads() -> int:
    """Threads for CPU work: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is present, else 'mps' on Apple silicon, else 'cpu'."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        from trainwright.errors import ConfigError

        raise ConfigError("model.device=cuda, but no CUDA GPU is visible to torch; use model.device=auto or cpu",
                          path="model.device")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        from trainwright.errors import ConfigError

        raise ConfigError("model.device=mps, but Apple MPS is not available; use model.device=auto or cpu",
                          path="model.device")
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def process_started() -> float:
    """The ``time.monotonic()`` value at which this process started (so a budget counts interpreter start-up
    and imports too). Read from ``/proc`` on Linux; elsewhere the moment of the first call.

    Example:
        >>> import time
        >>> 0 <= time.monotonic() - process_started() < 3600
        True
    """
    import time

    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()  # after the command name, field 3 (state) comes first
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        elapsed = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in clock ticks
    except (OSError, ValueError, IndexError):
        elapsed = 0.0
    return time.monotonic() - min(max(elapsed, 0.0), 3600.0)
