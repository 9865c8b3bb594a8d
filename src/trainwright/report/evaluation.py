"""Everything the report shows, computed once from a trained predictor and the run's rows.

``build_evaluation`` returns one JSON-able dict (saved as ``evaluation.json``); the
HTML report is rendered from it alone, so ``trainwright report RUN_DIR`` re-renders
without touching the data, and ``compare`` reads several of them.

Every number that concerns generalisation is computed on the test rows; the
decision threshold (binary tasks) is chosen on the validation rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.runs import store

__all__ = ["build_evaluation", "EVALUATION_FORMAT_VERSION", "HEADLINE", "cost", "latency", "read_evaluation"]

EVALUATION_FORMAT_VERSION = 2  # 2: history carries the learner's iteration unit and learning_curve
HEADLINE = {
    "classification": ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
}
SMALL_TEST = 100  # fewer test rows than this: the intervals are wide and the summary says so
RENDER_RESERVE = 3.0  # seconds a deadline keeps for drawing the charts and writing the page
SLICE_COLUMNS = 200  # error-analysis slices look at most this many columns (the first ones)


def read_evaluation(run_path: Path) -> dict[str, Any]:
    """A run's ``evaluation.json``, refusing one written in another format version.

    Raises:
        ArtifactError: missing, or from an incompatible trainwright (``--recompute`` rebuilds it).
    """
    from trainwright.errors import ArtifactError, check_format_version

    path = run_path / "evaluation.json"
    if not path.is_file():
        raise ArtifactError(f"{run_path} has no evaluation.json (trained with evaluate.report=false or before "
                            f"reports existed); run `trainwright report {run_path} --recompute` to evaluate it "
                            "from its data file")
    ev = store.read_json(path)
    check_format_version(ev, EVALUATION_FORMAT_VERSION, str(path),
                         f"Rebuild it: trainwright report {run_path} --recompute")
    return ev


def build_evaluation(run_dir: Path, info: dict, predictor, parts: dict[str, tuple], config, *,
                     threshold: dict | None = None, seed: int = 0, log=lambda message: None,
                     outputs: dict | None = None, deadline: float | None = None) -> dict[str, Any]:
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
        outputs: the predictor's outputs per part when the caller has them already (training has).
        deadline: ``time.monotonic()`` value by which the report must be written (a time budget): the
            explanations and latency measurements shrink, or are left out, to leave ``RENDER_RESERVE`` seconds
            for drawing; ``left_out`` says what was cut.
    """
    task = info["task"]
    classes = info.get("classes")
    out: dict[str, Any] = {
        "format_version": EVALUATION_FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "run": str(run_dir.name),
        "task": task, "target": info.get("target"), "model": info.get("model"), "metric": info.get("metric"),
        "classes": classes, "data": info.get("data"), "threshold": threshold,
        "split_method": info.get("split_method"),
    }
    test_rows = parts["test"][0]
    if outputs is None:
        outputs = {p: predictor.output(rows, prepared=True) for p, (rows, _) in parts.items()}
    t = threshold["threshold"] if threshold else None
    enc = {p: _encode(predictor, y, task) for p, (_, y) in parts.items()}

    t0 = time.monotonic()
    predicted = predictor.decide(outputs["test"]) if task == "classification" else None  # test classes, once
    out["performance"] = _performance(task, classes, enc, outputs, predicted, t, config, seed)
    log(f"report: metrics and intervals in {time.monotonic() - t0:.2f}s")
    saved = store.read_json(run_dir / "metrics.json", {}) or {}
    out.update({k: saved.get(k) for k in ("cross_validation", "tta", "calibration")})
    out["compression"] = ({**info["compression"], "parent_path": info.get("parent")}  # `trainwright compress`
                          if info.get("compression") else None)
    out["data_section"] = _data_section(run_dir, info, parts, task, classes)
    out["training"] = _training_section(run_dir)

    left = _seconds_left(deadline)
    out["left_out"] = []
    out.update(_analysis(predictor, info, parts["test"], outputs["test"], enc["test"], predicted, config, seed, log,
                         left, out["left_out"]))
    out["images"] = _images(predictor, info, parts, outputs["test"], enc["test"], seed, log, left, out["left_out"])
    out["text"] = _text(predictor, info, parts, outputs["test"], enc["test"], log, left, out["left_out"])
    t0 = time.monotonic()
    out["cost"] = cost(run_dir, info, predictor, test_rows, (out["training"] or {}).get("leaderboard"),
                       seconds=left())
    if out["cost"]["latency_row_ms"] is None and len(test_rows):
        out["left_out"].append("prediction latency (no time left in the budget to measure it)")
    log(f"report: cost measured in {time.monotonic() - t0:.2f}s")
    out["warnings"] = warnings(out)
    return out


def _images(predictor, info: dict, parts: dict, output, y_enc, seed: int, log, left, left_out: list[str]):
    """Thumbnails, Grad-CAM maps and augmented examples of an image run (None for other data)."""
    from trainwright.evaluate.images import image_evaluation

    seconds = left()
    if seconds is not None and seconds < 1.0:
        if any(k == "image" for k in predictor.members[0][0].kinds.values()):
            left_out.append("image examples and Grad-CAM maps (no time left in the budget)")
        return None
    t0 = time.monotonic()
    out = image_evaluation(predictor, parts["test"][0], y_enc, output, info["task"], info.get("classes"),
                           parts.get("train", (None,))[0], seed=seed)
    if out is not None:
        log(f"report: image examples and Grad-CAM in {time.monotonic() - t0:.2f}s")
    return out


def _text(predictor, info: dict, parts: dict, output, y_enc, log, left, left_out: list[str]):
    """Word effects on test texts and per class, for a run with a text column (None for other data)."""
    from trainwright.evaluate.text import text_evaluation

    if not any(k == "text" for k in predictor.members[0][0].kinds.values()):
        return None
    seconds = left()
    if seconds is not None and seconds < 2.0:
        left_out.append("word effects of the text column (no time left in the budget)")
        return None
    t0 = time.monotonic()
    out = text_evaluation(predictor, parts["test"][0], y_enc, output, info["task"], info.get("classes"),
                          seconds=min(10.0, seconds / 2) if seconds is not None else 10.0)
    if (out is None or out["method"] is None) and len(parts["test"][0]):
        left_out.append("word effects of the text column (occlusion through this model is too slow for the time)")
    log(f"report: word effects in {time.monotonic() - t0:.2f}s")
    return out


def _seconds_left(deadline: float | None):
    """A function giving the seconds left before the deadline minus the drawing reserve (None: no deadline)."""
    return lambda: None if deadline is None else deadline - RENDER_RESERVE - time.monotonic()


def _analysis(predictor, info: dict, test: tuple, output, y_enc, predicted, config, seed: int, log, left,
              left_out: list[str]) -> dict[str, Any]:
    """Error analysis, explanations and fairness, on the test rows; what did not fit in the time is listed in
    ``left_out``."""
    from trainwright.evaluate.explain import explain
    from trainwright.evaluate.slices import largest_losses, worst_slices

    (test_rows, y_test), task, classes = test, info["task"], info.get("classes")
    t0 = time.monotonic()
    features = test_rows[[c for c in info.get("features") or [] if c in test_rows.columns]]
    sliced = features.iloc[:, :SLICE_COLUMNS]
    if sliced.shape[1] < features.shape[1]:
        left_out.append(f"error-analysis slices of {features.shape[1] - SLICE_COLUMNS} columns (the first "
                        f"{SLICE_COLUMNS} of {features.shape[1]} were sliced)")
    out: dict[str, Any] = {"errors": {
        "largest_losses": largest_losses(features, np.asarray(y_test), output, task, classes=classes, k=20),
        "worst_slices": worst_slices(sliced, np.asarray(y_test), output, task, classes=classes, k=10),
    }}
    log(f"report: error analysis in {time.monotonic() - t0:.2f}s")
    t0 = time.monotonic()
    ex, seconds = config.explain, left()
    kinds = set(predictor.members[0][0].kinds.values())
    if kinds == {"image"}:  # one column of pixels: column importances say nothing; the maps below show where
        out["explanations"] = {"note": "The features are the pixels of one image column: the class activation "
                                       "maps below show where in each image the model finds its evidence."}
    elif seconds is not None and seconds < 0.5:
        out["explanations"] = {"note": "Left out: the time budget (--time-budget) left no time for explanations."}
        left_out.append("explanations (no time left in the budget)")
    else:
        bound = ex.seconds if seconds is None else min(ex.seconds or seconds, seconds)
        out["explanations"] = explain(predictor, test_rows, np.asarray(y_test), task, info["metric"], rows=ex.rows,
                                      repeats=ex.repeats, top=ex.top, seed=seed, seconds=bound)
    log(f"report: explanations in {time.monotonic() - t0:.2f}s")
    out["fairness"] = None
    if config.sensitive:
        from trainwright.evaluate.fairness import fairness_audit, sensitive_groups

        groups = sensitive_groups(test_rows, config.sensitive)
        pred = predicted if task == "classification" else output
        out["fairness"] = fairness_audit(groups, y_enc, pred, task=task, classes=classes,
                                         proba=output if task == "classification" else None)
    return out


def _encode(predictor, y, task: str):
    from trainwright.evaluate.scoring import encode_targets

    return encode_targets(task, np.asarray(y), predictor.classes)


def _performance(task, classes, enc, outputs, pred, threshold, config, seed) -> dict[str, Any]:
    from trainwright.evaluate import curves
    from trainwright.evaluate.metrics import ECE_BINS, per_class_metrics, residual_stats, score
    from trainwright.evaluate.metrics import mape_rows

    y, output = enc["test"], outputs["test"]
    perf: dict[str, Any] = {
        p: score(task, enc[p], outputs[p], classes, threshold=threshold) for p in enc
    }
    names = [m for m in HEADLINE[task] if perf["test"].get(m) is not None]
    perf["intervals"] = _intervals(task, y, output, names, perf["test"], config, seed, threshold)
    perf["confidence"] = config.confidence
    perf["n_test"] = int(len(y))
    if task == "classification":
        perf["per_class"] = per_class_metrics(y, output, classes, threshold=threshold)
        perf["confusion"] = curves.confusion(y, pred, len(classes))
        perf["roc"] = curves.roc_curves(y, output, classes) if len(np.unique(y)) > 1 else []
        perf["pr"] = curves.pr_curves(y, output, classes) if len(np.unique(y)) > 1 else []
        perf["calibration"] = curves.calibration_bins(y, output, n_bins=ECE_BINS)
        if len(classes) == 2:
            perf["threshold_curve"] = {"test": curves.threshold_curve(y, output[:, 1])}
    else:
        perf["residuals"] = residual_stats(y, output)
        perf["curves"] = curves.regression_curves(y, output, seed=seed)
        perf["mape_rows_left_out"] = int(len(y) - mape_rows(y).sum()) if len(y) else 0
    return perf


def _intervals(task, y, output, names, test: dict, config, seed, threshold) -> dict[str, Any] | None:
    """Bootstrap percentile intervals of the headline metrics; accuracy gets the exact (Clopper-Pearson)
    binomial interval instead, which stays honest when every test row is right (a bootstrap of 34/34 correct
    rows only ever sees 1.0). A bootstrap interval of zero width is marked ``degenerate``."""
    if not config.bootstrap:
        return None
    from trainwright.evaluate.bootstrap import bootstrap_intervals

    exact = task == "classification" and test.get("accuracy") is not None and len(y) > 0
    boot = [m for m in names if not (exact and m == "accuracy")]  # accuracy gets the exact interval below
    out = bootstrap_intervals(task, y, output, boot, n=config.bootstrap, level=config.confidence, seed=seed,
                              threshold=threshold)
    for ci in out.values():
        ci["method"] = "bootstrap"
        ci["degenerate"] = ci.get("low") is not None and ci["low"] == ci["high"]
    if exact:
        correct = int(round(test["accuracy"] * len(y)))
        low, high = clopper_pearson(correct, len(y), config.confidence)
        out["accuracy"] = {"value": test["accuracy"], "low": low, "high": high, "method": "exact binomial",
                           "degenerate": False}
    return out


def clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials."""
    from scipy.stats import beta

    alpha = 1.0 - level
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def _data_section(run_dir: Path, info: dict, parts: dict, task: str, classes) -> dict[str, Any]:
    audit = store.read_json(run_dir / "audit.json", None)
    cleaning = store.read_json(run_dir / "cleaning_log.json", None)
    section: dict[str, Any] = {
        "file": info.get("data"),
        "splits": info.get("splits") or {p: len(parts[p][1]) for p in parts},
        "audit": audit,
        "cleaning": cleaning.get("actions") if cleaning else None,
        "raw_sha256": cleaning.get("raw_sha256") if cleaning else None,
        "decisions": store.read_json(run_dir / "decisions.json", [], expect=list),
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
    history = store.read_json(run_dir / "history.json", None)
    board = store.read_json(run_dir / "leaderboard.json", None)
    study = store.read_json(run_dir / "study.json", None)
    return {"history": history, "leaderboard": board, "study": study}


def cost(run_dir: Path, info: dict, predictor, rows, board: dict | None = None,
         seconds: float | None = None) -> dict[str, Any]:
    """Model size on disk, parameter count, training time, prediction latency and peak memory; the latency
    measurements take at most ``seconds`` (about 3 s without a bound; none when ``seconds`` < 0.2)."""
    model_dir = run_dir / "model"
    size = sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file()) if model_dir.is_dir() else None
    counts = [learner.n_parameters() for _, learner in predictor.members]
    board = board or {}
    fit = next((c.get("fit_seconds") for c in board.get("candidates", []) if c.get("model") == info.get("model")), None)
    return {
        "model_bytes": size,
        "parameters": None if None in counts else int(sum(counts)),
        "parameters_what": predictor.members[0][1].capabilities.parameters,
        "members": len(predictor.members),
        "fit_seconds": fit,
        "run_seconds": info.get("seconds"),
        "peak_rss_mb": info.get("peak_rss_mb"),
        **latency(predictor, rows, seconds=3.0 if seconds is None else min(3.0, seconds)),
    }


def latency(predictor, rows, *, repeats: int = 30, seconds: float = 3.0) -> dict[str, Any]:
    """Median wall time of ``predict`` on one raw row and on a batch of up to 1,000 raw rows, measured for
    about ``seconds`` (a third on single rows, the rest on batches). A slow model gets a smaller batch, what
    a warm-up batch of 32 rows says fits in the batches' share (at least 10 rows): 1,000 news articles through a fine-tuned
    sentence encoder took 53 s."""
    if len(rows) == 0 or seconds < 0.2:
        return {"latency_row_ms": None, "latency_batch_ms": None, "batch_rows": 0}
    one = rows.iloc[:1]
    t0 = time.perf_counter()
    predictor.predict(rows.iloc[np.resize(np.arange(len(rows)), 32)])  # warm-up (lazy imports), and a row's cost
    size = int(np.clip(2 * seconds / 3 / max((time.perf_counter() - t0) / 32, 1e-9), 10, 1000))
    singles = _timed(lambda: predictor.predict(one), repeats, budget=seconds / 3)
    batch = rows.iloc[np.resize(np.arange(len(rows)), size)]  # repeated rows (and index labels) up to the size
    batches = _timed(lambda: predictor.predict(batch), 5, budget=2 * seconds / 3)
    b = float(np.median(batches))
    return {"latency_row_ms": float(np.median(singles) * 1e3), "latency_batch_ms": b * 1e3,
            "batch_rows": int(len(batch)), "latency_per_row_in_batch_ms": b * 1e3 / len(batch)}


def _timed(call, repeats: int, *, budget: float) -> list[float]:
    """Wall times of up to ``repeats`` calls, stopping once ``budget`` seconds are spent (at least one call)."""
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def warnings(ev: dict[str, Any]) -> list[dict[str, str]]:
    """Plain-language warnings for the summary: a useless model, an unreached threshold target, overfitting
    (or a shift between splits), early stopping, leakage, contamination, imbalance, a small test set,
    calibration and fairness. Each is {"level": "warning" | "info", "title", "text"}."""
    out: list[dict[str, str]] = []
    task, perf = ev["task"], ev["performance"]
    out += _usefulness(ev)
    if ev.get("left_out"):
        out.append({"level": "info", "title": "Cut to fit the time budget",
                    "text": "To finish within --time-budget the report left out: " + "; ".join(ev["left_out"]) + "."})
    chosen = ev.get("threshold") or {}
    if chosen and not chosen.get("reached", True):
        out.append({"level": "warning", "title": "Threshold target not reached",
                    "text": f"evaluate.threshold asked for {chosen['method']} {chosen.get('target')} but no threshold "
                            f"reaches it on the validation rows; the one kept ({chosen['threshold']:.3g}) gives "
                            f"precision {chosen['precision']:.3f} and recall {chosen['recall']:.3f} there. "
                            "Lower the target, or improve the model first."})
    gap = overfitting_gap(task, perf)
    if gap is not None:
        name, train_v, test_v = gap
        text = (f"{name} is {_f(train_v)} on the training rows but {_f(test_v)} on the test rows: the model fits "
                "its training rows much better than new ones. Stronger regularisation, fewer rounds/epochs or more "
                "data would narrow the gap.")
        method = ev.get("split_method")
        if method in ("group", "time"):
            text += (f" With a {method} split the test rows come from " +
                     ("groups" if method == "group" else "a later period") +
                     " the model never saw, so part of the gap can be a shift between the splits rather than "
                     "overfitting: compare the target per split in section 2.")
        out.append({"level": "warning", "title": "Overfitting", "text": text})
    history = (ev.get("training") or {}).get("history") or {}
    if history.get("overfitting_from") is not None:
        unit = history.get("iteration") or "iteration"
        out.append({"level": "info", "title": "Early stopping",
                    "text": f"Validation loss stopped improving after {unit} {history['overfitting_from']}; "
                            f"the model kept is the one from {unit} {history.get('best')} "
                            f"(stopped by {history.get('stopped_by')})."})
    out += _audit_warnings(ev)
    n = perf.get("n_test", 0)
    if n < SMALL_TEST:
        out.append({"level": "warning", "title": "Small test set",
                    "text": f"Only {n} test rows: the metrics are uncertain; read the intervals, or use "
                            "cross-validation (split.cv.method) for a steadier estimate."})
    ece = (perf.get("test") or {}).get("ece") if task == "classification" else None
    if ece is not None and ece > 0.1 and n >= SMALL_TEST:  # fewer rows: ECE itself is mostly noise
        out.append({"level": "warning", "title": "Calibration",
                    "text": f"Expected calibration error is {ece:.3f}: predicted probabilities are not reliable "
                            "as frequencies (see the reliability diagram)."})
    out += _fairness_warnings(ev)
    return out


def _fairness_warnings(ev: dict[str, Any]) -> list[dict[str, str]]:
    """Groups that fall behind, and groups selected under four-fifths as often as the most selected one."""
    out = []
    for col in ((ev.get("fairness") or {}).get("columns") or []):
        behind = col.get("behind", [])
        if len(behind) == 1:
            text = f"group '{behind[0]['group']}' falls behind: " + "; ".join(behind[0]["reasons"])
        elif behind:
            text = (f"{len(behind)} of {len(col['groups'])} groups fall behind (" +
                    ", ".join(f"'{b['group']}'" for b in behind) + "); the reasons are in section 7.")
        else:
            text = None
        if text:
            out.append({"level": "warning", "title": f"Fairness: {col['column']}", "text": text})
        low = col.get("selection_disparity") or []
        if low:
            out.append({"level": "info", "title": f"Selection rates: {col['column']}",
                        "text": ", ".join(f"'{b['group']}'" for b in low) +
                                f" {'is' if len(low) == 1 else 'are'} predicted {col.get('positive')!s} under "
                                "four-fifths as often as the most selected group (demographic parity); compare "
                                "with the groups' actual rates in section 7 before calling it bias."})
    return out


def _usefulness(ev: dict[str, Any]) -> list[dict[str, str]]:
    """A model that predicts one class only, ranks no better than chance, or loses to the mean."""
    perf, test = ev["performance"], ev["performance"].get("test") or {}
    if ev["task"] == "regression":
        r2 = test.get("r2")
        if r2 is not None and r2 <= 0:
            return [{"level": "warning", "title": "No better than the mean",
                     "text": f"R² on the test rows is {r2:.3f}: predicting the training mean for every row would do "
                             "as well or better."}]
        return []
    out = []
    counts = np.asarray((perf.get("confusion") or {}).get("counts") or [[0]])
    predicted = int((counts.sum(axis=0) > 0).sum())
    if predicted == 1 and counts.shape[0] > 1:
        cls = ev["classes"][int(np.argmax(counts.sum(axis=0)))]
        out.append({"level": "warning", "title": "One class only",
                    "text": f"The model predicts '{cls}' for every test row: it has learnt the majority class, "
                            "not the task. Try balance.method, evaluate.threshold.choose, or more signal."})
    auc, ci = test.get("roc_auc"), (perf.get("intervals") or {}).get("roc_auc") or {}
    if auc is not None and (auc < 0.55 or (ci.get("low") is not None and ci["low"] <= 0.5)):
        out.append({"level": "warning", "title": "No better than chance",
                    "text": f"ROC-AUC on the test rows is {auc:.3f}" +
                            (f" (interval {ci['low']:.3f} – {ci['high']:.3f})" if ci.get("low") is not None else "") +
                            ": the model ranks rows barely better than a coin would."})
    return out


def _audit_warnings(ev: dict[str, Any]) -> list[dict[str, str]]:
    data = ev.get("data_section") or {}
    audit = data.get("audit") or {}
    dropped = {d["what"].split("'")[1] for d in data.get("decisions") or []
               if d.get("value") == "leak" and d["what"].startswith("column '")}
    out = []
    for f in audit.get("findings", []):
        if f["severity"] not in ("warning", "error"):
            continue
        if f["check"] == "target_leakage":
            if f.get("column") in dropped:
                text = (f"{f['message']}. The column was dropped as a suspected leak (clean.drop_leaking); if it is "
                        "a genuine feature known at prediction time, set clean.drop_leaking=false.")
            else:
                text = f["message"] + (f" — {f['remedy']}" if f.get("remedy") else "")
            out.append({"level": "warning", "title": "Leakage", "text": text})
        elif f["check"] == "train_test_contamination":
            out.append({"level": "warning", "title": "Contamination",
                        "text": f["message"] + (f" — {f['remedy']}" if f.get("remedy") else "")})
        elif f["check"] == "class_imbalance":
            out.append({"level": "warning", "title": "Imbalance", "text": f["message"] +
                        " Look at balanced accuracy, the per-class table and the PR curves rather than accuracy."})
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
