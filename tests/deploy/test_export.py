"""``trainwright export --format onnx``: the whole predictor as one graph, checked by the parity gate, and run in
a fresh virtual environment that has only onnxruntime and numpy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from tests.conftest import PENGUINS
from trainwright.deploy.export import onnx_feeds


def train(data, target, tmp_path, name, *overrides):
    import trainwright

    return trainwright.train(data, target=target, out=tmp_path / name,
                             overrides=["evaluate.report=false", *overrides])


def run_graph(path, rows: pd.DataFrame, inputs: dict) -> dict:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, onnx_feeds(rows, inputs))))


def inputs_of(path) -> dict:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {i.name: "string" if i.type == "tensor(string)" else "double" for i in session.get_inputs()}


@pytest.mark.parametrize("model", ["linear", "lightgbm", "catboost"])
def test_penguins_graph_equals_the_predictor_on_every_row(model, tmp_path):
    """3 classes, text categories, missing numbers and categories: all 344 rows (not only the gate's test rows)."""
    from trainwright.cli import main

    run = train(PENGUINS, "species", tmp_path, model, f"model.type={model}")
    assert main(["export", str(run.path), "-o", str(tmp_path / "m.onnx")]) == 0
    rows = pd.read_csv(PENGUINS).drop(columns="species")
    got = run_graph(tmp_path / "m.onnx", rows, inputs_of(tmp_path / "m.onnx"))
    expected = run.predict(rows)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    proba = expected[[f"proba_{c}" for c in run.predictor.classes]].to_numpy()
    assert np.max(np.abs(got["probabilities"] - proba)) < (1e-12 if model == "linear" else 1e-5)


def test_binary_threshold_calibration_and_regression(data_dir, tmp_path):
    from trainwright.deploy.export import export_onnx

    cancer = train(data_dir / "breast_cancer.csv", "target", tmp_path, "cancer", "model.type=lightgbm",
                   "evaluate.threshold.choose=f1", "evaluate.calibrate=temperature")
    assert cancer.predictor.threshold is not None and cancer.predictor.calibrator is not None
    done = export_onnx(cancer, tmp_path / "cancer.onnx")
    assert done["rows"] == cancer.info["splits"]["test"] and done["max_difference"] < 1e-5
    rows = pd.read_csv(data_dir / "breast_cancer.csv").drop(columns="target")
    got = run_graph(tmp_path / "cancer.onnx", rows, done["inputs"])
    assert got["prediction"].tolist() == cancer.predict(rows)["prediction"].tolist()
    for model in ("linear", "lightgbm", "catboost", "lightgbm model.target_transform=log"):
        name = model.replace(" ", "-").replace("=", "-")
        diabetes = train(data_dir / "diabetes.csv", "target", tmp_path, f"diabetes-{name}",
                         *[f"model.type={model.split()[0]}", *model.split()[1:]])
        done = export_onnx(diabetes, tmp_path / f"{name}.onnx")
        rows = pd.read_csv(data_dir / "diabetes.csv").drop(columns="target")
        got = run_graph(tmp_path / f"{name}.onnx", rows, done["inputs"])["prediction"]
        assert np.allclose(got, diabetes.predict(rows)["prediction"], rtol=1e-5, atol=1e-9)


def test_integer_classes_are_int64_labels(data_dir, tmp_path):
    frame = pd.read_csv(data_dir / "diabetes.csv")
    frame["high"] = (frame.pop("target") > 140).astype(int)
    frame.to_csv(tmp_path / "high.csv", index=False)
    run = train(tmp_path / "high.csv", "high", tmp_path, "high", "model.type=linear")
    from trainwright.deploy.export import export_onnx

    done = export_onnx(run, tmp_path / "high.onnx")
    got = run_graph(tmp_path / "high.onnx", frame, done["inputs"])
    assert got["prediction"].dtype == np.int64
    assert got["prediction"].tolist() == run.predict(frame)["prediction"].tolist()


def test_mlp_networks_export_for_both_tasks(data_dir, tmp_path):
    """torch's exporter writes the network; the softmax or the target's scale follow in double."""
    from trainwright.deploy.export import export_onnx

    penguins = train(PENGUINS, "species", tmp_path, "mlp", "model.type=mlp", "model.norm=batch", "model.dropout=0.2")
    export_onnx(penguins, tmp_path / "p.onnx")
    rows = pd.read_csv(PENGUINS).drop(columns="species")
    got, expected = run_graph(tmp_path / "p.onnx", rows, inputs_of(tmp_path / "p.onnx")), penguins.predict(rows)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    proba = expected[[f"proba_{c}" for c in penguins.predictor.classes]].to_numpy()
    assert np.max(np.abs(got["probabilities"] - proba)) < 1e-5
    diabetes = train(data_dir / "diabetes.csv", "target", tmp_path, "mlpreg", "model.type=mlp")
    export_onnx(diabetes, tmp_path / "d.onnx")
    rows = pd.read_csv(data_dir / "diabetes.csv").drop(columns="target")
    got = run_graph(tmp_path / "d.onnx", rows, inputs_of(tmp_path / "d.onnx"))["prediction"]
    expected = diabetes.predict(rows)["prediction"].to_numpy()
    assert np.max(np.abs(got.reshape(-1) - expected) / np.abs(expected)) < 1e-5


def test_torchscript_holds_the_network_and_the_preprocessing_beside_it(tmp_path, capsys):
    """The module on the preprocessor's features (rebuilt from the JSON inside the file) gives every penguin the
    run's probabilities; runs that are not one network are refused, nothing written."""
    import torch

    from trainwright.cli import main
    from trainwright.data.features import Preprocessor

    run = train(PENGUINS, "species", tmp_path, "mlp", "model.type=mlp")
    assert main(["export", str(run.path), "--format", "torchscript", "-o", str(tmp_path / "m.pt")]) == 0
    extra = {"trainwright.json": "", "preprocessor.json": ""}
    module = torch.jit.load(str(tmp_path / "m.pt"), _extra_files=extra)
    meta = json.loads(extra["trainwright.json"])
    pre = Preprocessor.from_dict(json.loads(extra["preprocessor.json"]))
    rows = pd.read_csv(PENGUINS).drop(columns="species")
    features = pre.transform(rows).astype(np.float32)
    with torch.no_grad():
        proba = module(torch.from_numpy(features)).numpy()
    expected = run.predict(rows)
    assert meta["classes"] == run.predictor.classes and len(meta["features"]) == features.shape[1]
    assert np.max(np.abs(proba - expected[[f"proba_{c}" for c in meta["classes"]]].to_numpy())) < 1e-6
    for name, overrides, words in (("lgbm", ["model.type=lightgbm"], "not a neural network"),
                                   ("temp", ["model.type=mlp", "evaluate.calibrate=temperature"], "calibrated")):
        other = train(PENGUINS, "species", tmp_path, name, *overrides)
        assert main(["export", str(other.path), "--format", "torchscript", "-o", str(tmp_path / "x.pt")]) == 2
        assert words in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_what_cannot_be_expressed_is_named_and_nothing_is_written(bbc_csv, tmp_path, capsys):
    from trainwright.cli import main

    cases = [(train(PENGUINS, "species", tmp_path, "knn", "model.type=kneighbors"), "kneighbors model"),
             (train(bbc_csv, "topic", tmp_path, "bbc", "model.type=linear"), "column 'text'"),
             (train(PENGUINS, "species", tmp_path, "iso", "model.type=linear", "evaluate.calibrate=isotonic"),
              "isotonic calibration")]
    for run, words in cases:
        out = tmp_path / f"{run.path.name}.onnx"
        assert main(["export", str(run.path), "-o", str(out)]) == 2
        assert words in capsys.readouterr().err and not out.exists()
    data = tmp_path / "penguins.csv"
    shutil.copy(PENGUINS, data)
    run = train(data, "species", tmp_path, "moved", "model.type=linear")
    data.write_text(data.read_text() + "\n")  # the data file changed since training: no test rows to check on
    assert main(["export", str(run.path), "-o", str(tmp_path / "moved.onnx")]) == 2
    assert "parity gate" in capsys.readouterr().err


def test_the_graph_runs_with_only_onnxruntime_and_numpy(tmp_path):
    """A fresh virtual environment without trainwright, pandas or scikit-learn loads the graph and predicts."""
    from trainwright.cli import main

    run = train(PENGUINS, "species", tmp_path, "run", "model.type=lightgbm")
    assert main(["export", str(run.path), "-o", str(tmp_path / "m.onnx")]) == 0
    rows = pd.read_csv(PENGUINS).drop(columns="species").head(40)
    feeds = onnx_feeds(rows, inputs_of(tmp_path / "m.onnx"))
    (tmp_path / "feeds.json").write_text(json.dumps(
        {k: [[None if isinstance(x, float) and np.isnan(x) else x for x in row] for row in v.tolist()]
         for k, v in feeds.items()}))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "onnxruntime", "numpy"],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    script = (
        "import json, sys, numpy as np, onnxruntime as ort\n"
        "feeds = json.load(open(sys.argv[2]))\n"
        "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
        "kinds = {i.name: i.type for i in s.get_inputs()}\n"
        "arrays = {k: (np.array(v, dtype=object) if kinds[k] == 'tensor(string)' else\n"
        "              np.array([[np.nan if x is None else x for x in r] for r in v], dtype=np.float64))\n"
        "          for k, v in feeds.items()}\n"
        "out = dict(zip([o.name for o in s.get_outputs()], s.run(None, arrays)))\n"
        "print(json.dumps({k: v.tolist() for k, v in out.items()}))\n")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", script, str(tmp_path / "m.onnx"),
                           str(tmp_path / "feeds.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = subprocess.run([str(venv / "bin" / "python"), "-c", "import pandas"], capture_output=True)
    assert modules.returncode != 0  # nothing but onnxruntime and numpy (and their own requirements)
    got = json.loads(proc.stdout)
    expected = run.predict(rows)
    assert got["prediction"] == expected["prediction"].tolist()
    proba = expected[[f"proba_{c}" for c in run.predictor.classes]].to_numpy()
    assert np.max(np.abs(np.array(got["probabilities"]) - proba)) < 1e-5


def test_serve_answers_with_the_graph(tmp_path):
    """``serve --onnx``: the same answers as the Python predictor (within the gate's bound), said in /metadata; a
    graph of another run is refused before the port opens."""
    from tests.deploy.test_serve import call, start, stop
    from trainwright.cli import main

    run = train(PENGUINS, "species", tmp_path, "lgbm", "model.type=lightgbm")
    assert main(["export", str(run.path), "-o", str(tmp_path / "m.onnx")]) == 0
    proc, base = start(run.path, "--onnx", str(tmp_path / "m.onnx"), cwd=tmp_path)
    try:
        assert call(base, "/metadata")[1]["backend"] == "onnx (m.onnx, onnxruntime)"
        rows = pd.read_csv(PENGUINS).drop(columns="species").head(25)
        expected = run.predict(rows)
        for i, row in enumerate(json.loads(rows.to_json(orient="records"))):
            status, answer = call(base, "/predict", row)
            assert status == 200 and answer["prediction"] == expected["prediction"].iloc[i]
            for cls, p in answer["probabilities"].items():
                assert abs(p - expected[f"proba_{cls}"].iloc[i]) < 1e-5
        status, answer = call(base, "/predict/batch", rows.to_csv(index=False).encode(), content_type="text/csv")
        assert [a["prediction"] for a in answer["predictions"]] == expected["prediction"].tolist()
        # a blank category is missing, as an empty CSV cell is, on both backends (a hostile review found them apart)
        blank = call(base, "/predict", {"island": "Dream", "sex": " "})[1]["probabilities"]
        missing = run.predict(pd.DataFrame({"island": ["Dream"], "sex": [None]}).reindex(columns=rows.columns))
        assert all(abs(p - missing[f"proba_{c}"].iloc[0]) < 1e-5 for c, p in blank.items())
    finally:
        stop(proc)
    other = train(PENGUINS, "species", tmp_path, "linear", "model.type=linear")
    assert main(["serve", str(other.path), "--onnx", str(tmp_path / "m.onnx")]) == 2


def test_the_readme_deploy_walkthrough(tmp_path):
    """README "Deploy": train, export, serve the graph, POST a row, drift, retrain, as a newcomer types them."""
    from tests.conftest import run_cli
    from tests.deploy.test_serve import call, start, stop

    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    rows = pd.read_csv(PENGUINS)
    rows.sample(120, random_state=5).drop(columns="species").to_csv(tmp_path / "this_week.csv", index=False)
    rows.sample(120, random_state=6).to_csv(tmp_path / "this_week_labelled.csv", index=False)
    run_cli("train", "penguins.csv", "--target", "species", "--set", "model.type=lightgbm", "--out", "runs/lgbm",
            cwd=tmp_path, check=True)
    run_cli("export", "runs/lgbm", "-o", "penguins.onnx", cwd=tmp_path, check=True)
    proc, base = start(tmp_path / "runs" / "lgbm", "--onnx", str(tmp_path / "penguins.onnx"), cwd=tmp_path)
    try:
        status, answer = call(base, "/predict", {"island": "Dream", "bill_length_mm": 48})
        assert status == 200 and answer["prediction"] in ("Adelie", "Chinstrap", "Gentoo")
    finally:
        stop(proc)
    drift = run_cli("drift", "runs/lgbm", "this_week.csv", "-o", "drift.html", cwd=tmp_path)
    assert drift.returncode == 0 and (tmp_path / "drift.html").exists(), drift.stderr
    retrain = run_cli("retrain", "runs/lgbm", "this_week_labelled.csv", cwd=tmp_path)
    assert retrain.returncode == 0 and "promoted" in retrain.stderr.lower(), retrain.stderr
    small = run_cli("compress", "runs/lgbm", "--method", "prune", "--out", "runs/lgbm-small", cwd=tmp_path)
    assert small.returncode == 0 and "Compressed run: runs/lgbm-small" in small.stderr, small.stderr
