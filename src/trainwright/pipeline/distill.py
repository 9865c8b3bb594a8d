"""Distillation (``trainwright compress --method distill``): one small student taught the parent's probabilities.

The student learns from the parent's (the teacher's) probabilities for the training rows and for synthetic rows
made from them by MUNGE (Bucila, Caruana & Niculescu-Mizil, "Model compression", KDD 2006): soft labels, as
weighted rows (``soft_labels``), so any learner that takes row weights minimises the cross-entropy to the
teacher. It trains through the one fit routine; its preprocessing is fitted on the training rows with their true
labels (as training fits it); the validation rows, with their true labels, choose its iterations. Nothing fitted
sees the validation rows' features through the teacher, nor any test row.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from trainwright.errors import ConfigError

__all__ = ["distilled", "soft_labels", "synthetic_rows", "STUDENTS"]

# Small by default: a student as large as its teacher compresses nothing (a 2,000-round LightGBM student of a
# penguins MLP was 24 times its size).
STUDENTS = {"lightgbm": {"num_leaves": 15, "n_estimators": 200, "learning_rate": 0.1}, "linear": {},
            "mlp": {"hidden_sizes": [64]}}


def distilled(teacher, recipe, frame, y, positions, *, student: str, synthetic: int | None, deadline, seed: int):
    """(the student's predictor, what was done): ``student`` (a key of ``STUDENTS``) fitted on the teacher's
    probabilities for the training rows of ``frame`` and ``synthetic`` rows made from them (default three per
    training row, at most 50,000)."""
    import pandas as pd

    from trainwright.deploy.predictor import Predictor
    from trainwright.fitting import fit_member
    from trainwright.models.registry import build_learner, learners
    from trainwright.pipeline.fit import member_spec

    pre = teacher.members[0][0]
    kinds = dict(pre.kinds)
    if "image" in kinds.values():
        raise ConfigError("an image run cannot be distilled here (synthetic rows are made from table columns); "
                          "use --method quantize or prune", path="--method")
    train, valid = frame.iloc[positions["train"]], frame.iloc[positions["validation"]]
    n = min(3 * len(train), 50_000) if synthetic is None else synthetic
    made = synthetic_rows(train, kinds, pre.transform(train), n, seed=seed)
    taught, labels, weights = soft_labels(teacher, pd.concat([train, made], ignore_index=True))
    # rows: the training rows with their true labels (the preprocessor is fitted on them), the taught rows (the
    # learner is fitted on them), the validation rows (they watch its iterations)
    rows = pd.concat([train, taught, valid], ignore_index=True)
    parts = [y[positions["train"]], labels, y[positions["validation"]]]
    targets = np.concatenate([p.astype(object) if teacher.task == "classification" else p.astype(float) for p in parts])
    learner = build_learner(learners().config_class(student)(**STUDENTS[student]), task=teacher.task, seed=seed,
                            train=recipe.train)
    spec = replace(member_spec(recipe, kinds, teacher.task, learner), balance="none")  # the teacher's odds, as they are
    first, last = len(train), len(train) + len(taught)
    member = fit_member(spec, rows, targets, np.arange(first, last), np.arange(last, len(rows)), seed=seed,
                        deadline=deadline, fit_rows=np.arange(first),
                        weights=np.concatenate([np.ones(first), weights, np.ones(len(valid))]))
    predictor = Predictor([(member.preprocessor, member.learner)], teacher.task, teacher.frame_steps)
    return predictor, {"what": f"{student} student fitted on the parent's probabilities for {len(train)} training "
                               f"and {n} synthetic rows in {member.fit_seconds:.1f}s", "student": student,
                       "training_rows": int(len(train)), "synthetic_rows": int(n)}


def soft_labels(teacher, rows, *, floor: float = 1e-3):
    """(rows, labels, weights) that teach the teacher's probabilities: each row once per class it gives at least
    ``floor`` probability, labelled with that class and weighted by it, so a learner minimising weighted log loss
    minimises the cross-entropy to the teacher's probabilities (soft labels, through any learner that takes
    weights). Regression: the rows, the teacher's values, weights 1.

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import Preprocessor
        >>> from trainwright.deploy.predictor import Predictor
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> rows = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
        >>> pre = Preprocessor({"x": "numeric"}).fit(rows)
        >>> teacher = Predictor([(pre, LinearLearner().fit(pre.transform(rows), ["a", "a", "b", "b"]))], "classification")
        >>> taught, labels, weights = soft_labels(teacher, rows.head(1))
        >>> len(taught), labels.tolist(), bool(abs(weights.sum() - 1) < 1e-12)
        (2, ['a', 'b'], True)
    """
    out = teacher.output(rows, prepared=True)
    if teacher.task != "classification":
        return rows, np.asarray(out, float), np.ones(len(rows))
    row, cls = np.nonzero(out >= floor)
    taught = rows.iloc[row].reset_index(drop=True)
    return taught, teacher.classes_[cls], out[row, cls]


def synthetic_rows(rows, kinds: dict[str, str], matrix: np.ndarray, n: int, *, seed: int = 0, swap: float = 0.5,
                   spread: float = 2.0):
    """``n`` synthetic rows made from ``rows`` by MUNGE: each starts as a random row; each column, with
    probability ``swap``, takes the value of that row's nearest neighbour (in ``matrix``, the rows as the
    model sees them), and numbers then move by Gaussian noise of sd ``|a - b| / spread``.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"x": [0.0, 1.0, 10.0, 11.0], "c": ["a", "a", "b", "b"]})
        >>> made = synthetic_rows(rows, {"x": "numeric", "c": "categorical"}, rows[["x"]].to_numpy(), 200)
        >>> len(made), bool(made["x"].between(-3, 14).all()), sorted(made["c"].unique())
        (200, True, ['a', 'b'])
    """
    import pandas as pd
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    if n == 0 or len(rows) < 2:
        return rows.iloc[:0].copy()
    neighbours = NearestNeighbors(n_neighbors=2).fit(matrix).kneighbors(matrix, return_distance=False)[:, 1]
    base = rng.integers(0, len(rows), n)
    other = neighbours[base]
    out = rows.iloc[base].reset_index(drop=True).copy()
    for col, kind in kinds.items():
        if col not in rows.columns:
            continue
        take = rng.random(n) < swap
        values = rows[col].to_numpy()
        a, b = values[base], values[other]
        if kind == "numeric":
            a, b = pd.to_numeric(pd.Series(a), errors="coerce").to_numpy(float), \
                pd.to_numeric(pd.Series(b), errors="coerce").to_numpy(float)
            noise = np.nan_to_num(np.abs(a - b) / spread) * rng.standard_normal(n)
            out[col] = np.where(take & ~np.isnan(b), b, a) + np.where(take, noise, 0.0)
        else:
            out[col] = np.where(take, b, a)
    return out
