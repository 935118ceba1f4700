"""An interrupted fit (KeyboardInterrupt) leaves the estimator as it was."""

import _thread
import signal
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

from sklearn_fm import FMClassifier, FMRegressor
from sklearn_fm import _base, _trainer
from sklearn_fm._solvers import OptimizerState

from .conftest import make_interaction_data, run_python

X, y = make_interaction_data(n_samples=200)
TARGETS = {FMRegressor: y, FMClassifier: np.where(y > 0, "up", "down")}
ESTIMATORS = list(TARGETS)
PARAMS = dict(n_factors=3, max_iter=20, tol=None, random_state=0)


def copied(value):
    """``value`` with its arrays copied; lists and optimizer states as lists."""
    if isinstance(value, OptimizerState):
        return [repr(value.solver), *copied(value.variables)]
    if isinstance(value, list):
        return [np.array(v, copy=True) for v in value]
    return np.array(value, copy=True)


def snapshot(model):
    """Everything the estimator holds, with arrays copied."""
    return {name: copied(value) for name, value in vars(model).items()}


def assert_unchanged(model, before):
    after = snapshot(model)
    assert list(after) == list(before)
    for name, value in before.items():
        if isinstance(value, list):
            assert len(after[name]) == len(value), name
            for a, b in zip(after[name], value):
                assert_array_equal(a, b, err_msg=name)
        else:
            assert_array_equal(after[name], value, err_msg=name)


@pytest.fixture
def interrupt_in_epoch(monkeypatch):
    """Make the epoch number ``n`` of the next training raise KeyboardInterrupt."""

    def arm(n):
        calls = []
        run_epoch = _trainer.Trainer.run_epoch

        def interrupted(trainer, *args, **kwargs):
            calls.append(None)
            if len(calls) == n:
                raise KeyboardInterrupt
            return run_epoch(trainer, *args, **kwargs)

        monkeypatch.setattr(_trainer.Trainer, "run_epoch", interrupted)
        return calls

    return arm


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_an_interrupted_first_fit_leaves_the_estimator_unfitted(estimator, interrupt_in_epoch):
    model = estimator(**PARAMS)
    params = model.get_params()
    interrupt_in_epoch(3)
    with pytest.raises(KeyboardInterrupt):
        model.fit(pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]), TARGETS[estimator])
    assert vars(model) == params  # not even n_features_in_ or feature_names_in_
    with pytest.raises(NotFittedError):
        model.predict(X)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit", "refit on other columns"])
def test_an_interrupted_fit_keeps_the_fitted_model(estimator, how, interrupt_in_epoch):
    target = TARGETS[estimator]
    model = estimator(**PARAMS, warm_start=how == "warm_start").fit(X, target)
    expected = model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
    before = snapshot(model)
    calls = interrupt_in_epoch(1 if how == "partial_fit" else 5)
    with pytest.raises(KeyboardInterrupt):
        if how == "partial_fit":
            model.partial_fit(X, target)
        elif how == "warm_start":
            model.fit(X, target)
        else:  # validate_data has already recorded the new columns when training starts
            model.fit(pd.DataFrame(X[:, :4], columns=list("abcd")), target)
    assert len(calls) == (1 if how == "partial_fit" else 5)
    assert_unchanged(model, before)
    now = model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
    assert_array_equal(now, expected)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_training_after_an_interruption_is_as_if_it_never_happened(estimator, interrupt_in_epoch):
    target = TARGETS[estimator]
    reference = estimator(**PARAMS).fit(X, target)
    interrupt_in_epoch(2)
    with pytest.raises(KeyboardInterrupt):
        estimator(**PARAMS).fit(X, target)
    # monkeypatch still wraps run_epoch, but its interruption has been spent.
    again = estimator(**PARAMS).fit(X, target)
    assert_array_equal(again.factors_, reference.factors_)
    assert_array_equal(again.predict(X), reference.predict(X))


@pytest.mark.parametrize("delay", [0.01, 0.05, 0.2, 0.5])
def test_a_real_interrupt_anywhere_in_fit_keeps_the_fitted_model(delay, monkeypatch):
    # _thread.interrupt_main raises KeyboardInterrupt in the main thread at
    # whatever Python line it is running, as Ctrl-C does: in validation, in
    # the batching, between epochs or while the parameters are read back.
    model = FMRegressor(n_factors=3, max_iter=10_000, tol=None, warm_start=True, random_state=0)
    model.set_params(max_iter=3).fit(X, y).set_params(max_iter=10_000)
    expected = model.predict(X)
    before = snapshot(model)
    # Python swallows an exception raised in a __del__ or weakref callback
    # (the garbage collector may run one at any line) and reports it to
    # sys.unraisablehook; press Ctrl-C again then, as a user would.
    swallowed, done = threading.Event(), threading.Event()
    report = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            swallowed.set()
        else:
            report(unraisable)

    def press_ctrl_c():
        if done.wait(delay):
            return
        _thread.interrupt_main()
        while not done.is_set():
            if swallowed.wait(0.01):
                swallowed.clear()
                _thread.interrupt_main()

    monkeypatch.setattr(sys, "unraisablehook", hook)
    presser = threading.Thread(target=press_ctrl_c)
    # interrupt_main does nothing where SIGINT is ignored, as it is in a
    # background job: install Python's handler for the test.
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            presser.start()
            model.fit(X, y)  # 10,000 epochs take far longer than the delay
    finally:
        done.set()
        presser.join()
        signal.signal(signal.SIGINT, handler)
    assert_unchanged(model, before)
    assert_array_equal(model.predict(X), expected)


IMPORT_INTERRUPTED = textwrap.dedent(
    """
    import importlib.abc, sys
    import numpy as np
    from sklearn_fm import FMRegressor

    class Interrupt(importlib.abc.MetaPathFinder):
        fired = False

        def find_spec(self, name, path, target=None):
            if name == "tensorflow.python.ops.ragged.ragged_ops" and not Interrupt.fired:
                Interrupt.fired = True
                raise KeyboardInterrupt  # as Ctrl-C would, 1.5 s into the first fit
            return None

    sys.meta_path.insert(0, Interrupt())
    X = np.random.RandomState(0).normal(size=(50, 3))
    model = FMRegressor(max_iter=2, tol=None)
    try:
        model.fit(X, X[:, 0])
    except KeyboardInterrupt:
        print("interrupted; unfitted:", not hasattr(model, "coef_"))
    try:
        model.fit(X, X[:, 0])
    except RuntimeError as error:
        print(error)
    """
)


def test_a_fit_after_an_interrupted_import_of_tensorflow_says_to_restart():
    # Cut off at some points, TensorFlow's import cannot be repeated: every
    # later fit of the process failed with TensorFlow's ValueError "Name
    # tf.RaggedTensorSpec has already been registered", which reads like bad input.
    result = run_python("-c", IMPORT_INTERRUPTED)
    interrupted, message = result.stdout.strip().split("\n")
    assert interrupted == "interrupted; unfitted: True"
    assert "Restart the Python process to train" in message


def test_after_an_interrupted_import_a_missing_module_still_says_to_restart(monkeypatch):
    # The import, retried after an interruption, may fail on a module it
    # finds half-registered; the advice to restart must win over the one to
    # install TensorFlow.
    monkeypatch.setattr(_base, "_IMPORT_INTERRUPTED", [True])
    monkeypatch.setitem(sys.modules, "sklearn_fm._trainer", None)
    model = FMRegressor(**PARAMS)
    with pytest.raises(RuntimeError, match="Restart the Python process to train"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")
