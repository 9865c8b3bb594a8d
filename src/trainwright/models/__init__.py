"""Learners by family (``tabular/``; ``vision/`` and ``text/`` to come). Each registers itself with its config
class (``register_learner``) and declares what it can do (``Capabilities``); heavy libraries are imported
inside the learners' methods, so recipes validate fast."""

from trainwright.models.base import Attributions, Capabilities, Learner
from trainwright.models.registry import LEARNERS, build_learner, learner_configs, learners, load_learner, register_learner

__all__ = [
    "Attributions",
    "Capabilities",
    "Learner",
    "LEARNERS",
    "build_learner",
    "learner_configs",
    "learners",
    "load_learner",
    "register_learner",
]
