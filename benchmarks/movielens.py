"""The MovieLens benchmark: FMRegressor and FMClassifier against baselines and peers.

Usage::

    python benchmarks/movielens.py --data ../shared/data [--variant 1m|100k|both]
        [--task ratings|clicks|both] [--repeats N] [--out benchmarks/results] [--no-peers]


Trains, in one process, the approaches a user would compare on the standard
splits (ML-1M: ``RandomState(0).permutation``, first 10% test; ML-100K:
``u1.base``/``u1.test``), for two tasks:

- ratings: test RMSE and MAE of predictions clipped to [1, 5];
- clicks: ratings of 4 or 5 stars as the positive class, with test ROC AUC,
  log-loss and accuracy.

Each task prints one markdown table with those scores, fit and predict
seconds, seconds per epoch and the process's peak resident memory during the
fit. Figures are medians over ``--repeats`` runs, after TensorFlow's import
(one small untimed fit). Peers (modern-fm, myfm, scikit-surprise) run when
they are importable; none is a dependency.
"""

import argparse
import os
import platform
import sys
import threading
import time
from numbers import Integral
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_fm import FMClassifier, FMRegressor, ImplicitFeedbackEncoder, MultiHotEncoder
from sklearn_fm.datasets import load_movielens

# Settings that beat the defaults on the validation part of the ML-1M
# training split (``validation_split``; benchmarks/README.md has the sweeps):
# a fixed number of epochs on all the training rows instead of early stopping,
# and for ratings a weaker uniform penalty.
RATINGS_SETTINGS = dict(
    alpha_linear=5.0, alpha_uniform=5.0, early_stopping=False, max_iter=10, tol=None
)
CLICK_SETTINGS = dict(alpha_linear=8.0, early_stopping=False, max_iter=15, tol=None)
IDS = ["user_id", "item_id"]
SIDE = ["gender", "age", "occupation"]


def load_split(variant, data, fold=1, seed=0):
    """Train and test frames of ratings joined with user and item columns;
    for ML-100K, those of the split ``u{fold}``; for ML-1M, the 90/10 split
    that ``RandomState(seed)`` shuffles (0: the data README's standard one)."""
    movielens = load_movielens(variant, data_home=data, download=False)
    if variant == "1m":
        ratings = movielens.ratings
        order = np.random.RandomState(seed).permutation(len(ratings))
        n_test = len(ratings) // 10
        train, test = ratings.iloc[order[n_test:]], ratings.iloc[order[:n_test]]
    else:
        names = ["user_id", "item_id", "rating", "timestamp"]
        train, test = (
            pd.read_csv(Path(data) / "ml-100k" / f"u{fold}.{part}", sep="\t", names=names)
            for part in ("base", "test")
        )
    items = movielens.items.assign(
        year=movielens.items["title"].str.extract(r"\((\d{4})\)\s*$", expand=False).astype(float)
    )
    frames = [
        frame[IDS + ["rating"]].merge(movielens.users, on="user_id").merge(items, on="item_id")
        for frame in (train, test)
    ]
    for frame in frames:
        frame["year"] = frame["year"].fillna(items["year"].median())
        frame["is_male"] = (frame["gender"] == "M").astype(float)
        frame["occupation_code"] = frame["occupation"].astype("category").cat.codes
    return frames


def validation_split(train):
    """A random 90% of ``train`` and the other 10%: the data the defaults and
    the tuned settings were chosen on, without the test part."""
    order = np.random.RandomState(1).permutation(len(train))
    n_validation = len(train) // 10
    return train.iloc[order[n_validation:]], train.iloc[order[:n_validation]]


def fm_models():
    """The estimators of this package compared on ratings, by name."""
    tuned = dict(RATINGS_SETTINGS, random_state=0)
    return {
        "notebook: dense side columns, StandardScaler, FM": make_pipeline(
            ColumnTransformer(
                [("side", StandardScaler(), ["is_male", "age", "occupation_code", "year"])]
            ),
            FMRegressor(random_state=0),
        ),
        "FMRegressor defaults, user + item one-hot": make_pipeline(
            features("ids"), FMRegressor(random_state=0)
        ),
        "FMRegressor tuned, user + item one-hot": make_pipeline(
            features("ids"), FMRegressor(**tuned)
        ),
        "FMRegressor tuned, ids + side + genres + implicit (max_items=20)": make_pipeline(
            features("implicit"), FMRegressor(**tuned)
        ),
        "Ridge, user + item one-hot": make_pipeline(features("ids"), Ridge()),
    }


def click_models():
    """The estimators compared on clicks (4 or 5 stars), by name."""
    tuned = dict(CLICK_SETTINGS, random_state=0)
    return {
        "FMClassifier defaults, user + item one-hot": make_pipeline(
            features("ids"), FMClassifier(random_state=0)
        ),
        "FMClassifier tuned, user + item one-hot": make_pipeline(
            features("ids"), FMClassifier(**tuned)
        ),
        "FMClassifier tuned, ids + side + genres": make_pipeline(
            features("side"), FMClassifier(**tuned)
        ),
        "LogisticRegression, user + item one-hot": make_pipeline(
            features("ids"), LogisticRegression(max_iter=1000)
        ),
        "LogisticRegression, ids + side + genres": make_pipeline(
            features("side"), LogisticRegression(max_iter=1000)
        ),
    }


class EncodedRatings(NamedTuple):
    """A split's training and test parts as design matrices and float ratings."""

    X: object
    y: np.ndarray
    X_test: object
    y_test: np.ndarray


def encoded_ratings(
    variant, data, split="test", which="ids", max_items=20, weights=None, fold=1
):
    """The benchmark's split of ``variant`` in ``data`` (for ML-100K, that of
    ``u{fold}``) as :class:`EncodedRatings`, encoded by ``features(which,
    max_items, weights)`` fitted on the training part; ``split="validation"``
    splits the training part by :func:`validation_split` instead."""
    train, test = load_split(variant, data, fold)
    if split == "validation":
        train, test = validation_split(train)
    transformer = features(which, max_items, weights)
    return EncodedRatings(
        transformer.fit_transform(train),
        train["rating"].to_numpy(float),
        transformer.transform(test),
        test["rating"].to_numpy(float),
    )


def ml1m_ids(data):
    """The ML-1M split of ``data`` as one-hot user + item ids: an
    :class:`EncodedRatings`."""
    return encoded_ratings("1m", data)


def features(which, max_items=20, weights=None):
    """The design matrix's transformer: 'ids' one-hot encodes user and item;
    'side' adds the users' gender, age and occupation and the items' genres;
    'implicit' adds the items each user rated, ``max_items`` at most;
    'raters' adds to those the users who rated each item, ``max_items`` at
    most (the item side of implicit feedback, as in myFM's examples).

    ``weights`` multiplies the columns of blocks by name ('ids', 'side',
    'genres', 'implicit', 'raters'; ColumnTransformer's
    ``transformer_weights``). The penalties and the initial factors are the
    same for every column, so a block's weight sets how strongly it is
    regularised, as the Bayesian FMs learn one prior per group of columns."""
    one_hot = OneHotEncoder(handle_unknown="ignore")
    if which == "ids":
        return ColumnTransformer([("ids", one_hot, IDS)], transformer_weights=weights)
    blocks = [
        ("ids", one_hot, IDS),
        ("side", OneHotEncoder(handle_unknown="ignore"), SIDE),
        ("genres", MultiHotEncoder(norm="l2"), ["genres"]),
    ]
    if which in ("implicit", "raters"):
        implicit = ImplicitFeedbackEncoder(max_items=max_items, random_state=0)
        blocks.append(("implicit", implicit, IDS))
    if which == "raters":
        # The encoder's "user" column is the item, its "items" the raters.
        raters = ImplicitFeedbackEncoder(max_items=max_items, random_state=0)
        blocks.append(("raters", raters, IDS[::-1]))
    return ColumnTransformer(blocks, transformer_weights=weights)


class OnIds:
    """A peer estimator trained on the one-hot id matrix, outside a Pipeline
    (myfm and modern-fm do not implement scikit-learn 1.6's tags)."""

    def __init__(self, estimator, **fit_params):
        self.encoder = OneHotEncoder(handle_unknown="ignore")
        self.estimator, self.fit_params = estimator, fit_params

    def fit(self, frame, y):
        self.estimator.fit(self.encoder.fit_transform(frame[IDS]), y, **self.fit_params)
        return self

    def predict(self, frame):
        return self.estimator.predict(self.encoder.transform(frame[IDS]))

    def predict_proba(self, frame):
        return self.estimator.predict_proba(self.encoder.transform(frame[IDS]))


class _SurprisePeer:
    def __init__(self, algorithm):
        self.algorithm = algorithm

    def fit(self, frame, y):
        import surprise

        data = surprise.Dataset.load_from_df(
            frame[IDS].assign(rating=y), surprise.Reader(rating_scale=(1, 5))
        )
        self.algorithm.fit(data.build_full_trainset())
        return self

    def predict(self, frame):
        return np.array(
            [self.algorithm.predict(u, i).est for u, i in frame[IDS].itertuples(index=False)]
        )


def peer_models(task):
    """The peers for ``task`` ('ratings' or 'clicks') that are importable, by name."""
    peers = {}
    try:
        import modern_fm

        estimator = modern_fm.FMRegressor if task == "ratings" else modern_fm.FMClassifier
        peers[f"modern-fm {estimator.__name__} (k=10, 20 epochs), user + item one-hot"] = OnIds(
            estimator(n_factors=10, max_iter=20, random_state=0)
        )
    except ImportError:
        pass
    try:
        import myfm

        estimator = myfm.MyFMRegressor if task == "ratings" else myfm.MyFMClassifier
        peers[f"myfm {estimator.__name__} MCMC (rank 10, 200 samples), user + item one-hot"] = (
            OnIds(estimator(rank=10, random_seed=0), n_iter=200)
        )
    except ImportError:
        pass
    if task == "ratings":
        try:
            import surprise

            peers["scikit-surprise SVD"] = _SurprisePeer(surprise.SVD(random_state=0))
            peers["scikit-surprise SVD++"] = _SurprisePeer(surprise.SVDpp(random_state=0))
        except ImportError:
            pass
    return peers


class _PeakMemory:
    """Peak resident memory of this process while the block runs, in MiB."""

    def __enter__(self):
        self.peak, self._done = resident_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.01):
            self.peak = max(self.peak, resident_mib())

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, resident_mib())


def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def clipped_rmse(y, predictions):
    """The RMSE of ``predictions`` clipped to the stars' range [1, 5]."""
    return float(np.sqrt(np.mean((y - np.clip(predictions, 1, 5)) ** 2)))


def rating_scores(model, test):
    error = test["rating"].to_numpy(float) - np.clip(model.predict(test), 1, 5)
    return {"RMSE": np.sqrt(np.mean(error**2)), "MAE": np.mean(np.abs(error))}


def click_scores(model, test):
    proba = model.predict_proba(test)
    positive = proba[:, 1] if proba.ndim == 2 else proba  # myfm gives P(1) only
    clicked = clicks(test)
    return {
        "ROC AUC": roc_auc_score(clicked, positive),
        "log-loss": log_loss(clicked, positive),
        "accuracy": accuracy_score(clicked, positive > 0.5),
    }


def clicks(frame):
    return (frame["rating"] >= 4).to_numpy(int)


# task: (models, target of a frame, test scores, title, plotted score)
TASKS = {
    "ratings": (fm_models, lambda frame: frame["rating"].to_numpy(float), rating_scores, "", "RMSE"),
    "clicks": (click_models, clicks, click_scores, "clicks (4-5 stars)", "ROC AUC"),
}


def measure(model, train, test, repeats, task="ratings"):
    """Median figures over ``repeats`` fits of ``model``."""
    _, target, scores, _, _ = TASKS[task]
    rows = []
    for _ in range(repeats):
        start = time.perf_counter()
        with _PeakMemory() as memory:
            model.fit(train, target(train))
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        row = scores(model, test)
        predict_seconds = time.perf_counter() - start
        last = model[-1] if isinstance(model, Pipeline) else getattr(model, "estimator", None)
        # Epochs of the minibatch models; LogisticRegression's n_iter_ (an
        # array) counts solver iterations, which are not epochs.
        n_epochs = getattr(last, "n_iter_", None)
        n_epochs = n_epochs if isinstance(n_epochs, Integral) else None
        row.update(
            {
                "fit s": fit_seconds,
                "s/epoch": fit_seconds / n_epochs if n_epochs else np.nan,
                "predict s": predict_seconds,
                "peak RSS MiB": memory.peak,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows).median()


def machine():
    """One line naming the CPU, cores, memory and library versions."""
    import sklearn
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; Python "
        f"{platform.python_version()}, TensorFlow {tf.__version__}, "
        f"scikit-learn {sklearn.__version__}, NumPy {np.__version__}"
    )


def run(variant, data, repeats=3, out=None, peers=True, task="ratings"):
    """Run the benchmark of ``task`` on one MovieLens variant; returns the
    table as markdown."""
    models_of, _, _, task_title, plotted = TASKS[task]
    train, test = load_split(variant, data)
    models = {**models_of(), **(peer_models(task) if peers else {})}
    # TensorFlow's import (a few seconds, once per process) would otherwise
    # count in the first model's fit alone, as in no other row.
    FMRegressor(max_iter=1, tol=None).fit(np.eye(4), np.arange(4.0))
    results = {}
    for name, model in models.items():
        print(f"  {name} ...", flush=True)
        results[name] = measure(model, train, test, repeats, task)
    table = pd.DataFrame(results).T
    title = {"1m": "MovieLens 1M (90/10 split)", "100k": "MovieLens 100K (u1)"}[variant]
    title = f"{title}, {task_title}" if task_title else title
    markdown = "\n".join(
        [
            f"### {title}, medians of {repeats} runs",
            "",
            f"Machine: {machine()}.",
            "",
            _markdown_table(table),
            "",
        ]
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        name = f"movielens-{variant}" if task == "ratings" else f"movielens-{task}-{variant}"
        (out / f"{name}.md").write_text(markdown)
        _plot(table, title, out / f"{name}.png", plotted)
    return markdown


def _markdown_table(table):
    formats = {"peak RSS MiB": "{:.0f}"}
    formats.update(dict.fromkeys(["RMSE", "MAE", "ROC AUC", "log-loss", "accuracy"], "{:.4f}"))
    lines = [
        "| model | " + " | ".join(table.columns) + " |",
        "| --- |" + " ---: |" * len(table.columns),
    ]
    for name, row in table.iterrows():
        cells = [
            "—" if np.isnan(value) else formats.get(column, "{:.3g}").format(value)
            for column, value in row.items()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _plot(table, title, path, score):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written.")
        return
    figure, axes = plt.subplots(figsize=(8, 5))
    axes.scatter(table["fit s"], table[score])
    for name, row in table.iterrows():
        axes.annotate(name, (row["fit s"], row[score]), fontsize=7, xytext=(4, 2),
                      textcoords="offset points")
    axes.set_xscale("log")
    axes.set_xlabel("fit time (s, log scale)")
    axes.set_ylabel({"RMSE": "test RMSE (clipped to [1, 5])"}.get(score, f"test {score}"))
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        required=True,
        help="folder holding ml-1m/ and/or ml-100k/ as unzipped from GroupLens",
    )
    parser.add_argument(
        "--variant", choices=["1m", "100k", "both"], default="both", help="default: both"
    )
    parser.add_argument(
        "--task",
        choices=["ratings", "clicks", "both"],
        default="both",
        help="predict the ratings, or the clicks (4 or 5 stars) with FMClassifier "
        "(default: both)",
    )
    parser.add_argument(
        "--repeats", type=_positive_int, default=3, help="runs per model; medians are reported (3)"
    )
    parser.add_argument("--out", help="folder for the markdown tables and plots")
    parser.add_argument(
        "--no-peers", action="store_true", help="skip modern-fm, myfm and scikit-surprise"
    )
    args = parser.parse_args(argv)
    variants = ["100k", "1m"] if args.variant == "both" else [args.variant]
    tasks = ["ratings", "clicks"] if args.task == "both" else [args.task]
    for variant in variants:
        if not (Path(args.data) / f"ml-{variant}").is_dir():
            parser.error(f"--data {args.data} holds no ml-{variant}/ folder (see --help)")
    for variant in variants:
        for task in tasks:
            print(f"MovieLens {variant}, {task}:", flush=True)
            print(run(variant, args.data, args.repeats, args.out, not args.no_peers, task))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
