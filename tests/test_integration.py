"""FMRegressor and FMClassifier in the places a scikit-learn user puts them."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_wine,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_fm import FMClassifier, FMRegressor
from sklearn_fm._demo import make_clicks

from .conftest import benchmark_script, make_interaction_data, make_ratings

small_tables = benchmark_script("small_tables")


def test_pipeline_with_standard_scaler_on_unscaled_features():
    X, y = make_interaction_data(n_samples=800)
    X = X * np.array([1000.0, 0.01, 50.0, 1.0, 3e4, 7.0]) + 500.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    fm = make_pipeline(StandardScaler(), FMRegressor(random_state=0)).fit(X_train, y_train)
    ridge = make_pipeline(StandardScaler(), Ridge()).fit(X_train, y_train)
    assert fm.score(X_test, y_test) > 0.95
    assert ridge.score(X_test, y_test) < 0.3


def rating_frame(seed=0):
    users, items, y = make_ratings(n_ratings=3000, seed=seed)
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(
        {
            "user": [f"u{u}" for u in users],
            "item": [f"i{i}" for i in items],
            "age": rng.uniform(18, 70, size=len(y)),
            "price": rng.lognormal(2, 1, size=len(y)),
        }
    )
    return frame, y + 0.01 * frame["age"].to_numpy()


def test_column_transformer_feeds_sparse_one_hot_ids_and_scaled_numbers():
    frame, y = rating_frame()
    preprocess = ColumnTransformer(
        [
            ("ids", OneHotEncoder(handle_unknown="ignore"), ["user", "item"]),
            ("numbers", StandardScaler(), ["age", "price"]),
        ]
    )
    X_train, X_test, y_train, y_test = train_test_split(frame, y, random_state=0)
    fm = make_pipeline(preprocess, FMRegressor(random_state=0)).fit(X_train, y_train)
    assert sp.issparse(fm[:-1].transform(X_test))
    assert fm[-1].n_features_in_ == 60 + 40 + 2
    ridge = make_pipeline(clone(preprocess), Ridge()).fit(X_train, y_train)
    assert fm.score(X_test, y_test) > ridge.score(X_test, y_test) + 0.2


def test_grid_search_in_parallel_trains_the_best_estimator_with_the_best_parameters():
    X, y = make_interaction_data(n_samples=400)
    pipe = make_pipeline(StandardScaler(), FMRegressor(max_iter=60, tol=None, random_state=0))
    grid = {
        "fmregressor__n_factors": [1, 4],
        "fmregressor__alpha_factors": [1e-4, 1e-1],
        "fmregressor__learning_rate_init": [0.003, 0.03],
    }
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    best = search.best_estimator_[-1]
    assert search.best_params_ == {
        "fmregressor__n_factors": 4,
        "fmregressor__alpha_factors": 1e-4,
        "fmregressor__learning_rate_init": 0.03,
    }
    assert best.factors_.shape == (6, 4)
    assert best.get_params()["max_iter"] == 60  # fixed settings survive cloning
    # Training is deterministic: refitting with the best parameters by hand
    # reproduces the best estimator exactly.
    by_hand = clone(pipe).set_params(**search.best_params_).fit(X, y)
    assert_array_equal(by_hand.predict(X), search.predict(X))
    scores = search.cv_results_["mean_test_score"]
    assert scores.max() > 0.95 and scores.min() < scores.max() - 0.2  # the grid tells them apart


@pytest.fixture(scope="module")
def cv():
    return KFold(5, shuffle=True, random_state=0)


def rmse(model, X, y, cv):
    return -cross_val_score(model, X, y, cv=cv, scoring="neg_root_mean_squared_error").mean()


def test_cross_validated_fm_beats_linear_models_on_interactions(cv):
    X, y = make_interaction_data(n_samples=600, noise=0.3)
    fm = rmse(FMRegressor(random_state=0), X, y, cv)
    assert fm < 0.5
    assert fm < 0.25 * rmse(Ridge(), X, y, cv)
    assert fm < 0.25 * rmse(LinearRegression(), X, y, cv)


def test_cross_validated_fm_ties_ridge_on_linear_data(cv):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 6))
    y = X @ rng.normal(size=6) + 0.5 * rng.normal(size=600)
    fm = cross_val_score(FMRegressor(random_state=0), X, y, cv=cv).mean()
    assert abs(fm - cross_val_score(Ridge(), X, y, cv=cv).mean()) < 0.01


@pytest.mark.parametrize("n_samples, n_features", [(100, 10), (500, 50)])
def test_defaults_near_ridge_on_small_linear_tables(n_samples, n_features):
    # A few batches an epoch: with the rate divided by every epoch, training
    # stopped far from the linear model (R² 0.78 against 0.998 on 100 x 10),
    # as the schedule ran out of steps; with all of tol asked of each short
    # epoch, it stopped while the factors still fit noise (0.976 against
    # 0.997 on 500 x 50).
    X, y = make_regression(
        n_samples=n_samples, n_features=n_features, n_informative=10, noise=10, random_state=0
    )
    cv = KFold(5, shuffle=True, random_state=0)
    fm = cross_val_score(make_pipeline(StandardScaler(), FMRegressor(random_state=0)), X, y, cv=cv)
    ridge = cross_val_score(make_pipeline(StandardScaler(), Ridge()), X, y, cv=cv)
    assert fm.mean() > ridge.mean() - 0.015


def test_defaults_match_logistic_regression_on_iris():
    X, y = load_iris(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    fm = cross_val_score(make_pipeline(StandardScaler(), FMClassifier(random_state=0)), X, y, cv=cv)
    logistic = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y, cv=cv)
    assert fm.mean() >= logistic.mean() - 0.01  # it was 0.927 against 0.960


def test_the_defaults_converge_on_iris():
    # Nearly separable classes: the log-loss keeps falling slowly, and the
    # folds of iris took 208 to 273 epochs to meet tol, where max_iter was 200.
    X, y = load_iris(return_X_y=True)
    for train, _ in StratifiedKFold(5, shuffle=True, random_state=1).split(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            make_pipeline(StandardScaler(), FMClassifier(random_state=0)).fit(X[train], y[train])


def test_defaults_match_ridge_on_the_diabetes_data():
    # A target of 25 to 346, as given: the defaults must not depend on its
    # units (before y was standardised they reached R² 0.225 here).
    X, y = load_diabetes(return_X_y=True)
    fm = cross_val_score(make_pipeline(StandardScaler(), FMRegressor(random_state=0)), X, y, cv=5)
    ridge = cross_val_score(make_pipeline(StandardScaler(), Ridge()), X, y, cv=5)
    assert fm.mean() > ridge.mean() - 0.02


# Standardised columns and a linear target (10 informative columns), in
# 5-fold CV. 100 x 10: when every row penalised every linear weight,
# alpha_linear=0.01 weighed like Ridge(alpha=0.8) on top of alpha_uniform's
# 8 and lost 0.011 R². 400 x 200: at the rate and spread that suit one-hot
# ids, the initial pairwise terms were eight times the target's spread and
# the optimizer oscillated among them until tol stopped it (R² 0.90 against
# Ridge's 0.9998). 100 x 100 without noise: when alpha_uniform's 8 penalised
# the linear weights as the factors, the linear part was at best
# Ridge(alpha=8), 0.11 R² below Ridge() (0.574 against 0.681).
@pytest.mark.parametrize(
    "n_samples, n_features, noise", [(100, 10, 10), (400, 200, 1), (100, 100, 0)]
)
def test_defaults_match_ridge_on_additive_tables(n_samples, n_features, noise):
    X, y = make_regression(n_samples=n_samples, n_features=n_features, n_informative=10,
                           noise=noise, random_state=0)
    cv = KFold(5, shuffle=True, random_state=0)
    fm = cross_val_score(make_pipeline(StandardScaler(), FMRegressor(random_state=0)), X, y, cv=cv)
    ridge = cross_val_score(make_pipeline(StandardScaler(), Ridge()), X, y, cv=cv)
    assert fm.mean() > ridge.mean() - 0.01


@pytest.mark.parametrize("classification", [False, True])
def test_auto_factor_penalty_matches_the_linear_model_on_few_rows_of_many_columns(classification):
    # 240 training rows of 48 standardised columns and an additive target:
    # noise interacts on so few rows of so many columns more strongly than
    # alpha_factors=0.03 holds back, and the factors fit it (R² 0.807
    # against Ridge's 0.843, ROC AUC 0.741 against 0.808). 'auto', the
    # default, raises the penalty to the noise's level.
    X, y = small_tables.one_hot_additive(300, classification)
    cv, scoring = small_tables.cv_and_scoring(y)
    if classification:
        fm, linear = FMClassifier(random_state=0), LogisticRegression()
    else:
        fm, linear = FMRegressor(random_state=0), Ridge()
    fm_score, linear_score = (
        cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv, scoring=scoring)
        for model in (fm, linear)
    )
    margin = 0.005 if classification else 0.01
    assert fm_score.mean() > linear_score.mean() - margin


def test_defaults_match_logistic_regression_on_the_breast_cancer_data():
    X, y = load_breast_cancer(return_X_y=True)
    fm = make_pipeline(StandardScaler(), FMClassifier(random_state=0))
    logistic = make_pipeline(StandardScaler(), LogisticRegression())
    auc = {name: cross_val_score(model, X, y, cv=5, scoring="roc_auc").mean()
           for name, model in [("fm", fm), ("logistic", logistic)]}
    assert auc["fm"] > auc["logistic"] - 0.01


def one_hot_fm_classifier(**params):
    fields = ["user", "ad", "hour", "device"]
    encode = ColumnTransformer([("fields", OneHotEncoder(handle_unknown="ignore"), fields)])
    return make_pipeline(encode, FMClassifier(random_state=0, **params))


@pytest.mark.parametrize("scoring", ["roc_auc", "neg_log_loss"])
def test_grid_search_over_one_hot_click_fields(scoring):
    # roc_auc scores decision_function, neg_log_loss predict_proba.
    X, y = make_clicks(n_samples=3000)
    pipe = one_hot_fm_classifier(max_iter=40, tol=None)
    grid = {"fmclassifier__n_factors": [1, 8], "fmclassifier__alpha_factors": [0.01, 1.0]}
    search = GridSearchCV(pipe, grid, scoring=scoring, cv=3, n_jobs=2).fit(X, y)
    # Rank 8 with a light penalty is what the planted rank-2 interaction needs;
    # alpha_factors=1 shrinks the factors to nothing whatever their number.
    assert search.best_params_ == {
        "fmclassifier__n_factors": 8,
        "fmclassifier__alpha_factors": 0.01,
    }
    scores = search.cv_results_["mean_test_score"]
    heavy = search.cv_results_["param_fmclassifier__alpha_factors"] == 1.0
    assert np.ptp(scores[heavy]) < 0.002
    by_hand = clone(pipe).set_params(**search.best_params_).fit(X, y)
    assert_array_equal(by_hand.predict_proba(X), search.predict_proba(X))
    assert search.best_estimator_[-1].factors_.shape == (40 + 25 + 6 + 3, 8)


def test_calibrated_classifier_cv_wraps_the_pipeline():
    X, y = make_clicks(n_samples=3000)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    calibrated = CalibratedClassifierCV(one_hot_fm_classifier(), cv=3).fit(X_train, y_train)
    assert len(calibrated.calibrated_classifiers_) == 3
    proba = calibrated.predict_proba(X_test)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.75
    # Its three models train on two thirds of the rows each, so it may lose a
    # little against one model of all the rows, but not more.
    raw = one_hot_fm_classifier().fit(X_train, y_train)
    assert log_loss(y_test, proba) < log_loss(y_test, raw.predict_proba(X_test)) + 0.02


def roc_auc(model, X, y):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(model, X, y, cv=cv, scoring="roc_auc").mean()


def test_cross_validated_fm_beats_logistic_regression_on_interacting_fields():
    X, y = make_clicks(interactions=True)
    logistic = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    fm, linear = roc_auc(one_hot_fm_classifier(), X, y), roc_auc(logistic, X, y)
    assert fm > linear + 0.06


def test_cross_validated_fm_ties_logistic_regression_on_additive_fields():
    X, y = make_clicks(interactions=False)
    logistic = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    fm, linear = roc_auc(one_hot_fm_classifier(), X, y), roc_auc(logistic, X, y)
    assert abs(fm - linear) < 0.005


def test_multiclass_wine_matches_logistic_regression():
    X, y = load_wine(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    fm = make_pipeline(StandardScaler(), FMClassifier(random_state=0))
    logistic = make_pipeline(StandardScaler(), LogisticRegression())
    fm_accuracy = cross_val_score(fm, X, y, cv=cv).mean()
    assert fm_accuracy > 0.95
    assert fm_accuracy > cross_val_score(logistic, X, y, cv=cv).mean() - 0.02
