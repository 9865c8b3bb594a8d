"""A run is complete (every file it promises written) or resumable: a kill during the report stage resumes to
a complete run without training again; predicting on an unfinished run says to resume it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PENGUINS, run_cli


def _model_bytes(run: Path) -> dict[str, bytes]:
    return {str(f.relative_to(run)): f.read_bytes() for f in sorted((run / "model").rglob("*")) if f.is_file()}


def _kill_once_saved(cwd: Path) -> None:
    """Start a training and kill it (SIGKILL) as soon as its model is saved, i.e. during the report stage."""
    proc = subprocess.Popen([sys.executable, "-m", "trainwright", "train", str(PENGUINS), "--target", "species",
                             "--out", "run"], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = cwd / "run" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(info.read_text()).get("saved"):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_kill_during_the_report_resumes_to_a_complete_run_without_training_again(tmp_path):
    _kill_once_saved(tmp_path)
    run = tmp_path / "run"
    info = json.loads((run / "run.json").read_text())
    if info["status"] == "completed":
        pytest.fail("the report finished before the kill; the test needs a slower report")
    assert info["status"] == "running" and not (run / "report.html").exists()
    model_before = _model_bytes(run)  # the auto ensemble: every fold model's files
    proc = run_cli("predict", "run", PENGUINS, cwd=tmp_path)
    assert proc.returncode == 2 and f"Resume it: trainwright train --resume run" in proc.stderr
    # the same command again, with --resume appended, is what people type
    proc = run_cli("train", PENGUINS, "--target", "species", "--out", "run", "--resume", "run", cwd=tmp_path,
                   check=True)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and (run / "report.html").is_file() and (run / "evaluation.json").is_file()
    assert _model_bytes(run) == model_before  # not trained again
    log = (run / "log.txt").read_text()
    assert "resuming at the report, without training again" in log and log.count("stage train done") == 1
    assert "run completed" in log.splitlines()[-1]


def test_completed_only_once_everything_is_written(tmp_path):
    run_cli("train", PENGUINS, "--target", "species", "--set", "model.type=linear", "--out", "run", cwd=tmp_path,
            check=True)
    run = tmp_path / "run"
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    for name in ("model/learner.json", "metrics.json", "evaluation.json", "report.html", "log.txt"):
        assert (run / name).is_file(), name
    log = (run / "log.txt").read_text().splitlines()
    assert log[-1].endswith("run completed") and any("stage report done" in line for line in log)


def test_no_run_file_is_a_pickle_and_weights_are_readable_by_others(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        run_cli("train", PENGUINS, "--target", "species", "--set", "model.type=mlp", "--set", "train.epochs=3",
                "--set", "evaluate.report=false", "--out", "run", cwd=tmp_path, check=True)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name.startswith("step-") for p in files) and any(p.name == "weights.safetensors" for p in files)
    for path in files:
        head = path.read_bytes()[:2]
        assert not head.startswith((b"\x80", b"PK")), f"{path} looks like a pickle / torch zip"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
