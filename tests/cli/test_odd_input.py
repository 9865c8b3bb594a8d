"""Odd input that has a correct answer: it is given (and recorded), never a crash and never a silent wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PENGUINS, run_cli

QUICK = ["--set", "evaluate.report=false", "--set", "model.type=linear"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("odd")
    run_cli("train", PENGUINS, "--target", "species", *QUICK, "--out", base / "run", cwd=base, check=True)
    return base / "run"


def test_infinite_values_become_missing_logged_and_reported(tmp_path):
    frame = pd.read_csv(PENGUINS)
    frame.loc[3, "bill_length_mm"], frame.loc[5, "body_mass_g"] = np.inf, -np.inf
    frame.to_csv(tmp_path / "inf.csv", index=False)
    proc = run_cli("train", "inf.csv", "--target", "species", *QUICK, "--out", "r", cwd=tmp_path, check=True)
    assert "infinite value in column 'bill_length_mm'" in proc.stderr  # the audit says so
    log = json.loads((tmp_path / "r" / "cleaning_log.json").read_text())
    changed = {a["column"]: a["sample_row_ids"] for a in log["actions"] if a["action"] == "non_finite_to_missing"}
    assert changed == {"bill_length_mm": [3], "body_mass_g": [5]}
    state = json.loads((tmp_path / "r" / "preprocessor.json").read_text())["state"]
    assert np.all(np.isfinite(state["mean"])) and np.all(np.isfinite(state["std"]))


def test_values_near_float64s_limit_keep_every_statistic_finite(tmp_path):
    frame = pd.read_csv(PENGUINS).assign(huge=lambda f: np.where(np.arange(len(f)) % 2, 1e308, -1e307))
    frame.to_csv(tmp_path / "huge.csv", index=False)
    run_cli("train", "huge.csv", "--target", "species", *QUICK, "--out", "r", cwd=tmp_path, check=True)
    state = json.loads((tmp_path / "r" / "preprocessor.json").read_text())["state"]
    assert all(v != 0 for v in state["std"]) and all(np.isfinite(v) for v in _numbers(state))


def _numbers(value):
    """Every number in a JSON structure (None, as an open bound, is not one)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.parametrize("encoding, decided", [("utf-16", None), ("latin-1", "cp1252"), ("utf-8-sig", None)])
def test_files_in_other_encodings_are_read_and_the_choice_recorded(tmp_path, encoding, decided):
    frame = pd.read_csv(PENGUINS)
    frame.loc[frame.island == "Biscoe", "island"] = "Bïscoe"
    frame.to_csv(tmp_path / "enc.csv", index=False, encoding=encoding)
    run_cli("train", "enc.csv", "--target", "species", *QUICK, "--out", "r", cwd=tmp_path, check=True)
    decisions = {d["what"]: d["value"] for d in json.loads((tmp_path / "r" / "decisions.json").read_text())}
    if decided:
        assert decisions["data.encoding"] == decided
        assert f"encoding: {decided}" in (tmp_path / "r" / "recipe.resolved.yaml").read_text()
    proc = run_cli("predict", "r", "enc.csv", cwd=tmp_path, check=True)
    assert len(pd.read_csv(pd.io.common.StringIO(proc.stdout))) == len(frame)


def test_a_header_only_file_gives_an_empty_prediction_file(tmp_path, run):
    (tmp_path / "header.csv").write_text(PENGUINS.read_text().splitlines()[0] + "\n")
    run_cli("predict", run, "header.csv", "-o", "p.csv", cwd=tmp_path, check=True)
    written = pd.read_csv(tmp_path / "p.csv")
    assert len(written) == 0 and list(written.columns) == ["prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]


def test_words_in_a_numeric_column_can_be_taken_as_missing_and_are_counted(tmp_path, run):
    frame = pd.read_csv(PENGUINS).astype({"body_mass_g": object})
    frame.loc[[2, 9], "body_mass_g"] = ["old", "n/a?"]
    frame.to_csv(tmp_path / "old.csv", index=False)
    proc = run_cli("predict", run, "old.csv", "-o", "p.csv", "--invalid", "missing", cwd=tmp_path, check=True)
    assert "2 value(s) of 'body_mass_g' that are not numbers were treated as missing" in proc.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(frame)


def _start(args: list, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainwright", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_commands_writing_one_output_exactly_one_wins(tmp_path, run):
    predicts = [_start(["predict", run, PENGUINS, "-o", "same.csv"], tmp_path) for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in predicts)
    assert codes == [0, 2] and len(pd.read_csv(tmp_path / "same.csv")) == 344
    trains = [_start(["train", PENGUINS, "--target", "species", *QUICK, "--out", "same"], tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in trains]
    assert sorted(code for code, _ in results) == [0, 2], results
    assert any("already exists" in err or "was just taken" in err for code, err in results if code == 2)
    assert json.loads((tmp_path / "same" / "run.json").read_text())["status"] == "completed"


def test_mlflow_logging_works_with_default_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_cli("train", PENGUINS, "--target", "species", "--set", "model.type=mlp", "--set", "train.epochs=3",
            "--set", "train.log.mlflow=true", "--set", "evaluate.report=false", "--out", "r", cwd=tmp_path, check=True)
    logged = list((tmp_path / "r" / "mlruns").rglob("metrics/validation_loss"))
    assert len(logged) == 1 and len(logged[0].read_text().splitlines()) >= 1


def test_pipe_separated_and_gzip_files_are_read(tmp_path, run):
    frame = pd.read_csv(PENGUINS)
    frame.to_csv(tmp_path / "pipes.txt", index=False, sep="|")
    frame.to_csv(tmp_path / "latin.csv.gz", index=False, encoding="latin-1")  # pandas compresses by the name
    for name in ("pipes.txt", "latin.csv.gz"):
        proc = run_cli("predict", run, name, cwd=tmp_path, check=True)
        assert len(pd.read_csv(pd.io.common.StringIO(proc.stdout))) == len(frame), name


def test_predictions_to_tsv_are_tab_separated(tmp_path, run):
    run_cli("predict", run, PENGUINS, "-o", "p.tsv", cwd=tmp_path, check=True)
    assert (tmp_path / "p.tsv").read_text().splitlines()[0] == "prediction\tproba_Adelie\tproba_Chinstrap\tproba_Gentoo"


def test_damaged_runs_are_listed_as_unreadable(tmp_path, run):
    import shutil

    shutil.copytree(run, tmp_path / "runs" / "good")
    for name, content in (("list", "[]"), ("listy", '{"format_version": 2, "status": ["x"]}')):
        (tmp_path / "runs" / name).mkdir()
        (tmp_path / "runs" / name / "run.json").write_text(content)
    proc = run_cli("runs", cwd=tmp_path, check=True)
    assert "completed" in proc.stdout and proc.stdout.count("unreadable") == 2


def test_ctrl_c_leaves_an_interrupted_run_that_says_resume(tmp_path):
    import signal
    import time

    # As in a terminal: SIGINT at its default. A test run started in the background by a shell without job control
    # (`nohup pytest &`, some CI runners) ignores SIGINT, and children inherit that, so Python would ignore Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-m", "trainwright", "train", str(PENGUINS), "--target", "species",
                             "--set", "model.type=mlp", "--set", "train.epochs=100000",
                             "--set", "train.early_stopping.patience=100000", "--out", "r"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list((tmp_path / "r").glob("checkpoints/**/*.safetensors")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert "interrupted (Ctrl-C)" in (tmp_path / "r" / "log.txt").read_text()
    predicted = run_cli("predict", "r", PENGUINS, cwd=tmp_path)
    assert predicted.returncode == 2 and "train --resume r" in predicted.stderr
