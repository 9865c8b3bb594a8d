"""Reading time series from a table: the time grid, filled steps, and clear errors for what cannot be a series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainwright.data.series import Grid, read_series
from trainwright.errors import DataError


def test_weekly_co2_is_one_regular_series_with_its_missing_weeks_filled(series_dir):
    frame = pd.read_csv(series_dir / "co2.csv")
    panel = read_series(frame, time="week", target="co2")
    (s,) = panel.series
    assert panel.grid.unit == "week" and panel.grid.season == 52
    assert len(s.values) == len(frame) and s.filled == int(frame["co2"].isna().sum()) == 59
    assert not np.isnan(s.values).any()
    known = frame["co2"].notna().to_numpy()
    assert np.array_equal(s.values[known], frame["co2"].to_numpy()[known])  # only the gaps were touched
    assert panel.notes == ["59 missing step(s) of 2284 filled by linear interpolation"]
    assert panel.grid.time_of(s.end - 1) == frame["week"].iloc[-1]


def test_yearly_numbers_and_monthly_dates(series_dir):
    sun = read_series(pd.read_csv(series_dir / "sunspots.csv"), time="YEAR", target="SUNACTIVITY")
    assert (sun.grid.kind, sun.grid.step, sun.grid.season) == ("number", 1.0, 1)
    assert sun.grid.time_of(sun.end) == 2009  # the year after the last one
    nino = read_series(pd.read_csv(series_dir / "elnino.csv"), time="month", target="temperature")
    assert nino.grid.unit == "month" and nino.grid.season == 12 and len(nino.series[0].values) == 61 * 12
    assert nino.grid.time_of(nino.end) == "2011-01-01"


def test_month_end_dates_and_quarters_stay_on_their_calendar():
    ends = pd.DataFrame({"t": ["2020-01-31", "2020-02-29", "2020-03-31"], "y": [1.0, 2.0, 3.0]})
    p = read_series(ends, time="t", target="y")
    assert p.grid.time_of(p.end) == "2020-04-30"
    quarters = pd.DataFrame({"t": ["2020-01-01", "2020-04-01", "2020-10-01"], "y": [1.0, 2.0, 4.0]})
    q = read_series(quarters, time="t", target="y")
    assert q.grid.unit == "quarter" and q.series[0].values.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_many_series_share_one_grid(series_dir):
    panel = read_series(pd.read_csv(series_dir / "macro.csv"), time="quarter_start", target="value",
                        series_column="series")
    assert [s.key for s in panel.series] == ["realgdp", "realcons", "realinv", "realgovt"]
    assert {s.start for s in panel.series} == {0} and {len(s.values) for s in panel.series} == {203}


def test_a_saved_grid_reads_new_history_at_the_same_positions():
    grid = Grid("months", 1, "1949-01-01")
    later = pd.DataFrame({"m": ["1950-01-01", "1950-02-01"], "y": [1.0, 2.0]})
    assert read_series(later, time="m", target="y", grid=grid).series[0].start == 12


@pytest.mark.parametrize("frame, words", [
    (pd.DataFrame({"t": ["2020-01-01", "2020-01-01", "2020-02-01"], "y": [1, 2, 3]}), ["file rows 0 and 1", "2020-01-01",
                                                                                      "forecast.series_column"]),
    (pd.DataFrame({"t": ["2020-01-01", "soon", "2020-02-01"], "y": [1, 2, 3]}), ["'soon'", "'t'", "not a date"]),
    (pd.DataFrame({"t": [1.0, 2.0, 2.5, 4.0, 7.0], "y": [1, 2, 3, 4, 5]}), ["not regular", "8 of 13 steps",
                                                                           "resample"]),
    (pd.DataFrame({"t": ["2020-01-01", "2020-02-01", "2020-02-15", "2020-04-01"], "y": [1, 2, 3, 4]}),
     ["2020-02-01", "file row 1", "not on the time grid", "Resample"]),
    (pd.DataFrame({"t": [1, 2, 3], "y": [1, "many", 3]}), ["'y'", "'many'", "not a number"]),
    (pd.DataFrame({"t": [1, 2, 3], "y": [None, None, None]}), ["every value is missing"]),
])
def test_what_cannot_be_a_series_is_refused_naming_the_rows(frame, words):
    with pytest.raises(DataError) as err:
        read_series(frame, time="t", target="y", file="sales.csv")
    message = str(err.value)
    assert message.startswith("sales.csv: ") and all(w in message for w in words), message


def test_a_misspelt_column_gets_a_suggestion():
    with pytest.raises(DataError, match="Did you mean 'month'"):
        read_series(pd.DataFrame({"month": [1, 2], "y": [1, 2]}), time="mnth", target="y")
