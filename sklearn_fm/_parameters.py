"""The FM's parameters: their layout, their change of units, and the FM
computed from them in NumPy, which ``predict`` uses.

The estimators hold one output (a regressor, a binary classifier) as a
scalar ``intercept_``, ``coef_`` of shape (n_features,) and ``factors_`` of
shape (n_features, k), and ``n`` outputs (a multiclass classifier) as (n,),
(n, n_features) and (n, n_features, k): the output first, as scikit-learn's
linear models hold ``coef_``. The Keras layer,
:class:`sklearn_fm.keras.FactorizationMachine`, always holds (n,),
(n_features, n) and (n_features, n, k), as ``keras.layers.Dense`` holds its
kernel. A field-aware FM has one factor vector per field: its factors hold
(n_fields, k) where an FM's hold (k,), in either layout.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp


# The factors a model may hold: 2**28 values, 1 GiB in float32 on the
# device (Adam's two slots triple that in training), 2 GiB as the float64
# ``factors_``.
MAX_FACTORS = 1 << 28


def check_factors_budget(shape):
    """Refuse, before allocating them, factors of ``shape`` beyond ``MAX_FACTORS``."""
    size = int(np.prod(shape, dtype=np.float64))
    if size > MAX_FACTORS:
        raise ValueError(
            f"The model would hold {size:,} factors (shape {shape}), more than the "
            f"{MAX_FACTORS:,} (1 GiB in float32) sklearn_fm allows. Lower n_factors, "
            "or hash or group rare features; a field-aware FM holds one factor vector "
            "per field for every feature, so fewer fields shrink it too."
        )


def n_outputs_of(n_classes):
    """The FM outputs of a model of ``n_classes`` classes (1 for a
    regressor): one, the log-odds of the second class, for two classes; one
    score per class for more."""
    return 1 if n_classes <= 2 else n_classes


def parameter_shapes(n_features, n_outputs, n_factors, n_fields=None):
    """The shapes of ``intercept_``, ``coef_`` and ``factors_`` (of a
    field-aware FM if ``n_fields`` is given)."""
    outputs = () if n_outputs == 1 else (n_outputs,)
    vector = (n_factors,) if n_fields is None else (n_fields, n_factors)
    return outputs, (*outputs, n_features), (*outputs, n_features, *vector)


def layer_factors_shape(factors_shape, n_outputs):
    """The shape of the layer's factors, for the estimators' ``factors_shape``."""
    if n_outputs == 1:
        return (factors_shape[0], 1, *factors_shape[1:])
    return (factors_shape[1], factors_shape[0], *factors_shape[2:])


def layer_form(intercept, coef, factors):
    """The parameters as the layer holds them: bias (n_outputs,), kernel
    (n_features, n_outputs) and factors (n_features, n_outputs, k) (or
    (n_features, n_outputs, n_fields, k))."""
    if np.ndim(intercept) == 0:
        return np.reshape(intercept, 1), np.asarray(coef)[:, None], np.asarray(factors)[:, None]
    return np.asarray(intercept), np.transpose(coef), np.moveaxis(factors, 0, 1)


def estimator_form(bias, kernel, factors):
    """The layer's parameters as the estimators hold them (``layer_form``'s inverse)."""
    if bias.shape[0] == 1:
        return float(bias[0]), kernel[:, 0], factors[:, 0]
    return bias, np.ascontiguousarray(kernel.T), np.ascontiguousarray(np.moveaxis(factors, 1, 0))


def estimator_outputs(outputs):
    """The layer's outputs (n_rows, n_outputs) as ``fm_decision`` returns them."""
    return outputs[:, 0] if outputs.shape[1] == 1 else outputs


def rescale_fm(intercept, coef, factors, shift, scale, in_place=False):
    """The parameters of the FM ``shift + scale * f``, for an FM ``f`` and ``scale > 0``.

    The linear weights scale by ``scale`` and the factors by its square root,
    so that every interaction weight ``<v_i, v_j>`` scales by ``scale``.
    ``in_place`` scales the arrays ``coef`` and ``factors`` themselves.
    """
    if not in_place:
        return shift + scale * intercept, scale * coef, np.sqrt(scale) * factors
    coef *= scale
    factors *= np.sqrt(scale)
    return shift + scale * intercept, coef, factors


# The values of the largest array a block of rows takes in fm_decision and
# ffm_decision: 32 MiB of float64.
_VALUES_PER_BLOCK = 1 << 22


def fm_decision(X, intercept, coef, factors):
    """The FM output for each row of ``X`` (dense or sparse) in NumPy.

    The same formula as :class:`sklearn_fm.keras.FactorizationMachine`, so a
    fitted estimator predicts without TensorFlow. One output takes a scalar
    intercept, ``coef`` (n_features,) and ``factors`` (n_features, k) and
    returns (n_samples,); ``n`` outputs, each an FM of its own, take (n,),
    (n, n_features) and (n, n_features, k) and return (n_samples, n).

    Each row goes through the same operations whatever the other rows are, so
    predicting rows one by one or together gives bit-identical results. A
    plain BLAS matmul would not: it picks its kernel by shape. ``X`` is read
    in float64 whatever its dtype: squared in float32, values of 1e6 and more
    would lose the pairwise term to round-off. A dense ``X`` is read a block
    of rows at a time, so its float64 copies stay small.
    """
    intercept, coef, factors = layer_form(intercept, coef, factors)
    if sp.issparse(X):
        used, X = _present_columns(X)
        return estimator_outputs(_fm_outputs(X, intercept, coef[used], factors[used]))
    per_row = X.shape[1] + factors.shape[1] * (factors.shape[2] + 1)
    outputs = [
        # Per-row BLAS calls need contiguous rows.
        _fm_outputs(np.ascontiguousarray(X[rows], np.float64), intercept, coef, factors)
        for rows in _row_blocks(X.shape[0], per_row)
    ]
    return estimator_outputs(np.concatenate(outputs))


def _present_columns(X):
    """The columns of the sparse ``X`` that hold non-zeros, and ``X`` of
    those columns alone in float64. Reading only their parameters, a row
    costs O(k * nnz) instead of O(k * n_features); the column map is
    monotone, so each row's operations keep their order."""
    used = np.unique(X.indices)
    return used, X[:, used].astype(np.float64)


def _row_blocks(n_rows, per_row):
    """Slices of consecutive rows, as many as take at most
    ``_VALUES_PER_BLOCK`` values at ``per_row`` values a row (at least one
    row); one block for no rows."""
    block = max(1, _VALUES_PER_BLOCK // per_row)
    return [slice(start, start + block) for start in range(0, n_rows, block) or range(1)]


def _fm_outputs(X, intercept, coef, factors):
    """``fm_decision`` of the float64 rows ``X`` (a CSR matrix, or a
    C-contiguous array) in the layer's layout."""
    _, n_outputs, n_factors = factors.shape
    if sp.issparse(X):

        def dot(A, W):
            return A @ W

        X_squared = X.multiply(X)
    else:

        def dot(A, W):
            return (A[:, None, :] @ W)[:, 0]  # the same (1, d) @ (d, m) per row

        X_squared = X * X
    xw = dot(X, np.column_stack([coef, factors.reshape(len(factors), n_outputs * n_factors)]))
    squared = dot(X_squared, np.square(factors).sum(axis=2))
    xv = xw[:, n_outputs:].reshape(-1, n_outputs, n_factors)
    return intercept + xw[:, :n_outputs] + 0.5 * (np.square(xv).sum(axis=2) - squared)


def ffm_decision(X, intercept, coef, factors, fields):
    """The field-aware FM output for each row of ``X`` (dense or sparse) in NumPy.

    The formula of :class:`sklearn_fm.keras.FieldAwareFactorizationMachine`
    for the field of each column ``fields`` (n_features,) and the factors
    (n_features, n_fields, k), or (n, n_features, n_fields, k) for ``n``
    outputs; otherwise as :func:`fm_decision`, row-wise bit-identical too.
    Computed a block of rows at a time: the sums of each row's factors by
    field take n_fields**2 * k values per output, 1,000 rows of 400
    features in 400 fields 10 GiB at once.
    """
    intercept, coef, factors = layer_form(intercept, coef, factors)
    n_fields = factors.shape[2]
    fields = np.asarray(fields)
    in_field = np.eye(n_fields)[fields]  # (n_features, n_fields)
    own = np.einsum("icgk,ig->ick", factors, in_field)  # the vector for its own field
    flat = factors.reshape(len(factors), -1)
    per_row = n_fields * (X.shape[1] + flat.shape[1])
    outputs = [
        _ffm_block_outputs(X[rows], intercept, coef, flat, own, fields, in_field)
        for rows in _row_blocks(X.shape[0], per_row)
    ]
    return estimator_outputs(np.concatenate(outputs))


def _ffm_block_outputs(X, intercept, coef, flat, own, fields, in_field):
    """``ffm_decision`` of a block of rows, in the layer's layout. ``flat``
    holds each feature's factors in one row, ``own`` its factors for its own
    field, and ``fields`` and ``in_field`` its field as a label and as a
    one-hot row."""
    (_, n_fields), (_, n_outputs, n_factors) = in_field.shape, own.shape
    if sp.issparse(X):
        used, X = _present_columns(X)
        coef, flat, own, fields = coef[used], flat[used], own[used], fields[used]
        # field_sums[r, f] = X[r, columns of field f] @ their factors, field by field.
        field_sums = np.stack(
            [X[:, fields == f] @ flat[fields == f] for f in range(n_fields)], axis=1
        )
        linear = X @ coef
        squared = X.multiply(X) @ np.square(own).sum(axis=2)
    else:
        X = np.ascontiguousarray(X, dtype=np.float64)
        by_field = np.ascontiguousarray(X[:, None, :] * in_field.T[None])  # (rows, F, n)
        field_sums = by_field @ flat  # the same (F, n) @ (n, m) per row
        linear = (X[:, None, :] @ coef)[:, 0]
        squared = (np.square(X)[:, None, :] @ np.square(own).sum(axis=2))[:, 0]
    field_sums = field_sums.reshape(-1, n_fields, n_outputs, n_fields, n_factors)
    crossed = np.sum(field_sums * field_sums.transpose(0, 3, 2, 1, 4), axis=(1, 3, 4))
    return intercept + linear + 0.5 * (crossed - squared)


class Interactions(NamedTuple):
    """Pairs of features ``i < j`` with their interaction weight in one
    output of an FM, strongest (largest in magnitude) first."""

    feature_i: np.ndarray  # int64 (n_pairs,)
    feature_j: np.ndarray  # int64 (n_pairs,)
    weight: np.ndarray  # float64 (n_pairs,)


# The interaction weights computed at once: 32 MiB of float64.
_WEIGHTS_PER_BLOCK = 1 << 22


def strongest_interactions(factors, n, fields=None, exclusive=None):
    """The ``n`` pairs ``i < j`` of largest interaction weight in magnitude,
    as an :class:`Interactions` (all pairs if there are fewer).

    The weight is ``<v_i, v_j>`` for the factors (n_features, k) of an FM,
    and ``<v_i f(j), v_j f(i)>`` for the factors (n_features, n_fields, k) of
    a field-aware FM with the field ``f(i) = fields[i]`` of each feature.
    Features of one group ``exclusive[i] >= 0`` never occur together (the
    categories of one column): their pairs are left out. Every pair is
    scored, O(n_features**2 * k), in blocks of rows, so memory stays
    O(n_features + n) whatever the number of features. Ties keep the
    order of ``(i, j)``.
    """
    factors = np.asarray(factors, np.float64)
    n_features = len(factors)
    block_rows = max(1, _WEIGHTS_PER_BLOCK // max(n_features, 1))
    kept = Interactions(*(np.empty(0, dtype) for dtype in (np.int64, np.int64, np.float64)))
    for start in range(0, n_features - 1, block_rows):
        stop = min(start + block_rows, n_features - 1)
        # Row r is feature start + r, column c is feature start + 1 + c; the
        # pairs i < j are the columns c >= r.
        weights = _pair_weights(factors, fields, np.arange(start, stop), start + 1)
        n_cols = weights.shape[1]
        absent = np.arange(n_cols) < np.arange(stop - start)[:, None]
        if exclusive is not None:
            group, other = exclusive[start:stop, None], exclusive[None, start + 1 :]
            absent |= (group == other) & (group >= 0)
        strength = np.where(absent, -1.0, np.abs(weights))
        n_pairs = absent.size - np.count_nonzero(absent)
        first = _first_strongest(strength.ravel(), min(n, n_pairs))
        rows, cols = np.divmod(first, n_cols)
        block = Interactions(rows + start, cols + start + 1, weights.ravel()[first])
        kept = _strongest(Interactions(*map(np.concatenate, zip(kept, block))), n)
    return _strongest(kept, len(kept.weight))


def _pair_weights(factors, fields, rows, first_col):
    """The interaction weights of the features ``rows`` with the features
    from ``first_col`` on, (len(rows), n_features - first_col)."""
    if fields is None:
        return factors[rows] @ factors[first_col:].T
    fields = np.asarray(fields)
    row_fields, col_fields = fields[rows], fields[first_col:]
    weights = np.empty((len(rows), len(col_fields)))
    # Feature i of field f meets feature j of field g through v_ig and v_jf.
    for f in np.unique(row_fields):
        in_f = np.flatnonzero(row_fields == f)
        for g in np.unique(col_fields):
            in_g = np.flatnonzero(col_fields == g)
            weights[np.ix_(in_f, in_g)] = (
                factors[rows[in_f], g] @ factors[first_col + in_g, f].T
            )
    return weights


def _first_strongest(strength, n):
    """The positions of the ``n`` largest of ``strength``, the first ones
    (in position order) at a tie, in O(len(strength))."""
    if n >= len(strength):
        return np.arange(len(strength))
    if n == 0:  # a block whose pairs were all left out
        return np.empty(0, np.int64)
    threshold = np.partition(strength, len(strength) - n)[len(strength) - n]
    above = np.flatnonzero(strength > threshold)
    return np.concatenate([above, np.flatnonzero(strength == threshold)[: n - len(above)]])


def _strongest(pairs, n):
    """The ``n`` pairs of largest absolute weight, strongest first, the
    first in ``(i, j)`` order at a tie."""
    order = np.lexsort((pairs.feature_j, pairs.feature_i, -np.abs(pairs.weight)))[:n]
    return Interactions(*(column[order] for column in pairs))
