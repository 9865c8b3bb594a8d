"""Studies shared between processes: ``--workers K`` on one machine (a journal file), and two commands on one
PostgreSQL study, as two machines would run them. Trials are shared, none runs twice, both find the same best.

The PostgreSQL test needs a server: ``TRAINWRIGHT_TEST_POSTGRES=postgresql://user:pass@127.0.0.1/db`` (``.ci/run``
installs, starts and sets it, with ``TRAINWRIGHT_REQUIRE_POSTGRES=1`` so that there a missing server fails).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import PENGUINS, run_cli

MLP = ["--set", "model.type=mlp", "--set", "train.epochs=15", "--set", "evaluate.report=false",
       "--set", "tune.pruner=none"]


def _trials(run_dir) -> list[dict]:
    return json.loads((run_dir / "study.json").read_text())["trials"]


def test_workers_on_one_machine_share_the_study(tmp_path):
    proc = run_cli("tune", PENGUINS, "--target", "species", "--trials", "10", "--workers", "2", "--out", "r", *MLP,
                   cwd=tmp_path, check=True)
    trials = _trials(tmp_path / "r")
    assert sorted(t["number"] for t in trials) == list(range(len(trials))) and 10 <= len(trials) <= 11
    workers = {t["worker"] for t in trials}
    assert len(workers) == 2, f"one process ran every trial: {workers}\n{proc.stdout[-2000:]}"
    assert {t["threads"] for t in trials} == {max(1, len(os.sched_getaffinity(0)) // 2)}  # the cores divided
    values = [tuple(sorted(map(str, t["params"].items()))) for t in trials]
    assert len(set(values)) == len(values)  # the two samplers do not propose the same values


POSTGRES = os.environ.get("TRAINWRIGHT_TEST_POSTGRES")


@pytest.mark.skipif(not POSTGRES and os.environ.get("TRAINWRIGHT_REQUIRE_POSTGRES") != "1",
                    reason="no PostgreSQL server: set TRAINWRIGHT_TEST_POSTGRES (.ci/run starts one)")
def test_two_machines_share_a_postgresql_study(tmp_path):
    assert POSTGRES, "TRAINWRIGHT_REQUIRE_POSTGRES=1 but TRAINWRIGHT_TEST_POSTGRES is not set"
    study = f"two-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "trainwright", "tune", str(PENGUINS), "--target", "species", "--trials", "12",
               "--storage", POSTGRES, "--study", study, *MLP]
    env = {**os.environ, "HOME": str(tmp_path)}
    procs = [subprocess.Popen([*command, "--out", name], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    a, b = _trials(tmp_path / "a"), _trials(tmp_path / "b")
    assert {t["number"] for t in a} == {t["number"] for t in b}  # one study, seen whole from both machines
    numbers = sorted(t["number"] for t in a)
    assert numbers == list(range(len(a))) and 12 <= len(a) <= 13  # at most one more: both may start the last
    assert len({t["worker"] for t in a}) == 2  # both processes ran trials of the one study
    assert len({json.dumps(t["params"], sort_keys=True) for t in a}) == len(a)  # none ran twice
    best = [json.loads((tmp_path / r / "study.json").read_text())["best"] for r in ("a", "b")]
    assert best[0] == best[1]  # both runs refit the same best trial
    assert "Study " + study in outs[0][0] and "Study " + study in outs[1][0]
