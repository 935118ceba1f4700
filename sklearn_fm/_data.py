"""Conversion of validated input into the arrays training and prediction read."""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp


# Training computes in float32, which cannot square values beyond this.
LARGEST_TRAINABLE_VALUE = float(np.sqrt(np.finfo(np.float32).max))


def check_trainable_range(values, name, advice=None):
    """Raise a ValueError if ``values`` are too large to train on in float32.

    Larger values overflow the squares of the FM and of the squared error:
    refusing them names the problem, where training would only diverge.
    """
    largest = largest_magnitude(values)
    if not np.isfinite(largest):
        raise non_finite_error(name, largest)
    if not largest <= LARGEST_TRAINABLE_VALUE:
        if advice is None:
            advice = f"Scale {name} first (for example with StandardScaler or MaxAbsScaler)."
        raise ValueError(
            f"{name} holds values up to {largest:.3g} in magnitude, but training "
            f"computes in float32, whose squares overflow beyond {LARGEST_TRAINABLE_VALUE:.3g}. "
            + advice
        )


def largest_magnitude(values):
    """The largest absolute value of the array ``values`` (0 if empty; NaN
    if it holds one), as a float."""
    # max and min instead of abs: no temporary copy of a large array.
    return float(max(values.max(initial=0.0), -values.min(initial=0.0)))


class ScaledWeights(NamedTuple):
    """Non-negative weights divided by ``scale``, what they were divided by."""

    weights: np.ndarray
    scale: float


def scaled_to_at_most_1(weights):
    """Non-negative ``weights`` divided by their largest (at least the
    smallest normal float64, so that all zeros stay zeros; weights whose
    largest is 1 are returned as they are), as :class:`ScaledWeights`:
    training is invariant to their scale, and their products and sums then
    stay finite however large they are."""
    scale = max(float(weights.max(initial=0.0)), np.finfo(np.float64).tiny)
    return ScaledWeights(weights if scale == 1.0 else weights / scale, scale)


def non_finite_error(name, largest):
    """The ValueError for input ``name`` whose largest magnitude ``largest``
    is NaN or infinity, which only ``assume_finite=True`` lets past
    ``validate_data``: worded as scikit-learn's check words it."""
    kind = "NaN" if np.isnan(largest) else "infinity"
    return ValueError(
        f"Input {name} contains {kind}. (scikit-learn's assume_finite=True skipped the "
        "check that refuses it; training and predicting cannot use it.)"
    )


def check_sparse_structure(X):
    """Raise a ValueError if ``X`` is a sparse matrix or array whose index
    arrays do not describe a matrix of its shape.

    scipy checks them only when asked to, and code that trusts them reads
    out of bounds: XLA clamps or drops an out-of-range column in training,
    NumPy raises IndexError at predict, and a decreasing ``indptr`` crashes
    in C++. O(nnz), without changing ``X``.
    """
    if not sp.issparse(X) or X.format not in ("csr", "csc", "coo", "bsr") or X.ndim != 2:
        # DIA, LIL and DOK hold no index arrays that scipy trusts unchecked;
        # validation refuses sparse arrays of other than 2 dimensions.
        return
    problem = _structure_problem(X)
    if problem is not None:
        raise ValueError(
            f"X is a malformed sparse matrix: {problem}. Its index arrays were "
            "changed after it was built; rebuild it, or check it with "
            "X.check_format(full_check=True)."
        )


def _structure_problem(X):
    """What is wrong with the index arrays of a CSR, CSC, COO or BSR ``X``, or None."""
    n_rows, n_columns = X.shape
    if X.format == "coo":
        if not len(X.row) == len(X.col) == len(X.data):
            return "its row, col and data arrays differ in length"
        return _index_problem(X.row, n_rows, "row") or _index_problem(X.col, n_columns, "column")
    if X.format == "bsr":  # indptr and indices of its blocks
        block_rows, block_columns = X.blocksize
        n_major, n_minor, minor = n_rows // block_rows, n_columns // block_columns, "block column"
    elif X.format == "csr":
        n_major, n_minor, minor = n_rows, n_columns, "column"
    else:
        n_major, n_minor, minor = n_columns, n_rows, "row"
    indptr, n_stored = X.indptr, min(len(X.indices), len(X.data))
    if len(indptr) != n_major + 1:
        return f"indptr holds {len(indptr)} entries, not {n_major + 1}"
    if indptr[0] != 0:
        return f"indptr starts at {indptr[0]}, not 0"
    if np.any(np.diff(indptr) < 0):
        return "indptr must not decrease"
    if indptr[-1] > n_stored:
        return f"indptr ends at {indptr[-1]}, beyond its {n_stored} indices"
    return _index_problem(X.indices[: indptr[-1]], n_minor, minor)


def _index_problem(indices, bound, what):
    if len(indices) == 0:
        return None
    low, high = indices.min(), indices.max()
    if low < 0 or high >= bound:
        wrong = high if high >= bound else low
        return f"it must hold {what} indices from 0 to {bound - 1}, but one is {wrong}"
    return None


def without_spare_capacity(X):
    """``X``, and for a CSR matrix whose ``indices`` or ``data`` run beyond
    ``indptr[-1]`` (as scipy allows), a matrix of views that end there.

    The tail holds no entry, but scipy's column selection reads it (and
    crashes on an out-of-range index there), as does ``np.unique(X.indices)``.
    """
    if not sp.issparse(X) or X.format != "csr":
        return X
    nnz = X.indptr[-1]
    if len(X.indices) == len(X.data) == nnz:
        return X
    return sp.csr_matrix((X.data[:nnz], X.indices[:nnz], X.indptr), shape=X.shape, copy=False)


def index_dtype(n):
    """The integer type of positions up to ``n``: int32 where it holds them,
    as it takes half the memory of int64."""
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def training_matrix(X):
    """``X`` as a canonical float32 CSR matrix, the one form training reads.

    Canonical means sorted indices, no duplicates (they are summed, as scipy
    does) and no explicit zeros, so dense and sparse input holding the same
    values train the same model, and a step costs O(k * nnz) either way. The
    caller's matrix is never modified.
    """
    check_trainable_range(X.data if sp.issparse(X) else X, "X")
    if _is_canonical_float32_csr(X):
        return X  # read only: a copy would double what the fit holds of X
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


def _is_canonical_float32_csr(X):
    """Whether ``X`` is a float32 CSR matrix in the form ``training_matrix``
    returns, checked from its arrays (scipy's ``has_canonical_format`` is a
    flag that changes to its arrays leave stale)."""
    if not (sp.issparse(X) and X.format == "csr" and X.dtype == np.float32):
        return False
    indices, indptr = X.indices, X.indptr
    if len(indices) != indptr[-1] or len(X.data) != indptr[-1] or not np.all(X.data != 0):
        return False
    # Within each row, columns strictly increase; a row's first may be any.
    increasing = np.empty(len(indices), bool)
    increasing[1:] = indices[1:] > indices[:-1]
    starts = indptr[:-1][np.diff(indptr) > 0]
    increasing[starts] = True
    return bool(increasing.all())
