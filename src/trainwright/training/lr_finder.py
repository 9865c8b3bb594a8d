"""The learning-rate range test (Smith 2017; the fastai LR finder).

Train from the model's initial weights while the rate grows exponentially from
``start_lr`` to ``end_lr``, one mini-batch per rate; record the smoothed loss;
stop once it diverges. The suggested rate is where the smoothed loss falls
fastest per decade of rate (fastai's ``steep``), searched only below the rate of
the lowest loss, so a noisy tail after the minimum cannot win, and past the first
tenth of the sweep, as fastai does. The model gets
its initial weights back before ``find_lr`` returns.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from xml.sax.saxutils import escape

import torch

from trainwright.errors import ConfigError
from trainwright.training.optim import OptimizerConfig, build_optimizer, optimizer_config

__all__ = ["LRFinderResult", "find_lr"]

_BETA = 0.98  # smoothing of the recorded loss, as fastai


@dataclass(frozen=True)
class LRFinderResult:
    """What the range test saw and what it picked.

    Attributes:
        lrs: the rate of each recorded mini-batch, increasing.
        losses: the exponentially smoothed (bias-corrected) training loss after each.
        suggestion: the picked learning rate.
        reason: why that rate, in a sentence, for logs and reports.

    Example:
        >>> r = LRFinderResult(lrs=[1e-3, 1e-2, 1e-1], losses=[1.0, 0.5, 2.0], suggestion=1e-2, reason="demo")
        >>> r.to_dict()["suggestion"], r.to_svg().startswith("<svg")
        (0.01, True)
    """

    lrs: list[float]
    losses: list[float]
    suggestion: float
    reason: str

    def to_dict(self) -> dict:
        """The result as plain JSON-ready Python values."""
        return asdict(self)

    def to_svg(self, width: int = 640, height: int = 360) -> str:
        """A self-contained SVG plot of smoothed loss against rate (log x axis), the suggestion marked.

        Args:
            width: image width in pixels.
            height: image height in pixels.

        Returns:
            The SVG document as a string.
        """
        left, right, top, bottom = 64, 16, 28, 44
        pw, ph = width - left - right, height - top - bottom
        lx = [math.log10(v) for v in self.lrs]
        x_lo, x_hi = (min(lx), max(lx)) if lx else (0.0, 1.0)
        y_lo, y_hi = (min(self.losses), max(self.losses)) if self.losses else (0.0, 1.0)
        x_hi, y_hi = max(x_hi, x_lo + 1e-9), max(y_hi, y_lo + 1e-9)

        def px(v: float) -> float:
            return left + (math.log10(v) - x_lo) / (x_hi - x_lo) * pw

        def py(v: float) -> float:
            return top + (y_hi - v) / (y_hi - y_lo) * ph

        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
                 f'<rect width="{width}" height="{height}" fill="white"/>',
                 f'<text x="{left}" y="18" font-size="13">{escape(f"LR range test: suggested lr {self.suggestion:.3g}")}</text>',
                 f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
        for decade in range(math.ceil(x_lo), math.floor(x_hi) + 1):  # one tick per power of ten
            x = left + (decade - x_lo) / (x_hi - x_lo) * pw
            parts.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="#888"/>'
                         f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">1e{decade}</text>')
        for v in (y_lo, (y_lo + y_hi) / 2, y_hi):
            parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        parts.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">learning rate (log scale)</text>'
                     f'<text x="14" y="{top + ph / 2}" text-anchor="middle" '
                     f'transform="rotate(-90 14 {top + ph / 2})">smoothed loss</text>')
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(self.lrs, self.losses))
        parts.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
        if self.lrs and self.lrs[0] <= self.suggestion <= self.lrs[-1]:
            sx = px(self.suggestion)
            nearest = min(range(len(self.lrs)), key=lambda i: abs(math.log10(self.lrs[i] / self.suggestion)))
            parts.append(f'<line x1="{sx:.1f}" y1="{top}" x2="{sx:.1f}" y2="{top + ph}" stroke="#d62728" '
                         f'stroke-dasharray="4 3"/><circle cx="{sx:.1f}" cy="{py(self.losses[nearest]):.1f}" '
                         f'r="4" fill="#d62728"><title>{escape(self.reason)}</title></circle>')
        parts.append("</svg>")
        return "\n".join(parts)


def _check_args(start_lr: float, end_lr: float, steps: int, batch_size: int, diverge_factor: float, n: int) -> None:
    problems = []
    if not 0 < start_lr < end_lr:
        problems.append(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if steps < 5:
        problems.append(f"steps must be >= 5, got {steps}")
    if batch_size < 1:
        problems.append(f"batch_size must be >= 1, got {batch_size}")
    if diverge_factor <= 1:
        problems.append(f"diverge_factor must be > 1, got {diverge_factor}")
    if n < 1:
        problems.append("X holds no rows")
    if problems:
        raise ConfigError("find_lr: " + "; ".join(problems))


def _suggest(lrs: list[float], losses: list[float], skip: int = 0, window: int = 1) -> tuple[float, str]:
    """Steepest descent of the smoothed loss per decade of rate, searched below the lowest loss.

    The first ``skip`` points are left out (as fastai leaves out the first tenth of
    the sweep): the smoothed loss there averages only a few mini-batches. Slopes
    span ``window`` points, so one noisy mini-batch cannot make the steepest one.
    """
    skip = skip if len(losses) > skip + 2 else 0
    lowest = min(range(skip, len(losses)), key=losses.__getitem__)
    window = max(1, min(window, (lowest - skip) // 2))
    if lowest - skip < 2:
        return lrs[skip], (f"the loss did not fall between lr {lrs[skip]:.3g} and {lrs[-1]:.3g}; the smallest "
                           f"rate tried there is suggested: lower start_lr, or check the data and the model")
    slopes = {i: (losses[i + window] - losses[i]) / math.log10(lrs[i + window] / lrs[i])
              for i in range(skip, lowest - window + 1)}
    i = min(slopes, key=slopes.__getitem__)
    suggestion = math.sqrt(lrs[i] * lrs[i + window])  # the middle of the steepest span, on the log scale
    return suggestion, (f"steepest descent of the smoothed loss at lr {suggestion:.3g} ({-slopes[i]:.3g} per decade "
                        f"of rate); the lowest loss, {losses[lowest]:.3g}, was at lr {lrs[lowest]:.3g}")


def find_lr(model: torch.nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
            optimizer: OptimizerConfig | None = None, start_lr: float = 1e-7, end_lr: float = 10.0,
            steps: int = 100, batch_size: int = 64, seed: int = 0, diverge_factor: float = 4.0) -> LRFinderResult:
    """Smith's LR range test: grow the rate exponentially per mini-batch and watch the loss.

    The loss is smoothed with an exponential moving average (beta 0.98,
    bias-corrected). The sweep stops early once the smoothed loss exceeds
    ``diverge_factor`` times the best so far, or the loss is not finite. The
    suggestion is the rate where the smoothed loss falls fastest per decade of
    rate, searched below the rate of the lowest loss and past the first tenth of
    the sweep (where the average holds only a few mini-batches). With ``layer_lr_decay``
    the groups keep their ratios; the reported rate is the last group's. The
    model's weights, buffers and train/eval mode are restored before returning,
    and the global random state is left untouched.

    Args:
        model: the network, on the device of ``X``.
        loss_fn: ``loss_fn(output, target)`` -> scalar mean loss.
        X, y: training inputs and targets; mini-batches are drawn by index, reshuffled each pass.
        optimizer: the optimizer to test (its ``lr`` is ignored); default ``optimizer_config()`` (adamw).
        start_lr, end_lr: the rates of the first and the last mini-batch.
        steps: mini-batches in the full sweep (>= 5).
        batch_size: rows per mini-batch.
        seed: seeds the batch order and any randomness in the model (dropout).
        diverge_factor: stop once the smoothed loss exceeds this multiple of its best.

    Returns:
        The rates, smoothed losses, suggested rate and the reason for it.

    Raises:
        ConfigError: an argument is out of range.

    Example:
        >>> torch.manual_seed(0) and None
        >>> X = torch.randn(256, 3); y = X @ torch.tensor([1.0, -2.0, 0.5])
        >>> net = torch.nn.Linear(3, 1)
        >>> r = find_lr(net, lambda out, t: ((out.squeeze(1) - t) ** 2).mean(), X, y, steps=60)
        >>> 1e-4 < r.suggestion < 10
        True
    """
    _check_args(start_lr, end_lr, steps, batch_size, diverge_factor, len(X))
    config = optimizer or optimizer_config()
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was_training = model.training
    devices = [X.device] if X.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return _sweep(model, loss_fn, X, y, config, start_lr, end_lr, steps, batch_size, diverge_factor)
    finally:
        model.load_state_dict(initial)
        model.train(was_training)


def _sweep(model, loss_fn, X, y, config, start_lr, end_lr, steps, batch_size, diverge_factor) -> LRFinderResult:
    opt = build_optimizer(model, config)
    ratios = [g["lr"] / config.lr for g in opt.param_groups]  # discriminative rates keep their ratios
    order = torch.randperm(len(X), device=X.device)
    cursor, avg, best = 0, 0.0, math.inf
    lrs, losses, stopped = [], [], ""
    model.train()
    for i in range(steps):
        lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
        for group, ratio in zip(opt.param_groups, ratios):
            group["lr"] = lr * ratio
        if cursor + batch_size > len(X) and cursor > 0:  # a new pass over the rows
            order, cursor = torch.randperm(len(X), device=X.device), 0
        idx = order[cursor:cursor + batch_size]
        cursor += batch_size
        loss = loss_fn(model(X[idx]), y[idx])
        value = float(loss.detach())
        if not math.isfinite(value):
            stopped = f"; stopped at step {i + 1} of {steps}: the loss became {value}"
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        avg = _BETA * avg + (1 - _BETA) * value
        smoothed = avg / (1 - _BETA ** (i + 1))
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if best > 0 and smoothed > diverge_factor * best:
            stopped = f"; stopped at step {i + 1} of {steps}: the loss passed {diverge_factor:g}x its best"
            break
    if len(losses) < 3:
        raise ConfigError(f"find_lr: the loss diverged after {len(losses)} steps, already at lr {lr:.3g}; "
                          f"lower start_lr (now {start_lr:g})")
    suggestion, reason = _suggest(lrs, losses, skip=steps // 10, window=max(1, steps // 20))
    return LRFinderResult(lrs=lrs, losses=losses, suggestion=suggestion, reason=reason + stopped)
