"""Weight averaging: an exponential moving average (EMA) and stochastic weight averaging (SWA).

Both keep their state in plain tensors and numbers, so a resumed run continues them exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from trainwright.errors import ArtifactError, ConfigError

_PATH = "train.regularize"

__all__ = ["EMA", "SWA"]


def _named_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, as ``state_dict`` names them."""
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def _check_names(kind: str, have: dict, model_names) -> None:
    missing, extra = sorted(set(model_names) - set(have)), sorted(set(have) - set(model_names))
    if missing or extra:
        raise ArtifactError(f"the {kind} weights do not fit this model (missing {missing[:5]}, unexpected "
                            f"{extra[:5]}); it was made for a different architecture")


class _Average:
    """Shared part of EMA and SWA: a copy of every parameter and buffer, copied back on demand."""

    def __init__(self, model: nn.Module) -> None:
        self.average = {k: v.detach().clone() for k, v in _named_tensors(model).items()}
        self.param_names = [k for k, _ in model.named_parameters()]

    def _pairs(self, model: nn.Module, names) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        tensors = _named_tensors(model)
        _check_names(type(self).__name__, self.average, tensors)
        return [self.average[k] for k in names], [tensors[k].detach() for k in names]

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Overwrite the model's parameters and buffers with the averaged ones."""
        tensors = _named_tensors(model)
        _check_names(type(self).__name__, self.average, tensors)
        for name, t in tensors.items():
            t.copy_(self.average[name])

    def _copy(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.average.items()}

    @torch.no_grad()
    def _load_average(self, average: dict) -> None:
        _check_names(type(self).__name__, self.average, average)
        for name, t in average.items():
            self.average[name].copy_(t)  # keeps this object's device and dtype


class EMA(_Average):
    """Exponential moving average of the weights: ``avg = decay * avg + (1 - decay) * w`` after each step.

    Floating-point parameters and buffers are averaged; integer buffers (BatchNorm's batch
    counter) follow the model. Evaluate with ``copy_to`` on a copy of the model (or save the
    training weights first and load them back after).

    Args:
        model: the network whose current weights start the average.
        decay: in (0, 1), e.g. 0.999; closer to 1 averages over more steps.

    Raises:
        ConfigError: ``decay`` outside (0, 1).

    Example:
        >>> net = nn.Linear(2, 1); ema = EMA(net, 0.9)
        >>> _ = net.weight.data.add_(1.0); ema.update(net); ema.num_updates
        1
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ConfigError(f"{_PATH}.ema_decay must be in (0, 1), got {decay}", path=f"{_PATH}.ema_decay")
        super().__init__(model)
        self.decay = float(decay)
        self.num_updates = 0
        self._float_names = [k for k, v in self.average.items() if torch.is_floating_point(v)]
        self._other_names = [k for k in self.average if not torch.is_floating_point(self.average[k])]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average toward the model's current weights; call after each optimizer step."""
        avg, cur = self._pairs(model, self._float_names)
        if avg:
            torch._foreach_lerp_(avg, cur, 1.0 - self.decay)  # avg += (1 - decay) * (cur - avg)
        for a, c in zip(*self._pairs(model, self._other_names)):
            a.copy_(c)
        self.num_updates += 1

    def state_dict(self) -> dict:
        """``{"decay", "num_updates", "average": {name: tensor}}`` for an exact resume."""
        return {"decay": self.decay, "num_updates": self.num_updates, "average": self._copy()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned.

        Raises:
            ArtifactError: the saved average belongs to a different architecture.
        """
        self._load_average(state["average"])
        self.decay, self.num_updates = float(state["decay"]), int(state["num_updates"])


class SWA(_Average):
    """Stochastic weight averaging (Izmailov et al. 2018): the equal-weight mean of the weights at epoch ends.

    Parameters are averaged; buffers follow the latest snapshot until ``bn_update`` recomputes
    the BatchNorm statistics for the averaged weights.

    Args:
        model: the network; the average starts empty and takes its first snapshot at ``update``.

    Example:
        >>> net = nn.Linear(1, 1); swa = SWA(net)
        >>> for v in (1.0, 3.0):
        ...     _ = net.weight.data.fill_(v); swa.update(net)
        >>> swa.copy_to(net); net.weight.item()
        2.0
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.n_averaged = 0
        params = set(self.param_names)
        self._buffer_names = [k for k in self.average if k not in params]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Add the model's current weights to the mean; call once per epoch end from the start epoch on."""
        self.n_averaged += 1
        avg, cur = self._pairs(model, self.param_names)
        if avg:
            torch._foreach_lerp_(avg, cur, 1.0 / self.n_averaged)  # running mean: avg += (cur - avg) / n
        for a, c in zip(*self._pairs(model, self._buffer_names)):
            a.copy_(c)

    @torch.no_grad()
    def bn_update(self, model: nn.Module, X: torch.Tensor, batch_size: int) -> None:
        """Load the averaged weights into ``model`` and recompute its BatchNorm statistics on ``X``.

        The statistics are the equal-weight mean over batches of ``X`` (on the model's device);
        only BatchNorm layers run in train mode, so dropout adds no noise. The new statistics are
        kept in the average too. Without BatchNorm layers this only copies the weights.

        Args:
            model: the network to receive the average.
            X: training inputs (rows, ...).
            batch_size: rows per forward pass.
        """
        self.copy_to(model)
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        modes = {m: m.training for m in model.modules()}
        momenta = {m: m.momentum for m in norms}
        model.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
            m.train()
        try:
            for start in range(0, len(X), batch_size):
                xb = X[start:start + batch_size]
                if len(xb) > 1 or start == 0:  # a trailing single row cannot give batch statistics
                    model(xb)
        finally:
            for m, mode in modes.items():
                m.train(mode)
            for m, momentum in momenta.items():
                m.momentum = momentum
        for name, t in model.named_buffers():
            self.average[name].copy_(t)

    def state_dict(self) -> dict:
        """``{"n_averaged", "average": {name: tensor}}`` for an exact resume."""
        return {"n_averaged": self.n_averaged, "average": self._copy()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned.

        Raises:
            ArtifactError: the saved average belongs to a different architecture.
        """
        self._load_average(state["average"])
        self.n_averaged = int(state["n_averaged"])
