"""Bad input gets a clear scikit-learn style error before TensorFlow is involved."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from sklearn_fm import FMClassifier, FMRegressor

rng = np.random.RandomState(0)
X = rng.normal(size=(20, 3))
y = rng.randint(2, size=20).astype(float)  # a regression target and two classes


def with_value(array, value):
    array = array.copy()
    array[2, 1] = value
    return array


def sparse_with_value(value):
    matrix = sp.random(20, 3, density=0.5, random_state=0, format="csr")
    matrix.data[0] = value
    return matrix


def y_with(value):
    target = y.copy()
    target[3] = value
    return target


# (id, fit arguments, estimator parameters, exception, message pattern); {name}
# in a pattern stands for the estimator's class name.
FIT_CASES = [
    ("nan in X", (with_value(X, np.nan), y), {}, ValueError, "Input X contains NaN"),
    ("+inf in X", (with_value(X, np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("-inf in X", (with_value(X, -np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("nan in sparse X", (sparse_with_value(np.nan), y), {}, ValueError, "Input X contains NaN"),
    ("inf in sparse X", (sparse_with_value(np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("nan in y", (X, y_with(np.nan)), {}, ValueError, "Input y contains NaN"),
    ("inf in y", (X, y_with(np.inf)), {}, ValueError, "Input y contains infinity"),
    ("empty X", (np.empty((0, 3)), np.empty(0)), {}, ValueError, "0 sample"),
    ("no columns", (np.empty((20, 0)), y), {}, ValueError, "0 feature"),
    ("1-D X", (y, y), {}, ValueError, "Expected 2D array, got 1D array"),
    ("mismatched lengths", (X, y[:-1]), {}, ValueError, "inconsistent numbers of samples"),
    (
        "string column",
        (pd.DataFrame({"a": X[:, 0], "b": ["x"] * 20}), y),
        {},
        ValueError,
        "could not convert string to float",
    ),
    ("negative sample_weight", (X, y, -np.ones(20)), {}, ValueError, "Negative values in data passed to `sample_weight`"),
    ("short sample_weight", (X, y, np.ones(19)), {}, ValueError, r"sample_weight.shape == \(19,\), expected \(20,\)"),
    ("zero sample_weight", (X, y, np.zeros(20)), {}, ValueError, "Sample weights must contain at least one non-zero"),
    ("nan sample_weight", (X, y, y_with(np.nan)), {}, ValueError, "sample_weight contains NaN"),
    ("n_factors=0", (X, y), {"n_factors": 0}, ValueError, "'n_factors' parameter of {name} must be an int in the range"),
    ("float n_factors", (X, y), {"n_factors": 2.5}, TypeError, "'n_factors' parameter"),
    ("unknown solver", (X, y), {"solver": "lbfgs"}, ValueError, "'solver' parameter of {name} must be a str among"),
    ("learning_rate_init=0", (X, y), {"learning_rate_init": 0.0}, ValueError, "'learning_rate_init' parameter"),
    ("negative alpha_linear", (X, y), {"alpha_linear": -1.0}, ValueError, "'alpha_linear' parameter"),
    ("negative alpha_factors", (X, y), {"alpha_factors": -1.0}, ValueError, "'alpha_factors' parameter"),
    ("batch_size=0", (X, y), {"batch_size": 0}, ValueError, "'batch_size' parameter"),
    ("max_iter=0", (X, y), {"max_iter": 0}, ValueError, "'max_iter' parameter"),
    ("string tol", (X, y), {"tol": "small"}, ValueError, "'tol' parameter"),
    ("validation_fraction=1", (X, y), {"validation_fraction": 1.0}, ValueError, "'validation_fraction' parameter"),
    ("negative init_std", (X, y), {"init_std": -0.1}, ValueError, "'init_std' parameter"),
    ("string warm_start", (X, y), {"warm_start": "yes"}, ValueError, "'warm_start' parameter"),
    ("bad random_state", (X, y), {"random_state": "seed"}, ValueError, "'random_state' parameter"),
]


ONLY = {
    FMRegressor: [
        ("string y", (X, np.array(["a"] * 20, dtype=object)), {}, ValueError, "could not convert"),
    ],
    FMClassifier: [
        ("continuous y", (X, rng.normal(size=20)), {}, ValueError, "Unknown label type: continuous"),
        ("one class", (X, np.zeros(20)), {}, ValueError, "only one class: 0.0"),
        ("unknown class_weight", (X, y), {"class_weight": "even"}, ValueError, "'class_weight' parameter"),
    ],
}
ESTIMATORS = list(ONLY)


def fit_cases(estimator):
    return [
        (id_, args, params, error, message.format(name=estimator.__name__))
        for id_, args, params, error, message in FIT_CASES + ONLY[estimator]
    ]


def predict_cases(model):
    name = type(model).__name__
    return [
        ("wrong feature count", X[:, :2], ValueError, f"X has 2 features, but {name} is expecting 3"),
        ("nan at predict", with_value(X, np.nan), ValueError, "Input X contains NaN"),
        ("empty X at predict", np.empty((0, 3)), ValueError, "0 sample"),
        ("string at predict", np.array([["a", "b", "c"]], dtype=object), ValueError, "could not convert"),
    ]


def prediction_methods(model):
    return [
        getattr(model, method)
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function")
        if hasattr(model, method)
    ]


def fit_call(estimator, params, method, args):
    """Call ``method`` of a new estimator with ``(X, y[, sample_weight])``; a
    classifier's first partial_fit names the classes, those of ``y``."""
    X, y, *sample_weight = args
    kwargs = {"sample_weight": sample_weight[0]} if sample_weight else {}
    if estimator is FMClassifier and method == "partial_fit":
        kwargs["classes"] = np.unique(y)
    return getattr(estimator(**params), method)(X, y, **kwargs)


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda e: e.__name__)
def fitted(request):
    return request.param(max_iter=2, tol=None, random_state=0).fit(X, y)


CASE_IDS = [(e, case) for e in ESTIMATORS for case in fit_cases(e)]


@pytest.mark.parametrize(
    "estimator, case", CASE_IDS, ids=[f"{e.__name__}-{case[0]}" for e, case in CASE_IDS]
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_fit_input_raises_a_clear_error(estimator, case, method):
    _, args, params, error, message = case
    with pytest.raises(error, match=message):
        fit_call(estimator, params, method, args)


@pytest.mark.parametrize("index", range(4))
def test_bad_predict_input_raises_a_clear_error(fitted, index):
    _, X_bad, error, message = predict_cases(fitted)[index]
    for method in prediction_methods(fitted):
        with pytest.raises(error, match=message):
            method(X_bad)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_predict_before_fit_raises_not_fitted_error(estimator):
    for method in prediction_methods(estimator()):
        with pytest.raises(NotFittedError, match=f"This {estimator.__name__} instance is not fitted"):
            method(X)


def test_errors_are_raised_before_tensorflow_is_imported(tmp_path):
    paths = []
    for estimator in ESTIMATORS:
        paths.append(str(tmp_path / f"{estimator.__name__}.pkl"))
        with open(paths[-1], "wb") as file:
            pickle.dump(estimator(max_iter=2, tol=None, random_state=0).fit(X, y), file)
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import pytest
        from tests.test_validation import (
            ESTIMATORS, fit_call, fit_cases, predict_cases, prediction_methods
        )
        checked = 0
        for estimator, path in zip(ESTIMATORS, {paths!r}):
            model = pickle.load(open(path, "rb"))
            for _, args, params, error, message in fit_cases(estimator):
                for method in ("fit", "partial_fit"):
                    with pytest.raises(error, match=message):
                        fit_call(estimator, params, method, args)
                    checked += 1
            for _, X_bad, error, message in predict_cases(model):
                for predict in prediction_methods(model):
                    with pytest.raises(error, match=message):
                        predict(X_bad)
                    checked += 1
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("checked", checked, "loaded", loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    expected = sum(
        2 * len(fit_cases(estimator)) + 4 * len(prediction_methods(estimator()))
        for estimator in ESTIMATORS
    )
    assert result.stdout.strip() == f"checked {expected} loaded []"
