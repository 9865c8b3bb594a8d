"""Columns named by the user that the data lacks: one message, everywhere.

Every command and stage that names a column (the target, sensitive columns, columns to drop, the group or
time column of a split, lag columns, the columns a model needs) checks it here, so the error always names
the file, the column, the closest existing column and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trainwright.errors import ConfigError, DataError, closest

__all__ = ["missing_columns", "require_columns", "require_column"]

_LISTED = 40  # columns listed in a message


def missing_columns(names: Sequence[str], columns: Iterable, *, what: str = "column", file=None,
                    setting: str | None = None, fix: str = "") -> DataError | ConfigError:
    """The error for ``names`` that are not among ``columns``.

    Args:
        names: the absent columns, in the order the user gave them.
        columns: the columns the data has.
        what: what the user called them ("target column", "sensitive column").
        file: the data file, named first in the message.
        setting: the recipe setting that named them; the error is then a ``ConfigError`` at that path.
        fix: a sentence saying how to fix it.

    Example:
        >>> str(missing_columns(["specis"], ["species", "island"], what="target column", file="p.csv"))
        "p.csv: target column 'specis' not found. Did you mean 'species'? Columns: species, island."
    """
    columns = [str(c) for c in columns]
    quoted = ", ".join(f"'{n}'" for n in names)
    hints = [f"'{match}' for '{n}'" if len(names) > 1 else f"'{match}'"
             for n in names[:3] if (match := closest(str(n), columns)) and match != n]
    listed = ", ".join(columns[:_LISTED]) + (f" (and {len(columns) - _LISTED} more)" if len(columns) > _LISTED else "")
    where = f"{file}: " if file else ""
    source = f"{setting} names " if setting else ""
    plural = "s" if len(names) > 1 else ""
    message = (f"{where}{source}{what}{plural} {quoted} not found." + (f" Did you mean {', '.join(hints)}?" if hints else "")
               + f" Columns: {listed}." + (f" {fix}" if fix else ""))
    if setting:
        return ConfigError(message, path=setting)
    return DataError(message, column=str(names[0]), file=None if file is None else str(file))


def require_columns(frame, names: Iterable[str], **kwargs) -> None:
    """Raise ``missing_columns(...)`` for the ``names`` that ``frame`` lacks (in the order given).

    Example:
        >>> import pandas as pd
        >>> require_columns(pd.DataFrame({"a": [1]}), ["a"])
    """
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise missing_columns(absent, frame.columns, **kwargs)


def require_column(frame, name: str, **kwargs) -> None:
    """``require_columns`` for one column."""
    require_columns(frame, [name], **kwargs)
