"""HTML from an evaluation: charts drawn as inline SVG, one self-contained file.

No script, no font or image is fetched: the page reads the same offline, in a
mail attachment or years later. ``render_report`` works from ``evaluation.json``
alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["render_report", "rebuild_report", "environment", "format_number"]

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
LABELS = {
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "f1": "F1 (macro)", "roc_auc": "ROC-AUC",
    "log_loss": "Log loss", "rmse": "RMSE", "mae": "MAE", "r2": "R²", "mape": "MAPE (fraction)",
}
# Names in the metric tables: say which average a metric is, so "f1" never means two things on one page.
TABLE_NAMES = {
    "precision": "precision (macro)", "recall": "recall (macro)", "f1": "f1 (macro)", "specificity": "specificity (macro)",
    "roc_auc": "roc_auc (one-vs-rest macro)", "pr_auc": "pr_auc (one-vs-rest macro)", "ece": "ece (top label)",
    "mape": "mape (fraction of |actual|)", "r2": "r²",
}
BINARY_TABLE_NAMES = {"roc_auc": "roc_auc", "pr_auc": "pr_auc (positive class)"}


def format_number(value: Any, digits: int = 4) -> str:
    """Numbers to ``digits`` significant digits; None/NaN as an en dash; anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "–"
        if value != 0 and (abs(value) >= 1e12 or abs(value) < 10 ** -(digits + 1)):
            return f"{value:.{digits - 1}e}"
        if abs(value) >= 10 ** digits:
            return f"{value:,.0f}"  # 3,712 rather than 3.71e+03
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def _bytes(value) -> str:
    if value is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def environment():
    """The Jinja2 environment of the report templates (autoescaping on)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("trainwright.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.ChainableUndefined)
    env.filters["num"] = format_number
    env.filters["bytes"] = _bytes
    env.filters["metric_name"] = lambda name, n_classes=None: (
        BINARY_TABLE_NAMES.get(name) if n_classes == 2 and name in BINARY_TABLE_NAMES else TABLE_NAMES.get(name, name))
    return env


def _css() -> str:
    from importlib import resources

    return (resources.files("trainwright.report") / "templates" / "base.css").read_text(encoding="utf-8")


def render_report(ev: dict[str, Any]) -> str:
    """The report page of one run, from its evaluation."""
    from markupsafe import Markup

    if ev.get("task") == "forecast":
        from trainwright.report.forecast import render_forecast

        return render_forecast(ev, environment=environment(), css=Markup(_css()), version=_version())

    charts = {k: (Markup(v) if isinstance(v, str) else [Markup(x) for x in v] if isinstance(v, list) else v)
              for k, v in _charts(ev).items() if v}
    perf = ev["performance"]
    intervals = perf.get("intervals") or {}
    from trainwright.report.evaluation import HEADLINE

    headline = []
    for name in HEADLINE[ev["task"]]:
        value = perf["test"].get(name)
        if value is None:
            continue
        ci = intervals.get(name) or {}
        headline.append({"label": LABELS.get(name, name), "value": value, "low": ci.get("low"), "high": ci.get("high"),
                         "method": ci.get("method"), "degenerate": ci.get("degenerate")})
    audit = (ev.get("data_section") or {}).get("audit")
    if audit:
        for f in audit.get("findings", []):
            f["severity_rank"] = SEVERITY_RANK.get(f["severity"], 3)
    for col in ((ev.get("fairness") or {}).get("columns") or []):
        skip = {"group", "small", "by_class"}
        col["group_keys"] = [k for k in (col["groups"][0] if col["groups"] else {})
                             if k not in skip and any(g.get(k) is not None for g in col["groups"])]
        by_class = (col.get("differences") or {}).get("by_class") or {}
        col["by_class_keys"] = list(next(iter(by_class.values()), {}))
    splits = ev["data_section"]["splits"]
    threshold = ev.get("threshold") or {}
    goal = {"f1": "maximise F1", "precision": f"reach precision {threshold.get('target')}",
            "recall": f"reach recall {threshold.get('target')}"}.get(threshold.get("method"), "")
    return environment().get_template("report.html.j2").render(
        ev=ev, charts=charts, css=Markup(_css()), headline=headline,
        split_total=max(1, sum(splits.values())), metric_parts=[p for p in ("train", "validation", "test") if p in perf],
        learning_caption=_learning_caption(ev), repeats=_repeats(ev), threshold_goal=goal, version=_version(),
        example_caption=_example_caption,
        ensemble=any("weight" in c for c in ((ev.get("training") or {}).get("leaderboard") or {}).get("candidates", [])),
    )


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("trainwright")
    except metadata.PackageNotFoundError:
        return "unknown"


def _repeats(ev) -> Any:
    return ((ev.get("explanations") or {}).get("permutation") or {}).get("repeats", "several")


def _example_caption(att: dict[str, Any]) -> str:
    """Caption of a one-row explanation: which row, which class, with what probability, in which units."""
    ex = att.get("example") or {}
    text = f"One prediction explained: file row {ex.get('row')}"
    if ex.get("explained") is not None:
        text += f", class {ex['explained']}"
        if ex.get("probability") is not None:
            text += f" (probability {ex['probability']:.3f})"
    return text + f". Bars add up from the base value to the prediction, in {att.get('space')}."


def _learning_caption(ev: dict[str, Any]) -> str:
    h = (ev.get("training") or {}).get("history") or {}
    if not h.get("entries"):
        return "This model has no training curve."
    unit = h.get("iteration") or "iteration"
    if not h.get("learning_curve"):
        return f"The {h.get('model')} model's validation loss for each {unit} tried (x: candidate)."
    text = f"Training and validation loss per {unit}."
    if h.get("best") is not None:
        text += f" The model kept is from {unit} {h['best']} (best validation loss)."
    if h.get("overfitting_from") is not None:
        text += f" From {unit} {h['overfitting_from']} validation loss stopped improving while training loss fell: " \
                "that is where overfitting starts."
    return text


def _charts(ev: dict[str, Any]) -> dict[str, Any]:
    """Every chart of the report, as SVG strings (or lists of them)."""
    from trainwright.report import charts as ch

    out: dict[str, Any] = {}
    task, perf = ev["task"], ev["performance"]
    balance = (ev.get("data_section") or {}).get("class_balance")
    if balance:
        out["class_balance"] = ch.class_balance(balance["labels"], balance["counts"])
    out.update(_training_charts(ev))
    if task == "classification":
        labels = [str(c) for c in ev["classes"]]
        conf = perf["confusion"]
        out["confusion_counts"] = ch.confusion_matrix(conf["counts"], labels, normalized=False, title="Counts")
        out["confusion_normalized"] = ch.confusion_matrix(conf["normalized"], labels, normalized=True,
                                                          title="Normalised by true class")
        if perf.get("roc"):
            out["roc"] = ch.roc_curves(perf["roc"])
        if perf.get("pr"):
            out["pr"] = ch.pr_curves(perf["pr"])
        cal = perf["calibration"]
        out["reliability"] = ch.reliability(cal["bins"], ece=cal["ece"], title="Reliability")
        before = (ev.get("calibration") or {}).get("reliability_before")
        if before:
            out["reliability_before"] = ch.reliability(before["bins"], ece=before["ece"], title="Before calibration")
        tc = (perf.get("threshold_curve") or {}).get("test")
        if tc:
            chosen = (ev.get("threshold") or {}).get("threshold")
            out["threshold"] = ch.threshold_curve(tc, chosen=chosen)
    else:
        c = perf["curves"]
        out["predicted_vs_actual"] = ch.predicted_vs_actual(c["actual"], c["predicted"])
        out["residuals"] = ch.residuals(c["predicted"], c["residual"], c["histogram"])
    out.update(_explanation_charts(ev))
    fair = ev.get("fairness")
    if fair:
        out["fairness"] = [_fairness_chart(ch, col, task) for col in fair["columns"]]
    return out


def _training_charts(ev: dict[str, Any]) -> dict[str, Any]:
    from trainwright.report import charts as ch

    out: dict[str, Any] = {}
    h = (ev.get("training") or {}).get("history") or {}
    entries = h.get("entries") or []
    if entries and h.get("learning_curve"):
        x_key = "iteration" if "iteration" in entries[0] else "epoch"
        series = {}
        for key, label in (("train_loss", "training loss"), ("validation_loss", "validation loss")):
            pts = [(e[x_key], e[key]) for e in entries if e.get(key) is not None]
            if pts:
                series[label] = {"x": [p[0] for p in pts], "y": [p[1] for p in pts]}
        if series:
            out["learning_curves"] = ch.learning_curves(
                series, x_label="boosting round" if x_key == "iteration" else "epoch", y_label="loss",
                best=h.get("best"), overfit_from=h.get("overfitting_from"), title="Learning curves")
        metric_keys = [k for k in entries[0] if k.startswith("validation_") and k != "validation_loss"]
        if metric_keys:
            key = metric_keys[0]
            pts = [(e[x_key], e[key]) for e in entries if e.get(key) is not None]
            out["metric_curve"] = ch.learning_curves(
                {key.replace("_", " "): {"x": [p[0] for p in pts], "y": [p[1] for p in pts]}},
                x_label=x_key, y_label=key.replace("validation_", ""), best=h.get("best"),
                overfit_from=h.get("overfitting_from"), title="Validation metric")
        if "lr" in entries[0]:
            out["lr_curve"] = ch.lr_curve([e[x_key] for e in entries], [e["lr"] for e in entries], x_label=x_key)
    board = (ev.get("training") or {}).get("leaderboard") or {}
    trained = [c for c in board.get("candidates", []) if c.get("status") != "skipped"
               and (c.get("validation") or {}).get(board.get("metric")) is not None]
    if len(trained) > 1:
        from trainwright.evaluate.metrics import LOWER_IS_BETTER

        heaviest = max(trained, key=lambda c: c.get("weight") or 0.0)["model"] if "weight" in trained[0] else ev.get("model")
        out["leaderboard"] = ch.leaderboard_bars(
            [c["model"] for c in trained], [c["validation"][board["metric"]] for c in trained], metric=board["metric"],
            lower_is_better=board["metric"] in LOWER_IS_BETTER, chosen=heaviest)
        weighted = [c for c in trained if c.get("weight")]
        if weighted:
            out["ensemble_weights"] = ch.importance_bars([c["model"] for c in weighted], [c["weight"] for c in weighted],
                                                         title="Ensemble weights", xlabel="weight in the ensemble")
    out.update(_tuning_charts((ev.get("training") or {}).get("study")))
    return out


def _tuning_charts(study: dict | None) -> dict[str, Any]:
    """The study's charts: optimisation history, parallel coordinates, importances, the trials' curves."""
    from trainwright.report import charts as ch

    if not study or not study.get("trials"):
        return {}
    minimize, metric, trials = study["direction"] == "minimize", study["metric"], study["trials"]
    out = {"tune_history": ch.optimisation_history(trials, metric=metric, minimize=minimize),
           "tune_parallel": ch.parallel_coordinates(trials, metric=metric, minimize=minimize),
           "tune_curves": ch.trial_curves(trials, minimize=minimize)}
    if study.get("importances"):
        names = list(study["importances"])
        out["tune_importance"] = ch.importance_bars(names, [study["importances"][n] for n in names],
                                                    title="Parameter importance",
                                                    xlabel=f"share of the variance of {metric} (fANOVA)")
    return out


def _explanation_charts(ev: dict[str, Any]) -> dict[str, Any]:
    from trainwright.report import charts as ch

    x = ev.get("explanations") or {}
    out: dict[str, Any] = {}
    perm = x.get("permutation")
    if perm and perm.get("columns"):
        cols = perm["columns"][:20]
        out["permutation"] = ch.importance_bars([c["column"] for c in cols], [c["mean"] for c in cols],
                                                [c["std"] for c in cols], title="Permutation importance",
                                                xlabel=f"how much {perm['metric']} worsens when the column is shuffled")
    for key, prefix, method in (("shap", "shap", "SHAP"), ("integrated_gradients", "ig", "integrated gradients")):
        att = x.get(key)
        if not att:
            continue
        out[f"{prefix}_summary"] = ch.shap_summary(att["columns"], att["values"], att["feature_values"], method=method)
        ex = att.get("example")
        if ex:
            parts = [{"column": c["column"], "value": c["value"], "shap": c["contribution"]}
                     for c in ex["contributions"]]
            out[f"{prefix}_example"] = ch.waterfall(ex["base"], parts, ex["prediction"], space=att["space"])
    coef = x.get("coefficients")
    if coef and coef.get("columns"):
        cols = coef["columns"][:20]
        out["coefficients"] = ch.importance_bars([c["column"] for c in cols], [c["value"] for c in cols],
                                                 title="Linear coefficients", xlabel="sum of |coefficient|")
    pdps = x.get("partial_dependence") or []
    if pdps:
        out["pdp"] = [ch.partial_dependence(_positive_only(p, ev.get("classes"))) for p in pdps]
    return out


def _positive_only(pd: dict[str, Any], classes) -> dict[str, Any]:
    """Binary tasks: partial dependence of P(positive class) only (the other curve is 1 minus it)."""
    if not classes or len(classes) != 2 or not isinstance(pd.get("average"), dict):
        return pd
    key = str(classes[1])
    ice = pd.get("ice")
    return {**pd, "average": {key: pd["average"][key]},
            "ice": {key: ice[key]} if isinstance(ice, dict) and key in ice else ice}


def _fairness_chart(ch, col: dict[str, Any], task: str) -> str:
    groups = [g["group"] for g in col["groups"]]
    keys = ("selection_rate", "tpr", "fpr", "accuracy", "f1") if task == "classification" else ("mean_prediction", "mae")
    metrics = {k: [g.get(k) for g in col["groups"]] for k in keys if any(g.get(k) is not None for g in col["groups"])}
    return ch.group_bars(groups, metrics, title=f"{col['column']}: metrics per group",
                         highlight=[b["group"] for b in col.get("behind", [])])


def rebuild_report(run_dir, *, out: Path | None = None, evaluation: dict | None = None) -> Path:
    """Render ``report.html`` of a run again from ``evaluation.json`` (or from ``evaluation``, a freshly
    computed one, which is saved as the run's ``evaluation.json`` first).

    Raises:
        ArtifactError: not a completed run, or no evaluation saved and none given.
    """
    from trainwright.errors import ArtifactError
    from trainwright.report.evaluation import read_evaluation
    from trainwright.runs import Run, layout, store

    run = Run(run_dir)
    if run.status != "completed":
        raise ArtifactError(f"run {run.path} has status '{run.status}'; only a completed run has a report")
    if evaluation is not None:
        store.write_json(run.path / layout.EVALUATION, evaluation)
    else:
        evaluation = read_evaluation(run.path)
    target = out or run.path / layout.REPORT
    store.write_text(target, render_report(evaluation))
    return target
