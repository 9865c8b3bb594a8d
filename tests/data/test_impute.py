import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from trainwright.data.features.impute import IMPUTE_STRATEGIES, NumericImputer


@pytest.fixture(scope="module")
def holes():
    X = load_diabetes().data
    rng = np.random.default_rng(0)
    M = X.copy()
    mask = rng.random(X.shape) < 0.1
    M[mask] = np.nan
    return X, M, mask


def rmse(imp, X, M, mask):
    F = imp.fit(M[:300]).transform(M[300:])
    return float(np.sqrt(np.mean((F - X[300:])[mask[300:]] ** 2)))


def test_model_based_imputers_beat_the_median_and_match_sklearn(holes):
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer

    X, M, mask = holes
    median = rmse(NumericImputer("median"), X, M, mask)
    knn, it = rmse(NumericImputer("knn"), X, M, mask), rmse(NumericImputer("iterative"), X, M, mask)
    assert knn < 0.8 * median and it < 0.8 * median
    sk_knn = float(np.sqrt(np.mean((KNNImputer().fit(M[:300]).transform(M[300:]) - X[300:])[mask[300:]] ** 2)))
    sk_it = float(np.sqrt(np.mean((IterativeImputer(random_state=0, max_iter=5).fit(M[:300]).transform(M[300:])
                                   - X[300:])[mask[300:]] ** 2)))
    assert knn < 1.1 * sk_knn and it < 1.1 * sk_it


@pytest.mark.parametrize("strategy", IMPUTE_STRATEGIES)
def test_fills_everything_and_round_trips(holes, strategy):
    _, M, _ = holes
    imp = NumericImputer(strategy).fit(M[:300])
    F = imp.transform(M[300:])
    assert not np.isnan(F).any()
    again = NumericImputer.from_dict(json.loads(json.dumps(imp.to_dict())))
    assert np.array_equal(again.transform(M[300:]), F)
    assert np.array_equal(F[~np.isnan(M[300:])], M[300:][~np.isnan(M[300:])])  # observed values untouched


def test_posterior_draws_differ_by_seed_and_repeat_by_seed(holes):
    _, M, _ = holes
    draws = [NumericImputer("iterative", sample_posterior=True, seed=s).fit(M[:300]).transform(M[300:]) for s in (1, 1, 2)]
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])


def test_all_missing_column_gets_the_fill():
    R = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    assert NumericImputer("knn").fit(R).transform(R)[:, 0].tolist() == [0.0, 0.0]
    assert NumericImputer("iterative").fit(R).transform(R)[:, 0].tolist() == [0.0, 0.0]
