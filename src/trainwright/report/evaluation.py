"""Everything the report shows, computed once from a trained predictor and the run's rows.

``build_evaluation`` returns one JSON-able dict (saved as ``evaluation.json``); the
HTML report is rendered from it alone, so ``trainwright report RUN_DIR`` re-renders
without touching the data, and ``compare`` reads several of them.

Every number that concerns generalisation is computed on the test rows; the
decision threshold (binary tasks) is chosen on the validation rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["build_evaluation", "EVALUATION_FORMAT_VERSION", "HEADLINE", "cost", "recompute_evaluation"]

EVALUATION_FORMAT_VERSION = 1
HEADLINE = {
    "classification": ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
}
SMALL_TEST = 100  # fewer test rows than this: the intervals are wide and the summary says so


def _read_json(path: Path, default=None):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def build_evaluation(run_dir: Path, info: dict, predictor, parts: dict[str, tuple], config, *,
                     threshold: dict | None = None, seed: int = 0, log=lambda message: None) -> dict[str, Any]:
    """The report's content for a finished run.

    Args:
        run_dir: the run directory (history, leaderboard, audit and cleaning log are read from it).
        info: the run's ``run.json`` content (task, target, model, metric, classes, splits, timings).
        predictor: the run's ``Predictor``.
        parts: {"train" | "validation" | "test": (rows already through ``predictor.prepare``, raw targets)}.
        config: the recipe's ``evaluate`` section.
        threshold: the chosen decision threshold (binary), as ``choose_threshold`` returned it.
        seed: seed of the bootstrap and the sampled explanations.
        log: receives one line per step.
    """
    task = info["task"]
    classes = info.get("classes")
    out: dict[str, Any] = {
        "format_version": EVALUATION_FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "run": str(run_dir.name),
        "task": task, "target": info.get("target"), "model": info.get("model"), "metric": info.get("metric"),
        "classes": classes, "data": info.get("data"), "threshold": threshold,
        "features": info.get("features"), "n_features": info.get("n_features"),
    }
    test_rows, y_test = parts["test"]
    outputs = {p: predictor.output(rows, prepared=True) for p, (rows, _) in parts.items()}
    t = threshold["threshold"] if threshold else None
    enc = {p: _encode(predictor, y, task) for p, (_, y) in parts.items()}

    t0 = time.monotonic()
    out["performance"] = _performance(predictor, task, classes, enc, outputs, t, config, seed)
    log(f"report: metrics and intervals in {time.monotonic() - t0:.1f}s")
    out["cross_validation"] = (_read_json(run_dir / "metrics.json", {}) or {}).get("cross_validation")
    out["data_section"] = _data_section(run_dir, info, parts, task, classes)
    out["training"] = _training_section(run_dir)

    from trainwright.evaluate.slices import largest_losses, worst_slices

    t0 = time.monotonic()
    features = test_rows[[c for c in info.get("features") or [] if c in test_rows.columns]]
    out["errors"] = {
        "largest_losses": largest_losses(features, np.asarray(y_test), outputs["test"], task, classes=classes, k=20),
        "worst_slices": worst_slices(features, np.asarray(y_test), outputs["test"], task, classes=classes, k=10),
    }
    log(f"report: error analysis in {time.monotonic() - t0:.1f}s")

    from trainwright.evaluate.explain import explain

    t0 = time.monotonic()
    ex = config.explain
    out["explanations"] = explain(predictor, test_rows, np.asarray(y_test), task, info["metric"], rows=ex.rows,
                                  repeats=ex.repeats, top=ex.top, seed=seed)
    log(f"report: explanations in {time.monotonic() - t0:.1f}s")

    out["fairness"] = None
    if config.sensitive:
        from trainwright.evaluate.fairness import fairness_audit, sensitive_groups

        groups = sensitive_groups(test_rows, config.sensitive)
        pred = predictor.decide(outputs["test"]) if task == "classification" else outputs["test"]
        out["fairness"] = fairness_audit(groups, enc["test"], pred, task=task, classes=classes,
                                         proba=outputs["test"] if task == "classification" else None)
    t0 = time.monotonic()
    out["cost"] = cost(run_dir, info, predictor, test_rows)
    log(f"report: cost measured in {time.monotonic() - t0:.1f}s")
    out["warnings"] = warnings(out)
    return out


def _encode(predictor, y, task: str):
    if task == "classification":
        return predictor.members[0][1].encode_labels(np.asarray(y))
    return np.asarray(y, dtype=np.float64)


def _performance(predictor, task, classes, enc, outputs, threshold, config, seed) -> dict[str, Any]:
    from trainwright.evaluate import curves
    from trainwright.evaluate.bootstrap import bootstrap_intervals
    from trainwright.evaluate.metrics import ECE_BINS, per_class_metrics, residual_stats, score

    y, output = enc["test"], outputs["test"]
    perf: dict[str, Any] = {
        p: score(task, enc[p], outputs[p], classes, threshold=threshold) for p in enc
    }
    names = [m for m in HEADLINE[task] if perf["test"].get(m) is not None]
    perf["intervals"] = bootstrap_intervals(task, y, output, names, n=config.bootstrap, level=config.confidence,
                                            seed=seed, threshold=threshold) if config.bootstrap else None
    perf["confidence"] = config.confidence
    perf["n_test"] = int(len(y))
    if task == "classification":
        pred = predictor.decide(output)
        perf["per_class"] = per_class_metrics(y, output, classes, threshold=threshold)
        perf["confusion"] = curves.confusion(y, pred, len(classes))
        perf["roc"] = curves.roc_curves(y, output, classes) if len(np.unique(y)) > 1 else []
        perf["pr"] = curves.pr_curves(y, output, classes) if len(np.unique(y)) > 1 else []
        perf["calibration"] = curves.calibration_bins(y, output, n_bins=ECE_BINS)
        if len(classes) == 2:
            yv, ov = enc.get("validation"), outputs.get("validation")
            perf["threshold_curve"] = {"test": curves.threshold_curve(y, output[:, 1]),
                                       "validation": curves.threshold_curve(yv, ov[:, 1]) if yv is not None else None}
    else:
        perf["residuals"] = residual_stats(y, output)
        perf["curves"] = curves.regression_curves(y, output, seed=seed)
    return perf


def _data_section(run_dir: Path, info: dict, parts: dict, task: str, classes) -> dict[str, Any]:
    audit = _read_json(run_dir / "audit.json")
    cleaning = _read_json(run_dir / "cleaning_log.json")
    section: dict[str, Any] = {
        "file": info.get("data"),
        "splits": info.get("splits") or {p: len(parts[p][1]) for p in parts},
        "audit": audit,
        "cleaning": cleaning.get("actions") if cleaning else None,
        "raw_sha256": cleaning.get("raw_sha256") if cleaning else None,
        "decisions": _read_json(run_dir / "decisions.json", []),
    }
    if task == "classification":
        counts = {}
        for p, (_, y) in parts.items():
            labels, n = np.unique(np.asarray(y).astype(str), return_counts=True)
            found = dict(zip(labels.tolist(), n.tolist()))
            counts[p] = [int(found.get(str(c), 0)) for c in classes]
        section["class_balance"] = {"labels": [str(c) for c in classes], "counts": counts}
    else:
        section["target_summary"] = {
            p: {"mean": float(np.mean(y)), "std": float(np.std(y)), "min": float(np.min(y)), "max": float(np.max(y))}
            for p, (_, y) in ((p, (r, np.asarray(yy, dtype=np.float64))) for p, (r, yy) in parts.items()) if len(y)
        }
    return section


def _training_section(run_dir: Path) -> dict[str, Any]:
    history = _read_json(run_dir / "history.json")
    board = _read_json(run_dir / "leaderboard.json")
    return {"history": history, "leaderboard": board}


def cost(run_dir: Path, info: dict, predictor, rows) -> dict[str, Any]:
    """Model size on disk, parameter count, training time, prediction latency and peak memory."""
    model_dir = run_dir / "model"
    size = sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file()) if model_dir.is_dir() else None
    params = sum(_parameters(learner) or 0 for _, learner in predictor.members)
    board = _read_json(run_dir / "leaderboard.json", {}) or {}
    fit = next((c.get("fit_seconds") for c in board.get("candidates", []) if c.get("model") == info.get("model")), None)
    return {
        "model_bytes": size,
        "parameters": params,
        "parameters_what": _parameters_what(predictor.members[0][1]),
        "members": len(predictor.members),
        "fit_seconds": fit,
        "run_seconds": info.get("seconds"),
        "peak_rss_mb": info.get("peak_rss_mb"),
        **_latency(predictor, rows),
    }


def _parameters(learner) -> int | None:
    net = getattr(learner, "net_", None)
    if net is not None:
        return int(sum(p.numel() for p in net.parameters()))
    booster = getattr(learner, "booster_", None)
    if booster is not None:
        trees = booster.dump_model()["tree_info"]
        return int(sum(2 * t["num_leaves"] - 1 for t in trees))  # split thresholds + leaf values
    coef = getattr(learner, "coef_", None)
    if coef is not None:
        return int(np.size(coef) + np.size(getattr(learner, "intercept_", 0)))
    return None


def _parameters_what(learner) -> str:
    if getattr(learner, "net_", None) is not None:
        return "weights and biases"
    if getattr(learner, "booster_", None) is not None:
        return "split thresholds and leaf values over all trees"
    return "coefficients and intercepts"


def _latency(predictor, rows, *, repeats: int = 30) -> dict[str, Any]:
    """Median wall time of ``predict`` on one raw row and on a batch of up to 1,000 raw rows."""
    if len(rows) == 0:
        return {"latency_row_ms": None, "latency_batch_ms": None, "batch_rows": 0}
    one = rows.iloc[:1]
    batch = rows.iloc[np.resize(np.arange(len(rows)), 1000)] if len(rows) < 1000 else rows.iloc[:1000]
    predictor.predict(one)  # warm-up: first calls pay lazy imports and allocations
    singles = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.predict(one)
        singles.append(time.perf_counter() - t0)
    batches = []
    for _ in range(max(3, repeats // 6)):
        t0 = time.perf_counter()
        predictor.predict(batch)
        batches.append(time.perf_counter() - t0)
    b = float(np.median(batches))
    return {"latency_row_ms": float(np.median(singles) * 1e3), "latency_batch_ms": b * 1e3,
            "batch_rows": int(len(batch)), "latency_per_row_in_batch_ms": b * 1e3 / len(batch)}


def warnings(ev: dict[str, Any]) -> list[dict[str, str]]:
    """Plain-language warnings for the summary: overfitting, imbalance, leakage, small test set, calibration,
    fairness. Each is {"level": "warning" | "info", "title", "text"}."""
    out: list[dict[str, str]] = []
    task, perf = ev["task"], ev["performance"]
    history = (ev.get("training") or {}).get("history") or {}
    gap = overfitting_gap(task, perf)
    if gap is not None:
        name, train_v, test_v = gap
        out.append({"level": "warning", "title": "Overfitting",
                    "text": f"{name} is {_f(train_v)} on the training rows but {_f(test_v)} on the test rows: "
                            "the model fits its training rows much better than new ones. Stronger regularisation, "
                            "fewer rounds/epochs or more data would narrow the gap."})
    if history.get("overfitting_from") is not None:
        unit = "round" if history.get("model") == "lightgbm" else "epoch"
        out.append({"level": "info", "title": "Early stopping",
                    "text": f"Validation loss stopped improving after {unit} {history['overfitting_from']}; "
                            f"the model kept is the one from {unit} {history.get('best')} "
                            f"(stopped by {history.get('stopped_by')})."})
    audit = (ev.get("data_section") or {}).get("audit") or {}
    for f in audit.get("findings", []):
        if f["check"] in ("target_leakage", "train_test_contamination") and f["severity"] in ("warning", "error"):
            out.append({"level": "warning", "title": "Leakage" if f["check"] == "target_leakage" else "Contamination",
                        "text": f["message"] + (f" — {f['remedy']}" if f.get("remedy") else "")})
        elif f["check"] == "class_imbalance" and f["severity"] in ("warning", "error"):
            out.append({"level": "warning", "title": "Imbalance", "text": f["message"] +
                        " Look at balanced accuracy, the per-class table and the PR curves rather than accuracy."})
    n = perf.get("n_test", 0)
    if n < SMALL_TEST:
        out.append({"level": "warning", "title": "Small test set",
                    "text": f"Only {n} test rows: the metrics are uncertain; read the intervals, or use "
                            "cross-validation (split.cv.method) for a steadier estimate."})
    if task == "classification":
        ece = (perf.get("test") or {}).get("ece")
        if ece is not None and ece > 0.1:
            out.append({"level": "warning", "title": "Calibration",
                        "text": f"Expected calibration error is {ece:.3f}: predicted probabilities are not reliable "
                                "as frequencies (see the reliability diagram)."})
    for col in ((ev.get("fairness") or {}).get("columns") or []):
        behind = col.get("behind", [])
        if len(behind) == 1:
            text = f"group '{behind[0]['group']}' falls behind: " + "; ".join(behind[0]["reasons"])
        elif behind:
            text = (f"{len(behind)} of {len(col['groups'])} groups fall behind (" +
                    ", ".join(f"'{b['group']}'" for b in behind) + "); the reasons are in section 7.")
        else:
            continue
        out.append({"level": "warning", "title": f"Fairness: {col['column']}", "text": text})
    return out


def overfitting_gap(task: str, perf: dict[str, Any]) -> tuple[str, float, float] | None:
    """(metric, train value, test value) when the training rows score clearly better than the test rows.

    Classification: accuracy falls by more than 0.05 and by more than two standard errors of the test
    accuracy (a gap that sampling alone rarely makes). Regression: R² falls by more than 0.1. Losses are not
    used: a boosted model's training log loss is near 0 by construction, so a ratio of losses says little.
    """
    train, test = perf.get("train") or {}, perf.get("test") or {}
    n = max(1, int(perf.get("n_test") or 0))
    if task == "classification":
        a, b = train.get("accuracy"), test.get("accuracy")
        if a is None or b is None:
            return None
        se = (max(b * (1 - b), 1.0 / n) / n) ** 0.5
        return ("accuracy", a, b) if a - b > max(0.05, 2 * se) else None
    a, b = train.get("r2"), test.get("r2")
    if a is None or b is None:
        return None
    return ("R²", a, b) if a - b > 0.1 else None


def _f(value: float) -> str:
    return f"{value:.4g}"


def recompute_evaluation(run) -> dict[str, Any]:
    """Evaluate a finished run again from its data file (the file's hash must match the run's fingerprint)."""
    import yaml

    from trainwright.config.io import parse_recipe
    from trainwright.errors import ArtifactError, DataError
    from trainwright.experiment import Experiment

    resolved = yaml.safe_load((run.path / "recipe.resolved.yaml").read_text(encoding="utf-8"))
    recipe = parse_recipe(resolved)
    exp = Experiment(recipe, given=resolved)
    p = exp.prepare()
    fp = _read_json(run.path / "fingerprint.json", {})
    if fp.get("sha256") and fp["sha256"] != p.fp["sha256"]:
        raise DataError(f"{p.data_path} changed since run {run.path} was trained (content hash differs); "
                        "the evaluation would not describe this run.", file=str(p.data_path))
    splits = _read_json(run.path / "splits.json")
    if splits is None:
        raise ArtifactError(f"{run.path} has no splits.json, so its test rows are unknown")
    predictor = run.predictor
    frame = p.frame  # prepare() already applied the frame-level steps (category maps, lags) as training did
    parts = {}
    for part in ("train", "validation", "test"):
        pos = frame.index.get_indexer(splits[part])
        pos = pos[pos >= 0]
        parts[part] = (frame.iloc[pos], p.y[pos])
    return build_evaluation(run.path, run.info, predictor, parts, recipe.evaluate,
                            threshold=run.info.get("threshold"), seed=recipe.seed)
