"""MovieLens benchmark: FMRegressor against the notebook's approach, Ridge and peers.

Usage::

    python benchmarks/movielens.py --data ../shared/data [--variant 1m|100k|both]
        [--repeats N] [--out benchmarks/results] [--no-peers]

the same as ``sklearn-fm benchmark movielens --data DIR``. The data is read
from ``--data`` and never downloaded. The benchmark itself lives in
``sklearn_fm._benchmark`` so that the installed command can run it.
"""

import sys

from sklearn_fm._cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "movielens", *sys.argv[1:]]))
