"""The forecasters on real series: seasonal naive, exponential smoothing (against statsmodels itself), the
gradient-boosted forecaster in both strategies, and saving without pickle."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from trainwright.data.series import Series, read_series
from trainwright.evaluate.backtest import backtest, cutoffs, score
from trainwright.models.series import (FORECASTER_CLASSES, BoostedForecaster, ExponentialSmoothing,
                                       RecurrentForecaster, SeasonalNaive, load_forecaster)


@pytest.fixture(scope="module")
def nino(series_dir):
    return read_series(pd.read_csv(series_dir / "elnino.csv"), time="month", target="temperature")


def test_seasonal_naive_repeats_the_last_season():
    s = Series(None, 0, np.arange(1.0, 9.0))
    assert SeasonalNaive(season=4).forecast([s], 6).tolist() == [[5.0, 6.0, 7.0, 8.0, 5.0, 6.0]]
    assert SeasonalNaive(season=12).forecast([s], 2).tolist() == [[8.0, 8.0]]  # shorter than a season: naive


def test_exponential_smoothing_is_statsmodels_with_the_lowest_aicc(nino):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing as HoltWinters

    y = nino.series[0].values[:240]
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for trend in (None, "add"):
            for seasonal in (None, "add", "mul"):
                fits.append(HoltWinters(y, trend=trend, damped_trend=trend is not None, seasonal=seasonal,
                                        seasonal_periods=12 if seasonal else None,
                                        initialization_method="estimated").fit())
    best = min(fits, key=lambda f: f.aicc)
    ours = ExponentialSmoothing(season=12).forecast([Series(None, 0, y)], 12)[0]
    np.testing.assert_allclose(ours, best.forecast(12), rtol=1e-9)


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_gbdt_beats_seasonal_naive_on_sunspots_and_saves_without_pickle(series_dir, strategy, tmp_path):
    panel = read_series(pd.read_csv(series_dir / "sunspots.csv"), time="YEAR", target="SUNACTIVITY")
    cuts = cutoffs(panel.end, 10, 3, 10, 150)
    series = list(panel.series)
    learned = score(backtest(lambda: BoostedForecaster(horizon=10, strategy=strategy), series, horizon=10, season=1,
                             cuts=cuts), 10)
    naive = score(backtest(lambda: SeasonalNaive(horizon=10), series, horizon=10, season=1, cuts=cuts), 10)
    assert learned["mase"] < 0.8 * naive["mase"], (learned["mase"], naive["mase"])
    fitted = BoostedForecaster(horizon=10, strategy=strategy).fit(series)
    state = fitted.save(tmp_path)
    assert sorted(p.name for p in (tmp_path / "gbdt").iterdir()) == ["learner.json", "model.txt"]
    again = load_forecaster(state, tmp_path)
    assert np.array_equal(again.forecast(series, 10), fitted.forecast(series, 10))


def test_a_direct_forecaster_refuses_more_steps_than_it_learned(nino):
    f = BoostedForecaster(season=12, horizon=3, strategy="direct").fit(list(nino.series))
    with pytest.raises(ValueError, match="learned 3 steps"):
        f.forecast(list(nino.series), 4)


def test_every_forecaster_forecasts_many_series_at_once(series_dir):
    panel = read_series(pd.read_csv(series_dir / "macro.csv"), time="quarter_start", target="value",
                        series_column="series")
    series = [s.before(180) for s in panel.series]
    for name, cls in FORECASTER_CLASSES.items():
        out = cls(season=4, horizon=4).fit(series).forecast(series, 4)
        assert out.shape == (4, 4) and np.isfinite(out).all(), name


def test_the_combined_backtest_is_the_backtest_of_the_combined_forecaster(nino, tmp_path):
    """Averaging the members' window forecasts gives what fitting the combination per window gives, so its
    backtest needs no fitting of its own; saved and loaded, it forecasts the same."""
    from trainwright.models.series import Combined

    series, cuts = list(nino.series), cutoffs(nino.end, 12, 2, 12, 400)
    ets = backtest(lambda: ExponentialSmoothing(season=12, horizon=12), series, horizon=12, season=12, cuts=cuts)
    gbdt = backtest(lambda: BoostedForecaster(season=12, horizon=12), series, horizon=12, season=12, cuts=cuts)
    direct = backtest(lambda: Combined.from_config(season=12, horizon=12), series, horizon=12, season=12, cuts=cuts)
    averaged = Combined.backtest_from([ets, gbdt])
    assert [r.cutoff for r in averaged] == cuts
    for a, d in zip(averaged, direct):
        np.testing.assert_allclose(a.forecast, d.forecast, rtol=1e-12)
    fitted = Combined.from_config(season=12, horizon=12).fit(series)
    state = fitted.save(tmp_path)
    assert np.array_equal(load_forecaster(state, tmp_path).forecast(series, 12), fitted.forecast(series, 12))


def test_the_gru_forecaster_beats_seasonal_naive_on_sunspots_and_saves_without_pickle(series_dir, tmp_path):
    panel = read_series(pd.read_csv(series_dir / "sunspots.csv"), time="YEAR", target="SUNACTIVITY")
    series, cuts = list(panel.series), cutoffs(panel.end, 10, 3, 10, 150)
    gru = score(backtest(lambda: RecurrentForecaster(horizon=10), series, horizon=10, season=1, cuts=cuts), 10)
    naive = score(backtest(lambda: SeasonalNaive(horizon=10), series, horizon=10, season=1, cuts=cuts), 10)
    assert gru["mase"] < 0.8 * naive["mase"], (gru["mase"], naive["mase"])
    fitted = RecurrentForecaster(horizon=10).fit(series)
    assert fitted.learner_.channels == 1 and fitted.learner_.length_ == fitted.lags_  # the window, one value a step
    state = fitted.save(tmp_path)
    assert sorted(p.name for p in (tmp_path / "gru").iterdir()) == ["learner.json", "weights.safetensors"]
    again = load_forecaster(state, tmp_path)
    assert np.array_equal(again.forecast(series, 10), fitted.forecast(series, 10))
    quarterly = read_series(pd.read_csv(series_dir / "macro.csv"), time="quarter_start", target="value",
                            series_column="series")
    seasonal = RecurrentForecaster(season=4, horizon=4).fit(list(quarterly.series))
    assert seasonal.learner_.channels == 3  # with a season: the value, and the sine and cosine of its phase
