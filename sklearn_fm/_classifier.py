"""Factorization Machine classification."""

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import log_loss
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels

from ._base import BaseFM, Targets
from ._data import scaled_to_at_most_1
from ._parameters import n_outputs_of


# Training fits the scores in units of the standard deviation of the
# logistic distribution, the noise of the latent-variable view of logistic
# regression, as FMRegressor fits its target in units of its standard
# deviation: the penalties and the learning rate then mean about the same to
# both estimators.
_LOGISTIC_STD = float(np.pi / np.sqrt(3))


class FMClassifier(ClassifierMixin, BaseFM):
    """Factorization Machine classifier (Rendle, 2010), trained with Keras.

    Scores each class with a Factorization Machine, a bias, a linear term and
    all pairwise feature interactions whose weights are dot products of
    learned factor vectors::

        f(x) = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j

    Two classes use one FM output, the log-odds of ``classes_[1]``, and the
    logistic loss. More classes use one FM output per class and the softmax
    cross-entropy, as multinomial logistic regression does with linear
    outputs. Labels may be of any type (ints, strings, bools, categoricals).
    Training runs in TensorFlow with a minibatch optimizer, exactly as for
    :class:`FMRegressor`; prediction uses only NumPy and SciPy. Dense and
    sparse input are both supported, and sparse input is never densified.
    The defaults are those of :class:`FMRegressor`, and adapt to the data in
    the same ways.

    Parameters
    ----------
    n_factors : int, default=32
        Dimension of the factor vector of each feature (of each feature and
        class with more than two classes).

    alpha_linear : float, default=1.0
        L2 penalty on the linear weights ``coef_``, divided by the number of
        samples (``n_samples_seen_``), as in :class:`FMRegressor`: a prior
        worth ``alpha_linear`` samples. In the units of the scores (see
        Notes) it weighs like ``LogisticRegression(C=3.29 / alpha_linear)``.

    alpha_factors : float or 'auto', default='auto'
        L2 penalty on the factors ``factors_``, applied per sample to the
        factors of its non-zero features, as in :class:`FMRegressor`.
        It caps how steep the scores may grow; tune this and
        ``alpha_uniform`` first. 'auto' sets the penalty of each epoch as in
        :class:`FMRegressor`, at least 0.03: the interaction noise level of
        the training rows times the root mean square of the gradient of the
        log-loss with respect to the scores in the epoch before. On a few
        hundred noisy rows of many columns it keeps to the logistic
        regression model; on many rows of one-hot ids it is 0.03. Noise-free
        classes separate somewhat better with a fixed 0.03, since the
        gradient stays large until the scores are steep. The value of the
        last epoch is ``alpha_factors_``.

    alpha_uniform : float, default=8.0
        L2 penalty on all factors alike, divided by the number of samples
        (``n_samples_seen_``), as in :class:`FMRegressor`: a prior worth
        ``alpha_uniform`` samples on every factor.

    solver : str or dict, default='adam'
        The Keras optimizer that updates the layer's variables, by name or
        as a ``{"class_name": ..., "config": {...}}`` dict, as in
        :class:`FMRegressor`. FTRL-Proximal with L1
        (``{"class_name": "Ftrl", "config": {"l1_regularization_strength":
        0.1}}``), the usual choice for click data, gives sparse models.

    learning_rate : {'constant', 'invscaling'}, default='invscaling'
        The schedule of the learning rate over the epochs: 'invscaling' uses
        ``learning_rate_init / (t + 1) ** power_t`` in epoch ``t``, counting
        an epoch of fewer than 128 batches as its share of 128 and a call to
        ``partial_fit`` as the share of an epoch its samples are of
        ``n_samples_seen_``, as in :class:`FMRegressor`.

    learning_rate_init : float or 'auto', default='auto'
        The optimizer's learning rate in the first epoch. 'auto' takes 0.015,
        or ``0.015 * sqrt(8 / s)`` on rows of mean squared norm ``s`` above 8,
        as in :class:`FMRegressor` (the mean weighted by ``sample_weight`` and
        ``class_weight``); the rate used is ``learning_rate_init_``. It
        suits Adam and the optimizers that scale their steps like it; SGD,
        Adagrad and FTRL need rates of their own on sparse columns (see the
        user guide).

    power_t : float, default=1.0
        The exponent of the 'invscaling' schedule.

    batch_size : int or 'auto', default='auto'
        Number of samples per minibatch (fewer in an epoch's last batch).
        'auto' takes the power of 2 nearest to ``n_samples / 200`` on a log
        scale (``n_samples_seen_``), from 16 to 4096, as in
        :class:`FMRegressor`. The size used is ``batch_size_``.

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
        stratified by class, stop when the log-loss on it stops improving, and
        keep the parameters of the best epoch. 'auto' does so in ``fit`` when
        the training data have more than 2,000 samples and every class enough
        of them for a stratified validation set (and weight in it), and never
        in ``partial_fit``. Whether it ran is ``early_stopping_``.

    validation_fraction : float, default=0.1
        Fraction of the training data set aside for early stopping. Only used
        when early stopping runs (``early_stopping_``).

    n_iter_no_change : int, default=5
        Number of epochs without improvement by ``tol`` tolerated before
        training stops.

    init_std : float or 'auto', default='auto'
        Standard deviation of the normal distribution the factors are drawn
        from. 'auto' takes 0.1, or ``0.1 * sqrt(2 / s)`` on rows of mean
        squared norm ``s`` above 2, as in :class:`FMRegressor`; the spread
        used is ``init_std_``. The linear weights start at zero and the
        intercepts at the log-odds of the (weighted) class frequencies, or at
        equal odds when the first data lack a class (a ``partial_fit`` stream
        sorted by class). Must be positive: factors that start at 0 stay
        there (a saddle point of the FM), which would train a linear model.

    categorical_features : {"from_dtype"} or None, default="from_dtype"
        With ``"from_dtype"``, the ``category`` columns of a pandas DataFrame
        ``X`` (and the columns of other frames that :class:`FMRegressor`
        names) are one-hot encoded inside the estimator, as in
        :class:`FMRegressor`; None treats every column as numeric.

    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, ``{label: weight}``, multiplying the sample
        weights; classes not in the dict weigh 1. 'balanced' uses
        ``n_samples / (n_classes * np.bincount(y))``; ``partial_fit``, which
        sees only part of the data, needs a dict instead.

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
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; the columns of ``predict_proba`` follow them.

    intercept_ : float or ndarray of shape (n_classes,)
        The bias of the single output (two classes) or of each class.

    coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        The linear weights, of each class first with more than two classes,
        as in scikit-learn's linear models.

    factors_ : ndarray of shape (n_features, n_factors) or \
            (n_classes, n_features, n_factors)
        The factor vectors. With two classes the interaction weight of
        features ``i`` and ``j`` is ``factors_[i] @ factors_[j]``; with more,
        ``factors_[c, i] @ factors_[c, j]`` for class ``c``.

    n_iter_ : int
        Number of epochs trained, over all calls to ``fit`` with
        ``warm_start`` and to ``partial_fit``; an epoch that diverged counts
        (its parameters are not kept).

    n_samples_seen_ : int
        The size of the data set that ``alpha_linear``, ``alpha_uniform``,
        the 'auto' batch size and the 'invscaling' schedule refer to: the
        samples ``fit`` trained on, or all those given to ``partial_fit``, as
        in :class:`FMRegressor`.

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

    learning_rate_init_, init_std_ : float
        The learning rate of the schedule's first epoch and the spread the
        factors were drawn with: the parameters, or what 'auto' chose.

    loss_curve_ : list of float
        The mean training objective (log-loss plus penalty) of each epoch;
        for ``partial_fit``, with the call's weights relative to those the
        model was first trained on. NaN for an epoch that diverged.

    penalty_scales_ : list of float
        The factor the penalties were multiplied by in each epoch: always 1,
        as the log-loss has no noise level to estimate (FMRegressor's
        factors vary).

    best_loss_ : float or None
        The lowest finite value of ``loss_curve_`` in the last ``fit`` (for
        ``partial_fit``, since its first call; inf if there is none); None
        with ``early_stopping``.

    validation_scores_ : list of float or None
        The negative log-loss on the validation set after each epoch (NaN
        for one that diverged); None without ``early_stopping``.

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
    FMRegressor : Factorization Machine regression.
    sklearn.linear_model.LogisticRegression : Linear logistic regression.
    sklearn.linear_model.SGDClassifier : Linear models fitted by SGD.

    Notes
    -----
    Factors are not shared between classes. Shared factors would give every
    class the same interaction weight ``<v_i, v_j>`` for a pair of features,
    so a pair that raises one class's score would raise every other class's
    just as much, and softmax would cancel it. Separate factors let each
    class have interactions of its own, at ``n_classes`` times the
    parameters and the cost per sample.

    Training fits the scores in units of ``c = pi / sqrt(3)``, the standard
    deviation of the logistic distribution, much as :class:`FMRegressor`
    fits its target in units of its standard deviation, so that the
    learning rate and the penalties mean about the same to both estimators:
    it fits an FM ``g`` and reports the scores ``f = c * g``
    (``intercept_ = c * g0``, ``coef_ = c * w``, ``factors_ = sqrt(c) * V``).
    The objective, in the parameters ``(g0, w, V)`` of ``g``, is
    ``sum_i s_i [L(y_i, c * g(x_i)) + p(x_i)] / n + (alpha_linear ||w||**2
    + alpha_uniform ||V||**2) / (2 n)``, with ``L`` the logistic loss or
    softmax cross-entropy, the sample weights ``s`` (times the class weights)
    scaled to mean 1, and ``p(x_i) = alpha_factors / 2 sum_{j: x_ij != 0}
    ||v_j||**2`` summed over the outputs.

    References
    ----------
    Steffen Rendle. "Factorization Machines." IEEE International Conference
    on Data Mining (ICDM), 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_fm import FMClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = np.where(X[:, 0] * X[:, 1] > 0, "same sign", "opposite")
    >>> clf = FMClassifier(n_factors=4, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['opposite', 'same sign'], dtype='<U9')
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _loss = "log_loss"

    _parameter_constraints: dict = {
        **BaseFM._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

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
        class_weight=None,
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
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse input is used without densifying.

        y : array-like of shape (n_samples,)
            Class labels of any type.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        self : FMClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on the given data, continuing from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Class labels.

        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, and if given later,
            equal to ``classes_``.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, relative to the mean weight (with
            ``class_weight``) of the samples the model was first trained on
            (by the first call, or by ``fit``), so that weights and a
            ``class_weight`` dict keep their meaning across calls, also in
            calls of one class, as in SGDClassifier.

        Returns
        -------
        self : FMClassifier
            The updated estimator.
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, which "
                "sees only part of the data. Pass the class weights as a dict."
            )
        if classes is None and not hasattr(self, "coef_"):
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def decision_function(self, X):
        """The raw FM outputs: log-odds of ``classes_[1]`` for two classes,
        otherwise one score per class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The scores.
        """
        return self._decision_function(X)

    def predict_log_proba(self, X):
        """Log-probability of each class, columns in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            The log-probabilities.
        """
        scores = self._decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)

    def predict_proba(self, X):
        """Probability of each class, columns in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The probabilities; each row sums to 1.
        """
        return _proba(self._decision_function(X))

    def predict(self, X):
        """The most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        model = self._fitted_copy()  # classes_ of the model that scores
        scores = model._scores(X)
        indices = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return model.classes_[indices]

    def _training_targets(self, y, sample_weight, weight_scale, first_call, incremental, classes):
        check_classification_targets(y)
        known = self._known_classes(y, first_call, incremental, classes)
        encoded = np.searchsorted(known, y)
        class_weight_scale = 1.0
        if self.class_weight is not None:
            # Scaled like the sample weights, so that their products stay finite.
            scaled = scaled_to_at_most_1(self._class_weights(known, y))
            class_weight_scale = scaled.scale
            sample_weight = sample_weight * scaled.weights[encoded]
        return Targets(
            encoded.astype(np.float64),
            sample_weight,
            n_outputs_of(known.shape[0]),
            shift=0.0,
            scale=_LOGISTIC_STD,
            score_scale=_LOGISTIC_STD,
            fitted={"classes_": known},
            class_weight_scale=class_weight_scale,
        )

    def _known_classes(self, y, first_call, incremental, classes):
        """The sorted classes the model knows after this call, once ``y``
        and ``classes`` agree with them."""
        if classes is not None:  # refused as scikit-learn refuses such labels
            classes = unique_labels(classes)
        if first_call:
            # Set on self by _fit only once training has succeeded.
            known = np.unique(y) if classes is None else classes
        else:
            known = self.classes_
            if classes is not None and not np.array_equal(classes, known):
                raise ValueError(
                    f"classes={classes.tolist()} differs from the classes "
                    f"{known.tolist()} the model was first trained with."
                )
        # Labels first: classes of fewer than 2 labels that y goes beyond
        # were reported as data of one class, or ([]) raised an IndexError.
        unknown = np.setdiff1d(y, known)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in "
                f"{'classes' if first_call else 'classes_'} {known.tolist()}."
            )
        if known.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but the data "
                f"contains only one class: {known.tolist()[0]!r}."
            )
        if not (first_call or incremental) and np.unique(y).shape != known.shape:
            # As MLPClassifier: the absent classes would silently keep their
            # old scores.
            raise ValueError(
                "warm_start can only be used where y has the same classes as in "
                f"the previous call to fit: previously {known.tolist()}, y has "
                f"{np.unique(y).tolist()}."
            )
        return known

    def _class_weights(self, known, y):
        """The weight of each of the ``known`` classes by ``class_weight``."""
        if isinstance(self.class_weight, dict):
            values = np.asarray(list(self.class_weight.values()), dtype=np.float64)
            if not (np.isfinite(values).all() and (values >= 0).all()):
                raise ValueError(
                    "class_weight must map classes to finite, non-negative weights; "
                    f"got {self.class_weight!r}."
                )
        # A dict weighs every class, as SGDClassifier: a partial_fit chunk may
        # lack some (scikit-learn refuses a dict of classes not given).
        # 'balanced' reaches here from fit only, where y has every class.
        return compute_class_weight(self.class_weight, classes=known, y=y)

    def _initial_intercept(self, y, sample_weight, n_outputs):
        n_classes = max(2, n_outputs)
        prior = np.bincount(y.astype(int), weights=sample_weight, minlength=n_classes)
        if not (np.bincount(y.astype(int), minlength=n_classes) > 0).all():
            # A class missing from the data (the first chunk of a stream sorted
            # by class, given to partial_fit with `classes`) has no frequency to
            # estimate: start from equal probabilities, as a log-prior near
            # log(0) takes the optimizer many steps to leave. A class whose
            # samples all weigh 0 is in the data: it starts at the least prior.
            return 0.0 if n_classes == 2 else np.zeros(n_classes)
        prior = np.clip(prior / prior.sum(), 1e-3, None)
        log_prior = np.log(prior) / _LOGISTIC_STD  # in training units
        if n_classes == 2:
            return float(log_prior[1] - log_prior[0])
        return log_prior - log_prior.mean()

    def _constant_loss(self, y, sample_weight, n_outputs):
        # The entropy of the classes' frequencies, the log-loss of predicting them.
        frequency = np.bincount(y.astype(int), weights=sample_weight, minlength=n_outputs)
        frequency = frequency[frequency > 0] / frequency.sum()
        return float(-np.sum(frequency * np.log(frequency)))

    def _validation_score(self, y, scores, sample_weight):
        labels = np.arange(2 if scores.ndim == 1 else scores.shape[1])
        return -log_loss(y, _proba(scores), sample_weight=sample_weight, labels=labels)


def _proba(scores):
    if scores.ndim == 1:
        positive = expit(scores)
        return np.column_stack([1 - positive, positive])
    return softmax(scores, axis=1)
