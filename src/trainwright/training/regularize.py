"""Regularization for the neural loop: penalties, input noise, MixUp/CutMix, adversarial inputs, EMA and SWA.

Each technique is a plain function (or a small class for the weight averages)
that the loop calls in one visible line; ``RegularizeConfig`` switches them on
from the recipe. Randomness always comes from an explicit ``torch.Generator``
(or torch's global generator where the signature has none) so that a resumed
run draws the same numbers as an uninterrupted one.
"""

from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainwright.errors import ConfigError
from trainwright.training.averaging import EMA, SWA
from trainwright.training.config import RegularizeConfig

__all__ = [
    "RegularizeConfig",
    "penalty",
    "add_input_noise",
    "mixup",
    "cutmix",
    "soft_cross_entropy",
    "fgsm",
    "pgd",
    "EMA",
    "SWA",
    "check_inputs",
]

# Config path named in error messages; the recipe section that holds RegularizeConfig.
_PATH = "train.regularize"


def check_inputs(config: RegularizeConfig, x: torch.Tensor) -> None:
    """Fail before training when the switches cannot apply to inputs shaped like ``x``.

    Args:
        config: the regularization settings.
        x: a batch (or all) of the training inputs.

    Raises:
        ConfigError: CutMix on inputs that are not images (batch, channels, h, w), or input noise,
            MixUp or adversarial training on integer inputs (token ids).

    Example:
        >>> check_inputs(RegularizeConfig(mixup_alpha=0.2), torch.zeros(4, 3))
    """
    if config.cutmix_alpha > 0 and x.ndim != 4:
        raise ConfigError(
            f"{_PATH}.cutmix_alpha={config.cutmix_alpha} needs image inputs (batch, channels, height, width), "
            f"got inputs with shape {tuple(x.shape)}; use {_PATH}.mixup_alpha for other inputs",
            path=f"{_PATH}.cutmix_alpha")
    if not torch.is_floating_point(x):
        for name, on in (("input_noise", config.input_noise > 0), ("mixup_alpha", config.mixup_alpha > 0),
                         ("adversarial", config.adversarial != "none")):
            if on:
                raise ConfigError(
                    f"{_PATH}.{name}={getattr(config, name)!r} needs real-valued inputs, got {x.dtype} "
                    f"(token ids?); turn it off for this model", path=f"{_PATH}.{name}")


def penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor:
    """``l1 * sum|w| + l2 * sum w^2`` over the weight matrices (``ndim >= 2``); biases and norm parameters excluded.

    Args:
        model: the network.
        l1: weight of the L1 term.
        l2: weight of the squared L2 term.

    Returns:
        A scalar tensor on the model's device, to add to the mean loss; 0 when both weights are 0.

    Example:
        >>> lin = nn.Linear(2, 1); _ = lin.weight.data.fill_(2.0)
        >>> round(penalty(lin, l1=0.5, l2=0.1).item(), 5)  # 0.5 * 4 + 0.1 * 8
        2.8
    """
    params = [p for p in model.parameters() if p.ndim >= 2 and p.requires_grad]
    device = params[0].device if params else torch.device("cpu")
    total = torch.zeros((), device=device)
    if l1 == 0 and l2 == 0:
        return total
    for w in params:
        if l1:
            total = total + l1 * w.abs().sum()
        if l2:
            total = total + l2 * w.square().sum()
    return total


def _generator_device(x: torch.Tensor, generator: torch.Generator | None) -> torch.device:
    """Draw on the generator's device (a CPU generator cannot fill a CUDA tensor), then move."""
    return generator.device if generator is not None else x.device


def add_input_noise(x: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    """Return ``x`` plus Gaussian noise of standard deviation ``std`` (``x`` itself when ``std`` is 0).

    Args:
        x: training inputs, any shape, floating point.
        std: noise standard deviation, in the units of the (standardised) inputs.
        generator: source of the noise; ``None`` uses torch's global generator.

    Returns:
        A new tensor shaped like ``x``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> add_input_noise(torch.zeros(1000, 4), 0.1, g).std().item() > 0.09
        True
    """
    if std == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=_generator_device(x, generator), dtype=x.dtype)
    return x + std * noise.to(x.device)


def _beta(alpha: float, generator: torch.Generator) -> float:
    """One Beta(alpha, alpha) draw, determined by ``generator`` (torch's Beta takes no generator)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def _permutation(n: int, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randperm(n, generator=generator, device=generator.device).to(x.device)


def _mix_targets(y_soft: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
    # y_soft: (batch, classes) probabilities or (batch,) regression targets.
    if not torch.is_floating_point(y_soft):
        raise ConfigError(f"MixUp/CutMix need soft targets (probabilities or real values), got {y_soft.dtype}; "
                          "one-hot encode class labels first", path=f"{_PATH}.mixup_alpha")
    return lam * y_soft + (1.0 - lam) * y_soft[perm]


def mixup(x: torch.Tensor, y_soft: torch.Tensor, alpha: float,
          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """MixUp (Zhang et al. 2018): each row becomes ``lam * row + (1 - lam) * other row``, targets alike.

    One ``lam ~ Beta(alpha, alpha)`` and one random pairing per batch, the same for inputs and targets.

    Args:
        x: inputs (batch, ...), floating point.
        y_soft: targets (batch, classes) as probabilities, or (batch,) real values for regression.
        alpha: Beta parameter, > 0 (small values keep most rows nearly unmixed).
        generator: source of ``lam`` and the pairing.

    Returns:
        ``(mixed x, mixed y)``, shaped like the inputs.

    Raises:
        ConfigError: ``alpha <= 0`` or integer targets.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> xm, ym = mixup(torch.eye(4), torch.eye(4), 0.4, g)
        >>> bool(torch.allclose(xm, ym))
        True
    """
    if alpha <= 0:
        raise ConfigError(f"{_PATH}.mixup_alpha must be > 0 to mix, got {alpha}", path=f"{_PATH}.mixup_alpha")
    lam = _beta(alpha, generator)
    perm = _permutation(len(x), x, generator)
    return lam * x + (1.0 - lam) * x[perm], _mix_targets(y_soft, perm, lam)


def _cut_box(height: int, width: int, lam: float, generator: torch.Generator) -> tuple[int, int, int, int]:
    """A box covering about ``1 - lam`` of the image, centred at a uniform pixel, clipped to the image."""
    ratio = float(np.sqrt(1.0 - lam))
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = (int(v) for v in torch.randint(0, 2**31 - 1, (2,), generator=generator, device=generator.device))
    cy, cx = cy % height, cx % width
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    return top, bottom, left, right


def cutmix(x: torch.Tensor, y_soft: torch.Tensor, alpha: float,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al. 2019): paste a box from a paired image; the targets mix by the pasted area share.

    Args:
        x: images (batch, channels, height, width).
        y_soft: targets (batch, classes) as probabilities, or (batch,) real values.
        alpha: Beta parameter of the kept share, > 0.
        generator: source of the share, the box position and the pairing.

    Returns:
        ``(mixed x, mixed y)``; row i of y is ``(1 - s) * y[i] + s * y[pair(i)]`` where ``s`` is the
        exact share of pixels pasted (after clipping the box to the image).

    Raises:
        ConfigError: inputs that are not 4-D images, ``alpha <= 0`` or integer targets.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> xm, ym = cutmix(torch.zeros(2, 1, 8, 8), torch.eye(2), 1.0, g)
        >>> xm.shape, ym.shape
        (torch.Size([2, 1, 8, 8]), torch.Size([2, 2]))
    """
    if x.ndim != 4:
        raise ConfigError(f"{_PATH}.cutmix_alpha needs image inputs (batch, channels, height, width), got shape "
                          f"{tuple(x.shape)}; use {_PATH}.mixup_alpha for other inputs", path=f"{_PATH}.cutmix_alpha")
    if alpha <= 0:
        raise ConfigError(f"{_PATH}.cutmix_alpha must be > 0 to mix, got {alpha}", path=f"{_PATH}.cutmix_alpha")
    height, width = x.shape[-2:]
    lam = _beta(alpha, generator)
    top, bottom, left, right = _cut_box(height, width, lam, generator)
    perm = _permutation(len(x), x, generator)
    mixed = x.clone()
    mixed[:, :, top:bottom, left:right] = x[perm, :, top:bottom, left:right]
    kept = 1.0 - (bottom - top) * (right - left) / (height * width)
    return mixed, _mix_targets(y_soft, perm, kept)


def soft_cross_entropy(logits: torch.Tensor, y_soft: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross entropy against target distributions, with optional label smoothing.

    Smoothing follows ``F.cross_entropy``: targets become ``(1 - s) * y + s / classes``.

    Args:
        logits: (batch, classes) raw scores.
        y_soft: (batch, classes) target probabilities (mixed or one-hot), or (batch,) integer labels.
        label_smoothing: share ``s`` in [0, 1).

    Returns:
        Per-row losses, shape (batch,).

    Raises:
        ConfigError: ``label_smoothing`` outside [0, 1).

    Example:
        >>> logits = torch.tensor([[2.0, 0.0]])
        >>> round(float(soft_cross_entropy(logits, torch.tensor([[1.0, 0.0]]))), 4)
        0.1269
    """
    if not 0 <= label_smoothing < 1:
        raise ConfigError(f"{_PATH}.label_smoothing must be in [0, 1), got {label_smoothing}",
                          path=f"{_PATH}.label_smoothing")
    n_classes = logits.shape[1]
    if not torch.is_floating_point(y_soft):
        y_soft = F.one_hot(y_soft.long(), n_classes)
    y_soft = y_soft.to(logits.dtype)
    if label_smoothing:
        y_soft = y_soft * (1.0 - label_smoothing) + label_smoothing / n_classes
    return -(y_soft * F.log_softmax(logits, dim=1)).sum(dim=1)  # (batch,)


def _input_gradient(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d mean-loss / d x, without touching the parameters' ``.grad``."""
    x = x.detach().requires_grad_(True)
    loss = loss_fn(model(x), y).mean()
    return torch.autograd.grad(loss, x)[0]


class _Frozen:
    """Put the model in eval mode while attacking: no BatchNorm statistics updates, no dropout noise."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc) -> None:
        self.model.train(self.was_training)


def fgsm(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015): ``x + eps * sign(grad_x loss)``.

    The gradient is taken with the model in eval mode (its mode is restored after), and the
    parameters' ``.grad`` are left untouched.

    Args:
        model: the network.
        loss_fn: ``loss_fn(output, y)`` -> per-row losses (batch,).
        x: clean inputs (batch, ...), floating point.
        y: targets, as ``loss_fn`` takes them.
        eps: L-infinity radius.

    Returns:
        Adversarial inputs shaped like ``x``, detached, within ``eps`` of ``x`` in every entry.

    Example:
        >>> net = nn.Linear(3, 2); x = torch.zeros(4, 3); y = torch.tensor([0, 1, 0, 1])
        >>> ce = lambda out, t: F.cross_entropy(out, t, reduction="none")
        >>> float((fgsm(net, ce, x, y, 0.1) - x).abs().max()) <= 0.1 + 1e-6
        True
    """
    with _Frozen(model):
        grad = _input_gradient(model, loss_fn, x, y)
    return (x + eps * grad.sign()).detach()


def pgd(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, eps: float, step_size: float, steps: int,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent attack (Madry et al. 2018) in the L-infinity ball, from a random start.

    Args:
        model: the network (attacked in eval mode; its mode is restored after).
        loss_fn: ``loss_fn(output, y)`` -> per-row losses (batch,).
        x: clean inputs (batch, ...), floating point.
        y: targets, as ``loss_fn`` takes them.
        eps: L-infinity radius.
        step_size: size of each signed-gradient ascent step.
        steps: number of steps, >= 1.
        generator: source of the uniform random start; ``None`` uses torch's global generator.

    Returns:
        Adversarial inputs shaped like ``x``, detached, within ``eps`` of ``x``.

    Example:
        >>> net = nn.Linear(3, 2); x = torch.zeros(4, 3); y = torch.tensor([0, 1, 0, 1])
        >>> ce = lambda out, t: F.cross_entropy(out, t, reduction="none")
        >>> float((pgd(net, ce, x, y, 0.1, 0.05, 3) - x).abs().max()) <= 0.1 + 1e-6
        True
    """
    x = x.detach()
    start = torch.rand(x.shape, generator=generator, device=_generator_device(x, generator), dtype=x.dtype)
    adv = x + eps * (2.0 * start.to(x.device) - 1.0)  # uniform in [x - eps, x + eps]
    with _Frozen(model):
        for _ in range(steps):
            adv = adv + step_size * _input_gradient(model, loss_fn, adv, y).sign()
            adv = torch.min(torch.max(adv, x - eps), x + eps)  # project back onto the ball
    return adv.detach()
