"""GPU against CPU: seconds per epoch of FMRegressor on MovieLens 1M ids.

Usage::

    python benchmarks/gpu.py [--data ../shared/data] [--epochs 5] [--repeats 3]

On a machine where TensorFlow sees a GPU, trains ``FMRegressor(max_iter=
epochs, early_stopping=False, tol=None, random_state=0)`` on the one-hot user
+ item ids of the ML-1M training split (``benchmarks/movielens.py``) once
inside ``tf.device("/GPU:0")`` and once inside ``tf.device("/CPU:0")``.
Prints a markdown table of the median seconds per epoch over ``--repeats``
fits, timed after one that builds and compiles the training step, and checks
that the two models' test predictions agree within a float32 tolerance
(``--rtol``, ``--atol``): exit status 1 if they do not.

Each device trains in a worker process of its own, so that neither device's
memory or threads weigh on the other's timings.

Without a GPU visible to TensorFlow, says so and exits with status 0.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

DEVICES = ("/GPU:0", "/CPU:0")


def worker(device, data, epochs, repeats, predictions_file):
    """Train on ``device``; save the test predictions to ``predictions_file``
    and print the figures as JSON."""
    import tensorflow as tf

    from movielens import clipped_rmse, ml1m_ids

    from sklearn_fm import FMRegressor
    from sklearn_fm import _trainer

    X, y, X_test, y_test = ml1m_ids(data)
    settings = dict(early_stopping=False, tol=None, random_state=0)
    with tf.device(device):
        start = time.perf_counter()
        FMRegressor(max_iter=1, **settings).fit(X, y)  # builds and compiles
        first = time.perf_counter() - start
        per_epoch = []
        for _ in range(repeats):
            start = time.perf_counter()
            model = FMRegressor(max_iter=epochs, **settings).fit(X, y)
            per_epoch.append((time.perf_counter() - start) / model.n_iter_)
    predictions = model.predict(X_test)
    np.save(predictions_file, predictions)
    # Where the trainer's variables live: the pool of built models holds
    # only those of this process's fits, all made inside tf.device(device).
    placed = sorted(
        {
            variable.value.device
            for models in _trainer._POOL._idle.values()
            for built in models
            for variable in built.variables
        }
    )
    rmse = clipped_rmse(y_test, predictions)
    figures = {"first fit s": first, "s/epoch": float(np.median(per_epoch)), "RMSE": rmse}
    print(json.dumps({**figures, "variables on": placed}))


def gpu_line(gpus):
    """The GPUs' names as TensorFlow reports them."""
    import tensorflow as tf

    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        name = details.get("device_name", gpu.name)
        capability = details.get("compute_capability")
        names.append(f"{name} (compute capability {'.'.join(map(str, capability))})"
                     if capability else name)
    return "; ".join(names)


def run_worker(device, args, predictions_file):
    command = [sys.executable, __file__, "--worker", device, "--data", args.data,
               "--epochs", str(args.epochs), "--repeats", str(args.repeats),
               "--predictions", str(predictions_file)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"The worker on {device} failed (status {result.returncode}).")
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(results, predictions, rtol, atol):
    """Print the table and compare the predictions; returns the exit status."""
    print("| device | first fit s (builds, compiles) | median s/epoch | test RMSE | variables on |")
    print("| --- | ---: | ---: | ---: | --- |")
    for device, figures in results.items():
        placed = ", ".join(name.rsplit("/", 1)[-1] for name in figures["variables on"])
        print(f"| {device} | {figures['first fit s']:.2f} | {figures['s/epoch']:.3f} "
              f"| {figures['RMSE']:.4f} | {placed} |")
    for device, figures in results.items():
        if any(not name.endswith(device.lstrip("/")) for name in figures["variables on"]):
            print(f"\nThe fits inside tf.device({device!r}) trained variables on "
                  f"{figures['variables on']}: its figures are not {device}'s.")
    (gpu, cpu), (gpu_predictions, cpu_predictions) = results.values(), predictions.values()
    print(f"\nGPU speed-up per epoch: {cpu['s/epoch'] / gpu['s/epoch']:.2f}x")
    difference = np.abs(gpu_predictions - cpu_predictions)
    print(f"Test predictions, GPU against CPU: max |difference| {difference.max():.3g}, "
          f"mean {difference.mean():.3g}.")
    try:
        np.testing.assert_allclose(gpu_predictions, cpu_predictions, rtol=rtol, atol=atol)
    except AssertionError as error:
        print(f"They differ by more than float32 training explains (rtol={rtol}, atol={atol}):"
              f"{error}")
        return 1
    print(f"They agree within rtol={rtol}, atol={atol}.")
    return 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data",
                        help="the folder holding ml-1m/ (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=5, help="max_iter of each fit")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per device")
    # Float32 training of 900,189 rows: the devices sum in different orders
    # (and a GPU's scatter-adds in no fixed one), so parameters differ by
    # rounding, which training carries on. Ratings are 1 to 5.
    parser.add_argument("--rtol", type=float, default=1e-3,
                        help="tolerance of the prediction check")
    parser.add_argument("--atol", type=float, default=1e-3,
                        help="tolerance of the prediction check")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--predictions", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.data, args.epochs, args.repeats, args.predictions)

    import tensorflow as tf

    from movielens import machine

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print(f"No GPU is visible to TensorFlow {tf.__version__} "
              "(tf.config.list_physical_devices('GPU') is empty), so there is nothing to "
              "compare: run this on a machine with a GPU and TensorFlow's CUDA build "
              "(pip install 'tensorflow[and-cuda]').")
        return 0
    print(f"FMRegressor on ML-1M user + item one-hot ids (900,189 rows), "
          f"{args.epochs} epochs per fit, medians of {args.repeats} fits after one that "
          "compiles.\n")
    print(f"Machine: {machine()}; GPU: {gpu_line(gpus)}.\n")
    results, predictions = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for device in DEVICES:
            file = Path(folder) / f"{device.strip('/').replace(':', '')}.npy"
            results[device] = run_worker(device, args, file)
            predictions[device] = np.load(file)
    return report(results, predictions, args.rtol, args.atol)


if __name__ == "__main__":
    sys.exit(main())
