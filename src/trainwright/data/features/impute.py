"""Imputing missing numeric values, fitted on training rows only.

Strategies: mean, median, most_frequent, constant, knn (mean of the k nearest
training rows, by distance over the values both rows have) and iterative
(each column regressed on the others, round-robin, as in MICE). With
``sample_posterior`` the iterative imputer adds the regression's residual noise,
which is how multiple imputation draws its m different copies.

Everything fitted is plain numbers, saved as JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NumericImputer", "IMPUTE_STRATEGIES"]

IMPUTE_STRATEGIES = ("median", "mean", "most_frequent", "constant", "knn", "iterative")


class NumericImputer:
    """Fills NaN in a (rows, columns) float matrix.

    Args:
        strategy: one of ``IMPUTE_STRATEGIES``.
        fill_value: the value for "constant".
        n_neighbors: k for "knn".
        max_reference: most training rows kept as "knn" neighbours (a seeded sample).
        n_iter: rounds of "iterative".
        sample_posterior: "iterative" adds residual noise (for multiple imputation).
        seed: seed of the reference sample and the posterior noise.

    Example:
        >>> R = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
        >>> NumericImputer("iterative").fit(R).transform(R)[1, 0].round(2)
        np.float64(2.0)
    """

    def __init__(self, strategy: str = "median", *, fill_value: float = 0.0, n_neighbors: int = 5,
                 max_reference: int = 2000, n_iter: int = 5, sample_posterior: bool = False, seed: int = 0) -> None:
        if strategy not in IMPUTE_STRATEGIES:
            raise ValueError(f"unknown imputation strategy '{strategy}'; use one of {', '.join(IMPUTE_STRATEGIES)}")
        self.strategy = strategy
        self.fill_value = fill_value
        self.n_neighbors = n_neighbors
        self.max_reference = max_reference
        self.n_iter = n_iter
        self.sample_posterior = sample_posterior
        self.seed = seed

    def fit(self, R: np.ndarray) -> "NumericImputer":
        """Learn from training rows ``R`` (NaN where missing)."""
        R = np.asarray(R, dtype=np.float64)
        self.fill_ = _column_fill(R, "median" if self.strategy in ("knn", "iterative") else self.strategy, self.fill_value)
        if self.strategy == "knn":
            self.center_, self.scale_ = _nan_center_scale(R)
            rng = np.random.default_rng(self.seed)
            keep = rng.choice(len(R), size=min(len(R), self.max_reference), replace=False) if len(R) else []
            self.reference_ = R[np.sort(keep)]
        elif self.strategy == "iterative":
            self.steps_ = self._fit_iterative(R)
        return self

    def transform(self, R: np.ndarray) -> np.ndarray:
        """A copy of ``R`` with every NaN filled."""
        R = np.array(R, dtype=np.float64, copy=True)
        missing = np.isnan(R)
        if not missing.any():
            return R
        if self.strategy == "knn":
            return self._knn(R, missing)
        filled = np.where(missing, self.fill_[None, :], R)
        if self.strategy == "iterative":
            filled = self._apply_iterative(filled, missing)
        return filled

    # --- iterative (round-robin ridge regressions) -------------------------------
    def _fit_iterative(self, R: np.ndarray) -> list[dict[str, Any]]:
        missing = np.isnan(R)
        X = np.where(missing, self.fill_[None, :], R)
        steps = []
        columns = [j for j in range(R.shape[1]) if missing[:, j].any() and (~missing[:, j]).sum() > 1]
        for _ in range(self.n_iter if R.shape[1] > 1 else 0):
            for j in columns:
                others = np.delete(np.arange(R.shape[1]), j)
                seen = ~missing[:, j]
                coef, intercept, resid = _ridge(X[seen][:, others], R[seen, j])
                X[missing[:, j], j] = X[missing[:, j]][:, others] @ coef + intercept
                steps.append({"column": j, "coef": coef.tolist(), "intercept": intercept, "resid_std": resid})
        return steps

    def _apply_iterative(self, X: np.ndarray, missing: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        for step in self.steps_:
            j = step["column"]
            rows = missing[:, j]
            if not rows.any():
                continue
            others = np.delete(np.arange(X.shape[1]), j)
            values = X[rows][:, others] @ np.asarray(step["coef"]) + step["intercept"]
            if self.sample_posterior:
                values = values + rng.normal(0.0, step["resid_std"], size=len(values))
            X[rows, j] = values
        return X

    # --- k nearest neighbours ----------------------------------------------------------
    def _knn(self, R: np.ndarray, missing: np.ndarray) -> np.ndarray:
        from sklearn.metrics.pairwise import nan_euclidean_distances

        ref = (self.reference_ - self.center_) / self.scale_
        ref_seen = ~np.isnan(self.reference_)
        rows = np.flatnonzero(missing.any(axis=1))
        for start in range(0, len(rows), 2048):  # bounded memory: (chunk, reference) distances
            chunk = rows[start:start + 2048]
            D = nan_euclidean_distances((R[chunk] - self.center_) / self.scale_, ref)
            D = np.where(np.isnan(D), np.inf, D)
            for j in np.flatnonzero(missing[chunk].any(axis=0)):
                need = missing[chunk, j]
                Dj = np.where(ref_seen[:, j][None, :], D[need], np.inf)  # only neighbours that have column j
                k = min(self.n_neighbors, int(ref_seen[:, j].sum()))
                if k == 0:
                    R[chunk[need], j] = self.fill_[j]
                    continue
                nearest = np.argpartition(Dj, k - 1, axis=1)[:, :k]
                values = self.reference_[nearest, j]
                usable = np.isfinite(np.take_along_axis(Dj, nearest, axis=1))
                sums, counts = np.where(usable, values, 0.0).sum(axis=1), usable.sum(axis=1)
                R[chunk[need], j] = np.where(counts > 0, sums / np.maximum(counts, 1), self.fill_[j])
        return R

    # --- artifacts ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"fill": self.fill_.tolist()}
        if self.strategy == "knn":
            state.update(center=self.center_.tolist(), scale=self.scale_.tolist(),
                         reference=np.where(np.isnan(self.reference_), None, self.reference_).tolist())
        if self.strategy == "iterative":
            state["steps"] = self.steps_
        params = {k: getattr(self, k) for k in ("strategy", "fill_value", "n_neighbors", "max_reference",
                                                 "n_iter", "sample_posterior", "seed")}
        return {"params": params, "state": state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NumericImputer":
        imp = cls(**data["params"])
        state = data["state"]
        imp.fill_ = np.asarray(state["fill"], dtype=np.float64)
        if imp.strategy == "knn":
            imp.center_ = np.asarray(state["center"], dtype=np.float64)
            imp.scale_ = np.asarray(state["scale"], dtype=np.float64)
            imp.reference_ = np.asarray(state["reference"], dtype=np.float64).reshape(-1, len(imp.fill_))
        if imp.strategy == "iterative":
            imp.steps_ = state["steps"]
        return imp


def mean_std(F: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation that stay finite for finite values near float64's limit (1e308 + 1e308
    overflows a plain sum): computed on the values divided by their largest magnitude, then scaled back.

    Example:
        >>> mean_std(np.array([[1e308], [-1e308], [1e308]]))[0].tolist()
        [3.333333333333333e+307]
    """
    F = np.asarray(F, dtype=np.float64)
    scale = np.max(np.abs(F), axis=axis, keepdims=True) if F.size else np.ones((1,) * F.ndim)
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    unit = F / scale
    return (unit.mean(axis=axis) * np.squeeze(scale, axis)), (unit.std(axis=axis) * np.squeeze(scale, axis))


def _column_fill(R: np.ndarray, strategy: str, fill_value: float) -> np.ndarray:
    out = np.full(R.shape[1], fill_value if strategy == "constant" else 0.0, dtype=np.float64)
    if strategy == "constant":
        return out
    for j in range(R.shape[1]):
        seen = R[~np.isnan(R[:, j]), j]
        if len(seen) == 0:
            continue
        if strategy == "mean":
            out[j] = mean_std(seen)[0]
        elif strategy == "median":
            out[j] = np.median(seen)
        else:  # most_frequent; ties go to the smallest value, as in scikit-learn
            values, counts = np.unique(seen, return_counts=True)
            out[j] = values[np.argmax(counts)]
    return out


def _nan_center_scale(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: centre 0, scale 1
        center = np.nan_to_num(np.nanmean(R, axis=0)) if len(R) else np.zeros(R.shape[1])
        scale = np.nan_to_num(np.nanstd(R, axis=0), nan=1.0) if len(R) else np.ones(R.shape[1])
    return center, np.where(scale > 0, scale, 1.0)


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float = 1e-2) -> tuple[np.ndarray, float, float]:
    """Ridge regression by its normal equations on centred data: (coef, intercept, residual std)."""
    mx, my = X.mean(axis=0), y.mean()
    sx = X.std(axis=0)
    sx = np.where(sx > 0, sx, 1.0)
    Xc, yc = (X - mx) / sx, y - my  # standardised, so alpha means the same whatever the units
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ yc) / sx
    resid = yc - (X - mx) @ coef
    return coef, float(my - mx @ coef), float(resid.std())
