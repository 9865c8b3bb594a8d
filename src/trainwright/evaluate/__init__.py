"""Scoring models: metrics per task."""

from trainwright.evaluate.metrics import LOWER_IS_BETTER, primary_metric, score

__all__ = ["LOWER_IS_BETTER", "primary_metric", "score"]
