"""A trained network made smaller: int8 weights for its ``nn.Linear`` layers (torch's dynamic quantisation:
weights stored as int8 with one scale per output unit, activations quantised on the fly) and global magnitude
pruning of its ``Linear``/``Conv`` weights; with the saved form of each (safetensors, no pickle).

Quantised weights are saved as their int8 values, scales and zero points and rebuilt exactly at load. Pruned
weights are saved as a bit mask and the values kept, so the file shrinks with the share pruned (dense matrix
products do not get faster from zeros: the report measures it).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

__all__ = ["quantize", "quantized_state", "load_quantized", "prune_weights", "finish_pruning", "packed_state",
           "unpacked_state"]

_INT8, _SCALE, _ZERO, _MASK, _KEPT = ".int8", ".scale", ".zero_point", ".mask", ".kept"


@contextlib.contextmanager
def _quiet():
    """torch marks its eager quantisation API deprecated (in favour of torchao, not installed here); it still
    works, so its warnings are not the user's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def _quantize_modules(net):
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with _quiet():
        return quantize_dynamic(net, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def _quantized_linears(net) -> dict:
    from torch.ao.nn.quantized.dynamic import Linear

    return {name: m for name, m in net.named_modules() if isinstance(m, Linear)}


def quantize(net):
    """A copy of ``net`` (float, CPU, eval mode) whose ``nn.Linear`` layers hold int8 weights, one symmetric
    scale per output unit.

    Raises:
        ConfigError: the network has no ``nn.Linear`` layer, or this torch lacks its dynamic quantisation.

    Example:
        >>> import torch
        >>> q = quantize(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)))
        >>> type(q[0]).__name__, q(torch.zeros(1, 4)).shape
        ('Linear', torch.Size([1, 2]))
    """
    import copy

    from trainwright.errors import ConfigError

    try:
        out = _quantize_modules(copy.deepcopy(net).cpu().eval())
    except (ImportError, AttributeError, RuntimeError) as exc:
        raise ConfigError(f"this torch cannot quantise to int8 ({type(exc).__name__}: {exc}); install a torch "
                          "with torch.ao.quantization (2.1 to 2.13), or use --method prune or distill",
                          path="--method") from None
    if not _quantized_linears(out):
        raise ConfigError("the network has no Linear layer to quantise (only Linear layers are quantised to int8); "
                          "use --method prune or distill", path="--method")
    return out


def quantized_state(net) -> dict:
    """The tensors that rebuild a quantised network exactly: its float parameters and buffers, and for each
    quantised Linear its int8 weights, scales, zero points and bias."""
    import torch

    with _quiet():
        linears = _quantized_linears(net)
        tensors = {k: v for k, v in net.state_dict().items() if hasattr(v, "is_quantized") and not v.is_quantized
                   and k.rpartition(".")[0] not in linears}  # not the layers' unused output scale and zero point
        for name, module in linears.items():
            weight, bias = module._weight_bias()
            scales = weight.q_per_channel_scales()
            assert torch.equal(scales.float().double(), scales)  # float32 values: saved as float32, exactly
            tensors[name + ".weight" + _INT8] = weight.int_repr().contiguous()
            tensors[name + ".weight" + _SCALE] = scales.float().contiguous()
            tensors[name + ".weight" + _ZERO] = weight.q_per_channel_zero_points().int().contiguous()
            if bias is not None:
                tensors[name + ".bias"] = bias.detach().contiguous()
    return tensors


def load_quantized(net, tensors: dict):
    """The quantised form of the float network ``net`` (freshly built) with the saved ``tensors`` put back."""
    import torch

    floats = {}
    for key, value in tensors.items():
        if key.endswith(".weight" + _INT8):
            base = key[: -len(_INT8)]
            scale, zero = tensors[base + _SCALE], tensors[base + _ZERO]
            floats[base] = ((value.double() - zero.double()[:, None]) * scale.double()[:, None]).float()
        elif not key.endswith((_SCALE, _ZERO)):
            floats[key] = value
    net.load_state_dict(floats)
    out = _quantize_modules(net.eval())
    with _quiet():
        for name, module in _quantized_linears(out).items():
            key = name + ".weight"
            weight = torch.quantize_per_channel(floats[key], tensors[key + _SCALE].double(),
                                                tensors[key + _ZERO].long(), 0, torch.qint8)
            assert torch.equal(weight.int_repr(), tensors[key + _INT8]), key  # rebuilt exactly
            module.set_weight_bias(weight, floats.get(name + ".bias"))
    return out


def _prunable(net) -> list:
    import torch

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)
    return [(m, "weight") for m in net.modules() if isinstance(m, kinds) and m.weight.requires_grad]


def prune_weights(net, amount: float) -> int:
    """Zero the ``amount`` share of the smallest-magnitude weights of every trainable Linear and Conv layer,
    ranked together (global, unstructured). The zeros stay zero while the network is fine-tuned (torch's
    pruning masks) until ``finish_pruning``. Returns how many weights were zeroed.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.Linear(10, 2))
        >>> prune_weights(net, 0.5), finish_pruning(net), int((net[0].weight == 0).sum() + (net[1].weight == 0).sum())
        (60, None, 60)
    """
    from torch.nn.utils import prune

    from trainwright.errors import ConfigError

    targets = _prunable(net)
    if not targets:
        raise ConfigError("the network has no trainable Linear or Conv layer to prune; use --method distill",
                          path="--method")
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(amount))
    return int(sum(int((m.weight_mask == 0).sum()) for m, _ in targets))


def finish_pruning(net) -> None:
    """Make the pruning permanent: the masks are folded into the weights (plain tensors with zeros)."""
    from torch.nn.utils import prune

    for module in net.modules():
        if prune.is_pruned(module) and hasattr(module, "weight_mask"):
            prune.remove(module, "weight")


def packed_state(state: dict, *, min_zeros: float = 0.25) -> dict:
    """A state dict with each float tensor that is at least ``min_zeros`` zeros stored as a bit mask (uint8)
    and its non-zero values, the rest as they are.

    Example:
        >>> import torch
        >>> w = torch.zeros(4, 4); w[0, 1] = 2.0
        >>> packed = packed_state({"w": w, "b": torch.ones(4)})
        >>> sorted(packed), packed["w.kept"].tolist(), torch.equal(unpacked_state(packed)["w"], w)
        (['b', 'w.kept', 'w.mask', 'w.shape'], [2.0], True)
    """
    import torch

    out = {}
    for key, value in state.items():
        if value.is_floating_point() and value.numel() >= 16 and float((value == 0).float().mean()) >= min_zeros:
            keep = (value != 0).reshape(-1).numpy()
            out[key + _MASK] = torch.from_numpy(np.packbits(keep))
            out[key + _KEPT] = value.reshape(-1)[torch.from_numpy(keep)].contiguous()
            out[key + ".shape"] = torch.tensor(list(value.shape), dtype=torch.int64)
        else:
            out[key] = value.contiguous()
    return out


def unpacked_state(tensors: dict) -> dict:
    """The dense state dict of ``packed_state``'s output."""
    import torch

    out = {}
    for key, value in tensors.items():
        if key.endswith(_MASK):
            base = key[: -len(_MASK)]
            kept = tensors[base + _KEPT]
            shape = tensors.get(base + ".shape")
            n = int(torch.prod(shape)) if shape is not None else kept.numel()
            mask = torch.from_numpy(np.unpackbits(value.numpy())[:n].astype(bool))
            dense = torch.zeros(n, dtype=kept.dtype)
            dense[mask] = kept
            out[base] = dense.reshape(shape.tolist() if shape is not None else (n,))
        elif not key.endswith((_KEPT, ".shape")):
            out[key] = value
    return out
