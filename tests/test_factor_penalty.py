"""alpha_factors='auto': the factor penalty raised to the interactions that
residuals of the last epoch's scale would show by chance."""

import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import sklearn_fm
from sklearn_fm import FFMRegressor, FMClassifier, FMRegressor
from sklearn_fm._data import training_matrix
from sklearn_fm._noise_level import interaction_noise_level

from .conftest import make_interaction_data, make_ratings
from .test_persistence import assert_forged_metadata_refused, metadata_of, rewrite

ONE_EPOCH = dict(max_iter=1, tol=None, early_stopping=False, random_state=0)


def noise_level(X, sample_weight=None):
    X = training_matrix(X)
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return interaction_noise_level(X, weights)


def fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def additive_table(n_samples=200, n_features=40, seed=0):
    """Standard-normal columns and a target of one of them plus as much noise."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    return X, X[:, 0] + rng.normal(size=n_samples)


def test_noise_level_is_the_norm_of_the_signed_sum_without_its_diagonal():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(50, 7)) * rng.uniform(0.5, 2, size=7)
    weights = rng.uniform(0, 3, size=50)
    # The signs interaction_noise_level draws from its fixed seed.
    signs = np.random.RandomState(0).choice([-1.0, 1.0], size=50)
    matrix = X.T @ (X * (signs * weights / weights.sum())[:, None])
    np.fill_diagonal(matrix, 0.0)
    expected = np.abs(np.linalg.eigvalsh(matrix)).max()
    assert noise_level(X, weights) == pytest.approx(expected, rel=1e-4)
    assert noise_level(sp.csr_matrix(X), weights) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("n_samples, n_features", [(800, 100), (3000, 20), (300, 200)])
def test_noise_level_of_standard_normal_columns_follows_random_matrix_theory(
    n_samples, n_features
):
    X = np.random.RandomState(0).normal(size=(n_samples, n_features))
    ratio = n_features / n_samples
    assert noise_level(X) == pytest.approx(2 * np.sqrt(ratio) + ratio, rel=0.2)


def test_rows_of_weight_zero_and_the_unit_of_the_weights_do_not_count():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 10))
    weights = rng.uniform(0.5, 1.5, size=200)
    with_held_out = np.vstack([X, 1e3 * rng.normal(size=(40, 10))])
    held_out = np.concatenate([weights, np.zeros(40)])
    level = noise_level(X, weights)
    assert noise_level(with_held_out, held_out) == pytest.approx(level, rel=1e-3)
    assert noise_level(X, 1e4 * weights) == pytest.approx(level, rel=1e-6)


def test_no_pair_of_features_in_a_row_is_no_noise():
    assert noise_level(np.ones((5, 1))) == 0.0
    assert noise_level(np.eye(6)) == pytest.approx(0.0, abs=1e-6)
    assert noise_level(np.ones((5, 3)), np.zeros(5)) == 0.0


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier, FFMRegressor])
def test_the_first_epoch_takes_the_noise_level_of_the_rows(estimator):
    X, y = additive_table()
    y = (y > 0).astype(int) if estimator is FMClassifier else y
    params = dict(ONE_EPOCH, alpha_factors="auto")
    if estimator is FFMRegressor:
        params["fields"] = np.arange(X.shape[1]) % 4
    model = fit_quietly(estimator(**params), X, y)
    assert model.alpha_factors_ == pytest.approx(noise_level(X))
    assert model.alpha_factors_ > 0.6  # 2 sqrt(40 / 200) + 40 / 200 = 1.09
    # Training used it: the same model as with the number given.
    given = fit_quietly(estimator(**{**params, "alpha_factors": model.alpha_factors_}), X, y)
    assert_array_equal(given.factors_, model.factors_)


def residual_scale(model, X, y, sample_weight=None):
    """The root mean square of the residuals of ``model`` in the units of
    its standardised target."""
    residuals = (y - model.predict(X)) / model._y_train_std
    return np.sqrt(np.average(residuals**2, weights=sample_weight))


# With a learning rate of nearly 0 the model stays where it starts, and the
# residuals of an epoch are those of the initial model.
STILL = dict(ONE_EPOCH, learning_rate_init=1e-12)


def test_later_epochs_scale_it_by_the_residuals_of_the_epoch_before():
    X, y = additive_table()
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    model = fit_quietly(FMRegressor(**{**STILL, "max_iter": 2}), X, y, sample_weight=weights)
    expected = noise_level(X, weights) * residual_scale(model, X, y, weights)
    assert model.alpha_factors_ == pytest.approx(expected, rel=1e-3)


def test_additive_data_keeps_it_near_the_noise_and_strong_interactions_lower_it():
    X, y = additive_table()
    model = fit_quietly(FMRegressor(random_state=0), X, y)
    # Residuals of the noise: about 1 / sqrt(2) of the standardised target.
    assert model.alpha_factors_ == pytest.approx(noise_level(X) / np.sqrt(2), rel=0.15)
    assert np.abs(model.factors_).max() < 0.05  # the linear model
    # Two planted interactions: once learned, the residuals are the small
    # noise, the penalty its floor, and the interactions are not shrunk.
    X, y = make_interaction_data()
    model = fit_quietly(FMRegressor(random_state=0), X, y)
    assert model.alpha_factors_ == 0.03 < noise_level(X)
    assert model.score(X, y) > 0.99


def test_the_floor_holds_on_one_hot_ids_of_many_rows():
    users, items, y = make_ratings(n_users=60, n_items=40, n_ratings=2500)
    X = sp.hstack([sp.eye(60, format="csr")[users], sp.eye(40, format="csr")[items]]).tocsr()
    assert noise_level(X) < 0.01
    assert fit_quietly(FMRegressor(**ONE_EPOCH), X, y).alpha_factors_ == 0.03


def test_a_number_is_used_as_given():
    X, y = additive_table()
    for alpha in (0.1, 0):
        params = {**ONE_EPOCH, "max_iter": 3, "alpha_factors": alpha}
        model = fit_quietly(FMRegressor(**params), X, y)
        assert model.alpha_factors_ == alpha
    classifier = FMClassifier(**{**ONE_EPOCH, "alpha_factors": 0.03})
    assert fit_quietly(classifier, X, y > 0).alpha_factors_ == 0.03


def test_it_depends_on_the_rows_not_on_the_units_of_y_and_weights_or_the_seed():
    X, y = additive_table()
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    chosen = [
        fit_quietly(FMRegressor(**{**ONE_EPOCH, "random_state": seed}), X, scale * y + shift,
                    sample_weight=unit * weights).alpha_factors_
        for seed, scale, shift, unit in [(0, 1, 0, 1), (1, 1000, 5, 1), (2, 1, 0, 100)]
    ]
    assert chosen == pytest.approx([noise_level(X, weights)] * 3, rel=1e-6)


def test_early_stopping_takes_the_noise_level_of_the_training_rows():
    X, y = additive_table(n_samples=300)
    X[::10] *= 50  # rows far outside the others would set the noise level of all
    stopping = fit_quietly(FMRegressor(**{**ONE_EPOCH, "early_stopping": True}), X, y)
    everything = fit_quietly(FMRegressor(**ONE_EPOCH), X, y)
    assert stopping.early_stopping_
    assert stopping.alpha_factors_ != pytest.approx(everything.alpha_factors_, rel=0.05)


def test_partial_fit_counts_its_rows_as_a_share_of_all_rows_seen_and_continues(tmp_path):
    X, y = additive_table(n_samples=300)
    model = FMRegressor(**STILL).partial_fit(X[:100], y[:100])
    assert model.alpha_factors_ == pytest.approx(noise_level(X[:100]))
    # The next call, of as many rows again, from the residuals of the last
    # epoch; so too after a round trip through a model file.
    scale = residual_scale(model, X[:100], y[:100])
    model.save(tmp_path / "model.fm")
    for continued in (model, sklearn_fm.load(tmp_path / "model.fm")):
        continued.partial_fit(X[100:200], y[100:200])
        expected = noise_level(X[100:200]) * np.sqrt(100 / 200) * scale
        assert continued.alpha_factors_ == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
def test_a_warm_started_fit_continues_from_the_residuals_of_the_last_epoch(estimator):
    X, y = additive_table()
    y = (y > 0).astype(int) if estimator is FMClassifier else y
    params = {**STILL, "warm_start": True, "alpha_factors": "auto"}
    model = fit_quietly(estimator(**params), X, y)
    first_epoch = model.alpha_factors_
    # The initial factors' interactions make the residuals other than 1.
    scale = model._residual_scale
    assert abs(scale - 1) > 0.05
    fit_quietly(model, X, y)
    assert model.alpha_factors_ == pytest.approx(first_epoch * scale, rel=1e-6)
    # A fit without warm_start starts a new model, from the target's scale.
    model.set_params(warm_start=False)
    assert fit_quietly(model, X, y).alpha_factors_ == pytest.approx(first_epoch, rel=1e-6)


def test_model_files_keep_it_and_older_files_read_alpha_factors(tmp_path):
    X, y = additive_table()
    model = fit_quietly(FMRegressor(**ONE_EPOCH), X, y)
    model.save(tmp_path / "model.fm")
    assert sklearn_fm.load(tmp_path / "model.fm").alpha_factors_ == model.alpha_factors_
    # Format version 7 had no alpha_factors_: training used alpha_factors
    # (and numbers for the step sizes, which had no 'auto').
    metadata = metadata_of(tmp_path / "model.fm")
    for key in ("alpha_factors_", "learning_rate_init_", "init_std_"):
        del metadata[key]
    metadata["format_version"] = 7
    metadata["params"].update(alpha_factors=0.05, learning_rate_init=0.015, init_std=0.1)
    rewrite(tmp_path / "model.fm", tmp_path / "old.fm", **{"metadata.json": json.dumps(metadata)})
    assert sklearn_fm.load(tmp_path / "old.fm").alpha_factors_ == 0.05
    for key, name in [("alpha_factors_", "alpha_factors_"), ("residual_scale", "residual scale")]:
        forged = (-1.0, float("inf"), "0.1", None, True)
        assert_forged_metadata_refused(tmp_path / "model.fm", key, forged, match=name)
