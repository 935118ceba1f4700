"""FMClassifier's behaviour: labels, probabilities, class and sample weights,
incremental training, and the gradient of its loss."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logit
from sklearn.feature_selection import RFE, SelectFromModel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, recall_score

from sklearn_fm import FFMClassifier, FMClassifier

from .conftest import numerical_gradient, with_peak_memory

FAST = dict(n_factors=4, max_iter=30, tol=None, random_state=0)


def binary_data(n_samples=400, seed=0):
    """The class depends on the sign of x0 * x1: a pure interaction."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 4))
    return X, (X[:, 0] * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int)


def multiclass_data(n_samples=600, seed=0):
    """Three classes whose scores are pairwise interactions."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 4))
    scores = np.column_stack([X[:, 0] * X[:, 1], X[:, 2] * X[:, 3], -X[:, 0] * X[:, 1]])
    return X, scores.argmax(axis=1)


def test_learns_a_planted_interaction_that_logistic_regression_cannot():
    # Noise-free classes: a light penalty lets the scores grow steep.
    X, y = binary_data()
    X_test, y_test = binary_data(seed=1)
    fm = FMClassifier(alpha_factors=0.01, random_state=0).fit(X, y)
    assert fm.score(X_test, y_test) > 0.95
    assert LogisticRegression().fit(X, y).score(X_test, y_test) < 0.7
    X, y = multiclass_data()
    X_test, y_test = multiclass_data(seed=1)
    assert FMClassifier(alpha_factors=0.01, random_state=0).fit(X, y).score(X_test, y_test) > 0.93
    assert LogisticRegression().fit(X, y).score(X_test, y_test) < 0.5


X_BINARY, Y_BINARY = binary_data()
LABELS = {
    "ints": lambda y: np.array([-3, 4])[y],
    "bools": lambda y: y.astype(bool),
    "strings": lambda y: np.array(["no", "yes"])[y],
    "objects": lambda y: np.array(["no", "yes"], dtype=object)[y],
    "categorical": lambda y: pd.Categorical(np.array(["no", "yes"])[y]),
    "categorical series": lambda y: pd.Series(pd.Categorical.from_codes(y, ["no", "yes"])),
}


@pytest.mark.parametrize("encoding", LABELS)
def test_labels_of_any_type_come_back_from_predict(encoding):
    labels = LABELS[encoding](Y_BINARY)
    expected = np.unique(np.asarray(labels))
    fm = FMClassifier(**FAST).fit(X_BINARY, labels)
    assert_array_equal(fm.classes_, expected)
    predicted = fm.predict(X_BINARY)
    assert predicted.dtype == fm.classes_.dtype
    assert set(predicted) <= set(expected)
    # Labels are only names: each encoding sorts the same way, so it trains
    # the same model as the 0/1 labels.
    reference = FMClassifier(**FAST).fit(X_BINARY, Y_BINARY)
    assert_array_equal(fm.predict_proba(X_BINARY), reference.predict_proba(X_BINARY))
    assert_array_equal(predicted, expected[reference.predict(X_BINARY)])
    assert fm.score(X_BINARY, labels) == reference.score(X_BINARY, Y_BINARY) > 0.85


@pytest.mark.parametrize("n_classes", [2, 3])
def test_probability_columns_follow_classes(n_classes):
    # A rare class named so that it sorts first in one fit and last in the
    # other: its column must move with it.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 3))
    frequencies = [0.1, 0.9] if n_classes == 2 else [0.1, 0.3, 0.6]
    codes = rng.choice(n_classes, size=2000, p=frequencies)
    for names in (["a", "b", "c"][:n_classes], ["z", "y", "x"][:n_classes]):
        y = np.array(names)[codes]
        fm = FMClassifier(**FAST).fit(X, y)
        proba = fm.predict_proba(X)
        assert proba.shape == (2000, n_classes)
        assert_allclose(proba.sum(axis=1), 1.0)
        assert proba.min() >= 0
        for column, name in enumerate(fm.classes_):
            assert proba[:, column].mean() == pytest.approx(np.mean(y == name), abs=0.02)
        assert_array_equal(fm.classes_[proba.argmax(axis=1)], fm.predict(X))
        assert_allclose(fm.predict_log_proba(X), np.log(proba), rtol=1e-10, atol=1e-12)


def test_decision_function_is_one_score_for_two_classes_and_one_per_class_otherwise():
    binary = FMClassifier(**FAST).fit(X_BINARY, Y_BINARY)
    scores = binary.decision_function(X_BINARY)
    assert scores.shape == (400,)
    assert isinstance(binary.intercept_, float)
    assert binary.coef_.shape == (4,) and binary.factors_.shape == (4, 4)
    # The score is the log-odds of classes_[1].
    assert_allclose(scores, logit(binary.predict_proba(X_BINARY)[:, 1]), rtol=1e-6)
    assert_array_equal(binary.predict(X_BINARY), binary.classes_[(scores > 0).astype(int)])

    X, y = multiclass_data()
    multi = FMClassifier(**FAST).fit(X, np.array(["up", "down", "flat"])[y])
    scores = multi.decision_function(X)
    assert scores.shape == (600, 3)
    assert multi.intercept_.shape == (3,)
    assert multi.coef_.shape == (3, 4) and multi.factors_.shape == (3, 4, 4)
    assert_array_equal(multi.predict(X), multi.classes_[scores.argmax(axis=1)])
    # Scores are defined up to a constant per row; the probabilities are their softmax.
    proba = np.exp(scores - scores.max(axis=1, keepdims=True))
    assert_allclose(multi.predict_proba(X), proba / proba.sum(axis=1, keepdims=True))


# FMClassifier trains the FM g whose scores are LOGISTIC_STD * g.
LOGISTIC_STD = np.pi / np.sqrt(3)


def stated_objective(theta, X, y, s, alphas, n_outputs, n_factors):
    """Log-loss (softmax cross-entropy with several outputs) of the scores
    LOGISTIC_STD * g plus the per-row penalties, in float64, for theta = (w0,
    w, V) flattened as the parameters of g, in the estimator's layout: w0
    (C,), w (C, d), V (C, d, k)."""
    n, d = X.shape
    C = n_outputs
    w0, w, V = theta[:C], theta[C : C + d * C].reshape(C, d), theta[C + d * C :].reshape(C, d, n_factors)
    xv = np.einsum("nd,cdk->nck", X, V)
    x2v2 = np.einsum("nd,cd->nc", X**2, (V**2).sum(axis=2))
    raw = LOGISTIC_STD * (w0 + X @ w.T + 0.5 * ((xv**2).sum(axis=2) - x2v2))
    if C == 1:
        loss = np.logaddexp(0, raw[:, 0]) - y * raw[:, 0]
    else:
        loss = np.logaddexp.reduce(raw, axis=1) - raw[np.arange(n), y.astype(int)]
    alpha_linear, alpha_factors = alphas
    per_row = 0.5 * alpha_factors * (X != 0) @ (V**2).sum((0, 2))
    s = s / s.mean()
    return (s * (loss + per_row)).sum() / n + alpha_linear / (2 * n) * (w**2).sum()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sgd_steps_follow_the_log_loss_gradient(n_classes):
    # Full-batch SGD: one step per epoch, theta -= rate * grad J(theta).
    rng = np.random.RandomState(0)
    X = sp.random(40, 5, density=0.5, random_state=rng, format="csr").toarray()
    y = rng.randint(n_classes, size=40)
    s = rng.uniform(0.5, 2.0, size=40)
    alphas = (0.05, 0.2)
    fm = FMClassifier(
        n_factors=3, alpha_linear=alphas[0], alpha_factors=alphas[1], alpha_uniform=0.0,
        solver="sgd", learning_rate="constant", learning_rate_init=0.1, batch_size=40,
        init_std=0.5, random_state=0,
    )
    n_outputs = 1 if n_classes == 2 else n_classes

    def objective(theta):
        return stated_objective(theta, X, y, s, alphas, n_outputs, 3)

    def theta():  # the parameters of g, from those of the scores
        return np.concatenate([
            np.ravel(fm.intercept_) / LOGISTIC_STD,
            fm.coef_.ravel() / LOGISTIC_STD,
            fm.factors_.ravel() / np.sqrt(LOGISTIC_STD),
        ])

    fm.partial_fit(X, y, classes=np.arange(n_classes), sample_weight=s)
    for _ in range(3):
        before = theta()
        fm.partial_fit(X, y, sample_weight=s)
        gradient = (before - theta()) / 0.1
        assert_allclose(gradient, numerical_gradient(objective, before), rtol=1e-3, atol=1e-5)
        assert fm.loss_curve_[-1] == pytest.approx(objective(before), rel=1e-5)


def test_training_starts_from_the_class_priors():
    X = np.zeros((100, 2))  # no feature signal
    y = np.repeat([0, 1, 2], [20, 30, 50])
    # With a negligible learning rate the model is the one training started from.
    for labels, priors in [(y, [0.2, 0.3, 0.5]), (y == 0, [0.8, 0.2])]:
        fm = FMClassifier(learning_rate_init=1e-9, max_iter=1, tol=None, random_state=0)
        assert_allclose(fm.fit(X, labels).predict_proba(X[:1])[0], priors, rtol=1e-6)
    # Trained, the priors are also the optimum; weighted samples count as often.
    fm = FMClassifier(max_iter=300, tol=None, random_state=0)
    fm.fit(X, y, sample_weight=np.repeat([1.0, 1.0, 0.2], [20, 30, 50]))
    assert_allclose(fm.predict_proba(X[:1])[0], [1 / 3, 1 / 2, 1 / 6], atol=0.01)


def test_a_class_whose_samples_all_weigh_zero_is_predicted_as_rarely_as_a_tiny_weight_gives():
    # It started from equal odds, as a class missing from a stream's first
    # chunk does, and came out with probabilities up to 0.86 (0.0003 for a
    # weight of 1e-12).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    probabilities = [
        FMClassifier(max_iter=30, random_state=0)
        .fit(X, y, sample_weight=np.where(y == 1, weight, 1.0))
        .predict_proba(X)[:, 1]
        for weight in (0.0, 1e-12)
    ]
    assert probabilities[0].max() < 0.01
    assert_allclose(probabilities[0], probabilities[1], atol=1e-3)


def test_class_weight_dict_is_the_same_as_those_sample_weights():
    X, y = multiclass_data()
    weighted = FMClassifier(class_weight={0: 1.0, 1: 3.0, 2: 0.5}, **FAST).fit(X, y)
    by_sample = FMClassifier(**FAST).fit(X, y, sample_weight=np.array([1.0, 3.0, 0.5])[y])
    assert_array_equal(weighted.predict_proba(X), by_sample.predict_proba(X))
    # Both together multiply; classes missing from the dict weigh 1.
    both = FMClassifier(class_weight={1: 3.0}, **FAST)
    both.fit(X, y, sample_weight=np.where(y == 2, 0.5, 1.0))
    assert_array_equal(both.predict_proba(X), by_sample.predict_proba(X))


@pytest.mark.parametrize("huge", [1e308, np.finfo(np.float64).max])
def test_class_weights_of_any_magnitude_train_as_their_ratios(huge):
    # Their products with the sample weights once overflowed to a NaN intercept.
    X, y = multiclass_data()
    plain = FMClassifier(**FAST).fit(X, y)
    same = FMClassifier(class_weight={0: huge, 1: huge, 2: huge}, **FAST).fit(X, y)
    assert_array_equal(same.predict_proba(X), plain.predict_proba(X))
    ratios = FMClassifier(class_weight={0: 1.0, 1: 3.0, 2: 0.5}, **FAST).fit(X, y)
    scaled = FMClassifier(class_weight={0: huge / 3, 1: huge, 2: huge / 6}, **FAST).fit(X, y)
    assert np.isfinite(scaled.intercept_).all()
    assert_allclose(scaled.predict_proba(X), ratios.predict_proba(X), rtol=1e-5)


def test_balanced_class_weight_raises_the_recall_of_a_rare_class():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1500, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=1500) > 1.6).astype(int)  # about 6% positive
    plain = FMClassifier(**FAST).fit(X, y)
    balanced = FMClassifier(class_weight="balanced", **FAST).fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.2
    # Its probabilities rise several-fold over the 6% the unweighted model gives.
    assert balanced.predict_proba(X)[:, 1].mean() > 0.2 > 0.1 > plain.predict_proba(X)[:, 1].mean()


def test_sample_weight_sets_the_probability_of_identical_samples():
    # Each row of eye(4) appears with both labels; the weighted frequency of
    # label 1 is the probability a well-fitted model gives it.
    X = np.tile(np.eye(4), (100, 1))
    y = np.tile([0, 0, 0, 0, 1, 1, 1, 1], 50)
    sample_weight = np.tile([3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0], 50)
    fm = FMClassifier(
        alpha_linear=0.0, alpha_factors=0.0, alpha_uniform=0.0, batch_size=len(y),
        max_iter=500, learning_rate="constant", learning_rate_init=0.05, tol=None, random_state=0,
    ).fit(X, y, sample_weight=sample_weight)
    assert_allclose(fm.predict_proba(np.eye(4))[:, 1], [0.25, 0.25, 0.75, 0.75], atol=0.01)


def test_partial_fit_streams_chunks_that_lack_some_classes():
    X, y = multiclass_data(n_samples=900)
    # A constant rate: the default schedule counts every call as an epoch.
    fm = FMClassifier(alpha_factors=0.01, learning_rate="constant", batch_size=64, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        fm.partial_fit(X, y)
    first = np.flatnonzero(y == 0)[:50]  # one class only
    fm.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert_array_equal(fm.classes_, [0, 1, 2])
    assert fm.coef_.shape == (3, 4)
    rng = np.random.RandomState(0)
    for epoch in range(20):
        for chunk in np.array_split(rng.permutation(900), 3):
            fm.partial_fit(X[chunk], y[chunk])
    assert fm.n_iter_ == 61
    assert fm.score(X, y) > 0.83
    with pytest.raises(ValueError, match=r"classes=\[0, 1\] differs from the classes \[0, 1, 2\]"):
        fm.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"y contains labels \[7\] that are not in classes_"):
        fm.partial_fit(X[:2], [0, 7])
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported by partial_fit"):
        FMClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("estimator", [FMClassifier, FFMClassifier])
@pytest.mark.parametrize(
    "classes, beyond", [([], "[0, 1]"), (np.array([], dtype=int), "[0, 1]"), ([0], "[1]")]
)
def test_partial_fit_refuses_classes_of_fewer_than_two_labels(estimator, classes, beyond):
    # An empty list raised a bare IndexError; [0] for y of 0 and 1 said the
    # data held only one class.
    X, y = np.eye(4), [0, 1, 0, 1]
    not_in = rf"y contains labels \{beyond[:-1]}\] that are not in classes \["
    with pytest.raises(ValueError, match=not_in):
        estimator().partial_fit(X, y, classes=classes)


def test_partial_fit_weighs_classes_by_a_dict_whatever_classes_a_chunk_holds():
    # As SGDClassifier: the dict is read over all classes. Computed over the
    # chunk's classes, it was refused for a chunk without a weighted class.
    X, y = multiclass_data(n_samples=300)
    first = np.flatnonzero(y != 2)
    for class_weight in ({2: 5.0}, {0: 1.0, 2: 5.0}):
        fm = FMClassifier(class_weight=class_weight, random_state=0)
        fm.partial_fit(X[first], y[first], classes=[0, 1, 2]).partial_fit(X, y)
        assert fm.n_iter_ == 2
    # A weight of 0 for a class a chunk lacks changes nothing in that chunk.
    unweighted = FMClassifier(random_state=0).partial_fit(X[first], y[first], classes=[0, 1, 2])
    weighted = FMClassifier(class_weight={2: 0.0}, random_state=0)
    weighted.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert_array_equal(weighted.factors_, unweighted.factors_)


@pytest.mark.parametrize("data", [binary_data, multiclass_data])
def test_a_stream_that_starts_with_one_class_learns_the_others_at_once(data):
    # Its first chunk once set the other classes' log-prior near log(1e-3),
    # which took some 40 more calls to leave.
    X, y = data(n_samples=1200)
    classes = np.unique(y)
    first = np.flatnonzero(y == 0)[:100]
    fm = FMClassifier(random_state=0).partial_fit(X[first], y[first], classes=classes)
    rest = np.setdiff1d(np.arange(1200), first)
    for chunk in np.array_split(rest, 10)[:4]:
        fm.partial_fit(X[chunk], y[chunk])
    assert_array_equal(np.unique(fm.predict(X)), classes)
    assert fm.score(X, y) > 0.7


def test_partial_fit_keeps_reducing_the_log_loss():
    X, y = binary_data()
    fm = FMClassifier(batch_size=32, random_state=0)
    losses = []
    for _ in range(10):
        fm.partial_fit(X, y, classes=[0, 1])
        losses.append(log_loss(y, fm.predict_proba(X)))
    assert losses[-1] < 0.65 * losses[0]
    assert fm.loss_curve_[-1] < fm.loss_curve_[0]


@pytest.mark.parametrize(
    "y, message",
    [
        (np.linspace(0, 1, 400), "Unknown label type: continuous"),
        (np.ones(400), "needs samples of at least 2 classes.*only one class: 1.0"),
        (np.array(["spam"] * 400), "only one class: 'spam'"),
        (np.column_stack([Y_BINARY, Y_BINARY]), "y should be a 1d array"),
    ],
)
def test_targets_that_are_not_classes_raise_a_clear_error(y, message):
    with pytest.raises(ValueError, match=message):
        FMClassifier().fit(X_BINARY, y)


@pytest.mark.parametrize(
    "n_samples, fraction", [(3, 0.1), (12, 0.9)], ids=["a class of one", "one training row"]
)
def test_a_stratified_split_too_small_names_early_stopping(n_samples, fraction):
    # scikit-learn's own message named neither early_stopping nor validation_fraction.
    X, y = multiclass_data(n_samples=n_samples)
    fm = FMClassifier(early_stopping=True, validation_fraction=fraction)
    with pytest.raises(ValueError, match=rf"early_stopping with validation_fraction={fraction}"):
        fm.fit(X, np.arange(n_samples) % 2)


def test_auto_early_stopping_trains_on_every_row_where_no_stratified_split_exists():
    # Above 2,000 samples 'auto' held out a stratified validation set and
    # refused data that allow none, which the user had not asked for.
    X = np.random.RandomState(0).normal(size=(2100, 3))
    one_positive = (np.arange(2100) == 7).astype(int)
    targets = {
        "a class of one sample": np.where(np.arange(2100) == 7, "rare", np.arange(2100) % 2).astype(str),
        "more classes than validation rows": np.arange(2100) % 250,
        "one positive": one_positive,
    }
    for name, y in targets.items():
        model = FMClassifier(n_factors=2, max_iter=2, tol=None, random_state=0).fit(X, y)
        assert model.early_stopping_ is False and model.validation_scores_ is None, name
        assert_array_equal(model.classes_, np.unique(y))
    with pytest.raises(ValueError, match="validation samples of every class"):
        FMClassifier(early_stopping=True, max_iter=2).fit(X, one_positive)


def test_early_stopping_scores_log_loss_on_a_stratified_split():
    X, y = multiclass_data()
    fm = FMClassifier(
        early_stopping=True, alpha_factors=0.01, max_iter=40, tol=None, random_state=0
    ).fit(X, y)
    assert len(fm.validation_scores_) == 40
    assert fm.best_validation_score_ == max(fm.validation_scores_)
    assert -0.35 < fm.best_validation_score_ < 0
    # The log-loss has no noise level to estimate: the penalties stay as set.
    assert fm.penalty_scales_ == [1.0] * 40
    # Each class is held out in its proportion, even a rare one.
    rare = np.repeat([0, 1, 2], [270, 270, 60])
    train, validation = fm._split(rare, np.random.RandomState(0), early_stopping=True)
    assert_array_equal(np.bincount(rare[validation]), [27, 27, 6])
    assert np.intersect1d(train, validation).size == 0


def test_sparse_and_dense_input_train_the_same_multiclass_model():
    X, y = multiclass_data()
    X = np.where(np.abs(X) > 0.7, X, 0.0)
    dense = FMClassifier(**FAST).fit(X, y)
    sparse = FMClassifier(**FAST).fit(sp.csr_matrix(X), y)
    assert_array_equal(dense.factors_, sparse.factors_)
    assert_allclose(dense.predict_proba(X), sparse.predict_proba(sp.csr_matrix(X)), rtol=1e-12)


def test_feature_selection_reads_the_multiclass_coef_as_scikit_learn_lays_it_out():
    # coef_ is (n_classes, n_features): once transposed, SelectFromModel built
    # a mask of the wrong length and RFE dropped a real feature, kept noise.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(900, 8))
    scores = np.column_stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 0], X[:, 3] - X[:, 1]])
    y = (3 * scores + rng.normal(size=scores.shape)).argmax(axis=1)
    fm = FMClassifier(**FAST)
    real = [True] * 4 + [False] * 4
    assert_array_equal(SelectFromModel(fm, max_features=4).fit(X, y).get_support(), real)
    assert_array_equal(RFE(fm, n_features_to_select=4).fit(X, y).support_, real)


def test_warm_start_continues_the_multiclass_model():
    X, y = multiclass_data()
    fm = FMClassifier(warm_start=True, **FAST).fit(X, y)
    first = list(fm.loss_curve_)
    fm.set_params(max_iter=5).fit(X, y)
    assert fm.n_iter_ == 35 and fm.loss_curve_[:30] == first
    # It continues where it stopped, far below a fresh first epoch.
    assert fm.loss_curve_[30] == pytest.approx(first[-1], abs=0.01)
    assert first[0] > first[-1] + 0.15
    with pytest.raises(ValueError, match=r"y contains labels \[3\]"):
        fm.fit(X, np.where(y == 2, 3, y))
    # Nor may it drop a class, whose scores would silently stay as they were.
    same_classes = r"warm_start can only be used where y has the same classes.*\[0, 1, 2\], y has \[0, 1\]"
    with pytest.raises(ValueError, match=same_classes):
        fm.fit(X, np.minimum(y, 1))
    assert fm.n_iter_ == 35


def test_a_failed_refit_leaves_the_fitted_classes_and_parameters():
    X, y = multiclass_data(n_samples=30)
    fm = FMClassifier(**FAST).fit(X, y % 2)
    proba = fm.predict_proba(X)
    # Three classes cannot all be held out in 2 validation samples: the split
    # fails after the labels were read.
    fm.set_params(early_stopping=True, validation_fraction=0.05)
    with pytest.raises(ValueError, match="cannot hold out validation samples of every class"):
        fm.fit(X, y)
    assert_array_equal(fm.classes_, [0, 1])
    assert_array_equal(fm.predict_proba(X), proba)


def test_one_hot_ids_with_100k_columns_train_without_densifying():
    # Dense, 2,000 x 100,000 float32 would be 800 MB; three classes triple
    # the parameters but not the data.
    rng = np.random.RandomState(0)
    n_rows = 2000
    columns = np.column_stack([rng.randint(50_000, size=n_rows), 50_000 + rng.randint(50_000, size=n_rows)])
    X = sp.csr_matrix(
        (np.ones(2 * n_rows), (np.repeat(np.arange(n_rows), 2), columns.ravel())),
        shape=(n_rows, 100_000),
    )
    fm = FMClassifier(n_factors=4, max_iter=2, tol=None, random_state=0)
    labels = rng.choice(["a", "b", "c"], size=n_rows)
    fm.fit(X[:30], labels[:30])  # imports TensorFlow, whose import is not measured
    proba, peak = with_peak_memory(lambda: fm.fit(X, labels).predict_proba(X))
    assert peak < 200 * 2**20
    assert fm.factors_.shape == (3, 100_000, 4)
    assert_allclose(proba.sum(axis=1), 1.0)
