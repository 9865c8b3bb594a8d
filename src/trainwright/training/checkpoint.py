"""Checkpoints for exact resume: safetensors files, written atomically, with no pickle anywhere.

A checkpoint holds everything the loop needs to continue as if never stopped: model, optimizer, schedule,
grad scaler, EMA/SWA, early-stopping state, RNG states and the position in the data order. The tensors go
into a safetensors file; everything else (numbers, strings, the nesting) into a JSON skeleton stored in the
same file's metadata, where each tensor is a ``{"__tensor__": key}`` reference. Reading never runs code
from the file: a file that is not such a checkpoint (a pickle, a torn write) is refused with a clear error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from trainwright.errors import ArtifactError
from trainwright.runs import store

__all__ = ["save_checkpoint", "save_best", "load_latest", "list_checkpoints", "pack", "unpack", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 2  # 2: safetensors + JSON skeleton (1 was torch.save)
_NAME = re.compile(r"^step-(\d+)\.safetensors$")
_KEY = "trainwright.checkpoint"


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (torn temp files are never listed).

    Example:
        >>> list_checkpoints(Path("no/such/folder"))
        []
    """
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.match(p.name)), key=lambda p: int(_NAME.match(p.name)[1]))


def pack(state: Any) -> bytes:
    """``state`` (nested dicts, lists, tuples, tensors and plain values) as safetensors bytes.

    Example:
        >>> blob = pack({"step": 3, "w": torch.ones(2), "groups": [{1: (0.5, None)}]})
        >>> again = unpack(blob)
        >>> again["step"], again["w"].tolist(), again["groups"]
        (3, [1.0, 1.0], [{1: (0.5, None)}])
    """
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    skeleton = _skeleton(state, tensors)
    return save(tensors, metadata={_KEY: json.dumps({"format": CHECKPOINT_FORMAT, "state": skeleton})})


def _skeleton(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous().clone()  # no storage shared between entries
        return {"__tensor__": key}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: _skeleton(v, tensors) for k, v in value.items()}}
        return {"__items__": [[_skeleton(k, tensors), _skeleton(v, tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        items = [_skeleton(v, tensors) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a checkpoint cannot hold a {type(value).__name__}")


def unpack(blob: bytes, source: str = "checkpoint") -> Any:
    """The state ``pack`` wrote.

    Raises:
        ArtifactError: ``blob`` is not a trainwright checkpoint of this format (``source`` names it).
    """
    from safetensors.torch import load

    try:
        header_size = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + header_size])
        meta = json.loads(header["__metadata__"][_KEY])
        tensors = load(blob)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is one answer: not our checkpoint
        raise ArtifactError(f"{source} is not a trainwright checkpoint (damaged, or not written by trainwright: "
                            f"{type(exc).__name__}); delete it to resume from an earlier checkpoint, or train a "
                            "new run") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ArtifactError(f"{source} is checkpoint format {meta.get('format')}; this trainwright reads format "
                            f"{CHECKPOINT_FORMAT}. Resume it with the trainwright version that wrote it, or train a "
                            "new run")
    return _rebuild(meta["state"], tensors)


def _rebuild(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_rebuild(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_rebuild(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {_rebuild(k, tensors): _rebuild(v, tensors) for k, v in value["__items__"]}
    return {k: _rebuild(v, tensors) for k, v in value["__dict__"].items()}


def save_checkpoint(directory: Path, state: dict[str, Any], *, step: int, keep_last: int) -> Path:
    """Write ``state`` as ``step-<step>.safetensors`` atomically and delete all but the last ``keep_last``.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = save_checkpoint(folder, {"epoch": 1, "w": torch.zeros(3)}, step=10, keep_last=2)
        >>> load_latest(folder)["epoch"]
        1
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = store.write_bytes(directory / f"step-{step:09d}.safetensors", pack(state))
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
    """The newest checkpoint in ``directory``, or None when there is none.

    Raises:
        ArtifactError: the newest checkpoint is not a valid trainwright checkpoint (named, with what to do).
    """
    for path in reversed(list_checkpoints(directory)):
        return unpack(path.read_bytes(), source=str(path))
    return None
