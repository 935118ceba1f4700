"""Data-parallel training through tf.distribute: seconds per epoch of
FMRegressor on MovieLens 1M ids, on one replica and on two.

Usage::

    python benchmarks/distribute.py [--data ../shared/data] [--epochs 3] [--repeats 3]

Trains ``FMRegressor(max_iter=epochs, early_stopping=False, tol=None,
random_state=0)`` on the one-hot user + item ids of the ML-1M training split
(``benchmarks/movielens.py``):

- ``one replica``: a plain fit (the XLA-compiled step);
- ``OneDeviceStrategy``: in the scope of a one-device strategy, which takes
  the path of every strategy (TensorFlow's executor, ``strategy.run``) on one
  replica: what that path costs before any all-reduce;
- ``MirroredStrategy``: in the scope of a MirroredStrategy over two logical
  CPU devices of one process;
- ``MultiWorkerMirroredStrategy``: in the scope of the strategy in two worker
  processes on 127.0.0.1 (``TF_CONFIG``), each given the whole data.

Each round runs every contender once, in processes of its own, in turn;
after a fit that builds the model, a timed fit gives the seconds per epoch.
Prints the medians over ``--repeats`` rounds, the test RMSE and the largest
difference of the test predictions from the one-replica model's.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

CONTENDERS = (
    "one replica", "OneDeviceStrategy", "MirroredStrategy", "MultiWorkerMirroredStrategy"
)


def worker(contender, data, epochs, predictions_file):
    """Train as ``contender``; save the test predictions and print the figures as JSON."""
    import contextlib

    import tensorflow as tf

    if contender == "MirroredStrategy":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/CPU:0", "/CPU:1"])
    elif contender == "OneDeviceStrategy":
        strategy = tf.distribute.OneDeviceStrategy("/CPU:0")
    elif contender == "MultiWorkerMirroredStrategy":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = None

    from movielens import clipped_rmse, ml1m_ids

    from sklearn_fm import FMRegressor

    X, y, X_test, y_test = ml1m_ids(data)
    settings = dict(early_stopping=False, tol=None, random_state=0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        start = time.perf_counter()
        FMRegressor(max_iter=1, **settings).fit(X, y)  # builds the model
        first = time.perf_counter() - start
        start = time.perf_counter()
        model = FMRegressor(max_iter=epochs, **settings).fit(X, y)
        per_epoch = (time.perf_counter() - start) / model.n_iter_
    predictions = model.predict(X_test)
    np.save(predictions_file, predictions)
    rmse = clipped_rmse(y_test, predictions)
    print(json.dumps({"first fit s": first, "s/epoch": per_epoch, "RMSE": rmse}))


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_contender(contender, args, folder):
    """Run ``contender``'s process (two for the multi-worker strategy, whose
    first worker's figures count); its figures and test predictions."""
    n_workers = 2 if contender == "MultiWorkerMirroredStrategy" else 1
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(n_workers)]}
    processes = []
    for index in range(n_workers):
        env = dict(os.environ)
        if n_workers > 1:
            task = {"type": "worker", "index": index}
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task})
        predictions_file = Path(folder) / f"{contender}-{index}.npy"
        command = [sys.executable, __file__, "--worker", contender, "--data", args.data,
                   "--epochs", str(args.epochs), "--predictions", str(predictions_file)]
        processes.append((subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True),
                          predictions_file))
    outputs = [(process.communicate(), process.returncode) for process, _ in processes]
    for (_, errors), returncode in outputs:
        if returncode != 0:
            sys.stderr.write(errors)
            raise SystemExit(f"The {contender} worker failed (status {returncode}).")
    figures = json.loads(outputs[0][0][0].strip().splitlines()[-1])
    return figures, np.load(processes[0][1])


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data",
                        help="the folder holding ml-1m/ (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=3, help="max_iter of the timed fit")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the contenders")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--predictions", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.data, args.epochs, args.predictions)

    from movielens import machine

    results = {contender: [] for contender in CONTENDERS}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for contender in CONTENDERS:
                results[contender].append(run_contender(contender, args, folder))
    print(f"Machine: {machine()}.\n")
    print(f"FMRegressor defaults, {args.epochs} epochs; medians of {args.repeats} rounds.\n")
    print("| training | first fit s (builds) | median s/epoch | relative | test RMSE "
          "| max difference of predictions from one replica's |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    reference = results["one replica"][-1][1]
    base = np.median([figures["s/epoch"] for figures, _ in results["one replica"]])
    for contender, runs in results.items():
        per_epoch = np.median([figures["s/epoch"] for figures, _ in runs])
        first = np.median([figures["first fit s"] for figures, _ in runs])
        figures, predictions = runs[-1]
        difference = np.abs(predictions - reference).max()
        print(f"| {contender} | {first:.2f} | {per_epoch:.3f} | {per_epoch / base:.2f}x "
              f"| {figures['RMSE']:.4f} | {difference:.2g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
