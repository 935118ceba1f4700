"""Transformers for the feature blocks of an FM design matrix."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import normalize
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data


class MultiHotEncoder(TransformerMixin, BaseEstimator):
    """Encode columns whose cells hold sets of labels as sparse multi-hot blocks.

    A cell is a string of labels joined by ``separator`` (MovieLens genres:
    ``"Action|Comedy"``), a list, tuple or set of labels, or a single other
    value. Missing cells (None or NaN) and labels unseen during ``fit`` encode
    as no label. Each input column becomes one block of indicator columns, like
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

    Attributes
    ----------
    categories_ : list of ndarray
        The sorted labels of each input column, in the order of the output
        columns.

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
    }

    def __init__(self, *, separator="|", norm=None):
        self.separator = separator
        self.norm = norm

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
        X = self._validate(X, reset=True)
        self.categories_ = [
            np.array(
                # By type name first, so mixed label types still sort.
                sorted(
                    {label for cell in column for label in self._labels(cell)},
                    key=lambda label: (type(label).__name__, label),
                ),
                dtype=object,
            )
            for column in X.T
        ]
        return self

    def transform(self, X):
        """Encode ``X`` as a sparse CSR matrix of multi-hot blocks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Cells of labels.

        Returns
        -------
        X_out : sparse matrix of shape (n_samples, n_labels)
            One block of columns per input column, in ``categories_`` order.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        blocks = []
        for column, categories in zip(X.T, self.categories_):
            index = {label: i for i, label in enumerate(categories)}
            rows, cols = [], []
            for row, cell in enumerate(column):
                for label in self._labels(cell):
                    if label in index:
                        rows.append(row)
                        cols.append(index[label])
            # Built from coordinates, so repeated labels are already summed.
            block = sp.csr_matrix(
                (np.ones(len(rows)), (rows, cols)), shape=(X.shape[0], len(categories))
            )
            block.data[:] = 1.0  # a label repeated in a cell is still one label
            blocks.append(normalize(block, norm=self.norm) if self.norm else block)
        return sp.hstack(blocks, format="csr")

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
        return validate_data(
            self, X, reset=reset, dtype=object, ensure_all_finite=False
        )

    def _labels(self, cell):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            return ()
        if isinstance(cell, str):
            return tuple(label for label in cell.split(self.separator) if label)
        if isinstance(cell, (list, tuple, set, frozenset, np.ndarray)):
            return tuple(cell)
        if isinstance(cell, (Integral, np.integer)):
            return (int(cell),)
        return (cell,)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags
