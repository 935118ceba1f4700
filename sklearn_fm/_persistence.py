"""A safe file format for fitted FM estimators: arrays and JSON, no pickle.

A model file is a zip archive holding ``metadata.json`` (the format version,
the estimator's class and parameters, its scalar attributes) and one ``.npy``
file per array, read with ``allow_pickle=False``. Loading therefore never
executes code from the file. Every member carries a CRC-32 that is checked as
it is read, and the arrays are checked against the metadata, so a corrupted or
truncated file is refused rather than loaded as another model.
"""

import io
import json
import zipfile
from numbers import Integral, Real

import numpy as np

from ._classifier import FMClassifier
from ._regressor import FMRegressor

FORMAT = "sklearn_fm"
# Raise when the layout changes; load refuses versions it does not know.
# Version 2 added batch_size_, early_stopping_, penalty_scales_ and the
# regressor's target standardisation; version 1 files (sklearn_fm 0.1.0) still load.
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_ESTIMATORS = {cls.__name__: cls for cls in (FMRegressor, FMClassifier)}


def _version():
    from . import __version__

    return __version__


def _json_scalar(value, what):
    """``value`` as a JSON scalar (NumPy scalars too), or a ValueError."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, Integral, Real)):
        return value
    raise ValueError(
        f"{what} is {value!r}, which the safe format cannot store (it holds numbers, "
        "strings, booleans and None). Use pickle or joblib for this model."
    )


def _labels(values, what):
    """Labels (``classes_``, ``feature_names_in_``) as a JSON list and a dtype."""
    values = np.asarray(values)
    if values.dtype.kind not in "biufUO":
        raise ValueError(f"{what} of dtype {values.dtype} cannot be stored in the safe format.")
    return {"dtype": values.dtype.str, "values": [_json_scalar(v, what) for v in values.tolist()]}


def _from_labels(labels):
    dtype = np.dtype(labels["dtype"])
    if dtype.kind not in "biufUO":
        raise ValueError(f"labels of dtype {dtype}")
    values = np.empty(len(labels["values"]), dtype=dtype)
    values[:] = labels["values"]
    return values


def save(estimator, file):
    """Write the fitted ``estimator`` to ``file`` (a path or a binary file)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    params = {}
    for name, value in estimator.get_params().items():
        if name == "random_state" and isinstance(value, np.random.RandomState):
            raise ValueError(
                "random_state is a RandomState instance, which the safe format cannot "
                "store; set it to an int or None before saving, or use pickle."
            )
        if name == "class_weight" and isinstance(value, dict):
            value = [[_json_scalar(k, "A class_weight key"), float(w)] for k, w in value.items()]
        else:
            value = _json_scalar(value, f"The parameter {name}")
        params[name] = value
    arrays = {
        "intercept_": np.asarray(estimator.intercept_, dtype=np.float64),
        "coef_": estimator.coef_,
        "factors_": estimator.factors_,
        "loss_curve_": np.asarray(estimator.loss_curve_, dtype=np.float64),
        "penalty_scales_": np.asarray(estimator.penalty_scales_, dtype=np.float64),
    }
    if estimator.validation_scores_ is not None:
        arrays["validation_scores_"] = np.asarray(estimator.validation_scores_, dtype=np.float64)
    optimizer_state = estimator._optimizer_state or []
    for i, value in enumerate(optimizer_state):
        arrays[f"optimizer_state_{i}"] = np.asarray(value)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_fm_version": _version(),
        "estimator": type(estimator).__name__,
        "params": params,
        "n_features_in_": int(estimator.n_features_in_),
        "n_iter_": int(estimator.n_iter_),
        "batch_size_": int(estimator.batch_size_),
        "early_stopping_": bool(estimator.early_stopping_),
        # Infinite when training diverged in its first epoch; JSON has no inf.
        "best_loss_": None if estimator.best_loss_ is None else repr(float(estimator.best_loss_)),
        "best_validation_score_": (
            None
            if estimator.best_validation_score_ is None
            else repr(float(estimator.best_validation_score_))
        ),
        "optimizer_state": None if estimator._optimizer_state is None else len(optimizer_state),
        "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()},
    }
    if hasattr(estimator, "feature_names_in_"):
        metadata["feature_names_in_"] = _labels(estimator.feature_names_in_, "feature_names_in_")
    if hasattr(estimator, "classes_"):
        metadata["classes_"] = _labels(estimator.classes_, "classes_")
    if hasattr(estimator, "_y_train_std"):
        metadata["y_train_mean"] = float(estimator._y_train_mean)
        metadata["y_train_std"] = float(estimator._y_train_std)
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata, indent=1))
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def load(file):
    """Load an estimator written by :meth:`FMRegressor.save` or
    :meth:`FMClassifier.save`.

    Parameters
    ----------
    file : str, path-like or binary file object
        The file to read.

    Returns
    -------
    estimator : FMRegressor or FMClassifier
        The fitted estimator, predicting exactly as the saved one did and
        able to continue training with ``partial_fit``.

    Raises
    ------
    ValueError
        If the file is not an sklearn_fm model file, was written in a format
        version this sklearn_fm does not read, or is corrupted or truncated.

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
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "rb") as opened:  # a missing file is an OSError, as usual
            return _read(opened, repr(str(file)))
    return _read(file, "The file")


def _read(file, name):
    try:
        with zipfile.ZipFile(file) as archive:
            metadata = json.loads(archive.read("metadata.json"))
            if (
                isinstance(metadata, dict)
                and metadata.get("format") == FORMAT
                and metadata.get("format_version") in _READABLE_VERSIONS
            ):
                arrays = {
                    array: np.load(io.BytesIO(archive.read(f"{array}.npy")), allow_pickle=False)
                    for array in metadata["arrays"]
                }
                return _estimator(metadata, arrays)
    except Exception as error:  # whatever parsing a damaged file raises
        raise ValueError(
            f"{name} could not be read as an sklearn_fm model file: it is not one, or "
            f"it is corrupted or truncated ({type(error).__name__}: {error})."
        ) from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{name} is a zip archive, but not an sklearn_fm model file.")
    version = metadata.get("format_version")
    newer = isinstance(version, int) and version > FORMAT_VERSION
    raise ValueError(
        f"{name} was written by sklearn_fm {metadata.get('sklearn_fm_version')} in "
        f"format version {version!r}, but this sklearn_fm ({_version()}) reads format "
        f"versions up to {FORMAT_VERSION}." + (" Upgrade sklearn_fm to load it." if newer else "")
    )


def _estimator(metadata, arrays):
    """The estimator ``metadata`` and ``arrays`` describe, checked for consistency."""
    estimator = _ESTIMATORS[metadata["estimator"]]
    params = dict(metadata["params"])
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {key: weight for key, weight in params["class_weight"]}
    model = estimator(**params)
    model._validate_params()
    for name, spec in metadata["arrays"].items():
        if arrays[name].dtype.str != spec["dtype"] or list(arrays[name].shape) != spec["shape"]:
            raise ValueError(f"the array {name} does not match its description")
        if not np.isfinite(arrays[name]).all():
            raise ValueError(f"the array {name} is not finite")
    n_features = metadata["n_features_in_"]
    n_classes = len(metadata["classes_"]["values"]) if "classes_" in metadata else 1
    outputs = () if n_classes <= 2 else (n_classes,)
    intercept, coef, factors = (arrays[name] for name in ("intercept_", "coef_", "factors_"))
    if (
        intercept.shape != outputs
        or coef.shape != (n_features, *outputs)
        or factors.ndim != 2 + len(outputs)
        or factors.shape[:-1] != (n_features, *outputs)
    ):
        raise ValueError("the parameters' shapes do not fit together")
    attributes = {
        "intercept_": float(intercept) if outputs == () else intercept,
        "coef_": coef,
        "factors_": factors,
        "n_features_in_": n_features,
        "n_iter_": metadata["n_iter_"],
        "loss_curve_": arrays["loss_curve_"].tolist(),
        "best_loss_": _float(metadata["best_loss_"]),
        "validation_scores_": (
            arrays["validation_scores_"].tolist() if "validation_scores_" in arrays else None
        ),
        "best_validation_score_": _float(metadata["best_validation_score_"]),
        "_optimizer_state": (
            None
            if metadata["optimizer_state"] is None
            else [arrays[f"optimizer_state_{i}"] for i in range(metadata["optimizer_state"])]
        ),
    }
    if attributes["_optimizer_state"]:
        attributes["_optimizer_state"][0] = np.int64(attributes["_optimizer_state"][0])
    attributes.update(_training_choices(metadata, arrays, params, estimator))
    for curve in ("loss_curve_", "penalty_scales_"):
        if len(attributes[curve]) != attributes["n_iter_"]:
            raise ValueError(f"{curve} does not have n_iter_ entries")
    if "feature_names_in_" in metadata:
        attributes["feature_names_in_"] = _from_labels(metadata["feature_names_in_"])
        if attributes["feature_names_in_"].shape != (n_features,):
            raise ValueError("feature_names_in_ does not have n_features_in_ names")
    if "classes_" in metadata:
        attributes["classes_"] = _from_labels(metadata["classes_"])
    elif estimator is FMClassifier:
        raise ValueError("a classifier without classes_")
    vars(model).update(attributes)
    return model


def _training_choices(metadata, arrays, params, estimator):
    """The batch size, early stopping, penalty factors and target scaling
    training used."""
    if metadata["format_version"] == 1:
        # Version 1 models trained on y as given with their parameters'
        # settings (both were plain values then). The batch size is an
        # upper bound: training used at most the number of its samples.
        # The penalties were not scaled.
        choices = {
            "batch_size_": params["batch_size"],
            "early_stopping_": params["early_stopping"],
            "penalty_scales_": [1.0] * metadata["n_iter_"],
        }
        if estimator is FMRegressor:
            choices.update(_y_train_mean=0.0, _y_train_std=1.0)
        return choices
    choices = {
        "batch_size_": metadata["batch_size_"],
        "early_stopping_": metadata["early_stopping_"],
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
    if estimator is FMRegressor:
        mean, std = float(metadata["y_train_mean"]), float(metadata["y_train_std"])
        if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
            raise ValueError("the target standardisation is not valid")
        choices.update(_y_train_mean=mean, _y_train_std=std)
    return choices


def _float(text):
    return None if text is None else float(text)
