"""The Python API end to end: trainwright.train -> Run -> trainwright.load(...).predict."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import trainwright
from trainwright.errors import ArtifactError, ConfigError, DataError


@pytest.fixture(scope="module")
def run(tmp_path_factory, penguins_csv):
    out = tmp_path_factory.mktemp("api") / "run"
    return trainwright.train(penguins_csv, target="species", out=out,
                             overrides=["model.type=lightgbm", "model.n_estimators=300"])


def test_run_directory_holds_every_artifact(run):
    names = {p.name for p in run.path.iterdir()}
    assert {"run.json", "recipe.yaml", "recipe.resolved.yaml", "decisions.json", "fingerprint.json", "splits.json",
            "preprocessor.json", "model", "metrics.json", "history.json", "leaderboard.json", "environment.json",
            "log.txt"} <= names
    assert {p.name for p in (run.path / "model").iterdir()} == {"learner.json", "model.txt"}
    assert not [p for p in run.path.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]


def test_metrics_and_info(run):
    m = run.metrics
    assert set(m) == {"train", "validation", "test"}
    assert set(m["test"]) == {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "specificity",
                              "precision_weighted", "recall_weighted", "f1_weighted", "specificity_weighted",
                              "roc_auc", "pr_auc", "log_loss", "brier", "ece", "mcc"}
    assert m["test"]["accuracy"] > 0.9
    assert run.status == "completed" and run.task == "classification"
    assert run.info["classes"] == ["Adelie", "Chinstrap", "Gentoo"]


def test_resolved_recipe_replays_and_records_decisions(run):
    resolved = yaml.safe_load((run.path / "recipe.resolved.yaml").read_text())
    assert resolved["task"] == "classification" and resolved["evaluate"]["metric"] == "log_loss"
    assert resolved["model"]["n_estimators"] == 300 and resolved["model"]["num_leaves"] == 31
    trainwright.Recipe.model_validate(resolved)
    decisions = json.loads((run.path / "decisions.json").read_text())
    assert any(d["what"] == "task" and d["value"] == "classification" for d in decisions)


def test_fingerprint_splits_history_environment(run, penguins_csv):
    from tests.conftest import sha256

    fp = json.loads((run.path / "fingerprint.json").read_text())
    assert fp["sha256"] == sha256(penguins_csv) and (fp["rows"], fp["columns"]) == (344, 8)
    kinds = {c["name"]: c["kind"] for c in fp["schema"]["columns"]}
    assert kinds["island"] == "categorical" and kinds["body_mass_g"] == "numeric"
    splits = json.loads((run.path / "splits.json").read_text())
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [241, 69, 34]
    assert not set(splits["train"]) & set(splits["test"])
    history = json.loads((run.path / "history.json").read_text())
    assert history["entries"][0]["iteration"] == 1 and "validation_loss" in history["entries"][0]
    assert 1 <= history["best"] <= len(history["entries"])
    env = json.loads((run.path / "environment.json").read_text())
    assert env["seed"] == 42 and env["packages"]["lightgbm"] and env["python"]


def test_load_predict_any_column_order_and_missing_values(run, penguins_csv):
    frame = pd.read_csv(penguins_csv)
    loaded = trainwright.load(run.path)
    pred = loaded.predict(frame)
    assert list(pred.columns) == ["prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert np.allclose(pred.filter(like="proba_").sum(axis=1), 1.0)
    messy = frame.drop(columns="species")[frame.columns[::-1].drop("species")].assign(note="x")
    messy.loc[:5, ["bill_length_mm", "sex"]] = None
    again = loaded.predict(messy)
    assert again["prediction"].iloc[10:].tolist() == pred["prediction"].iloc[10:].tolist()
    assert again["prediction"].notna().all()
    assert loaded.evaluate(frame)["accuracy"] > 0.95


def test_predict_missing_column(run, penguins_csv):
    with pytest.raises(DataError, match="sex"):
        trainwright.load(run.path).predict(pd.read_csv(penguins_csv).drop(columns=["sex"]))


def test_regression_and_auto_leaderboard(tmp_path, data_dir):
    run = trainwright.train(data_dir / "diabetes.csv", target="target", out=tmp_path / "r",
                            recipe={"model": {"type": "auto", "candidates": ["linear", "lightgbm"]}})
    assert run.task == "regression" and set(run.metrics["test"]) == {"rmse", "mae", "r2", "mse", "mape"}
    board = json.loads((run.path / "leaderboard.json").read_text())
    assert [c["model"] for c in board["candidates"]] == ["linear", "lightgbm"] and board["metric"] == "rmse"
    weights = [c["weight"] for c in board["candidates"]]
    assert abs(sum(weights) - 1) < 1e-3 and all(c["oof"]["rmse"] > 0 for c in board["candidates"])
    assert run.info["model"] == ("auto" if min(weights) > 0 else max(board["candidates"], key=lambda c: c["weight"])["learner"])


def test_recipe_file_with_relative_data_path(tmp_path, penguins_csv):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.csv").write_bytes(penguins_csv.read_bytes())
    (tmp_path / "r.yaml").write_text("data: data/p.csv\ntarget: species\nmodel: {type: linear}\n")
    run = trainwright.train(recipe=tmp_path / "r.yaml", out=tmp_path / "run")
    assert run.info["model"] == "linear" and run.metrics["test"]["accuracy"] > 0.9


def test_bad_input_leaves_no_run_directory(tmp_path, penguins_csv):
    with pytest.raises(DataError, match="Did you mean 'species'"):
        trainwright.train(penguins_csv, target="specis", runs_dir=tmp_path / "runs")
    with pytest.raises(ConfigError):
        trainwright.train(penguins_csv, target="species", overrides=["model.bogus=1"], runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_existing_out_is_never_overwritten(tmp_path, penguins_csv):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists"):
        trainwright.train(penguins_csv, target="species", out=tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_failed_run_is_marked_failed(tmp_path, penguins_csv, monkeypatch):
    from trainwright.models.tabular.gbdt import LightGBMLearner

    def boom(self, *a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(LightGBMLearner, "_fit", boom)
    with pytest.raises(RuntimeError):
        trainwright.train(penguins_csv, target="species", out=tmp_path / "run")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "failed" and "disk on fire" in info["error"]
    assert "disk on fire" in (tmp_path / "run" / "log.txt").read_text()
    with pytest.raises(ArtifactError, match="status 'failed'"):
        trainwright.load(tmp_path / "run").predict(pd.read_csv(penguins_csv))


def test_incompatible_run_format(tmp_path, run):
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(run.path, copy)
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**info, "format_version": 99}))
    with pytest.raises(ArtifactError, match="format 99"):
        trainwright.load(copy)
    with pytest.raises(ArtifactError, match="not a trainwright run"):
        trainwright.load(tmp_path)


def test_same_seed_same_run(tmp_path, penguins_csv):
    runs = [trainwright.train(penguins_csv, target="species", out=tmp_path / f"r{i}", seed=5,
                              overrides=["model.type=lightgbm", "model.n_estimators=200"]) for i in range(2)]
    for name in ("splits.json", "preprocessor.json", "model/model.txt", "metrics.json"):
        assert (runs[0].path / name).read_bytes() == (runs[1].path / name).read_bytes(), name
    other = trainwright.train(penguins_csv, target="species", out=tmp_path / "r9", seed=6,
                              overrides=["model.type=lightgbm", "model.n_estimators=200"])
    assert (other.path / "splits.json").read_bytes() != (runs[0].path / "splits.json").read_bytes()


def test_evaluate_needs_labels(run, penguins_csv):
    frame = pd.read_csv(penguins_csv)
    with pytest.raises(DataError, match="no target column 'species'"):
        trainwright.load(run.path).evaluate(frame.drop(columns="species"))
    with pytest.raises(DataError, match="not among the training classes"):
        trainwright.load(run.path).evaluate(frame.assign(species="Emperor"))
