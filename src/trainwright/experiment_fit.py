"""Fitting and saving: cleaning fitted on training rows, features, balancing, the learner(s),
multiple imputation, cross-validation, one look at the test rows, and the run directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.errors import ConfigError

__all__ = ["fit_and_save", "make_preprocessor", "balance_training_rows"]

PARTS = ("train", "validation", "test")


def make_preprocessor(exp, kinds: dict[str, str], task: str, *, seed: int, posterior: bool = False):
    from trainwright.data.features import Preprocessor

    c = exp.recipe.clean
    clip = (c.outlier_rule, c.outlier_threshold) if c.outliers == "cap" else None
    return Preprocessor(kinds, exp.recipe.preprocess, exp.recipe.features, task=task, clip=clip, seed=seed,
                        sample_posterior=posterior)


def balance_training_rows(exp, X, y, pre, task: str, *, record: bool = False):
    """(X, y, sample_weight) of the training rows after the recipe's balancing."""
    from trainwright.data.balance import balance, choose_method

    method = exp.recipe.balance.method
    if method == "none":
        return X, y, None
    if task != "classification":
        raise ConfigError(f"balance.method={method} applies to classification only; set balance.method=none",
                          path="balance.method")
    if method == "auto":
        a = exp.recipe.audit
        method, reason = choose_method(y, has_categorical=bool(pre.categorical_groups()),
                                       mild=a.imbalance_ratio, strong=a.strong_imbalance_ratio)
        if record:
            exp.decide("balance.method", method, reason)
    out = balance(X, y, method, seed=exp.recipe.seed, categorical_groups=pre.categorical_groups())
    if record:
        exp._log(f"balance {method}: class counts {out.counts_before} -> {out.counts_after}")
        exp.balance_summary = {"method": method, "before": out.counts_before, "after": out.counts_after}
    return out.X, out.y, out.sample_weight


def fit_and_save(exp, run_dir: Path, frame, y, task, kinds, splits, log, report, fp) -> None:
    """Everything after the split. Fitted steps see training rows only."""
    from trainwright.data.clean import clean_after_split
    from trainwright.deploy.predictor import Predictor
    from trainwright.experiment_train import train_candidates, train_members
    from trainwright.runs import write_json, write_text

    rec = exp.recipe
    write_text(run_dir / "recipe.yaml", _given_yaml(exp.given))
    write_json(run_dir / "fingerprint.json", fp)
    row_ids = frame.index.to_numpy()
    write_json(run_dir / "splits.json", {p: row_ids[getattr(splits, p)].tolist() for p in PARTS})
    if report is not None:
        write_json(run_dir / "audit.json", report.to_dict())
        write_text(run_dir / "audit.html", report.to_html(f"Data audit: {fp['file']}"))
    with exp.stage("clean"):
        kinds = _drop_leaks(exp, kinds, report, log)
        dropped, train_pos = clean_after_split(frame, splits.train, rec.target, rec.clean, kinds, log)
        for col in dropped:
            exp.decide(f"column '{col}' dropped", "constant", "a single value in the training rows")
        exp.dropped_columns += dropped
        kinds = {c: k for c, k in kinds.items() if c not in dropped}
    positions = {"train": train_pos, "validation": splits.validation, "test": splits.test}
    m = rec.preprocess.multiple_imputations
    with exp.stage("features"):
        pre = make_preprocessor(exp, kinds, task, seed=rec.seed, posterior=m > 1)
        X = {"train": pre.fit_transform(frame.iloc[train_pos], y[train_pos])}
        X.update({p: pre.transform(frame.iloc[positions[p]]) for p in ("validation", "test")})
        Y = {p: y[positions[p]] for p in PARTS}
        _log_capping(pre, frame.iloc[train_pos], log)
    with exp.stage("balance"):
        Xb, yb, weight = balance_training_rows(exp, X["train"], Y["train"], pre, task, record=True)
    with exp.stage("train"):
        learner, config, board, metric = train_candidates(exp, task, {**X, "train": Xb}, {**Y, "train": yb}, weight)
        if getattr(learner, "lr_found_", None):
            exp.decide("train.optimizer.lr", learner.lr_found_["lr"], f"LR finder: {learner.lr_found_['reason']}")
    members = [(pre, learner)]
    if m > 1:
        with exp.stage("impute"):
            members += train_members(exp, frame, y, task, kinds, positions, config, m)
    frame_steps = {"category_maps": log.category_maps, "lags": rec.features.lags, "rolling": rec.features.rolling,
                   "order_by": rec.features.order_by}
    predictor = Predictor(members, task, frame_steps)
    with exp.stage("evaluate"):  # each part is predicted once; the threshold, metrics and report share it
        rows = {p: frame.iloc[positions[p]] for p in PARTS}
        outputs = {p: predictor.output(rows[p], prepared=True) for p in PARTS}
        threshold = _choose_threshold(exp, predictor, outputs["validation"], Y["validation"], task)
        predictor.threshold = threshold["threshold"] if threshold else None
        metrics = {p: _score(predictor, outputs[p], Y[p], task) for p in PARTS}
    if rec.split.cv.method != "none":
        with exp.stage("cross-validate"):
            from trainwright.experiment_train import cross_validate

            metrics["cross_validation"] = cross_validate(exp, frame, y, task, kinds, splits, config, learner)
    with exp.stage("save"):
        predictor.save(run_dir)
        _save_outputs(exp, run_dir, task, metric, config, learner, metrics, board, log)
    exp.run_info.update(
        status="completed", task=task, model=config.type, metric=metric,
        classes=learner.classes_.tolist() if task == "classification" else None,
        features=list(kinds), n_features=len(pre.feature_names_), splits={p: len(positions[p]) for p in PARTS},
        members=len(members), frame_steps=frame_steps, seconds=round(time.monotonic() - exp.started, 3),
        threshold=threshold, split_method=exp.split_method, peak_rss_mb=_peak_rss_mb(), trainwright=_version(),
    )
    write_json(run_dir / "run.json", exp.run_info)
    if rec.evaluate.report:
        _write_report(exp, run_dir, predictor, {p: (rows[p], Y[p]) for p in PARTS}, threshold, outputs)
    write_text(run_dir / "log.txt", "\n".join(exp.log) + "\n")


def _write_report(exp, run_dir: Path, predictor, parts: dict, threshold: dict | None, outputs: dict) -> None:
    """evaluation.json and report.html. The model is saved and the run complete before this starts, so a
    failure here is logged (with the way to retry) rather than losing the run."""
    from trainwright.report.evaluation import build_evaluation
    from trainwright.report.render import render_report
    from trainwright.runs import write_json, write_text

    try:
        with exp.stage("report"):  # a failure leaves the stage without its check mark
            evaluation = build_evaluation(run_dir, exp.run_info, predictor, parts, exp.recipe.evaluate,
                                          threshold=threshold, seed=exp.recipe.seed, log=exp._log, outputs=outputs)
            page = render_report(evaluation)
    except Exception as exc:  # noqa: BLE001 - reported, and the run stays usable
        exp._log(f"report failed: {type(exc).__name__}: {exc}; rebuild it with `trainwright report "
                 f"{run_dir} --recompute`")
        exp.run_info["report_error"] = f"{type(exc).__name__}: {exc}"
        write_json(run_dir / "run.json", exp.run_info)
        return
    write_json(run_dir / "evaluation.json", evaluation)
    write_text(run_dir / "report.html", page)
    exp._log(f"report written to {run_dir / 'report.html'}")


def _choose_threshold(exp, predictor, proba, y, task: str) -> dict | None:
    """The decision threshold of a binary task, chosen on the validation rows' probabilities ``proba``
    (``evaluate.threshold``)."""
    from trainwright.evaluate.metrics import choose_threshold

    cfg = exp.recipe.evaluate.threshold
    if cfg.choose == "none":
        return None
    learner = predictor.members[0][1]
    chosen = choose_threshold(learner.encode_labels(y), proba[:, 1], cfg.choose, cfg.target)
    exp.decide("evaluate.threshold", round(chosen["threshold"], 6),
               f"{cfg.choose} on the validation rows: precision {chosen['precision']:.3f}, recall {chosen['recall']:.3f}, "
               f"F1 {chosen['f1']:.3f}" + ("" if chosen.get("reached", True) else f" ({chosen.get('note')})"))
    return chosen


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (MiB); None where the platform does not say."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    except (ImportError, OSError):
        return None


def _drop_leaks(exp, kinds: dict[str, str], report, log) -> dict[str, str]:
    if report is None or not exp.recipe.clean.drop_leaking:
        return kinds
    leaks = {f.column for f in report.by_check("target_leakage") if f.column in kinds and f.severity == "error"}
    for col in sorted(leaks):
        log.add("drop_leaking", col, "predicts the target almost perfectly on its own (audit: target_leakage)", [])
        exp.decide(f"column '{col}' dropped", "leak", "the audit found it predicts the target almost perfectly alone")
        exp.dropped_columns.append(col)
    return {c: k for c, k in kinds.items() if c not in leaks}


def _log_capping(pre, train, log) -> None:
    if not pre.bounds_:
        return
    R = pre._raw_numeric(train)
    for j, name in enumerate(pre.numeric_names_):
        low, high = pre.bounds_["low"][j], pre.bounds_["high"][j]
        out = ((R[:, j] < low) if low is not None else False) | ((R[:, j] > high) if high is not None else False)
        if np.any(out):
            log.add("cap_outliers", name, f"{pre.clip[0]} x {pre.clip[1]:g}: capped to [{low:.4g}, {high:.4g}] "
                    "(bounds from training rows; applied at prediction too)", train.index[np.asarray(out)])


def _score(predictor, output, y, task: str) -> dict[str, Any]:
    from trainwright.evaluate.metrics import score

    if task == "classification":
        learner = predictor.members[0][1]
        return score(task, learner.encode_labels(y), output, learner.classes_.tolist(), threshold=predictor.threshold)
    return score(task, y, output)


def _save_outputs(exp, run_dir: Path, task, metric, config, learner, metrics, board, log) -> None:
    from trainwright.runs import environment, write_json, write_text
    from trainwright.config.io import dump_recipe

    write_json(run_dir / "metrics.json", metrics)
    write_json(run_dir / "leaderboard.json", {"metric": metric, "candidates": board})
    from trainwright.training.callbacks import overfitting_point

    write_json(run_dir / "history.json", {"model": config.type, "best": learner.best_iteration_,
                                          "stopped_by": learner.stopped_by_,
                                          "overfitting_from": overfitting_point(learner.history_),
                                          "entries": learner.history_})
    write_json(run_dir / "cleaning_log.json", log.to_dict())
    resolved = exp.recipe.model_copy(deep=True)
    resolved.task, resolved.model = task, config
    if getattr(learner, "neural", False):
        resolved.train.batch_size = learner.batch_size_
        if getattr(learner, "lr_found_", None):
            resolved.train.optimizer.lr = learner.lr_found_["lr"]
    resolved.data.path = str(Path(exp.recipe.data.path).resolve())  # replayable from any folder
    resolved.evaluate.metric = metric
    resolved.split.method = exp.split_method
    resolved.preprocess.drop_columns = exp.dropped_columns
    if getattr(exp, "balance_summary", None):
        resolved.balance.method = exp.balance_summary["method"]
    header = "# Resolved recipe: every default and every automatic decision written out.\n"
    header += "".join(f"# decision: {d['what']} = {d['value']} ({d['reason']})\n" for d in exp.decisions)
    write_text(run_dir / "recipe.resolved.yaml", dump_recipe(resolved, header))
    write_json(run_dir / "decisions.json", exp.decisions)
    write_json(run_dir / "environment.json", environment(exp.recipe.seed))


def _given_yaml(raw: dict) -> str:
    import yaml

    return "# The recipe as given (file, command-line arguments and --set overrides).\n" + \
        yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("trainwright")
    except metadata.PackageNotFoundError:
        return "unknown"
