"""Reading tables: CSV, Parquet and JSON Lines, with errors that name the file and the fix."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from trainwright.errors import DataError, DataFileNotFoundError

__all__ = ["FORMATS", "detect_format", "detect_encoding", "read_table", "file_sha256"]

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
    path = _existing(Path(path))
    fmt = detect_format(path, fmt)
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
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
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
    return frame


def _existing(path: Path) -> Path:
    if not path.exists():
        near = sorted(p.name for p in path.parent.glob("*") if p.suffix.lower() in FORMATS)[:10] if path.parent.is_dir() else []
        hint = f" Data files in {path.parent}: {', '.join(near)}." if near else ""
        raise DataFileNotFoundError(f"{path}: no such file.{hint}", file=str(path))
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV, Parquet or JSON Lines file.", file=str(path))
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
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, f"byte-order mark of {name.upper()}"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8", "every byte is valid UTF-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_path

    matches = from_path(path)
    best = matches.best()
    if best is not None:  # among equally likely readings, prefer the common Western ones
        best = next((m for pref in _PREFERRED for m in matches if m.encoding == pref and m.chaos <= best.chaos), best)
    if best is None:
        raise DataError(f"{path}: the text encoding could not be detected (it is not UTF-8). Re-encode the file as "
                        "UTF-8, or name its encoding with --set data.encoding=latin-1 (or cp1252, utf-16, ...).",
                        file=str(path))
    return best.encoding, f"not UTF-8; charset-normalizer reads it as {best.encoding}"


def _read_json(path: Path, encoding: str) -> pd.DataFrame:
    text = path.read_text(encoding=encoding)
    head = text[:4096].lstrip("\ufeff \t\r\n")
    lines = not head.startswith("[")
    # Values are kept as written: "02134" stays text, numbers are not turned into dates.
    try:
        frame = pd.read_json(io.StringIO(text), lines=lines, dtype=False)
    except ValueError:
        if lines:
            _raise_bad_line(path, text)
        raise
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


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    if path.suffix.lower() == ".tsv":
        options = {"sep": "\t"}
    else:
        with path.open(encoding=encoding, newline="") as fh:
            first = fh.readline()
        if "," not in first and ";" in first:
            # ';'-separated files come from locales that write decimal commas: 3,5 is 3.5.
            options = {"sep": ";", "decimal": ","}
        elif "," not in first and any(s in first for s in ("|", "\t")):
            options = {"sep": None, "engine": "python"}  # no comma in the header: pandas sniffs '|' or tab
        else:
            options = {}
    if options.get("engine") != "python":
        options["low_memory"] = False
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding=encoding,
                         **{k: v for k, v in options.items() if k != "low_memory"})
    names = [str(v) for v in header.iloc[0]] if len(header) else []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: the header names these columns more than once: {', '.join(repeated)}. Column "
                        "names must be unique; rename the copies (or drop them) in the file.", file=str(path))
    return pd.read_csv(path, encoding=encoding, **options)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
