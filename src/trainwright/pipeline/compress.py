"""``trainwright compress``: a smaller copy of a trained run, written as a new run that records its parent.

- ``quantize``: the neural members' weight matrices stored as int8, one scale per output unit (``models.neural.
  compress``: weights only, the network computes in float32); other members unchanged.
- ``prune``: each member that can be pruned loses the ``amount`` share of itself (a network its smallest weights,
  a LightGBM model its last boosting rounds) and is fine-tuned on the training rows.
- ``distill``: one small student (LightGBM with 15 leaves a tree, the linear model, or an MLP with one hidden
  layer of 64) trained on the parent's probabilities (soft labels: ``soft_labels``) for the training rows and for
  synthetic rows made from them (MUNGE: Bucila, Caruana & Niculescu-Mizil, "Model compression", KDD 2006); the
  validation rows (true labels) choose its iterations.

The rows come back from the parent's data file (its SHA-256 checked) and its recorded split: what is fitted sees
the training rows; the validation rows only stop the fine-tune or the student, and choose the calibrator and the
decision threshold again, as in training; the test rows are scored once. The new run holds a table of size on disk, latency (one row and a batch of up to
1,000) and test score of the parent and of itself (``run.json`` ``compression``, and the report).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.errors import ConfigError
from trainwright.pipeline.distill import STUDENTS

__all__ = ["compress", "agreement", "METHODS"]

METHODS = ("quantize", "prune", "distill")
_COPIED = ("recipe.yaml", "recipe.resolved.yaml", "fingerprint.json", "splits.json", "audit.json", "audit.html",
           "cleaning_log.json")


def compress(run, method: str = "quantize", *, out=None, amount: float = 0.5, student: str = "lightgbm",
             synthetic: int | None = None, time_budget: float | None = None, seed: int | None = None,
             reporter=None):
    """Write a compressed copy of the run at ``run`` as a new run; returns it (a ``TrainedModel``).

    Args:
        method: "quantize", "prune" or "distill".
        out: the new run's directory (default: beside the parent, ``<time>-<parent>-<method>``).
        amount: prune: the share removed (0 < amount < 1).
        student: distill: the student's model type.
        synthetic: distill: how many synthetic rows the parent labels (default three per training row, at most
            50,000).
        time_budget: seconds for the fine-tune or the student's training.

    Raises:
        ConfigError: a method, amount or student out of range; a model the method does not apply to.
        DataError: the parent's data file is gone or changed.

    Example:
        >>> import tempfile, trainwright, pandas as pd
        >>> from importlib import resources
        >>> data = str(resources.files("trainwright") / "datasets" / "penguins.csv")
        >>> folder = tempfile.mkdtemp()
        >>> parent = trainwright.train(data, target="species", out=folder + "/parent",
        ...                            overrides=["model.type=lightgbm", "evaluate.report=false"])
        >>> small = compress(parent.path, "prune", amount=0.5, out=folder + "/pruned")
        >>> small.info["parent"] == str(parent.path.resolve()), small.info["compression"]["method"]
        (True, 'prune')
        >>> small.predict(pd.read_csv(data).head(1))["prediction"].tolist()
        ['Adelie']
    """
    import trainwright
    from trainwright.pipeline.journal import Journal

    started = time.monotonic()
    _check_settings(method, amount, student, synthetic, time_budget, seed)
    parent = _parent(run)
    _check_out(out, parent)
    recipe, frame, y, positions = _rows(parent)
    seed = recipe.seed if seed is None else seed
    deadline = None if time_budget is None else started + time_budget
    journal = Journal(reporter, started=started)
    with journal.stage(method):  # a model the method does not apply to fails here, before any file is written
        predictor, done = _compressed(method, parent, recipe, frame, y, positions, amount=amount, student=student,
                                      synthetic=synthetic, deadline=deadline, seed=seed)
        journal.log(done["what"])
    writer = _open(parent, out, method)
    journal.attach(writer)
    try:
        _finish(writer, journal, parent, recipe, predictor, (frame, y, positions), {"method": method, **done},
                started, seed)
    except BaseException:
        import shutil

        shutil.rmtree(writer.path, ignore_errors=True)  # a compress that did not finish leaves nothing behind
        raise
    return trainwright.load(writer.path)


def _parent(run):
    import trainwright

    parent = trainwright.load(run)
    parent.run.require_completed()
    if parent.task == "forecast":
        raise ConfigError("a forecasting run cannot be compressed (its models are refitted per backtest window); "
                          "compress table, text or image runs", path="RUN")
    return parent


def _check_out(out, parent) -> None:
    """Refuse, before any work, an ``--out`` that exists with files, cannot be written, or lies inside the parent."""
    from trainwright.runs.layout import check_new_run_dir

    check_new_run_dir(out, parent.path.resolve().parent)
    if out is not None:
        target, home = Path(out).resolve(), parent.path.resolve()
        if target == home or home in target.parents:
            raise ConfigError(f"--out {out} is inside the parent run {parent.path}; a run's folder is its own: "
                              "choose a folder outside it", path="--out")


def _number(value, name: str, *, whole: bool = False) -> None:
    import numbers

    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{name} {value!r}: give a {'whole number' if whole else 'number'}", path=name)


def _check_settings(method: str, amount, student: str, synthetic, time_budget, seed) -> None:
    if method not in METHODS:
        raise ConfigError(f"--method {method!r}: choose one of {', '.join(METHODS)}", path="--method")
    if student not in STUDENTS:
        raise ConfigError(f"--student {student!r}: choose one of {', '.join(STUDENTS)}", path="--student")
    _number(amount, "--amount")
    if method == "prune" and not 0 < amount < 1:  # nan fails too
        raise ConfigError(f"--amount {amount}: give the share to prune, between 0 and 1 (e.g. 0.5)", path="--amount")
    for value, name, whole, low, high in ((synthetic, "--synthetic", True, 0, 1_000_000),
                                          (time_budget, "--time-budget", False, 1e-9, 1e9),
                                          (seed, "--seed", True, 0, 2**32 - 1)):
        if value is not None:
            _number(value, name, whole=whole)
            if not low <= value <= high:
                raise ConfigError(f"{name} {value}: give {'seconds above 0' if name == '--time-budget' else f'{low:,} to {high:,}'}",
                                  path=name)


def _rows(parent):
    """(the parent's recipe, its cleaned rows, their targets, the positions of train / validation / test), read
    back from its data file (hash checked) as training read them."""
    import yaml

    from trainwright.config.io import parse_config
    from trainwright.pipeline import stages
    from trainwright.pipeline.outputs import PARTS
    from trainwright.pipeline.recipe import Recipe
    from trainwright.runs import layout

    from trainwright.errors import ArtifactError, TrainwrightError

    path, _ = parent.training_rows()  # refuses a file that is gone or changed
    try:
        given = yaml.safe_load(parent.run.path.joinpath(layout.RECIPE).read_text(encoding="utf-8")) or {}
        data = given.get("data") if isinstance(given.get("data"), dict) else {}
        recipe = parse_config(Recipe, {**given, "data": {**data, "path": str(path)}},
                              what=f"{parent.path / layout.RECIPE}")
    except (OSError, yaml.YAMLError, AttributeError, TypeError, TrainwrightError) as exc:
        raise ArtifactError(f"{parent.path / layout.RECIPE} is missing or damaged ({type(exc).__name__}: "
                            f"{str(exc)[:200]}); compress reads the parent's recipe to read its rows again. "
                            "Restore the file, or train the run again.") from None
    loaded = stages.load(recipe.data)
    cleaned = stages.clean(recipe, stages.frame_target(recipe, loaded), loaded.path)
    saved = parent.run.read_json(layout.SPLITS)
    positions = {p: cleaned.frame.index.get_indexer(saved[p]) for p in PARTS}
    return recipe, cleaned.frame, cleaned.y, positions


def _open(parent, out, method: str):
    from trainwright.runs import RunWriter

    info = {"data": parent.info.get("data"), "target": parent.target, "parent": str(parent.path.resolve())}
    return RunWriter.create(out, runs_dir=parent.path.resolve().parent,
                            name=f"{parent.path.resolve().name}-{method}"[:60],
                            info=info)


def _compressed(method: str, parent, recipe, frame, y, positions, *, amount, student, synthetic, deadline, seed):
    """(the compressed predictor, what was done)."""
    from trainwright.deploy.predictor import Predictor
    from trainwright.pipeline.distill import distilled

    teacher = parent.predictor
    if method == "distill":
        return distilled(teacher, recipe, frame, y, positions, student=student, synthetic=synthetic,
                         deadline=deadline, seed=seed)
    members, changed, first_error = [], [], None
    balance = _balance_method(parent) if method == "prune" else "none"
    for pre, learner in teacher.members:
        try:
            new = learner.quantized() if method == "quantize" else learner.pruned(
                amount, **_fine_tune_rows(balance, pre, frame, y, positions, seed), deadline=deadline, seed=seed)
        except ConfigError as exc:
            first_error, new = first_error or exc, learner
        changed.append(new is not learner)
        members.append((pre, new))
    if not any(changed):
        raise first_error
    predictor = Predictor(members, teacher.task, teacher.frame_steps, weights=teacher.weights.tolist(),
                          pooling=teacher.pooling)
    what = (f"{sum(changed)} of {len(changed)} member(s) " + ("quantised to int8" if method == "quantize" else
            f"pruned ({amount:.0%} removed) and fine-tuned"))
    details = [getattr(learner, "pruned_", None) for (_, learner), c in zip(members, changed) if c]
    return predictor, {"what": what, "members": len(members), "changed": int(sum(changed)),
                       "pruned": details if method == "prune" else None}


def _balance_method(parent) -> str:
    """How the parent balanced its training rows: the resolved ``balance.method`` of its recipe (read once)."""
    import yaml

    if parent.task != "classification":
        return "none"
    resolved = yaml.safe_load((parent.path / "recipe.resolved.yaml").read_text(encoding="utf-8")) or {}
    return (resolved.get("balance") or {}).get("method") or "none"


def _fine_tune_rows(balance: str, pre, frame, y, positions, seed: int) -> dict[str, Any]:
    """The training rows as the member saw them, balanced as the parent was (``balance``: class weights, or
    resampled rows), and the validation rows: what a pruned model is fine-tuned on."""
    from trainwright.fitting.member import transformed_rows

    rows = transformed_rows(pre, frame, y, positions["train"], balance=balance, seed=seed)
    return {"X": rows.X, "y": rows.y, "sample_weight": rows.sample_weight,
            "X_valid": pre.transform(frame.iloc[positions["validation"]]), "y_valid": y[positions["validation"]]}


def _finish(writer, journal, parent, recipe, predictor, data, done: dict[str, Any], started: float, seed: int) -> None:
    """Calibrate and evaluate the compressed predictor, save it with the parent's inputs, measure both, report."""
    from trainwright.pipeline import outputs
    from trainwright.runs import environment, store

    frame, y, positions = data
    with journal.stage("evaluate"):
        evaluated = outputs.evaluate_calibrated(recipe, predictor, frame, y, positions, journal)
    with journal.stage("save"):
        for name in _COPIED:
            if (parent.path / name).is_file():
                writer.write_text(name, (parent.path / name).read_text(encoding="utf-8"))
        outputs.save_model(writer, predictor, evaluated)
        outputs.write_history(writer, predictor.members[0][1])
        earlier = store.read_json(parent.path / "decisions.json", [], expect=list)
        writer.write_json("decisions.json", [*earlier, *[d.as_dict() for d in journal.decisions]])
        writer.write_json("environment.json", environment(seed))
        table = _table(parent, writer.path, predictor, evaluated)
        model = done.get("student") or parent.info.get("model")
        writer.write_info(saved=True, **_info(parent, predictor, evaluated, started),
                          model=model, compression={**done, **table})
        journal.log(table["summary"])
    if recipe.evaluate.report:
        outputs.write_report(writer, journal, recipe=recipe, predictor=predictor, evaluated=evaluated)
    writer.completed(seconds=round(time.monotonic() - started, 3))
    journal.log("run completed")


def _info(parent, predictor, evaluated, started: float) -> dict[str, Any]:
    """run.json of the compressed run: the parent's description of the task and data, its own members,
    threshold and timings."""
    from trainwright.pipeline.outputs import peak_rss_mb, version

    kept = ("task", "metric", "classes", "features", "n_features", "splits", "frame_steps", "split_method")
    return {**{k: parent.info.get(k) for k in kept}, "members": len(predictor.members),
            "threshold": evaluated.threshold, "seconds": round(time.monotonic() - started, 3),
            "peak_rss_mb": peak_rss_mb(), "trainwright": version()}


def _size(path: Path) -> int:
    """Bytes on disk of what a predictor loads: model/, preprocessor.json, calibration.json."""
    model = path / "model"
    files = [*model.rglob("*"), path / "preprocessor.json", path / "calibration.json"]
    return int(sum(f.stat().st_size for f in files if f.is_file()))


def _table(parent, path: Path, predictor, evaluated) -> dict[str, Any]:
    """Size on disk, latency (one row; a batch of up to 1,000 rows) and the test score, of the parent and of the
    compressed run, measured here one after the other on the run's test rows."""
    from trainwright.report.evaluation import latency

    rows = evaluated.rows["test"]
    metric = parent.info.get("metric")
    sides = {}
    for name, model, folder, score in (
            ("parent", parent.predictor, parent.path, (parent.metrics.get("test") or {}).get(metric)),
            ("compressed", predictor, path, evaluated.metrics["test"].get(metric))):
        sides[name] = {"bytes": _size(Path(folder)), metric: score, **latency(model, rows, seconds=3.0)}
    before, after = sides["parent"], sides["compressed"]
    agree = agreement(parent.predictor, predictor, rows)
    summary = (f"size {before['bytes']:,} -> {after['bytes']:,} bytes ({after['bytes'] / before['bytes']:.2f}x); "
               f"test {metric} {_f(before[metric])} -> {_f(after[metric])}; one row "
               f"{_f(before['latency_row_ms'])} -> {_f(after['latency_row_ms'])} ms; "
               + (f"same prediction as the parent for {agree:.1%} of the test rows" if parent.task == "classification"
                  else f"R² against the parent's predictions {agree:.4f} on the test rows"))
    if agree < (0.8 if parent.task == "classification" else 0.5):  # nan (no test rows) says nothing
        what = "agreement" if parent.task == "classification" else "R²"
        summary += (f". Warning: the compressed model strays far from its parent ({what} {agree:.3g}); give it more "
                    "time (--time-budget), rows (--synthetic) or a larger share kept (--amount)")
    if after["bytes"] >= before["bytes"]:
        summary += (". Warning: the compressed model is not smaller than its parent (distill pays on large parents, "
                    "such as ensembles of trees or networks; try --method quantize or prune, or --student linear)")
    return {"metric": metric, "parent": before, "compressed": after, "agreement_test": agree, "summary": summary}


def agreement(parent, compressed, rows) -> float:
    """Share of ``rows`` the compressed predictor labels as the parent does (classification, thresholds applied),
    or the R² of its values against the parent's (regression).

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import Preprocessor
        >>> from trainwright.deploy.predictor import Predictor
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> rows = pd.DataFrame({"x": np.arange(20.0)})
        >>> pre = Preprocessor({"x": "numeric"}).fit(rows)
        >>> model = Predictor([(pre, LinearLearner(task="regression").fit(pre.transform(rows), np.arange(20.0)))],
        ...                   "regression")
        >>> agreement(model, model, rows)
        1.0
    """
    a, b = parent.output(rows, prepared=True), compressed.output(rows, prepared=True)
    if len(rows) == 0:
        return float("nan")
    if parent.task == "classification":
        return float(np.mean(parent.decide(a) == compressed.decide(b)))
    return float(1 - np.sum((a - b) ** 2) / max(float(np.sum((a - np.mean(a)) ** 2)), 1e-12))


def _f(value) -> str:
    return "-" if value is None else f"{value:.4g}"
