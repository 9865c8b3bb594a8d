"""The level-1 API: ``train``, ``audit``, ``lr_find`` on a data file, and ``recompute_evaluation`` of a run.

Each validates its arguments into a recipe first, so bad input fails before any work.
"""

from __future__ import annotations

import time
from pathlib import Path

from trainwright.pipeline.experiment import Experiment
from trainwright.pipeline.journal import Reporter

__all__ = ["train", "audit", "lr_find", "recompute_evaluation", "recipe_from_args"]


def train(data=None, *, target: str | None = None, recipe=None, overrides: list[str] | None = None,
          task: str | None = None, out=None, seed: int | None = None, time_budget: float | None = None,
          runs_dir="runs", reporter: Reporter | None = None, resume=None, nproc: int | None = None,
          started: float | None = None):
    """Train a model from a data file and/or a recipe; returns the finished run, ready to predict.

    Args:
        data: path of a CSV, Parquet or JSON Lines file (overrides the recipe's ``data.path``).
        target: the column to predict (overrides the recipe's ``target``).
        recipe: a YAML recipe path, or a dict of recipe sections.
        overrides: ``key.path=value`` strings, as ``--set`` on the CLI.
        task: "classification" or "regression"; inferred when not given.
        out: run directory; default ``runs/<time>-<data name>``.
        seed: seed for the split and the models.
        time_budget: seconds for the whole run.
        resume: a run directory that did not finish: continue it from its newest checkpoint (or, when its
            model is saved, from the report), with the recipe it was started with. The other arguments may be
            given only as the run was started with them (re-running the same command with ``--resume``).
        nproc: data-parallel processes for neural learners (``train.nproc``).
        started: ``time.monotonic()`` value the time budget counts from; default: now (the CLI passes the
            moment its process started, so the budget bounds the whole command).

    Returns:
        TrainedModel: ``.metrics``, ``.path``, ``.predict(frame)`` for new rows.

    Raises:
        ConfigError: the recipe or an override is invalid.
        DataError: the data cannot be used as asked.

    Example:
        >>> import tempfile, trainwright
        >>> from importlib import resources
        >>> data = resources.files("trainwright") / "datasets" / "penguins.csv"
        >>> run = trainwright.train(str(data), target="species", out=tempfile.mkdtemp() + "/run",
        ...                         overrides=["model.type=linear", "evaluate.report=false"])
        >>> run.info["model"], run.metrics["test"]["accuracy"] > 0.9
        ('linear', True)
    """
    started = time.monotonic() if started is None else started
    if resume is not None:
        same = {"data": data, "target": target, "recipe": recipe, "overrides": overrides, "task": task, "seed": seed,
                "time_budget": time_budget}
        return _resume(Path(resume), started, reporter, nproc, out=out, same=same)
    rec, given = recipe_from_args(data, target, recipe, overrides, task=task, seed=seed, time_budget=time_budget,
                                  nproc=nproc)
    if rec.task == "forecast":
        from trainwright.pipeline.forecast import train_forecast

        return train_forecast(rec, given=given, out=out, runs_dir=runs_dir, reporter=reporter, started=started)
    return Experiment(rec, given=given, out=out, runs_dir=runs_dir, reporter=reporter, started=started).run()


def recipe_from_args(data, target, recipe, overrides, *, task=None, seed=None, time_budget=None, nproc=None):
    """(validated Recipe, the recipe as given) from the arguments of ``train``.

    Example:
        >>> rec, given = recipe_from_args("data.csv", "y", None, ["model.type=mlp"])
        >>> rec.model.type, given["target"]
        ('mlp', 'y')
    """
    from trainwright.config.io import apply_overrides, load_recipe, parse_config
    from trainwright.errors import ConfigError
    from trainwright.pipeline.recipe import Recipe

    base_dir = None
    if isinstance(recipe, (str, Path)):
        base_dir = Path(recipe).parent
        raw = load_recipe(recipe)
    else:
        raw = dict(recipe or {})
    if isinstance(raw.get("data"), str):
        raw["data"] = {"path": raw["data"]}
    if data is not None:
        raw["data"] = {**raw.get("data", {}), "path": str(Path(data).resolve())}
    elif base_dir is not None and isinstance(raw.get("data"), dict):
        # A relative data path in a recipe file is relative to the recipe's folder.
        path = raw["data"].get("path")
        if path and not Path(path).is_absolute():
            raw["data"] = {**raw["data"], "path": str(base_dir / path)}
    for key, value in (("target", target), ("task", task), ("seed", seed)):
        if value is not None:
            raw[key] = value
    for key, value in (("time_budget", time_budget), ("nproc", nproc)):
        if value is not None:
            raw["train"] = {**raw.get("train", {}), key: value}
    given = apply_overrides(raw, list(overrides or []))
    rec = parse_config(Recipe, given)
    if rec.data.path is None:
        raise ConfigError("no data given: pass a data file (trainwright train DATA ...) or set data.path in the recipe",
                          path="data.path")
    return rec, given


def _resume(run_dir: Path, started: float, reporter, nproc, *, out=None, same: dict | None = None):
    import yaml

    from trainwright.config.io import parse_config
    from trainwright.errors import ArtifactError
    from trainwright.pipeline.recipe import Recipe
    from trainwright.runs import Run, layout

    if not (run_dir / layout.RUN_JSON).is_file() or not (run_dir / layout.RECIPE).is_file():
        raise ArtifactError(f"--resume {run_dir}: not a trainwright run directory (no run.json / recipe.yaml)")
    if Run(run_dir).status == "completed":
        raise ArtifactError(f"--resume {run_dir}: the run already completed; there is nothing to resume")
    if Run(run_dir).info.get("parent"):  # only `trainwright compress` writes a parent
        raise ArtifactError(f"--resume {run_dir}: the run was made by `trainwright compress` and did not finish; "
                            f"delete it and compress its parent ({Run(run_dir).info.get('parent')}) again")
    if Run(run_dir).info.get("task") == "forecast":
        raise ArtifactError(f"--resume {run_dir}: a forecasting run cannot be resumed (it keeps no checkpoints); "
                            "train it again, with the same command without --resume")
    given = yaml.safe_load((run_dir / layout.RECIPE).read_text(encoding="utf-8")) or {}
    _check_same_arguments(run_dir, given, out, same or {})
    if nproc is not None:
        given["train"] = {**given.get("train", {}), "nproc": nproc}
    return Experiment(parse_config(Recipe, given), given=given, out=run_dir, reporter=reporter, started=started,
                      resume=True).run()


def _check_same_arguments(run_dir: Path, recorded: dict, out, same: dict) -> None:
    """Arguments given with ``--resume`` must be those the run was started with; each difference is named."""
    from trainwright.errors import ConfigError

    if out is not None and Path(out).resolve() != run_dir.resolve():
        raise ConfigError(f"--resume {run_dir} continues that run in its own folder; --out {out} names another. "
                          "Drop --out, or give the same folder.", path="--out")
    if all(v in (None, [], ()) for v in same.values()):
        return
    _, now = recipe_from_args(**{k: same[k] for k in ("data", "target", "recipe", "overrides")},
                              task=same["task"], seed=same["seed"], time_budget=same["time_budget"])
    before, after = _flat(recorded), _flat(now)
    differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and k != "train.nproc")
    if differ:
        listed = "; ".join(f"{k}: {_shown(before, k)} when started, {_shown(after, k)} now" for k in differ)
        raise ConfigError(f"--resume {run_dir}: these arguments differ from the ones the run was started with: "
                          f"{listed}. Resume with the same arguments (or --resume alone), or train a new run.",
                          path=differ[0])


def _shown(values: dict, key: str) -> str:
    return repr(values[key]) if key in values else "not given"


def _flat(raw: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def audit(data, *, target: str | None = None, task: str | None = None, overrides: list[str] | None = None,
          seed: int = 42):
    """Audit a data file as ``train`` would see it; returns an ``AuditReport``.

    With a target, the rows are split as ``train`` splits them by default (stratified for classification,
    seeded), so train/test contamination and split drift are checked too. ``trainwright.data.audit`` does
    the same for a DataFrame in memory.

    Args:
        data: path of a CSV, Parquet or JSON Lines file.
        target: the column a model would predict (enables the target checks).
        task: "classification" or "regression"; inferred from the target when not given.
        overrides: ``audit.key=value`` strings for the thresholds.
        seed: seed of the split and the sampled checks.

    Example:
        >>> import trainwright
        >>> from importlib import resources
        >>> report = trainwright.audit(str(resources.files("trainwright") / "datasets" / "penguins.csv"),
        ...                            target="species")
        >>> report.n_rows, report.worst() in ("ok", "info", "warning", "error")
        (344, True)
    """
    from trainwright.config.io import apply_overrides, parse_config
    from trainwright.data.columns import require_column
    from trainwright.data.quality.audit import audit as run_checks
    from trainwright.data.schema import infer_task
    from trainwright.data.sources import read_table
    from trainwright.data.split import split_rows
    from trainwright.errors import ConfigError, DataError
    from trainwright.pipeline.recipe import Recipe

    raw = apply_overrides({}, list(overrides or []))
    if set(raw) - {"audit"}:
        raise ConfigError(f"audit takes only audit.* settings, got {', '.join(sorted(set(raw) - {'audit'}))}")
    config = parse_config(Recipe, {"target": target or "-", "audit": raw.get("audit", {})}).audit
    frame = read_table(data)
    splits = None
    if target is not None:
        require_column(frame, target, what="target column", file=data)
        frame = frame[frame[target].notna()].reset_index(drop=True)
        task = task or infer_task(frame[target])[0]
        try:
            labels = frame[target].to_numpy() if task == "classification" else None
            splits = split_rows(len(frame), labels=labels, seed=seed).as_dict()
        except DataError:
            splits = None  # too small to split: the split checks are skipped
    return run_checks(frame, target=target, task=task, config=config, splits=splits, seed=seed)


def lr_find(data=None, *, target: str | None = None, recipe=None, overrides: list[str] | None = None):
    """Sweep the learning rate of the recipe's neural model on its training rows (Smith's range test); when the
    recipe's model does not train with the neural loop, the first registered learner that does is swept.

    The rows are loaded, cleaned, split, preprocessed and balanced exactly as ``train`` would
    (``fitting.prepare_training``), so the sweep sees what training will see.

    Returns:
        LRFinderResult: rates, smoothed losses and the suggested rate (``.to_svg()`` plots them).

    Example:
        >>> import trainwright
        >>> from importlib import resources
        >>> result = trainwright.lr_find(str(resources.files("trainwright") / "datasets" / "penguins.csv"),
        ...                              target="species", overrides=["model.type=mlp", "audit.enabled=false"])
        >>> 1e-6 < result.suggestion < 10
        True
    """
    from trainwright.fitting.member import prepare_training
    from trainwright.models.registry import build_learner, learners
    from trainwright.pipeline import fit, stages

    rec, _ = recipe_from_args(data, target, recipe, overrides)
    loaded = stages.load(rec.data)
    framed = stages.frame_target(rec, loaded)
    cleaned = stages.clean(rec, framed, loaded.path)
    split = stages.split(rec, cleaned, framed.task, loaded.path)
    config = rec.model
    if config.type == "auto" or not learners().get(config.type).capabilities.uses_loop:
        # The recipe's model does not train with the loop: sweep the first learner that does, with its defaults.
        name = next(n for n in learners().names() if learners().get(n).capabilities.uses_loop)
        config = learners().config_class(name)()
    learner = build_learner(config, task=framed.task, seed=rec.seed, train=rec.train)
    spec = fit.member_spec(rec, cleaned.kinds, framed.task, learner)
    training = prepare_training(spec, cleaned.frame, cleaned.y, split.splits.train, seed=rec.seed)
    return learner.find_lr(training.X, training.y)


def recompute_evaluation(run_path) -> dict:
    """Evaluate a finished run again from its data file (the file's hash must match the run's fingerprint).

    Raises:
        DataError: the data file changed since the run was trained.
        ArtifactError: the run is incomplete.

    Example:
        >>> import tempfile, trainwright
        >>> from importlib import resources
        >>> data = str(resources.files("trainwright") / "datasets" / "penguins.csv")
        >>> run = trainwright.train(data, target="species", out=tempfile.mkdtemp() + "/run",
        ...                         overrides=["model.type=linear", "evaluate.explain.rows=100"])
        >>> again = recompute_evaluation(run.path)
        >>> again["performance"]["test"]["accuracy"] == run.metrics["test"]["accuracy"]
        True
    """
    from trainwright.config.io import parse_config
    from trainwright.deploy.model import TrainedModel
    from trainwright.errors import ArtifactError, DataError
    from trainwright.pipeline import stages
    from trainwright.pipeline.recipe import Recipe
    from trainwright.report.evaluation import build_evaluation
    from trainwright.runs import layout

    import yaml

    model = TrainedModel(run_path)
    if model.info.get("task") == "forecast":
        raise ArtifactError(f"{model.path} is a forecasting run: its evaluation is its backtest, made while training. "
                            "Rebuild the page from it with `trainwright report RUN` (no --recompute), or train again.")
    resolved = yaml.safe_load((model.path / layout.RESOLVED_RECIPE).read_text(encoding="utf-8"))
    recipe = parse_config(Recipe, resolved)
    loaded = stages.load(recipe.data)
    fp = model.run.read_json(layout.FINGERPRINT, {})
    if fp.get("sha256") and fp["sha256"] != loaded.sha256:
        raise DataError(f"{loaded.path} changed since run {model.path} was trained (content hash differs); "
                        "the evaluation would not describe this run.", file=str(loaded.path))
    cleaned = stages.clean(recipe, stages.frame_target(recipe, loaded), loaded.path)
    splits = model.run.read_json(layout.SPLITS, None)
    if splits is None:
        raise ArtifactError(f"{model.path} has no splits.json, so its test rows are unknown")
    frame = cleaned.frame  # the frame-level steps (category maps, lags) were replayed as training did
    parts = {}
    for part in ("train", "validation", "test"):
        pos = frame.index.get_indexer(splits[part])
        pos = pos[pos >= 0]
        parts[part] = (frame.iloc[pos], cleaned.y[pos])
    return build_evaluation(model.path, model.info, model.predictor, parts, recipe.evaluate,
                            threshold=model.info.get("threshold"), seed=recipe.seed)
