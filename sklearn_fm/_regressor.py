"""Factorization Machine regression."""

from typing import NamedTuple

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.utils import check_array

from ._base import BaseFM, Targets
from ._data import check_trainable_range

# The training targets lie at most this many standard deviations from their
# mean (see TargetMoments.standardization); equally weighted targets, at
# most sqrt(n).
_MAX_STANDARDIZED = 1e6

# The total weight of the targets seen stops here rather than at infinity.
_LARGEST_WEIGHT = np.finfo(np.float64).max

# The smallest and largest penalties of the linear weights in the
# least-squares start: collinear columns keep finite weights, and beyond the
# largest the weights round to zero in float32 while Ridge's float64 would
# overflow.
_SMALLEST_PENALTY = 1e-6
_LARGEST_PENALTY = 1e300


class FMRegressor(RegressorMixin, BaseFM):
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

    The defaults adapt to the data: training fits the standardised target, so
    that neither the learning rate nor the penalties depend on the units of
    ``y`` (the fitted attributes are in the units of ``y``); the batch size
    gives about 200 steps per epoch; early stopping holds out a validation set
    when there are more than 2,000 samples, and the error on it then sets how
    much the penalties weigh (less on cleaner data). The same defaults serve
    small dense tables and one-hot ids of a million ratings.

    Parameters
    ----------
    n_factors : int, default=32
        Dimension of the factor vector of each feature, the rank of the
        interaction matrix.

    alpha_linear : float, default=1.0
        L2 penalty on the linear weights ``coef_``, as ``Ridge``'s ``alpha``:
        it adds ``alpha_linear / (2 * n_samples)`` (``n_samples_seen_``)
        times ``||w||**2`` to the mean loss (``w`` the weights in units of the
        standardised target, see Notes), a prior worth ``alpha_linear``
        samples, so the linear part is penalised like
        ``Ridge(alpha=alpha_linear)``. Above 0 every step updates every
        linear weight (see ``solver``).

    alpha_factors : float or 'auto', default='auto'
        L2 penalty on the factors ``factors_``. Every sample penalises the
        factors of its non-zero features, so on dense data this is the usual
        ``alpha_factors / 2 * ||factors_||**2`` and on sparse data each
        feature is penalised in proportion to how often it occurs, as in
        libFM's SGD.
        The interactions are what overfits first on noisy data such as
        ratings; tune this and ``alpha_uniform`` first. 'auto' sets the
        penalty of each epoch to the strength that residuals of the size
        of the last epoch's would show as a pairwise interaction by chance
        on the training rows, at least 0.03: the root mean square of the
        residuals times the interaction noise level of the rows, the
        spectral norm of ``sum_i s_i x_i x_i^T / n`` without its diagonal
        for random signs ``s_i``. The noise level is about
        ``2 sqrt(d / n) + d / n`` on ``n`` rows of ``d`` standardised dense
        columns and far below 0.03 for one-hot ids on many rows. So on a
        few hundred rows of many columns the factors fit only interactions
        stronger than noise, and keep to the linear model on additive data;
        as the residuals shrink, strong interactions are not held back. The
        first epoch of a new model takes the residuals as 1, the scale of
        the standardised target; a call to ``partial_fit`` (one epoch) and a
        fit with ``warm_start`` continue from the last epoch's, and
        ``partial_fit`` counts the noise level of its rows as their share of
        all rows seen.
        ``alpha_factors_`` is the penalty of the last epoch.

    alpha_uniform : float, default=8.0
        L2 penalty on all factors alike, however often their features occur:
        it adds ``alpha_uniform / (2 * n_samples)`` (``n_samples_seen_``)
        times the squared norm of the factors to the mean loss, like
        MLPRegressor's ``alpha``, so it weighs as much as ``alpha_uniform``
        samples' worth of penalty on every factor: a prior that matters on
        small data and for rare features, which ``alpha_factors`` barely
        touches, and fades as the data grow. Above 0 every step updates
        every factor, also with the 'sgd' and 'adagrad' solvers, which
        otherwise update only the rows of the features in the batch.

    solver : str or dict, default='adam'
        The Keras optimizer that updates the layer's variables: the name of
        any optimizer of ``keras.optimizers`` in lower case ('adam', 'sgd',
        'adagrad', 'rmsprop', 'ftrl', 'adamw', 'nadam', 'lion', 'adamax',
        'adadelta', 'adafactor', 'lamb', 'muon', 'schedulefreeadamw'), with
        Keras' default settings, or a dict ``{"class_name": "Ftrl",
        "config": {"l1_regularization_strength": 0.1}}`` (the keys of
        ``keras.optimizers.serialize``'s output without ``module`` and
        ``registered_name``, the config holding only the settings to
        change), whose settings replace the defaults. The learning rate is
        ``learning_rate_init`` and its schedule, never the config's. 'sgd'
        (without momentum, weight decay or clipping), 'adagrad' and 'ftrl'
        (without ``l2_shrinkage_regularization_strength``) update only the
        factors of the features in a batch when ``alpha_uniform=0`` (and only
        their linear weights too when ``alpha_linear=0``); the others update
        every row. 'ftrl' starts from the initial factors (FTRL-Proximal would
        otherwise set them to 0), and its ``l1_regularization_strength`` sets
        weights to exactly zero.

    learning_rate : {'constant', 'invscaling'}, default='invscaling'
        The schedule of the optimizer's learning rate over the epochs.
        'constant' keeps ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / (t + 1) ** power_t`` in epoch ``t`` (counting
        from 0 over all calls to ``partial_fit`` and ``fit`` with
        ``warm_start``). Unlike MLPRegressor, whose ``t`` counts samples and
        which applies the schedule only to SGD, ``t`` counts epochs and every
        solver follows it. An epoch of fewer than 128 batches (small data)
        counts as its share of 128, so that a few hundred rows still get
        enough steps, and a call to ``partial_fit`` as the share of an epoch
        its samples are of ``n_samples_seen_``.

    learning_rate_init : float or 'auto', default='auto'
        The optimizer's learning rate in the first epoch. 'auto' takes 0.015
        on rows of squared norm up to 8 on average (one-hot ids, with a few
        side features) and ``0.015 * sqrt(8 / s)`` on rows of mean squared
        norm ``s`` above that (200 standardised dense columns: 0.003): Adam
        moves every weight by about the rate in a step, and a row's output
        by about the rate times the row's norm. Chosen from the rows of the
        first call to ``fit`` or ``partial_fit``, the mean weighted by
        ``sample_weight``, and kept by the calls that continue the model;
        the rate used is ``learning_rate_init_``. It suits Adam and the
        optimizers that scale their steps like it; SGD, Adagrad and FTRL
        need rates of their own on sparse columns (see the user guide).

    power_t : float, default=1.0
        The exponent of the 'invscaling' schedule: with 1, the rate of epoch
        ``t`` is ``learning_rate_init / (t + 1)``.

    batch_size : int or 'auto', default='auto'
        Number of samples per minibatch (fewer in an epoch's last batch).
        'auto' takes the power of 2 nearest to ``n_samples / 200`` on a log
        scale (``n_samples_seen_``), from 16 to 4096: about 200 steps per epoch,
        more steps on small data, where steps are cheap, and at most 4096
        rows per step on large data. The size used is ``batch_size_``.

    max_iter : int, default=1000
        Maximum number of epochs (passes over the training data).

    tol : float or None, default=1e-3
        Training stops when the training loss (or, with ``early_stopping``,
        the validation score) has not improved by at least ``tol`` for more
        than ``n_iter_no_change`` consecutive epochs; an epoch of fewer than
        128 batches is asked its share of ``tol``, as the 'invscaling'
        schedule counts it. ``None`` always trains ``max_iter`` epochs.

    early_stopping : bool or 'auto', default='auto'
        Whether to set aside ``validation_fraction`` of the training data,
        stop when the R² score on it stops improving, and keep the parameters
        of the best epoch. 'auto' does so in ``fit`` when the training data
        have more than 2,000 samples and a validation set of them has weight
        (some non-zero ``sample_weight``), and never in ``partial_fit``.
        Whether it ran is ``early_stopping_``. With early stopping, the validation error
        also scales the penalties (see Notes).

    validation_fraction : float, default=0.1
        Fraction of the training data set aside for early stopping. Only used
        when early stopping runs (``early_stopping_``).

    n_iter_no_change : int, default=5
        Number of epochs without improvement by ``tol`` tolerated before
        training stops.

    init_std : float or 'auto', default='auto'
        Standard deviation of the normal distribution the factors are drawn
        from, in the units of the standardised target. 'auto' takes 0.1 on
        rows of squared norm up to 2 on average (a user and an item, one-hot)
        and ``0.1 * sqrt(2 / s)`` on rows of mean squared norm ``s`` above
        that, so that the initial pairwise term, whose spread grows with
        ``init_std**2 * s``, is as small on dense rows as on one-hot ids. The
        spread used is ``init_std_``. Must be positive: factors that start
        at 0 stay there (a saddle point of the FM), which would train a
        linear model. Without early stopping the intercept and linear
        weights start at the linear model that minimises the objective
        without factors (a ridge regression, see Notes), with it at the
        (weighted) mean of ``y`` and zero.

    categorical_features : {"from_dtype"} or None, default="from_dtype"
        With ``"from_dtype"``, the ``category`` columns of a pandas DataFrame
        ``X`` (and its pyarrow dictionary columns, the Categorical and Enum
        columns of a polars DataFrame, the dictionary columns of a pyarrow
        Table) are one-hot encoded inside the estimator, one column per
        category that the rows of the first ``fit`` hold (the first
        ``partial_fit`` takes every category that pandas' dtype, a polars
        Enum or an Arrow dictionary declares, so that a stream can declare
        the categories of its later chunks), sorted, so that a frame of
        categorical columns needs no ``OneHotEncoder``; a missing value or
        another category then encodes as no column (a continued
        ``partial_fit`` or warm-started ``fit`` warns of rows of other
        categories, which it cannot learn), and the other columns pass
        through as numbers. None treats every column as numeric (a
        ``category`` column of strings is then refused, as columns of
        strings or dates always are).

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
        ``warm_start`` and to ``partial_fit``; an epoch that diverged counts
        (its parameters are not kept).

    n_samples_seen_ : int
        The number of samples the penalties ``alpha_linear`` and
        ``alpha_uniform``, the 'auto' batch size and the 'invscaling'
        schedule take the data set to hold:
        those ``fit`` trained on (without the validation part), or all those
        given to ``partial_fit`` since its first call (after a ``fit``, added
        to those of the fit). Each chunk counts as new data, so that the
        prior and the batch size do not depend on the chunk size, and
        several passes over a data set in chunks train about the model one
        ``fit`` on it would (the 'invscaling' schedule advances faster in
        the first pass over many chunks). None for a model loaded from a
        file of an older version.

    batch_size_ : int
        The batch size of the last call to ``fit`` or ``partial_fit``: the
        one ``batch_size`` asked for, or chose with 'auto', at most the number
        of training samples.

    early_stopping_ : bool
        Whether the last call to ``fit`` held out a validation set to stop
        on, as ``early_stopping`` asked or chose with 'auto'.

    alpha_factors_ : float
        The factor penalty of the last epoch: ``alpha_factors``, or the one
        'auto' chose for it.

    learning_rate_init_ : float
        The learning rate of the schedule's first epoch: ``learning_rate_init``,
        or the one 'auto' chose for it.

    init_std_ : float
        The spread the factors were drawn with: ``init_std``, or the one
        'auto' chose for it.

    loss_curve_ : list of float
        The mean training objective (half squared error of the standardised
        target plus penalty) of each epoch; for ``partial_fit``, with the
        call's weights relative to those the model was first trained on.
        Each epoch's is in the standardisation it trained in: after a call
        that set new units (see Notes), earlier entries are in
        the units before. NaN for an epoch that diverged.

    penalty_scales_ : list of float
        The factor all three penalties were multiplied by in each epoch, from
        0 to 1: with early stopping, the mean squared error of the
        standardised target on the validation data after the previous epoch
        (1 in the first epoch); 1 without early stopping (see Notes).

    best_loss_ : float or None
        The lowest finite value of ``loss_curve_`` in the last ``fit`` (for
        ``partial_fit``, since its first call; inf if there is none); None
        with ``early_stopping``.

    validation_scores_ : list of float or None
        The R² score on the validation set after each epoch (NaN for one
        that diverged); None without ``early_stopping``.

    best_validation_score_ : float or None
        The best finite one of ``validation_scores_`` in the last ``fit``,
        whose parameters the model keeps (-inf if there is none); None
        without ``early_stopping``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``. Defined only when ``X``
        has feature names that are all strings.

    is_categorical_ : ndarray of shape (n_features,) or None
        Which input columns were one-hot encoded (``categorical_features``);
        None if none was. ``coef_`` and ``factors_`` then have one entry per
        numeric column and per category, in the order of the columns.

    categories_ : list of ndarray
        The categories of each encoded column, in column order (empty
        without categorical input).

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

    Training fits an FM ``g`` to the standardised target
    ``z = (y - mu) / sigma``, with ``mu`` and ``sigma`` the (weighted) mean and
    standard deviation of the ``y`` of the first call to ``fit`` or
    ``partial_fit`` (``sigma = 1`` for a constant ``y``). Later calls keep
    them while the targets seen fit them: all the targets of ``partial_fit``
    so far (weighted), or those of a warm-started ``fit``. When those spread
    more than twice or less than half as wide as ``sigma``, or their mean
    lies more than ``sigma`` from ``mu``, ``mu`` and ``sigma`` are set anew
    from them: the model is expressed in the new units, its intercept moves
    by the mean residual of the targets of this call times their share of
    the weight of the targets seen (the earlier ones, which the model was
    fitted to, count as residuals of 0), and the optimizer starts over
    (models saved or pickled before sklearn_fm kept the moments of the
    targets seen keep their units). The estimator reports
    ``mu + sigma * g``: ``intercept_ = mu + sigma * g0``,
    ``coef_ = sigma * w`` and ``factors_ = sqrt(sigma) * V``, so that the model
    does not depend on the units of ``y``. The objective, in the parameters
    ``(g0, w, V)`` of ``g``, is ``sum_i s_i [(z_i - g(x_i))**2 / 2 + p(x_i)] / n
    + (alpha_linear ||w||**2 + alpha_uniform ||V||**2) / (2 n)`` with the
    sample weights ``s`` scaled to mean 1 and ``p(x_i) = alpha_factors / 2
    sum_{j: x_ij != 0} ||v_j||**2``.

    The half squared error is the negative log-likelihood of Gaussian noise
    of variance 1 on ``z``; noise of variance ``sigma2`` would weigh every
    penalty ``sigma2`` times as much against it. With early stopping, each
    epoch after the first multiplies all three penalties by the mean squared
    error of the previous epoch on the validation data (an estimate of
    ``sigma2``, at most 1), so that clean data are shrunk less than noisy
    data such as ratings. Without early stopping the factor is 1. The factor
    of every epoch is ``penalty_scales_``.

    Without early stopping, a new model's ``(g0, w)`` start at the minimum of
    this objective with ``V = 0``, ``Ridge(alpha=alpha_linear)`` on ``z``,
    solved by :class:`~sklearn.linear_model.Ridge` before the first epoch.
    The last epoch is then the model kept, and on a few hundred rows of many
    columns the epochs alone would not reach the linear model.

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
        n_factors=32,
        alpha_linear=1.0,
        alpha_factors="auto",
        alpha_uniform=8.0,
        solver="adam",
        learning_rate="invscaling",
        learning_rate_init="auto",
        power_t=1.0,
        batch_size="auto",
        max_iter=1000,
        tol=1e-3,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=5,
        init_std="auto",
        categorical_features="from_dtype",
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
            categorical_features=categorical_features,
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
            Weights are relative to the mean weight of the samples the model
            was first trained on (by the first call, or by ``fit``), so that
            they keep their meaning across calls: the gradients of a call of
            small weights are small, and with ``solver='sgd'`` it changes the
            model little, as in SGDRegressor. Optimizers with momentum, Adam
            (the default) among them, go on with the steps of earlier calls
            whatever the call's weights, as MLPRegressor's do.

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

    def _initial_linear_part(self, X, y, sample_weight, n_features, n_outputs):
        # Without validation rows the last epoch is the model kept, and on
        # small data (a few batches an epoch) the optimizer does not reach
        # the linear model in its epochs (R² 0.23 where it reaches 0.68, on
        # 80 rows of 100 columns in a prototype): start there. With
        # validation rows early stopping chooses among epochs that start
        # from zero, and a start at the linear model cost rating data about
        # 0.001 RMSE.
        if X is None:
            return super()._initial_linear_part(X, y, sample_weight, n_features, n_outputs)
        intercept, coef = _penalised_least_squares(
            X, y, sample_weight / sample_weight.mean(), self.alpha_linear
        )
        return np.array([intercept]), coef[:, None]

    def _constant_loss(self, y, sample_weight, n_outputs):
        mean = np.average(y, weights=sample_weight)  # half the squared error, as trained
        return 0.5 * float(np.average((y - mean) ** 2, weights=sample_weight))

    def _validation_score(self, y, scores, sample_weight):
        return r2_score(y, scores, sample_weight=sample_weight)

    def _penalty_scale(self, y, scores, sample_weight):
        # The squared error is the negative log-likelihood of Gaussian noise
        # of variance 1 in the units of the standardised target; with noise
        # of variance sigma2, the penalties weigh sigma2 times as much
        # against it. The validation error estimates sigma2, at most 1.
        if not sample_weight.sum() > 0:
            return 1.0
        return min(1.0, float(np.average((y - scores) ** 2, weights=sample_weight)))

    def _training_targets(self, y, sample_weight, weight_scale, first_call, incremental, classes):
        # validate_data(y_numeric=True) converts object arrays only; numbers
        # as strings ("1.5") convert as SGDRegressor and Ridge convert them.
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        # Training fits the standardised target, so that neither the learning
        # rate nor the penalties depend on the units of y.
        chunk = TargetMoments.of(y, sample_weight, weight_scale)
        if first_call:
            seen, (mean, std), new_units = chunk, chunk.standardization(), False
        else:
            seen, (mean, std), new_units = self._continued_units(chunk, incremental)
        # The targets seen before, which the model fits, add residuals of 0.
        seen_share = min(chunk.weight / seen.weight, 1.0) if new_units and seen.weight > 0 else 1.0
        with np.errstate(over="ignore", invalid="ignore"):  # reported just below
            # Not (y - mean) / std: y spanning all of float64 would overflow.
            standardized = y / std - mean / std
        # Targets of zero weight change nothing, so they need not be in range.
        standardized[sample_weight == 0] = 0.0
        check_trainable_range(
            standardized,
            "y, in standard deviations from the mean of the targets trained on,",
            advice="Continue training on targets of the scale trained on so far.",
        )
        fitted = {"_y_train_mean": mean, "_y_train_std": std, "_y_seen": seen}
        return Targets(
            standardized,
            sample_weight,
            1,
            shift=mean,
            scale=std,
            score_scale=1.0,
            fitted=fitted,
            new_units=new_units,
            seen_share=seen_share,
        )

    def _continued_units(self, chunk, incremental):
        """The moments of the targets seen, the standardisation, and whether
        it is new, of a continued model whose new targets have the moments
        ``chunk``.

        The units are kept while the targets seen fit them. A first
        ``partial_fit`` chunk too small to show the stream's scale (one
        target of 0.01 in a stream spread by 4 left R² 0.03), or a
        warm-started fit on targets of another scale, sets them anew.
        """
        kept = (self._y_train_mean, self._y_train_std)
        before = getattr(self, "_y_seen", None)  # None: a model of an older version
        if before is None:
            return None, kept, False
        # partial_fit's chunks add to the data set, a fit replaces it.
        seen = before.merged(chunk) if incremental else chunk
        if not seen.depart_from(*kept):
            return seen, kept, False
        return seen, seen.standardization(), True


def _penalised_least_squares(X, y, sample_weight, alpha_linear):
    """The intercept and weights of the linear model that minimises the
    regressor's objective without factors, ``sum_i s_i (y_i - b - x_i w)**2 / 2
    + alpha_linear / 2 ||w||**2``: ``Ridge(alpha=alpha_linear)``, with at
    least a tiny penalty so that the weights stay finite (and near the
    least-norm solution) where columns are collinear, as one-hot ids are.
    """
    # Ridge copies a weighted matrix; weights of 1 (the usual case) need none.
    weights = None if np.all(sample_weight == 1.0) else sample_weight
    alpha = float(np.clip(alpha_linear, _SMALLEST_PENALTY, _LARGEST_PENALTY))
    # In X's float32 (no copy), unless the penalty or the squares Ridge sums
    # could overflow it.
    if alpha >= 1e30 or np.abs(X.data).max(initial=0.0) >= 1e8:
        X = X.astype(np.float64)
    ridge = Ridge(alpha=alpha, copy_X=False).fit(X, y, weights)
    return float(ridge.intercept_), ridge.coef_


class TargetMoments(NamedTuple):
    """The total weight of the targets a regressor trained on, and their
    (weighted) moments in units of ``scale``, their largest magnitude, so
    that neither the sums nor the squares overflow, whatever the scale of
    the targets: the mean (at most 1 in magnitude), the standard deviation
    (at most 1) and a bound on the largest distance of one from the mean
    (at most 2)."""

    weight: float
    scale: float
    mean: float
    std: float
    farthest: float

    @classmethod
    def of(cls, y, sample_weight, weight_scale=1.0):
        """The moments of the targets ``y`` of non-zero ``sample_weight``,
        whose total weight is ``weight_scale`` times that of ``sample_weight``."""
        present = sample_weight > 0
        y, weights = y[present], sample_weight[present]
        weight = min(float(np.sum(weights, dtype=np.float64)) * weight_scale, _LARGEST_WEIGHT)
        largest = float(np.abs(y).max(initial=0.0))
        if largest == 0.0:
            return cls(weight, 0.0, 0.0, 0.0, 0.0)
        unit = y / largest
        mean = float(np.average(unit, weights=weights))
        std = float(np.sqrt(np.average(np.square(unit - mean), weights=weights)))
        return cls(weight, largest, mean, std, float(np.abs(unit - mean).max()))

    def merged(self, other):
        """The moments of the targets of both."""
        weight = min(self.weight + other.weight, _LARGEST_WEIGHT)
        heavier, scale = max(self.weight, other.weight), max(self.scale, other.scale)
        if not heavier > 0 or scale == 0:
            return self._replace(weight=weight)
        # Each part in units of the larger scale, its share of the weight
        # (from weights relative to the heavier part's: no sum overflows).
        relative = self.weight / heavier, other.weight / heavier
        parts = [
            (share / sum(relative), part.scale / scale, part)
            for share, part in zip(relative, (self, other))
        ]
        mean = sum(share * ratio * part.mean for share, ratio, part in parts)
        variance = sum(
            share * ((ratio * part.std) ** 2 + (ratio * part.mean - mean) ** 2)
            for share, ratio, part in parts
        )
        # |y - mean| is at most 2 in these units, whatever the parts' bounds.
        farthest = min(
            2.0,
            max(ratio * part.farthest + abs(ratio * part.mean - mean) for _, ratio, part in parts),
        )
        return TargetMoments(weight, scale, mean, min(1.0, float(np.sqrt(variance))), farthest)

    def standardization(self):
        """The mean and standard deviation that standardise these targets, a
        standard deviation of 1 for constant targets, as StandardScaler does.

        The standard deviation is at least the largest distance from the
        mean over ``_MAX_STANDARDIZED``: a sample of tiny weight far from
        the others would otherwise lie too many standard deviations away to
        train on in float32.
        """
        # A spread of a few units in the last place is real (1e6 + 1e-9 * signal,
        # or integers near 2**62): a scale of 1 there left the model's float32
        # noise a million times the targets' spread.
        if self.std == 0:
            return self.scale * self.mean, 1.0
        std = max(self.std, self.farthest / _MAX_STANDARDIZED) * self.scale
        return self.scale * self.mean, std if std > 0 else 1.0  # 0 when it underflows

    def depart_from(self, mean, std):
        """Whether the :meth:`standardization` of these targets is far from
        ``(mean, std)``: a standard deviation twice or half as large, or a
        mean more than ``std`` away."""
        if self.std == 0:
            return False
        own_mean, own_std = self.standardization()
        return not 0.5 <= own_std / std <= 2.0 or abs(own_mean / std - mean / std) > 1.0
