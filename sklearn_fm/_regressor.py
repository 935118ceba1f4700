"""Factorization Machine regression."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score

from ._base import _BaseFM
from ._data import check_trainable_range


class FMRegressor(RegressorMixin, _BaseFM):
    """Factorization Machine regressor (Rendle, 2010), trained with Keras.

    Models the target as a bias, a linear term and all pairwise feature
    interactions, each interaction weight being the dot product of two learned
    factor vectors::

        y(x) = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j

    Sharing the factors lets it estimate interactions between features that
    rarely or never occur together, such as a user and an item in one-hot
    encoded rating data. Training minimises the half squared error plus an L2
    penalty with a minibatch optimizer, in TensorFlow, through the same FM
    computation as :class:`sklearn_fm.keras.FactorizationMachine`; prediction
    uses only NumPy and SciPy. Dense and sparse input are both supported, and sparse
    input is never densified.

    Parameters
    ----------
    n_factors : int, default=8
        Dimension of the factor vector of each feature, the rank of the
        interaction matrix.

    alpha_linear : float, default=0.01
        L2 penalty on the linear weights ``coef_``. Every sample penalises the
        weights of its non-zero features, so on dense data this is the usual
        ``alpha_linear / 2 * ||coef_||**2`` and on sparse data each feature is
        penalised in proportion to how often it occurs, as in libFM's SGD.

    alpha_factors : float, default=0.1
        L2 penalty on the factors ``factors_``, applied like ``alpha_linear``.
        The interactions are what overfits first on noisy data such as
        ratings: on MovieLens 100K (split u1) 0.1 gave the best test RMSE of
        {0.01, 0.03, 0.1, 0.2, 0.5}, while it shrinks clean planted
        interactions on standardised data by about 5%. Tune it first.

    alpha_uniform : float, default=0.0
        L2 penalty on all linear weights and factors alike, however often
        their features occur: it adds
        ``alpha_uniform / (2 * n_samples) * (||coef_||**2 + ||factors_||**2)``
        to the mean loss, like MLPRegressor's ``alpha``, so it weighs as much
        as ``alpha_uniform`` samples' worth of penalty on every parameter.
        Rare features, which the per-sample penalties above barely touch,
        feel it most; on MovieLens 1M ids it lowers the test RMSE from 0.845
        to 0.839 (see the user guide). Above 0 every step updates every
        parameter, also with the 'sgd' and 'adagrad' solvers, which otherwise
        update only the rows of the features in the batch.

    solver : {'adam', 'sgd', 'adagrad', 'rmsprop'}, default='adam'
        The optimizer: Keras' optimizer of that name with its default settings
        (for example ``beta_1=0.9, beta_2=0.999, epsilon=1e-7`` for Adam).

    learning_rate : {'constant', 'invscaling'}, default='constant'
        The schedule of the optimizer's learning rate over the epochs.
        'constant' keeps ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / (t + 1) ** power_t`` in epoch ``t`` (counting
        from 0 over all calls to ``partial_fit`` and ``fit`` with
        ``warm_start``). Unlike MLPRegressor, whose ``t`` counts samples and
        which applies the schedule only to SGD, ``t`` counts epochs and every
        solver follows it.

    learning_rate_init : float, default=0.01
        The optimizer's learning rate in the first epoch.

    power_t : float, default=0.5
        The exponent of the 'invscaling' schedule.

    batch_size : int, default=256
        Number of samples per minibatch (fewer in an epoch's last batch).

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    tol : float or None, default=1e-4
        Training stops when the training loss (or, with ``early_stopping``,
        the validation score) has not improved by at least ``tol`` for more
        than ``n_iter_no_change`` consecutive epochs. ``None`` always trains
        ``max_iter`` epochs.

    early_stopping : bool, default=False
        Whether to set aside ``validation_fraction`` of the training data,
        stop when the R² score on it stops improving, and keep the parameters
        of the best epoch.

    validation_fraction : float, default=0.1
        Fraction of the training data set aside for early stopping. Only used
        if ``early_stopping`` is True.

    n_iter_no_change : int, default=10
        Number of epochs without improvement by ``tol`` tolerated before
        training stops.

    init_std : float, default=0.1
        Standard deviation of the normal distribution the factors are drawn
        from. The linear weights start at zero and the intercept at the
        (weighted) mean of ``y``.

    warm_start : bool, default=False
        When True, ``fit`` continues from the parameters of the previous fit
        (with a fresh optimizer state) instead of starting over.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors, the shuffling of every epoch and the
        validation split. An int gives an identical model on every fit, in any
        process; ``None`` gives a different one each time. Neither touches
        NumPy's, Python's or TensorFlow's global random state.

    verbose : int, default=0
        Print the loss of every epoch.

    Attributes
    ----------
    intercept_ : float
        The global bias ``w0``.

    coef_ : ndarray of shape (n_features,)
        The linear weights ``w``.

    factors_ : ndarray of shape (n_features, n_factors)
        The factor vectors ``v_i``, one row per feature. The interaction weight
        of features ``i`` and ``j`` is ``factors_[i] @ factors_[j]``.

    n_iter_ : int
        Number of epochs trained, over all calls to ``fit`` with
        ``warm_start`` and to ``partial_fit``.

    loss_curve_ : list of float
        The mean training objective (half squared error plus penalty) of each
        epoch.

    best_loss_ : float or None
        The lowest value of ``loss_curve_``; None with ``early_stopping``.

    validation_scores_ : list of float or None
        The R² score on the validation set after each epoch; None without
        ``early_stopping``.

    best_validation_score_ : float or None
        The best of ``validation_scores_``, whose parameters the model keeps;
        None without ``early_stopping``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``. Defined only when ``X``
        has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.SGDRegressor : Linear model fitted by SGD.
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor.
    sklearn_fm.keras.FactorizationMachine : The Keras layer behind this model.

    Notes
    -----
    The pairwise term is computed as
    ``1/2 sum_f [(sum_i v_if x_i)**2 - sum_i v_if**2 x_i**2]``, which costs
    O(n_factors * nnz(x)) per sample instead of O(n_features**2).

    The objective is ``sum_i s_i [(y_i - y(x_i))**2 / 2 + p(x_i)] / n +
    alpha_uniform / (2 n) (||w||**2 + ||V||**2)`` with the sample weights
    ``s`` scaled to mean 1 and ``p(x_i) = 1/2 sum_{j: x_ij != 0}
    (alpha_linear w_j**2 + alpha_factors ||v_j||**2)``.

    Targets far from zero mean or unit scale train slower with the default
    learning rate; wrap the model in
    :class:`~sklearn.compose.TransformedTargetRegressor` with a
    :class:`~sklearn.preprocessing.StandardScaler` if needed.

    References
    ----------
    Steffen Rendle. "Factorization Machines." IEEE International Conference
    on Data Mining (ICDM), 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_fm import FMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 4))
    >>> y = X[:, 0] + 2 * X[:, 1] * X[:, 2]
    >>> reg = FMRegressor(n_factors=4, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.95)
    True
    """

    _loss = "squared_error"

    def __init__(
        self,
        *,
        n_factors=8,
        alpha_linear=0.01,
        alpha_factors=0.1,
        alpha_uniform=0.0,
        solver="adam",
        learning_rate="constant",
        learning_rate_init=0.01,
        power_t=0.5,
        batch_size=256,
        max_iter=200,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        init_std=0.1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_factors=n_factors,
            alpha_linear=alpha_linear,
            alpha_factors=alpha_factors,
            alpha_uniform=alpha_uniform,
            solver=solver,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            init_std=init_std,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input of any scipy format is used as is,
            without densifying.

        y : array-like of shape (n_samples,)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples. None weighs them equally.

        Returns
        -------
        self : FMRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on the given data, continuing from the current model.

        The first call initialises the model; later calls keep its parameters
        and optimizer state. ``early_stopping`` is not supported here.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples. None weighs them equally.

        Returns
        -------
        self : FMRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict with the fitted model, using NumPy only.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted values.
        """
        return self._decision_function(X)

    def _initial_intercept(self, y, sample_weight, n_outputs):
        return float(np.average(y, weights=sample_weight))

    def _validation_score(self, y, raw, sample_weight):
        return r2_score(y, raw, sample_weight=sample_weight)

    def _training_targets(self, y, sample_weight, first_call, classes):
        check_trainable_range(y, "y")
        return y, sample_weight, 1, {}
