"""The ``sklearn-fm`` command (also ``python -m sklearn_fm``)."""

import argparse
import os


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sklearn-fm",
        description="Factorization Machines as scikit-learn estimators, trained with Keras.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="tune FMRegressor on generated ratings and FMClassifier on generated clicks, "
        "and compare them with linear models (about 30 s, no download)",
    )
    benchmark = commands.add_parser(
        "benchmark",
        help="benchmark FMRegressor and FMClassifier against baselines and peers on real data",
    )
    benchmark.add_argument("dataset", choices=["movielens"])
    benchmark.add_argument(
        "--data",
        required=True,
        help="folder holding ml-1m/ and/or ml-100k/ as unzipped from GroupLens",
    )
    benchmark.add_argument(
        "--variant", choices=["1m", "100k", "both"], default="both", help="default: both"
    )
    benchmark.add_argument(
        "--task",
        choices=["ratings", "clicks", "both"],
        default="both",
        help="predict the ratings, or the clicks (4 or 5 stars) with FMClassifier "
        "(default: both)",
    )
    benchmark.add_argument(
        "--repeats", type=int, default=3, help="runs per model; medians are reported (3)"
    )
    benchmark.add_argument("--out", help="folder for the markdown tables and plots")
    benchmark.add_argument(
        "--no-peers", action="store_true", help="skip modern-fm, myfm and scikit-surprise"
    )
    args = parser.parse_args(argv)
    # This is a program, not the library: keep TensorFlow's C++ logging (a
    # harmless "failed call to cuInit" on machines without a GPU, among
    # others) out of its output unless the user set a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "demo":
        from ._demo import run_demo

        run_demo()
    elif args.command == "benchmark":
        from ._benchmark import run

        variants = ["100k", "1m"] if args.variant == "both" else [args.variant]
        tasks = ["ratings", "clicks"] if args.task == "both" else [args.task]
        for variant in variants:
            for task in tasks:
                print(f"MovieLens {variant}, {task}:", flush=True)
                print(
                    run(variant, args.data, args.repeats, args.out, not args.no_peers, task)
                )
    return 0
