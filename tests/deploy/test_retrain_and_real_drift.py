"""``retrain`` and ``drift`` on a real shift: the affairs survey (statsmodels, DATASETS.md) split by age (a filtered
subgroup the champion never saw) and at random (the same population)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def fair(data_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("retrain")
    rows = pd.read_csv(data_dir / "fair.csv")
    rows[rows["age"] < 32].to_csv(d / "young.csv", index=False)
    rows[rows["age"] >= 32].to_csv(d / "older.csv", index=False)
    shuffled = rows.sample(frac=1.0, random_state=0)
    shuffled.iloc[:3000].to_csv(d / "half1.csv", index=False)
    shuffled.iloc[3000:].to_csv(d / "half2.csv", index=False)
    for name, data in (("young", "young.csv"), ("half", "half1.csv")):
        run_cli("train", data, "--target", "had_affair", "--set", "model.type=linear", "--set", "evaluate.bootstrap=0",
                "--set", "evaluate.explain.rows=10", "--out", f"runs/{name}", cwd=d, check=True)
    return d


def test_drift_alarms_on_an_unseen_subgroup_and_not_on_a_random_split(fair):
    older = run_cli("drift", "runs/young", "older.csv", "--json", "older.json", cwd=fair)
    assert older.returncode == 3, older.stderr
    result = json.loads((fair / "older.json").read_text())
    assert "age" in result["summary"]["drifted"] and result["summary"]["prediction_drift"]
    assert result["performance"]["measured"]["log_loss"] > 1.3 * result["performance"]["test"]  # worse, measured
    same = run_cli("drift", "runs/half", "half2.csv", "--json", "half.json", cwd=fair)
    assert same.returncode == 0, same.stderr
    assert json.loads((fair / "half.json").read_text())["summary"]["drifted"] == []


def test_retrain_promotes_a_better_challenger_and_keeps_the_champion_otherwise(fair):
    before = {p.name: p.stat().st_mtime_ns for p in (fair / "runs" / "young").iterdir()}
    shifted = run_cli("retrain", "runs/young", "older.csv", cwd=fair)
    assert shifted.returncode == 0, shifted.stderr
    assert "Promoted: mean log loss on 749 held-out recent rows: champion 1.2334, challenger 0.72674" in shifted.stderr
    same = run_cli("retrain", "runs/half", "half2.csv", cwd=fair)
    assert same.returncode == 0 and "Not promoted:" in same.stderr, same.stderr
    registry = json.loads((fair / "runs" / "registry.json").read_text())
    promoted, kept = registry["entries"]
    assert promoted["promoted"] and promoted["difference"]["high"] < 0
    assert not kept["promoted"] and kept["difference"]["high"] >= 0
    young, half = (str((fair / "runs" / n).resolve()) for n in ("young", "half"))
    assert registry["champions"] == {young: promoted["challenger"], half: half}
    # the held-out rows are the newest 30% of the new file and no model trained on them
    older = pd.read_csv(fair / "older.csv")
    holdout = pd.read_csv(promoted["holdout"]["file"])
    assert len(holdout) == round(0.3 * len(older)) and holdout.equals(older.tail(len(holdout)).reset_index(drop=True))
    training = pd.read_csv(promoted["training"]["file"])
    assert len(training) == len(pd.read_csv(fair / "young.csv")) + len(older) - len(holdout)
    # lineage: every file's hash; the champion untouched
    assert len(promoted["old_data"]["sha256"]) == 64 and promoted["new_data"]["file"].endswith("older.csv")
    assert {p.name: p.stat().st_mtime_ns for p in (fair / "runs" / "young").iterdir()} == before
    # a challenger of the challenger stays in the same lineage
    again = run_cli("retrain", promoted["challenger"], "older.csv", "--holdout", "0.5", cwd=fair)
    assert again.returncode == 0, again.stderr
    registry = json.loads((fair / "runs" / "registry.json").read_text())
    assert registry["entries"][-1]["lineage"] == young and set(registry["champions"]) == {young, half}


def test_retrain_refuses_what_it_cannot_use(fair, tmp_path):
    unlabelled = pd.read_csv(fair / "older.csv").drop(columns="had_affair")
    unlabelled.to_csv(tmp_path / "unlabelled.csv", index=False)
    for args, words in [(("runs/young", str(tmp_path / "unlabelled.csv")), "no target column 'had_affair'"),
                        (("runs/young", "older.csv", "--holdout", "0.99"), "--holdout"),
                        (("runs/young", "older.csv", "--window", "3"), "--window")]:
        proc = run_cli("retrain", *args, cwd=fair)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    older = pd.read_csv(fair / "older.csv")
    # found by a hostile review: each was trained and promoted before
    older.drop(columns="age").to_csv(tmp_path / "no_age.csv", index=False)
    older.assign(age="old").to_csv(tmp_path / "text_age.csv", index=False)
    older.assign(had_affair=(older["had_affair"] == "yes").astype(int)).to_csv(tmp_path / "numbers.csv", index=False)
    for file, words in [("no_age.csv", "input column(s) 'age'"), ("text_age.csv", "column 'age' holds values"),
                        ("numbers.csv", "are numbers where the champion's classes are")]:
        proc = run_cli("retrain", "runs/young", str(tmp_path / file), cwd=fair)
        assert proc.returncode == 2 and words in proc.stderr and file in proc.stderr, proc.stderr
    pd.read_csv(fair / "older.csv").head(30).to_csv(tmp_path / "few.csv", index=False)
    proc = run_cli("retrain", "runs/young", str(tmp_path / "few.csv"), cwd=fair)
    assert proc.returncode == 2 and "at least" in proc.stderr
