"""``sklearn-fm demo``: FMRegressor and FMClassifier against linear models on
generated ratings and clicks."""

import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ._classifier import FMClassifier
from ._regressor import FMRegressor
from ._version import __version__


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


def make_clicks(n_samples=4000, interactions=True, seed=0):
    """Clicks on ads: four categorical fields and a 0/1 click.

    The click's log-odds add a main effect per level of each field and, with
    ``interactions``, a planted rank-2 user x ad affinity and a device x hour
    effect, which a linear model on one-hot fields cannot represent.
    Returns (frame, y).
    """
    rng = np.random.RandomState(seed)
    levels = {"user": 40, "ad": 25, "hour": 6, "device": 3}
    codes = {name: rng.randint(n, size=n_samples) for name, n in levels.items()}
    logit = -1.0 + sum(0.5 * rng.normal(size=n)[codes[name]] for name, n in levels.items())
    if interactions:
        user_factors = rng.normal(size=(levels["user"], 2))
        ad_factors = rng.normal(size=(levels["ad"], 2))
        logit += 1.5 * (user_factors[codes["user"]] * ad_factors[codes["ad"]]).sum(axis=1)
        hour_effect = rng.normal(size=(levels["device"], levels["hour"]))
        logit += hour_effect[codes["device"], codes["hour"]]
    y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({name: [f"{name}{c}" for c in code] for name, code in codes.items()})
    return frame, y


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
    print(
        f"sklearn_fm {__version__} demo: Factorization Machines vs linear models\n"
        "Part 1, regression: FMRegressor on ratings\n"
    )
    stages = _Stages(7)
    results = _regression_part(stages, n_jobs)
    print("Part 2, classification: FMClassifier on ad clicks\n")
    results.update(_classification_part(stages, n_jobs))
    return results


def _regression_part(stages, n_jobs):
    """Tune FMRegressor on generated ratings, compare it with linear models
    and print the table; the cross-validation results by model."""
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
    search = _tune(pipe, grid, X, y, "neg_root_mean_squared_error", n_jobs)
    stages.end(_best(search, "CV RMSE", -search.best_score_))

    stages.start("5-fold cross_val_score of the tuned FMRegressor, Ridge and LinearRegression")
    models = {
        "FMRegressor (tuned)": pipe.set_params(**search.best_params_),
        "Ridge": make_pipeline(preprocessing(), Ridge()),
        "LinearRegression": make_pipeline(preprocessing(), LinearRegression()),
    }
    scoring = {"RMSE": "neg_root_mean_squared_error"}
    results = _cross_validate(models, X, y, KFold(5, shuffle=True, random_state=0), scoring, n_jobs)
    stages.end()

    stages.start("Results (5-fold CV on the same folds, RMSE: lower is better)")
    _print_table(results, scoring)
    print(
        "\n  The linear models see users, items, age and price but not which user"
        "\n  likes which item; the FM learns that interaction from the one-hot ids.\n"
    )
    return results


def _classification_part(stages, n_jobs):
    """Tune FMClassifier on generated clicks, compare it with logistic
    regression and print the table; the cross-validation results by model."""
    stages.start("Generating 20,000 ad impressions (user, ad, hour, device) and their clicks")
    X, y = make_clicks(n_samples=20_000)
    stages.end(f"Click rate {y.mean():.1%}.")

    stages.start(
        "Tuning Pipeline(OneHotEncoder, FMClassifier) with GridSearchCV on log-loss "
        "(4 candidates x 3 folds), then 5-fold CV against LogisticRegression"
    )
    pipe = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), FMClassifier(early_stopping=True, random_state=0)
    )
    grid = {
        "fmclassifier__n_factors": [4, 16],
        "fmclassifier__alpha_factors": [0.01, 0.1],
    }
    search = _tune(pipe, grid, X, y, "neg_log_loss", n_jobs)
    models = {
        "FMClassifier (tuned)": pipe.set_params(**search.best_params_),
        "LogisticRegression": make_pipeline(
            OneHotEncoder(handle_unknown="ignore"), LogisticRegression()
        ),
    }
    scoring = {"ROC AUC": "roc_auc", "log-loss": "neg_log_loss"}
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    results = _cross_validate(models, X, y, cv, scoring, n_jobs)
    stages.end(_best(search, "CV log-loss", -search.best_score_))

    stages.start("Results (5-fold CV on the same folds; ROC AUC: higher is better)")
    _print_table(results, scoring)
    print(
        "\n  Logistic regression sees each field's effect but not which user clicks"
        "\n  on which ad; the FM learns that interaction from the one-hot fields."
    )
    return results


def _tune(pipe, grid, X, y, scoring, n_jobs):
    return GridSearchCV(pipe, grid, cv=3, scoring=scoring, n_jobs=n_jobs, refit=False).fit(X, y)


def _best(search, name, score):
    best = {key.split("__")[1]: value for key, value in search.best_params_.items()}
    return "Best: " + ", ".join(f"{k}={v}" for k, v in best.items()) + f" ({name} {score:.3f})."


def _cross_validate(models, X, y, cv, scoring, n_jobs):
    return {
        name: cross_validate(model, X, y, cv=cv, scoring=scoring, n_jobs=n_jobs)
        for name, model in models.items()
    }


def _print_table(results, scoring):
    """Mean ± std of each score (negated ones shown as losses) and the fit time."""
    header = "".join(f"{name + ' (mean ± std)':>24}" for name in scoring)
    print(f"\n  {'model':<22}{header}{'fit time (s)':>15}")
    for name, result in results.items():
        cells = ""
        for key, scorer in scoring.items():
            values = result[f"test_{key}"] * (-1 if scorer.startswith("neg_") else 1)
            cells += f"{values.mean():>16.3f} ± {values.std():.3f}"
        print(f"  {name:<22}{cells}{result['fit_time'].mean():>15.2f}")
