"""Hyperparameter search: an Optuna study over recipe values, each trial fitted through the one fit routine.

A trial turns its sampled values into a recipe (``build`` makes the candidate, so any recipe path can be
searched), fits it on the training rows and scores it on the validation rows (or k folds of train+validation).
Learners that report as they train (``capabilities.reports_iterations``) send their validation loss after each
epoch or block of boosting rounds, and the pruner stops bad trials there. The study lives in memory, a journal
file (several processes on one machine) or a database (several machines); each process checks the count of
trials before it starts one, so the study stops at ``trials`` (at most ``workers - 1`` more when processes
start together).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trainwright.errors import ConfigError, TrainwrightError
from trainwright.evaluate.metrics import LOWER_IS_BETTER
from trainwright.evaluate.scoring import score_output
from trainwright.fitting import Candidate, fit_member
from trainwright.fitting.member import import_requirements
from trainwright.search.config import Distribution, TuneConfig

__all__ = ["DEFAULT_TRIALS", "search_space", "storage_url", "check", "open_study", "planned_trials", "run_trials",
           "wait_for_others", "study_summary", "best_values", "recipe_values", "direction"]

DEFAULT_TRIALS = 20
JOURNAL_SUFFIX = ".journal"


def search_space(config: TuneConfig, learner_cls) -> dict[str, Distribution]:
    """The recipe's ``tune.params``, or the learner's declared default space.

    Example:
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> list(search_space(TuneConfig(), LinearLearner))
        ['model.alpha']
    """
    if config.params:
        return dict(config.params)
    if not learner_cls.search_space:
        raise ConfigError(f"model.type={learner_cls.name} declares no default search space; give tune.params "
                          "(recipe path -> distribution)", path="tune.params")
    return {path: Distribution(**d) for path, d in learner_cls.search_space.items()}


def storage_url(storage: str | None) -> str | None:
    """The storage as Optuna needs it: None (memory), ``journal:PATH``, or a database URL.

    Example:
        >>> storage_url("study.journal"), storage_url("postgresql://me@db/tune")
        ('journal:study.journal', 'postgresql://me@db/tune')
    """
    if storage is None or storage.startswith("journal:") or "://" in storage:
        return storage
    if storage.endswith(JOURNAL_SUFFIX):
        return f"journal:{storage}"
    raise ConfigError(f"tune.storage={storage!r} is neither a journal file (journal:PATH, or a path ending in "
                      ".journal) nor a database URL (postgresql://user@host/db, sqlite:///file.db)",
                      path="tune.storage")


def check(config: TuneConfig, space: dict[str, Distribution], storage: str | None) -> None:
    """Refuse settings that cannot work (a sampler that cannot search this space, a storage that cannot be
    opened) before any work starts.

    Example:
        >>> check(TuneConfig(sampler="cmaes"), {"x": Distribution(type="categorical", choices=[1, 2])}, None)
        Traceback (most recent call last):
        ...
        trainwright.errors.ConfigError: tune.sampler=cmaes searches numbers only; tune.params holds categorical values (x): use tpe or gp, or search numbers only
    """
    _sampler(config, space, seed=0)
    _storage(storage)


def open_study(config: TuneConfig, space: dict[str, Distribution], *, name: str, direction: str, seed: int,
               storage: str | None, coordinator: bool = True):
    """Create the study, or load it from its storage (a study killed midway continues from there).

    ``coordinator``: this process started the work on this machine, so trials its storage says are running
    were left so by a process that stopped (a journal file has no heartbeat): they are marked failed and
    run again. Databases use Optuna's heartbeat instead.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trials are logged by the objective, in the run's log
    backend = _storage(storage)
    study = optuna.create_study(study_name=name, storage=backend, direction=direction, load_if_exists=True,
                                sampler=_sampler(config, space, seed), pruner=_pruner(config.pruner))
    if coordinator and storage is not None and storage.startswith("journal:"):
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return study


def _storage(storage: str | None):
    import optuna

    if storage is None:
        return None
    if storage.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = storage[len("journal:"):]
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
        except OSError as exc:
            raise ConfigError(f"tune.storage: cannot open the journal file {path} ({exc.strerror}); choose a "
                              "writable path", path="tune.storage") from None
    for attempt in range(6):
        try:
            return optuna.storages.RDBStorage(storage, heartbeat_interval=10, grace_period=30,
                                              engine_kwargs={"pool_pre_ping": True})
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors are many; the user needs the URL and the cause
            if attempt < 5 and any(w in str(exc) for w in ("duplicate key", "already exists")):
                time.sleep(0.5 * (attempt + 1))  # another process is creating the tables at this moment
                continue
            raise ConfigError(f"tune.storage: cannot open the database {_no_password(storage)} "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Check the URL, that the "
                              "server runs and that its driver is installed (postgresql: pip install "
                              "'psycopg[binary]').", path="tune.storage") from None


def _no_password(url: str) -> str:
    """The URL with any password hidden."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _sampler(config: TuneConfig, space: dict[str, Distribution], seed: int):
    import optuna

    name = config.sampler
    if name == "grid":
        return optuna.samplers.GridSampler({path: d.grid() for path, d in space.items()}, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        if any(d.type == "categorical" for d in space.values()):
            raise ConfigError("tune.sampler=cmaes searches numbers only; tune.params holds categorical values "
                              f"({', '.join(p for p, d in space.items() if d.type == 'categorical')}): use tpe or gp, "
                              "or search numbers only", path="tune.sampler")
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=3)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=5)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, multivariate=True)


def _pruner(name: str):
    import optuna

    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource="auto", reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def planned_trials(config: TuneConfig, space: dict[str, Distribution], deadline: float | None) -> int | None:
    """How many trials the study holds at the end: ``tune.trials``; else the whole grid (grid sampler); else,
    under a time budget, as many as fit (None); else ``DEFAULT_TRIALS``.

    Example:
        >>> planned_trials(TuneConfig(), {}, deadline=None), planned_trials(TuneConfig(trials=5), {}, deadline=9.0)
        (20, 5)
    """
    if config.trials is not None:
        return config.trials
    if config.sampler == "grid":
        return int(np.prod([len(d.grid()) for d in space.values()]))
    return None if deadline is not None else DEFAULT_TRIALS


def run_trials(study, space: dict[str, Distribution], build: Callable[[dict[str, Any]], Candidate], frame,
               y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], *, metric: str, seed: int,
               trials: int | None, deadline: float | None,
               fit_options: Callable[[Candidate], Mapping[str, Any]] = lambda candidate: {},
               log: Callable[[str], None] = lambda message: None) -> int:
    """Run trials in this process until the study holds ``trials`` (finished, pruned, failed or running) or the
    deadline.

    Args:
        build: sampled values (recipe path -> value) -> the candidate to fit (raises ``ConfigError`` for values
            the recipe refuses: that trial fails and the search goes on).
        folds: (train, validation) positions: one pair scores on the validation rows; k pairs cross-validate.

    Returns:
        How many trials this process ran.
    """
    import optuna

    counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL,
               optuna.trial.TrialState.RUNNING)
    objective = _Objective(space, build, frame, y, folds, metric, seed, deadline, fit_options, log,
                           sign=-1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0)
    ran = 0
    while deadline is None or time.monotonic() < deadline:
        if trials is not None and len(study.get_trials(deepcopy=False, states=counted)) >= trials:
            break
        study.optimize(objective, n_trials=1, catch=(TrainwrightError,), gc_after_trial=False)
        ran += 1
        if study._stop_flag:  # the grid sampler stops the study when every point was tried
            break
    return ran


def wait_for_others(study, deadline: float | None, log: Callable[[str], None] = lambda message: None,
                    patience: float = 600.0) -> None:
    """Wait until no trial of the study is running (other processes' trials finish, or a database's heartbeat
    marks a dead process's trial failed), so that every process sharing the study refits the same best. Waits
    at most until the deadline (plus a minute) or ``patience`` seconds without one."""
    import optuna

    running = (optuna.trial.TrialState.RUNNING,)
    end = time.monotonic() + (patience if deadline is None else max(deadline - time.monotonic(), 0.0) + 60.0)
    said = False
    while study.get_trials(deepcopy=False, states=running) and time.monotonic() < end:
        if not said:
            log("waiting for the trials other processes are running")
            said = True
        if isinstance(study._storage, optuna.storages.RDBStorage):
            optuna.storages.fail_stale_trials(study)
        time.sleep(0.5)


class _Objective:
    """One trial: sample, build, fit (reporting to the pruner), score."""

    def __init__(self, space, build, frame, y, folds, metric, seed, deadline, fit_options, log, sign) -> None:
        self.space, self.build, self.frame, self.y, self.folds = space, build, frame, y, folds
        self.metric, self.seed, self.deadline, self.fit_options, self.log = metric, seed, deadline, fit_options, log
        self.sign = sign  # the pruner compares reported values in the study's direction: losses are negated to maximise

    def __call__(self, trial) -> float:
        import optuna

        from trainwright.runtime import cpu_threads

        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trial.set_user_attr("threads", cpu_threads())
        # what the intermediate values are: the learner's validation loss (negated when the study maximises) on
        # one split, the running mean of the metric over folds
        trial.set_user_attr("reported", "loss" if len(self.folds) == 1 else self.metric)
        values = {path: _suggest(trial, path, d) for path, d in self.space.items()}
        try:
            candidate = self.build(values)
        except TrainwrightError as exc:
            self.log(f"trial {trial.number}: failed, its values are refused: {exc}")
            raise
        import_requirements(candidate.spec.learner)
        t0 = time.monotonic()
        scores = []
        try:
            for k, (train, valid) in enumerate(self.folds):
                report = self._reporter(trial) if len(self.folds) == 1 else None
                options = {**self.fit_options(candidate), **({"on_iteration": report} if report else {})}
                member = fit_member(candidate.spec, self.frame, self.y, train, valid, seed=self.seed,
                                    deadline=self.deadline, fit_options=options)
                value = score_output(candidate.spec.task, self.y[valid], member.valid_output, member.classes)[self.metric]
                if value is None:
                    raise ConfigError(f"evaluate.metric={self.metric} cannot be computed on the validation rows")
                scores.append(value)
                trial.set_user_attr("iterations", len(member.learner.history_))
                trial.set_user_attr("best_iteration", getattr(member.learner, "best_iteration_", None))
                if len(self.folds) > 1:  # the running mean after each fold is what the pruner sees
                    trial.report(float(np.mean(scores)), k + 1)
                    if trial.should_prune():
                        raise optuna.TrialPruned()
        except optuna.TrialPruned:
            trial.set_user_attr("seconds", round(time.monotonic() - t0, 3))
            self.log(f"trial {trial.number}: pruned after {trial.user_attrs.get('iterations')} iterations {values}")
            raise
        trial.set_user_attr("seconds", round(time.monotonic() - t0, 3))
        value = float(np.mean(scores))
        self.log(f"trial {trial.number}: {self.metric}={value:.4g} in {time.monotonic() - t0:.1f}s {values}")
        return value

    def _reporter(self, trial) -> Callable[[int, float], None]:
        import optuna

        def report(iteration: int, loss: float) -> None:
            trial.report(self.sign * loss, iteration)
            trial.set_user_attr("iterations", iteration)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return report


def _suggest(trial, path: str, d: Distribution):
    if d.type == "categorical":
        # Optuna stores choices as plain values; lists (hidden sizes) go through their text form.
        texts = [_key(c) for c in d.choices]
        return d.choices[texts.index(trial.suggest_categorical(path, texts))] if any(
            isinstance(c, list) for c in d.choices) else trial.suggest_categorical(path, d.choices)
    if d.type == "int":
        return trial.suggest_int(path, int(d.low), int(d.high), step=int(d.step or 1), log=d.log)
    return trial.suggest_float(path, d.low, d.high, step=d.step, log=d.log)


def _key(choice) -> Any:
    import json

    return json.dumps(choice) if isinstance(choice, list) else choice


def study_summary(study, space: dict[str, Distribution], *, metric: str, storage: str | None,
                  trials: int | None, importance_seconds: float = 5.0) -> dict[str, Any]:
    """What the run keeps of the study: every trial (values, state, score, iterations, worker), the best,
    and parameter importances (fANOVA; only with two or more finished trials)."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                     "params": recipe_values(t.params, space),
                     "iterations": t.user_attrs.get("iterations"), "seconds": t.user_attrs.get("seconds"),
                     "worker": t.user_attrs.get("worker"), "threads": t.user_attrs.get("threads"),
                     "reported": t.user_attrs.get("reported"),
                     "intermediate": [[int(s), float(v)] for s, v in sorted(t.intermediate_values.items())]})
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    best = study.best_trial if complete else None
    importances = {}
    if len(complete) >= 2 and len({tuple(sorted(map(str, t.params.items()))) for t in complete}) >= 2:
        try:
            importances = {k: float(v) for k, v in optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)).items()}
        except (RuntimeError, ValueError, ZeroDivisionError):
            importances = {}
    return {"study": study.study_name, "storage": _no_password(storage) if storage else "memory",
            "direction": study.direction.name.lower(), "metric": metric, "planned_trials": trials,
            "sampler": type(study.sampler).__name__, "pruner": type(study.pruner).__name__,
            "space": {p: d.model_dump(mode="json", exclude_defaults=True) for p, d in space.items()},
            "best": None if best is None else {"number": best.number, "value": best.value,
                                               "params": recipe_values(best.params, space)},
            "counts": {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")},
            "importances": importances, "trials": rows}


def best_values(study, space: dict[str, Distribution]) -> dict[str, Any]:
    """The best trial's values as recipe values."""
    return recipe_values(study.best_trial.params, space)


def recipe_values(params: dict[str, Any], space: dict[str, Distribution]) -> dict[str, Any]:
    """A trial's values as recipe values: list choices back from their text form, numpy numbers as Python's."""
    out = {}
    for path, value in params.items():
        d = space.get(path)
        if d is not None and d.type == "categorical" and any(isinstance(c, list) for c in d.choices):
            value = d.choices[[_key(c) for c in d.choices].index(value)]
        out[path] = _plain(value)
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def direction(metric: str) -> str:
    """'minimize' for losses and errors, 'maximize' for scores."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"
