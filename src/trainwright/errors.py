"""The error tree. Every error a user can cause is a ``TrainwrightError``.

Each subclass also inherits the builtin exception that fits, so code that
catches ``ValueError`` or ``FileNotFoundError`` keeps working. The CLI prints a
``TrainwrightError`` as one short message and exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "check_format_version",
    "TrainwrightError",
    "ConfigError",
    "DataError",
    "ExportError",
    "DataFileNotFoundError",
    "NotFittedError",
    "ArtifactError",
    "OutputError",
    "closest",
]


class TrainwrightError(Exception):
    """Base of every error caused by the user's input, config or artifacts; the CLI exits with ``exit_code``.

    Example:
        >>> issubclass(DataError, TrainwrightError), TrainwrightError.exit_code
        (True, 2)
    """

    exit_code = 2


class ConfigError(TrainwrightError, ValueError):
    """A recipe, a ``--set`` override or an argument is invalid.

    Args:
        message: what happened, what was expected and how to fix it.
        path: the dotted config path at fault, e.g. ``"model.num_leaves"``.

    Example:
        >>> err = ConfigError("model.num_leaves must be >= 2, got 1", path="model.num_leaves")
        >>> isinstance(err, ValueError), err.path
        (True, 'model.num_leaves')
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DataError(TrainwrightError, ValueError):
    """The data cannot be used as asked.

    Args:
        message: what happened and how to fix it.
        column: the column at fault, when there is one.
        file: the file at fault, when there is one.

    Example:
        >>> DataError("no such column", column="age", file="data.csv").column
        'age'
    """

    def __init__(self, message: str, *, column: str | None = None, file: str | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.file = file


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file does not exist (also a ``FileNotFoundError``)."""


class NotFittedError(TrainwrightError, AttributeError):
    """A learner or preprocessor was used before ``fit``.

    Example:
        >>> issubclass(NotFittedError, AttributeError)
        True
    """


class ArtifactError(TrainwrightError, ValueError):
    """A run directory or model file is missing, damaged or from an incompatible version.

    Example:
        >>> raise ArtifactError("runs/x is not a trainwright run directory (no run.json)")
        Traceback (most recent call last):
        ...
        trainwright.errors.ArtifactError: runs/x is not a trainwright run directory (no run.json)
    """


class ExportError(TrainwrightError, ValueError):
    """A run, or a step of it, that ``trainwright export`` cannot express in the requested format, or a graph that
    failed the parity gate; the message names the step and what to change."""


class OutputError(TrainwrightError, OSError):
    """An output (a run directory, a predictions file, a report) cannot be written where asked.

    Example:
        >>> issubclass(OutputError, OSError), str(OutputError("cannot write /x: permission denied"))
        (True, 'cannot write /x: permission denied')
    """


def check_format_version(data, expected: int, where: str, fix: str) -> None:
    """Raise ``ArtifactError`` unless the saved ``data`` (a dict read from JSON) has ``format_version == expected``.

    A value that is not a whole number is damage, not another version: the message says so.

    Example:
        >>> check_format_version({"format_version": "2"}, 2, "run.json", "train again")
        Traceback (most recent call last):
        ...
        trainwright.errors.ArtifactError: run.json is damaged: its format_version is '2', not a whole number; train again
    """
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(version, int) or isinstance(version, bool):
        raise ArtifactError(f"{where} is damaged: its format_version is {version!r}, not a whole number; {fix}")
    if version != expected:
        raise ArtifactError(f"{where} was written in format {version}; this trainwright reads format {expected}. {fix}")


def closest(name: str, choices) -> str | None:
    """Return the choice most similar to ``name``, or ``None`` when none is close.

    >>> closest("specis", ["species", "island"])
    'species'
    """
    import difflib

    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return lowered[name.lower()]
    found = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, choices) -> str:
    """A ``" Did you mean 'x'?"`` suffix, or an empty string."""
    match = closest(name, choices)
    return f" Did you mean '{match}'?" if match and match != name else ""
