"""The data path, top to bottom: load, schema, clean, split, audit; then (in the run directory) cleaning
fitted on training rows, fit, evaluate, cross-validate, save, report.

Each stage is one call that takes plain inputs and returns a small frozen result with the decisions it
made; the journal records them. Nothing is written before every input check has passed.
"""

from __future__ import annotations

import time
from pathlib import Path

import trainwright.pipeline.fit as fit
import trainwright.pipeline.outputs as outputs
import trainwright.pipeline.stages as stages
from trainwright.pipeline.budget import Budget
from trainwright.pipeline.journal import Journal, Reporter

__all__ = ["Experiment"]


class Experiment:
    """Runs a validated ``Recipe`` and writes a run directory.

    Args:
        recipe: the validated recipe.
        given: the recipe as the user gave it (saved as ``recipe.yaml``).
        out: run directory; default ``runs/<time>-<data>``.
        runs_dir: parent folder for new runs when ``out`` is not given.
        reporter: progress receiver.
        started: ``time.monotonic()`` at which the time budget started.
        resume: ``out`` is an interrupted run to continue from its newest checkpoint.
        search: a ``tuning.Search``: the fit stage runs a hyperparameter study and refits its best values
            (``trainwright tune``); with ``search.join`` this process only runs trials and writes no run.

    Example:
        >>> import tempfile
        >>> from importlib import resources
        >>> from trainwright.pipeline.recipe import Recipe
        >>> data = str(resources.files("trainwright") / "datasets" / "penguins.csv")
        >>> recipe = Recipe(data={"path": data}, target="species", model={"type": "lightgbm"},
        ...                 evaluate={"report": False})
        >>> model = Experiment(recipe, out=tempfile.mkdtemp() + "/run").run()
        >>> model.info["model"], model.metrics["test"]["accuracy"] > 0.9
        ('lightgbm', True)
    """

    def __init__(self, recipe, *, given: dict | None = None, out=None, runs_dir="runs",
                 reporter: Reporter | None = None, started: float | None = None, resume: bool = False,
                 search=None) -> None:
        self.recipe = recipe
        self.given = given if given is not None else recipe.model_dump(mode="json", exclude_defaults=True)
        self.out = out
        self.runs_dir = runs_dir
        self.reporter = reporter or Reporter()
        self.started = started if started is not None else time.monotonic()
        self.resume = resume
        self.search = search

    @property
    def budget(self) -> Budget:
        """The deadlines of the stages (``train.time_budget``, counted from ``started``)."""
        return Budget(self.started, self.recipe.train.time_budget, report=self.recipe.evaluate.report)

    def run(self):
        """Run every stage; returns the finished run as a ``deploy.TrainedModel``.

        Raises:
            DataError, ConfigError: bad input, found before any run directory is written.
        """
        from trainwright.runs.layout import check_new_run_dir
        from trainwright.training.distributed import rank

        rec, journal = self.recipe, Journal(self.reporter, started=self.started)
        if self.budget.warning():
            journal.log(f"warning: {self.budget.warning()}", "warning")
        if not self.resume and rank() == 0:
            check_new_run_dir(self.out, self.runs_dir)  # a bad --out fails before any work
        with journal.stage("load"):
            loaded = stages.load(rec.data)
            journal.decide(*loaded.decisions)
        with journal.stage("schema"):
            framed = stages.frame_target(rec, loaded)
            journal.decide(*framed.decisions)
        if self.resume:
            _check_same_data(self.out, framed.fingerprint)  # before the audit: a changed file costs nothing
        with journal.stage("clean"):
            cleaned = stages.clean(rec, framed, loaded.path)
            journal.decide(*cleaned.decisions)
        fit.check_inputs(rec, cleaned.kinds, framed.task)
        with journal.stage("split"):
            split = stages.split(rec, cleaned, framed.task, loaded.path)
            journal.decide(*split.decisions)
        with journal.stage("audit"):
            report = stages.audit(rec, framed, cleaned, split, deadline=self.budget.audit_deadline())
            for f in report.findings if report is not None else ():
                if f.severity in ("warning", "error"):
                    journal.log(f"audit {f.severity}: {f.message}", "audit")
        if self.search is not None and self.search.join:
            return self._join(journal, framed.task, cleaned, split, report)
        writer, scratch = self._open_run(loaded.path)  # nothing is written before this line
        journal.attach(writer)
        if self.resume:
            journal.log(f"resumed (attempt {writer.info['resumed'] + 1}); times count from this command's start")
        try:
            if self.resume and writer.info.get("saved"):
                self._finish_saved(writer, journal, cleaned)
            else:
                if not self.resume:  # a resumed run keeps what it started from
                    outputs.write_inputs(writer, given=self.given, fingerprint=framed.fingerprint,
                                         row_ids=cleaned.frame.index.to_numpy(), splits=split.splits, report=report)
                self._train(writer, journal, framed.task, cleaned, split, report)
        except BaseException as exc:
            journal.log("interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt)
                        else f"failed: {type(exc).__name__}: {exc}")
            writer.failed(exc, time.monotonic() - self.started)
            raise
        return _finished(writer.path, scratch)

    def _train(self, writer, journal: Journal, task: str, cleaned, split, report) -> None:
        """The stages inside the run directory: everything fitted sees training rows only."""
        from trainwright.deploy.predictor import Predictor

        rec, frame, y = self.recipe, cleaned.frame, cleaned.y
        refined, positions = self._refine(journal, cleaned, split, report)
        budget, units = self.budget, fit.work_units(rec, refined.kinds, task)
        with journal.stage("tune" if self.search is not None else "train"):
            deadline = budget.fit_share(units["selection"], sum(units.values()))
            options = fit.loop_options(writer.path, rec, self.resume)
            if self.search is not None:
                rec, selection = self._tune(writer, journal, task, cleaned, refined.kinds, positions, options)
            else:
                selection = fit.select_model(rec, frame, y, task, refined.kinds, positions, deadline=deadline,
                                             fit_options=options, log=journal.fit_log)
            journal.decide(*selection.decisions, *selection.member.decisions)
            _log_balancing(journal, selection.member.balancing)
        members, weights = [m for m, _ in selection.pooled], [w for _, w in selection.pooled]
        if rec.preprocess.multiple_imputations > 1:
            with journal.stage("impute"):
                deadline = budget.fit_share(units["imputation"], units["imputation"] + units["cross_validation"])
                members += fit.imputation_members(rec, selection, frame, y, positions, deadline=deadline,
                                                  log=journal.fit_log)
                weights = [1.0 / len(members)] * len(members)
        steps = {"category_maps": cleaned.log.category_maps, "lags": rec.features.lags,
                 "rolling": rec.features.rolling, "order_by": rec.features.order_by}
        with journal.stage("evaluate"):
            predictor = Predictor([(m.preprocessor, m.learner) for m in members], task, steps, weights=weights,
                                  pooling="ensemble" if selection.members else "multiple imputation")
            evaluated = outputs.evaluate_calibrated(rec, predictor, frame, y, positions, journal)
        if rec.split.cv.method != "none":
            with journal.stage("cross-validate"):
                evaluated.metrics["cross_validation"] = fit.cross_validation(
                    rec, selection, frame, y, split.splits, deadline=budget.fit_end(), log=journal.fit_log)
        with journal.stage("save"):
            log = cleaned.log.merged(refined.log).merged(_capping_log(members[0].preprocessor, frame.iloc[refined.train]))
            dropped = [*cleaned.dropped, *refined.dropped]
            resolved = outputs.resolved_recipe(rec, task=task, selection=selection, split_method=split.method,
                                               dropped=dropped, decisions=journal.decisions)
            outputs.save(writer, recipe=rec, selection=selection, predictor=predictor,
                         evaluated=evaluated, cleaning_log=log, decisions=journal.decisions, resolved=resolved)
            writer.write_info(saved=True, **outputs.completed_info(
                task=task, selection=selection, predictor=predictor, kinds=refined.kinds, positions=positions,
                members=members, started=self.started, split_method=split.method, threshold=evaluated.threshold))
        self._report(writer, journal, predictor, evaluated)

    def _refine(self, journal: Journal, cleaned, split, report):
        """Cleaning fitted on the training rows; (its result, the positions of each part)."""
        with journal.stage("clean"):
            refined = stages.clean_after_split(self.recipe, cleaned, split.splits.train, report)
            journal.decide(*refined.decisions)
        return refined, {"train": refined.train, "validation": split.splits.validation, "test": split.splits.test}

    def _tune(self, writer, journal: Journal, task: str, cleaned, kinds, positions, options):
        """The study (this process's trials, and the workers'), its summary in the run, the best values refitted:
        (the recipe with the best values, their Selection)."""
        from trainwright.config.base import Decision
        from trainwright.errors import TrainwrightError
        from trainwright.runs import layout
        from trainwright.search.study import best_values, study_summary

        rec, search, budget = self.recipe, self.search, self.budget
        deadline = search.deadline if search.deadline is not None else budget.fit_share(3, 4)
        tuned = fit.tune_model(rec, cleaned.frame, cleaned.y, task, kinds, positions, study_name=search.study,
                               storage=search.storage, deadline=deadline, fit_options=options, log=journal.fit_log,
                               workers=search.start_workers, seed_offset=search.seed_offset)
        study = tuned["study"]
        summary = study_summary(study, tuned["space"], metric=tuned["metric"], storage=search.storage,
                                trials=tuned["trials"])
        writer.write_json(layout.STUDY, summary)
        if summary["best"] is None:
            raise TrainwrightError(f"no trial of study '{search.study}' finished ({summary['counts']}); give it more "
                                   "time (--time-budget) or trials, or look at log.txt for why trials failed")
        best = summary["best"]
        journal.log(f"study {search.study}: best trial {best['number']} of {len(summary['trials'])}: "
                    f"{tuned['metric']}={best['value']:.4g} {best['params']}")
        journal.decide(Decision("tune", best["params"], f"best {tuned['metric']} ({best['value']:.4g}) on the "
                                f"{'validation rows' if rec.tune.cv < 2 else f'{rec.tune.cv} folds'} among "
                                f"{summary['counts']['complete']} finished trials of study '{search.study}' "
                                f"({summary['counts']['pruned']} pruned)"))
        return fit.refit_best(rec, best_values(study, tuned["space"]), cleaned.frame, cleaned.y, task, kinds,
                              positions, metric=tuned["metric"], deadline=budget.fit_end(), fit_options=options,
                              log=journal.fit_log)

    def _join(self, journal: Journal, task: str, cleaned, split, report) -> None:
        """A tuning worker: the same data path, then trials of the shared study; no run directory."""
        refined, positions = self._refine(journal, cleaned, split, report)
        search = self.search
        with journal.stage("tune"):
            fit.tune_model(self.recipe, cleaned.frame, cleaned.y, task, refined.kinds, positions,
                           study_name=search.study, storage=search.storage,
                           deadline=search.deadline if search.deadline is not None else self.budget.fit_share(3, 4),
                           fit_options=lambda candidate: {}, log=journal.fit_log, coordinator=False,
                           seed_offset=search.seed_offset)
        return None

    def _report(self, writer, journal: Journal, predictor, evaluated) -> None:
        """The report (when asked), then the run is complete: every file it promises is written."""
        from trainwright.runtime import release_memory

        release_memory()  # what fitting freed, before the report's explanations allocate their own
        if self.recipe.evaluate.report:
            outputs.write_report(writer, journal, recipe=self.recipe, predictor=predictor, evaluated=evaluated,
                                 deadline=self.budget.report_deadline())
        writer.completed(seconds=round(time.monotonic() - self.started, 3))
        journal.log("run completed")

    def _finish_saved(self, writer, journal: Journal, cleaned) -> None:
        """``--resume`` of a run whose model is saved (it stopped during the report): evaluate it from its saved
        artifacts and the rows of its splits, write the report, complete it. Nothing is trained again."""
        from trainwright.deploy.predictor import Predictor
        from trainwright.runs import Run, layout

        journal.log("the model is saved: resuming at the report, without training again")
        run = Run(writer.path)
        predictor = Predictor.load(run, require_completed=False)
        saved = run.read_json(layout.SPLITS)
        positions = {p: cleaned.frame.index.get_indexer(saved[p]) for p in outputs.PARTS}
        with journal.stage("evaluate"):
            evaluated = outputs.evaluate(self.recipe, predictor, cleaned.frame, cleaned.y, positions)
            predictor.threshold = evaluated.threshold["threshold"] if evaluated.threshold else None
        self._report(writer, journal, predictor, evaluated)

    def _open_run(self, data_path: Path):
        """(the run's writer, whether it is a scratch folder): under torchrun only rank 0 writes the run; the
        other ranks write to a folder that is dropped at the end."""
        from trainwright.runs import RunWriter
        from trainwright.training.distributed import rank

        if rank() != 0:
            import tempfile

            return RunWriter.create(tempfile.mkdtemp(prefix="trainwright-rank-")), True
        if self.resume:
            return _reopen(Path(self.out)), False
        name = data_path.stem.replace(" ", "_")[:40] or "run"
        info = {"data": str(data_path), "target": self.recipe.target}
        return RunWriter.create(self.out, runs_dir=self.runs_dir, name=name, info=info), False


def _check_same_data(run_dir: Path, fingerprint: dict) -> None:
    """A resumed run must read the data file it started from (its content hash is recorded)."""
    from trainwright.errors import DataError
    from trainwright.runs import Run, layout

    old = Run(run_dir).read_json(layout.FINGERPRINT, {})
    if old and old.get("sha256") != fingerprint["sha256"]:
        raise DataError(f"{fingerprint['file']} changed since run {run_dir} started (content hash differs); a resumed "
                        "run must see the same data. Train a new run instead.", file=fingerprint["file"])


def _reopen(run_dir: Path):
    """The run being resumed (its data was checked by ``_check_same_data``)."""
    from trainwright.runs import Run, RunWriter

    return RunWriter.reopen(Run(run_dir))


def _finished(path: Path, scratch: bool):
    from trainwright.deploy.model import TrainedModel

    model = TrainedModel(path)
    if scratch:
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    return model


def _log_balancing(journal: Journal, balancing) -> None:
    if balancing is not None:
        journal.log(f"balance {balancing.method}: class counts {balancing.before} -> {balancing.after}", "balance")


def _capping_log(pre, train_rows):
    """Cleaning log entries for values capped in the training rows (``clean.outliers: cap``)."""
    from trainwright.data.clean import CleaningLog

    log = CleaningLog()
    for name, low, high, rows in pre.capped_rows(train_rows):
        log.add("cap_outliers", name, f"{pre.clip[0]} x {pre.clip[1]:g}: capped to [{low:.4g}, {high:.4g}] "
                "(bounds from training rows; applied at prediction too)", rows)
    return log
