"""The Keras module: the FM layer (formula, sparse input, serialisation) and the trainer."""

import itertools

import keras
import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_fm._data import fm_decision
from sklearn_fm.keras import FactorizationMachine


def brute_force_fm(X, bias, w, V):
    """w0 + <w, x> + sum_{i<j} <v_i, v_j> x_i x_j, the O(n^2) definition."""
    out = bias + X @ w
    for i, j in itertools.combinations(range(X.shape[1]), 2):
        out = out + (V[i] @ V[j]) * X[:, i] * X[:, j]
    return out


def built_layer(n_features, n_factors, seed):
    rng = np.random.RandomState(seed)
    layer = FactorizationMachine(n_factors=n_factors, dtype="float64")
    layer.build((None, n_features))
    weights = [
        np.asarray(rng.normal()),
        rng.normal(size=n_features),
        rng.normal(size=(n_features, n_factors)),
    ]
    layer.set_weights(weights)
    return layer, weights


def to_sparse_tensor(X):
    coo = sp.coo_matrix(X)
    indices = np.column_stack([coo.row, coo.col]).astype(np.int64)
    return tf.sparse.reorder(tf.SparseTensor(indices, coo.data, coo.shape))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_output_equals_brute_force_pairwise_sum(seed):
    X = np.random.RandomState(seed + 10).normal(size=(20, 7))
    layer, weights = built_layer(7, 3, seed)
    out = layer(X).numpy()
    assert out.shape == (20, 1)
    assert_allclose(out[:, 0], brute_force_fm(X, *weights), rtol=1e-10)


@pytest.mark.parametrize("density", [0.05, 0.3, 1.0])
def test_sparse_output_equals_brute_force_pairwise_sum(density):
    X = sp.random(25, 9, density=density, random_state=3, format="csr").toarray()
    layer, weights = built_layer(9, 4, seed=5)
    out = layer(to_sparse_tensor(X)).numpy()
    assert out.shape == (25, 1)
    assert_allclose(out[:, 0], brute_force_fm(X, *weights), rtol=1e-10, atol=1e-12)


def test_numpy_prediction_formula_matches_the_layer():
    X = sp.random(30, 12, density=0.3, random_state=0, format="csr")
    layer, weights = built_layer(12, 5, seed=1)
    expected = layer(to_sparse_tensor(X.toarray())).numpy()[:, 0]
    assert_allclose(fm_decision(X, *weights), expected, rtol=1e-10)
    assert_allclose(fm_decision(X.toarray(), *weights), expected, rtol=1e-10)


def test_sparse_gradients_touch_only_the_features_present():
    # 100,000 one-hot columns: the factor gradient has one row per non-zero,
    # never a dense (n_features, n_factors) block.
    n_features, n_factors = 100_000, 8
    rows = np.repeat(np.arange(64), 2)
    cols = np.random.RandomState(0).randint(n_features, size=128)
    X = sp.csr_matrix((np.ones(128, np.float32), (rows, cols)), shape=(64, n_features))
    layer = FactorizationMachine(n_factors=n_factors)
    x = to_sparse_tensor(X)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    grad_kernel, grad_factors = tape.gradient(loss, [layer.kernel.value, layer.factors.value])
    for grad, width in [(grad_kernel, ()), (grad_factors, (n_factors,))]:
        assert isinstance(grad, tf.IndexedSlices)
        assert tuple(grad.values.shape) == (X.nnz, *width)


def test_layer_round_trips_through_keras_saving(tmp_path):
    inputs = keras.Input(shape=(6,))
    model = keras.Model(inputs, FactorizationMachine(n_factors=3, name="fm")(inputs))
    X = np.random.RandomState(0).normal(size=(5, 6)).astype("float32")
    path = tmp_path / "fm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("fm"), FactorizationMachine)
    assert loaded.get_layer("fm").n_factors == 3
    assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    config = model.get_layer("fm").get_config()
    assert FactorizationMachine.from_config(config).get_config() == config


def test_layer_trains_inside_a_keras_model_on_sparse_input():
    rng = np.random.RandomState(0)
    X = sp.random(400, 30, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    y = (X[:, 0].toarray() * X[:, 1].toarray() * 4 + X[:, 2].toarray()).astype(np.float32)
    inputs = keras.Input(shape=(30,), sparse=True)
    model = keras.Model(
        inputs,
        FactorizationMachine(
            n_factors=4, factors_initializer=keras.initializers.RandomNormal(seed=0)
        )(inputs),
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(X, y, epochs=20, batch_size=50, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


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
    from sklearn_fm.keras import _SOLVERS, _apply, _apply_rows

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
    from sklearn_fm.keras import _Trainer

    rng = np.random.RandomState(0)
    X = training_matrix(sp.random(120, 10, density=0.3, random_state=rng, format="csr"))
    y = rng.normal(size=120).astype(np.float32)
    weights = np.ones(120, np.float32)
    settings = dict(
        loss="squared_error", solver=solver, alpha_linear=0.01, alpha_factors=0.1
    )
    start = (0.5, np.zeros(10), rng.normal(scale=0.1, size=(10, 3)))
    orders = [rng.permutation(120) for _ in range(2)]

    continuous = _Trainer(*start, **settings)
    for order in orders:
        continuous.run_epoch(epoch_batches(X, y, weights, order, 32), 0.05)
    first = _Trainer(*start, **settings)
    first.run_epoch(epoch_batches(X, y, weights, orders[0], 32), 0.05)
    second = _Trainer(*first.weights(), optimizer_state=first.optimizer_state(), **settings)
    second.run_epoch(epoch_batches(X, y, weights, orders[1], 32), 0.05)

    for a, b in zip(continuous.weights(), second.weights()):
        assert_array_equal(a, b)


def test_sparse_fm_computes_one_independent_fm_per_output():
    from sklearn_fm.keras import _sparse_fm

    X = sp.random(15, 8, density=0.4, random_state=0, format="coo")
    rng = np.random.RandomState(1)
    bias, w, V = rng.normal(size=3), rng.normal(size=(8, 3)), rng.normal(size=(8, 3, 4))
    raw, _ = _sparse_fm(
        tf.constant(bias), tf.gather(w, X.col), tf.gather(V, X.col),
        tf.constant(X.data), X.row, 15,
    )
    expected = [brute_force_fm(X.toarray(), bias[c], w[:, c], V[:, c]) for c in range(3)]
    assert_allclose(raw.numpy(), np.column_stack(expected), rtol=1e-10)


def test_numpy_prediction_of_several_outputs_is_one_fm_per_output():
    X = sp.random(20, 9, density=0.3, random_state=2, format="csr")
    rng = np.random.RandomState(3)
    bias, w, V = rng.normal(size=3), rng.normal(size=(9, 3)), rng.normal(size=(9, 3, 4))
    expected = [brute_force_fm(X.toarray(), bias[c], w[:, c], V[:, c]) for c in range(3)]
    for data in (X, X.toarray()):
        assert_allclose(fm_decision(data, bias, w, V), np.column_stack(expected), rtol=1e-10)
