"""Random states for the estimators, never tied to NumPy's global one."""

import numpy as np
from sklearn.utils import check_random_state

from ._data import index_dtype


def local_random_state(seed):
    """Like ``check_random_state``, but ``None`` gives a fresh, OS-seeded
    ``RandomState`` instead of NumPy's global one, so that fitting never
    draws from, or advances, the global random state."""
    if seed is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(4))
    return check_random_state(seed)


def shuffled_rows(rng, n_rows):
    """The row numbers ``0 .. n_rows - 1`` in the order ``rng.permutation``
    gives them (drawing the same numbers from ``rng``), in ``index_dtype``."""
    order = np.arange(n_rows, dtype=index_dtype(n_rows))
    rng.shuffle(order)
    return order
