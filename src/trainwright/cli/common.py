"""What the commands share: the console, the progress reporter, output-file checks and writing tables."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

__all__ = ["console", "RichReporter", "refuse_overwrite", "table_format", "write_table", "fmt"]


def console(stderr: bool = False):
    """A rich console (no highlighting, soft wrap)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class RichReporter:
    """Shows a spinner while a stage runs and a check mark with its time when it ends; decisions,
    candidates, audit findings and the like as dim lines."""

    SHOWN = ("decision", "audit", "balance", "fit", "report", "warning")

    def __init__(self) -> None:
        self.console = console(stderr=True)

    @contextlib.contextmanager
    def stage(self, name: str):
        import time

        t0 = time.monotonic()
        with self.console.status(f"[bold]{name}[/]..."):
            yield
        self.console.print(f"[green]✓[/] {name:<9} {time.monotonic() - t0:6.2f}s")

    def info(self, message: str) -> None:
        self.event(message, "")

    def event(self, message: str, kind: str) -> None:
        if kind in self.SHOWN:
            self.console.print(f"  [dim]{message}[/]")


def refuse_overwrite(paths: list[Path], force: bool) -> None:
    """Output files must go into an existing folder, and never replace a file without ``--force``."""
    from trainwright.errors import DataError

    from trainwright.runs.layout import check_output

    for path in paths:
        if not path.parent.resolve().is_dir():
            raise DataError(f"cannot write {path}: the folder {path.parent} does not exist; create it first.",
                            file=str(path))
        check_output(path, what="the output")
        if path.exists() and not force:
            raise DataError(f"{path} already exists; choose another file or pass --force to replace it.", file=str(path))
        if path.exists() and not path.is_file():
            raise DataError(f"{path} exists and is not a regular file (a folder, device or pipe); --force replaces "
                            "only files. Choose another output path.", file=str(path))


def table_format(out: Path) -> tuple[str, str]:
    """(format, CSV separator) of a table to write at ``out``, from its extension; compressed names are refused
    (checked before any work, so a typo costs nothing)."""
    from trainwright.data.sources import detect_format
    from trainwright.errors import DataError

    suffixes = [s.lower() for s in out.suffixes]
    if set(suffixes) & {".gz", ".bz2", ".xz", ".zip"}:
        raise DataError(f"{out}: trainwright writes tables uncompressed; name the file .csv, .tsv, .parquet or "
                        ".jsonl (compress it afterwards if you need to).", file=str(out))
    return detect_format(out), "\t" if suffixes[-1:] == [".tsv"] else ","


def write_table(frame, out: Path, *, force: bool = False) -> None:
    """Write a DataFrame as CSV, Parquet or JSON Lines (by extension), atomically (``runs.store``); without
    ``force`` the file is created exclusively, so of two commands writing it at once exactly one succeeds."""
    import io

    from trainwright.errors import DataError
    from trainwright.runs import store

    fmt, sep = table_format(out)
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    elif fmt == "jsonl":
        data = frame.to_json(orient="records", lines=True).encode("utf-8")
    else:
        data = frame.to_csv(index=False, sep=sep).encode("utf-8")

    try:
        store.write_bytes(out, data, exclusive=not force)
    except FileExistsError:
        raise DataError(f"{out} was written by another command meanwhile; choose another file or pass --force to "
                        "replace it.", file=str(out)) from None


def fmt(value) -> str:
    """A metric for a table: 4 decimals, or n/a."""
    return "n/a" if value is None else f"{value:.4f}"


def say(message: str) -> None:
    """A line on stderr (what was written, and where)."""
    print(message, file=sys.stderr)
