"""The minimal training loop: in-memory tensor batches by index, AdamW, early stopping.

It reads top to bottom: shuffle an index, slice a batch, forward, loss,
backward, step; evaluate; keep the best weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["FitResult", "fit_tensors", "param_groups"]


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_by: str = "completed"


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices only; never on biases or norm parameters."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def _mean_loss(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for start in range(0, len(X), batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        total += loss_fn(model(xb), yb).double().sum()
    return float(total / len(X))


def fit_tensors(
    model: nn.Module,
    loss_fn,
    X: torch.Tensor,
    y: torch.Tensor,
    X_valid: torch.Tensor | None = None,
    y_valid: torch.Tensor | None = None,
    *,
    sample_weight: torch.Tensor | None = None,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    patience: int,
    seed: int,
    deadline: float | None = None,
) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    Args:
        X, y: training tensors on the model's device; X is (rows, features).
        loss_fn: ``loss_fn(output, target)`` -> per-row losses, shape (batch,).
        X_valid, y_valid: validation tensors; without them the last epoch is kept.
        sample_weight: per-row weights of the training rows, mean 1 (None: all 1).
        patience: epochs without validation improvement before stopping.
        deadline: ``time.monotonic()`` value after which no new epoch starts.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr)
    result = FitResult()
    best_loss, best_state, bad_epochs = float("inf"), None, 0
    n = len(X)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator).to(X.device)
        total = torch.zeros((), dtype=torch.float64, device=X.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb, yb = X[idx], y[idx]
            losses = loss_fn(model(xb), yb)  # (batch,)
            loss = (losses * sample_weight[idx]).mean() if sample_weight is not None else losses.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * len(idx)
        entry = {"epoch": epoch, "train_loss": float(total / n), "lr": lr}
        if X_valid is not None:
            entry["validation_loss"] = _mean_loss(model, loss_fn, X_valid, y_valid, 4096)
        result.history.append(entry)
        score = entry.get("validation_loss", entry["train_loss"])
        if score < best_loss - 1e-7:
            best_loss, bad_epochs, result.best_epoch = score, 0, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        if X_valid is not None and bad_epochs >= patience:
            result.stopped_by = "early_stopping"
            break
        if deadline is not None and time.monotonic() > deadline:
            result.stopped_by = "time_budget"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result
