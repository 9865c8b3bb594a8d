"""What the report shows of a text column: test texts with each word's effect on the prediction, for correct and
wrong ones, and the words that move each class the most.

Two measures, one shown:

- **Integrated gradients** when the predictor is one network that reads the column's token ids through an
  embedding (``text_gru``, ``text_transformer``, ``text_encoder``: ``Learner.token_attributions``): each word
  occurrence's share (its pieces' shares summed) of the predicted class's log-odds, integrated from the padding
  token's vector; the shares add up to the log-odds at the text minus at that baseline.
- **Occlusion** otherwise, through the whole predictor (any model, ensembles included): the text again with every
  occurrence of the word removed, and the drop in the predicted class's log-odds.

Both in log-odds (the predicted value, for regression), not probability: a confident model's probability barely
moves when one word goes (0.999 to 0.998), its log-odds do (6.9 to 6.2). Positive: the word supports the
prediction. Nothing is fitted here.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.features.text import text_strings, tfidf_names
from trainwright.data.features.tokens import word_positions

__all__ = ["text_evaluation", "word_effects", "token_effects", "coefficient_ngrams"]

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


def token_effects(predictor, row: pd.DataFrame, column: str, target: int | None) -> tuple[list, float] | None:
    """Integrated gradients of one network over the token ids of ``row[column]``: ([(start, end, share)] for
    each word it reads, the shares of its pieces summed; the completeness error), or None when the predictor is
    not one network reading that column's tokens.

    Example:
        >>> words, error = token_effects(run.predictor, test.iloc[[0]], "text", 2)  # doctest: +SKIP
    """
    if len(predictor.members) != 1:
        return None
    pre, learner = predictor.members[0]
    spec = next((c for c in pre.columns_ if c["column"] == column and c.get("encoding") == "tokens"), None)
    if spec is None:
        return None
    positions = np.flatnonzero(np.array(pre.feature_sources()) == column)
    got = learner.token_attributions(pre.transform(row), None if target is None else np.array([target]))
    if got is None:
        return None
    shares = got[0][0][positions]
    text = text_strings(row[column])[0]
    return [(a, b, float(shares[p].sum())) for a, b, p in word_positions(text, spec)], got[1]


def _spans(text: str, located: list[tuple[int, int, float | None]]) -> list[dict[str, Any]]:
    """The text up to its ``SHOWN``-th word as spans: {"t": text piece, "e": effect or None}; ``located`` gives the
    (start, end, effect) of the words measured (effects scaled to [-1, 1] by the largest in the text; None where
    none was measured or it rounds to 0)."""
    scale = max((abs(e) for _, _, e in located if e is not None), default=0.0) or 1.0
    pieces, at = [], 0
    for a, b, effect in located:
        pieces.append({"t": text[at:a], "e": None})
        pieces.append({"t": text[a:b], "e": None if effect is None else (round(effect / scale, 3) or None)})
        at = b
    rest = [{"t": p, "e": None} for p in re.split(r"(\w+)", text[at:])]
    out, words = [], 0
    for piece in pieces + rest:
        if not piece["t"]:
            continue
        if re.fullmatch(r"\w+", piece["t"]):
            words += 1
            if words > SHOWN:
                out.append({"t": " …", "e": None})
                break
        out.append(piece)
    return out


def _occluded(predictor, row: pd.DataFrame, column: str, target: int | None, limit: int) -> tuple[list, dict]:
    """Occlusion's (start, end, effect) of every word of the text, and {word: effect}."""
    words, drops = word_effects(predictor, row, column, target, limit)
    effects = dict(zip(words, drops.tolist()))
    text = text_strings(row[column])[0]
    return [(m.start(), m.end(), effects.get(m.group().lower())) for m in re.finditer(r"\w+", text)], effects


def _integrated(predictor, row: pd.DataFrame, column: str, target: int | None) -> tuple[list, dict, float]:
    """Integrated gradients' (start, end, share) of every word read, {word: its shares summed} (words of two or
    more letters, as occlusion measures), and the completeness error."""
    located, error = token_effects(predictor, row, column, target)
    text, effects = text_strings(row[column])[0], {}
    for a, b, share in located:
        if _WORD.fullmatch(text[a:b]):
            effects[text[a:b].lower()] = effects.get(text[a:b].lower(), 0.0) + share
    return located, effects, error


class _Measure:
    """How this predictor's word effects on ``column`` are measured: integrated gradients when it is one network
    reading the column's tokens, occlusion (up to ``limit`` words a text) otherwise."""

    def __init__(self, predictor, rows: pd.DataFrame, column: str) -> None:
        self.predictor, self.rows, self.column, self.limit, self.errors = predictor, rows, column, WORDS, []
        pre, learner = predictor.members[0]
        self.integrated = len(predictor.members) == 1 and \
            learner.capabilities.reads_tokens and \
            any(c["column"] == column and c.get("encoding") == "tokens" for c in pre.columns_)

    def __call__(self, i: int, target: int | None) -> tuple[list, dict]:
        row = self.rows.iloc[[i]]
        if self.integrated:
            located, effects, error = _integrated(self.predictor, row, self.column, target)
            self.errors.append(error)
            return located, effects
        return _occluded(self.predictor, row, self.column, target, self.limit)

    def method(self) -> str:
        if not self.integrated:
            return ("occlusion: the drop in the predicted class's log-odds (the predicted value, for regression) "
                    "when every occurrence of the word is removed from the text")
        return ("integrated gradients through the network's token embeddings: each word's share of the predicted "
                "class's log-odds (the predicted value, for regression), integrated from the padding token's "
                f"vector at every position (the shares add up to within {max(self.errors, default=0):.2g} of the "
                "log-odds at the text minus at that baseline)")


def text_evaluation(predictor, rows: pd.DataFrame, y: np.ndarray, output: np.ndarray, task: str,
                    classes: list | None, *, seconds: float | None = 20.0) -> dict | None:
    """The text part of the evaluation (None when no feature is a text column).

    Args:
        rows: the test rows (raw columns, as ``predictor.prepare`` gave them); ``y`` their encoded targets (class
            positions, or values); ``output`` the predictor's output on them.
        seconds: rough bound: fewer examples (at least one of each) and fewer texts in the per-class lists when
            measuring is slow, and with occlusion fewer words per text (said in the note); when occlusion could
            not afford 5 words a text (as through a sentence encoder on a short budget) only the coefficient
            n-grams (``method`` None), or None when there are none.

    Returns:
        ``{"column", "method", "measure", "correct": [example], "wrong": [example], "classes": [{"class", "words":
        [{"word", "effect", "texts"}]}], "ngrams": coefficient_ngrams(...), "note"}``; an example is ``{"row",
        "actual", "predicted", "confidence", "spans"}``.
    """
    pre = predictor.members[0][0]
    texts = [c for c, k in pre.kinds.items() if k == "text"]
    if not texts or len(rows) == 0:
        return None
    column = max(texts, key=lambda c: rows[c].astype(str).str.len().mean())  # the longest text column
    measure = _Measure(predictor, rows, column)
    if not measure.integrated:
        measure.limit = _words_within(predictor, rows, column, seconds)
        if measure.limit < 5:  # the coefficients cost nothing: they stay
            ngrams = coefficient_ngrams(predictor, column, classes)
            return None if ngrams is None else {
                "column": column, "correct": [], "wrong": [], "classes": [], "ngrams": ngrams, "method": None,
                "measure": None, "note": "Word effects through the whole predictor are left out: occlusion "
                                         "through this model is too slow for the time."}
    deadline = None if seconds is None else time.monotonic() + seconds
    right, wrong, pred = _picked(y, output, task)

    def example(i: int) -> dict[str, Any]:
        located, _ = measure(i, None if pred is None else int(pred[i]))
        shown = {"row": int(rows.index[i]), "spans": _spans(text_strings(rows[column].iloc[[i]])[0], located)}
        if pred is None:
            return {**shown, "actual": float(y[i]), "predicted": round(float(output[i]), 4)}
        return {**shown, "actual": classes[int(y[i])], "predicted": classes[pred[i]],
                "confidence": round(float(output[i, pred[i]]), 4)}

    def examples(picked) -> list[dict[str, Any]]:  # at least one, more while the time lasts
        return [example(i) for n, i in enumerate(picked)
                if n == 0 or deadline is None or time.monotonic() < deadline]

    out: dict[str, Any] = {"column": column, "correct": examples(right), "wrong": examples(wrong)}
    out["classes"], used = _class_words(measure, pred, classes, deadline)
    out["ngrams"] = coefficient_ngrams(predictor, column, classes)
    out["method"] = measure.method()
    out["measure"] = "summed share of the class's log-odds" if measure.integrated else \
        "drop in the class's log-odds when removed"
    slow = measure.limit < WORDS or (deadline is not None and time.monotonic() > deadline)
    out["note"] = f"Word effects on column '{column}'" + (" of the network" if measure.integrated else
                                                          " through the whole predictor") + (
        "." if pred is None else f"; the per-class lists average them over {used} test texts (up to {PER_CLASS} per "
                                 "predicted class)" + ("; measuring is slow for this model, so fewer texts" + (
                                     "." if measure.integrated else f" and up to {measure.limit} words a text.")
                                     if slow else "."))
    return out


def _picked(y: np.ndarray, output: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The test rows shown as correct and as wrong (the most confident first; for regression the closest and the
    farthest), and the predicted classes (None for regression)."""
    if task == "classification":
        codes, pred = np.asarray(y, dtype=np.int64), output.argmax(1)
        conf = output[np.arange(len(pred)), pred]
        right, wrong = np.flatnonzero(codes == pred), np.flatnonzero(codes != pred)
        return (right[np.argsort(-conf[right], kind="stable")][:EXAMPLES],
                wrong[np.argsort(-conf[wrong], kind="stable")][:EXAMPLES], pred)
    order = np.argsort(np.abs(np.asarray(y, float) - output), kind="stable")
    return order[:EXAMPLES], order[::-1][:EXAMPLES], None


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


def _class_words(measure: _Measure, pred, classes, deadline) -> tuple[list[dict], int]:
    """Per predicted class, the words that raise that class's log-odds the most on average (over the texts of
    that class that use them, at least two)."""
    if pred is None:
        return [], 0
    out, used = [], 0
    for k, name in enumerate(classes):
        members = np.flatnonzero(pred == k)[:PER_CLASS]
        effects: dict[str, list[float]] = {}
        for i in members:
            if deadline is not None and time.monotonic() > deadline and used > 0:
                break
            used += 1
            for w, d in measure(int(i), k)[1].items():
                if d is not None:
                    effects.setdefault(w, []).append(float(d))
        ranked = sorted(((w, float(np.mean(v)), len(v)) for w, v in effects.items() if len(v) >= 2),
                        key=lambda item: -item[1])[:TOP]
        out.append({"class": name, "words": [{"word": w, "effect": round(e, 4), "texts": n} for w, e, n in ranked]})
    return out, used


def coefficient_ngrams(predictor, column: str, classes: list | None) -> dict[str, Any] | None:
    """The n-grams of ``column``'s TF-IDF features with the largest coefficients per class (what a unit of TF-IDF
    adds to the class's logit, the log-odds with two classes; for regression, the n-grams that raise and that
    lower the value most), averaged over the
    predictor's linear members with their pooling weights (every fold model of a bagged linear entry); None when
    no member is a linear model on that column's TF-IDF features.

    Returns:
        ``{"members": linear members used, "weight": their share of the pooled prediction, "classes": [{"class",
        "ngrams": [{"ngram", "weight"}]}]}``.
    """
    sums: dict[str, np.ndarray] = {}
    used, share, prefix = 0, 0.0, f"{column}~"
    for (pre, learner), weight in zip(predictor.members, predictor.weights):
        spec = next((c for c in pre.columns_ if c["column"] == column and c.get("encoding") == "tfidf"), None)
        if learner.capabilities.explanation != "coefficients" or spec is None:
            continue
        coef = learner.feature_weights()
        if coef.shape[0] == 1:  # one output: the second class's log-odds (the first's is its negative), or a value
            coef = np.vstack([-coef[0], coef[0]])
        terms = set(tfidf_names(column, spec["tfidf"]))  # not the embeddings beside them (words+embeddings)
        for j, name in enumerate(pre.feature_names_):
            if name in terms:
                sums[name[len(prefix):]] = sums.get(name[len(prefix):], 0.0) + weight * coef[:, j]
        used, share = used + 1, share + float(weight)
    if not used:
        return None
    labels = classes if classes is not None else ["lower", "higher"]
    out = []
    for k, label in enumerate(labels):
        ranked = sorted(sums.items(), key=lambda item: -item[1][k])[:TOP]
        sign = k if classes is not None else 1  # regression: the coefficient itself, negative in "lower"
        out.append({"class": label, "ngrams": [{"ngram": n, "weight": round(float(v[sign]) / share, 4)}
                                               for n, v in ranked]})
    return {"members": used, "weight": round(share, 4), "classes": out}
