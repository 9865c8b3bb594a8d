"""Charts of a model's performance: classification (confusion, ROC, PR, calibration, threshold) and regression."""

from __future__ import annotations

import numpy as np

from trainwright.errors import ConfigError
from trainwright.report.charts._render import (
    _BAR,
    _GREY,
    _INK,
    PALETTE,
    _figure,
    _floats,
    _fmt,
    _legend,
    _line_style,
    _note,
    _same_length,
    _scatter_kw,
    _short,
    _style,
    _svg,
    _thin,
    _vline,
    _xticklabels,
)

__all__ = ["confusion_matrix", "pr_curves", "predicted_vs_actual", "reliability", "residuals", "roc_curves", "threshold_curve"]


def confusion_matrix(matrix, labels, *, normalized: bool = False, title: str = "Confusion matrix") -> str:
    """A heatmap with the number in each cell; rows are the true class, columns the predicted.

    Args:
        matrix: n x n counts, or shares when ``normalized`` (each row sums to 1).
        labels: the n class names.
        normalized: cells are written as 0.00 instead of whole counts.
        title: title of the chart.

    Returns:
        Inline SVG. Works from 2 to about 30 classes (fonts shrink, labels turn).

    Raises:
        ConfigError: matrix is not square with one row per label.

    Example:
        >>> confusion_matrix([[5, 1], [2, 7]], ["no", "yes"])[:4]
        '<svg'
    """
    m = np.asarray(matrix, dtype=float)
    n = len(labels)
    if m.shape != (n, n):
        raise ConfigError(f"matrix must be {n} x {n} (one row and column per label), got shape {m.shape}.",
                          path="matrix")
    side = 4.4 + max(0, n - 6) * 0.17
    size = 9 if n <= 6 else 8 if n <= 10 else 6.5 if n <= 16 else 5 if n <= 24 else 4
    scale = m / m.max() if np.nanmax(m) > 0 else m
    with _style():
        fig = _figure(side + 0.4, side)
        ax = fig.add_subplot()
        ax.imshow(scale, cmap="Blues", vmin=0, vmax=1, interpolation="none", aspect="equal")
        for (i, j), v in np.ndenumerate(m):
            text = f"{v:.2f}" if normalized else f"{v:.0f}"
            if np.isnan(v) or (n > 12 and float(text) == 0):  # blank zeros keep a big matrix readable
                continue
            ax.text(j, i, text, ha="center", va="center",
                    fontsize=size, color="white" if scale[i, j] > 0.55 else _INK)
        _xticklabels(ax, np.arange(n), labels, rotate_over=5)
        ax.set_yticks(np.arange(n), [_short(s, 20) for s in labels])
        ax.tick_params(labelsize=min(8.5, size + 1), length=0)
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set(xlabel="predicted class", ylabel="true class", title=title)
        return _svg(fig, title)


def roc_curves(curves: list) -> str:
    """ROC curve per class against the chance diagonal; legend "class (AUC 0.93)".

    Args:
        curves: list of {"class", "fpr": [...], "tpr": [...], "auc"}.

    Returns:
        Inline SVG. With one curve, its AUC is in the title and there is no legend.

    Raises:
        ConfigError: fpr and tpr differ in length.

    Example:
        >>> roc_curves([{"class": "yes", "fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1], "auc": 0.8}])[:4]
        '<svg'
    """
    with _style():
        fig = _figure(5.6, 4.4)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], linestyle="--", color=_GREY, linewidth=1)
        ax.text(0.62, 0.56, "chance", rotation=45, rotation_mode="anchor", color=_GREY, fontsize=8)
        for i, c in enumerate(curves):
            fpr, tpr = _floats(c["fpr"], "fpr"), _floats(c["tpr"], "tpr")
            _same_length(fpr=fpr, tpr=tpr)
            auc = f" (AUC {c['auc']:.2f})" if c.get("auc") is not None else ""
            ax.plot(*_thin(fpr, tpr), label=f"{_short(c['class'])}{auc}", **_line_style(i))
        title = "ROC curves"
        if len(curves) == 1:
            c = curves[0]
            title = f"ROC curve: {c['class']}" + (f" (AUC {c['auc']:.3f})" if c.get("auc") is not None else "")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal", title=title,
               xlabel="false positive rate", ylabel="true positive rate")
        _legend(ax, outside=len(curves) > 8, **({} if len(curves) > 8 else {"loc": "lower right"}))
        return _svg(fig, title)


def pr_curves(curves: list) -> str:
    """Precision-recall curve per class; each class's prevalence (no-skill baseline) dashed.

    Args:
        curves: list of {"class", "recall": [...], "precision": [...], "ap", "prevalence"}.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: recall and precision differ in length.

    Example:
        >>> svg = pr_curves([{"class": "yes", "recall": [0, 1], "precision": [1, 0.4], "ap": 0.7, "prevalence": 0.4}])
        >>> svg[:4]
        '<svg'
    """
    with _style():
        fig = _figure(5.6, 4.4)
        ax = fig.add_subplot()
        for i, c in enumerate(curves):
            rec, prec = _floats(c["recall"], "recall"), _floats(c["precision"], "precision")
            _same_length(recall=rec, precision=prec)
            style = _line_style(i)
            ap = f" (AP {c['ap']:.2f})" if c.get("ap") is not None else ""
            ax.plot(*_thin(rec, prec), label=f"{_short(c['class'])}{ap}", **style)
            if c.get("prevalence") is not None:
                ax.axhline(c["prevalence"], color=style["color"], linestyle="--", linewidth=0.9, alpha=0.8)
        if any(c.get("prevalence") is not None for c in curves):
            ax.plot([], [], color=_GREY, linestyle="--", linewidth=0.9, label="prevalence (no-skill baseline)")
        title = "Precision-recall curves" if len(curves) != 1 else f"Precision-recall curve: {curves[0]['class']}"
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
        _legend(ax)  # outside: the prevalence lines run along the bottom
        return _svg(fig, title)


def reliability(bins: list, *, ece=None, title: str = "Calibration") -> str:
    """Reliability diagram: observed frequency against mean predicted probability, rows per bin beneath.

    Args:
        bins: list of {"lo", "hi", "mean_predicted", "observed", "count"}; empty bins may hold None.
        ece: expected calibration error, added to the title.
        title: title of the chart.

    Returns:
        Inline SVG.

    Example:
        >>> reliability([{"lo": 0, "hi": 0.5, "mean_predicted": 0.2, "observed": 0.25, "count": 40}], ece=0.05)[:4]
        '<svg'
    """
    get = {k: _floats([b.get(k) for b in bins], k) for k in ("lo", "hi", "mean_predicted", "observed", "count")}
    full = np.isfinite(get["mean_predicted"]) & np.isfinite(get["observed"]) & (np.nan_to_num(get["count"]) > 0)
    title = title + (f" (ECE {float(ece):.3f})" if ece is not None else "")
    with _style():
        fig = _figure(5.2, 4.8)
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 1])
        ax = fig.add_subplot(grid[0])
        hist = fig.add_subplot(grid[1], sharex=ax)
        ax.plot([0, 1], [0, 1], linestyle="--", color=_GREY, linewidth=1, label="perfectly calibrated")
        ax.plot(get["mean_predicted"][full], get["observed"][full], "o-", color=PALETTE[0], markersize=4,
                label="model")
        hist.bar(get["lo"], np.nan_to_num(get["count"]), width=get["hi"] - get["lo"], align="edge",
                 color=_BAR, edgecolor="white", linewidth=0.5)
        lo = min(0.0, np.nanmin(get["lo"])) if bins else 0.0
        hi = max(1.0, np.nanmax(get["hi"])) if bins else 1.0
        ax.set(xlim=(lo, hi), ylim=(0, 1.02), ylabel="observed frequency", title=title)
        ax.tick_params(labelbottom=False)
        hist.set(xlabel="mean predicted probability", ylabel="rows")
        _legend(ax, outside=False, loc="upper left")
        return _svg(fig, title)


def threshold_curve(curve: dict, *, chosen=None) -> str:
    """Precision, recall and F1 against the decision threshold, the chosen threshold marked.

    Args:
        curve: {"threshold": [...], "precision": [...], "recall": [...], "f1": [...]}; f1 is
            computed when missing.
        chosen: the chosen threshold.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: the lists differ in length.

    Example:
        >>> curve = {"threshold": [0.2, 0.5, 0.8], "precision": [0.5, 0.7, 0.9], "recall": [0.9, 0.7, 0.3]}
        >>> threshold_curve(curve, chosen=0.5)[:4]
        '<svg'
    """
    t = _floats(curve["threshold"], "threshold")
    p, r = _floats(curve["precision"], "precision"), _floats(curve["recall"], "recall")
    f1 = _floats(curve["f1"], "f1") if curve.get("f1") is not None else 2 * p * r / np.where(p + r > 0, p + r, 1)
    _same_length(threshold=t, precision=p, recall=r, f1=f1)
    title = "Precision, recall and F1 by threshold"
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        for i, (name, y) in enumerate((("precision", p), ("recall", r), ("F1", f1))):
            ax.plot(*_thin(t, y), label=name, **_line_style(i))
        if chosen is not None:
            _vline(ax, float(chosen), f"chosen: {_fmt(chosen)}", y=0.12,
                   ha="left" if float(chosen) < np.nanmean(t) else "right")
        ax.set(ylim=(0, 1.02), xlabel="decision threshold", ylabel="score", title=title)
        _legend(ax)
        return _svg(fig, title)


def predicted_vs_actual(actual, predicted) -> str:
    """Predicted against actual values with the ideal y = x line; dense clouds are rasterized.

    Args:
        actual: true target values.
        predicted: the model's predictions, aligned with ``actual``.

    Returns:
        Inline SVG (under 150 KB even for 100k rows).

    Raises:
        ConfigError: the lists differ in length.

    Example:
        >>> predicted_vs_actual([1.0, 2.0, 3.0], [1.2, 1.9, 3.3])[:4]
        '<svg'
    """
    a, p = _floats(actual, "actual"), _floats(predicted, "predicted")
    _same_length(actual=a, predicted=p)
    both = np.concatenate([a, p])
    both = both[np.isfinite(both)]
    lo, hi = (both.min(), both.max()) if both.size else (0.0, 1.0)
    pad = 0.03 * (hi - lo or 1.0)
    title = "Predicted vs actual"
    with _style():
        fig = _figure(5.0, 4.6)
        ax = fig.add_subplot()
        ax.scatter(a, p, color=PALETTE[0], **_scatter_kw(len(a)))
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], linestyle="--", color=_INK, linewidth=1)
        _note(ax, hi, hi, "predicted = actual", ha="right", va="bottom")
        ax.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad), aspect="equal",
               xlabel="actual", ylabel="predicted", title=title)
        return _svg(fig, title)


def residuals(predicted, residual, histogram: dict | None = None) -> str:
    """Residual against prediction (zero line), beside the residuals' histogram.

    Args:
        predicted: the model's predictions.
        residual: actual minus predicted, aligned with ``predicted``.
        histogram: {"counts": [...], "edges": [...]}; computed (30 bins) when None.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: the lists differ in length, or edges is not one longer than counts.

    Example:
        >>> residuals([1.0, 2.0, 3.0], [0.2, -0.1, 0.3])[:4]
        '<svg'
    """
    p, r = _floats(predicted, "predicted"), _floats(residual, "residual")
    _same_length(predicted=p, residual=r)
    if histogram is None:
        counts, edges = np.histogram(r[np.isfinite(r)], bins=30)
    else:
        counts, edges = _floats(histogram["counts"], "counts"), _floats(histogram["edges"], "edges")
        if len(edges) != len(counts) + 1:
            raise ConfigError(f"histogram edges must be one longer than counts, got {len(edges)} and "
                              f"{len(counts)}.", path="histogram")
    title = "Residuals"
    with _style():
        fig = _figure()
        grid = fig.add_gridspec(1, 2, width_ratios=[3, 1])
        ax = fig.add_subplot(grid[0])
        side = fig.add_subplot(grid[1], sharey=ax)
        ax.scatter(p, r, color=PALETTE[0], **_scatter_kw(len(p)))
        side.barh(edges[:-1], counts, height=np.diff(edges), align="edge", color=PALETTE[0], alpha=0.6)
        for a in (ax, side):
            a.axhline(0, color=_INK, linestyle="--", linewidth=1)
        side.tick_params(labelleft=False)
        side.set(xlabel="rows", title="distribution")
        ax.set(xlabel="predicted", ylabel="residual (actual - predicted)", title=title)
        return _svg(fig, title)
