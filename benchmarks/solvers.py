"""Solvers on one-hot clicks: Adam's 'auto' rate against SGD, Adagrad and FTRL.

Usage::

    python benchmarks/solvers.py [--repeats 1]

``FMClassifier`` (``random_state=0``, otherwise its defaults) with each
``solver`` and ``learning_rate_init`` below on ``ffm.py``'s generated clicks
(180,000 training rows of five one-hot fields, 2,379 columns), beside
``LogisticRegression``. Prints a markdown table of test ROC AUC, epochs and
fit seconds (medians over ``--repeats`` runs after an untimed round).

'auto' is a rate for Adam and its kind; the user guide ("Rates for SGD,
Adagrad and FTRL on sparse columns") says why SGD, Adagrad and FTRL barely
move sparse columns with it. The rows show what that costs and what
restores them.
"""

import argparse
import os
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from sklearn_fm import FMClassifier
from ffm import generated_clicks
from movielens import machine


def small_accumulators(class_name):
    """Keras' ``class_name`` with its accumulators starting at 1e-6."""
    return {"class_name": class_name, "config": {"initial_accumulator_value": 1e-6}}


# (solver as shown, solver, learning_rate_init)
CONTENDERS = [
    ("'adam'", "adam", "auto"),
    ("'rmsprop'", "rmsprop", "auto"),
    ("'sgd'", "sgd", "auto"),
    ("'sgd'", "sgd", 3.0),
    ("'adagrad'", "adagrad", "auto"),
    ("'adagrad'", "adagrad", 3.0),
    ("Adagrad, initial_accumulator_value=1e-6", small_accumulators("Adagrad"), 0.3),
    ("'ftrl'", "ftrl", "auto"),
    ("'ftrl'", "ftrl", 3.0),
    ("Ftrl, initial_accumulator_value=1e-6", small_accumulators("Ftrl"), 0.3),
]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    print(f"Machine: {machine()}.")
    print(f"Command: python benchmarks/solvers.py {shlex.join(sys.argv[1:])}".rstrip())
    task = generated_clicks()
    models = [
        (shown, lr, FMClassifier(solver=solver, learning_rate_init=lr, random_state=0))
        for shown, solver, lr in CONTENDERS
    ]
    models.append(("LogisticRegression", "—", LogisticRegression(max_iter=1000)))
    results = {index: [] for index in range(len(models))}
    for round_ in range(args.repeats + 1):  # the first is untimed: start-up and compilation
        for index, (_, _, model) in enumerate(models):  # alternating: the machine is shared
            start = time.perf_counter()
            model.fit(task.X_train, task.y_train)
            seconds = time.perf_counter() - start
            auc = roc_auc_score(task.y_test, model.predict_proba(task.X_test)[:, 1])
            epochs = int(np.max(getattr(model, "n_iter_", 0)))
            if round_:
                results[index].append((auc, epochs, seconds))
    print(f"\n### FMClassifier on generated clicks, medians of {args.repeats}\n")
    print("| solver | learning_rate_init | ROC AUC | epochs | fit s |")
    print("| --- | --- | ---: | ---: | ---: |")
    for index, (shown, lr, _) in enumerate(models):
        auc, epochs, seconds = np.median(np.array(results[index]), axis=0)
        print(f"| {shown} | {lr} | {auc:.4f} | {epochs:.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
