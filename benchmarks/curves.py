"""Test RMSE after every epoch on a MovieLens split, for settings given as JSON.

Usage::

    python benchmarks/curves.py --data ../shared/data [--variant 1m|100k]
        [--features ids|side|implicit] [--max-items 20] [--epochs 15] SETTINGS...

Each SETTINGS is a JSON object of FMRegressor parameters that override the
rating settings of the benchmark (``RATINGS_SETTINGS`` with the variant's
batch size), for example ``'{"alpha_uniform": 27}'``. Features: ``ids`` is
user + item one-hot; ``side`` adds gender, age, occupation and genres;
``implicit`` adds the rated items too (``ImplicitFeedbackEncoder`` with
``--max-items``). Each epoch is one ``partial_fit`` call, shuffled with seed
equal to the epoch, and the learning-rate schedule counts epochs across
calls. Prints, per setting, the best RMSE, its epoch and the whole curve.
This is how the sweeps quoted in ``benchmarks/README.md`` were run.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FMRegressor, ImplicitFeedbackEncoder, MultiHotEncoder
from sklearn_fm._benchmark import BATCH_SIZE, IDS, RATINGS_SETTINGS, SIDE, load_split, machine


def design(features, max_items):
    blocks = [("ids", OneHotEncoder(handle_unknown="ignore"), IDS)]
    if features in ("side", "implicit"):
        blocks = [
            ("ids", OneHotEncoder(handle_unknown="ignore"), IDS + SIDE),
            ("genres", MultiHotEncoder(norm="l2"), ["genres"]),
        ]
    if features == "implicit":
        blocks.append(
            ("implicit", ImplicitFeedbackEncoder(max_items=max_items, random_state=0), IDS)
        )
    return ColumnTransformer(blocks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--variant", choices=["1m", "100k"], default="1m")
    parser.add_argument("--features", choices=["ids", "side", "implicit"], default="ids")
    parser.add_argument("--max-items", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("settings", nargs="+", type=json.loads)
    args = parser.parse_args()
    train, test = load_split(args.variant, args.data)
    transformer = design(args.features, args.max_items)
    X, X_test = transformer.fit_transform(train), transformer.transform(test)
    y, y_test = train["rating"].to_numpy(float), test["rating"].to_numpy(float)
    print(f"Machine: {machine()}.")
    print(f"{args.variant}, features {args.features}: {X.shape[1]} columns, {X.nnz} non-zeros")
    for overrides in args.settings:
        settings = {**RATINGS_SETTINGS, "batch_size": BATCH_SIZE[args.variant], **overrides}
        model = FMRegressor(**settings)
        curve, start = [], time.perf_counter()
        for epoch in range(args.epochs):
            model.set_params(random_state=epoch).partial_fit(X, y)
            error = y_test - np.clip(model.predict(X_test), 1, 5)
            curve.append(float(np.sqrt(np.mean(error**2))))
        best = int(np.argmin(curve))
        print(
            f"{json.dumps(overrides)}: best {curve[best]:.4f} at epoch {best + 1}, "
            f"{time.perf_counter() - start:.0f} s; curve "
            + " ".join(f"{value:.4f}" for value in curve),
            flush=True,
        )


if __name__ == "__main__":
    main()
