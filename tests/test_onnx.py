"""ONNX export: fitted models and the pipelines that hold them, converted by
skl2onnx after ``register_onnx_converters``, predict in ONNX Runtime as
they do in Python.

Skipped as a whole without the ``[onnx]`` extra. The graphs compute in
float32 (float64 for float64 input), and ``predict`` in float64: outputs of
a few units, sums of a few dozen float32 terms, agree to ``FLOAT32_TOL``.
"""

import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_fm import (
    FFMClassifier,
    FFMRegressor,
    FMClassifier,
    FMRegressor,
    register_onnx_converters,
)

skl2onnx = pytest.importorskip("skl2onnx")
pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: E402

from .conftest import run_python

# float32 resolves 6e-8 relative; the FM's sums of a few dozen terms of the
# size of the outputs lose at most a few hundred times that.
FLOAT32_TOL = {"rtol": 1e-5, "atol": 1e-5}

# Small and quick: the outputs only have to be those of predict, whatever
# the model learned. tol=None trains all max_iter epochs without a
# ConvergenceWarning.
FAST = {"n_factors": 3, "max_iter": 3, "tol": None, "random_state": 0}


@pytest.fixture(scope="module", autouse=True)
def converters():
    register_onnx_converters()


def run_onnx(onx, inputs):
    """The outputs of the ONNX model ``onx`` for ``inputs``, an array for a
    model of one input or a dict of arrays by input name."""
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    if not isinstance(inputs, dict):
        inputs = {session.get_inputs()[0].name: inputs}
    return session.run(None, inputs)


@pytest.fixture(scope="module")
def numbers():
    """Dense float32 features; a target with an interaction; 3 classes."""
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(150, 4)) * [1.0, 3.0, 0.5, 2.0] + 1.0).astype(np.float32)
    y = X[:, 0] + X[:, 1] * X[:, 2]
    classes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return X, y, np.array([10, 20, 30])[classes]


@pytest.fixture(scope="module")
def categories():
    """String categories (one-hot encoded to sparse input); binary string
    labels that depend on a pair of them."""
    rng = np.random.RandomState(1)
    colors = rng.choice(["red", "green", "blue"], size=150)
    sizes = rng.choice(["S", "M", "L", "XL"], size=150)
    X = np.column_stack([colors, sizes]).astype(object)
    y = np.where((colors == "red") ^ np.isin(sizes, ["S", "M"]), "spam", "ham")
    return X, y


@pytest.fixture(scope="module")
def regressor_pipeline(numbers):
    X, y, _ = numbers
    return make_pipeline(StandardScaler(), FMRegressor(**FAST)).fit(X, y)


@pytest.fixture(scope="module")
def multiclass_pipeline(numbers):
    X, _, labels = numbers
    return make_pipeline(StandardScaler(), FMClassifier(**FAST)).fit(X, labels)


@pytest.fixture(scope="module")
def binary_one_hot_pipeline(categories):
    X, y = categories
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), FMClassifier(**FAST))
    return model.fit(X, y)


def test_regressor_pipeline_on_dense_input(numbers, regressor_pipeline):
    X = numbers[0]
    (predicted,) = run_onnx(skl2onnx.to_onnx(regressor_pipeline, X[:1]), X)
    assert predicted.shape == (len(X), 1)
    assert predicted.dtype == np.float32
    assert_allclose(predicted[:, 0], regressor_pipeline.predict(X), **FLOAT32_TOL)


def test_float64_input_gives_a_float64_graph(numbers, regressor_pipeline):
    X = numbers[0].astype(np.float64)
    (predicted,) = run_onnx(skl2onnx.to_onnx(regressor_pipeline, X[:1]), X)
    assert predicted.dtype == np.float64
    assert_allclose(predicted[:, 0], regressor_pipeline.predict(X), rtol=1e-12, atol=1e-12)


def test_regressor_pipeline_on_one_hot_input(categories):
    X, labels = categories
    y = (labels == "spam") + np.arange(len(X)) % 3
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), FMRegressor(**FAST)).fit(X, y)
    X_new = np.array([["red", "S"], ["blue", "XL"], ["purple", "M"]], dtype=object)  # unknown
    (predicted,) = run_onnx(skl2onnx.to_onnx(model, X[:1]), X_new)
    assert_allclose(predicted[:, 0], model.predict(X_new), **FLOAT32_TOL)


def test_binary_classifier_with_string_labels_on_one_hot_input(
    categories, binary_one_hot_pipeline
):
    X, _ = categories
    model = binary_one_hot_pipeline
    onx = skl2onnx.to_onnx(model, X[:1], options={FMClassifier: {"zipmap": False}})
    labels, proba = run_onnx(onx, X)
    assert_array_equal(labels, model.predict(X))
    assert set(labels) == {"ham", "spam"}  # both labels are predicted
    assert proba.shape == (len(X), 2)
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


def test_multiclass_classifier_on_dense_input(numbers, multiclass_pipeline):
    X = numbers[0]
    model = multiclass_pipeline
    onx = skl2onnx.to_onnx(model, X[:1], options={FMClassifier: {"zipmap": False}})
    labels, proba = run_onnx(onx, X)
    assert labels.dtype == np.int64
    assert_array_equal(labels, model.predict(X))
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


def test_zipmap_gives_probabilities_by_label(numbers, multiclass_pipeline):
    # skl2onnx's default for classifiers: a dictionary per sample.
    X = numbers[0]
    model = multiclass_pipeline
    labels, proba = run_onnx(skl2onnx.to_onnx(model, X[:1]), X)
    assert_array_equal(labels, model.predict(X))
    as_array = np.array([[row[label] for label in model.classes_] for row in proba])
    assert_allclose(as_array, model.predict_proba(X), **FLOAT32_TOL)


def test_zipmap_columns_gives_one_output_per_class(numbers, multiclass_pipeline):
    X = numbers[0]
    model = multiclass_pipeline
    options = {FMClassifier: {"zipmap": "columns"}}
    labels, *columns = run_onnx(skl2onnx.to_onnx(model, X[:1], options=options), X)
    assert_array_equal(labels, model.predict(X))
    assert_allclose(np.column_stack(columns), model.predict_proba(X), **FLOAT32_TOL)


def test_nocl_gives_class_indices(numbers, multiclass_pipeline):
    X = numbers[0]
    model = multiclass_pipeline
    options = {FMClassifier: {"zipmap": False, "nocl": True}}
    labels, _ = run_onnx(skl2onnx.to_onnx(model, X[:1], options=options), X)
    assert_array_equal(labels, np.searchsorted(model.classes_, model.predict(X)))


def test_integer_input_is_cast_to_float32(numbers):
    X, y, _ = numbers
    counts = np.rint(np.abs(X)).astype(np.int64)
    model = FMRegressor(**FAST).fit(counts, y)
    (predicted,) = run_onnx(skl2onnx.to_onnx(model, counts[:1]), counts)
    assert predicted.dtype == np.float32
    assert_allclose(predicted[:, 0], model.predict(counts), **FLOAT32_TOL)


def test_column_transformer_of_numbers_and_categories():
    rng = np.random.RandomState(2)
    frame = pd.DataFrame(
        {
            "age": rng.uniform(18, 70, size=150).astype(np.float32),
            "city": rng.choice(["Lyon", "Oslo", "Quito"], size=150),
            "plan": rng.choice(["free", "pro"], size=150),
        }
    )
    y = (frame["city"] == "Oslo") * (frame["age"] - 40) / 10 + (frame["plan"] == "pro")
    model = make_pipeline(
        ColumnTransformer(
            [
                ("ids", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
                ("numbers", StandardScaler(), ["age"]),
            ]
        ),
        FMRegressor(**FAST),
    ).fit(frame, y)
    # One ONNX input per column, as skl2onnx takes a data frame.
    initial_types = [
        ("age", FloatTensorType([None, 1])),
        ("city", StringTensorType([None, 1])),
        ("plan", StringTensorType([None, 1])),
    ]
    onx = skl2onnx.convert_sklearn(model, initial_types=initial_types)
    inputs = {
        column: frame[column].to_numpy(dtype=np.float32 if column == "age" else object)[:, None]
        for column in frame.columns
    }
    (predicted,) = run_onnx(onx, inputs)
    assert_allclose(predicted[:, 0], model.predict(frame), **FLOAT32_TOL)


def test_field_aware_regressor(numbers):
    X, y, _ = numbers
    model = FFMRegressor(fields=["a", "a", "b", "c"], **FAST).fit(X, y)
    onx = skl2onnx.to_onnx(model, X[:1])
    (predicted,) = run_onnx(onx, X)
    assert_allclose(predicted[:, 0], model.predict(X), **FLOAT32_TOL)
    # A server may send an empty batch: the graph's reshape failed on it.
    (empty,) = run_onnx(onx, X[:0])
    assert empty.shape == (0, 1)


def test_field_aware_multiclass_classifier(numbers):
    X, _, labels = numbers
    model = FFMClassifier(fields=[0, 1, 1, 0], **FAST).fit(X, labels)
    options = {FFMClassifier: {"zipmap": False}}
    predicted, proba = run_onnx(skl2onnx.to_onnx(model, X[:1], options=options), X)
    assert_array_equal(predicted, model.predict(X))
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


@pytest.mark.parametrize(
    "classifier, n_classes",
    [
        (FMClassifier(**FAST), 2),
        (FMClassifier(**FAST), 3),
        (FFMClassifier(fields=[0, 1, 1, 0], **FAST), 3),
    ],
)
def test_calibrated_classifier_exports_its_calibrated_probabilities(
    numbers, classifier, n_classes
):
    # CalibratedClassifierCV's calibrators read decision_function: skl2onnx
    # asks the classifier's converter for them with the option raw_scores,
    # and fed them the probabilities while ours ignored it (labels agreed
    # on half of the rows).
    X, y, labels = numbers
    target = labels if n_classes == 3 else y > np.median(y)
    model = CalibratedClassifierCV(classifier, cv=3).fit(X, target)
    predicted, proba = run_onnx(skl2onnx.to_onnx(model, X[:1], options={"zipmap": False}), X)
    assert_array_equal(predicted, model.predict(X))
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


def test_stacking_on_decision_functions_exports_its_probabilities(numbers):
    X, _, labels = numbers
    model = StackingClassifier(
        [("fm", FMClassifier(**FAST))], LogisticRegression(), stack_method="decision_function"
    ).fit(X, labels)
    predicted, proba = run_onnx(skl2onnx.to_onnx(model, X[:1], options={"zipmap": False}), X)
    assert_array_equal(predicted, model.predict(X))
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


def test_numeric_labels_beyond_int64_are_refused(numbers):
    # ONNX's numeric labels are int64: 2**63 + 5 came out as -2**63 + 5.
    X, y, _ = numbers
    labels = np.array([1, 2**63 + 5], dtype=np.uint64)[(y > np.median(y)).astype(int)]
    model = FMClassifier(**FAST).fit(X, labels)
    message = r"int64, which cannot hold the labels \[9223372036854775813\]"
    with pytest.raises(ValueError, match=message):
        skl2onnx.to_onnx(model, X[:1], options={"zipmap": False})
    # Class indices need no labels.
    _, proba = run_onnx(skl2onnx.to_onnx(model, X[:1], options={"zipmap": False, "nocl": True}), X)
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


def test_the_field_aware_graph_stores_about_the_model_itself(numbers):
    # A 0/1 matrix summing each output's products held n_outputs times as
    # many numbers as the factors (1.28 million for 10 classes, 40 fields).
    X, _, _ = numbers
    classes = np.arange(150) % 10
    model = FFMClassifier(fields=[0, 1, 2, 3], **FAST).fit(X, classes)
    onx = skl2onnx.to_onnx(model, X[:1], options={"zipmap": False})
    stored = sum(np.prod(tensor.dims) for tensor in onx.graph.initializer)
    assert stored < 1.2 * (model.factors_.size + model.coef_.size) + 100
    predicted, proba = run_onnx(onx, X)
    assert_array_equal(predicted, model.predict(X))
    assert_allclose(proba, model.predict_proba(X), **FLOAT32_TOL)


def test_registration_is_idempotent(numbers, regressor_pipeline):
    X = numbers[0]
    before = skl2onnx.to_onnx(regressor_pipeline, X[:1]).SerializeToString()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_onnx_converters()
        register_onnx_converters()
    after = skl2onnx.to_onnx(regressor_pipeline, X[:1]).SerializeToString()
    assert after == before


def test_model_fitted_on_category_columns_is_refused():
    frame = pd.DataFrame(
        {"city": pd.Categorical(["Lyon", "Oslo", "Quito"] * 10), "age": np.arange(30.0)}
    )
    model = FMRegressor(**FAST).fit(frame, np.arange(30.0))
    assert model.is_categorical_ is not None
    initial_types = [("X", FloatTensorType([None, 2]))]
    with pytest.raises(ValueError, match="fitted on categorical columns.*Put a .*OneHotEncoder"):
        skl2onnx.convert_sklearn(model, initial_types=initial_types)


def test_missing_skl2onnx_gets_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import skl2onnx now fails
    with pytest.raises(ImportError, match=r'pip install "sklearn-fm\[onnx\]"'):
        register_onnx_converters()


def test_import_sklearn_fm_does_not_import_onnx_packages():
    script = textwrap.dedent(
        """
        import sys
        import sklearn_fm
        sklearn_fm.register_onnx_converters  # the name is there, unused
        packages = ("skl2onnx", "onnx", "onnxruntime")
        print(sorted(m for m in sys.modules if m.split(".")[0] in packages))
        """
    )
    result = run_python("-c", script)
    assert result.stdout.strip() == "[]"


def test_docstring_example():
    # The example of register_onnx_converters' docstring, whose lines that
    # need skl2onnx are skipped as doctests.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = X[:, 0] + 2 * X[:, 1] * X[:, 2]
    model = make_pipeline(StandardScaler(), FMRegressor(n_factors=4, random_state=0))
    model = model.fit(X, y)
    register_onnx_converters()
    onx = skl2onnx.to_onnx(model, X[:1])
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (predicted,) = session.run(None, {"X": X})
    assert predicted.shape == (200, 1)
    assert np.allclose(predicted[:, 0], model.predict(X), atol=1e-5)
