"""The MovieLens benchmark: ``sklearn-fm benchmark movielens --data DIR``.

Trains, in one process, the approaches a user would compare on the standard
splits (ML-1M: ``RandomState(0).permutation``, first 10% test; ML-100K:
``u1.base``/``u1.test``) and prints one markdown table with test RMSE and MAE
of predictions clipped to [1, 5], fit and predict seconds, seconds per epoch
and the process's peak resident memory during the fit. Figures are medians
over ``--repeats`` runs. Peers (modern-fm, myfm, scikit-surprise) run when
they are importable; none is a dependency.
"""

import os
import platform
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ._encoders import ImplicitFeedbackEncoder, MultiHotEncoder
from ._regressor import FMRegressor
from .datasets import load_movielens

# Settings for rating data, chosen by sweeps on the ML-1M split (see
# benchmarks/README.md); docs/user_guide.rst explains them. The batch size
# gives about 200 steps per epoch.
RATINGS_SETTINGS = dict(
    n_factors=64,
    alpha_factors=0.03,
    alpha_uniform=8.0,
    learning_rate="invscaling",
    learning_rate_init=0.015,
    power_t=1.0,
    max_iter=15,
    tol=None,
)
BATCH_SIZE = {"1m": 4096, "100k": 512}
IDS = ["user_id", "item_id"]
SIDE = ["gender", "age", "occupation"]


def load_split(variant, data):
    """Train and test frames of ratings joined with user and item columns."""
    movielens = load_movielens(variant, data_home=data, download=False)
    if variant == "1m":
        ratings = movielens.ratings
        order = np.random.RandomState(0).permutation(len(ratings))
        n_test = len(ratings) // 10
        train, test = ratings.iloc[order[n_test:]], ratings.iloc[order[:n_test]]
    else:
        names = ["user_id", "item_id", "rating", "timestamp"]
        train, test = (
            pd.read_csv(Path(data) / "ml-100k" / f"u1.{part}", sep="\t", names=names)
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


def fm_models(variant):
    """The estimators of this package compared in the benchmark, by name."""
    one_hot = OneHotEncoder(handle_unknown="ignore")
    settings = dict(RATINGS_SETTINGS, batch_size=BATCH_SIZE[variant], random_state=0)
    return {
        "notebook: dense side columns, StandardScaler, FM": make_pipeline(
            ColumnTransformer(
                [("side", StandardScaler(), ["is_male", "age", "occupation_code", "year"])]
            ),
            FMRegressor(random_state=0),
        ),
        "FMRegressor, user + item one-hot": make_pipeline(
            ColumnTransformer([("ids", one_hot, IDS)]),
            FMRegressor(**settings),
        ),
        "FMRegressor, ids + side + genres + implicit (max_items=20)": make_pipeline(
            ColumnTransformer(
                [
                    ("ids", one_hot, IDS + SIDE),
                    ("genres", MultiHotEncoder(norm="l2"), ["genres"]),
                    ("implicit", ImplicitFeedbackEncoder(max_items=20, random_state=0), IDS),
                ]
            ),
            FMRegressor(**settings),
        ),
        "Ridge, user + item one-hot": make_pipeline(
            ColumnTransformer([("ids", one_hot, IDS)]), Ridge()
        ),
    }


class _OnIds:
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


def peer_models():
    """The peers that are importable, by name."""
    peers = {}
    try:
        import modern_fm

        peers["modern-fm FMRegressor (k=10, 20 epochs), user + item one-hot"] = _OnIds(
            modern_fm.FMRegressor(n_factors=10, max_iter=20, random_state=0)
        )
    except ImportError:
        pass
    try:
        import myfm

        peers["myfm MCMC (rank 10, 200 samples), user + item one-hot"] = _OnIds(
            myfm.MyFMRegressor(rank=10, random_seed=0), n_iter=200
        )
    except ImportError:
        pass
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
        self.peak, self._done = _resident_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.01):
            self.peak = max(self.peak, _resident_mib())

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _resident_mib())


def _resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(model, train, test, repeats):
    """Median figures over ``repeats`` fits of ``model``."""
    rows = []
    for _ in range(repeats):
        start = time.perf_counter()
        with _PeakMemory() as memory:
            model.fit(train, train["rating"].to_numpy(float))
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        predicted = np.clip(model.predict(test), 1, 5)
        predict_seconds = time.perf_counter() - start
        error = test["rating"].to_numpy(float) - predicted
        last = model[-1] if isinstance(model, Pipeline) else getattr(model, "estimator", None)
        n_epochs = getattr(last, "n_iter_", None)
        rows.append(
            {
                "RMSE": np.sqrt(np.mean(error**2)),
                "MAE": np.mean(np.abs(error)),
                "fit s": fit_seconds,
                "s/epoch": fit_seconds / n_epochs if n_epochs else np.nan,
                "predict s": predict_seconds,
                "peak RSS MiB": memory.peak,
            }
        )
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


def run(variant, data, repeats=3, out=None, peers=True):
    """Run the benchmark on one MovieLens variant; returns the table as markdown."""
    train, test = load_split(variant, data)
    models = {**fm_models(variant), **(peer_models() if peers else {})}
    results = {}
    for name, model in models.items():
        print(f"  {name} ...", flush=True)
        results[name] = measure(model, train, test, repeats)
    table = pd.DataFrame(results).T
    title = {"1m": "MovieLens 1M (90/10 split)", "100k": "MovieLens 100K (u1)"}[variant]
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
        (out / f"movielens-{variant}.md").write_text(markdown)
        _plot(table, title, out / f"movielens-{variant}.png")
    return markdown


def _markdown_table(table):
    formats = {"RMSE": "{:.4f}", "MAE": "{:.4f}", "peak RSS MiB": "{:.0f}"}
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


def _plot(table, title, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written.")
        return
    figure, axes = plt.subplots(figsize=(8, 5))
    axes.scatter(table["fit s"], table["RMSE"])
    for name, row in table.iterrows():
        axes.annotate(name, (row["fit s"], row["RMSE"]), fontsize=7, xytext=(4, 2),
                      textcoords="offset points")
    axes.set_xscale("log")
    axes.set_xlabel("fit time (s, log scale)")
    axes.set_ylabel("test RMSE (clipped to [1, 5])")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
