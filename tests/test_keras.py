"""The Keras layer: its formula, sparse input, options, serialisation and backends."""

import itertools
import os
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf
from numpy.testing import assert_allclose

from sklearn_fm._parameters import estimator_form, fm_decision
from sklearn_fm.keras import (
    FactorizationMachine,
    FieldAwareFactorizationMachine,
    ffm_outputs,
    fm_outputs,
)

from .conftest import run_python

DATA = Path(__file__).parent / "data"


def brute_force_fm(X, bias, w, V):
    """w0 + <w, x> + sum_{i<j} <v_i, v_j> x_i x_j, the O(n^2) definition."""
    out = bias + X @ w
    for i, j in itertools.combinations(range(X.shape[1]), 2):
        out = out + (V[i] @ V[j]) * X[:, i] * X[:, j]
    return out


def brute_force_outputs(X, bias, kernel, factors):
    """One brute-force FM per output: (n_rows, units)."""
    return np.column_stack(
        [brute_force_fm(X, bias[c], kernel[:, c], factors[:, c]) for c in range(bias.shape[0])]
    )


def built_layer(n_features, n_factors, seed, units=1):
    rng = np.random.RandomState(seed)
    layer = FactorizationMachine(n_factors=n_factors, units=units, dtype="float64")
    layer.build((None, n_features))
    weights = [
        rng.normal(size=units),
        rng.normal(size=(n_features, units)),
        rng.normal(size=(n_features, units, n_factors)),
    ]
    layer.set_weights(weights)
    return layer, weights


def to_sparse_tensor(X):
    coo = sp.coo_matrix(X)
    indices = np.column_stack([coo.row, coo.col]).astype(np.int64)
    return tf.sparse.reorder(tf.SparseTensor(indices, coo.data, coo.shape))


@pytest.mark.parametrize("seed, units", [(0, 1), (1, 1), (2, 3)])
def test_dense_output_equals_brute_force_pairwise_sum(seed, units):
    X = np.random.RandomState(seed + 10).normal(size=(20, 7))
    layer, weights = built_layer(7, 3, seed, units)
    out = layer(X).numpy()
    assert out.shape == (20, units)
    assert_allclose(out, brute_force_outputs(X, *weights), rtol=1e-10)


@pytest.mark.parametrize("density, units", [(0.05, 1), (0.3, 1), (1.0, 1), (0.3, 4)])
def test_sparse_output_equals_brute_force_pairwise_sum(density, units):
    X = sp.random(25, 9, density=density, random_state=3, format="csr").toarray()
    layer, weights = built_layer(9, 4, seed=5, units=units)
    out = layer(to_sparse_tensor(X)).numpy()
    assert out.shape == (25, units)
    assert_allclose(out, brute_force_outputs(X, *weights), rtol=1e-10, atol=1e-12)


def test_fm_outputs_computes_one_independent_fm_per_output():
    X = sp.random(15, 8, density=0.4, random_state=0, format="coo")
    rng = np.random.RandomState(1)
    bias, w, V = rng.normal(size=3), rng.normal(size=(8, 3)), rng.normal(size=(8, 3, 4))
    raw, xv = fm_outputs(
        tf.constant(bias), tf.gather(w, X.col), tf.gather(V, X.col),
        tf.constant(X.data), X.row, 15,
    )
    assert_allclose(raw.numpy(), brute_force_outputs(X.toarray(), bias, w, V), rtol=1e-10)
    assert_allclose(xv.numpy(), np.einsum("ij,jck->ick", X.toarray(), V), rtol=1e-10)


@pytest.mark.parametrize("units", [1, 3])
def test_numpy_prediction_formula_matches_the_layer(units):
    X = sp.random(30, 12, density=0.3, random_state=0, format="csr")
    layer, (bias, kernel, factors) = built_layer(12, 5, seed=1, units=units)
    expected = layer(to_sparse_tensor(X.toarray())).numpy()
    bias, kernel, factors = estimator_form(bias, kernel, factors)  # the estimators' layout
    if units == 1:
        expected = expected[:, 0]
    assert_allclose(fm_decision(X, bias, kernel, factors), expected, rtol=1e-10)
    assert_allclose(fm_decision(X.toarray(), bias, kernel, factors), expected, rtol=1e-10)


def test_sparse_gradients_touch_only_the_features_present():
    # 100,000 one-hot columns: the factor gradient has one row per non-zero,
    # never a dense (n_features, units, n_factors) block.
    n_features, n_factors, units = 100_000, 8, 2
    rows = np.repeat(np.arange(64), 2)
    cols = np.random.RandomState(0).randint(n_features, size=128)
    X = sp.csr_matrix((np.ones(128, np.float32), (rows, cols)), shape=(64, n_features))
    layer = FactorizationMachine(n_factors=n_factors, units=units)
    x = to_sparse_tensor(X)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    grad_kernel, grad_factors = tape.gradient(loss, [layer.kernel.value, layer.factors.value])
    for grad, width in [(grad_kernel, (units,)), (grad_factors, (units, n_factors))]:
        assert isinstance(grad, tf.IndexedSlices)
        assert tuple(grad.values.shape) == (X.nnz, *width)


def test_layer_round_trips_through_keras_saving(tmp_path):
    inputs = keras.Input(shape=(6,))
    layer = FactorizationMachine(
        n_factors=3,
        units=2,
        name="fm",
        factors_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=1),
        kernel_regularizer="l2",
        factors_regularizer=keras.regularizers.L2(0.1),
        kernel_constraint="non_neg",
        bias_initializer="ones",
    )
    model = keras.Model(inputs, layer(inputs))
    X = np.random.RandomState(0).normal(size=(5, 6)).astype("float32")
    path = tmp_path / "fm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("fm"), FactorizationMachine)
    assert loaded.get_layer("fm").n_factors == 3 and loaded.get_layer("fm").units == 2
    assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    config = model.get_layer("fm").get_config()
    assert FactorizationMachine.from_config(config).get_config() == config
    assert isinstance(loaded.get_layer("fm").factors_regularizer, keras.regularizers.L2)
    assert isinstance(loaded.get_layer("fm").kernel_constraint, keras.constraints.NonNeg)


def test_layers_saved_with_one_output_before_units_existed_still_load():
    # Saved by sklearn_fm 0.1.0's single-output layer: a scalar bias, kernel
    # (6,) and factors (6, 3); its predictions for three rows.
    model = keras.models.load_model(DATA / "fm-layer-0.1.0.keras")
    layer = model.get_layer("fm")
    assert (layer.units, tuple(layer.factors.shape)) == (1, (6, 1, 3))
    X = np.random.RandomState(0).normal(size=(3, 6)).astype("float32")
    expected = [-2.806093692779541, 2.0716495513916016, 0.4395948648452759]
    assert_allclose(model.predict(X, verbose=0)[:, 0], expected, rtol=1e-6)


def test_regularizers_add_their_penalties_to_the_layer_losses():
    layer, (bias, kernel, factors) = built_layer(5, 2, seed=0, units=2)
    layer = FactorizationMachine(
        n_factors=2, units=2, dtype="float64", kernel_regularizer=keras.regularizers.L1(0.5),
        factors_regularizer=keras.regularizers.L2(0.25), bias_regularizer=keras.regularizers.L2(2.0),
    )
    layer.build((None, 5))
    layer.set_weights([bias, kernel, factors])
    layer(np.ones((1, 5)))
    expected = 0.5 * np.abs(kernel).sum() + 0.25 * np.square(factors).sum() + 2.0 * np.square(bias).sum()
    assert sum(float(loss) for loss in layer.losses) == pytest.approx(expected)


def test_constraints_hold_after_every_update():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 4)).astype("float32"), rng.normal(size=(200, 1)).astype("float32")
    inputs = keras.Input(shape=(4,))
    layer = FactorizationMachine(
        n_factors=2,
        kernel_initializer=keras.initializers.RandomNormal(seed=0),
        factors_initializer=keras.initializers.RandomNormal(seed=1),
        kernel_constraint="non_neg",
        factors_constraint=keras.constraints.MaxNorm(0.5, axis=-1),
    )
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(X, -10 * X[:, :1], epochs=2, batch_size=50, verbose=0)
    assert (layer.kernel.numpy() >= 0).all()
    assert (np.linalg.norm(layer.factors.numpy(), axis=-1) <= 0.5 + 1e-6).all()


def test_mixed_precision_computes_in_the_compute_dtype():
    layer = FactorizationMachine(n_factors=2, dtype="mixed_float16")
    out = layer(np.ones((3, 4), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.factors.dtype) == "float32"
    sparse_out = layer(to_sparse_tensor(np.eye(3, 4, dtype="float32")))
    assert keras.backend.standardize_dtype(sparse_out.dtype) == "float16"


@pytest.mark.parametrize("kind", ["fm", "ffm"])
def test_float16_computes_the_pairwise_term_in_float32(kind):
    # 300**2 overflows float16: the dense form's squared inputs were -inf.
    x = np.array([[300.0, 1.0, 0.0, 2.0], [0.5, 0.0, -3.0, 1.0]], "float32")

    def layer(dtype):
        arguments = dict(n_factors=2, factors_initializer=keras.initializers.RandomNormal(seed=0))
        if kind == "ffm":
            return FieldAwareFactorizationMachine(fields=[0, 0, 1, 1], dtype=dtype, **arguments)
        return FactorizationMachine(dtype=dtype, **arguments)

    exact = np.asarray(layer("float32")(x))
    half = layer("mixed_float16")
    for inputs in (x, to_sparse_tensor(x)):
        out = half(inputs)
        assert keras.backend.standardize_dtype(out.dtype) == "float16"
        assert_allclose(np.asarray(out, np.float32), exact, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("kind", ["fm", "ffm"])
def test_float16_reads_inputs_beyond_its_range_in_float32(kind):
    # Keras cast the inputs to float16 before call (autocast): 7e4 became inf
    # and the output NaN, and 300.1 became 300.0.
    x = np.array([[7e4, 1.0, 0.0, 2.0], [300.1, 0.0, -3.0, 1.0]], "float32")
    arguments = dict(
        n_factors=2,
        kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3, seed=1),
        factors_initializer=keras.initializers.RandomNormal(stddev=1e-3, seed=0),
    )
    if kind == "ffm":
        arguments["fields"] = [0, 0, 1, 1]
    layer_class = FieldAwareFactorizationMachine if kind == "ffm" else FactorizationMachine
    exact = np.asarray(layer_class(**arguments)(x))
    half = layer_class(dtype="mixed_float16", **arguments)
    for inputs in (x, to_sparse_tensor(x)):
        out = np.asarray(half(inputs), np.float32)
        assert_allclose(out, exact, rtol=2e-3, atol=1e-4)


def test_autocast_is_off_unless_given_and_kept_in_the_config():
    # Keras' config leaves autocast out: autocast=True loaded as False.
    for autocast in (None, True, False):
        given = {} if autocast is None else {"autocast": autocast}
        layer = FactorizationMachine(**given)
        assert layer.autocast is bool(autocast)
        assert FactorizationMachine.from_config(layer.get_config()).autocast is bool(autocast)


@pytest.mark.parametrize("kind", ["fm", "ffm"])
def test_repeated_coordinates_of_sparse_input_are_summed(kind):
    # As in scipy and tf.sparse.sparse_dense_matmul (a bag of words built
    # from token occurrences): the FM of the summed values, not of the parts.
    rng = np.random.RandomState(0)
    X = sp.random(20, 6, density=0.4, random_state=rng, format="coo", dtype=np.float32)
    layer = (
        FactorizationMachine(n_factors=3, units=2)
        if kind == "fm"
        else FieldAwareFactorizationMachine(fields=[0, 0, 1, 1, 2, 2], n_factors=3, units=2)
    )
    expected = np.asarray(layer(X.toarray()))
    thirds = tf.SparseTensor(
        np.column_stack([np.tile(X.row, 3), np.tile(X.col, 3)]).astype(np.int64),
        np.concatenate([X.data * 0.5, X.data * 0.25, X.data * 0.25]),
        X.shape,
    )
    assert_allclose(np.asarray(layer(thirds)), expected, rtol=1e-5, atol=1e-6)
    compiled = tf.function(layer.call, jit_compile=True)  # static shapes for XLA
    assert_allclose(np.asarray(compiled(thirds)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(n_factors=0), "n_factors"),
        (dict(n_factors=2.5), "n_factors"),
        (dict(units=0), "units"),
        (dict(units=True), "units"),
    ],
)
def test_invalid_arguments_are_refused_clearly(arguments, message):
    with pytest.raises(ValueError, match=f"invalid value for `{message}`"):
        FactorizationMachine(**arguments)


def test_inputs_must_be_matrices_of_a_known_width():
    with pytest.raises(ValueError, match="number of features"):
        FactorizationMachine().build((None, None))
    with pytest.raises(ValueError, match="inputs to `FieldAwareFactorizationMachine`"):
        FieldAwareFactorizationMachine(fields=[0, 1]).build((None, None))
    with pytest.raises(ValueError, match=r"inputs of shape \(batch_size, n_features\)"):
        FactorizationMachine(units=2).compute_output_shape((6,))
    layer = FactorizationMachine()
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="incompatible with the layer"):
        layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match="incompatible with the layer"):
        FactorizationMachine()(np.ones((2, 3, 4)))


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
    "kind, optimizer",
    [("fm", name) for name in ["sgd", "adam", "nadam", "rmsprop", "adagrad", "ftrl"]]
    + [("ffm", name) for name in ["adam", "ftrl"]],
)
def test_sparse_and_dense_input_train_the_same_model(kind, optimizer):
    # Every column occurs in several rows of a batch. Keras' optimizers read
    # each slice of a gradient apart (Adam squared them one by one, which
    # moved weights by up to 1.4 times the rate in its first step), so the
    # layer must give them one slice per column, as a dense gradient sums.
    rng = np.random.RandomState(0)
    X = sp.random(40, 6, density=0.5, random_state=rng, format="csr", dtype=np.float32)
    y = rng.normal(size=40).astype(np.float32)
    trained = []
    for data, sparse_input in [(X.toarray(), False), (X, True)]:
        arguments = dict(
            n_factors=3, units=2, factors_initializer=keras.initializers.RandomNormal(seed=0)
        )
        layer = (
            FactorizationMachine(**arguments)
            if kind == "fm"
            else FieldAwareFactorizationMachine(fields=[0, 0, 1, 1, 2, 2], **arguments)
        )
        inputs = keras.Input(shape=(6,), sparse=sparse_input)
        model = keras.Model(inputs, layer(inputs))
        model.compile(
            optimizer=keras.optimizers.get({"class_name": optimizer, "config": {}}), loss="mse"
        )
        model.optimizer.learning_rate = 0.1
        targets = np.column_stack([y, -y])
        model.fit(data, targets, epochs=3, batch_size=20, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    # Adam's steps are as large for a gradient of 1e-9 as for one of 1, so
    # rounding alone may move a weight by 1e-4; with the slices read apart
    # the weights ended 0.008 to 0.09 apart.
    for sparse_weights, dense_weights in zip(trained[1], trained[0]):
        assert_allclose(sparse_weights, dense_weights, atol=1e-3)


# Under another backend, in a fresh interpreter: the layer against the
# brute-force FM on dense and (where the backend has it) sparse input,
# training in model.fit, and a .keras round trip.
BACKEND_SCRIPT = textwrap.dedent(
    """
    import itertools, sys, tempfile, os
    import numpy as np, scipy.sparse as sp
    import keras
    from sklearn_fm.keras import FactorizationMachine, FieldAwareFactorizationMachine
    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    rng = np.random.RandomState(0)
    X = sp.random(64, 7, density=0.4, random_state=rng, format="csr", dtype=np.float32)
    y = (X[:, 0].toarray() * X[:, 1].toarray() * 4 + X[:, 2].toarray()).astype(np.float32)
    fields = [0, 0, 1, 1, 2, 2, 2]
    for kind, sparse_input in itertools.product(["fm", "ffm"], sys.argv[2:]):
        sparse_input = sparse_input == "sparse"
        data = X if sparse_input else X.toarray()
        inputs = keras.Input(shape=(7,), sparse=sparse_input)
        arguments = dict(
            n_factors=3, units=2, name="fm",
            factors_initializer=keras.initializers.RandomNormal(seed=0),
        )
        if kind == "fm":
            layer = FactorizationMachine(**arguments)
        else:
            layer = FieldAwareFactorizationMachine(fields=fields, **arguments)
        model = keras.Model(inputs, layer(inputs))
        bias, kernel, factors = (np.asarray(w) for w in layer.get_weights())

        def weight(i, j, c):
            if kind == "fm":
                return factors[i, c] @ factors[j, c]
            return factors[i, c, fields[j]] @ factors[j, c, fields[i]]

        dense = X.toarray()
        expected = np.column_stack([
            bias[c] + dense @ kernel[:, c] + sum(
                weight(i, j, c) * dense[:, i] * dense[:, j]
                for i, j in itertools.combinations(range(7), 2)
            )
            for c in range(2)
        ])
        np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-4, atol=1e-5)
        if sys.argv[1] == "jax" and sparse_input:
            from jax.experimental import sparse as jsp
            bcoo = jsp.BCOO.fromdense(dense)
            # Keras' own layer tests batch BCOO input (n_batch=1); the entries
            # of a repeated coordinate sum, as in scipy.
            batched = jsp.BCOO.fromdense(dense, n_batch=1)
            halves = jsp.BCOO(
                (np.concatenate([bcoo.data, bcoo.data]) / 2,
                 np.concatenate([bcoo.indices, bcoo.indices])),
                shape=dense.shape,
            )
            for other in (batched, halves):
                np.testing.assert_allclose(np.asarray(layer(other)), expected, rtol=1e-4, atol=1e-5)
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
        history = model.fit(data, np.hstack([y, y]), epochs=15, batch_size=16, verbose=0)
        assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
        with tempfile.TemporaryDirectory() as folder:
            model.save(os.path.join(folder, "fm.keras"))
            loaded = keras.models.load_model(os.path.join(folder, "fm.keras"))
        assert type(loaded.get_layer("fm")) is type(layer)
        np.testing.assert_allclose(
            loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6
        )
    print("ok")
    """
)


# The TensorFlow backend is tested in this process, above. Keras has no
# sparse tensors under PyTorch.
@pytest.mark.parametrize("backend, inputs", [("jax", ["dense", "sparse"]), ("torch", ["dense"])])
def test_the_layers_build_train_and_save_under_other_backends(backend, inputs):
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = run_python("-c", BACKEND_SCRIPT, backend, *inputs, env=env, timeout=900)
    assert result.stdout.strip().endswith("ok")


# The field-aware FM: the same checks against its brute-force definition.


def brute_force_ffm(X, bias, kernel, factors, fields):
    """b_c + <w_c, x> + sum_{i<j} <v_{i c f(j)}, v_{j c f(i)}> x_i x_j, per output c."""
    out = bias + X @ kernel
    for i, j in itertools.combinations(range(X.shape[1]), 2):
        weights = np.sum(factors[i, :, fields[j]] * factors[j, :, fields[i]], axis=-1)
        out = out + weights * (X[:, i] * X[:, j])[:, None]
    return out


FIELDS = [0, 0, 1, 2, 2, 2, 1, 0, 2]


def built_ffm(fields, n_factors, seed, units=1):
    rng = np.random.RandomState(seed)
    layer = FieldAwareFactorizationMachine(
        fields=fields, n_factors=n_factors, units=units, dtype="float64"
    )
    layer.build((None, len(fields)))
    n_fields = max(fields) + 1
    weights = [
        rng.normal(size=units),
        rng.normal(size=(len(fields), units)),
        rng.normal(size=(len(fields), units, n_fields, n_factors)),
    ]
    layer.set_weights(weights)
    return layer, weights


@pytest.mark.parametrize("units", [1, 3])
@pytest.mark.parametrize("density", [0.1, 0.5, 1.0])
def test_ffm_dense_and_sparse_outputs_equal_brute_force(units, density):
    X = sp.random(30, 9, density=density, random_state=4, format="csr").toarray()
    layer, weights = built_ffm(FIELDS, 4, seed=units, units=units)
    expected = brute_force_ffm(X, *weights, FIELDS)
    assert_allclose(layer(X).numpy(), expected, rtol=1e-10, atol=1e-12)
    assert_allclose(layer(to_sparse_tensor(X)).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_ffm_outputs_on_gathered_parameters_and_field_sums():
    X = sp.random(12, 9, density=0.4, random_state=1, format="coo")
    _, (bias, kernel, factors) = built_ffm(FIELDS, 3, seed=2, units=2)
    fields = np.array(FIELDS)
    outputs, field_sums = ffm_outputs(
        bias, kernel[X.col], factors[X.col], X.data, X.row, fields[X.col], 12, 3
    )
    assert_allclose(outputs, brute_force_ffm(X.toarray(), bias, kernel, factors, FIELDS))
    # field_sums[r, f, c, g] = sum over the columns i of field f of x_ri v_icg.
    in_field = np.eye(3)[fields]  # (n_features, n_fields)
    expected = np.einsum("ri,if,icgk->rfcgk", X.toarray(), in_field, factors)
    assert_allclose(field_sums, expected, atol=1e-12)


def test_ffm_outputs_log_no_error_lines():
    # ops.take_along_axis made TensorFlow log "E0000 ... oneDNN supports
    # DT_INT64 only on platforms with AVX-512" at every field-aware fit on
    # such CPUs, an error line a user cannot act on.
    script = (
        "import numpy as np\n"
        "from sklearn_fm.keras import ffm_outputs\n"
        "ffm_outputs(np.zeros(1), np.zeros((4, 1)), np.ones((4, 1, 2, 3)), np.ones(4),\n"
        "            np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), 2, 2)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    assert "DT_INT64" not in run_python("-c", script, env=env, timeout=300).stderr


def test_ffm_with_one_field_is_the_fm():
    X = np.random.RandomState(0).normal(size=(15, 6))
    ffm, (bias, kernel, factors) = built_ffm([0] * 6, 3, seed=1, units=2)
    fm = FactorizationMachine(n_factors=3, units=2, dtype="float64")
    fm.build((None, 6))
    fm.set_weights([bias, kernel, factors[:, :, 0]])
    assert_allclose(ffm(X).numpy(), fm(X).numpy(), rtol=1e-12)


def test_ffm_trains_and_round_trips_through_keras_saving(tmp_path):
    rng = np.random.RandomState(0)
    X = sp.random(400, 9, density=0.4, random_state=rng, format="csr", dtype=np.float32)
    y = (X[:, 0].toarray() * X[:, 3].toarray() * 4 + X[:, 2].toarray()).astype(np.float32)
    inputs = keras.Input(shape=(9,), sparse=True)
    layer = FieldAwareFactorizationMachine(
        fields=FIELDS,
        n_factors=4,
        name="ffm",
        factors_initializer=keras.initializers.RandomNormal(seed=0),
        factors_regularizer=keras.regularizers.L2(1e-4),
    )
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(X, y, epochs=20, batch_size=50, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    path = tmp_path / "ffm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("ffm"), FieldAwareFactorizationMachine)
    assert loaded.get_layer("ffm").fields == tuple(FIELDS)
    assert loaded.get_layer("ffm").n_fields == 3
    assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    config = layer.get_config()
    assert FieldAwareFactorizationMachine.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "fields, message",
    [
        ([], "non-empty sequence of integers"),
        ([0, 1.5], "non-empty sequence of integers"),
        ([[0, 1]], "non-empty sequence of integers"),
        ([True, False], "non-empty sequence of integers"),
        ("01", "non-empty sequence of integers"),
        (3, "non-empty sequence of integers"),
        ([0, -1], "numbered from 0, but it holds -1"),
    ],
)
def test_ffm_bad_field_maps_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        FieldAwareFactorizationMachine(fields=fields)


def test_ffm_fields_must_cover_the_input_columns():
    layer = FieldAwareFactorizationMachine(fields=[0, 1, 1])
    with pytest.raises(ValueError, match="fields of 3 columns, but its inputs have 4"):
        layer(np.ones((2, 4)))
