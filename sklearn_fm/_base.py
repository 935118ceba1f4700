"""What every FM estimator shares: parameters, input validation, the training loop."""

import copy
import threading
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_scalar
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._categorical import CategoricalEncoding, check_numeric_columns
from ._data import (
    LARGEST_TRAINABLE_VALUE,
    check_sparse_structure,
    check_trainable_range,
    index_dtype,
    largest_magnitude,
    non_finite_error,
    scaled_to_at_most_1,
    training_matrix,
    without_spare_capacity,
)
from ._parameters import (
    check_factors_budget,
    estimator_form,
    ffm_decision,
    fm_decision,
    rescale_fm,
    strongest_interactions,
)
from ._model_file import write
from ._noise_level import interaction_noise_level
from ._random import local_random_state
from ._solvers import SOLVER_NAMES, OptimizerState, SolverSpec

# The ids of the estimators training now, to refuse a second fit of one (see _fit).
_TRAINING = set()
_TRAINING_LOCK = threading.Lock()

# early_stopping="auto" holds out a validation set above this many samples.
_AUTO_EARLY_STOPPING_SAMPLES = 2_000

# An epoch of fewer batches than this counts as its share of this many, for
# the 'invscaling' schedule and for the improvement tol asks of an epoch. On
# small data (a few batches of 16 per epoch) a rate divided by every epoch
# left the optimizer too few steps to reach even a linear model (R² 0.78
# against Ridge's 0.998 on 100 rows of make_regression), and a whole tol
# asked of a few steps stopped training while the factors still fit noise
# (0.966 against 0.989 on 500 rows of 50 columns). 'auto' batches give at
# least 141 per epoch above about 2,300 samples.
_FULL_EPOCH_BATCHES = 128


def _check_representable_products(factors, init_std):
    """Refuse starting factors whose pairwise products overflow float32, the
    precision training runs in: such a start diverges in its first epoch and
    leaves a model that no input can be predicted with."""
    largest = largest_magnitude(factors)
    if largest >= LARGEST_TRAINABLE_VALUE:
        raise ValueError(
            f"init_std={init_std!r} draws initial factors up to {largest:.3g}, whose "
            "products overflow the float32 precision training runs in. init_std is "
            "the spread of the initial factors in units of the standardised target; "
            "values around 0.01 to 1 suit most data."
        )


# learning_rate_init='auto' and init_std='auto' (see _auto_step_sizes): the
# rate and spread on rows of up to _RATE_ROW_NORM and _SPREAD_ROW_NORM
# squared norm (one-hot ids with a few side features; a user and an item).
_AUTO_LEARNING_RATE = 0.015
_AUTO_INIT_STD = 0.1
_RATE_ROW_NORM = 8.0
_SPREAD_ROW_NORM = 2.0


class StepSizes(NamedTuple):
    """The learning rate of the first epoch and the spread of the initial
    factors a fit trains with (``learning_rate_init_``, ``init_std_``)."""

    learning_rate_init: float
    init_std: float


def _auto_step_sizes(squared_norm):
    """The :class:`StepSizes` of ``learning_rate_init='auto'`` and
    ``init_std='auto'`` for rows of mean squared norm ``squared_norm``.

    Adam moves every parameter by about the learning rate in a step, which
    moves a row's linear term by about the rate times its norm; and the
    initial pairwise term of a row has a spread of about ``init_std**2``
    times its squared norm. Dense rows of hundreds of standardised columns
    trained at the rate and spread that suit one-hot ids started from
    pairwise terms eight times the target's spread and oscillated (R² 0.90
    against Ridge's 0.9998 on 400 rows of 200 columns). So denser rows
    start smaller and step more finely, keeping both as they are on rows of
    the reference norms.
    """
    rate, spread = _AUTO_LEARNING_RATE, _AUTO_INIT_STD
    if squared_norm > _RATE_ROW_NORM:
        rate *= float(np.sqrt(_RATE_ROW_NORM / squared_norm))
    if squared_norm > _SPREAD_ROW_NORM:
        spread *= float(np.sqrt(_SPREAD_ROW_NORM / squared_norm))
    return StepSizes(rate, spread)


# The non-zeros _mean_squared_norm weighs at once: 8 MiB of float64 weights.
_NNZ_PER_BLOCK = 1 << 20


def _mean_squared_norm(X, sample_weight):
    """The mean squared norm of the rows of the CSR matrix ``X`` weighted by
    ``sample_weight``, so that a row of weight 0 counts as no row and a
    weight of 2 as the row twice; summed in float64 (squares of float32
    values above 1.8e19 overflow float32)."""
    if sample_weight.min() == sample_weight.max():
        return float(np.einsum("i,i->", X.data, X.data, dtype=np.float64)) / X.shape[0]
    total, start = 0.0, 0
    while start < X.shape[0]:  # blocks of rows, for a copy of the weights per non-zero
        end = np.searchsorted(X.indptr, X.indptr[start] + _NNZ_PER_BLOCK, side="right") - 1
        stop = min(max(int(end), start + 1), X.shape[0])
        data = X.data[X.indptr[start] : X.indptr[stop]]
        weights = np.repeat(sample_weight[start:stop], np.diff(X.indptr[start : stop + 1]))
        total += float(np.einsum("i,i,i->", weights, data, data, dtype=np.float64))
        start = stop
    return total / float(np.sum(sample_weight, dtype=np.float64))


# alpha_factors='auto' is at least this: on rating and click data of many
# rows the noise level is far below it, and tuning on them found it.
_AUTO_ALPHA_FACTORS_FLOOR = 0.03


class _FactorPenalty(NamedTuple):
    """The factor penalty of each epoch: at least ``floor``, raised to the
    interaction ``noise_level`` of the training rows times the residual
    scale of the epoch before.

    ``alpha_factors="auto"`` has the floor ``_AUTO_ALPHA_FACTORS_FLOOR``
    and the noise level of the rows (see
    :func:`~sklearn_fm._noise_level.interaction_noise_level`, a target of
    unit scale): the factors learn only interactions stronger than those
    residuals of the same scale would show by chance. The residuals shrink
    as the model learns, so strong interactions are not held back by the
    penalty that kept noise out. A number is ``floor`` with no noise level.
    """

    floor: float
    noise_level: float = 0.0

    def of_epoch(self, residual_scale):
        """The penalty of an epoch after one of ``residual_scale``."""
        return max(self.floor, self.noise_level * residual_scale)


def _auto_batch_size(n_samples):
    """The batch size of ``batch_size="auto"`` for ``n_samples`` training rows:
    2 to the power nearest to ``log2(n_samples / 200)``, from 16 to 4096.

    About 200 steps per epoch, fewer below 3,200 samples and more above
    800,000. Powers of 2 keep the number of distinct batch shapes, each of
    which compiles the training step once per process, small.
    """
    exponent = np.round(np.log2(max(n_samples, 1) / 200))
    return int(np.clip(2**exponent, 16, 4096))


class _EpochMeasure(NamedTuple):
    """How much an epoch of a fit counts: how far it advances the
    learning-rate schedule (in epochs over the data set it refers to), and
    the improvement of the loss or validation score that ``tol`` asks of it
    (None: no stopping)."""

    schedule_share: float
    tol: float


def _epoch_measure(n_train, n_data, batch_size, tol):
    """The :class:`_EpochMeasure` of an epoch over ``n_train`` rows, for a
    data set of ``n_data`` rows in batches of ``batch_size``: an epoch of
    that data set of fewer than ``_FULL_EPOCH_BATCHES`` batches counts as
    its share of them."""
    n_batches = -(-n_data // batch_size)
    share = min(1.0, n_batches / _FULL_EPOCH_BATCHES)
    return _EpochMeasure(n_train / n_data * share, None if tol is None else tol * share)


def _weight_unit(training_weights, scales, state, incremental):
    """What the ``training_weights`` (the weights given, sample weight times
    class weight, divided by each of ``scales``) are divided by in training,
    kept in ``state`` in the units of the weights given.

    Their mean, so that the scale of the weights changes nothing, in ``fit``
    and in the first call to ``partial_fit``. Later calls divide by that
    mean, so that weights keep their meaning across calls: a call of small
    weights has small gradients, as in SGDRegressor, and a call of one class
    weighs as its ``class_weight`` says.
    """
    kept = state["_sample_weight_unit"] if incremental else None
    if kept is None:
        unit = float(training_weights.mean())
        kept = unit
        for scale in scales:  # one at a time: their product may overflow
            kept *= scale
        # Beyond float64 (sample weights near its limits times extreme class
        # weights), later calls take their own mean, as after a version-6 file.
        state["_sample_weight_unit"] = kept if 0 < kept < np.inf else None
        return unit
    unit = kept
    for scale in scales:
        unit /= scale
    check_trainable_range(
        training_weights / unit,
        "sample_weight of this partial_fit call (with class_weight), in times the "
        "mean weight of the samples the model was first trained on,",
        advice="Weigh the samples of all calls on one scale.",
    )
    return unit


# How the uses of a fitted model that need its parameters to describe it end
# the message when set_params has changed one since (see
# _check_parameters_fit_the_model).
_TO_CONTINUE = (
    "warm_start and partial_fit continue training the same model. Set it back, or "
    "call fit to start over."
)
_TO_SAVE = (
    "save writes the model with its parameters, which must be those it was "
    "trained with. Set it back, or fit again, before saving."
)


# How many times the best constant model's training loss a model's may be
# before fit warns that it predicts worse than a constant.
_WORSE_THAN_CONSTANT = 10
# The fewest training rows whose loss that check judges.
_ROWS_TO_JUDGE = 10


# Whether a KeyboardInterrupt has cut off the import of the trainer (and of
# TensorFlow with it) in this process.
_IMPORT_INTERRUPTED = []


def _warn_of_unseen_categories(unseen_counts, input_names):
    """Warn that the training rows of a continued model hold values of
    categories it lacks, ``unseen_counts`` by column position (see
    ``_ValidatedData``); ``input_names`` names the columns."""
    if not unseen_counts:
        return
    counts = ", ".join(
        f"{count} in {input_names[position]!r}" for position, count in unseen_counts.items()
    )
    warnings.warn(
        f"X holds values of categories the model does not have ({counts}): they "
        "encode as no column, as in predict, so this call does not learn them. A "
        "model's categories are those of its first fit or partial_fit: declare a "
        "stream's categories in the dtype of its first partial_fit (such as "
        "pd.CategoricalDtype(categories=...)), or fit a new model (warm_start=False).",
        UserWarning,
    )


def _trainer_class():
    """The :class:`~sklearn_fm._trainer.Trainer` class, imported (with
    TensorFlow) by the first fit, not before."""
    try:
        from ._trainer import Trainer
    except KeyboardInterrupt:
        _IMPORT_INTERRUPTED.append(True)
        raise
    except Exception as error:
        if _IMPORT_INTERRUPTED:
            # Cut off at some points, TensorFlow's import cannot be repeated:
            # it fails on what the first attempt registered, in its own words.
            raise RuntimeError(
                "TensorFlow cannot be imported in this process: an earlier fit was "
                "interrupted (KeyboardInterrupt) while it imported TensorFlow, which "
                "cannot import again once cut off part way. Restart the Python "
                "process to train; fitted models still predict."
            ) from error
        if isinstance(error, ModuleNotFoundError) and error.name in ("tensorflow", "keras"):
            raise ImportError(
                f"Training needs TensorFlow and Keras 3, but {error.name} cannot be "
                f"imported ({error}). Install them with `pip install tensorflow "
                '"keras>=3.14"`; fitted models predict without them.'
            ) from error
        raise
    return Trainer


class _Input(NamedTuple):
    """Input validated by :func:`_validated_input`."""

    X: object  # ndarray or CSR matrix
    y: np.ndarray  # None unless given
    unseen_rows: dict  # see _categorical.Encoded; empty without categories


def _validated_input(estimator, X, encoding, *, reset, **y_and_options):
    """``X`` and ``y`` validated by scikit-learn's ``validate_data`` on
    ``estimator``, which records (``reset``) or checks the input contract,
    as an :class:`_Input`: X as an array or a CSR matrix holding only its
    entries, with its categorical columns one-hot encoded by ``encoding``
    (None: none), and y (None unless ``y_and_options`` gives it, with
    ``y_numeric``). The one path of X into a model."""
    check_sparse_structure(X)
    named = hasattr(X, "columns") or hasattr(X, "column_names")  # a data frame's
    if not reset and named and getattr(estimator, "feature_names_in_", None) is not None:
        # Names first: a column in another's place would be refused for its kind.
        validate_data(estimator, X, reset=False, skip_check_array=True, ensure_2d=False)
    check_numeric_columns(X, None if encoding is None else encoding.is_categorical)
    if encoding is not None:
        X = encoding.frame(X)
    checked = validate_data(
        estimator,
        X if encoding is None else encoding.numeric_view(X),
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        reset=reset,
        **y_and_options,
    )
    X_checked, y = checked if "y" in y_and_options else (checked, None)
    if encoding is None:
        return _Input(without_spare_capacity(X_checked), y, {})
    encoded = encoding.encode(X, X_checked)
    return _Input(encoded.X, y, encoded.unseen_rows)


class _ValidatedData(NamedTuple):
    """The training data as validated, and the input contract the model will hold."""

    X: object  # ndarray or sparse matrix (n_samples, n_model_features)
    y: np.ndarray
    sample_weight: np.ndarray  # scaled to at most 1
    weight_scale: float  # what the weights given were divided by
    contract: dict  # n_features_in_, feature_names_in_, is_categorical_, categories_
    input_columns: np.ndarray  # the input column of each column of X; None: its own
    # By column position, the number of rows of non-zero weight that hold a
    # value of a category the model lacks, where there are any.
    unseen_counts: dict


class _TrainingData(NamedTuple):
    """Which of a fit's rows train, which of them early stopping scores
    (None without it), and the mean loss of the best constant model on the
    training rows, in training units."""

    train: object  # the training rows' positions: indices, or a slice of all
    n_train: int
    validation: tuple  # the validation rows' (positions, y, sample_weight), or None
    constant_loss: float


class _Fitted(NamedTuple):
    """What training ends with: the parameters to keep (in training units),
    or None if no epoch of this call gave parameters worth keeping, and
    whether it stopped because an epoch diverged."""

    params: tuple
    diverged: bool


class _EpochRecord(NamedTuple):
    """What an epoch means for the stopping rule and the parameters kept."""

    improved: bool  # by more than tol, on the score the stopping rule reads
    best: bool  # the best validation score yet: its parameters are kept
    penalty_scale: float  # for the next epoch (see _validation)


class _NoValidationSplit(ValueError):
    """Early stopping cannot hold out a validation set from this data."""


def _training_data(targets, train, validation, constant_loss):
    """The :class:`_TrainingData` of ``targets``, whose rows ``train``
    train and ``validation`` (None or indices) validate; ``constant_loss``
    maps training targets and weights to the best constant model's loss."""
    weight_train = targets.sample_weight[train]
    if not weight_train.sum() > 0:
        # scikit-learn >= 1.9 rejects all-zero weights itself; this also
        # covers older versions and a validation split that took them all.
        raise (ValueError if validation is None else _NoValidationSplit)(
            "Sample weights must contain at least one non-zero number among "
            "the training samples (those not held out for early stopping)."
        )
    loss = constant_loss(targets.y[train], weight_train, targets.n_outputs)
    if validation is None:
        return _TrainingData(train, weight_train.shape[0], None, loss)
    if not targets.sample_weight[validation].sum() > 0:
        # As SGDRegressor does: the validation score would be undefined.
        raise _NoValidationSplit(
            f"early_stopping holds out {validation.shape[0]} samples for validation, "
            "but all of them have sample_weight 0, so they cannot score the model. "
            "Set another random_state or validation_fraction, or early_stopping=False."
        )
    return _TrainingData(
        train,
        weight_train.shape[0],
        (validation, targets.y[validation], targets.sample_weight[validation]),
        loss,
    )


class Targets(NamedTuple):
    """The training targets ``_training_targets`` hands the training loop.

    Training fits an FM ``g`` to ``y``, whose loss reads the scores
    ``score_scale * g``; the fitted model, in the user's units, is
    ``shift + scale * g``. Training in these units makes the learning rate,
    the penalties and the initial factors mean the same whatever the units
    of the target.
    """

    y: np.ndarray
    sample_weight: np.ndarray
    n_outputs: int
    shift: float
    scale: float
    score_scale: float
    fitted: dict  # attributes such as classes_, set once training succeeds
    # What sample_weight was divided by beyond the weights given (the largest
    # class weight), so that their unit is kept in the units given.
    class_weight_scale: float = 1.0
    # A continued model whose targets are standardised anew: its optimizer's
    # state, in the units it trained in, starts over, and its intercept
    # moves by the mean residual of these targets times their share of the
    # weight of the targets it has seen (see _start_state).
    new_units: bool = False
    seen_share: float = 1.0


class BaseFM(BaseEstimator, metaclass=ABCMeta):
    """Base class of the Factorization Machine estimators.

    Subclasses name their loss in ``_loss`` and provide the initial intercept
    and the validation score used by early stopping; everything else, the
    training loop included, lives here once.
    """

    _parameter_constraints: dict = {
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "alpha_linear": [Interval(Real, 0, None, closed="left")],
        "alpha_factors": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "alpha_uniform": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions(set(SOLVER_NAMES)), dict],
        "learning_rate": [StrOptions({"constant", "invscaling"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "init_std": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "categorical_features": [StrOptions({"from_dtype"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def __init__(
        self,
        *,
        n_factors,
        alpha_linear,
        alpha_factors,
        alpha_uniform,
        solver,
        learning_rate,
        learning_rate_init,
        power_t,
        batch_size,
        max_iter,
        tol,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        init_std,
        categorical_features,
        warm_start,
        random_state,
        verbose,
    ):
        self.n_factors = n_factors
        self.alpha_linear = alpha_linear
        self.alpha_factors = alpha_factors
        self.alpha_uniform = alpha_uniform
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.init_std = init_std
        self.categorical_features = categorical_features
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @abstractmethod
    def _initial_intercept(self, y, sample_weight, n_outputs):
        """The intercept training starts from."""

    @abstractmethod
    def _constant_loss(self, y, sample_weight, n_outputs):
        """The mean loss (weighted) of the best constant model on the training
        targets ``y``, in the units training reports its losses in."""

    @abstractmethod
    def _validation_score(self, y, scores, sample_weight):
        """Score (higher is better) on validation data of the scores the loss
        reads (see :class:`Targets`)."""

    def _penalty_scale(self, y, scores, sample_weight):
        """The factor of the penalties in the next epoch, from the scores on
        validation data; 1, unless the loss has a noise level to estimate."""
        return 1.0

    @abstractmethod
    def _training_targets(self, y, sample_weight, weight_scale, first_call, incremental, classes):
        """The validated ``y`` as float training targets, with the sample
        weights (``sample_weight``, the weights given divided by
        ``weight_scale``) and scaling training uses, as a :class:`Targets`."""

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        # Training changes no attribute until it has succeeded (see _train),
        # so an interrupted or failed fit leaves the estimator exactly as it
        # was. Two fits of one estimator at once would each replace the
        # other's model: the second is refused.
        with _TRAINING_LOCK:
            if id(self) in _TRAINING:
                raise RuntimeError(
                    f"This {type(self).__name__} is already training in another thread. "
                    "Fitting one estimator from two threads at once would mix their "
                    "models; fit a clone per thread (sklearn.base.clone)."
                )
            _TRAINING.add(id(self))
        try:
            return self._train(X, y, sample_weight, incremental, classes)
        finally:
            with _TRAINING_LOCK:
                _TRAINING.discard(id(self))

    def _train(self, X, y, sample_weight, incremental, classes):
        if incremental and self.early_stopping is True:
            raise ValueError(
                "partial_fit does not support early_stopping=True: it trains one "
                "epoch per call, so there is nothing to stop. Use fit instead."
            )
        if incremental and hasattr(self, "coef_"):
            # scikit-learn's _fit_context validates the parameters of partial_fit
            # only before the first call; set_params may have changed them since.
            self._validate_params()
        first_call = not hasattr(self, "coef_") or not (incremental or self.warm_start)
        solver = SolverSpec.of(self.solver)
        X, y, sample_weight, weight_scale, contract, input_columns, unseen_counts = (
            self._validate_training_data(X, y, sample_weight, first_call, incremental)
        )
        targets = self._training_targets(
            y, sample_weight, weight_scale, first_call, incremental, classes
        )
        fields = self._training_fields(contract["n_features_in_"], input_columns, targets.n_outputs)
        if not first_call:
            self._check_parameters_fit_the_model(
                fields, self._optimizer_state if incremental else None, _TO_CONTINUE
            )
        rng = local_random_state(self.random_state)
        X = training_matrix(X)
        data = self._training_and_validation(targets, rng, incremental)
        if unseen_counts:  # only a continued model lacks categories of X
            _warn_of_unseen_categories(unseen_counts, _check_feature_names_in(self, None))
        step_sizes = self._step_sizes(X, targets.sample_weight, first_call)
        params, state = self._start_state(
            first_call, incremental, X, data, targets, rng, fields, step_sizes.init_std
        )
        state.update(
            targets.fitted,
            **contract,
            learning_rate_init_=step_sizes.learning_rate_init,
            init_std_=step_sizes.init_std,
        )
        # The data set the prior and the schedule refer to: fit's training
        # rows, or for partial_fit every row seen since its first call, each
        # chunk taken as new data, so that chunk sizes do not change them.
        n_data = data.n_train + ((state["n_samples_seen_"] or 0) if incremental else 0)
        state["n_samples_seen_"] = n_data
        weight_unit = _weight_unit(
            targets.sample_weight[data.train],
            (weight_scale, targets.class_weight_scale),
            state,
            incremental,
        )
        if fields is not None:
            state.update(fields_=fields, n_fields_=int(fields.max()) + 1)
        batch_size = (
            _auto_batch_size(n_data) if self.batch_size == "auto" else self.batch_size
        )
        state.update(
            batch_size_=min(batch_size, data.n_train),
            early_stopping_=data.validation is not None,
        )
        factor_penalty = self._factor_penalty(X, targets, data, n_data)
        # A continued model's parameters are its solver's, even where its state
        # starts over (new units, warm start): a stream's always (partial_fit
        # refuses another solver), a warm start's if the same solver spec left
        # its state (getattr: models unpickled from versions without one).
        trained_by = getattr(getattr(self, "_optimizer_state", None), "solver", None)
        trainer = self._trainer(
            X, params, state, targets, data, solver, fields, n_data, weight_unit, factor_penalty,
            start_trained=not first_call and (incremental or trained_by == solver),
        )
        # The trainer has copied the rows to the device: the host's copies
        # (X made canonical, the targets) need not live through the epochs.
        del X, y, sample_weight
        targets = targets._replace(y=None, sample_weight=None)
        if not first_call:
            # Nor the starting parameters of a continued fit, a copy of the
            # model's: if no epoch is kept, the model stays as it is (_keep).
            params = None
        measure = _epoch_measure(data.n_train, n_data, state["batch_size_"], self.tol)
        fitted = self._fit_stochastic(
            trainer, data, state, targets, rng, incremental, measure, factor_penalty
        )
        if not fitted.diverged:  # otherwise keep the state training started from
            state["_optimizer_state"] = OptimizerState(solver, trainer.optimizer_state())
        return self._keep(params, state, fitted, targets, first_call)

    def _factor_penalty(self, X, targets, data, n_data):
        """The :class:`_FactorPenalty` of ``alpha_factors`` for the training
        rows of ``data`` in the canonical matrix ``X``, in a data set of
        ``n_data`` rows."""
        if not isinstance(self.alpha_factors, str):
            return _FactorPenalty(float(self.alpha_factors))
        training_weights = np.zeros(X.shape[0])
        training_weights[data.train] = targets.sample_weight[data.train]
        # partial_fit's rows stand for all rows seen so far, and the noise
        # level of a mean over n rows falls as 1 / sqrt(n).
        share = data.n_train / n_data
        noise_level = interaction_noise_level(X, training_weights) * np.sqrt(share)
        return _FactorPenalty(_AUTO_ALPHA_FACTORS_FLOOR, noise_level)

    def _training_and_validation(self, targets, rng, incremental):
        """The :class:`_TrainingData` of ``targets``: with early stopping,
        which ``'auto'`` switches on in ``fit`` for more than 2,000 samples
        where the data allow a validation set, the rows it holds out."""

        def split(early_stopping, rng):
            rows = self._split(targets.y, rng, early_stopping)
            return _training_data(targets, *rows, self._constant_loss)

        if self.early_stopping != "auto":
            return split(self.early_stopping, rng)
        if targets.y.shape[0] > _AUTO_EARLY_STOPPING_SAMPLES and not incremental:
            # Tried on a copy: where 'auto' holds nothing out, the fit draws
            # what early_stopping=False draws, and trains the same model.
            trial = copy.deepcopy(rng)
            try:
                data = split(True, trial)
            except _NoValidationSplit:
                pass  # 'auto' holds out a validation set only where the data allow one
            else:
                rng.set_state(trial.get_state())
                return data
        return split(False, rng)

    def _trainer(
        self, X, params, state, targets, data, solver, fields, n_data, weight_unit, factor_penalty,
        start_trained,
    ):
        """The :class:`~sklearn_fm._trainer.Trainer` of this fit, from the
        parameters ``params`` on the canonical training matrix ``X``, whose
        training data set counts ``n_data`` rows and whose sample weights
        are divided by ``weight_unit``, with the factor penalty of the
        :class:`_FactorPenalty` ``factor_penalty`` in its first epoch;
        ``start_trained`` if the solver trained ``params``."""
        return _trainer_class()(
            *params,
            rows=(X, targets.y, targets.sample_weight),
            weight_unit=weight_unit,
            batch_size=state["batch_size_"],
            training_rows=None if data.validation is None else data.train,
            validation_rows=None if data.validation is None else data.validation[0],
            loss=self._loss,
            solver=solver,
            # Divided by n, like MLPRegressor's alpha: priors worth alpha_linear
            # and alpha_uniform rows, as Ridge's alpha is on the summed loss.
            alpha_linear=self.alpha_linear / n_data,
            alpha_factors=factor_penalty.of_epoch(state["_residual_scale"]),
            alpha_uniform=self.alpha_uniform / n_data,
            score_scale=targets.score_scale,
            optimizer_state=(
                None if state["_optimizer_state"] is None else state["_optimizer_state"].variables
            ),
            fields=fields,
            start_trained=start_trained,
        )

    def _keep(self, params, state, fitted, targets, first_call):
        """Assign the fitted model: the parameters training kept (in the
        units of ``targets``) or, if none, those it started from, and the
        fitted ``state``."""
        if fitted.params is None and not first_call:
            # No epoch gave parameters to keep: the model stays exactly as it
            # was, without a round trip through the training units.
            intercept_, coef_, factors_ = self.intercept_, self.coef_, self.factors_
        else:
            kept = params if fitted.params is None else fitted.params
            # The trained parameters are this fit's own arrays: rescaled in
            # place, without a copy of the factors (the starting ones may be
            # the model's, when it warm-starts).
            intercept_, coef_, factors_ = rescale_fm(
                *kept, targets.shift, targets.scale, in_place=fitted.params is not None
            )
        # Assigned only now and in one step, the input contract with the
        # parameters, so that neither an interrupted fit nor a predict in
        # another thread (see _fitted_copy) can see a half-updated model.
        attributes = {
            name: value for name, value in vars(self).items() if name != "feature_names_in_"
        }
        attributes.update(intercept_=intercept_, coef_=coef_, factors_=factors_, **state)
        self.__dict__ = attributes
        return self

    def _validate_training_data(self, X, y, sample_weight, first_call, incremental):
        """``X`` (its categorical columns encoded), ``y`` and the sample
        weights, validated; the weights scaled to at most 1, and the factor
        they were divided by (their sums then stay finite however large they
        are); and the input contract (``n_features_in_``,
        ``feature_names_in_`` if X has names, the categorical encoding) that
        the model will hold, as a :class:`_ValidatedData`.

        ``fit`` learns the categories its rows hold, as OneHotEncoder does;
        the first ``partial_fit`` those the dtypes declare, so that a stream
        can declare categories that later chunks bring, as ``classes``
        declares the classes.
        """
        encoding = (
            CategoricalEncoding.learn(X, self.categorical_features, declared=incremental)
            if first_call
            else self._categorical_encoding()
        )
        # The twin of the check of categorical_features=None in
        # _check_parameters_fit_the_model, which needs no data.
        if encoding is None and not first_call:
            if CategoricalEncoding.learn(X, self.categorical_features) is not None:
                raise ValueError(
                    "categorical_features='from_dtype', but the fitted model reads the "
                    "category columns of X as numbers (it was trained with "
                    "categorical_features=None, or on data without category columns); "
                    f"{_TO_CONTINUE}"
                )
        # validate_data records the contract on the estimator it checks:
        # a copy, as self keeps its own until training has succeeded.
        checked = copy.copy(self)
        X_checked, y, unseen_rows = _validated_input(
            checked, X, encoding, reset=first_call, y=y, y_numeric=not is_classifier(self)
        )
        # Without weights every row weighs 1: a read-only view of one number,
        # where the array of ones _check_sample_weight makes would take 8
        # bytes a row for the whole fit.
        sample_weight = (
            np.broadcast_to(1.0, X_checked.shape[0])
            if sample_weight is None
            else _check_sample_weight(
                sample_weight, X_checked, dtype=np.float64, ensure_non_negative=True
            )
        )
        # A scalar weight is broadcast unchecked; an array's NaN is caught above.
        if not np.isfinite(sample_weight).all():
            kind = "NaN" if np.isnan(sample_weight).any() else "infinity"
            raise ValueError(f"Input sample_weight contains {kind}.")
        contract = {
            name: vars(checked)[name]
            for name in ("n_features_in_", "feature_names_in_")
            if name in vars(checked)
        }
        if encoding is None:
            contract.update(is_categorical_=None, categories_=[])
            input_columns = None
        else:
            contract.update(
                is_categorical_=encoding.is_categorical, categories_=encoding.categories
            )
            input_columns = encoding.input_columns
            if X_checked.shape[1] == 0:  # as validate_data refuses X of 0 columns
                raise ValueError(
                    "X has no feature to train on: its category columns have no value "
                    "in the data of the first fit (each is missing) and it has no other "
                    "column."
                )
        scaled = scaled_to_at_most_1(sample_weight)
        weighted = sample_weight > 0
        unseen_counts = {
            position: count
            for position, rows in unseen_rows.items()
            if (count := int(np.count_nonzero(rows & weighted)))
        }
        return _ValidatedData(
            X_checked, y, scaled.weights, scaled.scale, contract, input_columns, unseen_counts
        )

    def _categorical_encoding(self):
        """The fitted :class:`CategoricalEncoding`, None without categorical input."""
        # getattr: models unpickled from versions without categorical input.
        if getattr(self, "is_categorical_", None) is None:
            return None
        return CategoricalEncoding(self.is_categorical_, self.categories_)

    def _fit_stochastic(
        self, trainer, data, state, targets, rng, incremental, measure, factor_penalty
    ):
        """Train epochs until the stopping rule, updating ``state``'s curves
        and bests; returns the parameters to keep, as a :class:`_Fitted`.
        Each epoch counts as the :class:`_EpochMeasure` ``measure`` says,
        and has the factor penalty the :class:`_FactorPenalty`
        ``factor_penalty`` gives it.

        Parameters stay on the device during training: the trainer keeps a
        copy of those of the best epoch (with validation) or of the last
        finite one (without), and they are read back once, at the end.
        """
        penalty_scale = 1.0
        no_improvement = 0
        kept = False  # whether the trainer keeps parameters of this call's epochs
        diverged = False
        data_loss = None  # the mean loss in the epoch of the parameters to keep
        for epoch in range(1 if incremental else self.max_iter):
            # Without validation, keep the parameters of the last finite epoch.
            keep_last = data.validation is None and epoch > 0
            kept |= keep_last
            # state's residual scale: the standardised target's (1) for a new
            # model, else the last epoch's, which partial_fit and warm starts continue.
            state["alpha_factors_"] = factor_penalty.of_epoch(state["_residual_scale"])
            result = trainer.run_epoch(
                rng,
                self._learning_rate_of_epoch(
                    state["learning_rate_init_"], state["_schedule_epochs"]
                ),
                penalty_scale,
                keep=keep_last,
                alpha_factors=state["alpha_factors_"],
            )
            if not result.finite:
                if not kept:
                    which = "training started from"
                elif data.validation is not None:
                    which = "of the best epoch"
                else:
                    which = "of the last finite epoch"
                warnings.warn(
                    f"Training diverged in epoch {state['n_iter_'] + 1} (the loss, the "
                    "parameters or the outputs on the validation data became infinite "
                    f"or NaN); the parameters {which} are kept. Lower "
                    f"learning_rate_init (now {self._rate_named(state['learning_rate_init_'])}) "
                    "or scale the features.",
                    ConvergenceWarning,
                )
                self._record_diverged_epoch(state, data, penalty_scale)
                diverged = True
                break
            state["_schedule_epochs"] += measure.schedule_share
            state["_residual_scale"] = result.residual_scale
            record = self._record_epoch(result, state, data, targets, penalty_scale, measure.tol)
            penalty_scale = record.penalty_scale
            if record.best:
                trainer.keep()
                kept = True
            if record.best or data.validation is None:
                data_loss = result.data_loss
            no_improvement = 0 if record.improved else no_improvement + 1
            if self.tol is not None and no_improvement > self.n_iter_no_change:
                if self.verbose:
                    what = "Training loss" if data.validation is None else "Validation score"
                    asked = f"tol={self.tol}"
                    if measure.tol != self.tol:
                        asked = (
                            f"{measure.tol:.3g} ({asked} scaled to epochs of fewer "
                            f"than {_FULL_EPOCH_BATCHES} batches)"
                        )
                    print(
                        f"{what} did not improve more than {asked} for "
                        f"{self.n_iter_no_change} consecutive epochs. Stopping."
                    )
                break
        else:
            if not incremental and self.tol is not None:
                warnings.warn(
                    f"Maximum iterations ({self.max_iter}) reached and the optimization "
                    "hasn't converged yet.",
                    ConvergenceWarning,
                )
        # Divergence has warned already; and a loss of a few rows, such as
        # partial_fit's one row a call, says little (a constant fits one row).
        if not diverged and data_loss is not None and data.n_train >= _ROWS_TO_JUDGE:
            self._check_better_than_constant(
                data_loss, data.constant_loss, state["learning_rate_init_"], targets.new_units
            )
        return self._fitted(trainer, data, state, kept, diverged)

    def _record_epoch(self, result, state, data, targets, penalty_scale, tol):
        """Count the epoch whose :class:`~sklearn_fm._trainer.EpochResult` is
        ``result``, trained with ``penalty_scale``: append it to the curves of
        ``state`` and update its bests; as an :class:`_EpochRecord`, which
        has improved if by more than ``tol`` (None: any)."""
        state["n_iter_"] += 1
        state["loss_curve_"].append(result.loss)
        state["penalty_scales_"].append(penalty_scale)
        if self.verbose:
            print(f"Iteration {state['n_iter_']}, loss = {result.loss:.8f}")
        if data.validation is None:
            improved = result.loss < state["best_loss_"] - (tol or 0.0)
            state["best_loss_"] = min(result.loss, state["best_loss_"])
            return _EpochRecord(improved, best=False, penalty_scale=penalty_scale)
        score, penalty_scale = self._validation(result.validation_outputs, data, targets)
        state["validation_scores_"].append(score)
        improved = score > state["best_validation_score_"] + (tol or 0.0)
        best = score > state["best_validation_score_"]
        if best:
            state["best_validation_score_"] = score
        return _EpochRecord(improved, best, penalty_scale)

    @staticmethod
    def _record_diverged_epoch(state, data, penalty_scale):
        """Count an epoch that diverged, as MLP does: it ran, so ``n_iter_``
        says so; its loss (and validation score) are NaN, and the bests
        stay those of the finite epochs."""
        state["n_iter_"] += 1
        state["loss_curve_"].append(np.nan)
        state["penalty_scales_"].append(penalty_scale)
        if data.validation is not None:
            state["validation_scores_"].append(np.nan)

    def _check_better_than_constant(self, data_loss, constant_loss, learning_rate_init, new_units):
        """Warn if the mean loss of the data in the epoch of the parameters
        kept, ``data_loss``, is far above ``constant_loss``, that of the best
        constant model: training from ``learning_rate_init`` oscillated
        (typically on features of a large scale), or a continued model whose
        targets set ``new_units`` started far from them, and the model
        predicts worse than a constant would."""
        # Measured against at least 0.5, about the constant's loss on a
        # balanced target (0.5 for the standardised target's squared error,
        # 0.69 for two classes): near zero when one value dominates, any model
        # is many times worse.
        if not data_loss > _WORSE_THAN_CONSTANT * max(constant_loss, 0.5):
            return
        oscillation_remedy = (
            "Scale the features (e.g. with StandardScaler) or lower learning_rate_init "
            f"(now {self._rate_named(learning_rate_init)})."
        )
        if new_units:
            # Its weights, in units 1,000 times smaller, were 1,000 times too
            # large for the steps of a lower rate too (R² -8e5).
            cause = (
                "It continued a model trained on targets of another scale, which "
                "may have started it far from a model of these: start a new model "
                "(fit with warm_start=False, or a new estimator's partial_fit). "
                f"If that is not the cause, training oscillated: {oscillation_remedy}"
            )
        else:
            cause = f"Training oscillated instead of converging. {oscillation_remedy}"
        warnings.warn(
            f"The model fits its training data far worse than a constant would: "
            f"its mean training loss (without penalties) was {data_loss:.4g}, "
            f"where the best constant prediction's is {constant_loss:.4g}. {cause}",
            ConvergenceWarning,
        )

    def _rate_named(self, learning_rate_init):
        """``learning_rate_init``, the rate of this fit, as warnings name it."""
        if self.learning_rate_init == "auto":
            return f"'auto', which chose {learning_rate_init:.3g}"
        return str(learning_rate_init)

    def _learning_rate_of_epoch(self, learning_rate_init, epochs):
        """The learning rate after ``epochs`` finished epochs (a fraction for
        ``partial_fit``'s) of a schedule from ``learning_rate_init``."""
        if self.learning_rate == "invscaling":
            try:
                return learning_rate_init / (epochs + 1) ** self.power_t
            except OverflowError:  # a power_t of thousands: nothing is left of the rate
                return 0.0
        return learning_rate_init

    def _validation(self, outputs, data, targets):
        """The validation score of the FM ``outputs`` on the validation rows,
        and the penalty factor it sets for the next epoch."""
        _, y_val, weight_val = data.validation
        scores = targets.score_scale * outputs
        score = self._validation_score(y_val, scores, weight_val)
        if self.verbose:
            print(f"Validation score: {score:.8f}")
        return score, self._penalty_scale(y_val, scores, weight_val)

    @staticmethod
    def _fitted(trainer, data, state, kept, diverged):
        """The parameters to keep: those of the last epoch, or the kept ones
        of the best epoch (early stopping) or the last finite one (after
        divergence); and the bookkeeping of the mode that did not run cleared."""
        if data.validation is None:
            state["validation_scores_"] = state["best_validation_score_"] = None
            if not diverged:
                return _Fitted(trainer.weights(), diverged)
        else:
            state["best_loss_"] = None
        return _Fitted(trainer.kept_weights() if kept else None, diverged)

    def _training_fields(self, n_features_in, input_columns, n_outputs):
        """The field of each feature of the model (the input column of each
        is ``input_columns``, None if each is its own), numbered from 0, for
        a field-aware FM of ``n_outputs`` outputs; None for an FM."""
        return None

    def _fitted_fields(self):
        """The ``fields`` of training, as ``_training_fields`` gives them."""
        return None

    def _check_parameters_fit_the_model(self, fields, optimizer_state, remedy):
        """Refuse parameters that no longer describe the fitted model, as
        ``set_params`` after fit can leave them, where continuing to train
        it or saving it needs both to agree.

        ``fields`` are the fields of the parameters (None for an FM),
        ``optimizer_state`` the state that would continue (None for none)
        and ``remedy`` ends the message.
        """
        n_factors = self.factors_.shape[-1]
        if n_factors != self.n_factors:
            raise ValueError(
                f"n_factors={self.n_factors} differs from the {n_factors} factors of the "
                f"fitted model; {remedy}"
            )
        if fields is not None and not np.array_equal(fields, self.fields_):
            raise ValueError(f"fields give other fields than those of the fitted model; {remedy}")
        if self.categorical_features is None and self._categorical_encoding() is not None:
            raise ValueError(
                "categorical_features=None, but the fitted model one-hot encodes the "
                f"category columns of its input; {remedy}"
            )
        solver = SolverSpec.of(self.solver)
        if optimizer_state is not None and optimizer_state.solver != solver:
            raise ValueError(
                f"The fitted model holds the optimizer state of solver={optimizer_state.solver}, "
                f"but solver is now {solver}; {remedy}"
            )

    def _step_sizes(self, X, sample_weight, first_call):
        """The :class:`StepSizes` of this fit: ``learning_rate_init`` and
        ``init_std``, with 'auto' chosen from the rows of the canonical
        training matrix ``X``, weighted by ``sample_weight``, when the model
        starts. A continued model keeps the spread it started from and the
        rate 'auto' chose then."""
        if not first_call:
            kept = self._started_step_sizes()
            if self.learning_rate_init == "auto":
                return kept
            return kept._replace(learning_rate_init=self.learning_rate_init)
        given = StepSizes(self.learning_rate_init, self.init_std)
        if "auto" not in given:
            return given  # no pass over X's values needed
        auto = _auto_step_sizes(_mean_squared_norm(X, sample_weight))
        return StepSizes(*(a if value == "auto" else value for a, value in zip(auto, given)))

    def _started_step_sizes(self):
        """The :class:`StepSizes` the fitted model started with."""
        # Models unpickled from versions before 'auto' trained with the parameters.
        return StepSizes(
            getattr(self, "learning_rate_init_", self.learning_rate_init),
            getattr(self, "init_std_", self.init_std),
        )

    def _initial_linear_part(self, X, y, sample_weight, n_features, n_outputs):
        """The bias (n_outputs,) and kernel (n_features, n_outputs) a new
        model starts from, for the training rows ``X`` (canonical), their
        targets ``y`` and weights ``sample_weight``; ``X`` is None when
        early stopping holds out validation rows. The intercept of
        ``_initial_intercept`` and zero weights."""
        intercept = self._initial_intercept(y, sample_weight, n_outputs)
        return np.reshape(intercept, n_outputs), np.zeros((n_features, n_outputs))

    def _start_state(self, first_call, incremental, X, data, targets, rng, fields, init_std):
        """The parameters training starts from, in training units, and the
        bookkeeping it continues: a new model's factors are drawn with the
        spread ``init_std``."""
        if first_call:
            n_features, n_outputs = X.shape[1], targets.n_outputs
            n_fields = None if fields is None else int(fields.max()) + 1
            n_factors = int(self.n_factors)  # True is 1, as scikit-learn's Integral allows
            vector = (n_factors,) if fields is None else (n_fields, n_factors)
            check_factors_budget((n_features, n_outputs, *vector))
            # Drawn in the layer's layout, feature by feature.
            factors = rng.normal(0.0, init_std, size=(n_features, n_outputs, *vector))
            _check_representable_products(factors, init_std)
            bias, kernel = self._initial_linear_part(
                X if data.validation is None else None,
                targets.y[data.train],
                targets.sample_weight[data.train],
                n_features,
                n_outputs,
            )
            params = estimator_form(bias, kernel, factors)
            return params, {
                "n_iter_": 0,
                "n_samples_seen_": 0,
                "_schedule_epochs": 0.0,
                "_sample_weight_unit": None,
                "_residual_scale": 1.0,
                "loss_curve_": [],
                "penalty_scales_": [],
                "best_loss_": np.inf,
                "validation_scores_": [],
                "best_validation_score_": -np.inf,
                "_optimizer_state": None,
            }
        # Curves continue. The bests start over with each fit, as its data
        # and validation rows may be others (a score of other validation
        # rows kept a whole warm-started fit from replacing the model), and
        # with partial_fit when early_stopping changed between calls. New
        # units start the optimizer and the best loss over too: theirs are
        # in the units left.
        in_same_units = incremental and not targets.new_units
        intercept = self.intercept_
        if targets.new_units:
            intercept = intercept + self._intercept_move(X, targets)
        params = rescale_fm(
            intercept,
            self.coef_,
            self.factors_,
            -targets.shift / targets.scale,
            1.0 / targets.scale,
        )
        counts = self._stream_counts()
        if targets.new_units:  # the last epoch's residuals were in the units left
            counts["_residual_scale"] = 1.0
        return params, {
            "n_iter_": self.n_iter_,
            **counts,
            "loss_curve_": list(self.loss_curve_),
            "penalty_scales_": list(self.penalty_scales_),
            "best_loss_": (
                np.inf if self.best_loss_ is None or not in_same_units else self.best_loss_
            ),
            "validation_scores_": list(self.validation_scores_ or []),
            "best_validation_score_": (
                -np.inf
                if self.best_validation_score_ is None or not incremental
                else self.best_validation_score_
            ),
            # fit with warm_start restarts the optimizer, as MLPRegressor does.
            "_optimizer_state": self._optimizer_state if in_same_units else None,
        }

    def _intercept_move(self, X, targets):
        """What a continued model in new units adds to its intercept, in the
        units of y: the weighted mean of the targets of the rows ``X``
        (canonical) less the model's outputs, times the share of these
        targets in the weight of those seen (``Targets.seen_share``).

        A first chunk too small to show the stream's scale (one row) left the
        intercept at its targets' mean, which later targets, elsewhere, could
        not pull it from in Adam's small steps; a model that already follows
        them moves little. Without the share, one row of a stream fed row by
        row set the intercept to its own target, an outlier's too.
        """
        with np.errstate(over="ignore", invalid="ignore"):  # y spanning float64
            outputs = self._outputs(X) / targets.scale - targets.shift / targets.scale
            residual = np.average(targets.y - outputs, weights=targets.sample_weight)
            # The share first: the whole residual may overflow where the move does not.
            move = targets.scale * (targets.seen_share * residual)
        return float(move) if np.isfinite(move) else 0.0

    def _stream_counts(self):
        """``n_samples_seen_``, the epochs the learning-rate schedule has
        counted, the unit of the sample weights and the residual scale of
        the last epoch, as ``partial_fit`` continues them."""
        # Models unpickled from versions before these counts have not
        # counted: None, and the schedule in whole epochs (as load reads
        # model files of format 5 or older); without a unit, the next call's
        # weights set it.
        return {
            "n_samples_seen_": getattr(self, "n_samples_seen_", None),
            "_schedule_epochs": getattr(self, "_schedule_epochs", float(self.n_iter_)),
            "_sample_weight_unit": getattr(self, "_sample_weight_unit", None),
            "_residual_scale": getattr(self, "_residual_scale", 1.0),
        }

    def _split(self, y, rng, early_stopping):
        """The training rows (indices, or a slice of all) and, with early
        stopping, the validation rows (indices).

        Classifiers split stratified, as MLPClassifier does, so that every
        class is in the validation data in its proportion.
        """
        n_samples = y.shape[0]
        if not early_stopping:
            return slice(None), None  # a view of every row, where indices would copy
        splitter = (StratifiedShuffleSplit if is_classifier(self) else ShuffleSplit)(
            n_splits=1, test_size=self.validation_fraction, random_state=rng
        )
        try:
            train, validation = next(splitter.split(np.empty((n_samples, 1)), y))
        except ValueError as error:
            # A stratified split too small for the classes (scikit-learn names
            # them by the codes of y here), or an empty training part.
            cause = (
                "validation samples of every class: each class needs at least 2 "
                "samples, and the validation set at least one sample per class"
                if is_classifier(self)
                else f"a validation set and keep training samples ({error})"
            )
            raise _NoValidationSplit(
                f"early_stopping with validation_fraction={self.validation_fraction} "
                f"cannot hold out {cause}, from these {n_samples} samples. Add "
                "samples, change validation_fraction or set early_stopping=False."
            ) from None
        if validation.shape[0] < 2:
            raise _NoValidationSplit(
                f"early_stopping with validation_fraction={self.validation_fraction} "
                f"leaves {validation.shape[0]} of the {n_samples} samples for "
                "validation; at least 2 are needed. Increase validation_fraction or "
                "set early_stopping=False."
            )
        # Held for the whole fit: in int32 where it holds them, half the memory.
        return train.astype(index_dtype(n_samples)), validation.astype(index_dtype(n_samples))

    def _fitted_copy(self):
        """A shallow copy of the fitted estimator, for one prediction: one
        whole model with its input contract, whatever a refit in another
        thread does meanwhile (it replaces the attributes in one step)."""
        check_is_fitted(self)
        return copy.copy(self)

    def _decision_function(self, X):
        return self._fitted_copy()._scores(X)

    def _scores(self, X):
        """The FM outputs of ``X``, checked against this estimator's input
        contract; call it on a :meth:`_fitted_copy`."""
        X = _validated_input(self, X, self._categorical_encoding(), reset=False).X
        with np.errstate(over="ignore", invalid="ignore"):  # reported below instead
            output = self._outputs(X)
        if not np.isfinite(output).all():
            largest = abs(X).max()
            if not np.isfinite(largest):
                raise non_finite_error("X", largest)
            raise ValueError(
                "The model's output overflows for some rows of X, whose values reach "
                f"{largest:.3g} in magnitude. Scale X as the training data was scaled."
            )
        return output

    def _outputs(self, X):
        """The FM outputs of the validated (or canonical) rows ``X``."""
        fields = self._fitted_fields()
        if fields is None:
            return fm_decision(X, self.intercept_, self.coef_, self.factors_)
        return ffm_decision(X, self.intercept_, self.coef_, self.factors_, fields)

    def top_interactions(self, n=20, *, feature_names=None):
        """The strongest pairwise interactions the model learned.

        The interaction weight of features ``i`` and ``j`` is the dot product
        of their factor vectors, ``factors_[i] @ factors_[j]`` (for a
        field-aware FM, ``factors_[i, f_j] @ factors_[j, f_i]`` with ``f`` the
        ``fields_``): the model adds it times ``x_i * x_j`` to its output (the
        log-odds of a binary classifier). Pairs are ranked by its magnitude,
        so compare features of similar scale (for example one-hot or
        standardised columns).

        With categorical input (``categorical_features``), the features are
        the numeric columns and the categories, and pairs of categories of
        one column, which never occur together, are left out.

        Every pair is scored, at a cost of O(n_features**2 * n_factors) time
        and O(n_features + n) memory.

        Parameters
        ----------
        n : int, default=20
            How many pairs to list (per class, for more than two classes).
            All pairs are listed if there are fewer.

        feature_names : array-like of str, default=None
            Names of the features, one per entry of ``coef_``. None takes
            ``feature_names_in_`` when ``fit`` saw them, else ``"x0"``,
            ``"x1"``, ... as scikit-learn's ``get_feature_names_out`` does;
            with categorical input, each category is named after its column
            (``"user_ann"``). In a pipeline, pass the preceding steps'
            ``get_feature_names_out()``.

        Returns
        -------
        interactions : pandas.DataFrame
            One row per pair, strongest first, with the columns
            ``feature_i`` and ``feature_j`` (the names, ``i < j``) and
            ``weight``; with more than two classes, the rows of each class in
            ``classes_`` in turn, with a leading ``class`` column.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_fm import FMRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(2000, 4))
        >>> y = 2 * X[:, 0] * X[:, 3]
        >>> model = FMRegressor(random_state=0).fit(X, y)
        >>> model.top_interactions(n=1)[["feature_i", "feature_j"]].to_numpy()
        array([['x0', 'x3']], dtype=object)
        """
        check_is_fitted(self)
        if isinstance(n, bool):  # an Integral to check_scalar
            raise TypeError(f"n must be an int, not a bool; got {n!r}.")
        check_scalar(n, "n", Integral, min_val=1)
        names = self._feature_names(feature_names)
        fields = self._fitted_fields()
        one_output = self.factors_.ndim == (2 if fields is None else 3)
        outputs = self.factors_[None] if one_output else self.factors_
        frames = []
        for output, factors in enumerate(outputs):
            pairs = strongest_interactions(factors, n, fields, self._exclusive_groups())
            frame = pd.DataFrame(
                {
                    "feature_i": names[pairs.feature_i],
                    "feature_j": names[pairs.feature_j],
                    "weight": pairs.weight,
                }
            )
            if len(outputs) > 1:
                frame.insert(0, "class", self.classes_[output])
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _exclusive_groups(self):
        """The encoded column of each feature of the model, for the categories
        of one (which never occur together), else -1; None without
        categorical input."""
        encoding = self._categorical_encoding()
        if encoding is None:
            return None
        columns = encoding.input_columns
        return np.where(encoding.is_categorical[columns], columns, -1)

    def _feature_names(self, feature_names):
        """The names of the model's features (the columns of ``coef_``), as an
        object array."""
        n_features = self.coef_.shape[-1]
        if feature_names is None:
            if hasattr(self, "feature_names_in_"):
                names = np.asarray(self.feature_names_in_, dtype=object)
            else:
                names = np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
            encoding = self._categorical_encoding()
            return names if encoding is None else encoding.feature_names(names)
        names = np.asarray(feature_names, dtype=object)
        if names.ndim != 1 or len(names) != n_features:
            raise ValueError(
                f"feature_names must hold one name per feature, {n_features}; "
                f"got an array of shape {names.shape}."
            )
        if not all(isinstance(name, str) for name in names):
            raise TypeError("feature_names must be strings.")
        return names

    def save(self, file):
        """Write the fitted model to a file that loads without executing code.

        The file holds the parameters as NumPy arrays and versioned JSON
        metadata in a zip archive; :func:`sklearn_fm.load` reads it back
        without pickle, so a model file from elsewhere cannot run code, and
        it refuses a corrupted or truncated file rather than load another
        model. The loaded model predicts exactly as this one and continues
        training with ``partial_fit`` as this one would. Its parameters are
        this one's in JSON's types: ``fields`` given as a tuple or an array
        comes back as a list of the same labels.

        Parameters
        ----------
        file : str, path-like or binary file object
            Where to write. A file object that can seek is cut where the
            model ends, so that content it held beyond does not remain.

        Raises
        ------
        TypeError
            If ``file`` is neither a path nor a file object open for
            writing bytes.
        ValueError
            If a parameter cannot be stored as JSON, such as a
            ``random_state`` that is a ``RandomState`` instance, or is not
            valid, or if ``set_params`` changed after fit a parameter that
            shapes the model (``n_factors``, ``solver``, ``fields``,
            ``categorical_features``). Others, such as ``max_iter``, are
            saved as they are now, as pickle keeps them.
        """
        # One whole model, whatever a fit in another thread does meanwhile.
        model = self._fitted_copy()
        model._validate_params()
        encoding = model._categorical_encoding()
        fields = model._training_fields(
            model.n_features_in_,
            None if encoding is None else encoding.input_columns,
            np.size(model.intercept_),
        )
        model._check_parameters_fit_the_model(fields, model._optimizer_state, _TO_SAVE)
        write(model, file)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
