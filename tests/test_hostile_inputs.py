"""Hostile input.

Every bad input to fit, partial_fit and the prediction methods gets a clear
scikit-learn style ValueError or TypeError, raised before TensorFlow is
imported and leaving a fitted model as it was. Unusual but valid input (messy
sparse matrices, extreme weights, constant or tiny columns, mixed feature-name
containers) trains the model its clean equivalent trains, as scikit-learn
specifies.
"""

import datetime
import pickle
import re
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import DataConversionWarning, NotFittedError

from sklearn_fm import FFMClassifier, FFMRegressor, FMClassifier, FMRegressor

from .conftest import run_python

rng = np.random.RandomState(0)
X = rng.normal(size=(20, 3))
y = rng.randint(2, size=20).astype(float)  # a regression target and two classes
FAST = dict(n_factors=4, max_iter=3, tol=None, random_state=0)


def with_value(array, value):
    array = array.astype(np.result_type(array, value))
    array[2, 1] = value
    return array


def sparse_with_value(value):
    matrix = sp.random(20, 3, density=0.5, random_state=0, format="csr")
    matrix.data[0] = value
    return matrix


def malformed_sparse(how):
    """A sparse matrix whose index arrays were damaged after construction,
    which scipy checks only when asked to."""
    matrix = sp.random(20, 3, density=0.5, random_state=0, format="csr")
    if how == "column 3":
        matrix.indices[4] = 3
    elif how == "column -1":
        matrix.indices[4] = -1
    elif how == "decreasing indptr":
        matrix.indptr[[5, 6]] = matrix.indptr[[6, 5]]
    elif how == "indptr beyond the indices":
        matrix.indptr[-1] += 5
    elif how == "coo column 3":
        matrix = matrix.tocoo()
        matrix.col[4] = 3
    elif how == "csc row 20":
        matrix = matrix.tocsc()
        matrix.indices[4] = 20
    elif how.startswith("bsr"):  # blocks of 2 x 1: 10 block rows, 3 block columns
        matrix = matrix.tobsr(blocksize=(2, 1))
        if how == "bsr block column 3":
            matrix.indices[4] = 3
        else:
            matrix.indptr[-1] += 5
    return matrix


MALFORMED = {
    "column 3": "column indices from 0 to 2, but one is 3",
    "column -1": "column indices from 0 to 2, but one is -1",
    "decreasing indptr": "indptr must not decrease",
    "indptr beyond the indices": "indptr ends at 35, beyond its 30 indices",
    "coo column 3": "column indices from 0 to 2, but one is 3",
    "csc row 20": "row indices from 0 to 19, but one is 20",
    # Training once clamped the column silently, and predicting read memory
    # beyond the blocks.
    "bsr block column 3": "block column indices from 0 to 2, but one is 3",
    "bsr indptr beyond the blocks": "indptr ends at",
}


def y_with(value):
    return np.r_[y[:3], value, y[4:]]


def frame(**columns):
    return pd.DataFrame({"a": X[:, 0], **columns})


# (id, fit arguments, estimator parameters, exception, message pattern); {name}
# in a pattern stands for the estimator's class name. Each is tried with fit
# and with the first call of partial_fit.
FIT_CASES = [
    # Values of X
    ("nan in X", (with_value(X, np.nan), y), {}, ValueError, "Input X contains NaN"),
    ("+inf in X", (with_value(X, np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("-inf in X", (with_value(X, -np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("nan in sparse X", (sparse_with_value(np.nan), y), {}, ValueError, "Input X contains NaN"),
    ("+inf in sparse X", (sparse_with_value(np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("-inf in sparse X", (sparse_with_value(-np.inf), y), {}, ValueError, "Input X contains infinity"),
    ("1e30 in X", (with_value(X, 1e30), y), {}, ValueError, r"X holds values up to 1e\+30 in magnitude.*float32"),
    ("-1e30 in sparse X", (sparse_with_value(-1e30), y), {}, ValueError, r"X holds values up to 1e\+30"),
    ("1e39 in X, beyond float32", (with_value(X, 1e39), y), {}, ValueError, r"X holds values up to 1e\+39"),
    ("complex X", (X + 1j, y), {}, ValueError, "Complex data not supported"),
    ("complex sparse X", (sp.csr_matrix(X + 1j), y), {}, ValueError, "Complex data not supported"),
    *(
        (f"malformed sparse X: {how}", (malformed_sparse(how), y), {}, ValueError,
         "X is a malformed sparse matrix: .*" + re.escape(message))
        for how, message in MALFORMED.items()
    ),
    ("string column", (frame(b=["x"] * 20), y), {}, ValueError, "The column 'b' of X holds strings, but the model reads its columns as numbers. Make it a category column"),
    # scikit-learn's validation reads strings of digits as numbers (Ridge
    # does), but the user guide promises that columns of strings are refused.
    *(
        (f"strings of digits in a column of dtype {dtype}", (frame(b=pd.Series([str(i) for i in range(20)], dtype=dtype)), y), {}, ValueError, "The column 'b' of X holds strings")
        for dtype in ["str", object, "string[python]", "string[pyarrow]"]
    ),
    ("numbers and strings in an object column", (frame(b=pd.Series([1.0, "2"] * 10, dtype=object)), y), {}, ValueError, "The column 'b' of X holds strings"),
    # So it reads NumPy arrays and lists of them, which Ridge predicts from only as numbers.
    ("a NumPy array of strings of digits", (X.astype(str), y), {}, ValueError, "The column 0 of X holds strings, .* Pass a DataFrame with it as a category column"),
    ("a list of rows of strings of digits", (X.astype(str).tolist(), y), {}, ValueError, "The column 0 of X holds strings"),
    ("strings of digits in a column of an object array", (np.column_stack([X[:, :2].astype(object), X[:, 2].astype(str).astype(object)]), y), {}, ValueError, "The column 2 of X holds strings"),
    ("categorical column, categorical_features=None", (frame(b=pd.Categorical(["u", "v"] * 10)), y), {"categorical_features": None}, ValueError, "The column 'b' of X is a category column of strings, but the model reads it as numbers"),
    ("categorical column of digits, categorical_features=None", (frame(b=pd.Categorical(["1", "2"] * 10)), y), {"categorical_features": None}, ValueError, "The column 'b' of X is a category column of strings"),
    ("a string column beside a categorical one", (frame(b=pd.Categorical(["u", "v"] * 10), c=["x"] * 20), y), {}, ValueError, "The column 'c' of X holds strings"),
    ("nan in a numeric column beside a categorical one", (frame(a=with_value(X, np.nan)[:, 1], b=pd.Categorical(["u", "v"] * 10)), y), {}, ValueError, "Input X contains NaN"),
    ("None in an object column", (frame(b=pd.Series([None] + [1.0] * 19, dtype=object)), y), {}, ValueError, "Input X contains NaN"),
    ("pd.NA in a nullable column", (frame(b=pd.array([None] + [1] * 19, dtype="Int64")), y), {}, ValueError, "Input X contains NaN"),
    ("lists in cells", (np.array([[[1, 2], 1.0]] * 20, dtype=object), y), {}, ValueError, "setting an array element with a sequence"),
    ("datetime column", (frame(b=pd.date_range("2020", periods=20)), y), {}, TypeError, "The column 'b' of X holds dates or durations"),
    # Alone, such columns passed scikit-learn's validation as numbers.
    *(
        (f"a frame of one {kind} column", (pd.DataFrame({"when": values}), y), {}, TypeError, "The column 'when' of X holds dates or durations")
        for kind, values in [
            ("datetime", pd.date_range("2020", periods=20)),
            ("time zone aware datetime", pd.date_range("2020", periods=20, tz="UTC")),
            ("timedelta", pd.to_timedelta(np.arange(20), "s")),
            ("period", pd.period_range("2020", periods=20, freq="D")),
            # Object columns of them, as a database driver gives: NumPy's
            # "float() argument must be ..." named no column.
            *(
                (f"object {type(value).__name__}", pd.Series([value] * 19 + [None], dtype=object))
                for value in [
                    datetime.date(2020, 1, 1), datetime.datetime(2020, 1, 1),
                    datetime.time(12), datetime.timedelta(1), pd.Timestamp("2020"),
                    pd.Period("2020", freq="D"),
                ]
            ),
        ]
    ),
    # Shape of X
    ("1-D X", (y, y), {}, ValueError, "Expected 2D array, got 1D array"),
    ("3-D X", (X[:, :, None], y), {}, ValueError, "Found array with dim 3"),
    ("1-D sparse array X", (sp.coo_array(y), y), {}, ValueError, r"Expected 2D input, got input with shape \(20,\)"),
    ("scalar X", (3.0, y), {}, ValueError, "Expected 2D array, got scalar array"),
    ("None as X", (None, y), {}, ValueError, "Expected 2D array, got scalar array"),
    ("a string as X", ("abc", y), {}, ValueError, "could not convert string to float: 'abc'"),
    ("empty X", (np.empty((0, 3)), np.empty(0)), {}, ValueError, "0 sample"),
    ("no columns", (np.empty((20, 0)), y), {}, ValueError, "0 feature"),
    # y
    ("nan in y", (X, y_with(np.nan)), {}, ValueError, "Input y contains NaN"),
    ("+inf in y", (X, y_with(np.inf)), {}, ValueError, "Input y contains infinity"),
    ("-inf in y", (X, y_with(-np.inf)), {}, ValueError, "Input y contains infinity"),
    ("complex y", (X, y + 1j), {}, ValueError, "Complex data not supported"),
    ("2-D y", (X, np.column_stack([y, y])), {}, ValueError, r"y should be a 1d array, got an array of shape \(20, 2\)"),
    ("no y", (X, None), {}, ValueError, "requires y to be passed, but the target y is None"),
    ("mismatched lengths", (X, y[:-1]), {}, ValueError, "inconsistent numbers of samples"),
    # sample_weight
    ("negative sample_weight", (X, y, -np.ones(20)), {}, ValueError, "Negative values in data passed to `sample_weight`"),
    ("nan sample_weight", (X, y, y_with(np.nan)), {}, ValueError, "sample_weight contains NaN"),
    ("inf sample_weight", (X, y, y_with(np.inf)), {}, ValueError, "sample_weight contains infinity"),
    ("scalar nan sample_weight", (X, y, np.nan), {}, ValueError, "sample_weight contains NaN"),
    ("scalar inf sample_weight", (X, y, np.inf), {}, ValueError, "sample_weight contains infinity"),
    ("zero sample_weight", (X, y, np.zeros(20)), {}, ValueError, "Sample weights must contain at least one non-zero"),
    ("short sample_weight", (X, y, np.ones(19)), {}, ValueError, r"sample_weight.shape == \(19,\), expected \(20,\)"),
    ("2-D sample_weight", (X, y, np.ones((20, 2))), {}, ValueError, "Sample weights must be 1D array or scalar"),
    ("string sample_weight", (X, y, np.array(["a"] * 20)), {}, ValueError, "could not convert string to float"),
    # Parameters
    ("n_factors=0", (X, y), {"n_factors": 0}, ValueError, "'n_factors' parameter of {name} must be an int in the range"),
    ("float n_factors", (X, y), {"n_factors": 2.5}, TypeError, "'n_factors' parameter"),
    ("n_factors=None", (X, y), {"n_factors": None}, TypeError, "'n_factors' parameter"),
    ("unknown solver", (X, y), {"solver": "lbfgs"}, ValueError, "'solver' parameter of {name} must be a str among"),
    ("unknown learning_rate", (X, y), {"learning_rate": "adaptive"}, ValueError, "'learning_rate' parameter"),
    ("learning_rate_init=0", (X, y), {"learning_rate_init": 0.0}, ValueError, "'learning_rate_init' parameter"),
    ("negative power_t", (X, y), {"power_t": -0.5}, ValueError, "'power_t' parameter"),
    ("negative alpha_linear", (X, y), {"alpha_linear": -1.0}, ValueError, "'alpha_linear' parameter"),
    ("negative alpha_factors", (X, y), {"alpha_factors": -1.0}, ValueError, "'alpha_factors' parameter"),
    ("nan alpha_uniform", (X, y), {"alpha_uniform": np.nan}, ValueError, "'alpha_uniform' parameter"),
    ("batch_size=0", (X, y), {"batch_size": 0}, ValueError, "'batch_size' parameter"),
    ("max_iter=0", (X, y), {"max_iter": 0}, ValueError, "'max_iter' parameter"),
    ("string max_iter", (X, y), {"max_iter": "10"}, TypeError, "'max_iter' parameter"),
    ("string tol", (X, y), {"tol": "small"}, ValueError, "'tol' parameter"),
    ("validation_fraction=1", (X, y), {"validation_fraction": 1.0}, ValueError, "'validation_fraction' parameter"),
    ("n_iter_no_change=0", (X, y), {"n_iter_no_change": 0}, ValueError, "'n_iter_no_change' parameter"),
    ("negative init_std", (X, y), {"init_std": -0.1}, ValueError, "'init_std' parameter"),
    # Factors of 0 are a saddle point that training never leaves: a linear model.
    ("zero init_std", (X, y), {"init_std": 0.0}, ValueError, r"'init_std' parameter .* range \(0.0, inf\)"),
    # Their products overflow float32: the fit diverged and no predict worked.
    ("init_std=1e200", (X, y), {"init_std": 1e200}, ValueError, r"init_std=1e\+200 draws initial factors .* overflow the float32"),
    ("init_std=1e20", (X, y), {"init_std": 1e20}, ValueError, r"init_std=1e\+20 draws initial factors .* overflow the float32"),
    ("string warm_start", (X, y), {"warm_start": "yes"}, ValueError, "'warm_start' parameter"),
    ("string early_stopping", (X, y), {"early_stopping": "yes"}, ValueError, "'early_stopping' parameter"),
    ("bad random_state", (X, y), {"random_state": "seed"}, ValueError, "'random_state' parameter"),
    ("unknown categorical_features", (X, y), {"categorical_features": "auto"}, ValueError, "'categorical_features' parameter of {name} must be a str among"),
    # Refused before the factors are allocated.
    ("factors beyond the memory budget", (X, y), {"n_factors": 2**27}, ValueError, r"The model would hold [\d,]+ factors \(shape \(3, 1, .*134217728\)\), more than the 268,435,456"),
    # Nothing of the size of its columns is allocated before that.
    ("2**40 sparse columns", (sp.csr_matrix((np.ones(20), np.arange(20), np.arange(21)), shape=(20, 2**40)), y), {}, ValueError, r"1,?099,?511,?627,?776.* more than the 268,435,456"),
    # Settings of the solver that Keras would refuse only once TensorFlow runs, or never.
    ("a string setting of the solver", (X, y), {"solver": {"class_name": "Adam", "config": {"weight_decay": "x"}}}, TypeError, "maps setting names to numbers, booleans or None"),
    ("a nan setting of the solver", (X, y), {"solver": {"class_name": "Adam", "config": {"beta_1": np.nan}}}, ValueError, "setting beta_1=nan is not a finite number"),
    ("beta_1=2", (X, y), {"solver": {"class_name": "Adam", "config": {"beta_1": 2.0}}}, ValueError, "beta_1 must be from 0 to 1; got 2.0"),
    ("a negative epsilon", (X, y), {"solver": {"class_name": "Adagrad", "config": {"epsilon": -1}}}, ValueError, r"epsilon must be greater than 0 in float32 \(at least 1e-45\); got -1"),
    # Adam and RMSprop divided 0 by 0 for the features absent from a batch
    # and diverged in the first epoch, with advice to lower the rate.
    ("epsilon=0", (X, y), {"solver": {"class_name": "Adam", "config": {"epsilon": 0.0}}}, ValueError, "epsilon must be greater than 0 in float32"),
    ("an epsilon that is 0 in float32", (X, y), {"solver": {"class_name": "RMSprop", "config": {"epsilon": 1e-50}}}, ValueError, "epsilon must be greater than 0 in float32"),
    # FTRL divided 0 by 0 for the features absent from a batch and diverged
    # in the first epoch, with advice to lower the rate.
    ("Ftrl's initial_accumulator_value=0", (X, y), {"solver": {"class_name": "Ftrl", "config": {"initial_accumulator_value": 0.0}}}, ValueError, r"initial_accumulator_value of Ftrl must be greater than 0 in float32 .*unless l2_regularization_strength or beta is"),
    ("Ftrl's initial_accumulator_value that is 0 in float32", (X, y), {"solver": {"class_name": "Ftrl", "config": {"initial_accumulator_value": 1e-50, "beta": 0.0}}}, ValueError, "initial_accumulator_value of Ftrl must be greater than 0 in float32"),
    # None passed as Keras' default, and booleans skipped the ranges of the
    # numbers they equal: errors inside Keras, or a first epoch that diverged.
    ("epsilon=None", (X, y), {"solver": {"class_name": "Adam", "config": {"epsilon": None}}}, ValueError, r"epsilon=None is not valid: keras.optimizers.Adam takes a value"),
    ("weight_decay=None for AdamW, whose default is a number", (X, y), {"solver": {"class_name": "AdamW", "config": {"weight_decay": None}}}, ValueError, r"weight_decay=None is not valid: keras.optimizers.AdamW"),
    ("a switch that is NaN", (X, y), {"solver": {"class_name": "Adam", "config": {"amsgrad": float("nan")}}}, ValueError, r"amsgrad is a switch, True or False; got nan"),
    ("epsilon=False", (X, y), {"solver": {"class_name": "Adam", "config": {"epsilon": False}}}, ValueError, r"epsilon must be greater than 0 in float32 \(at least 1e-45\); got False"),
    ("beta_1=True", (X, y), {"solver": {"class_name": "Adam", "config": {"beta_1": True}}}, ValueError, "beta_1 of Adam must be less than 1"),
    # Infinity in float32: steps of zero, with only NumPy's overflow warning.
    ("an epsilon beyond float32", (X, y), {"solver": {"class_name": "Adam", "config": {"epsilon": 1e300}}}, ValueError, r"epsilon=1e\+300 is beyond the range of float32"),
    # Bias corrections that divide by 0, running averages that never move:
    # the fit diverged or stood still, without a word.
    ("Adam's beta_2=1", (X, y), {"solver": {"class_name": "Adam", "config": {"beta_2": 1.0}}}, ValueError, "setting beta_2 of Adam must be less than 1"),
    ("RMSprop's rho=1", (X, y), {"solver": {"class_name": "RMSprop", "config": {"rho": 1}}}, ValueError, "setting rho of RMSprop must be less than 1"),
    # Keras raised its TypeError from inside training.
    ("Muon's ns_steps=2.5", (X, y), {"solver": {"class_name": "Muon", "config": {"ns_steps": 2.5}}}, ValueError, "ns_steps must be an integer of at least 0; got 2.5"),
    ("Muon's exclude_layers=1", (X, y), {"solver": {"class_name": "Muon", "config": {"exclude_layers": 1}}}, ValueError, "exclude_layers=1 is not supported: it takes the names of layers"),
    ("loss_scale_factor=0", (X, y), {"solver": {"class_name": "SGD", "config": {"loss_scale_factor": 0}}}, ValueError, "loss_scale_factor=0 is not supported: it scales the loss"),
    # Keras divided the gradients by it, which training had not multiplied:
    # a learning rate 100 times smaller, or a TypeError on row-sparse updates.
    ("loss_scale_factor=100", (X, y), {"solver": {"class_name": "SGD", "config": {"loss_scale_factor": 100}}}, ValueError, "loss_scale_factor=100 is not supported"),
    # Ignored: the model was that of plain Adam.
    ("use_ema=True", (X, y), {"solver": {"class_name": "Adam", "config": {"use_ema": True}}}, ValueError, "use_ema=True is not supported: the estimators keep"),
    ("gradient_accumulation_steps=1.5", (X, y), {"solver": {"class_name": "SGD", "config": {"gradient_accumulation_steps": 1.5}}}, ValueError, "gradient_accumulation_steps must be an integer of at least 1"),
    # No category, and no other column: no feature at all (declared
    # categories are features of a first partial_fit, see test_categorical).
    ("a category column of missing values only", (pd.DataFrame({"b": pd.Categorical([None] * 20, categories=[])}), y), {}, ValueError, "X has no feature to train on"),
]

# A field-aware FM's field map: X has 3 columns.
FIELD_CASES = [
    ("fields of another length", (X, y), {"fields": [0, 1]}, ValueError, "fields must give the field of each of the 3 features of X"),
    ("2-D fields", (X, y), {"fields": [[0, 1, 2]]}, ValueError, r"got one of shape \(1, 3\)"),
    # Their error said "got one of shape ()".
    *(
        (f"fields as a {type(fields).__name__}", (X, y), {"fields": fields}, ValueError, f"in the order of the columns of X, as a list or array; got a {type(fields).__name__}")
        for fields in [{0: "a", 1: "a", 2: "b"}, {"a", "b", "c"}, frozenset("abc"), {0: "a", 1: "a", 2: "b"}.values()]
    ),
    ("a string as fields", (X, y), {"fields": "abc"}, ValueError, "'fields' parameter of {name} must be an array-like or None"),
    ("float fields", (X, y), {"fields": [0.0, 1.0, 2.0]}, ValueError, r"all integers or all strings; got labels of the types \['float'\]"),
    ("mixed fields", (X, y), {"fields": [0, "a", 1]}, ValueError, r"all integers or all strings; got labels of the types \['int', 'str'\]"),
    ("None in fields", (X, y), {"fields": [0, None, 1]}, ValueError, "all integers or all strings"),
    ("bool fields", (X, y), {"fields": [True, False, True]}, ValueError, r"types \['bool'\]"),
    ("a field label beyond 64 bits", (X, y), {"fields": [2**70, 0, 1]}, ValueError, "labels of at most 64 bits"),
]

ONLY = {
    FMRegressor: [
        ("string y", (X, np.array(["a"] * 20, dtype=object)), {}, ValueError, "could not convert"),
        ("a NumPy string array as y", (X, np.array(["a"] * 20)), {}, ValueError, "could not convert"),
    ],
    FMClassifier: [
        ("continuous y", (X, rng.normal(size=20)), {}, ValueError, "Unknown label type: continuous"),
        ("one class", (X, np.zeros(20)), {}, ValueError, "{name} needs samples of at least 2 classes.*only one class: 0.0"),
        ("a single sample", (X[:1], y[:1]), {}, ValueError, "only one class"),
        ("unknown class_weight", (X, y), {"class_weight": "even"}, ValueError, "'class_weight' parameter"),
        ("negative class_weight", (X, y), {"class_weight": {0.0: -1.0, 1.0: 1.0}}, ValueError, "class_weight must map classes to finite, non-negative"),
        ("nan class_weight", (X, y), {"class_weight": {0.0: np.nan, 1.0: 1.0}}, ValueError, "class_weight must map classes to finite, non-negative"),
        ("class_weight for other classes", (X, y), {"class_weight": {5.0: 2.0}}, ValueError, "are not in class_weight"),
    ],
}
ONLY.update({FFMRegressor: ONLY[FMRegressor] + FIELD_CASES, FFMClassifier: ONLY[FMClassifier] + FIELD_CASES})
ESTIMATORS = list(ONLY)


# (id, X, y, parameters set before the call, exception, message): a second
# partial_fit call, on a fitted model, that must be refused.
SECOND_CALL_CASES = [
    ("fewer columns", X[:, :2], y, {}, ValueError, "X has 2 features, but {name} is expecting 3 features"),
    ("more columns", np.hstack([X, X]), y, {}, ValueError, "X has 6 features, but {name} is expecting 3 features"),
    ("nan in a later chunk", with_value(X, np.nan), y, {}, ValueError, "Input X contains NaN"),
    ("early_stopping", X, y, {"early_stopping": True}, ValueError, "partial_fit does not support early_stopping"),
    ("other n_factors", X, y, {"n_factors": 5}, ValueError, "n_factors=5 differs from the 4 factors"),
]
SECOND_CALL_ONLY = {
    FMRegressor: [
    ],
    FMClassifier: [
        ("a label outside classes_", X, y_with(7.0), {}, ValueError, r"y contains labels \[7.0\] that are not in classes_"),
        ("class_weight='balanced'", X, y, {"class_weight": "balanced"}, ValueError, "'balanced' is not supported by partial_fit"),
    ],
}
OTHER_FIELDS = ("other fields", X, y, {"fields": ["a", "a", "b"]}, ValueError, "fields give other fields than those of the fitted model")
SECOND_CALL_ONLY.update({
    FFMRegressor: SECOND_CALL_ONLY[FMRegressor] + [OTHER_FIELDS],
    FFMClassifier: SECOND_CALL_ONLY[FMClassifier] + [OTHER_FIELDS],
})


def fit_cases(estimator):
    return [
        (id_, args, params, error, message.format(name=estimator.__name__))
        for id_, args, params, error, message in FIT_CASES + ONLY[estimator]
    ]


def second_call_cases(estimator):
    return [
        (id_, X_bad, y_bad, params, error, message.format(name=estimator.__name__))
        for id_, X_bad, y_bad, params, error, message in SECOND_CALL_CASES + SECOND_CALL_ONLY[estimator]
    ]


def predict_cases(model):
    name = type(model).__name__
    return [
        ("fewer columns", X[:, :2], ValueError, f"X has 2 features, but {name} is expecting 3"),
        ("more columns", np.hstack([X, X]), ValueError, f"X has 6 features, but {name} is expecting 3"),
        ("nan", with_value(X, np.nan), ValueError, "Input X contains NaN"),
        ("+inf", with_value(X, np.inf), ValueError, "Input X contains infinity"),
        ("-inf in sparse X", sparse_with_value(-np.inf), ValueError, "Input X contains infinity"),
        ("empty X", np.empty((0, 3)), ValueError, "0 sample"),
        *(
            (f"malformed sparse X: {how}", malformed_sparse(how), ValueError,
             "X is a malformed sparse matrix: .*" + re.escape(message))
            for how, message in MALFORMED.items()
        ),
        ("strings", np.array([["a", "b", "c"]], dtype=object), ValueError, "The column 0 of X holds strings"),
        ("strings of digits", X.astype(str), ValueError, "The column 0 of X holds strings"),
        ("complex", X + 1j, ValueError, "Complex data not supported"),
        ("1-D X", X[0], ValueError, "Expected 2D array, got 1D array"),
        ("3-D X", X[:, :, None], ValueError, "Found array with dim 3"),
        ("1-D sparse array X", sp.csr_array(X[0]), ValueError, r"Expected 2D input, got input with shape \(3,\)"),
        ("an output that overflows", with_value(X, 1e200), ValueError, r"output overflows.*reach 1e\+200"),
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
    if issubclass(estimator, FMClassifier) and method == "partial_fit":
        kwargs["classes"] = np.unique(y)
    return getattr(estimator(**params), method)(X, y, **kwargs)


def fitted_model(estimator):
    return estimator(**FAST).fit(X, y)


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda e: e.__name__)
def fitted(request):
    return fitted_model(request.param)


CASE_IDS = [(e, case) for e in ESTIMATORS for case in fit_cases(e)]


@pytest.mark.parametrize(
    "estimator, case", CASE_IDS, ids=[f"{e.__name__}-{case[0]}" for e, case in CASE_IDS]
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_fit_input_raises_a_clear_error(estimator, case, method):
    _, args, params, error, message = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an error, not a warning and a broken model
        with pytest.raises(error, match=message):
            fit_call(estimator, params, method, args)


SECOND_IDS = [(e, case) for e in ESTIMATORS for case in second_call_cases(e)]


@pytest.mark.parametrize(
    "estimator, case", SECOND_IDS, ids=[f"{e.__name__}-{case[0]}" for e, case in SECOND_IDS]
)
def test_a_bad_later_partial_fit_call_is_refused_and_changes_nothing(estimator, case):
    _, X_bad, y_bad, params, error, message = case
    model = fitted_model(estimator)
    before, original = pickle.dumps(model), model.get_params()
    with pytest.raises(error, match=message):
        model.set_params(**params).partial_fit(X_bad, y_bad)
    assert pickle.dumps(model.set_params(**original)) == before


@pytest.mark.parametrize("index", range(len(predict_cases(FMRegressor()))))
def test_bad_predict_input_raises_a_clear_error(fitted, index):
    _, X_bad, error, message = predict_cases(fitted)[index]
    for method in prediction_methods(fitted):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(error, match=message):
                method(X_bad)


def test_nan_and_infinity_are_named_when_scikit_learn_assumes_finite_input():
    # assume_finite=True skips validate_data's check. The range checks still
    # refused them, but blamed their magnitude and advised scaling.
    model = FMRegressor(**FAST).fit(X, y)
    with sklearn.config_context(assume_finite=True):
        for value, kind in ((np.nan, "NaN"), (np.inf, "infinity")):
            for bad in (with_value(X, value), sparse_with_value(value)):
                with pytest.raises(ValueError, match=f"Input X contains {kind}"):
                    FMRegressor(**FAST).fit(bad, y[: bad.shape[0]])
                with pytest.raises(ValueError, match=f"Input X contains {kind}"):
                    model.predict(bad)
        with pytest.raises(ValueError, match="Input y, .* contains NaN"):
            FMRegressor(**FAST).fit(X, y_with(np.nan))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_predict_before_fit_raises_not_fitted_error(estimator):
    for method in prediction_methods(estimator()):
        with pytest.raises(NotFittedError, match=f"This {estimator.__name__} instance is not fitted"):
            method(X)


def test_errors_are_raised_before_tensorflow_is_imported(tmp_path):
    path = tmp_path / "models.pkl"
    path.write_bytes(pickle.dumps([fitted_model(estimator) for estimator in ESTIMATORS]))
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np, pytest
        from tests.test_hostile_inputs import (
            ESTIMATORS, X, fit_call, fit_cases, predict_cases, prediction_methods,
            second_call_cases,
        )
        checked, unchanged = 0, True
        for estimator, model in zip(ESTIMATORS, pickle.load(open({str(path)!r}, "rb"))):
            before = [predict(X) for predict in prediction_methods(model)]
            for _, args, params, error, message in fit_cases(estimator):
                for method in ("fit", "partial_fit"):
                    with pytest.raises(error, match=message):
                        fit_call(estimator, params, method, args)
                    checked += 1
            for _, X_bad, y_bad, params, error, message in second_call_cases(estimator):
                original = model.get_params()
                with pytest.raises(error, match=message):
                    model.set_params(**params).partial_fit(X_bad, y_bad)
                model.set_params(**original)
                checked += 1
            for _, X_bad, error, message in predict_cases(model):
                for predict in prediction_methods(model):
                    with pytest.raises(error, match=message):
                        predict(X_bad)
                    checked += 1
            after = [predict(X) for predict in prediction_methods(model)]
            unchanged &= all(np.array_equal(a, b) for a, b in zip(before, after))
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("checked", checked, "unchanged", unchanged, "loaded", loaded)
        """
    )
    result = run_python("-c", script)
    expected = sum(
        2 * len(fit_cases(e))
        + len(second_call_cases(e))
        + len(predict_cases(e())) * len(prediction_methods(e()))
        for e in ESTIMATORS
    )
    assert result.stdout.strip() == f"checked {expected} unchanged True loaded []"


# Unusual but valid input.


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_feature_names_are_checked_as_scikit_learn_specifies(estimator):
    name = estimator.__name__
    named = pd.DataFrame(X, columns=["f0", "f1", "f2"])
    with_names = estimator(**FAST).fit(named, y)
    expected = with_names.predict(named)
    with pytest.warns(UserWarning, match=f"X does not have valid feature names, but {name} was fitted with feature names"):
        assert_array_equal(with_names.predict(X), expected)
    for other in (named[["f2", "f1", "f0"]], named.rename(columns={"f0": "g0"})):
        with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
            with_names.predict(other)
    without_names = estimator(**FAST).fit(X, y)
    with pytest.warns(UserWarning, match=f"X has feature names, but {name} was fitted without feature names"):
        assert_array_equal(without_names.predict(named), expected)


def messy_forms(X):
    """Non-canonical sparse forms of the CSR matrix ``X``, named."""
    X = X.tocsr()
    unsorted = X.copy()
    for row in range(X.shape[0]):
        start, end = unsorted.indptr[row : row + 2]
        unsorted.indices[start:end] = unsorted.indices[start:end][::-1]
        unsorted.data[start:end] = unsorted.data[start:end][::-1]
    unsorted.has_sorted_indices = False
    wide = X.copy()
    wide.indices, wide.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    coo, free = X.tocoo(), np.argwhere(X.toarray() == 0)[:10]
    zeros = sp.csr_matrix(
        (np.r_[coo.data, np.zeros(10)], (np.r_[coo.row, free[:, 0]], np.r_[coo.col, free[:, 1]])),
        shape=X.shape,
    )
    assert zeros.nnz == X.nnz + 10
    # Arrays longer than indptr[-1] says, as scipy allows (its constructor
    # trims them; a matrix filled in place keeps them): the tail is no entry.
    spare = X.copy()
    spare.data, spare.indices = np.r_[X.data, [5.0, 7.0]], np.r_[X.indices, [X.shape[1] - 1, -5]]
    return {
        "unsorted indices": unsorted,
        "int64 indices": wide,
        "explicit zeros": zeros,
        "spare capacity": spare,
    }


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_messy_sparse_matrices_train_the_canonical_model(estimator):
    X_sparse = sp.random(60, 8, density=0.3, random_state=1, format="csr")
    target = np.random.RandomState(1).randint(2, size=60).astype(float)
    reference = estimator(**FAST).fit(X_sparse, target)
    for name, messy in messy_forms(X_sparse).items():
        model = estimator(**FAST).fit(messy, target)
        assert_array_equal(model.factors_, reference.factors_, err_msg=name)
        # Prediction sums a row in its stored order: rounding differs, at most.
        assert_allclose(model.predict(messy), reference.predict(X_sparse), rtol=1e-12)
    coo = X_sparse.tocoo()  # each value split in two duplicate entries
    duplicates = sp.coo_matrix(
        (np.r_[coo.data, coo.data] / 2, (np.r_[coo.row, coo.row], np.r_[coo.col, coo.col])),
        shape=X_sparse.shape,
    )
    model = estimator(**FAST).fit(duplicates, target)
    assert_allclose(model.factors_, reference.factors_, rtol=1e-5, atol=1e-7)


def test_tiny_values_train_like_zeros_and_constant_columns_train_finitely():
    # Below float32's smallest value, 1e-50 becomes 0 in training; 1e-30
    # survives but cannot move a model trained with penalties.
    zeros = FMRegressor(**FAST).fit(np.zeros_like(X), y)
    assert_array_equal(FMRegressor(**FAST).fit(X * 1e-50, y).factors_, zeros.factors_)
    tiny = FMRegressor(**FAST).fit(X * 1e-30, y)
    assert_allclose(tiny.predict(X * 1e-30), zeros.predict(np.zeros_like(X)), rtol=1e-6)
    constant = np.column_stack([X, np.full(20, 5.0), np.ones(20)])
    for estimator in ESTIMATORS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = estimator(**FAST).fit(constant, y)
        assert np.isfinite(model.decision_function(constant) if issubclass(estimator, FMClassifier) else model.predict(constant)).all()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_the_scale_of_sample_weights_does_not_matter(estimator, scale):
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=20)
    reference = estimator(**FAST).fit(X, y, sample_weight=weights / weights.max())
    model = estimator(**FAST).fit(X, y, sample_weight=weights / weights.max() * scale)
    assert_allclose(model.factors_, reference.factors_, rtol=1e-6)
    assert np.isfinite(model.intercept_).all()


def test_targets_of_any_finite_scale_train_the_same_regressor():
    # Training standardises y; no step of it overflows, even for a y that
    # spans all of float64.
    reference = FMRegressor(**FAST).fit(X, y)
    for scale in (1e-300, 1e300):
        model = FMRegressor(**FAST).fit(X, y * scale)
        assert_allclose(model.predict(X) / scale, reference.predict(X), rtol=1e-6)
    extreme = np.r_[y[:17], 1.7e308, -1.7e308, -1.7e308]
    model = FMRegressor(**FAST).fit(X, extreme)
    assert np.isfinite(model.predict(X)).all()
    assert np.isfinite(model.intercept_) and 1e307 < model._y_train_std < 1.7e308


def test_numbers_given_as_strings_train_the_regressor_of_the_numbers():
    # As SGDRegressor and Ridge read them.
    model = FMRegressor(**FAST).fit(X, y.astype(str))
    assert_array_equal(model.factors_, FMRegressor(**FAST).fit(X, y).factors_)


@pytest.mark.parametrize("estimator", [FMClassifier, FFMClassifier])
@pytest.mark.parametrize(
    "classes, message",
    [
        ([0.0, 1.0, np.nan], "Input contains NaN"),
        ([[0.0, 1.0], [2.0, 3.0]], "Unknown label type"),
        ([0.5, 1.0], "Unknown label type"),
        ([0.0, "a"], "Mix of label input types"),
    ],
)
def test_partial_fit_refuses_classes_that_scikit_learn_refuses(estimator, classes, message):
    with pytest.raises(ValueError, match=message):
        estimator(**FAST).partial_fit(X, y, classes=classes)


def test_a_single_sample_trains_a_regressor():
    model = FMRegressor(**FAST).fit(X[:1], y[:1])
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_a_column_vector_y_warns_and_trains_the_same_model(estimator):
    reference = estimator(**FAST).fit(X, y)
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        model = estimator(**FAST).fit(X, y[:, None])
    assert_array_equal(model.factors_, reference.factors_)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_rows_without_non_zeros_predict_from_the_intercept(estimator):
    # Found by tests/test_properties.py: a sparse X holding no value at all.
    model = estimator(**FAST).fit(X, y)
    empty = sp.csr_matrix((5, 3))
    expected = np.broadcast_to(model.intercept_, (5, *np.shape(model.intercept_)))
    assert_array_equal(model.decision_function(empty) if issubclass(estimator, FMClassifier) else model.predict(empty), expected)
    assert_array_equal(model.predict(empty), model.predict(np.zeros((5, 3))))


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
def test_a_validation_set_of_zero_weight_is_refused_before_training(estimator):
    # Bootstrap weights (BaggingRegressor) leave many rows at weight 0: with
    # early stopping, the held-out rows may all be among them.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    y = X[:, 0] if estimator is FMRegressor else (X[:, 0] > 0).astype(int)
    named = 0
    for seed in range(10):
        weights = np.zeros(30)
        weights[rng.choice(30, size=4, replace=False)] = 1.0
        model = estimator(early_stopping=True, validation_fraction=0.2, max_iter=3, random_state=seed)
        try:
            model.fit(X, y, sample_weight=weights)
        except ValueError as error:
            assert "sample_weight 0" in str(error) or "non-zero number" in str(error)
            named += "validation" in str(error)
            assert not hasattr(model, "coef_")
    assert named >= 1
