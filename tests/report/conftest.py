"""Runs with reports, trained once per session on real data: multiclass (penguins, LightGBM, a sensitive
column), binary with a chosen threshold and fairness columns (statsmodels fair, linear), regression (diabetes,
MLP, sensitive columns)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory, penguins_csv):
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "penguins"
    return trainwright.train(penguins_csv, target="species", out=out,
                             overrides=["model.type=lightgbm", "evaluate.sensitive=[sex]", "evaluate.bootstrap=200"])


@pytest.fixture(scope="session")
def binary_run(tmp_path_factory, data_dir):
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "fair"
    return trainwright.train(data_dir / "fair.csv", target="had_affair", out=out,
                             overrides=["model.type=linear", "evaluate.threshold.choose=f1",
                                        "evaluate.sensitive=[age, religious]", "evaluate.bootstrap=200",
                                        "evaluate.explain.rows=300", "evaluate.explain.repeats=2"])


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory, data_dir):
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "diabetes"
    return trainwright.train(data_dir / "diabetes.csv", target="target", out=out,
                             overrides=["model.type=mlp", "train.epochs=40", "evaluate.sensitive=[sex]",
                                        "evaluate.bootstrap=200"])


@pytest.fixture(scope="session")
def image_run(tmp_path_factory, digits_folder):
    """A CNN on a folder of real digit images (scikit-learn's 8x8 digits as PNG files), with augmentation."""
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "digits"
    return trainwright.train(str(digits_folder), target="label", out=out,
                             overrides=["model.type=cnn", "model.channels=[16]", "train.epochs=6",
                                        "train.augment.rotate=15", "train.augment.erase=0.5",
                                        "evaluate.bootstrap=50"])


@pytest.fixture(scope="session")
def text_run(tmp_path_factory, bbc_csv):
    """TF-IDF + the linear model on 400 real BBC News articles (5 topics)."""
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "bbc"
    return trainwright.train(bbc_csv, target="topic", out=out, overrides=["model.type=linear", "evaluate.bootstrap=50"])
