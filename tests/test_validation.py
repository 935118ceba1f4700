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

from sklearn_fm import FMRegressor

rng = np.random.RandomState(0)
X = rng.normal(size=(20, 3))
y = rng.normal(size=20)


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


# (id, fit arguments, estimator parameters, exception, message pattern)
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
    ("string y", (X, np.array(["a"] * 20, dtype=object)), {}, ValueError, "could not convert"),
    ("negative sample_weight", (X, y, -np.ones(20)), {}, ValueError, "Negative values in data passed to `sample_weight`"),
    ("short sample_weight", (X, y, np.ones(19)), {}, ValueError, r"sample_weight.shape == \(19,\), expected \(20,\)"),
    ("zero sample_weight", (X, y, np.zeros(20)), {}, ValueError, "Sample weights must contain at least one non-zero"),
    ("nan sample_weight", (X, y, y_with(np.nan)), {}, ValueError, "sample_weight contains NaN"),
    ("n_factors=0", (X, y), {"n_factors": 0}, ValueError, "'n_factors' parameter of FMRegressor must be an int in the range"),
    ("float n_factors", (X, y), {"n_factors": 2.5}, TypeError, "'n_factors' parameter"),
    ("unknown solver", (X, y), {"solver": "lbfgs"}, ValueError, "'solver' parameter of FMRegressor must be a str among"),
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


@pytest.fixture(scope="module")
def fitted():
    return FMRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)


def predict_cases(model):
    return [
        ("wrong feature count", X[:, :2], ValueError, "X has 2 features, but FMRegressor is expecting 3"),
        ("nan at predict", with_value(X, np.nan), ValueError, "Input X contains NaN"),
        ("empty X at predict", np.empty((0, 3)), ValueError, "0 sample"),
        ("string at predict", np.array([["a", "b", "c"]], dtype=object), ValueError, "could not convert"),
    ]


@pytest.mark.parametrize("case", FIT_CASES, ids=[case[0] for case in FIT_CASES])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_fit_input_raises_a_clear_error(case, method):
    _, args, params, error, message = case
    with pytest.raises(error, match=message):
        getattr(FMRegressor(**params), method)(*args)


@pytest.mark.parametrize("index", range(4))
def test_bad_predict_input_raises_a_clear_error(fitted, index):
    _, X_bad, error, message = predict_cases(fitted)[index]
    with pytest.raises(error, match=message):
        fitted.predict(X_bad)


def test_predict_before_fit_raises_not_fitted_error():
    with pytest.raises(NotFittedError, match="This FMRegressor instance is not fitted yet"):
        FMRegressor().predict(X)


def test_errors_are_raised_before_tensorflow_is_imported(fitted, tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted))
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import pytest
        from sklearn_fm import FMRegressor
        from tests.test_validation import FIT_CASES, predict_cases
        model = pickle.load(open({str(path)!r}, "rb"))
        for _, args, params, error, message in FIT_CASES:
            for method in ("fit", "partial_fit"):
                with pytest.raises(error, match=message):
                    getattr(FMRegressor(**params), method)(*args)
        for _, X_bad, error, message in predict_cases(model):
            with pytest.raises(error, match=message):
                model.predict(X_bad)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("checked", 2 * len(FIT_CASES) + len(predict_cases(model)), "loaded", loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"checked {2 * len(FIT_CASES) + 4} loaded []"
