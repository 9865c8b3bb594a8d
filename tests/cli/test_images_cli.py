"""Images end to end from the CLI, as a user would: a folder of class subfolders, a CSV of relative image paths,
a .npz; train (a CNN, and auto's image portfolio), predict a folder, bad images named or skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli, write_digits

CNN = ["--set", "model.type=cnn", "--set", "model.channels=[16]", "--set", "train.epochs=6",
       "--set", "evaluate.bootstrap=50"]


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """A CNN trained from a folder of real digit images (one subfolder per class)."""
    home = tmp_path_factory.mktemp("images")
    write_digits(home / "photos", per_class=30, size=12)
    run_cli("train", "photos", "--target", "label", "--out", "run", *CNN, "--set", "train.augment.rotate=10",
            cwd=home, check=True)
    return home


def test_a_folder_trains_a_cnn_with_a_chosen_image_size_and_a_report(cnn_run):
    run = cnn_run / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.6
    decisions = json.loads((run / "decisions.json").read_text())
    size = [d for d in decisions if d["what"].startswith("features.image_size")]
    assert size and size[0]["value"] == "12x12x1" and "median shorter side 12" in size[0]["reason"]
    resolved = (run / "recipe.resolved.yaml").read_text()
    assert "rotate: 10.0" in resolved
    assert (run / "report.html").stat().st_size > 10_000


def test_predict_a_folder_writes_the_path_prediction_and_probabilities(cnn_run, tmp_path):
    new = write_digits(tmp_path / "new", per_class=3, size=12)
    proc = run_cli("predict", cnn_run / "run", new, "-o", tmp_path / "preds.csv", cwd=cnn_run, check=True)
    preds = pd.read_csv(tmp_path / "preds.csv")
    assert len(preds) == 30 and list(preds.columns[:2]) == ["image", "prediction"]
    assert [c for c in preds.columns if c.startswith("proba_")] == [f"proba_{d}" for d in range(10)]
    assert np.allclose(preds.filter(like="proba_").sum(axis=1), 1, atol=1e-6)
    truth = preds["image"].map(lambda p: int(Path(p).parent.name))
    assert (preds["prediction"] == truth).mean() > 0.5
    assert "30 predictions written" in proc.stderr + proc.stdout


def test_predict_names_a_missing_image(cnn_run, tmp_path):
    table = pd.DataFrame({"image": [str(tmp_path / "gone.png")]})
    table.to_csv(tmp_path / "rows.csv", index=False)
    proc = run_cli("predict", cnn_run / "run", tmp_path / "rows.csv", "-o", tmp_path / "p.csv", cwd=cnn_run)
    assert proc.returncode == 2 and "gone.png cannot be read" in proc.stderr and "Traceback" not in proc.stderr


def test_a_csv_of_relative_paths_and_a_npz_train(tmp_path):
    from sklearn.datasets import load_digits

    photos = write_digits(tmp_path / "photos", per_class=20, size=8)
    rows = [{"file": str(p.relative_to(tmp_path)), "digit": p.parent.name} for p in sorted(photos.rglob("*.png"))]
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    run_cli("train", "labels.csv", "--target", "digit", "--out", "csv-run", *CNN, "--set", "evaluate.report=false",
            cwd=tmp_path, check=True)
    assert json.loads((tmp_path / "csv-run" / "metrics.json").read_text())["test"]["accuracy"] > 0.4
    digits = load_digits()
    np.savez(tmp_path / "digits.npz", images=digits.images[:300].astype(np.uint8) * 15, labels=digits.target[:300])
    run_cli("train", "digits.npz", "--target", "label", "--out", "npz-run", *CNN, "--set", "evaluate.report=false",
            cwd=tmp_path, check=True)
    assert json.loads((tmp_path / "npz-run" / "metrics.json").read_text())["test"]["accuracy"] > 0.4


def test_a_corrupt_image_is_named_or_skipped_and_logged(tmp_path):
    photos = write_digits(tmp_path / "photos", per_class=15, size=8)
    (photos / "3" / "broken.png").write_bytes(b"\x89PNG but not really")
    proc = run_cli("train", "photos", "--target", "label", "--out", "run", *CNN, cwd=tmp_path)
    assert proc.returncode == 2 and "broken.png (not a readable image" in proc.stderr
    assert "clean.bad_images=skip" in proc.stderr and not (tmp_path / "run").exists()
    run_cli("train", "photos", "--target", "label", "--out", "run", *CNN, "--set", "clean.bad_images=skip",
            "--set", "evaluate.report=false", cwd=tmp_path, check=True)
    log = json.loads((tmp_path / "run" / "cleaning_log.json").read_text())
    dropped = [a for a in log["actions"] if a["action"] == "drop_bad_images"]
    assert dropped and dropped[0]["rows_affected"] == 1 and dropped[0]["column"] == "image"


def test_auto_on_images_trains_the_image_portfolio(tmp_path):
    write_digits(tmp_path / "photos", per_class=20, size=8)
    run_cli("train", "photos", "--target", "label", "--out", "run", "--time-budget", "40",
            "--set", "evaluate.report=false", cwd=tmp_path, check=True)
    board = json.loads((tmp_path / "run" / "leaderboard.json").read_text())
    assert [row["model"] for row in board["candidates"]][:1] == ["cnn"]
    assert {row["learner"] for row in board["candidates"]} <= {"cnn", "resnet"}
    shutil.rmtree(tmp_path / "photos")


def test_test_time_augmentation_is_chosen_on_validation_and_its_gain_reported(tmp_path):
    import trainwright

    photos = write_digits(tmp_path / "photos", per_class=30, size=12)
    run = trainwright.train(str(photos), target="label", out=tmp_path / "run",
                            overrides=["model.type=cnn", "model.channels=[16]", "train.epochs=6",
                                       "train.augment.rotate=10", "evaluate.tta=4", "evaluate.bootstrap=50"])
    tta = run.metrics["tta"]
    assert tta["copies"] == 4 and tta["metric"] == "log_loss"
    assert {"validation_without", "validation_with", "test_without", "test_with"} <= set(tta)
    assert tta["kept"] == (tta["validation_with"] < tta["validation_without"])
    decision = [d for d in json.loads((tmp_path / "run" / "decisions.json").read_text()) if d["what"] == "evaluate.tta"]
    assert decision and decision[0]["value"] == (4 if tta["kept"] else 0)
    assert abs(run.metrics["test"]["log_loss"] - (tta["test_with"] if tta["kept"] else tta["test_without"])) < 1e-9
    loaded = trainwright.load(run.path)
    assert loaded.predictor.members[0][1].tta_ == (4 if tta["kept"] else 0)  # predict uses what was kept
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="tta"' in html and "augmented copies" in html


def test_colour_jpeg_and_png_images_train_a_tabular_model_on_their_pixels(tmp_path):
    """JPEG beside PNG, colour: read, resized, three channels; pixels + logistic regression (model.type=linear)."""
    from PIL import Image

    photos = write_digits(tmp_path / "photos", per_class=12, size=10)
    for i, path in enumerate(sorted(photos.rglob("*.png"))):
        grey = np.asarray(Image.open(path))
        colour = Image.fromarray(np.stack([grey, grey // 2, 255 - grey], axis=-1).astype(np.uint8))
        if i % 2:
            colour.save(path.with_suffix(".jpg"), quality=95)
            path.unlink()
        else:
            colour.save(path)
    run_cli("train", "photos", "--target", "label", "--out", "run", "--set", "model.type=linear",
            "--set", "evaluate.report=false", cwd=tmp_path, check=True)
    decisions = json.loads((tmp_path / "run" / "decisions.json").read_text())
    assert any(d["value"] == "10x10x3" for d in decisions if d["what"].startswith("features.image_size"))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"] > 0.5
