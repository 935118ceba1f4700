"""The estimators' trainer: Keras optimizers updating a FactorizationMachine layer.

The model that trains is :class:`sklearn_fm.keras.FactorizationMachine`; a
``keras.optimizers`` optimizer updates its variables. Importing this module
imports TensorFlow and Keras; the estimators import it only when they train,
so ``import sklearn_fm`` stays cheap and ``predict`` never needs it.

The route of the data: :class:`Trainer` uploads the fit's matrix (CSR, its
training and its validation rows) once per fit. For each epoch the host
sends only the order of the training rows; the epoch's graph cuts them into
padded batches (``_epoch_batches``) and runs the XLA-compiled step
(``_Model._batch_step``) on each, which gathers its batch's non-zeros from
the matrix. Parameters come back to the host only when asked for: at the
end of the fit (``Trainer.weights``) or from the copy kept on the device of
the best (or last finite) epoch (``Trainer.keep``, ``Trainer.kept_weights``).

In the scope of a ``tf.distribute`` strategy, the model is built in that
scope and each replica steps on its share of every batch
(``_Model._distributed_step``), as a Keras model's ``fit`` would.
"""

import functools
import hashlib
import mmap
import os
import sys
import threading
import weakref
from typing import NamedTuple


def _check_backend(backend):
    if backend != "tensorflow":
        raise ImportError(
            "sklearn_fm trains with the TensorFlow backend of Keras, but Keras is "
            f"configured for {backend!r}. Set the environment variable "
            "KERAS_BACKEND=tensorflow before Keras is first imported."
        )


def thread_limit(environ):
    """The number of threads ``OMP_NUM_THREADS`` allows (its first entry),
    or None if it sets none."""
    first = environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def _follow_thread_limit(tf, environ):
    """Size the thread pools of a TensorFlow that has not started yet to the
    ``thread_limit`` of ``environ``, unless TensorFlow's own variables do."""
    limit = thread_limit(environ)
    if limit is None:
        return
    if "TF_NUM_INTRAOP_THREADS" not in environ:
        tf.config.threading.set_intra_op_parallelism_threads(limit)
    if "TF_NUM_INTEROP_THREADS" not in environ:
        tf.config.threading.set_inter_op_parallelism_threads(limit)


# Before importing Keras, which may fail with another backend's package missing.
_check_backend(os.environ.get("KERAS_BACKEND", "tensorflow"))

# TensorFlow sizes its thread pools to the machine when it starts, and
# ignores OMP_NUM_THREADS, by which joblib's loky, Dask and Ray limit the
# threads of each worker: if this import loads TensorFlow, its pools follow
# that limit, so that parallel workers do not oversubscribe the cores. A
# TensorFlow the user loaded already is left as it is.
_TENSORFLOW_WAS_LOADED = "tensorflow" in sys.modules
import numpy as np  # noqa: E402

# Importing TensorFlow draws from NumPy's global random state: the user's
# stream of np.random must not depend on whether a fit loaded TensorFlow.
_numpy_random_state = np.random.get_state()
import tensorflow as tf  # noqa: E402

if not _TENSORFLOW_WAS_LOADED:
    _follow_thread_limit(tf, os.environ)

import keras  # noqa: E402

np.random.set_state(_numpy_random_state)
del _numpy_random_state

from .keras import (  # noqa: E402
    FactorizationMachine,
    FieldAwareFactorizationMachine,
    ffm_outputs,
    fm_outputs,
)
from ._data import index_dtype  # noqa: E402
from ._forking import check_not_forked  # noqa: E402
from ._key_sums import key_sums  # noqa: E402
from ._parameters import estimator_form, estimator_outputs, layer_form  # noqa: E402
from ._random import shuffle_rows  # noqa: E402
from ._solvers import SolverSpec  # noqa: E402

_check_backend(keras.backend.backend())  # also set in ~/.keras/keras.json


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


class EpochSettings(NamedTuple):
    """What one epoch is told: the penalty strengths, the scale the loss
    reads the FM's outputs in (see :class:`Trainer`), the learning rate,
    whether to keep the parameters it starts from (1) or not (0), and
    whether they are parameters the solver did not train (1), such as a new
    model's, or its own (0). Sent to the device as one float32 vector."""

    alpha_linear: float
    alpha_factors: float
    alpha_uniform: float
    score_scale: float
    learning_rate: float
    keep: float
    untrained_start: float


class DeviceRows(NamedTuple):
    """Training rows on the device: a CSR matrix with its targets, weights
    and row lengths, padded (see ``upload``) to ``_bucket(n_rows)`` rows and
    ``_bucket(nnz)`` non-zeros."""

    indptr: tf.Tensor  # int32 or int64 (see _data.index_dtype) (rows + 1,)
    indices: tf.Tensor  # int32 (non-zeros,)
    data: tf.Tensor  # float32 (non-zeros,)
    y: tf.Tensor  # float32 (rows,)
    sample_weight: tf.Tensor  # float32 (rows,)
    lengths: tf.Tensor  # int32 (rows,), each row's non-zeros

    @classmethod
    def upload(cls, X, y, sample_weight, weight_unit):
        """Copy a canonical float32 CSR matrix (``_data.training_matrix``),
        its targets and its weights (divided by ``weight_unit``) to the
        device, in float32.

        The arrays are padded to a size of ``_bucket``, with rows and
        non-zeros that no epoch reads: the compiled step takes them whole,
        and compiles for each size, so that matrices of similar sizes (folds,
        chunks) share one compiled step. A matrix without non-zeros gets one
        too, as steps read their padding slots from the first.
        """
        n_rows, nnz = X.shape[0], X.nnz
        rows, slots = _bucket(n_rows), _bucket(nnz)
        lengths = _aligned_empty(rows, np.int32)
        np.subtract(X.indptr[1:], X.indptr[:-1], out=lengths[:n_rows], casting="unsafe")
        lengths[n_rows:] = 0
        weights = _aligned_empty(rows, np.float32)
        np.divide(sample_weight, weight_unit, out=weights[:n_rows], casting="unsafe")
        weights[n_rows:] = 0
        return cls(
            _device_array(X.indptr, index_dtype(slots), rows + 1, nnz),
            _device_array(X.indices[:nnz], np.int32, slots),
            _device_array(X.data[:nnz], np.float32, slots),
            _device_array(y, np.float32, rows),
            _shared_tensor(weights),
            _shared_tensor(lengths),
        )


def _aligned_empty(size, dtype):
    """A NumPy array of ``size`` entries in memory of its own, at a page
    boundary, as TensorFlow's CPU kernels and XLA read tensors at 64 bytes
    (Eigen's alignment).

    An anonymous mapping goes back to the system as soon as the array (and
    any tensor sharing it) is gone, where arrays of a few MiB from the heap
    stay in the process's memory: every epoch's order would add to it.
    """
    dtype = np.dtype(dtype)
    memory = mmap.mmap(-1, max(size * dtype.itemsize, 1))
    return np.frombuffer(memory, np.uint8)[: size * dtype.itemsize].view(dtype)


def _shared_tensor(array):
    """An aligned NumPy ``array`` as a tensor on the device: on the CPU the
    array itself, which the tensor keeps alive, else a copy.

    ``tf.constant`` would copy the array, and the copy and its temporary
    would add twice the array's size to the peak memory of a fit.
    """
    # DLPack hands the array over without a copy; identity is free on the
    # CPU and copies it to the device that runs the ops (a GPU) otherwise.
    return tf.identity(tf.experimental.dlpack.from_dlpack(array.__dlpack__()))


def _device_array(values, dtype, size, fill=0):
    """``values`` converted to ``dtype`` and padded with ``fill`` to ``size``
    entries, as a tensor on the device (see ``_shared_tensor``)."""
    array = _aligned_empty(size, dtype)
    array[: len(values)] = values
    array[len(values) :] = fill
    return _shared_tensor(array)


def _row_lengths(X, rows):
    """The non-zeros of the rows ``rows`` (positions) of the CSR matrix ``X``."""
    return X.indptr[rows + 1] - X.indptr[rows]


# Early stopping's outputs are computed this many non-zeros at a time, at
# most (or a row): their memory, as a step's, grows with n_factors times them.
_CHUNK_NNZ = 1 << 16


def _chunk_bounds(lengths, budget=_CHUNK_NNZ):
    """Consecutive chunks of rows whose lengths are ``lengths``, each of at
    most ``budget`` non-zeros or of one row: ``[rows, nnz]``, with chunk
    ``i`` the rows ``rows[i]:rows[i + 1]`` and their non-zeros
    ``nnz[i]:nnz[i + 1]``, counted from the first row's."""
    ends = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    rows = [0]
    while rows[-1] < len(lengths):
        start = rows[-1]
        rows.append(max(int(np.searchsorted(ends, ends[start] + budget, "right")) - 1, start + 1))
    return np.stack([rows, ends[rows]])


class ValidationRows(NamedTuple):
    """The rows early stopping scores, as positions of their non-zeros in
    the uploaded matrix, prepared once per fit (see ``upload``)."""

    positions: tf.Tensor  # int32 or int64 (nnz,), each non-zero's slot in the matrix
    rows: tf.Tensor  # int32 (nnz,), each non-zero's row, counted from its chunk's first
    chunks: tf.Tensor  # int64 (2, n_chunks + 1), the bounds of ``_chunk_bounds``

    @classmethod
    def upload(cls, X, rows):
        """The rows ``rows`` (positions) of the CSR matrix ``X`` that
        :class:`DeviceRows` holds, in chunks of at most ``_CHUNK_NNZ``
        non-zeros."""
        lengths = _row_lengths(X, rows)
        chunks = _chunk_bounds(lengths)
        nnz = int(chunks[1, -1])
        # Row i's non-zeros are the slots from indptr[rows[i]] in the matrix,
        # and from the sum of the lengths before it in the rows' order.
        first = np.cumsum(lengths) - lengths
        positions = np.arange(nnz) + np.repeat(X.indptr[rows] - first, lengths)
        # Each row counted from its chunk's first, where the chunk's outputs start.
        chunk_row = np.arange(len(rows)) - np.repeat(chunks[0, :-1], np.diff(chunks[0]))
        return cls(
            _device_array(positions, index_dtype(X.nnz), nnz),
            _device_array(np.repeat(chunk_row, lengths), np.int32, nnz),
            tf.constant(chunks, tf.int64),
        )


class EpochResult(NamedTuple):
    """What an epoch reports to the host: its mean objective, the mean loss
    of the data within it (without the penalties, and with the weights of
    the rows normalised to mean 1), whether the objective, every parameter
    and the validation outputs stayed finite, the FM outputs of the
    validation rows (None without them), and the residual scale: the root
    mean square (weighted as ``data_loss``, over the rows and outputs) of
    the loss's gradient with respect to the FM's outputs, the residuals'
    for the squared error."""

    loss: float
    data_loss: float
    finite: bool
    validation_outputs: np.ndarray
    residual_scale: float


def _highest_power_of_2(n):
    """The highest power of 2 not above ``n`` (an int64 tensor of values >= 1)."""
    # Set every bit below the highest, then keep the highest.
    smeared = n
    for shift in (1, 2, 4, 8, 16, 32):
        smeared = tf.bitwise.bitwise_or(smeared, tf.bitwise.right_shift(smeared, shift))
    return (smeared + 1) // 2


# The training step is built for its shapes, and TensorFlow keeps what it
# builds (XLA every program it compiles) for the life of the process. So the
# sizes that make the shapes are rounded up to one of few: the non-zeros a
# batch reads, and the rows and non-zeros of the training matrix, which the
# step gathers its batch from, by at most 1/8; the rows of the parameter
# tables (which dense updates read whole) by at most 1/32, to multiples of
# these quanta; and a batch's rows (which cost little) to a power of 2.
# Shuffling, folds of one dataset and searches over many widths then share
# a few built steps, and memory stays bounded.
_NNZ_QUANTUM, _FEATURES_QUANTUM = 256, 64
# XLA's compilation of a new shape (about half a second) pays off in the
# epochs of a fit from about this many training non-zeros; smaller fits
# run TensorFlow's executor, at about the same speed per epoch.
_COMPILE_MIN_NNZ = 100_000


def _rounded_up(n, quantum, fraction):
    """``n`` (at least 1) rounded up to a multiple of ``quantum`` or of
    ``1 / fraction`` of its highest power of 2, whichever is larger."""
    n = max(n, 1)
    quantum = max(quantum, (1 << (n.bit_length() - 1)) // fraction)
    return -(-n // quantum) * quantum


def _rounded_width(n_features):
    """The layer's rows for ``n_features`` features: at most 1/32 more."""
    return _rounded_up(n_features, _FEATURES_QUANTUM, 32)


def _bucket(n):
    """The size of the device's arrays for ``n`` rows or non-zeros of the
    training matrix: at most 1/8 more, at least 1."""
    return _rounded_up(n, _NNZ_QUANTUM, 8)


def _capacity(nnz):
    """The non-zeros of the largest batch rounded up to a multiple of
    ``_NNZ_QUANTUM`` or of 1/8 of their highest power of 2, whichever is
    larger, in the graph."""
    nnz = tf.maximum(tf.cast(nnz, tf.int64), 1)
    quantum = tf.maximum(_highest_power_of_2(nnz) // 8, _NNZ_QUANTUM)
    return -(-nnz // quantum) * quantum


def _batch_capacities(batch_nnz, capacity):
    """Each batch's number of non-zeros rounded up to ``capacity / 2**j``,
    the smallest such size that holds them.

    A batch far smaller than the largest then costs the step in proportion
    to its own non-zeros (at most about twice them), whatever the other
    rows hold; batches of similar sizes, as one-hot and dense data give,
    all share the largest one's shape and its compiled step.
    """
    fits = capacity // tf.maximum(batch_nnz, 1)  # >= 1, as batch_nnz <= capacity
    return -(-capacity // _highest_power_of_2(fits))


class EpochBatches(NamedTuple):
    """An epoch's rows in batches, on the device (see ``_epoch_batches``)."""

    order: tf.Tensor  # int32 or int64 (n_samples,), the matrix's rows in the epoch's order
    batch_size: tf.Tensor  # int64 ()
    batch_rows: tf.Tensor  # int64 (), the rows a step is built for
    capacity: tf.Tensor  # int64 (n_batches,), the non-zeros each batch reads
    n_rows: tf.Tensor  # float32 (n_batches,), each batch's real rows

    def batch(self, i):
        """Batch ``i`` as the training step reads it (``_batch_contents``):
        its rows of the matrix, padded with -1 to ``batch_rows``, and the
        slots of its non-zeros, whose number (``capacity[i]``) is, with
        ``batch_rows``, the shape the step is built for."""
        i = tf.cast(i, tf.int64)
        rows = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        padding = self.batch_rows - tf.shape(rows, out_type=tf.int64)[0]
        return tf.pad(rows, [[0, padding]], constant_values=-1), tf.range(self.capacity[i])


def _epoch_batches(matrix, order, batch_size, batch_rows):
    """The rows ``order`` of ``matrix`` (a :class:`DeviceRows`) as an
    :class:`EpochBatches`.

    Batch ``i`` holds the rows ``order[i * batch_size:(i + 1) * batch_size]``,
    padded with -1 (rows of zero weight) to ``batch_rows >= batch_size``, and
    reads ``capacity[i]`` slots for its non-zeros, of which the training step
    masks those beyond its own. Few distinct shapes let few compiled steps
    serve every batch (see ``_capacity`` and ``_batch_capacities``). Each
    step gathers its own non-zeros, so an epoch takes memory in the number
    of rows, not of non-zeros.
    """
    n_samples = tf.shape(order, out_type=tf.int64)[0]
    batch_size = tf.cast(batch_size, tf.int64)
    n_batches = -(-n_samples // batch_size)
    lengths = tf.gather(matrix.lengths, order)
    # The full batches, then the rest (0 without one): slices that share
    # the lengths' memory, where padding them would copy them.
    n_full = n_samples // batch_size
    full = lengths[: n_full * batch_size]
    batch_nnz = tf.concat(
        [
            tf.reduce_sum(tf.reshape(full, tf.stack([n_full, batch_size])), axis=1),
            tf.reduce_sum(lengths[n_full * batch_size :], keepdims=True),
        ],
        axis=0,
    )[:n_batches]
    capacity = _capacity(tf.reduce_max(batch_nnz))
    return EpochBatches(
        order=order,
        batch_size=batch_size,
        batch_rows=tf.cast(batch_rows, tf.int64),
        capacity=_batch_capacities(tf.cast(batch_nnz, tf.int64), capacity),
        n_rows=tf.cast(
            tf.minimum(batch_size, n_samples - tf.range(n_batches) * batch_size), tf.float32
        ),
    )


class Batch(NamedTuple):
    """A batch as the training step reads it (see ``_batch_contents``)."""

    cols: tf.Tensor  # int32 (slots,), the column of each non-zero
    values: tf.Tensor  # float32 (slots,)
    rows: tf.Tensor  # int32 (slots,), counted from the batch's first row
    nnz: tf.Tensor  # int32 (), the real non-zeros, the first slots
    y: tf.Tensor  # float32 (rows, n_outputs) or (rows,), zero for padding
    sample_weight: tf.Tensor  # float32 (rows,), zero for padding
    n_rows: tf.Tensor  # float32 (), the real rows, which the step's mean divides by


def _batch_contents(matrix, rows, slots):
    """The :class:`Batch` of the rows ``rows`` of ``matrix`` (-1 for
    padding): its non-zeros in coordinate form, one per slot (the slots
    beyond the non-zeros repeat the matrix's first one, which the step
    masks), their number, the rows' targets and weights (zero for padding)
    and the number of real rows.

    In O(slots + rows), with the shapes of ``slots`` and ``rows``: the step
    compiles for them. TensorFlow's ``RaggedTensor.value_rowids`` (through
    ``tf.repeat``) would take memory in the rows times the longest row.
    """
    real_rows = rows >= 0
    matrix_rows = tf.where(real_rows, rows, 0)
    starts = tf.cast(tf.gather(matrix.indptr, matrix_rows), tf.int64)
    lengths = tf.where(real_rows, tf.cast(tf.gather(matrix.lengths, matrix_rows), tf.int64), 0)
    ends = tf.cumsum(lengths)
    nnz = ends[-1]
    # A slot's row is the count of rows that end at or before it.
    row_ends = tf.math.unsorted_segment_sum(tf.ones_like(ends), ends, tf.shape(slots)[0] + 1)
    real = slots < nnz
    row = tf.where(real, tf.cumsum(row_ends[:-1]), 0)
    position = tf.gather(starts, row) + slots - tf.gather(ends - lengths, row)
    position = tf.where(real, position, 0)
    return Batch(
        cols=tf.gather(matrix.indices, position),
        values=tf.gather(matrix.data, position),
        rows=tf.cast(row, tf.int32),
        nnz=tf.cast(nnz, tf.int32),
        y=tf.where(real_rows, tf.gather(matrix.y, matrix_rows), 0.0),
        sample_weight=tf.where(real_rows, tf.gather(matrix.sample_weight, matrix_rows), 0.0),
        n_rows=tf.reduce_sum(tf.cast(real_rows, tf.float32)),
    )


# Keras' optimizers densify an IndexedSlices gradient (Adagrad adds epsilon
# to its whole accumulator, FTRL recomputes every row, SGD multiplies it by
# the learning rate as a dense tensor). Their row-sparse forms below apply
# the same formulas to the rows of a gradient only. SGD's update is linear,
# so it adds each occurrence's own gradient (``adds_rows``); Adagrad and
# FTRL assign rows, which needs each occurrence to carry the row's whole
# gradient, as every occurrence then writes the same values.


class _RowSparseSGD(keras.optimizers.SGD):
    """Keras' SGD (without momentum), updating only the rows of an IndexedSlices gradient."""

    # Rows may repeat, each occurrence with its own part of the gradient.
    adds_rows = True

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        lr = tf.cast(learning_rate, variable.dtype)
        step = tf.cast(gradient.values, variable.dtype) * lr
        self.assign_sub(variable, tf.IndexedSlices(step, gradient.indices, gradient.dense_shape))


class _RowSparseAdagrad(keras.optimizers.Adagrad):
    """Keras' Adagrad, updating only the rows of an IndexedSlices gradient."""

    sums_rows = False  # see _whole_rows

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        lr = tf.cast(learning_rate, variable.dtype)
        rows, g = _whole_rows(self, gradient)
        g = tf.cast(g, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        new_accumulator = tf.gather(accumulator, rows) + tf.square(g)
        weight = tf.gather(variable, rows) - (lr * g) / tf.sqrt(new_accumulator + self.epsilon)
        _assign_rows(self, accumulator, rows, new_accumulator)
        _assign_rows(self, variable, rows, weight)


class _RowSparseFtrl(keras.optimizers.Ftrl):
    """Keras' FTRL-Proximal, updating only the rows of an IndexedSlices gradient.

    Absent rows keep their weights and slots, as under Keras' update when
    their weights are anchored (``_Model._anchor_ftrl``).
    """

    sums_rows = False  # see _whole_rows

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        accumulator, linear = self._accumulators[index], self._linears[index]
        lr = tf.cast(learning_rate, variable.dtype)
        rows, g = _whole_rows(self, gradient)
        g = tf.cast(g, variable.dtype)
        power = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        old_accumulator = tf.gather(accumulator, rows)
        new_accumulator = old_accumulator + tf.square(g)
        new_linear = tf.gather(linear, rows) + (
            g
            - (tf.pow(new_accumulator, power) - tf.pow(old_accumulator, power))
            / lr
            * tf.gather(variable, rows)
        )
        quadratic = tf.pow(new_accumulator, power) / lr + 2 * l2
        l1 = self.l1_regularization_strength
        weight = (tf.clip_by_value(new_linear, -l1, l1) - new_linear) / quadratic
        _assign_rows(self, linear, rows, new_linear)
        _assign_rows(self, variable, rows, weight)
        _assign_rows(self, accumulator, rows, new_accumulator)


def _summed_per_column(gradient, cols):
    """Per-non-zero gradients (nnz, width) summed per column, the sum at
    each of the column's occurrences in ``cols``.

    Summed in sorted order (see ``_key_sums``): a table of each column's
    first position in the batch took O(n_features) per step, as XLA copies
    a table that is scattered into, read and scattered into again.
    """
    order, _, sums = key_sums(tf, cols, gradient)
    return tf.scatter_nd(order[:, None], sums, tf.shape(gradient))


def _whole_rows(optimizer, gradient):
    """The rows of an IndexedSlices gradient and their values, each
    occurrence carrying its row's whole gradient.

    A single replica's gradients arrive so (``_summed_per_column``). The
    all-reduce of several replicas' concatenates them, so that a row may
    arrive once per replica with a part of its gradient: the optimizers of a
    distributed model (``sums_rows``) sum them first, as one replica's are.
    """
    if not optimizer.sums_rows:
        return gradient.indices, gradient.values
    return gradient.indices, _summed_per_column(gradient.values, gradient.indices)


def _assign_rows(optimizer, variable, rows, values):
    optimizer.assign(variable, tf.IndexedSlices(values, rows, tf.shape(variable, out_type=rows.dtype)))


_ROW_SPARSE_FORMS = {
    keras.optimizers.SGD: _RowSparseSGD,
    keras.optimizers.Adagrad: _RowSparseAdagrad,
    keras.optimizers.Ftrl: _RowSparseFtrl,
}


def _build_optimizer(solver, row_sparse):
    """The Keras optimizer of ``solver``, in its row-sparse form if ``row_sparse``."""
    optimizer = solver.optimizer()
    if row_sparse:
        return _ROW_SPARSE_FORMS[type(optimizer)].from_config(optimizer.get_config())
    return optimizer


# Training computes in float32 whatever the user's Keras dtype policy or
# floatx (a layer without a dtype would also make Keras fix its global
# policy), under a name of its own (Keras numbers unnamed layers with a
# global counter, which the user's layer names would then skip).
_OWN_KERAS_NAMING = {"dtype": "float32", "name": "sklearn_fm"}


class _FMTerms:
    """The FM's outputs and its factors' gradient, on parameters gathered by
    non-zero: the part of a training step that differs between the FM and
    the field-aware FM."""

    def layer(self, n_factors, n_outputs):
        """A :class:`FactorizationMachine` built at zero (see ``_Model``)."""
        return FactorizationMachine(
            n_factors=n_factors, units=n_outputs, factors_initializer="zeros", **_OWN_KERAS_NAMING
        )

    def outputs(self, bias, w, V, values, rows, cols, n_rows):
        """The outputs (n_rows, n_outputs), and what the gradient reuses."""
        return fm_outputs(bias, w, V, values, rows, n_rows)

    def factor_gradient(self, d_x, V, values, rows, xv):
        """d output / d V per non-zero, times ``d_x`` (nnz, n_outputs):
        ``x_j (xv - v_j x_j)``."""
        return d_x[..., None] * (tf.gather(xv, rows) - V * values[:, None, None])


class _FieldAwareFMTerms(_FMTerms):
    """:class:`_FMTerms` of the field-aware FM.

    The field of each column is a variable, assigned at each fit, so that
    fits of any field map with the same shapes share the built steps.
    """

    def __init__(self, n_features, n_fields):
        self.n_fields = n_fields
        self.fields = tf.Variable(tf.zeros((n_features,), tf.int32), trainable=False)

    def layer(self, n_factors, n_outputs):
        # Built with a field map of the right number of fields: training
        # reads the fields from self.fields, which each fit assigns.
        n_features = self.fields.shape[0]
        placeholder = [0] * (n_features - 1) + [self.n_fields - 1]
        return FieldAwareFactorizationMachine(
            fields=placeholder,
            n_factors=n_factors,
            units=n_outputs,
            factors_initializer="zeros",
            **_OWN_KERAS_NAMING,
        )

    def outputs(self, bias, w, V, values, rows, cols, n_rows):
        fields = tf.gather(self.fields, cols)
        raw, field_sums = ffm_outputs(bias, w, V, values, rows, fields, n_rows, self.n_fields)
        return raw, (field_sums, fields)

    def factor_gradient(self, d_x, V, values, rows, cache):
        # d output / d v_jg = x_j (S[g, f(j)] - [g == f(j)] x_j v_jf(j)), with
        # S[g, f] the row's sum of x_i v_if over its features i of field g.
        field_sums, fields = cache
        F = self.n_fields
        # by_own_field[r, f, c, g] = S[r, g, c, f]
        by_own_field = tf.transpose(field_sums, (0, 3, 2, 1, 4))
        flat = tf.reshape(by_own_field, tf.concat([[-1], tf.shape(V)[1:]], axis=0))
        sums = tf.gather(flat, rows * F + fields)  # (nnz, c, F, k): S[r, g, c, f(j)]
        own = tf.one_hot(fields, F, dtype=V.dtype)[:, None, :, None] * V
        return d_x[..., None, None] * (sums - own * values[:, None, None, None])


def _graph(function, **options):
    """``function`` as a ``tf.function``, without AutoGraph, that traces once
    per built model without a warning: TensorFlow counts the traces of every
    model's function together (by its code) and would warn of retracing when
    fits of new shapes build new models, as a grid search does."""
    graph = tf.function(function, autograph=False, **options)
    graph._omit_frequent_tracing_warning = True  # TensorFlow's own switch for this
    return graph


class ModelKey(NamedTuple):
    """What a built :class:`_Model` serves: fits of this key share one."""

    n_features: int  # the layer's width (see _rounded_width)
    n_outputs: int
    n_factors: int
    n_fields: int  # None for an FM
    solver: SolverSpec
    loss: str
    uniform_linear: bool  # whether alpha_linear > 0
    uniform_factors: bool  # whether alpha_uniform > 0
    compiled: bool  # whether XLA compiles the step

    @classmethod
    def of(
        cls, factors_shape, *, field_aware, solver, loss, training_nnz, alpha_linear,
        alpha_uniform, distributed,
    ):
        """The key of a fit whose factors, in the layer's form, have the
        shape ``factors_shape``, training on ``training_nnz`` non-zeros, in
        the scope of a ``tf.distribute`` strategy or not (``distributed``)."""
        n_features, n_outputs, *_, n_factors = factors_shape
        # The layer has zero rows beyond the features (see _rounded_width),
        # which no data reaches: they stay zero under an optimizer that
        # updates each entry from its own gradient, and change nothing.
        width = _rounded_width(int(n_features)) if solver.accepts_padding else n_features
        # Under a strategy, TensorFlow's executor runs the step: XLA compiles
        # static shapes, and each replica's share of a batch has its own.
        compiled = training_nnz >= _COMPILE_MIN_NNZ and not distributed
        return cls(
            width, n_outputs, n_factors, factors_shape[2] if field_aware else None, solver, loss,
            alpha_linear > 0, alpha_uniform > 0, compiled,
        )


class _Model:
    """A built layer, its optimizer and their compiled epoch, for one
    parameter shape, solver and loss.

    Building them costs a trace (and an XLA compilation), and Keras binds an
    optimizer to the variables it was built for; so a model is built once,
    kept in a pool and re-initialised by assignment for each fit.
    """

    def __init__(self, key, strategy=None):
        self.terms = (
            _FMTerms()
            if key.n_fields is None
            else _FieldAwareFMTerms(key.n_features, key.n_fields)
        )
        # Built at zero (each fit assigns its values): the optimizer's initial
        # state is then that of a zero model, which the rows that round the
        # width up keep (see reset); a random initializer would also draw
        # from Keras' global seed generator.
        self.layer = self.terms.layer(key.n_factors, key.n_outputs)
        self.layer.build((None, key.n_features))
        self.variables = [self.layer.bias, self.layer.kernel, self.layer.factors]
        # The parameters of the best (or last finite) epoch, kept on the device.
        self.kept = [tf.Variable(v.value, trainable=False) for v in self.variables]
        # SGD, Adagrad and FTRL update only the rows of the batch's features
        # in their row-sparse forms. A uniform penalty has a gradient on every
        # row: that of the factors makes them update densely, that of the
        # linear weights (one number per feature) only the kernel.
        self.row_sparse = key.solver.row_sparse and not key.uniform_factors
        self.dense_kernel = not self.row_sparse or key.uniform_linear
        self.optimizer = _build_optimizer(key.solver, self.row_sparse)
        self.optimizer.build(self.variables)
        self.initial_state = [_compact(v.numpy()) for v in self.optimizer.variables]
        self.loss = key.loss
        self.uniform_linear, self.uniform_factors = key.uniform_linear, key.uniform_factors
        # Row-sparse Adagrad and FTRL read each row's whole gradient: merged
        # per step, or for a distributed model after the all-reduce.
        reads_whole_rows = self.row_sparse and not getattr(self.optimizer, "adds_rows", False)
        self._merge_rows = reads_whole_rows and strategy is None
        if reads_whole_rows and strategy is not None:
            self.optimizer.sums_rows = True
        self._ftrl_slots = _ftrl_slots(self.optimizer, self.variables)
        self._copying_slots = _slots_copying_their_variables(self.optimizer, self.variables)
        # XLA fuses a step's few dozen small operations and its scatters into
        # one kernel, up to several times faster per step than TensorFlow's
        # executor. It compiles once per batch shape, which is why batches
        # are padded (see _capacity); _COMPILE_MIN_NNZ says when it pays.
        # Written as graphs (tf.cond, tf.while_loop): AutoGraph's conversion
        # of the Python source would take about 2 s of every process's first fit.
        self._strategy = strategy
        if strategy is None:
            self._step = _graph(self._batch_step, jit_compile=key.compiled)
        else:
            # Each replica steps on its share of every batch; Keras' optimizer
            # sums their gradients (an all-reduce) and updates every copy.
            self._step = self._distributed_step
            self._replica_sum = _graph(self._replica_sum_function)
        # One graph call runs a whole epoch: per-batch Python dispatch would
        # cost more than the FM arithmetic on small batches.
        self.epoch = _graph(self._epoch_function, reduce_retracing=True)
        self.outputs = _graph(self._outputs_function, reduce_retracing=True)

    def reset(self, bias, kernel, factors, optimizer_state, fields=None):
        """Start training from these parameters and optimizer state (the
        optimizer's initial one if None), and for a field-aware FM with the
        field of each feature ``fields``.

        The tables (``kernel``, ``factors`` and their slots) may have fewer
        rows than the layer (see ``_rounded_width``): the rows beyond them
        take a zero model's values, as the optimizer's initial state holds
        them. They are assigned on the device, as padding on the host would
        copy the largest arrays of a fit once more.
        """
        initial = _leading_rows(self.initial_state, np.shape(kernel)[0])
        state = initial if optimizer_state is None else optimizer_state
        expected = [np.shape(v) for v in initial]
        if [np.shape(value) for value in state] != expected:
            raise ValueError(
                f"The optimizer state holds arrays of the shapes {[np.shape(v) for v in state]}, "
                f"but {type(self.optimizer).__name__} for these parameters has {expected}."
            )
        for variable, value in zip(self.variables, (bias, kernel, factors)):
            _assign_leading_rows(variable, value, np.broadcast_to(np.float32(0), variable.shape))
        for variable, value, initial in zip(self.optimizer.variables, state, self.initial_state):
            _assign_leading_rows(variable, value, initial)
        if optimizer_state is None:
            for slot, variable in self._copying_slots:
                slot.assign(variable.value)
        if fields is not None:  # the padding rows' field is 0: no data reaches them
            padding = self.terms.fields.shape[0] - len(fields)
            self.terms.fields.assign(np.pad(fields, (0, padding)))

    def keep(self):
        """Copy the current parameters to ``kept``, on the device."""
        for kept, variable in zip(self.kept, self.variables):
            kept.assign(variable.value)

    def _kept_now(self):
        """``keep`` as a branch of the epoch's graph."""
        self.keep()
        return tf.constant(True)

    def _anchor_ftrl(self, untrained_start):
        """Set FTRL's ``linear`` slots so that its closed-form weights are the
        variables' current values, or for linear weights FTRL did not train
        (``untrained_start`` true) those values moved toward 0 by its L1.

        FTRL-Proximal computes each weight from its accumulators, as if
        training had started at zero; for factors, zero is a saddle point they
        never leave. Anchoring the accumulators at the current weights starts
        (or, after a change of learning rate, continues) from the weights
        themselves, and keeps untouched rows where they are.

        A weight FTRL trained is ``-(z - sign(z) l1) / q`` of its linear term
        ``z``: the anchor ``z = -(w q + sign(w) l1)`` holds it, L1 included.
        Weights it did not train (the regressor's Ridge start, a warm start
        from another solver's) anchored so would never feel L1: 1e6 left
        them as they were. Their anchor is ``z = -w q``, and they become
        the weights of that ``z``: ``w`` moved toward 0 by ``l1 / q``, to 0
        within it, as L1 moves a trained one.
        """
        opt = self.optimizer
        lr = tf.cast(opt.learning_rate.value, tf.float32)  # Keras keeps it in floatx
        l1, l2 = opt.l1_regularization_strength, opt.l2_regularization_strength
        for variable, accumulator, linear in self._ftrl_slots:
            weight = variable.value
            quadratic = (tf.pow(accumulator.value, -opt.learning_rate_power) + opt.beta) / lr + 2 * l2
            # A zero weight keeps its linear term, within [-l1, l1].
            anchored = tf.where(
                weight == 0, linear.value, -(weight * quadratic + tf.sign(weight) * l1)
            )
            if variable is self.layer.kernel and l1 > 0:
                anchored = tf.where(untrained_start, -weight * quadratic, anchored)
                tf.cond(
                    untrained_start,
                    lambda: _assign_ftrl_weights(variable, anchored, quadratic, l1),
                    lambda: tf.constant(False),
                )
            linear.assign(anchored)

    def _batch_step(self, matrix, rows, slots, settings):
        """``_step_function`` on the rows ``rows`` of ``matrix``, read into
        ``slots`` (see ``_batch_contents``)."""
        return self._step_function(_batch_contents(matrix, rows, slots), settings)

    def _step_function(self, batch, settings):
        """One optimizer step on a padded :class:`Batch`; returns its summed
        loss, penalty and squared residuals (see :class:`EpochResult`), as
        one vector.

        The batch holds ``n_rows`` real rows and ``nnz`` real non-zeros; the
        others become column 0, row 0 and value 0, and padding rows have zero
        weight, so neither changes the output, the gradient or the objective.
        The gradient of the FM is written out rather than taped: it is short,
        and the tape's version is slower.
        """
        real = tf.range(tf.shape(batch.cols)[0]) < batch.nnz
        cols, rows = tf.where(real, batch.cols, 0), tf.where(real, batch.rows, 0)
        values = tf.where(real, batch.values, 0.0)
        y, sample_weight, n_rows = batch.y, batch.sample_weight, batch.n_rows
        alpha_linear, alpha_factors, alpha_uniform, score_scale, *_ = settings
        bias, kernel, factors = (v.value for v in self.variables)
        w, V = tf.gather(kernel, cols), tf.gather(factors, cols)  # (nnz, c), (nnz, c, [F,] k)
        raw, reused = self.terms.outputs(bias, w, V, values, rows, cols, tf.shape(y)[0])
        with tf.GradientTape() as tape:
            tape.watch(raw)
            objective = tf.reduce_sum(sample_weight * _LOSSES[self.loss](y, score_scale * raw))
        d_objective = tape.gradient(objective, raw)  # sample_weight * d loss / d raw
        # sample_weight * (d loss / d raw)**2, per output: 0 for padding rows.
        squared_residuals = tf.reduce_sum(
            tf.math.divide_no_nan(tf.square(d_objective), sample_weight[:, None])
        ) / tf.cast(tf.shape(raw)[1], raw.dtype)
        d_raw = d_objective / n_rows  # the mean over the batch's rows
        # Each row regularises the factors of the features it uses; padding
        # (value 0) uses none.
        weight = tf.gather(sample_weight, rows) * tf.cast(values != 0, values.dtype)
        vector_axes = list(range(2, len(V.shape)))  # a factor vector's (or vectors') axes
        squared_factors = tf.reduce_sum(tf.square(V), vector_axes)
        penalty = 0.5 * alpha_factors * tf.reduce_sum(weight[:, None] * squared_factors)
        # d raw / d w_j = x_j, and d raw / d V_j from the terms, per non-zero.
        d_w = tf.gather(d_raw, rows) * values[:, None]
        d_V = self.terms.factor_gradient(d_w, V, values, rows, reused)
        shrink = weight / n_rows
        d_V += tf.reshape(shrink, [-1] + [1] * (len(V.shape) - 1)) * alpha_factors * V
        gradients = [tf.reduce_sum(d_raw, axis=0), *self._table_gradients(d_w, d_V, cols)]
        # The uniform penalties, per step; times n_rows, the epoch's mean
        # counts them once. Shared among the replicas, whose gradients are summed.
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        if self.uniform_linear:
            alpha_linear /= replicas
            penalty += 0.5 * n_rows * alpha_linear * tf.reduce_sum(tf.square(kernel))
            gradients[1] += alpha_linear * kernel
        if self.uniform_factors:
            alpha_uniform /= replicas
            penalty += 0.5 * n_rows * alpha_uniform * tf.reduce_sum(tf.square(factors))
            gradients[2] += alpha_uniform * factors
        self.optimizer.apply(gradients, self.variables)
        return tf.stack([objective, penalty, squared_residuals])

    def check_workers_agree(self, what, *arrays):
        """Raise a ValueError unless every worker of a multi-worker strategy
        passed equal ``arrays``.

        Each worker runs its own fit on its own copy of the data, and only
        the gradients are shared: workers given other data, initial
        parameters or row orders would each end with a model of their own,
        or wait forever for the others to stop.
        """
        if not isinstance(self._strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        # Four 16-bit chunks of a digest c, summed over the replicas with
        # their squares: n * sum(c**2) == sum(c)**2 if and only if all are
        # equal, and both sums are exact in float64.
        digest = hashlib.blake2b(digest_size=8)
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        chunks = np.frombuffer(digest.digest(), np.uint16).astype(np.float64)
        sums = self._replica_sum(tf.constant(np.concatenate([chunks, chunks**2]))).numpy()
        if not np.array_equal(self._strategy.num_replicas_in_sync * sums[4:], sums[:4] ** 2):
            raise ValueError(
                "The workers of the MultiWorkerMirroredStrategy were given different "
                f"{what}. Every worker must call fit with the same data and parameters, "
                "and an int random_state."
            )

    def _replica_sum_function(self, value):
        """``value`` summed over the replicas of the model's strategy."""
        return self._summed_over_replicas(tf.identity, value)

    def _summed_over_replicas(self, function, *args):
        """``function(*args)`` run on every replica of the model's strategy,
        its results summed."""
        per_replica = self._strategy.run(function, args=args)
        return self._strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def _distributed_step(self, *matrix_batch_and_settings):
        """``_batch_step`` across the replicas of the model's strategy, each
        on its share of the batch (``_replica_share``); returns the batch's
        summed loss and penalty."""
        return self._summed_over_replicas(self._replica_step, *matrix_batch_and_settings)

    def _replica_step(self, matrix, rows, slots, settings):
        context = tf.distribute.get_replica_context()
        share = _replica_share(
            _batch_contents(matrix, rows, slots),
            context.replica_id_in_sync_group,
            context.num_replicas_in_sync,
        )
        return self._step_function(share, settings)

    def _table_gradients(self, d_w, d_V, cols):
        """The gradients of ``kernel`` and ``factors`` from the per-non-zero
        ones: row slices for a row-sparse optimizer, else dense (the
        kernel's also where its uniform penalty reaches every row)."""
        kernel, factors = self.layer.kernel, self.layer.factors
        n_features = tf.shape(kernel)[0]
        if not self.row_sparse:
            return (
                tf.math.unsorted_segment_sum(d_w, cols, n_features),
                tf.math.unsorted_segment_sum(d_V, cols, n_features),
            )
        if self.dense_kernel:
            kernel_gradient = tf.math.unsorted_segment_sum(d_w, cols, n_features)
        if self._merge_rows:
            nnz, n_outputs = tf.shape(cols)[0], tf.shape(d_w)[1]
            vectors = tf.reshape(d_V, tf.stack([nnz, n_outputs, -1]))
            both = tf.concat([d_w[..., None], vectors], axis=-1)  # (nnz, c, 1 + [F *] k)
            merged = _summed_per_column(tf.reshape(both, (nnz, -1)), cols)
            merged = tf.reshape(merged, tf.shape(both))
            d_w, d_V = merged[..., 0], tf.reshape(merged[..., 1:], tf.shape(d_V))
        if not self.dense_kernel:
            kernel_gradient = tf.IndexedSlices(d_w, cols, tf.shape(kernel, out_type=cols.dtype))
        return kernel_gradient, tf.IndexedSlices(d_V, cols, tf.shape(factors, out_type=cols.dtype))

    def _epoch_function(self, matrix, order, batch_size, batch_rows, settings):
        """One epoch over the rows ``order`` of ``matrix`` with the
        :class:`EpochSettings` vector ``settings``; returns the mean
        objective, the mean loss within it, whether the objective and every
        parameter are finite (1 or 0), and the mean squared residual."""
        settings = EpochSettings(*tf.unstack(settings))
        tf.cond(settings.keep > 0, self._kept_now, lambda: tf.constant(False))
        self.optimizer.learning_rate.assign(settings.learning_rate)
        if self._ftrl_slots:
            self._anchor_ftrl(settings.untrained_start > 0)
        batches = _epoch_batches(matrix, order, batch_size, batch_rows)
        n_batches = tf.shape(batches.n_rows)[0]

        def step(i, total):
            return i + 1, total + self._step(matrix, *batches.batch(i), settings)

        _, total = tf.while_loop(
            lambda i, _: i < n_batches, step, (tf.constant(0), tf.zeros(3)),
            maximum_iterations=n_batches,
        )
        data_loss, penalty, squared_residuals = tf.unstack(total / tf.reduce_sum(batches.n_rows))
        loss = data_loss + penalty
        finite = tf.math.is_finite(loss)
        for variable in self.variables:
            finite &= tf.reduce_all(tf.math.is_finite(variable.value))
        return tf.stack([loss, data_loss, tf.cast(finite, tf.float32), squared_residuals])

    def _outputs_function(self, matrix, validation):
        """The layer's outputs for the rows of ``matrix`` that ``validation``
        (a :class:`ValidationRows`) gives, computed (by the terms, which read
        the fields of this fit) a chunk of rows at a time."""
        row_bounds, nnz_bounds = validation.chunks[0], validation.chunks[1]
        bias, kernel, factors = (v.value for v in self.variables)

        def chunk_outputs(i, outputs):
            positions = validation.positions[nnz_bounds[i] : nnz_bounds[i + 1]]
            cols = tf.gather(matrix.indices, positions)
            chunk_outputs, _ = self.terms.outputs(
                bias, tf.gather(kernel, cols), tf.gather(factors, cols),
                tf.gather(matrix.data, positions),
                validation.rows[nnz_bounds[i] : nnz_bounds[i + 1]],
                cols, row_bounds[i + 1] - row_bounds[i],
            )
            return i + 1, outputs.write(i, chunk_outputs)

        n_chunks = tf.shape(row_bounds)[0] - 1
        _, outputs = tf.while_loop(
            lambda i, _: i < n_chunks,
            chunk_outputs,
            (tf.constant(0), tf.TensorArray(bias.dtype, n_chunks, infer_shape=False)),
        )
        return outputs.concat()


def _replica_share(batch, replica, n_replicas):
    """The part of a :class:`Batch` that replica ``replica`` of
    ``n_replicas`` trains on: its share of the batch's real rows, as even as
    can be, with their non-zeros. ``n_rows`` stays the whole batch's, which
    the step's mean divides by."""
    n_real = tf.cast(batch.n_rows, tf.int32)
    first = replica * n_real // n_replicas
    end = (replica + 1) * n_real // n_replicas
    # A batch's non-zeros follow its rows in order.
    window = tf.searchsorted(batch.rows[: batch.nnz], tf.stack([first, end]))
    lo, hi = window[0], window[1]
    return batch._replace(
        cols=batch.cols[lo:hi],
        values=batch.values[lo:hi],
        rows=batch.rows[lo:hi] - first,
        nnz=hi - lo,
        y=batch.y[first:end],
        sample_weight=batch.sample_weight[first:end],
    )


def _slot(optimizer, variable, slot):
    """The optimizer's variable ``slot`` of ``variable``."""
    # Keras names a slot after its variable's path and the slot; the order
    # of its slots depends on the settings (gradient accumulators come first).
    name = f"{variable.path.replace('/', '_')}_{slot}"
    found = [candidate for candidate in optimizer.variables if candidate.name == name]
    if len(found) != 1:
        raise RuntimeError(
            f"Keras {keras.__version__} names the slots of {type(optimizer).__name__} in a "
            "way sklearn_fm does not know; please report this."
        )
    return found[0]


def _assign_ftrl_weights(variable, linear, quadratic, l1):
    """Set ``variable`` to the weights FTRL-Proximal computes from its
    ``linear`` term, as Keras' update does: ``-(z - sign(z) l1) / q``, or 0
    where ``|z| <= l1``."""
    variable.assign((tf.clip_by_value(linear, -l1, l1) - linear) / quadratic)
    return tf.constant(True)


def _ftrl_slots(optimizer, variables):
    """``(variable, accumulator, linear)`` of each variable if ``optimizer``
    is FTRL, else an empty list."""
    if not isinstance(optimizer, keras.optimizers.Ftrl):
        return []
    return [
        (variable, _slot(optimizer, variable, "accumulator"), _slot(optimizer, variable, "linear"))
        for variable in variables
    ]


def _leading_rows(arrays, n_rows):
    """The arrays with their tables (2-D and more: the kernel's, the
    factors' and their slots) cut to their first ``n_rows`` rows."""
    return [array[:n_rows] if np.ndim(array) >= 2 else array for array in arrays]


def _compact(array):
    """``array``, or if all its entries are equal (as in an optimizer's
    initial slots) a read-only broadcast of the one value: a pooled model
    keeps its optimizer's initial state while the process lives, and each
    slot would hold as many numbers as the parameters."""
    flat = array.reshape(-1)
    if flat.size > 1 and (flat == flat[0]).all():
        return np.broadcast_to(flat[0], array.shape)
    return array


def _is_one_value(array):
    """Whether ``array`` is a broadcast of one value (see ``_compact``)."""
    return isinstance(array, np.ndarray) and array.size > 0 and not any(array.strides)


def _assign_leading_rows(variable, value, zero_model):
    """Assign ``value`` to the first rows of the Keras ``variable`` and the
    rows of ``zero_model`` (the variable's shape) beyond them to the others."""
    if _is_one_value(value) and _is_one_value(zero_model) and value.flat[0] == zero_model.flat[0]:
        # One number throughout: filled on the device, no table on the host.
        variable.assign(tf.fill(variable.shape, tf.constant(value.flat[0], variable.dtype)))
        return
    n_rows = np.shape(value)[0] if np.ndim(value) >= 2 else None
    if n_rows is None or n_rows == variable.shape[0]:
        variable.assign(value)
        return
    # Joined by TensorFlow: about as fast as assigning a whole array, where
    # assigning slices of the variable takes five times as long.
    variable.assign(tf.concat([value, zero_model[n_rows:]], axis=0))


def _slots_copying_their_variables(optimizer, variables):
    """``(slot, variable)`` of the slots that ``optimizer`` starts as a copy of
    their variable (ScheduleFreeAdamW's ``momentum``), which a fresh start
    must set to its starting parameters."""
    schedule_free = getattr(keras.optimizers, "ScheduleFreeAdamW", None)  # Keras >= 3.14
    if schedule_free is None or not isinstance(optimizer, schedule_free):
        return []
    return [(_slot(optimizer, variable, "momentum"), variable) for variable in variables]


class _Pool:
    """Built models by key, each used by one fit at a time.

    A fit checks a model out and its trainer returns it when garbage
    collected, so fits in several threads at once train models of their own.
    At most ``per_key`` idle models are kept per key and ``max_keys`` keys in
    all (the least recently used are dropped, and their graphs freed).
    """

    def __init__(self, per_key=4, max_keys=16):
        self._idle = {}  # key -> list of idle models, in recency order
        self._lock = threading.Lock()
        self._per_key, self._max_keys = per_key, max_keys

    def checkout(self, key, device):
        """An idle model of ``key`` whose variables live on ``device``, or a
        new one built there (in the device scope of the caller)."""
        with self._lock:
            idle = self._idle.pop((key, device), [])
            model = idle.pop() if idle else None
            self._idle[key, device] = idle  # most recently used last
        return _Model(key) if model is None else model

    def give_back(self, key, device, model):
        with self._lock:
            idle = self._idle.pop((key, device), [])
            if len(idle) < self._per_key:
                idle.append(model)
            self._idle[key, device] = idle
            while len(self._idle) > self._max_keys:
                del self._idle[next(iter(self._idle))]


_POOL = _Pool()


def _out_of_memory_as_memory_error(method):
    """``method`` raising Python's MemoryError where TensorFlow runs out of
    memory: its ResourceExhaustedError is no MemoryError, so that
    ``except MemoryError`` missed it."""

    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except tf.errors.ResourceExhaustedError as error:
            first_line = error.message.partition("\n")[0][:300]
            raise MemoryError(
                "Training ran out of memory: TensorFlow could not allocate a tensor "
                f"({first_line}). Train on fewer rows at a "
                "time (partial_fit over chunks), with a smaller batch_size or "
                "n_factors, or with more memory free."
            ) from error

    return wrapped


def _synchronous_strategy():
    """The ``tf.distribute`` strategy in scope, which must step its replicas
    in sync (as ``strategy.run`` does)."""
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        raise TypeError(
            "sklearn_fm trains data-parallel under the synchronous tf.distribute "
            "strategies (MirroredStrategy, MultiWorkerMirroredStrategy, "
            "OneDeviceStrategy, CentralStorageStrategy), not under "
            "ParameterServerStrategy, which needs a ClusterCoordinator."
        )
    return strategy


class Trainer:
    """Minibatch training of the FM parameters of one ``fit`` or ``partial_fit``.

    Built from NumPy parameters and the training rows, read back into NumPy
    afterwards: the estimators store no TensorFlow object, which keeps them
    picklable and thread-safe. Training updates the variables of a
    :class:`~sklearn_fm.keras.FactorizationMachine` layer with the Keras
    optimizer ``solver`` describes.

    The objective is ``sum_i s_i [loss(y_i, c f(x_i)) + penalty(x_i)] / n
    + alpha_linear / 2 |w|**2 + alpha_uniform / 2 |V|**2``, with ``c`` the
    ``score_scale`` (the loss reads the FM's outputs in units of ``1 / c``),
    sample weights ``s`` divided by ``weight_unit`` (by default normalised to
    mean 1), where ``penalty(x_i)`` is ``alpha_factors / 2 sum_{j: x_ij != 0}
    |v_j|**2``: each row regularises the factors of the features it uses, as
    in libFM's SGD. On dense data this is the usual L2 penalty; on sparse
    data it costs O(k * nnz) per batch instead of touching every parameter.
    The uniform terms touch every parameter in every step: with
    ``alpha_uniform`` every solver updates densely, with ``alpha_linear``
    alone the row-sparse ones update every linear weight and the factors of
    the batch's features only.

    Made in the scope of a synchronous ``tf.distribute`` strategy, it trains
    data-parallel: each replica computes the gradient of its share of every
    batch, and Keras' optimizer sums them across the replicas and applies the
    sum to every replica's copy of the parameters. The model is the one a
    single replica trains with the same batch, up to float32 rounding.

    Parameters
    ----------
    intercept, coef, factors : float or ndarray
        The parameters to start from, in the estimators' layout (see
        ``sklearn_fm._parameters``).
    rows : tuple of (X, y, sample_weight)
        The rows of the fit: a canonical float32 CSR matrix
        (``_data.training_matrix``), its targets and its sample weights.
    batch_size : int
        The number of rows per step.
    training_rows : ndarray of int or None
        The positions in ``rows`` of the rows the epochs train on; None for
        all.
    validation_rows : ndarray of int or None
        The positions of the rows whose outputs each epoch reports (for
        early stopping), or None.
    weight_unit : float or None
        What the sample weights are divided by; None for the training rows'
        mean.
    fields : ndarray of int or None
        The field of each feature, from 0, for a field-aware FM (a
        :class:`~sklearn_fm.keras.FieldAwareFactorizationMachine` layer,
        factors of shape (n_features, n_fields, k)); None for an FM.
    start_trained : bool
        Whether ``solver`` trained the parameters to start from, in an
        earlier call whose optimizer state does not go on (a ``partial_fit``
        stream's in new units, a warm start's). Otherwise, with a new
        optimizer state, FTRL's L1 first moves the linear weights toward 0
        (see ``_Model._anchor_ftrl``).
    """

    @_out_of_memory_as_memory_error
    def __init__(
        self,
        intercept,
        coef,
        factors,
        *,
        rows,
        batch_size,
        training_rows=None,
        validation_rows=None,
        weight_unit=None,
        loss,
        solver,
        alpha_linear,
        alpha_factors,
        alpha_uniform=0.0,
        score_scale=1.0,
        optimizer_state=None,
        fields=None,
        start_trained=False,
    ):
        check_not_forked()
        if not tf.executing_eagerly():
            raise RuntimeError(
                "fit and partial_fit cannot run inside a tf.function or another "
                "graph context: training runs compiled functions of its own, "
                "eagerly. Call them outside it."
            )
        solver = SolverSpec.of(solver)
        bias, kernel, factors = layer_form(intercept, coef, factors)
        self._n_features = factors.shape[0]
        X, y, sample_weight = rows
        training_nnz = X.nnz if training_rows is None else _row_lengths(X, training_rows).sum()
        distributed = tf.distribute.has_strategy()
        key = ModelKey.of(
            factors.shape, field_aware=fields is not None, solver=solver, loss=loss,
            training_nnz=training_nnz, alpha_linear=alpha_linear, alpha_uniform=alpha_uniform,
            distributed=distributed,
        )
        self._model = self._checkout_model(key, distributed)
        self._model.reset(
            bias.astype(np.float32),
            kernel.astype(np.float32),
            factors.astype(np.float32),
            optimizer_state,
            None if fields is None else np.asarray(fields, np.int32),
        )
        self._penalties = (alpha_linear, alpha_factors, alpha_uniform, score_scale)
        self._untrained_start = optimizer_state is None and not start_trained
        self._batch_size = tf.constant(batch_size, tf.int64)
        self._batch_rows = tf.constant(1 << (int(batch_size) - 1).bit_length(), tf.int64)  # 2**j
        training_weights = sample_weight if training_rows is None else sample_weight[training_rows]
        mean_weight = training_weights.mean()
        if weight_unit is None:
            weight_unit = mean_weight
        # The mean weight as trained, by which data_loss is divided back.
        self._mean_weight = mean_weight / weight_unit
        self._upload(X, y, sample_weight, weight_unit, training_rows, validation_rows)
        self._model.check_workers_agree(
            "training data, parameters or settings",
            bias, kernel, factors, X.indptr, X.indices, X.data, y, sample_weight,
            np.asarray([batch_size, *self._penalties, weight_unit], np.float64),
            *(() if optimizer_state is None else optimizer_state),
            *(() if fields is None else (fields,)),
            *(() if validation_rows is None else (training_rows, validation_rows)),
        )

    def _checkout_model(self, key, distributed):
        """The :class:`_Model` of ``key`` that this fit trains: built in the
        scope of the current ``tf.distribute`` strategy (``distributed``), or
        from the pool."""
        if distributed:
            # Built in the scope of the strategy, as a Keras model would be.
            # Not pooled: its variables belong to this strategy.
            return _Model(key, strategy=_synchronous_strategy())
        # The device a new tensor goes to: tf.device's scope, if any, else
        # TensorFlow's choice (a GPU when it sees one).
        device = tf.zeros(()).device
        model = _POOL.checkout(key, device)
        weakref.finalize(self, _POOL.give_back, key, device, model)
        return model

    def _upload(self, X, y, sample_weight, weight_unit, training_rows, validation_rows):
        """Copy the fit's rows to the device (weights divided by
        ``weight_unit``) as one matrix, whose training and validation rows
        the epochs read by position: copies of those parts would add the
        matrix's size again."""
        self._rows = DeviceRows.upload(X, y, sample_weight, weight_unit)
        self._training_rows = training_rows
        self._n_train = X.shape[0] if training_rows is None else len(training_rows)
        self._index_dtype = index_dtype(X.shape[0])
        self._validation = None
        if validation_rows is not None:
            self._validation = ValidationRows.upload(X, validation_rows)

    @_out_of_memory_as_memory_error
    def run_epoch(self, rng, learning_rate, penalty_scale=1.0, keep=False, alpha_factors=None):
        """Train one epoch on the training rows in an order drawn from the
        ``RandomState`` ``rng`` (that of ``rng.permutation``), with every
        penalty multiplied by ``penalty_scale``; returns an
        :class:`EpochResult`. ``keep`` first keeps the parameters the epoch
        starts from, as :meth:`keep` does. ``alpha_factors``, if given,
        replaces the factor penalty for this epoch."""
        *alphas, score_scale = self._penalties
        if alpha_factors is not None:
            alphas[1] = alpha_factors
        settings = EpochSettings(
            *(alpha * penalty_scale for alpha in alphas),
            score_scale,
            learning_rate,
            float(keep),
            float(self._untrained_start),
        )
        self._untrained_start = False
        # The order is drawn into the buffer the device reads.
        order = shuffle_rows(
            rng, _aligned_empty(self._n_train, self._index_dtype), self._training_rows
        )
        self._model.check_workers_agree("row orders or epoch settings", order, settings)
        loss, data_loss, finite, squared_residuals = self._model.epoch(
            self._rows,
            _shared_tensor(order),
            self._batch_size,
            self._batch_rows,
            tf.constant(settings, tf.float32),
        ).numpy()
        outputs = None
        if self._validation is not None and finite:
            outputs = self._model.outputs(self._rows, self._validation)
            outputs = outputs.numpy().astype(np.float64)
            outputs = estimator_outputs(outputs)
            # Finite parameters may still give infinite or NaN outputs (a
            # product beyond float32's range): that, too, is divergence.
            finite = np.isfinite(outputs).all()
        return EpochResult(
            float(loss),
            float(data_loss / self._mean_weight),
            bool(finite),
            outputs,
            float(np.sqrt(squared_residuals / self._mean_weight)),
        )

    @_out_of_memory_as_memory_error
    def keep(self):
        """Keep a copy of the current parameters on the device (see ``kept_weights``)."""
        self._model.keep()

    def weights(self):
        """The current (intercept, coef, factors) as float64 NumPy values, in
        the estimators' layout."""
        return self._estimator_weights(self._model.variables)

    def kept_weights(self):
        """The parameters of the last call to ``keep``, as ``weights`` gives them."""
        return self._estimator_weights(self._model.kept)

    def optimizer_state(self):
        """The optimizer's variables (step count, learning rate and slots, in
        Keras' order), for a later ``partial_fit``."""
        return _leading_rows([v.numpy() for v in self._model.optimizer.variables], self._n_features)

    def _estimator_weights(self, variables):
        """The layer's ``(bias, kernel, factors)`` variables as float64 NumPy
        parameters in the estimators' layout."""
        arrays = _leading_rows([v.numpy() for v in variables], self._n_features)
        return estimator_form(*(np.asarray(array, np.float64) for array in arrays))
