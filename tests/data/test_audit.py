"""The data audit: each problem is planted in real data and must be found; clean originals raise no alarm."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from trainwright.data.quality import model_checks as audit_checks
from trainwright.data.quality import AuditConfig, AuditReport, Finding, audit
from trainwright.errors import ConfigError, DataError

ALARMS = ("warning", "error")


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True).frame


@pytest.fixture(scope="module")
def penguins(penguins_csv) -> pd.DataFrame:
    return pd.read_csv(penguins_csv)


def random_splits(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(0.7 * n), int(0.85 * n)
    return {"train": order[:a], "validation": order[a:b], "test": order[b:]}


def alarms(report: AuditReport) -> list[str]:
    return [f"{f.check}/{f.column}: {f.message}" for f in report.findings if f.severity in ALARMS]


def only(report: AuditReport, check: str, column=None) -> Finding:
    found = [f for f in report.by_check(check) if column is None or f.column == column]
    assert len(found) == 1, (check, column, found)
    return found[0]


# --- clean originals -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, target", [("cancer", "target"), ("wine", "target"), ("diabetes", "target")])
def test_clean_originals_raise_no_alarm(request, name, target):
    frame = request.getfixturevalue(name)
    report = audit(frame, target=target, splits=random_splits(len(frame)))
    assert alarms(report) == []
    assert report.worst() in ("ok", "info")
    # every check ran (contamination and drift too, since splits were given), except the
    # classification-only checks on the regression target
    expected_skips = {"conflicting_labels", "class_imbalance", "label_errors"} if name == "diabetes" else set()
    assert {s.split(":")[0] for s in report.skipped} == expected_skips
    assert report.n_rows == len(frame) and report.n_columns == frame.shape[1]


def test_penguins_missing_values_are_reported_as_information(penguins):
    report = audit(penguins, target="species")
    assert alarms(report) == []
    sex = only(report, "missing_values", "sex")
    assert sex.severity == "info" and sex.count == 11
    assert set(sex.examples) <= set(np.flatnonzero(penguins["sex"].isna()))
    pattern = only(report, "missingness_pattern")
    assert pattern.count == 2 and set(pattern.details["columns"]) == {
        "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"}
    assert sorted(pattern.examples) == sorted(np.flatnonzero(penguins["body_mass_g"].isna()))


# --- rows ------------------------------------------------------------------------------------------

def test_exact_and_near_duplicates(penguins):
    n = len(penguins)
    exact = penguins.iloc[[10, 20, 30]]
    near = penguins.iloc[[40, 50, 60, 70]].copy()
    near["island"] = " " + near["island"].str.upper() + "  "  # same rows, other spelling
    near["bill_length_mm"] = near["bill_length_mm"] + 1e-9  # below the rounding
    frame = pd.concat([penguins, exact, near], ignore_index=True)
    report = audit(frame, target="species")

    dup = only(report, "exact_duplicates")
    assert dup.count == 3 and dup.examples == [n, n + 1, n + 2] and dup.severity == "warning"
    assert dup.details["first_copy_of_examples"] == [[n, 10], [n + 1, 20], [n + 2, 30]]
    assert "clean.drop_duplicates=true" in dup.remedy
    near_dup = only(report, "near_duplicates")
    assert near_dup.count == 4 and near_dup.examples == [n + 3, n + 4, n + 5, n + 6]
    assert near_dup.details["first_copy_of_examples"][0] == [n + 3, 40]
    spelling = only(report, "inconsistent_categories", "island")
    assert spelling.count == 4 and spelling.examples == [n + 3, n + 4, n + 5, n + 6]
    assert "clean.standardize_categories=true" in spelling.remedy


def test_conflicting_labels(cancer):
    n = len(cancer)
    copies = cancer.iloc[[5, 15, 25]].copy()
    copies["target"] = 1 - copies["target"]
    report = audit(pd.concat([cancer, copies], ignore_index=True), target="target")
    conflict = only(report, "conflicting_labels")
    assert conflict.count == 6 and conflict.details["groups"] == 3
    assert conflict.examples == [5, n, 15, n + 1, 25]  # each group's rows together, in row order
    assert report.by_check("exact_duplicates") == []  # the labels differ, so the rows are not duplicates


# --- columns ---------------------------------------------------------------------------------------

def test_constant_and_identifier_columns(cancer):
    frame = cancer.copy()
    n = len(frame)
    frame["site"] = "A"
    frame["scanner"] = "S1"
    frame.loc[[3, 300], "scanner"] = "S2"
    frame["serial"] = np.arange(n)  # unique consecutive integers, a name that says nothing
    frame["patient_code"] = [f"P{i:05d}" for i in np.random.default_rng(0).permutation(n)]
    report = audit(frame, target="target")

    site = only(report, "constant_column", "site")
    assert site.severity == "warning" and "clean.drop_constant=true" in site.remedy
    scanner = only(report, "constant_column", "scanner")
    assert scanner.severity == "info" and scanner.count == 2 and scanner.examples == [3, 300]
    ids = {f.column: f for f in report.by_check("identifier_column")}
    assert set(ids) == {"serial", "patient_code"} and all(f.severity == "warning" for f in ids.values())
    assert "consecutive" in ids["serial"].message and "preprocess.drop_identifiers" in ids["serial"].remedy
    assert {f.column for f in report.by_check("target_leakage")} == set()
    assert {f.check for f in report.findings if f.severity in ALARMS} == {"constant_column", "identifier_column"}


def test_numbers_stored_as_text_with_bad_values(penguins):
    frame = penguins.copy()
    text = frame["flipper_length_mm"].map(lambda v: v if pd.isna(v) else f"{v:.0f}").astype("str")
    bad_rows = [7, 77, 177]
    text.iloc[bad_rows] = ["n/a", "?", "190mm"]
    frame["flipper_length_mm"] = text
    report = audit(frame, target="species")
    mixed = only(report, "mixed_types", "flipper_length_mm")
    assert mixed.count == 3 and mixed.examples == bad_rows and mixed.severity == "warning"
    assert {v for v, _ in mixed.details["bad_values"]} == {"n/a", "?", "190mm"}
    assert "clean.fix_mixed_types=true" in mixed.remedy


def test_several_date_formats_in_one_column(wine):
    frame = wine.copy()
    days = pd.date_range("2021-01-01", periods=len(frame), freq="D")
    dates = pd.Series(days.strftime("%Y-%m-%d"))
    other = [2, 40, 90, 150]
    dates.iloc[other] = days[other].strftime("%d/%m/%Y")
    frame["harvested"] = dates.astype("str")
    mixed = only(audit(frame, target="target"), "mixed_types", "harvested")
    assert mixed.count == 4 and mixed.examples == other
    assert [fmt[1] for fmt in mixed.details["formats"]] == [len(frame) - 4, 4]


def test_missing_values_severity_and_missing_target(penguins):
    frame = penguins.copy()
    frame["comment"] = np.where(np.arange(len(frame)) % 2 == 0, "ok", None)
    frame["blank"] = np.nan
    frame.loc[[0, 1], "species"] = None
    report = audit(frame, target="species")
    assert only(report, "missing_values", "comment").severity == "warning"
    blank = only(report, "missing_values", "blank")
    assert blank.severity == "error" and blank.count == len(frame)
    target = only(report, "missing_values", "species")
    assert target.severity == "warning" and target.count == 2 and target.examples == [0, 1]
    assert report.worst() == "error"


# --- values ----------------------------------------------------------------------------------------

def test_planted_outliers_are_found_and_ranked(cancer, penguins):
    frame = cancer.copy()
    planted = [11, 111, 222, 333, 444]
    frame.loc[planted, "mean radius"] *= [1000, 800, 600, 400, 200]  # unit errors, most extreme first
    found = only(audit(frame, target="target"), "outliers", "mean radius")
    assert found.examples == planted and found.count == 5 and found.severity == "warning"
    assert found.details["upper"] < frame["mean radius"].iloc[planted].min()
    assert "clean.outliers=cap" in found.remedy

    grams = penguins.copy()
    kilos = [5, 105, 205]
    grams.loc[kilos, "body_mass_g"] /= 1000  # three weights entered in kilograms
    found = only(audit(grams, target="species"), "outliers", "body_mass_g")
    assert sorted(found.examples) == kilos and found.count == 3


def test_multivariate_outliers_rank_unusual_combinations_first(cancer):
    frame = cancer.copy()
    features = [c for c in frame.columns if c != "target"]
    # Each value is ordinary on its own (the 2nd or 98th percentile of its column), so no column calls it
    # an outlier; together, small on every other measurement and large on the rest, no tumour looks so.
    corner = np.where(np.arange(len(features)) % 2 == 0, frame[features].quantile(0.02), frame[features].quantile(0.98))
    planted = [50, 150, 250]
    frame.loc[planted, features] = corner
    report = audit(frame, target="target")
    found = only(report, "multivariate_outliers")
    assert found.severity == "info" and sorted(found.examples[:3]) == planted
    assert found.count == pytest.approx(0.01 * len(frame), abs=2)
    assert not any(set(f.examples) & set(planted) for f in report.by_check("outliers"))


# --- the target ------------------------------------------------------------------------------------

def test_class_imbalance_recommends_a_remedy_by_strength(wine):
    keep = np.r_[np.flatnonzero(wine["target"] != 2), np.flatnonzero(wine["target"] == 2)[:10]]
    mild = only(audit(wine.iloc[keep].reset_index(drop=True), target="target"), "class_imbalance")
    assert mild.severity == "info" and mild.details["recommended"] == "class_weight"
    assert mild.details["ratio"] == pytest.approx(71 / 10) and mild.count == 10
    assert "balance.method=class_weight" in mild.remedy

    keep = np.r_[np.flatnonzero(wine["target"] == 1), np.flatnonzero(wine["target"] == 0)[:6]]
    strong = only(audit(wine.iloc[keep].reset_index(drop=True), target="target"), "class_imbalance")
    assert strong.severity == "warning" and strong.details["recommended"] == "smote"
    assert strong.details["minority_share"] == pytest.approx(6 / 77)


def flip_labels(frame: pd.DataFrame, share: float, seed: int = 0) -> tuple[pd.DataFrame, set]:
    """Move ``share`` of the rows to another class (the targets here are the codes 0..k-1)."""
    rng = np.random.default_rng(seed)
    k = frame["target"].nunique()
    rows = rng.choice(len(frame), int(round(share * len(frame))), replace=False)
    given = frame["target"].to_numpy().copy()
    given[rows] = (given[rows] + rng.integers(1, k, rows.size)) % k
    return frame.assign(target=given), set(rows.tolist())


@pytest.mark.parametrize("name", ["cancer", "wine"])
def test_flipped_labels_are_flagged(request, name):
    noisy, flipped = flip_labels(request.getfixturevalue(name), 0.05)
    found = only(audit(noisy, target="target"), "label_errors")
    flagged = set(found.details["rows"])
    precision, recall = len(flagged & flipped) / len(flagged), len(flagged & flipped) / len(flipped)
    assert precision >= 0.5 and recall >= 0.5, (precision, recall)
    assert found.count == len(flagged) and found.severity == "warning"
    assert len(set(found.examples) & flipped) >= 4  # the ranking puts flipped rows first
    assert all(e["given"] != e["suggested"] for e in found.details["examples"])


def test_confident_learning_matches_cleanlab_on_the_same_probabilities(cancer):
    import cleanlab.filter as filter_
    noisy, _ = flip_labels(cancer, 0.05, seed=1)
    ctx = audit_checks.Context.build(noisy, target="target", task=None, config=AuditConfig(), splits=None, seed=0)
    X, _ = ctx.matrix(ctx.sample)
    y = ctx.labels()[0]
    proba, _ = audit_checks.out_of_fold_proba(ctx, X, y)
    ours, margin = audit_checks.confident_learning(y, proba)
    theirs = filter_.find_label_issues(y, proba, filter_by="confident_learning")
    assert ours.sum() > 10 and np.array_equal(ours, theirs)
    assert (margin[ours] > -1).all()


def test_leaking_copies_of_the_target(cancer, diabetes):
    rng = np.random.default_rng(0)
    frame = cancer.copy()
    frame["diagnosis_code"] = frame["target"].map({0: "M-1", 1: "B-2"})  # an exact copy, renamed
    noisy = frame["target"].to_numpy().copy()
    noisy[rng.choice(len(frame), 17, replace=False)] ^= 1  # 3% disagree
    frame["followup_flag"] = noisy
    leaks = {f.column: f for f in audit(frame, target="target").by_check("target_leakage")}
    assert set(leaks) == {"diagnosis_code", "followup_flag"}
    assert all(f.severity == "error" and "clean.drop_leaking=true" in f.remedy for f in leaks.values())
    assert leaks["diagnosis_code"].details["score"] == 1.0
    assert 0.95 <= leaks["followup_flag"].details["score"] < 1.0

    frame = diabetes.copy()
    y = frame["target"].to_numpy()
    frame["later_measure"] = y + rng.normal(scale=0.3 * y.std(), size=len(y))  # correlated ~0.96
    leak = only(audit(frame, target="target"), "target_leakage")
    # |Spearman| 0.96 is not a copy by itself (a diamond's carat has that with its price): the comparison finds it
    assert leak.column == "later_measure" and "far above what all the other columns reach together" in leak.message
    assert 0.95 <= leak.details["near_copy"] < AuditConfig().near_copy_rank


# --- splits ----------------------------------------------------------------------------------------

def test_test_rows_copied_into_train_are_contamination(cancer):
    n = len(cancer)
    splits = random_splits(n)
    leaked = splits["test"][:10]
    frame = pd.concat([cancer, cancer.iloc[leaked]], ignore_index=True)
    splits["train"] = np.r_[splits["train"], np.arange(n, n + 10)]
    report = audit(frame, target="target", splits=splits)
    found = only(report, "train_test_contamination")
    assert found.details["split"] == "test" and found.count == 10 and found.severity == "error"
    assert set(found.examples) <= set(leaked)
    assert report.by_check("split_drift") == []


def test_split_drift_when_splits_follow_a_feature(cancer):
    order = np.argsort(cancer["mean radius"].to_numpy(), kind="stable")
    n = len(order)
    splits = {"train": order[: int(0.7 * n)], "validation": order[int(0.7 * n): int(0.85 * n)],
              "test": order[int(0.85 * n):]}
    drift = {f.details["split"]: f for f in audit(cancer, target="target", splits=splits).by_check("split_drift")}
    assert set(drift) == {"validation", "test"}
    test = drift["test"]
    assert test.severity == "warning" and test.details["auc"] > 0.95
    assert any(name in ("mean radius", "mean perimeter", "mean area", "worst radius", "worst perimeter", "worst area")
               for name, _ in test.details["top_columns"][:2])
    assert set(test.examples) <= set(splits["test"])


# --- the report and the boundary -------------------------------------------------------------------

def test_report_json_and_html(penguins):
    frame = pd.concat([penguins, penguins.iloc[:3]], ignore_index=True)
    frame["blank"] = np.nan
    frame.loc[5, "island"] = "<b>Torgersen</b>"
    report = audit(frame, target="species")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["worst"] == "error" and data["counts"]["error"] == 1
    assert len(data["findings"]) == len(report.findings) and data["n_rows"] == len(frame)
    assert [f["severity"] for f in data["findings"]] == sorted(
        [f["severity"] for f in data["findings"]], key=["error", "warning", "info"].index)

    page = report.to_html(title="Penguins audit")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "http" not in page and "<link" not in page and "src=" not in page
    assert page.index("Errors") < page.index("Warnings") < page.index("Information")
    assert "3 rows (0.9%) are exact duplicates of earlier rows" in page
    assert "<b>Torgersen</b>" not in page  # data is escaped
    assert report.by_check("exact_duplicates")[0].count == 3 and report.worst() == "error"


def test_sampling_keeps_counting_checks_exact(penguins):
    frame = pd.concat([penguins] * 4, ignore_index=True)  # 1,376 rows: 1,032 exact duplicates
    report = audit(frame, target="species", config=AuditConfig(max_rows=300))
    assert only(report, "exact_duplicates").count == 3 * len(penguins)
    assert only(report, "missing_values", "sex").count == 44
    label = report.by_check("label_errors")
    assert all(f.details["rows_checked"] <= 300 for f in label)


def test_same_seed_same_report_and_disabled_audit(penguins):
    first, second = audit(penguins, target="species", seed=3), audit(penguins, target="species", seed=3)
    assert first.findings == second.findings
    off = audit(penguins, target="species", config=AuditConfig(enabled=False))
    assert off.findings == () and off.worst() == "ok"


def test_bad_input_is_a_clear_error(penguins):
    with pytest.raises(DataError, match="Did you mean 'species'"):
        audit(penguins, target="specis")
    with pytest.raises(ConfigError, match="splits keys"):
        audit(penguins, target="species", splits={"training": np.arange(10)})
    with pytest.raises(DataError, match="positions below 344"):
        audit(penguins, target="species", splits={"train": np.arange(400)})
    with pytest.raises(DataError, match="rows and columns"):
        audit(penguins.iloc[:0], target="species")
    with pytest.raises(ConfigError, match="task"):
        audit(penguins, target="species", task="ranking")
    with pytest.raises(ValidationError):
        AuditConfig(max_row=10)
    with pytest.raises(ValidationError, match="strong_imbalance_ratio"):
        AuditConfig(imbalance_ratio=20)
    assert AuditConfig(drift_auc=0.8).drift_auc == 0.8
