"""``import sklearn_fm`` stays cheap: no TensorFlow or Keras until training."""

import os
import textwrap

from .conftest import run_python


def test_import_and_unfitted_use_do_not_import_tensorflow():
    script = textwrap.dedent(
        """
        import sys
        import sklearn_fm
        from sklearn.base import clone
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        model = make_pipeline(StandardScaler(), sklearn_fm.FMRegressor(n_factors=3))
        clone(model).get_params()
        print(sklearn_fm.__version__)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    result = run_python("-c", script)
    version, loaded = result.stdout.split("\n")[:2]
    assert version.count(".") == 2
    assert loaded == "[]"


def test_another_keras_backend_gets_a_clear_error_when_training():
    # Keras' numpy backend needs no extra package; sklearn_fm needs TensorFlow's.
    script = textwrap.dedent(
        """
        import numpy as np
        from sklearn_fm import FMRegressor
        try:
            FMRegressor().fit(np.eye(3), np.ones(3))
        except ImportError as error:
            print(error)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    result = run_python("-c", script, env=env)
    assert "Keras is configured for 'numpy'" in result.stdout
    assert "KERAS_BACKEND=tensorflow" in result.stdout


def test_the_package_works_without_docstrings():
    # python -OO strips docstrings: building the field-aware estimators'
    # docstrings from the FM ones' once made the import itself fail.
    script = textwrap.dedent(
        """
        import numpy as np
        import sklearn_fm
        X = np.random.RandomState(0).normal(size=(40, 3))
        model = sklearn_fm.FFMRegressor(max_iter=2, tol=None, random_state=0).fit(X, X[:, 0])
        print(model.predict(X[:2]).shape)
        """
    )
    result = run_python("-OO", "-c", script)
    assert result.stdout.strip() == "(2,)"


def test_training_without_tensorflow_says_what_to_install_and_predict_still_works():
    script = textwrap.dedent(
        """
        import pickle, sys
        import numpy as np
        sys.modules["tensorflow"] = None  # as if it were not installed
        from sklearn_fm import FMRegressor
        model = pickle.loads(sys.stdin.buffer.read())
        print(model.predict(np.eye(3)).shape)
        try:
            FMRegressor().fit(np.eye(3), np.ones(3))
        except ImportError as error:
            print(type(error).__name__, error)
        """
    )
    import pickle

    import numpy as np

    from sklearn_fm import FMRegressor

    X = np.random.RandomState(0).normal(size=(40, 3))
    model = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0).fit(X, X[:, 0])
    result = run_python("-c", script, input=pickle.dumps(model), text=False)
    shape, error = result.stdout.decode().splitlines()[:2]
    assert shape == "(3,)"
    assert error.startswith("ImportError Training needs TensorFlow and Keras 3, but tensorflow")
    assert "pip install tensorflow" in error
