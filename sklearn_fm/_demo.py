"""``sklearn-fm demo``: FMRegressor against linear models on generated ratings."""

import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from . import __version__
from ._regressor import FMRegressor


def make_ratings(n_users=400, n_items=250, n_ratings=20_000, rank=4, seed=0):
    """Ratings driven by user and item biases, a user x item affinity and two numbers."""
    rng = np.random.RandomState(seed)
    users = rng.randint(n_users, size=n_ratings)
    items = rng.randint(n_items, size=n_ratings)
    affinity = (rng.normal(size=(n_users, rank)) @ rng.normal(size=(rank, n_items))) / 2
    frame = pd.DataFrame(
        {
            "user": [f"user{u}" for u in users],
            "item": [f"item{i}" for i in items],
            "age": rng.randint(18, 70, size=n_ratings),
            "price": rng.lognormal(2.0, 0.7, size=n_ratings).round(2),
        }
    )
    y = (
        3.5
        + 0.4 * rng.normal(size=n_users)[users]
        + 0.4 * rng.normal(size=n_items)[items]
        + affinity[users, items]
        - 0.01 * (frame["age"] - 40)
        - 0.2 * np.log(frame["price"])
        + 0.3 * rng.normal(size=n_ratings)
    )
    return frame, y.to_numpy()


def preprocessing():
    return ColumnTransformer(
        [
            ("ids", OneHotEncoder(handle_unknown="ignore"), ["user", "item"]),
            ("numbers", StandardScaler(), ["age", "price"]),
        ]
    )


class _Stages:
    def __init__(self, total):
        self.total, self.done = total, 0

    def start(self, text):
        self.done += 1
        self.started = time.perf_counter()
        print(f"[{self.done}/{self.total}] {text} ...", flush=True)

    def end(self, text=""):
        print(f"      done in {time.perf_counter() - self.started:.1f} s. {text}", flush=True)


def run_demo(n_jobs=2):
    print(f"sklearn_fm {__version__} demo: Factorization Machine vs linear models\n")
    stages = _Stages(4)

    stages.start("Generating 20,000 ratings of 250 items by 400 users (+ age and price)")
    X, y = make_ratings()
    stages.end(f"Columns: {', '.join(X.columns)}; target mean {y.mean():.2f}, std {y.std():.2f}.")

    stages.start(
        "Importing TensorFlow and tuning Pipeline(ColumnTransformer(OneHotEncoder, "
        "StandardScaler), FMRegressor) with GridSearchCV (4 candidates x 3 folds)"
    )
    pipe = make_pipeline(preprocessing(), FMRegressor(early_stopping=True, random_state=0))
    grid = {
        "fmregressor__n_factors": [4, 16],
        "fmregressor__alpha_factors": [0.01, 0.1],
    }
    search = GridSearchCV(
        pipe, grid, cv=3, scoring="neg_root_mean_squared_error", n_jobs=n_jobs, refit=False
    )
    search.fit(X, y)
    best = {key.split("__")[1]: value for key, value in search.best_params_.items()}
    stages.end(
        "Best: " + ", ".join(f"{k}={v}" for k, v in best.items())
        + f" (CV RMSE {-search.best_score_:.3f})."
    )

    stages.start("5-fold cross_val_score of the tuned FMRegressor, Ridge and LinearRegression")
    models = {
        "FMRegressor (tuned)": pipe.set_params(**search.best_params_),
        "Ridge": make_pipeline(preprocessing(), Ridge()),
        "LinearRegression": make_pipeline(preprocessing(), LinearRegression()),
    }
    cv = KFold(5, shuffle=True, random_state=0)
    results = {
        name: cross_validate(
            model, X, y, cv=cv, scoring="neg_root_mean_squared_error", n_jobs=n_jobs
        )
        for name, model in models.items()
    }
    stages.end()

    stages.start("Results (5-fold CV on the same folds, RMSE: lower is better)")
    print(f"\n  {'model':<22}{'RMSE (mean ± std)':>20}{'fit time (s)':>15}")
    for name, result in results.items():
        rmse = -result["test_score"]
        print(
            f"  {name:<22}{rmse.mean():>11.3f} ± {rmse.std():.3f}"
            f"{result['fit_time'].mean():>15.2f}"
        )
    print(
        "\n  The linear models see users, items, age and price but not which user"
        "\n  likes which item; the FM learns that interaction from the one-hot ids."
    )
    return results
