"""The stages after fitting: evaluate (one look at the test rows), save (through the run's writer), report.

Each part (train, validation, test) is predicted once; the threshold, the metrics and the report share
those outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.config.base import Decision
from trainwright.evaluate.scoring import score_output
from trainwright.runs import layout

__all__ = ["PARTS", "Evaluated", "calibrate", "evaluate", "evaluate_calibrated", "save", "save_model", "write_history", "write_inputs", "write_report", "resolved_recipe", "completed_info", "peak_rss_mb", "version"]

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Evaluated:
    """Each part's rows (after the predictor's frame steps), targets and outputs; the chosen threshold
    (binary, ``evaluate.threshold``) and every part's metrics with it applied."""

    rows: dict[str, Any]
    targets: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    threshold: dict | None
    metrics: dict[str, Any]
    decisions: tuple[Decision, ...]


def evaluate(recipe, predictor, frame, y: np.ndarray, positions: dict[str, np.ndarray]) -> Evaluated:
    """Predict each part once, choose the threshold on the validation rows, score every part."""
    rows = {p: frame.iloc[positions[p]] for p in PARTS}
    targets = {p: y[positions[p]] for p in PARTS}
    outputs = {p: predictor.output(rows[p], prepared=True) for p in PARTS}
    tta, tta_decisions = _test_time_augmentation(recipe, predictor, rows, targets, outputs)
    threshold, decisions = _choose_threshold(recipe.evaluate.threshold, outputs["validation"],
                                             targets["validation"], predictor.classes)
    t = threshold["threshold"] if threshold else None
    metrics = {p: score_output(predictor.task, targets[p], outputs[p], predictor.classes, threshold=t) for p in PARTS}
    if tta is not None:
        metrics["tta"] = tta
    return Evaluated(rows, targets, outputs, threshold, metrics, (*tta_decisions, *decisions))


def evaluate_calibrated(recipe, predictor, frame, y: np.ndarray, positions: dict[str, np.ndarray],
                        journal) -> Evaluated:
    """The predictor calibrated (``calibrate``), every part evaluated (``evaluate``) and its threshold set: the
    evaluation of a finished model, its decisions recorded in ``journal``."""
    calibration, decided = calibrate(recipe, predictor, frame, y, positions)
    journal.decide(*decided)
    evaluated = evaluate(recipe, predictor, frame, y, positions)
    if calibration:
        evaluated.metrics["calibration"] = calibration
    journal.decide(*evaluated.decisions)
    predictor.threshold = evaluated.threshold["threshold"] if evaluated.threshold else None
    return evaluated


def calibrate(recipe, predictor, frame, y: np.ndarray, positions: dict[str, np.ndarray]) -> tuple[dict | None, tuple[Decision, ...]]:
    """``evaluate.calibrate``: fit the calibrator on the validation rows and set it on the predictor; returns
    what the report shows (ECE and log loss before and after on validation and test rows, the test rows'
    reliability before) and the decision. Nothing is chosen on the test rows."""
    from trainwright.evaluate.calibration import choose_calibrator
    from trainwright.evaluate.curves import calibration_bins
    from trainwright.evaluate.metrics import classification_metrics
    from trainwright.evaluate.scoring import encode_targets

    method = recipe.evaluate.calibrate
    if method == "none" or predictor.task != "classification" or getattr(predictor, "calibrator", None) is not None:
        return None, ()
    parts = ("validation", "test")
    raw = {p: predictor.output(frame.iloc[positions[p]], prepared=True) for p in parts}
    codes = {p: encode_targets("classification", y[positions[p]], predictor.classes) for p in parts}
    calibrator, measured = choose_calibrator(method, raw["validation"], codes["validation"], seed=recipe.seed)
    losses = measured.get("cv_log_loss", {})
    chosen = calibrator.method if calibrator else "none"
    k = len(predictor.classes)
    summary: dict[str, Any] = {"asked": method, "method": chosen, "cv_log_loss": losses,
                               "validation_rows": int(len(codes["validation"])), "why_none": measured.get("why")}
    for p in parts:
        after = calibrator.transform(raw[p]) if calibrator else raw[p]
        before_m, after_m = (classification_metrics(codes[p], out, k) for out in (raw[p], after))
        summary[p] = {f"{m}_{when}": scores[m] for m in ("ece", "log_loss") for when, scores in
                      (("before", before_m), ("after", after_m))}
    summary["reliability_before"] = calibration_bins(codes["test"], raw["test"], n_bins=10)
    predictor.calibrator = calibrator
    v = summary["validation"]
    why = (f"on {summary['validation_rows']} validation rows: ECE {v['ece_before']:.4f} -> {v['ece_after']:.4f}, "
           f"log loss {v['log_loss_before']:.4f} -> {v['log_loss_after']:.4f}"
           + (f"; 5-fold log loss {', '.join(f'{m} {x:.4f}' for m, x in losses.items())}" if losses else "")
           + (f"; none fitted: {measured['why']}" if measured.get("why") else ""))
    return summary, (Decision("evaluate.calibrate", chosen, why),)


def _test_time_augmentation(recipe, predictor, rows, targets, outputs) -> tuple[dict | None, tuple[Decision, ...]]:
    """``evaluate.tta`` copies for the learners that take them (image learners with ``train.augment`` on): kept
    when the validation metric improves (``outputs`` then hold the augmented predictions); both test scores are
    returned either way."""
    from trainwright.evaluate.metrics import LOWER_IS_BETTER, primary_metric

    copies = recipe.evaluate.tta
    able = [learner for _, learner in predictor.members if hasattr(learner, "tta_") and learner.can_augment()]
    if not copies or not able:
        return None, ()
    for learner in able:
        learner.tta_ = copies
    augmented = {p: predictor.output(rows[p], prepared=True) for p in ("validation", "test")}
    scores = {name: {p: score_output(predictor.task, targets[p], out[p], predictor.classes)
                     for p in ("validation", "test")} for name, out in (("without", outputs), ("with", augmented))}
    key = primary_metric(predictor.task, recipe.evaluate.metric)
    sign = -1 if key in LOWER_IS_BETTER else 1
    kept = sign * scores["with"]["validation"][key] > sign * scores["without"]["validation"][key]
    if kept:
        outputs.update(augmented)
    else:
        for learner in able:
            learner.tta_ = 0
    why = (f"validation {key} {scores['without']['validation'][key]:.4g} without, "
           f"{scores['with']['validation'][key]:.4g} with {copies} augmented copies")
    summary = {"copies": copies, "kept": bool(kept), "metric": key,
               **{f"{p}_{name}": scores[name][p][key] for name in scores for p in ("validation", "test")}}
    return summary, (Decision("evaluate.tta", copies if kept else 0, why),)


def _choose_threshold(cfg, proba, y, classes) -> tuple[dict | None, tuple[Decision, ...]]:
    from trainwright.evaluate.metrics import choose_threshold
    from trainwright.evaluate.scoring import encode_targets

    if cfg.choose == "none":
        return None, ()
    chosen = choose_threshold(encode_targets("classification", y, classes), proba[:, 1], cfg.choose, cfg.target)
    reason = (f"{cfg.choose} on the validation rows: precision {chosen['precision']:.3f}, recall "
              f"{chosen['recall']:.3f}, F1 {chosen['f1']:.3f}" + ("" if chosen.get("reached", True) else f" ({chosen.get('note')})"))
    return chosen, (Decision("evaluate.threshold", round(chosen["threshold"], 6), reason),)


def save(writer, *, recipe, selection, predictor, evaluated: Evaluated, cleaning_log,
         decisions: list[Decision], resolved: str) -> None:
    """Write the model and every output file of the run (the report comes after)."""
    from trainwright.runs import environment

    save_model(writer, predictor, evaluated)
    why = next((d.reason for d in selection.decisions if d.what == "model"), None)  # auto: the ensemble's
    writer.write_json(layout.LEADERBOARD, {"metric": selection.metric, "candidates": selection.board, "why": why})
    write_history(writer, selection.member.learner)
    writer.write_json(layout.CLEANING_LOG, cleaning_log.to_dict())
    writer.write_text(layout.RESOLVED_RECIPE, resolved)
    writer.write_json(layout.DECISIONS, [d.as_dict() for d in decisions])
    writer.write_json(layout.ENVIRONMENT, environment(recipe.seed))


def save_model(writer, predictor, evaluated: Evaluated) -> None:
    """The predictor's preprocessors, learners, weights and calibrator, the metrics and the drift reference."""
    pres = [pre.to_dict() for pre, _ in predictor.members]
    pooled = {"members": pres, "weights": [float(w) for w in predictor.weights], "pooling": predictor.pooling}
    writer.write_json(layout.PREPROCESSOR, pres[0] if len(pres) == 1 else pooled)
    for i, (_, learner) in enumerate(predictor.members):
        learner.save(layout.member_dir(writer.path, i, len(predictor.members)))
    writer.write_json(layout.METRICS, evaluated.metrics)
    if getattr(predictor, "calibrator", None) is not None:
        writer.write_json(layout.CALIBRATION, predictor.calibrator.to_dict())
    writer.write_json(layout.REFERENCE, _reference(predictor, evaluated))


def write_history(writer, learner) -> None:
    """history.json: the learner's training curve (or candidates tried) and where it started to overfit."""
    from trainwright.training.callbacks import overfitting_point

    caps = learner.capabilities
    writer.write_json(layout.HISTORY, {
        "model": learner.name, "iteration": caps.iteration, "learning_curve": caps.learning_curve,
        "best": getattr(learner, "best_iteration_", None), "stopped_by": learner.stopped_by_,
        "overfitting_from": overfitting_point(learner.history_) if caps.learning_curve else None,
        "entries": learner.history_})


def _reference(predictor, evaluated: Evaluated) -> dict[str, Any]:
    """The drift reference: the training rows' input columns, the predictions of the validation and test rows
    (rows no model trained on) and, for classification, the accuracy the test rows' probabilities promise beside
    the accuracy measured (``trainwright drift`` compares)."""
    from trainwright.evaluate.drift import estimated_accuracy, profile

    held = np.concatenate([evaluated.outputs["validation"], evaluated.outputs["test"]])  # not trained on
    classification = predictor.task == "classification"
    predictions = (predictor.classes_[predictor.decide(held)] if len(held) else []) if classification else held
    reference = profile(evaluated.rows["train"], predictor.members[0][0].kinds, predictions, task=predictor.task)
    test = evaluated.outputs["test"]
    if classification and len(test):
        reference["test_accuracy"] = {"measured": evaluated.metrics["test"].get("accuracy"),
                                      "estimated": estimated_accuracy(test, predictor.decide(test))}
    return reference


def write_inputs(writer, *, given: dict, fingerprint: dict, row_ids: np.ndarray, splits, report) -> None:
    """What the run starts from: the recipe as given, the data's fingerprint, the split (as file rows), the audit."""
    import yaml

    writer.write_text(layout.RECIPE, "# The recipe as given (file, command-line arguments and --set overrides).\n"
                      + yaml.safe_dump(given, sort_keys=False, allow_unicode=True))
    writer.write_json(layout.FINGERPRINT, fingerprint)
    writer.write_json(layout.SPLITS, {p: row_ids[positions].tolist() for p, positions in splits.as_dict().items()})
    if report is not None:
        writer.write_json(layout.AUDIT_JSON, report.to_dict())
        writer.write_text(layout.AUDIT_HTML, report.to_html(f"Data audit: {fingerprint['file']}"))


def resolved_recipe(recipe, *, task: str, selection, split_method: str, dropped: list[str],
                    decisions: list[Decision]) -> str:
    """The recipe with every default and automatic decision written out (replayable from any folder)."""
    from trainwright.config.io import dump_config, parse_config, with_values

    member = selection.member
    values: dict[str, Any] = {
        "task": task, "model": _resolved_model(recipe, selection),
        "data.path": str(Path(recipe.data.path).resolve()), "evaluate.metric": selection.metric,
        "split.method": split_method, "preprocess.drop_columns": dropped,
    }
    if member.balancing is not None:
        values["balance.method"] = member.balancing.method
    values.update({d.what: d.value for d in decisions if d.what == "data.encoding"})  # a detected encoding
    if recipe.model.type != "auto":
        values.update(member.learner.resolved())
    resolved = parse_config(type(recipe), with_values(recipe.model_dump(mode="json"), values), what="resolved recipe")
    header = "# Resolved recipe: every default and every automatic decision written out.\n"
    header += "".join(f"# {d}\n" for d in decisions)
    return dump_config(resolved, header)


def _resolved_model(recipe, selection) -> dict[str, Any]:
    """The model section as run: the chosen learner's settings, or for ``auto`` the entries that trained and
    how many were bagged (so a run cut by a wall-time budget or auto's default seconds can be replayed without
    one)."""
    if recipe.model.type != "auto":
        return selection.candidate.config.model_dump(mode="json")
    trained = [row["model"] for row in selection.board if row.get("status") != "skipped"]
    bagged = sum(row.get("status") == "bagged" for row in selection.board)
    return {**recipe.model.model_dump(mode="json"), "candidates": trained, "bag_top": max(bagged, 1),
            "default_seconds": None}  # replayed, the entries that trained train again, with no time limit


def completed_info(*, task: str, selection, predictor, kinds, positions, members, started: float,
                   split_method: str, threshold) -> dict[str, Any]:
    """What ``run.json`` says of a finished run."""
    learner = selection.member.learner
    return dict(
        task=task, model="auto" if selection.members else learner.name, metric=selection.metric, classes=predictor.classes, features=list(kinds),
        n_features=len(selection.member.preprocessor.feature_names_), splits={p: len(positions[p]) for p in PARTS},
        members=len(members), frame_steps=predictor.frame_steps, seconds=round(time.monotonic() - started, 3),
        threshold=threshold, split_method=split_method, peak_rss_mb=peak_rss_mb(), trainwright=version(),
    )


def write_report(writer, journal, *, recipe, predictor, evaluated: Evaluated, deadline: float | None = None) -> None:
    """evaluation.json and report.html. The model is saved before this starts: a run that fails or is killed
    here keeps it, and ``train --resume`` finishes the report without training again."""
    from trainwright.report.evaluation import build_evaluation
    from trainwright.report.render import render_report

    parts = {p: (evaluated.rows[p], evaluated.targets[p]) for p in PARTS}
    with journal.stage("report"):  # a failure leaves the stage without its check mark
        evaluation = build_evaluation(writer.path, writer.info, predictor, parts, recipe.evaluate,
                                      threshold=evaluated.threshold, seed=recipe.seed,
                                      log=journal.log, outputs=evaluated.outputs, deadline=deadline)
        page = render_report(evaluation)
    writer.write_json(layout.EVALUATION, evaluation)
    writer.write_text(layout.REPORT, page)
    journal.log(f"report written to {writer.path / layout.REPORT}")


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (MiB); None where the platform does not say."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    except (ImportError, OSError):
        return None


def version() -> str:
    """The installed trainwright's version ("unknown" when it is not installed as a package)."""
    from importlib import metadata

    try:
        return metadata.version("trainwright")
    except metadata.PackageNotFoundError:
        return "unknown"
