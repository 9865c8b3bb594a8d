"""The offline tables of the AutoML benchmark (bench/automl.py): eleven real tables that ship inside pip packages,
each cut once into a deterministic 80/20 train/test split (stratified by class for classification, seed 0) and
written as CSV files that every system reads the same way.

    /work/benchvenv/bin/python bench/tables.py                         # write the cache, print a summary
    /work/benchvenv/bin/python bench/tables.py --tables fair,mpg --force

Runs in the peer environment (bench/peers-requirements.txt): plotnine and palmerpenguins are not in the
project's own .venv. Writes <cache>/<name>/{train,test}.csv and meta.json (task, target, positive class) and
prints one line per table: rows, feature columns, task, share of missing feature cells, categorical columns,
and the class balance or the target's spread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

CACHE = Path("/tmp/trainwright-bench-tables")
VERSION = 1  # bump when a table's recipe changes: cached folders with another version are rewritten


def _sklearn(loader: str) -> tuple[pd.DataFrame, str]:
    import sklearn.datasets

    frame = getattr(sklearn.datasets, loader)(as_frame=True).frame
    return frame, "target"


def breast_cancer():
    return "binary", *_sklearn("load_breast_cancer")  # 1 = benign (63%)


def wine():
    return "multiclass", *_sklearn("load_wine")


def digits():
    return "multiclass", *_sklearn("load_digits")  # 64 pixel columns, 10 classes


def diabetes():
    return "regression", *_sklearn("load_diabetes")


def penguins():
    import palmerpenguins

    return "multiclass", palmerpenguins.load_penguins(), "species"  # missing values, 2 categorical columns


def _statsmodels(name: str) -> pd.DataFrame:
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def fair():
    frame = _statsmodels("fair")
    frame["had_affair"] = (frame.pop("affairs") > 0).astype(int)  # 32% positive; the amount would leak it
    return "binary", frame, "had_affair"


def randhie():
    return "regression", _statsmodels("randhie"), "mdvis"  # doctor visits: a skewed count, hard to predict


def anes96():
    # vote has two values (0 Clinton, 1 Dole; 42% Dole), so the table is binary. logpopul duplicates popul
    # under a log and is kept as it ships.
    frame = _statsmodels("anes96")
    frame["vote"] = frame["vote"].astype(int)
    return "binary", frame, "vote"


def _diamonds_sample() -> pd.DataFrame:
    from plotnine.data import diamonds

    frame = diamonds.sample(n=20_000, random_state=0).reset_index(drop=True)
    for column in frame.select_dtypes("category"):
        frame[column] = frame[column].astype(str)  # ordered categoricals in plotnine; plain levels in the CSV
    return frame


def diamonds():
    return "regression", _diamonds_sample(), "price"  # a fixed 20,000 of 53,940 rows; 3 categorical columns


def diamonds_fair():
    # Imbalanced binary: is the cut 'Fair' (3% of rows)? Learnable from depth and table (the proportions that
    # grade a cut): LightGBM's defaults reach ROC-AUC 0.99, so the spread between systems is small here; it is
    # in the set for the imbalance (stratified splits, probability calibration). The same 20,000 rows as diamonds.
    frame = _diamonds_sample()
    frame["fair_cut"] = (frame.pop("cut") == "Fair").astype(int)
    return "binary", frame, "fair_cut"


def mpg():
    # Highway miles per gallon. cty (city mpg, correlation 0.96 with hwy, measured in the same test) is dropped:
    # with it every system scores near perfect and the table says nothing. model (38 levels on 234 rows) stays.
    from plotnine.data import mpg as frame

    return "regression", frame.drop(columns=["cty"]).copy(), "hwy"


TABLES = {f.__name__: f for f in (breast_cancer, wine, digits, diabetes, penguins, fair, randhie, anes96,
                                  diamonds, diamonds_fair, mpg)}


def split(frame: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    stratify = frame[target] if task != "regression" else None
    train, test = train_test_split(frame, test_size=0.2, random_state=0, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def write(name: str, cache: Path = CACHE, force: bool = False) -> dict:
    """Write <cache>/<name>/{train,test}.csv and meta.json unless they are there (same VERSION); returns meta."""
    folder = cache / name
    meta_path = folder / "meta.json"
    if not force and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == VERSION and (folder / "train.csv").is_file() and (folder / "test.csv").is_file():
            return meta
    task, frame, target = TABLES[name]()
    train, test = split(frame, target, task)
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    features = frame.drop(columns=[target])
    meta = {
        "name": name, "task": task, "target": target, "version": VERSION,
        "rows": len(frame), "train_rows": len(train), "test_rows": len(test), "features": features.shape[1],
        "missing_share": float(features.isna().to_numpy().mean()),
        "categorical": int(sum(not pd.api.types.is_numeric_dtype(features[c]) for c in features)),
        "classes": sorted(map(str, frame[target].unique())) if task != "regression" else None,
    }
    if task == "binary":
        meta["positive"] = meta["classes"][-1]  # AUC is of the probability of this class
        meta["positive_share"] = float((frame[target].astype(str) == meta["positive"]).mean())
    if task == "regression":
        meta["target_mean"], meta["target_std"] = float(frame[target].mean()), float(frame[target].std())
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def cached(name: str, cache: Path = CACHE) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(meta, train, test) of a table already written (by this script, in the peer environment): readable from
    the project's own .venv, which cannot build the tables."""
    folder = cache / name
    if not (folder / "meta.json").is_file():
        raise SystemExit(f"no cached table {folder}; write it with: /work/benchvenv/bin/python bench/tables.py "
                         f"--tables {name}")
    meta = json.loads((folder / "meta.json").read_text())
    return meta, pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")


def load(name: str, cache: Path = CACHE) -> tuple[str, str, pd.DataFrame, str]:
    """(name, task, the whole table as one DataFrame, target column), from the cached split."""
    meta = write(name, cache)
    frame = pd.concat([pd.read_csv(cache / name / "train.csv"), pd.read_csv(cache / name / "test.csv")])
    return name, meta["task"], frame.reset_index(drop=True), meta["target"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated names (default: all)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--force", action="store_true", help="rewrite the CSV files even if cached")
    parser.add_argument("--quiet", action="store_true", help="write only, print nothing")
    args = parser.parse_args()
    names = [n for n in args.tables.split(",") if n]
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        parser.error(f"unknown tables {unknown}; known: {', '.join(TABLES)}")
    if not args.quiet:
        print(f"{'table':<14} {'task':<10} {'rows':>6} {'train':>6} {'test':>5} {'cols':>4} {'missing':>7} "
              f"{'categ':>5}  target")
    for name in names:
        m = write(name, args.cache, args.force)
        if args.quiet:
            continue
        if m["task"] == "binary":
            about = f"{m['target']}: {len(m['classes'])} classes, positive {m['positive']} {m['positive_share']:.1%}"
        elif m["task"] == "multiclass":
            about = f"{m['target']}: {len(m['classes'])} classes"
        else:
            about = f"{m['target']}: mean {m['target_mean']:.4g}, std {m['target_std']:.4g}"
        print(f"{name:<14} {m['task']:<10} {m['rows']:>6} {m['train_rows']:>6} {m['test_rows']:>5} "
              f"{m['features']:>4} {m['missing_share']:>7.1%} {m['categorical']:>5}  {about}")
    if not args.quiet:
        print(f"written under {args.cache}")


if __name__ == "__main__":
    main()
