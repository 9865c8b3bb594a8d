"""The counting checks of the data audit, and the list of every check (``quality.audit.audit`` runs them).

Each check takes the shared ``Context`` and the ``AuditConfig`` and returns a list of
``Finding``; a check that cannot run raises ``SkipCheck`` saying why. Everything is
vectorised over rows: text columns are factorised once and worked on through their
distinct values, and row equality goes through 64-bit row hashes. The checks here see
every row; the model-based checks, ``Context`` and ``SkipCheck`` live in ``model_checks.py``,
where the models see a seeded sample of at most ``config.max_rows`` rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainwright.data.quality.config import AuditConfig
from trainwright.data.quality.findings import Finding
from trainwright.data.quality.image_checks import check_images
from trainwright.data.quality.leakage import check_target_leakage
from trainwright.data.quality.model_checks import (
    Context,
    SkipCheck,
    _ids,
    _normalised_text,
    check_label_errors,
    check_multivariate_outliers,
    check_split_drift,
)
from trainwright.data.schema import infer_column

__all__ = ["CHECKS"]


def _rows(k: int, n: int) -> str:
    return f"{k:,} row{'s' if k != 1 else ''} ({100 * k / max(n, 1):.1f}%)"


def _s(k: int, one: str, many: str) -> str:
    """The verb or noun that agrees with ``k``: ``_s(1, "is", "are")``."""
    return one if k == 1 else many


def _first_positions(hashes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same hash."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    return first[inverse.ravel()]


# --- rows: duplicates, conflicts ----------------------------------------------------------------

def check_duplicates(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    n, positions = ctx.n, np.arange(ctx.n)
    first_exact = _first_positions(ctx.exact_hash())
    exact = first_exact != positions
    found = []
    if exact.any():
        ex = _ids(np.flatnonzero(exact))
        found.append(Finding(
            "exact_duplicates", "warning", f"{_rows(int(exact.sum()), n)} "
            + _s(int(exact.sum()), "is an exact duplicate of an earlier row", "are exact duplicates of earlier rows"),
            None, int(exact.sum()), ex, "drop them: set clean.drop_duplicates=true",
            {"first_copy_of_examples": [[e, int(first_exact[e])] for e in ex]},
        ))
    near_hash = ctx.feature_hash()
    if ctx.target is not None:
        target = pd.util.hash_pandas_object(ctx.frame[ctx.target], index=False).to_numpy()
        near_hash = pd.util.hash_pandas_object(pd.DataFrame({"f": near_hash, "y": target}), index=False).to_numpy()
    first_near = _first_positions(near_hash)
    near = (first_near != positions) & ~exact
    if near.any():
        ex = _ids(np.flatnonzero(near))
        found.append(Finding(
            "near_duplicates", "warning",
            f"{_rows(int(near.sum()), n)} {_s(int(near.sum()), 'repeats', 'repeat')} an earlier row once case, "
            "spaces and float rounding "
            f"({cfg.round_decimals} decimals) are ignored",
            None, int(near.sum()), ex,
            "set clean.standardize_categories=true and clean.drop_duplicates=true to merge and drop them",
            {"first_copy_of_examples": [[e, int(first_near[e])] for e in ex]},
        ))
    return found


def check_conflicting_labels(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    ctx.need_target("classification")
    if not ctx.features:
        raise SkipCheck("no feature columns")
    labels, _ = ctx.labels()
    rows = np.flatnonzero(labels >= 0)
    hashes = ctx.feature_hash()[rows]
    repeated = pd.Series(hashes).duplicated(keep=False).to_numpy()
    table = pd.DataFrame({"h": hashes[repeated], "y": labels[rows][repeated], "pos": rows[repeated]})
    table = table[table.groupby("h")["y"].transform("nunique").to_numpy() > 1]
    if table.empty:
        return []
    table["group_start"] = table.groupby("h")["pos"].transform("min")
    table = table.sort_values(["group_start", "pos"])
    k, groups = len(table), int(table["h"].nunique())
    return [Finding(
        "conflicting_labels", "warning",
        f"{_rows(k, ctx.n)} in {groups:,} {_s(groups, 'group', 'groups')} share the same features but carry "
        "different labels",
        None, k, _ids(table["pos"]),
        "set clean.resolve_conflicts=majority (keeps each group's most common label), or correct the labels",
        {"groups": groups},
    )]


# --- columns: missing values, constants, identifiers, mixed types -------------------------------

def check_missing(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    counts = ctx.frame.isna().sum().to_numpy()
    found, n = [], ctx.n
    for col, k in zip(ctx.frame.columns, counts):
        if k == 0:
            continue
        ex, share = _ids(np.flatnonzero(ctx.frame[col].isna().to_numpy())), k / n
        if ctx.target is not None and col == ctx.target:
            found.append(Finding("missing_values", "warning",
                                 f"{_rows(int(k), n)} {_s(int(k), 'has', 'have')} no target value", str(col),
                                 int(k), ex, "these rows cannot be used for training; fill in the target or drop them",
                                 {"share": share}))
        elif k == n:
            found.append(Finding("missing_values", "error", f"column '{col}' is missing in every row", str(col),
                                 int(k), ex, f"drop it: add '{col}' to preprocess.drop_columns", {"share": 1.0}))
        else:
            warn = share >= cfg.missing_share
            found.append(Finding(
                "missing_values", "warning" if warn else "info",
                f"{_rows(int(k), n)} {_s(int(k), 'has', 'have')} no value in column '{col}'", str(col), int(k), ex,
                "imputation fills them from training rows, and preprocess.missing_indicators=all keeps the "
                "fact that a value was missing" + ("; with this many missing, check why or drop the column" if warn else ""),
                {"share": share},
            ))
    return found


def check_non_finite(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    """Infinite values (inf, -inf, and numbers beyond float64 that read as inf) in numeric columns."""
    found = []
    for col in ctx.features:
        s = ctx.frame[col]
        if not pd.api.types.is_float_dtype(s):
            continue
        infinite = np.flatnonzero(np.isinf(s.to_numpy(dtype=np.float64, na_value=np.nan)))
        if infinite.size:
            found.append(Finding(
                "non_finite", "warning", f"{_rows(infinite.size, ctx.n)} {_s(infinite.size, 'holds', 'hold')} an "
                f"infinite value in column '{col}'", str(col), int(infinite.size), _ids(infinite),
                "cleaning turns them into missing values (logged as non_finite_to_missing) and imputation fills "
                "them; if they encode something (a cap, an error code), replace them with a real value first",
                {"share": infinite.size / ctx.n}))
    return found


def check_missingness_pattern(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    na = ctx.frame[ctx.features].isna()
    counts = na.sum().to_numpy()
    cols = [c for c, k in zip(ctx.features, counts) if 0 < k < ctx.n]
    if len(cols) < 2:
        return []
    m = na[cols].to_numpy(np.float32)  # (n, k) 0/1
    joint = m.T @ m  # (k, k) rows missing in both
    single = np.diag(joint)
    jaccard = joint / np.maximum(single[:, None] + single[None, :] - joint, 1)
    group = np.arange(len(cols))  # union-find over pairs missing together
    for i, j in zip(*np.nonzero(np.triu(jaccard >= cfg.missing_together, 1))):
        group[group == group[j]] = group[i]
    found = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        if len(members) < 2:
            continue
        together = np.flatnonzero(m[:, members].all(axis=1))
        names = [str(cols[i]) for i in members]
        found.append(Finding(
            "missingness_pattern", "info",
            f"{len(names)} columns ({', '.join(names)}) are missing together in {_rows(len(together), ctx.n)}",
            None, len(together), _ids(together),
            "missing together usually means one cause (a skipped form section, a failed join); "
            "preprocess.missing_indicators=all lets the model use it",
            {"columns": names, "min_overlap": float(jaccard[np.ix_(members, members)].min())},
        ))
    return found


def _value_counts(ctx: Context, col, cfg: AuditConfig):
    """(number of distinct values, most common value, its count), exact; numeric columns are screened on
    the sample first and counted in full only when they may be (almost) constant."""
    if ctx.is_text(col):
        codes, uniques = ctx.codes(col)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        top = int(np.argmax(counts)) if counts.size else 0
        return len(uniques), (uniques[top] if counts.size else None), int(counts.max(initial=0))
    s = ctx.frame[col]
    screen = s.iloc[ctx.sample].value_counts(dropna=True)
    if len(screen) > 1 and screen.iloc[0] / len(ctx.sample) < cfg.almost_constant_share - 0.05:
        return len(screen), screen.index[0], None
    full = s.value_counts(dropna=True)
    return len(full), (full.index[0] if len(full) else None), int(full.iloc[0]) if len(full) else 0


def check_constant(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    found = []
    for col in ctx.features:
        n_unique, top, top_count = _value_counts(ctx, col, cfg)
        if top_count is None or n_unique == 0:
            continue  # varied, or entirely missing (reported by missing_values)
        if n_unique == 1:
            found.append(Finding(
                "constant_column", "warning", f"column '{col}' holds one value ({top!r}) in every row that has one",
                str(col), ctx.n, [], "drop it: set clean.drop_constant=true", {"value": top},
            ))
        elif top_count / ctx.n >= cfg.almost_constant_share:
            values = ctx.frame[col]
            differ = np.flatnonzero((values != top).to_numpy(dtype=bool, na_value=True))
            found.append(Finding(
                "constant_column", "info",
                f"column '{col}' holds {top!r} in {100 * top_count / ctx.n:.2f}% of rows; {len(differ):,} rows differ",
                str(col), len(differ), _ids(differ),
                "it carries little information: keep it only if the rare values matter (clean.drop_constant=true "
                "drops constant columns)", {"value": top, "share": top_count / ctx.n},
            ))
    return found


def check_identifiers(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    found = []
    for col in ctx.features:
        kind = ctx.kinds[col]
        if ctx.is_text(col):
            if kind in ("text", "datetime", "empty", "image"):
                continue
            codes, uniques = ctx.codes(col)
            present = int((codes >= 0).sum())
            share = len(uniques) / max(present, 1)
            flagged = present > 20 and share >= cfg.identifier_share
            reason = f"{100 * share:.1f}% of its values are distinct"
            if flagged:  # decimal numbers stored as text are not keys: mixed_types speaks for them
                parsed = ctx.parsed(col)
                flagged = not ((~np.isnan(parsed)).mean() >= cfg.mixed_share and np.any(np.mod(parsed, 1) > 0))
        else:
            flagged = kind == "identifier"
            reason = infer_column(ctx.frame[col])[1] if flagged else ""
        if flagged:
            found.append(Finding(
                "identifier_column", "warning",
                f"column '{col}' looks like an identifier ({reason}): it names rows and cannot generalise",
                str(col), ctx.n, [],
                f"keep preprocess.drop_identifiers=true (the default) or add '{col}' to preprocess.drop_columns; "
                "use it as a group column if rows sharing it belong together", {"reason": reason},
            ))
    return found


def check_mixed_types(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    found = []
    for col in ctx.features:
        if not ctx.is_text(col) or ctx.kinds[col] in ("text", "empty"):
            continue
        codes, uniques = ctx.codes(col)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        text = uniques.astype(str).str.strip()
        is_number = ~np.isnan(ctx.parsed(col))
        share = counts[is_number].sum() / max(counts.sum(), 1)
        if cfg.mixed_share <= share < 1:
            bad = np.flatnonzero(~is_number)
            order = bad[np.argsort(-counts[bad], kind="stable")]
            k = int(counts[bad].sum())
            rows = np.flatnonzero(np.isin(codes, bad))
            found.append(Finding(
                "mixed_types", "warning",
                f"{_rows(k, ctx.n)} of column '{col}' {_s(k, 'is not a number', 'are not numbers')} although "
                f"{100 * share:.1f}% of its values are",
                str(col), k, _ids(rows),
                "set clean.fix_mixed_types=true (the values that are not numbers become missing), or fix them at the source",
                {"numeric_share": share, "bad_values": [[str(uniques[i]), int(counts[i])] for i in order[:5]]},
            ))
        elif ctx.kinds[col] == "datetime":
            found.extend(_date_formats(ctx, col, codes, text, counts))
    return found


def _date_formats(ctx: Context, col, codes, text: pd.Index, counts: np.ndarray) -> list[Finding]:
    # The shape of each distinct value: letters -> 'a', 4 digits -> 'Y', 1-2 digits -> '9'.
    shape = text.str.replace(r"[A-Za-z]+", "a", regex=True).str.replace(r"\d{4}", "Y", regex=True)
    shape = shape.str.replace(r"\d+", "9", regex=True)
    shape_id, shapes = pd.factorize(shape)
    rows_per_shape = np.bincount(shape_id, weights=counts, minlength=len(shapes)).astype(np.int64)
    if len(shapes) < 2:
        return []
    main = int(np.argmax(rows_per_shape))
    other = np.flatnonzero(shape_id != main)
    k = int(rows_per_shape.sum() - rows_per_shape[main])
    examples = [[str(text[np.flatnonzero(shape_id == s)[0]]), int(rows_per_shape[s])]
                for s in np.argsort(-rows_per_shape, kind="stable")]
    return [Finding(
        "mixed_types", "warning",
        f"column '{col}' mixes {len(shapes)} date formats; {_rows(k, ctx.n)} {_s(k, 'differs', 'differ')} from "
        "the most common one "
        f"(e.g. {examples[0][0]!r} and {examples[1][0]!r})",
        str(col), k, _ids(np.flatnonzero(np.isin(codes, other))),
        "set clean.standardize_dates=true to parse every format into one date, and check day/month order",
        {"formats": examples[:10]},
    )]


def check_inconsistent_categories(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    found = []
    for col in ctx.features:
        if not ctx.is_text(col) or ctx.kinds[col] not in ("categorical", "boolean"):
            continue
        codes, uniques = ctx.codes(col)
        normal = _normalised_text(uniques)
        if normal.nunique() == len(uniques):
            continue
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        table = pd.DataFrame({"normal": normal, "count": counts, "code": np.arange(len(uniques))})
        table["main"] = table.groupby("normal")["count"].transform("max") == table["count"]
        table["main"] &= ~table.duplicated(["normal", "main"]) | ~table["main"]  # one main spelling per group
        variants = table[table.groupby("normal")["code"].transform("size") > 1]
        minor = variants.loc[~variants["main"], "code"].to_numpy()
        k = int(counts[minor].sum())
        groups = [[str(uniques[c]) for c in g["code"]] for _, g in variants.groupby("normal", sort=False)]
        found.append(Finding(
            "inconsistent_categories", "warning",
            f"column '{col}' spells {len(groups)} {_s(len(groups), 'value', 'values')} in several ways that "
            "differ only in case or spaces "
            f"(e.g. {groups[0][:3]}); {_rows(k, ctx.n)} {_s(k, 'uses', 'use')} a less common spelling",
            str(col), k, _ids(np.flatnonzero(np.isin(codes, minor))),
            "set clean.standardize_categories=true", {"variants": groups[:10]},
        ))
    return found


# --- values: outliers ---------------------------------------------------------------------------

def _robust_scale(v: np.ndarray):
    """Quartiles, median and a robust standard deviation (Iglewicz-Hoaglin: MAD / 0.6745, or 1.2533 x the
    mean absolute deviation when the MAD is 0)."""
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    mad = np.median(np.abs(v - med))
    return q1, med, q3, (mad / 0.6745 if mad > 0 else 1.2533 * np.mean(np.abs(v - med)))


def _outlier_bounds(v: np.ndarray, cfg: AuditConfig):
    """(lower, upper, q1, q3, median, robust sd, scale name, z threshold) on the scale where the column is
    most symmetric: positive columns whose log is more symmetric (Bowley skewness) are judged on the log scale, so long natural tails
    (amounts, counts) are not called outliers."""
    from scipy.special import ndtri

    q1, med, q3, sd = _robust_scale(v)
    space = "raw"
    if v.min() > 0 and q3 > q1:
        lq1, lmed, lq3, lsd = _robust_scale(np.log(v))
        if lq3 > lq1 and abs(lq3 + lq1 - 2 * lmed) / (lq3 - lq1) < abs(q3 + q1 - 2 * med) / (q3 - q1):
            q1, med, q3, sd, space = lq1, lmed, lq3, lsd, "log"
    iqr = q3 - q1
    # After Chauvenet: on a long column the z threshold rises until a normal column of that size expects
    # 0.05 values beyond it (Chauvenet's 0.5, made stricter because a table has many columns), so a million
    # clean rows do not yield a value or two of "outliers" in every other column.
    z = max(cfg.outlier_z, float(ndtri(1 - 0.025 / v.size)))
    lower = min(q1 - cfg.outlier_iqr * iqr, med - z * sd)
    upper = max(q3 + cfg.outlier_iqr * iqr, med + z * sd)
    return lower, upper, q1, q3, med, sd, space, z


def _detached_gap(t: np.ndarray, lower: float, upper: float) -> float:
    """The widest empty stretch between the outliers of one side and all other values: entry and unit
    errors sit apart from the data, while a long natural tail trails off with no gap."""
    with np.errstate(invalid="ignore"):
        inside = t[(t >= lower) & (t <= upper)]
        above, below = t[t > upper], t[t < lower]
    gaps = [above.min() - inside.max()] if above.size else []
    return float(max(gaps + ([inside.min() - below.max()] if below.size else []), default=0.0))


def check_outliers(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    found = []
    for col in ctx.features:
        if ctx.kinds[col] != "numeric":
            continue
        x = ctx.numeric(col)
        v = x[~np.isnan(x)]
        if v.size < 20 or np.quantile(v, 0.75) <= np.quantile(v, 0.25):
            continue  # mostly one value: 'almost constant' speaks for it
        lower, upper, q1, q3, med, sd, space, z_limit = _outlier_bounds(v, cfg)
        t = np.log(np.where(x > 0, x, np.nan)) if space == "log" else x
        with np.errstate(invalid="ignore"):
            rows = np.flatnonzero((t < lower) | (t > upper))
        if rows.size == 0:
            continue
        z = np.abs(t[rows] - med) / sd
        rows, z = rows[np.argsort(-z, kind="stable")], np.sort(z)[::-1]
        gap = _detached_gap(t, lower, upper) / (q3 - q1)
        severity = "warning" if gap >= cfg.outlier_warning_gap else "info"
        lo, hi = (np.exp(lower), np.exp(upper)) if space == "log" else (lower, upper)
        found.append(Finding(
            "outliers", severity,
            f"{_rows(rows.size, ctx.n)} of column '{col}' {_s(rows.size, 'lies', 'lie')} outside [{lo:.4g}, {hi:.4g}] "
            f"(robust z > {z_limit:.3g} and > {cfg.outlier_iqr:g} IQRs beyond the quartiles"
            f"{', on the log scale' if space == 'log' else ''})",
            str(col), int(rows.size), _ids(rows),
            ("values this far out are usually entry or unit errors: " if severity == "warning" else
             "check they are real; ") + "clean.outliers=cap clips values beyond bounds fitted on the training rows (clean.outlier_rule and "
             "clean.outlier_threshold, not the audit's bounds above), or clean.outliers=drop",
            {"lower": lo, "upper": hi, "scale": space, "max_robust_z": float(z[0]), "gap_iqrs": gap},
        ))
    return found


# --- the target: imbalance ----------------------------------------------------------------------

def check_class_imbalance(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    ctx.need_target("classification")
    labels, classes = ctx.labels()
    counts = np.bincount(labels[labels >= 0], minlength=len(classes))
    if len(classes) < 2:
        return [Finding("class_imbalance", "error", f"the target holds a single class ({classes[:1]})",
                        str(ctx.target), int(counts.sum()), [],
                        "a classifier needs at least two classes; check the target", {})]
    lo, hi = int(np.argmin(counts)), int(np.argmax(counts))
    ratio = counts[hi] / max(counts[lo], 1)
    if ratio < cfg.imbalance_ratio:
        return []
    strong = ratio >= cfg.strong_imbalance_ratio
    method = "smote" if strong else "class_weight"
    remedy = ("set balance.method=smote (or balance.method=oversample) on the training rows, and judge models by "
              "a metric that weighs classes (f1, roc_auc)" if strong else "set balance.method=class_weight")
    return [Finding(
        "class_imbalance", "warning" if strong else "info",
        f"the largest class ({classes[hi]!r}, {counts[hi]:,} rows) is {ratio:.1f} times the smallest "
        f"({classes[lo]!r}, {counts[lo]:,} rows, {100 * counts[lo] / counts.sum():.1f}% of labelled rows)",
        str(ctx.target), int(counts[lo]), _ids(np.flatnonzero(labels == lo)), remedy,
        {"ratio": float(ratio), "minority_share": counts[lo] / counts.sum(), "recommended": method,
         "counts": {str(c): int(k) for c, k in zip(classes, counts)}},
    )]


# --- splits: contamination ----------------------------------------------------------------------

def check_contamination(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    if not ctx.splits or "train" not in ctx.splits:
        raise SkipCheck("no train split given")
    if not ctx.features:
        raise SkipCheck("no feature columns")
    hashes, train = ctx.feature_hash(), ctx.splits["train"]
    found = []
    for name in ("validation", "test"):
        rows = ctx.splits.get(name)
        if rows is None or rows.size == 0:
            continue
        copied = rows[np.isin(hashes[rows], hashes[train])]
        if copied.size == 0:
            continue
        share = copied.size / rows.size
        same = int(np.intersect1d(rows, train).size)
        found.append(Finding(
            "train_test_contamination", "error" if share >= cfg.contamination_share else "warning",
            f"{copied.size:,} of {rows.size:,} {name} rows ({100 * share:.1f}%) also appear in train "
            "(same features after normalising)" + (f"; {same:,} are the very same row positions" if same else ""),
            None, int(copied.size), _ids(copied),
            "drop duplicates before splitting (clean.drop_duplicates=true), or split by group so copies stay together",
            {"split": name, "share": share, "same_positions": same},
        ))
    return found


CHECKS = (
    ("duplicates", check_duplicates),
    ("conflicting_labels", check_conflicting_labels),
    ("missing_values", check_missing),
    ("non_finite", check_non_finite),
    ("missingness_pattern", check_missingness_pattern),
    ("constant_column", check_constant),
    ("identifier_column", check_identifiers),
    ("mixed_types", check_mixed_types),
    ("inconsistent_categories", check_inconsistent_categories),
    ("outliers", check_outliers),
    ("multivariate_outliers", check_multivariate_outliers),
    ("class_imbalance", check_class_imbalance),
    ("images", check_images),
    ("label_errors", check_label_errors),
    ("target_leakage", check_target_leakage),
    ("train_test_contamination", check_contamination),
    ("split_drift", check_split_drift),
)
