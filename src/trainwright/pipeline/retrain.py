"""``trainwright retrain``: a challenger trained with the champion's recipe on old and new rows, compared with the
champion on the same held-out recent rows, promoted only when it is better beyond the interval.

The newest ``holdout`` share of the new rows (file order: the most recent last) is set aside before anything is
trained; the challenger trains on the champion's data file (checked against its recorded hash) followed by the
rest of the new rows (the last ``window`` rows of them when asked). Both models predict the held-out rows; the
comparison is the mean per-row loss (log loss for classification, squared error for regression: proper scores,
so a better number is a better model), with a 95% paired bootstrap interval of the difference. The challenger is
promoted when the whole interval is below zero. ``registry.json`` beside the champion's run records each lineage's
champion, every challenger, the decision and the hashes of every data file. No run is changed: the challenger is
a new run, the data files it trained on are written next to it.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["retrain", "REGISTRY"]

REGISTRY = "registry.json"
_EPS = 1e-15


def retrain(run, new_data, *, time_budget: float | None = None, holdout: float = 0.3, window: int | None = None,
            out=None, seed: int | None = None, reporter=None) -> dict[str, Any]:
    """Train and judge a challenger for the run at ``run`` on the rows of ``new_data`` (a file with the target).

    Returns:
        The registry entry: champion, challenger, data files with hashes, losses, the interval, ``promoted``.

    Raises:
        DataError: the new rows lack the target or are too few; the champion's data file is gone or changed.
        ConfigError: ``holdout`` or ``window`` out of range.

    Example:
        >>> import tempfile, trainwright, pandas as pd
        >>> from importlib import resources
        >>> folder = tempfile.mkdtemp()
        >>> rows = pd.read_csv(resources.files("trainwright") / "datasets" / "penguins.csv")  # by species
        >>> rows.iloc[:200].to_csv(folder + "/old.csv", index=False)  # Adelie and some Gentoo
        >>> rows.iloc[200:].to_csv(folder + "/new.csv", index=False)  # Gentoo and Chinstrap, never seen
        >>> champion = trainwright.train(folder + "/old.csv", target="species", out=folder + "/runs/champion",
        ...                              overrides=["model.type=linear", "evaluate.report=false"])
        >>> entry = retrain(champion.path, folder + "/new.csv")
        >>> entry["promoted"], entry["holdout_rows"], entry["challenger_loss"] < entry["champion_loss"]
        (True, 43, True)
    """
    import trainwright
    from trainwright.data.sources import read_table

    champion = trainwright.load(run)
    champion.run.require_completed()
    _check_settings(holdout, window)
    started = time.monotonic()
    old_file, old = _old_rows(champion)
    new = read_table(new_data)
    _check_like_champion(champion, new, new_data)
    recent, fit_rows = _split_new(new, champion.target, holdout, new_data)
    training = _concat(old, fit_rows, window)
    folder = Path(champion.path).resolve().parent
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"  # two retrains in one second stay apart
    files = _write_data(folder / "retrain-data", stamp, training, recent)
    budget = None if time_budget is None else max(1.0, time_budget - (time.monotonic() - started))
    out = Path(out) if out is not None else folder / f"{stamp}-challenger-of-{Path(champion.path).name}"
    challenger = trainwright.train(files["training"]["file"], recipe=str(Path(champion.path) / "recipe.yaml"),
                                   out=out, time_budget=budget, reporter=reporter, seed=seed)
    entry = {"at": datetime.now().isoformat(timespec="seconds"), "champion": str(Path(champion.path).resolve()),
             "challenger": str(Path(challenger.path).resolve()), "old_data": {"file": str(old_file), **_lineage(old_file)},
             "new_data": {"file": str(Path(new_data).resolve()), **_lineage(Path(new_data))}, **files,
             **_judge(champion, challenger, recent, seed or 0)}
    _record(folder / REGISTRY, entry)
    return entry


def _check_settings(holdout: float, window: int | None) -> None:
    from trainwright.errors import ConfigError

    if not 0.05 <= holdout <= 0.9:
        raise ConfigError(f"--holdout {holdout}: give the share of the new rows held out for the comparison, "
                          "between 0.05 and 0.9", path="--holdout")
    if window is not None and window < 10:
        raise ConfigError(f"--window {window}: give at least 10 rows (the most recent rows to train on)",
                          path="--window")


def _old_rows(champion):
    """The champion's training file and its rows, refused when the file changed since it was trained."""
    from trainwright.errors import DataError

    try:
        return champion.training_rows()
    except DataError as exc:
        raise DataError(f"{exc}: retraining adds the new rows to it", file=exc.file) from None


def _check_like_champion(champion, new, name) -> None:
    """Refuse, before training anything, new rows the champion could not read: an input column missing, text in
    a numeric column, or class labels of another type (numbers for text classes, or the reverse)."""
    from trainwright.errors import DataError

    predictor = champion.predictor
    missing = [c for c in predictor.members[0][0].required_columns if c not in new.columns]
    if missing:
        raise DataError(f"{name}: the new rows lack the champion's input column(s) {', '.join(map(repr, missing))}; "
                        "retraining needs the same columns", column=missing[0], file=str(name))
    try:
        predictor.refuse_invalid(new)
    except DataError as exc:
        raise DataError(f"{name}: {exc}", column=exc.column, file=str(name)) from None
    if champion.task != "classification" or champion.target not in new.columns:
        return
    labels = new[champion.target].dropna()
    numbers = pd.to_numeric(labels.astype(str), errors="coerce").notna()
    classes_are_numbers = pd.to_numeric(pd.Series(predictor.classes_).astype(str), errors="coerce").notna().all()
    if len(labels) and bool(numbers.all()) != bool(classes_are_numbers):
        raise DataError(f"{name}: the labels of '{champion.target}' are {'numbers' if numbers.all() else 'text'} "
                        f"where the champion's classes are {list(predictor.classes_)[:5]}; relabel the new rows "
                        "the way the champion's were", column=champion.target, file=str(name))


def _split_new(new, target: str, holdout: float, name):
    """(the newest ``holdout`` share of the labelled new rows, the rest): the comparison never trains."""
    from trainwright.errors import DataError

    if target not in new.columns:
        raise DataError(f"{name}: the new rows have no target column '{target}'; retraining needs labelled rows",
                        column=target, file=str(name))
    labelled = new[new[target].notna()]
    held = int(round(len(labelled) * holdout))
    if held < 20 or len(labelled) - held < 1:
        raise DataError(f"{name}: {len(labelled)} labelled new rows leave {held} to compare the models on; give at "
                        f"least {int(np.ceil(20 / holdout))} labelled rows (or a larger --holdout)", file=str(name))
    return labelled.iloc[len(labelled) - held:], labelled.iloc[:len(labelled) - held]


def _concat(old, new, window: int | None):
    import pandas as pd

    both = pd.concat([old, new[[c for c in new.columns if c in old.columns]]], ignore_index=True)
    return both if window is None else both.iloc[-window:]


def _write_data(folder: Path, stamp: str, training, recent) -> dict[str, Any]:
    from trainwright.runs import store

    folder.mkdir(exist_ok=True)
    out = {}
    for key, frame in (("training", training), ("holdout", recent)):
        path = folder / f"{stamp}-{key}.csv"
        store.write_text(path, frame.to_csv(index=False))
        out[key] = {"file": str(path), **_lineage(path)}
    return out


def _lineage(path: Path) -> dict[str, Any]:
    from trainwright.data.sources import file_sha256

    return {"sha256": file_sha256(path), "bytes": path.stat().st_size}


def _judge(champion, challenger, recent, seed: int) -> dict[str, Any]:
    """Both models on the held-out rows: per-row losses, the paired bootstrap interval of the difference."""
    losses = {name: _row_losses(model, recent) for name, model in (("champion", champion), ("challenger", challenger))}
    diff = losses["challenger"] - losses["champion"]
    rng = np.random.default_rng(seed)
    means = np.array([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(1000)])
    low, high = np.quantile(means, [0.025, 0.975])
    metric = champion.info.get("metric")
    scores = {name: _metric(model, recent, metric) for name, model in (("champion", champion), ("challenger", challenger))}
    promoted = bool(high < 0)
    loss = "log loss" if champion.task == "classification" else "squared error"
    reason = (f"mean {loss} on {len(recent)} held-out recent rows: champion {losses['champion'].mean():.5g}, "
              f"challenger {losses['challenger'].mean():.5g}; difference {diff.mean():+.5g} (95% interval "
              f"{low:+.5g} to {high:+.5g}): " + ("the challenger is better beyond the interval" if promoted else
                                                 "not better beyond the interval, the champion stays"))
    if champion.task == "classification" and recent[champion.target].nunique() == 1:
        reason += f" (note: every held-out row is of one class, {recent[champion.target].iloc[0]!r})"
    return {"holdout_rows": int(len(recent)), "loss": loss, "champion_loss": float(losses["champion"].mean()),
            "challenger_loss": float(losses["challenger"].mean()),
            "difference": {"value": float(diff.mean()), "low": float(low), "high": float(high)},
            "metric": metric, "champion_metric": scores["champion"], "challenger_metric": scores["challenger"],
            "promoted": promoted, "reason": reason}


def _metric(model, rows, metric: str):
    """The run's metric on the rows, or None when the model cannot be scored on them (a class it never saw)."""
    from trainwright.errors import DataError

    try:
        return model.evaluate(rows).get(metric)
    except DataError:
        return None


def _row_losses(model, rows) -> np.ndarray:
    """Each row's log loss (a class the model does not know: probability 0) or squared error."""
    y = rows[model.target].to_numpy()
    out = model.predictor.output(rows)
    if model.task == "regression":
        return (np.asarray(out, dtype=float) - y.astype(float)) ** 2
    from trainwright.data.labels import align_labels

    classes = model.predictor.classes_
    position = {c: i for i, c in enumerate(classes.tolist())}
    aligned = align_labels(y, classes).tolist()
    p = np.array([out[i, position[v]] if v in position else 0.0 for i, v in enumerate(aligned)])
    return -np.log(np.clip(p, _EPS, 1.0))


def _record(path: Path, entry: dict[str, Any]) -> None:
    """Append the entry to the registry, holding a lock so that two retrains never lose each other's entries.
    Runs descending from one first champion form a lineage (named by that run); ``champions`` holds each
    lineage's current champion, the challenger when it was promoted."""
    from trainwright.runs import store

    with store.locked(path):
        _append(path, entry)


def _append(path: Path, entry: dict[str, Any]) -> None:
    from trainwright.runs import store

    registry = store.read_json(path, {"format_version": 1, "champions": {}, "entries": []})
    lineage = next((e["lineage"] for e in registry["entries"] if e["challenger"] == entry["champion"]),
                   entry["champion"])
    entry["lineage"] = lineage
    registry["entries"].append(entry)
    registry["champions"][lineage] = entry["challenger"] if entry["promoted"] else \
        registry["champions"].get(lineage, entry["champion"])
    store.write_json(path, registry)
