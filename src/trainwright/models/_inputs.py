"""What a learner accepts: the checks ``Learner.fit`` and ``predict`` run on X, y and sample weights, with messages
that say why and how to fix it (and keep the phrases scikit-learn's conformance checks look for)."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from trainwright.errors import DataError

__all__: list[str] = []


def _as_matrix(X, *, name: str = "X", min_rows: int = 0) -> np.ndarray:
    """``X`` as a float32 matrix (rows x features) of finite numbers, or a ``DataError`` saying why not.

    Learners are fed imputed matrices, so NaN and inf are refused rather than learned from. The
    messages keep the phrases scikit-learn's conformance checks look for ("Reshape your data",
    "0 feature(s) (shape=...)", "Complex data not supported", "sparse").
    """
    scipy_sparse = sys.modules.get("scipy.sparse")  # not imported means X cannot be a scipy matrix
    if scipy_sparse is not None and scipy_sparse.issparse(X):
        raise DataError(f"{name} is a sparse matrix, but learners need dense data (sparse input is not "
                        f"supported); convert it with {name}.toarray()")
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise DataError(f"Complex data not supported: {name} holds complex numbers; pass real values")
    if X.ndim != 2:
        raise DataError(
            f"{name} must be 2-dimensional (rows x features), got shape {X.shape}. Reshape your data: "
            "array.reshape(-1, 1) if it has a single feature, array.reshape(1, -1) if it is a single row")
    if X.shape[0] < min_rows:
        raise DataError(f"{name} has {X.shape[0]} sample(s) (shape={X.shape}) while a minimum of {min_rows} "
                        "is required to fit")
    if X.shape[1] < 1:
        raise DataError(f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, refused just below
        X = X.astype(np.float32, copy=False)
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise DataError(
            f"{name} contains NaN or inf (or a value too large for float32), first at row {row}, column {col}; "
            "learners expect imputed, finite numbers: impute or drop those values first")
    return X


def _as_target(y, task: str, owner: str) -> np.ndarray:
    """``y`` as a 1-d array of finite targets (class labels for classification), or a ``DataError``."""
    if y is None:
        raise DataError(f"{owner} requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if np.iscomplexobj(y):
        raise DataError("Complex data not supported: y holds complex numbers; pass real values or labels")
    if y.ndim == 2 and y.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning  # only on this path: keeps sklearn out of fit

        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape "
                      "of y to (n_samples,), for example using ravel().", DataConversionWarning, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y should be a 1d array (one target per row), got an array of shape {y.shape} instead")
    if task == "regression":
        y = y.astype(np.float64)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError("y contains NaN or inf; drop the rows whose target is missing before fitting")
    if task == "classification" and y.dtype.kind == "f" and (y != np.round(y)).any():
        raise DataError(
            "Unknown label type: continuous. Classification needs class labels, but y holds non-integer "
            "numbers; use task='regression' for a numeric target")
    return y


def _as_weights(sample_weight, n_rows: int) -> np.ndarray:
    """``sample_weight`` as ``n_rows`` finite, non-negative float64 weights, not all zero."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_rows,) or not np.isfinite(w).all() or (w < 0).any():
        raise DataError(f"sample_weight must be {n_rows} finite, non-negative numbers, got shape {w.shape}")
    if not w.any():
        raise DataError("sample_weight is zero for every row; at least one weight must be positive")
    return w
