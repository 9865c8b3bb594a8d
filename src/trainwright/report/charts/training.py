"""Charts of training: learning curves, the learning-rate schedule, the leaderboard and class balance."""

from __future__ import annotations

import numpy as np

from trainwright.report.charts._render import (
    _BAR,
    _WARN,
    PALETTE,
    _bar_height,
    _figure,
    _floats,
    _fmt,
    _integer_x,
    _legend,
    _line_style,
    _log_if_wide,
    _note,
    _same_length,
    _short,
    _style,
    _svg,
    _thin,
    _vline,
    _xticklabels,
    _xy,
)

__all__ = ["class_balance", "leaderboard_bars", "learning_curves", "lr_curve"]


def learning_curves(series: dict, *, x_label: str = "epoch", y_label: str = "loss", best=None,
                    overfit_from=None, title: str | None = None) -> str:
    """Training and validation curves, with the best epoch and the overfitting zone marked.

    Args:
        series: label -> {"x": [...], "y": [...]}, e.g. "train loss", "validation loss".
        x_label, y_label: axis labels.
        best: x of the best validation score; drawn as a dotted line labelled "best: <x>".
        overfit_from: x from which validation stops improving; shaded light red to the end.
        title: defaults to "Learning curves". y is log-scaled when values span > 2 decades.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: a series is not {"x", "y"} of equal length.

    Example:
        >>> learning_curves({"train loss": {"x": [1, 2], "y": [1.0, 0.5]}}, best=2).startswith("<svg")
        True
    """
    title = title or "Learning curves"
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        all_x, all_y = [], []
        for i, (name, s) in enumerate(series.items()):
            x, y = _xy(s, f"series[{name!r}]")
            ax.plot(*_thin(x, y), label=str(name), **_line_style(i))
            all_x.append(x)
            all_y.append(y)
        _log_if_wide(ax, np.concatenate(all_y) if all_y else np.array([]), decades=2)
        _integer_x(ax, *all_x)
        if overfit_from is not None:
            right = max([np.nanmax(x) for x in all_x if x.size] + [float(overfit_from)])
            ax.axvspan(float(overfit_from), right, color=PALETTE[3], alpha=0.08, linewidth=0)
            left = ax.get_xlim()[0]
            late = (float(overfit_from) - left) > 0.6 * (right - left)
            _note(ax, right if late else float(overfit_from), 0.86, "validation stops improving",
                  ha="right" if late else "left", va="top", coords=("data", "axes fraction"), color=_WARN,
                  fontsize=8.5)
        if best is not None:
            _vline(ax, float(best), f"best: {_fmt(best)}")
        ax.set(xlabel=x_label, ylabel=y_label, title=title)
        _legend(ax)
        return _svg(fig, title)


def lr_curve(x, lr, *, x_label: str = "epoch") -> str:
    """The learning-rate schedule; log y when it spans more than one decade.

    Args:
        x: steps or epochs.
        lr: learning rate at each x.
        x_label: label of the x axis.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: x and lr differ in length.

    Example:
        >>> lr_curve([1, 2, 3], [0.1, 0.01, 0.001])[:4]
        '<svg'
    """
    x_arr, lr_arr = _floats(x, "x"), _floats(lr, "lr")
    _same_length(x=x_arr, lr=lr_arr)
    title = "Learning-rate schedule"
    with _style():
        fig = _figure(6.4, 3.0)
        ax = fig.add_subplot()
        ax.plot(*_thin(x_arr, lr_arr), color=PALETTE[0])
        _log_if_wide(ax, lr_arr, decades=1)
        _integer_x(ax, x_arr)
        ax.set(xlabel=x_label, ylabel="learning rate", title=title)
        return _svg(fig, title)


def leaderboard_bars(names, values, *, metric: str = "score", lower_is_better: bool = False, chosen=None) -> str:
    """Models ranked best first as horizontal bars; the chosen model is coloured, the rest grey.

    Args:
        names: model names.
        values: their scores (None for a model that failed).
        metric: name of the score, shown on the x axis.
        lower_is_better: ranks ascending when True.
        chosen: name of the chosen model.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: names and values differ in length.

    Example:
        >>> leaderboard_bars(["gbdt", "mlp"], [0.91, 0.88], metric="accuracy", chosen="gbdt")[:4]
        '<svg'
    """
    vals = _floats(values, "values")
    _same_length(names=names, values=vals)
    key = np.where(np.isnan(vals), np.inf, vals if lower_is_better else -vals)
    order = np.argsort(key, kind="stable")
    title = "Leaderboard"
    with _style():
        fig = _figure(6.4, _bar_height(len(order)))
        ax = fig.add_subplot()
        pos = np.arange(len(order))
        is_chosen = [chosen is not None and names[i] == chosen for i in order]
        ax.barh(pos, np.nan_to_num(vals[order]), height=0.65, color=[PALETTE[0] if c else _BAR for c in is_chosen])
        labels = [_short(names[i], 32) + (" (chosen)" if c else "") for i, c in zip(order, is_chosen)]
        ax.set_yticks(pos, labels)
        for tick, c in zip(ax.get_yticklabels(), is_chosen):
            tick.set_fontweight("bold" if c else "normal")
        for y, i in zip(pos, order):
            v = vals[i]
            _note(ax, 0 if np.isnan(v) else v, y, "failed" if np.isnan(v) else _fmt(v),
                  ha="right" if v < 0 else "left")
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.15)
        ax.set(xlabel=f"{metric} ({'lower' if lower_is_better else 'higher'} is better)", title=title)
        return _svg(fig, title)


def class_balance(labels, counts_by_split: dict) -> str:
    """Each class's share of the rows in every split, as grouped bars.

    Shares (not counts) make splits of different sizes comparable: a
    stratified split gives bars of equal height within a class.

    Args:
        labels: class names.
        counts_by_split: split name ("train", "validation", "test") -> count per class.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: a split's counts do not align with labels.

    Example:
        >>> class_balance(["no", "yes"], {"train": [70, 30], "test": [14, 6]})[:4]
        '<svg'
    """
    title = "Class balance across splits"
    k, n = len(labels), max(1, len(counts_by_split))
    with _style():
        fig = _figure(max(6.4, min(12.0, 0.22 * k * n + 2.5)), 3.6)
        ax = fig.add_subplot()
        pos, width = np.arange(k), 0.8 / n
        for j, (split, counts) in enumerate(counts_by_split.items()):
            c = np.nan_to_num(_floats(counts, f"counts_by_split[{split!r}]"))
            _same_length(labels=labels, **{f"counts_by_split[{split!r}]": c})
            share = 100 * c / c.sum() if c.sum() > 0 else c
            ax.bar(pos - 0.4 + width * (j + 0.5), share, width, color=PALETTE[j % len(PALETTE)],
                   label=f"{split} ({int(c.sum()):,} rows)")
        _xticklabels(ax, pos, labels)
        ax.grid(axis="x", visible=False)
        ax.set(xlabel="class", ylabel="share of the split's rows (%)", title=title)
        _legend(ax)
        return _svg(fig, title)
