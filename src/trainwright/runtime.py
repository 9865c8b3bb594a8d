"""Threads and devices, decided in one place.

Measured on the 2-core development machine (see DESIGN.md): a small model on 2
threads runs 1.1-1.6x faster than on 1 when the machine is quiet; passive OpenMP
waiting keeps LightGBM and torch from spinning against each other.
"""

from __future__ import annotations

import os

__all__ = ["cpu_threads", "resolve_device", "quiet_openmp"]


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
