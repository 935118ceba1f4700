import os

# Quiet TensorFlow's C++ start-up logging in the test processes (and the
# subprocesses they start); the package itself never sets this.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


def make_interaction_data(n_samples=600, n_features=6, noise=0.1, seed=0):
    """Standard-normal features; the target has two planted pairwise interactions."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    y = X[:, 0] + 2 * X[:, 1] * X[:, 2] - X[:, 3] * X[:, 4]
    return X, y + noise * rng.normal(size=n_samples)


def make_ratings(n_users=60, n_items=40, n_ratings=2500, rank=3, seed=0):
    """Synthetic user-item ratings with a planted low-rank user x item interaction."""
    rng = np.random.RandomState(seed)
    users = rng.randint(n_users, size=n_ratings)
    items = rng.randint(n_items, size=n_ratings)
    user_factors = rng.normal(size=(n_users, rank))
    item_factors = rng.normal(size=(n_items, rank))
    y = (
        3.5
        + 0.5 * rng.normal(size=n_users)[users]
        + 0.5 * rng.normal(size=n_items)[items]
        + (user_factors[users] * item_factors[items]).sum(axis=1)
        + 0.2 * rng.normal(size=n_ratings)
    )
    return users, items, y


def make_noisy_ratings(n_users=300, n_items=200, n_ratings=15_000, seed=0):
    """Ratings like MovieLens: popularity-skewed ids, rounded 1-5 stars, noise
    std 0.9 and a weak user x item interaction. Returns (ids, y)."""
    rng = np.random.RandomState(seed)
    users = rng.choice(n_users, n_ratings, p=rng.dirichlet(np.full(n_users, 0.7)))
    items = rng.choice(n_items, n_ratings, p=rng.dirichlet(np.full(n_items, 0.5)))
    user_factors = rng.normal(scale=0.55, size=(n_users, 3))
    item_factors = rng.normal(scale=0.55, size=(n_items, 3))
    y = (
        3.5
        + 0.4 * rng.normal(size=n_users)[users]
        + 0.5 * rng.normal(size=n_items)[items]
        + (user_factors[users] * item_factors[items]).sum(axis=1)
        + 0.9 * rng.normal(size=n_ratings)
    )
    return np.column_stack([users, items]), np.clip(np.round(y), 1, 5)


@pytest.fixture
def interaction_data():
    return make_interaction_data()
