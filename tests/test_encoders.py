"""The feature-block encoders alone and as blocks of an FM pipeline."""

import datetime
import decimal
import enum

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FMRegressor, ImplicitFeedbackEncoder, MultiHotEncoder


def test_encodes_separated_strings_lists_missing_and_unknown_labels():
    train = pd.DataFrame(
        {
            "genres": ["Action|Comedy", "Drama", None, "Comedy|Comedy"],
            "tags": [["a", "b"], ("b",), [], {"c"}],
        }
    )
    encoder = MultiHotEncoder().fit(train)
    assert [c.tolist() for c in encoder.categories_] == [["Action", "Comedy", "Drama"], ["a", "b", "c"]]
    assert encoder.get_feature_names_out().tolist() == [
        "genres_Action", "genres_Comedy", "genres_Drama", "tags_a", "tags_b", "tags_c",
    ]
    out = encoder.transform(train)
    assert sp.issparse(out) and out.format == "csr"
    assert_array_equal(
        out.toarray(),
        [[1, 1, 0, 1, 1, 0], [0, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 1]],
    )
    test = pd.DataFrame({"genres": ["Western|Action", np.nan], "tags": [["z"], ["c"]]})
    assert_array_equal(encoder.transform(test).toarray(), [[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]])


MISSING = {
    "pd.NA": pd.NA, "None": None, "nan": np.nan, "float32 nan": np.float32("nan"),
    "pd.NaT": pd.NaT, "datetime64 NaT": np.datetime64("NaT"),
}


@pytest.mark.parametrize(
    "dtype, missing",
    [("string", MISSING[name]) for name in ("pd.NA", "None", "nan")]
    + [("object", value) for value in MISSING.values()],
    ids=[f"string-{name}" for name in ("pd.NA", "None", "nan")]
    + [f"object-{name}" for name in MISSING],
)
def test_every_kind_of_missing_cell_encodes_as_no_label(dtype, missing):
    # pd.NA of a pandas string column once became the label '<NA>'.
    X = pd.DataFrame({"genres": pd.array(["Action|Drama", missing, "Drama"], dtype=dtype)})
    encoder = MultiHotEncoder().fit(X)
    assert encoder.categories_[0].tolist() == ["Action", "Drama"]
    assert_array_equal(encoder.transform(X).toarray(), [[1, 1], [0, 0], [0, 1]])


def test_separator_norm_and_mixed_label_types():
    X = np.array([["x;y;z"], ["y"]], dtype=object)
    assert_allclose(MultiHotEncoder(separator=";", norm="l1").fit_transform(X).toarray(), [[1 / 3] * 3, [0, 1, 0]])
    assert_allclose(
        MultiHotEncoder(separator=";", norm="l2").fit_transform(X).toarray(),
        [[3**-0.5] * 3, [0, 1, 0]],
    )
    mixed = np.array([[3], ["a"], [[1, "b"]]], dtype=object)
    encoder = MultiHotEncoder().fit(mixed)
    assert encoder.categories_[0].tolist() == [1, 3, "a", "b"]
    assert encoder.get_feature_names_out(["f"]).tolist() == ["f_1", "f_3", "f_a", "f_b"]


def test_dense_output_serves_pandas_output_alone_and_in_a_column_transformer():
    movies = pd.DataFrame({"genres": ["Action|Comedy", "Drama", None], "year": [1, 2, 1]})
    sparse = MultiHotEncoder(norm="l2").fit_transform(movies[["genres"]])
    dense = MultiHotEncoder(norm="l2", sparse_output=False).fit_transform(movies[["genres"]])
    assert isinstance(dense, np.ndarray)
    assert_array_equal(dense, sparse.toarray())
    encoder = MultiHotEncoder(sparse_output=False).set_output(transform="pandas")
    frame = encoder.fit_transform(movies)
    assert frame.columns.tolist() == [
        "genres_Action", "genres_Comedy", "genres_Drama", "year_1", "year_2"
    ]
    assert_array_equal(frame.to_numpy(), [[1, 1, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 0]])
    blocks = ColumnTransformer(
        [
            ("genres", MultiHotEncoder(sparse_output=False), ["genres"]),
            ("year", OneHotEncoder(sparse_output=False), ["year"]),
        ]
    ).set_output(transform="pandas")
    assert blocks.fit_transform(movies).columns.tolist() == [
        "genres__genres_Action", "genres__genres_Comedy", "genres__genres_Drama",
        "year__year_1", "year__year_2",
    ]
    # The sparse default is refused by pandas output, as OneHotEncoder's is.
    with pytest.raises(ValueError, match="sparse"):
        MultiHotEncoder().set_output(transform="pandas").fit_transform(movies)


def test_category_columns_encode_as_their_values_and_the_tags_say_so():
    frame = pd.DataFrame(
        {
            "genres": pd.Series(["Action|Comedy", "Drama", None, "Comedy"], dtype="category"),
            "year": pd.Series([1995, 1996, 1995, 1997], dtype="category"),
        }
    )
    as_values = frame.astype(object)
    encoder = MultiHotEncoder(sparse_output=False)
    assert encoder.__sklearn_tags__().input_tags.categorical
    assert_array_equal(encoder.fit_transform(frame), encoder.fit_transform(as_values))
    assert encoder.get_feature_names_out().tolist() == [
        "genres_Action", "genres_Comedy", "genres_Drama", "year_1995", "year_1996", "year_1997"
    ]


def test_values_inside_list_cells_read_as_scalar_cells():
    # Missing values inside a list once became labels 'nan' (one per NaN
    # object) and 'None', bools became the labels 0 and 1, and a list inside
    # a list raised Python's "unhashable type".
    X = pd.DataFrame({"c": [["a", np.nan, None], ["b", float("nan"), pd.NA, ""], [pd.NaT]]})
    encoder = MultiHotEncoder().fit(X)
    assert encoder.categories_[0].tolist() == ["a", "b"]
    assert_array_equal(encoder.transform(X).toarray(), [[1, 0], [0, 1], [0, 0]])
    flags = pd.DataFrame({"scalar": [True, np.bool_(False)], "listed": [[np.True_], [False, np.int64(3)]]})
    encoder = MultiHotEncoder().fit(flags)
    assert encoder.get_feature_names_out().tolist() == [
        "scalar_False", "scalar_True", "listed_False", "listed_True", "listed_3",
    ]
    assert_array_equal(encoder.transform(flags).toarray(), [[0, 1, 0, 1, 0], [1, 0, 1, 0, 1]])
    for cell in ([["x"]], [("x", "y")], {"x": 1}, [{"x"}]):
        with pytest.raises(TypeError, match="a label cannot be a"):
            MultiHotEncoder().fit(pd.DataFrame({"c": [cell, "y"]}))


class Color(str, enum.Enum):
    RED = "red"


def test_labels_are_sorted_by_kind_and_value_whatever_the_rows_order():
    # NumPy strings and floats sorted apart from Python's (by type name), the
    # label of 1 and True depended on which row came first, and a cell of
    # True set the column of 1.
    def categories(cells):
        return MultiHotEncoder().fit(pd.DataFrame({"g": cells})).categories_[0].tolist()

    for cells, expected in [
        (["a|c", np.array(["b", "a"])], ["a", "b", "c"]),
        ([[10, np.float32(2.5)], [np.int8(1)]], [1, 2.5, 10]),
        ([[1], [1.0, True]], [True, 1.0]),
        # A (str, Enum) member in a list, as the string cell it equals.
        ([[Color.RED], [b"x", "b"]], ["b", "red", b"x"]),
        # Values of other types apart, by type: they need not compare.
        ([[datetime.date(2020, 1, 1)], [pd.Timestamp("2020-01-02")]],
         [pd.Timestamp("2020-01-02"), datetime.date(2020, 1, 1)]),
        ([[decimal.Decimal("1.0")], [1]], [1, decimal.Decimal("1.0")]),
    ]:
        assert categories(cells) == expected
        assert categories(cells[::-1]) == expected
        assert [type(label) for label in categories(cells)] == [type(label) for label in expected]
    encoder = MultiHotEncoder(sparse_output=False).fit(pd.DataFrame({"g": [[True], [1]]}))
    assert encoder.get_feature_names_out().tolist() == ["g_True", "g_1"]
    cells = pd.DataFrame({"g": [[True], [1.0], [1, True]]})
    assert_array_equal(encoder.transform(cells), [[1, 0], [0, 1], [1, 1]])


def test_labels_that_print_alike_or_cannot_be_sorted_are_refused():
    # Both were columns of one name, "tags_1", as OneHotEncoder refuses
    # strings mixed with numbers.
    message = "The labels 1 and '1' of the column 'tags' would both be named tags_1"
    with pytest.raises(ValueError, match=message):
        MultiHotEncoder().fit(pd.DataFrame({"tags": ["1|2", [1, 2]]}))
    message = "cannot sort the labels of the column 'x0': Cannot compare tz-naive"
    with pytest.raises(TypeError, match=message):
        MultiHotEncoder().fit([[[pd.Timestamp("2020"), pd.Timestamp("2020", tz="UTC")]], [None]])


def test_rows_of_list_cells_are_read_whatever_the_lists_lengths():
    # Lists of one length made NumPy a 3-D array, refused as "dim 3".
    one_length, of_tuples = [[["a", "b"]], [["c", "d"]]], [[("a", "b")], [("c", "d")]]
    for rows in (one_length, of_tuples, [[["a", "b"]], [["c"]]]):
        frame = pd.DataFrame({"x0": [row[0] for row in rows]})
        assert_array_equal(
            MultiHotEncoder().fit_transform(rows).toarray(),
            MultiHotEncoder().fit_transform(frame).toarray(),
        )
    with pytest.raises(ValueError, match=r"one number of cells; got rows of \[1, 2\]"):
        MultiHotEncoder().fit([["a"], ["b", "c"]])


def test_rejects_bad_parameters_and_other_column_counts():
    with pytest.raises(ValueError, match="'norm' parameter of MultiHotEncoder"):
        MultiHotEncoder(norm="max").fit([["a"]])
    with pytest.raises(ValueError, match="separator must be a non-empty string"):
        MultiHotEncoder(separator="").fit([["a|b"]])
    encoder = MultiHotEncoder().fit([["a", "b"]])
    with pytest.raises(ValueError, match="X has 1 features, but MultiHotEncoder is expecting 2"):
        encoder.transform([["a"]])


def genre_ratings(n_users=80, n_items=300, n_ratings=4000, seed=0):
    """Ratings driven by how much each user likes each genre of the item; with
    300 items rated about 13 times each, the item ids alone say little."""
    rng = np.random.RandomState(seed)
    genres = np.array(["Action", "Comedy", "Drama", "Horror", "Romance"])
    item_genres = [rng.choice(genres, size=rng.randint(1, 3), replace=False) for _ in range(n_items)]
    taste = {g: rng.normal(size=n_users) for g in genres}
    users, items = rng.randint(n_users, size=n_ratings), rng.randint(n_items, size=n_ratings)
    y = 3.5 + np.array([np.mean([taste[g][u] for g in item_genres[i]]) for u, i in zip(users, items)])
    frame = pd.DataFrame(
        {
            "user": users.astype(str),
            "item": items.astype(str),
            "genres": ["|".join(item_genres[i]) for i in items],
        }
    )
    return frame, y + 0.3 * rng.normal(size=n_ratings)


def test_genre_block_in_a_tuned_fm_pipeline():
    frame, y = genre_ratings()
    X_train, X_test, y_train, y_test = train_test_split(frame, y, random_state=0)
    blocks = ColumnTransformer(
        [
            ("ids", OneHotEncoder(handle_unknown="ignore"), ["user", "item"]),
            ("genres", MultiHotEncoder(), ["genres"]),
        ]
    )
    pipe = make_pipeline(blocks, FMRegressor(random_state=0))
    search = GridSearchCV(
        pipe,
        {"columntransformer__genres__norm": [None, "l1"], "fmregressor__alpha_factors": [0.01, 0.1]},
        cv=3,
    ).fit(X_train, y_train)
    assert search.best_estimator_[0].named_transformers_["genres"].norm == search.best_params_[
        "columntransformer__genres__norm"
    ]
    ids_only = make_pipeline(
        ColumnTransformer([("ids", OneHotEncoder(handle_unknown="ignore"), ["user", "item"])]),
        FMRegressor(random_state=0),
    ).fit(X_train, y_train)
    ridge = make_pipeline(blocks, Ridge()).fit(X_train, y_train)
    # User x genre taste: the genre block helps the FM, and a linear model
    # cannot use it.
    assert search.score(X_test, y_test) > ids_only.score(X_test, y_test) + 0.05
    assert search.score(X_test, y_test) > ridge.score(X_test, y_test) + 0.2


def test_implicit_feedback_rows_hold_the_users_rated_items():
    train = pd.DataFrame(
        {"user": ["u", "u", "u", "u", "v", "v", "u"], "movie": [3, 1, 2, 4, 1, 1, 3]}
    )
    encoder = ImplicitFeedbackEncoder().fit(train)
    assert encoder.users_.tolist() == ["u", "v"] and encoder.items_.tolist() == [1, 2, 3, 4]
    assert encoder.get_feature_names_out().tolist() == [
        "rated_movie_1", "rated_movie_2", "rated_movie_3", "rated_movie_4",
    ]
    test = pd.DataFrame({"user": ["v", "new", "u"], "movie": [2, 1, 99]})
    out = encoder.transform(test)
    assert sp.issparse(out) and out.format == "csr"
    # u rated 4 distinct items (3 twice): 4**-0.5 each; v rated one item twice.
    assert_allclose(out.toarray(), [[1, 0, 0, 0], [0, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]])
    assert_allclose(
        ImplicitFeedbackEncoder(norm="l1").fit(train).transform(test).toarray()[2], [0.25] * 4
    )
    assert_array_equal(ImplicitFeedbackEncoder(norm=None).fit(train).transform(test).data, 1)


def test_implicit_feedback_max_items_draws_a_reproducible_subset():
    rng = np.random.RandomState(0)
    train = pd.DataFrame({"user": rng.randint(5, size=300), "item": rng.randint(100, size=300)})
    full = ImplicitFeedbackEncoder(norm=None).fit(train).transform(train)
    state = np.random.get_state()
    capped = [
        ImplicitFeedbackEncoder(norm=None, max_items=10, random_state=seed).fit(train)
        for seed in (0, 0, 1)
    ]
    assert np.array_equal(np.random.get_state()[1], state[1])
    kept = [encoder.user_items_ for encoder in capped]
    assert_array_equal(np.diff(kept[0].indptr), 10)
    assert (kept[0] != kept[1]).nnz == 0 and (kept[0] != kept[2]).nnz > 0
    # Each kept item is one the user rated.
    out = capped[0].transform(train)
    assert (out.multiply(full) != out).nnz == 0
    assert_allclose(
        ImplicitFeedbackEncoder(max_items=10, random_state=0).fit(train).user_items_.toarray(),
        kept[0].toarray() * 10**-0.5,
    )


def test_implicit_feedback_rejects_bad_input():
    with pytest.raises(ValueError, match="expects 2 columns"):
        ImplicitFeedbackEncoder().fit([[1, 2, 3]])
    with pytest.raises(ValueError, match="missing user or item"):
        ImplicitFeedbackEncoder().fit(pd.DataFrame({"user": [1, None], "item": [1, 2]}))
    with pytest.raises(ValueError, match="'max_items' parameter"):
        ImplicitFeedbackEncoder(max_items=0).fit([[1, 2]])
    # NumPy cannot sort a mix of strings and numbers.
    for mixed in ([[1, "a"], ["u", "a"]], [[1, 2], [1, "b"]]):
        with pytest.raises(TypeError, match="of one kind, all strings or all numbers"):
            ImplicitFeedbackEncoder().fit(np.array(mixed, dtype=object))
    encoder = ImplicitFeedbackEncoder().fit(np.array([[1, 1], [2, 2]], dtype=object))
    # Users of another kind than fit saw are unknown users: empty rows.
    assert encoder.transform(np.array([["1", 1], ["x", 2]], dtype=object)).nnz == 0
    with pytest.raises(TypeError, match="users of one kind"):
        encoder.transform(np.array([[1, 1], ["x", 2]], dtype=object))


def test_implicit_feedback_reads_each_column_of_a_frame_in_its_own_dtype():
    # Read in one dtype, int64 users beside float items became floats, which
    # merged the users above 2**53, and dates beside numbers were refused.
    for dtype in ["int64", "Int64", "int64[pyarrow]"]:
        users = pd.array([2**60, 2**60 + 1, 2**60], dtype=dtype)
        big = pd.DataFrame({"user": users, "item": [10.0, 20.0, 30.0]})
        encoder = ImplicitFeedbackEncoder(norm=None).fit(big)
        assert encoder.users_.tolist() == [2**60, 2**60 + 1]
        assert_array_equal(encoder.transform(big[1:]).toarray(), [[0, 1, 0], [1, 0, 1]])
    days = pd.DataFrame({"user": pd.to_datetime(["2020", "2021", "2020"]), "item": [1, 2, 3]})
    encoder = ImplicitFeedbackEncoder(norm=None).fit(days)
    assert_array_equal(encoder.transform(days[1:]).toarray(), [[0, 1, 0], [1, 0, 1]])


@pytest.mark.parametrize("library", ["polars", "pyarrow"])
def test_implicit_feedback_reads_each_column_of_a_polars_or_arrow_frame_alike(library):
    module = pytest.importorskip(library)
    make = module.table if library == "pyarrow" else module.DataFrame
    frame = make({"user": [2**60, 2**60 + 1, 2**60], "item": [10.0, 20.0, 30.0]})
    encoder = ImplicitFeedbackEncoder(norm=None).fit(frame)
    assert encoder.users_.tolist() == [2**60, 2**60 + 1]
    assert encoder.feature_names_in_.tolist() == ["user", "item"]
    later = make({"user": [2**60 + 1, 2**60], "item": [10.0, 20.0]})
    assert_array_equal(encoder.transform(later).toarray(), [[0, 1, 0], [1, 0, 1]])


def test_a_normalised_column_without_labels_in_fit_encodes_as_no_columns():
    encoder = MultiHotEncoder(norm="l2").fit(np.array([[None, "a"], [np.nan, "b"]], dtype=object))
    out = encoder.transform(np.array([[None, "a"]], dtype=object))
    assert out.shape == (1, 2) and out.toarray().tolist() == [[1.0, 0.0]]


def chosen_item_ratings(n_users=200, n_items=60, per_user=12, seed=0):
    """Two kinds of users and items: users mostly rate items of their own kind
    and like them (+1) more than the others (-1). The items a user rated tell
    their kind; the item alone does not."""
    rng = np.random.RandomState(seed)
    user_kind = rng.randint(2, size=n_users)
    item_kind = np.arange(n_items) % 2
    users, items = [], []
    for user in range(n_users):
        own = rng.choice(np.flatnonzero(item_kind == user_kind[user]), per_user - 2, replace=False)
        other = rng.choice(np.flatnonzero(item_kind != user_kind[user]), 2, replace=False)
        users += [user] * per_user
        items += [*own, *other]
    users, items = np.array(users), np.array(items)
    y = 3 + np.where(user_kind[users] == item_kind[items], 1.0, -1.0)
    frame = pd.DataFrame({"user": users, "item": items})
    return frame, y + 0.2 * rng.normal(size=y.shape[0])


def test_implicit_feedback_block_in_a_tuned_fm_pipeline():
    frame, y = chosen_item_ratings()
    X_train, X_test, y_train, y_test = train_test_split(frame, y, random_state=0)
    blocks = ColumnTransformer(
        [
            ("item", OneHotEncoder(handle_unknown="ignore"), ["item"]),
            ("implicit", ImplicitFeedbackEncoder(), ["user", "item"]),
        ]
    )
    search = GridSearchCV(
        make_pipeline(blocks, FMRegressor(random_state=0)),
        {"columntransformer__implicit__norm": ["l1", "l2"]},
        cv=3,
    ).fit(X_train, y_train)
    assert search.best_estimator_[0].named_transformers_["implicit"].norm == search.best_params_[
        "columntransformer__implicit__norm"
    ]
    item_only = make_pipeline(
        ColumnTransformer([("item", OneHotEncoder(handle_unknown="ignore"), ["item"])]),
        FMRegressor(random_state=0),
    ).fit(X_train, y_train)
    ridge = make_pipeline(blocks, Ridge()).fit(X_train, y_train)
    # The like-your-kind effect is an interaction of the rated items with the
    # item: the FM finds it, the item alone or a linear model cannot.
    assert search.score(X_test, y_test) > 0.5
    assert item_only.score(X_test, y_test) < 0.1
    assert ridge.score(X_test, y_test) < 0.1
