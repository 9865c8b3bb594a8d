"""The individual checks of the data audit (``trainwright.data.audit`` runs them).

Each check takes the shared ``Context`` and the ``AuditConfig`` and returns a list of
``Finding``; a check that cannot run raises ``SkipCheck`` saying why. Everything is
vectorised over rows: text columns are factorised once and worked on through their
distinct values, row equality goes through 64-bit row hashes, and the model-based
checks see a seeded sample of at most ``config.max_rows`` rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trainwright.data.audit import AuditConfig, Finding
from trainwright.data.schema import infer_column, infer_schema, infer_task
from trainwright.training.runtime import cpu_threads, quiet_openmp

__all__ = ["Context", "SkipCheck", "CHECKS", "confident_learning", "out_of_fold_proba"]

_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_MODEL_KINDS = ("numeric", "boolean", "categorical", "datetime")


class SkipCheck(Exception):
    """A check cannot run on this data; the message says why."""


def _rows(k: int, n: int) -> str:
    return f"{k:,} row{'s' if k != 1 else ''} ({100 * k / max(n, 1):.1f}%)"


def _s(k: int, one: str, many: str) -> str:
    """The verb or noun that agrees with ``k``: ``_s(1, "is", "are")``."""
    return one if k == 1 else many


def _ids(positions, k: int = 5) -> list[int]:
    return [int(p) for p in np.asarray(positions)[:k]]


def _normalised_text(values: pd.Index) -> pd.Index:
    """Case, surrounding and repeated whitespace removed: 'Male ' and ' male' become 'male'."""
    text = pd.Index(np.asarray(values, dtype=object)).astype(str)
    return text.str.lower().str.strip().str.replace(r"\s+", " ", regex=True)


def _first_positions(hashes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same hash."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    return first[inverse.ravel()]


@dataclass
class Context:
    """What every check shares: the frame, its column kinds, the target and cached encodings."""

    frame: pd.DataFrame
    target: object
    task: str | None
    features: list
    kinds: dict
    sample: np.ndarray  # sorted row positions for the model-based checks
    splits: dict | None
    seed: int
    decimals: int
    threads: int = field(default_factory=cpu_threads)
    cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, frame, *, target, task, config: AuditConfig, splits, seed) -> "Context":
        n = len(frame)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, config.max_rows, replace=False)) if n > config.max_rows else np.arange(n)
        if target is not None and task is None:
            task = infer_task(frame[target])[0]
        features = [c for c in frame.columns if target is None or c != target]
        return cls(frame, target, task, features, _column_kinds(frame, sample), sample, splits, seed,
                   config.round_decimals)

    @property
    def n(self) -> int:
        return len(self.frame)

    def is_text(self, col) -> bool:
        s = self.frame[col]
        return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s))

    def codes(self, col) -> tuple[np.ndarray, pd.Index]:
        """``pd.factorize`` of a column, cached: (codes with -1 for missing, distinct values)."""
        if ("codes", col) not in self.cache:
            codes, uniques = pd.factorize(self.frame[col], use_na_sentinel=True)
            self.cache[("codes", col)] = (codes.astype(np.int64), pd.Index(np.asarray(uniques, dtype=object)))
        return self.cache[("codes", col)]

    def numeric(self, col, rows=None) -> np.ndarray:
        """float64 values of a numeric or numbers-as-text column (NaN where missing or unparseable)."""
        s = self.frame[col]
        if pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
            return values if rows is None else values[rows]
        codes, parsed = self.codes(col)[0], self.parsed(col)
        codes = codes if rows is None else codes[rows]
        return np.where(codes >= 0, parsed[np.maximum(codes, 0)] if parsed.size else np.nan, np.nan)

    def parsed(self, col) -> np.ndarray:
        """The distinct values of a text column parsed as numbers (NaN where they are not), cached."""
        if ("parsed", col) not in self.cache:
            text = self.codes(col)[1].astype(str).str.strip()
            self.cache[("parsed", col)] = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
        return self.cache[("parsed", col)]

    def encoded(self, col, rows: np.ndarray) -> np.ndarray:
        """One column as float64 model input for ``rows``: numbers, 0/1, category codes or epoch seconds."""
        s, kind = self.frame[col], self.kinds[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            values = s.iloc[rows]
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert(None)
            return np.where(values.isna(), np.nan, values.to_numpy("datetime64[s]").astype(np.int64))
        if pd.api.types.is_numeric_dtype(s) or kind == "numeric" or (kind == "identifier" and not self.is_text(col)):
            return self.numeric(col, rows)
        codes, uniques = self.codes(col)
        codes = codes[rows]
        if kind == "boolean":
            level = uniques.astype(str).str.strip().str.lower().isin(_TRUE).astype(np.float64)
        elif kind == "datetime":
            level = np.full(len(uniques), np.nan)
            used = np.unique(codes[codes >= 0])  # parse only the values these rows hold
            level[used] = _epoch_seconds(pd.Series(uniques[used].astype(str)))
        else:
            level = np.arange(len(uniques), dtype=np.float64)
        return np.where(codes >= 0, np.asarray(level, np.float64)[np.maximum(codes, 0)] if len(level) else 0, np.nan)

    def matrix(self, rows: np.ndarray, kinds=_MODEL_KINDS) -> tuple[np.ndarray, list]:
        """(len(rows), n_features) float32 model input over the feature columns of the given kinds."""
        cols = [c for c in self.features if self.kinds[c] in kinds]
        if not cols:
            return np.empty((len(rows), 0), np.float32), []
        return np.column_stack([self.encoded(c, rows) for c in cols]).astype(np.float32), cols

    def exact_hash(self) -> np.ndarray:
        """(n,) uint64 hash of every whole row, target included."""
        if "exact" not in self.cache:
            self.cache["exact"] = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
        return self.cache["exact"]

    def feature_hash(self) -> np.ndarray:
        """(n,) uint64 hash of the features after normalising case, whitespace and float rounding."""
        if "features" not in self.cache:
            parts = {}
            for i, col in enumerate(self.features):
                s = self.frame[col]
                if pd.api.types.is_float_dtype(s):
                    parts[i] = np.round(s.to_numpy(np.float64, na_value=np.nan), self.decimals) + 0.0  # -0.0 -> 0.0
                elif self.is_text(col):
                    codes, uniques = self.codes(col)
                    normal = pd.factorize(_normalised_text(uniques))[0]
                    parts[i] = np.where(codes >= 0, normal[np.maximum(codes, 0)] if normal.size else -1, -1)
                else:
                    parts[i] = s.array
            frame = pd.DataFrame(parts) if parts else pd.DataFrame(index=range(self.n))
            self.cache["features"] = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        return self.cache["features"]

    def labels(self) -> tuple[np.ndarray, list]:
        """Class codes of the target (-1 where missing) and the class names."""
        if "labels" not in self.cache:
            y = self.frame[self.target]
            try:
                codes, classes = pd.factorize(y, sort=True)
            except TypeError:  # values of mixed types cannot be sorted
                codes, classes = pd.factorize(y)
            self.cache["labels"] = (codes.astype(np.int64), list(classes))
        return self.cache["labels"]

    def need_target(self, task: str | None = None) -> None:
        if self.target is None:
            raise SkipCheck("no target given")
        if task is not None and self.task != task:
            raise SkipCheck(f"needs a {task} target (the task is {self.task})")


def _epoch_seconds(text: pd.Series) -> np.ndarray:
    """Dates written as text -> float seconds (NaN where unparseable). The format pandas infers from the
    first value parses most rows at vectorised speed; only the rest go through the slow mixed-format parser."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, errors="coerce")
        rest = parsed.isna() & text.notna()
        if rest.any():
            parsed[rest] = pd.to_datetime(text[rest], errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return np.where(parsed.isna(), np.nan, parsed.to_numpy("datetime64[s]").astype(np.int64))


def _column_kinds(frame: pd.DataFrame, sample: np.ndarray) -> dict:
    """Column kinds from the sample; whole integer columns whose sampled values are distinct are re-checked
    in full, because a sample of a row-number column is not consecutive."""
    schema = infer_schema(frame.iloc[sample])
    kinds = {col: c.kind for col, c in zip(frame.columns, schema.columns)}
    for col, c in zip(frame.columns, schema.columns):
        if pd.api.types.is_integer_dtype(frame[col]) and c.kind == "numeric" and c.n_unique == len(sample) - c.n_missing:
            kinds[col] = infer_column(frame[col])[0]
    return kinds


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
        "set clean.resolve_conflicts=true (keeps each group's most common label), or correct the labels",
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
                "imputation fills them from training rows, and preprocess.missing_indicators=true keeps the "
                "fact that a value was missing" + ("; with this many missing, check why or drop the column" if warn else ""),
                {"share": share},
            ))
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
            "preprocess.missing_indicators=true lets the model use it",
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
            if kind in ("text", "datetime", "empty"):
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
        "set clean.fix_mixed_types=true to parse every format into one date, and check day/month order",
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
             "check they are real; ") + "set clean.outliers=cap to clip them to the bounds, or clean.outliers=drop",
            {"lower": lo, "upper": hi, "scale": space, "max_robust_z": float(z[0]), "gap_iqrs": gap},
        ))
    return found


def check_multivariate_outliers(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    from scipy.stats import rankdata
    from sklearn.ensemble import IsolationForest

    X, cols = ctx.matrix(ctx.sample)
    if X.shape[1] < 2 or X.shape[0] < 100:
        raise SkipCheck("needs at least 2 usable feature columns and 100 rows")
    medians = np.nanmedian(np.where(np.isnan(X).all(axis=0), 0, X), axis=0) if X.size else 0
    # Ranks (ties averaged), so a long-tailed column's natural extremes do not crowd out rows whose values
    # are each ordinary but together unusual; IsolationForest's random cuts then fall evenly in rank space.
    X = rankdata(np.where(np.isnan(X), medians, X), axis=0) / X.shape[0]
    # contamination="auto" skips sklearn's scoring pass at fit; the rows are scored once, here
    forest = IsolationForest(n_estimators=100, random_state=ctx.seed, n_jobs=1).fit(X)
    score = -forest.score_samples(X)  # higher: easier to isolate
    flagged = np.flatnonzero(score > np.quantile(score, 1 - cfg.multivariate_contamination))
    if flagged.size == 0:
        return []
    flagged = flagged[np.argsort(-score[flagged], kind="stable")]
    m = len(ctx.sample)
    return [Finding(
        "multivariate_outliers", "info",
        f"{flagged.size:,} of {m:,} rows checked ({100 * flagged.size / m:.1f}%) are unusual combinations of "
        f"values (IsolationForest on ranks, expected share {cfg.multivariate_contamination:g})",
        None, int(flagged.size), _ids(ctx.sample[flagged]),
        "look at the example rows (most unusual first); fix or drop the ones that are errors",
        {"rows_checked": m, "columns": [str(c) for c in cols], "threshold_score": float(score[flagged].min())},
    )]


# --- the target: imbalance, label errors, leakage -----------------------------------------------

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
    remedy = ("set balance.method=smote (or random oversampling) on the training rows, and judge models by "
              "a metric that weighs classes (f1, roc_auc)" if strong else "set balance.method=class_weight")
    return [Finding(
        "class_imbalance", "warning" if strong else "info",
        f"the largest class ({classes[hi]!r}, {counts[hi]:,} rows) is {ratio:.1f} times the smallest "
        f"({classes[lo]!r}, {counts[lo]:,} rows, {100 * counts[lo] / counts.sum():.1f}% of labelled rows)",
        str(ctx.target), int(counts[lo]), _ids(np.flatnonzero(labels == lo)), remedy,
        {"ratio": float(ratio), "minority_share": counts[lo] / counts.sum(), "recommended": method,
         "counts": {str(c): int(k) for c, k in zip(classes, counts)}},
    )]


def _lightgbm(ctx: Context, objective: str, n_estimators: int, n_rows: int):
    quiet_openmp()
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        objective=objective, n_estimators=n_estimators, learning_rate=0.2, num_leaves=15, min_child_samples=10, max_bin=63,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=ctx.seed,
        num_threads=ctx.threads if n_rows >= 20_000 else 1,  # on small data, thread start-up costs more than it saves
        deterministic=True, force_row_wise=True, verbose=-1,
    )


def out_of_fold_proba(ctx: Context, X: np.ndarray, y: np.ndarray, n_estimators: int = 50):
    """(n, n_classes) out-of-fold predicted probabilities from a seeded 5-fold LightGBM, and the models' gain."""
    from sklearn.model_selection import StratifiedKFold

    k = int(y.max()) + 1
    proba, gain = np.zeros((len(y), k)), np.zeros(X.shape[1])
    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(y).min())), shuffle=True, random_state=ctx.seed)
    for train, held in folds.split(X, y):
        model = _lightgbm(ctx, "binary" if k == 2 else "multiclass", n_estimators, len(train)).fit(X[train], y[train])
        proba[held] = model.predict_proba(X[held])
        gain += model.booster_.feature_importance("gain")
    return proba, gain / max(gain.sum(), 1e-12)


def confident_learning(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Likely label errors by confident learning (Northcutt et al., 2021).

    A row is flagged when the probability of its given label is below that class's average
    self-confidence and some other class's probability reaches that class's average.

    Args:
        labels: (n,) given class codes 0..k-1.
        proba: (n, k) out-of-fold predicted probabilities.

    Returns:
        (flagged mask (n,), margin (n,)): margin = best other class probability minus the given one.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.95, 0.05]])
        >>> confident_learning(np.array([0, 0, 1, 1, 1]), p)[0].tolist()
        [False, False, False, False, True]
    """
    n, k = proba.shape
    given = proba[np.arange(n), labels]
    thresholds = np.array([proba[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(k)])
    other = proba.copy()
    other[np.arange(n), labels] = -np.inf
    flagged = (given < thresholds[labels]) & (other >= thresholds).any(axis=1)
    return flagged, other.max(axis=1) - given


def check_label_errors(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    ctx.need_target("classification")
    labels, classes = ctx.labels()
    rows = ctx.sample[labels[ctx.sample] >= 0]
    counts = np.bincount(labels[rows], minlength=len(classes))
    rows = rows[counts[labels[rows]] >= 5]  # a class needs a row in each of 5 folds
    X, cols = ctx.matrix(rows)
    kept = np.flatnonzero(counts >= 5)
    if len(kept) < 2 or X.shape[1] == 0:
        raise SkipCheck("needs two classes with at least 5 rows each and a usable feature column")
    y = np.searchsorted(kept, labels[rows])
    proba, _ = out_of_fold_proba(ctx, X, y)
    flagged, margin = confident_learning(y, proba)
    hits = np.flatnonzero(flagged)
    if hits.size == 0:
        return []
    hits = hits[np.argsort(-margin[hits], kind="stable")]
    share = hits.size / len(rows)
    skill = float(np.mean([np.mean(proba[y == j].argmax(axis=1) == j) for j in range(len(kept))]))
    # Confident learning trusts the model; when the features barely predict the label, hard rows look mislabelled.
    caveat = (f"; the out-of-fold model is weak (balanced accuracy {skill:.2f}), so many may be hard cases rather "
              "than wrong labels" if skill < 0.7 else "")
    suggested = kept[np.argmax(np.where(np.eye(len(kept), dtype=bool)[y], -1, proba), axis=1)]
    return [Finding(
        "label_errors", "warning" if share >= cfg.label_error_share else "info",
        f"{hits.size:,} of {len(rows):,} labelled rows checked ({100 * share:.1f}%) look mislabelled: their "
        "out-of-fold probability of their own label is below the class's typical confidence while another class is "
        f"confident{caveat}",
        str(ctx.target), int(hits.size), _ids(rows[hits]),
        "review the example rows (most suspicious first) and correct their labels; the audit changes nothing",
        {"rows_checked": len(rows), "share": share, "model_balanced_accuracy": skill,
         "rows": [int(r) for r in rows[hits[:1000]]],  # all flagged rows, most suspicious first (at most 1,000)
         "examples": [{"row": int(rows[i]), "given": str(classes[kept[y[i]]]), "suggested": str(classes[suggested[i]]),
                       "margin": float(margin[i])} for i in hits[:5]]},
    )]


def _bins(values: np.ndarray, categorical: bool, n_bins: int = 32) -> np.ndarray:
    """Small integer codes: quantile bins of numbers, or the most frequent categories; missing is its own bin."""
    missing = np.isnan(values)
    if categorical or np.unique(values[~missing][:50_000]).size <= n_bins:
        codes = pd.factorize(values)[0]  # -1 for missing
        top = np.argsort(-np.bincount(codes[codes >= 0]), kind="stable")[: 2 * n_bins]
        remap = np.full(codes.max() + 2, len(top))
        remap[top] = np.arange(len(top))
        out = remap[codes]
    else:
        edges = np.unique(np.quantile(values[~missing], np.linspace(0, 1, n_bins + 1)[1:-1]))
        out = np.searchsorted(edges, values, side="right")
    return np.where(missing, out.max(initial=0) + 1, out)


def _one_column_score(bins: np.ndarray, y: np.ndarray, fold: np.ndarray, task: str) -> float:
    """Out-of-fold score of the per-bin prediction: balanced accuracy, or R^2 for regression (2 folds)."""
    n_bins = int(bins.max()) + 1
    predicted = np.empty(len(y))
    for f in (0, 1):
        train, held = fold != f, fold == f
        if task == "classification":
            k = int(y.max()) + 1
            table = np.bincount(bins[train] * k + y[train], minlength=n_bins * k).reshape(n_bins, k)
            # P(bin | class): argmax maximises balanced accuracy; unseen bins fall back to the largest class
            likelihood = table / np.maximum(table.sum(axis=0), 1)
            best = np.where(table.sum(axis=1) > 0, likelihood.argmax(axis=1), np.bincount(y[train]).argmax())
        else:
            sums = np.bincount(bins[train], weights=y[train], minlength=n_bins)
            size = np.bincount(bins[train], minlength=n_bins)
            best = np.where(size > 0, sums / np.maximum(size, 1), y[train].mean())
        predicted[held] = best[bins[held]]
    if task == "classification":
        recalls = [np.mean(predicted[y == j] == j) for j in np.unique(y)]
        return float(np.mean(recalls))
    return float(1 - np.sum((y - predicted) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12))


def _near_copy(values: np.ndarray, y: np.ndarray, bins: np.ndarray, task: str) -> float | None:
    """|Spearman| with a numeric target, or Cramer's V of a column with few levels with the classes."""
    if task == "regression":
        ok = ~np.isnan(values)
        if ok.sum() < 10 or np.ptp(values[ok]) == 0:
            return None
        return float(abs(pd.Series(values[ok]).rank().corr(pd.Series(y[ok]).rank())))
    k, levels = int(y.max()) + 1, int(bins.max()) + 1
    if levels > 2 * k or levels < 2:
        return None
    table = np.bincount(bins * k + y, minlength=levels * k).reshape(levels, k).astype(np.float64)
    table = table[table.sum(axis=1) > 0]
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = np.sum((table - expected) ** 2 / np.maximum(expected, 1e-12))
    return float(np.sqrt(chi2 / (table.sum() * max(min(table.shape) - 1, 1))))


def check_target_leakage(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    ctx.need_target()
    if ctx.task == "classification":
        labels, _ = ctx.labels()
        rows = ctx.sample[labels[ctx.sample] >= 0]
        y = pd.factorize(labels[rows], sort=True)[0]
        if np.unique(y).size < 2:
            raise SkipCheck("the target holds a single class")
    else:
        target = pd.to_numeric(ctx.frame[ctx.target].iloc[ctx.sample], errors="coerce").to_numpy(np.float64)
        rows, y = ctx.sample[~np.isnan(target)], target[~np.isnan(target)]
    if len(rows) < 20:
        raise SkipCheck("needs at least 20 rows with a target")
    fold = np.random.default_rng(ctx.seed).permutation(len(rows)) % 2
    found, metric = [], "balanced accuracy" if ctx.task == "classification" else "R^2"
    for col in ctx.features:
        if ctx.kinds[col] not in _MODEL_KINDS and not (ctx.kinds[col] == "identifier" and not ctx.is_text(col)):
            continue
        values = ctx.encoded(col, rows)
        bins = _bins(values, categorical=ctx.kinds[col] == "categorical")
        score = _one_column_score(bins, y, fold, ctx.task)
        copy = _near_copy(values, y, bins, ctx.task)
        if score < cfg.leakage_score and (copy is None or copy < cfg.near_copy):
            continue
        why = (f"predicts the target on its own with an out-of-fold {metric} of {score:.3f}"
               if score >= cfg.leakage_score else f"is a near-copy of the target (association {copy:.3f})")
        found.append(Finding(
            "target_leakage", "error", f"column '{col}' {why} ({len(rows):,} rows checked)", str(col), len(rows), [],
            "if it is only known after the outcome, or derived from it, drop it: set clean.drop_leaking=true "
            f"or add '{col}' to preprocess.drop_columns",
            {"score": score, "metric": metric, "near_copy": copy},
        ))
    return found


# --- splits: contamination and drift ------------------------------------------------------------

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


def check_split_drift(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    from sklearn.metrics import roc_auc_score

    if not ctx.splits or "train" not in ctx.splits:
        raise SkipCheck("no train split given")
    rng, found = np.random.default_rng(ctx.seed), []
    for name in ("validation", "test"):
        other = ctx.splits.get(name)
        if other is None or other.size < 10 or ctx.splits["train"].size < 10:
            continue
        half = cfg.max_rows // 2
        a, b = (r if r.size <= half else rng.choice(r, half, replace=False) for r in (ctx.splits["train"], other))
        rows, y = np.concatenate([a, b]), np.r_[np.zeros(a.size, np.int64), np.ones(b.size, np.int64)]
        X, cols = ctx.matrix(rows)
        if X.shape[1] == 0:
            raise SkipCheck("no usable feature column")
        proba, gain = out_of_fold_proba(ctx, X, y, n_estimators=50)
        auc = float(roc_auc_score(y, proba[:, 1]))
        if auc < cfg.drift_auc:
            continue
        telling = np.argsort(-proba[y == 1, 1], kind="stable")
        top = np.argsort(-gain, kind="stable")[:5]
        found.append(Finding(
            "split_drift", "warning",
            f"a classifier tells {name} rows from train rows with a cross-validated AUC of {auc:.3f} "
            f"(0.5 means no difference; {b.size:,} {name} rows checked)",
            None, int(b.size), _ids(b[telling]),
            "unless the drift is intended (a time split), use a random or stratified split (split.stratify=true); "
            "details list the columns that differ most",
            {"split": name, "auc": auc, "top_columns": [[str(cols[i]), float(gain[i])] for i in top]},
        ))
    return found


CHECKS = (
    ("duplicates", check_duplicates),
    ("conflicting_labels", check_conflicting_labels),
    ("missing_values", check_missing),
    ("missingness_pattern", check_missingness_pattern),
    ("constant_column", check_constant),
    ("identifier_column", check_identifiers),
    ("mixed_types", check_mixed_types),
    ("inconsistent_categories", check_inconsistent_categories),
    ("outliers", check_outliers),
    ("multivariate_outliers", check_multivariate_outliers),
    ("class_imbalance", check_class_imbalance),
    ("label_errors", check_label_errors),
    ("target_leakage", check_target_leakage),
    ("train_test_contamination", check_contamination),
    ("split_drift", check_split_drift),
)
