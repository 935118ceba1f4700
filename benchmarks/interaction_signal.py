"""Whether a linear model's residuals show pairwise interactions, on the tables of small_tables.py.

Usage::

    python benchmarks/interaction_signal.py

For each table of ``small_tables.py`` with a regression or two-class target,
on the first 80% of its rows (about a fold's training part), with the
columns standard-scaled: fits ``Ridge()`` to the standardised target (or
``LogisticRegression()`` to the classes) and takes its residuals ``r`` (for
classes ``y - p``, divided by the root of the mean ``p (1 - p)``). Then it
compares the top eigenvalue (by magnitude, power iteration) of
``X.T @ diag(r) @ X / n`` with its diagonal removed, the direction in which
the residuals correlate with products of two columns most, against the
median of the same over five draws of random signs for ``r`` (no
interaction). A ratio near 1 says the residuals look like noise to a
pairwise model. Prints one markdown table. NumPy and scikit-learn only.
"""

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from small_tables import tables


def top_eigenvalue(X, r, n_iter=50, seed=0):
    """The largest |eigenvalue| of ``X.T @ diag(r) @ X / n`` without its
    diagonal, by power iteration from a random start."""
    n = X.shape[0]
    diagonal = (X**2 * r[:, None]).sum(axis=0) / n
    vector = np.random.RandomState(seed).normal(size=X.shape[1])
    for _ in range(n_iter):
        product = X.T @ (r * (X @ vector)) / n - diagonal * vector
        value = np.linalg.norm(product)
        vector = product / value
    return value


def residuals(X, y):
    """The linear model's residuals: of the standardised target, or of the
    classes in units of the logistic's mean standard deviation."""
    if y.dtype.kind == "f":
        target = (y - y.mean()) / y.std()
        return target - Ridge().fit(X, target).predict(X)
    p = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    return (y - p) / np.sqrt(np.mean(p * (1 - p)))


def main():
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    print("| data | rows | columns | signal | random signs | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, X, y in tables():
        if y.dtype.kind != "f" and len(np.unique(y)) > 2:
            continue
        n = int(0.8 * len(y))
        X, y = StandardScaler().fit_transform(X)[:n], y[:n]
        r = residuals(X, y)
        signal = top_eigenvalue(X, r)
        signs = np.random.RandomState(1)
        null = np.median([
            top_eigenvalue(X, r * signs.choice([-1, 1], size=n), seed=seed) for seed in range(5)
        ])
        print(f"| {name} | {n} | {X.shape[1]} | {signal:.3f} | {null:.3f} | {signal / null:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
