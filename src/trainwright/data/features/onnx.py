"""The fitted preprocessor as ONNX nodes (``trainwright export``): raw columns in, the float32 feature matrix out.

Expressed: numeric columns (infinite values read as missing, capping bounds, mean / median / most-frequent /
constant imputation, standard scaling, polynomial terms, missing-value indicators) and categorical columns
(one-hot or ordinal levels, the unseen-level column, missing values as their own level or filled). A categorical
value is matched as text exactly as given: strip surrounding spaces, write whole numbers without ".0", and send a
missing value as the empty string. Anything else (dates, free text, yes/no parsing, Fourier terms, KNN or
iterative imputation, target encoding, images) is named in an ``ExportError``.
"""

from __future__ import annotations

import numpy as np

from trainwright.data.features.encode import MISSING
from trainwright.errors import ExportError

__all__ = ["preprocessor_inputs", "preprocessor_nodes"]

_SIMPLE_IMPUTERS = ("mean", "median", "most_frequent", "constant")


def preprocessor_inputs(pre) -> dict[str, str]:
    """Each raw column the preprocessor reads -> its graph input type ("double" or "string"); refuses what the
    graph cannot take."""
    out = {}
    for spec in pre.columns_:
        col, kind = spec["column"], spec["kind"]
        if kind == "numeric" and col not in pre.features.fourier:
            out[col] = "double"
        elif kind == "categorical" and spec.get("encoding") in ("onehot", "ordinal"):
            out[col] = "string"
        else:
            what = f"{spec.get('encoding')} encoding" if kind == "categorical" else \
                ("Fourier terms" if kind == "numeric" else f"a {kind} column")
            raise ExportError(f"column '{col}' uses {what}, which the ONNX export does not express yet; train "
                              "without it (preprocess.drop_columns, or another encoding) to export the run")
    strategy = pre.imputer_.strategy
    if strategy not in _SIMPLE_IMPUTERS and pre.numeric_names_:
        raise ExportError(f"numeric imputation '{strategy}' is not expressed in ONNX (mean, median, most_frequent "
                          "and constant are); train with another preprocess.numeric_impute to export the run")
    return out


def preprocessor_nodes(pre, g, inputs: dict[str, str]) -> str:
    """Add the preprocessor's nodes to graph ``g``, reading the graph inputs ``inputs`` (column -> tensor);
    returns the float feature matrix (rows, len(pre.feature_names_))."""
    blocks = []
    numeric = [spec["column"] for spec in pre.columns_ if spec["kind"] != "categorical"]
    if numeric:
        blocks.append(_numeric_block(pre, g, [inputs[c] for c in numeric]))
    for spec in pre.columns_:
        if spec["kind"] == "categorical":
            blocks.append(_levels(spec, g, inputs[spec["column"]]))
    joined = blocks[0] if len(blocks) == 1 else g.op("Concat", *blocks, axis=1)
    return g.op("Cast", joined, to=1)  # float32, as transform returns


def _numeric_block(pre, g, columns: list[str]) -> str:
    raw = columns[0] if len(columns) == 1 else g.op("Concat", *columns, axis=1)
    nan = g.const(np.array(np.nan))
    raw = g.op("Where", g.op("IsInf", raw), nan, raw)  # infinite values are missing, as in training
    if pre.bounds_:
        low = np.array([-np.inf if v is None else v for v in pre.bounds_["low"]], dtype=np.float64)
        high = np.array([np.inf if v is None else v for v in pre.bounds_["high"]], dtype=np.float64)
        raw = g.op("Where", g.op("Less", raw, g.const(low)), g.const(low), raw)  # NaN compares false: kept
        raw = g.op("Where", g.op("Greater", raw, g.const(high)), g.const(high), raw)
    missing = g.op("IsNaN", raw)
    filled = g.op("Where", missing, g.const(np.asarray(pre.imputer_.fill_, dtype=np.float64)), raw)
    scaled = g.op("Div", g.op("Sub", filled, g.const(pre.mean_.astype(np.float64))), g.const(pre.std_.astype(np.float64)))
    parts = [scaled]
    for combo in pre.poly_:
        product = g.op("Gather", scaled, g.const(np.array([combo[0]], dtype=np.int64)), axis=1)
        for j in combo[1:]:
            product = g.op("Mul", product, g.op("Gather", scaled, g.const(np.array([j], dtype=np.int64)), axis=1))
        parts.append(product)
    if pre.indicators_:
        flags = g.op("Gather", missing, g.const(np.asarray(pre.indicators_, dtype=np.int64)), axis=1)
        parts.append(g.op("Cast", flags, to=11))
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=1)


def _levels(spec: dict, g, column: str) -> str:
    """One-hot or ordinal columns of a categorical input (ai.onnx.ml LabelEncoder: text -> level position, -1 when
    unseen); the empty string is a missing value, as an empty CSV cell."""
    levels = list(spec["levels"])
    missing_as = spec.get("missing_fill") or MISSING
    missing_code = levels.index(missing_as) if missing_as in levels else -1
    keys = levels + [k for k in ("", MISSING) if k not in levels]
    values = [levels.index(k) if k in levels else missing_code for k in keys]
    g.opsets["ai.onnx.ml"] = max(g.opsets.get("ai.onnx.ml", 0), 2)
    codes = g.op("LabelEncoder", column, domain="ai.onnx.ml", keys_strings=keys, values_int64s=values,
                 default_int64=-1)  # (rows, 1)
    unseen = g.op("Less", codes, g.const(np.array(0, dtype=np.int64)))
    if spec["encoding"] == "ordinal":
        return g.op("Cast", g.op("Where", unseen, g.const(np.array(len(levels), dtype=np.int64)), codes), to=11)
    hits = g.op("Cast", g.op("Equal", codes, g.const(np.arange(len(levels), dtype=np.int64)[None, :])), to=11)
    return g.op("Concat", hits, g.op("Cast", unseen, to=11), axis=1) if spec["other"] else hits
