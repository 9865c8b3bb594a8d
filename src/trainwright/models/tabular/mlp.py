"""A multilayer perceptron for tabular rows, trained by trainwright's loop (``trainwright.training.loop``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from trainwright.config.base import Section
from trainwright.models.base import Capabilities
from trainwright.models.neural.learner import NeuralLearner
from trainwright.models.registry import register_learner

__all__ = ["MLPConfig", "MLPLearner"]


class MLPConfig(Section):
    """The network. How it trains (epochs, optimizer, schedule, regularization...) is the recipe's `train` section."""

    type: Literal["mlp"] = "mlp"
    hidden_sizes: list[PositiveInt] = Field(
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


@register_learner(MLPConfig)
class MLPLearner(NeuralLearner):
    """An MLP (PyTorch) trained by trainwright's loop; regression targets are standardised.

    Args:
        train: the loop settings (a ``LoopConfig``, a dict of its fields, or None for the defaults).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
        >>> MLPLearner(hidden_sizes=[8], train={"epochs": 2}).fit(X, y).predict_proba(X[:1]).shape
        (1, 2)
    """

    capabilities = Capabilities(explanation="integrated_gradients", iteration="epoch", learning_curve=True,
                                uses_loop=True, reports_iterations=True, parameters="weights and biases")
    search_space = {
        "train.optimizer.lr": {"type": "log", "low": 1e-4, "high": 1e-2},
        "train.optimizer.weight_decay": {"type": "log", "low": 1e-6, "high": 1e-1},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "model.hidden_sizes": {"type": "categorical", "choices": [[64], [128, 128], [256, 256], [512, 256, 128]]},
        "model.norm": {"type": "categorical", "choices": ["none", "batch", "layer"]},
        "train.batch_size": {"type": "categorical", "choices": [64, 128, 256, 512]},
    }
    builder = "trainwright.models.neural.layers:build_mlp"

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

    def _build_kwargs(self) -> dict[str, Any]:
        return {"n_in": self.n_features_in_, "hidden_sizes": list(self.hidden_sizes), "n_out": self._n_out(),
                **{k: getattr(self, k) for k in _ARCH if k != "hidden_sizes"}}

