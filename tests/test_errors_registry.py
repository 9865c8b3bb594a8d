import pytest

from trainwright.errors import ConfigError, DataError, NotFittedError, TrainwrightError, closest
from trainwright.models.registry import learners
from trainwright.registry import Registry


def test_errors_inherit_builtins():
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, TrainwrightError)
    assert issubclass(DataError, ValueError)
    assert issubclass(NotFittedError, AttributeError)
    assert DataError("x", column="c").column == "c"


def test_closest():
    assert closest("specis", ["species", "island"]) == "species"
    assert closest("SPECIES", ["species"]) == "species"
    assert closest("zzz", ["species"]) is None


def test_registry_lazy_and_unknown_name():
    reg = Registry("thing")
    reg.register("dumps", "json:dumps")
    assert reg.get("dumps")([1]) == "[1]"
    with pytest.raises(ConfigError, match=r"unknown thing 'dump'.*Known: dumps.*Did you mean 'dumps'"):
        reg.get("dump")
    with pytest.raises(ValueError):
        reg.register("dumps", "json:loads")


def test_learner_registry_names():
    assert learners().names()[:3] == ["lightgbm", "linear", "mlp"]
