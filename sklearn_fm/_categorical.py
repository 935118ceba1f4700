"""Categorical input: the ``category`` columns of a pandas DataFrame, one-hot
encoded inside the estimators (``categorical_features="from_dtype"``).

Each such column becomes one column per category that the rows of the
first ``fit`` hold (or that its dtype declares, for a first ``partial_fit``),
in sorted order as ``OneHotEncoder`` sorts them; a value that is missing or
of another category then encodes as no column at all, as
``OneHotEncoder(handle_unknown="ignore")`` does. The other columns pass
through as they are, in their place, and must hold numbers: this module also
refuses the columns of strings and dates that scikit-learn's validation would
read as numbers.
"""

from typing import NamedTuple

import itertools

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._labels import check_printed_apart, label_key


class Encoded(NamedTuple):
    """The one-hot encoded input, and for each categorical column (by
    position) that has any, which rows hold a value that is neither missing
    nor among its categories, which encodes as no column."""

    X: sp.csr_matrix
    unseen_rows: dict


class CategoricalEncoding(NamedTuple):
    """Which input columns are categorical, and the categories of each."""

    is_categorical: np.ndarray  # bool (n_features_in,)
    categories: list  # one 1-D array per categorical column, in column order

    @classmethod
    def learn(cls, X, categorical_features, declared=False):
        """The encoding of the ``category`` columns of the DataFrame ``X``
        under ``categorical_features``, with the categories of each that
        rows hold, or with ``declared`` every category its dtype declares;
        None if there are none to encode."""
        if categorical_features != "from_dtype":
            return None
        if is_foreign_frame(X) and _has_categorical_columns(X):
            X = _as_pandas(X)
        if not isinstance(X, pd.DataFrame):
            return None
        X = _with_dictionaries_as_categories(X)
        is_categorical = np.array([isinstance(dtype, pd.CategoricalDtype) for dtype in X.dtypes])
        if not is_categorical.any():
            return None
        categories = []
        for position in np.flatnonzero(is_categorical):
            column = X.iloc[:, position]
            if declared:
                categories.append(_sorted(column.cat.categories))
            else:
                seen = np.unique(column.cat.codes.to_numpy())
                categories.append(_sorted(column.cat.categories[seen[seen >= 0]]))
            check_printed_apart(categories[-1], X.columns[position], "categories")
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
            return _with_dictionaries_as_categories(X)
        if is_foreign_frame(X):
            return _as_pandas(X)
        rows = np.asarray(X, dtype=object)
        if rows.ndim != 2:  # pandas would take a 1-D array for a column
            got = "scalar" if rows.ndim == 0 else f"{rows.ndim}D"
            raise ValueError(
                f"Expected 2D array, got {got} array instead: X must be a "
                "DataFrame or an array of rows. Reshape your data either using "
                "array.reshape(-1, 1) if your data has a single feature or "
                "array.reshape(1, -1) if it contains a single sample."
            )
        return pd.DataFrame(rows)

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
        """The :class:`Encoded` :meth:`frame` ``X``, given ``numeric``, the
        validated ``numeric_view`` of ``X`` as an array."""
        blocks, unseen = [], {}
        categorical = iter(self.categories)
        position = 0
        # Runs of numeric columns pass through as one block each.
        for is_categorical, run in itertools.groupby(self.is_categorical):
            width = len(list(run))
            if is_categorical:
                for column in range(position, position + width):
                    categories = next(categorical)
                    values = X.iloc[:, column]
                    codes = _codes(values, categories, X.columns[column])
                    blocks.append(_one_hot(codes, len(categories)))
                    rows_of_others = (codes < 0) & values.notna().to_numpy()
                    if rows_of_others.any():
                        unseen[column] = rows_of_others
            else:
                blocks.append(sp.csr_matrix(numeric[:, position : position + width]))
            position += width
        return Encoded(sp.hstack(blocks, format="csr", dtype=numeric.dtype), unseen)

    def feature_names(self, input_names):
        """The names of the encoded columns: the input name of a numeric
        column, ``f"{name}_{category}"`` for a category, as OneHotEncoder."""
        names = []
        categorical = iter(self.categories)
        for name, is_categorical in zip(input_names, self.is_categorical):
            if is_categorical:
                names += [f"{name}_{category!s}" for category in next(categorical)]
            else:
                names.append(name)
        return np.asarray(names, dtype=object)


def check_numeric_columns(X, is_categorical=None):
    """Raise a clear error if a column of the data frame ``X`` that the model
    reads as numbers holds strings or dates; the columns where the boolean
    array ``is_categorical`` is True are encoded and not checked.

    scikit-learn's validation would turn strings of digits and dates into
    numbers (dates into nanoseconds since 1970): a silently meaningless
    model. So would it read NumPy arrays of strings, and lists of them.
    """
    for position, (name, kind) in enumerate(_column_kinds(X)):
        if is_categorical is not None and position < len(is_categorical):
            if is_categorical[position]:
                continue
        if kind == "dates":
            raise TypeError(
                f"The column {name!r} of X holds dates or durations, but the model reads "
                "its columns as numbers: derive numbers from it first (for example the "
                "year, or the days since a date)."
            )
        if kind == "strings":
            as_category = (
                f"Make it a category column (X[{name!r}].astype('category'))"
                if hasattr(X, "columns")
                else "Pass a DataFrame with it as a category column"
            )
            raise ValueError(
                f"The column {name!r} of X holds strings, but the model reads its columns "
                f"as numbers. {as_category}, which categorical_features='from_dtype' "
                "one-hot encodes, or encode it first (for example with OneHotEncoder)."
            )
        if kind == "categories of strings":
            raise ValueError(
                f"The column {name!r} of X is a category column of strings, but the model "
                "reads it as numbers (with categorical_features=None, or as a column that "
                "was numeric in the first fit). Set categorical_features='from_dtype' to "
                "one-hot encode it."
            )


def _column_kinds(X):
    """(name, kind) of each column of the data frame ``X``, the kind being
    "dates", "strings", "categories of strings" or None (numbers, or values
    that scikit-learn's validation refuses itself); for an array of strings
    or objects, (position, kind); nothing for other input."""
    if isinstance(X, (list, tuple)):
        X = np.asarray(X, dtype=object)  # each value as it is; ragged rows stay 1-D
    if isinstance(X, np.ndarray):
        if X.ndim != 2 or X.dtype.kind not in "OSU":
            return []
        columns = (pd.Series(X[:, position], dtype=object) for position in range(X.shape[1]))
        return [(position, _pandas_kind(column)) for position, column in enumerate(columns)]
    if isinstance(X, pd.DataFrame):
        # Numeric dtypes first: no Series is made for those columns.
        return [
            (name, None if pd.api.types.is_numeric_dtype(dtype) else _pandas_kind(X.iloc[:, i]))
            for i, (name, dtype) in enumerate(zip(X.columns, X.dtypes))
        ]
    if not is_foreign_frame(X):
        return []
    schema = X.schema  # pyarrow's has names and types, polars' is a mapping
    if hasattr(schema, "types"):
        return [(name, _arrow_kind(dtype)) for name, dtype in zip(schema.names, schema.types)]
    return [(name, _polars_kind(str(dtype))) for name, dtype in schema.items()]


def _pandas_kind(column):
    """The kind (as :func:`_column_kinds`) of the pandas Series ``column``,
    which is not of a numeric dtype."""
    dtype = column.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_kind(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        of_text = _values_kind(pd.api.types.infer_dtype(dtype.categories)) in _TEXT
        return "categories of strings" if of_text else None
    if (
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    ):
        return "dates"
    if pd.api.types.is_object_dtype(dtype):
        # Numbers in an object column are numbers, as scikit-learn reads them.
        inferred = pd.api.types.infer_dtype(column, skipna=True)
        if inferred in _DATES:
            return "dates"
        if inferred.startswith("mixed") and inferred != "mixed-integer-float":
            return "strings" if column.map(type).isin([str, bytes]).any() else None
        return "strings" if _values_kind(inferred) in _TEXT else None
    return "strings" if pd.api.types.is_string_dtype(dtype) else None


def _polars_kind(name):
    """The kind (as :func:`_column_kinds`) of a polars column type, by the
    ``name`` it prints as."""
    if name.startswith(("Datetime", "Date", "Duration", "Time")):
        return "dates"
    if name.startswith(("String", "Utf8", "Binary")):
        return "strings"
    if name.startswith(("Categorical", "Enum")):  # of strings, always
        return "categories of strings"
    return None


# pyarrow's tests of the types of text and bytes (the views since pyarrow 16).
_ARROW_TEXT_TESTS = (
    "is_string", "is_large_string", "is_string_view",
    "is_binary", "is_large_binary", "is_binary_view", "is_fixed_size_binary",
)


def _arrow_kind(dtype):
    """The kind (as :func:`_column_kinds`) of the pyarrow DataType ``dtype``,
    of a pyarrow Table's column or a pandas ``ArrowDtype`` column."""
    import pyarrow.types  # imported already: the data is pyarrow's

    if pyarrow.types.is_dictionary(dtype):
        of_text = _arrow_kind(dtype.value_type) == "strings"
        return "categories of strings" if of_text else None
    if pyarrow.types.is_temporal(dtype):  # dates, times, durations, intervals
        return "dates"
    is_text = (getattr(pyarrow.types, test, None) for test in _ARROW_TEXT_TESTS)
    return "strings" if any(test is not None and test(dtype) for test in is_text) else None


# Data frames of other libraries, by module and class, which the encoding
# reads through pandas (neither library is imported to recognise them).
_FOREIGN_FRAMES = {("polars", "DataFrame"), ("pyarrow", "Table"), ("pyarrow", "RecordBatch")}


def is_foreign_frame(X):
    """Whether ``X`` is a polars DataFrame or a pyarrow Table or RecordBatch."""
    return (type(X).__module__.partition(".")[0], type(X).__name__) in _FOREIGN_FRAMES


def _has_categorical_columns(X):
    """Whether the polars or pyarrow frame ``X`` has a column of a categorical
    type (polars' Categorical or Enum, pyarrow's dictionary), which pandas
    reads as ``category``."""
    dtypes = X.schema.types if hasattr(X.schema, "types") else X.schema.values()
    return any(type(dtype).__name__ in ("Categorical", "Enum", "DictionaryType") for dtype in dtypes)


def _as_pandas(X):
    """The polars or pyarrow frame ``X`` as a pandas DataFrame."""
    if type(X).__module__.startswith("pyarrow"):
        for name, column in zip(X.column_names, X.columns):
            _check_no_null_category(column, name)
    try:
        return X.to_pandas()
    except ImportError as error:  # polars converts through pyarrow
        raise ImportError(
            f"The category columns of a {type(X).__name__} are encoded through pandas, "
            f"and converting it failed: {error}"
        ) from error


def _sorted(categories):
    """The Index ``categories`` as a sorted array, as OneHotEncoder sorts its
    categories, so that the model does not depend on the order a frame
    declares them in: of mixed kinds, by kind, then value; in the declared
    order if even so they cannot be compared."""
    try:
        return np.asarray(categories.sort_values())
    except TypeError:
        try:
            return np.array(sorted(categories, key=label_key), dtype=object)
        except TypeError:
            return np.asarray(categories)


def _with_dictionaries_as_categories(X):
    """The pandas DataFrame ``X`` with its pyarrow dictionary columns (as
    ``read_parquet(dtype_backend="pyarrow")`` gives) as ``category`` columns,
    which pyarrow Tables' dictionary columns become too."""
    dictionaries = [
        position for position, dtype in enumerate(X.dtypes) if _is_dictionary(dtype)
    ]
    if not dictionaries:
        return X
    X = X.copy(deep=False)
    for position in dictionaries:
        column = X.iloc[:, position]
        _check_no_null_category(column.array.__arrow_array__(), X.columns[position])
        X.isetitem(position, column.astype("category"))
    return X


def _check_no_null_category(column, name):
    """Raise a clear error if the pyarrow array or chunked array ``column``
    (named ``name`` in X) is a dictionary column whose dictionary holds a
    null, which pandas' categories, through which it is read, cannot hold."""
    chunks = getattr(column, "chunks", [column])
    if any(chunk.dictionary.null_count for chunk in chunks if hasattr(chunk, "dictionary")):
        raise ValueError(
            f"The dictionary column {name!r} of X has a null among its categories "
            "(its dictionary), which a category column cannot hold. Encode it anew "
            "(pyarrow.compute.dictionary_encode of the decoded column makes its nulls "
            "missing values)."
        )


def _is_dictionary(dtype):
    return isinstance(dtype, pd.ArrowDtype) and str(dtype).startswith("dictionary<")


# The kind of the values that pandas' infer_dtype calls by these names; the
# kinds that the model refuses to read as numbers.
_NUMBERS = ("integer", "floating", "mixed-integer-float", "decimal", "boolean")
_KINDS = {**dict.fromkeys(_NUMBERS, "numbers"), "string": "strings", "bytes": "bytes"}
_TEXT = ("strings", "bytes")
# What infer_dtype calls an object column of dates, times or durations.
_DATES = ("date", "datetime", "datetime64", "time", "timedelta", "timedelta64", "period")


def _values_kind(inferred):
    """"numbers", "strings", "bytes" or None (other or mixed values) for
    values that pandas' ``infer_dtype`` calls ``inferred``."""
    return _KINDS.get(inferred)


def _comparable_values(column, categories, name):
    """The values of ``column`` (a Series) as an object array to look up in
    ``categories``; a TypeError if they are of another kind (strings, bytes
    or numbers), which would make every value an unseen category."""
    # A category column's kind is that of its categories: no pass over its rows.
    declared = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    # Missing values (NaN is a float, no category a float Index) are of no kind.
    present = declared.dropna()
    inferred = pd.api.types.infer_dtype(present, skipna=True) if len(present) else "empty"
    kind = _values_kind(inferred)
    expected = _values_kind(pd.api.types.infer_dtype(categories, skipna=True))
    if None not in (kind, expected) and kind != expected:
        raise TypeError(
            f"The category column {name!r} of X holds {kind}, but the model's categories "
            f"for it are {expected} (such as {categories[:3].tolist()}): each value would be "
            "read as an unseen category. Pass the values themselves, of the type they "
            "had in fit, not their codes."
        )
    values = column.to_numpy(dtype=object)
    # Booleans equal the numbers 0 and 1, as OneHotEncoder matches them, but
    # pandas' lookup of bools among numbers finds nothing.
    if expected == "numbers" and categories.dtype != bool and inferred == "boolean":
        values = pd.Series(values).map({True: 1, False: 0}).to_numpy(dtype=object)
    return values


def _codes(column, categories, name):
    """The position of each value of ``column`` (a Series named ``name`` in
    X) among ``categories``: -1 for a missing value or another category."""
    values = _comparable_values(column, categories, name)
    return pd.Index(categories).get_indexer(values)


def _one_hot(codes, n_categories):
    """The CSR one-hot columns of the ``_codes`` ``codes`` of a column with
    ``n_categories`` categories: a row of zeros for a code of -1."""
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix(
        (np.ones(len(rows)), (rows, codes[rows])), shape=(len(codes), n_categories)
    )
