"""Conversion of validated input into the arrays training and prediction read."""

import numpy as np
import scipy.sparse as sp


# Training computes in float32, which cannot square values beyond this.
_LARGEST_VALUE = float(np.sqrt(np.finfo(np.float32).max))


def check_trainable_range(values, name, advice=None):
    """Raise a ValueError if ``values`` are too large to train on in float32.

    Larger values overflow the squares of the FM and of the squared error:
    refusing them names the problem, where training would only diverge.
    """
    # max and min instead of abs: no temporary copy of a large dense X.
    largest = float(max(values.max(initial=0.0), -values.min(initial=0.0)))
    if not largest <= _LARGEST_VALUE:
        if advice is None:
            advice = f"Scale {name} first (for example with StandardScaler or MaxAbsScaler)."
        raise ValueError(
            f"{name} holds values up to {largest:.3g} in magnitude, but training "
            f"computes in float32, whose squares overflow beyond {_LARGEST_VALUE:.3g}. "
            + advice
        )


def training_matrix(X):
    """``X`` as a canonical float32 CSR matrix, the one form training reads.

    Canonical means sorted indices, no duplicates (they are summed, as scipy
    does) and no explicit zeros, so dense and sparse input holding the same
    values train the same model, and a step costs O(k * nnz) either way. The
    caller's matrix is never modified.
    """
    check_trainable_range(X.data if sp.issparse(X) else X, "X")
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


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
    (n_features, n) and (n_features, n, k) and return (n_samples, n).

    Each row goes through the same operations whatever the other rows are, so
    predicting rows one by one or together gives bit-identical results. A
    plain BLAS matmul would not: it picks its kernel by shape.
    """
    n_features, n_factors, n_outputs = factors.shape[0], factors.shape[-1], np.size(intercept)
    coef = np.reshape(coef, (n_features, n_outputs))
    factors = np.reshape(factors, (n_features, n_outputs, n_factors))
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
    output = intercept + xw[:, :n_outputs] + 0.5 * (np.square(xv).sum(axis=2) - squared)
    return output[:, 0] if np.ndim(intercept) == 0 else output
