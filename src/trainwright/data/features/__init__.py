"""Features: the ``Preprocessor`` (imputation, scaling, encoding, datetime parts, polynomial terms), fitted on
training rows only and saved as JSON; lag and rolling features for rows ordered in time."""

from trainwright.data.features.config import FeaturesConfig, PreprocessConfig
from trainwright.data.features.lags import add_time_features, time_feature_names
from trainwright.data.features.preprocessor import Preprocessor

__all__ = ["FeaturesConfig", "PreprocessConfig", "Preprocessor", "add_time_features", "time_feature_names"]
