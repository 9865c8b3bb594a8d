"""The training loop every neural model in trainwright trains with.

``fit`` reads top to bottom: for each epoch, shuffle an index, and for each
mini-batch slice tensors by index (no per-sample Python), then ``Trainer.step``:
forward (autocast), loss (+ regularizers), backward (scaled), and every
``accumulate`` micro-batches: unscale, clip, optimizer step, schedule step,
EMA. Then evaluate, let callbacks observe, checkpoint. ``Trainer`` is public so
a user can drive their own loop with the same step.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from trainwright.errors import ConfigError, TrainwrightError
from trainwright.training.augment import augment, check_augment
from trainwright.training.batches import LoaderBatches, TensorBatches
from trainwright.training.callbacks import Callback, EarlyStopping, TrainState
from trainwright.training.config import CheckpointConfig, LogConfig, LoopConfig, RegularizeConfig
from trainwright.training.optim import build_optimizer
from trainwright.training.regularize import (
    EMA, SWA, add_input_noise, check_inputs, cutmix, fgsm, mixup, penalty, pgd, soft_cross_entropy,
)
from trainwright.training.schedules import build_schedule

__all__ = ["LoopConfig", "CheckpointConfig", "LogConfig", "Trainer", "FitResult", "fit", "TrainingDivergedError"]


class TrainingDivergedError(TrainwrightError, FloatingPointError):
    """Loss or gradients became NaN or infinite."""


@dataclass
class FitResult:
    """What ``fit`` returns: the history per epoch, the best epoch, why training stopped, and the optimizer
    step it resumed from (None when it started fresh).

    Example:
        >>> FitResult().stopped_by
        'completed'
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_by: str = "completed"
    resumed_from_step: int | None = None


def _precision(config: LoopConfig, device: str) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a gradient scaler)."""
    p = config.precision
    if p == "auto":
        if device != "cuda":
            return None, False
        p = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if p == "fp32":
        return None, False
    if p == "fp16" and device != "cuda":
        raise ConfigError("train.precision=fp16 needs a CUDA GPU; on CPU use bf16 or fp32", path="train.precision")
    return (torch.bfloat16, False) if p == "bf16" else (torch.float16, True)


class Trainer:
    """A model, its optimizer and schedule, and one training step.

    Args:
        model: the network; outputs (batch, classes) logits or (batch, 1) values.
        config: the loop settings.
        task: "classification" or "regression".
        n_classes: classes (classification).
        steps_per_epoch: optimizer steps per epoch (for schedules).
        seed: seed of the data order, noise and mixing.
        device: "cpu", "cuda" or "mps".
        ddp: wrap the model in DistributedDataParallel (the process group must be initialised).

    Example:
        >>> model = nn.Linear(3, 1, bias=False)  # outputs 0 on zeros: the first loss is (0 - 1)^2
        >>> trainer = Trainer(model, LoopConfig(), task="regression", steps_per_epoch=10)
        >>> loss = trainer.step(torch.zeros(8, 3), torch.ones(8))
        >>> float(loss), trainer.steps
        (1.0, 1)
    """

    def __init__(self, model: nn.Module, config: LoopConfig, *, task: str, n_classes: int = 1,
                 steps_per_epoch: int = 1, seed: int = 0, device: str = "cpu", ddp: bool = False) -> None:
        self.config, self.task, self.n_classes, self.device = config, task, n_classes, device
        self.reg: RegularizeConfig = config.regularize
        self.augment = config.augment if config.augment.active else None  # image augmentation of each batch
        if self.reg.cutmix_alpha > 0 and task == "regression":
            raise ConfigError("train.regularize.cutmix_alpha applies to image classification", path="train.regularize.cutmix_alpha")
        if config.gradient_checkpointing and (ddp or config.compile):
            raise ConfigError("train.gradient_checkpointing cannot be combined with train.compile or data-parallel "
                              "training (train.nproc > 1, torchrun) yet; turn one of them off",
                              path="train.gradient_checkpointing")
        self.module = model.to(device)
        net = torch.compile(self.module) if config.compile else self.module
        if ddp:
            net = nn.parallel.DistributedDataParallel(net)
        self.net = net
        self.optimizer = build_optimizer(self.module, config.optimizer)
        self.schedule = build_schedule(self.optimizer, config.schedule, steps_per_epoch=steps_per_epoch,
                                       epochs=config.epochs)
        self.autocast_dtype, use_scaler = _precision(config, device)
        self.scaler = torch.amp.GradScaler(device, enabled=use_scaler)
        self.generator = torch.Generator().manual_seed(seed + 7919)
        self.ema = EMA(self.module, self.reg.ema_decay) if self.reg.ema_decay > 0 else None
        self.swa = SWA(self.module) if self.reg.swa_start_epoch > 0 else None
        self.micro = 0          # micro-batches since the last optimizer step
        self.steps = 0          # optimizer steps taken
        self.swa_updates = 0

    # --- one step ---------------------------------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device if self.device != "mps" else "cpu", dtype=self.autocast_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.gradient_checkpointing and self.net.training and isinstance(self.module, nn.Sequential):
            from torch.utils.checkpoint import checkpoint_sequential

            return checkpoint_sequential(self.net, max(1, min(4, len(self.module))), x, use_reentrant=False)
        return self.net(x)

    def row_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row losses (batch,): cross-entropy (hard or soft targets) or squared error."""
        if self.task == "regression":
            return (out[:, 0].float() - y) ** 2
        if y.ndim == 2:  # soft targets from mixing
            return soft_cross_entropy(out.float(), y, self.reg.label_smoothing)
        return F.cross_entropy(out.float(), y, reduction="none", label_smoothing=self.reg.label_smoothing)

    def mean_loss(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        """The batch loss. Unweighted hard targets take torch's fused mean reduction (fewer ops per step)."""
        if weight is not None:
            return (self.row_losses(out, y) * weight).mean()
        if self.task == "regression":
            return F.mse_loss(out[:, 0].float(), y)
        if y.ndim == 1:
            return F.cross_entropy(out, y, label_smoothing=self.reg.label_smoothing)
        return self.row_losses(out, y).mean()

    def step(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Train on one micro-batch; every ``accumulate`` calls, step the optimizer. Returns the loss (detached)."""
        reg = self.reg
        if self.augment is not None:
            x = augment(x, self.augment, self.generator)
        if reg.input_noise > 0:
            x = add_input_noise(x, reg.input_noise, self.generator)
        if reg.mixup_alpha > 0 or reg.cutmix_alpha > 0:
            target = F.one_hot(y, self.n_classes).float() if self.task == "classification" else y
            x, y = (cutmix if reg.cutmix_alpha > 0 else mixup)(x, target, reg.cutmix_alpha or reg.mixup_alpha, self.generator)
        if reg.adversarial != "none":
            self.net.eval()  # attack the model as it predicts (dropout off), then train on clean + adversarial rows
            if reg.adversarial == "fgsm":
                x_adv = fgsm(self.net, self.row_losses, x, y, reg.adversarial_eps)
            else:
                x_adv = pgd(self.net, self.row_losses, x, y, reg.adversarial_eps, reg.pgd_step_size, reg.pgd_steps,
                            self.generator)
            self.net.train()
            x, y = torch.cat([x, x_adv]), torch.cat([y, y])
            weight = torch.cat([weight, weight]) if weight is not None else None
        with self._autocast():
            loss = self.mean_loss(self.forward(x), y, weight)
        if reg.l1 > 0 or reg.l2 > 0:
            loss = loss + penalty(self.module, reg.l1, reg.l2)
        # On CPU reading the loss costs nothing; on a GPU it would wait for the device every step,
        # so there a NaN is caught at the epoch's end (it spreads into the epoch loss).
        if self.device == "cpu" and not math.isfinite(loss.item()):
            raise self._diverged(loss)
        self.scaler.scale(loss / self.config.accumulate if self.config.accumulate > 1 else loss).backward()
        self.micro += 1
        if self.micro == self.config.accumulate:
            self._optimizer_step()
        return loss.detach()

    def _optimizer_step(self) -> None:
        cfg = self.config
        self.scaler.unscale_(self.optimizer)
        if cfg.clip_grad_norm:
            norm = nn.utils.clip_grad_norm_(self.module.parameters(), cfg.clip_grad_norm)
            if not torch.isfinite(norm):
                raise self._diverged(None)
        elif cfg.clip_grad_value:
            nn.utils.clip_grad_value_(self.module.parameters(), cfg.clip_grad_value)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step_batch()
        if self.ema is not None:
            self.ema.update(self.module)
        self.micro = 0
        self.steps += 1

    def _diverged(self, loss) -> TrainingDivergedError:
        worst_name, worst = "none", 0.0
        for name, p in self.module.named_parameters():
            if p.grad is not None:
                g = p.grad.detach().abs().max().item()
                if not math.isfinite(g) or g > worst:
                    worst_name, worst = name, g
                    if not math.isfinite(g):
                        break
        value = "n/a" if loss is None else f"{loss.item()}"
        return TrainingDivergedError(
            f"training diverged at optimizer step {self.steps}: loss {value}, largest gradient {worst} in "
            f"'{worst_name}'. Lower train.optimizer.lr, set train.clip_grad_norm (e.g. 1.0), or check the inputs "
            "for extreme values.")

    # --- evaluation and state -------------------------------------------------------------------
    def eval_module(self) -> nn.Module:
        """The weights to evaluate and keep: the EMA average when enabled."""
        if self.ema is None:
            return self.module
        if not hasattr(self, "_shadow"):
            self._shadow = copy.deepcopy(self.module)
        self.ema.copy_to(self._shadow)
        return self._shadow

    @torch.no_grad()
    def evaluate(self, X: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> dict[str, torch.Tensor]:
        """Sums over the rows: loss, and correct predictions (classification) or squared error."""
        module = self.eval_module()
        module.eval()
        loss = torch.zeros((), dtype=torch.float64, device=X.device)
        extra = torch.zeros((), dtype=torch.float64, device=X.device)
        for start in range(0, len(X), batch_size):
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            with self._autocast():
                out = module(xb)
            loss += self.row_losses(out, yb).double().sum()
            if self.task == "classification":
                extra += (out.argmax(dim=1) == yb).double().sum()
        return {"loss_sum": loss, "extra_sum": extra, "n": torch.tensor(float(len(X)), dtype=torch.float64, device=X.device)}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
                "ema": self.ema.state_dict() if self.ema else None, "swa": self.swa.state_dict() if self.swa else None,
                "generator": self.generator.get_state(), "micro": self.micro, "steps": self.steps,
                "swa_updates": self.swa_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.swa is not None:
            self.swa.load_state_dict(state["swa"])
        self.generator.set_state(state["generator"])
        self.micro, self.steps, self.swa_updates = state["micro"], state["steps"], state["swa_updates"]


def _world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce(*tensors: torch.Tensor) -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        for t in tensors:
            dist.all_reduce(t)


def resolve_batch_size(config: LoopConfig, n_rows: int) -> int:
    """'auto': training rows / 16, clipped to [32, 256]; never more than the rows."""
    size = int(min(256, max(32, n_rows // 16))) if config.batch_size == "auto" else int(config.batch_size)
    return max(1, min(size, n_rows))


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, X_valid: torch.Tensor | None = None,
        y_valid: torch.Tensor | None = None, *, config: LoopConfig, task: str, n_classes: int = 1,
        sample_weight: torch.Tensor | None = None, seed: int = 0, device: str = "cpu", deadline: float | None = None,
        callbacks: tuple[Callback, ...] = (), checkpoint_dir: Path | None = None, resume: bool = False,
        signature: dict[str, Any] | None = None, eval_batch_size: int = 4096) -> FitResult:
    """Train ``model`` in place on tensors already on ``device``; returns the history.

    On return the model holds the weights to keep: the best epoch's (early stopping with
    restore_best), the SWA average, or the EMA average. Inside an initialised process group the
    loop is data-parallel: each rank takes its share of every global batch and metrics are summed
    across ranks.

    Args:
        X, y: training rows (rows, features...) and targets (class indices or values); or X a
            ``DataLoader`` of (x, y[, weight]) batches for data that must stream (y is then None).
        X_valid, y_valid: validation rows for early stopping and metrics; or a ``DataLoader``.
        sample_weight: per-row weights of the training rows, mean 1.
        deadline: ``time.monotonic()`` value after which no new step starts (one process; under DDP no new
            epoch); an epoch cut short is marked ``cut_short`` in the history.
        checkpoint_dir: where checkpoints go; with ``resume`` the newest one is loaded first.
        signature: identifies the model (type, shapes); resuming a checkpoint of another model fails.
        eval_batch_size: validation rows per forward pass (a network over 256-token texts needs far fewer than
            a small MLP: 356 texts at once took a fine-tuning run to 4.8 GB).

    Raises:
        ConfigError: impossible settings (accumulation longer than an epoch, fp16 on CPU, ...).
        ArtifactError: the checkpoint to resume belongs to another model.
        TrainingDivergedError: loss or gradients became NaN/Inf.

    Example:
        >>> _ = torch.manual_seed(0); X = torch.randn(256, 2); y = (X[:, 0] > 0).long()
        >>> net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
        >>> config = LoopConfig(epochs=30, optimizer={"lr": 0.01})
        >>> result = fit(net, X[:192], y[:192], X[192:], y[192:], config=config, task="classification", n_classes=2)
        >>> result.history[result.best_epoch - 1]["validation_accuracy"] > 0.9
        True
    """
    from trainwright.training.checkpoint import load_latest, save_best

    rank, world = _world()
    source = LoaderBatches(X, seed, device) if isinstance(X, DataLoader) else \
        TensorBatches(X, y, sample_weight, resolve_batch_size(config, len(X)), seed, rank, world)
    batches = len(source)
    if config.accumulate > batches:
        raise ConfigError(f"train.accumulate={config.accumulate} is more than the {batches} mini-batches of an epoch; "
                          f"lower it or the batch size", path="train.accumulate")
    check_augment(config.augment, source.sample())
    check_inputs(config.regularize, source.sample())  # e.g. CutMix on inputs that are not images: fail before training
    trainer = Trainer(model, config, task=task, n_classes=n_classes, steps_per_epoch=math.ceil(batches / config.accumulate),
                      seed=seed, device=device, ddp=world > 1)
    early = EarlyStopping(config.early_stopping) if X_valid is not None and len(X_valid) > 0 else None
    cbs = [c for c in (early, *callbacks) if c is not None]
    state = TrainState(epochs=config.epochs, steps_per_epoch=math.ceil(batches / config.accumulate), is_main=rank == 0)
    result, best = FitResult(), None
    partial = torch.zeros(2, dtype=torch.float64, device=device)  # (loss sum, rows) of the epoch so far
    rows = 0  # rows of the epoch not yet added to partial[1] (a Python int: cheaper than a tensor op per step)
    if resume and checkpoint_dir is not None:
        ckpt = load_latest(Path(checkpoint_dir))
        if ckpt is not None:
            best, partial = _restore(ckpt, trainer, state, cbs, signature, partial)
            result.resumed_from_step = trainer.steps
    for cb in cbs:
        cb.on_fit_start(state)
    while state.epoch < config.epochs and not state.stop:
        cut = False  # the time budget ended this epoch before its last batch
        for cb in cbs:
            cb.on_epoch_start(state)
        trainer.net.train()
        for xb, yb, wb in source.epoch(state.epoch, skip=state.batch):
            loss = trainer.step(xb, yb, wb)
            partial[0].add_(loss, alpha=len(xb))  # a tensor sum: no device sync per step
            rows += len(xb)
            state.batch += 1
            if trainer.micro == 0:
                state.step = trainer.steps
                for cb in cbs:
                    cb.on_step_end(state)
                every = config.checkpoint.every_steps
                if every and checkpoint_dir is not None and config.checkpoint.enabled and trainer.steps % every == 0:
                    partial[1] += rows
                    rows = 0
                    _save(checkpoint_dir, trainer, state, cbs, best, signature, partial, rank)
                if deadline is not None and world == 1 and time.monotonic() > deadline:
                    # one process stops mid-epoch (processes of a DDP group stop together, at an epoch's end)
                    state.stop, state.stop_reason, cut = True, "time_budget", True
                    break
        if trainer.micro > 0:  # a partial accumulation at the end of the epoch still updates
            trainer._optimizer_step()
        state.epoch, state.batch, state.step = state.epoch + 1, 0, trainer.steps
        partial[1] += rows
        _all_reduce(partial)
        metrics = {"train_loss": float(partial[0] / partial[1])}
        if not math.isfinite(metrics["train_loss"]):
            raise trainer._diverged(None)
        partial, rows = torch.zeros(2, dtype=torch.float64, device=device), 0
        if early is not None:
            metrics.update(_validation_metrics(trainer, X_valid, y_valid, rank, world, task, eval_batch_size))
        state.metrics, state.lr = metrics, trainer.optimizer.param_groups[-1]["lr"]
        trainer.schedule.step_epoch(metrics.get("validation_loss", metrics["train_loss"]))
        if trainer.swa is not None and state.epoch >= config.regularize.swa_start_epoch:
            trainer.swa.update(trainer.module)
            trainer.swa_updates += 1
        state.history.append({"epoch": state.epoch, **metrics, "lr": state.lr, **({"cut_short": True} if cut else {})})
        for cb in cbs:
            cb.on_evaluate_end(state)
        for cb in cbs:
            cb.on_epoch_end(state)
        if early is not None and early.improved:
            best = {k: v.detach().clone() for k, v in trainer.eval_module().state_dict().items()}
            if checkpoint_dir is not None and config.checkpoint.enabled and rank == 0:
                save_best(Path(checkpoint_dir), best)
        if deadline is not None and time.monotonic() > deadline and not state.stop:
            state.stop, state.stop_reason = True, "time_budget"
        if checkpoint_dir is not None and config.checkpoint.enabled and not config.checkpoint.every_steps:
            _save(checkpoint_dir, trainer, state, cbs, best, signature, partial, rank)
    _finish(trainer, config, early, best, source)
    for cb in cbs:
        cb.on_fit_end(state)
    result.history, result.stopped_by = state.history, state.stop_reason or "completed"
    result.best_epoch = early.best_epoch if early is not None else state.epoch
    return result


def _validation_metrics(trainer: Trainer, Xv, yv, rank: int, world: int, task: str,
                        batch_size: int = 4096) -> dict[str, float]:
    if isinstance(Xv, DataLoader):  # a streaming validation set: its sampler shards it across ranks
        parts = [trainer.evaluate(xb.to(trainer.device), yb.to(trainer.device)) for xb, yb, *_ in Xv]
        sums = {k: sum(p[k] for p in parts) for k in ("loss_sum", "extra_sum", "n")}
    else:
        sums = trainer.evaluate(Xv[rank::world], yv[rank::world], batch_size)
    packed = torch.stack([sums["loss_sum"], sums["extra_sum"], sums["n"]])
    _all_reduce(packed)
    loss, extra, count = (float(v) for v in packed)
    if task == "classification":
        return {"validation_loss": loss / count, "validation_accuracy": extra / count}
    return {"validation_loss": loss / count, "validation_rmse": math.sqrt(loss / count)}


def _finish(trainer: Trainer, config: LoopConfig, early, best, source) -> None:
    if trainer.swa is not None and trainer.swa_updates > 0:
        trainer.swa.copy_to(trainer.module)
        X, batch_size = source.bn_rows()
        trainer.swa.bn_update(trainer.module, X, batch_size)
    elif early is not None and config.early_stopping.restore_best and best is not None:
        trainer.module.load_state_dict(best)
    elif trainer.ema is not None:
        trainer.ema.copy_to(trainer.module)
    trainer.module.eval()


def _save(directory, trainer: Trainer, state: TrainState, cbs, best, signature, partial, rank: int) -> None:
    if rank != 0:
        return
    from trainwright.training.checkpoint import save_checkpoint

    payload = {
        "trainer": trainer.state_dict(), "best": best, "signature": signature or {},
        "train_state": {"epoch": state.epoch, "batch": state.batch, "step": state.step, "history": state.history},
        "callbacks": [cb.state_dict() for cb in cbs], "partial": partial.cpu(),
        "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
    }
    save_checkpoint(Path(directory), payload, step=trainer.steps, keep_last=trainer.config.checkpoint.keep_last)


def _restore(ckpt, trainer: Trainer, state: TrainState, cbs, signature, partial):
    from trainwright.errors import ArtifactError

    if signature is not None and ckpt["signature"] != signature:
        raise ArtifactError(f"the checkpoint to resume is of another model ({ckpt['signature']}), not "
                            f"{signature}; resume with the recipe the run was started with")
    trainer.load_state_dict(ckpt["trainer"])
    s = ckpt["train_state"]
    state.epoch, state.batch, state.step, state.history = s["epoch"], s["batch"], s["step"], s["history"]
    for cb, cb_state in zip(cbs, ckpt["callbacks"]):
        cb.load_state_dict(cb_state)
    torch.set_rng_state(ckpt["rng"]["torch"])
    if ckpt["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    return ckpt["best"], ckpt["partial"].to(partial.device)
