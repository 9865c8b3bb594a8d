"""Rolling-origin backtests: nothing fitted sees a step at or after its window's cutoff; the metrics and the
conformal intervals are what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainwright.data.series import Series, read_series
from trainwright.evaluate.backtest import Record, backtest, coverage, cutoffs, interval_quantiles, mase_scale, score
from trainwright.models.series import BoostedForecaster, SeasonalNaive


class Spy(SeasonalNaive):
    """Seasonal naive that remembers the last position of every series it was fitted on and asked about."""

    seen: list = []  # noqa: RUF012  (reset by each test)

    def fit(self, series, *, deadline=None):
        Spy.seen.append(max(s.end for s in series) - 1)
        return self

    def forecast(self, series, steps):
        Spy.seen.append(max(s.end for s in series) - 1)
        return super().forecast(series, steps)


@pytest.fixture(scope="module")
def sunspots(series_dir):
    return read_series(pd.read_csv(series_dir / "sunspots.csv"), time="YEAR", target="SUNACTIVITY")


@pytest.mark.parametrize("gap", [0, 3])
def test_a_window_sees_nothing_at_or_after_its_cutoff_minus_the_gap(sunspots, gap):
    Spy.seen = []
    cuts = cutoffs(sunspots.end, 10, 4, 10, 100)
    backtest(lambda: Spy(season=1, horizon=10 + gap), list(sunspots.series), horizon=10, season=1, cuts=cuts, gap=gap)
    last_seen = Spy.seen[::2]  # fit, forecast, fit, forecast, ... (the latest window first)
    assert last_seen == Spy.seen[1::2] == [c - gap - 1 for c in reversed(cuts)]


def test_changing_the_future_changes_no_earlier_window_of_a_learned_forecaster(sunspots):
    """The real gbdt forecaster: values from the second cutoff on are replaced; the first window's forecast and
    MASE scale stay bit for bit the same, the later ones change."""
    (s,) = sunspots.series
    cuts = cutoffs(sunspots.end, 10, 3, 10, 100)
    changed = s.values.copy()
    changed[cuts[1] - s.start:] *= 3.0
    def make():
        return BoostedForecaster(season=1, horizon=10, seed=0)

    before = backtest(make, [s], horizon=10, season=1, cuts=cuts)
    after = backtest(make, [Series(None, s.start, changed)], horizon=10, season=1, cuts=cuts)
    assert np.array_equal(before[0].forecast, after[0].forecast) and before[0].scale == after[0].scale
    assert not np.array_equal(before[2].forecast, after[2].forecast)


def test_under_a_deadline_the_most_recent_windows_are_the_ones_kept(sunspots):
    import time

    class Slow(Spy):
        def fit(self, series, *, deadline=None):
            time.sleep(0.2)
            return self

    cuts = cutoffs(sunspots.end, 10, 4, 10, 100)
    records = backtest(lambda: Slow(season=1, horizon=10), list(sunspots.series), horizon=10, season=1, cuts=cuts,
                       deadline=time.monotonic() + 0.3)
    assert [r.cutoff for r in records] == cuts[-2:]  # two windows started before the deadline: the last two
    assert score(records, 10)["windows"] == 2


def test_sliding_windows_fit_on_the_last_steps_only(sunspots):
    Spy.seen, sizes = [], []

    class Sized(Spy):
        def fit(self, series, *, deadline=None):
            sizes.append(len(series[0].values))
            return self

    cuts = cutoffs(sunspots.end, 5, 3, 5, 100)
    backtest(lambda: Sized(season=1, horizon=5), list(sunspots.series), horizon=5, season=1, cuts=cuts, length=40)
    assert sizes == [40, 40, 40]


def test_the_metrics_by_hand():
    train = np.array([10.0, 12.0, 11.0, 13.0])  # seasonal naive (m=1) in-sample error: mean(2, 1, 2) = 5/3
    assert mase_scale(train, 1) == pytest.approx(5 / 3)
    r = Record(4, None, np.array([12.0, 14.0]), np.array([13.0, 11.0]), mase_scale(train, 1))
    s = score([r], 2)
    assert s["mase"] == pytest.approx((1 + 3) / 2 / (5 / 3))
    assert s["smape"] == pytest.approx((200 * 1 / 25 + 200 * 3 / 25) / 2)
    assert s["rmse"] == pytest.approx(np.sqrt((1 + 9) / 2))
    assert s["per_step"]["mase"] == pytest.approx([1 / (5 / 3), 3 / (5 / 3)])


def test_seasonal_naive_is_exact_on_a_purely_seasonal_series():
    values = np.tile([1.0, 5.0, 3.0, 2.0], 10)
    cuts = cutoffs(40, 4, 3, 4, 12)
    records = backtest(lambda: SeasonalNaive(season=4, horizon=4), [Series(None, 0, values)], horizon=4, season=4,
                       cuts=cuts)
    assert score(records, 4)["rmse"] == 0.0


def test_interval_coverage_uses_only_earlier_windows():
    """Three windows with growing errors: window 2 is judged by window 1's errors, window 3 by windows 1 and 2;
    a huge error in the last window changes no earlier judgement."""
    def records(last_error):
        return [Record(c, None, np.zeros(1), np.array([e]), 1.0) for c, e in ((1, 1.0), (2, 0.5), (3, last_error))]

    small, huge = coverage(records(0.8), 1, 0.9), coverage(records(100.0), 1, 0.9)
    assert (small["covered"], small["scored"]) == (2, 2)
    assert (huge["covered"], huge["scored"]) == (1, 2)
    assert interval_quantiles(records(0.8)[:2], 1, 0.9) == [1.0]
