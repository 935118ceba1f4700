"""The defaults against linear models on small dense tables, in 5-fold CV.

Usage::

    python benchmarks/small_tables.py [--params '{"alpha_factors": 10}']

FMRegressor() and FMClassifier() (``random_state=0``, nothing else set but
``--params``) against Ridge() and LogisticRegression(), each after a
StandardScaler in a Pipeline, on ``make_regression`` (10 informative
features) and ``make_classification`` (5 informative) tables of 100 to
3,000 rows, on wide or one-hot tables with an additive target, on
``make_friedman1``, on noise-free classes of ``sign(x0 * x1)`` and on
scikit-learn's diabetes, breast cancer, iris and wine data. Scores: R², ROC
AUC for two classes, accuracy for more. Prints one markdown table.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_wine,
    make_classification,
    make_friedman1,
    make_regression,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_fm import FMClassifier, FMRegressor


def one_hot_additive(n_samples, classification):
    """Six categorical columns of 8 levels one-hot encoded, and a target that
    adds one normal effect per level, with normal or logistic noise."""
    rng = np.random.RandomState(0)
    levels = rng.randint(0, 8, size=(n_samples, 6))
    effects = rng.normal(size=(6, 8))[np.arange(6), levels].sum(axis=1)
    X = OneHotEncoder(sparse_output=False).fit_transform(levels)
    if classification:
        return X, (effects + rng.logistic(size=n_samples) > 0).astype(int)
    return X, effects + rng.normal(size=n_samples)


def tables():
    """(name, X, y) of every table."""
    for n, d, noise in [(100, 10, 10), (100, 100, 0), (200, 20, 10), (300, 20, 30),
                        (500, 50, 20), (1000, 20, 50), (2000, 10, 100), (400, 200, 1),
                        (1000, 200, 1)]:
        X, y = make_regression(n_samples=n, n_features=d, n_informative=min(d, 10),
                               noise=noise, random_state=0)
        yield f"make_regression {n} x {d}, noise {noise}", X, y
    for n in (300, 2000):
        yield f"one-hot additive {n} x 48", *one_hot_additive(n, classification=False)
    yield "make_friedman1 200 x 10", *make_friedman1(n_samples=200, noise=1.0, random_state=0)
    yield "diabetes", *load_diabetes(return_X_y=True)
    for n, d in [(200, 10), (500, 30), (1000, 30), (3000, 20)]:
        X, y = make_classification(n_samples=n, n_features=d, n_informative=5, random_state=0)
        yield f"make_classification {n} x {d}", X, y
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 100))
    yield ("additive logistic 1000 x 100",
           X, (X @ rng.normal(size=100) / 5 + rng.logistic(size=1000) > 0).astype(int))
    X = np.random.RandomState(0).normal(size=(300, 4))
    yield "noise-free sign(x0 * x1) 300 x 4", X, (X[:, 0] * X[:, 1] > 0).astype(int)
    for n in (300, 2000):
        yield f"one-hot additive logistic {n} x 48", *one_hot_additive(n, classification=True)
    for name, load in [("breast cancer", load_breast_cancer), ("iris", load_iris),
                       ("wine", load_wine)]:
        yield name, *load(return_X_y=True)


def is_regression(y):
    """Whether the table of target ``y`` is a regression table."""
    return y.dtype.kind == "f"


def cv_and_scoring(y):
    """The 5-fold CV and the score of the table of target ``y``: R², ROC AUC
    for two classes, accuracy for more."""
    if is_regression(y):
        return KFold(5, shuffle=True, random_state=0), "r2"
    scoring = "roc_auc" if len(np.unique(y)) == 2 else "accuracy"
    return StratifiedKFold(5, shuffle=True, random_state=0), scoring


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=json.loads, default={},
                        help="parameters of both FMs, as a JSON object")
    params = parser.parse_args().params
    print(f"| data | score | linear | FM {json.dumps(params) if params else 'defaults'} | difference |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, X, y in tables():
        cv, scoring = cv_and_scoring(y)
        if is_regression(y):
            linear, fm = Ridge(), FMRegressor(random_state=0, **params)
        else:
            linear, fm = LogisticRegression(), FMClassifier(random_state=0, **params)
        scores = [
            cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv,
                            scoring=scoring).mean()
            for model in (linear, fm)
        ]
        print(f"| {name} | {scoring} | {scores[0]:.4f} | {scores[1]:.4f} | "
              f"{scores[1] - scores[0]:+.4f} |", flush=True)


if __name__ == "__main__":
    main()
