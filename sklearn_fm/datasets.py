"""MovieLens rating data (GroupLens), for examples and benchmarks.

The data is not shipped with sklearn_fm: :func:`load_movielens` reads it from
``data_home`` and, if allowed, downloads the official archive there first, as
scikit-learn's ``fetch_*`` functions do. Its licence allows research use and
no redistribution; see the README inside each archive.
"""

import hashlib
import http.client
import os
import secrets
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = ["MovieLens", "load_movielens"]


class _Archive(NamedTuple):
    url: str
    folder: str
    # (hashlib algorithm, hex digest): the SHA-256 that TensorFlow Datasets
    # registers for the GroupLens archive (url_checksums/movielens.txt).
    checksum: tuple
    files: tuple


ARCHIVES = {
    "100k": _Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        folder="ml-100k",
        checksum=("sha256", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
        files=("u.data", "u.user", "u.item", "u.genre"),
    ),
    "1m": _Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        folder="ml-1m",
        checksum=("sha256", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
        files=("ratings.dat", "users.dat", "movies.dat"),
    ),
}


class MovieLens(NamedTuple):
    """The three tables of a MovieLens release.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Columns ``user_id, item_id, rating`` and, where the files have it,
        ``timestamp``.

    users : pandas.DataFrame
        Columns ``user_id, gender, age, occupation, zip_code``.

    items : pandas.DataFrame
        Columns ``item_id, title, genres`` (genre names joined by ``"|"``).
    """

    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame


def load_movielens(variant="100k", data_home=None, download=True):
    """Load MovieLens 100K or 1M as pandas DataFrames.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
        Which release to load.

    data_home : str or path-like, default=None
        Folder holding ``ml-100k/`` or ``ml-1m/`` as unzipped from the
        official archive. For ML-1M, a ``ratings_uir.dat`` file
        (``UserID::MovieID::Rating`` without timestamps) is read when
        ``ratings.dat`` is absent. None means scikit-learn's data home
        (``~/scikit_learn_data`` unless ``SCIKIT_LEARN_DATA`` says otherwise).

    download : bool, default=True
        Download and unzip the official archive into ``data_home`` when the
        files are missing. The archive's checksum is verified first.

    Returns
    -------
    data : MovieLens
        A named tuple ``(ratings, users, items)`` of DataFrames.

    Raises
    ------
    FileNotFoundError
        When the files are missing and ``download`` is False.
    ValueError
        When a file is damaged: empty, a line with the wrong number of
        fields, or a value out of its range (ratings are 1 to 5), where the
        message names the file and the line; or when the files do not fit
        together (a user or item listed twice, or rated but not listed, as a
        file cut at the end of a line leaves them).
    TypeError
        When ``data_home`` is not a path, or ``download`` not a bool.
    OSError
        When the download fails (for example offline) or the archive's
        checksum does not match.
    """
    if variant not in ARCHIVES:
        raise ValueError(f"variant must be one of {sorted(ARCHIVES)}, got {variant!r}.")
    if not isinstance(download, (bool, np.bool_)):
        # A string such as "no" is truthy and would download.
        raise TypeError(f"download must be a bool, got {download!r}.")
    if not (data_home is None or isinstance(data_home, str) or hasattr(data_home, "__fspath__")):
        raise TypeError(f"data_home must be a path (str or path-like) or None, got {data_home!r}.")
    archive = ARCHIVES[variant]
    if data_home is None:
        from sklearn.datasets import get_data_home

        data_home = get_data_home()
    data_home = Path(data_home).expanduser()  # as scikit-learn's get_data_home
    folder = data_home / archive.folder
    missing = [name for name in archive.files if _find(folder, name) is None]
    if missing:
        if not download:
            raise FileNotFoundError(
                f"MovieLens {variant} files {missing} are not in {folder} and "
                f"download=False. Unzip the official archive into {data_home} (it holds "
                f"the folder {archive.folder}), or allow the download."
            )
        _download(archive, data_home)
    reader = _read_100k if variant == "100k" else _read_1m
    return MovieLens(*reader(folder))


def _find(folder, name):
    """The path of the file ``name`` in ``folder``, or None if it is absent."""
    # ML-1M ratings also come as ratings_uir.dat, without timestamps.
    candidates = ("ratings.dat", "ratings_uir.dat") if name == "ratings.dat" else (name,)
    return next((folder / c for c in candidates if (folder / c).is_file()), None)


def _download(archive, data_home):
    """Download, verify and unzip ``archive`` into ``data_home``.

    Each call writes files of its own and moves them into place whole, so
    that two processes loading at once, or an interrupted call, leave no
    file that a later call would read half written.
    """
    data_home.mkdir(parents=True, exist_ok=True)
    partial = _temporary_file(data_home, archive.folder + ".zip")
    try:
        _fetch(archive.url, partial, data_home)
        _verify(archive, partial)
        folder = data_home / archive.folder
        folder.mkdir(exist_ok=True)
        with zipfile.ZipFile(partial) as zipped:
            # Only the known files, by name: nothing in the archive chooses a path.
            for name in archive.files:
                extracted = _temporary_file(folder, name)
                try:
                    with zipped.open(f"{archive.folder}/{name}") as source, open(
                        extracted, "wb"
                    ) as target:
                        shutil.copyfileobj(source, target)
                    os.replace(extracted, folder / name)
                finally:
                    extracted.unlink(missing_ok=True)
    finally:
        partial.unlink(missing_ok=True)


def _temporary_file(folder, name):
    """A new empty file in ``folder``, named after ``name``, for one call;
    created as open() creates files (mkstemp's are private to their owner)."""
    path = folder / f".{name}.{secrets.token_hex(8)}.part"
    path.open("xb").close()
    return path


def _fetch(url, path, data_home):
    """Download ``url`` into ``path``, or an OSError that says what to do."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as out:
            shutil.copyfileobj(response, out)
    # HTTPException: a transfer cut short (IncompleteRead) is not an OSError.
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise OSError(
            f"Could not download {url} ({error}). If this machine is "
            f"offline, download the archive elsewhere and unzip it into {data_home}."
        ) from error


def _verify(archive, path):
    """Raise an OSError unless ``path`` has the checksum of ``archive``
    (``_download`` then deletes it)."""
    algorithm, expected = archive.checksum
    digest = hashlib.new(algorithm)
    with open(path, "rb") as downloaded:
        for chunk in iter(lambda: downloaded.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise OSError(
            f"The file downloaded from {archive.url} has {algorithm} "
            f"{digest.hexdigest()}, expected {expected}: it is corrupt or not the "
            "official archive, and was deleted."
        )


# Ranges of the integer columns: ids count from 1 and ratings are 1 to 5 stars.
_ID = (1, None)
_RATINGS = {"user_id": _ID, "item_id": _ID, "rating": (1, 5), "timestamp": (0, None)}


def _read_100k(folder):
    ratings = _read_records(
        folder / "u.data", "\t", ["user_id", "item_id", "rating", "timestamp"], _RATINGS
    )
    users = _read_records(
        folder / "u.user",
        "|",
        ["user_id", "age", "gender", "occupation", "zip_code"],
        {"user_id": _ID, "age": (0, None)},
    )[["user_id", "gender", "age", "occupation", "zip_code"]]
    genre_table = _read_records(
        folder / "u.genre", "|", ["genre", "index"], {"index": (0, None)}
    ).sort_values("index")
    # The index of a genre is its flag column in u.item, whatever the line.
    if genre_table["index"].tolist() != list(range(len(genre_table))):
        raise ValueError(
            f"{folder / 'u.genre'} numbers its genres {sorted(genre_table['index'])}, not 0 "
            f"to {len(genre_table) - 1}: the file is damaged."
        )
    genre_names = genre_table["genre"].tolist()
    if len(set(genre_names)) < len(genre_names):
        raise ValueError(f"{folder / 'u.genre'} names a genre twice: the file is damaged.")
    # Each genre is a 0/1 flag column, so a row missing flags is refused.
    raw = _read_records(
        folder / "u.item",
        "|",
        ["item_id", "title", "release_date", "video_release_date", "imdb_url", *genre_names],
        {"item_id": _ID, **{genre: (0, 1) for genre in genre_names}},
    )
    flags = raw[genre_names].to_numpy(dtype=bool)
    genres = ["|".join(g for g, on in zip(genre_names, row) if on) for row in flags]
    items = pd.DataFrame({"item_id": raw["item_id"], "title": raw["title"], "genres": genres})
    paths = (folder / "u.data", folder / "u.user", folder / "u.item")
    _check_references(ratings, users, items, *paths)
    return ratings, users, items


def _read_1m(folder):
    path = _find(folder, "ratings.dat")
    names = ["user_id", "item_id", "rating"]
    if path.name == "ratings.dat":
        names.append("timestamp")
    ratings = _read_records(path, "::", names, {name: _RATINGS[name] for name in names})
    users = _read_records(
        folder / "users.dat",
        "::",
        ["user_id", "gender", "age", "occupation", "zip_code"],
        {"user_id": _ID, "age": (0, None), "occupation": (0, None)},
    )
    items = _read_records(
        folder / "movies.dat", "::", ["item_id", "title", "genres"], {"item_id": _ID}
    )
    _check_references(ratings, users, items, path, folder / "users.dat", folder / "movies.dat")
    return ratings, users, items


def _check_references(ratings, users, items, ratings_path, users_path, items_path):
    """Refuse tables that do not fit together: a user or item listed twice,
    or rated but not listed, as a file cut at the end of a line leaves it."""
    for table, column, path in [(users, "user_id", users_path), (items, "item_id", items_path)]:
        repeated = table[column][table[column].duplicated()]
        if len(repeated):
            raise ValueError(
                f"{path} lists {column} {repeated.iloc[0]} twice: the file is damaged."
            )
        unlisted = ~ratings[column].isin(table[column])
        if unlisted.any():
            raise ValueError(
                f"{ratings_path} rates {column} {ratings[column][unlisted].iloc[0]}, which "
                f"{path} does not list: a file is truncated or damaged."
            )


def _read_records(path, separator, names, integer_ranges):
    """The non-blank lines of ``path`` as a DataFrame of ``names`` columns.

    Columns named in ``integer_ranges`` become int64 and must lie within their
    ``(low, high)`` range (None: unbounded). A damaged file is refused with a
    ValueError naming the file and the first bad line, rather than read
    shifted or truncated.
    """
    # The official files are latin-1 (accents in titles); copies elsewhere
    # may be UTF-8, which latin-1 bytes almost never pass for. Splitting in
    # Python is several times faster than pandas' parser for "::".
    try:
        rows = _split_lines(path, separator, "utf-8-sig")
    except UnicodeDecodeError:
        rows = _split_lines(path, separator, "latin-1")
    # A line of nothing but spaces is blank too.
    kept = np.flatnonzero([len(row) > 1 or row[0].strip() != "" for row in rows])
    if len(kept) < len(rows):
        rows = [rows[i] for i in kept]
    line_numbers = kept + 1
    if not rows:
        raise ValueError(f"{path} holds no records: the file is empty or damaged.")
    wrong = next((i for i, row in enumerate(rows) if len(row) != len(names)), None)
    if wrong is not None:
        raise ValueError(
            f"{path}, line {line_numbers[wrong]}: expected {len(names)} fields "
            f"({', '.join(names)}) separated by {separator!r}, found {len(rows[wrong])}."
        )
    table = pd.DataFrame(rows, columns=names)
    for column, (low, high) in integer_ranges.items():
        table[column] = _integers(table[column], path, line_numbers, low, high)
    return table


def _split_lines(path, separator, encoding):
    """The lines of ``path`` in ``encoding``, each split at ``separator``."""
    with open(path, encoding=encoding) as lines:
        return [line.rstrip("\r\n").split(separator) for line in lines]


def _integers(texts, path, line_numbers, low, high):
    values = pd.to_numeric(texts, errors="coerce")
    # Beyond int64 ("1e30", "inf"), the cast would wrap or fail unnamed.
    bad = values.isna() | (values != values.round()) | ~(values.abs() < 2.0**63)
    if low is not None:
        bad |= values < low
    if high is not None:
        bad |= values > high
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        bounds = f"from {low}" + (f" to {high}" if high is not None else " up")
        raise ValueError(
            f"{path}, line {line_numbers[first]}: {texts.name} must be an integer "
            f"{bounds}, got {texts.iloc[first]!r}."
        )
    return values.astype("int64")
