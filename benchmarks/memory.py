"""What an in-memory fit adds to a process's memory, against the size of its CSR matrix.

Usage::

    python benchmarks/memory.py [--rows 4000000] [--epochs 3] [--early-stopping]
    python benchmarks/memory.py --sizes 200000 201000 207000 215000 230000 260000 290000
    python benchmarks/memory.py --wide 1000000 [--partial-fit]

Fits ``FMRegressor(n_factors=8, max_iter=epochs, early_stopping=False,
tol=None, random_state=0)`` on ``--rows`` one-hot rows of a user and an item
(two non-zeros each, float32, 70,000 columns). The baseline is the peak RSS
after a warm-up fit of the same width on 300,000 of the rows, which imports
TensorFlow, builds the model and compiles its training step: what remains is
what the data costs. Prints the peak RSS the fit adds, in MiB and in sizes
of the CSR matrix (its data, indices and row pointers). Run it in a fresh
process for each measurement. ``--early-stopping`` fits both with the
default ``early_stopping="auto"`` instead, which holds out a tenth of these
rows and scores them after each epoch.

With ``--sizes``, times instead one-epoch fits (``batch_size=1024``) of the
first rows of the set in each of these numbers: a size whose padded matrix
(``_trainer._bucket``) is new compiles the training step again.

With ``--wide COLUMNS``, measures instead what the parameters of a wide model
cost: ``FMRegressor(max_iter=2, random_state=0)`` (its defaults: 32 factors,
Adam) on 50 rows of ``COLUMNS`` columns with 5 non-zeros each on average,
after a warm-up fit of 1,000 columns; prints the peak RSS added in MiB and in
float32 factor tables (``COLUMNS`` x 32 x 4 bytes), the size of the layer's
table. With ``--partial-fit`` as well, measures a third ``partial_fit`` call
of that model instead (after two unmeasured ones), as a stream of chunks of
a wide model makes them.
"""

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.sparse as sp

from movielens import machine


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def status_mib(field):
    """A memory figure of this process from Linux's /proc/self/status
    (VmRSS, or its peak VmHWM, which /proc/self/clear_refs resets), in MiB."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024


def one_hot_rows(n_rows, n_users=50_000, n_items=20_000, seed=0):
    rng = np.random.RandomState(seed)
    users, items = rng.randint(0, n_users, n_rows), rng.randint(0, n_items, n_rows)
    columns = np.c_[users, n_users + items].ravel().astype(np.int32)
    X = sp.csr_matrix(
        (np.ones(2 * n_rows, np.float32), columns, np.arange(0, 2 * n_rows + 1, 2, dtype=np.int32)),
        shape=(n_rows, n_users + n_items),
    )
    return X, 3 + (rng.uniform(size=n_rows) < 0.5).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--early-stopping", action="store_true")
    parser.add_argument("--wide", type=int, metavar="COLUMNS")
    parser.add_argument("--partial-fit", action="store_true")
    args = parser.parse_args()
    if args.sizes:
        return time_sizes(args.sizes)
    if args.wide:
        return measure_wide(args.wide, args.partial_fit)
    X, y = one_hot_rows(args.rows)
    csr_mib = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20

    from sklearn_fm import FMRegressor

    settings = dict(n_factors=8, tol=None, random_state=0)
    if not args.early_stopping:
        settings["early_stopping"] = False
    FMRegressor(max_iter=1, **settings).fit(X[:300_000], y[:300_000])
    baseline = peak_mib()
    start = time.perf_counter()
    FMRegressor(max_iter=args.epochs, **settings).fit(X, y)
    seconds = time.perf_counter() - start
    added = peak_mib() - baseline
    print(f"Machine: {machine()}.")
    print(f"{args.rows:,} rows, {X.nnz:,} non-zeros, CSR {csr_mib:.0f} MiB; "
          f"{args.epochs} epochs in {seconds:.1f} s; early stopping: {args.early_stopping}.")
    print(f"Peak RSS added by the fit: {added:.0f} MiB = {added / csr_mib:.1f}x the CSR matrix.")


def measure_wide(n_columns, partial_fit=False, n_rows=50, per_row=5):
    from sklearn_fm import FMRegressor

    X = sp.random(n_rows, n_columns, density=per_row / n_columns, format="csr", random_state=0)
    y = np.random.RandomState(0).normal(size=n_rows)
    FMRegressor(max_iter=1, random_state=0).fit(X[:, :1000], y)
    if partial_fit:
        model = FMRegressor(random_state=0).partial_fit(X, y).partial_fit(X, y)
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")  # resets the peak (VmHWM) to the current resident size
        baseline = status_mib("VmRSS")
        model.partial_fit(X, y)
        added = status_mib("VmHWM") - baseline
    else:
        baseline = peak_mib()
        FMRegressor(max_iter=2, random_state=0).fit(X, y)
        added = peak_mib() - baseline
    table_mib = n_columns * 32 * 4 / 2**20
    print(f"Machine: {machine()}.")
    print(f"{n_columns:,} columns, 32 factors: a float32 factor table is {table_mib:.0f} MiB.")
    print(f"Peak RSS added by the fit: {added:.0f} MiB = {added / table_mib:.1f} tables.")


def time_sizes(sizes):
    from sklearn_fm import FMRegressor

    X, y = one_hot_rows(max(sizes), n_users=5000, n_items=3000)
    print(f"Machine: {machine()}.\n\n| rows | fit s |\n| ---: | ---: |")
    for n_rows in sizes:
        start = time.perf_counter()
        FMRegressor(max_iter=1, batch_size=1024, early_stopping=False, tol=None,
                    random_state=0).fit(X[:n_rows], y[:n_rows])
        print(f"| {n_rows:,} | {time.perf_counter() - start:.2f} |", flush=True)


if __name__ == "__main__":
    main()
