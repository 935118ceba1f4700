"""Sharing fitted models with skops: the types skops must be told to trust.

Nothing here imports skops: the list is made from the classes themselves, so
it follows them if they move.
"""

from ._classifier import FMClassifier
from ._encoders import ImplicitFeedbackEncoder, MultiHotEncoder
from ._field_aware import FFMClassifier, FFMRegressor
from ._regressor import FMRegressor, TargetMoments
from ._solvers import OptimizerState, SolverSpec

# Every type of sklearn_fm that a fitted estimator or transformer holds, as
# skops.io.get_untrusted_types reports them: the estimators themselves, and
# the solver, optimizer state and regressor's target moments kept for
# partial_fit (NamedTuples of ours, holding only strings, numbers and NumPy
# arrays).
_TYPES = (
    FMRegressor,
    FMClassifier,
    FFMRegressor,
    FFMClassifier,
    MultiHotEncoder,
    ImplicitFeedbackEncoder,
    SolverSpec,
    OptimizerState,
    TargetMoments,
)


def skops_trusted_types():
    """The type names to trust when loading a fitted sklearn_fm model with skops.

    `skops <https://skops.readthedocs.io>`_ saves a scikit-learn model without
    pickle and, when loading it, refuses every type it does not know to be
    safe. It knows most of scikit-learn's, NumPy's and SciPy's, but not those of
    sklearn_fm: pass this list as ``trusted`` to ``skops.io.load`` (or
    ``skops.io.loads``). MLflow's ``mlflow.sklearn.save_model`` and
    ``mlflow.sklearn.log_model`` save in the skops format by default (outside
    Databricks, as of MLflow 3.17) and refuse such a model unless given this
    list as ``skops_trusted_types``; they keep it with the model, and
    ``mlflow.sklearn.load_model`` and ``mlflow.pyfunc.load_model`` use it.

    The list names sklearn_fm's own types and no others: the four estimators,
    the two transformers, and the three small records of the solver, its
    optimizer state and a regressor's target moments that a fitted estimator
    keeps so that ``partial_fit`` can continue where training stopped
    (``sklearn_fm._solvers.SolverSpec``, ``sklearn_fm._solvers.OptimizerState``
    and ``sklearn_fm._regressor.TargetMoments``, which hold only strings,
    numbers and NumPy arrays). It covers every fitted estimator, whatever its solver,
    targets or input (categorical columns of numbers, strings, booleans,
    dates or durations included), alone or in a
    :class:`~sklearn.pipeline.Pipeline` of scikit-learn steps. Categories
    that are pandas objects of their own (``pandas.Interval``,
    ``pandas.Period``, a ``pandas.Timestamp`` with a time zone) are kept as
    such, and skops names their types as untrusted too: trust them yourself,
    or make them strings before fitting.

    Returns
    -------
    trusted : list of str
        The fully qualified names of the types, as skops reports them.

    See Also
    --------
    load : Load a model written by the estimators' ``save`` method, a format
        of sklearn_fm's own that needs no list of trusted types.

    Notes
    -----
    A fitted :class:`ImplicitFeedbackEncoder` also holds a SciPy sparse
    matrix, which skops (0.11 to 0.16) reports as the untrusted type
    ``"scipy.sparse._csr.csr_matrix"``. Not being sklearn_fm's, it is not in
    this list: add it yourself to load such an encoder.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn_fm
    >>> sklearn_fm.skops_trusted_types()[:2]
    ['sklearn_fm._regressor.FMRegressor', 'sklearn_fm._classifier.FMClassifier']

    With skops installed, a fitted model makes the round trip:

    >>> import skops.io  # doctest: +SKIP
    >>> X, y = np.eye(4), np.arange(4.0)
    >>> model = sklearn_fm.FMRegressor(max_iter=5, tol=None, random_state=0)
    >>> model = model.fit(X, y)  # doctest: +SKIP
    >>> data = skops.io.dumps(model)  # doctest: +SKIP
    >>> loaded = skops.io.loads(data, trusted=sklearn_fm.skops_trusted_types())  # doctest: +SKIP
    >>> bool((loaded.predict(X) == model.predict(X)).all())  # doctest: +SKIP
    True
    """
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in _TYPES]
