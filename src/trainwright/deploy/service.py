"""What the prediction server serves, without the web framework: a run's input columns with their JSON types,
rows and columns turned into the frame the predictor reads, predictions as JSON, and the Open Inference
Protocol (v2) tensors. ``deploy/server.py`` puts HTTP around it.

Example:
    >>> import tempfile, trainwright
    >>> from importlib import resources
    >>> data = resources.files("trainwright") / "datasets" / "penguins.csv"
    >>> run = trainwright.train(str(data), target="species", out=tempfile.mkdtemp() + "/run",
    ...                         overrides=["evaluate.report=false", "model.type=linear"])
    >>> service = ModelService(run)
    >>> [c.name for c in service.columns][:3]
    ['island', 'bill_length_mm', 'bill_depth_mm']
    >>> service.predict_rows([{"island": "Biscoe", "bill_length_mm": 50.0, "flipper_length_mm": 220}])[0]["prediction"]
    'Gentoo'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.deploy.model import TrainedModel
from trainwright.errors import ArtifactError, DataError

__all__ = ["Column", "ModelService", "V2Error"]


@dataclass(frozen=True)
class Column:
    """One input column of a served run.

    Attributes:
        name: the column's name, as in the training data.
        kind: how the model reads it: numeric, categorical, text, date, ...
        json: the JSON type a request gives: "number" or "string"; "any" for a category whose training values
            were not text (numbers or booleans).
    """

    name: str
    kind: str
    json: str

    @property
    def datatype(self) -> str:
        """The Open Inference Protocol datatype of its tensor."""
        return "FP64" if self.json == "number" else "BYTES"


class V2Error(ValueError):
    """A request the Open Inference Protocol answers with 400 (or 404 for ``status=404``) and ``{"error": ...}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ModelService:
    """A completed table or text run, ready to answer requests.

    Args:
        model: the trained run (``trainwright.load(path)``).
        name: the model's name in the v2 routes (default: the run folder's name).
        onnx: a graph exported from this run (``trainwright export``): it answers instead of the Python predictor.

    Raises:
        ArtifactError: the run is a forecast or reads images, which the server does not take yet; the graph is
            not this run's.
    """

    def __init__(self, model: TrainedModel, name: str | None = None, onnx: str | None = None) -> None:
        if model.task == "forecast":
            raise ArtifactError(f"{model.path} is a forecasting run; `serve` answers table and text runs. Forecast "
                                "with `trainwright predict RUN HISTORY.csv`.")
        self.model = model
        self.predictor = model.predictor
        kinds = self.predictor.members[0][0].kinds
        if "image" in kinds.values():
            raise ArtifactError(f"{model.path} reads images; `serve` answers table and text runs (a request naming a "
                                "file on the server would let any client read the server's files). Predict images "
                                "with `trainwright predict`.")
        dtypes = {c["name"]: c.get("dtype", "") for c in model.run.read_json("fingerprint.json", {})
                  .get("schema", {}).get("columns", [])}
        self.columns = [Column(col, kind, _json_type(kind, dtypes.get(col, ""))) for col, kind in kinds.items()]
        self.by_name = {c.name: c for c in self.columns}
        self.name = name or model.path.name
        self.classes = self.predictor.classes
        self.graph = self._graph(onnx) if onnx else None

    def _graph(self, path: str):
        """The exported graph, checked against the Python predictor on an all-missing row before it answers."""
        from trainwright.deploy.export import OnnxGraph

        types = {"number": "double"}
        graph = OnnxGraph(path, {c.name: types.get(c.json, "string") for c in self.columns})
        probe = {c.name: [None] for c in self.columns}
        got, expected = graph.run(probe), self._python(self.frame(probe))
        if self.model.task == "regression":
            gap = abs(got[0][0] - expected[0][0]) / max(1.0, abs(expected[0][0]))
        else:
            gap = float(np.max(np.abs(got[1] - expected[1]))) if got[0] == expected[0] else float("inf")
        if not gap <= 1e-5:
            raise ArtifactError(f"{path} does not predict as the run {self.model.path} does (an all-missing row: "
                                f"{got[0]} against {expected[0]}, outputs {gap:.3g} apart); export this run again")
        return graph

    def metadata(self) -> dict[str, Any]:
        """Task, target, classes, input schema and lineage (the run, its data file's name and hash, the model), for
        ``/metadata``."""
        info, fingerprint = self.model.info, self.model.run.read_json("fingerprint.json", {})
        return {"name": self.name, "task": self.model.task, "target": self.model.target, "classes": self.classes,
                "model": info.get("model"),
                "backend": f"onnx ({self.graph.path.name}, onnxruntime)" if self.graph is not None else "python",
                "inputs": [{"name": c.name, "kind": c.kind, "type": c.json} for c in self.columns],
                "run": {"path": str(self.model.path), "started": info.get("started"),
                        "trainwright": info.get("trainwright"),
                        "data": {"file": Path(str(fingerprint.get("file", ""))).name,
                                 **{k: fingerprint.get(k) for k in ("sha256", "rows")}}},
                "test_metrics": self.model.metrics.get("test", {})}

    def frame(self, columns: dict[str, list]) -> pd.DataFrame:
        """The frame the predictor reads from column values (absent columns and None are missing values)."""
        n = len(next(iter(columns.values()))) if columns else 0
        data = {}
        for col in self.columns:
            values = self._values(col, columns.get(col.name, [None] * n))
            data[col.name] = (np.array([np.nan if v is None else v for v in values], dtype=float)
                              if col.json == "number" else pd.Series(values, dtype=object))
        return pd.DataFrame(data, index=pd.RangeIndex(n))

    @staticmethod
    def _values(col: Column, values: list) -> list:
        """A column's values, checked (valid Unicode); an empty or blank category is missing, as an empty CSV cell
        is (both backends read it so)."""
        _check_text(col.name, values)
        if col.kind != "categorical":
            return values
        return [None if isinstance(v, str) and not v.strip() else v for v in values]

    def predict_frame(self, frame: pd.DataFrame) -> tuple[list, np.ndarray | None]:
        """(predictions, class probabilities or None) of the rows of ``frame``, whose numeric columns hold numbers
        (the routes check types first); an output that is not finite is a ``DataError``."""
        for col in self.columns:
            if col.json == "number" and col.name in frame.columns:
                _check_range(col.name, pd.to_numeric(frame[col.name], errors="coerce").to_numpy(dtype=float))
        if self.graph is not None:
            return self.graph.run({c.name: frame[c.name].tolist() for c in self.columns if c.name in frame.columns})
        return self._python(frame)

    def _python(self, frame: pd.DataFrame) -> tuple[list, np.ndarray | None]:
        raw = self.predictor.output(frame)
        if raw.size and not np.isfinite(raw).all():
            raise DataError("the inputs are too far outside the training data for the model to give a finite "
                            "prediction; check the numeric columns' units and magnitudes.")
        if self.classes is None:
            return raw.tolist(), None
        return self.predictor.classes_[self.predictor.decide(raw)].tolist(), raw

    def predict_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``{"prediction": ..., "probabilities": {class: p}}`` (classification) or ``{"prediction": x}``, per row."""
        columns = {c.name: [row.get(c.name) for row in rows] for c in self.columns}
        if self.graph is not None:  # no frame: the graph takes the values as they are
            for c in self.columns:
                columns[c.name] = self._values(c, columns[c.name])
                if c.json == "number" and any(v is not None and abs(v) > _FLOAT32_MAX for v in columns[c.name]):
                    _check_range(c.name, np.array([np.nan if v is None else v for v in columns[c.name]], dtype=float))
            return self.as_json(*self.graph.run(columns))
        return self.as_json(*self.predict_frame(self.frame(columns)))

    def as_json(self, predictions: list, proba: np.ndarray | None) -> list[dict[str, Any]]:
        """Predictions (and probabilities) as one JSON object per row."""
        if proba is None:
            return [{"prediction": p} for p in predictions]
        keys = [str(c) for c in self.classes]
        return [{"prediction": p, "probabilities": dict(zip(keys, row))} for p, row in zip(predictions, proba.tolist())]

    def v2_model(self) -> dict[str, Any]:
        """The v2 model metadata: inputs and outputs as tensors of one value per row."""
        outputs = [{"name": "prediction", "datatype": "BYTES" if self._text_classes() else "FP64", "shape": [-1]}]
        outputs += [{"name": f"proba_{c}", "datatype": "FP64", "shape": [-1]} for c in self.classes or []]
        return {"name": self.name, "versions": [], "platform": "trainwright",
                "inputs": [{"name": c.name, "datatype": c.datatype, "shape": [-1]} for c in self.columns],
                "outputs": outputs}

    def v2_infer(self, body: Any) -> dict[str, Any]:
        """Answer a v2 inference request: one tensor per input column (any absent column is missing)."""
        predictions, proba = self.predict_frame(self.frame(_v2_columns(body, self.by_name)))
        n = len(predictions)
        tensors = [{"name": "prediction", "datatype": "BYTES" if self._text_classes() else "FP64", "shape": [n],
                    "data": predictions}]
        tensors += [{"name": f"proba_{c}", "datatype": "FP64", "shape": [n], "data": proba[:, i].tolist()}
                    for i, c in enumerate(self.classes or [])]
        answer = {"model_name": self.name, "outputs": tensors}
        if isinstance(body.get("id"), str):
            answer["id"] = body["id"]
        return answer

    def _text_classes(self) -> bool:
        return any(isinstance(c, str) for c in self.classes or [])


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_text(name: str, values: list) -> None:
    """Text the model can read: a lone surrogate (half of an emoji) in a JSON string cannot be encoded."""
    for v in values:
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise DataError(f"column '{name}' holds text that is not valid Unicode (a lone surrogate, "
                                f"{v.encode('utf-8', 'backslashreplace')[:40]!r}); send whole characters",
                                column=name) from None


def _check_range(name: str, numbers: np.ndarray) -> None:
    """Numbers the model reads as float32: infinite or beyond +-3.4e38 values are refused, naming the column."""
    bad = np.abs(numbers) > _FLOAT32_MAX  # infinities too; NaN (missing) compares False
    if bad.any():
        raise DataError(f"column '{name}' holds {numbers[bad][0]!r}, beyond the range the model computes in "
                        f"(+-{_FLOAT32_MAX:.3g}); send a finite number in the column's units, or null for missing",
                        column=name)


def _json_type(kind: str, dtype: str) -> str:
    if kind == "numeric":
        return "number"
    if kind == "boolean" or (kind == "categorical" and dtype not in ("str", "object", "string", "category")):
        return "any"  # true/false, 0/1 or "yes"/"no" alike
    return "string"


_V2_NUMBER = {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8",
              "BOOL"}


def _v2_columns(body: Any, by_name: dict[str, Column]) -> dict[str, list]:
    """Column values from a v2 request's input tensors, checked: known names, one value per row, right types."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise V2Error('the request needs "inputs": a list of tensors {"name", "shape", "datatype", "data"}')
    columns, rows = {}, None
    for tensor in body["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise V2Error('every input needs a "name" (a column of the model)')
        name = tensor["name"]
        column = by_name.get(name)
        if column is None:
            raise V2Error(f"input '{name}' is not a column of the model; its inputs are: {', '.join(by_name)}")
        if name in columns:
            raise V2Error(f"input '{name}' is given twice; give each column once")
        data, shape = tensor.get("data"), tensor.get("shape")
        counts = isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)
        if not isinstance(data, list) or not counts or len(shape) not in (1, 2) or math.prod(shape) != len(data) \
                or (len(shape) == 2 and shape[1] != 1):
            raise V2Error(f"input '{name}': \"data\" must be a flat list with one value per row and \"shape\" "
                          f"[rows] or [rows, 1] (got shape {shape!r})")
        _check_v2_type(column, tensor.get("datatype"), data)
        if rows is not None and len(data) != rows:
            raise V2Error(f"input '{name}' has {len(data)} values where the others have {rows}: one per row")
        columns[name], rows = data, len(data)
    return columns


def _check_v2_type(column: Column, datatype: Any, data: list) -> None:
    numbers = isinstance(datatype, str) and datatype in _V2_NUMBER
    if datatype != "BYTES" and not numbers:
        raise V2Error(f"input '{column.name}': datatype {datatype!r} is not one of BYTES, FP64, FP32, INT64, ...")
    if column.json == "number" and not numbers:
        raise V2Error(f"input '{column.name}' is numeric: send it as FP64 (or another number type), not {datatype}")
    if column.json == "string" and numbers:
        raise V2Error(f"input '{column.name}' is text: send it as BYTES, not {datatype}")
    kind = (int, float) if numbers else str
    bad = next((v for v in data if v is not None and (not isinstance(v, kind) or isinstance(v, bool) != (datatype == "BOOL"))), None)
    if bad is not None:
        raise V2Error(f"input '{column.name}' ({datatype}) holds {bad!r}, which is not a "
                      f"{'number' if numbers else 'string'}")
    if numbers and not all(v is None or (abs(v) < 1e308 and math.isfinite(v)) for v in data):
        raise V2Error(f"input '{column.name}' holds a number that is not finite or beyond 1e308; use null for "
                      "a missing value")
    if datatype.startswith(("INT", "UINT")) and any(isinstance(v, float) for v in data):
        raise V2Error(f"input '{column.name}' is {datatype} but holds fractions; send FP64")
