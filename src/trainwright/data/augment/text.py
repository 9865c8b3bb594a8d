"""Text augmentation (EDA, Wei & Zou 2019): random swap, deletion and insertion of words, and synonym replacement
by embedding neighbours, applied to copies of the training rows only.

``features.text_augment.copies`` copies of every training row are added before anything is fitted, each text
column of a copy changed by the four operations in turn (each acts on a share of its words). Validation, test
and predicted rows are never changed. The neighbours of a word are the whole-word tokens closest to it (cosine)
in the input embedding table of the pretrained sentence encoder (all-MiniLM-L6-v2's 30,522 WordPiece tokens),
so synonym replacement needs that wheel; the other three need nothing.

Back-translation (translating a text to another language and back) needs a translation model, which cannot be
downloaded here and is not shipped in a wheel: it is not offered.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np
import pandas as pd
from pydantic import Field

from trainwright.config.base import Section

__all__ = ["TextAugmentConfig", "random_swap", "random_deletion", "random_insertion", "synonym_replacement",
           "Neighbours", "neighbours", "augment_rows"]

_WORD = re.compile(r"^[a-z]{3,}$")


class TextAugmentConfig(Section):
    """Augmented copies of the training rows' text columns (``features.text_augment``)."""

    copies: int = Field(0, ge=0, le=16, description="Augmented copies of each training row (0: off). Each copy's "
                                                    "text columns are changed by the operations below; validation, "
                                                    "test and predicted rows never are.")
    swap: float = Field(0.1, ge=0, le=1, description="Share of a text's words swapped with another word of it.")
    delete: float = Field(0.1, ge=0, le=1, description="Chance that each word is deleted (one word always stays).")
    insert: float = Field(0.1, ge=0, le=1, description="Share of a text's length inserted at random places: a "
                                                       "neighbour of one of its words (synonym > 0), else one of "
                                                       "its words.")
    synonym: float = Field(0.0, ge=0, le=1, description="Share of a text's words (alphabetic, 3+ letters) replaced "
                                                        "by one of their 5 nearest embedding neighbours (needs the "
                                                        "sentence encoder's wheel, as features.text=embeddings).")
    seed: Optional[int] = Field(None, description="Seed of the draws; default: the run's seed.")


def _count(share: float, n: int) -> int:
    return int(round(share * n)) if share * n >= 0.5 else 0


def random_swap(words: list[str], share: float, rng: np.random.Generator) -> list[str]:
    """Swap two random words, ``share`` x len(words) times (rounded).

    Example:
        >>> random_swap("a b c d".split(), 0.5, np.random.default_rng(0))
        ['b', 'a', 'd', 'c']
    """
    out = list(words)
    for _ in range(_count(share, len(out)) if len(out) > 1 else 0):
        i, j = rng.choice(len(out), 2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(words: list[str], chance: float, rng: np.random.Generator) -> list[str]:
    """Delete each word with probability ``chance``; one random word stays when all would go.

    Example:
        >>> random_deletion("a b c d".split(), 0.5, np.random.default_rng(1))
        ['a', 'b', 'd']
    """
    if not words or chance == 0:
        return list(words)
    keep = rng.random(len(words)) >= chance
    return [w for w, k in zip(words, keep) if k] or [words[int(rng.integers(len(words)))]]


def random_insertion(words: list[str], share: float, rng: np.random.Generator, near=None) -> list[str]:
    """Insert ``share`` x len(words) words at random places: a neighbour of a random word of the text (``near``,
    a ``Neighbours``), or, without neighbours, a random word of the text itself.

    Example:
        >>> random_insertion("a b c d".split(), 0.5, np.random.default_rng(0))
        ['a', 'c', 'b', 'c', 'd', 'd']
    """
    out = list(words)
    for _ in range(_count(share, len(words)) if words else 0):
        word = out[int(rng.integers(len(out)))]
        options = near.of(word) if near is not None else []
        new = options[int(rng.integers(len(options)))] if options else word
        out.insert(int(rng.integers(len(out) + 1)), new)
    return out


def synonym_replacement(words: list[str], share: float, rng: np.random.Generator, near) -> list[str]:
    """Replace ``share`` x len(words) of the words that have neighbours by one of their neighbours."""
    out = list(words)
    able = [i for i, w in enumerate(out) if near.of(w)]
    for i in rng.permutation(able)[: _count(share, len(words))]:
        options = near.of(out[i])
        out[i] = options[int(rng.integers(len(options)))]
    return out


class Neighbours:
    """The ``k`` nearest whole-word tokens (cosine of the input embeddings) of a word, cached per word.

    Args:
        vocabulary: the tokens (WordPiece: sub-word pieces start with ##).
        vectors: one row per token.
    """

    def __init__(self, vocabulary: list[str], vectors: np.ndarray, k: int = 5) -> None:
        words = [i for i, t in enumerate(vocabulary) if _WORD.match(t)]
        self.words = [vocabulary[i] for i in words]
        self.index = {w: i for i, w in enumerate(self.words)}
        v = np.asarray(vectors, np.float32)[words]
        self.unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        self.k = k
        self._cache: dict[str, list[str]] = {}

    def of(self, word: str) -> list[str]:
        """The word's neighbours (lower-cased lookup; [] for a word not in the vocabulary)."""
        key = word.lower()
        if key not in self._cache:
            i = self.index.get(key)
            if i is None:
                self._cache[key] = []
            else:
                sims = self.unit @ self.unit[i]
                sims[i] = -np.inf
                top = np.argpartition(-sims, self.k)[: self.k]
                self._cache[key] = [self.words[j] for j in top[np.argsort(-sims[top])]]
        return self._cache[key]


_NEIGHBOURS: dict[str, Neighbours] = {}


def neighbours() -> Neighbours:
    """The neighbours of the sentence encoder's vocabulary (loaded once per process)."""
    if "minilm" not in _NEIGHBOURS:
        from safetensors.numpy import load_file

        from trainwright.data.features.sentence_encoder import model_folder

        folder = model_folder()
        vocabulary = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
        table = load_file(str(folder / "model.safetensors"))
        key = next(k for k in table if k.endswith("word_embeddings.weight"))
        _NEIGHBOURS["minilm"] = Neighbours(vocabulary, table[key])
    return _NEIGHBOURS["minilm"]


def augment_text(text, config: TextAugmentConfig, rng: np.random.Generator, near=None):
    """One augmented version of ``text`` (missing text stays missing)."""
    if not isinstance(text, str) or not text.strip():
        return text
    words = text.split()
    if config.synonym and near is not None:
        words = synonym_replacement(words, config.synonym, rng, near)
    words = random_insertion(words, config.insert, rng, near if config.synonym else None)
    words = random_swap(words, config.swap, rng)
    return " ".join(random_deletion(words, config.delete, rng))


def augment_rows(frame: pd.DataFrame, y: np.ndarray, columns: list[str], config: TextAugmentConfig, *,
                 seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` (training rows) followed by ``config.copies`` augmented copies of each row, with their targets.

    Example:
        >>> f = pd.DataFrame({"text": ["the film was long and dull"]})
        >>> out, y = augment_rows(f, np.array([0]), ["text"], TextAugmentConfig(copies=2), seed=0)
        >>> len(out), y.tolist(), out["text"].iloc[0]
        (3, [0, 0, 0], 'the film was long and dull')
    """
    if config.copies == 0 or not columns:
        return frame, y
    rng = np.random.default_rng(config.seed if config.seed is not None else seed)
    near = neighbours() if config.synonym else None
    copies = []
    for _ in range(config.copies):
        copy = frame.copy()
        for col in columns:
            copy[col] = [augment_text(t, config, rng, near) for t in frame[col]]
        copies.append(copy)
    return pd.concat([frame, *copies], ignore_index=True), np.concatenate([y] * (config.copies + 1))
