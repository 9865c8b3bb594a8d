"""Free text read as words: TF-IDF fitted on training rows only, equal to scikit-learn's, saved as JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainwright.data.features import FeaturesConfig, Preprocessor
from trainwright.data.features.text import encode_tfidf, fit_tfidf, text_vocabulary_size

DOCS = pd.Series(["The film was great, a great cast", "A dull film; the plot was dull", "Great acting and a fine plot",
                  "Dull, dull, dull", "The cast was fine", None, "café crème and a great film"])


@pytest.mark.parametrize("size", [1000, 30])
def test_blocks_equal_scikit_learn_tfidf(size):
    """Both blocks (words; character n-grams counted per distinct word) against TfidfVectorizer fitted on the same
    rows with the same terms, and the vocabulary against its own choice of terms."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    state = fit_tfidf(DOCS, size)
    X = encode_tfidf(DOCS, state)
    split = len(state["word"]["terms"])
    docs = DOCS.fillna("")
    for block, settings in ((X[:, :split], {"ngram_range": (1, 2)}),
                            (X[:, split:], {"analyzer": "char_wb", "ngram_range": (2, 4)})):
        terms = state["word" if "analyzer" not in settings else "char"]["terms"]
        theirs = TfidfVectorizer(sublinear_tf=True, strip_accents="unicode", vocabulary=terms, **settings)
        np.testing.assert_allclose(block, theirs.fit(docs).transform(docs).toarray(), atol=1e-6)
    if size == 1000:  # the whole vocabulary fits: the same terms scikit-learn finds
        everything = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode").fit(docs)
        assert sorted(state["char"]["terms"]) == sorted(everything.vocabulary_)
    assert "cafe" in state["word"]["terms"]  # accents folded, as on both sides


def test_vocabulary_comes_from_training_rows_only():
    train = pd.DataFrame({"review": ["good film"] * 30 + ["bad film"] * 30})
    other = pd.DataFrame({"review": ["zyzzyva zyzzyva"] * 5})
    pre = Preprocessor({"review": "text"}).fit(train)
    assert not any("zyzzyva" in name for name in pre.feature_names_)
    X = pre.transform(other)
    words = [i for i, n in enumerate(pre.feature_names_) if n.startswith("review~") and "'" not in n]
    assert np.all(X[:, words] == 0)  # unseen words add nothing


def test_missing_text_is_no_terms_and_the_state_is_json():
    train = pd.DataFrame({"t": DOCS})
    pre = Preprocessor({"t": "text"}, features=FeaturesConfig(text="words+chars")).fit(train)
    X = pre.transform(train)
    assert np.isfinite(X).all()
    blank = X[5, [i for i, n in enumerate(pre.feature_names_) if n.startswith("t~")]]
    assert np.all(blank == 0)
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(train), X)
    assert X.dtype == np.float32 and X.shape[1] == len(pre.feature_names_)


def test_vocabulary_size_is_a_recorded_decision_and_can_be_set():
    rows = pd.DataFrame({"t": [f"word{i % 50} other{i % 7} text" for i in range(400)]})
    pre = Preprocessor({"t": "text"}, features=FeaturesConfig(text_max_features=40)).fit(rows)
    assert len([n for n in pre.feature_names_ if n.startswith("t~")]) == 40
    (decision,) = pre.decisions()
    assert decision.what == "features.text_max_features (t)" and decision.value == "40 word n-grams"
    both = Preprocessor({"t": "text"}, features=FeaturesConfig(text="words+chars", text_max_features=40)).fit(rows)
    assert both.decisions()[0].value == "20 word n-grams and 20 character n-grams"
    assert len([n for n in both.feature_names_ if n.startswith("t~'")]) == 20
    assert text_vocabulary_size("auto", 100)[0] == 20_000 and text_vocabulary_size("auto", 50_000)[0] == 1_000
    stats = Preprocessor({"t": "text"}, features=FeaturesConfig(text="stats")).fit(rows)
    assert stats.feature_names_ == ["t__chars", "t__words"] and stats.decisions() == []


def test_text_blocks_are_not_categorical_groups():
    frame = pd.DataFrame({"t": ["a good one", "a bad one"] * 20, "c": ["x", "y"] * 20})
    pre = Preprocessor({"t": "text", "c": "categorical"}, features=FeaturesConfig(text="words+chars")).fit(frame)
    (group,) = pre.categorical_groups()
    assert [pre.feature_names_[i] for i in group] == ["c=x", "c=y"]


@pytest.mark.parametrize("bad", [pd.Series(["", "", ""]), pd.Series(["a", "b", "c"]), pd.Series([None, None, None])])
def test_text_without_any_term_gives_its_length_and_word_count(bad):
    pre = Preprocessor({"t": "text"}).fit(pd.DataFrame({"t": bad}))
    assert pre.feature_names_ == ["t__chars", "t__words"] and pre.decisions() == []
    assert pre.transform(pd.DataFrame({"t": bad})).shape == (3, 2)


def test_a_text_read_as_words_drops_its_length_beside_other_columns():
    frame = pd.DataFrame({"t": ["a good one", "a bad one"] * 20, "x": np.arange(40.0)})
    pre = Preprocessor({"t": "text", "x": "numeric"}).fit(frame)
    assert pre.feature_names_[0] == "x" and not any(n.startswith("t__") for n in pre.feature_names_)
    X = pre.transform(frame)
    assert X.shape == (40, len(pre.feature_names_)) and np.isfinite(X).all()
