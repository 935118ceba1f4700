"""The estimators' trainer: its update rules and its state hand-over."""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf
from numpy.testing import assert_allclose, assert_array_equal


@pytest.mark.parametrize(
    "solver, keras_optimizer, rows_only",
    [
        ("sgd", keras.optimizers.SGD, False),
        ("sgd", keras.optimizers.SGD, True),
        ("adagrad", keras.optimizers.Adagrad, False),
        ("adagrad", keras.optimizers.Adagrad, True),
        ("rmsprop", keras.optimizers.RMSprop, False),
        ("adam", keras.optimizers.Adam, False),
    ],
)
def test_solvers_reproduce_the_keras_optimizers(solver, keras_optimizer, rows_only):
    from sklearn_fm._trainer import _SOLVERS, _apply, _apply_rows

    rng = np.random.RandomState(0)
    start = rng.normal(size=(6, 3)).astype(np.float32)
    ours = tf.Variable(start)
    _, initial_slots, _ = _SOLVERS[solver]
    slots = tuple(tf.Variable(np.full_like(start, value)) for value in initial_slots)
    scratch = tf.Variable(np.zeros_like(start))
    theirs = keras.Variable(start)
    optimizer = keras_optimizer(learning_rate=0.05)
    optimizer.build([theirs])
    for step in range(1, 6):
        # Rows 1 and 4 only, row 1 twice: the duplicate rows a sparse batch makes.
        rows = np.array([1, 4, 1])
        values = rng.normal(size=(3, 3)).astype(np.float32)
        dense = np.zeros_like(start)
        np.add.at(dense, rows, values)
        learning_rate, t = tf.constant(0.05), tf.constant(float(step))
        if rows_only:
            _apply_rows(solver, ours, slots, scratch, rows, values, learning_rate, t)
        else:
            _apply(solver, ours, slots, tf.constant(dense), learning_rate, t)
        optimizer.apply([tf.constant(dense)], [theirs])
    assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    assert_array_equal(scratch.numpy(), 0)


@pytest.mark.parametrize("solver", ["sgd", "adagrad", "rmsprop", "adam"])
def test_trainer_state_hand_over_continues_training_exactly(solver):
    from sklearn_fm._data import epoch_batches, training_matrix
    from sklearn_fm._trainer import Trainer

    rng = np.random.RandomState(0)
    X = training_matrix(sp.random(120, 10, density=0.3, random_state=rng, format="csr"))
    y = rng.normal(size=120).astype(np.float32)
    weights = np.ones(120, np.float32)
    settings = dict(
        loss="squared_error", solver=solver, alpha_linear=0.01, alpha_factors=0.1
    )
    start = (0.5, np.zeros(10), rng.normal(scale=0.1, size=(10, 3)))
    orders = [rng.permutation(120) for _ in range(2)]

    continuous = Trainer(*start, **settings)
    for order in orders:
        continuous.run_epoch(epoch_batches(X, y, weights, order, 32), 0.05)
    first = Trainer(*start, **settings)
    first.run_epoch(epoch_batches(X, y, weights, orders[0], 32), 0.05)
    second = Trainer(*first.weights(), optimizer_state=first.optimizer_state(), **settings)
    second.run_epoch(epoch_batches(X, y, weights, orders[1], 32), 0.05)

    for a, b in zip(continuous.weights(), second.weights()):
        assert_array_equal(a, b)
