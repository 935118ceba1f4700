"""Out-of-core training: partial_fit over chunk files on disk against one fit
of the whole data set in memory, in peak memory, time and test RMSE.

Usage::

    python benchmarks/streaming.py --data ../shared/data [--chunks 10] [--passes 10]

MovieLens 1M's ratings (the benchmark's 90/10 split, one-hot user and item
ids) are written as ``--chunks`` sparse ``.npz`` files. Each contender runs
in a fresh process: ``in memory`` reads every file, stacks them and calls
``fit`` once (``--passes`` epochs); ``streamed`` reads one file at a time
and calls ``partial_fit`` on it, ``--passes`` times over the files. Both use
the README's rating settings (``alpha_linear=5, alpha_uniform=5``, no early
stopping). The table gives the peak resident memory of the process, what the training
added to it beyond the baseline (the process after importing TensorFlow and
training a tiny model), the size of the whole CSR matrix, the wall time and
the test RMSE of predictions clipped to [1, 5].
"""

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import OneHotEncoder

from movielens import IDS, load_split, machine

SETTINGS = dict(
    alpha_linear=5.0, alpha_uniform=5.0, early_stopping=False, tol=None, random_state=0
)


def write_chunks(data, folder, n_chunks):
    """The training matrix as ``n_chunks`` files of rows; the test matrix and
    ratings, and the whole training CSR's size in bytes."""
    train, test = load_split("1m", data)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(train[IDS])
    X, y = encoder.transform(train[IDS]).tocsr(), train["rating"].to_numpy(float)
    for i, rows in enumerate(np.array_split(np.arange(X.shape[0]), n_chunks)):
        sp.save_npz(folder / f"X{i:03d}.npz", X[rows])
        np.save(folder / f"y{i:03d}.npy", y[rows])
    sp.save_npz(folder / "X_test.npz", encoder.transform(test[IDS]).tocsr())
    np.save(folder / "y_test.npy", test["rating"].to_numpy(float))
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(how, folder, passes):
    """Train as ``how`` says in this process; print the measurements as JSON."""
    from sklearn_fm import FMRegressor

    folder = Path(folder)
    FMRegressor(max_iter=1, tol=None).fit(np.eye(8), np.arange(8.0))  # TensorFlow started
    baseline = peak_mib()
    chunks = sorted(folder.glob("X[0-9]*.npz"))
    start = time.perf_counter()
    if how == "in memory":
        X = sp.vstack([sp.load_npz(path) for path in chunks], format="csr")
        y = np.concatenate([np.load(folder / f"y{path.stem[1:]}.npy") for path in chunks])
        model = FMRegressor(max_iter=passes, **SETTINGS).fit(X, y)
    else:
        model = FMRegressor(**SETTINGS)
        for _ in range(passes):
            for path in chunks:
                model.partial_fit(sp.load_npz(path), np.load(folder / f"y{path.stem[1:]}.npy"))
    seconds = time.perf_counter() - start
    predictions = np.clip(model.predict(sp.load_npz(folder / "X_test.npz")), 1, 5)
    rmse = np.sqrt(np.mean((np.load(folder / "y_test.npy") - predictions) ** 2))
    print(json.dumps({"peak": peak_mib(), "baseline": baseline, "seconds": seconds, "rmse": rmse}))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_one(args.run, args.folder, args.passes)
    with tempfile.TemporaryDirectory() as folder:
        csr_mib = write_chunks(args.data, Path(folder), args.chunks) / 2**20
        rows = []
        for how in ("in memory", "streamed"):
            out = subprocess.run(
                [sys.executable, __file__, "--run", how, "--folder", folder,
                 "--passes", str(args.passes)],
                check=True, capture_output=True, text=True,
            ).stdout
            rows.append((how, json.loads(out.strip().splitlines()[-1])))
    print(f"Machine: {machine()}")
    print(f"Command: python benchmarks/streaming.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"ML-1M ids, {args.chunks} chunk files, {args.passes} passes; the whole training "
          f"CSR matrix: {csr_mib:.1f} MiB\n")
    print("| training | peak RSS (MiB) | added by training (MiB) | x CSR | time (s) | test RMSE |")
    print("| --- | --- | --- | --- | --- | --- |")
    for how, r in rows:
        added = r["peak"] - r["baseline"]
        print(f"| {how} | {r['peak']:.0f} | {added:.0f} | {added / csr_mib:.1f} "
              f"| {r['seconds']:.1f} | {r['rmse']:.4f} |")


if __name__ == "__main__":
    main()
