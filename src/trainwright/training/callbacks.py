"""Callbacks observe the loop through six events and may ask it to stop.

Events: ``on_fit_start``, ``on_epoch_start``, ``on_step_end``,
``on_evaluate_end``, ``on_epoch_end``, ``on_fit_end``. A callback reads the
``TrainState`` (and the metrics of the epoch); it never reaches into the loop.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainwright.runs import store

__all__ = ["TrainState", "Callback", "EarlyStopping", "EarlyStoppingConfig", "JsonlLogger", "ConsoleProgress",
           "TensorBoardLogger", "MLflowLogger", "overfitting_point"]


@dataclass
class TrainState:
    """What callbacks may read. ``stop`` and ``stop_reason`` are what they may write.

    Example:
        >>> state = TrainState(epochs=10)
        >>> state.stop, state.stop_reason = True, "enough"
        >>> state.epoch, state.stop
        (0, True)
    """

    epoch: int = 0                 # epochs finished
    step: int = 0                  # optimizer steps taken
    batch: int = 0                 # mini-batches of the current epoch already done
    epochs: int = 0                # planned epochs
    steps_per_epoch: int = 0
    lr: float = 0.0
    last_loss: float = float("nan")
    metrics: dict[str, float] = field(default_factory=dict)   # the epoch's train/validation metrics
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    stop_reason: str = ""
    is_main: bool = True           # rank 0 in data-parallel training: the only one that writes


class Callback:
    """Abstract: override the events you need. ``state_dict``/``load_state_dict`` make resume exact.

    Example:
        >>> class StopAtTwo(Callback):
        ...     def on_epoch_end(self, state):
        ...         if state.epoch >= 2:
        ...             state.stop, state.stop_reason = True, "two epochs are enough"
        >>> state = TrainState(epoch=2)
        >>> StopAtTwo().on_epoch_end(state); state.stop_reason
        'two epochs are enough'
    """

    def on_fit_start(self, state: TrainState) -> None: ...
    def on_epoch_start(self, state: TrainState) -> None: ...
    def on_step_end(self, state: TrainState) -> None: ...
    def on_evaluate_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_fit_end(self, state: TrainState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EarlyStoppingConfig(BaseModel):
    """When training stops because validation stopped improving (``train.early_stopping``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    monitor: str = Field("validation_loss", description="Metric watched: validation_loss, or validation_<metric> "
                                                        "(e.g. validation_accuracy, validation_rmse).")
    mode: Literal["auto", "min", "max"] = Field("auto", description="Whether lower or higher is better; 'auto' "
                                                "reads it from the name (loss, rmse, mae: lower).")
    patience: int = Field(20, ge=1, description="Epochs without improvement before training stops.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")
    restore_best: bool = Field(True, description="End with the weights of the best epoch.")


class EarlyStopping(Callback):
    """Stops when ``monitor`` has not improved for ``patience`` epochs and remembers the best epoch."""

    def __init__(self, config: EarlyStoppingConfig) -> None:
        self.config = config
        name = config.monitor
        lower = any(k in name for k in ("loss", "rmse", "mae", "mse", "error"))
        self.sign = {"min": 1.0, "max": -1.0}.get(config.mode, 1.0 if lower else -1.0)
        self.best = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.improved = False

    def on_epoch_end(self, state: TrainState) -> None:
        value = state.metrics.get(self.config.monitor)
        if value is None:
            from trainwright.errors import ConfigError

            raise ConfigError(f"train.early_stopping.monitor '{self.config.monitor}' is not a metric of this run; "
                              f"known: {', '.join(sorted(state.metrics))}", path="train.early_stopping.monitor")
        score = self.sign * value
        self.improved = score < self.best - self.config.min_delta
        if self.improved:
            self.best, self.best_epoch, self.bad_epochs = score, state.epoch, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.config.patience:
                state.stop, state.stop_reason = True, "early_stopping"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]


def overfitting_point(history: list[dict[str, Any]], monitor: str = "validation_loss") -> int | None:
    """The epoch (or boosting iteration) after which the validation loss stopped improving while the
    training loss kept falling, or None when that did not happen (for the report's learning curves)."""
    valid = [h.get(monitor) for h in history]
    if not history or any(v is None for v in valid):
        return None
    best = min(range(len(valid)), key=valid.__getitem__)
    after = history[best + 1:]
    if after and after[-1]["train_loss"] < history[best]["train_loss"]:
        return history[best].get("epoch", history[best].get("iteration"))
    return None


class JsonlLogger(Callback):
    """Appends one JSON line per epoch to a file (the run's ``history.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_fit_start(self, state: TrainState) -> None:
        # A resumed fit rewrites the epochs it restored, so no epoch is listed twice.
        if state.is_main:
            store.write_text(self.path, "".join(json.dumps(h) + "\n" for h in state.history))

    def on_epoch_end(self, state: TrainState) -> None:
        if state.is_main:
            store.append_text(self.path, json.dumps(state.history[-1]) + "\n")


class ConsoleProgress(Callback):
    """A rich progress bar over epochs with the latest losses."""

    def __init__(self, description: str = "training") -> None:
        self.description = description
        self.progress = None

    def on_fit_start(self, state: TrainState) -> None:
        if not state.is_main:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), transient=True)
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=state.epochs, completed=state.epoch, info="")

    def on_epoch_end(self, state: TrainState) -> None:
        if self.progress is not None:
            info = " ".join(f"{k}={v:.4g}" for k, v in state.metrics.items() if k.endswith("loss"))
            self.progress.update(self.task, completed=state.epoch, info=info)

    def on_fit_end(self, state: TrainState) -> None:
        if self.progress is not None:
            self.progress.stop()


class TensorBoardLogger(Callback):
    """Scalars per epoch to TensorBoard (needs the `tensorboard` package: pip install trainwright[logging])."""

    def __init__(self, log_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            from trainwright.errors import ConfigError

            raise ConfigError("train.log.tensorboard needs the tensorboard package: pip install tensorboard",
                              path="train.log.tensorboard") from exc
        self.writer = SummaryWriter(str(log_dir))

    def on_epoch_end(self, state: TrainState) -> None:
        if state.is_main:
            for key, value in state.metrics.items():
                self.writer.add_scalar(key, value, state.epoch)
            self.writer.add_scalar("lr", state.lr, state.epoch)

    def on_fit_end(self, state: TrainState) -> None:
        self.writer.close()


class MLflowLogger(Callback):
    """Metrics per epoch to MLflow (needs `mlflow`: pip install trainwright[logging]).

    Args:
        store: the tracking URI used when MLflow has none configured (``MLFLOW_TRACKING_URI`` unset); the
            pipeline passes a file store inside the run directory, which works offline and with mlflow-skinny
            (whose own default, a SQLite database, needs the full mlflow package).

    Raises:
        ConfigError: mlflow is missing, or its tracking target cannot be used (the message says why and
            which setting or variable to change).
    """

    def __init__(self, store: str | None = None) -> None:
        import os

        from trainwright.errors import ConfigError

        try:
            import mlflow
        except ImportError as exc:
            raise ConfigError("train.log.mlflow needs the mlflow package: pip install mlflow-skinny "
                              "(or trainwright[logging])", path="train.log.mlflow") from exc
        self.mlflow = mlflow
        if store is not None and not os.environ.get("MLFLOW_TRACKING_URI"):
            # A file store works offline and with mlflow-skinny; MLflow 3 asks for this variable to use one.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri(store)
        self.uri = mlflow.get_tracking_uri()

    def on_fit_start(self, state: TrainState) -> None:
        if state.is_main:
            self._call(lambda: self.mlflow.start_run() if self.mlflow.active_run() is None else None)

    def on_epoch_end(self, state: TrainState) -> None:
        if state.is_main:
            self._call(lambda: self.mlflow.log_metrics({**state.metrics, "lr": state.lr}, step=state.epoch))

    def on_fit_end(self, state: TrainState) -> None:
        if state.is_main:
            self._call(self.mlflow.end_run)

    def _call(self, action) -> None:
        from trainwright.errors import ConfigError

        try:
            action()
        except Exception as exc:  # noqa: BLE001 - any tracking failure is a setting to fix, not a crash
            raise ConfigError(f"train.log.mlflow: MLflow cannot log to {self.uri!r} ({type(exc).__name__}: "
                              f"{str(exc).strip()[:200]}). Point MLFLOW_TRACKING_URI at a store you can reach "
                              "(e.g. file:./mlruns), or set train.log.mlflow=false", path="train.log.mlflow") from None
