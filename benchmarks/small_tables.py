"""The defaults against linear models on small dense tables, in 5-fold CV.

Usage::

    python benchmarks/small_tables.py

FMRegressor() and FMClassifier() (``random_state=0``, nothing else set)
against Ridge() and LogisticRegression(), each after a StandardScaler in a
Pipeline, on ``make_regression`` (10 informative features) and
``make_classification`` (5 informative) tables of 100 to 3,000 rows and on
scikit-learn's diabetes, breast cancer, iris and wine data. Scores: R², ROC
AUC for two classes, accuracy for more. Prints one markdown table.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fm import FMClassifier, FMRegressor


def tables():
    """(name, X, y) of every table."""
    for n, d, noise in [(100, 10, 10), (100, 100, 0), (200, 20, 10), (300, 20, 30),
                        (500, 50, 20), (1000, 20, 50), (2000, 10, 100)]:
        X, y = make_regression(n_samples=n, n_features=d, n_informative=min(d, 10),
                               noise=noise, random_state=0)
        yield f"make_regression {n} x {d}, noise {noise}", X, y
    yield "diabetes", *load_diabetes(return_X_y=True)
    for n, d in [(200, 10), (500, 30), (1000, 30), (3000, 20)]:
        X, y = make_classification(n_samples=n, n_features=d, n_informative=5, random_state=0)
        yield f"make_classification {n} x {d}", X, y
    for name, load in [("breast cancer", load_breast_cancer), ("iris", load_iris),
                       ("wine", load_wine)]:
        yield name, *load(return_X_y=True)


def main():
    print("| data | score | linear | FM defaults | difference |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, X, y in tables():
        regression = y.dtype.kind == "f"
        if regression:
            cv, scoring = KFold(5, shuffle=True, random_state=0), "r2"
            linear, fm = Ridge(), FMRegressor(random_state=0)
        else:
            cv = StratifiedKFold(5, shuffle=True, random_state=0)
            scoring = "roc_auc" if len(np.unique(y)) == 2 else "accuracy"
            linear, fm = LogisticRegression(), FMClassifier(random_state=0)
        scores = [
            cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv,
                            scoring=scoring).mean()
            for model in (linear, fm)
        ]
        print(f"| {name} | {scoring} | {scores[0]:.4f} | {scores[1]:.4f} | "
              f"{scores[1] - scores[0]:+.4f} |", flush=True)


if __name__ == "__main__":
    main()
