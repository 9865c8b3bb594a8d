"""Each kind of bad input: exit code 2, a message naming the file/column/setting and the fix,
no traceback, and no file of the user's changed."""

import pandas as pd
import pytest

from tests.conftest import run_cli, sha256


def expect_error(tmp_path, *args, match: str):
    files = {p: sha256(p) for p in tmp_path.rglob("*") if p.is_file()}
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert match in proc.stderr, proc.stderr
    assert {p: sha256(p) for p in files} == files, "a user's file changed"
    assert not (tmp_path / "runs").exists(), "bad input must not leave a run directory"
    return proc


@pytest.fixture()
def penguins(tmp_path, penguins_csv):
    path = tmp_path / "penguins.csv"
    path.write_bytes(penguins_csv.read_bytes())
    return path


def test_missing_file(tmp_path):
    expect_error(tmp_path, "train", "nope.csv", "--target", "y", match="nope.csv: no such file")


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    expect_error(tmp_path, "train", "empty.csv", "--target", "y", match="empty.csv is empty")


def test_unreadable_file(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b'a,b\n1,"never closed\n')
    expect_error(tmp_path, "train", "bad.csv", "--target", "a", match="bad.csv: could not be read as csv")


def test_unknown_format(tmp_path, penguins):
    (tmp_path / "data.xlsx").write_bytes(penguins.read_bytes())
    expect_error(tmp_path, "train", "data.xlsx", "--target", "species", match="unknown format '.xlsx'")


def test_target_absent_suggests_closest(tmp_path, penguins):
    proc = expect_error(tmp_path, "train", penguins, "--target", "specis", match="target column 'specis' not found")
    assert "Did you mean 'species'" in proc.stderr and "island" in proc.stderr


def test_target_all_missing(tmp_path, penguins):
    frame = pd.read_csv(penguins).assign(species=None)
    frame.to_csv(tmp_path / "nolabels.csv", index=False)
    expect_error(tmp_path, "train", "nolabels.csv", "--target", "species", match="every value of the target column 'species' is missing")


def test_single_class(tmp_path, penguins):
    frame = pd.read_csv(penguins)
    frame[frame.species == "Adelie"].to_csv(tmp_path / "adelie.csv", index=False)
    expect_error(tmp_path, "train", "adelie.csv", "--target", "species", match="has a single class ('Adelie')")


def test_regression_target_not_numeric(tmp_path, penguins):
    expect_error(tmp_path, "train", penguins, "--target", "species", "--task", "regression",
                 match="regression needs a numeric target, but column 'species' holds text such as 'Adelie'")


def test_fewer_rows_than_split_needs(tmp_path, penguins):
    frame = pd.read_csv(penguins)
    pd.concat([frame.head(3), frame.tail(3)]).to_csv(tmp_path / "six.csv", index=False)
    expect_error(tmp_path, "train", "six.csv", "--target", "species", match="6 rows are too few for a 70%/20%/10% split")


def test_recipe_typo(tmp_path, penguins):
    (tmp_path / "r.yaml").write_text("target: species\nmodel:\n  type: lightgbm\n  num_leavs: 8\n")
    proc = expect_error(tmp_path, "train", penguins, "--recipe", "r.yaml", match="model.num_leavs: unknown key")
    assert "Did you mean 'num_leaves'" in proc.stderr


def test_set_typo_and_bad_value(tmp_path, penguins):
    expect_error(tmp_path, "train", penguins, "--target", "species", "--set", "model.type=xgboost",
                 match="unknown model type 'xgboost'. Allowed: lightgbm, linear, mlp, auto")
    expect_error(tmp_path, "train", penguins, "--target", "species", "--set", "split.test=2",
                 match="split.test: Input should be less than 1")


def test_predict_missing_required_column(tmp_path, penguins):
    run_cli("train", penguins, "--target", "species", "--set", "model.type=linear", "--out", tmp_path / "run",
            cwd=tmp_path, check=True)
    pd.read_csv(penguins).drop(columns=["sex", "island"]).to_csv(tmp_path / "partial.csv", index=False)
    proc = run_cli("predict", tmp_path / "run", "partial.csv", "-o", "out.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "partial.csv" in proc.stderr and "'island', 'sex' not found" in proc.stderr
    assert not (tmp_path / "out.csv").exists()
    # an existing output is never replaced without --force
    (tmp_path / "keep.csv").write_text("mine")
    proc = run_cli("predict", tmp_path / "run", penguins, "-o", "keep.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr and (tmp_path / "keep.csv").read_text() == "mine"


def test_debug_shows_traceback(tmp_path):
    proc = run_cli("--debug", "train", "nope.csv", "--target", "y", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
