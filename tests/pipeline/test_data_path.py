"""Issue 3 end to end: cleaning with a log, imputation, leak-free splits, balancing and features
through ``trainwright.train``, on real data."""

import json

import numpy as np
import pandas as pd
import pytest

import trainwright
from tests.conftest import run_cli, sha256


@pytest.fixture()
def penguins(penguins_csv):
    return pd.read_csv(penguins_csv)


def test_no_fitted_step_sees_validation_or_test_rows(tmp_path, penguins):
    """Make every validation and test row extreme: nothing fitted may change."""
    recipe = {"audit": {"enabled": False}, "clean": {"outliers": "cap"},
              "preprocess": {"numeric_impute": "iterative", "missing_indicators": "all"},
              "features": {"target_encoding": ["island"], "polynomial_degree": 2},
              "balance": {"method": "smote"}, "model": {"type": "lightgbm", "n_estimators": 50}}
    penguins.to_csv(tmp_path / "clean.csv", index=False)
    a = trainwright.train(tmp_path / "clean.csv", target="species", recipe=recipe, out=tmp_path / "a")
    splits = json.loads((a.path / "splits.json").read_text())
    held = splits["validation"] + splits["test"]
    poisoned = penguins.copy()
    poisoned.loc[held, "body_mass_g"] = 1e9
    poisoned.loc[held, "bill_length_mm"] = np.nan
    poisoned.loc[held, "island"] = "Atlantis"
    poisoned.to_csv(tmp_path / "poisoned.csv", index=False)
    b = trainwright.train(tmp_path / "poisoned.csv", target="species", recipe=recipe, out=tmp_path / "b")
    assert json.loads((b.path / "splits.json").read_text()) == splits
    assert (a.path / "preprocessor.json").read_text() == (b.path / "preprocessor.json").read_text()
    assert (a.path / "model" / "model.txt").read_text() == (b.path / "model" / "model.txt").read_text()
    assert a.metrics["test"] != b.metrics["test"]  # the held-out rows did change


def test_balancing_sees_training_rows_only(tmp_path, data_dir, monkeypatch):
    import trainwright.data.balance as balance_module

    seen = []
    original = balance_module.balance

    def spy(X, y, method, **kw):
        seen.append((len(X), method))
        return original(X, y, method, **kw)

    monkeypatch.setattr(balance_module, "balance", spy)
    frame = pd.read_csv(data_dir / "breast_cancer.csv")
    frame = pd.concat([frame[frame.target == "benign"], frame[frame.target == "malignant"].head(25)])
    frame.to_csv(tmp_path / "imb.csv", index=False)
    run = trainwright.train(tmp_path / "imb.csv", target="target", out=tmp_path / "r",
                            overrides=["balance.method=auto", "audit.enabled=false", "model.type=lightgbm"])
    info = run.info
    assert seen == [(info["splits"]["train"], "smote")]
    assert info["splits"]["test"] == round(0.1 * len(frame))  # test rows are not resampled
    decisions = json.loads((run.path / "decisions.json").read_text())
    assert any(d["what"] == "balance.method" and d["value"] == "smote" for d in decisions)
    assert "method: smote" in (run.path / "recipe.resolved.yaml").read_text()


def test_cleaning_log_raw_hash_and_prediction_maps(tmp_path, penguins):
    messy = penguins.copy()
    messy["sex"] = messy["sex"].str.upper().where(messy.index % 3 == 0, messy["sex"])
    messy = pd.concat([messy, messy.head(5)], ignore_index=True)  # 5 exact duplicates
    path = tmp_path / "messy.csv"
    messy.to_csv(path, index=False)
    before = sha256(path)
    run = trainwright.train(path, target="species", out=tmp_path / "r", overrides=["model.type=linear"])
    assert sha256(path) == before
    log = json.loads((run.path / "cleaning_log.json").read_text())
    assert log["raw_sha256"] == before
    by_action = {a["action"]: a for a in log["actions"]}
    assert by_action["drop_duplicates"]["rows_affected"] == 5
    assert by_action["drop_duplicates"]["sample_row_ids"] == [344, 345, 346, 347, 348]
    assert log["category_maps"]["sex"] == {"MALE": "male", "FEMALE": "female"}
    upper = penguins.head(3).assign(sex="MALE")
    lower = penguins.head(3).assign(sex="male")
    assert run.predict(upper).equals(run.predict(lower))


def test_group_and_time_splits_in_a_run(tmp_path, penguins):
    frame = penguins.sample(frac=1.0, random_state=0).reset_index(drop=True)  # species not in time order
    frame = frame.assign(colony=np.arange(len(penguins)) // 6,
                            day=pd.date_range("2020-01-01", periods=len(penguins), freq="D").astype(str))
    frame.to_csv(tmp_path / "p.csv", index=False)
    g = trainwright.train(tmp_path / "p.csv", target="species", out=tmp_path / "g",
                          overrides=["split.method=group", "split.group_column=colony", "model.type=linear"])
    s = json.loads((g.path / "splits.json").read_text())
    colony = frame["colony"].to_numpy()
    assert not set(colony[s["train"]]) & set(colony[s["test"]])
    assert not set(colony[s["train"]]) & set(colony[s["validation"]])
    assert "colony" not in g.info["features"]
    t = trainwright.train(tmp_path / "p.csv", target="species", out=tmp_path / "t",
                          overrides=["split.method=time", "split.time_column=day", "model.type=linear"])
    s = json.loads((t.path / "splits.json").read_text())
    day = pd.to_datetime(frame["day"]).to_numpy()
    assert day[s["train"]].max() < day[s["validation"]].min() and day[s["validation"]].max() < day[s["test"]].min()


def test_cross_validation_reported(tmp_path, data_dir):
    run = trainwright.train(data_dir / "diabetes.csv", target="target", out=tmp_path / "r",
                            overrides=["model.type=linear", "split.cv.method=kfold", "split.cv.n_splits=4"])
    cv = run.metrics["cross_validation"]
    assert cv["n_folds"] == 4 and len(cv["folds"]) == 4
    r2 = [f["r2"] for f in cv["folds"]]
    assert cv["r2"]["mean"] == pytest.approx(np.mean(r2)) and cv["r2"]["std"] == pytest.approx(np.std(r2))
    assert 0.2 < cv["r2"]["mean"] < 0.7


def test_multiple_imputation_pools_members(tmp_path, penguins):
    frame = penguins.copy()
    frame.loc[frame.index % 4 == 0, "flipper_length_mm"] = np.nan
    frame.to_csv(tmp_path / "holes.csv", index=False)
    run = trainwright.train(tmp_path / "holes.csv", target="species", out=tmp_path / "r",
                            overrides=["preprocess.multiple_imputations=3", "preprocess.numeric_impute=iterative",
                                       "model.type=linear"])
    assert run.info["members"] == 3
    assert sorted(p.name for p in (run.path / "model").iterdir()) == ["member-0", "member-1", "member-2"]
    assert len(json.loads((run.path / "preprocessor.json").read_text())["members"]) == 3
    pred = trainwright.load(run.path).predict(frame)
    members = trainwright.load(run.path).predictor.members
    each = [m[1].predict_proba(m[0].transform(frame)) for m in members]
    assert not np.allclose(each[0], each[1])  # different posterior draws
    assert np.allclose(pred.filter(like="proba_").to_numpy(), np.mean(each, axis=0))


def test_lag_features_from_a_time_series(tmp_path):
    import statsmodels.api as sm

    sun = sm.datasets.sunspots.load_pandas().data  # YEAR, SUNACTIVITY
    sun.to_csv(tmp_path / "sun.csv", index=False)
    run = trainwright.train(tmp_path / "sun.csv", target="SUNACTIVITY", out=tmp_path / "r",
                            overrides=["features.lags={SUNACTIVITY: [1, 2]}", "features.rolling={SUNACTIVITY: [11]}",
                                       "features.order_by=YEAR", "split.method=time", "split.time_column=YEAR"])
    assert {"SUNACTIVITY__lag1", "SUNACTIVITY__lag2", "SUNACTIVITY__roll11_mean"} <= set(run.info["features"])
    assert run.metrics["test"]["r2"] > 0.5
    pred = run.predict(sun.tail(30))  # new rows carry their own history
    assert pred["prediction"].iloc[2:].notna().all()


def test_cli_bad_and_odd_input(tmp_path, penguins):
    frame = penguins.assign(day="2021-01-01")
    frame.loc[::3, "day"] = "soon"
    frame.to_csv(tmp_path / "dates.csv", index=False)
    proc = run_cli("train", "dates.csv", "--target", "species", "--set", "split.method=time",
                   "--set", "split.time_column=day", cwd=tmp_path)
    assert proc.returncode == 2 and "split.time_column 'day'" in proc.stderr and "soon" in proc.stderr
    dup = pd.concat([penguins.head(1)] * 30)
    dup.to_csv(tmp_path / "dup.csv", index=False)
    proc = run_cli("train", "dup.csv", "--target", "species", cwd=tmp_path)  # 97% repeats: kept, one class
    assert proc.returncode == 2 and "single class" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("train", "dup.csv", "--target", "species", "--set", "clean.drop_duplicates=true", cwd=tmp_path)
    assert proc.returncode == 2 and "duplicate" in proc.stderr and "Traceback" not in proc.stderr
    penguins.assign(empty=np.nan).to_csv(tmp_path / "empty_col.csv", index=False)
    run_cli("train", "empty_col.csv", "--target", "species", "--set", "model.type=linear", "--out", "r",
            cwd=tmp_path, check=True)
    decisions = json.loads((tmp_path / "r" / "decisions.json").read_text())
    assert any(d["what"] == "column 'empty' dropped" for d in decisions)
    penguins.head(4).assign(island="Atlantis").to_csv(tmp_path / "new.csv", index=False)
    run_cli("predict", "r", "new.csv", "-o", "p.csv", cwd=tmp_path, check=True)
    assert len(pd.read_csv(tmp_path / "p.csv")) == 4


def test_cross_validation_folds_fit_on_their_own_training_rows(tmp_path, penguins, monkeypatch):
    from trainwright.data.features import Preprocessor

    fitted = []
    original = Preprocessor.fit

    def spy(self, frame, y=None):
        fitted.append(set(frame.index))
        return original(self, frame, y)

    monkeypatch.setattr(Preprocessor, "fit", spy)
    penguins.to_csv(tmp_path / "p.csv", index=False)
    run = trainwright.train(tmp_path / "p.csv", target="species", out=tmp_path / "r",
                            overrides=["model.type=linear", "split.cv.method=stratified", "split.cv.n_splits=3"])
    splits = json.loads((run.path / "splits.json").read_text())
    test, train = set(splits["test"]), set(splits["train"])
    assert len(fitted) == 1 + 3 and fitted[0] == train
    for rows in fitted:
        assert not rows & test
    pool = train | set(splits["validation"])
    for rows in fitted[1:]:
        held = pool - rows  # the fold's validation rows
        assert 0.25 < len(held) / len(pool) < 0.4


def test_audit_command_writes_reports_and_finds_planted_problems(tmp_path, penguins):
    planted = pd.concat([penguins, penguins.head(6)], ignore_index=True).assign(leak=lambda f: f["species"])
    planted.to_csv(tmp_path / "planted.csv", index=False)
    proc = run_cli("audit", "planted.csv", "--target", "species", "--json", "a.json", "--html", "a.html", cwd=tmp_path,
                   check=True)
    report = json.loads((tmp_path / "a.json").read_text())
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["exact_duplicates"]["count"] == 6 and checks["exact_duplicates"]["examples"][:2] == [344, 345]
    assert checks["target_leakage"]["column"] == "leak" and checks["target_leakage"]["severity"] == "error"
    assert "target_leakage" in proc.stdout and "leak" in proc.stdout
    html = (tmp_path / "a.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "target_leakage" in html
    proc = run_cli("audit", "planted.csv", "--json", "a.json", cwd=tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr  # never overwrites without --force
    # in a run, the leaking column is dropped, logged and recorded
    run = trainwright.train(tmp_path / "planted.csv", target="species", out=tmp_path / "r",
                            overrides=["model.type=linear"])
    assert "leak" not in run.info["features"]
    log = json.loads((run.path / "cleaning_log.json").read_text())
    assert any(a["action"] == "drop_leaking" and a["column"] == "leak" for a in log["actions"])
    assert (run.path / "audit.html").is_file()
    assert any(f["check"] == "exact_duplicates" for f in json.loads((run.path / "audit.json").read_text())["findings"])


def test_classes_missing_from_training_rows_are_refused(tmp_path, penguins):
    # Rows in file order are grouped by species: a time split leaves 'Chinstrap' for test only.
    penguins.assign(day=pd.date_range("2020-01-01", periods=len(penguins), freq="D").astype(str)).to_csv(
        tmp_path / "ordered.csv", index=False)
    proc = run_cli("train", "ordered.csv", "--target", "species", "--set", "split.method=time",
                   "--set", "split.time_column=day", cwd=tmp_path)
    assert proc.returncode == 2 and "['Chinstrap']" in proc.stderr and "never in training rows" in proc.stderr
    assert not (tmp_path / "runs").exists()
