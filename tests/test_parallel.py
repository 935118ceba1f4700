"""Parallel tuning: every joblib backend finds the serial search's result,
and TensorFlow in a worker keeps to the threads the backend gave it."""

import os
import tempfile
import textwrap

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fm import FMClassifier, FMRegressor
from sklearn_fm._trainer import thread_limit

from .conftest import make_interaction_data, run_python

X, y = make_interaction_data(n_samples=300)
GRID = {"fmregressor__n_factors": [2, 4], "fmregressor__alpha_uniform": [1.0, 8.0]}


def search_results():
    """The cv_results_ scores and best candidate of a small grid search, under
    the joblib backend configured around the call."""
    pipe = make_pipeline(StandardScaler(), FMRegressor(max_iter=20, random_state=0))
    search = GridSearchCV(pipe, GRID, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"], search.cv_results_["split0_test_score"]
    return search.best_params_, search.best_score_, *scores, search.predict(X[:5])


@pytest.fixture(scope="module")
def serial():
    with parallel_config(n_jobs=1):
        return search_results()


def assert_same_search(results, serial):
    assert results[0] == serial[0]
    assert results[1] == serial[1]
    for got, expected in zip(results[2:], serial[2:]):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_a_search_on_two_workers_finds_what_the_serial_one_finds(backend, serial):
    with parallel_config(backend=backend, n_jobs=2):
        assert_same_search(search_results(), serial)


def test_a_search_on_a_dask_cluster_finds_what_the_serial_one_finds(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    # Workers in threads: the worker processes of the benchmark's cluster
    # would each spend seconds importing TensorFlow. Their scratch space goes
    # to the test's directory, not the system's.
    with dask.config.set({"temporary-directory": str(tmp_path)}), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with parallel_config(backend="dask", n_jobs=2):
            assert_same_search(search_results(), serial)


def test_a_search_on_ray_finds_what_the_serial_one_finds(serial):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    register_ray()
    # Ray's sessions go to a short directory of their own (the paths of its
    # sockets may not be longer than 107 characters), removed afterwards.
    with tempfile.TemporaryDirectory(prefix="ray", ignore_cleanup_errors=True) as sessions:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=sessions)
        try:
            with parallel_config(backend="ray", n_jobs=2):
                assert_same_search(search_results(), serial)
        finally:
            ray.shutdown(wait_for_processes=True)


def trained_thread_pools(environment, preload_tensorflow=False):
    """TensorFlow's (intra-op, inter-op) thread counts after a fit in a fresh
    process with ``environment`` added (0: TensorFlow's default, all cores)."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        if {preload_tensorflow}:
            import tensorflow
        from sklearn_fm import FMClassifier
        FMClassifier(max_iter=2).fit(np.eye(4), [0, 1, 0, 1])
        import tensorflow as tf
        print(tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
        """
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    }
    result = run_python("-c", script, env=dict(env, **environment))
    return tuple(int(n) for n in result.stdout.split())


@pytest.mark.parametrize(
    "value, limit",
    [(None, None), ("1", 1), ("4", 4), ("3,1", 3), (" 2 ", 2), ("0", None), ("many", None)],
)
def test_the_thread_limit_is_the_outer_level_of_omp_num_threads(value, limit):
    environ = {} if value is None else {"OMP_NUM_THREADS": value}
    assert thread_limit(environ) == limit


@pytest.mark.parametrize(
    "environment, preload, pools",
    [
        ({"OMP_NUM_THREADS": "1"}, False, (1, 1)),
        # TensorFlow's own variables win; TensorFlow reads them itself.
        ({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "2"}, False, (0, 1)),
        # A TensorFlow the user loaded is left alone.
        ({"OMP_NUM_THREADS": "1"}, True, (0, 0)),
    ],
    ids=["limit", "TensorFlow's variable", "preloaded"],
)
def test_tensorflow_keeps_to_the_thread_limit_of_the_process(environment, preload, pools):
    assert trained_thread_pools(environment, preload) == pools


def thread_pools_in_worker():
    FMClassifier(max_iter=2).fit(np.eye(4), [0, 1, 0, 1])
    import tensorflow as tf

    return (
        os.environ.get("OMP_NUM_THREADS"),
        tf.config.threading.get_intra_op_parallelism_threads(),
    )


def test_loky_workers_train_with_the_threads_joblib_gives_them():
    from joblib import Parallel, cpu_count, delayed

    # joblib gives each of 2 workers the OMP_NUM_THREADS of this process, if
    # set, else cpu_count // 2 threads (at least 1), counting the CPUs this
    # process may use (affinity, cgroup quotas), which os.cpu_count does not.
    expected = os.environ.get("OMP_NUM_THREADS", str(max(cpu_count() // 2, 1)))
    with parallel_config(backend="loky", n_jobs=2):
        pools = Parallel()(delayed(thread_pools_in_worker)() for _ in range(2))
    assert pools == [(expected, int(expected.split(",")[0]))] * 2
