"""FFMRegressor and FFMClassifier: the formula, training, fields and what they learn."""

import io
import itertools
import json
import pickle
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FFMClassifier, FFMRegressor, FMClassifier, FMRegressor, load
from sklearn_fm._parameters import ffm_decision, layer_form

from .conftest import numerical_gradient, run_python, with_peak_memory
from .test_persistence import metadata_of, rewrite

FAST = dict(max_iter=3, tol=None, random_state=0)


def brute_force_ffm(X, intercept, coef, factors, fields):
    """w0 + <w, x> + sum_{i<j} <v_i f(j), v_j f(i)> x_i x_j, the O(n^2) definition."""
    out = intercept + X @ coef
    for i, j in itertools.combinations(range(X.shape[1]), 2):
        out = out + (factors[i, fields[j]] @ factors[j, fields[i]]) * X[:, i] * X[:, j]
    return out


def field_aware_clicks(n_samples=6000, n_levels=8, seed=0):
    """Three one-hot fields whose pairwise effects are unrelated rank-1
    products: user-ad through (a_u, b_a), user-device through (c_u, d_d),
    ad-device through (e_a, g_d). An FFM of rank 1 holds each; an FM of rank
    1 would need one number per level for all three."""
    rng = np.random.RandomState(seed)
    columns = rng.randint(0, n_levels, size=(n_samples, 3))
    a, b, c, d, e, g = 1.5 * rng.normal(size=(6, n_levels))
    user, ad, device = columns.T
    logit = a[user] * b[ad] + c[user] * d[device] + e[ad] * g[device]
    y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-2 * logit))).astype(int)
    return columns, y, np.outer(a, b)  # the planted user-ad weights


def test_predictions_follow_the_brute_force_definition_dense_and_sparse():
    rng = np.random.RandomState(0)
    X = sp.random(300, 7, density=0.5, random_state=rng, format="csr")
    y = rng.normal(size=300)
    fields = ["u", "u", "i", "i", "i", "g", "u"]
    model = FFMRegressor(fields=fields, n_factors=3, **FAST).fit(X, y)
    assert_array_equal(model.fields_, [2, 2, 1, 1, 1, 0, 2])  # labels in sorted order
    assert model.n_fields_ == 3 and model.factors_.shape == (7, 3, 3)
    expected = brute_force_ffm(
        X.toarray(), model.intercept_, model.coef_, model.factors_, model.fields_
    )
    assert_allclose(model.predict(X), expected, rtol=1e-10, atol=1e-12)
    assert_allclose(model.predict(X.toarray()), expected, rtol=1e-10, atol=1e-12)
    # Row by row, bit-identical to the whole batch.
    rows = np.concatenate([model.predict(X[i]) for i in range(20)])
    assert_array_equal(rows, model.predict(X[:20]))


def test_multiclass_scores_follow_the_keras_layer():
    keras = pytest.importorskip("keras")
    from sklearn_fm.keras import FieldAwareFactorizationMachine

    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 5))
    y = rng.randint(0, 3, size=200)
    model = FFMClassifier(fields=[0, 1, 1, 2, 2], n_factors=2, **FAST).fit(X, y)
    assert model.factors_.shape == (3, 5, 3, 2) and model.coef_.shape == (3, 5)
    layer = FieldAwareFactorizationMachine(
        fields=list(model.fields_), n_factors=2, units=3, dtype="float64"
    )
    layer.build((None, 5))
    layer.set_weights(layer_form(model.intercept_, model.coef_, model.factors_))
    assert_allclose(model.decision_function(X), keras.ops.convert_to_numpy(layer(X)), rtol=1e-10)
    for c in range(3):
        expected = brute_force_ffm(
            X, model.intercept_[c], model.coef_[c], model.factors_[c], model.fields_
        )
        assert_allclose(model.decision_function(X)[:, c], expected, rtol=1e-10)


def stated_objective(theta, X, y, s, alphas, fields, n_factors):
    """FFMRegressor's objective in float64, theta = (w0, w, V) flattened:
    FMRegressor's, with the field-aware pairwise term."""
    n, d = X.shape
    n_fields = max(fields) + 1
    w0, w = theta[0], theta[1 : d + 1]
    V = theta[d + 1 :].reshape(d, n_fields, n_factors)
    alpha_linear, alpha_factors, alpha_uniform = alphas
    prediction = brute_force_ffm(X, w0, w, V, fields)
    used = X != 0
    per_row = 0.5 * alpha_factors * used @ (V**2).sum(axis=(1, 2))
    s = s / s.mean()
    uniform = (alpha_linear * w @ w + alpha_uniform * (V**2).sum()) / (2 * n)
    return (s * (0.5 * (y - prediction) ** 2 + per_row)).sum() / n + uniform


# Row-sparse SGD updates without the uniform penalties, dense ones with them.
@pytest.mark.parametrize("alphas", [(0.0, 0.2, 0.0), (0.05, 0.2, 3.0)])
def test_sgd_steps_follow_the_gradient_of_the_stated_objective(alphas):
    # Full-batch SGD at a constant rate takes theta -= eta * grad J(theta):
    # each epoch exposes the hand-written gradient of the field-aware term.
    # Column 5 is all zero.
    rng = np.random.RandomState(0)
    X = sp.random(40, 6, density=0.5, random_state=rng, format="csr").toarray()
    X[:, 5] = 0
    y, s = rng.normal(size=40), rng.uniform(0.5, 2.0, size=40)
    fields = [0, 1, 1, 2, 0, 2]
    model = FFMRegressor(
        fields=fields, n_factors=2, alpha_linear=alphas[0], alpha_factors=alphas[1],
        alpha_uniform=alphas[2], solver="sgd", learning_rate="constant",
        learning_rate_init=0.1, batch_size=40, init_std=0.5, random_state=0,
    )
    mean = np.average(y, weights=s)
    std = np.sqrt(np.average((y - mean) ** 2, weights=s))

    def objective(theta):
        return stated_objective(theta, X, (y - mean) / std, s, alphas, fields, n_factors=2)

    def theta():
        intercept = (model.intercept_ - mean) / std
        return np.concatenate(
            [[intercept], model.coef_ / std, model.factors_.ravel() / np.sqrt(std)]
        )

    # Epochs over one data set: fit with warm_start, one epoch at a time.
    model.set_params(warm_start=True, max_iter=1, tol=None)
    model.fit(X, y, sample_weight=s)
    for _ in range(3):
        before = theta()
        model.fit(X, y, sample_weight=s)
        assert_allclose(
            (before - theta()) / 0.1, numerical_gradient(objective, before), rtol=1e-3, atol=1e-5
        )
        assert model.loss_curve_[-1] == pytest.approx(objective(before), rel=1e-5)


@pytest.mark.parametrize("solver", ["adam", "sgd", "adagrad", "ftrl"])
def test_every_solver_form_learns_a_field_aware_interaction(solver):
    # With alpha_linear=alpha_uniform=0, SGD, Adagrad and FTRL take their row-sparse steps
    # (Adagrad and FTRL after summing each column's gradients).
    columns, y, _ = field_aware_clicks(n_samples=3000)
    X = OneHotEncoder().fit_transform(columns)
    fields = np.repeat([0, 1, 2], 8)
    rate = {"adam": 0.05, "sgd": 0.5, "adagrad": 0.3, "ftrl": 0.3}[solver]
    model = FFMClassifier(
        fields=fields, n_factors=2, solver=solver, alpha_linear=0.0, alpha_uniform=0.0,
        learning_rate="constant", learning_rate_init=rate, early_stopping=False,
        max_iter=15, tol=None, random_state=0,
    ).fit(X, y)
    assert roc_auc_score(y, model.decision_function(X)) > 0.75


def test_planted_field_aware_interactions_need_the_ffm_at_the_same_rank():
    columns, y, planted_user_ad = field_aware_clicks()
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0)
    encoder = OneHotEncoder().fit(columns)
    X = encoder.transform(columns)
    fields = np.repeat(["user", "ad", "device"], 8)
    settings = dict(n_factors=1, random_state=0)
    ffm = FFMClassifier(fields=fields, **settings).fit(X[train], y[train])
    fm = FMClassifier(**settings).fit(X[train], y[train])
    ffm_auc = roc_auc_score(y[test], ffm.decision_function(X[test]))
    fm_auc = roc_auc_score(y[test], fm.decision_function(X[test]))
    assert ffm_auc > fm_auc + 0.05, (ffm_auc, fm_auc)
    # The field-aware weights recover the planted products.
    names = encoder.get_feature_names_out(["user", "ad", "device"])
    top = ffm.top_interactions(n=200, feature_names=names)
    user_ad = top[top.feature_i.str.startswith("user") & top.feature_j.str.startswith("ad")]
    learned = {(i, j): w for i, j, w in user_ad.itertuples(index=False)}
    planted = [planted_user_ad[u, d] for u in range(8) for d in range(8)]
    weights = [learned.get((f"user_{u}", f"ad_{d}"), 0.0) for u in range(8) for d in range(8)]
    assert np.corrcoef(planted, weights)[0, 1] > 0.8


def test_fields_none_makes_each_column_a_field():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 4))
    model = FFMRegressor(**FAST).fit(X, X[:, 0] * X[:, 1])
    assert_array_equal(model.fields_, np.arange(4))
    assert model.factors_.shape == (4, 4, 8)
    assert model.get_params()["fields"] is None


def test_partial_fit_continues_and_save_and_load_continue_exactly():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] * X[:, 2] > 0).astype(int) + (X[:, 1] > 1)
    model = FFMClassifier(fields=["a", "b", "a", "c"], n_factors=2, **FAST).fit(X, y)
    buffer = io.BytesIO()
    model.save(buffer)
    loaded = load(buffer.getvalue())
    assert type(loaded) is FFMClassifier and loaded.get_params() == model.get_params()
    assert_array_equal(loaded.fields_, model.fields_)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    for continued in (model, loaded):
        continued.partial_fit(X, y)
    assert_array_equal(loaded.factors_, model.factors_)
    assert loaded.n_iter_ == model.n_iter_ == 4


@pytest.mark.parametrize(
    "fields", [(0, 1, 1), np.array([0, 1, 1]), np.array(["u", "i", "i"])], ids=repr
)
def test_fields_as_a_tuple_or_an_array_load_as_a_list_of_the_same_labels(fields):
    model = FFMRegressor(fields=fields, **FAST).fit(np.eye(3).repeat(5, 0), np.arange(15.0))
    buffer = io.BytesIO()
    model.save(buffer)
    loaded = load(buffer.getvalue())
    assert loaded.get_params()["fields"] == list(fields)  # as save documents
    assert_array_equal(loaded.fields_, model.fields_)
    assert_array_equal(loaded.predict(np.eye(3)), model.predict(np.eye(3)))


def test_a_fresh_process_without_tensorflow_predicts_and_lists_interactions():
    import pandas as pd

    columns, y, _ = field_aware_clicks(n_samples=600)
    frame = pd.DataFrame(columns, columns=["user", "ad", "device"]).astype("category")
    models = [
        FFMClassifier(categorical_features="from_dtype", n_factors=2, **FAST).fit(frame, y),
        FFMRegressor(fields=["u", "a", "d"], n_factors=2, **FAST).fit(columns, y.astype(float)),
    ]
    saved = io.BytesIO()
    models[0].save(saved)
    script = textwrap.dedent(
        """
        import pickle, sys
        sys.modules["tensorflow"] = None  # as if it were not installed
        import sklearn_fm
        file, pickled, frame, columns = pickle.loads(sys.stdin.buffer.read())
        loaded, regressor = sklearn_fm.load(file), pickle.loads(pickled)
        outputs = [
            loaded.predict_proba(frame), loaded.top_interactions(n=3),
            regressor.predict(columns), regressor.top_interactions(n=3),
        ]
        keras = sorted(
            name for name, module in sys.modules.items()
            if name.split(".")[0] in ("tensorflow", "keras") and module is not None
        )
        sys.stdout.buffer.write(pickle.dumps((outputs, keras)))
        """
    )
    given = (saved.getvalue(), pickle.dumps(models[1]), frame, columns)
    result = run_python("-c", script, input=pickle.dumps(given), text=False)
    outputs, keras = pickle.loads(result.stdout)
    assert keras == []
    assert_array_equal(outputs[0], models[0].predict_proba(frame))
    pd.testing.assert_frame_equal(outputs[1], models[0].top_interactions(n=3))
    assert_array_equal(outputs[2], models[1].predict(columns))
    pd.testing.assert_frame_equal(outputs[3], models[1].top_interactions(n=3))


def test_a_file_whose_fields_disagree_with_its_parameter_is_refused(tmp_path):
    model = FFMRegressor(fields=[0, 1, 1], **FAST).fit(np.eye(3).repeat(5, 0), np.arange(15.0))
    model.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    metadata["params"]["fields"] = [0, 0, 1]
    forged = rewrite(
        tmp_path / "model.fm", tmp_path / "forged.fm", **{"metadata.json": json.dumps(metadata)}
    )
    with pytest.raises(ValueError, match="fields_ are not the fields of the parameter fields"):
        load(forged)


def test_pipeline_and_grid_search_over_fm_and_ffm():
    columns, y, _ = field_aware_clicks(n_samples=3000)
    # Fixed categories: every fold has the same 24 columns in 3 fields.
    encoder = OneHotEncoder(categories=[list(range(8))] * 3)
    pipe = Pipeline([("encode", encoder), ("model", FMClassifier())])
    fields = np.repeat([0, 1, 2], 8)
    grid = GridSearchCV(
        pipe,
        {
            "model": [
                FMClassifier(n_factors=1, random_state=0),
                FFMClassifier(fields=fields, n_factors=1, random_state=0),
            ]
        },
        cv=3,
        scoring="roc_auc",
    ).fit(columns, y)
    assert isinstance(grid.best_estimator_["model"], FFMClassifier)
    scores = grid.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] + 0.03


def test_factors_beyond_the_budget_are_refused_before_allocation():
    # 30,000 one-hot columns, each a field of its own: 30,000**2 * 8 factors.
    X = sp.eye(30_000, format="csr")
    with pytest.raises(ValueError, match=r"would hold 7,200,000,000 factors"):
        FFMRegressor(**FAST).fit(X, np.arange(30_000.0))
    # Grouped into two fields, they train.
    model = FFMRegressor(fields=np.arange(200) % 2, **FAST).fit(X[:200, :200], np.arange(200.0))
    assert model.n_fields_ == 2


def test_predict_takes_memory_bounded_by_blocks_of_rows_and_stays_row_wise_exact():
    # The sums of each row's factors by field were made for all rows at once:
    # n_fields**2 * k values a row, 1.3 GB for these 2,000 rows of 100
    # fields, where fit, in batches, took little.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 100))
    model = FFMRegressor(n_factors=8, max_iter=1, tol=None, random_state=0).fit(X[:20], X[:20, 0])
    predicted, peak = with_peak_memory(model.predict, X)
    assert peak < 2**28
    assert_array_equal(np.concatenate([model.predict(X[i : i + 1]) for i in range(50)]), predicted[:50])
    sparse = sp.csr_matrix(X)
    assert_array_equal(
        np.concatenate([model.predict(sparse[i : i + 1]) for i in range(50)]),
        model.predict(sparse)[:50],
    )


def test_ffm_decision_is_the_fm_for_one_field():
    from sklearn_fm._parameters import fm_decision

    rng = np.random.RandomState(0)
    X = sp.random(30, 6, density=0.5, random_state=rng, format="csr")
    intercept, coef, factors = 0.3, rng.normal(size=6), rng.normal(size=(6, 3))
    assert_allclose(
        ffm_decision(X, intercept, coef, factors[:, None], np.zeros(6, int)),
        fm_decision(X, intercept, coef, factors),
        rtol=1e-12,
    )


def test_fm_regressor_still_refuses_a_fields_parameter():
    with pytest.raises(TypeError, match="fields"):
        FMRegressor(fields=[0, 1])
