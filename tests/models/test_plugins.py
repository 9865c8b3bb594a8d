"""A third-party learner, installed as a real package with a ``trainwright.plugins`` entry point, trains,
saves, predicts and shows in the recipe schema by name; nothing in trainwright names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PLUGIN = '''
"""A tiny learner for the plugin test: class centroids (classification) or a mean (regression)."""
from typing import Literal

import numpy as np

from trainwright.config.base import Section
from trainwright.models import Capabilities, Learner, register_learner


class CentroidConfig(Section):
    type: Literal["centroid"] = "centroid"
    shrink: float = 0.0


@register_learner(CentroidConfig)
class CentroidLearner(Learner):
    """Nearest class centroid; the mean for regression."""

    capabilities = Capabilities(sample_weight=False, randomized=False, parameters="centroid coordinates")

    def __init__(self, task="classification", shrink=0.0, seed=0):
        self.task, self.shrink, self.seed = task, shrink, seed

    def _fit(self, X, y, valid, deadline, sample_weight):
        if self.task == "classification":
            self.centroids_ = np.stack([X[y == k].mean(axis=0) for k in range(len(self.classes_))])
        else:
            self.centroids_ = np.array([[float(y.mean())]])
        self.best_iteration_ = 1

    def _predict_raw(self, X):
        if self.task == "regression":
            return np.full(len(X), self.centroids_[0, 0])
        d = ((X[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        e = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)

    def n_parameters(self):
        return int(self.centroids_.size)

    def _state(self):
        return {"centroids": self.centroids_.tolist()}, {}

    def _load_state(self, directory, extra):
        self.centroids_ = np.asarray(extra["centroids"])
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "trainwright-centroid"
version = "0.1"

[project.entry-points."trainwright.plugins"]
centroid = "trainwright_centroid"

[tool.setuptools]
py-modules = ["trainwright_centroid"]
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The plugin package built and installed with pip into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "src").mkdir()
    (root / "src" / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "trainwright_centroid.py").write_text(PLUGIN)
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(root / "src")], check=True, capture_output=True,
                   cwd=root)
    assert list(site.glob("trainwright_centroid-0.1.dist-info/entry_points.txt"))
    return site


def _cli(*args, cwd: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-m", "trainwright", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_plugin_learner_trains_predicts_and_appears_in_the_schema(plugin_site, tmp_path, penguins_csv):
    proc = _cli("train", penguins_csv, "--target", "species", "--set", "model.type=centroid", "--out", "run",
                "--set", "evaluate.report=false", cwd=tmp_path, site=plugin_site)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["model"] == "centroid" and info["status"] == "completed"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"] > 0.8
    proc = _cli("predict", "run", penguins_csv, "-o", "p.csv", cwd=tmp_path, site=plugin_site)
    assert proc.returncode == 0, proc.stderr
    assert set(pd.read_csv(tmp_path / "p.csv")["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    schema = _cli("schema", cwd=tmp_path, site=plugin_site)
    assert '"centroid"' in schema.stdout and "shrink" in schema.stdout


def test_without_the_plugin_the_name_is_unknown_with_the_known_ones_listed(tmp_path, penguins_csv):
    proc = _cli("train", penguins_csv, "--target", "species", "--set", "model.type=centroid", cwd=tmp_path,
                site=tmp_path)
    assert proc.returncode == 2 and "unknown model type 'centroid'" in proc.stderr and "lightgbm" in proc.stderr
    assert "Traceback" not in proc.stderr
