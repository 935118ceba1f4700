"""Data-parallel training in a tf.distribute strategy's scope: each replica
trains its share of every batch, and the model is the one a single replica
trains with the same global batch."""

import inspect
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf

from sklearn_fm import FMClassifier, FMRegressor, _trainer



def one_hot_clicks(n=1001):
    rng = np.random.RandomState(0)
    users, items = rng.randint(0, 60, n), rng.randint(0, 90, n)
    rows = np.repeat(np.arange(n), 2)
    X = sp.csr_matrix((np.ones(2 * n), (rows, np.c_[users, 60 + items].ravel())), (n, 150))
    return X, (np.sin(users) * np.cos(items) > 0).astype(int)


def dense_interactions(n=600):
    X = np.random.RandomState(1).normal(size=(n, 6))
    return X, X[:, 0] * X[:, 1] + X[:, 2]


# The scripts below train on the same data in processes of their own.
DATA = "import numpy as np\nimport scipy.sparse as sp\n" + "".join(
    inspect.getsource(function) for function in (one_hot_clicks, dense_interactions)
)

MIRRORED = DATA + textwrap.dedent(
    """
    import contextlib, json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from sklearn_fm import FFMClassifier, FMClassifier, FMRegressor, _trainer

    replicas = set()
    share = _trainer._replica_share
    def spy(*batch_and_replica):
        replicas.add((batch_and_replica[-2].device[-5:], batch_and_replica[-1]))
        return share(*batch_and_replica)
    _trainer._replica_share = spy

    X, y = one_hot_clicks()
    Xd, yd = dense_interactions()
    three_classes = np.arange(len(y)) % 3
    cases = {
        "dense adam": (FMRegressor(max_iter=4, batch_size=100, early_stopping=False), Xd, yd),
        # Row-sparse Adagrad (no uniform penalties: they update every row), whose
        # replicas' rows the optimizer sums; batches of uneven shares, early stopping.
        "one-hot adagrad": (
            FMClassifier(solver="adagrad", alpha_linear=0.0, alpha_uniform=0.0, batch_size=7,
                         max_iter=6, early_stopping=True, n_iter_no_change=2, tol=None),
            X, y),
        # The uniform penalties, shared between the replicas; FTRL's anchoring.
        "multi-class ftrl": (
            FMClassifier(solver="ftrl", alpha_uniform=1e-3, batch_size=64, max_iter=3),
            X, three_classes),
        "field-aware sgd": (
            FFMClassifier(fields=[0] * 60 + [1] * 90, solver="sgd", batch_size=50, max_iter=3),
            X, y),
        # One row per batch: a replica has none.
        "batches of one row": (FMRegressor(batch_size=1, max_iter=2), Xd[:50], yd[:50]),
    }
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    differences = {}
    for name, (estimator, X_, y_) in cases.items():
        estimator.set_params(random_state=0)
        single = estimator.fit(X_, y_).__dict__.copy()
        with strategy.scope():
            mirrored = estimator.fit(X_, y_).__dict__
        differences[name] = {
            attribute: float(np.max(np.abs(np.subtract(single[attribute], mirrored[attribute]))))
            for attribute in ("intercept_", "coef_", "factors_", "loss_curve_", "n_iter_")
        }
        differences[name]["scale"] = float(np.max(np.abs(single["factors_"])))
    # partial_fit continues a model under the strategy as it does outside.
    streamed = []
    for scope in (None, strategy):
        model = FMClassifier(solver="adagrad", batch_size=32, random_state=0)
        with scope.scope() if scope else contextlib.nullcontext():
            for chunk in np.array_split(np.arange(len(y)), 3):
                model.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        streamed.append(model.factors_)
    differences["partial_fit"] = {"factors_": float(np.max(np.abs(streamed[0] - streamed[1])))}
    print(json.dumps({"differences": differences, "replicas": sorted(replicas)}))
    """
)

WORKER = DATA + textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    from sklearn_fm import FMClassifier, _trainer

    replicas = set()
    share = _trainer._replica_share
    def spy(*batch_and_replica):
        replicas.add((int(tf.get_static_value(batch_and_replica[-2])), batch_and_replica[-1]))
        return share(*batch_and_replica)
    _trainer._replica_share = spy

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    X, y = one_hot_clicks()
    random_state = None if sys.argv[2] == "None" else int(sys.argv[2])
    with strategy.scope():
        model = FMClassifier(
            solver="adagrad", batch_size=50, max_iter=5, early_stopping=True,
            n_iter_no_change=2, tol=None, random_state=random_state,
        ).fit(X, y)
    np.savez(
        sys.argv[1], intercept=model.intercept_, coef=model.coef_, factors=model.factors_,
        replicas=sorted(replicas),
    )
    """
)

def run_script(script, *args, env=None):
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def test_a_fit_in_a_mirrored_strategy_scope_trains_data_parallel_to_the_single_model():
    # Two logical CPUs stand for two devices.
    result = run_script(MIRRORED)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Both replicas trained, each on its share of the batches.
    assert report["replicas"] == [["CPU:0", 2], ["CPU:1", 2]]
    for name, differences in report["differences"].items():
        scale = differences.pop("scale", 1.0)
        assert scale > 1e-3, name  # the factors trained
        for attribute, difference in differences.items():
            assert difference <= 1e-5 * max(scale, 1.0), (name, attribute, difference)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(tmp_path, random_state):
    """Two MultiWorkerMirroredStrategy workers on this host, each fitting in
    the strategy's scope; their return codes, error output and models."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config))
        path = tmp_path / f"worker{index}.npz"
        command = [sys.executable, "-c", WORKER, str(path), str(random_state)]
        workers.append((subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True), path))
    results = []
    try:
        for process, path in workers:
            _, errors = process.communicate(timeout=300)
            model = dict(np.load(path)) if process.returncode == 0 else None
            results.append((process.returncode, errors, model))
    finally:
        for process, _ in workers:
            process.kill()
    return results


def test_two_workers_of_a_multi_worker_strategy_train_the_single_model(tmp_path):
    results = run_workers(tmp_path, random_state=0)
    X, y = one_hot_clicks()
    single = FMClassifier(
        solver="adagrad", batch_size=50, max_iter=5, early_stopping=True,
        n_iter_no_change=2, tol=None, random_state=0,
    ).fit(X, y)
    for index, (returncode, errors, model) in enumerate(results):
        assert returncode == 0, errors[-3000:]
        # Each worker's replica trained its share of the batches.
        np.testing.assert_array_equal(model["replicas"], [[index, 2]])
        np.testing.assert_allclose(model["intercept"], single.intercept_, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model["coef"], single.coef_, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model["factors"], single.factors_, rtol=1e-5, atol=1e-6)


def test_workers_that_draw_different_models_are_refused(tmp_path):
    # Without an int random_state each worker draws its own initial model
    # and row order: each would end with a model of its own.
    for returncode, errors, _ in run_workers(tmp_path, random_state=None):
        assert returncode != 0
        assert "The workers of the MultiWorkerMirroredStrategy were given different" in errors


@pytest.mark.parametrize("n_rows", [1, 2, 7, 64])
@pytest.mark.parametrize("n_replicas", [1, 2, 3])
def test_the_replicas_shares_of_a_batch_partition_its_rows_and_non_zeros(n_rows, n_replicas):
    rng = np.random.RandomState(n_rows)
    dense = rng.uniform(1, 2, size=(n_rows, 20)) * (rng.uniform(size=(n_rows, 20)) < 0.3)
    dense[::3] = 0.0  # empty rows too
    X = sp.csr_matrix(dense.astype(np.float32))
    rows = np.repeat(np.arange(n_rows), np.diff(X.indptr)).astype(np.int32)
    batch = _trainer.Batch(  # 5 padding non-zeros, 8 padding rows
        cols=tf.constant(np.pad(X.indices, (0, 5)), tf.int32),
        values=tf.constant(np.pad(X.data, (0, 5)), tf.float32),
        rows=tf.constant(np.pad(rows, (0, 5)), tf.int32),
        nnz=tf.constant(X.nnz, tf.int32),
        y=tf.constant(np.pad(np.arange(n_rows), (0, 8)), tf.float32),  # padded targets
        sample_weight=tf.ones(n_rows + 8),
        n_rows=tf.constant(float(n_rows)),
    )
    shares = [
        _trainer._replica_share(batch, tf.constant(replica), n_replicas)
        for replica in range(n_replicas)
    ]
    targets = np.concatenate([share.y.numpy() for share in shares])
    np.testing.assert_array_equal(targets, np.arange(n_rows))  # every real row once
    sizes = [len(share.y) for share in shares]
    assert max(sizes) - min(sizes) <= 1  # as even as can be
    rebuilt = sp.vstack([
        sp.csr_matrix(
            (share.values.numpy(), (share.rows.numpy(), share.cols.numpy())), (len(share.y), 20)
        )
        for share in shares
    ])
    assert (rebuilt != X).nnz == 0
    assert [int(share.nnz) for share in shares] == [len(share.cols) for share in shares]
    assert all(float(share.n_rows) == n_rows for share in shares)  # the mean's divisor


def test_a_parameter_server_strategy_is_refused_with_a_clear_error(monkeypatch):
    # It needs a ClusterCoordinator to schedule steps on its workers; a
    # stand-in, as a real one needs a cluster with parameter servers.
    strategy = object.__new__(tf.distribute.experimental.ParameterServerStrategy)
    monkeypatch.setattr(tf.distribute, "has_strategy", lambda: True)
    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: strategy)
    X, y = dense_interactions(50)
    with pytest.raises(TypeError, match="not under ParameterServerStrategy"):
        FMRegressor(max_iter=1).fit(X, y)
