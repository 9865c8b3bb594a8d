"""Each image augmentation acts on a batch, as its setting says; off, nothing changes; the loop applies it to
training batches only."""

from __future__ import annotations

import pytest
import torch

from trainwright.errors import ConfigError
from trainwright.training.augment import TRIVIAL_OPS, augment, check_augment
from trainwright.training.config import AugmentConfig


def _batch(n: int = 16, channels: int = 1, side: int = 16) -> torch.Tensor:
    """Images with a bright block in the top-left quarter, so direction and position can be read back."""
    x = torch.zeros(n, channels, side, side)
    x[:, :, : side // 2, : side // 4] = 1.0
    return x


def _run(x, **settings):
    return augment(x, AugmentConfig(**settings), torch.Generator().manual_seed(0))


def test_off_is_the_identity():
    x = _batch()
    assert _run(x) is x and not AugmentConfig().active


def test_flips_mirror_the_image():
    x = _batch()
    assert torch.allclose(_run(x, hflip=1.0), x.flip(-1), atol=1e-5)
    assert torch.allclose(_run(x, vflip=1.0), x.flip(-2), atol=1e-5)
    half = _run(x, hflip=0.5)
    flipped = torch.isclose(half, x.flip(-1), atol=1e-5).flatten(1).all(1)
    assert 0 < int(flipped.sum()) < len(x)  # drawn per image


def test_rotation_turns_the_image_within_its_bound():
    x = _batch(n=64)
    out = _run(x, rotate=30)
    assert out.shape == x.shape and not torch.allclose(out, x)
    # the bright block's centre of mass moves, but stays near where a rotation of at most 30 degrees puts it
    ys = torch.arange(16.0).view(1, 16, 1)
    centre = lambda t: ((t[:, 0] * ys).sum((1, 2)) / t[:, 0].sum((1, 2)))  # noqa: E731
    assert (centre(out) - centre(x)).abs().max() < 4


def test_random_resized_crop_zooms_in():
    x = _batch()
    out = _run(x, crop_scale=0.3)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert out.sum() != x.sum()  # zooming changes how much of the image the block covers


def test_colour_jitter_changes_brightness_contrast_and_saturation():
    x = _batch(channels=3)
    x[:, 0] *= 0.9  # a coloured block
    assert (_run(x, brightness=0.4).mean((1, 2, 3)) - x.mean((1, 2, 3))).abs().max() > 0.01
    assert (_run(x, contrast=0.8).std((1, 2, 3)) / x.std((1, 2, 3)) - 1).abs().max() > 0.05
    spread = lambda t: (t - t.mean(1, keepdim=True)).abs().sum((1, 2, 3))  # noqa: E731
    assert (spread(_run(x, saturation=0.9)) / spread(x) - 1).abs().max() > 0.05


def test_noise_and_erasing():
    x = _batch()
    noisy = _run(x, noise=0.1)
    assert 0.07 < float((noisy - x).std()) < 0.13
    erased = _run(torch.ones(32, 1, 16, 16), erase=1.0)
    blanked = (erased == 0).flatten(1).float().mean(1)
    assert bool(((blanked > 0.01) & (blanked < 0.3)).all())  # one box of 2-25% in every image


def test_trivial_augment_gives_each_image_one_operation():
    x = _batch(n=200)
    out = _run(x, policy="trivial")
    changed = ~torch.isclose(out, x, atol=1e-4).flatten(1).all(1)
    # identity (1 of 10 operations) and zero magnitudes leave some images as they were; most change
    assert 0.6 < float(changed.float().mean()) < 1.0 and len(TRIVIAL_OPS) == 10


def test_augmentation_needs_images():
    check_augment(AugmentConfig(), torch.zeros(4, 3))
    with pytest.raises(ConfigError, match="train.augment transforms images"):
        check_augment(AugmentConfig(hflip=0.5), torch.zeros(4, 3))


def test_the_loop_augments_training_batches_only():
    from trainwright.training.config import LoopConfig
    from trainwright.training.loop import fit

    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(64, 2)

        def forward(self, x):
            seen.append((self.training, x.detach().clone()))
            return self.lin(x.flatten(1))

    x = _batch(n=8, side=8)
    y = torch.zeros(8, dtype=torch.long)
    fit(Spy(), x, y, x, y, config=LoopConfig(epochs=1, batch_size=8, augment={"hflip": 1.0}), task="classification",
        n_classes=2)
    train = [b for training, b in seen if training]
    evaluated = [b for training, b in seen if not training]
    assert train and all(torch.allclose(b, x.flip(-1)[: len(b)], atol=1e-5) for b in train)
    assert evaluated and all(torch.allclose(b, x[: len(b)]) for b in evaluated)
