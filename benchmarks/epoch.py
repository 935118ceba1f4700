"""Training throughput on MovieLens 1M ids: seconds per epoch and peak memory.

Usage::

    python benchmarks/epoch.py --data ../shared/data [--n-factors 32] [--epochs 7] [--batch-size 4096]

One-hot user + item ids of the 900,189 training ratings (the split of
``benchmarks/movielens.py``). Each epoch is one ``partial_fit`` call,
timed after a first one that compiles the training step; prints the median
seconds per epoch for each solver and the process's peak resident memory.
"""

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FMRegressor
from movielens import IDS, load_split, machine


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--n-factors", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    train, _ = load_split("1m", args.data)
    X = OneHotEncoder().fit_transform(train[IDS])
    y = train["rating"].to_numpy(float)
    print(f"Machine: {machine()}.\n")
    print(f"| solver (k={args.n_factors}, batch {args.batch_size}) | first epoch s | median s/epoch |")
    print("| --- | ---: | ---: |")
    for solver in ["adam", "adagrad", "sgd", "rmsprop"]:
        model = FMRegressor(n_factors=args.n_factors, solver=solver, batch_size=args.batch_size,
                            learning_rate_init=0.002, random_state=0)
        times = []
        for _ in range(args.epochs + 1):
            start = time.perf_counter()
            model.partial_fit(X, y)
            times.append(time.perf_counter() - start)
        print(f"| {solver} | {times[0]:.2f} | {np.median(times[1:]):.3f} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"\nPeak RSS of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
