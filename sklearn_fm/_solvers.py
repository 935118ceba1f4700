"""The ``solver`` parameter: a Keras optimizer, by name or with its settings.

``solver`` is the name of an optimizer of ``keras.optimizers`` (``"adam"``,
``"ftrl"``, ...), trained with Keras' default settings, or a dict
``{"class_name": name, "config": {setting: value}}`` (the keys of
``keras.optimizers.serialize``'s output without ``module`` and
``registered_name``, the config holding only the settings to change), whose
settings replace the defaults. Both are
plain data, so a solver survives ``clone``, ``get_params``/``set_params``,
grid searches, pickle and the safe file format. They are checked here,
without importing Keras; Keras builds the optimizer when training starts.
"""

import difflib
import math
import struct
from numbers import Real
from typing import NamedTuple

import numpy as np

# The class names of keras.optimizers' optimizers (Keras 3.15), with the
# settings of each besides those of every optimizer (below) and the
# estimator's learning_rate and name. Solver names are their lower-case
# forms; wrappers of other optimizers are left out. Known here so that a
# misspelt setting is refused before TensorFlow is imported.
_OPTIMIZER_SETTINGS = {
    "Adadelta": ("rho", "epsilon"),
    "Adafactor": ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step"),
    "Adagrad": ("initial_accumulator_value", "epsilon"),
    "Adam": ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "AdamW": ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "Adamax": ("beta_1", "beta_2", "epsilon"),
    "Ftrl": (
        "learning_rate_power",
        "initial_accumulator_value",
        "l1_regularization_strength",
        "l2_regularization_strength",
        "l2_shrinkage_regularization_strength",
        "beta",
    ),
    "Lamb": ("beta_1", "beta_2", "epsilon"),
    "Lion": ("beta_1", "beta_2"),
    "Muon": (
        "adam_beta_1",
        "adam_beta_2",
        "adam_weight_decay",
        "epsilon",
        "exclude_layers",
        "exclude_embeddings",
        "muon_a",
        "muon_b",
        "muon_c",
        "adam_lr_ratio",
        "momentum",
        "ns_steps",
        "nesterov",
        "rms_rate",
    ),
    "Nadam": ("beta_1", "beta_2", "epsilon"),
    "RMSprop": ("rho", "momentum", "epsilon", "centered"),
    "SGD": ("momentum", "nesterov"),
    "ScheduleFreeAdamW": ("beta_1", "beta_2", "epsilon", "warmup_steps"),
}
_COMMON_SETTINGS = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)
KERAS_OPTIMIZERS = tuple(_OPTIMIZER_SETTINGS)
SOLVER_NAMES = tuple(name.lower() for name in KERAS_OPTIMIZERS)
_CLASS_NAMES = {name.lower(): name for name in KERAS_OPTIMIZERS}
# The estimator sets the learning rate (learning_rate_init and its schedule)
# and names its optimizer; a solver's config must not.
_RESERVED = ("learning_rate", "name")
# Settings of Keras' optimizers that training cannot honour: the values it
# can (Keras' defaults), and why.
_UNSUPPORTED = {
    "loss_scale_factor": (
        lambda value: value is None,
        "it scales the loss against the underflow of float16 gradients, but "
        "training computes its gradients in float32 itself",
    ),
    "use_ema": (
        lambda value: not value,
        "the estimators keep the parameters of the last epoch (or with "
        "early_stopping of the best one), not moving averages of them",
    ),
    "exclude_layers": (
        lambda value: value is None,
        "it takes the names of layers to train with AdamW instead, and a "
        "solver's config holds numbers, booleans or None",
    ),
}
# Settings under which SGD, Adagrad and FTRL no longer update IndexedSlices
# row by row (weight decay, momentum, FTRL's shrinkage and clipping act on
# whole variables).
_DENSE_SETTINGS = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "momentum",
    "l2_shrinkage_regularization_strength",
)


class SolverSpec(NamedTuple):
    """A validated ``solver``: the optimizer's class name and its settings,
    hashable, so that equal solvers share built training graphs."""

    class_name: str
    config: tuple  # sorted (setting, value) pairs

    @classmethod
    def of(cls, solver):
        """The spec of a ``solver`` parameter; a ValueError or TypeError
        naming the problem if it is not a valid one."""
        if isinstance(solver, cls):
            return solver
        if isinstance(solver, str):
            return cls(_class_name(solver), ())
        if not isinstance(solver, dict):
            raise TypeError(
                "solver must be the name of a Keras optimizer (str) or a dict "
                f"{{'class_name': ..., 'config': {{...}}}}; got {type(solver).__name__}."
            )
        unknown = set(solver) - {"class_name", "config"}
        if "class_name" not in solver or unknown:
            raise ValueError(
                "A solver dict has the keys 'class_name' and, optionally, 'config' "
                "(keras.optimizers.serialize's output without 'module' and "
                "'registered_name', its config holding only the settings to change); "
                f"got {sorted(solver)}."
            )
        config = solver.get("config", {})
        if not isinstance(config, dict):
            raise TypeError(f"The solver's config must be a dict; got {type(config).__name__}.")
        for setting, value in config.items():
            if setting in _RESERVED:
                raise ValueError(
                    f"The solver's config sets {setting!r}, which the estimator sets: "
                    "use learning_rate_init (and learning_rate for its schedule) instead."
                    if setting == "learning_rate"
                    else f"The solver's config sets {setting!r}, which the estimator sets."
                )
            if not isinstance(setting, str) or not (
                value is None or isinstance(value, (Real, np.bool_))
            ):
                raise TypeError(
                    "The solver's config maps setting names to numbers, booleans or "
                    f"None; got {setting!r}: {value!r}."
                )
            supported, why = _UNSUPPORTED.get(setting, (None, None))
            if supported is not None and not supported(value):
                raise ValueError(
                    f"The solver's setting {setting}={value!r} is not supported: {why}."
                )
        class_name = _class_name(solver["class_name"])
        _check_setting_names(class_name, config)
        for setting, value in config.items():
            _check_setting(class_name, setting, value)
        if class_name == "Ftrl":
            _check_ftrl_denominator(config)
        # NumPy scalars as Python's: the spec is JSON data (see serialize).
        plain = {name: getattr(value, "item", lambda: value)() for name, value in config.items()}
        return cls(class_name, tuple(sorted(plain.items())))

    @property
    def row_sparse(self):
        """Whether the trainer can update only the rows of a batch's features
        with this optimizer (in its row-sparse form of SGD, Adagrad or FTRL)."""
        settings = dict(self.config)
        return self.class_name in ("SGD", "Adagrad", "Ftrl") and not any(
            settings.get(name) for name in _DENSE_SETTINGS
        )

    @property
    def accepts_padding(self):
        """Whether rows of zeros that no data reaches stay zero under this
        optimizer and change nothing in the other rows' updates: true of those
        that update each entry from its own gradient and slots (norms of whole
        variables, as in clipping or Lamb, ignore zeros too). Adafactor scales
        its steps by the root mean square of the whole variable, and Muon by
        the variable's shape."""
        return self.class_name not in ("Adafactor", "Muon")

    def optimizer(self):
        """A new Keras optimizer of this spec (imports Keras)."""
        import keras

        optimizer_class = getattr(keras.optimizers, self.class_name, None)
        if optimizer_class is None:
            raise ValueError(
                f"solver={self.class_name.lower()!r} needs a newer Keras: Keras "
                f"{keras.__version__} has no optimizers.{self.class_name}."
            )
        try:
            # Named: Keras numbers unnamed optimizers with a global counter.
            return optimizer_class(name=f"sklearn_fm_{self.class_name.lower()}", **dict(self.config))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Keras refused the solver's config for {self.class_name}: {error}"
            ) from None

    def serialize(self):
        """The spec as a ``solver`` dict (JSON data)."""
        return {"class_name": self.class_name, "config": dict(self.config)}

    def __str__(self):
        if not self.config:
            return self.class_name.lower()
        return repr({"class_name": self.class_name, "config": dict(self.config)})


class OptimizerState(NamedTuple):
    """What ``partial_fit`` continues: the optimizer's variables (step count,
    learning rate and slots, in Keras' order) and the solver they belong to."""

    solver: SolverSpec
    variables: list


# The ranges of the settings of Keras' optimizers that Keras itself checks
# only once training has started, or never (a negative epsilon, a beta_1 of
# 2): refused here, before TensorFlow is imported.
_SETTING_RANGES = {
    **dict.fromkeys(
        ("beta_1", "beta_2", "rho", "ema_momentum", "adam_beta_1", "adam_beta_2"),
        ("from 0 to 1", lambda value: 0 <= value <= 1),
    ),
    # The optimizers divide by epsilon plus the squares of gradients, which
    # are 0 for the features a batch lacks (and the layer's padding): 0 / 0.
    **dict.fromkeys(
        ("epsilon", "epsilon_1", "epsilon_2"),
        ("greater than 0 in float32 (at least 1e-45)", lambda value: _as_float32(value) > 0),
    ),
    **dict.fromkeys(
        (
            "weight_decay",
            "adam_weight_decay",
            "clipnorm",
            "clipvalue",
            "global_clipnorm",
            "momentum",
            "initial_accumulator_value",
            "l1_regularization_strength",
            "l2_regularization_strength",
            "l2_shrinkage_regularization_strength",
            "beta",
        ),
        ("at least 0", lambda value: value >= 0),
    ),
    **dict.fromkeys(
        ("gradient_accumulation_steps", "ema_overwrite_frequency"),
        ("an integer of at least 1", lambda value: value >= 1 and float(value).is_integer()),
    ),
    **dict.fromkeys(
        ("ns_steps", "warmup_steps"),
        ("an integer of at least 0", lambda value: value >= 0 and float(value).is_integer()),
    ),
}
# Settings that must stay below 1 for an optimizer, by class name: its bias
# correction divides by 1 - value**t, or its running average never leaves
# its start (such fits diverged in their first epoch or stopped moving).
_BELOW_ONE = {
    "Adam": ("beta_1", "beta_2"),
    "AdamW": ("beta_1", "beta_2"),
    "Adamax": ("beta_1",),
    "Nadam": ("beta_2",),
    "Lamb": ("beta_1", "beta_2"),
    "ScheduleFreeAdamW": ("beta_2",),
    "RMSprop": ("rho",),
    "Muon": ("adam_beta_1", "adam_beta_2"),
}
_FLOAT32_MAX = 3.4028234663852886e38
# The settings Keras' optimizers default to None (off), and those that are
# switches (booleans).
_NONE_SETTINGS = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
    "exclude_layers",
)
_SWITCHES = ("amsgrad", "centered", "nesterov", "relative_step", "use_ema", "exclude_embeddings")
# Where Keras gives one of those a number by default instead.
_NOT_NONE = {"AdamW": ("weight_decay",), "Muon": ("weight_decay",)}


def _as_float32(value):
    """The finite ``value`` rounded to float32, as Keras applies it."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _check_setting(class_name, setting, value):
    """Refuse a setting's value that the optimizer ``class_name`` cannot
    train with. A boolean stands for the number it equals, except in the
    settings that are switches."""
    if value is None:
        if setting in _NONE_SETTINGS and setting not in _NOT_NONE.get(class_name, ()):
            return
        raise ValueError(
            f"The solver's setting {setting}=None is not valid: keras.optimizers."
            f"{class_name} takes a value for it (leave it out for Keras' default)."
        )
    if setting in _SWITCHES:
        if value not in (0, 1):
            raise ValueError(
                f"The solver's setting {setting} is a switch, True or False; got {value!r}."
            )
        return
    if not math.isfinite(value):
        raise ValueError(f"The solver's setting {setting}={value!r} is not a finite number.")
    if abs(value) > _FLOAT32_MAX:  # Keras would apply it as infinity
        raise ValueError(
            f"The solver's setting {setting}={value!r} is beyond the range of float32 "
            f"({_FLOAT32_MAX:.3g}), in which training computes."
        )
    expected, valid = _SETTING_RANGES.get(setting, (None, None))
    if valid is not None and not valid(value):
        raise ValueError(f"The solver's setting {setting} must be {expected}; got {value!r}.")
    if setting in _BELOW_ONE.get(class_name, ()) and not value < 1:
        raise ValueError(
            f"The solver's setting {setting} of {class_name} must be less than 1: "
            f"{class_name} does not train with {setting}={value!r}."
        )


def _check_ftrl_denominator(config):
    """Refuse an FTRL that divides 0 by 0: its step divides by the root of a
    weight's accumulator plus its L2 terms, and the accumulator of a feature
    that a batch lacks (or of the layer's padding) stays at its start."""
    start = config.get("initial_accumulator_value", 0.1)
    l2_terms = (config.get(name, 0.0) for name in ("l2_regularization_strength", "beta"))
    if _as_float32(start) == 0 and not any(_as_float32(value) > 0 for value in l2_terms):
        raise ValueError(
            "The solver's setting initial_accumulator_value of Ftrl must be greater "
            "than 0 in float32 (at least 1e-45) unless l2_regularization_strength or "
            "beta is: FTRL divides by their sum for the features a batch lacks; "
            f"got {start!r}."
        )


def _check_setting_names(class_name, config):
    """Refuse settings that the optimizer ``class_name`` does not have."""
    known = (*_OPTIMIZER_SETTINGS[class_name], *_COMMON_SETTINGS)
    unknown = sorted(set(config) - set(known))
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        raise ValueError(
            f"The solver's config sets {', '.join(map(repr, unknown))}, which "
            f"keras.optimizers.{class_name} does not have"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; its settings are {', '.join(sorted(known))}."
        )


def _class_name(name):
    if not isinstance(name, str) or name.lower() not in _CLASS_NAMES:
        raise ValueError(
            f"solver {name!r} is not the name of a Keras optimizer; expected one of "
            f"{', '.join(map(repr, SOLVER_NAMES))} (any case)."
        )
    return _CLASS_NAMES[name.lower()]
