"""Real tables from shared/DATASETS.md and leaks planted into them: used by tests/data/test_leakage.py and
bench/leakage.py."""

from __future__ import annotations

import numpy as np
import pandas as pd


def clean_tables() -> dict[str, tuple[pd.DataFrame, str]]:
    """name -> (frame, target): the offline real tables (shared/DATASETS.md)."""
    import statsmodels.api as sm
    from sklearn import datasets

    out = {}
    for name in ("iris", "wine", "breast_cancer", "digits", "diabetes"):
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        out[name] = (frame, "target")
    import palmerpenguins

    out["penguins"] = (palmerpenguins.load_penguins(), "species")
    fair = sm.datasets.fair.load_pandas().data
    fair["had_affair"] = np.where(fair.pop("affairs") > 0, "yes", "no")
    out["fair"] = (fair, "had_affair")
    out["randhie"] = (sm.datasets.randhie.load_pandas().data, "mdvis")
    try:
        from plotnine.data import diamonds, mpg

        out["diamonds"] = (diamonds.sample(20_000, random_state=0).astype({c: str for c in ("cut", "color", "clarity")}), "price")
        out["mpg"] = (mpg.copy(), "hwy")
    except ImportError:
        pass
    try:
        from vega_datasets import local_data

        out["cars"] = (local_data.cars().drop(columns=["Name"]), "Origin")
        out["seattle_weather"] = (local_data.seattle_weather(), "weather")
    except ImportError:
        pass
    return out


def plant(frame: pd.DataFrame, target: str, kind: str, seed: int = 0) -> pd.DataFrame:
    """A copy of ``frame`` with one planted leaking column, ``leak``."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    y = out[target]
    if kind.startswith(("copy", "coded")):
        noise = float(kind.split("-")[1]) / 100
        leak = y.astype(str).to_numpy().copy()
        flip = rng.random(len(y)) < noise
        leak[flip] = rng.choice(np.unique(leak), flip.sum())
        # "coded": the same agreement, written as codes 10, 11, ... instead of the labels themselves
        out["leak"] = leak if kind.startswith("copy") else pd.factorize(leak, sort=True)[0] + 10
    elif kind == "monotone":
        out["leak"] = np.log1p(y - y.min()) * 3.0 + 1.0
    elif kind == "post-outcome-date":
        # A date written once the outcome was known: its follow-up is booked a few weeks later per outcome.
        code = pd.factorize(y.astype(str), sort=True)[0]
        days = 14 + 30 * code + rng.integers(0, 10, len(y))
        out["leak"] = (pd.Timestamp("2021-03-01") + pd.to_timedelta(days, unit="D")).astype(str)
    return out
