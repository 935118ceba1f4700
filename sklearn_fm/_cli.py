"""The ``sklearn-fm`` command (also ``python -m sklearn_fm``)."""

import argparse
import os

from ._version import __version__

_DEMO = (
    "tune FMRegressor on generated ratings and FMClassifier on generated clicks, "
    "and compare them with linear models (about 35 s, no download)"
)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sklearn-fm",
        description="Factorization Machines as scikit-learn estimators, trained with Keras.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help=_DEMO, description=_DEMO[0].upper() + _DEMO[1:] + ".")
    args = parser.parse_args(argv)
    # This is a program, not the library: keep TensorFlow's C++ logging (a
    # harmless "failed call to cuInit" on machines without a GPU, among
    # others) out of its output unless the user set a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "demo":
        from ._demo import run_demo

        run_demo()
    return 0
