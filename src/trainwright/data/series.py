"""Time series from a table: a time column, a value column and, for many series, a series-id column.

Each series becomes regular steps on one time grid (``Grid``): months, quarters and years by the calendar,
anything shorter by a fixed step, plain numbers (years as 1700, 1701, ...) by their common difference. A
step that has no row, or a missing value, is filled by linear interpolation between its neighbours and
counted; two rows for one step of one series are refused. Positions on the grid (``ordinals``) are shared
by every series, so "before the cutoff" means the same moment for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.columns import require_columns
from trainwright.errors import DataError

__all__ = ["Series", "Panel", "Grid", "read_series"]

# A calendar step (months between rows) and the usual season of each kind of grid.
_CALENDAR = {1: ("month", 12), 3: ("quarter", 4), 12: ("year", 1)}
_FIXED_SEASONS = {3600: ("hour", 24), 86400: ("day", 7), 604800: ("week", 52)}


@dataclass(frozen=True)
class Grid:
    """How times map to integer positions: ``kind`` "months" (a calendar step of ``step`` months), "seconds"
    (a fixed step of ``step`` seconds) or "number" (plain numbers ``step`` apart), from ``anchor`` (position 0).

    Example:
        >>> g = Grid("months", 1, "1949-01-01")
        >>> g.ordinals(pd.Series(["1949-03-01", "1950-01-01"])).tolist(), g.time_of(14)
        ([2.0, 12.0], '1950-03-01')
    """

    kind: str
    step: float
    anchor: Any
    month_end: bool = False  # months: every time is the last day of its month (kept so, whatever the month)

    def _named(self) -> tuple[str, int]:
        table = _CALENDAR if self.kind == "months" else _FIXED_SEASONS if self.kind == "seconds" else {}
        return table.get(int(self.step), ("step", 1))

    @property
    def unit(self) -> str:
        """The step in words: month, quarter, year, hour, day, week, or "step"."""
        return self._named()[0]

    @property
    def season(self) -> int:
        """The usual season of this step (12 for months, 7 for days, ...; 1 when there is none)."""
        return self._named()[1]

    def ordinals(self, times: pd.Series) -> np.ndarray:
        """Position of each time on the grid (a float: not a whole number when a time is off the grid)."""
        if self.kind == "number":
            return (pd.to_numeric(times).to_numpy(float) - float(self.anchor)) / self.step
        t = _as_datetimes(times)
        a = pd.Timestamp(self.anchor)
        if self.kind == "months":
            months = (t.dt.year - a.year) * 12 + (t.dt.month - a.month)
            off_day = ~t.dt.is_month_end if self.month_end else (t.dt.day != a.day)
            return np.where(off_day, np.nan, months.to_numpy(float) / self.step)
        return (t - a).dt.total_seconds().to_numpy(float) / self.step

    def time_of(self, ordinal: int) -> Any:
        """The time at a grid position, as the file would write it (ISO date or time, or a number)."""
        if self.kind == "number":
            value = float(self.anchor) + ordinal * self.step
            return int(value) if float(value).is_integer() else value
        a = pd.Timestamp(self.anchor)
        if self.kind == "months":
            t = a + pd.DateOffset(months=int(ordinal * self.step))
            if self.month_end:
                t = t + pd.offsets.MonthEnd(0)
        else:
            t = a + pd.Timedelta(seconds=ordinal * self.step)
        return t.isoformat() if (t.hour, t.minute, t.second) != (0, 0, 0) else t.date().isoformat()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form saved with a forecasting run."""
        return {"kind": self.kind, "step": self.step, "anchor": self.anchor, "month_end": self.month_end}


@dataclass(frozen=True)
class Series:
    """One series on the grid: ``values[i]`` is at position ``start + i``; no gaps (filled steps counted)."""

    key: str | None
    start: int
    values: np.ndarray
    filled: int = 0

    @property
    def end(self) -> int:
        """The position after the last value."""
        return self.start + len(self.values)

    def before(self, cutoff: int) -> "Series":
        """The values at positions before ``cutoff`` (nothing at or after it)."""
        return Series(self.key, self.start, self.values[: max(0, cutoff - self.start)], self.filled)

    def between(self, first: int, stop: int) -> np.ndarray:
        """The values at positions ``first`` .. ``stop - 1`` that exist."""
        return self.values[max(0, first - self.start): max(0, stop - self.start)]


@dataclass(frozen=True)
class Panel:
    """Every series of a file on one grid, and what reading them changed (``notes``, for the cleaning log)."""

    series: tuple[Series, ...]
    grid: Grid
    series_column: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def end(self) -> int:
        """The position after the last value of any series."""
        return max(s.end for s in self.series)


def read_series(frame: pd.DataFrame, *, time: str, target: str, series_column: str | None = None,
                grid: Grid | None = None, file=None) -> Panel:
    """The series of ``frame``: one per ``series_column`` value (or one), regular steps on ``grid`` (inferred
    from the times when not given; a saved run passes its own so positions and seasons match training).

    Raises:
        DataError: a column is absent, a time is not a time, the steps are not regular, or two rows fall on
            one step of one series; each names the file, column and rows, and the fix.

    Example:
        >>> f = pd.DataFrame({"month": ["2020-01-01", "2020-02-01", "2020-04-01"], "sales": [1.0, 2.0, 4.0]})
        >>> p = read_series(f, time="month", target="sales")
        >>> p.grid.unit, p.series[0].values.tolist(), p.series[0].filled
        ('month', [1.0, 2.0, 3.0, 4.0], 1)
    """
    where = f"{file}: " if file else ""
    require_columns(frame, [c for c in (time, target, series_column) if c], what="column", file=file)
    frame = frame[frame[time].notna()]
    if frame.empty:
        raise DataError(f"{where}the time column '{time}' has no values; a forecast needs one time per row.",
                        column=time, file=None if file is None else str(file))
    values = pd.to_numeric(frame[target], errors="coerce")
    bad = frame[target].notna() & values.isna()
    if bad.any():
        raise DataError(f"{where}the value column '{target}' holds text that is not a number (e.g. "
                        f"{frame[target][bad].astype(str).iloc[0]!r} in file row {frame.index[bad][0]}); a forecast "
                        "predicts numbers. Fix those rows or choose another --target.", column=target,
                        file=None if file is None else str(file))
    grid = grid or infer_grid(frame[time], time, where)
    position = grid.ordinals(frame[time])
    whole = np.round(position)
    off = np.isnan(position) | (np.abs(position - whole) > 1e-6)
    if off.any():
        raise DataError(f"{where}the time '{frame[time][off].iloc[0]}' (file row {frame.index[off][0]}) of column "
                        f"'{time}' is not on the time grid (steps of {grid.step:g} {grid.kind} from {grid.anchor}); "
                        "a forecast needs regular steps. Resample the data to one row per step.",
                        column=time, file=None if file is None else str(file))
    keys = frame[series_column].astype(str) if series_column else pd.Series("", index=frame.index)
    out, notes = [], []
    for key in pd.unique(keys):
        mine = (keys == key).to_numpy()
        out.append(_one_series(None if series_column is None else key, whole[mine].astype(np.int64),
                               values.to_numpy(float)[mine], frame.index[mine], grid, time, where, notes))
    return Panel(tuple(out), grid, series_column, notes)


def infer_grid(times: pd.Series, column: str, where: str = "") -> Grid:
    """The grid of a time column: calendar months/quarters/years, a fixed step, or numbers a step apart."""
    if pd.api.types.is_numeric_dtype(times):
        t = np.sort(pd.unique(times.to_numpy(float)))
        steps = np.diff(t)
        if len(steps) == 0 or steps.min() <= 0:
            raise DataError(f"{where}the time column '{column}' needs at least two different times",
                            column=column)
        step = float(steps.min())  # the smallest difference: a missing step doubles some, never halves one
        anchor = float(t[0])
        return Grid("number", step, int(anchor) if anchor.is_integer() else anchor)
    parsed = _as_datetimes(times)
    if parsed.isna().any():
        bad = times[parsed.isna()].iloc[0]
        raise DataError(f"{where}'{bad}' in the time column '{column}' is not a date or time; write times as "
                        "2021-03-31 or 2021-03-31 14:00, or numbers (years as 1990).", column=column)
    t = np.sort(parsed.unique())
    if len(t) < 2:
        raise DataError(f"{where}the time column '{column}' needs at least two different times", column=column)
    days = float(np.diff(t).min() / np.timedelta64(1, "D"))  # the smallest: missing steps only lengthen some
    for months, low, high in ((1, 27, 32), (3, 85, 95), (12, 360, 370)):
        if low <= days <= high:
            first, stamps = pd.Timestamp(t[0]), pd.Series(t)
            grid = Grid("months", months, first.date().isoformat(), month_end=bool(stamps.dt.is_month_end.all()))
            position = grid.ordinals(stamps)
            if np.isfinite(position).all() and np.allclose(position, np.round(position)):
                return grid  # on the calendar; else a fixed step (every 28 or 30 days, say)
    seconds = round(days * 86400)
    return Grid("seconds", float(seconds), pd.Timestamp(t[0]).isoformat())


def _as_datetimes(times: pd.Series) -> pd.Series:
    from trainwright.data.dates import parse_dates

    return parse_dates(times).dt.tz_convert(None)


def _one_series(key, position: np.ndarray, values: np.ndarray, rows, grid: Grid, time: str, where: str,
                notes: list[str]) -> Series:
    order = np.argsort(position, kind="stable")
    position, values, rows = position[order], values[order], rows[order]
    twice = np.flatnonzero(np.diff(position) == 0)
    if twice.size:
        i = twice[0]
        named = f" of series '{key}'" if key is not None else ""
        raise DataError(f"{where}file rows {rows[i]} and {rows[i + 1]} are both at {grid.time_of(position[i])}"
                        f"{named} (column '{time}'); a series has one value per step. Add the series-id column "
                        "(forecast.series_column), or aggregate the rows first.", column=time)
    start = int(position[0])
    full = np.full(int(position[-1]) - start + 1, np.nan)
    full[position - start] = values
    known = np.flatnonzero(~np.isnan(full))
    if known.size == 0:
        named = f" in series '{key}'" if key is not None else ""
        raise DataError(f"{where}every value{named} is missing: a forecast needs values to start from.", column=time)
    start, full = start + int(known[0]), full[known[0]: known[-1] + 1]  # missing values at the ends: no step
    gaps = np.isnan(full)
    if gaps.sum() * 2 > len(full):
        named = f" of series '{key}'" if key is not None else ""
        raise DataError(f"{where}the times{named} in column '{time}' are not regular: on a step of one {grid.unit} "
                        f"({grid.step:g} {grid.kind}, the smallest difference between them) {int(gaps.sum())} of "
                        f"{len(full)} steps have no row. A forecast needs regular steps: resample the data to one row "
                        "per step.", column=time)
    if gaps.any():
        idx = np.arange(len(full))
        full[gaps] = np.interp(idx[gaps], idx[~gaps], full[~gaps])
        named = f"series '{key}': " if key is not None else ""
        notes.append(f"{named}{int(gaps.sum())} missing step(s) of {len(full)} filled by linear interpolation")
    return Series(key, start, full, int(gaps.sum()))
