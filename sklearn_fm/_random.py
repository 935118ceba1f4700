"""Random states for the estimators, never tied to NumPy's global one."""

import numpy as np
from sklearn.utils import check_random_state


def local_random_state(seed):
    """Like ``check_random_state``, but ``None`` gives a fresh, OS-seeded
    ``RandomState`` instead of NumPy's global one, so that fitting never
    draws from, or advances, the global random state."""
    if seed is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(4))
    return check_random_state(seed)
