"""Charts that explain a model: importance, SHAP beeswarm, one row's waterfall, partial dependence."""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.lines import Line2D

from trainwright.errors import ConfigError
from trainwright.report.charts._render import (
    _GREY,
    _INK,
    _MAX_LINE,
    DENSE,
    PALETTE,
    _bar_height,
    _figure,
    _floats,
    _fmt,
    _legend,
    _note,
    _same_length,
    _short,
    _style,
    _svg,
    _xticklabels,
)

__all__ = ["importance_bars", "partial_dependence", "shap_summary", "waterfall"]

_LOW_HIGH = LinearSegmentedColormap.from_list("tw_low_high", [PALETTE[0], PALETTE[4], PALETTE[3]])
_MAX_SWARM_ROWS = 2000
_MAX_ICE = 50


def importance_bars(columns, values, errors=None, *, xlabel: str = "importance",
                    title: str = "Feature importance") -> str:
    """The most important columns as horizontal bars, largest at the top, at most 20.

    Args:
        columns: column names.
        values: importance per column.
        errors: spread per column (e.g. standard deviation over repeats), drawn as error bars.
        xlabel: label of the importance axis.
        title: title; "(top 20 of N)" is added when columns are left out.

    Returns:
        Inline SVG.

    Raises:
        ConfigError: the lists differ in length.

    Example:
        >>> importance_bars(["age", "income"], [0.3, 0.1], [0.02, 0.01])[:4]
        '<svg'
    """
    vals = _floats(values, "values")
    _same_length(columns=columns, values=vals)
    err = None if errors is None else _floats(errors, "errors")
    if err is not None:
        _same_length(columns=columns, errors=err)
    order = np.argsort(np.where(np.isnan(vals), np.inf, -vals), kind="stable")[:20]
    if len(columns) > len(order):
        title = f"{title} (top {len(order)} of {len(columns)})"
    with _style():
        fig = _figure(6.4, _bar_height(len(order)))
        ax = fig.add_subplot()
        pos = np.arange(len(order))
        ax.barh(pos, np.nan_to_num(vals[order]), height=0.65, color=PALETTE[0],
                xerr=None if err is None else np.nan_to_num(err[order]),
                error_kw={"ecolor": _INK, "elinewidth": 0.9, "capsize": 2})
        ax.set_yticks(pos, [_short(columns[i], 32) for i in order])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.axvline(0, color="#777777", linewidth=0.8)
        ax.set(xlabel=xlabel, ylabel="column", title=title)
        return _svg(fig, title)


def _swarm(x: np.ndarray, seed: int) -> np.ndarray:
    """Vertical offsets in [-0.4, 0.4] that spread points sharing an x bin (SHAP's beeswarm)."""
    if x.size == 0:
        return x
    span = np.ptp(x) or 1.0
    bins = np.floor((x - x.min()) / span * 99).astype(int)
    shuffle = np.random.default_rng(seed).permutation(x.size)  # mixes colours within a bin
    order = np.lexsort((shuffle, bins))
    sorted_bins = bins[order]
    rank = np.arange(x.size) - np.searchsorted(sorted_bins, sorted_bins, side="left")
    offset = np.ceil(rank / 2) * np.where(rank % 2 == 1, 1.0, -1.0)
    out = np.empty(x.size)
    out[order] = offset
    return out * 0.4 / max(np.abs(offset).max(), 1.0)


def _numeric(col: np.ndarray) -> np.ndarray:
    """Numbers as floats; strings, None and other categories as NaN (drawn grey)."""
    return np.fromiter((float(v) if isinstance(v, (bool, int, float, np.number)) else np.nan for v in col),
                       dtype=float, count=len(col))


def _colour_scale(num: np.ndarray) -> np.ndarray:
    finite = num[np.isfinite(num)]
    if not finite.size:
        return num
    lo, hi = np.percentile(finite, [5, 95])
    lo, hi = (finite.min(), finite.max()) if hi <= lo else (lo, hi)
    # 32 levels look continuous yet keep the embedded PNG small (fewer distinct colours)
    return np.round(np.clip((num - lo) / ((hi - lo) or 1.0), 0, 1) * 31) / 31


def _swarm_rows(v: np.ndarray, feature_values) -> tuple[np.ndarray, np.ndarray]:
    """The rows drawn, at most ``_MAX_SWARM_ROWS`` (a fixed sample, in row order): SHAP values and
    feature values (an object array), rows x columns each."""
    rows = np.arange(v.shape[0])
    if rows.size > _MAX_SWARM_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows.size, _MAX_SWARM_ROWS, replace=False))
    fv = np.empty((rows.size, v.shape[1]), dtype=object)
    if rows.size:
        fv[:] = [list(feature_values[i]) for i in rows]
    return v[rows], fv


def _swarm_points(v: np.ndarray, fv: np.ndarray, top) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The beeswarm's points, (points,) each: x the SHAP value, y the row ``k`` of column ``top[k]``
    spread where points crowd, and the colour in [0, 1] (NaN: grey)."""
    xs, ys, cs = [], [], []
    for k, j in enumerate(top):
        xs.append(v[:, j])
        ys.append(k + _swarm(np.nan_to_num(v[:, j]), seed=k))
        cs.append(_colour_scale(_numeric(fv[:, j])))
    x, y, c = (np.concatenate(a) if a else np.array([]) for a in (xs, ys, cs))
    return x, y, c


def shap_summary(columns, values, feature_values, *, method: str = "SHAP") -> str:
    """Beeswarm summary: a row per column (top 12 by mean |SHAP|), a point per data row.

    Points sit at their SHAP value, spread vertically where they crowd, and are
    coloured by the feature's value from low (blue) to high (red); categories
    and missing values are grey. At most 2000 rows (a fixed sample) are drawn,
    as one embedded image.

    Args:
        columns: column names.
        values: SHAP values, rows x columns.
        feature_values: the rows' feature values, rows x columns (float, str or None).
        method: what made the attributions, named in the title, e.g. "integrated gradients".

    Returns:
        Inline SVG.

    Raises:
        ConfigError: the shapes do not match.

    Example:
        >>> shap_summary(["age", "city"], [[0.2, -0.1], [-0.3, 0.05]], [[30, "Oslo"], [62, None]])[:4]
        '<svg'
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(columns) or len(feature_values) != v.shape[0]:
        raise ConfigError(f"values and feature_values must be rows x {len(columns)} columns, got values "
                          f"{v.shape} and {len(feature_values)} rows of feature values.", path="values")
    v, fv = _swarm_rows(v, feature_values)
    top = np.argsort(-np.nan_to_num(np.abs(v).mean(axis=0)), kind="stable")[:12] if v.size else []
    x, y, c = _swarm_points(v, fv, top)
    grey = np.isnan(c)
    title = f"How each column moves the prediction ({method})"
    with _style():
        fig = _figure(6.4, max(2.8, 0.36 * len(top) + 1.4))
        ax = fig.add_subplot()
        dense = x.size > DENSE
        ax.scatter(x[~grey], y[~grey], c=c[~grey], cmap=_LOW_HIGH, vmin=0, vmax=1, s=6 if dense else 14,
                   linewidths=0, rasterized=dense, antialiased=not dense)
        if grey.any():
            ax.scatter(x[grey], y[grey], color=_GREY, s=6 if dense else 14, linewidths=0, alpha=0.6,
                       rasterized=dense)
            ax.legend([Line2D([], [], marker="o", linestyle="", color=_GREY, markersize=4)],
                      ["category or missing"], loc="lower right", fontsize=8)
        ax.axvline(0, color="#777777", linewidth=0.8)
        ax.set_yticks(np.arange(len(top)), [_short(columns[j], 28) for j in top])
        ax.set_ylim(max(len(top), 1) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), _LOW_HIGH), ax=ax, ticks=[0, 1], aspect=30, pad=0.02)
        bar.set_ticklabels(["low", "high"])
        bar.set_label("feature value (low → high)")
        bar.outline.set_visible(False)
        ax.set(xlabel=f"{method} value (effect on the prediction)", title=title)
        return _svg(fig, title)


def waterfall(base: float, contributions: list, prediction: float, *, space: str = "model output") -> str:
    """How one row's prediction is built: from the base value, one bar per column, to the prediction.

    Args:
        base: the model's average output (SHAP expected value).
        contributions: list of {"column", "value", "shap"}; the 10 largest |shap| get a bar each,
            the rest one bar "other N columns".
        prediction: the model's output for this row.
        space: what the output is, e.g. "log-odds" or "probability"; shown on the x axis.

    Returns:
        Inline SVG. Red bars push the prediction up, blue bars down.

    Example:
        >>> waterfall(0.3, [{"column": "age", "value": 62, "shap": 0.25}], 0.55, space="probability")[:4]
        '<svg'
    """
    items = sorted(contributions, key=lambda c: -abs(float(c["shap"])))
    bars = [(f"{_short(c['column'], 24)} = {_short(_fmt(c['value']), 16)}", float(c["shap"])) for c in items[:10]]
    rest = float(prediction) - float(base) - sum(s for _, s in bars)
    if len(items) > 10 or abs(rest) > 1e-9 * max(1.0, abs(float(prediction))):
        bars.append((f"other {len(items) - 10} columns" if len(items) > 10 else "other columns", rest))
    bars.reverse()  # drawn bottom up: the biggest contribution ends at the top, at the prediction
    title = f"Why this prediction: {_fmt(prediction)}"
    with _style():
        fig = _figure(6.4, _bar_height(len(bars)) + 0.4)
        ax = fig.add_subplot()
        start = float(base)
        for y, (_, s) in enumerate(bars):
            ax.barh(y, s, left=start, height=0.6, color=PALETTE[3] if s >= 0 else PALETTE[0])
            _note(ax, start + s, y, f"{s:+.3g}", ha="left" if s >= 0 else "right")
            start += s
        n = len(bars)
        ax.axvline(float(base), color=_GREY, linestyle="--", linewidth=1)
        ax.axvline(float(prediction), color=_INK, linestyle=":", linewidth=1.2)
        _note(ax, float(base), -0.9, f"base {_fmt(base)}", color=_GREY)
        _note(ax, float(prediction), n - 0.1, f"prediction {_fmt(prediction)}")
        ax.set_yticks(np.arange(n), [label for label, _ in bars])
        ax.set_ylim(-1.4, n + 0.3)
        ax.use_sticky_edges = False  # bars stick to their left edge; the base line needs room
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.15)
        ax.set(xlabel=space, title=title)
        return _svg(fig, title)


def _ice(ax, x: np.ndarray, lines, color: str, alpha: float) -> None:
    segs = [np.column_stack([x, _floats(line, "ice")]) for line in list(lines)[:_MAX_ICE]]
    if segs:
        ax.add_collection(LineCollection(segs, colors=color, linewidths=0.5, alpha=alpha,
                                         rasterized=len(segs) * len(x) > 2 * _MAX_LINE))


def partial_dependence(pd: dict) -> str:
    """Average prediction as one column varies (partial dependence), with per-row ICE lines.

    Args:
        pd: {"column", "kind": "numeric" | "categorical", "grid": [...], "average": list or
            {class: list}, "ice": optional list of lists (or {class: list of lists})}. At most
            200 ICE lines are drawn.

    Returns:
        Inline SVG: a line (numeric) or points (categorical); one per class when multiclass.

    Raises:
        ConfigError: "kind" is neither "numeric" nor "categorical", or lengths differ.

    Example:
        >>> pd = {"column": "age", "kind": "numeric", "grid": [20, 40, 60], "average": [0.2, 0.3, 0.5]}
        >>> partial_dependence(pd)[:4]
        '<svg'
    """
    kind = pd.get("kind", "numeric")
    if kind not in ("numeric", "categorical"):
        raise ConfigError(f"pd['kind'] must be 'numeric' or 'categorical', got {kind!r}.", path="pd.kind")
    multi = isinstance(pd["average"], dict)
    averages = pd["average"] if multi else {"average": pd["average"]}
    ice = pd.get("ice")
    ices = ice if isinstance(ice, dict) else {"average": ice} if ice is not None else {}
    grid = list(pd["grid"])
    title = f"Partial dependence on {pd['column']}"
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        x = _floats(grid, "pd['grid']") if kind == "numeric" else np.arange(len(grid), dtype=float)
        step = 0.3 / max(1, len(averages) - 1)  # classes side by side within a category
        for i, (cls, avg) in enumerate(averages.items()):
            a = _floats(avg, f"pd['average'][{cls!r}]")
            _same_length(grid=x, average=a)
            color = PALETTE[i % len(PALETTE)]
            label = str(cls) if multi else "average"
            if kind == "numeric":
                if ices.get(cls) is not None:
                    _ice(ax, x, ices[cls], color if multi else _GREY, 0.08 if multi else 0.3)
                ax.plot(x, a, color=color, linewidth=2.2, label=label)
            else:
                shift = (i - (len(averages) - 1) / 2) * step if multi else 0.0
                ax.plot(x + shift, a, "o", color=color, markersize=7, label=label)
        if kind == "categorical":
            _xticklabels(ax, x, grid)
            ax.grid(axis="x", visible=False)
        elif not multi and ices.get("average"):
            ax.plot([], [], color=_GREY, linewidth=0.8, label="one row (ICE)")
        ax.autoscale_view()
        ylabel = "average predicted probability" if multi else "average prediction"
        ax.set(xlabel=str(pd["column"]), ylabel=ylabel, title=title)
        _legend(ax)
        return _svg(fig, title)
