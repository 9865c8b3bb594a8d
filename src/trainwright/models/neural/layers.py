"""Building blocks of trainwright's neural models: DropConnect, weight initialization, MLP and CNN builders.

The builders take plain arguments and return an ``nn.Sequential`` whose
top-level children are the blocks and then the head, because the optimizer's
discriminative learning rates use ``model.children()`` as layer groups.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainwright.errors import ConfigError, did_you_mean

__all__ = ["DropConnectLinear", "ResidualBlock", "init_weights", "build_mlp", "build_cnn", "build_resnet", "build_digit_cnn",
           "INIT_SCHEMES", "NORMS", "ACTIVATIONS"]

INIT_SCHEMES = ("default", "xavier", "kaiming", "orthogonal")
NORMS = ("none", "batch", "layer")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}

# Layers whose weight is a matrix or a kernel, i.e. what an init scheme initializes.
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _choice(value: str, choices, path: str) -> str:
    if value not in choices:
        raise ConfigError(f"{path} must be one of {', '.join(map(repr, choices))}, got {value!r}."
                          f"{did_you_mean(str(value), choices)}", path=path)
    return value


def _probability(value: float, path: str) -> float:
    if not 0 <= value < 1:
        raise ConfigError(f"{path} must be in [0, 1), got {value}", path=path)
    return float(value)


class DropConnectLinear(nn.Linear):
    """A linear layer that drops weights, not activations, during training (Wan et al. 2013).

    In train mode each weight is kept with probability ``1 - p`` and the kept ones are scaled by
    ``1 / (1 - p)``, so the expected output equals the plain layer's; one mask is drawn per
    forward call (shared by the rows of the batch) from torch's global generator. The bias is
    not dropped. In eval mode it is exactly ``nn.Linear``.

    Args:
        in_features: input width.
        out_features: output width.
        p: probability of dropping each weight, in [0, 1).
        bias: whether to learn a bias.

    Raises:
        ConfigError: ``p`` outside [0, 1).

    Example:
        >>> layer = DropConnectLinear(4, 2, p=0.5).eval()
        >>> layer(torch.ones(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.p = _probability(p, "model.dropconnect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return super().forward(x)
        keep = 1.0 - self.p
        mask = torch.empty_like(self.weight).bernoulli_(keep)  # (out_features, in_features)
        return F.linear(x, self.weight * mask / keep, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


class ResidualBlock(nn.Module):
    """``x + body(x)``: a skip connection around a block whose input and output widths match.

    Args:
        body: the wrapped block.

    Example:
        >>> block = ResidualBlock(nn.Linear(3, 3))
        >>> _ = nn.init.zeros_(block.body.weight); _ = nn.init.zeros_(block.body.bias)
        >>> block(torch.ones(1, 3))
        tensor([[1., 1., 1.]], grad_fn=<AddBackward0>)
    """

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def init_weights(model: nn.Module, scheme: str) -> None:
    """Initialize the weights of every linear and convolution layer in place; their biases become 0.

    Args:
        model: the network.
        scheme: ``"default"`` (leave PyTorch's initialization, biases included), ``"xavier"``
            (Glorot uniform), ``"kaiming"`` (He normal, fan_in, for ReLU) or ``"orthogonal"``.
            Normalization layers keep their weight 1 and bias 0.

    Raises:
        ConfigError: an unknown scheme; the message lists the known ones.

    Example:
        >>> net = nn.Linear(100, 50); init_weights(net, "kaiming")
        >>> net.bias.abs().sum().item()
        0.0
    """
    _choice(scheme, INIT_SCHEMES, "model.init")
    if scheme == "default":
        return
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, _WEIGHTED):
                continue
            if scheme == "xavier":
                nn.init.xavier_uniform_(module.weight)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.orthogonal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _mlp_block(width: int, size: int, *, dropout: float, norm: str, activation: str,
               dropconnect: float) -> nn.Sequential:
    """Linear (or DropConnect) -> norm -> activation -> Dropout, as one module."""
    # BatchNorm subtracts each unit's batch mean, so a linear bias before it would be wasted.
    bias = norm != "batch"
    if dropconnect > 0:
        linear = DropConnectLinear(width, size, p=dropconnect, bias=bias)
    else:
        linear = nn.Linear(width, size, bias=bias)
    layers = [linear]
    if norm == "batch":
        layers.append(nn.BatchNorm1d(size))
    elif norm == "layer":
        layers.append(nn.LayerNorm(size))
    layers.append(ACTIVATIONS[activation]())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def build_mlp(n_in: int, hidden_sizes: list[int], n_out: int, *, dropout: float = 0.0, norm: str = "none",
              residual: bool = False, activation: str = "relu", dropconnect: float = 0.0,
              init: str = "default") -> nn.Sequential:
    """A multilayer perceptron for rows of features.

    Blocks of Linear (or DropConnectLinear) -> norm -> activation -> Dropout; with ``residual``
    a block whose input and output widths match is wrapped in a ``ResidualBlock`` (adds its
    input); a final Linear head. Input (batch, n_in), output (batch, n_out).

    Args:
        n_in: input features.
        hidden_sizes: width of each hidden block; empty gives a linear model.
        n_out: outputs (classes, or 1 for regression).
        dropout: dropout probability after each block's activation, in [0, 1).
        norm: ``"none"``, ``"batch"`` (BatchNorm1d) or ``"layer"`` (LayerNorm) after each linear layer.
        residual: add skip connections around blocks of equal width.
        activation: ``"relu"``, ``"gelu"``, ``"silu"`` or ``"tanh"``.
        dropconnect: probability of dropping each hidden weight (DropConnectLinear), in [0, 1).
        init: weight initialization scheme, see ``init_weights``.

    Returns:
        ``nn.Sequential`` whose top-level children are the blocks, then the head.

    Raises:
        ConfigError: a non-positive width, a probability outside [0, 1) or an unknown choice.

    Example:
        >>> net = build_mlp(4, [8, 8], 3, norm="layer", residual=True)
        >>> net(torch.zeros(2, 4)).shape, type(net[1]).__name__
        (torch.Size([2, 3]), 'ResidualBlock')
    """
    for name, value in (("n_in", n_in), ("n_out", n_out)):
        if value < 1:
            raise ConfigError(f"build_mlp: {name} must be >= 1, got {value}", path=f"model.{name}")
    if any(int(size) < 1 for size in hidden_sizes):
        raise ConfigError(f"model.hidden_sizes must all be >= 1, got {list(hidden_sizes)}", path="model.hidden_sizes")
    _choice(norm, NORMS, "model.norm")
    _choice(activation, tuple(ACTIVATIONS), "model.activation")
    _probability(dropout, "model.dropout")
    _probability(dropconnect, "model.dropconnect")
    _choice(init, INIT_SCHEMES, "model.init")
    blocks: list[nn.Module] = []
    width = n_in
    for size in map(int, hidden_sizes):
        block = _mlp_block(width, size, dropout=dropout, norm=norm, activation=activation, dropconnect=dropconnect)
        blocks.append(ResidualBlock(block) if residual and size == width else block)
        width = size
    model = nn.Sequential(*blocks, nn.Linear(width, n_out))
    init_weights(model, init)
    return model


def build_cnn(in_channels: int, n_classes: int, *, channels: tuple[int, ...] = (32, 64), image_size: int = 28,
              dropout: float = 0.0, spatial_dropout: float = 0.0, norm: str = "batch",
              init: str = "kaiming") -> nn.Sequential:
    """A small convolutional network for square images.

    Per stage: Conv3x3 (padding 1) -> BatchNorm2d (``norm="batch"``) -> ReLU -> Dropout2d
    (``spatial_dropout``, which zeroes whole channels) -> MaxPool 2x2; then a head of
    Flatten -> Dropout -> Linear. Input (batch, in_channels, image_size, image_size),
    output (batch, n_classes) logits.

    Args:
        in_channels: channels of the input images (1 for grey, 3 for colour).
        n_classes: classes to score.
        channels: output channels of each stage; each stage halves the height and width.
        image_size: height and width of the inputs.
        dropout: dropout probability before the linear head, in [0, 1).
        spatial_dropout: Dropout2d probability in each stage, in [0, 1).
        norm: ``"batch"`` or ``"none"``.
        init: weight initialization scheme, see ``init_weights``.

    Returns:
        ``nn.Sequential`` whose top-level children are the stages, then the head.

    Raises:
        ConfigError: too many stages for the image size, a probability outside [0, 1) or an
            unknown choice.

    Example:
        >>> net = build_cnn(1, 10, channels=(8, 16), image_size=8)
        >>> net(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """
    _choice(norm, ("none", "batch"), "model.norm")
    _probability(dropout, "model.dropout")
    _probability(spatial_dropout, "model.spatial_dropout")
    _choice(init, INIT_SCHEMES, "model.init")
    if not channels or any(int(c) < 1 for c in channels):
        raise ConfigError(f"model.channels must be one or more positive widths, got {channels}", path="model.channels")
    side = image_size // 2 ** len(channels)  # height and width after the pools
    if side < 1:
        raise ConfigError(f"model.channels has {len(channels)} stages, each halving the image, too many for "
                          f"{image_size}x{image_size} images; use at most {max(image_size.bit_length() - 1, 0)}",
                          path="model.channels")
    stages: list[nn.Module] = []
    width = in_channels
    for out in map(int, channels):
        layers = [nn.Conv2d(width, out, kernel_size=3, padding=1, bias=norm == "none")]
        if norm == "batch":
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU())
        if spatial_dropout > 0:
            layers.append(nn.Dropout2d(spatial_dropout))
        layers.append(nn.MaxPool2d(2))
        stages.append(nn.Sequential(*layers))  # (batch, out, h / 2, w / 2)
        width = out
    head = [nn.Flatten()] + ([nn.Dropout(dropout)] if dropout > 0 else []) + [nn.Linear(width * side * side, n_classes)]
    model = nn.Sequential(*stages, nn.Sequential(*head))
    init_weights(model, init)
    return model


def _res_block(width: int, out: int, stride: int, spatial_dropout: float) -> nn.Module:
    """A basic residual block (He et al. 2016): two Conv3x3-BatchNorm, ReLU, a projected skip when the shape
    changes, Dropout2d (whole channels) after."""

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(width, out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
                nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out))
            self.skip = nn.Identity() if stride == 1 and width == out else nn.Sequential(
                nn.Conv2d(width, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
            self.drop = nn.Dropout2d(spatial_dropout) if spatial_dropout > 0 else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.drop(F.relu(self.body(x) + self.skip(x)))

    return Block()


def build_resnet(in_channels: int, n_classes: int, *, widths: tuple[int, ...] = (32, 64, 128), blocks: int = 1,
                 dropout: float = 0.0, spatial_dropout: float = 0.0, init: str = "kaiming") -> nn.Sequential:
    """A small ResNet for images of any size: a Conv3x3 stem, then per width ``blocks`` residual blocks (the first
    of each later stage halves height and width), global average pooling and a linear head.

    Returns:
        ``nn.Sequential`` whose top-level children are the stem, the stages, then the head (layer groups for
        discriminative learning rates and freezing).

    Example:
        >>> build_resnet(3, 4, widths=(8, 16))(torch.zeros(2, 3, 20, 20)).shape
        torch.Size([2, 4])
    """
    _probability(dropout, "model.dropout")
    _probability(spatial_dropout, "model.spatial_dropout")
    _choice(init, INIT_SCHEMES, "model.init")
    if not widths or any(int(w) < 1 for w in widths) or blocks < 1:
        raise ConfigError(f"model.widths must be one or more positive widths and model.blocks >= 1, got {widths}, "
                          f"{blocks}", path="model.widths")
    stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                         nn.ReLU())
    stages, width = [], int(widths[0])
    for s, out in enumerate(map(int, widths)):
        stages.append(nn.Sequential(*[_res_block(width if b == 0 else out, out, 2 if s > 0 and b == 0 else 1,
                                                 spatial_dropout) for b in range(blocks)]))
        width = out
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), *([nn.Dropout(dropout)] if dropout > 0 else []),
                         nn.Linear(width, n_classes))
    model = nn.Sequential(stem, *stages, head)
    init_weights(model, init)
    return model


def build_digit_cnn(n_classes: int, *, dropout: float = 0.0) -> nn.Sequential:
    """The digit CNN of ccexam's pretrained MNIST/USPS nets (Conv32-ReLU-Pool, Conv64-ReLU-Pool, Linear 128, ReLU,
    Linear) for 1 x 28 x 28 inputs, as layer groups: two stages, then the head. ``models.vision.pretrained``
    loads their weights into it.

    Example:
        >>> build_digit_cnn(3)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 3])
    """
    _probability(dropout, "model.dropout")
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                      *([nn.Dropout(dropout)] if dropout > 0 else []), nn.Linear(128, n_classes)))
