"""Integrated gradients through a network's token embeddings (Sundararajan et al. 2017, section 6.3 for text):
each token's share of an output, integrated along the straight path from the padding token's vector at every
position to the text's own vectors. The token ids, and so the padding mask and the positions, stay those of the
text: only what each token contributes moves. The shares add up to the output at the text minus the output at
that baseline (completeness); the largest error of that sum over the rows is returned with them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["token_integrated_gradients"]


def token_integrated_gradients(forward: Callable, embedding, x, outputs: np.ndarray, *, steps: int = 32,
                               pad: int = 0) -> tuple[np.ndarray, float]:
    """Per-token attributions of ``forward(x)[:, outputs[i]]`` for every row ``i`` of ``x`` (token ids).

    Args:
        forward: (rows, length) ids -> (rows, outputs), the network and what it explains (e.g. log-odds).
        embedding: the network's token embedding module (its forward output is replaced along the path).
        outputs: (rows,) which output each row explains.
        steps: points of the Gauss-Legendre rule along the path.

    Returns:
        ((rows, length) attributions, the largest completeness error). Positions the network did not read (a
        batch cut to its longest text) get 0.

    Example:
        >>> import torch
        >>> from trainwright.models.text.layers import build_text_gru
        >>> net = build_text_gru(20, 2, embed_dim=4, hidden=4).eval()
        >>> x = torch.tensor([[3.0, 4.0, 5.0, 0.0]])
        >>> phi, error = token_integrated_gradients(net, net.token_embedding(), x, np.array([1]), steps=64)
        >>> phi.shape, float(phi[0, 3]), error < 1e-2
        ((1, 4), 0.0, True)
    """
    import torch

    values, worst = np.zeros(tuple(x.shape)), 0.0
    # Gauss-Legendre points on [0, 1] (captum's default rule), then the text itself (alpha 1) and the baseline
    # (alpha 0) for the completeness error
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alpha = torch.tensor(np.r_[(nodes + 1) / 2, 1.0, 0.0], dtype=torch.float32)
    weight = torch.tensor(weights / 2, dtype=torch.float32).view(-1, *([1] * (x.dim())))
    path: dict = {}

    def along_the_path(module, inputs, out):
        base = module.weight[pad].detach()
        path["difference"] = (out.detach() - base)[0]
        scaled = base + alpha.view(-1, *([1] * (out.dim() - 1))) * (out.detach() - base)
        path["scaled"] = scaled.requires_grad_(True)
        return path["scaled"]

    handle = embedding.register_forward_hook(along_the_path)
    try:
        with torch.enable_grad():
            for i in range(len(x)):
                out = forward(x[i:i + 1].expand(steps + 2, -1))[:, int(outputs[i])]
                (gradient,) = torch.autograd.grad(out[:steps].sum(), path["scaled"])
                share = (path["difference"] * (weight * gradient[:steps]).sum(0)).sum(-1).double()  # (tokens read,)
                values[i, :len(share)] = share.numpy()
                worst = max(worst, abs(float(out[steps].detach() - out[steps + 1].detach()) - float(share.sum())))
    finally:
        handle.remove()
    return values, worst
