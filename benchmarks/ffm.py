"""Field-aware FMs on click data with fields: FFMClassifier against FMClassifier,
LogisticRegression and modern-fm's FFMClassifier and FMClassifier.

Usage::

    python benchmarks/ffm.py --data ../shared/data [--task movielens|generated|both]
        [--repeats 3] [--no-peers] [--split test|validation] [--n-factors K]

Two click tasks, each with its columns one-hot encoded per field:

- ``movielens``: MovieLens 1M ratings of 4 or 5 stars as clicks, on the
  benchmark's 90/10 split (``movielens.load_split``), with the fields user,
  item, gender, age, occupation and genres (multi-hot);
- ``generated``: 200,000 generated clicks on five fields (user, ad, device,
  hour, site) whose log-odds hold main effects and four pairwise effects of
  rank 2, each unrelated to the others (``generated_clicks``).

Every model trains with its defaults (``random_state=0``) on the same sparse
matrix; the field-aware ones get the field of each column (``fields=`` here,
``field_ids=`` for modern-fm). Prints one markdown table per task: test ROC
AUC and log-loss, fit seconds and seconds per epoch, medians over
``--repeats`` runs in which the models alternate, after one untimed round
(TensorFlow's import and the compilation of each shape, about 5 s, are paid
once per process). modern-fm runs when it is
importable (``pip install modern-fm``); it is not a dependency.

``--split validation`` scores the MovieLens task on ``validation_split`` of
its training part instead of the test part (the data the settings were
chosen on). ``--n-factors K`` gives FFMClassifier (fields) and FMClassifier
the rank K instead of their defaults (8 per field and 32), to compare them at
equal rank.
"""

import argparse
import os
import shlex
import sys
import time
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FFMClassifier, FMClassifier, MultiHotEncoder
from movielens import load_split, machine, validation_split


class Task(NamedTuple):
    """A click task: train and test matrices, labels, and the field of each column."""

    name: str
    X_train: sp.csr_matrix
    y_train: np.ndarray
    X_test: sp.csr_matrix
    y_test: np.ndarray
    fields: np.ndarray  # (n_features,) of field names
    # The same columns in fewer, coarser fields, or None.
    coarse_fields: np.ndarray = None


def encoded(blocks, train, test, y_train, y_test, name):
    """A :class:`Task` of the frames ``train`` and ``test`` encoded by
    ``blocks`` (ColumnTransformer blocks, each named after its field)."""
    transformer = ColumnTransformer(blocks).fit(train)
    fields = np.array([column.split("__")[0] for column in transformer.get_feature_names_out()])
    X_train, X_test = (sp.csr_matrix(transformer.transform(frame)) for frame in (train, test))
    return Task(name, X_train, y_train, X_test, y_test, fields)


def movielens_blocks():
    """ColumnTransformer blocks of the six MovieLens fields, each named after
    its field: user, item, gender, age, occupation (one-hot) and genres."""
    one_hot = OneHotEncoder(handle_unknown="ignore")
    blocks = [
        (field, one_hot, [column])
        for field, column in [
            ("user", "user_id"), ("item", "item_id"), ("gender", "gender"),
            ("age", "age"), ("occupation", "occupation"),
        ]
    ]
    return blocks + [("genres", MultiHotEncoder(norm="l2"), ["genres"])]


def movielens_clicks(data, split="test"):
    train, test = load_split("1m", data)
    if split == "validation":
        train, test = validation_split(train)
    task = encoded(
        movielens_blocks(), train, test, (train["rating"] >= 4).to_numpy(int),
        (test["rating"] >= 4).to_numpy(int), "ML-1M clicks",
    )
    # Two fields, the user's side and the item's: the clicks hang on the
    # user-item pair, which an FFM of six fields gives only its k dimensions.
    user_side = np.isin(task.fields, ["user", "gender", "age", "occupation"])
    return task._replace(coarse_fields=np.where(user_side, "user side", "item side"))


def generated_clicks(n_samples=200_000, seed=0):
    """Clicks on five fields whose pairs interact through unrelated traits."""
    import pandas as pd

    rng = np.random.RandomState(seed)
    levels = {"user": 2000, "ad": 300, "device": 5, "hour": 24, "site": 50}
    codes = pd.DataFrame({field: rng.randint(n, size=n_samples) for field, n in levels.items()})
    logit = -1.0 + sum(0.3 * rng.normal(size=n)[codes[field]] for field, n in levels.items())
    for first, second in [("user", "ad"), ("user", "device"), ("ad", "hour"), ("site", "ad")]:
        left = rng.normal(size=(levels[first], 2))
        right = rng.normal(size=(levels[second], 2))
        logit += 0.7 * (left @ right.T)[codes[first], codes[second]]
    y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    n_train = n_samples * 9 // 10
    blocks = [(field, OneHotEncoder(handle_unknown="ignore"), [field]) for field in levels]
    return encoded(
        blocks, codes[:n_train], codes[n_train:], y[:n_train], y[n_train:], "generated clicks"
    )


def contenders(task, peers, n_factors=None):
    """(name, estimator, fit keyword arguments) of each model; the FM and the
    FFM of ``fields`` of rank ``n_factors`` (None: their defaults)."""
    rank = {} if n_factors is None else {"n_factors": n_factors}
    models = [
        ("FFMClassifier (fields)", FFMClassifier(fields=task.fields, random_state=0, **rank), {})
    ]
    if task.coarse_fields is not None:
        # n_factors=32 was chosen on a validation split of the training data.
        coarse = FFMClassifier(fields=task.coarse_fields, n_factors=32, random_state=0)
        models.append(("FFMClassifier (2 coarse fields, n_factors=32)", coarse, {}))
    models += [
        ("FMClassifier", FMClassifier(random_state=0, **rank), {}),
        ("LogisticRegression", LogisticRegression(max_iter=1000), {}),
    ]
    if peers:
        try:
            import modern_fm
        except ImportError:
            print("modern-fm is not installed: pip install modern-fm")
        else:
            field_ids = np.unique(task.fields, return_inverse=True)[1]
            models += [
                (
                    f"modern-fm {modern_fm.__version__} FFMClassifier (field_ids)",
                    modern_fm.FFMClassifier(random_state=0),
                    {"field_ids": field_ids},
                ),
                (
                    f"modern-fm {modern_fm.__version__} FMClassifier",
                    modern_fm.FMClassifier(random_state=0),
                    {},
                ),
            ]
            if task.coarse_fields is not None:
                models.append(
                    (
                        f"modern-fm {modern_fm.__version__} FFMClassifier (2 coarse fields)",
                        modern_fm.FFMClassifier(random_state=0),
                        {"field_ids": np.unique(task.coarse_fields, return_inverse=True)[1]},
                    )
                )
    return models


def run(task, repeats, peers, n_factors=None):
    models = contenders(task, peers, n_factors)
    results = {name: [] for name, _, _ in models}
    for name, estimator, fit_args in models:  # untimed: start-up and compilation
        estimator.fit(task.X_train, task.y_train, **fit_args)
    for _ in range(repeats):
        for name, estimator, fit_args in models:  # alternating: the machine is shared
            start = time.perf_counter()
            estimator.fit(task.X_train, task.y_train, **fit_args)
            seconds = time.perf_counter() - start
            positive = estimator.predict_proba(task.X_test)[:, 1]
            epochs = getattr(estimator, "n_iter_", None)
            epochs = int(np.max(epochs)) if epochs is not None else estimator.max_iter
            results[name].append(
                (
                    roc_auc_score(task.y_test, positive),
                    log_loss(task.y_test, positive),
                    seconds,
                    seconds / epochs,
                    epochs,
                )
            )
    n_fields = len(np.unique(task.fields))
    print(
        f"\n### {task.name}: {task.X_train.shape[0]:,} training rows, "
        f"{task.X_train.shape[1]:,} columns in {n_fields} fields, "
        f"{task.X_train.nnz / task.X_train.shape[0]:.1f} non-zeros per row; "
        f"medians of {repeats}\n"
    )
    print("| model | ROC AUC | log-loss | fit s | s/epoch (epochs) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        auc, loss, seconds, per_epoch, epochs = np.median(np.array(runs), axis=0)
        print(
            f"| {name} | {auc:.4f} | {loss:.4f} | {seconds:.1f} | "
            f"{per_epoch:.3f} ({epochs:.0f}) |"
        )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="folder of the MovieLens data (for --task movielens)")
    parser.add_argument("--task", choices=["movielens", "generated", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="skip modern-fm")
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--n-factors", type=int)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.task != "generated" and not (args.data and os.path.isdir(args.data)):
        parser.error("--task movielens needs --data, the folder of the MovieLens data")
    print(f"Machine: {machine()}.")
    print(f"Command: python benchmarks/ffm.py {shlex.join(sys.argv[1:])}".rstrip())
    tasks = []
    if args.task in ("generated", "both"):
        tasks.append(generated_clicks)
    if args.task in ("movielens", "both"):
        tasks.append(lambda: movielens_clicks(args.data, args.split))
    for make_task in tasks:
        run(make_task(), args.repeats, not args.no_peers, args.n_factors)


if __name__ == "__main__":
    main()
