"""Scores after every epoch on a MovieLens split, for settings given as JSON.

Usage::

    python benchmarks/curves.py --data ../shared/data [--variant 1m|100k]
        [--task ratings|clicks] [--features ids|side|implicit|raters] [--max-items 20]
        [--split test|validation] [--epochs 15] [--plot curves.png] SETTINGS...

Each SETTINGS is a JSON object of parameters that override the defaults of
FMRegressor (ratings, scored by RMSE of predictions clipped to [1, 5]) or
FMClassifier (clicks, 4 or 5 stars, scored by ROC AUC with the log-loss
beside it), for example ``'{}'`` for the defaults or ``'{"alpha_uniform": 4}'``.
``--split test`` trains on the training part of the benchmark's split and
scores the test part; ``--split validation`` holds out 10% of the training
part instead (``movielens.validation_split``), which is how
settings are chosen without looking at the test part. Features: ``ids`` is
user + item one-hot; ``side`` adds gender, age, occupation and genres;
``implicit`` adds the rated items too (``ImplicitFeedbackEncoder`` with
``--max-items``), ``raters`` also each item's raters (``movielens.features``).
The score after epoch ``e`` is that of its own ``fit``
with ``max_iter=e, early_stopping=False, tol=None, random_state=0``: with
the same seed, the first ``e`` epochs of any longer fit are that fit, so the
curve is exactly one fit's, epoch by epoch, at the cost of
``epochs * (epochs + 1) / 2`` epochs. (``partial_fit`` would not do: each
call takes its rows as new data, so that ``epochs`` calls on the training
rows train for ``epochs`` times as many rows, with a weaker prior and a
slower schedule.) Prints, per setting, the best score, its epoch and the
whole curve; ``--plot`` draws the curves.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from sklearn_fm import FMClassifier, FMRegressor
from movielens import clipped_rmse, encoded_ratings, machine


def rating_scores(model, X_test, y_test):
    return clipped_rmse(y_test, model.predict(X_test)), None


def click_scores(model, X_test, y_test):
    positive = model.predict_proba(X_test)[:, 1]
    return float(roc_auc_score(y_test >= 4, positive)), float(log_loss(y_test >= 4, positive))


# task: (estimator, target from ratings, scores, best of curve, score name)
TASKS = {
    "ratings": (FMRegressor, lambda y: y, rating_scores, np.argmin, "RMSE"),
    "clicks": (
        FMClassifier, lambda y: (y >= 4).astype(int), click_scores, np.argmax, "ROC AUC",
    ),
}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--variant", choices=["1m", "100k"], default="1m")
    parser.add_argument("--task", choices=list(TASKS), default="ratings")
    parser.add_argument("--features", choices=["ids", "side", "implicit", "raters"], default="ids")
    parser.add_argument("--max-items", type=int, default=20)
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--plot", help="write the curves to this image file")
    parser.add_argument("settings", nargs="+", type=json.loads)
    args = parser.parse_args()
    estimator, target, scores, best_of, score_name = TASKS[args.task]
    X, y, X_test, y_test = encoded_ratings(
        args.variant, args.data, args.split, args.features, args.max_items
    )
    print(f"Machine: {machine()}.")
    print(
        f"{args.variant}, {args.split} split, features {args.features}: "
        f"{X.shape[1]} columns, {X.nnz} non-zeros"
    )
    curves = {}
    for overrides in args.settings:
        settings = dict(dict(early_stopping=False, tol=None, random_state=0), **overrides)
        curve, second, start = [], [], time.perf_counter()
        for epochs in range(1, args.epochs + 1):
            model = estimator(**dict(settings, max_iter=epochs)).fit(X, target(y))
            score, other = scores(model, X_test, y_test)
            curve.append(score)
            second.append(other)
        best = int(best_of(curve))
        beside = "" if second[best] is None else f" (log-loss {second[best]:.4f})"
        print(
            f"{json.dumps(overrides)}: best {curve[best]:.4f}{beside} at epoch {best + 1}, "
            f"{time.perf_counter() - start:.0f} s; curve "
            + " ".join(f"{value:.4f}" for value in curve),
            flush=True,
        )
        curves[json.dumps(overrides) if overrides else "defaults"] = curve
    if args.plot:
        plot(curves, f"MovieLens {args.variant}, {args.split} {score_name}", args.plot)


def plot(curves, ylabel, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, curve in curves.items():
        axes.plot(np.arange(1, len(curve) + 1), curve, marker="o", markersize=3, label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
