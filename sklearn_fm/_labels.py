"""Labels of categories: how they sort, and which would print alike.

Shared by the categorical input of the estimators and :class:`MultiHotEncoder`,
whose categories may mix kinds (numbers and strings), unlike OneHotEncoder's.
"""

from numbers import Real

import pandas as pd


def label_key(label):
    """What a label is: the rank of its kind (booleans, numbers, strings,
    bytes, other values by type), in which labels sort, and its value. True
    and 1 are equal in Python but two labels; 1 and 1.0 are one."""
    if isinstance(label, bool):
        return 0, "", label
    if isinstance(label, Real):  # NumPy's too; not Decimal, which orders apart
        return 1, "", label
    if isinstance(label, str):
        return 2, "", label
    if isinstance(label, bytes):
        return 3, "", label
    # Values of other types need not compare (a Timestamp and a date).
    return 4, type(label).__name__, label


def check_printed_apart(labels, name, what):
    """Raise a ValueError if two of the ``labels`` of the input column
    ``name`` print alike, as ``1`` and ``"1"`` do: their feature names
    (``f"{name}_{label}"``) would be one. ``what`` names them in the message."""
    printed = pd.Series([str(label) for label in labels], dtype=object)
    repeated = printed.duplicated(keep=False).to_numpy()
    if repeated.any():
        first = printed[repeated].iloc[0]
        twins = [label for label, text in zip(labels, printed) if text == first]
        raise ValueError(
            f"The {what} {twins[0]!r} and {twins[1]!r} of the column {name!r} would both "
            f"be named {name}_{twins[0]!s}: make them of one type."
        )
