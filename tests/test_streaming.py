"""Training from data that arrive in chunks: partial_fit over a stream
trains the model one fit on the whole data set would."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

import sklearn_fm
from sklearn_fm import FMClassifier, FMRegressor

from .conftest import make_ratings

# MovieLens-like ratings of one-hot user and item ids: 16,000 to train on.
users, items, ratings = make_ratings(
    n_users=300, n_items=200, n_ratings=20_000, factor_scale=0.55, noise=0.9,
    popularity=0.6, stars=True, seed=0,
)
X = OneHotEncoder().fit_transform(np.c_[users, items]).tocsr()
X_train, X_test = X[:16_000], X[16_000:]
y_train, y_test = ratings[:16_000], ratings[16_000:]

# The README's rating settings, and the defaults for as many epochs.
SETTINGS = {
    "README's": dict(
        alpha_linear=5.0, alpha_uniform=5.0, early_stopping=False, max_iter=10, tol=None
    ),
    "default": dict(early_stopping=False, max_iter=10, tol=None),
}


def rmse(model):
    return np.sqrt(np.mean((y_test - np.clip(model.predict(X_test), 1, 5)) ** 2))


def stream(model, X, y, n_chunks, n_passes):
    """``n_passes`` passes of partial_fit over ``n_chunks`` consecutive chunks."""
    chunks = np.array_split(np.arange(X.shape[0]), n_chunks)
    for _ in range(n_passes):
        for rows in chunks:
            model.partial_fit(X[rows], y[rows])
    return model


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("n_chunks", [10, 37])
def test_streaming_chunks_for_several_passes_reaches_the_score_of_one_fit(settings, n_chunks):
    # Each chunk counts as new data of one data set: the prior alpha_uniform,
    # the 'auto' batch size and the schedule refer to all rows seen, so the
    # chunk size does not change them (when the prior was divided by each
    # chunk's size, 10 chunks scored 1.02 here against 0.925).
    params = dict(SETTINGS[settings], random_state=0)
    fitted = rmse(FMRegressor(**params).fit(X_train, y_train))
    streamed = stream(FMRegressor(**params), X_train, y_train, n_chunks, n_passes=10)
    assert streamed.n_samples_seen_ == 10 * X_train.shape[0]
    assert rmse(streamed) == pytest.approx(fitted, abs=0.01)


def test_streaming_clicks_reaches_the_ranking_of_one_fit():
    clicks_train, clicks_test = y_train >= 4, y_test >= 4
    params = dict(SETTINGS["default"], random_state=0)
    fitted = FMClassifier(**params).fit(X_train, clicks_train)
    streamed = FMClassifier(**params)
    for rows in np.array_split(np.arange(X_train.shape[0]), 10) * 10:
        streamed.partial_fit(X_train[rows], clicks_train[rows], classes=[False, True])

    def auc(model):
        return roc_auc_score(clicks_test, model.predict_proba(X_test)[:, 1])

    assert auc(streamed) == pytest.approx(auc(fitted), abs=0.01)
    assert auc(streamed) > 0.6


def test_partial_fit_after_fit_adds_the_chunks_to_the_fitted_data_set():
    model = FMRegressor(max_iter=2, tol=None, random_state=0)  # early stopping: auto
    model.fit(X_train, y_train)
    n_fitted = model.n_samples_seen_
    assert n_fitted == 14_400  # the 90 % trained on, without the validation part
    model.partial_fit(X_train[:1000], y_train[:1000])
    assert model.n_samples_seen_ == n_fitted + 1000
    model.set_params(warm_start=True, early_stopping=False).fit(X_train, y_train)
    assert model.n_samples_seen_ == 16_000  # a fit's data set is its own


def test_dask_ml_incremental_streams_the_blocks_of_a_dask_array_through_partial_fit():
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X_dense, y = X_train[:4000].toarray(), y_train[:4000]
    params = dict(SETTINGS["README's"], random_state=0)
    incremental = wrappers.Incremental(FMRegressor(**params), shuffle_blocks=False)
    incremental.fit(da.from_array(X_dense, chunks=1000), da.from_array(y, chunks=1000))
    by_hand = stream(FMRegressor(**params), X_dense, y, n_chunks=4, n_passes=1)
    assert incremental.estimator_.n_samples_seen_ == 4000
    np.testing.assert_array_equal(
        incremental.predict(X_test[:100].toarray()), by_hand.predict(X_test[:100])
    )


def test_dask_ml_parallel_post_fit_predicts_blockwise_as_predict_does():
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    model = FMClassifier(max_iter=3, tol=None, random_state=0).fit(X_train, y_train >= 4)
    wrapped = wrappers.ParallelPostFit(model)
    X_blocks = da.from_array(X_test.toarray(), chunks=1000)
    np.testing.assert_array_equal(wrapped.predict(X_blocks).compute(), model.predict(X_test))
    np.testing.assert_allclose(
        wrapped.predict_proba(X_blocks).compute(), model.predict_proba(X_test), rtol=1e-12
    )


def _interaction_rows(n_rows, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, 4))
    return X, X[:, 0] + 2 * X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n_rows)


def test_sample_weights_keep_their_meaning_across_partial_fit_calls():
    # Each call divided its weights by their own mean: a chunk weighing
    # 1e-6 trained exactly as one weighing 1, unlike SGDRegressor.
    X, y = _interaction_rows(400, seed=0)
    X_next, y_next = _interaction_rows(200, seed=1)

    def after_second_call(weight):
        # Plain SGD, no uniform prior: the step is the weighted data's gradient.
        model = FMRegressor(
            n_factors=4, solver="sgd", alpha_linear=0.0, alpha_uniform=0.0, random_state=0
        )
        model.partial_fit(X, y)
        before = model.predict(X)
        model.partial_fit(X_next, -y_next, sample_weight=np.full(200, weight))
        return np.abs(model.predict(X) - before).max()

    assert after_second_call(1e-6) < 1e-3 * after_second_call(1.0)
    # The scale of every call's weights together still changes nothing.
    models = []
    for scale in (1.0, 1000.0):
        model = FMRegressor(n_factors=4, random_state=0)
        model.partial_fit(X, y, sample_weight=np.full(400, scale))
        model.partial_fit(X_next, y_next, sample_weight=np.full(200, 3 * scale))
        models.append(model)
    np.testing.assert_allclose(models[0].factors_, models[1].factors_, rtol=1e-6, atol=1e-9)


def test_class_weight_counts_in_partial_fit_calls_of_one_class():
    # Chunks of one class each, as in a stream sorted by class: every call
    # normalised its own weights, so class_weight changed nothing at all.
    X, y = _interaction_rows(600, seed=0)
    labels = (y > 0).astype(int)
    order = np.argsort(labels, kind="stable")
    chunks = np.array_split(order, 6)

    def positive_share(class_weight):
        model = FMClassifier(n_factors=4, class_weight=class_weight, random_state=0)
        for _ in range(3):
            for rows in chunks:
                model.partial_fit(X[rows], labels[rows], classes=[0, 1])
        return model.predict(X).mean()

    assert positive_share({0: 1.0, 1: 10.0}) > positive_share({0: 10.0, 1: 1.0}) + 0.2


def test_partial_fit_refuses_weights_beyond_the_first_calls_by_far():
    X, y = _interaction_rows(100, seed=0)
    model = FMRegressor(n_factors=2, random_state=0).partial_fit(X, y)
    with pytest.raises(ValueError, match="times the mean weight of the samples the model"):
        model.partial_fit(X, y, sample_weight=np.full(100, 1e20))
    # Class weights of any ratio still train, in chunks of one class too.
    labels = (y > 0).astype(int)
    model = FMClassifier(n_factors=2, class_weight={0: 1.0, 1: 2e9}, random_state=0)
    for _ in range(2):
        model.partial_fit(X[labels == 0], labels[labels == 0], classes=[0, 1])
    model.partial_fit(X[labels == 1], labels[labels == 1])
    assert np.isfinite(model.coef_).all()


def test_partial_fit_validates_parameters_changed_since_its_first_call():
    # scikit-learn validates partial_fit's parameters before the first call
    # only: batch_size=-4 then failed inside TensorFlow, and an unknown
    # learning_rate trained as 'constant'.
    X, y = _interaction_rows(100, seed=0)
    model = FMRegressor(n_factors=2, random_state=0).partial_fit(X, y)
    for params in ({"batch_size": -4}, {"learning_rate": "bogus"}, {"learning_rate_init": -1.0}):
        with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
            model.set_params(**params).partial_fit(X, y)
        model.set_params(batch_size="auto", learning_rate="invscaling", learning_rate_init=0.015)


def test_class_weight_changed_between_partial_fit_calls_keeps_the_other_classes_weight():
    # Class weights were divided by the largest of each call's class_weight,
    # so raising the weight of class 1 also lowered that of class 0 against
    # the first call's samples.
    X, y = _interaction_rows(300, seed=0)
    labels = (y > 0).astype(int)
    first, second = np.arange(150), np.arange(150, 300)
    by_dict = FMClassifier(n_factors=4, class_weight={0: 1.0, 1: 2.0}, random_state=0)
    by_dict.partial_fit(X[first], labels[first], classes=[0, 1])
    by_dict.set_params(class_weight={0: 1.0, 1: 4.0}).partial_fit(X[second], labels[second])
    by_sample = FMClassifier(n_factors=4, random_state=0)
    by_sample.partial_fit(X[first], labels[first], classes=[0, 1],
                          sample_weight=np.where(labels[first] == 1, 2.0, 1.0))
    by_sample.partial_fit(X[second], labels[second],
                          sample_weight=np.where(labels[second] == 1, 4.0, 1.0))
    np.testing.assert_allclose(by_dict.coef_, by_sample.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(by_dict.factors_, by_sample.factors_, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "first_weight, first_class_weight, later_class_weight",
    [
        (1e200, {0: 1.0, 1: 1e200}, {0: 1.0, 1: 1e200}),  # the unit overflows float64
        (1e-200, {0: 1e-200, 1: 1e-200}, {0: 1e-200, 1: 1e-200}),  # it underflows to 0
        (1e300, {0: 1.0, 1: 1.0}, {0: 1.0, 1: 1e10}),  # scales whose product overflows
    ],
)
def test_partial_fit_continues_after_weights_at_float64s_limits(
    first_weight, first_class_weight, later_class_weight, tmp_path
):
    # A unit that underflowed to 0 was stored, and then later calls divided
    # by zero and the saved model could not be loaded; the product of two
    # scales overflowed although the ratio of the weights was 1e10.
    X, y = _interaction_rows(100, seed=0)
    labels = (y > 0).astype(int)
    weights = np.full(100, first_weight)
    model = FMClassifier(n_factors=2, class_weight=first_class_weight, random_state=0)
    model.partial_fit(X, labels, sample_weight=weights, classes=[0, 1])
    model.save(tmp_path / "model.fm")
    for continued in (model, sklearn_fm.load(tmp_path / "model.fm")):
        continued.set_params(class_weight=later_class_weight)
        continued.partial_fit(X, labels, sample_weight=weights)
        assert np.isfinite(continued.coef_).all() and np.isfinite(continued.factors_).all()
