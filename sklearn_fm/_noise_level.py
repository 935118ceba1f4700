"""How strongly pure noise seems to interact on the rows of a training matrix.

``alpha_factors='auto'`` raises the factor penalty to this level times the
scale of the residuals, so that the factors learn only interactions
stronger than residuals of that scale show by chance on the same rows.
"""

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

# The relative precision asked of the eigenvalue: the penalty needs no more.
_TOL = 1e-3


def interaction_noise_level(X, sample_weight):
    """The spectral norm of ``sum_r w_r e_r x_r x_r^T / sum_r w_r`` without
    its diagonal, for random signs ``e_r``: the strength of the strongest
    pairwise interaction a pure-noise target of unit scale shows on the
    rows ``x_r`` of ``X`` with weights ``w_r``.

    Training the factors from zero, the gradient of the mean squared error
    against ``V V^T`` is ``-sum_r w_r r_r x_r x_r^T / sum_r w_r`` for the
    residuals ``r``; the factors grow from zero only along the directions
    where this matrix exceeds the factor penalty. For a residual of noise
    this matrix is that of ``interaction_noise_level``. It grows with the
    non-zeros per row and shrinks with the rows: about
    ``2 sqrt(d / n) + d / n`` for ``n`` rows of ``d`` standardised dense
    columns, and nearly 0 for one-hot ids on many rows.

    Parameters
    ----------
    X : sparse matrix of shape (n_samples, n_features)
        The canonical float32 CSR training matrix.

    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights; rows of weight 0 (such as validation rows)
        do not count.

    Returns
    -------
    float
        The noise level. The signs come from a generator of fixed seed, so
        that it depends on ``X`` and ``sample_weight`` only.
    """
    n_features = X.shape[1]
    total = float(np.sum(sample_weight))
    if n_features < 2 or not total > 0:
        return 0.0
    rng = np.random.RandomState(0)
    signed = (rng.choice([-1.0, 1.0], size=X.shape[0]) * sample_weight / total).astype(X.dtype)
    # X is float32; the products stay in its precision rather than copy it,
    # and its square shares X's index arrays.
    squared = sparse.csr_matrix((np.square(X.data), X.indices, X.indptr), shape=X.shape)
    diagonal = np.asarray(squared.T @ signed, dtype=np.float64).ravel()

    def matvec(v):
        v = np.ravel(v)
        return np.asarray(X.T @ (signed * (X @ v.astype(X.dtype))), np.float64) - diagonal * v

    operator = LinearOperator((n_features, n_features), matvec=matvec, dtype=np.float64)
    start = rng.normal(size=n_features)
    if not np.any(operator @ start):  # no two features share a row: A v = 0 for all v
        return 0.0
    try:
        eigenvalue = eigsh(
            operator, k=1, which="LM", v0=start, tol=_TOL, return_eigenvectors=False
        )
    except ArpackNoConvergence as error:
        eigenvalue = error.eigenvalues
    return float(np.max(np.abs(eigenvalue), initial=0.0))
