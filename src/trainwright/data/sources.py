"""Reading tables: CSV, Parquet and JSON Lines, and images (a folder of class subfolders or a .npz, read as a
table of image paths by ``trainwright.data.images``), with errors that name the file and the fix."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import hashlib
import io
import json
import lzma
from pathlib import Path

import pandas as pd

from trainwright.errors import DataError, DataFileNotFoundError

__all__ = ["FORMATS", "detect_format", "detect_encoding", "read_table", "file_sha256"]

# extension -> format name
FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".npz": "npz",
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


def read_table(path: str | Path, fmt: str = "auto", *, allow_empty: bool = False,
               encoding: str = "auto") -> pd.DataFrame:
    """Read a whole table into a DataFrame. The file is only ever read.

    Args:
        fmt: "csv", "parquet", "jsonl", or "auto" (from the extension).
        allow_empty: a header without data rows is a frame of 0 rows rather than an error.
        encoding: the text encoding of CSV and JSON files; "auto" detects it (``detect_encoding``).

    Raises:
        DataFileNotFoundError: the file does not exist.
        DataError: the file is empty, unreadable, of an unknown format or encoding, has duplicate column names,
            or (JSON Lines) a line that is not JSON — the message names the file, and the line or columns.

    Example:
        >>> from importlib import resources
        >>> read_table(resources.files("trainwright") / "datasets" / "penguins.csv").shape
        (344, 8)
    """
    from trainwright.data import images

    path = _existing(Path(path))
    if path.is_dir():
        return images.read_image_folder(path)
    fmt = detect_format(path, fmt)
    if fmt == "npz":
        return images.read_npz(path, file_sha256(path))
    if fmt != "parquet" and encoding == "auto":
        encoding = detect_encoding(path)[0]
    try:
        if fmt == "csv":
            frame = _read_csv(path, encoding)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = _read_json(path, encoding)
    except DataError:
        raise
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: could not be read as {fmt} ({reason}). Check that the file is a valid {fmt} file "
            "with a header row, or set data.format (and data.encoding).",
            file=str(path),
        ) from None
    except Exception as exc:  # pyarrow raises its own error types for damaged Parquet files
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{path}: could not be read as {fmt} ({exc}).", file=str(path)) from None
        raise
    if frame.shape[1] == 0 or (frame.shape[0] == 0 and not allow_empty):
        raise DataError(f"{path} has no data rows (columns: {list(frame.columns)}); add rows below the header.", file=str(path))
    frame.columns = [str(c) for c in frame.columns]
    return images.resolve_image_paths(frame, path.parent)  # image paths are relative to the table's folder


def _existing(path: Path) -> Path:
    if not path.exists():
        near = sorted(p.name for p in path.parent.glob("*") if p.suffix.lower() in FORMATS)[:10] if path.parent.is_dir() else []
        hint = f" Data files in {path.parent}: {', '.join(near)}." if near else ""
        raise DataFileNotFoundError(f"{path}: no such file.{hint}", file=str(path))
    if path.is_dir():
        return path  # a folder of images
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); it needs a header row and data rows.", file=str(path))
    return path


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


_PREFERRED = ("cp1252", "latin_1", "iso8859_15")


def detect_encoding(path: str | Path) -> tuple[str, str]:
    """(encoding, how it was found) of a text file: its byte-order mark, else UTF-8 when every byte decodes
    as UTF-8, else what charset-normalizer finds.

    Raises:
        DataError: no encoding fits; the message says to re-encode the file or set ``data.encoding``.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = f.write_bytes("name,city|José,Zürich|".replace("|", chr(10)).encode("latin-1"))
        >>> f.read_text(encoding=detect_encoding(f)[0]).splitlines()[1]
        'José,Zürich'
    """
    path = Path(path)
    with _open_bytes(path) as fh:
        head = fh.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, f"byte-order mark of {name.upper()}"
    decoder = codecs.getincrementaldecoder("utf-8")()
    done, multibyte = 0, False
    try:
        with _open_bytes(path) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
                done += len(chunk)
                multibyte = multibyte or max(chunk, default=0) >= 0x80
            decoder.decode(b"", final=True)
        return "utf-8", "every byte is valid UTF-8"
    except UnicodeDecodeError as exc:
        _refuse_mixed(path, done + exc.start, multibyte or max(exc.object[:exc.start], default=0) >= 0x80)
    from charset_normalizer import from_bytes

    with _open_bytes(path) as fh:
        matches = from_bytes(fh.read(_SAMPLE_BYTES))
    best = matches.best()
    if best is not None:  # among equally likely readings, prefer the common Western ones
        best = next((m for pref in _PREFERRED for m in matches if m.encoding == pref and m.chaos <= best.chaos), best)
    if best is None:
        raise DataError(f"{path}: the text encoding could not be detected (it is not UTF-8). Re-encode the file as "
                        "UTF-8, or name its encoding with --set data.encoding=latin-1 (or cp1252, utf-16, ...).",
                        file=str(path))
    return best.encoding, f"not UTF-8; charset-normalizer reads it as {best.encoding}"


_SAMPLE_BYTES = 4 << 20  # charset-normalizer reads at most this much


def _open_bytes(path: Path):
    """The file's bytes, decompressed when its name ends in .gz, .bz2 or .xz (as pandas reads it)."""
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower(), open)
    return opener(path, "rb")


def _refuse_mixed(path: Path, position: int, utf8_before: bool) -> None:
    """A file whose first non-ASCII characters are UTF-8 and which later holds bytes that are not: two encodings."""
    if utf8_before:
        raise DataError(f"{path} mixes UTF-8 with another encoding: non-ASCII text before byte {position} is UTF-8, "
                        f"the byte at {position} is not. Re-encode the whole file as UTF-8 (the rows appended from "
                        "another source are usually the culprit), or set data.encoding to read it one way.",
                        file=str(path))


def _read_json(path: Path, encoding: str) -> pd.DataFrame:
    with _open_bytes(path) as fh:
        text = fh.read().decode(encoding)
    head = text[:4096].lstrip("\ufeff \t\r\n")
    lines = not head.startswith("[")
    # Values are kept as written: "02134" stays text, numbers are not turned into dates.
    try:
        frame = pd.read_json(io.StringIO(text), lines=lines, dtype=False)
    except (ValueError, TypeError):  # a line that is valid JSON but a number or a list raises TypeError
        if lines:
            _raise_bad_line(path, text)
        raise DataError(f"{path}: could not be read as JSON (an array of objects, or one object per line).",
                        file=str(path)) from None
    if lines:
        _refuse_repeated_keys(path, text)
    for col in frame.columns:
        # infer_dtype scans in C; only a column that is not plain text pays the per-value check
        if frame[col].dtype == object and pd.api.types.infer_dtype(frame[col], skipna=True) not in ("string", "empty"):
            nested = frame[col].map(lambda v: isinstance(v, (dict, list)))
            if nested.any():  # nested objects become their JSON text
                frame[col] = frame[col].where(~nested, frame[col][nested].map(json.dumps))
    return frame


def _raise_bad_line(path: Path, text: str) -> None:
    """Name the first line of a JSON Lines file that is not a JSON object."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}); fix or "
                            "remove that line.", file=str(path)) from None
        if not isinstance(value, dict):
            raise DataError(f"{path}: line {number} is a JSON {type(value).__name__}, not an object of column "
                            "values; every line must be one row like {\"a\": 1, \"b\": \"x\"}.", file=str(path))


def _refuse_repeated_keys(path: Path, text: str, max_lines: int = 1000) -> None:
    """A JSON Lines row naming a column twice (the first lines are checked): pandas would keep one silently."""
    def pairs(items):
        keys = [k for k, _ in items]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise DataError(f"{path}: line {number} names {', '.join(map(repr, repeated))} more than once; each "
                            "key may appear once per line. Fix the line (keep the value you mean).", file=str(path))
        return dict(items)

    for number, line in enumerate(text.splitlines()[:max_lines], start=1):
        if line.strip():
            json.loads(line, object_pairs_hook=pairs)


def _separator(path: Path, encoding: str) -> dict:
    """pandas options for the file's separator: ',' unless the header has none and another one is consistent."""
    if path.name.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz").endswith(".tsv"):
        return {"sep": "\t"}
    with _open_bytes(path) as fh:
        lines = io.TextIOWrapper(fh, encoding=encoding, newline="").read(64 * 1024).splitlines()[:20]
    first = lines[0] if lines else ""
    if "," in first:
        return {}
    if ";" in first:  # ';'-separated files come from locales that write decimal commas: 3,5 is 3.5.
        return {"sep": ";", "decimal": ","}
    try:
        return {"sep": csv.Sniffer().sniff("\n".join(lines), delimiters="|\t").delimiter}
    except csv.Error:
        return {}


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    options = _separator(path, encoding)
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding=encoding, **options)
    options["low_memory"] = False
    names = [str(v) for v in header.iloc[0]] if len(header) else []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: the header names these columns more than once: {', '.join(repeated)}. Column "
                        "names must be unique; rename the copies (or drop them) in the file.", file=str(path))
    return pd.read_csv(path, encoding=encoding, **options)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of the file's bytes, read in 1 MiB chunks; of a folder, of every file's relative path and bytes."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
