"""Reading tables: CSV, Parquet and JSON Lines, with errors that name the file and the fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from trainwright.errors import DataError, DataFileNotFoundError

__all__ = ["FORMATS", "detect_format", "read_table", "file_sha256"]

# extension -> format name
FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}


def detect_format(path: Path, fmt: str = "auto") -> str:
    """The format named by ``fmt``, or read from the file extension when ``fmt`` is 'auto'."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".zip", ".xz")]
    found = FORMATS.get(suffixes[-1] if suffixes else "")
    if found is None:
        raise DataError(
            f"{path}: unknown format '{path.suffix or '(no extension)'}'. trainwright reads "
            f"{', '.join(sorted(FORMATS))}; rename the file or set data.format (csv, parquet, jsonl).",
            file=str(path),
        )
    return found


def read_table(path: str | Path, fmt: str = "auto", *, allow_empty: bool = False) -> pd.DataFrame:
    """Read a whole table into a DataFrame. The file is only ever read.

    Raises:
        DataFileNotFoundError: the file does not exist.
        DataError: the file is empty, unreadable or of an unknown format.

    Example:
        >>> from importlib import resources
        >>> read_table(resources.files("trainwright") / "datasets" / "penguins.csv").shape
        (344, 8)
    """
    path = Path(path)
    if not path.exists():
        near = sorted(p.name for p in path.parent.glob("*") if p.suffix.lower() in FORMATS)[:10] if path.parent.is_dir() else []
        hint = f" Data files in {path.parent}: {', '.join(near)}." if near else ""
        raise DataFileNotFoundError(f"{path}: no such file.{hint}", file=str(path))
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV, Parquet or JSON Lines file.", file=str(path))
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); it needs a header row and data rows.", file=str(path))
    fmt = detect_format(path, fmt)
    try:
        if fmt == "csv":
            frame = _read_csv(path)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = _read_json(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: could not be read as {fmt} ({reason}). Check that the file is a valid {fmt} file "
            "with a header row, or set data.format.",
            file=str(path),
        ) from None
    except Exception as exc:  # pyarrow raises its own error types for damaged Parquet files
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{path}: could not be read as {fmt} ({exc}).", file=str(path)) from None
        raise
    if frame.shape[1] == 0 or (frame.shape[0] == 0 and not allow_empty):
        raise DataError(f"{path} has no data rows (columns: {list(frame.columns)}); add rows below the header.", file=str(path))
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_json(path: Path) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    # Values are kept as written: "02134" stays text, numbers are not turned into dates.
    frame = pd.read_json(path, lines=not head.startswith(b"["), dtype=False)
    for col in frame.columns:
        # infer_dtype scans in C; only a column that is not plain text pays the per-value check
        if frame[col].dtype == object and pd.api.types.infer_dtype(frame[col], skipna=True) not in ("string", "empty"):
            nested = frame[col].map(lambda v: isinstance(v, (dict, list)))
            if nested.any():  # nested objects become their JSON text
                frame[col] = frame[col].where(~nested, frame[col][nested].map(json.dumps))
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".tsv":
        return pd.read_csv(path, sep="\t", low_memory=False)
    with path.open("rb") as fh:
        first = fh.readline()
    if b"," not in first and b";" in first:
        # ';'-separated files come from locales that write decimal commas: 3,5 is 3.5.
        return pd.read_csv(path, sep=";", decimal=",", low_memory=False)
    if b"," not in first and any(s in first for s in (b"|", b"\t")):
        # No comma in the header: let pandas sniff '|' or tab.
        return pd.read_csv(path, sep=None, engine="python")
    return pd.read_csv(path, low_memory=False)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
