"""Data-parallel training with DistributedDataParallel.

Two ways in: ``trainwright train ... --nproc N`` spawns N local processes for the
neural fit (``spawn_fit``), and ``torchrun`` starts the whole command N times
(``init_from_env``; every rank runs the same deterministic stages, only rank 0
writes). gloo on CPU, NCCL on CUDA. Multi-node is torchrun's job::

    torchrun --nnodes 2 --nproc_per_node 4 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
        -m trainwright train data.csv --target y --set model.type=mlp
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwright.runs import store

if TYPE_CHECKING:
    import torch

__all__ = ["spawn_fit", "init_from_env", "rank", "backend_for"]


def backend_for(device: str) -> str:
    """The process-group backend for a device: NCCL on CUDA, gloo elsewhere."""
    return "nccl" if device == "cuda" else "gloo"


def _group_initialized() -> bool:
    """Whether a process group exists; never imports torch (no torch loaded means no group)."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    if _group_initialized():
        import torch.distributed as dist

        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def init_from_env() -> bool:
    """Join the process group torchrun describes in the environment; False when not under torchrun.
    Outside torchrun it imports nothing, so a LightGBM or linear run never pays torch's import."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or _group_initialized():
        return _group_initialized()
    import torch
    import torch.distributed as dist

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend_for(device))
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_fit(nproc: int, build: tuple[str, dict[str, Any]], tensors: dict[str, Any], fit_kwargs: dict[str, Any],
              device: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Train in ``nproc`` local processes; returns (rank 0's final weights, its FitResult).

    Args:
        build: ("module:function", kwargs) that builds the model; every rank builds it with the same seed.
        tensors: X, y, X_valid, y_valid, sample_weight (CPU tensors, shared with the workers).
        fit_kwargs: the other arguments of ``trainwright.training.loop.fit``.
    """
    import torch
    import torch.multiprocessing as mp

    from trainwright.runtime import cpu_threads

    if device != "cuda" and nproc > cpu_threads():
        import warnings

        warnings.warn(f"train.nproc={nproc} data-parallel processes share {cpu_threads()} CPU cores: each step waits "
                      "for the slowest process, so this is slower than fewer processes (and a time budget buys less "
                      f"training). Use --nproc {cpu_threads()} or fewer on this machine.", stacklevel=2)
    if device == "cuda" and torch.cuda.device_count() < nproc:
        from trainwright.errors import ConfigError

        raise ConfigError(f"train.nproc={nproc} needs {nproc} GPUs, {torch.cuda.device_count()} visible", path="train.nproc")
    with tempfile.TemporaryDirectory(prefix="trainwright-ddp-") as tmp:
        out = Path(tmp) / "rank0.safetensors"
        try:
            mp.spawn(_worker, args=(nproc, _free_port(), build, tensors, fit_kwargs, device, str(out)), nprocs=nproc,
                     join=True)
        except mp.ProcessRaisedException:
            _raise_worker_error(Path(tmp))
            raise
        except mp.ProcessExitedException:
            if not _finished(out, nproc):
                raise
            # Every rank passed the final barrier and rank 0's weights are written: a rank killed by gloo while
            # tearing its connections down (under load, about 1 fit in 40 on 2 cores: "terminate called without
            # an active exception") has lost nothing, so the fit stands.
        from trainwright.training.checkpoint import unpack

        saved = unpack(out.read_bytes(), source="the data-parallel result")
    from trainwright.training.loop import FitResult

    return saved["state"], FitResult(**saved["result"])


def _finished(out: Path, nproc: int) -> bool:
    """Whether rank 0 wrote its weights and every rank got past the last barrier (its marker follows it)."""
    return out.exists() and all(out.with_name(f"done-rank{r}").exists() for r in range(nproc))


def _raise_worker_error(folder: Path) -> None:
    """A trainwright error in a worker (bad setting, divergence) reaches the caller as itself."""
    import json

    from trainwright import errors
    from trainwright.training.loop import TrainingDivergedError

    for path in sorted(folder.glob("error-rank*.json")):
        data = json.loads(path.read_text())
        cls = {"TrainingDivergedError": TrainingDivergedError}.get(data["type"]) or \
            getattr(errors, data["type"], errors.TrainwrightError)
        raise cls(f"{data['message']} (in data-parallel process {data['rank']})") from None


def _worker(rank_: int, nproc: int, port: int, build, tensors, fit_kwargs, device: str, out: str) -> None:
    import torch
    import torch.distributed as dist

    from trainwright.training.loop import fit
    from trainwright.runtime import cpu_threads

    torch.set_num_threads(max(1, cpu_threads() // nproc))  # the cores are shared between the ranks
    dist.init_process_group(backend_for(device), init_method=f"tcp://127.0.0.1:{port}", rank=rank_, world_size=nproc)
    try:
        dev = f"cuda:{rank_}" if device == "cuda" else device
        if device == "cuda":
            torch.cuda.set_device(rank_)
        module, _, attr = build[0].partition(":")
        torch.manual_seed(fit_kwargs.get("seed", 0))
        model = getattr(importlib.import_module(module), attr)(**build[1])
        moved = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in tensors.items()}
        result = fit(model, moved["X"], moved["y"], moved.get("X_valid"), moved.get("y_valid"),
                     sample_weight=moved.get("sample_weight"), device=device, **fit_kwargs)
        if rank_ == 0:
            import dataclasses

            from trainwright.training.checkpoint import pack

            store.write_bytes(out, pack({"state": {k: v.cpu() for k, v in model.state_dict().items()},
                                         "result": dataclasses.asdict(result)}))
        # Every rank waits here until all are done, so none tears its connections down while another still
        # uses them; a rank can still abort in the teardown after it, which spawn_fit tells by the marker.
        dist.barrier()
        store.write_text(Path(out).with_name(f"done-rank{rank_}"), "")
    except Exception as exc:
        from trainwright.errors import TrainwrightError

        if isinstance(exc, TrainwrightError):
            store.write_json(Path(out).with_name(f"error-rank{rank_}.json"),
                             {"type": type(exc).__name__, "message": str(exc), "rank": rank_})
        raise
    finally:
        dist.destroy_process_group()
