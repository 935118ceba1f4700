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
        if categorical_features != "from_dtype" or not isinstance(X, pd.DataFrame):
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

    def numeric_view(self, X):
        """``X`` with every categorical column replaced by zeros: what the
        estimators validate (names, column count, the numeric columns)."""
        if sp.issparse(X):
            raise ValueError(
                "This model one-hot encodes categorical columns of its input: X must be "
                "a pandas DataFrame (or a dense array) with the columns fit saw, not a "
                "sparse matrix."
            )
        X = _as_frame(X)
        if X.shape[1] != len(self.is_categorical):  # for validation to name the problem
            return pd.DataFrame(np.zeros(X.shape), columns=X.columns)
        view = X.copy(deep=False)
        for position in np.flatnonzero(self.is_categorical):
            view.isetitem(position, 0.0)
        return view

    def encode(self, X, numeric):
        """The encoded CSR matrix of ``X``, given ``numeric``, the validated
        ``numeric_view`` of ``X`` as an array."""
        X = _as_frame(X)
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


def _as_frame(X):
    """``X`` as a DataFrame: itself, or a dense array's columns by position."""
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))


def _one_hot(column, categories):
    """The CSR one-hot columns of ``column`` (a Series) for ``categories``;
    a missing value or another category is a row of zeros."""
    codes = pd.Index(categories).get_indexer(column.to_numpy(dtype=object))  # -1: none
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix(
        (np.ones(len(rows)), (rows, codes[rows])), shape=(len(column), len(categories))
    )
