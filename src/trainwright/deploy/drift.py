"""``trainwright drift``: new rows against a run's reference (``reference.json``), with or without labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trainwright.deploy.model import TrainedModel
from trainwright.errors import ArtifactError, ConfigError, DataError

__all__ = ["check_drift", "DRIFT_EXIT_CODE"]

DRIFT_EXIT_CODE = 3  # `trainwright drift` found drift (errors are 2; no drift is 0)


def check_drift(model: TrainedModel, frame: pd.DataFrame, *, share: float = 0.5) -> dict[str, Any]:
    """Compare ``frame`` with the run's reference: every input column, the predictions, the accuracy the
    probabilities promise (classification) and, when ``frame`` holds the target, the accuracy measured.

    Args:
        share: drift is declared when the predictions drifted, labels appear that the model never saw, or at least
            this share of the columns drifted.

    Returns:
        ``compare``'s result (``columns``, ``prediction``, ``summary``) with ``performance`` and ``drift``.

    Example:
        >>> import tempfile, trainwright
        >>> from importlib import resources
        >>> data = resources.files("trainwright") / "datasets" / "penguins.csv"
        >>> run = trainwright.train(str(data), target="species", out=tempfile.mkdtemp() + "/run",
        ...                         overrides=["evaluate.report=false", "model.type=linear"])
        >>> rows = pd.read_csv(data)
        >>> check_drift(run, rows.sample(200, random_state=1))["drift"]
        False
        >>> heavier = rows.assign(body_mass_g=rows["body_mass_g"] * 1.5, flipper_length_mm=rows["flipper_length_mm"] + 30)
        >>> report = check_drift(run, heavier)
        >>> report["drift"], report["summary"]["drifted"]
        (True, ['flipper_length_mm', 'body_mass_g'])
    """
    from trainwright.evaluate.drift import compare, estimated_accuracy
    from trainwright.runs import layout

    if not 0 < share <= 1:  # (nan fails too)
        raise ConfigError(f"--share {share}: give a share of the columns between 0 (exclusive) and 1", path="--share")
    if model.task == "forecast":
        raise DataError(f"{model.path} is a forecasting run; `drift` compares table and text runs' inputs. A "
                        "forecast's accuracy is followed by backtesting it on the new history (`trainwright train`).")
    reference = model.run.read_json(layout.REFERENCE, None)
    if reference is None:
        raise ArtifactError(f"{model.path} has no {layout.REFERENCE} (the run was trained before drift references "
                            "were kept); train it again to monitor it.")
    if len(frame) == 0:
        raise DataError("the new data has no rows; drift needs rows to compare")
    predictor = model.predictor
    prepared = predictor.prepare(frame)
    output = predictor.output(prepared, prepared=True)
    classification = model.task == "classification"
    picked = predictor.decide(output) if classification else None
    result = compare(reference, prepared, predictor.classes_[picked] if classification else output)
    performance: dict[str, Any] = {}
    if classification:
        performance["estimated_accuracy"] = estimated_accuracy(output, picked)
        performance["reference"] = reference.get("test_accuracy")
    performance.update(_measured(model, predictor, prepared))
    result["performance"] = performance
    summary = result["summary"]
    summary["share_threshold"] = share
    summary["new_labels"] = performance.get("new_labels", [])
    result["drift"] = bool(summary["prediction_drift"] or summary["new_labels"]
                           or (summary["columns"] and summary["share"] >= share))
    return result


def _measured(model: TrainedModel, predictor, prepared: pd.DataFrame) -> dict[str, Any]:
    """With labels: the metrics measured on the new rows, against the test set's interval of the run's metric.
    Labels the model never saw are reported (``new_labels``) and left out of the scores."""
    target = model.target
    if target not in prepared.columns or prepared[target].notna().sum() == 0:
        return {}
    labelled = prepared[prepared[target].notna()]
    out: dict[str, Any] = {}
    if model.task == "regression":
        y = pd.to_numeric(labelled[target], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(y).all():
            bad = labelled[target][~np.isfinite(y)].iloc[0]
            raise DataError(f"the target column '{target}' holds values that are not numbers (e.g. {bad!r}); fix them, "
                            "or drop the column to check drift without labels", column=target)
    else:
        from trainwright.data.labels import align_labels

        y = align_labels(labelled[target].to_numpy(), predictor.classes_)
        classes = set(predictor.classes_.tolist())
        known = np.array([v in classes for v in y.tolist()], dtype=bool)
        if not known.all():
            out["new_labels"] = sorted({str(v) for v in y[~known].tolist()})[:20]
            out["new_label_rows"] = int((~known).sum())
            labelled, y = labelled[known], y[known]
        if len(y) == 0:
            return out
    metrics = predictor.score(labelled, y, prepared=True)
    key = model.info.get("metric")
    performance = model.run.read_json("evaluation.json", {}).get("performance") or {}
    interval = (performance.get("intervals") or {}).get(key)  # none with evaluate.bootstrap=0 or no report
    out.update({"labelled_rows": int(len(labelled)), "measured": metrics, "metric": key,
                "test": model.metrics.get("test", {}).get(key), "test_interval": interval})
    if interval and key in metrics and metrics[key] is not None and np.isfinite(metrics[key]):
        out["outside_test_interval"] = not (interval["low"] <= metrics[key] <= interval["high"])
    return out
