"""Transformers for the feature blocks of an FM design matrix."""

from collections.abc import Hashable
from numbers import Integral
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import normalize
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._categorical import is_foreign_frame
from ._labels import check_printed_apart, label_key
from ._random import local_random_state

# The cells that hold several labels.
_LABEL_SETS = (list, tuple, set, frozenset, np.ndarray)


class MultiHotEncoder(TransformerMixin, BaseEstimator):
    """Encode columns whose cells hold sets of labels as multi-hot blocks.

    A cell is a string of labels joined by ``separator`` (MovieLens genres:
    ``"Action|Comedy"``), a list, tuple or set of labels, or a single other
    value. Missing cells and values (None, NaN, ``pd.NA``, NaT, also inside a
    list) and labels unseen during ``fit`` encode as no label. Each input
    column becomes one block of indicator columns, like
    :class:`~sklearn.preprocessing.OneHotEncoder` with several ones per row;
    unlike :class:`~sklearn.preprocessing.MultiLabelBinarizer` it transforms
    ``X``, so it fits in a :class:`~sklearn.compose.ColumnTransformer`.

    Parameters
    ----------
    separator : str, default="|"
        What separates the labels inside a string cell.

    norm : {"l1", "l2"} or None, default=None
        Scale each row of each block to unit norm, so that a sample with many
        labels does not weigh more than one with a single label. None keeps
        the indicators at 1.

    sparse_output : bool, default=True
        Return a sparse CSR matrix, or a dense ndarray when False, as
        :class:`~sklearn.preprocessing.OneHotEncoder`'s ``sparse_output``:
        ``set_output(transform="pandas")`` (or ``"polars"``) needs the dense
        one.

    Attributes
    ----------
    categories_ : list of ndarray
        The labels of each input column, in the order of the output columns:
        sorted by kind (booleans, numbers, strings, bytes, other values), then
        by value. Labels of one column that would print alike in the feature
        names, such as ``1`` and ``"1"``, are refused.

    n_features_in_ : int
        Number of input columns.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of the input columns, when ``X`` had string column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_fm import MultiHotEncoder
    >>> movies = pd.DataFrame({"genres": ["Action|Comedy", "Drama", "Comedy"]})
    >>> encoder = MultiHotEncoder().fit(movies)
    >>> encoder.get_feature_names_out().tolist()
    ['genres_Action', 'genres_Comedy', 'genres_Drama']
    >>> encoder.transform(movies).toarray()
    array([[1., 1., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """

    _parameter_constraints: dict = {
        "separator": [str],
        "norm": [StrOptions({"l1", "l2"}), None],
        "sparse_output": ["boolean"],
    }

    def __init__(self, *, separator="|", norm=None, sparse_output=True):
        self.separator = separator
        self.norm = norm
        self.sparse_output = sparse_output

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the labels of each column.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Cells of labels.

        y : None
            Ignored.

        Returns
        -------
        self : MultiHotEncoder
            The fitted encoder.
        """
        if not self.separator:  # str.split refuses it, naming no parameter
            raise ValueError("separator must be a non-empty string; got ''.")
        X = self._validate(X, reset=True)
        names = _check_feature_names_in(self, None)
        self.categories_ = [
            self._column_categories(column, name) for column, name in zip(X.T, names)
        ]
        return self

    def _column_categories(self, column, name):
        """The sorted labels of ``column``, the input column ``name``."""
        labels = {}
        for cell in column:
            for label in self._labels(cell):
                key = label_key(label)
                # Equal numbers are one label, named by the float if one is
                # among them (1.0 for 1 and 1.0), whatever the rows' order.
                if key not in labels or isinstance(label, float):
                    labels[key] = label
        try:
            keys = sorted(labels)  # by kind, then value: mixed kinds still sort
        except TypeError as error:
            raise TypeError(
                f"MultiHotEncoder cannot sort the labels of the column {name!r}: {error}."
            ) from None
        categories = np.array([labels[key] for key in keys], dtype=object)
        check_printed_apart(categories, name, "labels")
        return categories

    def transform(self, X):
        """Encode ``X`` as multi-hot blocks, a sparse CSR matrix unless
        ``sparse_output=False``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Cells of labels.

        Returns
        -------
        X_out : {sparse matrix, ndarray} of shape (n_samples, n_labels)
            One block of columns per input column, in ``categories_`` order.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        blocks = []
        for column, categories in zip(X.T, self.categories_):
            index = {label_key(label): i for i, label in enumerate(categories)}
            rows, cols = [], []
            for row, cell in enumerate(column):
                for key in map(label_key, self._labels(cell)):
                    if key in index:
                        rows.append(row)
                        cols.append(index[key])
            # Built from coordinates, so repeated labels are already summed.
            block = sp.csr_matrix(
                (np.ones(len(rows)), (rows, cols)), shape=(X.shape[0], len(categories))
            )
            block.data[:] = 1.0  # a label repeated in a cell is still one label
            # A column without labels in fit has no columns to normalise.
            if self.norm and block.shape[1]:
                block = normalize(block, norm=self.norm)
            blocks.append(block)
        X_out = sp.hstack(blocks, format="csr")
        return X_out if self.sparse_output else X_out.toarray()

    def get_feature_names_out(self, input_features=None):
        """``"<input column>_<label>"`` for every output column.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; by default ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The output column names.
        """
        check_is_fitted(self)
        input_features = _check_feature_names_in(self, input_features)
        return np.array(
            [
                f"{feature}_{label}"
                for feature, categories in zip(input_features, self.categories_)
                for label in categories
            ],
            dtype=object,
        )

    def _validate(self, X, reset):
        if isinstance(X, (list, tuple)):
            X = _table_of_cells(X)
        return validate_data(
            self, X, reset=reset, dtype=object, ensure_all_finite=False
        )

    def _labels(self, cell):
        if isinstance(cell, str):
            return tuple(label for label in cell.split(self.separator) if label)
        if isinstance(cell, _LABEL_SETS):
            # A list's values are labels as they are, read as a scalar cell is.
            return tuple(label for value in cell for label in _scalar_label(value))
        return _scalar_label(cell)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Cells of pandas' category columns encode as their values do.
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags


def _table_of_cells(rows):
    """The rows (lists or tuples of cells) as a 2-D object array, each cell
    as it is: NumPy makes list cells of one length a third dimension. Other
    input is returned as it is, for scikit-learn's validation to judge."""
    if not all(isinstance(row, (list, tuple)) for row in rows):
        return rows
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise ValueError(
            f"The rows of X must have one number of cells; got rows of {sorted(widths)}."
        )
    table = np.empty((len(rows), widths.pop() if widths else 0), dtype=object)
    for position, row in enumerate(rows):
        for column, cell in enumerate(row):
            table[position, column] = cell
    return table


def _scalar_label(value):
    """The labels of one value: none if it is missing or empty, else itself,
    with NumPy scalars as Python ones so that ``np.int64(1)`` and ``1`` (or
    ``np.str_("a")`` and ``"a"``) are one label and a bool stays a bool."""
    if isinstance(value, (bool, np.bool_)):
        return (bool(value),)
    if isinstance(value, (Integral, np.integer)):
        return (int(value),)
    # As a string cell's labels are: np.str_("a") and a (str, Enum) member
    # are their text.
    if isinstance(value, str):
        value = str.__str__(value)
    elif isinstance(value, bytes):
        value = bytes(value)
    elif isinstance(value, (float, np.floating)):
        value = float(value)
    if isinstance(value, (complex, np.complexfloating)):  # as scikit-learn words it
        raise ValueError(
            "Complex data not supported: MultiHotEncoder's labels are strings, "
            f"numbers or other hashable values that sort; got {value!r}."
        )
    if isinstance(value, _LABEL_SETS) or not isinstance(value, Hashable):
        raise TypeError(
            "MultiHotEncoder reads a cell as a string of labels, a list, tuple or set "
            f"of labels, or one hashable label; a label cannot be a {type(value).__name__}."
        )
    if pd.isna(value) or isinstance(value, str) and not value:  # None, NaN, pd.NA, NaT, ""
        return ()
    return (value,)


class _Ratings(NamedTuple):
    """The user and the item of each row."""

    users: np.ndarray
    items: np.ndarray


class ImplicitFeedbackEncoder(TransformerMixin, BaseEstimator):
    """Encode each (user, item) row by the set of items its user rated.

    The implicit-feedback block of SVD++ (Koren, 2008) as FM features: ``fit``
    learns which items each user rated, and ``transform`` gives every row one
    column per item, non-zero for the items its user rated, scaled by
    ``1 / sqrt(|N(u)|)`` with the default ``norm="l2"``. An FM on user ids,
    item ids and this block models a user also through the items they chose
    to rate, as SVD++ does. Only the user column is read by ``transform``;
    users not seen in ``fit`` encode as empty rows.

    Each row has as many non-zeros as its user has rated items, so the block
    dominates the size of the design matrix and the cost of training.
    ``max_items`` keeps a random subset of each user's items to bound it.

    Parameters
    ----------
    norm : {"l1", "l2"} or None, default="l2"
        Scale each user's row to unit norm: ``"l2"`` gives SVD++'s
        ``|N(u)|**-0.5``, ``"l1"`` gives ``1 / |N(u)|``, None keeps ones.

    max_items : int or None, default=None
        Keep at most this many rated items per user, drawn at random in
        ``fit``. None keeps them all.

    random_state : int, RandomState instance or None, default=None
        Draws the items kept under ``max_items``. None draws fresh entropy,
        never from NumPy's global generator.

    Attributes
    ----------
    users_ : ndarray of shape (n_users,)
        The sorted users seen in ``fit``.

    items_ : ndarray of shape (n_items,)
        The sorted items seen in ``fit``, in the order of the output columns.

    user_items_ : sparse matrix of shape (n_users, n_items)
        The encoded row of each user in ``users_``.

    n_features_in_ : int
        Number of input columns (always 2).

    feature_names_in_ : ndarray of shape (2,)
        Names of the input columns, when ``X`` had string column names.

    Notes
    -----
    ``X`` has exactly two columns, user and item, whose values are labels
    (ids), not measurements. scikit-learn's generic checks
    (``sklearn.utils.estimator_checks.check_estimator``) feed transformers
    tables of any number of numeric columns, so most of them do not apply
    to this encoder, which refuses other column counts with a ValueError.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_fm import ImplicitFeedbackEncoder
    >>> ratings = pd.DataFrame({"user": [1, 1, 1, 1, 2], "item": ["a", "b", "c", "d", "a"]})
    >>> encoder = ImplicitFeedbackEncoder().fit(ratings)
    >>> encoder.get_feature_names_out().tolist()
    ['rated_item_a', 'rated_item_b', 'rated_item_c', 'rated_item_d']
    >>> encoder.transform(pd.DataFrame({"user": [1, 2, 3], "item": ["a", "a", "a"]})).toarray()
    array([[0.5, 0.5, 0.5, 0.5],
           [1. , 0. , 0. , 0. ],
           [0. , 0. , 0. , 0. ]])
    """

    _parameter_constraints: dict = {
        "norm": [StrOptions({"l1", "l2"}), None],
        "max_items": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, *, norm="l2", max_items=None, random_state=None):
        self.norm = norm
        self.max_items = max_items
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the items each user rated.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2)
            User in the first column, item in the second. A pair seen
            several times counts once.

        y : None
            Ignored.

        Returns
        -------
        self : ImplicitFeedbackEncoder
            The fitted encoder.
        """
        users, items = self._validate(X, reset=True)
        self.users_, users = np.unique(users, return_inverse=True)
        self.items_, items = np.unique(items, return_inverse=True)
        rated = sp.csr_matrix(
            (np.ones(len(users)), (users.ravel(), items.ravel())),
            shape=(self.users_.shape[0], self.items_.shape[0]),
        )
        rated.data[:] = 1.0
        if self.max_items is not None:
            rated = self._subsample(rated, local_random_state(self.random_state))
        self.user_items_ = normalize(rated, norm=self.norm) if self.norm else rated
        return self

    def transform(self, X):
        """Encode the user of each row by the items that user rated.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2)
            User in the first column, item in the second (not read).

        Returns
        -------
        X_out : sparse matrix of shape (n_samples, n_items)
            CSR matrix with the columns of ``items_``.
        """
        check_is_fitted(self)
        users = self._validate(X, reset=False).users
        n_users = self.users_.shape[0]
        if _label_kind(users, "users") == _label_kind(self.users_, "users"):
            position = np.searchsorted(self.users_, users).clip(max=n_users - 1)
            known = self.users_[position] == users
        else:  # users of the other kind (strings, numbers) are none fit saw
            position, known = 0, np.zeros(len(users), dtype=bool)
        # Unknown users take the extra empty last row.
        rows = sp.vstack([self.user_items_, sp.csr_matrix((1, self.items_.shape[0]))])
        return rows.tocsr()[np.where(known, position, n_users)]

    def get_feature_names_out(self, input_features=None):
        """``"rated_<item column>_<item>"`` for every output column.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; by default ``feature_names_in_`` or
            ``x0, x1``.

        Returns
        -------
        feature_names_out : ndarray of str
            The output column names.
        """
        check_is_fitted(self)
        item_column = _check_feature_names_in(self, input_features)[1]
        return np.array([f"rated_{item_column}_{item}" for item in self.items_], dtype=object)

    def _subsample(self, rated, rng):
        """Keep ``max_items`` random columns of each row that has more."""
        keep = np.ones(rated.nnz, dtype=bool)
        for row in np.flatnonzero(np.diff(rated.indptr) > self.max_items):
            start, stop = rated.indptr[row], rated.indptr[row + 1]
            dropped = rng.choice(stop - start, stop - start - self.max_items, replace=False)
            keep[start + dropped] = False
        coo = rated.tocoo()
        return sp.csr_matrix(
            (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=rated.shape
        )

    def _validate(self, X, reset):
        """The :class:`_Ratings` of ``X``, each column in a dtype of its own."""
        # Column by column, as OneHotEncoder reads a DataFrame: in one dtype,
        # int64 ids beside a float column were floats (the ids above 2**53
        # merged), and dates beside numbers were refused.
        columns = _frame_columns(X)
        if columns is not None:
            validate_data(self, X, reset=reset, skip_check_array=True)
        else:
            X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
            columns = list(X.T)
        if len(columns) != 2:
            raise ValueError(
                f"ImplicitFeedbackEncoder expects 2 columns (user, item), got {len(columns)}."
            )
        users, items = (
            pd.Series(
                check_array(
                    column, ensure_2d=False, dtype=None, ensure_all_finite=False, estimator=self
                )
            )
            .infer_objects()
            .to_numpy()
            for column in columns
        )
        if pd.isna(users).any() or pd.isna(items).any():
            raise ValueError("ImplicitFeedbackEncoder got a missing user or item.")
        _label_kind(users, "users")
        _label_kind(items, "items")
        return _Ratings(users, items)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def _frame_columns(X):
    """The columns of the pandas, polars or pyarrow data frame ``X``, each as
    an array in its own dtype; None for other input."""
    if hasattr(X, "iloc") and getattr(X, "ndim", 0) == 2:
        # to_numpy: check_array makes nullable (Int64) and Arrow integers floats.
        return [X.iloc[:, column].to_numpy() for column in range(X.shape[1])]
    if is_foreign_frame(X):
        schema = X.schema  # pyarrow's has names, polars' is a mapping of them
        names = schema.names if hasattr(schema, "types") else list(schema)
        return [X[name].to_numpy() for name in names]
    return None


def _label_kind(labels, what):
    """"str" for labels that are all strings, "number" for labels none of
    which is, else a TypeError naming ``what`` (NumPy cannot sort a mix)."""
    if labels.dtype != object:
        return "str" if labels.dtype.kind in "US" else "number"
    strings = sum(isinstance(label, str) for label in labels)
    if 0 < strings < len(labels):
        raise TypeError(
            f"ImplicitFeedbackEncoder needs {what} of one kind, all strings or all "
            "numbers (as OneHotEncoder does); got both."
        )
    return "str" if strings else "number"
