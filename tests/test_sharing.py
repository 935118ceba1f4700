"""Fitted models shared through skops and MLflow, with the types
:func:`sklearn_fm.skops_trusted_types` lists as the only trusted ones."""

import copy
import importlib
import tempfile

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_fm
from sklearn_fm import (
    FFMClassifier,
    FFMRegressor,
    FMClassifier,
    FMRegressor,
    ImplicitFeedbackEncoder,
    MultiHotEncoder,
)

rng = np.random.RandomState(0)
X = rng.normal(size=(40, 4))
y = X[:, 0] + X[:, 1] * X[:, 2]
FRAME = pd.DataFrame(
    {
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], 40)),
        "size": X[:, 0],
        "grade": pd.Categorical(rng.choice([1, 2], 40)),
    }
)
PARAMS = dict(n_factors=2, max_iter=3, tol=None, random_state=0)
ADAGRAD = {"class_name": "Adagrad", "config": {"epsilon": 1e-6}}

# Each kind of fitted model: (estimator, X, y); every solver form, binary and
# multiclass targets, categorical input, a Pipeline.
CASES = {
    "regressor": (FMRegressor(**PARAMS), X, y),
    "regressor-dict-solver": (FMRegressor(solver=ADAGRAD, **PARAMS), X, y),
    "regressor-ftrl": (FMRegressor(solver="ftrl", **PARAMS), X, y),
    "binary": (FMClassifier(**PARAMS), X, np.where(y > 0, "up", "down")),
    "multiclass-categorical": (FMClassifier(**PARAMS), FRAME, np.digitize(y, [-1.0, 1.0])),
    "ffm-regressor-categorical": (FFMRegressor(**PARAMS), FRAME, y),
    "ffm-multiclass": (FFMClassifier(solver="sgd", **PARAMS), X, np.digitize(y, [-1.0, 1.0])),
    "pipeline": (make_pipeline(StandardScaler(), FMClassifier(**PARAMS)), X, y > 0),
}


def predictions(model, data):
    outputs = [model.predict(data)]
    if is_classifier(model):
        outputs.append(model.predict_proba(data))
    return outputs


def continue_training(model, data, target):
    """One more epoch with partial_fit (of the last step of a Pipeline)."""
    if isinstance(model, Pipeline):
        model[-1].partial_fit(model[:-1].transform(data), target)
    else:
        model.partial_fit(data, target)
    return model


@pytest.fixture(scope="module", params=CASES)
def fitted(request):
    pytest.importorskip("skops.io")
    estimator, data, target = CASES[request.param]
    return clone(estimator).fit(data, target), data, target


def test_trusted_types_are_sklearn_fm_own():
    trusted = sklearn_fm.skops_trusted_types()
    assert len(set(trusted)) == len(trusted)
    for name in trusted:  # each names a class of sklearn_fm's own
        module, _, attribute = name.rpartition(".")
        assert module.startswith("sklearn_fm.")
        assert isinstance(getattr(importlib.import_module(module), attribute), type)
    assert {"sklearn_fm._solvers.OptimizerState", "sklearn_fm._solvers.SolverSpec"} <= set(trusted)
    trusted.append("changed")  # a new list each call
    assert "changed" not in sklearn_fm.skops_trusted_types()


def test_skops_round_trip(fitted, tmp_path):
    skops_io = pytest.importorskip("skops.io")
    model, data, target = fitted
    file = tmp_path / "model.skops"
    skops_io.dump(model, file)
    trusted = sklearn_fm.skops_trusted_types()
    assert set(skops_io.get_untrusted_types(file=file)) <= set(trusted)

    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(file)
    loaded = skops_io.load(file, trusted=trusted)
    for expected, got in zip(predictions(model, data), predictions(loaded, data)):
        assert_array_equal(got, expected)

    # The optimizer state came along: training continues exactly as it would have.
    continued = continue_training(copy.deepcopy(model), data, target)
    continue_training(loaded, data, target)
    for expected, got in zip(predictions(continued, data), predictions(loaded, data)):
        assert_array_equal(got, expected)


def test_skops_transformers():
    skops_io = pytest.importorskip("skops.io")
    genres = pd.DataFrame({"genres": ["Action|Comedy", "Drama", "Comedy"]})
    ratings = pd.DataFrame({"user": [1, 1, 1, 1, 2], "item": ["a", "b", "c", "d", "a"]})
    trusted = sklearn_fm.skops_trusted_types()
    for encoder, data in [(MultiHotEncoder(), genres), (ImplicitFeedbackEncoder(), ratings)]:
        encoder.fit(data)
        dumped = skops_io.dumps(encoder)
        # Only an ImplicitFeedbackEncoder holds a type that is not ours: the
        # SciPy sparse matrix skops flags (see skops_trusted_types' Notes).
        others = set(skops_io.get_untrusted_types(data=dumped)) - set(trusted)
        assert others <= {"scipy.sparse._csr.csr_matrix"}
        loaded = skops_io.loads(dumped, trusted=trusted + sorted(others))
        assert_array_equal(loaded.transform(data).toarray(), encoder.transform(data).toarray())


@pytest.fixture
def mlflow(tmp_path, monkeypatch):
    pytest.importorskip("skops")  # MLflow's default format for scikit-learn
    mlflow = pytest.importorskip("mlflow")
    import mlflow.pyfunc
    import mlflow.sklearn

    # A local file store under tmp_path (MLflow 3.x asks for this opt-in to
    # the file backend; a SQLite store costs seconds to create).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    # Loading copies a model's files into a temporary directory that MLflow
    # leaves behind: here, one under tmp_path.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    return mlflow


@pytest.fixture(scope="module")
def regressor():
    return FMRegressor(**PARAMS).fit(X, y)


@pytest.fixture(scope="module")
def pipeline():
    return make_pipeline(StandardScaler(), FMClassifier(**PARAMS)).fit(X, y > 0)


def test_mlflow_defaults_need_the_trusted_types(mlflow, regressor, tmp_path):
    # Where MLflow's default format is skops (as in 3.17 outside Databricks),
    # it checks that the saved model loads, and refuses it without the list.
    try:
        mlflow.sklearn.save_model(regressor, tmp_path / "default")
    except mlflow.exceptions.MlflowException as error:
        assert "skops_trusted_types" in str(error)
    else:  # an MLflow whose default format is a pickle
        loaded = mlflow.sklearn.load_model(tmp_path / "default")
        assert_array_equal(loaded.predict(X), regressor.predict(X))


def test_mlflow_save_and_load(mlflow, regressor, pipeline, tmp_path):
    for model, name in [(regressor, "regressor"), (pipeline, "pipeline")]:
        path = tmp_path / name
        # Requirements given: MLflow infers them otherwise, in a subprocess
        # that loads the model (and finds sklearn-fm), which takes seconds.
        mlflow.sklearn.save_model(
            model,
            path,
            skops_trusted_types=sklearn_fm.skops_trusted_types(),
            pip_requirements=["sklearn-fm"],
        )
        assert "serialization_format: skops" in (path / "MLmodel").read_text()
        assert_array_equal(mlflow.sklearn.load_model(path).predict(X), model.predict(X))
        assert_array_equal(mlflow.pyfunc.load_model(str(path)).predict(X), model.predict(X))


def test_mlflow_log_and_load(mlflow, pipeline):
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            skops_trusted_types=sklearn_fm.skops_trusted_types(),
            pip_requirements=["sklearn-fm"],
        )
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/model"):
        loaded = mlflow.sklearn.load_model(uri)
        assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
        assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X), pipeline.predict(X))
