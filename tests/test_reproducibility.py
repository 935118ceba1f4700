"""Same random_state, same model; no global random or Keras/TF state touched."""

import json
import random
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from sklearn_fm import FMClassifier, FMRegressor

from .conftest import make_interaction_data, run_python

X, y = make_interaction_data(n_samples=300)
labels = np.digitize(y, [-1.0, 1.0])  # three classes


def test_same_random_state_gives_identical_models_fit_after_fit():
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    for data, params in [
        (X, {}),
        (Xs, {}),
        (X, {"early_stopping": True}),
        (X, {"solver": "rmsprop", "batch_size": 32}),
    ]:
        a = FMRegressor(random_state=3, max_iter=15, **params).fit(data, y)
        b = FMRegressor(random_state=3, max_iter=15, **params).fit(data, y)
        assert_array_equal(a.factors_, b.factors_)
        assert_array_equal(a.predict(data), b.predict(data))
    for params in [{}, {"early_stopping": True}]:
        a = FMClassifier(random_state=3, max_iter=15, **params).fit(X, labels)
        b = FMClassifier(random_state=3, max_iter=15, **params).fit(X, labels)
        assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_random_state_matters_and_none_differs_every_time():
    a = FMRegressor(random_state=0, max_iter=3).fit(X, y).predict(X)
    b = FMRegressor(random_state=1, max_iter=3).fit(X, y).predict(X)
    c = FMRegressor(max_iter=3).fit(X, y).predict(X)
    d = FMRegressor(max_iter=3).fit(X, y).predict(X)
    assert not np.array_equal(a, b)
    assert not np.array_equal(c, d)


def test_fit_does_not_touch_global_random_states():
    import keras
    import tensorflow as tf

    def snapshot():
        return (
            random.getstate(),
            np.random.get_state()[1].tobytes(),
            np.random.get_state()[2:],
            tf.random.get_global_generator().state.numpy().tobytes(),
            keras.config.floatx(),
            keras.config.dtype_policy().name,
            keras.config.backend(),
            keras.config.is_interactive_logging_enabled(),
            tf.config.functions_run_eagerly(),
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
        )

    before = snapshot()
    for random_state in (0, None, np.random.RandomState(5)):
        FMRegressor(random_state=random_state, max_iter=2, early_stopping=True).fit(X, y)
        FMClassifier(random_state=random_state, max_iter=2, early_stopping=True).fit(X, labels)
    assert snapshot() == before


def test_the_fit_that_loads_tensorflow_leaves_numpys_global_random_state_alone():
    # Importing TensorFlow draws from np.random: the first fit of a process
    # changed the user's stream of random numbers, later ones did not.
    script = textwrap.dedent(
        """
        import numpy as np
        from sklearn_fm import FMRegressor
        np.random.seed(0)
        X = np.random.RandomState(1).normal(size=(50, 3))
        expected = np.random.RandomState(0).random_sample(3)
        FMRegressor(max_iter=2, tol=None, random_state=0).fit(X, X[:, 0])
        assert "tensorflow" in __import__("sys").modules
        print(np.array_equal(np.random.random_sample(3), expected))
        """
    )
    result = run_python("-c", script)
    assert result.stdout.strip() == "True"


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    tf.random.set_seed(1)
    first = tf.random.uniform([3]).numpy().tolist()
    predictions = None
    if sys.argv[1] == "fit":
        from sklearn_fm import FMClassifier, FMRegressor
        from tests.conftest import make_interaction_data
        X, y = make_interaction_data(n_samples=300)
        model = FMRegressor(random_state=7, max_iter=10).fit(X, y)
        classifier = FMClassifier(random_state=7, max_iter=10).fit(X, np.digitize(y, [-1, 1]))
        predictions = model.predict(X).tolist() + classifier.predict_proba(X).ravel().tolist()
    after = tf.random.uniform([3]).numpy().tolist()
    print(json.dumps({"first": first, "after": after, "predictions": predictions}))
    """
)


def run(mode):
    result = run_python("-c", SCRIPT, mode)
    return json.loads(result.stdout)


def test_identical_model_in_every_process_and_tf_global_seed_untouched():
    first, second, without_fit = run("fit"), run("fit"), run("skip")
    assert first["predictions"] == second["predictions"]
    # Here the traced training graph is shared with fits of other sizes and
    # shapes first; the model must not depend on that history.
    for n_samples, n_factors in [(100, 8), (250, 3), (280, 8)]:
        FMRegressor(n_factors=n_factors, max_iter=2).fit(X[:n_samples], y[:n_samples])
    here = FMRegressor(random_state=7, max_iter=10).fit(X, y).predict(X)
    classifier = FMClassifier(random_state=7, max_iter=10).fit(X, labels)
    here = np.concatenate([here, classifier.predict_proba(X).ravel()])
    assert_array_equal(np.array(first["predictions"]), here)
    # TensorFlow's global-seeded random stream continues as if no fit happened.
    assert first["after"] == without_fit["after"]


KERAS_USER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras
    import numpy as np
    from sklearn_fm import FMClassifier, FMRegressor
    from tests.conftest import make_interaction_data

    def fit():
        X, y = make_interaction_data(n_samples=300)
        model = FMRegressor(random_state=7, max_iter=10).fit(X, y)
        classifier = FMClassifier(random_state=7, max_iter=10).fit(X, np.digitize(y, [-1, 1]))
        return model.predict(X).tolist() + classifier.predict_proba(X).ravel().tolist()

    def fit_ftrl():  # whose update reads Keras' learning rate, kept in floatx
        X, y = make_interaction_data(n_samples=300)
        return FMRegressor(solver="ftrl", random_state=7, max_iter=3).fit(X, y).predict(X).tolist()

    if sys.argv[1] == "float64 policy, then fit":
        keras.config.set_dtype_policy("float64")
        keras.config.set_floatx("float64")
        predictions = fit() + fit_ftrl()
    else:  # fit, then the user's float64
        predictions = fit() + fit_ftrl()
        keras.config.set_floatx("float64")
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    print(json.dumps({
        "predictions": predictions,
        "policy": keras.config.dtype_policy().name,
        "kernel": str(layer.kernel.dtype),
        "names": [layer.name, keras.optimizers.Adam().name],
    }))
    """
)


@pytest.mark.parametrize("order", ["float64 policy, then fit", "fit, then float64"])
def test_the_users_keras_settings_neither_change_the_model_nor_are_changed(order):
    # A float64 dtype policy made every fit raise a TensorFlow TypeError (and
    # a float64 floatx every FTRL fit, whose learning rate Keras keeps in it); the
    # first fit fixed Keras' global dtype policy, so that a later set_floatx
    # no longer reached the user's layers; and fits used up the numbers of
    # Keras' automatic names ("dense_1" for the user's first Dense layer).
    result = json.loads(
        run_python("-c", KERAS_USER_SCRIPT, order).stdout
    )
    ftrl = FMRegressor(solver="ftrl", random_state=7, max_iter=3).fit(X, y).predict(X)
    assert result["predictions"] == run("fit")["predictions"] + ftrl.tolist()
    assert (result["policy"], result["kernel"]) == ("float64", "float64")
    assert result["names"] == ["dense", "adam"]


def test_fits_of_other_parameter_shapes_train_models_of_their_own():
    # Fits of one shape reuse one built model (tests/test_trainer.py); other
    # shapes must not reuse it: a graph traced for one shape keeps its static
    # shapes.
    for n_features, n_factors in [(6, 8), (5, 3), (9, 4), (2, 1)]:
        model = FMRegressor(n_factors=n_factors, max_iter=2, tol=None, random_state=0)
        model.fit(X[:, :n_features] if n_features <= 6 else np.hstack([X, X[:, :3]]), y)
        assert model.factors_.shape == (n_features, n_factors)
