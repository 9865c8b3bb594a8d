"""A multilayer perceptron for tabular rows, trained by trainwright's own loop."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from trainwright.models.base import Learner

__all__ = ["MLPConfig", "MLPLearner", "build_mlp"]


class MLPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["mlp"] = "mlp"
    hidden_sizes: list[int] = Field(
        default_factory=lambda: [256, 256], min_length=1, description="Width of each hidden layer."
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after each hidden layer.")
    epochs: int = Field(300, ge=1, description="Most passes over the training rows.")
    batch_size: Union[int, Literal["auto"]] = Field(
        "auto",
        description="Rows per mini-batch. 'auto': training rows / 16, between 32 and 256, so small data still gets several steps per epoch.",
    )
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate.")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay (not applied to biases).")
    patience: int = Field(20, ge=1, description="Epochs without validation improvement before stopping.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train.")


_D = MLPConfig()


def auto_batch_size(n_rows: int) -> int:
    """Training rows / 16, clipped to [32, 256]."""
    return int(min(256, max(32, n_rows // 16)))


def build_mlp(n_in: int, hidden_sizes, n_out: int, dropout: float):
    """Linear -> ReLU -> Dropout blocks, then a linear head. Returns an ``nn.Sequential``."""
    from torch import nn

    layers, width = [], n_in
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class MLPLearner(Learner):
    """An MLP (PyTorch) with AdamW and early stopping; regression targets are standardised.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
        >>> MLPLearner(epochs=2, hidden_sizes=[8]).fit(X, y).predict_proba(X[:1]).shape
        (1, 2)
    """

    name = "mlp"
    requires = ("torch", "safetensors.torch")

    def __init__(
        self,
        task: str = "classification",
        hidden_sizes=tuple(_D.hidden_sizes),
        dropout: float = _D.dropout,
        epochs: int = _D.epochs,
        batch_size=_D.batch_size,
        lr: float = _D.lr,
        weight_decay: float = _D.weight_decay,
        patience: int = _D.patience,
        device: str = _D.device,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.device = device
        self.seed = seed

    def _n_out(self) -> int:
        return len(self.classes_) if self.task == "classification" else 1

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        import torch

        from trainwright.training.loop import fit_tensors
        from trainwright.training.runtime import resolve_device

        device = resolve_device(self.device)
        torch.manual_seed(self.seed)
        self.net_ = build_mlp(X.shape[1], self.hidden_sizes, self._n_out(), self.dropout).to(device)
        # Losses per row, shape (batch,): the loop weights and averages them.
        if self.task == "classification":
            loss_fn, y_dtype = (lambda out, t: torch.nn.functional.cross_entropy(out, t, reduction="none")), torch.long
            self.y_mean_, self.y_std_ = 0.0, 1.0
        else:
            # Standardise the target so one learning rate suits every scale: (batch, 1) outputs.
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
            y = (y - self.y_mean_) / self.y_std_
            if valid is not None:
                valid = (valid[0], (valid[1] - self.y_mean_) / self.y_std_)
            loss_fn, y_dtype = (lambda out, t: (out[:, 0] - t) ** 2), torch.float32

        def tensors(a, b):
            return (torch.as_tensor(a, dtype=torch.float32, device=device),
                    torch.as_tensor(b, dtype=y_dtype, device=device))

        Xt, yt = tensors(X, y)
        self.batch_size_ = min(len(Xt), auto_batch_size(len(Xt)) if self.batch_size == "auto" else int(self.batch_size))
        Xv, yv = tensors(*valid) if valid is not None else (None, None)
        weights = None if sample_weight is None else \
            torch.as_tensor(sample_weight / sample_weight.mean(), dtype=torch.float32, device=device)
        result = fit_tensors(
            self.net_, loss_fn, Xt, yt, Xv, yv, sample_weight=weights, epochs=self.epochs,
            batch_size=self.batch_size_, lr=self.lr, weight_decay=self.weight_decay,
            patience=self.patience, seed=self.seed, deadline=deadline,
        )
        self.history_, self.best_iteration_, self.stopped_by_ = result.history, result.best_epoch, result.stopped_by
        self.net_ = self.net_.cpu()

    def _predict_raw(self, X) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = torch.cat([self.net_(torch.from_numpy(X[i:i + 8192])) for i in range(0, len(X), 8192)]) \
                if len(X) else torch.zeros((0, self._n_out()))
            if self.task == "classification":
                return torch.softmax(out.double(), dim=1).numpy()
            return out[:, 0].double().numpy() * self.y_std_ + self.y_mean_

    def _save_state(self, directory: Path) -> dict:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.net_.state_dict().items()}, str(directory / "weights.safetensors"))
        return {"weights_file": "weights.safetensors", "y_mean": self.y_mean_, "y_std": self.y_std_,
                "batch_size": self.batch_size_}

    def _load_state(self, directory: Path, extra: dict) -> None:
        from safetensors.torch import load_file

        self.y_mean_, self.y_std_, self.batch_size_ = extra["y_mean"], extra["y_std"], extra["batch_size"]
        self.net_ = build_mlp(self.n_features_in_, self.hidden_sizes, self._n_out(), self.dropout)
        self.net_.load_state_dict(load_file(str(directory / extra["weights_file"])))
        self.net_.eval()
