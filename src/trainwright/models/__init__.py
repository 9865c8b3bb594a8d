"""Learners by family. Each module defines a config class and a learner; heavy
libraries are imported inside the learner's methods, so recipes validate fast."""

from trainwright.models.auto import AutoConfig
from trainwright.models.base import Learner, build_learner, load_learner
from trainwright.models.gbdt import LightGBMConfig
from trainwright.models.linear import LinearConfig
from trainwright.models.neural.tabular import MLPConfig

# name -> config class; the names match trainwright.registry.LEARNERS (plus "auto").
MODEL_CONFIGS = {
    "lightgbm": LightGBMConfig,
    "linear": LinearConfig,
    "mlp": MLPConfig,
    "auto": AutoConfig,
}

__all__ = [
    "AutoConfig",
    "LightGBMConfig",
    "LinearConfig",
    "MLPConfig",
    "MODEL_CONFIGS",
    "Learner",
    "build_learner",
    "load_learner",
]
