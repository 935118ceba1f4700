"""Factorization Machines as scikit-learn estimators, trained with Keras.

Importing this package does not import TensorFlow or Keras: the estimators
import them only when they train. The Keras layer lives in
:mod:`sklearn_fm.keras`. Nor does it import skl2onnx or onnx, the optional
extra ``[onnx]``: :func:`register_onnx_converters` imports them when called.
"""

from . import _forking  # noqa: F401  (notes forks from processes that ran TensorFlow)
from ._classifier import FMClassifier
from ._encoders import ImplicitFeedbackEncoder, MultiHotEncoder
from ._field_aware import FFMClassifier, FFMRegressor
from ._onnx import register_onnx_converters
from ._persistence import load
from ._regressor import FMRegressor
from ._skops import skops_trusted_types  # imports no skops: names only
from ._version import __version__


__all__ = [
    "FFMClassifier",
    "FFMRegressor",
    "FMClassifier",
    "FMRegressor",
    "ImplicitFeedbackEncoder",
    "MultiHotEncoder",
    "__version__",
    "load",
    "register_onnx_converters",
    "skops_trusted_types",
]
