"""Atomic file writes with the umask's modes: the one way trainwright writes a run's files.

Every file is written to a temporary file in the same folder, flushed and fsynced, then renamed over the
target, so a crash never leaves a torn file; the file gets the mode the umask gives ordinary files (mkstemp
would make it 0600, and a server running as another user could not read the model).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from trainwright.errors import ArtifactError, OutputError

__all__ = ["write_bytes", "write_text", "write_json", "append_text", "read_json", "file_mode", "fsync_dir", "locked",
           "bytes_written_by"]


def file_mode() -> int:
    """The mode new files get under the current umask (0o644 under umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes(path: str | Path, data: bytes, *, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename), with the umask's mode.

    With ``exclusive`` the file must not exist, and of two writers racing for it exactly one succeeds (the
    temp file is linked into place, which fails when the name is taken).

    Raises:
        OutputError: the folder cannot be written.
        FileExistsError: ``exclusive`` and the file exists.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> write_bytes(target, b"abc").read_bytes()
        b'abc'
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; choose a folder you can write to.") from None
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if the name exists: no check-then-write race
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see ``write_bytes``)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically; numpy scalars and arrays and paths become plain JSON."""
    return write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def append_text(path: str | Path, text: str) -> Path:
    """Append ``text`` to a log file and flush it (a kill loses at most the line being written)."""
    path = Path(path)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
    return path


def read_json(path: str | Path, default: Any = ..., *, expect: type = dict) -> Any:
    """Read a JSON file of a run.

    Args:
        default: returned when the file does not exist; without it a missing file is an error.
        expect: the JSON type the file holds at its top (a ``dict`` unless told).

    Raises:
        ArtifactError: the file is missing (and no default was given), is not valid JSON, or holds another type.
    """
    path = Path(path)
    if not path.is_file():
        if default is not ...:
            return default
        raise ArtifactError(f"{path} is missing; the run is incomplete or damaged")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} is damaged (not valid JSON: {exc}); the run cannot be read") from None
    if not isinstance(value, expect):
        raise ArtifactError(f"{path} is damaged (it holds a JSON {type(value).__name__} where a "
                            f"{'JSON object' if expect is dict else expect.__name__} belongs); the run cannot be read")
    return value


def fsync_dir(directory: str | Path) -> None:
    """Make a rename in ``directory`` durable: the folder entry reaches the disk too."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: str | Path):
    """Hold an exclusive lock on ``path`` + ".lock" (created empty) while the block runs: processes that update
    the same file one after another (``retrain``'s registry) never lose each other's changes.

    Example:
        >>> import tempfile
        >>> with locked(Path(tempfile.mkdtemp()) / "registry.json"):
        ...     pass
    """
    import fcntl

    lock = Path(path).with_name(Path(path).name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def bytes_written_by(write, suffix: str) -> bytes:
    """The bytes a library writes when it can only write to a path (``write(path)``): a private temporary file,
    read back and removed.

    Example:
        >>> bytes_written_by(lambda path: Path(path).write_text("tree"), ".txt")
        b'tree'
    """
    handle, path = tempfile.mkstemp(suffix=suffix)
    os.close(handle)
    try:
        write(path)
        return Path(path).read_bytes()
    finally:
        os.unlink(path)
