"""Field-aware Factorization Machines (FFM): FFMRegressor and FFMClassifier.

They are the FM estimators with one factor vector per field for every
feature; the training loop, the validation and the persistence are theirs
(see ``_base``). The model that trains is
:class:`sklearn_fm.keras.FieldAwareFactorizationMachine`.
"""

import re

import numpy as np

from ._classifier import FMClassifier
from ._parameters import check_factors_budget
from ._regressor import FMRegressor


def field_codes(fields, n_features_in, input_columns=None):
    """The field of each feature of the model, numbered from 0 in the sorted
    order of the labels ``fields`` of the ``n_features_in`` input columns
    (each its own field for None), or a ValueError naming the problem.

    With categorical input, ``input_columns`` is the input column of each
    feature of the model: the categories of a column share its field.
    """
    codes = _input_field_codes(fields, n_features_in)
    if input_columns is None:
        return codes
    return np.unique(codes[input_columns], return_inverse=True)[1]


def _input_field_codes(fields, n_features):
    if fields is None:
        return np.arange(n_features)
    labels = np.asarray(fields, dtype=object)
    # NumPy makes a mapping, a set or a view of either one value: no sequence.
    if labels.ndim == 0:
        raise ValueError(
            f"fields must give the field of each of the {n_features} features of X in the "
            f"order of the columns of X, as a list or array; got a {type(fields).__name__}."
        )
    if labels.ndim != 1 or len(labels) != n_features:
        raise ValueError(
            f"fields must give the field of each of the {n_features} features of X, "
            f"as a 1-D array-like; got one of shape {labels.shape}."
        )
    kinds = {
        "int" if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_))
        else "str" if isinstance(label, str)
        else type(label).__name__
        for label in labels
    }
    if len(kinds) != 1 or kinds - {"int", "str"}:
        raise ValueError(
            "fields must be labels of one type, all integers or all strings; got "
            f"labels of the types {sorted(kinds)}."
        )
    if kinds == {"int"}:
        try:
            labels = labels.astype(np.int64)
        except OverflowError:
            raise ValueError(
                "fields must be labels of at most 64 bits; an integer label is larger."
            ) from None
    return np.unique(labels.astype(str) if kinds == {"str"} else labels, return_inverse=True)[1]


class _FieldAwareMixin:
    """What makes an FM estimator field-aware: the ``fields`` parameter."""

    _parameter_constraints: dict = {"fields": ["array-like", None]}

    def _training_fields(self, n_features_in, input_columns, n_outputs):
        if self.fields is None:
            # Each input column a field: the model's size is known before the
            # columns are numbered, of which a sparse X may have billions.
            n_features, n_fields = (
                (n_features_in, n_features_in)
                if input_columns is None
                else (len(input_columns), len(np.unique(input_columns)))
            )
            check_factors_budget((n_features, n_outputs, n_fields, self.n_factors))
        return field_codes(self.fields, n_features_in, input_columns)

    def _fitted_fields(self):
        return self.fields_


_FIELDS_DOC = """
    fields : array-like of shape (n_features,), default=None
        The field of each column of ``X``, as integer or string labels (for
        example ``["user"] * n_users + ["item"] * n_items``); columns with
        the same label form one field. None makes every column a field of
        its own, which suits a few dense columns and categorical input (the
        categories of a ``category`` column share its field); for one-hot
        columns encoded beforehand, give each encoded variable one field.
        Training and prediction cost O(n_fields * n_factors) per non-zero
        plus O(n_fields**2 * n_factors) per row, and the factors take
        n_fields times the memory of an FM's (at most ``2**28`` values: a
        larger model is refused before training).

    n_factors : int, default=8
        Dimension of each factor vector (one per feature and field).
"""

def _other_parameters_doc(estimator):
    """The numpydoc entries of the parameters of ``estimator`` (an FM class)
    that its field-aware subclass shares, as written in its docstring."""
    if estimator.__doc__ is None:  # python -OO strips docstrings
        return ""
    section = estimator.__doc__.split("    Parameters\n    ----------\n", 1)[1]
    section = section.split("\n    Attributes\n", 1)[0].rstrip()
    entries = re.split(r"\n(?=    \w+ : )", section)
    return "\n".join(entry for entry in entries if not entry.startswith("    n_factors : "))


_FIELD_ATTRIBUTES_DOC = """
    fields_ : ndarray of shape (n_features,)
        The field of each feature, numbered from 0 in the sorted order of
        the labels of ``fields``.

    n_fields_ : int
        The number of fields.
"""


class FFMRegressor(_FieldAwareMixin, FMRegressor):
    __doc__ = f"""Field-aware Factorization Machine regressor (FFM; Juan et al., 2016).

    Each feature ``i`` belongs to a field ``f(i)`` (user, item, device,
    hour, ...) and has one factor vector ``v_ig`` per field ``g``; the pair
    ``(i, j)`` interacts through the vector of ``i`` for the field of ``j``
    and the vector of ``j`` for the field of ``i``::

        y(x) = w0 + sum_i w_i x_i + sum_{{i<j}} <v_i f(j), v_j f(i)> x_i x_j

    so that a feature can interact differently with each field. With one
    field this is :class:`FMRegressor`, whose parameters, training,
    validation, persistence and methods it shares; it adds ``fields``, and
    ``n_factors`` defaults to 8 (the dimension of each of a feature's vectors).

    Parameters
    ----------{_FIELDS_DOC}
{_other_parameters_doc(FMRegressor)}

    Attributes
    ----------
    factors_ : ndarray of shape (n_features, n_fields, n_factors)
        The factor vectors: ``factors_[i, g]`` is ``v_ig``, and the
        interaction weight of features ``i`` and ``j`` is
        ``factors_[i, fields_[j]] @ factors_[j, fields_[i]]``.
{_FIELD_ATTRIBUTES_DOC}
    The other attributes are those of :class:`FMRegressor`.

    See Also
    --------
    FMRegressor : The FM, one factor vector per feature.
    FFMClassifier : The field-aware FM for classification.

    References
    ----------
    Y. Juan, Y. Zhuang, W.-S. Chin and C.-J. Lin, "Field-aware Factorization
    Machines for CTR Prediction", RecSys 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_fm import FFMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(2000, 3))
    >>> y = X[:, 0] * X[:, 1] - X[:, 1] * X[:, 2]
    >>> reg = FFMRegressor(fields=["a", "b", "c"], random_state=0).fit(X, y)
    >>> reg.factors_.shape
    (3, 3, 8)
    >>> bool(reg.score(X, y) > 0.95)
    True
    """

    _parameter_constraints: dict = {
        **FMRegressor._parameter_constraints,
        **_FieldAwareMixin._parameter_constraints,
    }

    def __init__(
        self,
        *,
        fields=None,
        n_factors=8,
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
        self.fields = fields


class FFMClassifier(_FieldAwareMixin, FMClassifier):
    __doc__ = f"""Field-aware Factorization Machine classifier (FFM; Juan et al., 2016).

    Scores each class with a field-aware FM: each feature ``i`` belongs to a
    field ``f(i)`` and has one factor vector ``v_ig`` per field ``g``, and
    the pair ``(i, j)`` interacts through ``<v_i f(j), v_j f(i)>``::

        f(x) = w0 + sum_i w_i x_i + sum_{{i<j}} <v_i f(j), v_j f(i)> x_i x_j

    which lets a feature interact differently with each field, as in
    click-through-rate data of several categorical fields. With one field
    this is :class:`FMClassifier`, whose parameters, training, validation,
    persistence and methods it shares; it adds ``fields``, and ``n_factors``
    defaults to 8 (the dimension of each of a feature's vectors).

    Parameters
    ----------{_FIELDS_DOC}
{_other_parameters_doc(FMClassifier)}

    Attributes
    ----------
    factors_ : ndarray of shape (n_features, n_fields, n_factors) or \
            (n_classes, n_features, n_fields, n_factors)
        The factor vectors: ``factors_[i, g]`` (of class ``c``:
        ``factors_[c, i, g]``) is ``v_ig``.
{_FIELD_ATTRIBUTES_DOC}
    The other attributes are those of :class:`FMClassifier`.

    See Also
    --------
    FMClassifier : The FM, one factor vector per feature.
    FFMRegressor : The field-aware FM for regression.

    References
    ----------
    Y. Juan, Y. Zhuang, W.-S. Chin and C.-J. Lin, "Field-aware Factorization
    Machines for CTR Prediction", RecSys 2016.

    Examples
    --------
    Clicks of users on ads that depend on the user's device, one-hot encoded
    in three fields:

    >>> import numpy as np
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from sklearn_fm import FFMClassifier
    >>> rng = np.random.RandomState(0)
    >>> columns = rng.randint(0, 5, size=(3000, 3))  # user, ad, device
    >>> y = (columns[:, 0] + columns[:, 1] * columns[:, 2]) % 2
    >>> encoder = OneHotEncoder().fit(columns)
    >>> fields = np.repeat(["user", "ad", "device"], 5)
    >>> clf = FFMClassifier(fields=fields, random_state=0)
    >>> clf = clf.fit(encoder.transform(columns), y)
    >>> clf.n_fields_
    3
    """

    _parameter_constraints: dict = {
        **FMClassifier._parameter_constraints,
        **_FieldAwareMixin._parameter_constraints,
    }

    def __init__(
        self,
        *,
        fields=None,
        n_factors=8,
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
            class_weight=class_weight,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )
        self.fields = fields
