"""Categorical input: the ``category`` columns of a pandas DataFrame, one-hot
encoded inside the estimators (``categorical_features="from_dtype"``).

Each such column becomes one column per category seen in the first ``fit``
or ``partial_fit``; a value that is missing or was not seen then encodes as
no column at all, as ``OneHotEncoder(handle_unknown="ignore")`` does. The
other columns pass through as they are, in their place.
"""

from typing import NamedTuple

import itertools

import numpy as np
import pandas as pd
import scipy.sparse as sp


class CategoricalEncoding(NamedTuple):
    """Which input columns are categorical, and the categories of each."""

    is_categorical: np.ndarray  # bool (n_features_in,)
    categories: list  # one 1-D array per categorical column, in column order

    @classmethod
    def learn(cls, X, categorical_features):
        """The encoding of the ``category`` columns of the DataFrame ``X``
        under ``categorical_features``; None if there are none to encode."""
        if categorical_features != "from_dtype":
            return None
        if _is_foreign_frame(X) and _has_categorical_columns(X):
            X = _as_pandas(X)
        if not isinstance(X, pd.DataFrame):
            return None
        is_categorical = np.array([isinstance(dtype, pd.CategoricalDtype) for dtype in X.dtypes])
        if not is_categorical.any():
            return None
        categories = []
        for position in np.flatnonzero(is_categorical):
            column = X.iloc[:, position]
            seen = np.unique(column.cat.codes.to_numpy())
            categories.append(np.asarray(column.cat.categories[seen[seen >= 0]]))
        return cls(is_categorical, categories)

    @property
    def input_columns(self):
        """The input column of each encoded column, (n_encoded,)."""
        widths = np.ones(len(self.is_categorical), dtype=np.int64)
        widths[self.is_categorical] = [len(categories) for categories in self.categories]
        return np.repeat(np.arange(len(self.is_categorical)), widths)

    @staticmethod
    def frame(X):
        """``X`` as the pandas DataFrame that :meth:`numeric_view` and
        :meth:`encode` read: itself; a polars DataFrame or pyarrow Table
        converted, with its column names and category columns; or a dense
        array's columns by position."""
        if sp.issparse(X):
            raise ValueError(
                "This model one-hot encodes categorical columns of its input: X must be "
                "a DataFrame (pandas, polars or pyarrow) or a dense array with the "
                "columns fit saw, not a sparse matrix."
            )
        if isinstance(X, pd.DataFrame):
            return X
        if _is_foreign_frame(X):
            return _as_pandas(X)
        return pd.DataFrame(np.asarray(X, dtype=object))

    def numeric_view(self, X):
        """The :meth:`frame` ``X`` with every categorical column replaced by
        zeros: what the estimators validate (names, column count, the numeric
        columns)."""
        if X.shape[1] != len(self.is_categorical):  # for validation to name the problem
            return pd.DataFrame(np.zeros(X.shape), columns=X.columns)
        view = X.copy(deep=False)
        for position in np.flatnonzero(self.is_categorical):
            view.isetitem(position, 0.0)
        return view

    def encode(self, X, numeric):
        """The encoded CSR matrix of the :meth:`frame` ``X``, given
        ``numeric``, the validated ``numeric_view`` of ``X`` as an array."""
        blocks = []
        categorical = iter(self.categories)
        position = 0
        # Runs of numeric columns pass through as one block each.
        for is_categorical, run in itertools.groupby(self.is_categorical):
            width = len(list(run))
            if is_categorical:
                blocks += [
                    _one_hot(X.iloc[:, column], next(categorical))
                    for column in range(position, position + width)
                ]
            else:
                blocks.append(sp.csr_matrix(numeric[:, position : position + width]))
            position += width
        return sp.hstack(blocks, format="csr", dtype=numeric.dtype)

    def feature_names(self, input_names):
        """The names of the encoded columns: the input name of a numeric
        column, ``f"{name}_{category}"`` for a category, as OneHotEncoder."""
        names = []
        categorical = iter(self.categories)
        for name, is_categorical in zip(input_names, self.is_categorical):
            if is_categorical:
                names += [f"{name}_{category}" for category in next(categorical)]
            else:
                names.append(name)
        return np.asarray(names, dtype=object)


# Data frames of other libraries, by module and class, which the encoding
# reads through pandas (neither library is imported to recognise them).
_FOREIGN_FRAMES = {("polars", "DataFrame"), ("pyarrow", "Table"), ("pyarrow", "RecordBatch")}


def _is_foreign_frame(X):
    return (type(X).__module__.partition(".")[0], type(X).__name__) in _FOREIGN_FRAMES


def _has_categorical_columns(X):
    """Whether the polars or pyarrow frame ``X`` has a column of a categorical
    type (polars' Categorical or Enum, pyarrow's dictionary), which pandas
    reads as ``category``."""
    dtypes = X.schema.types if hasattr(X.schema, "types") else X.schema.values()
    return any(type(dtype).__name__ in ("Categorical", "Enum", "DictionaryType") for dtype in dtypes)


def _as_pandas(X):
    """The polars or pyarrow frame ``X`` as a pandas DataFrame."""
    try:
        return X.to_pandas()
    except ImportError as error:  # polars converts through pyarrow
        raise ImportError(
            f"The category columns of a {type(X).__name__} are encoded through pandas, "
            f"and converting it failed: {error}"
        ) from error


def _one_hot(column, categories):
    """The CSR one-hot columns of ``column`` (a Series) for ``categories``;
    a missing value or another category is a row of zeros."""
    codes = pd.Index(categories).get_indexer(column.to_numpy(dtype=object))  # -1: none
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix(
        (np.ones(len(rows)), (rows, codes[rows])), shape=(len(column), len(categories))
    )
