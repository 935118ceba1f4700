"""MovieLens rating data (GroupLens), for examples and benchmarks.

The data is not shipped with sklearn_fm: :func:`load_movielens` reads it from
``data_home`` and, if allowed, downloads the official archive there first, as
scikit-learn's ``fetch_*`` functions do. Its licence allows research use and
no redistribution; see the README inside each archive.
"""

import hashlib
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

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

    ``ratings`` has columns ``user_id, item_id, rating`` and, where the files
    have it, ``timestamp``; ``users`` has ``user_id, gender, age, occupation,
    zip_code``; ``items`` has ``item_id, title, genres`` (genre names joined
    by ``"|"``).
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
    OSError
        When the download fails (for example offline) or the archive's
        checksum does not match.
    """
    if variant not in ARCHIVES:
        raise ValueError(f"variant must be one of {sorted(ARCHIVES)}, got {variant!r}.")
    archive = ARCHIVES[variant]
    if data_home is None:
        from sklearn.datasets import get_data_home

        data_home = get_data_home()
    folder = Path(data_home) / archive.folder
    missing = [name for name in archive.files if _find(folder, name) is None]
    if missing:
        if not download:
            raise FileNotFoundError(
                f"MovieLens {variant} files {missing} are not in {folder} and "
                "download=False. Unzip the official archive there, or allow the download."
            )
        _download(archive, Path(data_home))
    reader = _read_100k if variant == "100k" else _read_1m
    return MovieLens(*reader(folder))


def _find(folder, name):
    """The path of the file ``name`` in ``folder``, or None if it is absent."""
    # ML-1M ratings also come as ratings_uir.dat, without timestamps.
    candidates = ("ratings.dat", "ratings_uir.dat") if name == "ratings.dat" else (name,)
    return next((folder / c for c in candidates if (folder / c).is_file()), None)


def _download(archive, data_home):
    data_home.mkdir(parents=True, exist_ok=True)
    partial = data_home / (archive.folder + ".zip.part")
    try:
        with urllib.request.urlopen(archive.url, timeout=60) as response, open(
            partial, "wb"
        ) as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise OSError(
            f"Could not download {archive.url} ({error}). If this machine is "
            f"offline, download the archive elsewhere and unzip it into {data_home}."
        ) from error
    algorithm, expected = archive.checksum
    digest = hashlib.new(algorithm)
    with open(partial, "rb") as downloaded:
        for chunk in iter(lambda: downloaded.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        partial.unlink()
        raise OSError(
            f"The file downloaded from {archive.url} has {algorithm} "
            f"{digest.hexdigest()}, expected {expected}: it is corrupt or not the "
            "official archive, and was deleted."
        )
    folder = data_home / archive.folder
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(partial) as zipped:
        # Only the known files, by name: nothing in the archive chooses a path.
        for name in archive.files:
            with zipped.open(f"{archive.folder}/{name}") as source, open(
                folder / name, "wb"
            ) as target:
                shutil.copyfileobj(source, target)
    partial.unlink()


def _read_100k(folder):
    ratings = pd.read_csv(
        folder / "u.data",
        sep="\t",
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype="int64",
    )
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        encoding="latin-1",
        dtype={"zip_code": str},
    )[["user_id", "gender", "age", "occupation", "zip_code"]]
    genre_names = pd.read_csv(
        folder / "u.genre", sep="|", names=["genre", "index"], encoding="latin-1"
    ).dropna()["genre"].tolist()
    raw = pd.read_csv(
        folder / "u.item",
        sep="|",
        names=["item_id", "title", "release_date", "video_release_date", "imdb_url", *genre_names],
        encoding="latin-1",
    )
    flags = raw[genre_names].to_numpy(dtype=bool)
    genres = ["|".join(g for g, on in zip(genre_names, row) if on) for row in flags]
    items = pd.DataFrame({"item_id": raw["item_id"], "title": raw["title"], "genres": genres})
    return ratings, users, items


def _read_1m(folder):
    path = _find(folder, "ratings.dat")
    names = ["user_id", "item_id", "rating"]
    if path.name == "ratings.dat":
        names.append("timestamp")
    ratings = _read_double_colon(path, names).astype("int64")
    users = _read_double_colon(
        folder / "users.dat", ["user_id", "gender", "age", "occupation", "zip_code"]
    ).astype({"user_id": "int64", "age": "int64", "occupation": "int64"})
    items = _read_double_colon(folder / "movies.dat", ["item_id", "title", "genres"])
    items["item_id"] = items["item_id"].astype("int64")
    return ratings, users, items


def _read_double_colon(path, names):
    # "::"-separated, latin-1 (movies.dat has accented titles). Splitting in
    # Python is several times faster than pandas' regex-separator parser.
    with open(path, encoding="latin-1") as lines:
        rows = [line.rstrip("\n").split("::") for line in lines if line.strip()]
    return pd.DataFrame(rows, columns=names)
