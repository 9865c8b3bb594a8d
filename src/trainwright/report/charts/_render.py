"""What every chart shares: the house style, figure creation, SVG clean-up and small helpers.

A chart module draws on a ``_figure()`` inside ``with _style():`` and returns
``_svg(fig, title)``, which renders the figure and cleans the SVG: no metadata
or comments, ids renamed from a hash of the content, coordinates rounded.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import threading
from contextlib import contextmanager
from xml.sax.saxutils import quoteattr

import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from trainwright.errors import ConfigError

__all__ = ["DENSE", "PALETTE"]

# Okabe & Ito's colour-blind-safe palette; its yellow is left out (unreadable on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
DENSE = 500  # more points than this are rasterized into one embedded PNG (at savefig.dpi)
_GREY, _BAR, _INK, _WARN = "#8c8c8c", "#c4c4c4", "#333333", "#B03A00"
_MAX_LINE = 2000  # a line with more points is thinned (min/max per bucket keeps its spikes)
_STYLE = {
    "figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8.5,
    "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "axes.titlelocation": "left", "axes.titlepad": 8,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#777777",
    "axes.linewidth": 0.8, "axes.labelcolor": "#222222", "xtick.color": "#444444", "ytick.color": "#444444",
    "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE), "legend.frameon": False, "lines.linewidth": 1.6,
    "text.parse_math": False,  # a "$" in a column name is text, not mathtext
    "svg.fonttype": "none", "svg.hashsalt": "trainwright", "svg.image_inline": True, "savefig.dpi": 120,
}
_LOCK = threading.RLock()
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')
_ID = re.compile(r' id="([^"]+)"')
_FAMILY = re.compile(r"font-family: ([^;\"]+);? ?")
_PATH = re.compile(r' d="([^"]*)"')
_LONG_FLOAT = re.compile(r"(-?\d+\.\d\d)\d+")
_NO_META = {"Creator": None, "Date": None, "Format": None, "Type": None}


# ---------------------------------------------------------------- rendering


@contextmanager
def _style():
    with _LOCK, matplotlib.rc_context(_STYLE):
        yield


def _figure(width: float = 6.4, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasSVG(fig)
    return fig


def _svg(fig: Figure, label: str) -> str:
    """Render ``fig`` and return clean inline SVG named ``label`` for screen readers."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=_NO_META)
    fig.clear()
    return _clean(buf.getvalue(), label)


def _clean(svg: str, label: str) -> str:
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"\s*<!--.*?-->", "", svg, flags=re.DOTALL)
    # Ids from a hash of this chart's content: unique per chart, yet the same input gives the same bytes.
    prefix = "tw" + hashlib.sha1(svg.encode()).hexdigest()[:10]
    used, renamed = {m.group(2) for m in _REF.finditer(svg)}, {}

    def rename(m: re.Match) -> str:
        if m.group(1) not in used:
            return ""  # matplotlib's group ids (figure_1, axes_1, ...) repeat in every chart
        renamed[m.group(1)] = f"{prefix}-{len(renamed)}"
        return f' id="{renamed[m.group(1)]}"'

    svg = _ID.sub(rename, svg)
    # Path coordinates are in points: a hundredth of a point is finer than any screen, and a third smaller.
    svg = _PATH.sub(lambda m: ' d="' + _LONG_FLOAT.sub(r"\1", m.group(1)) + '"', svg)
    svg = re.sub(r' transform="rotate\(-?0 [^"]*\)"', "", svg)  # no-op rotations on every text
    svg = re.sub(r"<g>\s*(<text[^>]*>[^<]*</text>)\s*</g>", r"\1", svg)  # a group per text, once ids are gone
    svg = _REF.sub(lambda m: m.group(1) + renamed.get(m.group(2), m.group(2)), svg)
    families = set(_FAMILY.findall(svg))
    style = ""
    if len(families) == 1:  # say the font once on the root instead of on every text
        svg = _FAMILY.sub("", svg)
        style = f' style="font-family: {families.pop()}"'
    head = f'<svg width="100%"{style} role="img" aria-label={quoteattr(label)}'
    return re.sub(r'<svg( xmlns:xlink="[^"]*")? width="[^"]*" height="[^"]*"', lambda m: head + (m.group(1) or ""),
                  svg, count=1)


# ---------------------------------------------------------------- helpers


def _floats(values, name: str) -> np.ndarray:
    """A float array; ``None`` becomes NaN."""
    try:
        return np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        pass
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must hold numbers, got {exc}. Pass a list of floats.", path=name) from None


def _same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{' and '.join(lengths)} must have the same length, got {lengths}.")


def _xy(series: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(series, dict) or "y" not in series:
        raise ConfigError(f"{name} must be a dict with 'x' and 'y' lists, got {type(series).__name__}.", path=name)
    y = _floats(series["y"], f"{name}['y']")
    x = _floats(series["x"], f"{name}['x']") if series.get("x") is not None else np.arange(1, len(y) + 1.0)
    _same_length(**{f"{name}['x']": x, f"{name}['y']": y})
    return x, y


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``_MAX_LINE`` points, keeping each bucket's lowest and highest."""
    if len(x) <= _MAX_LINE:
        return x, y
    edges = np.linspace(0, len(x), _MAX_LINE // 2 + 1).astype(int)
    filled = np.where(np.isnan(y), np.nanmean(y) if np.isfinite(y).any() else 0.0, y)
    keep = [0, len(x) - 1]
    for a, b in itertools.pairwise(edges):
        keep += [a + int(np.argmin(filled[a:b])), a + int(np.argmax(filled[a:b]))]
    idx = np.unique(keep)
    return x[idx], y[idx]


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)) or v is None:
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.4g}"


def _short(text, width: int = 28) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _line_style(i: int) -> dict:
    return {"color": PALETTE[i % len(PALETTE)], "linestyle": ("-", "--", ":", "-.")[(i // len(PALETTE)) % 4]}


def _log_if_wide(ax, values: np.ndarray, decades: float) -> None:
    v = values[np.isfinite(values)]
    if v.size and v.min() > 0 and v.max() / v.min() > 10**decades:
        ax.set_yscale("log")
        # Plain "0.01": the default log labels are mathtext ("10^{-2}"), which parse_math=False prints raw.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _integer_x(ax, *xs: np.ndarray) -> None:
    """Whole-number ticks when x counts epochs or steps (no "2.5" epoch)."""
    x = np.concatenate([np.array([0.0]), *xs])
    if np.all(np.isnan(x) | (np.mod(x, 1) == 0)):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend(ax, *, outside: bool = True, **kw) -> None:
    """A legend only when there are several series."""
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) < 2:
        return
    if outside:
        kw = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), **kw}
    if len(labels) > 12:
        kw = {"fontsize": 7, "ncol": 2, **kw}
    ax.legend(handles, labels, **kw)


def _scatter_kw(n: int) -> dict:
    size, alpha = (14, 0.75) if n <= DENSE else (5, 0.35) if n <= 20_000 else (2, 0.15)
    # Antialiased dots blend into thousands of colours and a PNG several times bigger; dense dots need none.
    return {"s": size, "alpha": alpha, "linewidths": 0, "rasterized": n > DENSE, "antialiased": n <= DENSE}


def _note(ax, x, y, text: str, *, ha: str = "left", va: str = "center", coords="data", **kw) -> None:
    """Text a few points beside (x, y); padding with spaces would not do, browsers drop them."""
    ax.annotate(text, (x, y), xycoords=coords, xytext=({"left": 3, "right": -3}.get(ha, 0), 0),
                textcoords="offset points", ha=ha, va=va, **{"fontsize": 8, "color": _INK, **kw})


def _vline(ax, x, text: str, *, y: float = 0.97, color: str = _INK, ha: str = "right") -> None:
    """A dotted vertical line with a label at height ``y`` (axes fraction)."""
    ax.axvline(x, color=color, linestyle=":", linewidth=1.2)
    _note(ax, x, y, text, ha=ha, va="top", coords=("data", "axes fraction"), color=color, fontsize=8.5,
          bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})


def _bar_height(n: int) -> float:
    return float(min(12.0, max(2.4, 0.28 * n + 1.1)))


def _xticklabels(ax, pos, labels, *, rotate_over: int = 6) -> None:
    rotate = len(labels) > rotate_over or max((len(str(s)) for s in labels), default=0) > 12
    ax.set_xticks(pos, [_short(s, 20) for s in labels], rotation=45 if rotate else 0,
                  ha="right" if rotate else "center", rotation_mode="anchor" if rotate else "default")
