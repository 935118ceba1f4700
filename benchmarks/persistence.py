"""Saving and loading wide models: sklearn_fm's safe format against joblib and pickle.

Usage::

    python benchmarks/persistence.py [--repeats N] [--columns 10000 100000 1000000]
        [--dir DIRECTORY]

For each width, fits an ``FMRegressor`` with 32 factors for one epoch on
4,000 sparse rows of two ones each (the default Adam solver, whose state the
file holds too), then times writing and reading its file with
``model.save``/``sklearn_fm.load``, ``joblib.dump``/``joblib.load`` and
``pickle.dump``/``pickle.load`` (highest protocol). The formats alternate
within each of ``--repeats`` rounds, as the machine is shared; the table gives
medians, after an untimed round. ``save`` also flushes the file to disk
(``fsync``) before renaming it into place, which joblib and pickle do not.
Files are read back while still in the page cache, as a model saved and
reloaded on one machine is.
"""

import argparse
import os
import pickle
import shlex
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import joblib
import numpy as np
import scipy.sparse as sp

import sklearn_fm
from sklearn_fm import FMRegressor
from movielens import machine

N_ROWS, N_FACTORS = 4000, 32


def wide_model(n_columns):
    """An FMRegressor fitted for one epoch on ``n_columns`` sparse columns."""
    rng = np.random.RandomState(0)
    rows = np.repeat(np.arange(N_ROWS), 2)
    X = sp.csr_matrix(
        (np.ones(2 * N_ROWS), (rows, rng.randint(n_columns, size=2 * N_ROWS))),
        shape=(N_ROWS, n_columns),
    )
    model = FMRegressor(
        n_factors=N_FACTORS, max_iter=1, tol=None, early_stopping=False, random_state=0
    )
    return model.fit(X, rng.standard_normal(N_ROWS))


def _pickle_dump(model, path):
    with open(path, "wb") as file:
        pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(path):
    with open(path, "rb") as file:
        return pickle.load(file)


FORMATS = {
    "sklearn_fm save/load": (lambda model, path: model.save(path), sklearn_fm.load),
    "joblib dump/load": (joblib.dump, joblib.load),
    "pickle dump/load": (_pickle_dump, _pickle_load),
}


def seconds(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def warm_memory(n_bytes):
    """Touch ``n_bytes`` of memory, then free it. On a virtual machine (this
    one, measured), memory freed two seconds before has gone back to the host
    and costs about 1.3 s per GB to touch again: without this, whichever call
    first allocates after a pause, such as a load after save's ``fsync``, pays."""
    np.ones(n_bytes, dtype=np.uint8)


def measure(model, directory, repeats):
    """{format: (median save s, median load s, file bytes)}, after an untimed round."""
    saves, loads = {name: [] for name in FORMATS}, {name: [] for name in FORMATS}
    sizes = dict.fromkeys(FORMATS, 0)
    path = os.path.join(directory, "model")
    for round_ in range(1 + repeats):
        for name, (save, load) in FORMATS.items():
            warm_memory(2 * sizes[name])  # room for the model and a copy of it
            save_seconds = seconds(save, model, path)
            warm_memory(2 * sizes[name])
            load_seconds = seconds(load, path)
            sizes[name] = os.path.getsize(path)
            os.unlink(path)  # every save writes a new file, as a first one does
            if round_:
                saves[name].append(save_seconds)
                loads[name].append(load_seconds)
    return {
        name: (float(np.median(saves[name])), float(np.median(loads[name])), sizes[name])
        for name in FORMATS
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--columns", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary one)")
    args = parser.parse_args()
    lines = [
        f"| columns x {N_FACTORS} factors | format | save (s) | load (s) | file (MB) "
        "| save / joblib.dump | load / joblib.load |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n_columns in args.columns:
        model = wide_model(n_columns)
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            results = measure(model, directory, args.repeats)
        joblib_save, joblib_load, _ = results["joblib dump/load"]
        for name, (save, load, size) in results.items():
            lines.append(
                f"| {n_columns:,} | {name} | {save:.3f} | {load:.3f} | {size / 1e6:.1f} "
                f"| {save / joblib_save:.2f} | {load / joblib_load:.2f} |"
            )
        del model
    print(f"Machine: {machine()}; sklearn_fm {sklearn_fm.__version__}.")
    print(f"Command: python benchmarks/persistence.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"Medians of {args.repeats} alternating rounds.\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
