"""The trainer against another version of sklearn_fm, side by side.

Usage::

    git worktree add ../baseline <commit>      # the version to compare with
    python benchmarks/trainer.py --data ../shared/data --baseline ../baseline [--rounds 3]

Each round runs one worker process per contender, alternating, so both see
the same machine load; the table gives medians over rounds of: seconds per
epoch on MovieLens 1M ids (k=32, batch 4096, each epoch a ``partial_fit``
after a first that compiles), the 300 x 5 dense fit of ``overhead.py`` and
resident memory growth over 200 such fits, with the ratio of this checkout
to the baseline. A contender without a solver gets no figure.

It also splits the epochs of a default ``FMRegressor`` fit on MovieLens 1M
(early stopping on, 6 epochs, after a fit that compiles) into the time the
epoch's graph runs and the rest, the host's work: building and uploading
batches, reading parameters back, scoring the validation rows. A GPU runs
only the graph; the rest bounds it.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Without the uniform penalties, which update every row: alpha_linear=0 also
# means no per-sample linear penalty to versions from before it became
# Ridge's alpha, so both sides train the same objective.
_NO_PRIORS = dict(alpha_linear=0.0, alpha_uniform=0.0)
CASES = {
    # name: (FMRegressor settings, extra empty columns)
    "adam, dense (alpha_uniform=8)": (dict(solver="adam"), 0),
    "sgd, row-sparse (no uniform penalties)": (dict(solver="sgd", **_NO_PRIORS), 0),
    "adagrad, row-sparse (no uniform penalties)": (dict(solver="adagrad", **_NO_PRIORS), 0),
    "ftrl, row-sparse (no uniform penalties)": (dict(solver="ftrl", **_NO_PRIORS), 0),
    # The same rows beside 990,254 empty columns: a row-sparse step costs
    # the same, a dense one grows with the columns.
    "sgd, 1M columns": (dict(solver="sgd", **_NO_PRIORS), 990_254),
    "adagrad, 1M columns": (dict(solver="adagrad", **_NO_PRIORS), 990_254),
    "ftrl, 1M columns": (dict(solver="ftrl", **_NO_PRIORS), 990_254),
    "adam, 1M columns (dense)": (dict(solver="adam", **_NO_PRIORS), 990_254),
}


def worker(data, epochs):
    """Measure this process's sklearn_fm; print the figures as JSON."""
    import warnings

    import numpy as np
    import scipy.sparse as sp
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import OneHotEncoder

    from movielens import IDS, load_split, resident_mib

    from sklearn_fm import FMRegressor

    warnings.simplefilter("ignore", ConvergenceWarning)
    train, _ = load_split("1m", data)
    X = OneHotEncoder().fit_transform(train[IDS])
    y = train["rating"].to_numpy(float)
    figures = host_work(X, y)
    for name, (settings, extra_columns) in CASES.items():
        X_case = sp.hstack([X, sp.csr_matrix((X.shape[0], extra_columns))]).tocsr()
        model = FMRegressor(n_factors=32, batch_size=4096, learning_rate_init=0.002,
                            random_state=0, **settings)
        try:
            model.partial_fit(X_case, y)  # compiles
        except Exception:  # InvalidParameterError: a solver this version lacks
            continue
        times = []
        for _ in range(epochs):
            start = time.perf_counter()
            model.partial_fit(X_case, y)
            times.append(time.perf_counter() - start)
        figures[name] = float(np.median(times))
    rng = np.random.RandomState(0)
    X_small = rng.normal(size=(300, 5))
    y_small = X_small[:, 0] * X_small[:, 1] + rng.normal(scale=0.1, size=300)

    def small_fit():
        FMRegressor(n_factors=8, batch_size=256, max_iter=20, tol=None,
                    random_state=0).fit(X_small, y_small)

    for _ in range(20):
        small_fit()
    times = []
    for _ in range(15):
        start = time.perf_counter()
        small_fit()
        times.append(time.perf_counter() - start)
    figures["fit 300 x 5, 20 epochs (ms)"] = 1000 * float(np.median(times))
    before = resident_mib()
    for _ in range(200):
        small_fit()
    figures["memory growth over 200 fits (MiB)"] = resident_mib() - before
    print(json.dumps(figures))


def timed_epochs(in_graph):
    """Make every call of an epoch's graphs append its start and end times
    to ``in_graph``; returns a function that undoes it."""
    import numpy as np
    import tensorflow as tf

    import sklearn_fm.keras

    def timed(epoch):
        def timed_epoch(*arguments):
            # Arguments still in NumPy are uploaded here: the host's work.
            arguments = tf.nest.map_structure(
                lambda a: tf.constant(a) if isinstance(a, np.ndarray) else a, arguments
            )
            start = time.perf_counter()
            result = epoch(*arguments)
            in_graph.append((start, time.perf_counter()))
            return result

        return timed_epoch

    if hasattr(sklearn_fm.keras, "_epoch_function"):  # the hand-written trainer
        factory = sklearn_fm.keras._epoch_function
        sklearn_fm.keras._epoch_function = lambda *shape: timed(factory(*shape))
        return lambda: setattr(sklearn_fm.keras, "_epoch_function", factory)
    from sklearn_fm import _trainer

    build = _trainer._Model.__init__

    def timed_build(model, *args):
        build(model, *args)
        model.epoch = timed(model.epoch)
        model.outputs = timed(model.outputs)  # scores the validation rows

    _trainer._Model.__init__ = timed_build
    return lambda: setattr(_trainer._Model, "__init__", build)


def host_work(X, y, epochs=6):
    """Seconds per epoch of a default fit in the epoch's graph and between
    two epochs' graphs (on the host), and the set-up of the fit."""
    from sklearn_fm import FMRegressor

    in_graph = []
    undo = timed_epochs(in_graph)
    FMRegressor(max_iter=1, random_state=0).fit(X, y)  # builds and compiles
    in_graph.clear()
    start = time.perf_counter()
    FMRegressor(max_iter=epochs, tol=None, random_state=0).fit(X, y)
    end = time.perf_counter()
    undo()
    graph = sum(stop - begin for begin, stop in in_graph)
    # From the first epoch's graph call to the end of the last epoch's
    # host work: what the host does per epoch.
    host = (end - in_graph[0][0]) - graph
    return {
        "default fit, s/epoch in all (wall time / epochs)": (end - start) / epochs,
        "default fit, s/epoch in the epoch's graph": graph / epochs,
        "default fit, s/epoch on the host, between graphs": host / epochs,
        "default fit, host share of an epoch": host / (host + graph),
        "default fit, s of set-up before the first epoch": in_graph[0][0] - start,
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--baseline", help="a checkout of the other version (required)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.data, args.epochs)
    if args.baseline is None:
        parser.error("--baseline is required")
    import numpy as np

    contenders = {"baseline": Path(args.baseline).resolve(), "this": Path(__file__).parents[1]}
    runs = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, tree in contenders.items():
            env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
            result = subprocess.run(
                [sys.executable, __file__, "--worker", "--data", args.data, "--epochs",
                 str(args.epochs)],
                capture_output=True, text=True, env=env, check=True,
            )
            runs[name].append(json.loads(result.stdout.strip().splitlines()[-1]))
    commits = {
        name: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        for name, tree in contenders.items()
    }
    print(f"Medians of {args.rounds} alternating rounds; baseline {commits['baseline']}, "
          f"this checkout {commits['this']} (plus its working tree).\n")
    print("| measurement | baseline | this | ratio |")
    print("| --- | ---: | ---: | ---: |")
    labels = {case: f"ML-1M s/epoch, {case}" for case in CASES}
    labels.update({key: key for key in runs["this"][0] if key not in CASES})
    for key, label in labels.items():
        medians = {
            name: np.median([run[key] for run in runs[name] if key in run] or [np.nan])
            for name in runs
        }
        ratio = medians["this"] / medians["baseline"]
        print(f"| {label} | {medians['baseline']:.3f} | {medians['this']:.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
