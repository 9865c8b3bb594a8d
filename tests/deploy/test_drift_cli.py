"""``trainwright drift``: the run's reference against new rows, from the command line."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.conftest import PENGUINS
from trainwright.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("drift")
    rows = pd.read_csv(PENGUINS)
    rows.sample(150, random_state=3).to_csv(d / "same.csv", index=False)
    moved = rows.assign(body_mass_g=rows["body_mass_g"] * 1.5, flipper_length_mm=rows["flipper_length_mm"] + 30)
    moved.drop(columns="species").to_csv(d / "moved.csv", index=False)
    return d


def test_the_run_keeps_a_small_reference_without_rows(auto_run):
    reference = json.loads((auto_run.path / "reference.json").read_text())
    assert set(reference["columns"]) == set(auto_run.info["features"])
    assert reference["rows"] == auto_run.info["splits"]["train"]
    assert set(reference["prediction"]["shares"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert reference["test_accuracy"]["measured"] == auto_run.metrics["test"]["accuracy"]
    assert (auto_run.path / "reference.json").stat().st_size < 20_000


def test_rows_like_the_training_rows_exit_0_with_the_page_and_json(auto_run, files, capsys):
    html, out = files / "same.html", files / "same.json"
    assert main(["drift", str(auto_run.path), str(files / "same.csv"), "-o", str(html), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["drift"] is False and result["summary"]["drifted"] == [] and result["rows"] == 150
    perf = result["performance"]
    assert 0.9 < perf["estimated_accuracy"]["value"] <= 1.0
    assert perf["labelled_rows"] == 150 and perf["measured"]["accuracy"] > 0.9  # the file holds the labels
    assert "No drift found" in html.read_text()
    assert "No drift in" in capsys.readouterr().err


def test_drifted_rows_exit_3_and_name_the_columns(auto_run, files, capsys):
    html = files / "moved.html"
    assert main(["drift", str(auto_run.path), str(files / "moved.csv"), "-o", str(html)]) == 3
    err = capsys.readouterr().err
    # the README's example
    assert "(344 rows): 2 of 7 columns drifted (flipper_length_mm, body_mass_g); predictions drifted" in err
    assert main(["drift", str(auto_run.path), str(files / "moved.csv"), "--json", "-"]) == 3
    result = json.loads(capsys.readouterr().out)
    assert {"flipper_length_mm", "body_mass_g"} <= set(result["summary"]["drifted"])
    assert "measured" not in result["performance"]  # no labels: the estimate only
    assert "Drift found" in html.read_text()
    # the threshold on the share of columns: with 2 of 7 drifted, 0.5 needs the predictions to have drifted
    code = main(["drift", str(auto_run.path), str(files / "moved.csv"), "--share", "1.0", "--json", "-"])
    assert code == (3 if json.loads(capsys.readouterr().out)["summary"]["prediction_drift"] else 0)


def test_bad_input_is_exit_2_naming_the_problem(auto_run, files, tmp_path, capsys):
    assert main(["drift", str(auto_run.path), str(tmp_path / "none.csv")]) == 2
    assert main(["drift", str(auto_run.path), str(files / "same.csv"), "--share", "0"]) == 2
    assert "--share" in capsys.readouterr().err
    (tmp_path / "taken.html").write_text("mine")
    assert main(["drift", str(auto_run.path), str(files / "same.csv"), "-o", str(tmp_path / "taken.html")]) == 2
    assert (tmp_path / "taken.html").read_text() == "mine"
    old = tmp_path / "old-run"
    shutil.copytree(auto_run.path, old)
    (old / "reference.json").unlink()
    capsys.readouterr()
    assert main(["drift", str(old), str(files / "same.csv")]) == 2
    assert "reference.json" in capsys.readouterr().err


def test_hostile_inputs_found_by_review(auto_run, files, tmp_path, capsys):
    """The run's own data is no drift; text in a numeric column and labels never seen are; a run's folder is not
    an output folder."""
    assert main(["drift", str(auto_run.path), str(PENGUINS)]) == 0
    rows = pd.read_csv(PENGUINS)
    rows.assign(bill_length_mm="abc").to_csv(tmp_path / "text.csv", index=False)
    assert main(["drift", str(auto_run.path), str(tmp_path / "text.csv"), "--json", "-", "--share", "0.1"]) == 3
    result = json.loads(capsys.readouterr().out)
    assert "bill_length_mm" in result["summary"]["drifted"]
    assert result["columns"]["bill_length_mm"]["not_numbers"] == 1.0
    rows.assign(species=["Emperor"] * 10 + rows["species"].tolist()[10:]).to_csv(tmp_path / "new.csv", index=False)
    assert main(["drift", str(auto_run.path), str(tmp_path / "new.csv")]) == 3
    err = capsys.readouterr().err
    assert "never saw, in 10 rows: Emperor" in err
    assert main(["drift", str(auto_run.path), str(files / "same.csv"), "-o", str(auto_run.path / "page.html")]) == 2
    assert not (auto_run.path / "page.html").exists()
    assert main(["drift", str(auto_run.path), str(files / "same.csv"), "-o", "-"]) == 2
