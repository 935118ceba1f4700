"""Training in a forked process: refused where it would hang.

TensorFlow's thread pools do not survive ``fork``: a child forked from a
process whose TensorFlow runtime has started (any operation ran, an
estimator trained or a Keras model did) would wait forever on threads that
exist only in its parent. A hook that ``os.register_at_fork`` runs in every
child, registered when the package is imported, notes it; NumPy prediction
is unaffected. Nothing here imports TensorFlow.
"""

import os
import sys

# Whether this process was forked from one whose TensorFlow runtime had started.
_FORKED_AFTER_TENSORFLOW = []


def _tensorflow_started():
    """Whether TensorFlow's eager runtime has started in this process: its
    context exists only once an operation has run (importing starts none)."""
    context = getattr(sys.modules.get("tensorflow.python.eager.context"), "_context", None)
    return bool(getattr(context, "_initialized", False))


def _note_fork():
    if _tensorflow_started():
        _FORKED_AFTER_TENSORFLOW.append(True)


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_note_fork)


def check_not_forked():
    """Raise a RuntimeError in a process forked from one whose TensorFlow
    runtime had started, where training would hang."""
    if _FORKED_AFTER_TENSORFLOW:
        raise RuntimeError(
            "This process was forked from one that had run TensorFlow (trained a "
            "model, or ran any TensorFlow operation), which cannot run again after "
            "fork: training would hang. Start worker processes with the 'spawn' or "
            "'forkserver' method instead, for example "
            "multiprocessing.get_context('spawn') or "
            "concurrent.futures.ProcessPoolExecutor(mp_context=...); joblib's "
            "default (loky) already does. Predicting works in forked processes."
        )
