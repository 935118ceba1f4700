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


def shuffle_rows(rng, out, rows=None):
    """Fill ``out`` with ``rows`` (positions; None for ``0 .. len(out) - 1``)
    in the order ``rng.permutation(len(out))`` takes them, drawing the same
    numbers from ``rng``, and return it. Shuffled in place: no permutation
    of the size of ``out`` besides it."""
    if rows is None:
        out[:] = np.arange(len(out), dtype=out.dtype)
    else:
        out[:] = rows
    rng.shuffle(out)
    return out
