"""The report's charts: valid inline SVG, self-contained, small, deterministic, with unique ids."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from trainwright.errors import ConfigError
from trainwright.report import charts
from trainwright.report.charts._render import _thin

SVG = "{http://www.w3.org/2000/svg}"
RNG = np.random.default_rng(0)
EPOCHS = list(range(1, 31))
TRAIN = [float(v) for v in np.exp(-np.arange(30) / 6) + 0.05]
VALID = [float(v) for v in np.exp(-np.arange(30) / 6) + 0.15 + np.maximum(0, np.arange(30) - 18) * 0.01]
METRICS = ["accuracy", "precision", "recall", "F1", "specificity"]


def _calls() -> dict:
    """One call per chart, with the texts it must show."""
    actual = RNG.normal(size=300)
    pred = actual + RNG.normal(scale=0.3, size=300)
    x = RNG.normal(size=(400, 4))
    feature_values = [[float(a), float(b), float(c), ["red", "blue", None][i % 3]] for i, (a, b, c, _) in enumerate(x)]
    grid = np.linspace(0, 1, 11)
    return {
        "learning_curves": (lambda: charts.learning_curves(
            {"train loss": {"x": EPOCHS, "y": TRAIN}, "validation loss": {"x": EPOCHS, "y": VALID}},
            x_label="epoch", y_label="cross-entropy", best=19, overfit_from=20),
            ["Learning curves", "epoch", "cross-entropy", "best: 19", "validation stops improving",
             "train loss", "validation loss"]),
        "lr_curve": (lambda: charts.lr_curve(EPOCHS, [0.1 * 0.8**e for e in EPOCHS]),
                     ["Learning-rate schedule", "epoch", "learning rate"]),
        "leaderboard_bars": (lambda: charts.leaderboard_bars(
            ["lightgbm", "mlp", "logistic", "forest"], [0.91, 0.86, None, 0.89], metric="accuracy", chosen="lightgbm"),
            ["Leaderboard", "accuracy (higher is better)", "lightgbm (chosen)", "failed", "0.91"]),
        "confusion_matrix": (lambda: charts.confusion_matrix(
            [[50, 2, 3], [4, 40, 1], [0, 5, 60]], ["Adelie", "Chinstrap", "Gentoo"], title="Confusion (test)"),
            ["Confusion (test)", "predicted class", "true class", "Chinstrap", "50", "60"]),
        "roc_curves": (lambda: charts.roc_curves([
            {"class": c, "fpr": list(grid), "tpr": list(grid ** (0.3 + 0.2 * i)), "auc": 0.93 - 0.1 * i}
            for i, c in enumerate(["Adelie", "Gentoo"])]),
            ["ROC curves", "false positive rate", "true positive rate", "Adelie (AUC 0.93)", "Gentoo (AUC 0.83)"]),
        "pr_curves": (lambda: charts.pr_curves([
            {"class": c, "recall": list(grid), "precision": list(1 - 0.6 * grid ** (2 - i)), "ap": 0.81,
             "prevalence": 0.2 + 0.1 * i} for i, c in enumerate(["yes", "no"])]),
            ["Precision-recall curves", "recall", "precision", "yes (AP 0.81)", "prevalence (no-skill baseline)"]),
        "reliability": (lambda: charts.reliability(
            [{"lo": i / 10, "hi": (i + 1) / 10, "mean_predicted": i / 10 + 0.05,
              "observed": (i / 10 + 0.05) ** 1.2, "count": 100 - 5 * i} for i in range(9)]
            + [{"lo": 0.9, "hi": 1.0, "mean_predicted": None, "observed": None, "count": 0}], ece=0.031),
            ["Calibration (ECE 0.031)", "mean predicted probability", "observed frequency", "rows",
             "perfectly calibrated"]),
        "threshold_curve": (lambda: charts.threshold_curve(
            {"threshold": list(grid), "precision": list(0.3 + 0.7 * grid), "recall": list(1 - grid**2), "f1": None},
            chosen=0.42),
            ["Precision, recall and F1 by threshold", "decision threshold", "score", "chosen: 0.42", "F1"]),
        "predicted_vs_actual": (lambda: charts.predicted_vs_actual(list(actual), list(pred)),
                                ["Predicted vs actual", "actual", "predicted", "predicted = actual"]),
        "residuals": (lambda: charts.residuals(list(pred), list(actual - pred),
                                               {"counts": [1, 5, 3], "edges": [-1.0, -0.3, 0.3, 1.0]}),
                      ["Residuals", "predicted", "residual (actual - predicted)", "rows"]),
        "importance_bars": (lambda: charts.importance_bars(
            [f"col{i}" for i in range(25)], [float(25 - i) for i in range(25)], [0.5] * 25, xlabel="loss increase"),
            ["Feature importance (top 20 of 25)", "loss increase", "col0", "col19"]),
        "shap_summary": (lambda: charts.shap_summary(["bill", "flipper", "mass", "island"],
                                                     (x * [1.0, 0.5, 0.2, 0.1]).tolist(), feature_values),
                         ["How each column moves the prediction (SHAP)", "SHAP value (effect on the prediction)",
                          "feature value (low → high)", "category or missing", "bill", "island"]),
        "waterfall": (lambda: charts.waterfall(
            0.3, [{"column": f"c{i}", "value": "Dream" if i == 0 else i / 4, "shap": 0.1 / (i + 1)} for i in range(14)],
            0.3 + sum(0.1 / (i + 1) for i in range(14)), space="log-odds"),
            ["log-odds", "c0 = Dream", "other 4 columns", "base 0.3"]),
        "partial_dependence": (lambda: charts.partial_dependence(
            {"column": "bill length", "kind": "numeric", "grid": list(grid), "average": list(grid**2),
             "ice": [list(grid**2 + k / 10) for k in range(5)]}),
            ["Partial dependence on bill length", "bill length", "average prediction", "one row (ICE)"]),
        "group_bars": (lambda: charts.group_bars(
            ["female", "male", "unknown"], {"accuracy": [0.9, 0.8, None], "recall": [0.85, 0.6, 0.7]},
            title="Fairness by sex", highlight=["male"]),
            ["Fairness by sex", "group", "value", "behind", "n/a", "accuracy", "recall"]),
        "radar": (lambda: charts.radar(
            {"lightgbm": dict(zip(METRICS, [0.9, 0.85, 0.8, 0.82, 0.95])),
             "mlp": dict(zip(METRICS, [0.86, 0.8, None, 0.8, 0.9]))}, METRICS, title="Models"),
            ["Models", "specificity", "lightgbm", "mlp", "No value, drawn at 0: mlp: recall"]),
        "overlaid_curves": (lambda: charts.overlaid_curves(
            {"run a": {"x": EPOCHS, "y": VALID}, "run b": {"x": EPOCHS, "y": [v * 1.1 for v in VALID]}},
            x_label="epoch", y_label="validation loss", title="Runs compared"),
            ["Runs compared", "epoch", "validation loss", "run a", "run b"]),
        "class_balance": (lambda: charts.class_balance(
            ["Adelie", "Chinstrap", "Gentoo"], {"train": [100, 50, 80], "validation": [20, 10, 17]}),
            ["Class balance across splits", "class", "share of the split's rows (%)", "train (230 rows)",
             "validation (47 rows)"]),
        "optimisation_history": (lambda: charts.optimisation_history(TRIALS, metric="rmse", minimize=True),
                                 ["Optimisation history", "trial", "rmse (lower is better)", "best so far",
                                  "pruned (stopped early)"]),
        "parallel_coordinates": (lambda: charts.parallel_coordinates(TRIALS, metric="rmse", minimize=True),
                                 ["Parallel coordinates (colour: rmse, darker is better)", "num_leaves", "extra_trees",
                                  "0.01", "0.05"]),  # finished trials only
        "trial_curves": (lambda: charts.trial_curves(TRIALS, minimize=True),
                         ["Trials as they trained", "iteration", "validation loss", "pruned trial", "finished trial"]),
        "forecast_plot": (lambda: charts.forecast_plot(FORECAST, level=0.9, title="passengers: the next 3 months"),
                          ["passengers: the next 3 months", "actual", "backtest forecasts", "90% interval", "forecast",
                           "forecast starts", "1949-01-01"]),
        "step_errors": (lambda: charts.step_errors({"gbdt": [0.5, 0.7, 0.9], "seasonal_naive": [1.0, 1.1, 1.2]},
                                                   unit="month"),
                        ["Backtest error by horizon step", "steps ahead (months)", "MASE", "gbdt", "seasonal_naive"]),
    }


# A forecast plot as a forecasting run's evaluation.json holds it (pipeline.forecast_outputs._plots).
FORECAST = {"history": {"x": list(range(12)), "y": [112.0, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118]},
            "windows": [{"cutoff": 6, "x": [6, 7, 8], "y": [140.0, 150, 138]},
                        {"cutoff": 9, "x": [9, 10, 11], "y": [125.0, 110, 115]}],
            "forecast": {"x": [12, 13, 14], "y": [120.0, 126, 140], "lower": [110.0, 112, 121],
                         "upper": [130.0, 140, 159]},
            "ticks": {str(p): f"1949-{p + 1:02d}-01" if p < 9 else f"1949-{p + 1}-01" for p in range(15)}}


# A study's trials as study.json holds them (search.study.study_summary).
TRIALS = [
    {"number": 0, "state": "complete", "value": 5.2, "params": {"model.learning_rate": 0.01, "model.num_leaves": 31,
     "model.extra_trees": False}, "intermediate": [[10, 6.0], [20, 5.5], [30, 5.2]], "reported": "loss"},
    {"number": 1, "state": "pruned", "value": None, "params": {"model.learning_rate": 0.3, "model.num_leaves": 8,
     "model.extra_trees": True}, "intermediate": [[10, 7.5]], "reported": "loss"},
    {"number": 2, "state": "complete", "value": 4.9, "params": {"model.learning_rate": 0.05, "model.num_leaves": 64,
     "model.extra_trees": True}, "intermediate": [[10, 5.8], [20, 5.0], [30, 4.9]], "reported": "loss"},
]


CALLS = _calls()


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {name: make() for name, (make, _) in CALLS.items()}


def texts(svg: str) -> list[str]:
    """The visible text of a chart (not the aria-label, which repeats the title)."""
    return ["".join(el.itertext()) for el in ET.fromstring(svg).iter(f"{SVG}text")]


def test_every_public_chart_is_covered():
    public = {n for n in charts.__all__ if callable(getattr(charts, n))}
    assert public == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_chart_is_self_contained_scalable_svg(rendered, name):
    svg = rendered[name]
    root = ET.fromstring(svg)  # valid XML
    assert svg.startswith("<svg") and root.tag == f"{SVG}svg"
    assert root.get("viewBox") and root.get("width") == "100%" and root.get("height") is None
    for bad in ("<?xml", "<!DOCTYPE", "<!--", "<metadata", "<script", "href=\"http", "@import", "font-face"):
        assert bad not in svg
    # every reference is internal ("#id") or an embedded image
    assert all(h.startswith(("#", "data:image/png;base64,")) for h in re.findall(r'href="([^"]*)"', svg))
    assert len(svg) < 150_000


@pytest.mark.parametrize("name", sorted(CALLS))
def test_chart_shows_title_labels_and_annotations(rendered, name):
    shown = texts(rendered[name])
    for expected in CALLS[name][1]:
        assert expected in shown, f"{expected!r} not among {shown}"


def test_ids_are_unique_across_a_page_and_every_reference_resolves(rendered):
    page = "".join(rendered.values())
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert ids and len(ids) == len(set(ids))
    for svg in rendered.values():
        own = set(re.findall(r'\sid="([^"]+)"', svg))
        assert set(re.findall(r'(?:url\(#|href="#)([^)"]+)', svg)) <= own


def test_same_chart_twice_in_a_page_with_other_data_gets_other_ids():
    a = charts.lr_curve([1, 2, 3], [0.1, 0.05, 0.01])
    b = charts.lr_curve([1, 2, 3], [0.1, 0.06, 0.01])
    assert not set(re.findall(r'\sid="([^"]+)"', a)) & set(re.findall(r'\sid="([^"]+)"', b))


def test_same_input_gives_the_same_bytes(rendered):
    assert charts.learning_curves(
        {"train loss": {"x": EPOCHS, "y": TRAIN}, "validation loss": {"x": EPOCHS, "y": VALID}},
        x_label="epoch", y_label="cross-entropy", best=19, overfit_from=20) == rendered["learning_curves"]
    make = CALLS["shap_summary"][0]  # rasterized points and a seeded beeswarm
    assert make() == rendered["shap_summary"]


def test_dense_scatter_is_one_embedded_image_and_stays_small():
    rng = np.random.default_rng(1)
    actual = rng.normal(size=100_000)
    svg = charts.predicted_vs_actual(actual.tolist(), (actual + rng.normal(scale=0.5, size=100_000)).tolist())
    assert len(svg) < 150_000
    assert svg.count("data:image/png;base64,") == 1
    small = charts.predicted_vs_actual([1.0, 2.0, 3.0], [1.1, 1.9, 3.2])
    assert "data:image/png" not in small  # a few points stay vector


def test_long_lines_are_thinned_but_keep_their_extremes():
    y = np.zeros(100_000)
    y[54_321] = 9.0  # one spike
    svg = charts.learning_curves({"loss": {"x": list(range(100_000)), "y": y.tolist()}})
    assert len(svg) < 150_000
    x, thin = _thin(np.arange(100_000.0), y)
    assert len(x) <= 2100 and thin.max() == 9.0


def test_wide_range_uses_log_scale_with_plain_labels():
    shown = texts(charts.lr_curve([1, 2, 3, 4], [1.0, 0.1, 0.01, 0.001]))
    assert "0.001" in shown and not any("$" in t or "mathdefault" in t for t in shown)
    assert "0.07" in texts(charts.lr_curve([1, 2, 3], [0.1, 0.08, 0.05]))  # linear: ticks between decades


def test_user_text_is_escaped_and_never_mathtext():
    svg = charts.learning_curves({"a": {"x": [1, 2], "y": [1, 2]}}, title='Cost in $ <b>"bold"</b> & co')
    assert 'Cost in $ <b>"bold"</b> & co' in texts(svg)


def test_leaderboard_ranks_best_first():
    shown = texts(charts.leaderboard_bars(["a", "b", "c"], [0.3, 0.1, 0.2], metric="log loss",
                                          lower_is_better=True, chosen="b"))
    names = [t for t in shown if t in ("a", "b (chosen)", "c")]
    assert names == ["b (chosen)", "c", "a"]
    assert "log loss (lower is better)" in shown


def test_confusion_matrix_writes_counts_or_shares_and_scales_to_30_classes():
    assert "0.75" in texts(charts.confusion_matrix([[0.75, 0.25], [0.1, 0.9]], ["no", "yes"], normalized=True))
    labels = [f"class {i}" for i in range(30)]
    matrix = np.random.default_rng(2).integers(1, 99, (30, 30))  # no zero: every cell written
    svg = charts.confusion_matrix(matrix.tolist(), labels, normalized=False)
    assert len(svg) < 150_000
    shown = texts(svg)
    assert "class 29" in shown and str(matrix[7, 3]) in shown


def test_radar_without_missing_values_has_no_note():
    shown = texts(charts.radar({"m": dict(zip(METRICS, [0.9] * 5))}, METRICS))
    assert not any("drawn at 0" in t for t in shown)


def test_partial_dependence_multiclass_and_categorical():
    shown = texts(charts.partial_dependence({"column": "island", "kind": "categorical", "grid": ["Biscoe", "Dream"],
                                             "average": {"Adelie": [0.2, 0.5], "Gentoo": [0.8, 0.5]}}))
    assert {"Biscoe", "Dream", "Adelie", "Gentoo", "average predicted probability"} <= set(shown)
    with pytest.raises(ConfigError, match="kind"):
        charts.partial_dependence({"column": "x", "kind": "ordinal", "grid": [1], "average": [1]})


@pytest.mark.parametrize("call, message", [
    (lambda: charts.lr_curve([1, 2, 3], [0.1, 0.2]), "x and lr must have the same length"),
    (lambda: charts.predicted_vs_actual([1.0], ["high"]), "predicted must hold numbers"),
    (lambda: charts.confusion_matrix([[1, 2]], ["a", "b"]), "must be 2 x 2"),
    (lambda: charts.residuals([1.0], [0.1], {"counts": [1, 2], "edges": [0, 1]}), "one longer than counts"),
    (lambda: charts.learning_curves({"loss": [1, 2]}), "series\\['loss'\\] must be a dict"),
    (lambda: charts.shap_summary(["a", "b"], [[0.1, 0.2, 0.3]], [[1, 2]]), "rows x 2 columns"),
])
def test_bad_input_names_the_parameter(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_attribution_summary_names_its_method():
    shown = texts(charts.shap_summary(["a"], [[0.1], [-0.2]], [[1.0], [2.0]], method="integrated gradients"))
    assert "How each column moves the prediction (integrated gradients)" in shown
    assert "integrated gradients value (effect on the prediction)" in shown
