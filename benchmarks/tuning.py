"""Parallel tuning: GridSearchCV over FMRegressor serially and with two
workers under the joblib backends loky, threading, Dask and Ray.

Usage::

    python benchmarks/tuning.py [--repeats 3] [--backends serial loky threading dask ray]

The search is the README example's (a StandardScaler and FMRegressor
pipeline on 1,000 rows x 6 features) over 8 candidates x 3 folds. Each run
is a fresh Python process, as a script is: the search's wall time includes
what each worker pays to start (TensorFlow's import, the step's tracing),
and a second, identical search in the same process shows the cost once the
workers are warm. Runs alternate over the backends; the table gives medians
of ``--repeats`` runs, their ratio to the serial search, and whether the
search found the same ``best_params_``, ``best_score_`` and test scores as
the serial one. Dask runs on a ``distributed.LocalCluster`` of 2
single-threaded worker processes, Ray on ``ray.init(num_cpus=2)``; each is
skipped when not installed.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

BACKENDS = ("serial", "loky", "threading", "dask", "ray")
GRID = {
    "fmregressor__n_factors": [2, 8],
    "fmregressor__alpha_factors": [1e-4, 1e-2],
    "fmregressor__alpha_uniform": [1.0, 8.0],
}


def search():
    """The README example's search, unfitted, and its data."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_fm import FMRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 6)) * [1, 10, 100, 1, 1, 1]
    y = X[:, 0] + 0.02 * X[:, 1] * X[:, 2] + rng.normal(scale=0.1, size=1000)
    pipe = make_pipeline(StandardScaler(), FMRegressor(random_state=0))
    return GridSearchCV(pipe, GRID, cv=3), X, y


def backend_context(backend):
    """The joblib configuration of ``backend`` (started, for Dask and Ray)."""
    from joblib import parallel_config

    if backend == "serial":
        return parallel_config(n_jobs=1)
    if backend in ("loky", "threading"):
        return parallel_config(backend=backend, n_jobs=2)
    if backend == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
        Client(cluster)
        return parallel_config(backend="dask", n_jobs=2)
    import ray
    from ray.util.joblib import register_ray

    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return parallel_config(backend="ray", n_jobs=2)


def run_one(backend):
    """Time two identical searches under ``backend``; print them as JSON."""
    with backend_context(backend):
        results = []
        for _ in range(2):
            grid, X, y = search()
            start = time.perf_counter()
            grid.fit(X, y)
            seconds = time.perf_counter() - start
            results.append(
                {
                    "seconds": seconds,
                    "best_params": grid.best_params_,
                    "best_score": grid.best_score_,
                    "scores": grid.cv_results_["mean_test_score"].tolist(),
                }
            )
    print(json.dumps(results))


def available(backend):
    module = {"dask": "distributed", "ray": "ray"}.get(backend)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def measure(backends, repeats):
    runs = {backend: [] for backend in backends}
    for _ in range(repeats):
        for backend in backends:
            out = subprocess.run(
                [sys.executable, __file__, "--run", backend],
                check=True,
                capture_output=True,
                text=True,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
            ).stdout
            runs[backend].append(json.loads(out.strip().splitlines()[-1]))
    return runs


def table(runs):
    serial = runs["serial"][0][0]
    medians = {
        backend: [np.median([run[i]["seconds"] for run in results]) for i in (0, 1)]
        for backend, results in runs.items()
    }
    lines = [
        "| backend | first search (s) | vs serial | second search (s) | vs serial | same result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for backend, (first, second) in medians.items():
        same = all(
            {k: run[i][k] for k in ("best_params", "best_score", "scores")}
            == {k: serial[k] for k in ("best_params", "best_score", "scores")}
            for run in runs[backend]
            for i in (0, 1)
        )
        lines.append(
            f"| {backend} | {first:.2f} | {first / medians['serial'][0]:.2f}x "
            f"| {second:.2f} | {second / medians['serial'][1]:.2f}x | {'yes' if same else 'NO'} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--run", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_one(args.run)
    from movielens import machine

    backends = ["serial"] + [b for b in args.backends if b != "serial" and available(b)]
    runs = measure(backends, args.repeats)
    print(f"Machine: {machine()}")
    print(f"Command: python benchmarks/tuning.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"GridSearchCV, {len(GRID)} parameters, 8 candidates x 3 folds; medians of "
          f"{args.repeats} fresh processes\n")
    print(table(runs))


if __name__ == "__main__":
    main()
