"""``trainwright compress``: int8 quantisation, pruning with a fine-tune, and distillation into a small student,
each written as a new run that records its parent and compares size, latency and test score with it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import PENGUINS
from trainwright.cli import main


def train(data, target, out, *overrides):
    import trainwright

    return trainwright.train(data, target=target, out=out, overrides=["evaluate.report=false", *overrides])


def test_int8_weights_are_rebuilt_exactly_and_take_a_quarter_of_the_bytes():
    from safetensors.torch import save

    from trainwright.models.neural.compress import load_quantized, quantize

    def build():
        return torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                   torch.nn.ReLU(), torch.nn.Linear(256, 3))

    torch.manual_seed(0)
    net = build().eval()
    q, saved = quantize(net)
    rebuilt = load_quantized(build(), saved)
    x = torch.randn(50, 20) * 100  # outliers in the inputs do not matter: only the weights are int8
    with torch.no_grad():
        assert torch.equal(q(x), rebuilt(x))  # the saved form gives the very same outputs
        assert float(((q(x) - net(x)).abs().max() / net(x).abs().max())) < 0.02  # and int8 is close to float
    assert all(len(torch.unique(saved[k])) <= 255 for k in saved if k.endswith(".int8"))
    assert len(save(saved)) < 0.3 * len(save(net.state_dict()))


def test_pruned_weights_are_packed_and_unpacked_exactly():
    from trainwright.models.neural.compress import finish_pruning, packed_state, prune_weights, unpacked_state

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(30, 40), torch.nn.Linear(40, 2))
    zeroed = prune_weights(net, 0.75)
    finish_pruning(net)
    weights = [net[0].weight, net[1].weight]
    assert zeroed == sum(int((w == 0).sum()) for w in weights) == round(0.75 * sum(w.numel() for w in weights))
    state = net.state_dict()
    packed = packed_state(state)
    assert {"0.weight.mask", "0.weight.kept"} <= set(packed)
    back = unpacked_state(packed)
    assert all(torch.equal(back[k], state[k]) for k in state)


def test_quantize_and_prune_an_mlp_run_from_the_cli(data_dir, tmp_path):
    """Breast cancer (binary, real): each method writes a new run beside nothing it changes, loadable like any run,
    its report comparing it with the parent."""
    parent = train(data_dir / "breast_cancer.csv", "target", tmp_path / "mlp", "model.type=mlp",
                   "model.hidden_sizes=[256,256]")
    before = {p.name: p.stat().st_mtime_ns for p in parent.path.rglob("*")}
    rows = pd.read_csv(data_dir / "breast_cancer.csv").drop(columns="target")
    assert main(["compress", str(parent.path), "--method", "quantize", "--out", str(tmp_path / "q")]) == 0
    import trainwright

    q = trainwright.load(tmp_path / "q")
    z = q.info["compression"]
    assert q.status == "completed" and q.info["parent"] == str(parent.path.resolve()) and z["method"] == "quantize"
    assert (tmp_path / "q" / "model" / "weights.safetensors").stat().st_size < \
        0.35 * (parent.path / "model" / "weights.safetensors").stat().st_size
    assert z["compressed"]["bytes"] < z["parent"]["bytes"] and z["compressed"]["batch_rows"] > 0
    assert q.metrics["test"]["accuracy"] >= parent.metrics["test"]["accuracy"] - 0.03
    assert z["compressed"]["log_loss"] == q.metrics["test"]["log_loss"]
    agree = np.mean(q.predict(rows)["prediction"].to_numpy() == parent.predict(rows)["prediction"].to_numpy())
    assert agree > 0.97

    assert main(["compress", str(parent.path), "--method", "prune", "--amount", "0.7",
                 "--out", str(tmp_path / "p")]) == 0
    p = trainwright.load(tmp_path / "p")
    net = p.predictor.members[0][1].net_
    linear = [m.weight for m in net.modules() if isinstance(m, torch.nn.Linear)]
    zeros = sum(int((w == 0).sum()) for w in linear) / sum(w.numel() for w in linear)
    assert 0.69 < zeros < 0.71  # the zeros survived the fine-tune and the saving
    history = json.loads((tmp_path / "p" / "history.json").read_text())
    assert 1 <= len(history["entries"]) <= 5  # the fine-tune's epochs
    assert p.info["compression"]["compressed"]["bytes"] < 0.5 * p.info["compression"]["parent"]["bytes"]
    assert p.metrics["test"]["accuracy"] >= parent.metrics["test"]["accuracy"] - 0.05
    assert {p.name: p.stat().st_mtime_ns for p in parent.path.rglob("*")} == before  # the parent is untouched


def test_the_report_shows_the_comparison(tmp_path):
    import trainwright

    parent = trainwright.train(PENGUINS, target="species", out=tmp_path / "lgbm", overrides=["model.type=lightgbm"])
    small = trainwright.compress(parent.path, "prune", amount=0.5, out=tmp_path / "pruned")
    page = (small.path / "report.html").read_text()
    assert "Compression: prune" in page and str(parent.path.resolve()) in page
    z = small.info["compression"]
    assert z["pruned"][0]["rounds_kept"] == round(z["pruned"][0]["rounds_before"] * 0.5)
    evaluation = json.loads((small.path / "evaluation.json").read_text())
    assert evaluation["compression"]["parent"]["bytes"] == z["parent"]["bytes"]
    assert small.info["compression"]["compressed"]["bytes"] < z["parent"]["bytes"]


def test_prune_a_lightgbm_regression(data_dir, tmp_path):
    import trainwright

    parent = train(data_dir / "diabetes.csv", "target", tmp_path / "gbm", "model.type=lightgbm",
                   "model.learning_rate=0.02")
    small = trainwright.compress(parent.path, "prune", amount=0.6, out=tmp_path / "small")
    pruned = small.info["compression"]["pruned"][0]
    model = (small.path / "model" / "model.txt").read_text()
    assert model.count("Tree=") == pruned["rounds_kept"] == round(0.4 * pruned["rounds_before"])
    assert small.metrics["test"]["rmse"] < 1.2 * parent.metrics["test"]["rmse"]


def test_distill_a_knn_into_a_lightgbm_student_that_exports(data_dir, tmp_path):
    """The affairs survey (6,366 rows): k-nearest neighbours (not exportable; they keep every training row)
    distilled into one LightGBM model that passes the ONNX parity gate and agrees with its parent on most rows."""
    import trainwright

    parent = train(data_dir / "fair.csv", "had_affair", tmp_path / "knn", "model.type=kneighbors")
    with pytest.raises(trainwright.TrainwrightError):
        from trainwright.deploy.export import export_onnx

        export_onnx(parent, tmp_path / "parent.onnx")
    student = trainwright.compress(parent.path, "distill", out=tmp_path / "student", synthetic=5000)
    z = student.info["compression"]
    assert student.info["model"] == "lightgbm" and len(student.predictor.members) == 1
    assert z["synthetic_rows"] == 5000 and z["training_rows"] == parent.info["splits"]["train"]
    rows = pd.read_csv(data_dir / "fair.csv")
    test = rows.iloc[json.loads((parent.path / "splits.json").read_text())["test"]]
    agree = np.mean(student.predict(test)["prediction"].to_numpy() == parent.predict(test)["prediction"].to_numpy())
    assert agree > 0.9 and abs(agree - z["agreement_test"]) < 1e-12
    assert abs(student.metrics["test"]["accuracy"] - parent.metrics["test"]["accuracy"]) < 0.03
    assert student.metrics["test"]["log_loss"] < parent.metrics["test"]["log_loss"] + 0.02  # soft labels: probabilities too
    assert main(["export", str(student.path), "-o", str(tmp_path / "student.onnx")]) == 0


def test_soft_labels_weigh_each_class_by_the_teachers_probability(tmp_path):
    """A student minimising weighted log loss on these rows minimises the cross-entropy to the teacher."""
    from trainwright.pipeline.distill import soft_labels

    parent = train(PENGUINS, "species", tmp_path / "lin", "model.type=linear")
    rows = pd.read_csv(PENGUINS).head(40)
    taught, labels, weights = soft_labels(parent.predictor, rows)
    proba = parent.predictor.output(rows)
    assert len(taught) == int((proba >= 1e-3).sum()) >= len(rows)
    for i in range(3):
        mine = taught.index[(taught["bill_length_mm"] == rows["bill_length_mm"].iloc[i]).to_numpy()
                            & (taught["body_mass_g"] == rows["body_mass_g"].iloc[i]).to_numpy()]
        got = dict(zip(labels[mine], weights[mine]))
        expected = {c: p for c, p in zip(parent.predictor.classes_, proba[i]) if p >= 1e-3}
        assert got.keys() == expected.keys() and all(abs(got[c] - expected[c]) < 1e-12 for c in got)


def test_distill_keeps_what_target_encoding_learnt(tmp_path):
    """A 150-level column (target-encoded) that decides the label: the student's encoding is fitted on the true
    labels of the training rows, not on the soft-label copies (where every level would look alike)."""
    import trainwright

    rng = np.random.default_rng(1)
    n = 3000
    rate, level = rng.uniform(0, 1, 150), rng.integers(0, 150, n)
    label = rng.uniform(size=n) < 0.1 + 0.8 * (rate[level] > 0.5)
    data = tmp_path / "zip.csv"
    pd.DataFrame({"zip": [f"z{i:03d}" for i in level], "x": rng.normal(size=n),
                  "y": np.where(label, "yes", "no")}).to_csv(data, index=False)
    parent = train(data, "y", tmp_path / "lgbm", "model.type=lightgbm")
    for student in ("lightgbm", "linear"):
        small = trainwright.compress(parent.path, "distill", student=student, out=tmp_path / student)
        assert small.info["compression"]["agreement_test"] > 0.9, student
        assert small.metrics["test"]["log_loss"] < parent.metrics["test"]["log_loss"] + 0.03, student


def test_prune_fine_tunes_with_the_parents_class_weights_and_is_reproducible(data_dir, tmp_path):
    import trainwright

    parent = train(data_dir / "fair.csv", "had_affair", tmp_path / "mlp", "model.type=mlp",
                   "balance.method=class_weight")
    runs = [trainwright.compress(parent.path, "prune", out=tmp_path / f"p{i}") for i in range(2)]
    rows = pd.read_csv(data_dir / "fair.csv").drop(columns="had_affair")
    first, second = (r.predict(rows)["proba_yes"].to_numpy() for r in runs)
    assert np.array_equal(first, second)  # the same seed, the same fine-tune
    share = {name: np.mean(m.predict(rows)["prediction"] == "yes") for name, m in (("parent", parent),
                                                                                   ("pruned", runs[0]))}
    assert abs(share["pruned"] - share["parent"]) < 0.1, share  # still balanced: not collapsed to "no"


def test_a_failed_compress_leaves_nothing_and_compressed_runs_do_not_resume(tmp_path, monkeypatch):
    import trainwright
    from trainwright.pipeline import compress as module

    parent = train(PENGUINS, "species", tmp_path / "lgbm", "model.type=lightgbm")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_table", broken)
    with pytest.raises(RuntimeError):
        trainwright.compress(parent.path, "prune", out=tmp_path / "new")
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    small = trainwright.compress(parent.path, "prune", out=tmp_path / "new")
    info = json.loads((small.path / "run.json").read_text())
    info["status"] = "running"
    (small.path / "run.json").write_text(json.dumps(info))
    assert main(["train", "--resume", str(small.path)]) == 2


def test_bad_requests_exit_2_and_leave_no_run(data_dir, tmp_path, capsys):
    parent = train(PENGUINS, "species", tmp_path / "lin", "model.type=linear")
    cases = [(["--method", "quantize"], "no network weights to quantise"),
             (["--method", "prune"], "cannot be pruned"),
             (["--method", "prune", "--amount", "1"], "--amount 1.0"),
             (["--method", "distill", "--synthetic", "-5"], "--synthetic -5"),
             (["--method", "distill", "--out", str(parent.path)], "already exists"),
             (["--method", "distill", "--out", str(parent.path / "inside")], "inside the parent run"),
             (["--method", "distill", "--seed", "-1"], "--seed -1"),
             (["--method", "distill", "--time-budget", "-5"], "--time-budget -5"),
             (["--method", "distill", "--time-budget", "nan"], "--time-budget nan")]
    for args, message in cases:
        out = [] if "--out" in args else ["--out", str(tmp_path / "new")]
        assert main(["compress", str(parent.path), *args, *out]) == 2, args
        assert message in capsys.readouterr().err
        assert not (tmp_path / "new").exists()
    import trainwright

    for kwargs in ({"amount": "0.5", "method": "prune"}, {"synthetic": 2.5, "method": "distill"},
                   {"synthetic": True, "method": "distill"}):
        with pytest.raises(trainwright.ConfigError):
            trainwright.compress(parent.path, out=tmp_path / "new", **kwargs)
    (parent.path / "recipe.yaml").write_text("data: [unclosed")
    assert main(["compress", str(parent.path), "--method", "distill", "--out", str(tmp_path / "new")]) == 2
    assert "recipe.yaml is missing or damaged" in capsys.readouterr().err
    copy = tmp_path / "penguins.csv"
    copy.write_text(open(PENGUINS).read())
    moved = train(copy, "species", tmp_path / "moved", "model.type=linear")
    copy.write_text(open(PENGUINS).read().replace("Adelie", "Adelia", 1))
    assert main(["compress", str(moved.path), "--method", "distill", "--out", str(tmp_path / "new")]) == 2
    assert "changed since" in capsys.readouterr().err and not (tmp_path / "new").exists()


def test_the_readme_compress_section(tmp_path):
    """README "Compressing a run", as a newcomer types it (the bundled penguins)."""
    import trainwright
    from tests.conftest import run_cli

    (tmp_path / "penguins.csv").write_text(open(PENGUINS).read())
    run_cli("train", "penguins.csv", "--target", "species", "--set", "model.type=mlp", "--out", "runs/mlp",
            cwd=tmp_path, check=True)
    q = run_cli("compress", "runs/mlp", "--method", "quantize", "--out", "runs/mlp-int8", cwd=tmp_path)
    assert q.returncode == 0, q.stderr
    for line in ("Compressed run: runs/mlp-int8", "1 of 1 member(s) quantised to int8", "bytes (0.3",
                 "same prediction as the parent for"):
        assert line in q.stderr, (line, q.stderr)
    for args in (["--method", "prune", "--amount", "0.7"], ["--method", "distill"]):
        done = run_cli("compress", "runs/mlp", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    made = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(made) == 4 and any(n.endswith("-mlp-prune") for n in made) and any(n.endswith("-mlp-distill") for n in made)
    student = trainwright.load(next((tmp_path / "runs").glob("*-mlp-distill")))
    z = student.info["compression"]
    assert student.info["model"] == "lightgbm" and z["synthetic_rows"] == 3 * student.info["splits"]["train"]
    # a LightGBM student of a small MLP is larger than it (penguins: about 2.4 times): it is said so
    assert z["compressed"]["bytes"] > z["parent"]["bytes"] and "not smaller than its parent" in z["summary"]
