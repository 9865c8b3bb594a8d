"""A multilayer perceptron for tabular rows, trained by trainwright's loop (``trainwright.training.loop``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from trainwright.models.base import Learner

__all__ = ["MLPConfig", "MLPLearner"]


class MLPConfig(BaseModel):
    """The network. How it trains (epochs, optimizer, schedule, regularization...) is the recipe's `train` section."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["mlp"] = "mlp"
    hidden_sizes: list[int] = Field(
        default_factory=lambda: [256, 256], min_length=1, description="Width of each hidden layer.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after each hidden layer.")
    norm: Literal["none", "batch", "layer"] = Field("none", description="Normalisation in each hidden block.")
    residual: bool = Field(False, description="Skip connections around blocks whose input and output widths match.")
    activation: Literal["relu", "gelu", "silu", "tanh"] = Field("relu", description="Activation of the hidden layers.")
    dropconnect: float = Field(0.0, ge=0, lt=1, description="DropConnect: drop weights (not activations) with this probability.")
    init: Literal["default", "xavier", "kaiming", "orthogonal"] = Field(
        "kaiming", description="Weight initialisation (biases start at 0).")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train.")


_D = MLPConfig()
_ARCH = ("hidden_sizes", "dropout", "norm", "residual", "activation", "dropconnect", "init")


class MLPLearner(Learner):
    """An MLP (PyTorch) trained by trainwright's loop; regression targets are standardised.

    Args:
        train: the loop settings (a ``LoopConfig``, a dict of its fields, or None for the defaults).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
        >>> MLPLearner(hidden_sizes=[8], train={"epochs": 2}).fit(X, y).predict_proba(X[:1]).shape
        (1, 2)
    """

    name = "mlp"
    requires = ("torch", "safetensors.torch")
    neural = True

    def __init__(
        self,
        task: str = "classification",
        hidden_sizes=tuple(_D.hidden_sizes),
        dropout: float = _D.dropout,
        norm: str = _D.norm,
        residual: bool = _D.residual,
        activation: str = _D.activation,
        dropconnect: float = _D.dropconnect,
        init: str = _D.init,
        device: str = _D.device,
        train: Any = None,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.norm = norm
        self.residual = residual
        self.activation = activation
        self.dropconnect = dropconnect
        self.init = init
        self.device = device
        self.train = train
        self.seed = seed

    def _n_out(self) -> int:
        return len(self.classes_) if self.task == "classification" else 1

    def loop_config(self):
        """The ``LoopConfig`` this learner trains with."""
        from trainwright.training.loop import LoopConfig

        cfg = self.train
        if cfg is None:
            return LoopConfig()
        if isinstance(cfg, BaseModel):
            cfg = cfg.model_dump(exclude={"time_budget"})
        return LoopConfig(**{k: v for k, v in dict(cfg).items() if k != "time_budget"})

    def _build_kwargs(self) -> dict[str, Any]:
        return {"n_in": self.n_features_in_, "hidden_sizes": list(self.hidden_sizes), "n_out": self._n_out(),
                **{k: getattr(self, k) for k in _ARCH if k != "hidden_sizes"}}

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        import torch

        from trainwright.models.neural.layers import build_mlp
        from trainwright.training.loop import fit, resolve_batch_size
        from trainwright.training.runtime import resolve_device

        cfg, device = self.loop_config(), resolve_device(self.device)
        if self.task == "regression":
            # Standardise the target so one learning rate suits every scale.
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
            y = (y - self.y_mean_) / self.y_std_
            valid = None if valid is None else (valid[0], (valid[1] - self.y_mean_) / self.y_std_)
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
        y_dtype = torch.long if self.task == "classification" else torch.float32
        on = "cpu" if cfg.nproc > 1 else device
        tensors = {"X": torch.as_tensor(X, dtype=torch.float32, device=on), "y": torch.as_tensor(y, dtype=y_dtype, device=on)}
        if valid is not None:
            tensors.update(X_valid=torch.as_tensor(valid[0], dtype=torch.float32, device=on),
                           y_valid=torch.as_tensor(valid[1], dtype=y_dtype, device=on))
        if sample_weight is not None:
            tensors["sample_weight"] = torch.as_tensor(sample_weight / sample_weight.mean(), dtype=torch.float32, device=on)
        self.batch_size_ = resolve_batch_size(cfg, len(X))
        if cfg.optimizer.lr == "auto":
            cfg = self._find_lr(cfg, tensors)
        options = getattr(self, "_fit_options", {})
        fit_kwargs = {"config": cfg, "task": self.task, "n_classes": self._n_out(), "seed": self.seed,
                      "deadline": deadline, "checkpoint_dir": options.get("checkpoint_dir"),
                      "resume": options.get("resume", False), "callbacks": tuple(options.get("callbacks", ())),
                      "signature": {"type": "mlp", **self._build_kwargs()}}
        if cfg.nproc > 1:
            from trainwright.training.distributed import spawn_fit

            state, result = spawn_fit(cfg.nproc, ("trainwright.models.neural.layers:build_mlp", self._build_kwargs()),
                                      tensors, fit_kwargs, device)
            self.net_ = build_mlp(**self._build_kwargs())
            self.net_.load_state_dict(state)
        else:
            torch.manual_seed(self.seed)
            self.net_ = build_mlp(**self._build_kwargs()).to(device)
            result = fit(self.net_, tensors["X"], tensors["y"], tensors.get("X_valid"), tensors.get("y_valid"),
                         sample_weight=tensors.get("sample_weight"), device=device, **fit_kwargs)
        self.history_, self.best_iteration_, self.stopped_by_ = result.history, result.best_epoch, result.stopped_by
        self.resumed_from_step_ = result.resumed_from_step
        self.net_ = self.net_.cpu().eval()

    def find_lr(self, X, y):
        """Smith's LR range test for this network and optimizer on rows ``X`` and targets ``y``.

        Returns:
            LRFinderResult: rates, smoothed losses, the suggestion (``.to_svg()`` plots them).
        """
        import torch

        from trainwright.models.base import _as_matrix
        from trainwright.training.loop import resolve_batch_size

        X, y = _as_matrix(X), np.asarray(y)
        self.n_features_in_ = X.shape[1]
        if self.task == "classification":
            self.classes_, codes = np.unique(y, return_inverse=True)
            target = torch.as_tensor(codes, dtype=torch.long)
        else:
            values = y.astype(np.float64)
            target = torch.as_tensor((values - values.mean()) / (values.std() or 1.0), dtype=torch.float32)
        cfg = self.loop_config()
        return self._range_test(cfg, torch.as_tensor(X), target, resolve_batch_size(cfg, len(X)))

    def _range_test(self, cfg, X, y, batch_size: int):
        import torch

        from trainwright.models.neural.layers import build_mlp
        from trainwright.training.lr_finder import find_lr

        torch.manual_seed(self.seed)
        probe = build_mlp(**self._build_kwargs())
        if self.task == "classification":
            loss_fn = torch.nn.functional.cross_entropy
        else:
            loss_fn = lambda out, t: torch.nn.functional.mse_loss(out[:, 0], t)  # noqa: E731
        optimizer = cfg.optimizer.model_copy(update={"lr": 1e-3})
        return find_lr(probe, loss_fn, X, y, optimizer=optimizer, batch_size=batch_size, seed=self.seed)

    def _find_lr(self, cfg, tensors):
        """Resolve lr='auto' with the LR range test on the training rows; record the choice."""
        result = self._range_test(cfg, tensors["X"].cpu(), tensors["y"].cpu(), self.batch_size_)
        self.lr_found_ = {"lr": result.suggestion, "reason": result.reason}
        return cfg.model_copy(update={"optimizer": cfg.optimizer.model_copy(update={"lr": result.suggestion})})

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

        from trainwright.models.neural.layers import build_mlp

        self.y_mean_, self.y_std_, self.batch_size_ = extra["y_mean"], extra["y_std"], extra["batch_size"]
        self.net_ = build_mlp(**self._build_kwargs())
        self.net_.load_state_dict(load_file(str(directory / extra["weights_file"])))
        self.net_.eval()
