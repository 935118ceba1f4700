"""Conversion of validated input into the arrays training and prediction read."""

import numpy as np
import scipy.sparse as sp


def training_matrix(X):
    """``X`` as float32: a C-contiguous array, or a canonical CSR matrix.

    Canonical means sorted indices, no duplicates (they are summed, as scipy
    does) and no explicit zeros, so that the sparse and dense forms of the same
    data train the same model. Batches are cut from it row by row, which is why
    no other sparse format reaches TensorFlow. The caller's matrix is never
    modified.
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float32, copy=True)
        X.sum_duplicates()
        X.eliminate_zeros()
        return X
    return np.ascontiguousarray(X, dtype=np.float32)


def epoch_arrays(X, y, sample_weight, order):
    """The rows ``order`` of a training matrix and its targets, as the trainer reads them.

    Dense: ``(X, y, sample_weight)``. CSR: ``(indptr, indices, values, y,
    sample_weight)``, with int64 indices as TensorFlow's sparse tensors need.
    """
    y, sample_weight = y[order], sample_weight[order]
    X = X[order]
    if sp.issparse(X):
        return (
            X.indptr.astype(np.int64),
            X.indices.astype(np.int64),
            X.data,
            y,
            sample_weight,
        )
    return X, y, sample_weight


def fm_decision(X, intercept, coef, factors):
    """The FM output for each row of ``X`` (dense or sparse) in NumPy.

    The same formula as :class:`sklearn_fm.keras.FactorizationMachine`, so a
    fitted estimator predicts without TensorFlow. Each row goes through the
    same operations whatever the other rows are, so predicting rows one by one
    or together gives bit-identical results. A plain BLAS matmul would not: it
    picks its kernel by shape.
    """
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

    xw = dot(X, np.column_stack([coef, factors]))
    squared = dot(X_squared, np.square(factors).sum(axis=1)[:, None])
    xv = xw[:, 1:]
    pairwise = 0.5 * (np.square(xv).sum(axis=1) - squared[:, 0])
    return intercept + xw[:, 0] + pairwise
