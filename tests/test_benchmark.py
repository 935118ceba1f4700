"""The MovieLens benchmark (benchmarks/movielens.py), on synthetic files in
the ML-100K format."""

import re

import numpy as np
import pytest

from .conftest import benchmark_script, make_ratings

movielens = benchmark_script("movielens")


def write_synthetic_100k(folder, n_users=40, n_items=30):
    users, items, y = make_ratings(n_users, n_items, 1500, stars=True, seed=1)
    folder.mkdir(parents=True)
    lines = [f"{u + 1}\t{i + 1}\t{int(r)}\t880000000\n" for u, i, r in zip(users, items, y)]
    (folder / "u.data").write_text("".join(lines))
    (folder / "u1.base").write_text("".join(lines[:1200]))
    (folder / "u1.test").write_text("".join(lines[1200:]))
    (folder / "u.user").write_text(
        "".join(f"{u}|{20 + u}|{'MF'[u % 2]}|job{u % 3}|00000\n" for u in range(1, n_users + 1))
    )
    (folder / "u.genre").write_text("Action|0\nComedy|1\n\n")
    (folder / "u.item").write_text(
        "".join(
            f"{i}|Movie {i} ({1990 + i % 9})|01-Jan-1995||http://x|{i % 2}|{1 - i % 2}\n"
            for i in range(1, n_items + 1)
        )
    )


def test_benchmark_command_writes_a_table_of_every_model_for_each_task(tmp_path, capsys):
    write_synthetic_100k(tmp_path / "ml-100k")
    args = ["--data", str(tmp_path), "--variant", "100k"]
    assert movielens.main([*args, "--repeats", "1", "--no-peers", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    tables = {
        task: (tmp_path / "out" / f"{name}.md").read_text()
        for task, name in [("ratings", "movielens-100k"), ("clicks", "movielens-clicks-100k")]
    }
    for table in tables.values():
        assert table.strip() in out
        assert "Machine: " in table and "medians of 1 runs" in table
    assert "MovieLens 100K (u1), clicks (4-5 stars)" in tables["clicks"]

    number = r"([\d.e+-]+)"
    rows = re.findall(rf"^\| ([^|]+) \| {number} \| {number} \| {number} \|", tables["ratings"], re.M)
    assert [name for name, *_ in rows] == [
        "notebook: dense side columns, StandardScaler, FM",
        "FMRegressor defaults, user + item one-hot",
        "FMRegressor tuned, user + item one-hot",
        "FMRegressor tuned, ids + side + genres + implicit (max_items=20)",
        "Ridge, user + item one-hot",
    ]
    rmse, mae, fit_seconds = (np.array([float(row[i]) for row in rows]) for i in (1, 2, 3))
    # Stars are 1-5 and predictions are clipped to [1, 5].
    assert np.all((0 < mae) & (mae <= rmse) & (rmse < 4)) and np.all(fit_seconds > 0)

    rows = re.findall(
        rf"^\| ([^|]+) \| {number} \| {number} \| {number} \| {number} \|", tables["clicks"], re.M
    )
    assert [name for name, *_ in rows] == [
        "FMClassifier defaults, user + item one-hot",
        "FMClassifier tuned, user + item one-hot",
        "FMClassifier tuned, ids + side + genres",
        "LogisticRegression, user + item one-hot",
        "LogisticRegression, ids + side + genres",
    ]
    auc, loss, accuracy, fit_seconds = (np.array([float(row[i]) for row in rows]) for i in (1, 2, 3, 4))
    # The synthetic ratings depend on the user and item, so every model ranks
    # clicks better than chance.
    assert np.all((0.6 < auc) & (auc <= 1) & (0 < loss) & (0.5 < accuracy) & (fit_seconds > 0))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/nonexistent"], r"--data /nonexistent holds no ml-100k/ folder"),
        (["--repeats", "0"], r"--repeats: must be at least 1, got 0"),
        (["--repeats", "two"], r"--repeats: 'two' is not an integer"),
    ],
)
def test_bad_arguments_exit_with_a_usage_error(tmp_path, capsys, args, message):
    write_synthetic_100k(tmp_path / "ml-100k")
    with pytest.raises(SystemExit) as exited:
        movielens.main(["--data", str(tmp_path), "--variant", "100k", *args])
    assert exited.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_block_weights_multiply_the_columns_of_their_blocks_only(tmp_path):
    write_synthetic_100k(tmp_path / "ml-100k")
    train, test = movielens.load_split("100k", tmp_path)
    weights = {"side": 0.5, "genres": 3.0, "raters": 2.0}
    plain = movielens.features("raters", max_items=5).fit(train)
    weighted = movielens.features("raters", max_items=5, weights=weights).fit(train)
    names = plain.get_feature_names_out()
    assert list(weighted.get_feature_names_out()) == list(names)
    blocks = np.array([name.split("__")[0] for name in names])
    assert set(blocks) == {"ids", "side", "genres", "implicit", "raters"}
    column_weights = np.array([weights.get(block, 1.0) for block in blocks])
    for frame in (train, test):
        X, X_weighted = plain.transform(frame).toarray(), weighted.transform(frame).toarray()
        assert np.any(X[:, blocks == "raters"])  # the weights have columns to act on
        np.testing.assert_allclose(X_weighted, X * column_weights)


def test_encoded_ratings_reads_the_split_of_its_fold(tmp_path):
    write_synthetic_100k(tmp_path / "ml-100k")
    lines = (tmp_path / "ml-100k" / "u.data").read_text().splitlines(keepends=True)
    (tmp_path / "ml-100k" / "u2.base").write_text("".join(lines[500:]))
    (tmp_path / "ml-100k" / "u2.test").write_text("".join(lines[:500]))
    for fold, n_test in [(1, 300), (2, 500)]:
        encoded = movielens.encoded_ratings("100k", tmp_path, fold=fold)
        assert encoded.X.shape[0] == len(encoded.y) == 1500 - n_test
        assert encoded.X_test.shape[0] == len(encoded.y_test) == n_test
