"""The CLI as a user runs it: subprocesses, exit codes, files written, files left alone."""

import json
import sys

import pandas as pd
import pytest

from tests.conftest import run_cli, sha256


def test_help_imports_no_heavy_library(tmp_path):
    code = ("import sys\nfrom trainwright.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightgbm', 'sklearn', 'pandas', 'scipy'})\n"
            "print('HEAVY', heavy)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "train" in out.stdout and "predict" in out.stdout


def test_openmp_threads_spin_briefly_before_they_sleep(tmp_path):
    """The CLI's OpenMP setting: idle threads sleep (PASSIVE) after a short spin. PASSIVE alone made LightGBM's
    many small parallel regions 13.7x slower (bench/openmp.py); a spin count the user set is kept."""
    import os
    import subprocess

    code = ("import os\nfrom trainwright.runtime import quiet_openmp\nquiet_openmp()\n"
            "print(os.environ['OMP_WAIT_POLICY'], os.environ['GOMP_SPINCOUNT'])")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.stdout.split() == ["PASSIVE", "10000"], out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "GOMP_SPINCOUNT": "500"})
    assert out.stdout.split() == ["PASSIVE", "500"], out.stderr


def test_demo(tmp_path):
    proc = run_cli("demo", cwd=tmp_path, check=True)
    assert "Run written to" in proc.stdout and "accuracy" in proc.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.9
    board = json.loads((run_dir / "leaderboard.json").read_text())
    from trainwright.models.auto import DEFAULT_PORTFOLIO, REGRESSION_ONLY

    entries = [e for e in DEFAULT_PORTFOLIO if e not in REGRESSION_ONLY]  # penguins has classes
    assert [c["model"] for c in board["candidates"]] == entries  # auto, the default: every entry
    assert any(c["status"] == "bagged" and c["weight"] > 0 for c in board["candidates"])
    assert "bagged" in proc.stdout and "+ refit" not in proc.stdout  # 241 training rows: fold models


@pytest.mark.parametrize("name, target, task, metric, floor", [
    ("breast_cancer.csv", "target", "classification", "accuracy", 0.9),
    ("diabetes.csv", "target", "regression", "r2", 0.25),
    ("fair.csv", "had_affair", "classification", "roc_auc", 0.7),
])
def test_train_predict_evaluate_real_data(tmp_path, data_dir, name, target, task, metric, floor):
    data = data_dir / name
    before = sha256(data)
    proc = run_cli("train", data, "--target", target, "--out", tmp_path / "run", cwd=tmp_path, check=True)
    assert f"({task})" in proc.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"][metric] > floor, metrics
    run_cli("predict", tmp_path / "run", data, "-o", tmp_path / "pred.csv", cwd=tmp_path, check=True)
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == len(pd.read_csv(data)) and pred["prediction"].notna().all()
    if name == "breast_cancer.csv":
        assert list(pred.columns) == ["prediction", "proba_benign", "proba_malignant"]
    ev = run_cli("evaluate", tmp_path / "run", data, "--json", cwd=tmp_path, check=True)
    assert json.loads(ev.stdout)[metric] > floor
    assert sha256(data) == before


def test_mlp_from_recipe_and_set(tmp_path, penguins_csv):
    run_cli("init", penguins_csv, "--target", "species", "-o", tmp_path / "r.yaml", cwd=tmp_path, check=True)
    text = (tmp_path / "r.yaml").read_text()
    assert "# k of the k-fold bagging" in text and "classification" in text  # auto's settings, the default
    run_cli("train", "--recipe", tmp_path / "r.yaml", "--set", "model.type=mlp", "--set", "train.epochs=30",
            "--seed", "3", "--out", tmp_path / "mlp", cwd=tmp_path, check=True)
    info = json.loads((tmp_path / "mlp" / "run.json").read_text())
    assert info["model"] == "mlp" and info["status"] == "completed"
    assert (tmp_path / "mlp" / "model" / "weights.safetensors").is_file()
    assert "seed: 3" in (tmp_path / "mlp" / "recipe.resolved.yaml").read_text()
    # predictions through the CLI equal those of the Python API
    run_cli("predict", tmp_path / "mlp", penguins_csv, "-o", tmp_path / "p.parquet", cwd=tmp_path, check=True)
    import trainwright

    api = trainwright.load(tmp_path / "mlp").predict(pd.read_csv(penguins_csv))
    cli = pd.read_parquet(tmp_path / "p.parquet")
    assert cli["prediction"].tolist() == api["prediction"].tolist()


def test_parquet_and_jsonl_input(tmp_path, penguins_csv):
    frame = pd.read_csv(penguins_csv)
    frame.to_parquet(tmp_path / "p.parquet")
    frame.to_json(tmp_path / "p.jsonl", orient="records", lines=True)
    for name in ("p.parquet", "p.jsonl"):
        run_cli("train", tmp_path / name, "--target", "species", "--set", "model.type=linear",
                "--out", tmp_path / f"run-{name}", cwd=tmp_path, check=True)
    a, b = (json.loads((tmp_path / f"run-{n}" / "metrics.json").read_text()) for n in ("p.parquet", "p.jsonl"))
    assert a == b


def test_time_budget_and_runs_listing(tmp_path, penguins_csv):
    run_cli("train", penguins_csv, "--target", "species", "--set", "model.type=auto", "--time-budget", "0.01",
            cwd=tmp_path, check=True)
    (run_dir,) = (tmp_path / "runs").iterdir()
    board = json.loads((run_dir / "leaderboard.json").read_text())["candidates"]
    assert board[0]["stopped_by"] == "time_budget"  # the first entry always trains, cut short
    assert [c["status"] for c in board[1:]] == ["skipped"] * (len(board) - 1)
    listing = run_cli("runs", cwd=tmp_path, check=True)
    assert run_dir.name in listing.stdout and "completed" in listing.stdout


def test_schema_command(tmp_path):
    schema = json.loads(run_cli("schema", cwd=tmp_path, check=True).stdout)
    assert "model" in schema["properties"]


def test_lr_find_command(tmp_path, penguins_csv):
    import xml.etree.ElementTree as ET

    proc = run_cli("lr-find", penguins_csv, "--target", "species", "--set", "audit.enabled=false",
                   "--plot", "lr.svg", cwd=tmp_path, check=True)
    assert "suggested learning rate" in proc.stdout and "--set train.optimizer.lr=" in proc.stdout
    suggestion = float(proc.stdout.split("train.optimizer.lr=")[1].split()[0])
    assert 1e-5 < suggestion < 1.0
    assert ET.parse(tmp_path / "lr.svg").getroot().tag.endswith("svg")


def test_a_learner_whose_package_is_missing_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """catboost is an optional extra: without it, model.type=catboost (or the entry named in model.candidates)
    exits 2 with the pip command before the audit, and leaves no run directory."""
    import sys

    from tests.conftest import PENGUINS
    from trainwright.cli import main

    monkeypatch.setitem(sys.modules, "catboost", None)  # as if not installed
    for setting in ("model.type=catboost", "model.candidates=[lightgbm,catboost]"):
        out = tmp_path / setting.split("=")[0]
        assert main(["train", str(PENGUINS), "--target", "species", "--set", setting, "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert "needs the Python package catboost" in captured.err
        assert "pip install 'trainwright[catboost]'" in captured.err and "audit" not in captured.out
        assert not out.exists()
