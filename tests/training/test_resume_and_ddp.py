"""Fault and scale tests: a real process killed with SIGKILL and resumed ends bit for bit where an
uninterrupted run ends; two data-parallel processes match one process."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from sklearn.datasets import load_digits

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory):
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)]).assign(digit=y)
    path = tmp_path_factory.mktemp("digits") / "digits.csv"
    frame.to_csv(path, index=False)
    return path


SETTINGS = ["--set", "model.type=mlp", "--set", "model.hidden_sizes=[128, 128]", "--set", "model.dropout=0.2",
            "--set", "train.epochs=120", "--set", "train.early_stopping.patience=1000",
            "--set", "train.checkpoint.every_steps=5", "--set", "audit.enabled=false"]


def test_kill_and_resume_is_bit_exact(tmp_path, digits_csv):
    run_cli("train", digits_csv, "--target", "digit", *SETTINGS, "--out", "whole", cwd=tmp_path, check=True)
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "trainwright", "train", str(digits_csv), "--target", "digit", *SETTINGS,
                             "--out", "broken"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "broken" / "checkpoints" / "mlp"
    deadline = time.monotonic() + 120
    while not (checkpoints.is_dir() and any(p.suffix == ".safetensors" and p.name.startswith("step-") for p in checkpoints.iterdir())):
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.5))  # a random step, mid-epoch
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert json.loads((tmp_path / "broken" / "run.json").read_text())["status"] == "running"
    assert not (tmp_path / "broken" / "model").exists()
    left = sorted(p.name for p in checkpoints.iterdir())  # what the resume starts from, said if it fails
    run_cli("train", "--resume", "broken", cwd=tmp_path, check=True)
    info = json.loads((tmp_path / "broken" / "run.json").read_text())
    assert info["status"] == "completed" and info["resumed"] == 1
    history = [json.loads((tmp_path / run / "model" / "learner.json").read_text())["history"]
               for run in ("whole", "broken")]
    differ = next((i + 1 for i, (x, z) in enumerate(zip(*history)) if x != z), None)
    assert history[0] == history[1], \
        f"killed with {left}: the histories part at epoch {differ} ({len(history[0])} / {len(history[1])} epochs)"
    a = load_file(str(tmp_path / "whole" / "model" / "weights.safetensors"))
    b = load_file(str(tmp_path / "broken" / "model" / "weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), \
        (f"killed with {left}, the same history: largest weight difference "
         f"{max((float((a[k] - b[k]).abs().max()) for k in a.keys() & b.keys()), default=float('nan')):.3g}")
    # resuming a finished run is refused (other arguments: tests/cli/test_bad_input.py)
    proc = run_cli("train", "--resume", "broken", cwd=tmp_path)
    assert proc.returncode == 2 and "already completed" in proc.stderr


def test_two_processes_match_one(tmp_path):
    from trainwright.models.tabular.mlp import MLPLearner

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    train = {"epochs": 4, "batch_size": 64, "schedule": {"type": "constant"}, "checkpoint": {"enabled": False}}
    one = MLPLearner(hidden_sizes=[64], dropout=0.0, train=train, seed=0).fit(X[:1400], y[:1400],
                                                                               X_valid=X[1400:], y_valid=y[1400:])
    two = MLPLearner(hidden_sizes=[64], dropout=0.0, train={**train, "nproc": 2}, seed=0).fit(
        X[:1400], y[:1400], X_valid=X[1400:], y_valid=y[1400:])
    p1, p2 = one.predict_proba(X[1400:]), two.predict_proba(X[1400:])
    assert np.abs(p1 - p2).max() < 1e-3
    assert np.mean(p1.argmax(1) == p2.argmax(1)) > 0.99
    assert [round(h["validation_loss"], 3) for h in one.history_] == [round(h["validation_loss"], 3) for h in two.history_]


def test_cli_nproc(tmp_path, digits_csv):
    run_cli("train", digits_csv, "--target", "digit", "--set", "model.type=mlp", "--set", "train.epochs=3",
            "--set", "audit.enabled=false", "--nproc", "2", "--out", "ddp", cwd=tmp_path, check=True)
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.8
    assert "nproc: 2" in (tmp_path / "ddp" / "recipe.resolved.yaml").read_text()


def test_data_parallel_edge_cases_and_worker_errors():
    from trainwright.errors import ConfigError
    from trainwright.models.tabular.mlp import MLPLearner

    X = np.random.default_rng(0).normal(size=(33, 4))
    y = (X[:, 0] > 0).astype(int)
    # 33 rows in batches of 16: the 1-row remainder joins the previous batch (no empty share, no 1-row batch norm)
    m = MLPLearner(hidden_sizes=[8], norm="batch", train={"epochs": 2, "batch_size": 16, "nproc": 2,
                                                          "checkpoint": {"enabled": False}}).fit(X, y)
    assert m.predict(X).shape == (33,)
    with pytest.raises(ConfigError, match="gradient_checkpointing cannot be combined"):
        MLPLearner(hidden_sizes=[8], train={"epochs": 1, "nproc": 2, "gradient_checkpointing": True}).fit(X, y)


def _abort_rank1(when: str):
    """A model builder for the test below: rank 1 dies by SIGABRT right away, or when its process exits."""
    def build(**kwargs):
        import atexit
        import os
        import signal

        import torch.distributed as dist

        from trainwright.models.neural.layers import build_mlp

        if dist.is_initialized() and dist.get_rank() == 1:
            if when == "now":
                os.kill(os.getpid(), signal.SIGABRT)
            atexit.register(os.kill, os.getpid(), signal.SIGABRT)
        return build_mlp(**kwargs)
    return build


abort_rank1_now, abort_rank1_at_exit = _abort_rank1("now"), _abort_rank1("at_exit")


@pytest.mark.parametrize("when", ["now", "at_exit"])
def test_a_rank_killed_after_the_last_barrier_loses_nothing(when):
    """gloo can abort a rank while it tears down (seen on CI under load): the fit stands when every rank had passed
    the final barrier, and fails when a rank died before finishing."""
    import torch.multiprocessing as mp

    from trainwright.models.tabular.mlp import MLPLearner

    class Learner(MLPLearner):
        builder = f"{__name__}:abort_rank1_{when}"

    X = np.random.default_rng(0).normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(int)
    learner = Learner(hidden_sizes=[8], train={"epochs": 2, "batch_size": 16, "nproc": 2,
                                               "checkpoint": {"enabled": False}})
    if when == "now":
        with pytest.raises(mp.ProcessExitedException, match="SIGABRT"):
            learner.fit(X, y)
    else:
        assert learner.fit(X, y).predict(X).shape == (40,)


def test_batches_and_checkpoint_names(tmp_path):
    from trainwright.training.batches import TensorBatches
    from trainwright.training.checkpoint import list_checkpoints, save_checkpoint

    X = torch.arange(33.0)[:, None]
    sizes = [len(xb) for xb, _, _ in TensorBatches(X, X[:, 0], None, 16, 0, 0, 1).epoch(0, skip=0)]
    assert sizes == [16, 17]
    for step in (999, 1000, 12345678901):
        save_checkpoint(tmp_path, {"x": step}, step=step, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000001000.safetensors", "step-12345678901.safetensors"]
