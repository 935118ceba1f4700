"""FMRegressor's behaviour: what it learns, its attributes, training control, input."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

import sklearn_fm
from sklearn_fm import FFMRegressor, FMClassifier, FMRegressor

from .conftest import make_interaction_data, numerical_gradient, with_peak_memory

FAST = dict(n_factors=4, max_iter=30, tol=None, random_state=0)


def test_learns_planted_pairwise_interactions_that_ridge_cannot(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(random_state=0).fit(X, y)
    assert fm.score(X, y) > 0.98
    assert Ridge().fit(X, y).score(X, y) < 0.3
    # The interaction weights <v_i, v_j> recover the planted ones.
    interactions = fm.factors_ @ fm.factors_.T
    assert interactions[1, 2] == pytest.approx(2, abs=0.15)
    assert interactions[3, 4] == pytest.approx(-1, abs=0.15)
    assert abs(interactions[0, 5]) < 0.15
    assert fm.coef_[0] == pytest.approx(1, abs=0.1)


def test_fitted_attributes(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(n_factors=3, random_state=0).fit(X, y)
    assert isinstance(fm.intercept_, float)
    assert fm.coef_.shape == (6,)
    assert fm.factors_.shape == (6, 3)
    assert fm.n_features_in_ == 6
    assert 1 <= fm.n_iter_ <= fm.max_iter
    assert len(fm.loss_curve_) == fm.n_iter_
    assert fm.best_loss_ == min(fm.loss_curve_)
    assert fm.loss_curve_[-1] < fm.loss_curve_[0]
    assert fm.validation_scores_ is None and fm.best_validation_score_ is None
    assert not hasattr(fm, "feature_names_in_")


def test_tol_stops_training_before_max_iter(interaction_data):
    X, y = interaction_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fm = FMRegressor(max_iter=500, tol=1e-3, n_iter_no_change=3, random_state=0).fit(X, y)
    assert fm.n_iter_ < 500
    # Stopped because none of the last n_iter_no_change + 1 epochs improved on
    # the best loss before it by tol (or the share of it a short epoch is asked).
    curve = fm.loss_curve_
    for epoch in range(len(curve) - 4, len(curve)):
        assert curve[epoch] > min(curve[:epoch]) - 1e-3, epoch


def test_convergence_warning_when_max_iter_ends_training(interaction_data):
    X, y = interaction_data
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        fm = FMRegressor(max_iter=2, random_state=0).fit(X, y)
    assert fm.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        FMRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)


def test_early_stopping_keeps_the_best_epoch(interaction_data):
    X, y = interaction_data
    params = dict(early_stopping=True, n_factors=3, learning_rate_init=0.05, random_state=0)
    fm = FMRegressor(max_iter=40, tol=None, **params).fit(X, y)
    assert fm.best_loss_ is None
    assert len(fm.validation_scores_) == fm.n_iter_ == 40
    best_epoch = int(np.argmax(fm.validation_scores_))
    assert fm.best_validation_score_ == fm.validation_scores_[best_epoch]
    # Training is deterministic, so a run that ends at the best epoch has the
    # same parameters as the model kept by the longer run.
    short = FMRegressor(max_iter=best_epoch + 1, tol=None, **params).fit(X, y)
    assert_array_equal(short.factors_, fm.factors_)
    assert_array_equal(short.coef_, fm.coef_)


def test_early_stopping_stops_when_validation_score_stalls(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(
        early_stopping=True, tol=1e-3, n_iter_no_change=2, max_iter=500, random_state=0
    ).fit(X, y)
    assert fm.n_iter_ < 500
    assert fm.best_validation_score_ > 0.95


def test_early_stopping_needs_two_validation_samples_and_some_training_ones():
    X, y = make_interaction_data(n_samples=10)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        FMRegressor(early_stopping=True, validation_fraction=0.1).fit(X, y)
    # The regressor's message once spoke of "every class".
    with pytest.raises(ValueError, match="cannot hold out a validation set and keep training samples"):
        FMRegressor(early_stopping=True, validation_fraction=0.1).fit(X[:1], y[:1])


def test_auto_early_stopping_trains_on_every_row_where_validation_would_weigh_nothing():
    # Only 5 of 2,100 rows weigh anything: 'auto' held out 210 rows of zero
    # weight and refused the data, which the user had not asked for.
    X, y = make_interaction_data(n_samples=2100)
    weights = np.zeros(2100)
    weights[:5] = 1.0
    model = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0)
    assert model.fit(X, y, sample_weight=weights).early_stopping_ is False
    # The model early_stopping=False trains: the split that failed drew nothing.
    without = clone(model).set_params(early_stopping=False).fit(X, y, sample_weight=weights)
    assert_array_equal(model.factors_, without.factors_)
    with pytest.raises(ValueError, match="all of them have sample_weight 0"):
        model.set_params(early_stopping=True).fit(X, y, sample_weight=weights)


def test_warm_start_continues_from_the_previous_fit(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(warm_start=True, **FAST).fit(X, y)
    first_curve = list(fm.loss_curve_)
    fm.set_params(max_iter=5).fit(X, y)
    assert fm.n_iter_ == 35
    assert fm.loss_curve_[:30] == first_curve
    # Continuing: far below the first epoch of a fresh fit.
    assert fm.loss_curve_[30] < 0.5 * first_curve[0]
    cold = FMRegressor(**FAST).fit(X, y)
    cold.set_params(max_iter=5).fit(X, y)
    assert cold.n_iter_ == 5


def test_a_warm_started_fit_with_early_stopping_keeps_its_own_best_epoch():
    # The best validation score of the first fit, on other validation rows,
    # was the bar: no epoch of the second fit reached it, and the model
    # stayed that of the first fit.
    rng = np.random.RandomState(0)
    X, X_new = rng.normal(size=(2, 600, 4))
    y, y_new = X[:, 0] * X[:, 1], X_new[:, 2] + rng.normal(size=600)
    params = dict(max_iter=20, early_stopping=True, warm_start=True, random_state=0)
    fm = FMRegressor(**params).fit(X, y)
    n_first = fm.n_iter_
    fm.fit(X_new, y_new)
    assert fm.best_validation_score_ == max(fm.validation_scores_[n_first:])
    assert fm.score(X_new, y_new) > 0.3


def test_partial_fit_trains_one_epoch_per_call(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(random_state=0)
    for i in range(1, 6):
        fm.partial_fit(X, y)
        assert fm.n_iter_ == i
    assert len(fm.loss_curve_) == 5
    assert fm.loss_curve_[-1] < fm.loss_curve_[0]


def test_partial_fit_rejects_other_feature_counts_and_early_stopping(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(random_state=0).partial_fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but FMRegressor is expecting 6"):
        fm.partial_fit(X[:, :5], y)
    with pytest.raises(ValueError, match="early_stopping"):
        FMRegressor(early_stopping=True).partial_fit(X, y)


@pytest.mark.parametrize("estimator", [FMRegressor, FFMRegressor])
def test_n_factors_true_is_one_factor_as_scikit_learn_reads_integers(interaction_data, estimator):
    # scikit-learn's Integral constraint takes True, and NumPy then refused
    # it as a shape, with an error that named no parameter.
    X, y = interaction_data
    settings = {**FAST, "max_iter": 2, "n_factors": 1}
    one = estimator(**settings).fit(X, y)
    assert_array_equal(estimator(**{**settings, "n_factors": True}).fit(X, y).factors_, one.factors_)


def test_changing_n_factors_cannot_warm_start(interaction_data):
    X, y = interaction_data
    fm = FMRegressor(warm_start=True, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="n_factors=5 differs"):
        fm.set_params(n_factors=5).fit(X, y)


def stated_objective(theta, X, y, s, alphas, n_factors, n_samples_seen=None):
    """The objective of FMRegressor's Notes, in float64, for theta = (w0, w, V)
    flattened; the uniform penalties divided by ``n_samples_seen`` (default:
    the rows of X)."""
    n, d = X.shape
    w0, w, V = theta[0], theta[1 : d + 1], theta[d + 1 :].reshape(d, n_factors)
    alpha_linear, alpha_factors, alpha_uniform = alphas
    prediction = w0 + X @ w + 0.5 * (((X @ V) ** 2).sum(1) - ((X**2) @ (V**2)).sum(1))
    used = X != 0
    per_row = 0.5 * alpha_factors * used @ (V**2).sum(1)
    s = s / s.mean()
    uniform = (alpha_linear * w @ w + alpha_uniform * (V**2).sum()) / (2 * (n_samples_seen or n))
    return (s * (0.5 * (y - prediction) ** 2 + per_row)).sum() / n + uniform


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling"])
def test_sgd_steps_follow_the_stated_objective_and_schedule(learning_rate):
    # Full-batch SGD takes one step per epoch, theta -= eta_t * grad J(theta),
    # so each step exposes the gradient of the objective and the schedule's
    # rate. Column 5 is all zero: only the uniform penalties move its
    # parameters, which SGD then has to update although no row uses them.
    rng = np.random.RandomState(0)
    X = sp.random(40, 6, density=0.5, random_state=rng, format="csr").toarray()
    X[:, 5] = 0
    y = rng.normal(size=40)
    s = rng.uniform(0.5, 2.0, size=40)
    alphas = (0.05, 0.2, 3.0)
    fm = FMRegressor(
        n_factors=3, alpha_linear=alphas[0], alpha_factors=alphas[1],
        alpha_uniform=alphas[2], solver="sgd", learning_rate=learning_rate,
        learning_rate_init=0.1, power_t=0.7, batch_size=40, init_std=0.5, random_state=0,
    )

    # The objective is stated for the standardised target, and for the
    # parameters of the FM that predicts it.
    mean = np.average(y, weights=s)
    std = np.sqrt(np.average((y - mean) ** 2, weights=s))

    def objective(theta):
        return stated_objective(theta, X, (y - mean) / std, s, alphas, n_factors=3)

    def theta():
        intercept = (fm.intercept_ - mean) / std
        return np.concatenate([[intercept], fm.coef_ / std, fm.factors_.ravel() / np.sqrt(std)])

    # Epochs over one data set: fit with warm_start, one epoch at a time.
    fm.set_params(warm_start=True, max_iter=1, tol=None)
    fm.fit(X, y, sample_weight=s)
    for t in range(1, 4):
        before = theta()
        fm.fit(X, y, sample_weight=s)
        # An epoch of one batch is 1/128 of an epoch to the schedule.
        rate = 0.1 / (t / 128 + 1) ** 0.7 if learning_rate == "invscaling" else 0.1
        assert_allclose(
            (before - theta()) / rate, numerical_gradient(objective, before),
            rtol=1e-3, atol=1e-5,
        )
        assert fm.loss_curve_[-1] == pytest.approx(objective(before), rel=1e-5)


def test_a_power_t_so_large_the_rate_vanishes_trains_the_first_epoch_only(interaction_data):
    # (epochs + 1) ** power_t overflowed: a bare OverflowError from the
    # second epoch, or the second call of partial_fit, on.
    X, y = interaction_data
    settings = dict(power_t=1e5, n_factors=2, tol=None, random_state=0)
    once = FMRegressor(max_iter=1, **settings).fit(X, y)
    assert_array_equal(FMRegressor(max_iter=3, **settings).fit(X, y).factors_, once.factors_)
    streamed = FMRegressor(**settings).partial_fit(X, y)
    assert_array_equal(streamed.partial_fit(X, y).factors_, once.factors_)


def test_partial_fit_takes_each_chunk_as_new_data_of_one_data_set():
    # Three calls on 40 rows make a data set of 120: the uniform penalties of
    # a call is divided by the rows seen so far, and the schedule advances
    # by the call's share of them (1, then 1/2), so that chunk sizes do not
    # change what the penalty and the schedule mean; an epoch over the rows
    # seen, of 1 batch, then 2, counts as 1/128, then 2/128, of an epoch.
    rng = np.random.RandomState(1)
    X = rng.normal(size=(40, 5))
    y = rng.normal(size=40)
    alphas = (0.05, 0.2, 3.0)
    fm = FMRegressor(
        n_factors=2, alpha_linear=alphas[0], alpha_factors=alphas[1],
        alpha_uniform=alphas[2], solver="sgd", learning_rate="invscaling",
        learning_rate_init=0.1, power_t=0.7, batch_size=40, init_std=0.5, random_state=0,
    )
    fm.partial_fit(X, y)
    mean, std = y.mean(), y.std()  # the standardisation of the first call
    assert fm.n_samples_seen_ == 40

    def theta():
        intercept = (fm.intercept_ - mean) / std
        return np.concatenate([[intercept], fm.coef_ / std, fm.factors_.ravel() / np.sqrt(std)])

    for n_samples_seen, epochs_before in [(80, 1 / 128), (120, 2 / 128)]:
        before = theta()
        fm.partial_fit(X, y)
        assert fm.n_samples_seen_ == n_samples_seen

        def objective(theta):
            return stated_objective(
                theta, X, (y - mean) / std, np.ones(40), alphas, 2, n_samples_seen
            )

        rate = 0.1 / (epochs_before + 1) ** 0.7
        assert_allclose(
            (before - theta()) / rate, numerical_gradient(objective, before),
            rtol=1e-3, atol=1e-5,
        )
    assert fm.n_iter_ == 3


def test_sample_weight_pulls_predictions_towards_heavy_samples():
    # The same input with two targets: the weighted mean is the best prediction.
    # Each row of eye(4) appears with both targets, 0 and 1; weight 9 goes
    # to target 0 for the first two rows and to target 1 for the last two.
    X = np.tile(np.eye(4), (100, 1))
    y = np.tile([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0], 50)
    sample_weight = np.tile([9.0, 9.0, 9.0, 9.0, 1.0, 1.0, 1.0, 1.0], 50)
    # Full-batch steps, so what is tested is the weighting, not minibatch noise.
    fm = FMRegressor(
        alpha_linear=0.0, alpha_uniform=0.0, batch_size=len(y), max_iter=500, tol=None,
        learning_rate="constant", learning_rate_init=0.02, random_state=0,
    )
    fm.fit(X, y, sample_weight=sample_weight)
    assert_allclose(fm.predict(np.eye(4)), [0.1, 0.1, 0.9, 0.9], atol=0.01)


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
def test_auto_step_sizes_count_rows_by_their_weights(estimator, monkeypatch):
    # Rows of weight 0 made the 'auto' rate and spread 10 and 15 times
    # smaller here, as if they were trained on.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 10)) * rng.uniform(0.5, 3, size=(300, 1))  # norms vary
    X[5] = 0
    y = X[:, 0] + X[:, 1] * X[:, 2] > 0
    far = 50 * rng.normal(size=(30, 10))
    settings = dict(max_iter=1, tol=None, random_state=0)

    def step_sizes(X, y, sample_weight=None):
        model = estimator(**settings).fit(X, y, sample_weight=sample_weight)
        return model.learning_rate_init_, model.init_std_

    zero = step_sizes(np.vstack([X, far]), np.r_[y, y[:30]], np.r_[np.ones(300), np.zeros(30)])
    assert_allclose(zero, step_sizes(X, y), rtol=1e-12)
    twice = step_sizes(X, y, np.r_[np.full(100, 2.0), np.ones(200)])
    assert_allclose(twice, step_sizes(np.vstack([X[:100], X]), np.r_[y[:100], y]), rtol=1e-12)
    assert twice != step_sizes(X, y)  # the rows' norms differ: their weights count
    monkeypatch.setattr("sklearn_fm._base._NNZ_PER_BLOCK", 7)  # blocks of a row or two
    assert_allclose(step_sizes(X, y, np.r_[np.full(100, 2.0), np.ones(200)]), twice, rtol=1e-12)


def test_sample_weight_scale_does_not_matter(interaction_data):
    X, y = interaction_data
    weights = np.random.RandomState(0).randint(1, 4, size=len(y)).astype(float)
    a = FMRegressor(**FAST).fit(X, y, sample_weight=weights)
    b = FMRegressor(**FAST).fit(X, y, sample_weight=4 * weights)
    assert_array_equal(a.predict(X), b.predict(X))
    ones = FMRegressor(**FAST).fit(X, y, sample_weight=np.ones(len(y)))
    none = FMRegressor(**FAST).fit(X, y)
    assert_array_equal(ones.predict(X), none.predict(X))


SPARSE_CONTAINERS = [
    sp.csr_matrix,
    sp.csc_matrix,
    sp.coo_matrix,
    sp.lil_matrix,
    sp.dok_matrix,
    sp.bsr_matrix,
    sp.dia_matrix,
    sp.csr_array,
    sp.csc_array,
    sp.coo_array,
    sp.lil_array,
    sp.dok_array,
    sp.bsr_array,
    sp.dia_array,
]


@pytest.fixture(scope="module")
def sparse_problem():
    rng = np.random.RandomState(0)
    X = sp.random(300, 20, density=0.25, random_state=rng, format="csr")
    dense = X.toarray()
    y = dense[:, 0] * dense[:, 1] * 3 + dense[:, 2] + 0.05 * rng.normal(size=300)
    reference = FMRegressor(**FAST).fit(X, y)
    return X, y, reference


@pytest.mark.parametrize("container", SPARSE_CONTAINERS, ids=lambda c: c.__name__)
def test_every_sparse_format_trains_the_same_model(sparse_problem, container):
    X, y, reference = sparse_problem
    fm = FMRegressor(**FAST).fit(container(X), y)
    assert_array_equal(fm.factors_, reference.factors_)
    assert_array_equal(fm.predict(container(X)), reference.predict(X))


def test_explicit_zeros_and_duplicates_in_sparse_input(sparse_problem):
    X, y, reference = sparse_problem
    coo = X.tocoo()
    # Split every value in two duplicate entries and add explicit zeros.
    rows = np.concatenate([coo.row, coo.row, coo.row])
    cols = np.concatenate([coo.col, coo.col, (coo.col + 1) % X.shape[1]])
    data = np.concatenate([coo.data / 2, coo.data / 2, np.zeros(coo.nnz)])
    messy = sp.coo_matrix((data, (rows, cols)), shape=X.shape)
    fm = FMRegressor(**FAST).fit(messy, y)
    assert_allclose(fm.predict(X), reference.predict(X), rtol=1e-5)


@pytest.mark.parametrize("solver", ["adam", "sgd", "adagrad", "rmsprop"])
def test_dense_and_sparse_input_train_the_same_model(sparse_problem, solver):
    X, y, _ = sparse_problem
    sparse = FMRegressor(solver=solver, **FAST).fit(X, y)
    dense = FMRegressor(solver=solver, **FAST).fit(X.toarray(), y)
    # The same arithmetic in another order (matmul vs gather): float32 rounding
    # only. Adaptive optimizers would drift apart if the duplicate rows of
    # sparse gradients reached them unmerged.
    assert_allclose(dense.predict(X), sparse.predict(X), rtol=1e-4, atol=1e-5)


def test_sparse_input_is_not_modified(sparse_problem):
    X, y, _ = sparse_problem
    coo = X.tocoo()
    messy = sp.csr_matrix((np.r_[coo.data, 0.0], (np.r_[coo.row, 0], np.r_[coo.col, 0])), shape=X.shape)
    messy.has_canonical_format = False
    before = (messy.data.copy(), messy.indices.copy(), messy.indptr.copy())
    FMRegressor(**FAST).fit(messy, y)
    for original, now in zip(before, (messy.data, messy.indices, messy.indptr)):
        assert_array_equal(original, now)


def test_float32_and_float64_input_train_the_same_model(interaction_data):
    X, y = interaction_data
    X32 = X.astype(np.float32)
    a = FMRegressor(**FAST).fit(X32, y)
    b = FMRegressor(**FAST).fit(X32.astype(np.float64), y)
    assert_array_equal(a.factors_, b.factors_)
    # As the user guide says, unlike SGDRegressor's float32 coef_.
    assert a.coef_.dtype == a.factors_.dtype == a.predict(X32).dtype == np.float64


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
@pytest.mark.parametrize("kind", ["FM", "FFM", "FM classifier"])
def test_float32_input_predicts_as_its_values_in_float64(interaction_data, kind, container):
    # Squared in float32, 1e9 became 1e18 to 7 digits, and the difference of
    # the FM's two sums of squares lost its pairwise term: predictions 3x off.
    X, y = interaction_data
    model = {
        "FM": FMRegressor(**FAST),
        "FFM": FFMRegressor(fields=[0, 0, 1, 1, 2, 2], **FAST),
        "FM classifier": FMClassifier(**FAST),
    }[kind].fit(X, y if kind != "FM classifier" else y > np.median(y))
    large = X[:5].astype(np.float32)
    large[:, 0] = [1e6, 1e9, -1e9, 1e12, 1e20]
    scores = model.predict if kind != "FM classifier" else model.decision_function
    assert_array_equal(scores(container(large)), scores(container(large.astype(np.float64))))


def test_lists_and_dataframes(interaction_data):
    X, y = interaction_data
    reference = FMRegressor(**FAST).fit(X, y)
    from_list = FMRegressor(**FAST).fit(X.tolist(), y.tolist())
    assert_array_equal(from_list.predict(X.tolist()), reference.predict(X))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    from_frame = FMRegressor(**FAST).fit(frame, pd.Series(y))
    assert_array_equal(from_frame.feature_names_in_, frame.columns)
    assert_array_equal(from_frame.predict(frame), reference.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        from_frame.predict(frame[frame.columns[::-1]])


def test_an_array_for_a_model_fitted_on_a_frame_warns_once(interaction_data):
    X, y = interaction_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    model = FMRegressor(**FAST).fit(frame, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict(X)
    assert sum("does not have valid feature names" in str(w.message) for w in caught) == 1


def test_a_list_of_rows_names_the_column_that_holds_strings(interaction_data):
    X, y = interaction_data
    model = FMRegressor(**FAST).fit(X[:, :3], y)
    with pytest.raises(ValueError, match="The column 1 of X holds strings"):
        model.predict([[1.0, "a", 2.0]] * 3)


def test_predict_is_deterministic_and_exactly_batch_invariant(interaction_data, sparse_problem):
    X, y = interaction_data
    fm = FMRegressor(**FAST).fit(X, y)
    together = fm.predict(X)
    assert_array_equal(together, fm.predict(X))
    assert_array_equal(together, np.concatenate([fm.predict(X[i : i + 1]) for i in range(len(X))]))
    assert_array_equal(together, np.concatenate([fm.predict(X[i : i + 7]) for i in range(0, len(X), 7)]))
    Xs, _, sparse_fm = sparse_problem
    together = sparse_fm.predict(Xs)
    assert_array_equal(together, np.concatenate([sparse_fm.predict(Xs[i : i + 1]) for i in range(Xs.shape[0])]))


def test_dense_predict_takes_memory_bounded_by_blocks_of_rows(interaction_data, monkeypatch):
    # Read in float64 all at once, these 57 MiB of float32 rows took 385 MiB.
    X = np.random.RandomState(0).normal(size=(300_000, 50)).astype(np.float32)
    model = FMRegressor(n_factors=32, max_iter=1, tol=None, random_state=0)
    model.fit(X[:20], X[:20, 0])
    _, peak = with_peak_memory(model.predict, X)
    assert peak < 2**27
    # Blocks of 9 rows: every row is predicted as it is alone.
    monkeypatch.setattr("sklearn_fm._parameters._VALUES_PER_BLOCK", 100)
    X, y = interaction_data
    model = FMRegressor(**FAST).fit(X, y)
    one_by_one = np.concatenate([model.predict(X[i : i + 1]) for i in range(30)])
    assert_array_equal(model.predict(X[:30]), one_by_one)


def test_one_hot_ids_with_100k_columns_train_without_densifying():
    # A dense float32 copy would need 100,000 x 2,000 x 4 bytes = 800 MB;
    # the sparse path needs the non-zeros and the parameters.
    rng = np.random.RandomState(0)
    n_rows, n_users = 2000, 50_000
    users = rng.randint(n_users, size=n_rows)
    items = n_users + rng.randint(50_000, size=n_rows)
    rows = np.repeat(np.arange(n_rows), 2)
    X = sp.csr_matrix(
        (np.ones(2 * n_rows), (rows, np.column_stack([users, items]).ravel())),
        shape=(n_rows, 100_000),
    )
    y = rng.normal(size=n_rows)
    fm = FMRegressor(n_factors=4, max_iter=2, tol=None, random_state=0)
    fm.fit(X[:10], y[:10])  # imports TensorFlow, whose import is not measured
    predictions, peak = with_peak_memory(lambda: fm.fit(X, y).predict(X))
    assert peak < 200 * 2**20
    assert fm.factors_.shape == (100_000, 4)
    assert np.isfinite(predictions).all()


def test_regression_on_one_hot_ratings_beats_ridge():
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder

    from .conftest import make_ratings

    users, items, y = make_ratings()
    X = OneHotEncoder().fit_transform(np.column_stack([users, items]))
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    fm = FMRegressor(random_state=0).fit(X_train, y_train)
    ridge = Ridge().fit(X_train, y_train)
    assert r2_score(y_test, fm.predict(X_test)) > r2_score(y_test, ridge.predict(X_test)) + 0.2


def test_verbose_reports_every_epoch_and_why_training_stopped(interaction_data, capsys):
    X, y = interaction_data
    fm = FMRegressor(
        verbose=1, early_stopping=True, tol=1e-2, n_iter_no_change=1, max_iter=200, random_state=0
    ).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration ") == fm.n_iter_
    assert out.count("Validation score: ") == fm.n_iter_
    assert "Validation score did not improve more than " in out
    assert out.endswith("for 1 consecutive epochs. Stopping.\n")
    FMRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_verbose_reports_the_tol_a_short_epoch_was_asked(capsys):
    # tol is scaled to an epoch's share of 128 batches; the message named
    # the unscaled tol, which training had not applied.
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    fm = FMRegressor(verbose=1, tol=1e-2, n_iter_no_change=1, random_state=0).fit(X, y)
    n_batches = -(-200 // fm.batch_size_)
    assert n_batches < 128
    out = capsys.readouterr().out
    assert (
        f"did not improve more than {1e-2 * n_batches / 128:.3g} (tol=0.01 scaled to "
        "epochs of fewer than 128 batches)" in out
    )


def test_defaults_do_not_overfit_noisy_ratings():
    # With the earlier default penalties (1e-4) an FM overfits such ratings
    # far beyond Ridge, as it did on MovieLens 100K (RMSE 1.10 vs 0.95).
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder

    from .conftest import make_ratings

    users, items, y = make_ratings(
        300, 200, 15_000, factor_scale=0.55, noise=0.9, popularity=0.6, stars=True
    )
    X = OneHotEncoder().fit_transform(np.column_stack([users, items]))
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    fm = FMRegressor(random_state=0).fit(X_train, y_train)
    ridge = Ridge().fit(X_train, y_train)
    fm_rmse = np.sqrt(np.mean((fm.predict(X_test) - y_test) ** 2))
    ridge_rmse = np.sqrt(np.mean((ridge.predict(X_test) - y_test) ** 2))
    assert fm_rmse < ridge_rmse - 0.03


def test_auto_step_sizes_shrink_with_the_row_norm_and_numbers_are_kept():
    rng = np.random.RandomState(0)
    dense = rng.normal(size=(50, 200))
    dense /= np.sqrt((dense**2).sum(axis=1).mean() / 200)  # mean squared row norm 200
    ids = sp.csr_matrix((np.ones(100), (np.repeat(np.arange(50), 2), rng.randint(0, 20, 100))),
                        shape=(50, 20))
    ids.sum_duplicates()
    ids.data[:] = 1.0  # two non-zeros of 1 a row, or one where both drew the same id
    y = rng.normal(size=50)
    params = dict(n_factors=2, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = FMRegressor(**params).fit(dense, y)
        assert model.learning_rate_init_ == pytest.approx(0.015 * np.sqrt(8 / 200))
        assert model.init_std_ == pytest.approx(0.1 * np.sqrt(2 / 200))
        # The rate chosen when the model started is the one continued with.
        assert model.partial_fit(dense[:5] * 10, y[:5]).learning_rate_init_ == pytest.approx(
            0.015 * np.sqrt(8 / 200)
        )
        model = FMRegressor(**params).fit(ids, y)
        assert (model.learning_rate_init_, model.init_std_) == (0.015, 0.1)
        model = FMRegressor(learning_rate_init=0.05, init_std=0.5, **params).fit(dense, y)
        assert (model.learning_rate_init_, model.init_std_) == (0.05, 0.5)


def test_starts_from_the_penalised_linear_model_without_early_stopping():
    # The objective without factors is Ridge(alpha=alpha_linear) of the
    # standardised target; a rate too small to move the weights shows the
    # start.
    X, y = make_regression(n_samples=80, n_features=100, n_informative=10, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    params = dict(learning_rate_init=1e-9, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        started = FMRegressor(early_stopping=False, **params).fit(X, y)
        from_zero = FMRegressor(early_stopping=True, **params).fit(X, y)
    ridge = Ridge(alpha=1.0).fit(X, y)
    scale = np.abs(ridge.coef_).max()
    assert_allclose(started.coef_, ridge.coef_, atol=1e-3 * scale)
    assert started.intercept_ == pytest.approx(ridge.intercept_, abs=1e-3 * scale)
    # With early stopping the epochs start from zero, and validation chooses.
    assert np.abs(from_zero.coef_).max() < 1e-3 * scale


def test_the_linear_start_weighs_the_rows_by_their_sample_weights():
    # One-hot rows: each weight solves the one-dimensional ridge problem of
    # its row, s_j (y_j - b - w_j)**2 / 2 + alpha_linear / 2 w_j**2.
    X = sp.csr_matrix(np.eye(4))
    y = np.array([1.0, -1.0, 2.0, 0.0])
    weights = np.array([3.0, 1.0, 1.0, 1.0])
    model = FMRegressor(alpha_linear=0.5, alpha_uniform=1.0, learning_rate_init=1e-9,
                        max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=weights)
    # In the units of y (the standardisation scales both sides alike), with
    # the weights scaled to mean 1 as training scales them.
    s = weights / weights.mean()
    expected = s * (y - model.intercept_) / (s + 0.5)
    assert_allclose(model.coef_, expected, atol=1e-5)


@pytest.mark.parametrize(
    "n_samples, batch_size",
    # The power of 2 nearest to n / 200, within [16, 4096], at most n.
    [(10, 10), (300, 16), (6_000, 32), (100_000, 512), (200_000, 1024), (1_000_000, 4096)],
)
def test_auto_batch_size_gives_about_200_steps_per_epoch(n_samples, batch_size):
    X = sp.random(n_samples, 3, density=1 / 3, format="csr", random_state=0)
    y = np.arange(n_samples) % 2.0
    model = FMRegressor(n_factors=1, max_iter=1, early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert model.fit(X, y).batch_size_ == batch_size
        assert model.set_params(batch_size=64).fit(X, y).batch_size_ == min(64, n_samples)


def test_auto_early_stopping_holds_out_data_above_2000_samples():
    X, y = make_interaction_data(n_samples=2001)
    large = FMRegressor(n_factors=2, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        large.fit(X, y)
        assert large.early_stopping_ is True and len(large.validation_scores_) == 3
        # The validation tenth is set aside before the batch size is chosen.
        assert large.batch_size_ == 16
        small = FMRegressor(n_factors=2, max_iter=3, random_state=0).fit(X[:2000], y[:2000])
        assert small.early_stopping_ is False and small.validation_scores_ is None
        # partial_fit never holds data out with "auto", and refuses True.
        assert large.partial_fit(X, y).early_stopping_ is False
    with pytest.raises(ValueError, match="early_stopping=True"):
        large.set_params(early_stopping=True).partial_fit(X, y)


def test_an_affine_change_of_y_changes_only_the_units_of_the_model(interaction_data):
    # y is standardised for training, so the same model is trained in other
    # units: predictions move with y, the R² does not.
    X, y = interaction_data
    reference = FMRegressor(**FAST).fit(X, y)
    for scale, shift in [(1000.0, 5.0), (1e-6, -3.0), (1e30, 0.0), (2.0, 1e6)]:
        model = FMRegressor(**FAST).fit(X, scale * y + shift)
        assert_allclose(model.predict(X), scale * reference.predict(X) + shift, rtol=1e-6, atol=1e-6 * abs(shift))
        assert model.score(X, scale * y + shift) == pytest.approx(reference.score(X, y), abs=1e-6)
        # Fitted attributes are in the units of y.
        assert model.intercept_ == pytest.approx(scale * reference.intercept_ + shift, rel=1e-6, abs=1e-6 * abs(shift))
        # float32 training rounds the standardised targets' last bits.
        assert_allclose(model.coef_, scale * reference.coef_, rtol=1e-4, atol=1e-6 * abs(scale))
        assert_allclose(
            model.factors_ @ model.factors_.T, scale * reference.factors_ @ reference.factors_.T,
            rtol=1e-4, atol=1e-6 * abs(scale),
        )
    # Pairwise weights <v_i, v_j> cannot all change sign, so -y trains
    # another model; it fits as well.
    mirrored = FMRegressor(**FAST).fit(X, -y)
    assert mirrored.score(X, -y) == pytest.approx(reference.score(X, y), abs=0.01)


def test_an_unscaled_target_trains_as_well_as_a_scaled_one():
    # Before y was standardised, Adam at the default rate could not move the
    # weights far enough for a target in the hundreds (R² 0.2 on diabetes).
    X, y = make_interaction_data(n_samples=600, noise=0.3)
    model = FMRegressor(random_state=0).fit(X[:400], 150 + 60 * y[:400])
    assert model.score(X[400:], 150 + 60 * y[400:]) > 0.95


def test_partial_fit_keeps_the_standardisation_of_its_first_call_while_the_stream_fits_it(
    interaction_data,
):
    X, y = interaction_data
    model = FMRegressor(**FAST).partial_fit(X[:300], y[:300] + 10)
    mean, std = model._y_train_mean, model._y_train_std
    assert mean == pytest.approx(np.mean(y[:300] + 10)) and std == pytest.approx(np.std(y[:300]))
    model.partial_fit(X[300:450], y[300:450] + 10)
    assert (model._y_train_mean, model._y_train_std) == (mean, std)
    # Targets spread five times as wide, about another mean: the stream so
    # far sets the units.
    model.partial_fit(X[450:], 5 * y[450:])
    seen = np.r_[y[:450] + 10, 5 * y[450:]]
    assert model._y_seen.weight == len(seen)
    assert model._y_train_mean == pytest.approx(np.mean(seen))
    assert model._y_train_std == pytest.approx(np.std(seen))
    assert model.best_loss_ == model.loss_curve_[-1]  # no loss of the old units is compared
    # A fresh fit standardises anew.
    model.fit(X, 5 * y)
    assert model._y_train_std == pytest.approx(5 * np.std(y))


@pytest.mark.parametrize("first, size", [([0.01], 2), ([1.0, 1.001], 2), ([8.0], 10)])
def test_a_stream_of_small_chunks_learns_whatever_its_first_targets(first, size):
    # The first chunk set the units for good: one target of 0.01 in a stream
    # spread by 4 left R² 0.03 after three passes of one row per call; a
    # first row of 8 and then chunks of 10 left the intercept near 8 (-1.08).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = X @ [1.0, -2.0, 0.5, 3.0]
    y[: len(first)] = first
    starts = [0, len(first), *range(len(first) + size, len(y), size)]
    model = FMRegressor(n_factors=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            for start, stop in zip(starts, [*starts[1:], len(y)]):
                model.partial_fit(X[start:stop], y[start:stop])
    assert model.score(X[10:], y[10:]) > 0.9


def test_a_later_chunk_of_another_scale_sets_the_units_and_light_chunks_do_not(interaction_data):
    X, y = interaction_data
    model = FMRegressor(**FAST).partial_fit(X[:300], y[:300])
    units = (model._y_train_mean, model._y_train_std)
    model.partial_fit(X[300:400], 10 * y[300:400], sample_weight=np.full(100, 1e-9))
    assert (model._y_train_mean, model._y_train_std) == units  # 1e-7 of the weight seen
    # Refused before as beyond float32 in the first call's units.
    model.partial_fit(X[400:], 1e25 * y[400:])
    assert model._y_train_std > 1e24
    assert np.isfinite(model.predict(X)).all()


def test_a_warm_started_fit_on_targets_of_another_scale_sets_the_units():
    X, y = make_interaction_data(n_samples=600, noise=0.3)
    model = FMRegressor(warm_start=True, random_state=0).fit(X[:400], y[:400])
    model.fit(X[:400], 150 + 1000 * y[:400])
    assert model._y_train_std == pytest.approx(1000 * np.std(y[:400]))
    assert model.score(X[400:], 150 + 1000 * y[400:]) > 0.9  # 0.34 in the old units


def test_new_units_move_the_intercept_by_the_mean_residual_of_their_targets():
    # Moved by the change of the targets' mean, a model that already
    # predicted the new targets (here from new inputs) was thrown off:
    # R² -45 where it had 0.92.
    rng = np.random.RandomState(0)
    near, far = rng.uniform(0, 1, (200, 1)), rng.uniform(2, 3, (200, 1))
    model = FMRegressor(n_factors=1, warm_start=True, random_state=0).fit(near, 3 * near[:, 0])
    before = model.score(far, 3 * far[:, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(max_iter=1, learning_rate_init=1e-300).fit(far, 3 * far[:, 0])
    assert model._y_train_mean == pytest.approx(np.mean(3 * far))  # new units
    assert model.score(far, 3 * far[:, 0]) >= before > 0.5


def test_a_stream_of_single_rows_keeps_its_intercept_near_the_mean_of_the_targets_seen():
    # New units moved the intercept by the whole mean residual of the call's
    # targets: fed one row at a time (as River's learn_one), the row of 2
    # that set new units among ratings near 8 left the intercept at 2.2
    # where the targets' mean was 6.6. The targets seen before, which the
    # model fits, count as residuals of 0.
    ratings = np.array([8.0, 9.0, 8.0, 2.0, 5.0, 8.0, 9.0, 8.0, 2.0])
    X = np.zeros((1, 1))
    model = FMRegressor(n_factors=2, random_state=42)
    for rating in ratings:
        model.partial_fit(X, [rating])
    assert model.predict(X)[0] == pytest.approx(ratings.mean(), abs=0.5)


def test_the_weight_of_the_targets_seen_stays_finite(tmp_path):
    X, y = make_interaction_data(n_samples=40)
    model = FMRegressor(**FAST).partial_fit(X[:20], y[:20], sample_weight=np.full(20, 1e308))
    model.partial_fit(X[20:], y[20:])
    assert np.isfinite(model._y_seen.weight) and np.isfinite(model.predict(X)).all()
    model.save(tmp_path / "model.fm")
    assert_array_equal(sklearn_fm.load(tmp_path / "model.fm").predict(X), model.predict(X))


def test_new_units_of_targets_near_the_largest_float_move_the_intercept_finitely():
    # The whole mean residual (3e308) overflowed before its share (half)
    # was taken: a RuntimeWarning, a diverged epoch, and a model left
    # predicting -1.6e308 for targets of +1.6e308.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    model = FMRegressor(random_state=0).partial_fit(X[:20], -1.5e308 * (1 + 0.1 * rng.rand(20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.partial_fit(X[20:], 1.5e308 * (1 + 0.1 * rng.rand(20)))
    assert np.isfinite(model.predict(X)).all()
    assert abs(model.intercept_) < 1.5e307  # the targets seen average about 0


def test_targets_near_the_largest_float_train_a_finite_model():
    model = FMRegressor(**FAST).fit(np.eye(3), [1.5e308, 1.5e308, -1.5e308])
    assert np.isfinite(model.predict(np.eye(3))).all()


@pytest.mark.parametrize("first", ["one row", "constant rows"])
def test_a_stream_whose_first_chunk_has_no_spread_trains_in_the_scale_of_its_targets(first):
    # A first chunk without spread was standardised by 1, and the later
    # targets, spread by 1,000, trained a thousand units wide: RMSE 2,141
    # where the stream without that chunk reached 34 (the constant, 1,373).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 4))
    y = 1000 * (X[:, 0] * X[:, 1] + X[:, 2]) + 5000
    head = (X[:1], y[:1]) if first == "one row" else (X[:20], np.full(20, 5000.0))

    def stream_rmse(*chunks):
        model = FMRegressor(random_state=0)
        for _ in range(5):
            for X_chunk, y_chunk in chunks:
                model.partial_fit(X_chunk, y_chunk)
        return np.sqrt(np.mean((model.predict(X) - y) ** 2))

    body = [(X[i : i + 200], y[i : i + 200]) for i in range(0, 1000, 200)]
    # Its targets are narrower in training units, so it trains a little less
    # close than the stream without it (244 or 181 against 48 in 5 passes).
    assert stream_rmse(head, *body) < 0.25 * np.std(y)


def test_weighted_targets_are_standardised_with_their_weights():
    X = np.eye(4)
    y = np.array([0.0, 1.0, 100.0, 3.0])
    model = FMRegressor(**FAST).fit(X, y, sample_weight=[1.0, 1.0, 0.0, 2.0])
    assert model._y_train_mean == pytest.approx(np.average(y, weights=[1, 1, 0, 2]))
    assert model._y_train_std == pytest.approx(np.sqrt(np.cov(y, aweights=[1, 1, 0, 2], bias=True)))


def test_a_spread_of_a_few_units_in_the_last_place_is_learned():
    # Taken for rounding error and standardised by 1, such a target left the
    # model's float32 noise a million times its spread (R² -3e7), and
    # integers near 2**62 gave a constant model (R² 0).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    signal = X[:, 0] + X[:, 1] + 0.1 * rng.normal(size=300)
    for y in (1e6 + 1e-9 * signal, 2**62 + (1000 * signal).astype(np.int64)):
        assert FMRegressor(max_iter=20, random_state=0).fit(X, y).score(X, y) > 0.9


def test_a_constant_target_is_predicted():
    X, _ = make_interaction_data(n_samples=100)
    for value in (0.0, 7.5, -1e6):
        model = FMRegressor(**FAST).fit(X, np.full(100, value))
        assert model._y_train_std == 1.0
        # Within what the random initial factors leave after training.
        assert_allclose(model.predict(X), value, atol=0.05)


def test_penalty_scales_record_the_validation_error_of_each_previous_epoch():
    # With early stopping, each epoch's penalties are multiplied by the
    # previous epoch's mean squared validation error of the standardised
    # target, at most 1. That error is (1 - R²) times the variance of the
    # standardised validation targets, the same in every epoch.
    X, y = make_interaction_data(n_samples=3000, noise=0.1)
    model = FMRegressor(n_factors=4, max_iter=8, tol=None, early_stopping=True, random_state=0)
    model.fit(X, y)
    scales, scores = np.array(model.penalty_scales_), np.array(model.validation_scores_)
    assert len(scales) == model.n_iter_ == 8
    assert scales[0] == 1.0
    variance = scales[1:] / (1 - scores[:-1])
    assert_allclose(variance, variance[0], rtol=1e-6)
    assert 0.8 < variance[0] < 1.2  # a random tenth of standardised targets
    # Nearly noise-free data are barely penalised once the model fits them.
    assert scales[-1] < 0.05
    # On noisy data the factor stays near the noise's share of the variance.
    noisy = FMRegressor(n_factors=4, max_iter=8, tol=None, early_stopping=True, random_state=0)
    noisy_y = y + np.random.RandomState(1).normal(scale=3 * y.std(), size=y.shape)
    assert 0.8 < noisy.fit(X, noisy_y).penalty_scales_[-1] <= 1.0
    # Without early stopping there is no estimate: the penalties stay as set.
    model.set_params(early_stopping=False).fit(X, y)
    assert model.penalty_scales_ == [1.0] * 8


def test_penalty_scales_continue_over_partial_fit_and_warm_start(interaction_data):
    X, y = interaction_data
    model = FMRegressor(**FAST, early_stopping=True, warm_start=True).fit(X, y)
    first = list(model.penalty_scales_)
    model.fit(X, y)
    assert len(model.penalty_scales_) == model.n_iter_ == 60
    assert model.penalty_scales_[:30] == first
    # The second fit estimates anew: its first epoch is unscaled.
    assert model.penalty_scales_[30] == 1.0
    model.set_params(early_stopping=False).partial_fit(X, y)
    assert model.penalty_scales_[-1] == 1.0 and len(model.penalty_scales_) == 61


def test_a_sample_of_negligible_weight_leaves_the_targets_trainable():
    # Found by hypothesis in CI: the weighted standard deviation of y was
    # 7e-104, which put the light sample 1e103 deviations from the mean.
    X = np.zeros((2, 1))
    model = FMRegressor(**FAST).fit(X, [0.0, 1.0], sample_weight=[1.0, 4.7e-207])
    prediction = model.predict(X)
    assert np.isfinite(prediction).all()
    assert_allclose(prediction, 0.0, atol=1e-3)  # the heavy sample's target


def test_targets_of_samples_of_zero_weight_take_no_part_in_training():
    X = np.eye(3)
    y = np.array([0.0, 1.0, 1e30])
    model = FMRegressor(**FAST).fit(X, y, sample_weight=[1.0, 1.0, 0.0])
    assert model._y_train_mean == pytest.approx(0.5)
    assert model._y_train_std == pytest.approx(0.5)
    assert np.isfinite(model.predict(X)).all()
