"""``trainwright export RUN --format onnx``: the whole predictor (each member's preprocessing and model, the pooling,
the calibration, the threshold and the class labels) as one ONNX graph that takes the raw columns, refused unless
onnxruntime gives the run's own test rows the same probabilities (the parity gate).

Inputs: one tensor per column, shape (rows, 1): numeric columns as double (NaN: missing), the others as string
(empty: missing). Outputs: ``prediction`` (class labels or values, shape (rows,)) and, for classification,
``probabilities`` (double, rows x classes, in the run's class order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import ExportError
from trainwright.deploy.model import TrainedModel

__all__ = ["export_onnx", "onnx_feeds", "OnnxGraph", "PARITY_BOUND", "ExportError"]

PARITY_BOUND = 1e-5  # largest difference of a probability (or a value, relative) the gate lets through


def export_onnx(model: TrainedModel, out: str | Path, *, bound: float = PARITY_BOUND) -> dict[str, Any]:
    """Build the graph, check it on the run's test rows in onnxruntime, and write it to ``out``.

    Returns:
        {"path", "rows" (test rows checked), "max_difference", "inputs", "bytes"}.

    Raises:
        ExportError: a step the graph cannot express (named), or the parity gate failed (nothing written).
    """
    from trainwright.runs import store

    predictor = _exportable(model)
    graph, inputs = _graph(predictor, model)
    rows = _test_rows(model)
    difference = _parity(graph, predictor, rows, inputs, model.task)
    if not difference <= bound:
        raise ExportError(f"the ONNX graph differs from trainwright's predictions on the run's {len(rows)} test rows "
                          f"by up to {difference:.3g} (the bound is {bound:g}); nothing was written")
    data = graph.SerializeToString()
    store.write_bytes(out, data)
    return {"path": str(out), "rows": int(len(rows)), "max_difference": difference, "inputs": inputs, "bytes": len(data)}


def _exportable(model: TrainedModel):
    if model.task == "forecast":
        raise ExportError(f"{model.path} is a forecasting run; the export takes table runs")
    model.run.require_completed()
    predictor = model.predictor
    steps = predictor.frame_steps or {}
    for step, what in (("category_maps", "the cleaning's merged category spellings"), ("lags", "lag features"),
                       ("rolling", "rolling-window features")):
        if steps.get(step):
            raise ExportError(f"the run uses {what} ({step}), which the ONNX export does not express yet")
    calibrator = predictor.calibrator
    if calibrator is not None and calibrator.method != "temperature":
        raise ExportError(f"the run's {calibrator.method} calibration is not expressed in ONNX yet (temperature is)")
    return predictor


def _graph(predictor, model: TrainedModel):
    """(the ONNX model, its inputs: column -> "double" | "string")."""
    from trainwright.data.features.onnx import preprocessor_inputs, preprocessor_nodes
    from trainwright.onnxgraph import Graph

    g = Graph()
    inputs: dict[str, str] = {}
    for pre, _ in predictor.members:
        inputs.update(preprocessor_inputs(pre))
    tensors = {col: g.input(col, kind, [None, 1]) for col, kind in inputs.items()}
    pooled = None
    for i, ((pre, learner), weight) in enumerate(zip(predictor.members, predictor.weights)):
        out = g.op("Mul", learner.onnx_nodes(g, preprocessor_nodes(pre, g, tensors)), g.const(np.array(float(weight))))
        pooled = out if pooled is None else g.op("Add", pooled, out)
    if model.task == "regression":
        g.output(pooled, "prediction", "double", [None])
    else:
        proba = _calibrated(g, pooled, predictor.calibrator)
        g.output(_labels(g, proba, predictor), "prediction", "string" if predictor.classes_.dtype.kind in "OUS"
                 else "int64", [None])
        g.output(proba, "probabilities", "double", [None, len(predictor.classes_)])
    notes = ("inputs: one (rows, 1) tensor per column; numbers as double (NaN: missing), categories as text "
             "matched exactly (strip spaces, whole numbers without .0, empty string: missing)")
    return g.model({"trainwright_run": str(model.path), "trainwright_task": model.task, "notes": notes}), inputs


def _calibrated(g, proba: str, calibrator) -> str:
    if calibrator is None:
        return proba
    logp = g.op("Log", g.op("Max", proba, g.const(np.array(1e-12))))
    return g.op("Softmax", g.op("Div", logp, g.const(np.array(calibrator.params["temperature"]))), axis=1)


def _labels(g, proba: str, predictor) -> str:
    """The class of each row: P(second class) >= the run's threshold (binary, when chosen), else the most probable."""
    if predictor.threshold is None:
        index = g.op("ArgMax", proba, axis=1, keepdims=0)
    else:
        p1 = g.op("Gather", proba, g.const(np.array(1, dtype=np.int64)), axis=1)
        index = g.op("Cast", g.op("GreaterOrEqual", p1, g.const(np.array(float(predictor.threshold)))), to=7)
    classes = predictor.classes_
    labels = classes.astype(object).astype(str) if classes.dtype.kind in "OUS" else classes.astype(np.int64)
    if labels.dtype != object and not np.array_equal(labels, classes):
        raise ExportError("the run's classes are not whole numbers or text; the ONNX export names classes as those")
    return g.op("Gather", g.const(labels), index, axis=0)


def onnx_feeds(rows: pd.DataFrame, inputs: dict[str, str]) -> dict[str, np.ndarray]:
    """Raw rows as the graph's inputs: numbers as double (unreadable: NaN), the rest as text the way the preprocessor
    reads categories (stripped, whole numbers without ".0", missing as the empty string)."""
    from trainwright.data.features.encode import MISSING, category_strings

    feeds = {}
    for col, kind in inputs.items():
        if kind == "double":
            feeds[col] = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)[:, None]
        else:
            text = category_strings(rows[col]).replace(MISSING, "")
            feeds[col] = text.to_numpy(dtype=object)[:, None]
    return feeds


def _test_rows(model: TrainedModel) -> pd.DataFrame:
    from trainwright.errors import DataError

    try:
        _, frame = model.training_rows()
    except DataError as exc:
        raise ExportError(f"the parity gate runs the graph on the run's test rows: {exc}") from None
    return frame.loc[model.run.read_json("splits.json")["test"]]


def _parity(graph, predictor, rows: pd.DataFrame, inputs: dict[str, str], task: str) -> float:
    """The largest difference between onnxruntime's and trainwright's probabilities (or relative values), with
    any differing label counting as infinite."""
    import onnxruntime as ort

    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, onnx_feeds(rows, inputs))))
    expected = predictor.output(rows)
    if task == "regression":
        return float(np.max(np.abs(got["prediction"] - expected) / np.maximum(1.0, np.abs(expected)), initial=0.0))
    labels = predictor.classes_[predictor.decide(expected)]
    if not all(str(a) == str(b) for a, b in zip(got["prediction"].tolist(), labels.tolist())):
        return float("inf")
    return float(np.max(np.abs(got["probabilities"] - expected), initial=0.0))


class OnnxGraph:
    """An exported graph run by onnxruntime, answering for a served run (``trainwright serve RUN --onnx FILE``).

    Args:
        path: the graph ``trainwright export`` wrote.
        inputs: the run's input columns -> "double" or "string", as the graph must take them.

    Raises:
        ArtifactError: the file is not a graph, or its inputs are not the run's.
    """

    def __init__(self, path: str | Path, inputs: dict[str, str]) -> None:
        import onnxruntime as ort

        from trainwright.errors import ArtifactError

        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # one row at a time: threads cost more than they give
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for unreadable files
            raise ArtifactError(f"{path} is not an ONNX graph onnxruntime can load ({str(exc)[:200]})") from None
        given = {i.name: "string" if i.type == "tensor(string)" else "double" for i in self.session.get_inputs()}
        if given != inputs:
            raise ArtifactError(f"{path} takes the inputs {given}, not this run's {inputs}: it was exported from "
                                "another run; export this one (`trainwright export RUN -o FILE`)")
        self.path, self.inputs = Path(path), inputs
        self.names = [o.name for o in self.session.get_outputs()]

    def run(self, columns: dict[str, list]) -> tuple[list, np.ndarray | None]:
        """(predictions, probabilities or None) of rows given as column -> values (None: missing)."""
        n = len(next(iter(columns.values()))) if columns else 0
        feeds = {}
        for col, kind in self.inputs.items():
            values = columns.get(col, [None] * n)
            feeds[col] = (np.array([[np.nan if v is None else v] for v in values], dtype=np.float64)
                          if kind == "double" else np.array([[_category_text(v)] for v in values], dtype=object))
        out = dict(zip(self.names, self.session.run(None, feeds)))
        return out["prediction"].tolist(), out.get("probabilities")


def _category_text(value) -> str:
    """A value as the preprocessor reads a category (``encode.category_strings``): stripped text, whole numbers
    without ".0", missing as the empty string the graph takes for it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
