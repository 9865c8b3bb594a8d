import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from trainwright.data.balance import BALANCE_METHODS, balance, choose_method, class_weights
from trainwright.errors import ConfigError


@pytest.fixture(scope="module")
def imbalanced():
    X, y = load_breast_cancer(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 1), np.flatnonzero(y == 0)[:40]]  # 357 benign vs 40 malignant
    return X[keep], y[keep]


@pytest.mark.parametrize("method", [m for m in BALANCE_METHODS if m not in ("none", "auto", "class_weight", "smotenc")])
def test_resamplers_reduce_imbalance(imbalanced, method):
    X, y = imbalanced
    out = balance(X, y, method, seed=0)
    before = out.counts_before[1] / out.counts_before[0]
    after = out.counts_after[1] / out.counts_after[0]
    assert after < before and after < 2.5, (method, out.counts_after)
    assert out.X.shape[1] == X.shape[1] and len(out.X) == len(out.y)
    again = balance(X, y, method, seed=0)
    assert np.array_equal(out.X, again.X)  # seeded


def test_smote_creates_new_rows_between_neighbours(imbalanced):
    X, y = imbalanced
    out = balance(X, y, "smote", seed=0)
    new = out.X[len(X):]
    assert len(new) == 357 - 40 and (out.y[len(X):] == 0).all()
    lo, hi = X[y == 0].min(axis=0), X[y == 0].max(axis=0)
    assert ((new >= lo - 1e-9) & (new <= hi + 1e-9)).all()  # interpolations stay inside the minority's box


def test_smotenc_keeps_one_hot_groups_valid():
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.1).astype(int)
    onehot = np.eye(3)[rng.integers(0, 3, n)]
    X = np.column_stack([rng.normal(size=(n, 2)), onehot])
    out = balance(X, y, "smotenc", seed=0, categorical_groups=[[2, 3, 4]])
    assert out.counts_after[0] == out.counts_after[1]
    assert set(out.X[:, 2:].sum(axis=1)) == {1.0} and set(np.unique(out.X[:, 2:])) <= {0.0, 1.0}


def test_class_weights_equalise_total_weight(imbalanced):
    _, y = imbalanced
    w = class_weights(y)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
    out = balance(np.zeros((len(y), 1)), y, "class_weight")
    assert np.array_equal(out.sample_weight, w) and len(out.X) == len(y)


def test_auto_choice():
    assert choose_method(np.array([0] * 50 + [1] * 20))[0] == "none"
    assert choose_method(np.array([0] * 90 + [1] * 10))[0] == "class_weight"
    assert choose_method(np.array([0] * 200 + [1] * 10))[0] == "smote"
    assert choose_method(np.array([0] * 200 + [1] * 10), has_categorical=True)[0] == "smotenc"
    assert choose_method(np.array([0] * 90 + [1] * 3))[0] == "oversample"
    assert choose_method(np.array([0] * 90 + [1] * 10), mild=10, strong=20)[0] == "none"


def test_errors():
    with pytest.raises(ConfigError, match="needs categorical features"):
        balance(np.zeros((10, 2)), np.array([0] * 8 + [1] * 2), "smotenc")
    with pytest.raises(ConfigError, match="not known"):
        balance(np.zeros((10, 2)), np.array([0] * 8 + [1] * 2), "magic")
