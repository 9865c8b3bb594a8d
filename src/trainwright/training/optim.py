"""Optimizers: one config per family, one registry, parameter groups, AdaBelief and Lookahead.

Every optimizer is built from the model's parameter groups (``param_groups``):
weight decay only on weight matrices and kernels (never on biases or
normalisation parameters), and optionally discriminative learning rates that
shrink layer by layer from the output back to the input.

Example:
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> opt = build_optimizer(model, optimizer_config(type="adabelief", lookahead=True))
    >>> type(opt).__name__, type(opt.optimizer).__name__
    ('Lookahead', 'AdaBelief')
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import torch

from trainwright.errors import ConfigError
from trainwright.registry import Registry
from trainwright.training.config import (
    AdagradConfig,
    AdamConfig,
    OptimizerConfig,
    RMSpropConfig,
    SGDConfig,
    optimizer_config,
)

__all__ = ["OptimizerConfig", "optimizer_config", "OPTIMIZERS", "param_groups", "build_optimizer", "AdaBelief",
           "Lookahead"]


def param_groups(model: torch.nn.Module, *, lr: float, weight_decay: float,
                 layer_lr_decay: float = 1.0) -> list[dict]:
    """Split a model's trainable parameters into optimizer groups.

    Layer groups are the model's top-level children in order (``model.children()``)
    that hold trainable parameters; the last gets ``lr``, the one before
    ``lr * layer_lr_decay`` and so on. Parameters held by the model itself (not by
    a child) get ``lr``. Within a layer group, parameters with ``ndim < 2``
    (biases, normalisation scales and shifts) get weight decay 0. A parameter
    shared by two children belongs to the first. Empty groups are left out.

    Args:
        model: the network.
        lr: learning rate of the last layer group.
        weight_decay: decay of parameters with two or more dimensions.
        layer_lr_decay: factor between consecutive layer groups, in (0, 1].

    Returns:
        Dicts with ``params``, ``lr``, ``weight_decay`` and ``name``
        (``"<child>.decay"`` or ``"<child>.no_decay"``).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        >>> [(g["name"], g["lr"]) for g in param_groups(net, lr=1.0, weight_decay=0.1, layer_lr_decay=0.5)]
        [('0.decay', 0.5), ('0.no_decay', 0.5), ('2.decay', 1.0), ('2.no_decay', 1.0)]
    """
    seen: set[int] = set()

    def trainable(params) -> list[torch.nn.Parameter]:
        out = [p for p in params if p.requires_grad and id(p) not in seen]
        seen.update(id(p) for p in out)
        return out

    layers = [(name, trainable(child.parameters())) for name, child in model.named_children()]
    layers = [(name, params) for name, params in layers if params]
    # (name, params, exponent of layer_lr_decay): the last child gets lr, earlier ones less.
    layers = [(name, params, len(layers) - 1 - i) for i, (name, params) in enumerate(layers)]
    own = trainable(model.parameters(recurse=False))
    if own:  # the model's own parameters, or the model itself when it has no children
        layers.append(("<root>" if layers else "model", own, 0))
    groups = []
    for name, params, exponent in layers:
        layer_lr = lr * layer_lr_decay ** exponent
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        for suffix, members, wd in (("decay", decay, weight_decay), ("no_decay", no_decay, 0.0)):
            if members:
                groups.append({"params": members, "lr": layer_lr, "weight_decay": wd, "name": f"{name}.{suffix}"})
    return groups


def merge_groups(groups: list[dict]) -> list[dict]:
    """Join groups with the same (lr, weight_decay): optimizers pay a fixed cost per group and step
    (profiled at about 4-8 us per group and step for AdamW on CPU), and without discriminative rates the layers
    all share two settings.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        >>> [g["name"] for g in merge_groups(param_groups(net, lr=1.0, weight_decay=0.1))]
        ['decay', 'no_decay']
    """
    merged: dict[tuple[float, float], dict] = {}
    for g in groups:
        key = (g["lr"], g["weight_decay"])
        if key in merged:
            merged[key]["params"] = merged[key]["params"] + g["params"]
        else:
            merged[key] = {**g, "name": g["name"].rsplit(".", 1)[-1]}
    return list(merged.values())


def build_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """Build the optimizer a config asks for, over ``param_groups(model, ...)``.

    Args:
        model: the network to optimise.
        config: the optimizer section of a recipe.

    Returns:
        A torch optimizer, wrapped in ``Lookahead`` when ``config.lookahead``.

    Raises:
        ConfigError: ``config.type`` is not a registered optimizer (the message lists the known ones).
        ValueError: the model has no trainable parameters.

    Example:
        >>> net = torch.nn.Linear(3, 1)
        >>> build_optimizer(net, optimizer_config(type="sgd", lr=0.1)).param_groups[0]["lr"]
        0.1
    """
    builder = OPTIMIZERS.get(config.type)
    if config.lr == "auto":
        raise ConfigError("train.optimizer.lr=auto must be resolved by the LR finder before the optimizer is "
                          "built (trainwright.training.lr_finder.find_lr)", path="train.optimizer.lr")
    groups = merge_groups(param_groups(model, lr=config.lr, weight_decay=config.weight_decay,
                                       layer_lr_decay=config.layer_lr_decay))
    if not groups:
        raise ValueError(f"{type(model).__name__} has no trainable parameters to optimise")
    optimizer = builder(groups, config)
    if config.lookahead:
        optimizer = Lookahead(optimizer, k=config.lookahead_k, alpha=config.lookahead_alpha)
    return optimizer


class AdaBelief(torch.optim.Optimizer):
    """AdaBelief (Zhuang et al., NeurIPS 2020): Adam that scales steps by the belief in the gradient.

    Per parameter, at step ``t`` with gradient ``g``::

        theta <- theta * (1 - lr * weight_decay)            # decoupled decay
        m <- beta1 * m + (1 - beta1) * g
        s <- beta2 * s + (1 - beta2) * (g - m)**2 + eps      # variance of g around m
        theta <- theta - lr * (m / (1 - beta1**t)) / (sqrt(s / (1 - beta2**t)) + eps)

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate.
        betas: decay rates of ``m`` and ``s``.
        eps: added to ``s`` each step and to the denominator.
        weight_decay: decoupled weight decay (as AdamW).

    Raises:
        ValueError: a hyper-parameter is out of range, or a gradient is sparse.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = AdaBelief([w], lr=0.1)
        >>> w.grad = torch.tensor([0.5]); opt.step()
        >>> round(w.item(), 4)
        0.8889
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-16, weight_decay: float = 0.0) -> None:
        if lr <= 0 or eps <= 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"AdaBelief: need lr > 0, eps > 0, weight_decay >= 0 and betas in [0, 1); "
                             f"got lr={lr}, eps={eps}, weight_decay={weight_decay}, betas={betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """Update every parameter with a gradient; returns the closure's loss when given one."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError("AdaBelief does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_var"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t, m, s, g = state["step"], state["exp_avg"], state["exp_avg_var"], p.grad
                if wd:
                    p.mul_(1 - lr * wd)
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                residual = g - m
                s.mul_(beta2).addcmul_(residual, residual, value=1 - beta2).add_(eps)
                denom = (s / (1 - beta2 ** t)).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1 - beta1 ** t))
        return loss


class Lookahead(torch.optim.Optimizer):
    """Lookahead (Zhang et al., NeurIPS 2019) around any optimizer.

    The inner optimizer takes ``k`` fast steps; then the slow weights move
    ``alpha`` of the way towards the fast ones (``slow += alpha * (fast - slow)``)
    and the fast weights restart from them. ``param_groups``, ``state`` and
    ``defaults`` are the inner optimizer's, so schedules that set ``lr`` reach it.
    ``state_dict`` holds the inner state, the slow weights and the step counter,
    so a resumed run continues exactly.

    Args:
        optimizer: the inner (fast) optimizer.
        k: fast steps between synchronisations, >= 1.
        alpha: slow-weight step size, in (0, 1].

    Raises:
        ValueError: ``k`` or ``alpha`` is out of range.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = Lookahead(torch.optim.SGD([w], lr=0.1), k=2, alpha=0.5)
        >>> for _ in range(2):
        ...     w.grad = torch.tensor([1.0]); opt.step()
        >>> round(w.item(), 4)  # fast weights reached 0.8; slow 1.0 -> 0.9
        0.9
    """

    # The groups live in the inner optimizer; Optimizer.__init__ would make copies of its own,
    # so only the hook machinery it sets up is replicated here.
    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if k < 1 or not 0 < alpha <= 1:
            raise ValueError(f"Lookahead: need k >= 1 and 0 < alpha <= 1, got k={k}, alpha={alpha}")
        self.optimizer, self.k, self.alpha, self.steps = optimizer, int(k), float(alpha), 0
        for hooks in ("step_pre", "step_post", "state_dict_pre", "state_dict_post",
                      "load_state_dict_pre", "load_state_dict_post"):
            setattr(self, f"_optimizer_{hooks}_hooks", OrderedDict())
        self._patch_step_function()
        self.slow: dict[torch.Tensor, torch.Tensor] = {}
        self._init_slow()

    param_groups = property(lambda self: self.optimizer.param_groups,
                            doc="The inner optimizer's parameter groups.")
    state = property(lambda self: self.optimizer.state, doc="The inner optimizer's per-parameter state.")
    defaults = property(lambda self: self.optimizer.defaults, doc="The inner optimizer's defaults.")

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _init_slow(self) -> None:
        for p in self._params():
            if p not in self.slow:
                self.slow[p] = p.detach().clone()

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One fast step; every ``k``-th one also synchronises the slow weights."""
        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self.steps += 1
        if self.steps % self.k == 0:
            for p in self._params():
                slow = self.slow[p]
                slow.add_(p - slow, alpha=self.alpha)
                p.copy_(slow)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients (delegated to the inner optimizer)."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer; its slow weights start at the current values."""
        self.optimizer.add_param_group(param_group)
        self._init_slow()

    def state_dict(self) -> dict[str, Any]:
        """Inner state, slow weights (in parameter order) and the step counter."""
        return {"optimizer": self.optimizer.state_dict(),
                "lookahead": {"k": self.k, "alpha": self.alpha, "steps": self.steps,
                              "slow": [self.slow[p].clone() for p in self._params()]}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned.

        Raises:
            ValueError: the state holds a different number of slow weights than this optimizer has parameters.
        """
        own = state_dict["lookahead"]
        params = self._params()
        if len(own["slow"]) != len(params):
            raise ValueError(f"Lookahead state holds {len(own['slow'])} slow weights, "
                             f"but the optimizer has {len(params)} parameters")
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.k, self.alpha, self.steps = int(own["k"]), float(own["alpha"]), int(own["steps"])
        self.slow = {p: s.detach().to(device=p.device, dtype=p.dtype).clone()
                     for p, s in zip(params, own["slow"])}

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, optimizer={self.optimizer!r})"


# ---- builders: (param groups, config) -> optimizer; each group already carries lr and weight_decay.

def _sgd(groups, c: SGDConfig):
    return torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov)


def _adam(groups, c: AdamConfig):
    return torch.optim.Adam(groups, lr=c.lr, betas=c.betas, eps=c.eps)


def _adamw(groups, c: AdamConfig):
    return torch.optim.AdamW(groups, lr=c.lr, betas=c.betas, eps=c.eps)


def _rmsprop(groups, c: RMSpropConfig):
    return torch.optim.RMSprop(groups, lr=c.lr, eps=c.eps, momentum=c.momentum)


def _adagrad(groups, c: AdagradConfig):
    return torch.optim.Adagrad(groups, lr=c.lr, eps=c.eps)


def _radam(groups, c: AdamConfig):
    return torch.optim.RAdam(groups, lr=c.lr, betas=c.betas, eps=c.eps, decoupled_weight_decay=True)


def _nadam(groups, c: AdamConfig):
    return torch.optim.NAdam(groups, lr=c.lr, betas=c.betas, eps=c.eps, decoupled_weight_decay=True)


def _adabelief(groups, c: AdamConfig):
    # AdaBelief adds eps inside the square root; its authors' eps=1e-16 matches Adam's 1e-8.
    return AdaBelief(groups, lr=c.lr, betas=c.betas, eps=c.eps ** 2)


# Names in the order of OPTIMIZER_CONFIGS (the config classes' `type` literals); a test checks they agree.
OPTIMIZERS: Registry = Registry("optimizer")
for _name, _builder in (("sgd", _sgd), ("adam", _adam), ("adamw", _adamw), ("radam", _radam), ("nadam", _nadam),
                        ("adabelief", _adabelief), ("rmsprop", _rmsprop), ("adagrad", _adagrad)):
    OPTIMIZERS.register(_name, _builder)
del _name, _builder
