"""The weighted core of the classification metrics, vectorised over resamples.

A weight matrix ``w`` of shape (resamples, rows) says how often each row counts:
all ones scores the sample itself, and the bootstrap's multinomial counts score
many resamples at once. ``_ClassRows`` prepares a sample once and gives every
metric as a (resamples,) array, NaN where a metric is undefined; ``metrics``
turns the one-resample case into the public point values. The threshold rule
``predicted_classes`` and ``ECE_BINS`` live here because the core uses them;
``metrics`` re-exports both, and that is where callers import them from.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15
_RANKED = frozenset({"roc_auc", "pr_auc"})


class _ClassRows:
    """A classification sample prepared once for weighted scoring.

    Rows are kept in one fixed order (binary: ascending P(class 1)), so a bootstrap
    may draw its weights in that order: resampling rows does not depend on their order.
    """

    def __init__(self, y: np.ndarray, proba: np.ndarray, threshold: float | None) -> None:
        self.n, self.k = proba.shape
        order = np.lexsort((y == 1, proba[:, 1])) if self.k == 2 else np.arange(self.n)
        self.y, self.proba = y[order], proba[order]
        self.pred = predicted_classes(self.proba, threshold)
        cells = self.y * self.k + self.pred
        self._cells = _groups(cells)
        self._ranks: dict[int, tuple] = {}

    def values(self, w: np.ndarray, names) -> dict[str, np.ndarray]:
        """{name: (resamples,) array}, NaN where a metric is undefined."""
        names = set(names)
        out: dict[str, np.ndarray] = {}
        if names - _RANKED - {"log_loss", "brier", "ece"}:
            out.update(_from_confusion(self.confusion(w)))
        if names & _RANKED:
            ap = "pr_auc" in names
            ranked = [self.ranking(w, k, ap) for k in ([1] if self.k == 2 else range(self.k))]
            auc = np.mean([a for a, _ in ranked], axis=0)  # NaN as soon as one class is absent
            out["roc_auc"] = auc
            if ap:
                out["pr_auc"] = np.where(np.isnan(auc), np.nan, np.mean([p for _, p in ranked], axis=0))
        if "log_loss" in names:
            eps = np.finfo(np.float64).eps
            p_true = np.clip(self.proba[np.arange(self.n), self.y], eps, 1 - eps)
            out["log_loss"] = _dot(w, -np.log(p_true)) / self.n
        if "brier" in names:
            if self.k == 2:
                sq = (self.y - self.proba[:, 1]) ** 2
            else:
                sq = ((np.eye(self.k)[self.y] - self.proba) ** 2).sum(axis=1)
            out["brier"] = _dot(w, sq) / self.n
        if "ece" in names:
            conf = self.proba.max(axis=1)
            gap = (self.proba.argmax(axis=1) == self.y) - conf
            bins = np.searchsorted(np.linspace(0, 1, ECE_BINS + 1)[1:-1], conf)
            # Per bin |sum(correct) - sum(confidence)| / n == (count/n) * |accuracy - mean confidence|.
            out["ece"] = np.abs(_group_sums(w * gap, _groups(bins))).sum(axis=1) / self.n
        return out

    def confusion(self, w: np.ndarray) -> np.ndarray:
        """Weighted confusion matrices, shape (resamples, K, K); rows are true classes."""
        ids = self._cells[0]
        out = np.zeros((w.shape[0], self.k * self.k))
        out[:, ids] = _group_sums(w, self._cells)
        return out.reshape(-1, self.k, self.k)

    def ranking(self, w: np.ndarray, k: int, ap: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """ROC-AUC and average precision of class ``k`` against the rest, (resamples,) each.

        Rows are sorted by score, and within a tied score the other classes before class
        k; ``s`` holds the weight of each run of equal (score, is class k). A class-k run
        of weight ``s`` whose tied score weighs ``g`` in all sits at mid-rank ``mid``: the
        weight below that score plus g/2. The Mann-Whitney count of (class k, other)
        pairs in order, ties as one half, is then sum(s * mid) - P^2/2 (P: class-k weight).
        Average precision is scikit-learn's step rule: the precision at each distinct
        threshold, weighted by the class-k weight that threshold adds.
        AUC is NaN when either side is empty, AP when class k is.
        """
        if k not in self._ranks:
            self._ranks[k] = self._runs(k)
        order, starts, runs, prev, tied = self._ranks[k]
        ws = w if order is None else np.take(w, order, axis=1)
        s = ws if starts is None else np.add.reduceat(ws, starts, axis=1)  # (resamples, runs)
        c = np.cumsum(s, axis=1)
        total = c[:, -1]
        # Only the class-k runs matter from here: s_pos their weight, mid their mid-rank,
        # that is the weight below them plus half their tied score.
        s_pos = np.take(s, runs, axis=1)
        half_tie = 0.5 * (s_pos + np.take(s, prev, axis=1) * tied)
        mid = np.take(c, runs, axis=1) - half_tie  # c ends the run: below + tied others + s_pos
        n_pos = s_pos.sum(axis=1)
        n_neg = total - n_pos
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (np.einsum("ij,ij->i", s_pos, mid) - 0.5 * n_pos**2) / (n_pos * n_neg)
            auc[(n_pos == 0) | (n_neg == 0)] = np.nan
            if not ap:
                return auc, None
            # At the threshold of each class-k run: its class-k weight and all weight at scores >= it.
            tp = n_pos[:, None] - np.cumsum(s_pos, axis=1) + s_pos
            above = total[:, None] - mid + half_tie
            precision = np.divide(tp, above, out=np.zeros_like(tp), where=above > 0)
            avg_precision = (s_pos * precision).sum(axis=1) / n_pos
        return auc, avg_precision

    def _runs(self, k: int) -> tuple:
        """Sort order and runs of equal (score, is class k) for ``ranking``."""
        score, is_pos = self.proba[:, k], self.y == k
        order = np.lexsort((is_pos, score))
        if self.k == 2 and k == 1:
            order = None  # the rows are already in this order
        sc, ip = (score, is_pos) if order is None else (score[order], is_pos[order])
        starts = np.flatnonzero(np.r_[True, (sc[1:] != sc[:-1]) | (ip[1:] != ip[:-1])])
        run_score, run_pos = sc[starts], ip[starts]
        runs = np.flatnonzero(run_pos)
        prev = np.maximum(runs - 1, 0)
        # The run before a class-k run holds the other rows of the same score, or none.
        tied = ((runs > 0) & ~run_pos[prev] & (run_score[prev] == run_score[runs])).astype(np.float64)
        return order, (None if len(starts) == self.n else starts), runs, prev, tied


def _per_class(c: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class counts and rates, (resamples, K) each, from confusion matrices (resamples, K, K)."""
    tp = np.diagonal(c, axis1=1, axis2=2)
    support, predicted = c.sum(axis=2), c.sum(axis=1)
    fp, fn = predicted - tp, support - tp
    tn = c.sum(axis=(1, 2))[:, None] - tp - fp - fn
    return {
        "tp": tp, "support": support, "predicted": predicted,
        "precision": _div(tp, predicted), "recall": _div(tp, support),
        "f1": _div(2 * tp, 2 * tp + fp + fn),
        # no negatives (every row is of the class): undefined, not 0
        "specificity": np.divide(tn, tn + fp, out=np.full(tn.shape, np.nan), where=(tn + fp) > 0),
    }


def _from_confusion(c: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of the predicted labels, (resamples,) each, from confusion matrices."""
    per = _per_class(c)
    support, predicted = per["support"], per["predicted"]
    present = (support + predicted) > 0
    total = support.sum(axis=1)
    out = {"accuracy": per["tp"].sum(axis=1) / total}
    for m in ("precision", "recall", "f1", "specificity"):
        defined = present & ~np.isnan(per[m])
        value = np.where(defined, per[m], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing defined: NaN, reported as None
            out[m] = (value * defined).sum(axis=1) / defined.sum(axis=1)
            out[f"{m}_weighted"] = (value * support).sum(axis=1) / (support * defined).sum(axis=1)
    out["balanced_accuracy"] = (per["recall"] * (support > 0)).sum(axis=1) / (support > 0).sum(axis=1)
    # Matthews correlation, multiclass form (Gorodkin 2004), as scikit-learn: 0 when undefined.
    cov_tp = per["tp"].sum(axis=1) * total - (support * predicted).sum(axis=1)
    denom = np.sqrt((total**2 - (predicted**2).sum(axis=1)) * (total**2 - (support**2).sum(axis=1)))
    out["mcc"] = _div(cov_tp, denom)
    return out


def predicted_classes(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class positions from probabilities: P(class 1) >= ``threshold`` for two classes when given, else argmax.
    The one rule behind the metrics and ``Predictor.predict``."""
    if threshold is None:
        return proba.argmax(axis=1)
    from trainwright.errors import ConfigError

    if proba.shape[1] != 2:
        raise ConfigError(f"evaluate.threshold applies to two classes only; this task has {proba.shape[1]}. "
                          "Remove the threshold.", path="evaluate.threshold")
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"evaluate.threshold must be within [0, 1], got {threshold}", path="evaluate.threshold")
    return (proba[:, 1] >= threshold).astype(np.intp)


# ----------------------------------------------------------------------------- helpers


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct keys, order that sorts keys, start of each key's run in that order)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], order, starts


def _group_sums(w: np.ndarray, groups: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    _, order, starts = groups
    return np.add.reduceat(np.take(w, order, axis=1), starts, axis=1)


def _dot(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(resamples, rows) @ (rows,) without BLAS threads, which spin badly when other work shares the cores."""
    return np.einsum("ij,j->i", w, v)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)

