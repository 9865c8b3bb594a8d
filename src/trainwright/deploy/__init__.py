"""Using trained runs: the predictor (replays a run's steps on new rows) and ``load`` (a run ready to predict).
Export, serving and drift monitoring build on them."""

from trainwright.deploy.model import TrainedModel, load
from trainwright.deploy.predictor import Predictor

__all__ = ["Predictor", "TrainedModel", "load"]
