"""``trainwright export RUN --format torchscript``: a neural run's network as one TorchScript file.

The module takes float32 rows of features, the run's preprocessor's output (the preprocessing is not in it: the
file carries ``preprocessor.json`` and the feature names beside it, ``_extra_files``), and returns what the
run's predictor computes before pooling: class probabilities (double, the run's class order) or values. Written
only when it gives the run's test rows the predictor's outputs within the bound (the parity gate, as for ONNX).
For the whole pipeline from raw columns, use ``--format onnx``. torch marks ``torch.jit`` deprecated in favour of
``torch.export``; the file loads with ``torch.jit.load`` in the torch 2 releases trainwright supports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.errors import ExportError

__all__ = ["export_torchscript", "EXTRA_FILES"]

EXTRA_FILES = ("trainwright.json", "preprocessor.json")


def export_torchscript(model, out: str | Path, *, bound: float = 1e-5) -> dict[str, Any]:
    """Trace the run's network, check it on the run's test rows, write it to ``out``.

    Returns:
        {"path", "rows" (test rows checked), "max_difference", "features" (their names, in order), "bytes"}.

    Raises:
        ExportError: the run is not one neural network (an ensemble, a calibrated run, another model), or the
            parity gate failed (nothing written).

    Example:
        >>> import tempfile, torch, trainwright
        >>> from importlib import resources
        >>> data = str(resources.files("trainwright") / "datasets" / "penguins.csv")
        >>> folder = tempfile.mkdtemp()
        >>> run = trainwright.train(data, target="species", out=folder + "/mlp",
        ...                         overrides=["model.type=mlp", "train.epochs=3", "evaluate.report=false"])
        >>> done = export_torchscript(run, folder + "/mlp.pt")
        >>> extra = {"trainwright.json": ""}
        >>> net = torch.jit.load(folder + "/mlp.pt", _extra_files=extra)
        >>> json.loads(extra["trainwright.json"])["classes"], done["max_difference"] < 1e-5
        (['Adelie', 'Chinstrap', 'Gentoo'], True)
    """
    import io
    import warnings

    import torch

    from trainwright.deploy.export import _test_rows
    from trainwright.runs import store

    pre, learner = _network(model)
    module = learner.torchscript()
    rows = _test_rows(model)
    X = pre.transform(model.predictor.prepare(rows)).astype(np.float32)
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    expected = learner.output(X)
    scale = np.maximum(1.0, np.abs(expected)) if model.task == "regression" else 1.0
    difference = float(np.max(np.abs(got - expected) / scale, initial=0.0))
    if not difference <= bound:
        raise ExportError(f"the TorchScript module differs from trainwright's outputs on the run's {len(rows)} test "
                          f"rows by up to {difference:.3g} (the bound is {bound:g}); nothing was written")
    meta = {"task": model.task, "target": model.target, "classes": model.predictor.classes,
            "features": list(pre.feature_names_), "threshold": model.predictor.threshold, "run": str(model.path),
            "inputs": "float32 rows of the features above: preprocessor.json applied to the raw columns"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(module, buffer, _extra_files={"trainwright.json": json.dumps(meta),
                                                     "preprocessor.json": json.dumps(pre.to_dict())})
    store.write_bytes(out, buffer.getvalue())
    return {"path": str(out), "rows": int(len(rows)), "max_difference": difference, "features": meta["features"],
            "bytes": len(buffer.getvalue())}


def _network(model):
    """(preprocessor, learner) of a run whose predictor is one neural network, neither pooled nor calibrated."""
    if model.task == "forecast":
        raise ExportError(f"{model.path} is a forecasting run; the export takes table, text and image runs")
    model.run.require_completed()
    predictor = model.predictor
    if len(predictor.members) != 1:
        raise ExportError(f"the run pools {len(predictor.members)} models ({predictor.pooling}); a TorchScript file "
                          "holds one network: use --format onnx, or distill the run into one model (trainwright "
                          "compress RUN --method distill --student mlp)")
    if predictor.calibrator is not None:
        raise ExportError(f"the run's probabilities are calibrated ({predictor.calibrator.method}), which the "
                          "TorchScript file does not hold; use --format onnx (temperature), or train with "
                          "evaluate.calibrate=none")
    pre, learner = predictor.members[0]
    return pre, learner
