import importlib.util
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

# Quiet TensorFlow's C++ start-up logging in the test processes (and the
# subprocesses they start); the library never sets this (the sklearn-fm
# command defaults it to 3 in its own process).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parents[1]


def benchmark_script(name):
    """The module of ``benchmarks/<name>.py``: a script of the source tree,
    not of the installed package. Its imports of the other scripts (``from
    movielens import ...``) find them as running it from benchmarks/ would."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module

# For tests/test_properties.py. Registered here, before pytest's options are
# read, so that --hypothesis-profile=explore can select the second.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,  # the first fit of a shape compiles for a second or so
    derandomize=True,  # the same examples in every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("explore", settings.get_profile("ci"), max_examples=500, derandomize=False)
settings.load_profile("ci")
# Hypothesis keeps a cache in the working directory, wherever pytest was
# started; like pytest's own cache, it belongs in the repository's root,
# unless HYPOTHESIS_STORAGE_DIRECTORY says otherwise. Set before any test
# module is collected, which is when it is first written.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(ROOT / ".hypothesis")


def run_python(*args, text=True, **kwargs):
    """Run ``python *args`` in a child process started in the repository's
    root, so that its scripts import ``tests`` wherever pytest was started;
    fail with the end of the child's stderr unless it exits with 0."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=text, **kwargs
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def with_peak_memory(function, *args, **kwargs):
    """``function(*args, **kwargs)`` and the peak of the memory that Python
    and NumPy allocated meanwhile beyond what they held before, in bytes
    (tracemalloc's count, which TensorFlow's own buffers are not in). A
    tracing already on (``python -X tracemalloc``) stays on."""
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        held = tracemalloc.get_traced_memory()[0]
        return function(*args, **kwargs), tracemalloc.get_traced_memory()[1] - held
    finally:
        if not tracing:
            tracemalloc.stop()


def make_interaction_data(n_samples=600, n_features=6, noise=0.1, seed=0):
    """Standard-normal features; the target has two planted pairwise interactions."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    y = X[:, 0] + 2 * X[:, 1] * X[:, 2] - X[:, 3] * X[:, 4]
    return X, y + noise * rng.normal(size=n_samples)


def make_ratings(
    n_users=60,
    n_items=40,
    n_ratings=2500,
    factor_scale=1.0,
    noise=0.2,
    popularity=None,
    stars=False,
    seed=0,
):
    """Synthetic ratings: user and item biases plus a planted rank-3 user x item
    interaction. Returns (users, items, y).

    ``popularity`` draws ids with Dirichlet(popularity) frequencies (smaller is
    more skewed) instead of uniformly; ``stars`` rounds y to 1-5 stars. With
    ``factor_scale=0.55, noise=0.9, popularity=0.6, stars=True`` the ratings
    look like MovieLens: noisy, skewed, with a weak interaction.
    """
    rng = np.random.RandomState(seed)
    if popularity is None:
        users, items = rng.randint(n_users, size=n_ratings), rng.randint(n_items, size=n_ratings)
    else:
        users = rng.choice(n_users, n_ratings, p=rng.dirichlet(np.full(n_users, popularity)))
        items = rng.choice(n_items, n_ratings, p=rng.dirichlet(np.full(n_items, popularity)))
    user_factors = rng.normal(scale=factor_scale, size=(n_users, 3))
    item_factors = rng.normal(scale=factor_scale, size=(n_items, 3))
    y = (
        3.5
        + 0.5 * rng.normal(size=n_users)[users]
        + 0.5 * rng.normal(size=n_items)[items]
        + (user_factors[users] * item_factors[items]).sum(axis=1)
        + noise * rng.normal(size=n_ratings)
    )
    return users, items, np.clip(np.round(y), 1, 5) if stars else y


def numerical_gradient(f, theta, h=1e-6):
    """Central differences of ``f`` at ``theta``, for checking training steps."""
    steps = np.eye(theta.size) * h
    return np.array([(f(theta + e) - f(theta - e)) / (2 * h) for e in steps])


@pytest.fixture
def interaction_data():
    return make_interaction_data()
