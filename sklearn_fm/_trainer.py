"""The estimators' trainer: minibatch training of FM parameters in TensorFlow.

Importing this module imports TensorFlow and Keras; the estimators import it
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

from .keras import fm_outputs  # noqa: E402

_check_backend(keras.backend.backend())  # also set in ~/.keras/keras.json


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
# left unchanged. Then a step updates only the rows of the features in its
# batch, at O(k * nnz); Adam and RMSprop move every row, as Keras' do, so
# their steps cost O(k * n_features) too.
_SOLVERS = {
    "sgd": (_sgd, (), True),
    "adagrad": (_adagrad, (0.1,), True),
    "rmsprop": (_rmsprop, (0.0,), False),
    "adam": (_adam, (0.0, 0.0), False),
}


def _log_loss(y, raw):
    """Logistic loss of one output, softmax cross-entropy of several; ``y``
    holds class indices."""
    if raw.shape[1] == 1:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=raw[:, 0])
    labels = tf.cast(y, tf.int32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=raw)


# Each loss maps targets (n_rows,) and outputs (n_rows, n_outputs) to (n_rows,).
_LOSSES = {
    "squared_error": lambda y, raw: 0.5 * tf.square(y - raw[:, 0]),
    "log_loss": _log_loss,
}


def _apply(solver, param, slots, gradient, learning_rate, step):
    """Apply the solver's rule to ``param`` and its ``slots`` in place."""
    rule, _, _ = _SOLVERS[solver]
    new, new_slots = rule(param, gradient, slots, learning_rate, step)
    for variable, value in zip((param, *slots), (new, *new_slots)):
        variable.assign(value)


def _apply_rows(solver, table, slots, scratch, cols, gradient, learning_rate, step):
    """Apply a row-sparse rule to the rows ``cols`` of ``table``, in place.

    ``cols`` may repeat (a feature present in several rows of the batch); the
    rules need the summed gradient of each row, which ``scratch`` (zeros of
    ``table``'s shape, left zero) collects. Every copy of a repeated row then
    computes the same new value, so the scatter's write order cannot matter.
    """
    rule, _, _ = _SOLVERS[solver]
    scratch.scatter_add(tf.IndexedSlices(gradient, cols))
    summed = tf.gather(scratch, cols)
    scratch.scatter_update(tf.IndexedSlices(tf.zeros_like(gradient), cols))
    new, new_slots = rule(
        tf.gather(table, cols), summed, [tf.gather(s, cols) for s in slots], learning_rate, step
    )
    for variable, value in zip((table, *slots), (new, *new_slots)):
        variable.scatter_update(tf.IndexedSlices(value, cols))


def _step(state, cols, values, rows, y, sample_weight, n_rows, hyper, loss, solver, uniform):
    """One optimizer step on a padded batch; returns the batch's summed objective.

    The batch holds ``n_rows`` real rows; padding rows have zero weight and
    padding non-zeros have value 0, so neither changes the output, the
    gradient or the objective. The gradient of the FM is written out rather
    than taped: it is short, and the tape's version costs several times more
    operations per step. Without the ``uniform`` penalty, which touches every
    parameter, SGD and Adagrad update only the rows of the batch's features.
    """
    (bias, table, scratch), (bias_slots, table_slots), step = state
    learning_rate, alpha_linear, alpha_factors, alpha_uniform, score_scale = hyper
    # (nnz, n_outputs, 1 + k): w_j and v_j of each output, for each non-zero.
    params = tf.reshape(tf.gather(table, cols), (tf.shape(cols)[0], bias.shape[0], -1))
    raw, xv = fm_outputs(
        bias, params[..., 0], params[..., 1:], values, rows, tf.shape(y)[0]
    )
    with tf.GradientTape() as tape:
        tape.watch(raw)
        objective = tf.reduce_sum(sample_weight * _LOSSES[loss](y, score_scale * raw))
    d_raw = tape.gradient(objective, raw) / n_rows  # the mean over the batch's rows
    # Each row regularises the features it uses; padding (value 0) uses none.
    weight = tf.gather(sample_weight, rows) * tf.cast(values != 0, values.dtype)
    alphas = tf.concat([[alpha_linear], tf.fill(tf.shape(xv)[2:], alpha_factors)], axis=0)
    penalty = 0.5 * tf.reduce_sum(weight[:, None, None] * alphas * tf.square(params))
    # d raw / d w_j = x_j and d raw / d v_j = x_j (xv - v_j x_j), per non-zero.
    d_x = (tf.gather(d_raw, rows) * values[:, None])[..., None]
    d_params = tf.concat(
        [d_x, d_x * (tf.gather(xv, rows) - params[..., 1:] * values[:, None, None])], axis=-1
    )
    gradient = d_params + (weight / n_rows)[:, None, None] * alphas * params
    gradient = tf.reshape(gradient, (tf.shape(cols)[0], -1))  # back to table rows
    if uniform:  # per step; times n_rows, the epoch's mean counts it once
        penalty += 0.5 * alpha_uniform * n_rows * tf.reduce_sum(tf.square(table))
    step.assign_add(1)
    t = tf.cast(step, learning_rate.dtype)
    _apply(solver, bias, bias_slots, tf.reduce_sum(d_raw, axis=0), learning_rate, t)
    if _SOLVERS[solver][2] and not uniform:
        _apply_rows(solver, table, table_slots, scratch, cols, gradient, learning_rate, t)
    else:
        dense = tf.math.unsorted_segment_sum(gradient, cols, tf.shape(table)[0])
        if uniform:
            dense += alpha_uniform * table
        _apply(solver, table, table_slots, dense, learning_rate, t)
    return objective + penalty


# XLA fuses a step's few dozen small operations and its scatters into one
# kernel: 3 to 5 times faster per step than TensorFlow's executor. XLA
# compiles once per batch shape, which is why batches are padded to fixed ones.
_compiled_step = tf.function(_step, jit_compile=True)


def _epoch(state, cols, values, rows, y, sample_weight, n_rows, hyper, loss, solver, uniform):
    total = tf.constant(0.0)
    for i in tf.range(tf.shape(y)[0]):
        total += _compiled_step(
            state, cols[i], values[i], rows[i], y[i], sample_weight[i], n_rows[i],
            hyper, loss, solver, uniform,
        )
    return total / tf.reduce_sum(n_rows)


@functools.lru_cache(maxsize=16)
def _epoch_function(n_features, n_outputs, n_factors):
    """The traced epoch for parameters of one shape, shared by every fit.

    One graph call runs a whole epoch: per-batch Python dispatch would cost more
    than the FM arithmetic on small batches. Fits with the same parameter shape
    reuse the graph (traced once per loss and solver), so tracing is not paid
    per fit. Data shapes generalise; parameter shapes must not: TensorFlow
    (2.21) reuses a shape-generalised graph for variables of another shape but
    keeps the static shapes of the variables it was traced with. A graph
    dropped from this cache is freed.
    """
    return tf.function(_epoch, reduce_retracing=True)


class Trainer:
    """Minibatch training of the FM parameters of one ``fit`` or ``partial_fit``.

    Built from NumPy parameters and read back into NumPy afterwards: the
    estimators store no TensorFlow object, which keeps them picklable and
    thread-safe. The linear weights and the factors train as one table whose
    row ``j`` is ``(w_j, v_j)``, so each step gathers and scatters once.

    The objective is ``sum_i s_i [loss(y_i, c f(x_i)) + penalty(x_i)] / n
    + alpha_uniform / 2 (|w|**2 + |V|**2)``, with ``c`` the ``score_scale``
    (the loss reads the FM's outputs in units of ``1 / c``), sample weights ``s``
    normalised to mean 1, where ``penalty(x_i)`` is
    ``1/2 sum_{j: x_ij != 0} (alpha_linear w_j**2 + alpha_factors |v_j|**2)``:
    each row regularises the features it uses, as in libFM's SGD. On dense
    data this is the usual L2 penalty; on sparse data it costs O(k * nnz) per
    batch instead of touching every parameter. The uniform term touches every
    parameter in every step, so with it SGD and Adagrad update densely too.
    """

    def __init__(
        self,
        intercept,
        coef,
        factors,
        *,
        loss,
        solver,
        alpha_linear,
        alpha_factors,
        alpha_uniform=0.0,
        score_scale=1.0,
        optimizer_state=None,
    ):
        # One output: a scalar intercept, coef (n_features,), factors
        # (n_features, k); n outputs: (n,), (n_features, n), (n_features, n, k).
        self._shapes = tuple(np.shape(p) for p in (intercept, coef, factors))
        n_features, n_factors = factors.shape[0], factors.shape[-1]
        n_outputs = np.size(intercept)
        table = np.concatenate(
            [
                np.reshape(coef, (n_features, n_outputs, 1)),
                np.reshape(factors, (n_features, n_outputs, n_factors)),
            ],
            axis=-1,
        )
        params = [
            np.reshape(intercept, n_outputs).astype(np.float32),
            table.reshape(n_features, -1).astype(np.float32),
        ]
        _, initial_slots, _ = _SOLVERS[solver]
        if optimizer_state is None:
            optimizer_state = [np.int64(0)] + [
                np.full_like(param, value) for param in params for value in initial_slots
            ]
        step, *slots = optimizer_state  # the slots of the intercept, then of the table
        n_slots = len(initial_slots)
        bias, table = (tf.Variable(p) for p in params)
        self._uniform = alpha_uniform > 0
        scratch = tf.Variable(tf.zeros_like(table)) if _SOLVERS[solver][2] else None
        self._params = (bias, table, scratch)
        self._slots = (
            tuple(tf.Variable(value) for value in slots[:n_slots]),
            tuple(tf.Variable(value) for value in slots[n_slots:]),
        )
        self._step = tf.Variable(np.int64(step))
        self._hyper = tuple(
            tf.constant(value, tf.float32)
            for value in (alpha_linear, alpha_factors, alpha_uniform, score_scale)
        )
        self._loss, self._solver = loss, solver
        self._epoch = _epoch_function(n_features, n_outputs, n_factors)

    def run_epoch(self, batches, learning_rate, penalty_scale=1.0):
        """Train one epoch on ``batches`` from ``sklearn_fm._data.epoch_batches``,
        with every penalty multiplied by ``penalty_scale``.

        Returns the epoch's mean objective.
        """
        state = (self._params, self._slots, self._step)
        *alphas, score_scale = self._hyper
        hyper = (
            tf.constant(learning_rate, tf.float32),
            *(alpha * penalty_scale for alpha in alphas),
            score_scale,
        )
        return float(
            self._epoch(state, *batches, hyper, self._loss, self._solver, self._uniform)
        )

    def weights(self):
        """The current (intercept, coef, factors) as float64 NumPy values,
        shaped as they were given."""
        intercept_shape, coef_shape, factors_shape = self._shapes
        bias = self._params[0].numpy().astype(np.float64)
        table = self._params[1].numpy().astype(np.float64)
        table = table.reshape(table.shape[0], bias.shape[0], -1)
        intercept = float(bias[0]) if intercept_shape == () else bias
        return (
            intercept,
            table[..., 0].reshape(coef_shape),
            table[..., 1:].reshape(factors_shape),
        )

    def optimizer_state(self):
        """The step count and the solver's slots, for a later ``partial_fit``."""
        return [self._step.numpy()] + [s.numpy() for slots in self._slots for s in slots]
