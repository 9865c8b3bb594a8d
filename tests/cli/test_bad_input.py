"""The bad-input catalogue, table-driven: each case is an input, a command, the exit code and words the message
must contain. An error exits 2 with one message (no traceback without --debug), leaves every file of the
user's unchanged and no run directory behind. Later issues add their cases to CASES."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PENGUINS, run_cli, sha256


def penguins(tmp: Path) -> pd.DataFrame:
    return pd.read_csv(PENGUINS)


def write(name: str, make: Callable[[pd.DataFrame], pd.DataFrame], **options) -> Callable[[Path], None]:
    """A setup step: a file made from the penguins table."""
    def setup(tmp: Path) -> None:
        make(penguins(tmp)).to_csv(tmp / name, index=False, **options)
    return setup


def text(name: str, content: str | bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return setup


def damaged(kind: str) -> Callable[[Path], None]:
    """A copy of a trained run ("run") with one thing broken."""
    def setup(tmp: Path) -> None:
        source = TRAINED["mlp" if kind in ("weights", "pickle checkpoint") else "lightgbm"]
        shutil.copytree(source, tmp / "run")
        model = tmp / "run" / "model"
        if kind == "model file":
            (model / "model.txt").unlink()
        elif kind == "model file truncated":  # LightGBM crashes the process on some truncated files
            (model / "model.txt").write_bytes((model / "model.txt").read_bytes()[:3000])
        elif kind == "run.json list":
            (tmp / "run" / "run.json").write_text("[]")
        elif kind == "learner.json":
            (model / "learner.json").write_text((model / "learner.json").read_text()[:120])
        elif kind == "evaluation.json":
            (tmp / "run" / "evaluation.json").write_text('{"format_version": 2, "task": "classif')
        elif kind == "weights":
            (model / "weights.safetensors").write_bytes((model / "weights.safetensors").read_bytes()[:500])
        elif kind == "format string":
            info = json.loads((tmp / "run" / "run.json").read_text())
            (tmp / "run" / "run.json").write_text(json.dumps({**info, "format_version": str(info["format_version"])}))
        elif kind == "pickle checkpoint":
            info = json.loads((tmp / "run" / "run.json").read_text())
            (tmp / "run" / "run.json").write_text(json.dumps({**info, "status": "running", "saved": False}))
            (tmp / "run" / "checkpoints" / "mlp").mkdir(parents=True, exist_ok=True)
            import pickle  # a crafted file where the newest checkpoint should be

            (tmp / "run" / "checkpoints" / "mlp" / "step-999999999.safetensors").write_bytes(pickle.dumps({"x": 1}))
    return setup


def with_data(tmp: Path) -> None:
    shutil.copy(PENGUINS, tmp / "penguins.csv")


@dataclass
class Case:
    name: str
    args: list[str]
    words: list[str]
    setup: list[Callable[[Path], None]] = field(default_factory=list)
    code: int = 2


TRAIN = ["train", "penguins.csv", "--target", "species"]
CASES = [
    Case("missing file", ["train", "nope.csv", "--target", "y"], ["nope.csv: no such file"]),
    Case("empty file", ["train", "empty.csv", "--target", "y"], ["empty.csv is empty"], [text("empty.csv", "")]),
    Case("unreadable csv", ["train", "bad.csv", "--target", "a"], ["bad.csv: could not be read as csv"],
         [text("bad.csv", 'a,b\n1,"never closed\n')]),
    Case("unknown format", ["train", "data.xlsx", "--target", "species"], ["unknown format '.xlsx'"],
         [text("data.xlsx", "a,b\n1,2\n")]),
    Case("target absent", ["train", "penguins.csv", "--target", "specis"],
         ["target column 'specis' not found", "Did you mean 'species'", "island"]),
    Case("target all missing", ["train", "nolabels.csv", "--target", "species"],
         ["every value of the target column 'species' is missing"], [write("nolabels.csv", lambda f: f.assign(species=None))]),
    Case("single class", ["train", "adelie.csv", "--target", "species"], ["has a single class ('Adelie')"],
         [write("adelie.csv", lambda f: f[f.species == "Adelie"])]),
    Case("regression target is text", [*TRAIN, "--task", "regression"],
         ["regression needs a numeric target, but column 'species' holds text such as 'Adelie'"]),
    Case("too few rows", ["train", "six.csv", "--target", "species"], ["6 rows are too few for a 70%/20%/10% split"],
         [write("six.csv", lambda f: pd.concat([f.head(3), f.tail(3)]))]),
    Case("recipe typo", ["train", "penguins.csv", "--recipe", "r.yaml"],
         ["model.num_leavs: unknown key", "Did you mean 'num_leaves'"],
         [text("r.yaml", "target: species\nmodel:\n  type: lightgbm\n  num_leavs: 8\n")]),
    Case("unknown model type", [*TRAIN, "--set", "model.type=xgboost"],
         ["unknown model type 'xgboost'. Allowed: lightgbm, linear, mlp, kneighbors, cnn, resnet, text_gru, text_transformer, text_encoder, sequence_gru, sequence_transformer, catboost, auto"]),
    Case("value out of range", [*TRAIN, "--set", "split.test=2"], ["split.test: Input should be less than 1"]),
    Case("a target transform on classes", [*TRAIN, "--set", "model.type=lightgbm", "--set",
                                           "model.target_transform=log"],
         ["model.target_transform=log transforms a regression target", "set model.target_transform=none"]),
    Case("a regression-only entry on classes", [*TRAIN, "--set", "model.candidates=[lightgbm, lightgbm_log]"],
         ["model.candidates names lightgbm_log, which trains on regression targets only",
          "leave lightgbm_log out of model.candidates"]),
    Case("a typo in an auto setting", [*TRAIN, "--set", "model.refti=false"],
         ["model.refti is a setting of no model", "Did you mean 'refit'"]),
    Case("setting of another optimizer", [*TRAIN, "--set", "model.type=mlp", "--set", "train.optimizer.momentum=0.5"],
         ["train.optimizer.momentum: unknown key", "optimizer type adamw"]),
    # issue 10's catalogue
    Case("duplicate column names (train)", ["train", "dup.csv", "--target", "species"],
         ["dup.csv", "more than once: bill_length_mm"],
         [text("dup.csv", PENGUINS.read_text().replace("bill_depth_mm", "bill_length_mm", 1))]),
    Case("duplicate column names (predict)", ["predict", "run", "dup.csv"], ["more than once: bill_length_mm"],
         [damaged("none"), text("dup.csv", PENGUINS.read_text().replace("bill_depth_mm", "bill_length_mm", 1))]),
    Case("a word in a numeric column (predict)", ["predict", "run", "old.csv", "-o", "p.csv"],
         ["old.csv", "column 'body_mass_g'", "not numbers", "'old'", "--invalid missing"],
         [damaged("none"), write("old.csv", lambda f: f.astype({"body_mass_g": object}).assign(
             body_mass_g=lambda g: g.body_mass_g.where(g.index != 2, "old")))]),
    Case("batch size 0", [*TRAIN, "--set", "model.type=mlp", "--set", "train.batch_size=0"],
         ["train.batch_size", "greater than 0"]),
    Case("negative hidden size", [*TRAIN, "--set", "model.type=mlp", "--set", "model.hidden_sizes=[16,-3]"],
         ["model.hidden_sizes.1", "greater than 0"]),
    Case("--out is a file", [*TRAIN, "--out", "penguins.csv"], ["--out penguins.csv already exists and is a file"]),
    Case("model file missing", ["predict", "run", "penguins.csv"], ["run/model/model.txt is missing", "incomplete"],
         [damaged("model file")]),
    Case("model file truncated", ["predict", "run", "penguins.csv"], ["run/model/model.txt is damaged", "truncated"],
         [damaged("model file truncated")]),
    Case("run.json holds a list", ["predict", "run", "penguins.csv"], ["run.json is damaged", "JSON list"],
         [damaged("run.json list")]),
    Case("learner.json torn", ["predict", "run", "penguins.csv"], ["learner.json is damaged"], [damaged("learner.json")]),
    Case("evaluation.json torn", ["report", "run"], ["evaluation.json is damaged"], [damaged("evaluation.json")]),
    Case("weights truncated", ["predict", "run", "penguins.csv"], ["weights.safetensors is damaged"],
         [damaged("weights")]),
    Case("format version as text", ["predict", "run", "penguins.csv"],
         ["run.json is damaged", "format_version is '2', not a whole number"], [damaged("format string")]),
    Case("--out cannot be written", [*TRAIN, "--out", "/proc/trainwright-test/run"], ["cannot write --out", "/proc"]),
    Case("-o cannot be written", ["predict", "run", "penguins.csv", "-o", "/proc/p.csv"], ["cannot write", "/proc"],
         [damaged("none")]),
    Case("unknown encoding", [*TRAIN, "--set", "data.encoding=klingon"], ["data.encoding 'klingon'", "utf-8"]),
    Case("broken JSON Lines line", ["train", "rows.jsonl", "--target", "species"], ["rows.jsonl: line 8 is not valid JSON"],
         [lambda t: (t / "rows.jsonl").write_text("\n".join(
             line if i != 7 else line[:-5] for i, line in enumerate(
                 penguins(t).head(20).to_json(orient="records", lines=True).splitlines())) + "\n")]),
    Case("many float labels as classes", ["train", "floaty.csv", "--target", "y", "--task", "classification"],
         ["fractional numbers", "--task regression"],
         [lambda t: pd.DataFrame(np.random.default_rng(0).normal(size=(300, 2)), columns=["x", "y"]).to_csv(
             t / "floaty.csv", index=False)]),
    Case("JSON Lines line that is a number", ["train", "rows.jsonl", "--target", "species"],
         ["rows.jsonl: line 2 is a JSON int, not an object"], [text("rows.jsonl", '{"species": "a", "x": 1}\n5\n')]),
    Case("JSON Lines key twice", ["train", "rows.jsonl", "--target", "species"],
         ["rows.jsonl: line 2 names 'x' more than once"],
         [text("rows.jsonl", '{"species": "a", "x": 1}\n{"species": "b", "x": 2, "x": 3}\n')]),
    Case("UTF-8 mixed with Latin-1", ["train", "mixed.csv", "--target", "species"],
         ["mixed.csv mixes UTF-8 with another encoding", "Re-encode"],
         [text("mixed.csv", PENGUINS.read_bytes().replace(b"Torgersen", "Torgérsen".encode(), 1)
               + "Gentoo,Bïscoe,50,15,220,5000,male,2009\n".encode("latin-1"))]),
    Case("recipe key twice", ["train", "penguins.csv", "--recipe", "r.yaml"], ["r.yaml", "'model' appears twice"],
         [text("r.yaml", "target: species\nmodel:\n  type: mlp\nmodel:\n  type: linear\n")]),
    Case("seed beyond 32 bits", [*TRAIN, "--seed", "5000000000"], ["seed", "less than or equal to 4294967295"]),
    Case("-o compressed", ["predict", "run", "penguins.csv", "-o", "p.csv.gz"], ["p.csv.gz", "uncompressed"],
         [damaged("none")]),
    Case("--force onto a folder", ["predict", "run", "penguins.csv", "-o", "out.csv", "--force"],
         ["out.csv", "not a regular file"], [damaged("none"), lambda t: (t / "out.csv").mkdir()]),
    Case("runs --dir missing", ["runs", "--dir", "nowhere"], ["--dir nowhere: no such folder"]),
    Case("checkpoint that is a pickle", ["train", "--resume", "run"],
         ["not a trainwright checkpoint", "delete it"], [damaged("pickle checkpoint")]),
    Case("resume with other arguments", [*TRAIN, "--set", "model.type=linear", "--resume", "run"],
         ["differ from the ones the run was started with", "model.type"], [damaged("pickle checkpoint")]),
    Case("images without class subfolders", ["train", "flat", "--target", "label"],
         ["target column 'label'", "image"], [lambda t: _images(t / "flat", nested=False)]),
    Case("an image model on images and other columns", ["train", "mixed.csv", "--target", "y", "--set",
                                                        "model.type=cnn"],
         ["model.type=cnn takes the pixels of one image column", "preprocess.drop_columns"],
         [lambda t: pd.DataFrame({"file": [str(p) for p in _images(t / "pics")], "x": np.random.default_rng(0).normal(size=40),
                                  "y": ["a", "b"] * 20}).to_csv(t / "mixed.csv", index=False)]),
    Case("a folder of text files", ["train", "notes", "--target", "label"], ["holds no image files"],
         [lambda t: (t / "notes").mkdir(), text("notes/a.txt", "hello")]),
]


def _images(folder: Path, nested: bool = True) -> list[Path]:
    """40 small grey PNG files, in two class subfolders or flat."""
    from PIL import Image

    paths = []
    for i in range(40):
        sub = folder / ("ab"[i % 2] if nested else "")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8), dtype=np.uint8)).save(sub / f"{i}.png")
        paths.append(sub / f"{i}.png")
    return paths

TRAINED: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def trained_runs(tmp_path_factory):
    """Two small completed runs (LightGBM, MLP) that the cases copy and break."""
    base = tmp_path_factory.mktemp("trained")
    for model in ("lightgbm", "mlp"):
        run_cli("train", PENGUINS, "--target", "species", "--set", f"model.type={model}", "--set", "train.epochs=5",
                "--set", "evaluate.explain.rows=50", "--out", base / model, cwd=base, check=True)
        TRAINED[model] = base / model
    yield


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input(case: Case, tmp_path: Path):
    with_data(tmp_path)
    for step in case.setup:
        step(tmp_path)
    status = {tmp_path / "run" / "run.json", tmp_path / "run" / "log.txt"}  # the run's own record of the attempt
    files = {p: sha256(p) for p in tmp_path.rglob("*") if p.is_file() and p not in status}
    proc = run_cli(*case.args, cwd=tmp_path)
    assert proc.returncode == case.code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for word in case.words:
        assert word in proc.stderr, f"{word!r} not in: {proc.stderr}"
    assert "weights_only=False" not in proc.stderr
    assert {p: sha256(p) for p in files} == files, "a user's file changed"
    assert not (tmp_path / "runs").exists(), "bad input must not leave a run directory"


def test_debug_shows_traceback(tmp_path):
    proc = run_cli("--debug", "train", "nope.csv", "--target", "y", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_an_existing_output_is_never_replaced_without_force(tmp_path):
    shutil.copytree(TRAINED["lightgbm"], tmp_path / "run")
    (tmp_path / "keep.csv").write_text("mine")
    proc = run_cli("predict", "run", PENGUINS, "-o", "keep.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr and (tmp_path / "keep.csv").read_text() == "mine"
