"""Threads and processes: predict and fit concurrently with the same results
as one after the other."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.model_selection import GridSearchCV

from sklearn_fm import FMClassifier, FMRegressor

from .conftest import make_interaction_data

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
