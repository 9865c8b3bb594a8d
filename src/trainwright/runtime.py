"""Threads and devices, decided in one place.

Measured on the 2-core development machine (see DESIGN.md): a small model on 2
threads runs 1.1-1.6x faster than on 1 when the machine is quiet; passive OpenMP
waiting keeps LightGBM and torch from spinning against each other.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["THREADS_ENV", "cpu_threads", "share_cores", "resolve_device", "quiet_openmp", "release_memory",
           "freeze_imports", "large_arrays_on_the_heap",
           "process_started"]


def share_cores(processes: int) -> int:
    """Give this process (and the processes it starts) its share of the cores when ``processes`` run at once:
    sets ``TRAINWRIGHT_THREADS`` and ``OMP_NUM_THREADS`` (read by torch and LightGBM), and torch's threads if
    torch is already loaded. Returns the threads each process gets.

    Example:
        >>> share_cores(1) >= 1
        True
    """
    import sys

    threads = max(1, cpu_threads() // max(processes, 1))
    os.environ[THREADS_ENV] = os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return threads


def quiet_openmp() -> None:
    """Make idle OpenMP threads sleep after a short spin instead of spinning for long, and keep glibc from
    giving every thread its own heap arena (each OpenMP or torch thread would otherwise hold up to 64 MB of
    freed memory); must run before torch/LightGBM load.

    The short spin (``GOMP_SPINCOUNT``, 10,000 turns: microseconds) matters: with ``OMP_WAIT_POLICY=PASSIVE``
    alone every thread sleeps at once after each parallel region, and LightGBM, which opens many small ones
    per boosting round, ran 13.7x slower (bench/openmp.py: 300 rounds on 8,950 diamonds rows, 4.67 s against
    0.34 s, and 0.34 s with the spin)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-8, 2)  # M_ARENA_MAX = 2
        libc.mallopt(-3, MMAP_THRESHOLD)  # fixed: large arrays are returned to the system when freed
        _MALLOC["fixed"] = True


MMAP_THRESHOLD = 1 << 20
_MALLOC = {"fixed": False}


@contextlib.contextmanager
def large_arrays_on_the_heap(limit: int = 64 << 20):
    """Within: allocations up to ``limit`` bytes come from the heap and are reused, not mapped afresh. Under the
    fixed 1 MiB threshold of ``quiet_openmp`` every batch of a CNN's activations was a new mmap, zero-filled page
    by page: an MNIST epoch took 5.2 s instead of 2.3 s. The threshold comes back after, and the freed heap is
    handed back to the system (``malloc_trim``)."""
    libc = _glibc() if _MALLOC["fixed"] else None
    if libc is None:
        yield
        return
    libc.mallopt(-3, limit)
    try:
        yield
    finally:
        libc.mallopt(-3, MMAP_THRESHOLD)
        libc.malloc_trim(0)


def release_memory() -> None:
    """Hand memory freed by finished fits back to the system (garbage collection, then glibc's malloc_trim):
    an AutoML run fits dozens of models one after another, and freed heap pages would otherwise count as
    resident memory for the rest of the run."""
    import gc

    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def freeze_imports() -> None:
    """Collect garbage, then move every object alive now to the collector's permanent generation (``gc.freeze``):
    call it right after heavy imports. With torch loaded the process tracks about 400,000 objects, and each full
    collection of ``release_memory`` (one after every fit of an AutoML run) took 0.2 s scanning them (4.0 s of
    a 30 s diamonds run); afterwards a collection scans what was made since. Frozen objects are still freed
    when nothing refers to them; only a reference cycle among objects alive at this call is kept to the end."""
    import gc

    gc.collect()
    gc.freeze()


def _glibc():
    """glibc, where this process runs on it (Linux); None elsewhere."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


THREADS_ENV = "TRAINWRIGHT_THREADS"


def cpu_threads() -> int:
    """Threads for CPU work: the cores this process may use, or ``TRAINWRIGHT_THREADS`` when set (processes
    that share the machine, such as tuning workers, divide the cores this way)."""
    if os.environ.get(THREADS_ENV, "").isdigit() and int(os.environ[THREADS_ENV]) > 0:
        return int(os.environ[THREADS_ENV])
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
