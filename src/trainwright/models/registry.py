"""The learners: registered next to their code, keyed by name and config class, built and loaded by name.

``@register_learner(TheConfig)`` on a ``Learner`` subclass registers it under its config's ``type`` tag,
so adding a learner is one file. The built-in learners register when ``trainwright.models.tabular`` is
imported; third-party ones through the ``trainwright.plugins`` entry-point group.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from trainwright.registry import Registry, load_plugins

__all__ = ["LEARNERS", "register_learner", "learners", "learner_configs", "build_learner", "load_learner",
           "require_installed", "BUILTIN_MODULES"]

LEARNERS: Registry = Registry("learner")
register_learner = LEARNERS.decorator

# Modules whose import registers the built-in learners (no heavy library is imported at their top).
BUILTIN_MODULES = ("trainwright.models.tabular.gbdt", "trainwright.models.tabular.linear",
                   "trainwright.models.tabular.mlp", "trainwright.models.tabular.knn",
                   "trainwright.models.vision.cnn", "trainwright.models.text.sequence",
                   "trainwright.models.text.encoder", "trainwright.models.series.sequence",
                   "trainwright.models.tabular.catboost_trees")


def learners() -> Registry:
    """The learner registry with the built-in learners and every plugin's registered.

    Example:
        >>> learners().names()[:3]
        ['lightgbm', 'linear', 'mlp']
    """
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    load_plugins()
    return LEARNERS


def learner_configs() -> list[type]:
    """The config class of every registered learner, in registration order.

    Example:
        >>> [c.__name__ for c in learner_configs()][:3]
        ['LightGBMConfig', 'LinearConfig', 'MLPConfig']
    """
    return learners().config_classes()


def require_installed(cls) -> None:
    """Refuse a learner class whose package (``requires``) is not installed, naming the pip command (``install``:
    the extra that brings it), without importing anything.

    Example:
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> require_installed(LinearLearner)
    """
    import importlib.util

    from trainwright.errors import ConfigError

    for module in cls.requires:
        package = module.split(".")[0]
        if importlib.util.find_spec(package) is None:
            raise ConfigError(f"model.type={cls.name} needs the Python package {package}, which is not installed: "
                              f"pip install {getattr(cls, 'install', package)}, or choose another model.type "
                              "(model.candidates, for auto)", path="model.type")


def build_learner(config, *, task: str, seed: int, train=None):
    """The learner a model config describes (``config.type`` names it in the registry), unfitted.

    ``train`` (the recipe's train section) goes to learners that train with the loop
    (``capabilities.uses_loop``). Settings pass as the validated objects they are (no dict round trip).

    Example:
        >>> from trainwright.models.tabular.gbdt import LightGBMConfig
        >>> build_learner(LightGBMConfig(num_leaves=7), task="regression", seed=1).num_leaves
        7
    """
    cls = learners().get(config.type)
    if task == "classification" and not cls.capabilities.probabilities:
        from trainwright.errors import ConfigError

        raise ConfigError(f"model.type={config.type} gives no class probabilities, which every classifier needs "
                          "here (model selection, metrics, thresholds); choose another model.type", path="model.type")
    params = {name: getattr(config, name) for name in type(config).model_fields if name != "type"}
    if cls.capabilities.uses_loop:
        params["train"] = train
    return cls(task=task, seed=seed, **params)


def load_learner(directory: str | Path):
    """Load any saved learner; its type is read from ``learner.json``.

    Example:
        >>> import numpy as np, tempfile
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> X = np.arange(20.0).reshape(10, 2); folder = tempfile.mkdtemp()
        >>> LinearLearner(task="regression", alpha=1.0).fit(X, X[:, 0]).save(folder)
        >>> type(load_learner(folder)).__name__
        'LinearLearner'
    """
    from trainwright.models.base import read_meta

    meta = read_meta(Path(directory))
    return learners().get(meta["type"]).load(directory)
