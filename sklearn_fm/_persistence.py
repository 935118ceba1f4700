"""Loading model files: the estimator a file describes, checked before use.

The arrays are checked against the metadata, so a corrupted, truncated or
forged file is refused rather than loaded as another model.
"""

import io
import os
import stat
from numbers import Real

import numpy as np
import pandas as pd

from ._categorical import CategoricalEncoding
from ._classifier import FMClassifier
from ._field_aware import FFMClassifier, FFMRegressor, field_codes
from ._model_file import (
    from_labels,
    is_binary_file,
    optimizer_state_names,
    read,
    unreadable,
)
from ._parameters import estimator_form, layer_factors_shape, n_outputs_of, parameter_shapes
from ._regressor import FMRegressor, TargetMoments
from ._solvers import OptimizerState, SolverSpec

_ESTIMATORS = {
    cls.__name__: cls for cls in (FMRegressor, FMClassifier, FFMRegressor, FFMClassifier)
}


def load(file):
    """Load an estimator written by the ``save`` method of
    :class:`FMRegressor`, :class:`FMClassifier`, :class:`FFMRegressor` or
    :class:`FFMClassifier`.

    Parameters
    ----------
    file : str, path-like, binary file object or bytes-like
        The file to read, or its content (``bytes``, ``bytearray`` or
        ``memoryview``, for a model kept in a database or object store). A
        path given as bytes is content too: decode it with ``os.fsdecode``.

    Returns
    -------
    estimator : FMRegressor, FMClassifier, FFMRegressor or FFMClassifier
        The fitted estimator, predicting exactly as the saved one did and
        able to continue training with ``partial_fit``.

    Raises
    ------
    ValueError
        If the file is not an sklearn_fm model file, was written in a format
        version this sklearn_fm does not read, or is corrupted or truncated.
    TypeError
        If ``file`` is a file object open in text mode, or no file at all.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import sklearn_fm
    >>> X, y = np.eye(4), np.arange(4.0)
    >>> model = sklearn_fm.FMRegressor(max_iter=5, tol=None, random_state=0).fit(X, y)
    >>> file = io.BytesIO()
    >>> model.save(file)
    >>> loaded = sklearn_fm.load(file)
    >>> bool((loaded.predict(X) == model.predict(X)).all())
    True
    """
    if isinstance(file, (bytes, bytearray, memoryview)):
        return _rebuilt(*read(io.BytesIO(file), "The bytes given"), "The bytes given")
    if isinstance(file, str) or hasattr(file, "__fspath__"):
        name = repr(str(file))
        with open(file, "rb") as opened:  # a missing file is an OSError, as usual
            mode = os.fstat(opened.fileno()).st_mode
            # A device (/dev/zero) would be read without end.
            if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
                raise ValueError(f"{name} is not a file or a pipe, so not a model file.")
            return _rebuilt(*read(_seekable(opened), name), name)
    return _rebuilt(*read(_seekable(_binary(file)), "The file"), "The file")


def _binary(file):
    """``file``, a file object open for reading bytes, or a TypeError."""
    if not is_binary_file(file, "read"):
        raise TypeError(
            "load reads a path, a file object open for reading bytes (mode 'rb') or "
            f"bytes; got {type(file).__name__}."
        )
    return file


def _seekable(file):
    """``file``, or its content in memory if it cannot seek (a pipe), as a
    zip archive is read from its end."""
    seekable = getattr(file, "seekable", None)
    return file if callable(seekable) and seekable() else io.BytesIO(file.read())


def _rebuilt(metadata, arrays, name):
    try:
        return _estimator(metadata, arrays)
    except Exception as error:  # whatever a forged file makes the checks raise
        raise unreadable(name, error) from error


def _estimator(metadata, arrays):
    """The estimator ``metadata`` and ``arrays`` describe, checked for consistency."""
    estimator = _estimator_class(metadata, arrays)
    model = _unfitted(estimator, metadata)
    params = model.get_params()
    _check_arrays(metadata, arrays)
    attributes = _fitted_parameters(metadata, arrays, params, estimator)
    attributes.update(
        n_features_in_=metadata["n_features_in_"],
        n_iter_=metadata["n_iter_"],
        loss_curve_=arrays["loss_curve_"].tolist(),
        best_loss_=_float(metadata["best_loss_"]),
        validation_scores_=(
            arrays["validation_scores_"].tolist() if "validation_scores_" in arrays else None
        ),
        best_validation_score_=_float(metadata["best_validation_score_"]),
    )
    attributes.update(_training_choices(metadata, arrays, params, estimator))
    attributes.update(_stream_counts(metadata))
    for curve in ("loss_curve_", "penalty_scales_"):
        if len(attributes[curve]) != attributes["n_iter_"]:
            raise ValueError(f"{curve} does not have n_iter_ entries")
    attributes.update(_labels(metadata))
    vars(model).update(attributes)
    return model


def _estimator_class(metadata, arrays):
    """The class the file names, once its counts are plausible for it."""
    estimator = _ESTIMATORS[metadata["estimator"]]
    for count, least in (("n_features_in_", 1), ("n_iter_", 0)):
        if not (type(metadata[count]) is int and metadata[count] >= least):
            raise ValueError(f"{count} is {metadata[count]!r}, not an integer of at least {least}")
    # Before anything is made n_iter_ long (version 1's penalty factors).
    if arrays["loss_curve_"].shape != (metadata["n_iter_"],):
        raise ValueError("loss_curve_ does not have n_iter_ entries")
    if ("classes_" in metadata) != issubclass(estimator, FMClassifier):
        having = "with" if "classes_" in metadata else "without"
        raise ValueError(f"an {estimator.__name__} {having} classes_")
    return estimator


def _unfitted(estimator, metadata):
    """An ``estimator`` with the stored parameters, validated."""
    params = dict(metadata["params"])
    if metadata["format_version"] < 5:
        # Those models read category columns as numbers.
        params.setdefault("categorical_features", None)
    if set(params) != set(estimator().get_params()):
        raise ValueError(f"the parameters {sorted(params)} are not those of {estimator.__name__}")
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {key: weight for key, weight in params["class_weight"]}
    model = estimator(**params)
    model._validate_params()
    return model


def _check_arrays(metadata, arrays):
    """Refuse arrays unlike their description or not finite (the curves
    may hold NaN: the entry of an epoch that diverged)."""
    for name, spec in metadata["arrays"].items():
        array = arrays[name]
        if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
            raise ValueError(f"the array {name} does not match its description")
        valid = np.isfinite(array)
        if name in ("loss_curve_", "validation_scores_"):
            valid |= np.isnan(array)
        if not valid.all():
            raise ValueError(f"the array {name} is not finite")


def _fitted_parameters(metadata, arrays, params, estimator):
    """The model's parameters, fields, categorical encoding and optimizer
    state, as attributes, once their shapes fit together."""
    n_features = metadata["n_features_in_"]
    n_classes = len(metadata["classes_"]["values"]) if "classes_" in metadata else 1
    n_outputs = n_outputs_of(n_classes)
    intercept, coef, factors = (arrays[name] for name in ("intercept_", "coef_", "factors_"))
    if metadata["format_version"] < 4 and n_outputs > 1 and coef.ndim == 2 and factors.ndim == 3:
        # Those held a multiclass model in the layer's layout, class last.
        intercept, coef, factors = estimator_form(intercept, coef, factors)
    encoding = _categorical_encoding(metadata, n_features)
    input_columns = None if encoding is None else encoding.input_columns
    n_model_features = n_features if encoding is None else len(input_columns)
    fields = _fields(arrays, params, n_features, input_columns) if "fields" in params else None
    n_fields = None if fields is None else int(fields.max()) + 1
    n_factors = factors.shape[-1] if factors.ndim else 0
    shapes = parameter_shapes(n_model_features, n_outputs, n_factors, n_fields)
    if (intercept.shape, coef.shape, factors.shape) != shapes or (
        factors.shape[-1] != params["n_factors"]
    ):
        raise ValueError("the parameters' shapes do not fit together and with n_factors")
    attributes = {
        "intercept_": float(intercept) if n_outputs == 1 else intercept,
        "coef_": coef,
        "factors_": factors,
        "_optimizer_state": _optimizer_state(
            metadata, arrays, params, layer_factors_shape(shapes[2], n_outputs)
        ),
        "is_categorical_": None if encoding is None else encoding.is_categorical,
        "categories_": [] if encoding is None else encoding.categories,
    }
    if fields is not None:
        attributes.update(fields_=fields, n_fields_=n_fields)
    return attributes


def _labels(metadata):
    """``feature_names_in_`` and ``classes_``, those the file holds, checked."""
    labels = {}
    if "feature_names_in_" in metadata:
        labels["feature_names_in_"] = from_labels(metadata["feature_names_in_"])
        if labels["feature_names_in_"].shape != (metadata["n_features_in_"],):
            raise ValueError("feature_names_in_ does not have n_features_in_ names")
    if "classes_" in metadata:
        classes = labels["classes_"] = from_labels(metadata["classes_"])
        # What fit and partial_fit give: at least 2 labels, sorted, each once.
        if len(classes) < 2 or not np.array_equal(classes, np.unique(classes)):
            raise ValueError("classes_ are not at least 2 sorted, distinct labels")
    return labels


def _optimizer_state(metadata, arrays, params, factors_shape):
    """The optimizer state the file holds, as an :class:`OptimizerState`;
    ``factors_shape`` is the layer's (n_features, n_outputs, [n_fields,] k)."""
    stored = metadata["optimizer_state"]
    if stored is None:
        return None
    variables = [arrays[name] for name in optimizer_state_names(metadata)]
    if metadata["format_version"] < 3:
        return _legacy_optimizer_state(variables, params["solver"], factors_shape)
    if len(variables) < 2 or variables[0].shape != () or variables[1].shape != ():
        raise ValueError("the optimizer state does not start with a step count and a learning rate")
    solver = SolverSpec.of(stored["solver"])
    if solver != SolverSpec.of(params["solver"]):
        raise ValueError("the optimizer state belongs to another solver than the model's")
    # Keras' slots are shaped like the variables they belong to, or smaller
    # (Adafactor's factored ones).
    if any(
        v.ndim > len(factors_shape) or v.size > np.prod(factors_shape) for v in variables[2:]
    ):
        raise ValueError("the optimizer state holds arrays larger than the parameters")
    variables[0] = np.int64(variables[0])
    return OptimizerState(solver, variables)


# The slots of the four solvers of format versions 1 and 2, in Keras' order.
_LEGACY_SLOTS = {"sgd": 0, "adagrad": 1, "rmsprop": 1, "adam": 2}


def _legacy_optimizer_state(variables, solver, factors_shape):
    """A state of format versions 1 and 2 in Keras' layout.

    Those trained one table whose row ``j`` held ``(w_j, v_j)`` of every
    output, and stored the step, the slots of the intercept, then those of the
    table. Keras keeps the step, the learning rate, then the slots of the
    bias, the kernel and the factors, shaped like the layer's variables.
    """
    n_features, n_outputs, n_factors = factors_shape
    n_slots = _LEGACY_SLOTS[solver]
    if len(variables) != 1 + 2 * n_slots:
        raise ValueError("the optimizer state does not fit its solver")
    step = variables[0]
    bias_slots, table_slots = variables[1 : 1 + n_slots], variables[1 + n_slots :]
    slots = [[np.reshape(slot, n_outputs)] for slot in bias_slots]
    for per_variable, table in zip(slots, table_slots):
        table = np.reshape(table, (n_features, n_outputs, 1 + n_factors))
        per_variable += [table[..., 0], table[..., 1:]]
    # Keras interleaves the slots variable by variable.
    keras_order = [slot[i].astype(np.float32) for i in range(3) for slot in slots]
    return OptimizerState(SolverSpec.of(solver), [np.int64(step), np.float32(0.0), *keras_order])


def _stream_counts(metadata):
    """``n_samples_seen_``, the epochs the learning-rate schedule has
    counted, the unit of the sample weights and the residual scale of the
    last epoch, which ``partial_fit`` continues."""
    # Before version 8 there was none: the scale of the standardised target.
    residual_scale = (
        _non_negative_number(metadata["residual_scale"], "the residual scale")
        if metadata["format_version"] >= 8
        else 1.0
    )
    if metadata["format_version"] < 6:
        # Not counted then: the schedule counted whole epochs.
        return {
            "n_samples_seen_": None,
            "_schedule_epochs": float(metadata["n_iter_"]),
            "_sample_weight_unit": None,
            "_residual_scale": residual_scale,
        }
    n_samples_seen = metadata["n_samples_seen_"]
    schedule_epochs = float(metadata["schedule_epochs"])
    # Before version 7 there was none: the next call's weights set it.
    weight_unit = (
        _float(metadata["sample_weight_unit"]) if metadata["format_version"] >= 7 else None
    )
    if not (
        (n_samples_seen is None or (type(n_samples_seen) is int and n_samples_seen >= 1))
        and 0 <= schedule_epochs <= metadata["n_iter_"]
        and (weight_unit is None or 0 < weight_unit < np.inf)
    ):
        raise ValueError(
            "n_samples_seen_, the schedule's epochs or the unit of the weights are not valid"
        )
    return {
        "n_samples_seen_": n_samples_seen,
        "_schedule_epochs": schedule_epochs,
        "_sample_weight_unit": weight_unit,
        "_residual_scale": residual_scale,
    }


def _training_choices(metadata, arrays, params, estimator):
    """The batch size, early stopping, factor penalty, learning rate, spread
    of the initial factors, penalty factors and target scaling training used."""
    alpha_factors_ = _chosen_factor_penalty(metadata, params)
    step_sizes = _chosen_step_sizes(metadata, params)
    if metadata["format_version"] == 1:
        # Version 1 models trained on y as given with their parameters'
        # settings (both were plain values then). The batch size is an
        # upper bound: training used at most the number of its samples.
        # The penalties were not scaled.
        choices = {
            "batch_size_": params["batch_size"],
            "early_stopping_": params["early_stopping"],
            "alpha_factors_": alpha_factors_,
            **step_sizes,
            "penalty_scales_": [1.0] * metadata["n_iter_"],
        }
        if issubclass(estimator, FMRegressor):
            choices.update(_y_train_mean=0.0, _y_train_std=1.0)
        return choices
    choices = {
        "batch_size_": metadata["batch_size_"],
        "early_stopping_": metadata["early_stopping_"],
        "alpha_factors_": alpha_factors_,
        **step_sizes,
        "penalty_scales_": arrays["penalty_scales_"].tolist(),
    }
    if not (
        type(choices["batch_size_"]) is int
        and choices["batch_size_"] >= 1
        and isinstance(choices["early_stopping_"], bool)
    ):
        raise ValueError("batch_size_ or early_stopping_ is not valid")
    if arrays["penalty_scales_"].ndim != 1 or not (
        (arrays["penalty_scales_"] >= 0) & (arrays["penalty_scales_"] <= 1)
    ).all():
        raise ValueError("penalty_scales_ is not a list of factors from 0 to 1")
    if issubclass(estimator, FMRegressor):
        mean, std = float(metadata["y_train_mean"]), float(metadata["y_train_std"])
        if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
            raise ValueError("the target standardisation is not valid")
        choices.update(_y_train_mean=mean, _y_train_std=std, _y_seen=_targets_seen(metadata))
    return choices


def _targets_seen(metadata):
    """The :class:`TargetMoments` of the targets a regressor trained on;
    None in files written before they were kept."""
    if "y_seen" not in metadata:
        return None
    seen = metadata["y_seen"]
    numbers = isinstance(seen, list) and all(
        isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
        for value in seen
    )
    moments = TargetMoments(*map(float, seen)) if numbers and len(seen) == 5 else None
    if moments is None or not (
        moments.weight >= 0
        and moments.scale >= 0
        and abs(moments.mean) <= 1
        and 0 <= moments.std <= 1
        and 0 <= moments.farthest <= 2
    ):
        raise ValueError("y_seen, the moments of the targets trained on, is not valid")
    return moments


def _chosen_factor_penalty(metadata, params):
    """The factor penalty training used: ``alpha_factors`` itself in files
    from before 'auto' (format version 7 and older)."""
    if metadata["format_version"] < 8:
        return _non_negative_number(params["alpha_factors"], "alpha_factors_")
    return _non_negative_number(metadata["alpha_factors_"], "alpha_factors_")


def _chosen_step_sizes(metadata, params):
    """``learning_rate_init_`` and ``init_std_`` training used: the
    parameters themselves in files from before 'auto' (format version 8 and
    older)."""
    source = params if metadata["format_version"] < 9 else {
        name: metadata[f"{name}_"] for name in ("learning_rate_init", "init_std")
    }
    return {
        f"{name}_": _positive_number(source[name], f"{name}_")
        for name in ("learning_rate_init", "init_std")
    }


def _positive_number(value, what):
    """``value`` of the metadata as a float, if a finite positive number."""
    number = _non_negative_number(value, what)
    if number == 0:
        raise ValueError(f"{what} is not a finite positive number")
    return number


def _non_negative_number(value, what):
    """``value`` of the metadata as a float, if a finite non-negative number."""
    if not (isinstance(value, Real) and not isinstance(value, bool) and 0 <= value < np.inf):
        raise ValueError(f"{what} is not a finite non-negative number")
    return float(value)


def _categorical_encoding(metadata, n_features):
    """The :class:`CategoricalEncoding` the file holds (None if it has none),
    checked for consistency."""
    if "is_categorical_" not in metadata:
        return None
    is_categorical = np.array(metadata["is_categorical_"])
    categories = [from_labels(labels) for labels in metadata["categories_"]]
    if (
        is_categorical.dtype != bool
        or is_categorical.shape != (n_features,)
        or len(categories) != is_categorical.sum()
        # Not np.unique: it sorts, and categories may mix types (1 and "a").
        or not all(pd.Index(c).is_unique for c in categories)
    ):
        raise ValueError("is_categorical_ and categories_ do not fit together")
    return CategoricalEncoding(is_categorical, categories)


def _fields(arrays, params, n_features, input_columns):
    """The ``fields_`` of a field-aware model, checked against its ``fields``."""
    if "fields_" not in arrays:
        raise ValueError("a field-aware model without fields_")
    fields = arrays["fields_"]
    if fields.dtype != np.int64 or not np.array_equal(
        fields, field_codes(params["fields"], n_features, input_columns)
    ):
        raise ValueError("fields_ are not the fields of the parameter fields")
    return fields


def _float(text):
    return None if text is None else float(text)
