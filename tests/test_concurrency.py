"""Threads and processes: predict and fit concurrently with the same results
as one after the other."""

import io
import os
import textwrap
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.model_selection import GridSearchCV

import sklearn_fm
from sklearn_fm import FMClassifier, FMRegressor, _trainer

from .conftest import make_interaction_data, run_python

X, y = make_interaction_data(n_samples=300)
Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
labels = np.digitize(y, [-1.0, 1.0])  # three classes


def test_predict_from_many_threads_at_once_equals_serial_predict():
    models = [
        (FMRegressor(max_iter=5, tol=None, random_state=0).fit(X, y), "predict"),
        (FMClassifier(max_iter=5, tol=None, random_state=0).fit(Xs, labels), "predict_proba"),
    ]
    chunks = [(data, start) for data in (X, Xs) for start in range(0, 300, 10)] * 4
    for model, method in models:
        predict = getattr(model, method)
        serial = [predict(data[start : start + 10]) for data, start in chunks]

        def job(chunk):
            data, start = chunk
            return predict(data[start : start + 10])

        with ThreadPoolExecutor(max_workers=8) as pool:
            threaded = list(pool.map(job, chunks))
        for a, b in zip(serial, threaded):
            assert_array_equal(a, b)


def test_concurrent_fits_in_threads_equal_serial_fits():
    jobs = [(estimator, data, seed) for estimator in (FMRegressor, FMClassifier)
            for data in (X, Xs) for seed in range(2)]

    def fit(job):
        estimator, data, seed = job
        target = y if estimator is FMRegressor else labels
        return estimator(random_state=seed, max_iter=5, tol=None).fit(data, target).predict(data)

    serial = [fit(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(fit, jobs))
    for a, b in zip(serial, threaded):
        assert_array_equal(a, b)


def test_refitting_in_one_thread_never_gives_a_mixed_model_to_predict_in_another():
    # Refits alternate between two targets, so the model alternates between
    # two known states; a predict that read the parameters of both (the
    # intercept of one and the factors of the other) would match neither.
    params = dict(n_factors=3, max_iter=3, tol=None, random_state=0)
    targets = [y, -2 * y + 1]
    expected = [FMRegressor(**params).fit(X, t).predict(X) for t in targets]
    model = FMRegressor(**params).fit(X, targets[0])
    other = FMClassifier(**params).fit(X, labels)  # fitted, and never refitted
    other_expected = other.predict_proba(X)
    stop = threading.Event()
    refits = []

    def refit():
        while not stop.is_set():
            model.fit(X, targets[len(refits) % 2 == 0])
            refits.append(None)

    thread = threading.Thread(target=refit)
    thread.start()
    try:
        seen = set()
        while len(refits) < 8:
            assert thread.is_alive(), "the refitting thread stopped"
            prediction = model.predict(X)
            matches = [i for i, e in enumerate(expected) if np.array_equal(prediction, e)]
            assert len(matches) == 1
            seen.update(matches)
            assert_array_equal(other.predict_proba(X), other_expected)
    finally:
        stop.set()
        thread.join()
    assert seen == {0, 1}


def test_grid_search_in_two_processes_scores_exactly_as_in_one():
    grid = {"n_factors": [2, 4], "alpha_factors": [1e-3, 1e-1]}
    estimator = FMClassifier(max_iter=5, tol=None, random_state=0)
    serial = GridSearchCV(estimator, grid, cv=3).fit(X, labels)
    parallel = GridSearchCV(estimator, grid, cv=3, n_jobs=2).fit(X, labels)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert_array_equal(parallel.cv_results_[key], serial.cv_results_[key])
    assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))


class PausedTraining:
    """Pauses every fit in its first epoch until ``resume``; ``paused`` is
    set once a fit is waiting."""

    def __init__(self, monkeypatch):
        self.paused, self._resume = threading.Event(), threading.Event()
        run_epoch = _trainer.Trainer.run_epoch

        def paused_run_epoch(trainer, *args, **kwargs):
            self.paused.set()
            assert self._resume.wait(timeout=120)
            return run_epoch(trainer, *args, **kwargs)

        monkeypatch.setattr(_trainer.Trainer, "run_epoch", paused_run_epoch)

    def fit_in_a_thread(self, model, *args):
        thread = threading.Thread(target=model.fit, args=args)
        thread.start()
        assert self.paused.wait(timeout=120)
        return thread

    def resume(self):
        self._resume.set()


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
def test_predict_during_a_refit_on_other_columns_sees_the_old_model_and_its_columns(
    estimator, monkeypatch
):
    target = y if estimator is FMRegressor else labels
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    model = estimator(n_factors=3, max_iter=2, tol=None, random_state=0).fit(frame, target)
    before = model.predict(frame)
    wider = np.hstack([X, X[:, :2]])
    training = PausedTraining(monkeypatch)
    thread = training.fit_in_a_thread(model, wider, target)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no feature-name warning either
            assert_array_equal(model.predict(frame), before)
        assert model.n_features_in_ == X.shape[1]
        assert_array_equal(model.feature_names_in_, frame.columns)
        with pytest.raises(ValueError, match=f"X has {wider.shape[1]} features, but .* is expecting {X.shape[1]}"):
            model.predict(wider)
    finally:
        training.resume()
        thread.join()
    assert model.n_features_in_ == wider.shape[1] == model.coef_.shape[-1]
    assert not hasattr(model, "feature_names_in_")
    model.predict(wider)


def test_a_second_fit_of_the_same_estimator_at_once_is_refused(monkeypatch):
    model = FMRegressor(n_factors=3, max_iter=2, tol=None, random_state=0)
    training = PausedTraining(monkeypatch)
    thread = training.fit_in_a_thread(model, X, y)
    try:
        for call in (lambda: model.fit(X[:, :3], y), lambda: model.partial_fit(X, y)):
            with pytest.raises(RuntimeError, match="already training in another thread.*clone"):
                call()
    finally:
        training.resume()
        thread.join()
    assert model.n_features_in_ == X.shape[1] == len(model.coef_)
    model.fit(X[:, :3], y)  # once the first is done, refitting is fine
    assert model.n_features_in_ == 3 == len(model.coef_)


FORK_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys
    import numpy as np
    from sklearn_fm import FMRegressor

    X = np.random.RandomState(0).normal(size=(100, 4))
    y = X[:, 0] * X[:, 1]
    if sys.argv[1] == "a fit":
        model = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0).fit(X, y)
        expected = model.predict(X)
    else:  # TensorFlow's runtime starts without a fit
        import tensorflow as tf
        tf.reduce_sum(tf.ones((2, 2))).numpy()
        model = None

    def child(pipe):
        try:
            predicted = model is None or bool(np.array_equal(model.predict(X), expected))
            try:
                FMRegressor(n_factors=2, max_iter=2, tol=None).fit(X, y)
                pipe.send((predicted, "trained"))
            except RuntimeError as error:
                pipe.send((predicted, str(error)))
        except BaseException as error:
            pipe.send((False, repr(error)))

    parent_end, child_end = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=child, args=(child_end,))
    process.start()
    if not parent_end.poll(60):
        process.kill()
        raise SystemExit("the forked child hung")
    predicted, outcome = parent_end.recv()
    process.join()
    print(predicted, outcome)
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("parent_ran", ["a fit", "a TensorFlow operation"])
def test_a_process_forked_after_training_predicts_and_refuses_to_train_instead_of_hanging(
    parent_ran,
):
    # A parent that had run TensorFlow without a fit (an operation, or a
    # Keras model of sklearn_fm.keras' layers) went unnoticed: the child hung.
    result = run_python("-c", FORK_SCRIPT, parent_ran, timeout=300)
    predicted, outcome = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert predicted == "True"
    assert "forked" in outcome and "'spawn' or 'forkserver'" in outcome, outcome


def test_a_save_during_a_fit_of_the_model_writes_the_model_it_started_with(monkeypatch):
    # save read the model's attributes one at a time: a fit that ended in
    # between (in another thread; here, as if, in the middle of the save)
    # mixed two models in the file, which load refused (one file in 150).
    model = FMRegressor(random_state=0).partial_fit(X, y)
    before = model.predict(X)
    stream_counts = FMRegressor._stream_counts
    fits = []

    def counts_after_a_fit(estimator):
        if not fits:  # once: the fit reads the counts too
            fits.append("started")
            model.partial_fit(X[:50], y[:50])
        return stream_counts(estimator)

    monkeypatch.setattr(FMRegressor, "_stream_counts", counts_after_a_fit)
    file = io.BytesIO()
    model.save(file)
    assert fits and model.n_iter_ == 2
    loaded = sklearn_fm.load(file.getvalue())
    assert loaded.n_iter_ == 1
    assert_array_equal(loaded.predict(X), before)
