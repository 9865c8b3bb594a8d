"""Gradient-boosted oblivious trees with CatBoost: every level of a tree splits on one feature and threshold, so
the trees are balanced and regularise well on small and medium tables (bench/families.py, one model each: CatBoost's
defaults ahead of LightGBM's on 6 of the 9 bench tables with one-hot categories, as trainwright's preprocessor gives
them, 7 with CatBoost's own; docs/benchmarks.md). Not in the default portfolio: its import and first fit hold about
50 MB, the default run is near its 600 MB bound, and in the ensemble it moved no table at 30 s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from pydantic import Field

from trainwright.config.base import Section
from trainwright.models.base import Attributions, Capabilities, Learner
from trainwright.models.registry import register_learner

__all__ = ["CatBoostConfig", "CatBoostLearner"]


class CatBoostConfig(Section):
    """Gradient-boosted oblivious trees (CatBoost), early-stopped on the validation rows."""

    type: Literal["catboost"] = "catboost"
    iterations: int = Field(2000, ge=1, description="Most boosting rounds; early stopping usually ends sooner.")
    learning_rate: float = Field(0.08, gt=0, le=1, description="Shrinkage applied to each tree.")
    depth: int = Field(6, ge=1, le=16, description="Levels of each (oblivious) tree: 2^depth leaves.")
    l2_leaf_reg: float = Field(3.0, ge=0, description="L2 penalty on leaf values.")
    early_stopping_rounds: int = Field(
        50, ge=1, description="Stop when the validation loss has not improved for this many rounds.")
    early_stopping_tol: float = Field(
        1e-3, ge=0, lt=1, description="A round improves on the best validation loss only when it lowers it by more "
                                      "than this share of the first round's loss (classes) or of the best loss so "
                                      "far (regression); 0: any decrease counts.")
    n_jobs: Optional[int] = Field(None, ge=1, description="Threads; default: all cores.")


_D = CatBoostConfig()
REPORT_EVERY = 10  # boosting rounds between reports to a tuning trial


@register_learner(CatBoostConfig)
class CatBoostLearner(Learner):
    """CatBoost with early stopping on validation; keeps only the best iteration's trees (saved in CatBoost's own
    format, no pickle).

    Example:
        >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
        >>> CatBoostLearner(iterations=20).fit(X, y).predict(X[:2]).shape
        (2,)
    """

    capabilities = Capabilities(explanation="tree_shap", iteration="boosting round", learning_curve=True,
                                reports_iterations=True, parameters="split thresholds and leaf values over all trees")
    requires = ("catboost",)
    install = "'trainwright[catboost]'"  # an optional extra (270 MB): what a run without it is told to install
    search_space = {
        "model.learning_rate": {"type": "log", "low": 0.01, "high": 0.3},
        "model.depth": {"type": "int", "low": 3, "high": 10},
        "model.l2_leaf_reg": {"type": "log", "low": 0.5, "high": 30.0},
    }

    def __init__(self, task: str = "classification", iterations: int = _D.iterations,
                 learning_rate: float = _D.learning_rate, depth: int = _D.depth, l2_leaf_reg: float = _D.l2_leaf_reg,
                 early_stopping_rounds: int = _D.early_stopping_rounds,
                 early_stopping_tol: float = _D.early_stopping_tol, n_jobs: Optional[int] = _D.n_jobs,
                 seed: int = 0) -> None:
        self.task = task
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_tol = early_stopping_tol
        self.n_jobs = n_jobs
        self.seed = seed

    def _loss(self) -> str:
        if self.task == "regression":
            return "RMSE"
        return "Logloss" if len(self.classes_) == 2 else "MultiClass"

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        from trainwright.runtime import cpu_threads

        CatBoost, Pool = _catboost()

        model = CatBoost({"iterations": self.iterations, "learning_rate": self.learning_rate, "depth": self.depth,
                          "l2_leaf_reg": self.l2_leaf_reg, "loss_function": self._loss(), "random_seed": self.seed,
                          "thread_count": self.n_jobs or cpu_threads(), "verbose": False,
                          "allow_writing_files": False, "use_best_model": valid is not None})
        watch = _Watch(self, deadline, getattr(self, "_fit_options", {}).get("on_iteration"))
        model.fit(Pool(X, y, weight=sample_weight), eval_set=None if valid is None else Pool(*valid),
                  early_stopping_rounds=self.early_stopping_rounds if valid is not None else None,
                  callbacks=[watch])
        if watch.error is not None:  # a pruned tuning trial: raised by on_iteration inside CatBoost's loop
            raise watch.error
        curves = model.get_evals_result()
        metric = self._loss()
        train_curve = curves["learn"][metric]
        valid_curve = curves.get("validation", {}).get(metric)
        curve = valid_curve if valid_curve is not None else train_curve
        self.best_iteration_ = int(np.argmin(curve)) + 1 if valid_curve is not None else model.tree_count_
        if valid is not None and self.stopped_by_ == "completed" and len(curve) < self.iterations:
            self.stopped_by_ = "early_stopping"
        self.history_ = [{"iteration": i + 1, "train_loss": float(train_curve[i]),
                          **({"validation_loss": float(valid_curve[i])} if valid_curve is not None else {})}
                         for i in range(len(train_curve))]
        self.metric_name_ = metric
        if model.tree_count_ > self.best_iteration_:  # what is saved is what was scored
            model.shrink(self.best_iteration_)
        self.model_ = model

    def _predict_raw(self, X) -> np.ndarray:
        if self.task == "classification":
            return np.asarray(self.model_.predict(X, prediction_type="Probability"), dtype=np.float64)
        return np.asarray(self.model_.predict(X, prediction_type="RawFormulaVal"), dtype=np.float64).reshape(-1)

    def _state(self) -> tuple[dict, dict[str, bytes]]:
        return {"model_file": "model.cbm"}, {"model.cbm": _model_bytes(self.model_, "cbm")}

    def _load_state(self, directory: Path, extra: dict) -> None:
        CatBoost, _ = _catboost()
        self.model_ = CatBoost()
        self.model_.load_model(str(directory / extra["model_file"]), format="cbm")

    def fixed_params(self) -> dict:
        """The trees kept, as a fixed round count (a refit needs no validation rows)."""
        return {"iterations": self.best_iteration_}

    def n_parameters(self) -> int:
        """Split thresholds (one per level of each tree) plus leaf values (one per leaf and output)."""
        counts = np.asarray(self.model_.get_tree_leaf_counts())
        return int(np.log2(np.maximum(counts, 1)).round().sum() + len(self.model_.get_leaf_values()))

    def attributions(self, X: np.ndarray, **options) -> Attributions:
        """Exact SHAP values from CatBoost's own implementation (``ShapValues``), in the trees' margin space: the
        log-odds of ``classes_[1]`` (binary), the raw score of each row's predicted class (multiclass), the
        predicted value (regression)."""
        from trainwright.models.tabular.gbdt import tree_shap_attributions

        _, Pool = _catboost()
        return tree_shap_attributions(self.model_.get_feature_importance(Pool(X), type="ShapValues"), X.shape,
                                      self.classes_ if self.task == "classification" else None)

    @property
    def feature_importances_(self) -> np.ndarray:
        """How much each feature changes the predictions (CatBoost's PredictionValuesChange)."""
        self._check_fitted()
        return np.asarray(self.model_.get_feature_importance(), dtype=np.float64)

    def onnx_nodes(self, g, features: str) -> str:
        """The trees as CatBoost exports them (ai.onnx.ml tree ensembles on float32 features, as CatBoost itself
        compares them), absorbed into ``g`` without the exporter's ZipMap; the output cast to double."""
        import onnx
        from onnx import TensorProto, helper

        converted = onnx.load_from_string(_model_bytes(self.model_, "onnx"))
        trees = next(n for n in converted.graph.node if n.op_type.startswith("TreeEnsemble"))
        kept = [n for n in converted.graph.node if n.op_type != "ZipMap"]
        del converted.graph.node[:]
        converted.graph.node.extend(kept)
        del converted.graph.output[:]
        out = trees.output[-1]  # the classifier's probabilities (after its labels), the regressor's values
        converted.graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
        (values,) = g.absorb(converted, {converted.graph.input[0].name: features}, prefix=g.fresh("cat") + "_").values()
        if self.task == "regression":
            values = g.op("Squeeze", values, g.const(np.array([1], dtype=np.int64)))
        return g.op("Cast", values, to=11)


class _Watch:
    """CatBoost's per-iteration callback: stops at the deadline and by the tolerance rule (``gbdt.ToleranceStop``,
    which LightGBM's early stopping uses too), and reports the validation loss every ``REPORT_EVERY`` rounds. An
    exception from the report (a pruned trial) stops the fit and is kept."""

    def __init__(self, learner: CatBoostLearner, deadline: float | None, report) -> None:
        from trainwright.models.tabular.gbdt import ToleranceStop

        self.learner, self.deadline, self.report, self.error = learner, deadline, report, None
        self.rule = ToleranceStop(learner.early_stopping_rounds, learner.early_stopping_tol,
                                  ToleranceStop.for_task(learner.task))

    def after_iteration(self, info) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.learner.stopped_by_ = "time_budget"
            return False
        if "validation" not in info.metrics:
            return True
        loss = float(next(iter(info.metrics["validation"].values()))[-1])
        if self.rule.stop(loss, info.iteration):
            self.learner.stopped_by_ = "early_stopping"
            return False
        if self.report is not None and info.iteration % REPORT_EVERY == 0:
            try:
                self.report(info.iteration, loss)
            except Exception as exc:  # noqa: BLE001 - re-raised after CatBoost returns
                self.error = exc
                return False
        return True


def _catboost():
    """CatBoost's model and pool classes, or the ``ConfigError`` of ``registry.require_installed`` (an optional
    extra)."""
    from trainwright.models.registry import require_installed

    require_installed(CatBoostLearner)
    from catboost import CatBoost, Pool

    return CatBoost, Pool


def _model_bytes(model, form: str) -> bytes:
    """The model in CatBoost's ``form`` ("cbm", "onnx"), as bytes (CatBoost writes only to files)."""
    from trainwright.runs.store import bytes_written_by

    return bytes_written_by(lambda path: model.save_model(path, format=form), f".{form}")
