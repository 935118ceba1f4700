"""The Keras side of sklearn_fm: the Factorization Machine layer and its trainer.

Importing this module imports Keras and TensorFlow. The estimators import it
only when they train, so ``import sklearn_fm`` stays cheap and ``predict``
never needs it.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

__all__ = ["FactorizationMachine"]

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "sklearn_fm trains with the TensorFlow backend of Keras, but Keras is "
        f"configured for {keras.backend.backend()!r}. Set the environment variable "
        "KERAS_BACKEND=tensorflow before Keras is first imported."
    )


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
        if isinstance(inputs, tf.SparseTensor):
            rows, cols = inputs.indices[:, 0], inputs.indices[:, 1]
            n_rows = ops.shape(inputs)[0]
            values = ops.cast(inputs.values, self.compute_dtype)
            # Gathering the rows of V that each non-zero touches keeps both the
            # forward pass and the gradient (IndexedSlices) at O(k * nnz).
            v = ops.take(self.factors, cols, axis=0) * values[:, None]
            linear = ops.segment_sum(
                ops.take(self.kernel, cols, axis=0) * values, rows, n_rows
            )
            xv = ops.segment_sum(v, rows, n_rows)
            x2v2 = ops.segment_sum(v * v, rows, n_rows)
        else:
            inputs = ops.cast(inputs, self.compute_dtype)
            linear = ops.matmul(inputs, self.kernel)
            xv = ops.matmul(inputs, self.factors)
            x2v2 = ops.matmul(inputs * inputs, self.factors * self.factors)
        pairwise = 0.5 * ops.sum(xv * xv - x2v2, axis=1)
        return (self.bias + linear + pairwise)[:, None]

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


_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
    "rmsprop": keras.optimizers.RMSprop,
}

_LOSSES = {"squared_error": lambda y, raw: 0.5 * ops.square(y - raw)}


def _sum_duplicates(gradient):
    """Merge the slices of a sparse gradient that update the same row.

    A sparse batch yields one slice per non-zero, so a feature present in
    several rows appears several times. Keras' adaptive optimizers square
    IndexedSlices slice by slice (sum of squares instead of square of the sum),
    which would make sparse training differ from dense training on the same
    data. Summing first also means fewer rows to scatter.
    """
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


class _Trainer:
    """Minibatch training of one FactorizationMachine layer.

    Built by sklearn_fm's estimators for one call to ``fit`` or ``partial_fit``
    from NumPy parameters, and read back into NumPy afterwards: no Keras object
    outlives the call, which keeps the estimators picklable and thread-safe.

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
        # The weights come from the estimator; a random initializer here would
        # draw its seed from Python's global random module.
        self.layer = FactorizationMachine(
            n_factors=factors.shape[1], factors_initializer="zeros"
        )
        self.layer.build((None, coef.shape[0]))
        self.layer.set_weights([np.asarray(intercept), coef, factors])
        self.optimizer = _OPTIMIZERS[solver](learning_rate=learning_rate)
        self.optimizer.build(self.layer.trainable_variables)
        if optimizer_state is not None:
            for variable, value in zip(self.optimizer.variables, optimizer_state):
                variable.assign(value)
            self.optimizer.learning_rate = learning_rate
        self._loss = _LOSSES[loss]
        self._alphas = (float(alpha_linear), float(alpha_factors))
        self._batch_size = int(batch_size)
        # One graph call runs a whole epoch: per-batch Python dispatch would
        # cost more than the FM arithmetic on small batches.
        self._run_epoch = tf.function(
            self._sparse_epoch if sparse else self._dense_epoch, reduce_retracing=True
        )

    def run_epoch(self, arrays):
        """Train one epoch on batches cut in order from ``arrays``.

        ``arrays`` comes from ``sklearn_fm._data.epoch_arrays`` with its rows
        already shuffled. Returns the epoch's mean objective.
        """
        return float(self._run_epoch(*arrays))

    def weights(self):
        """The current (intercept, coef, factors) as float64 NumPy values."""
        intercept, coef, factors = self.layer.get_weights()
        return float(intercept), coef.astype(np.float64), factors.astype(np.float64)

    def optimizer_state(self):
        return [variable.numpy() for variable in self.optimizer.variables]

    def _penalty(self, x, sample_weight):
        """sum_i s_i penalty(x_i) over a batch, computed in the batch's format."""
        alpha_linear, alpha_factors = self._alphas
        kernel, factors = self.layer.kernel, self.layer.factors
        if isinstance(x, tf.SparseTensor):
            # Only the rows of the features present in the batch are read.
            cols = x.indices[:, 1]
            weight = ops.take(sample_weight, x.indices[:, 0], axis=0)
            kernel = ops.take(kernel, cols, axis=0)
            factors = ops.take(factors, cols, axis=0)
        else:
            present = ops.cast(ops.not_equal(x, 0.0), sample_weight.dtype)
            weight = ops.matmul(sample_weight, present)
        per_feature = alpha_linear * ops.square(kernel) + alpha_factors * ops.sum(
            ops.square(factors), axis=1
        )
        return 0.5 * ops.sum(weight * per_feature)

    def _step(self, x, y, sample_weight):
        """One optimizer step on a batch; returns the batch's summed objective."""
        with tf.GradientTape() as tape:
            raw = self.layer(x)[:, 0]
            objective = ops.sum(sample_weight * self._loss(y, raw)) + self._penalty(
                x, sample_weight
            )
            mean_objective = objective / ops.cast(ops.shape(y)[0], objective.dtype)
        variables = self.layer.trainable_variables
        gradients = tape.gradient(mean_objective, [v.value for v in variables])
        self.optimizer.apply([_sum_duplicates(g) for g in gradients], variables)
        return objective

    def _dense_epoch(self, X, y, sample_weight):
        n_rows = tf.shape(y)[0]
        total = tf.constant(0.0)
        for i in tf.range((n_rows + self._batch_size - 1) // self._batch_size):
            start = i * self._batch_size
            stop = tf.minimum(start + self._batch_size, n_rows)
            total += self._step(
                X[start:stop], y[start:stop], sample_weight[start:stop]
            )
        return total / tf.cast(n_rows, total.dtype)

    def _sparse_epoch(self, indptr, indices, values, y, sample_weight):
        n_rows = tf.shape(y, out_type=tf.int64)[0]
        n_features = tf.shape(self.layer.kernel, out_type=tf.int64)[0]
        total = tf.constant(0.0)
        for i in tf.range((n_rows + self._batch_size - 1) // self._batch_size):
            start = i * self._batch_size
            stop = tf.minimum(start + self._batch_size, n_rows)
            # Rows arrive shuffled in CSR order, so a batch is a contiguous
            # slice whose indices are already sorted as SparseTensor expects.
            rows = tf.repeat(
                tf.range(stop - start), indptr[start + 1 : stop + 1] - indptr[start:stop]
            )
            lo, hi = indptr[start], indptr[stop]
            x = tf.SparseTensor(
                tf.stack([rows, indices[lo:hi]], axis=1),
                values[lo:hi],
                tf.stack([stop - start, n_features]),
            )
            total += self._step(x, y[start:stop], sample_weight[start:stop])
        return total / tf.cast(n_rows, total.dtype)
