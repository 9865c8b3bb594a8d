"""The run directory's one writer: atomic files with the umask's modes, a log appended as the run goes,
status in run.json; reading checks the format version."""

from __future__ import annotations

import json
import os
import stat

import pytest

from trainwright.errors import ArtifactError
from trainwright.runs import Run, RunWriter, list_runs, store


def test_files_get_the_umask_mode_and_no_temp_file_is_left(tmp_path):
    old = os.umask(0o022)
    try:
        path = store.write_bytes(tmp_path / "weights.safetensors", b"\x00" * 10)
        store.write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "weights.safetensors"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = store.write_text(tmp_path / "run.json", "old")

    class Boom:
        def __len__(self):
            raise RuntimeError("disk gone")

    with pytest.raises(TypeError):
        store.write_bytes(target, Boom())  # not bytes: fails while writing the temp file
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_writer_marks_status_and_appends_the_log(tmp_path):
    writer = RunWriter.create(tmp_path / "run", info={"target": "y"})
    writer.log("one")
    writer.log("two", "three")
    assert (writer.path / "log.txt").read_text() == "one\ntwo\nthree\n"
    assert Run(writer.path).status == "running"
    writer.failed(ValueError("bad"), seconds=1.5)
    assert Run(writer.path).info["error"] == "ValueError: bad"
    again = RunWriter.reopen(Run(writer.path))
    assert again.info["status"] == "running" and again.info["resumed"] == 1 and "error" not in again.info
    assert list_runs(tmp_path)[0]["status"] == "running"


def test_a_new_run_never_reuses_a_folder_with_files(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("mine")
    with pytest.raises(Exception, match="already exists and is not empty"):
        RunWriter.create(tmp_path / "taken")


def test_reading_checks_format_version_and_damage(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ArtifactError, match="written in format 99"):
        Run(tmp_path)
    (tmp_path / "run.json").write_text("{torn")
    with pytest.raises(ArtifactError, match="damaged"):
        Run(tmp_path)
