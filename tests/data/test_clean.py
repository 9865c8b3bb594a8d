import numpy as np
import pandas as pd

from trainwright.data.clean import CleanConfig, apply_category_maps, clean_after_split, clean_before_split
from trainwright.data.schema import infer_column
from trainwright.data.features.lags import add_time_features


def kinds(frame):
    return {c: infer_column(frame[c]) for c in frame.columns}


def actions(log, name):
    return [a for a in log.actions if a["action"] == name]


def test_before_split_fixes_and_logs_each_action():
    n = 40
    frame = pd.DataFrame({
        "num": [str(i) for i in range(n)],
        "when": [f"2021-01-{i % 28 + 1:02d}" if i % 2 else f"{i % 28 + 1:02d}/02/2021" for i in range(n)],
        "city": ["Oslo", " oslo", "Lima", "Lima ", "oslo"] * 8,
        "y": list("abcde") * 8,
    })
    frame.loc[3, "num"] = "x"          # a number column with one non-number
    frame.loc[4, "when"] = "not a date"
    frame.loc[n] = frame.loc[0]        # an exact duplicate of row 0
    out, log = clean_before_split(frame, "y", CleanConfig(), kinds(frame))
    assert out["num"].dtype.kind == "f" and out["num"].isna().sum() == 1
    assert actions(log, "fix_mixed_types")[0]["sample_row_ids"] == [3]
    assert pd.api.types.is_datetime64_any_dtype(out["when"])
    assert actions(log, "standardize_dates")[0]["sample_row_ids"] == [4]
    assert set(out["city"]) == {"oslo", "Lima"}  # 'oslo' (after trimming) is the most frequent spelling
    assert log.category_maps["city"] == {"Oslo": "oslo"}
    assert actions(log, "drop_duplicates")[0]["sample_row_ids"] == [n]
    assert len(out) == n
    assert frame.loc[3, "num"] == "x" and frame.loc[1, "city"] == " oslo"  # the input frame is untouched


def test_conflicting_labels_resolved_by_majority_or_dropped():
    frame = pd.DataFrame({"x": [1, 1, 1, 2, 3], "y": ["a", "a", "b", "b", "a"], "z": [0, 0, 0, 1, 1]})
    cfg = CleanConfig(drop_duplicates=False, resolve_conflicts="majority")
    out, log = clean_before_split(frame, "y", cfg, kinds(frame))
    assert out.index.tolist() == [0, 1, 3, 4] and actions(log, "resolve_conflicts")[0]["sample_row_ids"] == [2]
    out, _ = clean_before_split(frame, "y", cfg.model_copy(update={"resolve_conflicts": "drop"}), kinds(frame))
    assert out.index.tolist() == [3, 4]


def test_after_split_uses_training_rows_only():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"v": rng.normal(size=100), "const": 1.0, "y": rng.integers(0, 2, 100)})
    frame.loc[5, "v"] = 50.0   # a training outlier
    frame.loc[95, "v"] = 80.0  # a test outlier: never dropped
    train = np.arange(80)
    cfg = CleanConfig(outliers="drop")
    dropped, keep, log = clean_after_split(frame, train, "y", cfg, {"v": "numeric", "const": "numeric"})
    assert dropped == ["const"] and 5 not in keep and len(keep) < 80 and set(keep) <= set(train)
    assert actions(log, "drop_outliers")[0]["sample_row_ids"][0] == 5


def test_category_maps_apply_at_prediction():
    out = apply_category_maps(pd.DataFrame({"city": [" oslo", "Lima", None, "new  york"]}),
                              {"city": {"oslo": "Oslo", "new york": "New York"}})
    assert out["city"].tolist()[:2] == ["Oslo", "Lima"] and pd.isna(out["city"].iloc[2])
    assert out["city"].iloc[3] == "New York"  # inner whitespace tidied as in training before the map applies


def test_lags_and_rolling_use_only_earlier_rows():
    frame = pd.DataFrame({"t": [3, 1, 2, 4], "v": [30.0, 10.0, 20.0, 40.0]})
    out = add_time_features(frame, {"v": [1, 2]}, {"v": [2]}, "t")
    assert np.allclose(out["v__lag1"].fillna(-1), [20.0, -1, 10.0, 30.0])
    assert np.allclose(out["v__lag2"].fillna(-1), [10.0, -1, -1, 20.0])
    assert np.allclose(out["v__roll2_mean"].fillna(-1), [15.0, -1, 10.0, 25.0])
    assert list(out.index) == list(frame.index)
    # Repeated index labels (pd.concat without ignore_index) work by position, as unique ones do.
    twice = add_time_features(frame.set_axis([0, 0, 1, 1]), {"v": [1, 2]}, {"v": [2]}, "t")
    assert np.allclose(twice["v__lag1"].fillna(-1), out["v__lag1"].fillna(-1))
    assert np.allclose(twice["v__roll2_mean"].fillna(-1), out["v__roll2_mean"].fillna(-1))


def test_audit_takes_dates_with_mixed_offsets():
    from trainwright.data.quality import audit

    rng = np.random.default_rng(0)
    n = 300
    when = [f"2024-0{1 + i % 9}-1{i % 9} 10:00:00{'+01:00' if i % 2 else '+05:00'}" for i in range(n)]
    frame = pd.DataFrame({"when": when, "x": rng.normal(size=n), "y": rng.integers(0, 2, n).astype(str)})
    report = audit(frame, target="y", task="classification")  # raised "Mixed timezones detected" before
    assert report.n_rows == n


def test_many_repeats_are_observations_and_kept_by_default():
    # randhie-like: few distinct values, a third of the rows repeat; dropping them would shift the target
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(0, 3, 300), "b": rng.integers(0, 2, 300), "y": rng.integers(0, 2, 300)})
    share = frame.duplicated().mean()
    assert share > 0.5
    kept, log = clean_before_split(frame, "y", CleanConfig(), kinds(frame))
    assert len(kept) == len(frame) and actions(log, "keep_duplicates")[0]["rows_affected"] == int(share * 300)
    dropped, log = clean_before_split(frame, "y", CleanConfig(drop_duplicates=True), kinds(frame))
    assert len(dropped) == len(frame) - int(share * 300) and actions(log, "drop_duplicates")
