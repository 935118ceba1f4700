"""Diverging training never leaves infinite or NaN parameters behind."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_fm import FFMRegressor, FMClassifier, FMRegressor, load

from .conftest import make_interaction_data

X, y = make_interaction_data(n_samples=300)
# (estimator, X, y, learning rate): plain SGD at a constant rate improves for
# a few epochs, then blows up (measured: in epochs 5 and 7, with early
# stopping in epochs 6 and 9).
DIVERGING = {
    "regressor": (FMRegressor, X, y, 1.5, 256),
    "classifier": (FMClassifier, X, y > 0, 2.0, "auto"),
}


def assert_finite(model, X):
    for param in (model.intercept_, model.coef_, model.factors_):
        assert np.isfinite(param).all()
    # Each epoch's entry, but NaN for the one that diverged, which is last.
    assert np.isfinite(model.loss_curve_[:-1]).all()
    outputs = model.decision_function(X) if hasattr(model, "decision_function") else model.predict(X)
    assert np.isfinite(outputs).all()


@pytest.mark.parametrize("problem", DIVERGING)
def test_divergence_keeps_the_last_finite_epoch_and_names_the_learning_rate(problem):
    estimator, X, y, rate, batch_size = DIVERGING[problem]
    sgd = dict(solver="sgd", learning_rate="constant", batch_size=batch_size)
    model = estimator(**sgd, learning_rate_init=rate, max_iter=50, tol=None, random_state=0)
    with pytest.warns(ConvergenceWarning, match=rf"diverged in epoch \d+.*learning_rate_init \(now {rate}\)"):
        model.fit(X, y)
    # The epoch that diverged counts, as MLP counts it, with a NaN loss.
    assert 2 < model.n_iter_ < 50
    assert len(model.loss_curve_) == len(model.penalty_scales_) == model.n_iter_
    assert np.isnan(model.loss_curve_[-1])
    assert model.best_loss_ == min(model.loss_curve_[:-1])
    assert_finite(model, X)
    # The kept parameters are those of the last finite epoch, the one before.
    finite_epochs = model.n_iter_ - 1
    last = estimator(**sgd, learning_rate_init=rate, max_iter=finite_epochs, tol=None, random_state=0)
    with warnings.catch_warnings():
        # The epoch before divergence may already fit worse than a constant.
        warnings.filterwarnings("error", "Training diverged", ConvergenceWarning)
        last.fit(X, y)
    assert_array_equal(model.factors_, last.factors_)
    assert_array_equal(model.coef_, last.coef_)


@pytest.mark.parametrize("problem", DIVERGING)
def test_divergence_with_early_stopping_keeps_the_best_epoch(problem):
    estimator, X, y, rate, batch_size = DIVERGING[problem]
    sgd = dict(solver="sgd", learning_rate="constant", batch_size=batch_size)
    params = dict(**sgd, learning_rate_init=rate, tol=None, early_stopping=True, random_state=0)
    model = estimator(max_iter=50, **params)
    with pytest.warns(ConvergenceWarning, match="diverged.*the parameters of the best epoch"):
        model.fit(X, y)
    assert_finite(model, X)
    assert np.isnan(model.validation_scores_[-1])
    best = int(np.nanargmax(model.validation_scores_)) + 1
    assert best < model.n_iter_  # it diverged after its best epoch
    assert model.best_validation_score_ == np.nanmax(model.validation_scores_)
    # The same training stopped at the best epoch: same split, same batches.
    stopped = estimator(max_iter=best, **params).fit(X, y)
    assert_array_equal(model.factors_, stopped.factors_)
    assert_array_equal(model.predict(X), stopped.predict(X))


def test_validation_outputs_beyond_float32_count_as_divergence():
    # Here the parameters stay finite while the outputs on the validation
    # rows overflow: they reached log_loss, which raised a ValueError about
    # NaN input, where the divergence warning and the best epoch belong.
    model = FMClassifier(
        solver="sgd", learning_rate="constant", learning_rate_init=2.0, alpha_linear=1e-4,
        early_stopping=True, max_iter=50, tol=None, random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.fit(X, y > 0)
    assert_finite(model, X)
    assert model.n_iter_ < 50
    assert model.best_validation_score_ == np.nanmax(model.validation_scores_)


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier], ids=lambda e: e.__name__)
def test_large_values_below_the_float32_limit_train_or_warn_but_never_give_nan(estimator):
    # Values up to 1.8e19 are accepted (see test_hostile_inputs). Training on
    # them at the rate and spread that suit standardised columns may diverge
    # at once; then the initial parameters are kept.
    target = y if estimator is FMRegressor else y > 0
    for scale in (1e6, 1e12, 1e18):
        model = estimator(
            max_iter=3, tol=None, learning_rate_init=0.015, init_std=0.1, random_state=0
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X * scale, target)
        messages = [str(w.message) for w in caught]
        diverged = ["Training diverged in epoch 1 (t" in m for m in messages]
        # Or it trains a model fit warns of (see below).
        assert all(d or "far worse than a constant" in m for d, m in zip(diverged, messages))
        if any(diverged):
            assert model.n_iter_ == 1 and np.isnan(model.loss_curve_).all()
            assert model.best_loss_ == np.inf
        assert_finite(model, X * scale)
    assert any(diverged), "training on 1e18 should diverge"


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier], ids=lambda e: e.__name__)
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("penalty", [{"alpha_linear": 1e30}, {"alpha_linear": 1e300},
                                     {"alpha_uniform": 1e300}], ids=str)
def test_penalties_of_any_size_leave_a_finite_model(estimator, early_stopping, penalty):
    # A penalty beyond float32 makes training diverge at once, and the start
    # is kept. The regressor's start without early stopping, Ridge of that
    # penalty, overflowed in float32 and left NaN weights.
    target = y if estimator is FMRegressor else y > 0
    model = estimator(max_iter=2, early_stopping=early_stopping, random_state=0, **penalty)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, target)
    assert all(issubclass(w.category, ConvergenceWarning) for w in caught), [
        str(w.message) for w in caught
    ]
    assert_finite(model, X)
    if "alpha_linear" in penalty:
        assert np.abs(model.coef_).max() < 1e-6


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
def test_auto_step_sizes_train_on_features_of_any_scale(estimator):
    # 'auto' scales the rate and the initial spread down with the rows'
    # norm, so features in the thousands to billions train as well as the
    # same features of unit scale, where the former defaults diverged.
    target = y if estimator is FMRegressor else y > 0
    scores = []
    for scale in (1.0, 1e3, 1e6, 1e9):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter("error", RuntimeWarning)  # overflow
            model = estimator(max_iter=30, tol=None, random_state=0).fit(X * scale, target)
        assert_finite(model, X * scale)
        scores.append(model.score(X * scale, target))
    assert min(scores[1:]) > scores[0] - 0.02


def test_partial_fit_after_a_diverged_call_resumes_from_finite_state():
    model = FMRegressor(solver="adam", learning_rate_init=0.01, random_state=0)
    model.partial_fit(X, y)
    before = model.predict(X)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.partial_fit(X * 1e6, y)
    assert model.n_iter_ == 2 and np.isnan(model.loss_curve_[-1])
    assert_array_equal(model.predict(X), before)
    model.partial_fit(X, y)
    assert model.n_iter_ == 3
    assert np.isfinite(model.predict(X)).all()
    assert np.isfinite(np.concatenate([s.ravel() for s in model._optimizer_state.variables[1:]])).all()


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_model_far_worse_than_a_constant_warns_and_names_the_remedy(estimator, early_stopping):
    # Features in the thousands: Adam's steps, of about learning_rate_init
    # whatever the gradient, swing the interactions by millions, so training
    # oscillates without ever becoming infinite (R^2 about -6e5). A fixed
    # factor penalty: 'auto' grows with the square of the features' scale
    # and holds the interactions still.
    X, y = load_diabetes(return_X_y=True)
    y = y if estimator is FMRegressor else y > np.median(y)
    params = dict(
        max_iter=30, tol=None, early_stopping=early_stopping, alpha_factors=0.03,
        learning_rate_init=0.015, init_std=0.1, random_state=0,
    )
    with pytest.warns(
        ConvergenceWarning,
        match=r"far worse than a constant would.*Scale the features.*learning_rate_init \(now",
    ):
        estimator(**params).fit(X * 1e4, y)
    # The same data scaled trains without it.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator(**params).fit(StandardScaler().fit_transform(X), y)


def test_a_warm_start_far_from_its_targets_is_named_as_the_cause():
    # Continued on targets 1,000 times smaller, the model's weights are
    # 1,000 times too large in their units for Adam's steps (R² -8e5); the
    # warning blamed oscillation alone and advised a lower
    # learning_rate_init, which cannot help. A new model fits them (R² 0.996).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = X[:, 0] + X[:, 1] * X[:, 2]
    model = FMRegressor(n_factors=3, max_iter=20, tol=None, warm_start=True, random_state=0)
    model.fit(X, y)
    cause = (
        r"far worse.*another scale.*warm_start=False, or a new estimator's partial_fit"
        r".*If that is not the cause.*learning_rate_init"
    )
    with pytest.warns(ConvergenceWarning, match=cause):
        model.fit(X, y / 1000)
    model.set_params(warm_start=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert model.fit(X, y / 1000).score(X, y / 1000) > 0.9


@pytest.mark.parametrize("estimator", [FMRegressor, FFMRegressor], ids=lambda e: e.__name__)
def test_a_first_epoch_that_diverged_counts_as_scikit_learn_expects(estimator, tmp_path):
    # It left n_iter_ at 0, which check_non_transformer_estimators_n_iter
    # refuses for a fit that ran (MLP counts such epochs, its loss NaN);
    # the model is the one training started from.
    from sklearn.utils.estimator_checks import check_non_transformer_estimators_n_iter

    diverging = estimator(
        solver="sgd", alpha_linear=0.0, alpha_uniform=0.0, learning_rate_init=0.1,
        max_iter=20, random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="epoch 1 .* parameters training started from"):
        check_non_transformer_estimators_n_iter(estimator.__name__, diverging)
    X_iris, y_iris = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 1"):
        model = clone(diverging).fit(X_iris, y_iris)
    assert model.n_iter_ == 1 and np.isnan(model.loss_curve_).all()
    assert model.best_loss_ == np.inf
    assert_finite(model, X_iris)
    # A model file keeps the NaN of the curve.
    model.save(tmp_path / "diverged")
    loaded = load(tmp_path / "diverged")
    assert loaded.n_iter_ == 1 and np.isnan(loaded.loss_curve_).all()
    assert_array_equal(loaded.predict(X_iris), model.predict(X_iris))
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 1"):
        stopping = clone(diverging).set_params(early_stopping=True).fit(X_iris, y_iris)
    assert np.isnan(stopping.validation_scores_).all()
    assert stopping.best_validation_score_ == -np.inf
