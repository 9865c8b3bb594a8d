"""Charts of the model report, each an inline SVG string.

Every public function takes plain Python data (lists, dicts, floats) and
returns ``<svg ...>...</svg>``: no XML declaration, no external reference, no
script, a ``viewBox`` and ``width="100%"`` so it scales to its container, text
kept as text. Point clouds of more than ``DENSE`` points are embedded as one
PNG so a 100k-row report stays small.

matplotlib is driven through ``Figure`` and its SVG canvas, never pyplot, so no
backend is switched and no global figure is left behind. The house style is
applied with ``rc_context`` under a lock (rcParams are process-global).
Element ids are renamed per chart from a hash of its content, so several
charts inline in one HTML page never share an id.

The charts live in modules by theme, all re-exported here: ``training``
(learning curves, schedule, leaderboard, class balance), ``tuning`` (a study's trials), ``performance``
(classification and regression), ``explain`` (importance, SHAP, partial
dependence) and ``compare`` (runs, groups, radar); ``_render`` holds what
they share.

Example:
    >>> svg = lr_curve([1, 2, 3], [0.1, 0.01, 0.001])
    >>> svg.startswith("<svg") and "learning rate" in svg
    True
"""

from __future__ import annotations

from trainwright.report.charts._render import DENSE, PALETTE
from trainwright.report.charts.compare import group_bars, overlaid_curves, radar
from trainwright.report.charts.explain import (
    importance_bars,
    partial_dependence,
    shap_summary,
    waterfall,
)
from trainwright.report.charts.performance import (
    confusion_matrix,
    pr_curves,
    predicted_vs_actual,
    reliability,
    residuals,
    roc_curves,
    threshold_curve,
)
from trainwright.report.charts.series import forecast_plot, step_errors
from trainwright.report.charts.tuning import optimisation_history, parallel_coordinates, trial_curves
from trainwright.report.charts.training import (
    class_balance,
    leaderboard_bars,
    learning_curves,
    lr_curve,
)

__all__ = [
    "forecast_plot",
    "step_errors",
    "DENSE",
    "PALETTE",
    "class_balance",
    "confusion_matrix",
    "group_bars",
    "importance_bars",
    "leaderboard_bars",
    "learning_curves",
    "lr_curve",
    "optimisation_history",
    "parallel_coordinates",
    "overlaid_curves",
    "partial_dependence",
    "pr_curves",
    "predicted_vs_actual",
    "radar",
    "reliability",
    "residuals",
    "roc_curves",
    "shap_summary",
    "threshold_curve",
    "trial_curves",
    "waterfall",
]

