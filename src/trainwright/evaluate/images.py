"""What the report shows of an image run, as small PNG images (data URIs) in evaluation.json: augmented training
examples (what the model saw), Grad-CAM maps of correctly and wrongly classified test images, the test images
with the largest loss, and the most frequent confusions with example thumbnails.

The learner is asked for what only it knows (``grad_cam``, ``augmented_examples``); a tabular learner trained on
pixels gets thumbnails only.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["image_evaluation", "png_uri"]

EXAMPLES = 6  # images per group (correct, wrong, worst, per confusion)


def png_uri(image: np.ndarray) -> str:
    """A PNG data URI of ``image``: (h, w) or (h, w, 3), values in [0, 1].

    Example:
        >>> png_uri(np.zeros((2, 2)))[:22]
        'data:image/png;base64,'
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _picture(chw: np.ndarray) -> np.ndarray:
    """(channels, h, w) -> (h, w) grey or (h, w, 3) colour."""
    return chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)


def _heat(chw: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The image in grey with the Grad-CAM map over it in red/yellow (h, w, 3)."""
    grey = chw.mean(axis=0)
    return np.stack([np.maximum(grey * 0.6, cam), grey * 0.6 + cam * 0.4 * (cam > 0.5), grey * 0.6 * (1 - cam)],
                    axis=-1)


def image_evaluation(predictor, rows: pd.DataFrame, y: np.ndarray, output: np.ndarray, task: str,
                     classes: list | None, train_rows: pd.DataFrame | None = None, *, seed: int = 0) -> dict | None:
    """The image part of the evaluation (None when no feature is an image column).

    Args:
        rows: the test rows (raw columns, as ``predictor.prepare`` gave them); ``y`` their encoded targets
            (class positions, as ``scoring.encode_targets`` gives them, or values).
        output: the predictor's output on them (probabilities or values).
        train_rows: training rows, for the augmented examples.
    """
    heaviest = int(np.argmax(predictor.weights))
    pre, learner = predictor.members[heaviest]
    spec = next((c for c in pre.columns_ if c["kind"] == "image"), None)
    if spec is None or len(rows) == 0:
        return None
    from trainwright.data.images import load_pixels

    shape = (spec["channels"], spec["side"], spec["side"])
    pixels = load_pixels(rows[spec["column"]], spec["side"], spec["channels"]).reshape(-1, *shape) / 255.0
    ids = rows.index.to_numpy()
    out: dict[str, Any] = {"column": spec["column"], "size": f"{spec['side']}x{spec['side']}x{spec['channels']}"}
    if task == "classification":
        codes = np.asarray(y, dtype=np.int64)
        loss = -np.log(np.clip(output[np.arange(len(y)), np.maximum(codes, 0)], 1e-15, 1))
        pred = output.argmax(1)
        label = lambda i: {"row": int(ids[i]), "actual": classes[codes[i]], "predicted": classes[pred[i]],  # noqa: E731
                           "confidence": round(float(output[i, pred[i]]), 4)}
    else:
        loss, pred, codes = np.abs(np.asarray(y, float) - output), None, None
        label = lambda i: {"row": int(ids[i]), "actual": float(y[i]), "predicted": round(float(output[i]), 4)}  # noqa: E731
    worst = np.argsort(-loss, kind="stable")[:EXAMPLES]
    out["worst"] = [{**label(i), "loss": round(float(loss[i]), 4), "png": png_uri(_picture(pixels[i]))} for i in worst]
    if task == "classification":
        out["confusions"] = _confusions(codes, pred, classes, loss, pixels)
    if hasattr(learner, "grad_cam"):
        out["gradcam"] = _grad_cams(pre, learner, rows, pixels, loss, codes, pred, label, task)
    if hasattr(learner, "augmented_examples") and train_rows is not None and len(train_rows):
        sample = train_rows.sample(min(EXAMPLES, len(train_rows)), random_state=seed)  # across classes
        seen = learner.augmented_examples(pre.transform(sample), seed=seed)
        if seen is not None:
            originals = load_pixels(sample[spec["column"]], spec["side"], spec["channels"]).reshape(-1, *shape) / 255
            out["augmented"] = [{"original": png_uri(_picture(o)), "augmented": [png_uri(_picture(a)) for a in draws]}
                                for o, draws in zip(originals, seen)]
    return out


def _confusions(codes, pred, classes, loss, pixels) -> list[dict]:
    """The most frequent (actual, predicted) mistakes, each with its worst examples."""
    wrong = np.flatnonzero((codes >= 0) & (codes != pred))
    pairs = pd.Series(list(zip(codes[wrong], pred[wrong])), index=wrong, dtype=object)
    out = []
    for (a, p), count in pairs.value_counts().head(EXAMPLES).items():
        members = pairs.index[[v == (a, p) for v in pairs]]
        members = members[np.argsort(-loss[members], kind="stable")][:4]
        out.append({"actual": classes[a], "predicted": classes[p], "count": int(count),
                    "examples": [png_uri(_picture(pixels[i])) for i in members]})
    return out


def _grad_cams(pre, learner, rows, pixels, loss, codes, pred, label, task) -> dict:
    """Grad-CAM maps of the most confident correct and the worst wrong test images (for the predicted class)."""
    if task == "classification":
        right = np.flatnonzero(codes == pred)
        right = right[np.argsort(loss[right], kind="stable")][:EXAMPLES]
        wrong = np.flatnonzero(codes != pred)
        wrong = wrong[np.argsort(-loss[wrong], kind="stable")][:EXAMPLES]
    else:
        order = np.argsort(loss, kind="stable")
        right, wrong = order[:EXAMPLES], order[::-1][:EXAMPLES]
    out = {"method": "HiResCAM (the Grad-CAM family; Grad-CAM itself behind a global-average-pooling head) on the "
                     "last stage before the head"}
    for name, picked in (("correct", right), ("wrong", wrong)):
        if len(picked) == 0:
            out[name] = []
            continue
        maps = learner.grad_cam(pre.transform(rows.iloc[picked]))
        out[name] = [{**label(i), "png": png_uri(_heat(pixels[i], m)), "image": png_uri(_picture(pixels[i]))}
                     for i, m in zip(picked, maps)]
    return out
