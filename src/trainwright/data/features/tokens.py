"""A text column as token ids (``features.text: tokens``), for the sequence models (``text_gru``,
``text_transformer``): a WordPiece tokenizer (Hugging Face ``tokenizers``) trained on the training rows only; or
(``features.text: encoder_tokens``, for ``text_encoder``) the pretrained sentence encoder's own tokenizer.

The vocabulary size and the sequence length are chosen from the training rows and recorded: the vocabulary
keeps the pieces of words seen at least twice, up to ``features.text_vocabulary`` (auto: about one piece per 50
training words, 1,000-16,000), and texts are cut or padded to the length that holds 95% of the training texts
whole (16-256 tokens). Id 0 is padding, 1 an unknown piece. The trained tokenizer is saved in its own JSON format
inside preprocessor.json (no pickle), so predict tokenizes new text exactly as training did.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import ConfigError

__all__ = ["fit_tokens", "encode_tokens", "word_positions", "tokens_names", "PAD", "UNKNOWN"]

PAD, UNKNOWN = 0, 1
_SPECIAL = ["[PAD]", "[UNK]"]


def _tokenizer_class():
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError("features.text=tokens (the sequence models text_gru and text_transformer) needs the "
                          "tokenizers package: pip install 'trainwright[text]'", path="features.text") from None
    return Tokenizer


def fit_tokens(texts: pd.Series, vocabulary="auto", pretrained: bool = False) -> dict[str, Any]:
    """Train a WordPiece tokenizer on ``texts`` (training rows) and choose the sequence length; with
    ``pretrained``, take the sentence encoder's own tokenizer instead (nothing trained: its ids are what its
    weights know) and choose only the length, up to the encoder's longest input.

    Example:
        >>> s = fit_tokens(pd.Series(["the cat sat on the mat", "the dog sat", "a cat ran"] * 5))
        >>> s["encoding"], s["length"], encode_tokens(pd.Series(["the cat"]), s)[0][:3].tolist()
        ('tokens', 16, [31.0, 12.0, 0.0])
    """
    from trainwright.data.features.text import text_strings

    Tokenizer = _tokenizer_class()
    docs = text_strings(texts)
    if pretrained:
        return _pretrained_tokens(Tokenizer, docs)
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    words = sum(len(d.split()) for d in docs)
    size = int(np.clip(words // 50, 1000, 16000)) if vocabulary == "auto" else int(vocabulary)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(docs, trainers.WordPieceTrainer(vocab_size=size, min_frequency=2,
                                                            special_tokens=_SPECIAL, show_progress=False))
    # The trainer numbers pieces in an order that varies between runs (threads): renumber them in a fixed order
    # (the special tokens, then the pieces sorted), so the same rows give the same ids.
    pieces = sorted(set(tok.get_vocab()) - set(_SPECIAL))
    tok.model = models.WordPiece({p: i for i, p in enumerate([*_SPECIAL, *pieces])}, unk_token="[UNK]")
    lengths = np.array([len(e.ids) for e in tok.encode_batch(docs)]) if docs else np.zeros(1)
    length = int(np.clip(np.percentile(lengths, 95), 16, 256))
    why = (f"WordPiece trained on the {len(docs)} training texts ({words} words): {tok.get_vocab_size()} pieces "
           f"(features.text_vocabulary={vocabulary}); {length} tokens hold 95% of them whole (16-256)")
    return {"encoding": "tokens", "tokenizer": tok.to_str(), "vocabulary": tok.get_vocab_size(), "length": length,
            "why": why}


def _pretrained_tokens(Tokenizer, docs: list[str]) -> dict[str, Any]:
    """The tokens spec of the sentence encoder's WordPiece tokenizer (``features.text: encoder_tokens``): its
    JSON kept in the spec (a run tokenizes without the encoder's wheel), the length that holds 95% of the
    training texts whole, 16 up to the encoder's longest input."""
    from trainwright.data.features.sentence_encoder import max_tokens, model_folder

    folder = model_folder()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    longest = max_tokens(folder)
    lengths = np.array([len(e.ids) for e in tok.encode_batch(docs)]) if docs else np.zeros(1)
    length = int(np.clip(np.percentile(lengths, 95), 16, longest))
    why = (f"the pretrained all-MiniLM-L6-v2 WordPiece tokenizer ({tok.get_vocab_size()} pieces, nothing trained); "
           f"{length} tokens hold 95% of the {len(docs)} training texts whole (16-{longest})")
    return {"encoding": "tokens", "pretrained": "all-MiniLM-L6-v2", "tokenizer": tok.to_str(),
            "vocabulary": tok.get_vocab_size(), "length": length, "why": why}


_LOADED: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def _tokenizer(spec: dict[str, Any]):
    """The spec's tokenizer, cutting and padding to its length (one kept: a process rarely switches runs)."""
    key = (spec["tokenizer"], spec["length"])
    with _LOCK:
        tok = _LOADED.get(key)
        if tok is None:
            _LOADED.clear()
            tok = _tokenizer_class().from_str(key[0])
            tok.enable_truncation(spec["length"])
            tok.enable_padding(pad_id=PAD, pad_token="[PAD]", length=spec["length"])
            _LOADED[key] = tok
    return tok


def encode_tokens(texts: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    """(rows, length) float32 token ids, cut at ``length`` and padded with 0 (missing text: all padding)."""
    from trainwright.data.features.text import text_strings

    encoded = _tokenizer(spec).encode_batch(text_strings(texts)) if len(texts) else []
    return np.array([e.ids for e in encoded], dtype=np.float32).reshape(len(texts), spec["length"])


def word_positions(text: str, spec: dict[str, Any]) -> list[tuple[int, int, list[int]]]:
    """The words of ``text`` the model reads (within ``length`` tokens), as (start, end, token positions): the
    characters of ``text`` a word spans and the positions of its pieces (special tokens belong to no word).

    Example:
        >>> s = fit_tokens(pd.Series(["the cat sat on the mat", "the dog sat", "a cat ran"] * 5))
        >>> [("The cat!"[a:b], p) for a, b, p in word_positions("The cat!", s)]
        [('The', [0]), ('cat', [1]), ('!', [2])]
    """
    encoding = _tokenizer(spec).encode(text)
    words: dict[int, tuple[int, int, list[int]]] = {}
    for position, (word, (start, end)) in enumerate(zip(encoding.word_ids, encoding.offsets)):
        if word is None or end <= start:
            continue
        a, b, positions = words.get(word, (start, end, []))
        words[word] = (min(a, start), max(b, end), positions + [position])
    return sorted(words.values())


def tokens_names(column: str, spec: dict[str, Any]) -> list[str]:
    """Feature names of the token positions: ``column~t0``, ``column~t1``, ..."""
    return [f"{column}~t{i}" for i in range(spec["length"])]
