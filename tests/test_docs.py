"""Documentation that runs: every public object has a docstring, and the public API's docstrings carry an
example that is not skipped (``pytest --doctest-modules`` runs them, see pyproject.toml)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import trainwright

# The public API: what the top-level package and the level-2/3 packages the README names export.
API_PACKAGES = ("trainwright", "trainwright.data", "trainwright.training", "trainwright.models",
                "trainwright.fitting", "trainwright.pipeline", "trainwright.runs", "trainwright.deploy")


def _modules():
    yield trainwright
    for info in pkgutil.walk_packages(trainwright.__path__, "trainwright."):
        if info.name != "trainwright.__main__":
            yield importlib.import_module(info.name)


def _public(module):
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name, obj


def test_every_public_object_has_a_docstring():
    missing = sorted({f"{obj.__module__}.{name}" for module in _modules() for name, obj in _public(module)
                      if not (obj.__doc__ or "").strip()})
    assert not missing, "public objects without a docstring:\n" + "\n".join(missing)


def _runs(doc: str) -> bool:
    """The docstring has an example line that doctest runs (a ``>>>`` line not marked to be skipped)."""
    return any(line.strip().startswith(">>>") and "+SKIP" not in line for line in (doc or "").splitlines())


@pytest.mark.parametrize("package", API_PACKAGES)
def test_the_public_api_has_examples_that_run(package):
    module = importlib.import_module(package)
    without = sorted(f"{package}.{name}" for name, obj in _public(module)
                     if not _runs(obj.__doc__) and not (inspect.isclass(obj) and _runs(inspect.getdoc(obj.__init__))))
    assert _runs(module.__doc__) or package in ("trainwright.runs", "trainwright.fitting", "trainwright.models",
                                                "trainwright.deploy"), f"{package} has no example"
    assert not without, "public API without a running example:\n" + "\n".join(without)


def test_the_readme_entry_points_are_importable_where_it_says():
    import trainwright.data
    import trainwright.training

    assert callable(trainwright.data.audit) and callable(trainwright.train) and callable(trainwright.load)
    assert trainwright.training.Trainer.__name__ == "Trainer" and trainwright.training.loop.fit.__name__ == "fit"
    from trainwright.models.tabular.gbdt import LightGBMLearner  # the README's scikit-learn example

    assert LightGBMLearner.name == "lightgbm"
