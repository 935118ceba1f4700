"""Test scores after every epoch on a MovieLens split, for settings given as JSON.

Usage::

    python benchmarks/curves.py --data ../shared/data [--variant 1m|100k]
        [--task ratings|clicks] [--features ids|side|implicit] [--max-items 20]
        [--epochs 15] SETTINGS...

Each SETTINGS is a JSON object of parameters that override the benchmark's
settings with the variant's batch size, for example ``'{"alpha_uniform": 27}'``:
for ratings, FMRegressor's ``RATINGS_SETTINGS``, scored by test RMSE; for
clicks (4 or 5 stars), FMClassifier's ``CLICK_SETTINGS``, scored by test ROC
AUC, with the log-loss beside it. Features: ``ids`` is
user + item one-hot; ``side`` adds gender, age, occupation and genres;
``implicit`` adds the rated items too (``ImplicitFeedbackEncoder`` with
``--max-items``). Each epoch is one ``partial_fit`` call, shuffled with seed
equal to the epoch, and the learning-rate schedule counts epochs across
calls. Prints, per setting, the best score, its epoch and the whole curve.
This is how the sweeps quoted in ``benchmarks/README.md`` were run.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from sklearn_fm import FMClassifier, FMRegressor
from sklearn_fm._benchmark import (
    BATCH_SIZE,
    CLICK_SETTINGS,
    RATINGS_SETTINGS,
    features,
    load_split,
    machine,
)


def rating_scores(model, X_test, y_test):
    error = y_test - np.clip(model.predict(X_test), 1, 5)
    return float(np.sqrt(np.mean(error**2))), None


def click_scores(model, X_test, y_test):
    positive = model.predict_proba(X_test)[:, 1]
    return float(roc_auc_score(y_test >= 4, positive)), float(log_loss(y_test >= 4, positive))


# task: (estimator, settings, target from ratings, scores, fit arguments, best of curve)
TASKS = {
    "ratings": (FMRegressor, RATINGS_SETTINGS, lambda y: y, rating_scores, {}, np.argmin),
    "clicks": (
        FMClassifier, CLICK_SETTINGS, lambda y: (y >= 4).astype(int), click_scores,
        {"classes": [0, 1]}, np.argmax,
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--variant", choices=["1m", "100k"], default="1m")
    parser.add_argument("--task", choices=list(TASKS), default="ratings")
    parser.add_argument("--features", choices=["ids", "side", "implicit"], default="ids")
    parser.add_argument("--max-items", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("settings", nargs="+", type=json.loads)
    args = parser.parse_args()
    estimator, base, target, scores, fit_args, best_of = TASKS[args.task]
    train, test = load_split(args.variant, args.data)
    transformer = features(args.features, args.max_items)
    X, X_test = transformer.fit_transform(train), transformer.transform(test)
    y, y_test = train["rating"].to_numpy(float), test["rating"].to_numpy(float)
    print(f"Machine: {machine()}.")
    print(f"{args.variant}, features {args.features}: {X.shape[1]} columns, {X.nnz} non-zeros")
    for overrides in args.settings:
        model = estimator(**{**base, "batch_size": BATCH_SIZE[args.variant], **overrides})
        curve, second, start = [], [], time.perf_counter()
        for epoch in range(args.epochs):
            model.set_params(random_state=epoch).partial_fit(X, target(y), **fit_args)
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


if __name__ == "__main__":
    main()
