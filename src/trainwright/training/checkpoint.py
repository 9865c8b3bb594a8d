"""Checkpoints for exact resume, written atomically (temp file, fsync, rename).

A checkpoint holds everything the loop needs to continue as if never stopped:
model, optimizer, schedule, grad scaler, EMA/SWA, early-stopping state, RNG
states and the position in the data order. Files are written with
``torch.save`` and read with ``torch.load(weights_only=True)``, which refuses
to run code from the file.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import torch

from trainwright.errors import ArtifactError
from trainwright.runs import store

__all__ = ["save_checkpoint", "save_best", "load_latest", "list_checkpoints", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1
_NAME = re.compile(r"^step-(\d+)\.pt$")


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (torn temp files are never listed)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.match(p.name)), key=lambda p: int(_NAME.match(p.name)[1]))


def save_checkpoint(directory: Path, state: dict[str, Any], *, step: int, keep_last: int) -> Path:
    """Write ``state`` as ``step-<step>.pt`` atomically and delete all but the last ``keep_last``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step-{step:09d}.pt"
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    store.write_bytes(path, buffer.getvalue())
    store.fsync_dir(directory)
    for old in list_checkpoints(directory)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def save_best(directory: Path, weights: dict[str, torch.Tensor]) -> Path:
    """The best epoch's weights as ``best.safetensors``, atomically (loadable without pickle)."""
    from safetensors.torch import save

    directory.mkdir(parents=True, exist_ok=True)
    return store.write_bytes(directory / "best.safetensors",
                             save({k: v.detach().cpu().contiguous() for k, v in weights.items()}))


def load_latest(directory: Path) -> dict[str, Any] | None:
    """The newest readable checkpoint in ``directory``, or None when there is none."""
    for path in reversed(list_checkpoints(directory)):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ArtifactError(f"{path} is checkpoint format {state.get('format')}; this trainwright "
                                f"reads format {CHECKPOINT_FORMAT}")
        return state
    return None
