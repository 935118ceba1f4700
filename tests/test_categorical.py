"""Categorical input: pandas category columns encoded inside the estimators."""

import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FFMClassifier, FFMRegressor, FMClassifier, FMRegressor, load

from .test_persistence import metadata_of, rewrite

FAST = dict(max_iter=3, tol=None, random_state=0)


def clicks(n_samples=2000, seed=0):
    """Users, ads and devices as categorical columns, and a price; clicks
    depend on which user sees which ad."""
    rng = np.random.RandomState(seed)
    users = rng.choice([f"u{i}" for i in range(12)], n_samples)
    ads = rng.randint(0, 6, n_samples)
    frame = pd.DataFrame(
        {
            "user": pd.Categorical(users),
            "ad": pd.Categorical(ads),
            "price": rng.normal(size=n_samples),
            "device": pd.Categorical(rng.choice(["phone", "tablet", "pc"], n_samples)),
        }
    )
    taste = rng.normal(size=(12, 6)) * 2
    logit = taste[frame["user"].cat.codes, ads] + 0.5 * frame["price"]
    y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


@pytest.mark.parametrize("estimator", [FMClassifier, FFMClassifier])
def test_a_frame_of_categorical_columns_trains_as_its_one_hot_pipeline(estimator):
    frame, y = clicks()
    frame = frame[["user", "ad", "device"]]
    model = estimator(**FAST).fit(frame, y)
    assert_array_equal(model.is_categorical_, [True, True, True])
    assert [list(c) for c in model.categories_] == [
        [f"u{i}" for i in sorted(range(12), key=str)], list(range(6)), ["pc", "phone", "tablet"]
    ]
    fields = {} if estimator is FMClassifier else {"fields": np.repeat([0, 1, 2], [12, 6, 3])}
    explicit = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"),
        estimator(categorical_features=None, **FAST, **fields),
    ).fit(frame, y)
    assert_array_equal(model.coef_, explicit[-1].coef_)
    # Unseen categories and missing values are ignored, as by the encoder.
    test = frame.head(6).copy()
    test["user"] = pd.Categorical(["nobody", None, "u3", "u3", "u11", None])
    test["ad"] = pd.Categorical([0, 1, 99, np.nan, 2, 5])
    assert_array_equal(model.predict_proba(test), explicit.predict_proba(test))


def test_numeric_columns_stay_numbers_in_their_place():
    frame, y = clicks()
    model = FMClassifier(**FAST).fit(frame, y)
    assert_array_equal(model.is_categorical_, [True, True, False, True])
    assert model.coef_.shape == (12 + 6 + 1 + 3,)
    transformer = ColumnTransformer(
        [
            ("user", OneHotEncoder(), ["user"]),
            ("ad", OneHotEncoder(), ["ad"]),
            ("price", "passthrough", ["price"]),
            ("device", OneHotEncoder(), ["device"]),
        ]
    )
    explicit = make_pipeline(transformer, FMClassifier(categorical_features=None, **FAST))
    explicit.fit(frame, y)
    assert_array_equal(model.coef_, explicit[-1].coef_)
    names = model.top_interactions(n=500)
    assert {"price", "user_u0", "ad_0", "device_pc"} <= set(names.feature_i) | set(
        names.feature_j
    )
    # Categories of one column never occur together: their pairs are not listed.
    same_column = [
        (i.split("_")[0] == j.split("_")[0]) and i != "price" and j != "price"
        for i, j in zip(names.feature_i, names.feature_j)
    ]
    assert not any(same_column)
    assert len(names) == 22 * 21 // 2 - (12 * 11 + 6 * 5 + 3 * 2) // 2


def test_field_aware_fields_follow_the_columns():
    frame, y = clicks()
    model = FFMClassifier(**FAST).fit(frame, y)
    # Each categorical column is a field, each numeric column one of its own.
    assert_array_equal(model.fields_, np.repeat([0, 1, 2, 3], [12, 6, 1, 3]))
    grouped = FFMClassifier(fields=["who", "what", "what", "who"], **FAST).fit(frame, y)
    assert_array_equal(grouped.fields_, np.repeat([1, 0, 0, 1], [12, 6, 1, 3]))
    assert grouped.factors_.shape == (22, 2, 8)


def test_grid_search_over_fm_and_ffm_with_folds_that_see_other_categories():
    frame, y = clicks(n_samples=1500)
    # Rare users: some folds train on users that others never see.
    frame["user"] = frame["user"].cat.add_categories(["rare1", "rare2"])
    frame.loc[[3, 700], "user"] = ["rare1", "rare2"]
    pipe = Pipeline([("model", FMClassifier())])
    grid = GridSearchCV(
        pipe,
        {"model": [FMClassifier(n_factors=2, **FAST), FFMClassifier(n_factors=2, **FAST)]},
        cv=KFold(3),
        scoring="roc_auc",
        error_score="raise",
    ).fit(frame, y)
    assert set(grid.cv_results_["mean_test_score"]) and np.all(
        grid.cv_results_["mean_test_score"] > 0.6
    )
    best = grid.best_estimator_["model"]
    assert "rare1" in best.categories_[0]


def test_partial_fit_keeps_the_first_calls_categories_and_warns_of_others():
    # Rows of categories the model lacks trained silently on no feature.
    frame, y = clicks()
    model = FMClassifier(**FAST).partial_fit(frame[:1000], y[:1000], classes=[0, 1])
    later = frame[1000:].copy()
    later["device"] = pd.Categorical(["watch"] * len(later))  # unseen: ignored
    lacked = rf"categories the model does not have \({len(later)} in 'device'\)"
    with pytest.warns(UserWarning, match=lacked):
        model.partial_fit(later, y[1000:])
    assert [list(c) for c in model.categories_][2] == ["pc", "phone", "tablet"]
    # Named as the model names the column, also in rows of an array ('2' before).
    with pytest.warns(UserWarning, match=lacked):
        model.partial_fit(later.to_numpy(dtype=object), y[1000:])
    no_device = later.assign(device=pd.Categorical([None] * len(later)))
    assert_array_equal(model.predict_proba(later), model.predict_proba(no_device))
    # Missing values, known categories and rows of weight 0 are no reason to
    # warn; nor is predict.
    weighed_out = np.where(np.arange(len(later)) < 5, 0.0, 1.0)
    some_watches = no_device.assign(device=later["device"].where(weighed_out == 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.partial_fit(no_device, y[1000:])
        model.partial_fit(frame[:1000], y[:1000])
        model.partial_fit(some_watches, y[1000:], sample_weight=weighed_out)
        model.predict(later)


def test_categories_no_row_holds_are_no_feature_for_fit_and_declared_ones_for_partial_fit():
    X = pd.DataFrame({"b": pd.Categorical([None] * 20, categories=["u", "v"])})
    y = np.arange(20.0)
    with pytest.raises(ValueError, match="X has no feature to train on"):
        FMRegressor(**FAST).fit(X, y)
    # A stream's first chunk may miss a declared category, which later
    # chunks bring.
    model = FMRegressor(**FAST).partial_fit(X, y)
    assert [list(c) for c in model.categories_] == [["u", "v"]]
    assert_array_equal(model.coef_, 0.0)  # no row has trained them yet


def test_a_warm_started_fit_warns_of_categories_the_model_lacks():
    frame, y = clicks()
    model = FMClassifier(warm_start=True, **FAST).fit(frame[:1000], y[:1000])
    later = frame[1000:].assign(ad=frame["ad"][1000:].cat.add_categories([99]))
    later.loc[later.index[:5], "ad"] = 99
    with pytest.warns(UserWarning, match=r"\(5 in 'ad'\).*warm_start=False"):
        model.fit(later, y[1000:])
    # Not for a call that is then refused (it warned, then could hold out no
    # validation rows).
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(ValueError, match="early_stopping"):
            model.set_params(early_stopping=True).fit(later[:3], [0, 1, 0])


@pytest.mark.parametrize("estimator", [FMRegressor, FFMRegressor])
def test_a_stream_declares_its_categories_in_the_dtype_of_its_first_partial_fit(estimator):
    # Only the first call's categories were learned: a stream whose first
    # row was (ann, x) trained every later row on no feature, and learned
    # nothing of the interaction of the others (R² 0). fit keeps the
    # categories its rows hold, as OneHotEncoder does.
    users, items = ["ann", "bob", "cid"], ["x", "y", "z"]

    def chunk(user, item):
        return pd.DataFrame({
            "user": pd.Categorical(user, categories=users),
            "item": pd.Categorical(item, categories=items),
        })

    model = estimator(random_state=0).partial_fit(chunk(["ann"], ["x"]), [0.0])
    assert [list(c) for c in model.categories_] == [users, items]
    first_only = clone(model).fit(chunk(["ann"], ["x"]), [0.0])
    assert [list(c) for c in first_only.categories_] == [["ann"], ["x"]]
    # Which of bob and cid meets which of y and z: an interaction only.
    later = chunk(["bob", "bob", "cid", "cid"] * 25, ["y", "z", "y", "z"] * 25)
    y = np.array([1.0, -1.0, -1.0, 1.0] * 25)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for _ in range(100):
            model.partial_fit(later, y)
    assert model.score(later, y) > 0.9


def test_encoding_turned_off_after_fit_is_refused_where_the_model_goes_on(tmp_path):
    # The model one-hot encodes its category columns whatever the parameter
    # says now: warm_start silently kept encoding them, and save wrote a file
    # whose parameters do not describe the model.
    frame, y = clicks(n_samples=300)
    model = FMClassifier(warm_start=True, **FAST).fit(frame, y)
    model.set_params(categorical_features=None)
    for call in (lambda: model.fit(frame, y), lambda: model.partial_fit(frame, y),
                 lambda: model.save(tmp_path / "model.fm")):
        with pytest.raises(ValueError, match="categorical_features=None, but the fitted model"):
            call()
    model.set_params(categorical_features="from_dtype").fit(frame, y)


def test_encoding_turned_on_after_fit_is_refused_where_the_model_goes_on():
    # The mirror case: the model reads its category columns as numbers, and
    # warm_start and partial_fit went on reading them so.
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {"level": pd.Categorical(rng.randint(0, 5, 300)), "x": rng.normal(size=300)}
    )
    y = frame["level"].astype(int) * frame["x"]
    model = FMRegressor(categorical_features=None, warm_start=True, **FAST).fit(frame, y)
    model.set_params(categorical_features="from_dtype")
    for call in (lambda: model.fit(frame, y), lambda: model.partial_fit(frame, y)):
        with pytest.raises(ValueError, match="categorical_features='from_dtype', but the fitted"):
            call()
    assert model.coef_.shape == (2,)
    # Data without category columns goes on, and fit without warm_start starts over.
    model.partial_fit(frame.assign(level=frame["level"].astype(int)), y)
    assert model.set_params(warm_start=False).fit(frame, y).coef_.shape == (6,)


def test_category_columns_of_numbers_are_categories_unless_turned_off():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {"level": pd.Categorical(rng.randint(0, 5, 300)), "x": rng.normal(size=300)}
    )
    y = frame["level"].astype(int) * frame["x"]
    assert FMRegressor(**FAST).fit(frame, y).coef_.shape == (6,)
    assert FMRegressor(categorical_features=None, **FAST).fit(frame, y).coef_.shape == (2,)


def test_arrays_at_predict_and_sparse_matrices_refused():
    frame, y = clicks()
    model = FMClassifier(**FAST).fit(frame, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        from_array = model.predict_proba(frame.to_numpy(dtype=object))
    assert_allclose(from_array, model.predict_proba(frame))
    with pytest.raises(ValueError, match="X must be a DataFrame .* not a sparse matrix"):
        model.predict(sp.csr_matrix(np.ones((2, 4))))
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now missing"):
        model.predict(frame.iloc[:, :3])
    with pytest.raises(ValueError, match="X has 3 features, but FMClassifier is expecting 4"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            model.predict(frame.iloc[:, :3].to_numpy(dtype=object))
    with pytest.raises(ValueError, match="The column 'price' of X holds strings"):
        model.predict(frame.assign(price="cheap"))


@pytest.mark.parametrize("library", ["polars", "pyarrow"])
def test_polars_and_pyarrow_frames_are_read_by_column_name_with_their_categories(library):
    # Their category columns were read as strings and refused, and a model
    # fitted on pandas read them by position: with their columns in another
    # order it predicted silently wrong.
    pytest.importorskip("pyarrow")  # both convert to pandas through it
    module = pytest.importorskip(library)

    def foreign(df):
        if library == "polars":
            return module.from_pandas(df)
        return module.Table.from_pandas(df, preserve_index=False)

    frame, y = clicks()
    frame = frame.drop(columns="ad")  # polars has no category columns of numbers
    model = FMClassifier(**FAST).fit(frame, y)
    assert_array_equal(model.predict_proba(foreign(frame)), model.predict_proba(frame))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(foreign(frame[frame.columns[::-1]]))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.partial_fit(foreign(frame[frame.columns[::-1]]), y)
    fitted = FMClassifier(**FAST).fit(foreign(frame), y)
    assert_array_equal(fitted.is_categorical_, [True, False, True])
    assert fitted.feature_names_in_.tolist() == list(frame.columns)
    assert [set(c) for c in fitted.categories_] == [set(c) for c in model.categories_]
    assert_array_equal(fitted.predict_proba(foreign(frame)), fitted.predict_proba(frame))


@pytest.mark.parametrize("estimator", [FMRegressor, FFMRegressor])
def test_save_and_load_keep_the_encoding(estimator):
    frame, y = clicks()
    model = estimator(**FAST).fit(frame, y.astype(float))
    buffer = io.BytesIO()
    model.save(buffer)
    loaded = load(buffer.getvalue())
    assert_array_equal(loaded.is_categorical_, model.is_categorical_)
    for loaded_categories, categories in zip(loaded.categories_, model.categories_):
        assert_array_equal(loaded_categories, categories)
    assert_array_equal(loaded.predict(frame), model.predict(frame))
    loaded.partial_fit(frame, y)
    model.partial_fit(frame, y)
    assert_array_equal(loaded.coef_, model.coef_)


def test_a_file_whose_categories_do_not_fit_is_refused(tmp_path):
    frame, y = clicks()
    FMRegressor(**FAST).fit(frame, y.astype(float)).save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    metadata["is_categorical_"][2] = True  # one more categorical column
    forged = rewrite(
        tmp_path / "model.fm", tmp_path / "forged.fm", **{"metadata.json": json.dumps(metadata)}
    )
    with pytest.raises(ValueError, match="is_categorical_ and categories_ do not fit together"):
        load(forged)


def test_values_of_another_kind_than_the_categories_are_refused():
    # They were each read as an unseen category: one prediction for every
    # row, and partial_fit trained on rows without a feature.
    rng = np.random.RandomState(0)
    ids = rng.randint(1, 4, 60)
    frame = pd.DataFrame({"user": pd.Categorical(ids.astype(str)), "x": rng.normal(size=60)})
    y = ids + frame["x"]
    model = FMRegressor(**FAST).fit(frame, y)
    before = model.predict(frame)
    codes = frame.assign(user=frame["user"].cat.codes)
    message = (
        r"The category column .* of X holds numbers, but the model's categories for it "
        r"are strings \(such as \['1', '2', '3'\]\)"
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        for X in (frame.assign(user=pd.Categorical(ids)), codes, codes.to_numpy()):
            with pytest.raises(TypeError, match=message):
                model.predict(X)
    with pytest.raises(TypeError, match=message):
        model.partial_fit(codes, y)
    assert_array_equal(model.predict(frame), before)
    numbers = FMRegressor(**FAST).fit(frame.assign(user=pd.Categorical(ids)), y)
    with pytest.raises(TypeError, match="holds strings, but the model's categories for it are numbers"):
        numbers.predict(frame)


def test_bytes_for_categories_of_strings_are_refused_as_another_kind():
    # b"1" is not "1": each row was read as an unseen category, silently.
    rng = np.random.RandomState(0)
    ids = rng.randint(1, 4, 60).astype(str)
    frame = pd.DataFrame({"user": pd.Categorical(ids), "x": rng.normal(size=60)})
    model = FMRegressor(**FAST).fit(frame, rng.normal(size=60))
    as_bytes = frame.assign(user=pd.Categorical(np.char.encode(ids)))
    message = "holds bytes, but the model's categories for it are strings"
    for X in (as_bytes, as_bytes.astype({"user": object})):
        with pytest.raises(TypeError, match=message):
            model.predict(X)


@pytest.mark.parametrize("estimator", [FMRegressor, FFMRegressor])
def test_columns_in_another_order_are_refused_for_their_order(estimator):
    # The category column in the numeric column's place was refused as a
    # category column read as numbers, with advice to set what was set.
    frame, y = clicks(200)
    model = estimator(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
        model.predict(frame[["user", "price", "device", "ad"]])


@pytest.mark.parametrize("numbers", [np.int64, np.float64])
def test_booleans_match_categories_of_numbers_as_onehotencoder_matches_them(numbers):
    # A model fitted on 0 and 1 read True and False as unseen categories.
    levels = np.tile([0, 1], 30)
    as_numbers = pd.DataFrame({"c": pd.Categorical(levels.astype(numbers))})
    as_booleans = pd.DataFrame({"c": pd.Categorical(levels.astype(bool))})
    y = 2.0 * levels
    for fitted, other in [(as_numbers, as_booleans), (as_booleans, as_numbers)]:
        model = FMRegressor(**FAST).fit(fitted, y)
        assert_array_equal(model.predict(other), model.predict(fitted))
    encoder = OneHotEncoder(handle_unknown="ignore").fit(as_numbers)
    assert_array_equal(encoder.transform(as_booleans).toarray(), encoder.transform(as_numbers).toarray())


def test_the_model_does_not_depend_on_the_order_a_frame_declares_its_categories_in():
    # The categories kept the declared order, so the same values and seed
    # trained another model, where OneHotEncoder and
    # HistGradientBoostingRegressor sort them.
    frame, y = clicks()
    declared = frame["user"].cat.categories
    reordered = frame.assign(user=frame["user"].cat.reorder_categories(declared[::-1]))
    model = FMClassifier(**FAST).fit(frame, y)
    other = FMClassifier(**FAST).fit(reordered, y)
    assert_array_equal(other.factors_, model.factors_)
    assert_array_equal(other.categories_[0], np.sort(declared))
    assert_array_equal(other.predict_proba(frame), model.predict_proba(reordered))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array(["a", "b"]), "Expected 2D array, got 1D array instead"),
        (pd.Series(["a", "b"], dtype="category"), "Expected 2D array, got 1D array instead"),
        ("a", "Expected 2D array, got scalar array instead"),
        (np.zeros((2, 1, 1)), "Expected 2D array, got 3D array instead"),
    ],
    ids=["array", "Series", "scalar", "3-D"],
)
def test_input_that_is_not_a_table_is_refused_by_a_categorical_model(X, message):
    # A 1-D array or a Series was taken for a column, a scalar and a 3-D
    # array failed inside pandas.
    model = FMRegressor(**FAST).fit(pd.DataFrame({"c": pd.Categorical(list("abc") * 10)}), np.arange(30.0))
    for method in (model.predict, lambda X: model.partial_fit(X, np.zeros(2))):
        with pytest.raises(ValueError, match=message):
            method(X)


def test_pyarrow_dictionary_columns_of_a_pandas_frame_are_categories():
    # As read_parquet(dtype_backend="pyarrow") gives them; they were read as
    # strings, refused, or taken for numbers when they held digits.
    pa = pytest.importorskip("pyarrow")
    frame, y = clicks()
    dictionary = pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string()))
    arrow = frame.assign(user=pd.Series(pa.array(frame["user"].astype(str)).dictionary_encode(), dtype=dictionary))
    model = FMClassifier(**FAST).fit(frame, y)
    from_arrow = FMClassifier(**FAST).fit(arrow, y)
    assert_array_equal(from_arrow.factors_, model.factors_)
    assert_array_equal(from_arrow.predict_proba(arrow), model.predict_proba(frame))
    with pytest.raises(ValueError, match="The column 'user' of X is a category column of strings"):
        FMClassifier(categorical_features=None, **FAST).fit(arrow, y)


@pytest.mark.parametrize("library", ["polars", "pyarrow"])
def test_polars_and_pyarrow_columns_of_strings_and_dates_are_refused(library):
    # scikit-learn's validation read their dates as numbers.
    pytest.importorskip("pyarrow")
    module = pytest.importorskip(library)
    columns = {"x": np.arange(20.0), "when": pd.date_range("2020", periods=20)}
    dates = module.table(columns) if library == "pyarrow" else module.DataFrame(columns)
    with pytest.raises(TypeError, match="The column 'when' of X holds dates or durations"):
        FMRegressor(**FAST).fit(dates, np.arange(20.0))
    columns = {"x": np.arange(20.0), "user": [str(i) for i in range(20)]}
    digits = module.table(columns) if library == "pyarrow" else module.DataFrame(columns)
    with pytest.raises(ValueError, match="The column 'user' of X holds strings"):
        FMRegressor(**FAST).fit(digits, np.arange(20.0))


def arrow_columns(views):
    """(pyarrow array, error, message) for columns of digits as text or bytes
    and of times, in every pyarrow type of them (the views if ``views``)."""
    pa = pytest.importorskip("pyarrow")
    digits, numbers = ["1", "2", "30"] * 8, [1, 2, 30] * 8
    times = [pa.duration("s"), pa.time64("us"), pa.date32(), pa.timestamp("ms")]
    texts, binaries = [pa.large_string(), pa.string()], [pa.binary(), pa.large_binary()]
    if views and hasattr(pa, "string_view"):
        texts, binaries = texts + [pa.string_view()], binaries + [pa.binary_view()]
    as_bytes = [digit.encode() for digit in digits]
    return [
        *[(pa.array(numbers, dtype), TypeError, "holds dates or durations") for dtype in times],
        *[(pa.array(digits, dtype), ValueError, "holds strings") for dtype in texts],
        *[(pa.array(as_bytes, dtype), ValueError, "holds strings") for dtype in binaries],
        (pa.array([b[:1] for b in as_bytes], pa.binary(1)), ValueError, "holds strings"),
    ]


@pytest.mark.parametrize("container", ["pyarrow Table", "pandas ArrowDtype"])
def test_pyarrow_columns_of_every_text_and_time_type_are_refused(container):
    # Large strings and binaries, durations, and dictionaries of large
    # strings (the category columns of pandas' and polars' Arrow tables)
    # were read as numbers: "30" as 30.
    pa = pytest.importorskip("pyarrow")
    y = np.arange(24.0)
    fitted_on_numbers = FMRegressor(**FAST).fit(pd.DataFrame({"x": y, "id": y % 3}), y)

    def frame(column):
        table = pa.table({"x": pa.array(y), "id": column})
        if container == "pyarrow Table":
            return table
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    # pandas has no ArrowDtype of pyarrow's views.
    for column, error, message in arrow_columns(views=container == "pyarrow Table"):
        X = frame(column)
        with pytest.raises(error, match=f"The column 'id' of X {message}"):
            FMRegressor(**FAST).fit(X, y)
        with pytest.raises(error, match=f"The column 'id' of X {message}"):
            fitted_on_numbers.predict(X)
    for value_type in (pa.large_string(), pa.large_binary()):
        digits = pa.array([d.encode() for d in ["1", "2", "30"] * 8]).cast(value_type)
        X = frame(digits.dictionary_encode())
        message = "The column 'id' of X is a category column of strings"
        with pytest.raises(ValueError, match=message):
            FMRegressor(**FAST, categorical_features=None).fit(X, y)
        with pytest.raises(ValueError, match=message):
            fitted_on_numbers.predict(X)
        # With the default, it is a category column like pandas' own.
        as_categories = pd.DataFrame({"x": y, "id": pd.Categorical(digits.to_pylist())})
        assert_array_equal(
            FMRegressor(**FAST).fit(X, y).coef_, FMRegressor(**FAST).fit(as_categories, y).coef_
        )


@pytest.mark.parametrize("container", ["pyarrow Table", "pandas ArrowDtype"])
def test_a_dictionary_with_a_null_category_is_refused_by_name(container):
    # pandas' "Categorical categories cannot be null" named no column.
    pa = pytest.importorskip("pyarrow")
    users = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, 0], pa.int32()), ["a", None, "b"])
    if container == "pyarrow Table":
        X = pa.table({"user": users, "x": [1.0, 2.0, 3.0, 4.0]})
    else:
        X = pd.DataFrame({"user": pd.Series(users, dtype=pd.ArrowDtype(users.type)), "x": 1.0})
    with pytest.raises(ValueError, match="dictionary column 'user' of X has a null among its"):
        FMRegressor(**FAST).fit(X, [1.0, 2.0, 3.0, 4.0])


def test_categories_of_mixed_kinds_sort_by_kind_whatever_their_declared_order():
    # They kept the order the frame declared them in: a model of its own per
    # order. Categories printing alike made two columns of one name.
    values = [2, "b", 1, "a"] * 10
    y = np.arange(40.0)
    models = [
        FMRegressor(**FAST).fit(pd.DataFrame({"c": pd.Categorical(values, categories=order)}), y)
        for order in ([2, "b", 1, "a"], ["a", 1, "b", 2])
    ]
    for model in models:
        assert model.categories_[0].tolist() == [1, 2, "a", "b"]
    assert_array_equal(models[0].factors_, models[1].factors_)
    with pytest.raises(ValueError, match="The categories 1 and '1' of the column 'c' would both"):
        FMRegressor(**FAST).fit(pd.DataFrame({"c": pd.Categorical([1, "1", "a"] * 5)}), y[:15])


def test_feature_names_print_categories_as_onehotencoder_does():
    # Float32 categories printed with float64's digits: c_0.10000000149011612.
    values = np.array([0.1, 0.2, 0.3] * 20, dtype=np.float32)
    frame = pd.DataFrame({"c": pd.Categorical(values), "d": pd.Categorical(np.arange(60) % 2)})
    y = np.arange(60.0)
    pairs = FMRegressor(**FAST).fit(frame, y).top_interactions(n=6)
    encoder = OneHotEncoder().fit(frame)
    names = set(encoder.get_feature_names_out())
    assert set(pairs["feature_i"]) | set(pairs["feature_j"]) == names
