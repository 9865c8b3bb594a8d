"""Image augmentation on batched tensors: one affine resampling per batch for the geometric transforms (flips,
rotation, random resized crop, TrivialAugment's shears and translations), per-image factors for the photometric
ones, a box mask for random erasing. No Python loop over images; randomness comes from the loop's
``torch.Generator`` (drawn on the CPU), so a resumed run draws the same numbers.

Written here on plain torch (``affine_grid`` / ``grid_sample``): torchvision does not install beside the torch
trainwright supports, and the dozen operations are short enough (about 150 lines) that a tensor-augmentation
dependency such as kornia, with its own release cycle and torch range, was not worth adding for them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from trainwright.errors import ConfigError
from trainwright.training.config import AugmentConfig

__all__ = ["AugmentConfig", "augment", "check_augment", "TRIVIAL_OPS"]

TRIVIAL_OPS = ("identity", "rotate", "shear_x", "shear_y", "translate_x", "translate_y", "brightness", "contrast",
               "solarize", "autocontrast")


def check_augment(config: AugmentConfig, x: torch.Tensor) -> None:
    """Fail before training when augmentation is on and the inputs are not images (batch, channels, h, w).

    Example:
        >>> check_augment(AugmentConfig(hflip=0.5), torch.zeros(2, 1, 8, 8))
    """
    if config.active and x.ndim != 4:
        raise ConfigError(f"train.augment transforms images (batch, channels, height, width), got inputs of shape "
                          f"{tuple(x.shape)}; switch train.augment off for this model", path="train.augment")


def augment(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """An augmented copy of the image batch ``x`` (batch, channels, h, w), pixels in [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.zeros(4, 1, 8, 8); x[..., :4] = 1  # left half white
        >>> flipped = augment(x, AugmentConfig(hflip=1.0), g)
        >>> bool((flipped[..., 4:] > 0.99).all() and (flipped[..., :4] < 0.01).all())
        True
    """
    if not config.active:
        return x
    n = x.shape[0]

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(x.device)

    ops = (uniform(n) * len(TRIVIAL_OPS)).long().clamp(max=len(TRIVIAL_OPS) - 1) if config.policy == "trivial" \
        else None
    level = uniform(n) * torch.where(uniform(n) < 0.5, -1.0, 1.0).to(x.device)  # signed magnitude in [-1, 1]
    theta = _geometry(config, n, uniform, ops, level)
    if theta is not None:
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = _photometric(x, config, uniform, ops, level)
    if config.noise > 0:
        x = x + config.noise * torch.randn(x.shape, generator=generator).to(x.device)
    if config.erase > 0:
        x = _erase(x, config.erase, uniform)
    return x


def _geometry(config: AugmentConfig, n: int, uniform, ops, level) -> torch.Tensor | None:
    """(n, 2, 3) affine matrices (output -> input coordinates in [-1, 1]), or None when nothing moves."""
    eye = torch.eye(2, device=level.device).expand(n, 2, 2).clone()
    A, t, moved = eye, torch.zeros(n, 2, device=level.device), False
    if config.crop_scale < 1:
        area = config.crop_scale + (1 - config.crop_scale) * uniform(n)
        ratio = torch.exp((uniform(n) * 2 - 1) * math.log(4 / 3))
        w, h = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
        A = torch.diag_embed(torch.stack([w, h], dim=1))
        t = torch.stack([(uniform(n) * 2 - 1) * (1 - w), (uniform(n) * 2 - 1) * (1 - h)], dim=1)
        moved = True
    angle = (uniform(n) * 2 - 1) * math.radians(config.rotate) if config.rotate > 0 else torch.zeros_like(level)
    if ops is not None:
        angle = torch.where(ops == TRIVIAL_OPS.index("rotate"), level * math.radians(30), angle)
        shear = torch.zeros(n, 2, 2, device=level.device)
        shear[:, 0, 1] = torch.where(ops == TRIVIAL_OPS.index("shear_x"), level * 0.3, 0.0)
        shear[:, 1, 0] = torch.where(ops == TRIVIAL_OPS.index("shear_y"), level * 0.3, 0.0)
        A = (eye + shear) @ A
        t = t + torch.stack([torch.where(ops == TRIVIAL_OPS.index("translate_x"), level * 0.6, 0.0),
                             torch.where(ops == TRIVIAL_OPS.index("translate_y"), level * 0.6, 0.0)], dim=1)
        moved = True
    if config.rotate > 0 or ops is not None:
        cos, sin = angle.cos(), angle.sin()
        A = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1) @ A
        moved = True
    for axis, p in ((0, config.hflip), (1, config.vflip)):
        if p > 0:
            flip = torch.ones(n, 2, device=level.device)
            flip[:, axis] = torch.where(uniform(n) < p, -1.0, 1.0)
            A = A @ torch.diag_embed(flip)
            moved = True
    return torch.cat([A, t[:, :, None]], dim=2) if moved else None


def _photometric(x: torch.Tensor, config: AugmentConfig, uniform, ops, level) -> torch.Tensor:
    n = x.shape[0]
    shape = (n, 1, 1, 1)
    shift = ((uniform(n) * 2 - 1) * config.brightness).view(shape)
    factor = (1 + (uniform(n) * 2 - 1) * config.contrast).view(shape)
    if ops is not None:
        chose = lambda name: (ops == TRIVIAL_OPS.index(name)).view(shape)  # noqa: E731
        shift = torch.where(chose("brightness"), level.view(shape) * 0.5, shift)
        factor = torch.where(chose("contrast"), 1 + level.view(shape) * 0.9, factor)
    if config.brightness > 0 or ops is not None:
        x = x + shift
    if config.contrast > 0 or ops is not None:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * factor + mean
    if config.saturation > 0 and x.shape[1] == 3:
        grey = x.mean(dim=1, keepdim=True)
        x = grey + (x - grey) * (1 + (uniform(n) * 2 - 1) * config.saturation).view(shape)
    if ops is not None:
        threshold = (1 - level.abs()).view(shape)
        x = torch.where(chose("solarize") & (x >= threshold), 1 - x, x)
        low, high = x.amin(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)
        stretched = (x - low) / (high - low).clamp(min=1e-6)
        x = torch.where(chose("autocontrast"), stretched, x)
    return x


def _erase(x: torch.Tensor, p: float, uniform) -> torch.Tensor:
    """Blank (zero) one box per chosen image: area 2-25% of the image, aspect 0.3-3.3, anywhere inside it."""
    n, _, h, w = x.shape
    area = 0.02 + 0.23 * uniform(n)
    ratio = torch.exp(math.log(0.3) + (math.log(3.3) - math.log(0.3)) * uniform(n))
    bh, bw = (area * ratio).sqrt().clamp(max=1) * h, (area / ratio).sqrt().clamp(max=1) * w
    top, left = uniform(n) * (h - bh), uniform(n) * (w - bw)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    box = ((rows >= top.view(n, 1, 1)) & (rows < (top + bh).view(n, 1, 1))
           & (cols >= left.view(n, 1, 1)) & (cols < (left + bw).view(n, 1, 1)))
    chosen = (uniform(n) < p).view(n, 1, 1)
    return x.masked_fill((box & chosen)[:, None], 0.0)
