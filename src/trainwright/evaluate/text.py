"""What the report shows of a text column: test texts with each word's effect on the prediction, for correct and
wrong ones, and the words that move each class the most.

A word's effect is measured by occlusion through the whole predictor (any model, ensembles included): the text
again with every occurrence of the word removed, and the drop in the predicted class's log-odds (the predicted
value, for regression). Log-odds, not probability: a confident model's probability barely moves when one word
goes (0.999 to 0.998), its log-odds do (6.9 to 6.2). Positive: the word supports the prediction. Nothing is
fitted here.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.features.text import text_strings

__all__ = ["text_evaluation", "word_effects"]

EXAMPLES = 3   # texts per group (correct, wrong)
WORDS = 60     # most distinct words occluded per text (the first ones it uses)
SHOWN = 150    # words of a text shown in the report
PER_CLASS = 5  # test texts per predicted class whose word effects make the per-class lists
TOP = 10       # words listed per class
_WORD = re.compile(r"\w\w+", re.UNICODE)


def _without(text: str, word: str) -> str:
    """``text`` with every whole-word occurrence of ``word`` (any case) removed."""
    return re.sub(rf"(?i)(?<!\w){re.escape(word)}(?!\w)", "", text)


def word_effects(predictor, row: pd.DataFrame, column: str, target: int | None,
                 limit: int = WORDS) -> tuple[list[str], np.ndarray]:
    """The distinct words of ``row[column]`` (lower case, the first ``limit``) and the drop in the log-odds of
    class ``target`` (or in the predicted value when None) when each is removed.

    Example:
        >>> words, drops = word_effects(run.predictor, test.iloc[[0]], "text", 2)  # doctest: +SKIP
    """
    text = text_strings(row[column])[0]
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:limit]
    if not words:
        return [], np.zeros(0)
    variants = pd.concat([row] * (len(words) + 1), ignore_index=True)
    variants[column] = [text] + [_without(text, w) for w in words]
    from trainwright.data.features.sentence_encoder import transient

    with transient():  # the variants are not worth caching (features.text=embeddings)
        out = predictor.output(variants, prepared=True)
    if target is not None:
        p = np.clip(out[:, target], 1e-9, 1 - 1e-9)
        out = np.log(p) - np.log1p(-p)  # log-odds of the class
    return words, out[0] - out[1:]


def _spans(text: str, effects: dict[str, float]) -> list[dict[str, Any]]:
    """The first ``SHOWN`` words of ``text`` as spans: {"t": text piece, "e": effect or None} (effects scaled to
    [-1, 1] by the largest in the text; None where none was measured or it rounds to 0)."""
    scale = max((abs(v) for v in effects.values()), default=0.0) or 1.0
    pieces, words = [], 0
    for piece in re.split(r"(\w+)", text):
        if not piece:
            continue
        if re.fullmatch(r"\w+", piece):
            words += 1
            if words > SHOWN:
                pieces.append({"t": " …", "e": None})
                break
        effect = effects.get(piece.lower())
        shade = None if effect is None else round(effect / scale, 3)
        pieces.append({"t": piece, "e": shade or None})  # no measurable effect: not shaded
    return pieces


def text_evaluation(predictor, rows: pd.DataFrame, y: np.ndarray, output: np.ndarray, task: str,
                    classes: list | None, *, seconds: float | None = 20.0) -> dict | None:
    """The text part of the evaluation (None when no feature is a text column).

    Args:
        rows: the test rows (raw columns, as ``predictor.prepare`` gave them); ``y`` their encoded targets (class
            positions, or values); ``output`` the predictor's output on them.
        seconds: rough bound: fewer words per text, fewer examples (at least one of each) and fewer texts in the
            per-class lists when occlusion is slow (said in the note); None (left out) when even 5 words a text
            would not fit, as through a sentence encoder on a short budget.

    Returns:
        ``{"column", "method", "correct": [example], "wrong": [example], "classes": [{"class", "words": [{"word",
        "effect", "texts"}]}], "note"}``; an example is ``{"row", "actual", "predicted", "confidence", "spans"}``.
    """
    pre = predictor.members[0][0]
    texts = [c for c, k in pre.kinds.items() if k == "text"]
    if not texts or len(rows) == 0:
        return None
    column = max(texts, key=lambda c: rows[c].astype(str).str.len().mean())  # the longest text column
    limit = _words_within(predictor, rows, column, seconds)
    if limit < 5:
        return None
    deadline = None if seconds is None else time.monotonic() + seconds
    ids = rows.index.to_numpy()
    if task == "classification":
        codes, pred = np.asarray(y, dtype=np.int64), output.argmax(1)
        conf = output[np.arange(len(pred)), pred]
        right = np.flatnonzero(codes == pred)
        right = right[np.argsort(-conf[right], kind="stable")][:EXAMPLES]
        wrong = np.flatnonzero(codes != pred)
        wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:EXAMPLES]
    else:
        codes, pred, conf = None, None, None
        order = np.argsort(np.abs(np.asarray(y, float) - output), kind="stable")
        right, wrong = order[:EXAMPLES], order[::-1][:EXAMPLES]

    def example(i: int) -> dict[str, Any]:
        words, drops = word_effects(predictor, rows.iloc[[i]], column, None if pred is None else int(pred[i]), limit)
        text = text_strings(rows[column].iloc[[i]])[0]
        shown = {"row": int(ids[i]), "spans": _spans(text, dict(zip(words, drops.tolist())))}
        if pred is None:
            return {**shown, "actual": float(y[i]), "predicted": round(float(output[i]), 4)}
        return {**shown, "actual": classes[codes[i]], "predicted": classes[pred[i]],
                "confidence": round(float(conf[i]), 4)}

    def examples(picked) -> list[dict[str, Any]]:  # at least one, more while the time lasts
        return [example(i) for n, i in enumerate(picked)
                if n == 0 or deadline is None or time.monotonic() < deadline]

    out: dict[str, Any] = {"column": column, "correct": examples(right), "wrong": examples(wrong),
                           "method": "occlusion: the drop in the predicted class's log-odds (the predicted value, "
                                     "for regression) when every occurrence of the word is removed from the text"}
    out["classes"], used = _class_words(predictor, rows, column, pred, classes, deadline, limit)
    slow = limit < WORDS or (deadline is not None and time.monotonic() > deadline)
    out["note"] = f"Word effects on column '{column}' through the whole predictor" + (
        "." if pred is None else f"; the per-class lists average them over {used} test texts (up to {PER_CLASS} per "
                                 "predicted class)" + (f"; occlusion is slow for this model, so fewer texts and up to "
                                                       f"{limit} words a text." if slow else "."))
    return out


def _words_within(predictor, rows: pd.DataFrame, column: str, seconds: float | None) -> int:
    """Words per text that occlusion can afford in ``seconds`` (``WORDS`` at most): one prediction of a text
    no encoder has seen is timed, and the examples and one text per class must fit."""
    if seconds is None:
        return WORDS
    probe = rows.iloc[[0]].copy()
    probe[column] = [text_strings(probe[column])[0] + " ."]
    from trainwright.data.features.sentence_encoder import transient

    t0 = time.monotonic()
    with transient():
        predictor.output(probe, prepared=True)
    per_text = time.monotonic() - t0
    return min(WORDS, int(seconds / max(per_text, 1e-6) / (2 * EXAMPLES + 1)) - 1)


def _class_words(predictor, rows, column, pred, classes, deadline, limit) -> tuple[list[dict], int]:
    """Per predicted class, the words whose removal lowers that class's log-odds the most on average (over the
    texts of that class that use them, at least two)."""
    if pred is None:
        return [], 0
    out, used = [], 0
    for k, name in enumerate(classes):
        members = np.flatnonzero(pred == k)[:PER_CLASS]
        effects: dict[str, list[float]] = {}
        for i in members:
            if deadline is not None and time.monotonic() > deadline and used > 0:
                break
            words, drops = word_effects(predictor, rows.iloc[[i]], column, k, limit)
            used += 1
            for w, d in zip(words, drops):
                effects.setdefault(w, []).append(float(d))
        ranked = sorted(((w, float(np.mean(v)), len(v)) for w, v in effects.items() if len(v) >= 2),
                        key=lambda item: -item[1])[:TOP]
        out.append({"class": name, "words": [{"word": w, "effect": round(e, 4), "texts": n} for w, e, n in ranked]})
    return out, used
