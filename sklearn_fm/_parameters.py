"""The FM's parameters: their layout, their change of units, and the FM
computed from them in NumPy, which ``predict`` uses.

The estimators hold one output (a regressor, a binary classifier) as a
scalar ``intercept_``, ``coef_`` of shape (n_features,) and ``factors_`` of
shape (n_features, k), and ``n`` outputs (a multiclass classifier) as (n,),
(n, n_features) and (n, n_features, k): the output first, as scikit-learn's
linear models hold ``coef_``. The Keras layer,
:class:`sklearn_fm.keras.FactorizationMachine`, always holds (n,),
(n_features, n) and (n_features, n, k), as ``keras.layers.Dense`` holds its
kernel.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp


def n_outputs_of(n_classes):
    """The FM outputs of a model of ``n_classes`` classes (1 for a
    regressor): one, the log-odds of the second class, for two classes; one
    score per class for more."""
    return 1 if n_classes <= 2 else n_classes


def parameter_shapes(n_features, n_outputs, n_factors):
    """The shapes of ``intercept_``, ``coef_`` and ``factors_``."""
    outputs = () if n_outputs == 1 else (n_outputs,)
    return outputs, (*outputs, n_features), (*outputs, n_features, n_factors)


def layer_form(intercept, coef, factors):
    """The parameters as the layer holds them: bias (n_outputs,), kernel
    (n_features, n_outputs) and factors (n_features, n_outputs, k)."""
    if np.ndim(intercept) == 0:
        return np.reshape(intercept, 1), np.asarray(coef)[:, None], np.asarray(factors)[:, None]
    return np.asarray(intercept), np.transpose(coef), np.transpose(factors, (1, 0, 2))


def estimator_form(bias, kernel, factors):
    """The layer's parameters as the estimators hold them (``layer_form``'s inverse)."""
    if bias.shape[0] == 1:
        return float(bias[0]), kernel[:, 0], factors[:, 0]
    return bias, np.ascontiguousarray(kernel.T), np.ascontiguousarray(factors.transpose(1, 0, 2))


def estimator_outputs(outputs):
    """The layer's outputs (n_rows, n_outputs) as ``fm_decision`` returns them."""
    return outputs[:, 0] if outputs.shape[1] == 1 else outputs


def rescale_fm(intercept, coef, factors, shift, scale):
    """The parameters of the FM ``shift + scale * f``, for an FM ``f`` and ``scale > 0``.

    The linear weights scale by ``scale`` and the factors by its square root,
    so that every interaction weight ``<v_i, v_j>`` scales by ``scale``.
    """
    return shift + scale * intercept, scale * coef, np.sqrt(scale) * factors


def fm_decision(X, intercept, coef, factors):
    """The FM output for each row of ``X`` (dense or sparse) in NumPy.

    The same formula as :class:`sklearn_fm.keras.FactorizationMachine`, so a
    fitted estimator predicts without TensorFlow. One output takes a scalar
    intercept, ``coef`` (n_features,) and ``factors`` (n_features, k) and
    returns (n_samples,); ``n`` outputs, each an FM of its own, take (n,),
    (n, n_features) and (n, n_features, k) and return (n_samples, n).

    Each row goes through the same operations whatever the other rows are, so
    predicting rows one by one or together gives bit-identical results. A
    plain BLAS matmul would not: it picks its kernel by shape.
    """
    intercept, coef, factors = layer_form(intercept, coef, factors)
    _, n_outputs, n_factors = factors.shape
    if sp.issparse(X):
        # Read only the parameters of the columns present: a row then costs
        # O(k * nnz) instead of O(k * n_features). The column map is monotone,
        # so each row's operations keep their order.
        used = np.unique(X.indices)
        X, coef, factors = X[:, used], coef[used], factors[used]
        X_squared = X.multiply(X)

        def dot(A, W):
            return A @ W

    else:
        X = np.ascontiguousarray(X)  # the per-row BLAS call needs contiguous rows
        X_squared = X * X

        def dot(A, W):
            return (A[:, None, :] @ W)[:, 0]  # the same (1, d) @ (d, m) per row

    xw = dot(X, np.column_stack([coef, factors.reshape(len(factors), n_outputs * n_factors)]))
    squared = dot(X_squared, np.square(factors).sum(axis=2))
    xv = xw[:, n_outputs:].reshape(-1, n_outputs, n_factors)
    return estimator_outputs(
        intercept + xw[:, :n_outputs] + 0.5 * (np.square(xv).sum(axis=2) - squared)
    )


class Interactions(NamedTuple):
    """Pairs of features ``i < j`` with their interaction weight ``<v_i, v_j>``
    in one output of an FM, strongest (largest in magnitude) first."""

    feature_i: np.ndarray  # int64 (n_pairs,)
    feature_j: np.ndarray  # int64 (n_pairs,)
    weight: np.ndarray  # float64 (n_pairs,)


# The interaction weights computed at once: 32 MiB of float64.
_WEIGHTS_PER_BLOCK = 1 << 22


def strongest_interactions(factors, n):
    """The ``n`` pairs ``i < j`` of the factors ``factors`` (n_features, k)
    whose interaction weights ``<v_i, v_j>`` are largest in magnitude, as an
    :class:`Interactions` (all pairs if there are fewer).

    Every pair is scored, O(n_features**2 * k), in blocks of rows, so memory
    stays O(n_features + n) whatever the number of features. Ties keep the
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
        weights = factors[start:stop] @ factors[start + 1 :].T
        n_cols = weights.shape[1]
        strength = np.abs(weights)
        strength[np.arange(n_cols) < np.arange(stop - start)[:, None]] = -1.0
        n_pairs = (stop - start) * n_cols - (stop - start) * (stop - start - 1) // 2
        first = _first_strongest(strength.ravel(), min(n, n_pairs))
        rows, cols = np.divmod(first, n_cols)
        block = Interactions(rows + start, cols + start + 1, weights.ravel()[first])
        kept = _strongest(Interactions(*map(np.concatenate, zip(kept, block))), n)
    return _strongest(kept, len(kept.weight))


def _first_strongest(strength, n):
    """The positions of the ``n`` largest of ``strength``, the first ones
    (in position order) at a tie, in O(len(strength))."""
    if n >= len(strength):
        return np.arange(len(strength))
    threshold = np.partition(strength, len(strength) - n)[len(strength) - n]
    above = np.flatnonzero(strength > threshold)
    return np.concatenate([above, np.flatnonzero(strength == threshold)[: n - len(above)]])


def _strongest(pairs, n):
    """The ``n`` pairs of largest absolute weight, strongest first, the
    first in ``(i, j)`` order at a tie."""
    order = np.lexsort((pairs.feature_j, pairs.feature_i, -np.abs(pairs.weight)))[:n]
    return Interactions(*(column[order] for column in pairs))
