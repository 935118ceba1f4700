"""FMRegressors that differ only in ``random_state``, alone and averaged, on a
MovieLens split.

Usage::

    python benchmarks/seed_ensemble.py --data ../shared/data [--variant 1m|100k]
        [--features ids|side|implicit|raters] [--max-items 20]
        [--split test|validation] [--fold 1] [--seeds 8] [--weights '{"raters": 2}']
        SETTINGS

SETTINGS is a JSON object of parameters over FMRegressor's defaults with
``early_stopping=False, tol=None``, for example ``'{"max_iter": 30}'``. The
split, the features and ``--split validation`` are those of ``curves.py``;
``--weights`` multiplies the columns of blocks of features (a JSON object of
block names and weights, ``movielens.features``); ``--fold`` picks ML-100K's
split ``u1`` to ``u5``.
Fits the settings with ``random_state`` 0, 1, ... and prints the RMSE of each
fit's predictions and that of the mean prediction of the first 1, 2, 4, ...
fits (clipped to [1, 5]): the average of point estimates, as MCMC FMs
average their posterior samples.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from sklearn_fm import FMRegressor
from movielens import clipped_rmse, encoded_ratings, machine


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--variant", choices=["1m", "100k"], default="100k")
    parser.add_argument("--features", choices=["ids", "side", "implicit", "raters"],
                        default="ids")
    parser.add_argument("--max-items", type=int, default=20)
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--fold", type=int, choices=range(1, 6), default=1,
                        help="ML-100K's split u1 to u5")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--weights", type=json.loads, default=None,
                        help="weights of blocks of features, as a JSON object")
    parser.add_argument("settings", type=json.loads)
    args = parser.parse_args()
    X, y, X_test, y_test = encoded_ratings(
        args.variant, args.data, args.split, args.features, args.max_items, args.weights,
        args.fold,
    )
    print(f"Machine: {machine()}.")
    print(f"{args.variant} (--fold {args.fold}), {args.split} split, features {args.features} "
          f"(--max-items {args.max_items}, --weights {json.dumps(args.weights)}), "
          f"{json.dumps(args.settings)}")
    settings = dict(early_stopping=False, tol=None, **args.settings)
    predictions = []
    for seed in range(args.seeds):
        model = FMRegressor(**settings, random_state=seed).fit(X, y)
        predictions.append(model.predict(X_test))
        print(f"random_state={seed}: RMSE {clipped_rmse(y_test, predictions[-1]):.4f}", flush=True)
    n = 1
    while n <= args.seeds:
        print(f"mean of {n}: RMSE {clipped_rmse(y_test, np.mean(predictions[:n], axis=0)):.4f}")
        n *= 2


if __name__ == "__main__":
    main()
