"""Fixed costs of FMRegressor: small-data fit time and predict latency.

Usage::

    python benchmarks/overhead.py [--repeats N]

Prints a markdown table of medians over ``--repeats`` runs, with the machine
and library versions. TensorFlow is imported (and a first fit done) before any
timing, so fit figures exclude the one-off import.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.sparse as sp

import sklearn_fm
from sklearn_fm import FMRegressor
from movielens import machine, resident_mib


def median_seconds(function, repeats, number=1):
    """Median over ``repeats`` of the mean time of ``number`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return float(np.median(times))


def one_hot_ids(n_rows, n_users, n_items, seed):
    rng = np.random.RandomState(seed)
    cols = np.column_stack(
        [rng.randint(n_users, size=n_rows), n_users + rng.randint(n_items, size=n_rows)]
    ).ravel()
    rows = np.repeat(np.arange(n_rows), 2)
    return sp.csr_matrix(
        (np.ones(2 * n_rows), (rows, cols)), shape=(n_rows, n_users + n_items)
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    rng = np.random.RandomState(0)

    X_small = rng.normal(size=(300, 5))
    y_small = X_small[:, 0] + X_small[:, 1] * X_small[:, 2]
    small = FMRegressor(max_iter=20, tol=None, random_state=0)
    small.fit(X_small, y_small)  # imports TensorFlow
    small.fit(X_small[:200], y_small[:200])  # the graph generalises over data sizes
    rss_before = resident_mib()
    for _ in range(100):
        small.fit(X_small, y_small)
    rss_growth = (resident_mib() - rss_before) / 100

    X_ids = one_hot_ids(100_000, 6040, 3706, seed=0)
    y_ids = rng.normal(size=X_ids.shape[0])
    ids = FMRegressor(n_factors=32, max_iter=1, tol=None, random_state=0).fit(X_ids, y_ids)
    X_dense = rng.normal(size=(100_000, 20))
    dense = FMRegressor(n_factors=8, max_iter=1, tol=None, random_state=0)
    dense.fit(X_dense, X_dense[:, 0])

    rows = [
        (
            "fit, 300 x 5 dense, 20 epochs (k=8, batch 256)",
            median_seconds(lambda: small.fit(X_small, y_small), repeats),
        ),
        (
            "predict, 1 dense row (5 features)",
            median_seconds(lambda: small.predict(X_small[:1]), repeats, number=1000),
        ),
        (
            "predict, 1 sparse row (9,746 one-hot columns, k=32)",
            median_seconds(lambda: ids.predict(X_ids[:1]), repeats, number=1000),
        ),
        (
            "predict, 100,000 sparse rows (9,746 one-hot columns, k=32)",
            median_seconds(lambda: ids.predict(X_ids), repeats),
        ),
        (
            "predict, 100,000 dense rows (20 features, k=8)",
            median_seconds(lambda: dense.predict(X_dense), repeats),
        ),
        ("memory growth per fit, over 100 fits of 300 x 5", rss_growth),
    ]
    print(f"Machine: {machine()}; sklearn_fm {sklearn_fm.__version__}\n")
    print(f"| measurement | median of {repeats} |")
    print("| --- | ---: |")
    for name, value in rows:
        if name.startswith("memory"):
            figure = f"{value:.3f} MB (one run)"
        else:
            figure = f"{value * 1e3:.3f} ms" if value < 1 else f"{value:.2f} s"
        print(f"| {name} | {figure} |")


if __name__ == "__main__":
    main()
