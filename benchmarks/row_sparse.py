"""Milliseconds per training step of the row-sparse solvers on ever wider data.

Usage::

    python benchmarks/row_sparse.py [--columns 50000 800000] [--repeats 3]

60,000 rows of two one-hot non-zeros each (the XLA-compiled step), batches
of 256, ``n_factors=32``, ``alpha_linear=0`` and ``alpha_uniform=0`` (so that
SGD, Adagrad and FTRL update only the rows of a batch's features), and
Adagrad with ``alpha_linear=1`` (the default), which steps every linear
weight and the factors of a batch's features only. A step's time is that of a
three-epoch fit less a one-epoch fit, over the 470 steps between them; it
includes each epoch's own work (FTRL anchors its slots to the weights at
every epoch's learning rate, over the whole tables). Adam updates every row
at every step, for comparison. Medians of ``--repeats`` rounds that
alternate the solvers.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.sparse as sp

from sklearn_fm import FMRegressor
from movielens import machine

# (column label, solver, alpha_linear)
CONTENDERS = [
    ("sgd", "sgd", 0.0),
    ("adagrad", "adagrad", 0.0),
    ("ftrl", "ftrl", 0.0),
    ("adagrad, alpha_linear=1", "adagrad", 1.0),
    ("adam", "adam", 0.0),
]
N_ROWS, BATCH = 60_000, 256


def one_hot_pairs(n_columns, rng):
    """Rows of one column from each half of ``n_columns``."""
    half = n_columns // 2
    cols = np.c_[rng.randint(half, size=N_ROWS), half + rng.randint(half, size=N_ROWS)].ravel()
    return sp.csr_matrix(
        (np.ones(2 * N_ROWS), cols, 2 * np.arange(N_ROWS + 1)), shape=(N_ROWS, n_columns)
    )


def fit_seconds(X, y, solver, alpha_linear, epochs):
    model = FMRegressor(solver=solver, alpha_linear=alpha_linear, alpha_uniform=0.0,
                        batch_size=BATCH, n_factors=32, max_iter=epochs, tol=None,
                        early_stopping=False, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--columns", type=int, nargs="+", default=[50_000, 800_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    y = rng.normal(size=N_ROWS)
    steps = 2 * -(-N_ROWS // BATCH)
    print(f"Machine: {machine()}.\n")
    print("| columns | " + " | ".join(f"{label} ms/step" for label, *_ in CONTENDERS) + " |")
    print("| ---: |" + " ---: |" * len(CONTENDERS))
    for n_columns in args.columns:
        X = one_hot_pairs(n_columns, rng)
        times = {label: [] for label, *_ in CONTENDERS}
        for _, solver, alpha_linear in CONTENDERS:
            fit_seconds(X, y, solver, alpha_linear, 1)  # builds and compiles this shape's step
        for _ in range(args.repeats):
            for label, solver, alpha_linear in CONTENDERS:
                extra = (fit_seconds(X, y, solver, alpha_linear, 3)
                         - fit_seconds(X, y, solver, alpha_linear, 1))
                times[label].append(1e3 * extra / steps)
        cells = " | ".join(f"{np.median(times[label]):.2f}" for label, *_ in CONTENDERS)
        print(f"| {n_columns:,} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
