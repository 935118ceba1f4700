"""The Keras side of sklearn_fm: the Factorization Machine layer and its trainer.

Importing this module imports Keras and TensorFlow. The estimators import it
only when they train, so ``import sklearn_fm`` stays cheap and ``predict``
never needs it.
"""

import functools
import os


def _check_backend(backend):
    if backend != "tensorflow":
        raise ImportError(
            "sklearn_fm trains with the TensorFlow backend of Keras, but Keras is "
            f"configured for {backend!r}. Set the environment variable "
            "KERAS_BACKEND=tensorflow before Keras is first imported."
        )


# Before importing Keras, which may fail with another backend's package missing.
_check_backend(os.environ.get("KERAS_BACKEND", "tensorflow"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

_check_backend(keras.backend.backend())  # also set in ~/.keras/keras.json

__all__ = ["FactorizationMachine"]


def _fm_output(bias, kernel, factors, x):
    """The FM output of each row of ``x`` (dense tensor or ``tf.SparseTensor``).

    The one implementation of the model in TensorFlow, shared by
    :class:`FactorizationMachine` and the estimators' trainer.
    """
    if isinstance(x, tf.SparseTensor):
        rows, cols = x.indices[:, 0], x.indices[:, 1]
        n_rows = ops.shape(x)[0]
        values = ops.cast(x.values, factors.dtype)
        # Gathering the rows of V that each non-zero touches keeps both the
        # forward pass and the gradient (IndexedSlices) at O(k * nnz).
        v = ops.take(factors, cols, axis=0) * values[:, None]
        linear = ops.segment_sum(ops.take(kernel, cols, axis=0) * values, rows, n_rows)
        xv = ops.segment_sum(v, rows, n_rows)
        x2v2 = ops.segment_sum(v * v, rows, n_rows)
    else:
        linear = ops.matmul(x, kernel)
        xv = ops.matmul(x, factors)
        x2v2 = ops.matmul(x * x, factors * factors)
    return bias + linear + 0.5 * ops.sum(xv * xv - x2v2, axis=1)


@keras.saving.register_keras_serializable(package="sklearn_fm")
class FactorizationMachine(keras.layers.Layer):
    """Second-order Factorization Machine (Rendle, 2010) as a Keras layer.

    Computes, for each row ``x`` of its input::

        w0 + sum_i w_i x_i + 1/2 sum_f [(sum_i v_if x_i)**2 - sum_i v_if**2 x_i**2]

    which equals ``w0 + <w, x> + sum_{i<j} <v_i, v_j> x_i x_j`` at a cost of
    O(n_factors * nnz(x)) per row. Dense input and ``tf.SparseTensor`` input
    (for example from ``keras.Input(shape=(n,), sparse=True)``) are both
    accepted; sparse input is never densified, so memory grows with the
    non-zeros and the parameters, not with ``n_rows * n_features``.

    Parameters
    ----------
    n_factors : int, default=8
        Dimension of the factor vector ``v_i`` of each feature.
    kernel_initializer : str or keras.initializers.Initializer, default="zeros"
        Initializer of the linear weights ``w``.
    factors_initializer : str or keras.initializers.Initializer, \
            default="random_normal"
        Initializer of the factor matrix ``V``.
    **kwargs
        Standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Attributes
    ----------
    bias : keras.Variable of shape ()
        The global bias ``w0``.
    kernel : keras.Variable of shape (n_features,)
        The linear weights ``w``.
    factors : keras.Variable of shape (n_features, n_factors)
        The factor matrix ``V``.

    Examples
    --------
    >>> import keras
    >>> from sklearn_fm.keras import FactorizationMachine
    >>> inputs = keras.Input(shape=(100,), sparse=True)
    >>> model = keras.Model(inputs, FactorizationMachine(n_factors=4)(inputs))
    >>> model.output_shape
    (None, 1)
    """

    def __init__(
        self,
        n_factors=8,
        kernel_initializer="zeros",
        factors_initializer="random_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_factors = int(n_factors)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.factors_initializer = keras.initializers.get(factors_initializer)

    def build(self, input_shape):
        n_features = input_shape[-1]
        self.bias = self.add_weight(shape=(), initializer="zeros", name="bias")
        self.kernel = self.add_weight(
            shape=(n_features,), initializer=self.kernel_initializer, name="kernel"
        )
        self.factors = self.add_weight(
            shape=(n_features, self.n_factors),
            initializer=self.factors_initializer,
            name="factors",
        )

    def call(self, inputs):
        if not isinstance(inputs, tf.SparseTensor):
            inputs = ops.cast(inputs, self.compute_dtype)
        return _fm_output(self.bias, self.kernel, self.factors, inputs)[:, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            n_factors=self.n_factors,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            factors_initializer=keras.initializers.serialize(self.factors_initializer),
        )
        return config


# Each solver is Keras' optimizer of that name with its default settings,
# written as an update rule (param, gradient, slots, learning rate, step) ->
# (param, slots) so that one traced graph serves all fits of a shape. Keras
# optimizer objects are bound to the variables they were built for: using them
# meant tracing anew for every fit, and TensorFlow kept that graph memory
# (about 3.5 MB per fit, measured).
_EPSILON = 1e-7


def _sgd(param, gradient, slots, learning_rate, step):
    return param - learning_rate * gradient, ()


def _adagrad(param, gradient, slots, learning_rate, step):
    (accumulator,) = slots
    accumulator = accumulator + gradient * gradient
    return param - learning_rate * gradient / tf.sqrt(accumulator + _EPSILON), (accumulator,)


def _rmsprop(param, gradient, slots, learning_rate, step, rho=0.9):
    (velocity,) = slots
    velocity = rho * velocity + (1 - rho) * gradient * gradient
    return param - learning_rate * gradient / tf.sqrt(velocity + _EPSILON), (velocity,)


def _adam(param, gradient, slots, learning_rate, step, beta_1=0.9, beta_2=0.999):
    m, v = slots
    m = m + (gradient - m) * (1 - beta_1)
    v = v + (gradient * gradient - v) * (1 - beta_2)
    alpha = learning_rate * tf.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    return param - alpha * m / (tf.sqrt(v) + _EPSILON), (m, v)


# rule, initial slot values, and whether a parameter row with no gradient is
# left unchanged (then sparse gradients update only the rows present; Adam and
# RMSprop move every row, so they update densely to train the same model on
# sparse and dense input).
_SOLVERS = {
    "sgd": (_sgd, (), True),
    "adagrad": (_adagrad, (0.1,), True),
    "rmsprop": (_rmsprop, (0.0,), False),
    "adam": (_adam, (0.0, 0.0), False),
}

_LOSSES = {"squared_error": lambda y, raw: 0.5 * ops.square(y - raw)}


def _sum_duplicates(gradient):
    """Merge the slices of a sparse gradient that update the same row.

    A sparse batch yields one slice per non-zero, so a feature present in
    several rows appears several times; the adaptive rules need the square of
    the summed gradient, not the sum of the squares.
    """
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return values, rows


def _apply(solver, params, slots, gradients, learning_rate, step):
    rule, _, row_sparse = _SOLVERS[solver]
    step = tf.cast(step, learning_rate.dtype)
    for param, param_slots, gradient in zip(params, slots, gradients):
        if isinstance(gradient, tf.IndexedSlices) and row_sparse:
            values, rows = _sum_duplicates(gradient)
            new, new_slots = rule(
                tf.gather(param, rows),
                values,
                [tf.gather(slot, rows) for slot in param_slots],
                learning_rate,
                step,
            )
            for variable, value in zip((param, *param_slots), (new, *new_slots)):
                variable.scatter_update(tf.IndexedSlices(value, rows))
        else:
            new, new_slots = rule(
                param, tf.convert_to_tensor(gradient), param_slots, learning_rate, step
            )
            for variable, value in zip((param, *param_slots), (new, *new_slots)):
                variable.assign(value)


def _penalty(params, x, sample_weight, alpha_linear, alpha_factors):
    """sum_i s_i penalty(x_i) over a batch, computed in the batch's format."""
    _, kernel, factors = params
    if isinstance(x, tf.SparseTensor):
        # Only the rows of the features present in the batch are read.
        cols = x.indices[:, 1]
        weight = tf.gather(sample_weight, x.indices[:, 0])
        kernel, factors = tf.gather(kernel, cols), tf.gather(factors, cols)
    else:
        present = tf.cast(tf.not_equal(x, 0.0), x.dtype)
        weight = tf.linalg.matvec(present, sample_weight, transpose_a=True)
    per_feature = alpha_linear * tf.square(kernel) + alpha_factors * tf.reduce_sum(
        tf.square(factors), axis=1
    )
    return 0.5 * tf.reduce_sum(weight * per_feature)


def _step(state, x, y, sample_weight, hyper, loss, solver):
    """One optimizer step on a batch; returns the batch's summed objective."""
    params, slots, step = state
    learning_rate, alpha_linear, alpha_factors, _ = hyper
    with tf.GradientTape() as tape:
        raw = _fm_output(*params, x)
        objective = tf.reduce_sum(sample_weight * _LOSSES[loss](y, raw)) + _penalty(
            params, x, sample_weight, alpha_linear, alpha_factors
        )
        mean_objective = objective / tf.cast(tf.shape(y)[0], objective.dtype)
    gradients = tape.gradient(mean_objective, params)
    step.assign_add(1)
    _apply(solver, params, slots, gradients, learning_rate, step)
    return objective


def _batch_bounds(i, batch_size, n_rows):
    start = i * batch_size
    return start, tf.minimum(start + batch_size, n_rows)


def _dense_epoch(state, X, y, sample_weight, hyper, loss, solver):
    batch_size = hyper[3]
    n_rows = tf.shape(y, out_type=batch_size.dtype)[0]
    total = tf.constant(0.0)
    for i in tf.range((n_rows + batch_size - 1) // batch_size):
        start, stop = _batch_bounds(i, batch_size, n_rows)
        total += _step(
            state, X[start:stop], y[start:stop], sample_weight[start:stop], hyper, loss, solver
        )
    return total / tf.cast(n_rows, total.dtype)


def _sparse_epoch(state, indptr, indices, values, y, sample_weight, hyper, loss, solver):
    batch_size = hyper[3]
    n_rows = tf.shape(y, out_type=tf.int64)[0]
    n_features = tf.shape(state[0][1], out_type=tf.int64)[0]
    total = tf.constant(0.0)
    for i in tf.range((n_rows + batch_size - 1) // batch_size):
        start, stop = _batch_bounds(i, batch_size, n_rows)
        # Rows arrive shuffled in CSR order, so a batch is a contiguous slice
        # whose indices are already sorted as SparseTensor expects.
        rows = tf.repeat(
            tf.range(stop - start), indptr[start + 1 : stop + 1] - indptr[start:stop]
        )
        lo, hi = indptr[start], indptr[stop]
        x = tf.SparseTensor(
            tf.stack([rows, indices[lo:hi]], axis=1),
            values[lo:hi],
            tf.stack([stop - start, n_features]),
        )
        total += _step(
            state, x, y[start:stop], sample_weight[start:stop], hyper, loss, solver
        )
    return total / tf.cast(n_rows, total.dtype)


@functools.lru_cache(maxsize=16)
def _epoch_function(sparse, n_features, n_factors):
    """The traced epoch for parameters of one shape, shared by every fit.

    One graph call runs a whole epoch: per-batch Python dispatch would cost more
    than the FM arithmetic on small batches. Fits with the same parameter shape
    reuse the graph (traced once per loss and solver), so tracing is not paid
    per fit. Data shapes generalise; parameter shapes must not: TensorFlow
    (2.21) reuses a shape-generalised graph for variables of another shape but
    keeps the static shapes of the variables it was traced with. A graph
    dropped from this cache is freed.
    """
    return tf.function(_sparse_epoch if sparse else _dense_epoch, reduce_retracing=True)


class _Trainer:
    """Minibatch training of the FM parameters of one ``fit`` or ``partial_fit``.

    Built from NumPy parameters and read back into NumPy afterwards: the
    estimators store no TensorFlow object, which keeps them picklable and
    thread-safe.

    The objective is ``sum_i s_i [loss(y_i, f(x_i)) + penalty(x_i)] / n`` with
    sample weights ``s`` normalised to mean 1, where ``penalty(x_i)`` is
    ``1/2 sum_{j: x_ij != 0} (alpha_linear w_j**2 + alpha_factors |v_j|**2)``:
    each row regularises the features it uses, as in libFM's SGD. On dense
    data this is the usual L2 penalty; on sparse data it costs O(k * nnz) per
    batch instead of touching every parameter.
    """

    def __init__(
        self,
        intercept,
        coef,
        factors,
        *,
        loss,
        solver,
        learning_rate,
        alpha_linear,
        alpha_factors,
        batch_size,
        sparse,
        optimizer_state=None,
    ):
        params = [np.float32(intercept), coef.astype(np.float32), factors.astype(np.float32)]
        _, initial_slots, _ = _SOLVERS[solver]
        if optimizer_state is None:
            optimizer_state = [np.int64(0)] + [
                np.full_like(param, value) for param in params for value in initial_slots
            ]
        step, *slots = optimizer_state  # the slots, parameter by parameter
        n_slots = len(initial_slots)
        self._params = tuple(tf.Variable(p) for p in params)
        self._slots = tuple(
            tuple(tf.Variable(value) for value in slots[i * n_slots : (i + 1) * n_slots])
            for i in range(len(params))
        )
        self._step = tf.Variable(np.int64(step))
        self._hyper = (
            tf.constant(learning_rate, tf.float32),
            tf.constant(alpha_linear, tf.float32),
            tf.constant(alpha_factors, tf.float32),
            tf.constant(batch_size, tf.int64),
        )
        self._loss, self._solver = loss, solver
        self._epoch = _epoch_function(sparse, *factors.shape)

    def run_epoch(self, arrays):
        """Train one epoch on batches cut in order from ``arrays``.

        ``arrays`` comes from ``sklearn_fm._data.epoch_arrays`` with its rows
        already shuffled. Returns the epoch's mean objective.
        """
        state = (self._params, self._slots, self._step)
        return float(self._epoch(state, *arrays, self._hyper, self._loss, self._solver))

    def weights(self):
        """The current (intercept, coef, factors) as float64 NumPy values."""
        intercept, coef, factors = (p.numpy() for p in self._params)
        return float(intercept), coef.astype(np.float64), factors.astype(np.float64)

    def optimizer_state(self):
        """The step count and the solver's slots, for a later ``partial_fit``."""
        return [self._step.numpy()] + [s.numpy() for slots in self._slots for s in slots]
