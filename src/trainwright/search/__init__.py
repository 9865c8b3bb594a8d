"""Search: the AutoML portfolio with bagging and ensemble selection (``automl``, ``ensemble``), and
hyperparameter search with Optuna (``study``, configured by ``config.TuneConfig``), all through ``fitting``'s
one fit routine. Submodules load on first use: importing the recipe must not import Optuna or the fitting code.

(DESIGN.md calls this room ``tune/``; it is ``search/`` so that ``trainwright.tune`` stays the function that
tunes a data file: a subpackage of that name would replace it as an attribute of the package.)"""

import importlib

__all__ = ["fit_auto", "greedy_weights", "loss_function", "TuneConfig", "Distribution"]

_WHERE = {"fit_auto": "automl", "greedy_weights": "ensemble", "loss_function": "ensemble", "TuneConfig": "config",
          "Distribution": "config"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"trainwright.search.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'trainwright.search' has no attribute {name!r}")
