"""Fairness audit: how the model's errors and decisions differ across groups of people.

For each sensitive column (``evaluate.sensitive``) the test rows are split into
groups, one per value; a numeric column with more than 10 distinct values is cut
into quantile bins (``"[30, 42)"``) and missing values form the group
``"(missing)"``. Each group gets the same numbers as the whole test set, and
the spread between groups is summarised with the usual parity measures. The
definitions follow fairlearn (``fairlearn.metrics``):

- demographic parity difference: largest minus smallest selection rate, where
  the selection rate is the share of rows predicted as the positive class;
- demographic parity ratio: smallest over largest selection rate;
- equal opportunity difference: largest minus smallest true positive rate;
- equalized odds difference: the larger of the true positive rate difference
  and the false positive rate difference.

Groups with fewer than ``min_group`` rows are "small": their numbers are shown,
but they are never flagged, and the differences are taken over the groups that
are not small (over all groups, with a warning, when fewer than two are large
enough), because a handful of rows would otherwise dominate every spread.

``fairness_audit`` returns ``{"columns": [column report, ...]}``, one report
per sensitive column::

    {"column": str,
     "binned": bool,                     # cut into quantile bins
     "positive": class label | None,     # None: regression, or one-vs-rest for every class
     "groups": [group, ...],             # bins in order, else levels most common first; missing last
     "overall": group,                   # all rows, "group": "(all)"
     "differences": {...},
     "behind": [{"group": str, "reasons": [str, ...]}, ...],
     "selection_disparity": [{"group": str, "reasons": [str, ...]}, ...],  # classification
     "warnings": [str, ...]}

"behind" is about the model's quality for the group (accuracy, true positive rate,
MAE). "selection_disparity" lists groups predicted positive at under four-fifths of
the top group's rate (and by more than two standard errors): demographic parity,
reported on its own because it also mirrors differences in the groups' actual rates.

A classification group is ``{"group", "n", "share", "small", "accuracy",
"f1", "selection_rate", "base_rate", "tpr", "fpr", "precision",
"mean_score"}``; ``f1`` is for the positive class with two classes and
macro-averaged with more. With more than two classes and no ``positive``,
the five rates are ``None`` and ``"by_class": {label: {selection_rate,
base_rate, tpr, fpr, precision, mean_score}}`` holds them per class.
Classification differences are ``demographic_parity_difference``,
``demographic_parity_ratio``, ``equal_opportunity_difference``,
``equalized_odds_difference`` and ``accuracy_difference``; one-vs-rest
reports the worst over classes (largest difference, smallest ratio) and
adds ``"by_class": {label: {the four parity numbers}}``.
A regression group is ``{"group", "n", "share", "small", "mean_actual",
"mean_prediction", "rmse", "mae", "r2"}`` and its differences are
``mean_actual_difference``, ``mean_prediction_difference`` and
``mae_difference`` (largest minus smallest).

Everything returned is plain Python (dicts, lists, str, int, float, bool,
None); a number that does not exist (the true positive rate of a group with no
positive rows) is ``None``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trainwright.evaluate._grouping import _group
from trainwright.evaluate.slices import _num, _plain, _proba

__all__ = ["FOUR_FIFTHS", "fairness_audit", "sensitive_groups"]

MAX_GROUPS = 20  # levels of a sensitive column shown as groups of their own
FOUR_FIFTHS = 0.8  # a selection rate below 4/5 of the highest group's is adverse impact (EEOC rule)
_SETTING = "evaluate.sensitive"
_PARITY = ("demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference",
           "equalized_odds_difference")


def sensitive_groups(frame, columns) -> dict[str, Any]:
    """Pick the sensitive columns out of the raw test frame, for ``fairness_audit``.

    Args:
        frame: pandas DataFrame of the raw test rows (before encoding; the
            sensitive columns need not be model features).
        columns: the column names listed in ``evaluate.sensitive``.

    Returns:
        ``{column: the column's values (a pandas Series)}`` in the given order.

    Raises:
        DataError: a column is not in ``frame``; the message names the setting
            ``evaluate.sensitive`` and the closest existing column.

    Example:
        >>> import pandas as pd
        >>> list(sensitive_groups(pd.DataFrame({"sex": ["f", "m"], "age": [30, 40]}), ["sex"]))
        ['sex']
    """
    from trainwright.data.columns import require_columns

    if isinstance(columns, str):
        columns = [columns]
    require_columns(frame, columns, what=f"{_SETTING} column", fix=f"Fix {_SETTING}.")
    return {str(name): frame[name] for name in columns}


def fairness_audit(groups, y, pred, *, task: str, classes=None, proba=None, positive: int | None = None,
                   min_group: int = 30, bins: int = 4, gap: float = 0.1) -> dict[str, Any]:
    """Compare the model across the groups of each sensitive column.

    Args:
        groups: ``{sensitive column name: raw values of the test rows}`` (pandas
            Series or array, aligned by position with ``y``); see
            ``sensitive_groups``. A value of ``None`` means the column was not
            found and raises ``DataError``.
        y: true labels encoded 0..K-1 (classification) or true values (regression).
        pred: predicted labels encoded 0..K-1, or predicted values.
        task: "classification" or "regression".
        classes: the class labels in encoding order (used to name the positive class).
        proba: optional probabilities, shape (rows, K); adds ``mean_score``, the
            mean predicted probability of the positive class, per group.
        positive: the index of the positive class. Default: class 1 for two
            classes; for more, parity is reported for every class one-vs-rest.
        min_group: groups with fewer rows are "small": shown, never flagged.
        bins: quantile bins for numeric columns with more than 10 distinct values.
        gap: how far a group may trail the best group before it is flagged:
            accuracy or true positive rate lower by more than ``gap`` (absolute)
            and by more than two standard errors of the difference (sampling noise
            alone rarely makes such a gap); or, for regression, MAE higher by more
            than ``gap`` as a share of the best group's MAE (0.1 = 10% higher).

    Returns:
        ``{"columns": [column report, ...]}``, one per sensitive column; the module
        docstring lays out a column report, its groups and its differences.

    Raises:
        DataError: a sensitive column is missing (``None``) or has a different
            number of rows than ``y``.
        ConfigError: ``task`` or ``positive`` is invalid.

    Example:
        >>> audit = fairness_audit({"sex": ["f", "f", "m", "m"]}, [1, 0, 1, 0], [1, 0, 0, 0],
        ...                        task="classification", classes=["no", "yes"], min_group=1)
        >>> audit["columns"][0]["differences"]["demographic_parity_difference"]
        0.5
        >>> audit["columns"][0]["behind"][0]["group"]
        'm'
    """
    y, pred, proba, n_classes, positive = _checked_inputs(task, y, pred, proba, classes, positive)
    reports = []
    for name, values in groups.items():
        grouping = _column_grouping(name, values, len(y), bins)
        if task == "classification":
            reports.append(_classification_column(str(name), grouping, y, pred, proba, classes, n_classes,
                                                  positive, min_group, gap))
        else:
            reports.append(_regression_column(str(name), grouping, y, pred, min_group, gap))
    return {"columns": reports}


def _checked_inputs(task: str, y, pred, proba, classes, positive):
    """``(y, pred, proba, n_classes, positive)`` as the audit uses them, or ConfigError / DataError.

    Classification labels become int64 arrays, ``proba`` a (rows, K) array and ``positive``
    defaults to class 1 of two; regression values become float64 (``n_classes`` 0, no positive).
    """
    from trainwright.errors import ConfigError, DataError

    if task not in ("classification", "regression"):
        raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}")
    if task == "classification":
        y = np.asarray(y).astype(np.int64).ravel()
        pred = np.asarray(pred).astype(np.int64).ravel()
        proba = None if proba is None else _proba(proba)  # (rows, K); a 1-D array is P(class 1)
        n_classes = _n_classes(y, pred, classes, proba)
        if positive is None and n_classes == 2:
            positive = 1
        if positive is not None and not 0 <= int(positive) < n_classes:
            raise ConfigError(f"positive must be a class index in 0..{n_classes - 1}, got {positive}")
        if proba is not None and proba.shape != (len(y), n_classes):
            raise DataError(f"proba must have shape (rows, classes) = ({len(y)}, {n_classes}), got {proba.shape}")
    else:
        y = np.asarray(y, dtype=np.float64).ravel()
        pred = np.asarray(pred, dtype=np.float64).ravel()
        n_classes, positive = 0, None
    if len(pred) != len(y):
        raise DataError(f"y has {len(y)} rows but pred has {len(pred)}; pass one prediction per test row")
    return y, pred, proba, n_classes, positive


def _column_grouping(name, values, n: int, bins: int):
    """The groups of one sensitive column's ``n`` values; DataError when the column is missing or misaligned."""
    from trainwright.errors import DataError

    if values is None:
        raise DataError(f"{_SETTING} names the column '{name}', which is not in the data; "
                        "check the spelling against the data's columns (sensitive_groups does)",
                        column=str(name))
    if len(values) != n:
        raise DataError(f"sensitive column '{name}' has {len(values)} values but there are {n} test rows",
                        column=str(name))
    return _group(values, bins=bins, max_levels=MAX_GROUPS)  # rarer levels pool into one group


# --------------------------------------------------------------------------- classification


def _classification_column(name, grouping, y, pred, proba, classes, n_classes, positive, min_group, gap):
    labels = [_class_label(classes, c) for c in range(n_classes)]
    one_vs_rest = positive is None  # more than two classes and no positive class chosen
    n = len(y)

    def stats(mask: np.ndarray, label: str) -> dict[str, Any]:
        yg, pg = y[mask], pred[mask]
        row: dict[str, Any] = {"group": label, "n": int(mask.sum()), "share": _num(mask.sum() / n) if n else None,
                               "small": bool(mask.sum() < min_group), "accuracy": _mean(pg == yg)}
        if one_vs_rest:
            row["f1"] = _macro_f1(yg, pg)
            row.update(dict.fromkeys(("selection_rate", "base_rate", "tpr", "fpr", "precision", "mean_score")))
            row["by_class"] = {str(labels[c]): _rates(yg, pg, _score(proba, mask, c), c) for c in range(n_classes)}
        else:
            rates = _rates(yg, pg, _score(proba, mask, positive), positive)
            row["f1"] = _binary_f1(yg, pg, positive) if n_classes == 2 else _macro_f1(yg, pg)
            row.update(rates)
        return row

    rows = [stats(grouping.codes == g, label) for g, label in enumerate(grouping.labels)]
    rows = [r for r in rows if r["n"] > 0]
    used, warnings = _rows_for_differences(rows, min_group)
    eligible = [r for r in rows if not r["small"]]
    behind: dict[str, list[str]] = {}
    selection: dict[str, list[str]] = {}  # four-fifths: reported, not "behind" (it mirrors base rates too)
    _flag_lower(behind, eligible, "accuracy", "accuracy", gap)
    if one_vs_rest:
        differences = _worst_class_differences(used, labels)
        warnings.append(f"no positive class was chosen for {n_classes} classes: parity is reported for each class "
                        "against the rest, and the differences are the worst over classes")
        _flag_each_class(behind, selection, eligible, labels, gap)
    else:
        differences = {**_parity(used), "accuracy_difference": _spread([r["accuracy"] for r in used])}
        _flag_lower(behind, eligible, "tpr", "true positive rate", gap, _positives)
        _flag_four_fifths(selection, eligible, f"'{labels[positive]}'")

    missing_positives = [r["group"] for r in rows if not one_vs_rest and r["tpr"] is None]
    if missing_positives:
        warnings.append(f"no actual '{labels[positive]}' rows in {_names(missing_positives)}: "
                        "their true positive rate is undefined (None)")
    return {
        "column": name,
        "binned": grouping.binned,
        "positive": None if one_vs_rest else labels[positive],
        "groups": rows,
        "overall": stats(np.ones(n, dtype=bool), "(all)") | {"small": False},
        "differences": differences,
        "behind": _behind_list(rows, behind),
        "selection_disparity": _behind_list(rows, selection),
        "warnings": warnings,
    }


def _parity(rate_rows: list[dict]) -> dict[str, float | None]:
    """The four parity numbers (``_PARITY``) over rows holding selection rate, TPR and FPR."""
    tpr = _spread([r["tpr"] for r in rate_rows])
    fpr = _spread([r["fpr"] for r in rate_rows])
    return {
        "demographic_parity_difference": _spread([r["selection_rate"] for r in rate_rows]),
        "demographic_parity_ratio": _ratio([r["selection_rate"] for r in rate_rows]),
        "equal_opportunity_difference": tpr,
        "equalized_odds_difference": _max_or_none(tpr, fpr),
    }


def _worst_class_differences(used: list[dict], labels: list) -> dict[str, Any]:
    """One-vs-rest differences: parity per class, and the worst class's (largest difference, smallest ratio)."""
    by_class = {key: _parity([r["by_class"][key] for r in used]) for key in map(str, labels)}
    differences = {key: (_min_or_none if key.endswith("ratio") else _max_or_none)(
        *(d[key] for d in by_class.values())) for key in _PARITY}
    return differences | {"accuracy_difference": _spread([r["accuracy"] for r in used]), "by_class": by_class}


def _flag_each_class(behind: dict, selection: dict, eligible: list[dict], labels: list, gap: float) -> None:
    """One-vs-rest flags: per class, a true positive rate behind the best group's, and four-fifths selection."""
    for key in map(str, labels):
        per_class = [{"group": r["group"], "n": r["n"], **r["by_class"][key]} for r in eligible]
        _flag_lower(behind, per_class, "tpr", f"true positive rate for '{key}'", gap, _positives)
        _flag_four_fifths(selection, per_class, f"'{key}'")


def _rates(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None, positive: int) -> dict[str, float | None]:
    """Selection rate, base rate, TPR, FPR, precision and mean score for one positive class."""
    actual, chosen = y == positive, pred == positive
    tp = int(np.sum(actual & chosen))
    return {
        "selection_rate": _mean(chosen),
        "base_rate": _mean(actual),
        "tpr": _div(tp, int(actual.sum())),
        "fpr": _div(int(np.sum(~actual & chosen)), int((~actual).sum())),
        "precision": _div(tp, int(chosen.sum())),
        "mean_score": None if score is None else _mean(score),
    }


def _binary_f1(y: np.ndarray, pred: np.ndarray, positive: int) -> float | None:
    actual, chosen = y == positive, pred == positive
    tp = int(np.sum(actual & chosen))
    return _div(2 * tp, int(actual.sum()) + int(chosen.sum()))


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> float | None:
    if len(y) == 0:
        return None
    from sklearn.metrics import f1_score

    # Averaged over the classes present in the group's labels or predictions, as scikit-learn does.
    return _num(f1_score(y, pred, average="macro", zero_division=0))


def _score(proba: np.ndarray | None, mask: np.ndarray, c: int) -> np.ndarray | None:
    return None if proba is None else proba[mask, c]


def _n_classes(y: np.ndarray, pred: np.ndarray, classes, proba) -> int:
    if classes is not None:
        return len(classes)
    if proba is not None:
        return int(proba.shape[1])
    top = max(int(y.max()) if len(y) else 0, int(pred.max()) if len(pred) else 0)
    return max(top + 1, 2)


def _class_label(classes, c: int):
    return _plain(classes[c]) if classes is not None else c


# --------------------------------------------------------------------------- regression


def _regression_column(name, grouping, y, pred, min_group, gap):
    n = len(y)

    def stats(mask: np.ndarray, label: str) -> dict[str, Any]:
        yg, pg = y[mask], pred[mask]
        err = pg - yg
        ss_tot = float(np.sum((yg - yg.mean()) ** 2)) if len(yg) else 0.0
        return {
            "group": label, "n": int(mask.sum()), "share": _num(mask.sum() / n) if n else None,
            "small": bool(mask.sum() < min_group),
            "mean_actual": _mean(yg), "mean_prediction": _mean(pg),
            "rmse": _num(np.sqrt(np.mean(err**2))) if len(err) else None,
            "mae": _mean(np.abs(err)),
            "r2": _num(1.0 - float(np.sum(err**2)) / ss_tot) if ss_tot > 0 else None,
        }

    rows = [stats(grouping.codes == g, label) for g, label in enumerate(grouping.labels)]
    rows = [r for r in rows if r["n"] > 0]
    used, warnings = _rows_for_differences(rows, min_group)
    differences = {
        "mean_actual_difference": _spread([r["mean_actual"] for r in used]),
        "mean_prediction_difference": _spread([r["mean_prediction"] for r in used]),
        "mae_difference": _spread([r["mae"] for r in used]),
    }
    behind: dict[str, list[str]] = {}
    eligible = [r for r in rows if not r["small"] and r["mae"] is not None]
    if eligible:
        best = min(eligible, key=lambda r: r["mae"])
        for r in eligible:
            if r["mae"] > best["mae"] * (1.0 + gap) and r["mae"] - best["mae"] > 1e-12:
                more = f"{(r['mae'] / best['mae'] - 1.0):.0%} higher than" if best["mae"] > 0 else "above"
                behind.setdefault(r["group"], []).append(
                    f"MAE {r['mae']:.4g} is {more} that of group '{best['group']}' ({best['mae']:.4g})")
    return {
        "column": name,
        "binned": grouping.binned,
        "positive": None,
        "groups": rows,
        "overall": stats(np.ones(n, dtype=bool), "(all)") | {"small": False},
        "differences": differences,
        "behind": _behind_list(rows, behind),
        "warnings": warnings,
    }


# --------------------------------------------------------------------------- flags and summaries


def _flag_lower(behind: dict, rows: list[dict], key: str, words: str, gap: float, count=None) -> None:
    """Flag rows whose ``key`` (a proportion) is more than ``gap`` below the best row's AND more than two
    standard errors of the difference below it, so sampling noise in a few hundred rows is not a finding.

    ``count(row)`` is the number of rows behind the proportion (all rows for accuracy, actual positives for
    a true positive rate)."""
    count = count or (lambda r: r["n"])
    known = [r for r in rows if r[key] is not None and count(r) > 0]
    if not known:
        return
    best = max(known, key=lambda r: r[key])
    for r in known:
        diff = best[key] - r[key]
        if diff > gap and diff > 2 * _se(best[key], count(best), r[key], count(r)):
            behind.setdefault(r["group"], []).append(
                f"{words} {r[key]:.3f} is {diff:.3f} below that of group '{best['group']}' ({best[key]:.3f})")


def _se(p1: float, n1: int, p2: float, n2: int) -> float:
    """Standard error of the difference of two independent proportions."""
    return float(np.sqrt(p1 * (1 - p1) / max(n1, 1) + p2 * (1 - p2) / max(n2, 1)))


def _positives(r: dict) -> int:
    return int(round((r.get("base_rate") or 0.0) * r["n"]))


def _flag_four_fifths(behind: dict, rows: list[dict], positive_words: str) -> None:
    """Flag rows selected as the positive class at under 4/5 of the highest group's rate (and by more than two
    standard errors of the difference)."""
    known = [r for r in rows if r["selection_rate"] is not None]
    if not known:
        return
    top = max(known, key=lambda r: r["selection_rate"])
    if top["selection_rate"] <= 0:
        return
    for r in known:
        ratio = r["selection_rate"] / top["selection_rate"]
        diff = top["selection_rate"] - r["selection_rate"]
        if ratio < FOUR_FIFTHS and diff > 2 * _se(top["selection_rate"], top["n"], r["selection_rate"], r["n"]):
            behind.setdefault(r["group"], []).append(
                f"predicted {positive_words} for {r['selection_rate']:.1%} of rows (actual: {r['base_rate']:.1%}), "
                f"{ratio:.2f} times the rate of '{top['group']}' ({top['selection_rate']:.1%}); "
                f"below the four-fifths rule ({FOUR_FIFTHS})")


def _behind_list(rows: list[dict], behind: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"group": r["group"], "reasons": behind[r["group"]]} for r in rows if r["group"] in behind]


def _rows_for_differences(rows: list[dict], min_group: int) -> tuple[list[dict], list[str]]:
    """The groups the differences are taken over (the large ones, or all when fewer than two are large) and warnings."""
    small = [f"'{r['group']}' ({r['n']})" for r in rows if r["small"]]
    large = [r for r in rows if not r["small"]]
    if not small:
        return rows, []
    said = (f"{len(small)} group{'s' if len(small) > 1 else ''} with fewer than {min_group} rows: "
            f"{', '.join(small)}; their numbers are shown but too uncertain to flag")
    if len(large) >= 2:
        return large, [said + ", and they are left out of the differences"]
    return rows, [said + "; fewer than two groups are large enough, so the differences include the small "
                  "groups and rest on few rows"]


def _names(groups: list[str]) -> str:
    return ", ".join(f"'{g}'" for g in groups)


def _mean(values: np.ndarray) -> float | None:
    return _num(np.mean(values)) if len(values) else None


def _div(a: float, b: float) -> float | None:
    return _num(a / b) if b else None


def _spread(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(max(known) - min(known)) if known else None


def _ratio(values: list) -> float | None:
    known = [v for v in values if v is not None]
    if not known or max(known) <= 0:
        return None
    return float(min(known) / max(known))


def _max_or_none(*values) -> float | None:
    known = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return max(known) if known else None


def _min_or_none(*values) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None
