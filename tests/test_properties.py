"""Properties that hold for every valid input, checked with hypothesis.

The examples vary the shape, the sparsity, the dtype, the container and the
magnitude of the values (from 1e-30 to the largest accepted, 1.8e19). Run more
of them, with fresh random draws, with ``pytest tests/test_properties.py
--hypothesis-profile=explore``.
"""

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import scipy.sparse as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from sklearn_fm import FMClassifier, FMRegressor

# The largest magnitude fit accepts (training squares values in float32).
LARGEST = 1.8e19
PARAMS = dict(n_factors=2, max_iter=2, tol=None, batch_size=8, random_state=0)

CONTAINERS = [np.asarray, sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array]


@st.composite
def matrices(draw, n_rows=None):
    """A matrix of valid input values, in one of the accepted containers."""
    n_rows = n_rows or draw(st.integers(1, 30))
    n_features = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = draw(st.sampled_from([1e-30, 1e-3, 1.0, 1e3, 1e10, LARGEST]))
    values = draw(
        hnp.arrays(np.float32, (n_rows, n_features), elements=st.floats(-1, 1, width=32))
    )
    density = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    keep = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=st.floats(0, 1))) < density
    dense = (values.astype(np.float64) * scale * keep).astype(dtype)
    return draw(st.sampled_from(CONTAINERS))(dense)


@st.composite
def regression_data(draw):
    X = draw(matrices())
    y = draw(hnp.arrays(np.float64, X.shape[0], elements=st.floats(-1e6, 1e6)))
    weights = draw(
        st.none() | hnp.arrays(np.float64, X.shape[0], elements=st.floats(0, 1e3))
    )
    assume(weights is None or weights.sum() > 0)
    return X, y, weights


@st.composite
def classification_data(draw):
    X = draw(matrices())
    y = draw(hnp.arrays(np.int64, X.shape[0], elements=st.integers(0, 2)))
    assume(np.unique(y).size >= 2)
    return X, y


def fit_quietly(model, *args, **kwargs):
    # Values near the accepted limit diverge in their first epoch: a warning,
    # and the initial (finite) parameters are kept.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


@given(regression_data())
def test_regression_on_valid_input_fits_and_predicts_finite_values(data):
    X, y, weights = data
    model = fit_quietly(FMRegressor(**PARAMS), X, y, sample_weight=weights)
    for param in (model.intercept_, model.coef_, model.factors_):
        assert np.isfinite(param).all()
    prediction = model.predict(X)
    assert prediction.shape == (X.shape[0],)
    assert np.isfinite(prediction).all()


@given(classification_data())
def test_classification_on_valid_input_gives_probabilities(data):
    X, y = data
    model = fit_quietly(FMClassifier(**PARAMS), X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (X.shape[0], np.unique(y).size)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    assert_allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(X)) <= set(model.classes_)


@given(regression_data(), st.data())
def test_predict_is_batch_invariant(data, draw):
    X, y, _ = data
    model = fit_quietly(FMRegressor(**PARAMS), X, y)
    X = sp.csr_matrix(X) if sp.issparse(X) else X
    cuts = sorted(draw.draw(st.lists(st.integers(0, X.shape[0]), max_size=4)))
    bounds = [0, *cuts, X.shape[0]]
    pieces = [model.predict(X[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]
    assert_array_equal(np.concatenate(pieces), model.predict(X))


@given(regression_data())
def test_dense_and_sparse_forms_of_the_same_data_train_the_same_model(data):
    X, y, weights = data
    dense = X.toarray() if sp.issparse(X) else X
    models = [
        fit_quietly(FMRegressor(**PARAMS), form, y, sample_weight=weights)
        for form in (dense, sp.csr_matrix(dense), sp.coo_matrix(dense))
    ]
    for model in models[1:]:
        assert_array_equal(model.intercept_, models[0].intercept_)
        assert_array_equal(model.coef_, models[0].coef_)
        assert_array_equal(model.factors_, models[0].factors_)
        assert_array_equal(model.predict(dense), models[0].predict(dense))
