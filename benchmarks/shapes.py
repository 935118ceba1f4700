"""Resident memory and time of fits of ever new shapes (issue: memory per new data shape).

Usage::

    python benchmarks/shapes.py width    # a new number of columns per fit
    python benchmarks/shapes.py rows     # a new number of rows (< batch_size) per fit
    python benchmarks/shapes.py same     # one shape, for comparison

Fits 60 new shapes after 5 that warm up, and prints the growth of resident
memory and the seconds per fit. Every new shape compiles a training step;
what TensorFlow keeps of it is what this measures.
"""

import argparse
import time
import warnings

import numpy as np

from movielens import resident_mib

from sklearn_fm import FMRegressor


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["width", "rows", "same"])
    mode = parser.parse_args().mode
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)

    def fit(i):
        n_rows, n_columns = {"rows": (20 + i, 10), "width": (50, 10 + i), "same": (50, 10)}[mode]
        X = rng.normal(size=(n_rows, n_columns))
        FMRegressor(n_factors=4, max_iter=2, tol=None, batch_size=256, random_state=0).fit(
            X, X[:, 0] * X[:, 1]
        )

    for i in range(5):
        fit(i)
    before, start = resident_mib(), time.perf_counter()
    for i in range(5, 65):
        fit(i)
    seconds = (time.perf_counter() - start) / 60
    growth = resident_mib() - before
    print(f"{mode}: resident memory +{growth:.1f} MiB over 60 fits, {seconds:.3f} s per fit")


if __name__ == "__main__":
    main()
