"""Charts of a hyperparameter study: optimisation history, parallel coordinates, pruned trials' curves.

Each takes the ``trials`` rows of ``study.json`` (``search.study.study_summary``): number, state, value, params,
intermediate ``[[step, value], ...]``.
"""

from __future__ import annotations

import numpy as np

from trainwright.report.charts._render import PALETTE, _figure, _legend, _short, _style, _svg

__all__ = ["optimisation_history", "parallel_coordinates", "trial_curves"]

_GREY = "#9a9a9a"


def optimisation_history(trials: list[dict], *, metric: str, minimize: bool) -> str:
    """Each finished trial's value by trial number, the best so far as a step line, pruned trials as marks.

    Example:
        >>> rows = [{"number": 0, "state": "complete", "value": 0.5}, {"number": 1, "state": "pruned", "value": None},
        ...         {"number": 2, "state": "complete", "value": 0.3}]
        >>> optimisation_history(rows, metric="log_loss", minimize=True)[:4]
        '<svg'
    """
    done = [t for t in trials if t["state"] == "complete" and t.get("value") is not None]
    pruned = [t for t in trials if t["state"] == "pruned"]
    title = "Optimisation history"
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        if done:
            x = np.array([t["number"] for t in done])
            y = np.array([t["value"] for t in done], dtype=float)
            best = np.minimum.accumulate(y) if minimize else np.maximum.accumulate(y)
            ax.scatter(x, y, s=22, color=PALETTE[0], label="finished trial", zorder=3)
            ax.step(x, best, where="post", color=PALETTE[3], linewidth=1.6, label="best so far")
        if pruned:
            low, high = ax.get_ylim() if done else (0.0, 1.0)
            ax.scatter([t["number"] for t in pruned], [high] * len(pruned), marker="v", s=18, color=_GREY,
                       label="pruned (stopped early)", zorder=2, clip_on=False)
            ax.set_ylim(low, high)
        ax.set(xlabel="trial", ylabel=f"{metric} ({'lower' if minimize else 'higher'} is better)", title=title)
        _legend(ax)
        return _svg(fig, title)


def parallel_coordinates(trials: list[dict], *, metric: str, minimize: bool, top: int = 8) -> str:
    """Finished trials as lines across their parameters (each axis scaled to its range, log for wide positive
    ranges, categories spaced evenly), coloured by value: the darker, the better.

    Example:
        >>> rows = [{"number": i, "state": "complete", "value": v, "params": {"a": i, "b": "x" if i else "y"}}
        ...         for i, v in enumerate([0.5, 0.4, 0.2])]
        >>> parallel_coordinates(rows, metric="rmse", minimize=True)[:4]
        '<svg'
    """
    from matplotlib import cm

    done = [t for t in trials if t["state"] == "complete" and t.get("value") is not None and t.get("params")]
    names = list(dict.fromkeys(p for t in done for p in t["params"]))[:top]
    title = "Parallel coordinates"
    with _style():
        fig = _figure(7.2, 3.8)
        ax = fig.add_subplot()
        if done and names:
            columns = [_scaled([t["params"].get(n) for t in done]) for n in names]
            values = np.array([t["value"] for t in done], dtype=float)
            span = np.ptp(values) or 1.0
            goodness = (values.max() - values) / span if minimize else (values - values.min()) / span
            order = np.argsort(goodness)  # the best drawn last, on top
            for i in order:
                ax.plot(range(len(names)), [c[0][i] for c in columns], color=cm.viridis_r(0.15 + 0.85 * goodness[i]),
                        alpha=0.55 + 0.45 * goodness[i], linewidth=1.0 + goodness[i])
            ax.set_xticks(range(len(names)), [_short(n.split(".")[-1], 18) for n in names], rotation=20, ha="right")
            for j, (_, labels) in enumerate(columns):
                ax.text(j, 1.02, labels[1], ha="center", va="bottom", fontsize=7.5)
                ax.text(j, -0.02, labels[0], ha="center", va="top", fontsize=7.5)
        ax.set_yticks([])
        ax.set_ylim(-0.12, 1.12)
        ax.set(title=f"{title} (colour: {metric}, darker is better)")
        return _svg(fig, title)


def _scaled(values: list) -> tuple[np.ndarray, tuple[str, str]]:
    """Values on [0, 1] and the labels of the ends."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None) and any(
            v is not None for v in values):
        x = np.array([np.nan if v is None else float(v) for v in values])
        low, high = np.nanmin(x), np.nanmax(x)
        log = low > 0 and high / low > 50
        t = np.log10(x) if log else x
        lo, hi = (np.log10(low), np.log10(high)) if log else (low, high)
        scaled = (t - lo) / (hi - lo) if hi > lo else np.full(len(x), 0.5)
        return np.nan_to_num(scaled, nan=0.5), (f"{low:.3g}", f"{high:.3g}")
    levels = sorted({str(v) for v in values})
    pos = {v: (i / (len(levels) - 1) if len(levels) > 1 else 0.5) for i, v in enumerate(levels)}
    return np.array([pos[str(v)] for v in values]), (_short(levels[0], 12), _short(levels[-1], 12))


def trial_curves(trials: list[dict], *, minimize: bool, unit: str = "iteration") -> str:
    """The values each trial reported as it trained (what the pruner saw): pruned trials in grey, ending where
    they were stopped; finished ones in colour.

    Example:
        >>> rows = [{"number": 0, "state": "complete", "intermediate": [[1, 0.9], [2, 0.5]]},
        ...         {"number": 1, "state": "pruned", "intermediate": [[1, 1.2]]}]
        >>> trial_curves(rows, minimize=True)[:4]
        '<svg'
    """
    title = "Trials as they trained"
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        shown = {"pruned": False, "complete": False}
        for t in trials:
            pts = t.get("intermediate") or []
            if not pts or t["state"] not in shown:
                continue
            x, y = np.array(pts, dtype=float).T
            if t.get("reported", "loss") == "loss" and not minimize:
                y = -y  # losses were reported negated to a maximised study
            pruned = t["state"] == "pruned"
            ax.plot(x, y, color=_GREY if pruned else PALETTE[0], alpha=0.6 if pruned else 0.9,
                    linewidth=0.9 if pruned else 1.3,
                    label=None if shown[t["state"]] else ("pruned trial" if pruned else "finished trial"))
            if pruned:
                ax.plot(x[-1:], y[-1:], marker="x", color=PALETTE[3], markersize=4)
            shown[t["state"]] = True
        reported = next((t.get("reported") for t in trials if t.get("reported")), "loss")
        ax.set(xlabel=unit if reported == "loss" else "fold",
               ylabel="validation loss" if reported == "loss" else f"mean {reported} so far", title=title)
        if any(shown.values()):
            _legend(ax)
        return _svg(fig, title)
