"""The Factorization Machine as a Keras layer, for any Keras backend.

Written in ``keras.ops`` only, so it builds, trains in ``model.fit`` and
saves under the TensorFlow, JAX and PyTorch backends. Importing this module
imports Keras (and the backend Keras is configured for).
"""

import keras
import numpy as np
from keras import ops

from ._key_sums import key_sums

__all__ = ["FactorizationMachine", "FieldAwareFactorizationMachine", "ffm_outputs", "fm_outputs"]


def fm_outputs(bias, kernel, factors, values, rows, n_rows):
    """The FM outputs of rows given in coordinate form, and their ``x @ V``.

    The functional form of :class:`FactorizationMachine` on sparse input,
    for parameters already gathered by column (for example embeddings looked
    up by id). Each output is an FM of its own; working on the gathered
    parameters keeps the cost at O(n_outputs * n_factors * nnz). The layer
    computes sparse input with it, and so does the estimators' training step.

    Parameters
    ----------
    bias : tensor of shape (n_outputs,)
        The biases.
    kernel : tensor of shape (nnz, n_outputs)
        The linear weights of the column of each non-zero.
    factors : tensor of shape (nnz, n_outputs, n_factors)
        The factors of the column of each non-zero.
    values : tensor of shape (nnz,)
        The non-zero values.
    rows : int tensor of shape (nnz,)
        The row of each non-zero, from 0 to ``n_rows - 1``.
    n_rows : int
        The number of rows.

    Returns
    -------
    outputs : tensor of shape (n_rows, n_outputs)
        The FM of each row and output.
    xv : tensor of shape (n_rows, n_outputs, n_factors)
        ``x @ V`` of each row and output, which the FM's gradient reuses.

    Examples
    --------
    One row with the features 0 and 2, both 1, and one output:

    >>> import numpy as np
    >>> from sklearn_fm.keras import fm_outputs
    >>> V = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[2.0, 1.0]]])
    >>> outputs, xv = fm_outputs(
    ...     np.zeros(1), np.zeros((2, 1)), V[[0, 2]], np.ones(2), np.array([0, 0]), 1
    ... )
    >>> float(outputs[0, 0])  # <v_0, v_2>
    2.0
    """
    v = factors * values[:, None, None]
    linear = ops.segment_sum(kernel * values[:, None], rows, n_rows)
    xv = ops.segment_sum(v, rows, n_rows)
    x2v2 = ops.segment_sum(ops.sum(v * v, axis=-1), rows, n_rows)
    return bias + linear + 0.5 * (ops.sum(xv * xv, axis=-1) - x2v2), xv


def ffm_outputs(bias, kernel, factors, values, rows, fields, n_rows, n_fields):
    """The field-aware FM outputs of rows given in coordinate form, and the
    sums of their factors by field.

    The functional form of :class:`FieldAwareFactorizationMachine` on sparse
    input, as :func:`fm_outputs` is that of the FM: for parameters gathered
    by column, at a cost of O(n_outputs * n_fields * n_factors * nnz) plus
    O(n_outputs * n_fields**2 * n_factors) per row.

    Parameters
    ----------
    bias : tensor of shape (n_outputs,)
        The biases.
    kernel : tensor of shape (nnz, n_outputs)
        The linear weights of the column of each non-zero.
    factors : tensor of shape (nnz, n_outputs, n_fields, n_factors)
        The factors of the column of each non-zero, one vector per field.
    values : tensor of shape (nnz,)
        The non-zero values.
    rows : int tensor of shape (nnz,)
        The row of each non-zero, from 0 to ``n_rows - 1``.
    fields : int tensor of shape (nnz,)
        The field of the column of each non-zero, from 0 to ``n_fields - 1``.
    n_rows, n_fields : int
        The number of rows and of fields.

    Returns
    -------
    outputs : tensor of shape (n_rows, n_outputs)
        The field-aware FM of each row and output.
    field_sums : tensor of shape (n_rows, n_fields, n_outputs, n_fields, n_factors)
        ``field_sums[r, f, c, g]`` is the sum of ``x_i v_icg`` over the
        features ``i`` of field ``f`` in row ``r``, which the gradient reuses.

    Examples
    --------
    One row with the features 0 (field 0) and 1 (field 1), both 1, and one
    output: the interaction is ``<v_0 for field 1, v_1 for field 0>``.

    >>> import numpy as np
    >>> from sklearn_fm.keras import ffm_outputs
    >>> V = np.array([[[[9.0, 9.0], [1.0, 2.0]]], [[[3.0, 1.0], [9.0, 9.0]]]])
    >>> outputs, _ = ffm_outputs(
    ...     np.zeros(1), np.zeros((2, 1)), V, np.ones(2), np.array([0, 0]),
    ...     np.array([0, 1]), 1, 2,
    ... )
    >>> float(outputs[0, 0])  # <(1, 2), (3, 1)>
    5.0
    """
    v = factors * values[:, None, None, None]
    linear = ops.segment_sum(kernel * values[:, None], rows, n_rows)
    segments = rows * n_fields + ops.cast(fields, ops.dtype(rows))  # (row, field)
    by_field = ops.segment_sum(v, segments, n_rows * n_fields)
    field_sums = ops.reshape(by_field, (n_rows, n_fields, *ops.shape(factors)[1:]))
    # All ordered pairs (i, j), i == j included: sum_{f,g} <S[f, g], S[g, f]>.
    crossed = ops.sum(field_sums * ops.transpose(field_sums, (0, 3, 2, 1, 4)), axis=(1, 3, 4))
    # v_i f(i) by a one-hot sum: ops.take_along_axis makes TensorFlow log an
    # error line about int64 on CPUs whose oneDNN lacks it.
    in_own_field = ops.one_hot(fields, n_fields, dtype=v.dtype)[:, None, :, None]
    own = ops.sum(v * in_own_field, axis=2)
    x2v2 = ops.segment_sum(ops.sum(ops.square(own), axis=-1), rows, n_rows)
    return bias + linear + 0.5 * (crossed - x2v2), field_sums


def _sparse_coordinates(inputs):
    """``(rows, cols, values)`` of a sparse batch, one entry per coordinate,
    or None for dense input.

    Keras passes sparse input as the backend's sparse type: a
    ``tf.SparseTensor`` under TensorFlow, a ``jax.experimental.sparse.BCOO``
    under JAX (the PyTorch backend has none). Both may repeat a coordinate,
    whose value is then the sum of its entries (as in scipy, and in their
    own products); the FM squares each feature's value, so the entries of a
    coordinate are merged first.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # already imported by Keras

        if isinstance(inputs, tf.SparseTensor):
            return _merged_tf_coordinates(tf, inputs)
    elif backend == "jax":
        from jax.experimental import sparse  # already imported by Keras

        if isinstance(inputs, sparse.BCOO):
            # One (row, column) index pair per entry, whatever the layout
            # (Keras' own tests batch it); nse stays static under jit.
            inputs = sparse.bcoo_update_layout(inputs, n_batch=0, n_dense=0)
            inputs = inputs.sum_duplicates(nse=inputs.nse)
            return inputs.indices[:, 0], inputs.indices[:, 1], inputs.data
    return None


def _merged_tf_coordinates(tf, inputs):
    """The coordinates of a ``tf.SparseTensor`` in row-major order, with each
    repeated coordinate's sum in its first entry and zeros in the others
    (``KeySums.once``).
    """
    key = inputs.indices[:, 0] * inputs.dense_shape[1] + inputs.indices[:, 1]
    sums = key_sums(tf, key, inputs.values)
    indices = tf.gather(inputs.indices, sums.order)
    return indices[:, 0], indices[:, 1], sums.once(tf)


def _take_rows(table, cols):
    """``ops.take(table, cols, axis=0)``, whose TensorFlow gradient holds a
    column's whole gradient in one slice.

    Keras' optimizers read the slices of an ``IndexedSlices`` gradient apart
    (Adam, RMSprop, Adagrad and FTRL square each one), so a column in several
    rows of a batch would train otherwise than the same batch given dense.
    Each column's first slice carries the sum, its other slices zeros
    (``KeySums.once``).
    """
    if keras.backend.backend() != "tensorflow":
        return ops.take(table, cols, axis=0)  # JAX's gradients are dense
    import tensorflow as tf  # already imported by Keras

    @tf.custom_gradient
    def take(table):
        def gradient(upstream):
            sums = key_sums(tf, cols, tf.convert_to_tensor(upstream))
            return tf.IndexedSlices(
                sums.once(tf), tf.gather(cols, sums.order), tf.shape(table, out_type=cols.dtype)
            )

        return tf.gather(table, cols), gradient

    return take(table)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a positive integer. "
            f"Received: {name}={value!r}"
        )
    return value


@keras.saving.register_keras_serializable(package="sklearn_fm")
class FactorizationMachine(keras.layers.Layer):
    """Second-order Factorization Machine (Rendle, 2010) as a Keras layer.

    Computes, for each row ``x`` of its input and each of its ``units``
    outputs ``c``::

        b_c + sum_i w_ic x_i + 1/2 sum_f [(sum_i v_icf x_i)**2 - sum_i v_icf**2 x_i**2]

    which equals ``b_c + <w_c, x> + sum_{i<j} <v_ic, v_jc> x_i x_j`` at a cost
    of O(units * n_factors * nnz(x)) per row: one FM per output, as a
    multiclass FM needs. Dense input and sparse input (``keras.Input(shape=(n,),
    sparse=True)``; a ``tf.SparseTensor`` or a JAX ``BCOO`` array) are both
    accepted; sparse input is never densified, so memory grows with the
    non-zeros and the parameters, not with ``n_rows * n_features``, and the
    gradients of ``kernel`` and ``factors`` touch only the rows of the
    features present in the batch.

    Written in ``keras.ops``: it trains and saves under every Keras backend
    (sparse input under TensorFlow and JAX).

    Parameters
    ----------
    n_factors : int, default=8
        Dimension of the factor vector ``v_ic`` of each feature and output.
    units : int, default=1
        Number of outputs, each an FM with parameters of its own.
    kernel_initializer : str or keras.initializers.Initializer, default="zeros"
        Initializer of the linear weights ``w``.
    factors_initializer : str or keras.initializers.Initializer, \
            default="random_normal"
        Initializer of the factors ``V``.
    bias_initializer : str or keras.initializers.Initializer, default="zeros"
        Initializer of the bias ``b``.
    kernel_regularizer, factors_regularizer, bias_regularizer : \
            str, keras.regularizers.Regularizer or None, default=None
        Regularizers of ``w``, ``V`` and ``b``, added to the model's losses.
    activity_regularizer : str, keras.regularizers.Regularizer or None, \
            default=None
        Regularizer of the layer's output.
    kernel_constraint, factors_constraint, bias_constraint : \
            str, keras.constraints.Constraint or None, default=None
        Constraints applied to ``w``, ``V`` and ``b`` after each optimizer
        update (for example ``"non_neg"``).
    **kwargs
        Standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Attributes
    ----------
    bias : keras.Variable of shape (units,)
        The biases ``b``.
    kernel : keras.Variable of shape (n_features, units)
        The linear weights ``w``.
    factors : keras.Variable of shape (n_features, units, n_factors)
        The factors ``V``: ``factors[i, c]`` is ``v_ic``.

    Examples
    --------
    >>> import keras
    >>> from sklearn_fm.keras import FactorizationMachine
    >>> inputs = keras.Input(shape=(100,), sparse=True)
    >>> model = keras.Model(inputs, FactorizationMachine(n_factors=4, units=3)(inputs))
    >>> model.output_shape
    (None, 3)
    """

    def __init__(
        self,
        n_factors=8,
        units=1,
        kernel_initializer="zeros",
        factors_initializer="random_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        factors_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        factors_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        # call() reads float16 and bfloat16 inputs in float32 (see there), so
        # Keras must not cast them to the compute dtype first.
        kwargs.setdefault("autocast", False)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.n_factors = _positive_int(n_factors, "n_factors")
        self.units = _positive_int(units, "units")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.factors_initializer = keras.initializers.get(factors_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.factors_regularizer = keras.regularizers.get(factors_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.factors_constraint = keras.constraints.get(factors_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        n_features = input_shape[-1]
        if n_features is None:
            raise ValueError(
                f"The last dimension of the inputs to `{type(self).__name__}` (the "
                f"number of features) must be known. Received: input_shape={input_shape}"
            )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.units,),
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(n_features, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.factors = self.add_weight(
            name="factors",
            shape=self._factors_shape(n_features),
            initializer=self.factors_initializer,
            regularizer=self.factors_regularizer,
            constraint=self.factors_constraint,
        )
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: n_features})

    def _factors_shape(self, n_features):
        return (n_features, self.units, self.n_factors)

    def call(self, inputs):
        # As Keras' normalization layers do, float16 and bfloat16 compute in
        # float32: the squares of inputs above 256 overflow float16, and the
        # FM's difference of two sums of squares would lose the pairwise term.
        dtype = self.compute_dtype
        if dtype in ("float16", "bfloat16"):
            dtype = "float32"
        bias, kernel, factors = (
            ops.cast(variable, dtype) for variable in (self.bias, self.kernel, self.factors)
        )
        coordinates = _sparse_coordinates(inputs)
        if coordinates is None:
            outputs = self._dense_outputs(ops.cast(inputs, dtype), bias, kernel, factors)
        else:
            rows, cols, values = coordinates
            outputs = self._gathered_outputs(
                bias,
                _take_rows(kernel, cols),
                _take_rows(factors, cols),
                ops.cast(values, dtype),
                rows,
                cols,
                ops.shape(inputs)[0],
            )
        return ops.cast(outputs, self.compute_dtype)

    def _gathered_outputs(self, bias, kernel, factors, values, rows, cols, n_rows):
        """The outputs of sparse input, from the parameters of each non-zero's column."""
        return fm_outputs(bias, kernel, factors, values, rows, n_rows)[0]

    def _dense_outputs(self, x, bias, kernel, factors):
        """The outputs of dense input ``x``, in the dtype of ``x`` and the parameters."""
        n_features = ops.shape(factors)[0]
        flat = ops.reshape(factors, (n_features, -1))  # (n_features, units * k)
        xv = ops.reshape(ops.matmul(x, flat), (-1, self.units, self.n_factors))
        x2v2 = ops.matmul(ops.square(x), ops.sum(ops.square(factors), axis=-1))
        pairwise = 0.5 * (ops.sum(ops.square(xv), axis=-1) - x2v2)
        return bias + ops.matmul(x, kernel) + pairwise

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:  # as calling the layer refuses (its input_spec)
            raise ValueError(
                f"`{type(self).__name__}` takes inputs of shape (batch_size, n_features). "
                f"Received: input_shape={input_shape}"
            )
        return (input_shape[0], self.units)

    def load_own_variables(self, store):
        # Layers saved by sklearn_fm 0.1.0 had one output, with a scalar bias,
        # kernel (n_features,) and factors (n_features, n_factors).
        if len(store.keys()) == 3 and store["0"].shape == ():
            bias, kernel, factors = (np.asarray(store[key]) for key in ("0", "1", "2"))
            store = {
                "0": bias.reshape(1),
                "1": kernel.reshape(-1, 1),
                "2": factors.reshape(factors.shape[0], 1, -1),
            }
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update(
            n_factors=self.n_factors,
            units=self.units,
            # Keras' own config leaves it out: a user's autocast=True would
            # load as this layer's default.
            autocast=self.autocast,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            factors_initializer=keras.initializers.serialize(self.factors_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            factors_regularizer=keras.regularizers.serialize(self.factors_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            factors_constraint=keras.constraints.serialize(self.factors_constraint),
            bias_constraint=keras.constraints.serialize(self.bias_constraint),
        )
        return config


@keras.saving.register_keras_serializable(package="sklearn_fm")
class FieldAwareFactorizationMachine(FactorizationMachine):
    """Field-aware Factorization Machine (FFM; Juan et al., 2016) as a Keras layer.

    Each input column belongs to a field (user, item, device, hour, ...) and
    each feature ``i`` has one factor vector ``v_ig`` per field ``g``; the
    pair ``(i, j)`` interacts through the vector of ``i`` for the field of
    ``j`` and the vector of ``j`` for the field of ``i``. For each row ``x``
    and each of the ``units`` outputs ``c``::

        b_c + sum_i w_ic x_i + sum_{i<j} <v_ic f(j), v_jc f(i)> x_i x_j

    with ``f(i)`` the field of column ``i``. With a single field this is the
    :class:`FactorizationMachine`. It costs O(units * n_fields * n_factors *
    nnz(x)) plus O(units * n_fields**2 * n_factors) per row, and holds
    ``n_features * units * n_fields * n_factors`` factors. Dense and sparse
    input are accepted as by :class:`FactorizationMachine`, whose other
    arguments it takes.

    Parameters
    ----------
    fields : sequence of int
        The field of each input column, from 0 to ``n_fields - 1``; its
        length is the number of input columns.
    n_factors : int, default=8
        Dimension of each factor vector ``v_icg``.
    **kwargs
        The other arguments of :class:`FactorizationMachine` (``units``,
        initializers, regularizers and constraints of ``w``, ``V`` and ``b``)
        and the standard ``keras.layers.Layer`` ones.

    Attributes
    ----------
    n_fields : int
        The number of fields, ``max(fields) + 1``.
    bias : keras.Variable of shape (units,)
        The biases ``b``.
    kernel : keras.Variable of shape (n_features, units)
        The linear weights ``w``.
    factors : keras.Variable of shape (n_features, units, n_fields, n_factors)
        The factors: ``factors[i, c, g]`` is ``v_icg``.

    Examples
    --------
    Two one-hot fields of 3 and 4 columns:

    >>> import keras
    >>> from sklearn_fm.keras import FieldAwareFactorizationMachine
    >>> inputs = keras.Input(shape=(7,), sparse=True)
    >>> layer = FieldAwareFactorizationMachine(fields=[0, 0, 0, 1, 1, 1, 1], n_factors=4)
    >>> keras.Model(inputs, layer(inputs)).output_shape
    (None, 1)
    >>> tuple(layer.factors.shape)
    (7, 1, 2, 4)
    """

    def __init__(self, fields, n_factors=8, **kwargs):
        super().__init__(n_factors=n_factors, **kwargs)
        self.fields = _field_map(fields)
        self.n_fields = max(self.fields) + 1

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != len(self.fields):
            raise ValueError(
                f"`FieldAwareFactorizationMachine` was given the fields of {len(self.fields)} "
                f"columns, but its inputs have {input_shape[-1]}. Received: "
                f"input_shape={input_shape}"
            )
        super().build(input_shape)

    def _factors_shape(self, n_features):
        return (n_features, self.units, self.n_fields, self.n_factors)

    def _field_tensor(self):
        return ops.convert_to_tensor(np.asarray(self.fields, np.int32))

    def _gathered_outputs(self, bias, kernel, factors, values, rows, cols, n_rows):
        fields = ops.take(self._field_tensor(), cols, axis=0)
        return ffm_outputs(bias, kernel, factors, values, rows, fields, n_rows, self.n_fields)[0]

    def _dense_outputs(self, x, bias, kernel, factors):
        n_features = len(self.fields)
        in_field = ops.one_hot(self._field_tensor(), self.n_fields, dtype=x.dtype)
        # field_sums[r, f] = sum over the columns i of field f of x_ri v_i.
        x_by_field = ops.transpose(x[:, :, None] * in_field, (0, 2, 1))  # (rows, F, n)
        flat = ops.reshape(factors, (n_features, -1))
        shape = (-1, self.n_fields, self.units, self.n_fields, self.n_factors)
        field_sums = ops.reshape(ops.matmul(x_by_field, flat), shape)
        crossed = ops.sum(field_sums * ops.transpose(field_sums, (0, 3, 2, 1, 4)), axis=(1, 3, 4))
        own = ops.sum(factors * in_field[:, None, :, None], axis=2)  # v_i f(i): (n, c, k)
        x2v2 = ops.matmul(ops.square(x), ops.sum(ops.square(own), axis=-1))
        return bias + ops.matmul(x, kernel) + 0.5 * (crossed - x2v2)

    def get_config(self):
        config = super().get_config()
        config.update(fields=list(self.fields))
        return config


def _field_map(fields):
    """``fields`` as a tuple of ints from 0, or a ValueError naming the problem."""
    array = np.asarray(fields)
    if array.ndim != 1 or len(array) == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "Received an invalid value for `fields`, expected a non-empty sequence of "
            f"integers, the field of each input column. Received: fields={fields!r}"
        )
    if array.min() < 0:
        raise ValueError(
            f"Received an invalid value for `fields`: fields are numbered from 0, but "
            f"it holds {array.min()}."
        )
    return tuple(int(field) for field in array)
