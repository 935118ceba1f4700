"""A fitted FMRegressor survives pickle, joblib, deepcopy and clone."""

import copy
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import clone

from sklearn_fm import FMRegressor

from .conftest import make_interaction_data

X, y = make_interaction_data(n_samples=300)
PARAMS = dict(n_factors=3, max_iter=20, tol=None, random_state=0)


def fitted():
    return FMRegressor(**PARAMS).fit(X, y)


def assert_same_model(a, b):
    for name in ("intercept_", "coef_", "factors_", "n_iter_", "loss_curve_", "n_features_in_"):
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert_array_equal(a.predict(X), b.predict(X))


def test_pickle_round_trip():
    model = fitted()
    assert_same_model(model, pickle.loads(pickle.dumps(model)))


def test_joblib_round_trip(tmp_path):
    model = fitted()
    joblib.dump(model, tmp_path / "model.joblib")
    assert_same_model(model, joblib.load(tmp_path / "model.joblib"))


def test_deepcopy_is_independent():
    model = fitted()
    copied = copy.deepcopy(model)
    assert_same_model(model, copied)
    copied.coef_[0] += 1
    assert copied.predict(X[:1]) != model.predict(X[:1])


def test_clone_keeps_parameters_and_drops_the_fit():
    model = fitted()
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    assert not hasattr(cloned, "coef_")
    assert_same_model(model, cloned.fit(X, y))


def test_training_continues_identically_after_unpickling():
    model = FMRegressor(**PARAMS).partial_fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    model.partial_fit(X, y)
    restored.partial_fit(X, y)
    assert_same_model(model, restored)


def test_model_pickled_in_one_process_predicts_identically_in_a_fresh_one(tmp_path):
    Xs = sp.random(50, 6, density=0.4, random_state=0, format="csr")
    model = fitted()
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    sp.save_npz(tmp_path / "Xs.npz", Xs)
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np, scipy.sparse as sp
        model = pickle.load(open({str(tmp_path / "model.pkl")!r}, "rb"))
        np.save({str(tmp_path / "dense.npy")!r}, model.predict(np.load({str(tmp_path / "X.npy")!r})))
        np.save({str(tmp_path / "sparse.npy")!r}, model.predict(sp.load_npz({str(tmp_path / "Xs.npz")!r})))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", "predict in a fresh process imported TensorFlow"
    assert_array_equal(np.load(tmp_path / "dense.npy"), model.predict(X))
    assert_array_equal(np.load(tmp_path / "sparse.npy"), model.predict(Xs))
