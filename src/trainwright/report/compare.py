"""``trainwright compare``: several runs of one task side by side in one HTML page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["comparison", "write_comparison", "RADAR_METRICS"]

RADAR_METRICS = {
    "classification": ("accuracy", "precision", "recall", "f1", "specificity"),
    "regression": ("r2", "rmse", "mae", "mape"),
}
TABLE_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "specificity", "roc_auc",
                       "pr_auc", "log_loss", "brier", "ece", "mcc"),
    "regression": ("rmse", "mae", "mape", "r2", "mse"),
}


def _load(path: str | Path) -> dict[str, Any]:
    from trainwright.errors import ArtifactError
    from trainwright.runs import Run, layout

    run = Run(path)
    if run.status != "completed":
        raise ArtifactError(f"run {run.path} has status '{run.status}'; only completed runs can be compared")
    if run.info.get("task") == "forecast":
        raise ArtifactError(f"run {run.path} is a forecast: compare compares classification and regression runs. A "
                            "forecast's report already compares every forecaster it backtested (its backtest table).")
    from trainwright.report.evaluation import read_evaluation

    ev = read_evaluation(run.path)
    return {
        "path": str(run.path), "name": run.path.name, "model": ev.get("model"), "task": ev["task"],
        "target": ev.get("target"), "test": ev["performance"]["test"],
        "intervals": ev["performance"].get("intervals") or {}, "confidence": ev["performance"].get("confidence"),
        "cost": ev.get("cost") or {}, "history": (ev.get("training") or {}).get("history") or {},
        "sha256": run.read_json(layout.FINGERPRINT, {}).get("sha256"),
        "test_rows": run.read_json(layout.SPLITS, {}).get("test"),
    }


def comparison(paths: list[str | Path]) -> dict[str, Any]:
    """What the comparison page shows, from each run's ``evaluation.json``.

    Raises:
        ConfigError: fewer than two runs, or runs of different tasks.
        ArtifactError: a run is not completed or has no evaluation.
    """
    from trainwright.errors import ConfigError
    from trainwright.evaluate.metrics import LOWER_IS_BETTER

    if len(paths) < 2:
        raise ConfigError("compare needs two or more run directories")
    runs = [_load(p) for p in paths]
    tasks = {r["task"] for r in runs}
    if len(tasks) > 1:
        raise ConfigError("compare takes runs of one task; got " +
                          ", ".join(f"{r['name']} ({r['task']})" for r in runs))
    names = [r["name"] for r in runs]
    if len(set(names)) < len(names):
        for r in runs:
            r["name"] = r["path"]
    task = runs[0]["task"]
    warnings = []
    if len({r["target"] for r in runs}) > 1:
        warnings.append("The runs predict different targets: " + ", ".join(f"{r['name']}: {r['target']}" for r in runs))
    same_rows = len({r["sha256"] for r in runs}) == 1 and all(r["test_rows"] == runs[0]["test_rows"] for r in runs)
    if not same_rows:
        warnings.append("The runs were scored on different test rows (another file, seed or split), so their "
                        "numbers are not measured on the same ground.")
    metrics = [m for m in TABLE_METRICS[task] if any(r["test"].get(m) is not None for r in runs)]
    same_target = len({r["target"] for r in runs}) == 1
    best: dict[str, list[int]] = {}
    for m in metrics:
        values = [(i, r["test"][m]) for i, r in enumerate(runs) if r["test"].get(m) is not None]
        if not values or not same_target:  # a best run across different targets would mean nothing
            best[m] = []
            continue
        top = (min if m in LOWER_IS_BETTER else max)(v for _, v in values)
        best[m] = [i for i, v in values if v == top]  # ties: every run that reaches it
    return {"task": task, "target": runs[0]["target"] if same_target else None, "runs": runs, "metrics": metrics,
            "best": best, "lower": sorted(LOWER_IS_BETTER), "same_rows": same_rows, "warnings": warnings}


def _radar_values(cmp: dict[str, Any]) -> tuple[dict[str, dict[str, float]], list[str], str]:
    """Radar axes in [0, 1] where larger is better. Classification metrics are used as they are; for
    regression, R² as is (floored at 0) and each error metric as best/value (the best run scores 1)."""
    task, runs = cmp["task"], cmp["runs"]
    if task == "classification":
        axes = list(RADAR_METRICS[task])
        values = {r["name"]: {a: r["test"].get(a) for a in axes} for r in runs}
        return values, axes, "Test-row metrics; the outer ring is 1, the centre is the value on the innermost label."
    axes, values = [], {r["name"]: {} for r in runs}
    for m in RADAR_METRICS[task]:
        got = [r["test"].get(m) for r in runs]
        if all(v is None for v in got):
            continue
        label = "R²" if m == "r2" else f"{m.upper()} (best = 1)"
        axes.append(label)
        finite = [v for v in got if v is not None]
        for r, v in zip(runs, got):
            if v is None:
                values[r["name"]][label] = None
            elif m == "r2":
                values[r["name"]][label] = max(0.0, float(v))
            else:
                low = min(finite)
                values[r["name"]][label] = 1.0 if v == 0 else (low / v if low > 0 else 0.0)
    return values, axes, "R² as is (0 when negative); RMSE, MAE and MAPE relative to the best run (best/value)."


def _radar_floor(values: dict[str, dict[str, float | None]]) -> float:
    """Centre of the radar: 0, or, when every value is high, a round number a little below the lowest, so
    models that all score near 1 do not look identical."""
    present = [v for scores in values.values() for v in scores.values() if v is not None]
    low = min(present, default=0.0)
    return 0.0 if low < 0.6 else float(np.floor((low - 0.05) * 10) / 10)


def write_comparison(paths: list[str | Path], out: Path) -> Path:
    """Write the comparison page of ``paths`` to ``out``."""
    from markupsafe import Markup

    from trainwright.report import charts as ch
    from trainwright.report.render import _css, _version, environment
    from trainwright.runs import store

    cmp = comparison(paths)
    values, axes, caption = _radar_values(cmp)
    radar = ch.radar(values, axes, title="Test metrics", floor=_radar_floor(values))
    curves, no_curve = {}, []
    for r in cmp["runs"]:
        entries = [e for e in r["history"].get("entries") or [] if e.get("validation_loss") is not None]
        if not entries or not r["history"].get("learning_curve"):
            no_curve.append(f"{r['name']} ({r['model']})")
        else:
            x_key = "iteration" if "iteration" in entries[0] else "epoch"
            curves[f"{r['name']} ({r['model']})"] = {"x": [e[x_key] for e in entries],
                                                     "y": [e["validation_loss"] for e in entries]}
    overlay = ch.overlaid_curves(curves, x_label="epoch / boosting round", y_label="validation loss",
                                 title="Validation loss") if curves else None
    conf = cmp["runs"][0].get("confidence")
    html = environment().get_template("compare.html.j2").render(
        css=Markup(_css()), radar=Markup(radar), radar_caption=caption, curves=Markup(overlay) if overlay else None,
        no_curve=no_curve,
        confidence=f"{conf:.0%}" if conf else "", version=_version(), created=time.strftime("%Y-%m-%d %H:%M"), **cmp)
    store.write_text(out, html)
    return out
