"""Charts that compare: runs' validation curves, metrics by group (fairness), models on a radar."""

from __future__ import annotations

import textwrap

import numpy as np

from trainwright.report.charts._render import (
    _GREY,
    _INK,
    _WARN,
    PALETTE,
    _figure,
    _floats,
    _integer_x,
    _legend,
    _line_style,
    _log_if_wide,
    _same_length,
    _short,
    _style,
    _svg,
    _thin,
    _xticklabels,
    _xy,
)

__all__ = ["group_bars", "overlaid_curves", "radar"]


def overlaid_curves(runs: dict, *, x_label: str = "epoch", y_label: str = "validation loss",
                    title: str = "Validation curves") -> str:
    """Validation curves of several runs on one axis.

    Args:
        runs: run name -> {"x": [...], "y": [...]}.
        x_label, y_label, title: text of the chart.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: a run is not {"x", "y"} of equal length.

    Example:
        >>> overlaid_curves({"a": {"x": [1, 2], "y": [0.9, 0.7]}, "b": {"x": [1, 2], "y": [0.8, 0.75]}})[:4]
        '<svg'
    """
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        every, all_x = [np.array([])], []
        for i, (name, s) in enumerate(runs.items()):
            x, y = _xy(s, f"runs[{name!r}]")
            ax.plot(*_thin(x, y), label=str(name), **_line_style(i))
            every.append(y)
            all_x.append(x)
        _log_if_wide(ax, np.concatenate(every), decades=2)
        _integer_x(ax, *all_x)
        ax.set(xlabel=x_label, ylabel=y_label, title=title)
        _legend(ax)
        return _svg(fig, title)


def group_bars(groups, metrics: dict, *, title: str = "Metrics by group", highlight=()) -> str:
    """Fairness metrics per group as grouped bars; groups that fall behind are hatched and labelled.

    Args:
        groups: group names.
        metrics: metric name -> value per group (None where it cannot be computed).
        title: title of the chart.
        highlight: names of groups to mark "behind".

    Returns:
        Inline SVG.

    Raises:
        ConfigError: a metric's values do not align with groups.

    Example:
        >>> group_bars(["a", "b"], {"recall": [0.8, 0.6]}, highlight=["b"])[:4]
        '<svg'
    """
    groups = [str(g) for g in groups]
    marked = {str(h) for h in highlight}
    k, m = len(groups), max(1, len(metrics))
    values = {name: _floats(v, f"metrics[{name!r}]") for name, v in metrics.items()}
    for name, v in values.items():
        _same_length(groups=groups, **{f"metrics[{name!r}]": v})
    everything = np.concatenate([np.array([0.0]), *values.values()])
    top = np.nanmax(everything) if np.isfinite(everything).any() else 1.0
    with _style():
        fig = _figure(max(6.4, min(12.0, 0.25 * k * m + 2.5)), 3.6)
        ax = fig.add_subplot()
        pos, width = np.arange(k), 0.8 / m
        for j, (name, v) in enumerate(values.items()):
            xs = pos - 0.4 + width * (j + 0.5)
            bars = ax.bar(xs, np.nan_to_num(v), width, color=PALETTE[j % len(PALETTE)], label=str(name))
            for g, bar, x, val in zip(groups, bars, xs, v):
                if g in marked:
                    bar.set(hatch="///", edgecolor=_INK, linewidth=0.9)
                if np.isnan(val):
                    ax.annotate("n/a", (x, 0), xytext=(0, 3), textcoords="offset points", rotation=90,
                                ha="center", va="bottom", fontsize=7, color=_GREY)
        for p, g in zip(pos, groups):
            if g in marked:
                here = [v[p] for v in values.values() if np.isfinite(v[p])]
                ax.text(p, max(here, default=0.0) + 0.02 * top, "behind", ha="center", va="bottom",
                        color=_WARN, fontsize=8.5, fontweight="bold")
        _xticklabels(ax, pos, groups)
        ax.grid(axis="x", visible=False)
        ax.set_ylim(min(0.0, np.nanmin(everything)), 1.1 if 0 <= top <= 1 else top * 1.12)
        ax.set(xlabel="group", ylabel="value", title=title)
        _legend(ax)
        return _svg(fig, title)


def radar(runs: dict, metrics: list, *, title: str = "Model comparison", floor: float = 0.0) -> str:
    """Several models over metrics in [0, 1] on a radar (polar) chart, one translucent polygon each.

    Args:
        runs: run name -> {metric: value}; a missing or None value is drawn at the centre and noted.
        metrics: the metrics, one spoke each, e.g. ["accuracy", "precision", "recall", "F1"].
        title: title of the chart.
        floor: the value at the centre (0 shows the whole scale; a higher floor separates models that are
            all close to 1, and the rings are labelled so the reader sees the scale starts there).

    Returns:
        Inline SVG.

    Example:
        >>> radar({"gbdt": {"accuracy": 0.9, "recall": 0.8, "F1": 0.85}}, ["accuracy", "recall", "F1"])[:4]
        '<svg'
    """
    angles = np.linspace(0, 2 * np.pi, len(metrics), endpoint=False)
    closed = np.append(angles, angles[:1])
    missing = []
    with _style():
        fig = _figure(6.4, 4.6)
        ax = fig.add_subplot(projection="polar")
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        highest = 1.0
        for i, (run, scores) in enumerate(runs.items()):
            raw = [scores.get(m) for m in metrics]
            missing += [f"{run}: {m}" for m, s in zip(metrics, raw) if s is None]
            vals = np.clip(np.nan_to_num(_floats(raw, f"runs[{run!r}]"), nan=floor), floor, None)
            highest = max(highest, float(vals.max(initial=0.0)))
            color = PALETTE[i % len(PALETTE)]
            ax.plot(closed, np.append(vals, vals[:1]), color=color, linewidth=1.5, label=str(run))
            ax.fill(closed, np.append(vals, vals[:1]), color=color, alpha=0.12)
        ax.set_xticks(angles, [_short(m, 18) for m in metrics])
        ax.set_ylim(floor, highest)
        rings = np.linspace(floor, 1.0, 5)[1:]
        ax.set_yticks(rings, [f"{r:.3g}" for r in rings], fontsize=7, color=_GREY)
        if missing:
            note = f"No value, drawn at {floor:g}: " + "; ".join(missing)
            ax.set_xlabel("\n".join(textwrap.wrap(note, 90)), fontsize=8, color=_WARN, labelpad=12)
        ax.set_title(title, pad=16)
        _legend(ax, bbox_to_anchor=(1.12, 1.0))
        return _svg(fig, title)
