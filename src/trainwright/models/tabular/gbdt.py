"""Gradient-boosted trees with LightGBM: the default learner for tabular data."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from pydantic import Field

from trainwright.config.base import Section
from trainwright.models.base import Attributions, Capabilities, Learner
from trainwright.models.registry import register_learner

__all__ = ["LightGBMConfig", "LightGBMLearner", "ToleranceStop", "tree_shap_attributions"]


class LightGBMConfig(Section):
    """Gradient-boosted trees (LightGBM): the default learner for tables."""

    type: Literal["lightgbm"] = "lightgbm"
    n_estimators: int = Field(2000, ge=1, description="Most boosting rounds; early stopping usually ends sooner.")
    learning_rate: float = Field(0.05, gt=0, le=1, description="Shrinkage applied to each tree.")
    num_leaves: int = Field(31, ge=2, description="Most leaves per tree (model capacity).")
    min_child_samples: int = Field(
        10, ge=1, description="Fewest training rows in a leaf; larger values regularise."
    )
    subsample: float = Field(0.9, gt=0, le=1, description="Share of rows drawn for each tree (bagging).")
    colsample_bytree: float = Field(0.9, gt=0, le=1, description="Share of features drawn for each tree.")
    reg_lambda: float = Field(1.0, ge=0, description="L2 penalty on leaf values.")
    extra_trees: bool = Field(False, description="Extremely randomised trees: each split tests one random "
                                                 "threshold per feature (faster, more different for ensembles).")
    early_stopping_rounds: int = Field(
        50, ge=1, description="Stop when the validation loss has not improved for this many rounds."
    )
    early_stopping_tol: float = Field(
        1e-4, ge=0, lt=1, description="A round improves on the best validation loss only when it lowers it by more "
                                      "than this share of the first round's loss (classes) or of the best loss so "
                                      "far (regression); 0: any decrease counts.")
    target_transform: Literal["none", "log"] = Field(
        "none", description="Regression only. 'log': the trees learn log(1 + y - the least training y) and predict "
                            "back through its inverse: a skewed target (prices, counts) is split on its relative "
                            "differences, and its errors differ from the plain model's (diamonds' prices, one model "
                            "each: test RMSE 592.7 and 592.5, the two averaged 582.5).")
    n_jobs: Optional[int] = Field(None, ge=1, description="Threads; default: all cores.")

    def check_task(self, task: str) -> None:
        """Refuse settings this task cannot use (before any work): a target transform on classes."""
        _check_transform(task, self.target_transform)


_D = LightGBMConfig()


@register_learner(LightGBMConfig)
class LightGBMLearner(Learner):
    """LightGBM with early stopping on validation; keeps only the best iteration's trees.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
        >>> LightGBMLearner(n_estimators=20).fit(X, y).predict(X[:2]).shape
        (2,)
    """

    capabilities = Capabilities(explanation="tree_shap", iteration="boosting round", learning_curve=True,
                                reports_iterations=True, parameters="split thresholds and leaf values over all trees")
    requires = ("lightgbm",)
    search_space = {
        "model.learning_rate": {"type": "log", "low": 0.01, "high": 0.3},
        "model.num_leaves": {"type": "int", "low": 4, "high": 256, "log": True},
        "model.min_child_samples": {"type": "int", "low": 2, "high": 100, "log": True},
        "model.colsample_bytree": {"type": "float", "low": 0.4, "high": 1.0},
        "model.subsample": {"type": "float", "low": 0.5, "high": 1.0},
        "model.reg_lambda": {"type": "log", "low": 1e-3, "high": 30.0},
        "model.extra_trees": {"type": "categorical", "choices": [False, True]},
    }

    def __init__(
        self,
        task: str = "classification",
        n_estimators: int = _D.n_estimators,
        learning_rate: float = _D.learning_rate,
        num_leaves: int = _D.num_leaves,
        min_child_samples: int = _D.min_child_samples,
        subsample: float = _D.subsample,
        colsample_bytree: float = _D.colsample_bytree,
        reg_lambda: float = _D.reg_lambda,
        extra_trees: bool = _D.extra_trees,
        early_stopping_rounds: int = _D.early_stopping_rounds,
        early_stopping_tol: float = _D.early_stopping_tol,
        target_transform: str = _D.target_transform,
        n_jobs: Optional[int] = _D.n_jobs,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.extra_trees = extra_trees
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_tol = early_stopping_tol
        self.target_transform = target_transform
        self.n_jobs = n_jobs
        self.seed = seed

    def _params(self) -> dict:
        from trainwright.runtime import cpu_threads

        params = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "extra_trees": bool(self.extra_trees),
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs or cpu_threads(),
            "verbosity": -1,
        }
        if self.subsample < 1:
            params.update(bagging_fraction=self.subsample, bagging_freq=1)
        if self.task == "regression":
            params.update(objective="regression", metric="rmse")
        elif len(self.classes_) == 2:
            params.update(objective="binary", metric="binary_logloss")
        else:
            params.update(objective="multiclass", metric="multi_logloss", num_class=len(self.classes_))
        return params

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        import lightgbm as lgb

        self.target_shift_ = _target_shift(self.task, self.target_transform, y)
        y = self._to_trees(y)
        valid = None if valid is None else (valid[0], self._to_trees(valid[1]))
        train_set = lgb.Dataset(X, y, weight=sample_weight, free_raw_data=True)
        sets, names = [train_set], ["train"]
        callbacks = []
        evals: dict = {}
        callbacks.append(lgb.record_evaluation(evals))
        if valid is not None:
            sets.append(lgb.Dataset(valid[0], valid[1], reference=train_set))
            names.append("validation")
            callbacks.append(_early_stopping(self.early_stopping_rounds, self.early_stopping_tol, self.task))
        if deadline is not None:
            callbacks.append(_deadline_callback(deadline, self))
        report = getattr(self, "_fit_options", {}).get("on_iteration")
        if report is not None and valid is not None:
            callbacks.append(_report_callback(report, evals))
        # keep_training_booster: without it LightGBM reloads the booster cut at its early-stopping iteration (the
        # tolerance's), fewer trees than best_iteration_ below (574 of 624 on 10-class digits).
        booster = lgb.train(
            self._params(), train_set, num_boost_round=self.n_estimators,
            valid_sets=sets, valid_names=names, callbacks=callbacks, keep_training_booster=True,
        )
        metric = next(iter(evals["train"]))
        train_curve = evals["train"][metric]
        valid_curve = evals.get("validation", {}).get(metric)
        curve = valid_curve if valid_curve is not None else train_curve
        # The best iteration is read from the recorded curve so that early stopping,
        # the round limit and the time budget all choose the same way.
        self.best_iteration_ = int(np.argmin(curve)) + 1
        if valid is not None and self.stopped_by_ == "completed" and len(curve) < self.n_estimators:
            self.stopped_by_ = "early_stopping"
        self.history_ = [
            {"iteration": i + 1, "train_loss": float(train_curve[i]),
             **({"validation_loss": float(valid_curve[i])} if valid_curve is not None else {})}
            for i in range(len(train_curve))
        ]
        self.metric_name_ = metric
        # Keep only the trees up to the best iteration: what is saved is what was scored.
        text = booster.model_to_string(num_iteration=self.best_iteration_)
        del booster, sets, train_set  # the training data and every tree grown, before the kept ones are read back
        self.booster_ = lgb.Booster(model_str=text)

    def _to_trees(self, y) -> np.ndarray:
        """Regression targets as the trees learn them (``target_transform``); class positions unchanged."""
        shift = self.target_shift_
        return y if shift is None else np.log1p(np.asarray(y, dtype=np.float64) - shift)

    def _predict_raw(self, X) -> np.ndarray:
        raw = np.asarray(self.booster_.predict(X), dtype=np.float64)
        if self.target_shift_ is not None:
            return np.expm1(raw) + self.target_shift_
        if self.task == "classification":
            if len(self.classes_) == 2:  # binary: P(class 1)
                raw = raw.reshape(-1)
                return np.column_stack([1.0 - raw, raw])
            return raw.reshape(len(X), len(self.classes_))
        return raw

    def onnx_nodes(self, g, features: str) -> str:
        """The booster as onnxmltools converts it (ai.onnx.ml tree ensembles, computed in float32), absorbed into
        ``g``; its float output cast to double."""
        import numpy as np
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType

        width = self.booster_.num_feature()
        converted = convert_lightgbm(self.booster_, initial_types=[("features", FloatTensorType([None, width]))],
                                     zipmap=False, target_opset=15)
        _exact_float32_thresholds(converted, self.booster_)
        outputs = g.absorb(converted, {"features": features}, prefix=g.fresh("lgbm") + "_")
        if self.task == "regression":
            (values,) = outputs.values()
            values = g.op("Cast", g.op("Squeeze", values, g.const(np.array([1], dtype=np.int64))), to=11)
            shift = self.target_shift_  # target_transform=log: exp(z) - 1 + shift
            return values if shift is None else g.op("Add", g.op("Exp", values), g.const(np.array(shift - 1.0)))
        return g.op("Cast", outputs["probabilities"], to=11)

    def pruned(self, amount: float, X, y, *, X_valid=None, y_valid=None, deadline=None, sample_weight=None,
               seed: int = 0) -> "LightGBMLearner":
        """A copy keeping the first ``1 - amount`` share of the boosting rounds (at least one), then, as the
        fine-tune, the kept trees' leaf values refitted on the training rows (LightGBM's ``refit``, each leaf 90%
        old value, 10% new), kept only when the validation loss is lower with them. Smaller and faster in
        proportion to the rounds removed."""
        import copy

        import lightgbm as lgb

        self._check_fitted()
        rounds = self.booster_.current_iteration()
        keep = max(1, int(round(rounds * (1 - amount))))
        out = copy.copy(self)
        out.booster_ = lgb.Booster(model_str=self.booster_.model_to_string(num_iteration=keep))
        encode = self.encode_labels if self.task == "classification" else lambda v: np.asarray(v, float)
        refitted = copy.copy(out)
        refitted.booster_ = out.booster_.refit(X, self._to_trees(encode(y)), decay_rate=0.9, weight=sample_weight)
        choice = "truncated"
        if X_valid is not None and len(X_valid):
            losses = [_loss(self.task, encode(y_valid), m.output(X_valid)) for m in (out, refitted)]
            choice = "refitted" if losses[1] < losses[0] else "truncated"
        out = refitted if choice == "refitted" else out
        out.best_iteration_, out.pruned_ = keep, {"amount": float(amount), "rounds_before": int(rounds),
                                                  "rounds_kept": keep, "leaves": choice}
        return out

    def _state(self) -> tuple[dict, dict[str, bytes]]:
        return ({"model_file": "model.txt", "target_shift": self.target_shift_},
                {"model.txt": self.booster_.model_to_string().encode("utf-8")})

    def _load_state(self, directory: Path, extra: dict) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(directory / extra["model_file"]))
        self.target_shift_ = extra.get("target_shift")

    def fixed_params(self) -> dict:
        """The trees kept, as a fixed round count (a refit needs no validation rows)."""
        return {"n_estimators": self.best_iteration_}

    def n_parameters(self) -> int:
        """Split thresholds plus leaf values over all trees (read from the model text: ``dump_model``'s JSON
        takes seconds for big models)."""
        import re

        leaves = re.findall(r"^num_leaves=(\d+)$", self.booster_.model_to_string(), flags=re.M)
        return int(sum(2 * int(n) - 1 for n in leaves))

    def attributions(self, X: np.ndarray, **options) -> Attributions:
        """Exact TreeSHAP contributions from LightGBM's own implementation of Lundberg et al.'s algorithm
        (``pred_contrib=True``), in the trees' margin space: the log-odds of ``classes_[1]`` (binary), the raw
        score of each row's predicted class (multiclass), the predicted value (regression)."""
        att = tree_shap_attributions(self.booster_.predict(X, pred_contrib=True), X.shape,
                                     self.classes_ if self.task == "classification" else None)
        shift = self.target_shift_
        return att if shift is None else dataclasses.replace(att, space=f"log(1 + value - {shift:.6g})")

    @property
    def feature_importances_(self) -> np.ndarray:
        """Total gain of the splits on each feature."""
        self._check_fitted()
        return self.booster_.feature_importance(importance_type="gain")


def tree_shap_attributions(contributions, shape: tuple[int, int], classes) -> Attributions:
    """``Attributions`` from a tree library's SHAP output (each row: every output's feature contributions then its
    expected value), in the margin space: the log-odds of ``classes[1]`` (binary), the raw score of each row's
    predicted class (multiclass), the value (regression, ``classes`` None)."""
    n, width = shape
    contrib = np.asarray(contributions, dtype=np.float64).reshape(n, -1, width + 1)  # (rows, outputs, features + 1)
    space = "value" if classes is None else ("log-odds" if len(classes) == 2 else "raw score")
    base = contrib[0, :, width] if n else np.zeros(contrib.shape[1])  # the same for every row
    margin = contrib.sum(axis=2)  # (rows, outputs); the raw prediction
    pick = margin.argmax(axis=1) if margin.shape[1] > 1 else np.zeros(n, dtype=np.int64)
    return Attributions(space, contrib[np.arange(n), pick, :width], pick, base, margin, {})


def _check_transform(task: str, transform: str) -> None:
    if transform != "none" and task != "regression":
        from trainwright.errors import ConfigError

        raise ConfigError(f"model.target_transform={transform} transforms a regression target; this one has classes: "
                          "set model.target_transform=none", path="model.target_transform")


def _target_shift(task: str, transform: str, y) -> float | None:
    """The least training target, which ``target_transform=log`` subtracts (None: no transform)."""
    _check_transform(task, transform)
    return None if transform == "none" else float(np.min(y))


def _loss(task: str, y: np.ndarray, output: np.ndarray) -> float:
    """Mean log loss (classification, ``y`` class positions) or squared error."""
    if task == "classification":
        return float(-np.mean(np.log(np.clip(output[np.arange(len(y)), y], 1e-15, 1))))
    return float(np.mean((output - y) ** 2))


REPORT_EVERY = 10  # boosting rounds between reports to a tuning trial


class ToleranceStop:
    """Early stopping with a tolerance: stop when the validation loss has not fallen by more than ``tol`` times a
    reference loss for ``rounds`` rounds. The boosting libraries' own detectors count any decrease, so a
    multiclass log-loss creeping towards 0 on a table it separates runs to the round limit (LightGBM: 6,000 trees,
    8 s, on penguins; CatBoost: 1,610 rounds on 89 wine rows). ``round`` is the last round that improved.

    The reference is the first round's loss (``relative_to="first"``, for classes) or the best loss so far
    (``"best"``, for regression). A regression loss at the first round is the target's spread, many times the
    error a good model ends with, so a tolerance on that scale stops while the error still falls: LightGBM on
    diamonds' prices (tol 1e-3, one fold) stopped at 250 trees with test RMSE 581.0; measured against the best
    loss so far it stopped at 437 trees and 573.8, as with no tolerance.

    Example:
        >>> rule = ToleranceStop(rounds=2, tol=0.1)
        >>> [rule.stop(loss, i) for i, loss in enumerate([1.0, 0.5, 0.45, 0.44])]  # 0.45, 0.44: not 0.1 below 0.5
        [False, False, False, True]
        >>> losses = [1.0, 0.5, 0.44, 0.43, 0.42]
        >>> first, best = ToleranceStop(2, 0.1), ToleranceStop(2, 0.1, relative_to="best")
        >>> [first.stop(loss, i) for i, loss in enumerate(losses)]  # 0.44: not 0.1 x 1.0 below 0.5
        [False, False, False, True, True]
        >>> [best.stop(loss, i) for i, loss in enumerate(losses)]  # 0.44: more than 0.1 x 0.5 below 0.5
        [False, False, False, False, True]
    """

    def __init__(self, rounds: int, tol: float, relative_to: Literal["first", "best"] = "first") -> None:
        self.rounds, self.tol, self.relative_to = rounds, tol, relative_to
        self.loss, self.round, self.step = float("inf"), 0, 0.0

    def stop(self, loss: float, iteration: int) -> bool:
        """Record round ``iteration``'s validation ``loss``; True when training should stop."""
        if self.loss == float("inf") or loss < self.loss - self.step:
            if self.loss == float("inf") or self.relative_to == "best":
                self.step = self.tol * abs(loss)
            self.loss, self.round = loss, iteration
            return False
        return iteration - self.round >= self.rounds

    @staticmethod
    def for_task(task: str) -> Literal["first", "best"]:
        """The reference loss for a task's validation loss: the best so far for regression, else the first."""
        return "best" if task == "regression" else "first"


def _early_stopping(rounds: int, tol: float, task: str):
    """LightGBM's callback for ``ToleranceStop``; the trees kept are chosen from the recorded curve, as before."""
    import lightgbm as lgb

    rule = ToleranceStop(rounds, tol, ToleranceStop.for_task(task))

    def callback(env) -> None:
        loss = next(r[2] for r in env.evaluation_result_list if r[0] == "validation")
        if rule.stop(loss, env.iteration):
            raise lgb.callback.EarlyStopException(rule.round, env.evaluation_result_list)

    callback.order = 30  # where LightGBM's early stopping sits: after record_evaluation (20)
    return callback


def _report_callback(report, evals: dict):
    """Report the validation loss every ``REPORT_EVERY`` rounds (what ``record_evaluation`` recorded)."""

    def callback(env) -> None:
        if (env.iteration + 1) % REPORT_EVERY == 0:
            curve = next(iter(evals["validation"].values()))
            report(env.iteration + 1, float(curve[-1]))

    callback.order = 35  # after record_evaluation (20) and early stopping (30)
    return callback


def _deadline_callback(deadline: float, learner: LightGBMLearner):
    import lightgbm as lgb

    def callback(env) -> None:
        if time.monotonic() > deadline:
            learner.stopped_by_ = "time_budget"
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    callback.order = 40  # after record_evaluation (20) and early stopping (30)
    return callback


def _split_thresholds(booster) -> dict[tuple[int, int], float]:
    """Every node's threshold (0.0 for a leaf; NaN for a categorical split) by (tree, node id), the ids given as
    onnxmltools gives them: the root 0, then each split's two children the next free ids when it is read, the
    left subtree read before the right."""
    out: dict[tuple[int, int], float] = {}
    for t, tree in enumerate(booster.dump_model()["tree_info"]):
        count = [0]

        def walk(node: dict, nid: int) -> None:
            if "left_child" not in node:
                out[(t, nid)] = 0.0
                return
            threshold = node["threshold"]
            out[(t, nid)] = float("nan") if isinstance(threshold, str) and "|" in threshold else float(threshold)
            left, right = count[0] + 1, count[0] + 2
            count[0] += 2
            walk(node["left_child"], left)
            walk(node["right_child"], right)

        walk(tree["tree_structure"], 0)
    return out


def _exact_float32_thresholds(converted, booster) -> None:
    """Make the float32 tree ensemble route every float32 feature value as LightGBM routes it. LightGBM compares
    with double thresholds; the converter rounds them to the nearest float32, which can fall on the other side
    of a feature value. For float32 x, ``x <= t`` equals ``x <= the largest float32 not above t`` (and ``x < t``:
    ``x <= the largest float32 below t``), so those thresholds replace the rounded ones."""
    import numpy as np
    from onnx import helper

    from trainwright.errors import ExportError

    node = next(n for n in converted.graph.node if n.op_type.startswith("TreeEnsemble"))
    attrs = {a.name: a for a in node.attribute}
    modes = [m.decode() if isinstance(m, bytes) else m for m in helper.get_attribute_value(attrs["nodes_modes"])]
    rounded = np.asarray(helper.get_attribute_value(attrs["nodes_values"]), dtype=np.float32)
    by_id = _split_thresholds(booster)
    keys = zip(helper.get_attribute_value(attrs["nodes_treeids"]), helper.get_attribute_value(attrs["nodes_nodeids"]))
    exact = np.array([by_id.get(k, np.inf) for k in keys], dtype=np.float64)  # inf: a node we do not know
    known = ~np.isnan(exact)
    if len(by_id) != len(rounded) or np.isinf(exact).any() or \
            not np.array_equal(exact.astype(np.float32)[known], rounded[known]):
        raise ExportError("the LightGBM converter laid the trees out in an order this version of trainwright does "
                          "not know, so its thresholds cannot be made exact; nothing was exported")
    fixed = exact.astype(np.float32)
    for i, mode in enumerate(modes):
        if mode in ("BRANCH_LEQ", "BRANCH_LT") and np.isfinite(exact[i]):
            limit = np.float32(exact[i])
            if limit > exact[i] or (mode == "BRANCH_LT" and limit == exact[i]):
                limit = np.nextafter(limit, np.float32(-np.inf))
            fixed[i] = limit
            if mode == "BRANCH_LT":
                modes[i] = "BRANCH_LEQ"
    attrs["nodes_values"].CopyFrom(helper.make_attribute("nodes_values", fixed.tolist()))
    attrs["nodes_modes"].CopyFrom(helper.make_attribute("nodes_modes", modes))
