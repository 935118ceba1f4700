"""The models today's trainer trains, recorded so that a rewrite of the
trainer can be checked against them (``tests/test_reference_models.py``).

``python -m tests.reference_models`` (from the project root) records them
into ``tests/data/reference-models.npz``; do so only when a change of what
is trained is intended, and say so in the changelog. (The multiclass
model's ``coef_`` and ``factors_`` were recorded class last and since
transposed into today's class-first layout, which changed no value.)
"""

import subprocess
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FMClassifier, FMRegressor

from .conftest import make_interaction_data, make_ratings

PATH = Path(__file__).parent / "data" / "reference-models.npz"
ATTRIBUTES = ("intercept_", "coef_", "factors_", "loss_curve_")
SOLVERS = ("adam", "sgd", "adagrad", "rmsprop")


def problems():
    """(name, estimator, X, y) of every recorded model: each solver with
    dense updates (the uniform penalties touch every row) on dense data and
    with row-sparse ones on one-hot ids; binary and 3-class classifiers;
    early stopping with its penalty scaling; sample weights."""
    X_dense, y_dense = make_interaction_data(n_samples=300)
    users, items, ratings = make_ratings(n_users=30, n_items=20, n_ratings=400)
    X_ids = OneHotEncoder().fit_transform(np.column_stack([users, items])).tocsr()
    # alpha_factors as the default was when the models were recorded.
    common = dict(
        n_factors=3, alpha_linear=0.01, alpha_factors=0.03, max_iter=4, tol=None, batch_size=32,
        learning_rate_init=0.015, init_std=0.1, random_state=0,
    )
    for solver in SOLVERS:
        yield f"dense-{solver}", FMRegressor(solver=solver, **common), X_dense, y_dense
        row_sparse = {**common, "alpha_linear": 0.0, "alpha_uniform": 0.0}
        yield f"ids-{solver}", FMRegressor(solver=solver, **row_sparse), X_ids, ratings
        binary = FMClassifier(solver=solver, **row_sparse)
        yield f"binary-{solver}", binary, X_ids, ratings > 3.5
    classes = np.digitize(y_dense, [-1.0, 1.0])
    yield "multiclass-adam", FMClassifier(**common), X_dense, classes
    X_large, y_large = make_interaction_data(n_samples=2500)
    stopping = FMRegressor(**{**common, "batch_size": "auto"})
    yield "early-stopping", stopping, X_large, y_large


def weights(name, X):
    """Sample weights of the problem ``name`` (None for most)."""
    if name.startswith("ids-") or name == "multiclass-adam":
        return np.random.RandomState(1).uniform(0.5, 2.0, size=X.shape[0])
    return None


def train():
    """The fitted attributes of every problem, as ``{"name/attribute": array}``."""
    recorded = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, estimator, X, y in problems():
            estimator.fit(X, y, sample_weight=weights(name, X))
            for attribute in ATTRIBUTES:
                recorded[f"{name}/{attribute}"] = np.asarray(getattr(estimator, attribute))
    return recorded


if __name__ == "__main__":
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    np.savez_compressed(PATH, commit=np.array(commit), **train())
    print(f"recorded {PATH} at commit {commit}")
