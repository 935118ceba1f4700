"""Fitted FM estimators survive pickle, joblib, deepcopy and clone."""

import copy
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import clone, is_classifier

from sklearn_fm import FMClassifier, FMRegressor

from .conftest import make_interaction_data

X, y = make_interaction_data(n_samples=300)
PARAMS = dict(n_factors=3, max_iter=20, tol=None, random_state=0)
# A regressor, a binary classifier with string labels and a 3-class one.
PROBLEMS = {
    "regressor": (FMRegressor, y),
    "binary": (FMClassifier, np.where(y > 0, "up", "down")),
    "multiclass": (FMClassifier, np.digitize(y, [-1.0, 1.0])),
}


@pytest.fixture(params=PROBLEMS)
def problem(request):
    return PROBLEMS[request.param]


@pytest.fixture
def fitted(problem):
    estimator, target = problem
    return estimator(**PARAMS).fit(X, target)


def assert_same_model(a, b):
    names = ["intercept_", "coef_", "factors_", "n_iter_", "loss_curve_", "n_features_in_"]
    for name in names + (["classes_"] if is_classifier(a) else []):
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert_array_equal(a.predict(X), b.predict(X))
    if is_classifier(a):
        assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_pickle_round_trip(fitted):
    model = fitted
    assert_same_model(model, pickle.loads(pickle.dumps(model)))


def test_joblib_round_trip(fitted, tmp_path):
    model = fitted
    joblib.dump(model, tmp_path / "model.joblib")
    assert_same_model(model, joblib.load(tmp_path / "model.joblib"))


def test_deepcopy_is_independent(fitted):
    model = fitted
    copied = copy.deepcopy(model)
    assert_same_model(model, copied)
    copied.factors_ *= 0
    copied.coef_ *= 0
    assert np.abs(model.factors_).min() > 0 and np.abs(model.coef_).min() > 0


def test_clone_keeps_parameters_and_drops_the_fit(problem):
    estimator, target = problem
    model = estimator(**PARAMS).fit(X, target)
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    assert not hasattr(cloned, "coef_")
    assert_same_model(model, cloned.fit(X, target))


def test_training_continues_identically_after_unpickling(problem):
    estimator, target = problem
    classes = {"classes": np.unique(target)} if estimator is FMClassifier else {}
    model = estimator(**PARAMS).partial_fit(X, target, **classes)
    restored = pickle.loads(pickle.dumps(model))
    model.partial_fit(X, target)
    restored.partial_fit(X, target)
    assert_same_model(model, restored)


def test_model_pickled_in_one_process_predicts_identically_in_a_fresh_one(fitted, tmp_path):
    Xs = sp.random(50, 6, density=0.4, random_state=0, format="csr")
    model = fitted
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    sp.save_npz(tmp_path / "Xs.npz", Xs)
    # Classifiers save their probabilities, which predict is read from.
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np, scipy.sparse as sp
        model = pickle.load(open({str(tmp_path / "model.pkl")!r}, "rb"))
        predict = getattr(model, "predict_proba", model.predict)
        np.save({str(tmp_path / "dense.npy")!r}, predict(np.load({str(tmp_path / "X.npy")!r})))
        np.save({str(tmp_path / "sparse.npy")!r}, predict(sp.load_npz({str(tmp_path / "Xs.npz")!r})))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", "predict in a fresh process imported TensorFlow"
    predict = getattr(model, "predict_proba", model.predict)
    assert_array_equal(np.load(tmp_path / "dense.npy"), predict(X))
    assert_array_equal(np.load(tmp_path / "sparse.npy"), predict(Xs))
