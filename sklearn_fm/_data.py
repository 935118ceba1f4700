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
