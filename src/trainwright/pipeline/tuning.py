"""``trainwright.tune``: a hyperparameter study on a data file, written as a normal run.

The study runs in this process and, with ``workers > 1``, in worker processes on the same machine that share
it through a journal file, the cores divided between them. Several machines share a study through a database
(``storage="postgresql://..."``): each runs the same command, each writes its own run with the study's best.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from trainwright.pipeline.api import recipe_from_args
from trainwright.pipeline.experiment import Experiment
from trainwright.pipeline.journal import Reporter

__all__ = ["Search", "tune", "join"]


@dataclass(frozen=True)
class Search:
    """How this process takes part in a study.

    Attributes:
        study: the study's name in its storage.
        storage: None (in memory), ``journal:PATH`` or a database URL.
        worker_args: what a worker process needs to rejoin the study (the recipe and the clock), or None when
            this process runs alone.
        workers: worker processes this process starts (besides itself).
        join: this process only runs trials (a worker): no run directory.
        deadline: ``time.monotonic()`` after which no trial starts; None: the recipe's budget decides.
        seed_offset: added to the recipe's seed for this process's sampler, so processes sharing a study do not
            propose the same values (0 for a process alone: the same seed gives the same study).
    """

    study: str
    storage: str | None
    worker_args: dict | None = None
    workers: int = 0
    join: bool = False
    deadline: float | None = None
    seed_offset: int = 0

    def start_workers(self) -> list[subprocess.Popen]:
        """Start the worker processes (each runs ``join`` on the same recipe and study)."""
        if not self.workers:
            return []
        env = dict(os.environ)  # threads were divided by share_cores before this
        code = "import sys, json; from trainwright.pipeline.tuning import join; join(json.loads(sys.argv[1]))"
        return [subprocess.Popen([sys.executable, "-c", code, json.dumps({**self.worker_args, "seed_offset": i + 1})],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for i in range(self.workers)]


def tune(data=None, *, target: str | None = None, recipe=None, overrides: list[str] | None = None,
         task: str | None = None, out=None, seed: int | None = None, time_budget: float | None = None,
         trials: int | None = None, storage: str | None = None, study: str | None = None,
         workers: int | None = None, runs_dir="runs", reporter: Reporter | None = None, started: float | None = None):
    """Search hyperparameters on a data file (the recipe's ``tune:`` section, or the learner's default space),
    refit the best values and write a normal run (with ``study.json`` and a tuning section in its report).

    Args:
        data, target, recipe, overrides, task, out, seed, time_budget: as ``trainwright.train``.
        trials: ``tune.trials``: trials in the study (those already in its storage count).
        storage: ``tune.storage``: a journal file or a database URL (the study resumes from it).
        study: ``tune.study``: the study's name in the storage.
        workers: ``tune.workers``: processes on this machine running trials at once.

    Returns:
        TrainedModel: the refitted best configuration, like ``trainwright.train``'s.

    Raises:
        ConfigError: the recipe, a distribution or the storage is invalid.

    Example:
        >>> import tempfile, trainwright
        >>> from importlib import resources
        >>> data = str(resources.files("trainwright") / "datasets" / "penguins.csv")
        >>> run = trainwright.tune(data, target="species", trials=3, out=tempfile.mkdtemp() + "/run",
        ...                        overrides=["model.type=linear", "evaluate.report=false"])
        >>> run.info["model"], len(run.run.read_json("study.json")["trials"])
        ('linear', 3)
    """
    started = time.monotonic() if started is None else started
    settings = {"trials": trials, "storage": storage, "study": study, "workers": workers}
    extra = [f"tune.{k}={v}" for k, v in settings.items() if v is not None]
    rec, given = recipe_from_args(data, target, recipe, [*(overrides or []), *extra], task=task, seed=seed,
                                  time_budget=time_budget)
    if rec.task == "forecast":
        from trainwright.errors import ConfigError

        raise ConfigError("`trainwright tune` searches table learners; a forecast already backtests every forecaster "
                          "and keeps the best: use `trainwright train ... --task forecast`", path="task")
    search, scratch = _search(rec, started)
    try:
        return Experiment(rec, given=given, out=out, runs_dir=runs_dir, reporter=reporter, started=started,
                          search=search).run()
    finally:
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


def _search(rec, started: float) -> tuple[Search, Path | None]:
    """How this process runs the recipe's study (its storage: a scratch journal for local workers), with every
    setting checked before any work; (the Search, the scratch folder to remove at the end or None)."""
    from trainwright.models.registry import learners
    from trainwright.pipeline.fit import tuned_recipe, tuned_type
    from trainwright.runtime import share_cores
    from trainwright.search.study import check, search_space, storage_url

    name = rec.tune.study or f"{Path(rec.data.path).stem}-{rec.target}"
    scratch = None
    url = storage_url(rec.tune.storage)
    if rec.tune.workers > 1 and url is None:  # processes on one machine share a journal file
        scratch = Path(tempfile.mkdtemp(prefix="trainwright-study-"))
        url = f"journal:{scratch / 'study.journal'}"
    space = search_space(rec.tune, learners().get(tuned_type(rec)))
    check(rec.tune, space, url)  # before any work: the sampler can search the space, the storage opens,
    tuned_recipe(rec, {path: d.grid(2)[0] for path, d in space.items()})  # and every path is a recipe value
    share_cores(rec.tune.workers)
    deadline = None
    if rec.train.time_budget is not None:  # every process stops starting trials at the same moment
        from trainwright.pipeline.budget import Budget

        deadline = Budget(started, rec.train.time_budget, report=rec.evaluate.report).fit_share(3, 4)
    args = {"recipe": rec.model_dump(mode="json"), "study": name, "storage": url, "deadline": deadline}
    return Search(name, url, args, rec.tune.workers - 1, deadline=deadline, seed_offset=_machine_offset(url)), scratch


def _machine_offset(storage: str | None) -> int:
    """A database study is shared with other machines running the same command (same seed): each process's
    sampler gets an offset from its host and process id. Studies on this machine only need none."""
    if storage is None or storage.startswith("journal:"):
        return 0
    import socket
    import zlib

    return zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) % 1_000_000


def join(args: dict) -> None:
    """A worker process: run trials of ``args["study"]`` until the study is done or the deadline passes."""
    from trainwright.config.io import parse_config
    from trainwright.pipeline.recipe import Recipe

    rec = parse_config(Recipe, args["recipe"])
    search = Search(args["study"], args["storage"], join=True, deadline=args["deadline"],
                    seed_offset=_machine_offset(args["storage"]) + args["seed_offset"])
    Experiment(rec, search=search).run()
