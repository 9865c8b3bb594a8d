"""Text augmentation: each operation acts, synonyms come from the encoder's embedding neighbours, and only the
training rows get augmented copies."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from trainwright.data.augment.text import (TextAugmentConfig, augment_rows, neighbours, random_deletion,
                                           random_insertion, random_swap, synonym_replacement)

SENTENCE = "the new film about the election was a great success with football fans and music critics".split()


def test_swap_keeps_the_words_and_changes_their_order():
    out = random_swap(SENTENCE, 0.3, np.random.default_rng(0))
    assert Counter(out) == Counter(SENTENCE) and out != SENTENCE
    assert random_swap(SENTENCE, 0.0, np.random.default_rng(0)) == SENTENCE


def test_deletion_removes_words_in_order_and_never_all():
    out = random_deletion(SENTENCE, 0.3, np.random.default_rng(0))
    assert 0 < len(out) < len(SENTENCE)
    it = iter(SENTENCE)
    assert all(w in it for w in out)  # a subsequence: nothing reordered
    assert len(random_deletion(SENTENCE, 1.0, np.random.default_rng(0))) == 1


def test_insertion_adds_words_of_the_text_or_their_neighbours():
    out = random_insertion(SENTENCE, 0.25, np.random.default_rng(0))
    assert len(out) == len(SENTENCE) + 4 and set(out) <= set(SENTENCE)
    near = neighbours()
    out = random_insertion(SENTENCE, 0.25, np.random.default_rng(0), near)
    added = Counter(out) - Counter(SENTENCE)
    assert sum(added.values()) == 4
    assert all(any(w in near.of(s) for s in SENTENCE) for w in added)


def test_synonyms_are_the_encoders_embedding_neighbours():
    near = neighbours()
    assert "movie" in near.of("film") and "soccer" in near.of("football") and near.of("xqzt") == []
    out = synonym_replacement(SENTENCE, 0.3, np.random.default_rng(0), near)
    changed = [(a, b) for a, b in zip(SENTENCE, out) if a != b]
    assert len(out) == len(SENTENCE) and len(changed) == 5
    assert all(b in near.of(a) for a, b in changed)


def test_copies_follow_the_rows_with_their_targets_and_missing_text_stays_missing():
    frame = pd.DataFrame({"text": [" ".join(SENTENCE), None], "n": [1.0, 2.0]})
    config = TextAugmentConfig(copies=2, synonym=0.2)
    out, y = augment_rows(frame, np.array(["a", "b"]), ["text"], config, seed=0)
    assert len(out) == 6 and y.tolist() == ["a", "b"] * 3 and out["n"].tolist() == [1.0, 2.0] * 3
    assert out["text"].iloc[:2].equals(frame["text"]) and out["text"].iloc[[1, 3, 5]].isna().all()
    assert out["text"].iloc[2] != out["text"].iloc[0] != out["text"].iloc[4]
    again, _ = augment_rows(frame, np.array(["a", "b"]), ["text"], config, seed=0)
    assert again.equals(out)  # the same seed, the same copies


def test_only_the_training_rows_get_copies(bbc_csv):
    from trainwright.data.features import FeaturesConfig, PreprocessConfig
    from trainwright.fitting.member import MemberSpec, fit_member
    from trainwright.models.tabular.linear import LinearLearner

    frame = pd.read_csv(bbc_csv).head(120)
    y = frame["topic"].to_numpy()
    features = FeaturesConfig(text_augment={"copies": 3, "synonym": 0.1})
    spec = MemberSpec({"text": "text"}, "classification", PreprocessConfig(), features, LinearLearner())
    train, valid = np.arange(0, 80), np.arange(80, 120)
    member = fit_member(spec, frame, y, train, valid, seed=0)
    assert member.valid_output.shape == (40, 5)
    decision = next(d for d in member.decisions if d.what == "features.text_augment")
    assert "80 training rows and 240 augmented copies" in decision.reason
    plain = fit_member(MemberSpec({"text": "text"}, "classification", PreprocessConfig(), FeaturesConfig(),
                                  LinearLearner()), frame, y, train, valid, seed=0)
    assert not np.allclose(member.valid_output, plain.valid_output)  # the copies changed what was learnt
