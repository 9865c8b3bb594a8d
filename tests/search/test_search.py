"""``trainwright tune``: every sampler and pruner from Python and the CLI, real pruning, the best values
refitted and written as a normal run, a killed study resumed from its storage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import trainwright
from tests.conftest import PENGUINS, run_cli
from trainwright.errors import ConfigError

LINEAR = ["model.type=linear", "evaluate.report=false"]


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes", "gp"])
def test_each_sampler(sampler, tmp_path):
    space = "{type: log, low: 0.001, high: 100}" if sampler != "grid" else "{type: log, low: 0.01, high: 1}"
    run = trainwright.tune(PENGUINS, target="species", out=tmp_path / "r", trials=None if sampler == "grid" else 6,
                           overrides=[*LINEAR, f"tune.sampler={sampler}", f"tune.params={{model.alpha: {space}}}"])
    study = run.run.read_json("study.json")
    assert study["sampler"].lower().startswith(sampler if sampler != "gp" else "gp")
    assert len(study["trials"]) == (5 if sampler == "grid" else 6)  # the grid: 5 points of the log range
    alphas = [t["params"]["model.alpha"] for t in study["trials"]]
    assert len(set(alphas)) == len(alphas)  # no value tried twice
    assert run.metrics["test"]["accuracy"] > 0.9


@pytest.mark.parametrize("pruner", ["asha", "hyperband", "median", "none"])
def test_each_pruner_and_pruned_trials_ran_fewer_rounds(pruner, tmp_path):
    run = trainwright.tune(PENGUINS, target="species", out=tmp_path / "r", trials=14,
                           overrides=["model.type=lightgbm", "evaluate.report=false", f"tune.pruner={pruner}"])
    trials = run.run.read_json("study.json")["trials"]
    pruned = [t["iterations"] for t in trials if t["state"] == "pruned"]
    done = [t["iterations"] for t in trials if t["state"] == "complete"]
    if pruner == "none":
        assert not pruned and len(done) == 14
    else:
        assert pruned, f"{pruner} pruned nothing in 14 trials"
        assert max(pruned) < max(done) and sum(pruned) / len(pruned) < sum(done) / len(done)
        # a pruned trial stopped at the round it reported last
        assert all(t["intermediate"][-1][0] == t["iterations"] for t in trials if t["state"] == "pruned")


def test_the_neural_loop_reports_each_epoch_and_is_pruned(tmp_path):
    run = trainwright.tune(PENGUINS, target="species", out=tmp_path / "r", trials=8,
                           overrides=["model.type=mlp", "train.epochs=12", "evaluate.report=false",
                                      "tune.pruner=median", "tune.params={train.optimizer.lr: {type: log, low: 0.00001, "
                                      "high: 0.1}}"])
    trials = run.run.read_json("study.json")["trials"]
    assert all([s for s, _ in t["intermediate"]] == list(range(1, len(t["intermediate"]) + 1)) for t in trials)
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(t["iterations"] < 12 for t in pruned)


def test_tune_reports_the_study_and_refits_on_train_and_validation(tuned_run):
    study = tuned_run.run.read_json("study.json")
    assert study["metric"] == "rmse" and study["direction"] == "minimize" and len(study["trials"]) == 12
    best = study["best"]
    assert best["value"] == min(t["value"] for t in study["trials"] if t["state"] == "complete")
    import yaml

    text = (tuned_run.path / "recipe.resolved.yaml").read_text()
    resolved = yaml.safe_load(text)
    for path, value in best["params"].items():  # the best values are the run's
        node = resolved
        for part in path.split("."):
            node = node[part]
        assert node == pytest.approx(value)
    rows = tuned_run.info["splits"]["train"] + tuned_run.info["splits"]["validation"]
    assert f"tune.refit = True (the best values refitted on the {rows} train+validation rows" in text
    assert study["importances"] and abs(sum(study["importances"].values()) - 1) < 1e-6


def test_tune_cv_scores_folds_and_prunes_on_the_running_mean(tmp_path):
    run = trainwright.tune(PENGUINS, target="species", out=tmp_path / "r", trials=4,
                           overrides=[*LINEAR, "tune.cv=3"])
    trials = run.run.read_json("study.json")["trials"]
    assert all(t["reported"] == "log_loss" for t in trials)
    assert all(len(t["intermediate"]) == 3 for t in trials if t["state"] == "complete")


def test_the_cli_tunes_with_no_tune_section(tmp_path):
    proc = run_cli("tune", PENGUINS, "--target", "species", "--trials", "5", "--out", "r", "--set",
                   "evaluate.report=false", cwd=tmp_path, check=True)
    assert "Study penguins-species" in proc.stdout and "5 trials" in proc.stdout
    study = json.loads((tmp_path / "r" / "study.json").read_text())
    assert set(study["space"]) >= {"model.learning_rate", "model.num_leaves"}  # LightGBM's declared space


@pytest.mark.parametrize("settings, words", [
    (["tune.sampler=cmaes", "tune.params={balance.method: {type: categorical, choices: [none, oversample]}}"],
     "cmaes searches numbers only"),
    (["tune.params={model.alpha: {type: float, low: 2, high: 1}}"], "low must be below high"),
    (["tune.params={model.alpha: {type: log, low: 0, high: 1}}"], "needs low > 0"),
    (["tune.storage=ftp://nowhere/x"], "cannot open the database"),
    (["tune.storage=study.txt"], "neither a journal file"),
])
def test_bad_tune_settings_are_refused(settings, words, tmp_path):
    proc = run_cli("tune", PENGUINS, "--target", "species", "--trials", "2", "--out", "r",
                   *[a for s in [*LINEAR, *settings] for a in ("--set", s)], cwd=tmp_path)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_a_killed_study_resumes_from_its_journal(tmp_path):
    journal = tmp_path / "s.journal"
    args = [sys.executable, "-m", "trainwright", "tune", str(PENGUINS), "--target", "species", "--storage",
            str(journal), "--study", "s", "--out", "killed", "--set", "model.type=mlp", "--set", "train.epochs=30",
            "--set", "tune.pruner=none", "--set", "evaluate.report=false", "--trials", "40"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "HOME": str(tmp_path)})
    import optuna

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(str(journal))))
        except (KeyError, FileNotFoundError):  # the study is not created yet
            continue
        if sum(t.state.name == "COMPLETE" for t in study.trials) >= 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {t.number: t.params["train.optimizer.lr"] for t in study.trials if t.state.name == "COMPLETE"}
    assert len(before) >= 2
    total = len(study.trials) + 2
    run_cli("tune", PENGUINS, "--target", "species", "--storage", journal, "--study", "s", "--out", "resumed",
            "--set", "model.type=mlp", "--set", "train.epochs=30", "--set", "tune.pruner=none",
            "--set", "evaluate.report=false", "--trials", total, cwd=tmp_path, check=True)
    after = json.loads((tmp_path / "resumed" / "study.json").read_text())["trials"]
    assert {t["number"]: t["params"]["train.optimizer.lr"] for t in after if t["number"] in before} == before  # kept
    assert sum(t["state"] in ("complete", "pruned") for t in after) >= total - 1
    assert not any(t["state"] == "running" for t in after)  # the killed trial was marked failed


def test_values_the_recipe_refuses_fail_that_trial_only(tmp_path):
    run = trainwright.tune(PENGUINS, target="species", out=tmp_path / "r", trials=8,
                           overrides=[*LINEAR, "tune.sampler=random",
                                      "tune.params={model.max_iter: {type: categorical, choices: [100, -1]}}"])
    counts = run.run.read_json("study.json")["counts"]
    assert counts["fail"] >= 1 and counts["complete"] >= 1
    assert "its values are refused" in (run.path / "log.txt").read_text()


def test_a_searched_path_that_is_not_a_recipe_value_is_refused_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="model.bogus: unknown key"):
        trainwright.tune(PENGUINS, target="species", out=tmp_path / "r", trials=2,
                         overrides=[*LINEAR, "tune.params={model.bogus: {type: int, low: 1, high: 3}}"])
    assert not (tmp_path / "r").exists()
