"""The defaults against linear baselines and peers: FMRegressor() and FMClassifier()
as they come, on rating, click and small tabular data.

Usage::

    python benchmarks/defaults.py --data ../shared/data [--split test|validation]
        [--tasks ml-1m,ml-100k,clicks,diabetes,breast-cancer] [--settings JSON]
        [--no-peers] [--shuffle-seed N]

Tasks, each scored on its standard split:

- ``ml-1m``: MovieLens 1M ratings, one-hot user + item, the 90/10 split of
  ``benchmarks/movielens.py``; RMSE of predictions clipped to [1, 5].
- ``ml-100k``: MovieLens 100K ratings, the same features, mean RMSE over the
  splits u1 to u5.
- ``clicks``: MovieLens 1M ratings of 4 or 5 stars as clicks, the same
  features and split; ROC AUC.
- ``diabetes`` and ``breast-cancer``: scikit-learn's datasets, X
  standard-scaled in a Pipeline, y as given; 5-fold ``cross_val_score`` R² and
  ROC AUC.

Rows: the estimator with its defaults (``random_state=0``, nothing else
set), the tuned settings of ``benchmarks/movielens.py`` on the MovieLens tasks,
Ridge() / LogisticRegression(), and modern-fm (its defaults) and myFM (rank
10, its defaults otherwise) when they are importable. ``--split validation``
replaces every MovieLens test part by 10% of its training part
(``validation_split``) and leaves the test parts unread: that is the data the
defaults were chosen on. ``--settings`` evaluates other settings in place of
the defaults, for example ``'{"alpha_uniform": 4}'``. ``--shuffle-seed``
draws another 90/10 split of ML-1M (``RandomState(N)`` instead of the
standard 0), to see how the figures hold on other data. Prints one markdown
table: score, fit seconds (a sum over the splits of ML-100K and the folds of
the small datasets) and epochs.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fm import FMClassifier, FMRegressor
from movielens import (
    CLICK_SETTINGS,
    RATINGS_SETTINGS,
    OnIds,
    click_scores,
    clicks,
    features,
    load_split,
    machine,
    rating_scores,
    validation_split,
)

# task: (kind, score column, higher is better)
TASKS = {
    "ml-1m": ("ratings", "RMSE", False),
    "ml-100k": ("ratings", "RMSE", False),
    "clicks": ("clicks", "ROC AUC", True),
    "diabetes": ("table", "R²", True),
    "breast-cancer": ("table", "ROC AUC", True),
}


def models(task, settings, peers):
    """The models compared on ``task``, by name."""
    kind = TASKS[task][0]
    regression = kind == "ratings" or task == "diabetes"
    fm, linear = (FMRegressor, Ridge) if regression else (FMClassifier, LogisticRegression)
    name = "defaults" if not settings else json.dumps(settings)
    if kind == "table":
        rows = {
            f"{fm.__name__} {name}": make_pipeline(StandardScaler(), fm(random_state=0, **settings)),
            f"{linear.__name__}()": make_pipeline(StandardScaler(), linear()),
        }
    else:
        tuned = RATINGS_SETTINGS if kind == "ratings" else CLICK_SETTINGS
        rows = {
            f"{fm.__name__} {name}": make_pipeline(features("ids"), fm(random_state=0, **settings)),
            f"{fm.__name__}, tuned settings": make_pipeline(
                features("ids"), fm(random_state=0, **tuned)
            ),
            f"{linear.__name__}()": make_pipeline(features("ids"), linear()),
        }
    if peers:
        rows.update(peer_models(regression, kind == "table"))
    return rows


def peer_models(regression, dense):
    peers = {}
    try:
        import modern_fm

        estimator = modern_fm.FMRegressor if regression else modern_fm.FMClassifier
        peers[f"modern-fm {estimator.__name__}(random_state=0)"] = (
            make_pipeline(StandardScaler(), estimator(random_state=0))
            if dense
            else OnIds(estimator(random_state=0))
        )
    except ImportError:
        pass
    try:
        import myfm

        estimator = myfm.MyFMRegressor if regression else myfm.MyFMClassifier
        peer = estimator(rank=10, random_seed=0)
        name = f"myFM {estimator.__name__}(rank=10) MCMC"
        # myFM's fit takes no Pipeline routing; scale dense X up front instead.
        peers[name] = _Scaled(peer) if dense else OnIds(peer)
    except ImportError:
        pass
    return peers


class _Scaled:
    """StandardScaler then a peer whose estimator is not a scikit-learn one."""

    def __init__(self, estimator):
        self.scaler, self.estimator = StandardScaler(), estimator

    def fit(self, X, y):
        self.estimator.fit(self.scaler.fit_transform(X), y)
        return self

    def predict(self, X):
        return self.estimator.predict(self.scaler.transform(X))

    def predict_proba(self, X):
        return self.estimator.predict_proba(self.scaler.transform(X))


def epochs(model):
    last = model[-1] if isinstance(model, Pipeline) else getattr(model, "estimator", None)
    n_iter = getattr(last, "n_iter_", None)
    return n_iter if isinstance(n_iter, int) else None


def movielens_splits(task, data, split, seed):
    variant, folds = ("100k", range(1, 6)) if task == "ml-100k" else ("1m", [1])
    for fold in folds:
        train, test = load_split(variant, data, fold, seed)
        yield validation_split(train) if split == "validation" else (train, test)


def score_movielens(task, model, data, split, seed):
    kind = TASKS[task][0]
    scores, seconds, n_epochs = [], 0.0, []
    for train, test in movielens_splits(task, data, split, seed):
        y = train["rating"].to_numpy(float) if kind == "ratings" else clicks(train)
        start = time.perf_counter()
        model.fit(train, y)
        seconds += time.perf_counter() - start
        if kind == "ratings":
            scores.append(rating_scores(model, test)["RMSE"])
        else:
            scores.append(click_scores(model, test)["ROC AUC"])
        n_epochs.append(epochs(model))
    return np.mean(scores), seconds, n_epochs


def score_table(task, model):
    X, y = (load_diabetes if task == "diabetes" else load_breast_cancer)(return_X_y=True)
    scoring = "r2" if task == "diabetes" else "roc_auc"
    if isinstance(model, _Scaled):  # not a scikit-learn estimator: folds by hand
        from sklearn.metrics import r2_score, roc_auc_score
        from sklearn.model_selection import KFold, StratifiedKFold

        folds = (KFold if task == "diabetes" else StratifiedKFold)(5).split(X, y)
        scores, seconds = [], 0.0
        for train, test in folds:
            start = time.perf_counter()
            model.fit(X[train], y[train])
            seconds += time.perf_counter() - start
            if task == "diabetes":
                scores.append(r2_score(y[test], model.predict(X[test])))
            else:
                proba = model.predict_proba(X[test])
                scores.append(roc_auc_score(y[test], proba[:, 1] if proba.ndim == 2 else proba))
        return np.mean(scores), seconds, []
    result = cross_validate(model, X, y, cv=5, scoring=scoring, return_estimator=True)
    return (
        result["test_score"].mean(),
        result["fit_time"].sum(),
        [epochs(estimator) for estimator in result["estimator"]],
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--settings", type=json.loads, default={})
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--shuffle-seed", type=int, default=0)
    args = parser.parse_args()
    print(f"Machine: {machine()}.\n", flush=True)
    rows = []
    for task in args.tasks.split(","):
        _, column, _ = TASKS[task]
        for name, model in models(task, args.settings, not args.no_peers).items():
            if TASKS[task][0] == "table":
                score, seconds, n_epochs = score_table(task, model)
            else:
                score, seconds, n_epochs = score_movielens(
                    task, model, args.data, args.split, args.shuffle_seed
                )
            epochs_text = "/".join(str(e) for e in n_epochs if e is not None) or "—"
            rows.append([task, column, name, score, seconds, epochs_text])
            print(f"  {task}, {name}: {column} {score:.4f}, fit {seconds:.1f} s", flush=True)
    table = pd.DataFrame(rows, columns=["task", "score", "model", "value", "fit s", "epochs"])
    print()
    print(f"| task ({args.split}) | model | score | fit s | epochs |")
    print("| --- | --- | ---: | ---: | --- |")
    for task, column, name, value, seconds, epochs_text in table.itertuples(index=False):
        print(f"| {task} | {name} | {column} {value:.4f} | {seconds:.1f} | {epochs_text} |")


if __name__ == "__main__":
    main()
