"""The auto-ARIMA peer of bench/forecast.py, run in the peer environment (/work/benchvenv, which has pmdarima).

    /work/benchvenv/bin/python bench/forecast_peer.py IN.json OUT.json

IN.json: {"values": [...], "cuts": [index of the first forecast step, ...], "horizon": H, "season": m}. For each
cut, ``pmdarima.auto_arima`` (stepwise, seasonal with period m when m > 1) is fitted on values[:cut] only and
forecasts H steps. OUT.json: {"forecasts": [[...], ...], "seconds": [...], "orders": [...]}.
Also ``--dump DIR`` writes pmdarima's airpassengers and wineind series as CSV files (monthly, from 1949 / 1980).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


def dump(folder: Path) -> None:
    import pandas as pd
    from pmdarima.datasets import load_airpassengers, load_wineind

    folder.mkdir(parents=True, exist_ok=True)
    air = load_airpassengers()
    pd.DataFrame({"month": pd.date_range("1949-01-01", periods=len(air), freq="MS").date,
                  "passengers": air}).to_csv(folder / "airpassengers.csv", index=False)
    wine = load_wineind()
    pd.DataFrame({"month": pd.date_range("1980-01-01", periods=len(wine), freq="MS").date,
                  "sales": wine}).to_csv(folder / "wineind.csv", index=False)


def main() -> None:
    if sys.argv[1] == "--dump":
        dump(Path(sys.argv[2]))
        return
    import numpy as np
    import pmdarima as pm

    job = json.loads(Path(sys.argv[1]).read_text())
    y, m, h = np.asarray(job["values"], float), int(job["season"]), int(job["horizon"])
    out = {"forecasts": [], "seconds": [], "orders": []}
    for cut in job["cuts"]:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pm.auto_arima(y[:cut], seasonal=m > 1, m=max(m, 1), suppress_warnings=True,
                                  error_action="ignore")
        out["forecasts"].append(np.asarray(model.predict(h), float).tolist())
        out["seconds"].append(time.perf_counter() - t0)
        out["orders"].append([list(model.order), list(model.seasonal_order)])
    Path(sys.argv[2]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
