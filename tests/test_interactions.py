"""top_interactions: the strongest learned pairwise interactions, by name."""

import itertools

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import sklearn_fm._parameters as parameters
from sklearn_fm import FFMRegressor, FMClassifier, FMRegressor

from .conftest import make_interaction_data


def brute_force(factors, n):
    """Every pair i < j and its weight, strongest first, (i, j) order at a tie."""
    pairs = itertools.combinations(range(len(factors)), 2)
    pairs = [(i, j, factors[i] @ factors[j]) for i, j in pairs]
    return sorted(pairs, key=lambda pair: (-abs(pair[2]), pair[0], pair[1]))[:n]


@pytest.mark.parametrize("weights_per_block", [7, 64, 1 << 22])
@pytest.mark.parametrize(
    "n_features, n_factors, n",
    [(1, 3, 5), (2, 3, 5), (7, 2, 4), (50, 3, 100), (50, 3, 5000), (300, 2, 40)],
)
def test_strongest_interactions_equal_brute_force(
    monkeypatch, weights_per_block, n_features, n_factors, n
):
    # Small integer factors: the weights are exact and many tie, which
    # tests the tie order across blocks too.
    monkeypatch.setattr(parameters, "_WEIGHTS_PER_BLOCK", weights_per_block)
    rng = np.random.RandomState(n_features)
    factors = rng.randint(-3, 4, size=(n_features, n_factors)).astype(float)
    got = parameters.strongest_interactions(factors, n)
    assert list(zip(got.feature_i.tolist(), got.feature_j.tolist(), got.weight.tolist())) == [
        (i, j, float(w)) for i, j, w in brute_force(factors, n)
    ]


def test_planted_interactions_come_first_with_their_names():
    X, y = make_interaction_data(n_samples=2000)  # planted: 2 x1 x2 and -x3 x4
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e", "f"])
    model = FMRegressor(random_state=0).fit(frame, y)
    top = model.top_interactions(n=3)
    assert list(top.columns) == ["feature_i", "feature_j", "weight"]
    assert top[["feature_i", "feature_j"]].values.tolist()[:2] == [["b", "c"], ["d", "e"]]
    assert_allclose(top["weight"][:2], [2, -1], atol=0.15)
    assert abs(top["weight"][2]) < 0.15
    # The weights are those of factors_, in the units of y.
    assert top["weight"][0] == pytest.approx(model.factors_[1] @ model.factors_[2])
    scaled = FMRegressor(random_state=0).fit(frame, 1000 * y + 5).top_interactions(n=2)
    assert_allclose(scaled["weight"], 1000 * top["weight"][:2], rtol=1e-3)


def test_default_names_and_given_names_in_a_pipeline():
    rng = np.random.RandomState(0)
    users, items = rng.randint(0, 6, 3000), rng.randint(0, 5, 3000)
    # Only user 2 with item 3 clicks: one planted user-item interaction.
    y = ((users == 2) & (items == 3)) | (rng.uniform(size=3000) < 0.05)
    X = pd.DataFrame({"user": users.astype(str), "item": items.astype(str)})
    pipe = make_pipeline(OneHotEncoder(), FMClassifier(random_state=0)).fit(X, y)
    classifier = pipe[-1]
    unnamed = classifier.top_interactions(n=1)
    assert unnamed[["feature_i", "feature_j"]].values.tolist() == [["x2", "x9"]]
    named = classifier.top_interactions(n=1, feature_names=pipe[:-1].get_feature_names_out())
    assert named[["feature_i", "feature_j"]].values.tolist() == [["user_2", "item_3"]]
    assert named["weight"][0] > 0
    assert_array_equal(named["weight"], unnamed["weight"])


def test_multiclass_lists_each_class_in_turn():
    X, y = make_interaction_data(n_samples=900)
    classes = np.digitize(y, [-1, 1])  # three classes
    model = FMClassifier(n_factors=3, random_state=0).fit(X, np.array(["lo", "mid", "hi"])[classes])
    top = model.top_interactions(n=4)
    assert list(top.columns) == ["class", "feature_i", "feature_j", "weight"]
    assert top["class"].tolist() == ["hi"] * 4 + ["lo"] * 4 + ["mid"] * 4  # classes_ order
    for label, factors in zip(model.classes_, model.factors_):
        rows = top[top["class"] == label]
        expected = brute_force(factors, 4)
        names = [[f"x{i}", f"x{j}"] for i, j, _ in expected]
        assert rows[["feature_i", "feature_j"]].values.tolist() == names
        assert_allclose(rows["weight"], [w for *_, w in expected])


def test_fewer_pairs_than_asked_and_a_single_feature():
    X, y = make_interaction_data(n_samples=200)
    model = FMRegressor(max_iter=5, tol=None, random_state=0).fit(X[:, :3], y)
    assert len(model.top_interactions(n=100)) == 3
    single = FMRegressor(max_iter=5, tol=None, random_state=0).fit(X[:, :1], y).top_interactions()
    assert len(single) == 0
    assert list(single.columns) == ["feature_i", "feature_j", "weight"]


@pytest.mark.parametrize("estimator", [FMRegressor, FFMRegressor])
def test_blocks_whose_pairs_are_all_categories_of_one_column(monkeypatch, estimator):
    # Pairs of one column's categories are left out; blocks of rows within
    # the last column then had no pair left, and the selection of none failed.
    monkeypatch.setattr(parameters, "_WEIGHTS_PER_BLOCK", 16)
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({
        "user": pd.Categorical(rng.randint(8, size=200)),
        "item": pd.Categorical(rng.randint(12, size=200)),
    })
    model = estimator(max_iter=2, tol=None, random_state=0).fit(frame, rng.normal(size=200))
    pairs = model.top_interactions(n=500)
    assert len(pairs) == 8 * 12  # every user with every item, and nothing else
    assert pairs["feature_i"].str.startswith("user_").all()
    assert pairs["feature_j"].str.startswith("item_").all()
    one_column = estimator(max_iter=2, tol=None, random_state=0).fit(frame[["user"]], frame.index)
    assert len(one_column.top_interactions()) == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n=0), ValueError, "n == 0, must be >= 1"),
        (dict(n=2.5), TypeError, "n must be an instance of int"),
        (dict(n=True), TypeError, "n must be an int, not a bool"),
        (dict(feature_names=["a", "b"]), ValueError, "one name per feature, 6"),
        (dict(feature_names=[["a"] * 6]), ValueError, "one name per feature"),
        (dict(feature_names=list(range(6))), TypeError, "feature_names must be strings"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match):
    X, y = make_interaction_data(n_samples=100)
    model = FMRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)
    with pytest.raises(error, match=match):
        model.top_interactions(**kwargs)


def test_needs_a_fitted_model():
    with pytest.raises(NotFittedError):
        FMClassifier().top_interactions()
