"""Two ways for the default FM to fall back to the linear model on additive
small tables, evaluated and not adopted (see benchmarks/README.md).

Usage::

    python benchmarks/penalty_choice.py --variant holdout \\
        [--candidates '[{}, {"alpha_factors": 1}]'] [--holdout 0.2] \\
        [--metric loss|roc_auc] [--tables 'make_classification,breast']
    python benchmarks/penalty_choice.py --variant linear-start [--tables ...]

``holdout``: fit one FM per candidate setting (parameters over the defaults,
``random_state=0``) on all but ``--holdout`` of the training rows, score each
on those rows (R², or the log-loss or ROC AUC for classifiers), and refit the
best on all rows. ``linear-start``: start the FM's linear part at Ridge()'s or
LogisticRegression()'s solution (a one-epoch fit, its ``intercept_`` and
``coef_`` replaced, continued by a ``warm_start`` fit). Both on the tables
of ``small_tables.py`` (``--tables``: those
whose names contain one of the comma-separated strings), in the same 5-fold
CV after a StandardScaler, beside the linear model and the defaults. Prints
one markdown table; the holdout variant adds the candidate each fold chose.
"""

import argparse
import json
import os
import shlex
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, r2_score, roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from small_tables import cv_and_scoring, is_regression, tables

from sklearn_fm import FMClassifier, FMRegressor


# The candidate each fit chose (cross_val_score fits clones, so not an attribute).
_CHOICES = []


class _Variant(BaseEstimator):
    """Fits ``model`` in one of the two ways; predicts with the result."""

    def __init__(self, model=None, variant="holdout", candidates=({},), holdout=0.2,
                 metric="loss"):
        self.model = model
        self.variant = variant
        self.candidates = candidates
        self.holdout = holdout
        self.metric = metric

    def fit(self, X, y):
        fit = self._holdout_choice if self.variant == "holdout" else self._linear_start
        self.fitted_ = fit(X, y)
        if hasattr(self.fitted_, "classes_"):
            self.classes_ = self.fitted_.classes_
        return self

    def _holdout_choice(self, X, y):
        classifier = isinstance(self.model, FMClassifier)
        train, held = train_test_split(np.arange(len(y)), test_size=self.holdout, random_state=0,
                                       stratify=y if classifier else None)
        scores = [self._score(clone(self.model).set_params(**c).fit(X[train], y[train]),
                              X[held], y[held])
                  for c in self.candidates]
        best = int(np.argmax(scores))
        _CHOICES.append(best)
        return clone(self.model).set_params(**self.candidates[best]).fit(X, y)

    def _score(self, model, X, y):
        if not isinstance(model, FMClassifier):
            return r2_score(y, model.predict(X))
        if self.metric == "roc_auc":
            return roc_auc_score(y, model.decision_function(X))
        return -log_loss(y, model.predict_proba(X), labels=model.classes_)

    def _linear_start(self, X, y):
        first = clone(self.model).set_params(max_iter=1).fit(X, y)
        linear = (LogisticRegression() if isinstance(self.model, FMClassifier) else Ridge()).fit(X, y)
        first.intercept_ = np.reshape(linear.intercept_, np.shape(first.intercept_))
        first.coef_ = np.reshape(linear.coef_, first.coef_.shape)
        return first.set_params(warm_start=True, max_iter=self.model.max_iter).fit(X, y)

    def predict(self, X):
        return self.fitted_.predict(X)

    def predict_proba(self, X):
        return self.fitted_.predict_proba(X)

    def decision_function(self, X):
        return self.fitted_.decision_function(X)


class _VariantRegressor(RegressorMixin, _Variant):
    pass


class _VariantClassifier(ClassifierMixin, _Variant):
    pass


def wanted_tables(parts):
    """The (name, X, y) of ``small_tables.py`` whose names contain one of the
    comma-separated ``parts`` (all if none)."""
    wanted = [part for part in parts.split(",") if part]
    for name, X, y in tables():
        if not wanted or any(part in name for part in wanted):
            yield name, X, y


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=["holdout", "linear-start"], default="holdout")
    parser.add_argument("--candidates", type=json.loads, default=[{}, {"alpha_factors": 1}],
                        help="settings to choose from, as a JSON list of objects")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--metric", choices=["loss", "roc_auc"], default="loss",
                        help="what classifiers are chosen by (two classes)")
    parser.add_argument("--tables", default="", help="comma-separated parts of table names")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"Command: python benchmarks/penalty_choice.py {shlex.join(sys.argv[1:])}\n")
    columns = ["linear", "FM defaults"]
    if args.variant == "holdout":
        columns += [f"FM {json.dumps(c)}" for c in args.candidates] + ["chosen", "chosen − linear", "choices"]
    else:
        columns += ["linear start", "linear start − linear"]
    print("| data | score | " + " | ".join(columns) + " |")
    print("| --- | --- |" + " ---: |" * len(columns))
    for name, X, y in wanted_tables(args.tables):
        _CHOICES.clear()
        cv, scoring = cv_and_scoring(y)
        if is_regression(y):
            linear, base, variant = Ridge(), FMRegressor(random_state=0), _VariantRegressor
        else:
            linear, base, variant = LogisticRegression(), FMClassifier(random_state=0), _VariantClassifier
        models = [linear, base]
        if args.variant == "holdout":
            models += [clone(base).set_params(**c) for c in args.candidates]
        models.append(variant(base, args.variant, args.candidates, args.holdout, args.metric))
        scores = [
            cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv,
                            scoring=scoring).mean()
            for model in models
        ]
        cells = [f"{s:.4f}" for s in scores] + [f"{scores[-1] - scores[0]:+.4f}"]
        if args.variant == "holdout":
            cells.append(" ".join(map(str, _CHOICES)))
        print(f"| {name} | {scoring} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
