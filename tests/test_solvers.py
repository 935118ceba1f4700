"""The ``solver`` parameter: Keras optimizers by name or with their settings,
as plain data through scikit-learn's machinery, and refused clearly when wrong."""

import pickle
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_fm import FMClassifier, FMRegressor, _solvers
from sklearn_fm._solvers import KERAS_OPTIMIZERS

from .conftest import make_interaction_data, run_python

X, y = make_interaction_data(n_samples=200)
FAST = dict(n_factors=3, max_iter=5, tol=None, random_state=0)
NADAM = {"class_name": "Nadam", "config": {"beta_1": 0.8}}


def test_a_solver_dict_is_a_parameter_like_any_other():
    model = FMRegressor(solver=NADAM, **FAST)
    assert clone(model).get_params()["solver"] == NADAM
    assert model.set_params(solver="adamw").solver == "adamw"
    fitted = FMRegressor(solver=NADAM, **FAST).fit(X, y)
    assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(X), fitted.predict(X))
    # Settings change the model: beta_1 is Nadam's, not Keras' default.
    default = FMRegressor(solver="nadam", **FAST).fit(X, y)
    assert not np.allclose(default.coef_, fitted.coef_)


def test_grid_search_over_solvers_and_their_settings():
    grid = {"solver": ["adam", NADAM, {"class_name": "SGD", "config": {"momentum": 0.9}}]}
    search = GridSearchCV(FMRegressor(**FAST), grid, cv=2).fit(X, y)
    assert [params["solver"] for params in search.cv_results_["params"]] == grid["solver"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("estimator", [FMRegressor, FMClassifier])
def test_class_names_and_names_are_the_same_solver(estimator):
    target = y if estimator is FMRegressor else y > 0
    by_name = estimator(solver="rmsprop", **FAST).fit(X, target)
    by_class = estimator(solver={"class_name": "RMSprop"}, **FAST).fit(X, target)
    assert_array_equal(by_name.predict(X), by_class.predict(X))


def test_numpy_scalars_in_a_config_are_the_numbers_and_switches_they_hold():
    # NumPy booleans are not numbers.Real: amsgrad=np.True_ was refused.
    numpy_config = {"beta_1": np.float32(0.75), "amsgrad": np.True_, "epsilon": np.int64(1)}
    python_config = {"beta_1": 0.75, "amsgrad": True, "epsilon": 1}
    spec = _solvers.SolverSpec.of({"class_name": "Adam", "config": numpy_config})
    assert spec == _solvers.SolverSpec.of({"class_name": "Adam", "config": python_config})
    assert all(type(value) in (float, bool, int) for _, value in spec.config)
    by_numpy = FMRegressor(solver={"class_name": "Adam", "config": numpy_config}, **FAST)
    by_python = FMRegressor(solver={"class_name": "Adam", "config": python_config}, **FAST)
    assert_array_equal(by_numpy.fit(X, y).predict(X), by_python.fit(X, y).predict(X))
    with pytest.raises(ValueError, match="amsgrad is a switch"):
        two = {"class_name": "Adam", "config": {"amsgrad": np.int64(2)}}
        _solvers.SolverSpec.of(two)


@pytest.mark.parametrize(
    "solver, error, message",
    [
        ("adamm", InvalidParameterError, "'solver' parameter"),
        (3, InvalidParameterError, "'solver' parameter"),
        ({"class_name": "Adamm"}, ValueError, "not the name of a Keras optimizer"),
        ({"config": {}}, ValueError, "keys 'class_name' and, optionally, 'config'"),
        ({"class_name": "Adam", "settings": {}}, ValueError, "keys 'class_name'"),
        # keras.optimizers.serialize's output as it is: its extra keys named.
        (
            {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None},
            ValueError,
            "without 'module' and 'registered_name'",
        ),
        ({"class_name": "Adam", "config": {"name": "adam"}}, ValueError, "'name', which the"),
        ({"class_name": "Adam", "config": [1]}, TypeError, "config must be a dict"),
        ({"class_name": "Adam", "config": {"learning_rate": 0.1}}, ValueError, "learning_rate_init"),
        ({"class_name": "Adam", "config": {"beta_1": [0.9]}}, TypeError, "numbers, booleans"),
        # Refused by Keras once TensorFlow ran; now before it is imported.
        ({"class_name": "Adam", "config": {"beta1": 0.9}}, ValueError, "did you mean 'beta_1'"),
        ({"class_name": "SGD", "config": {"beta_1": 0.5}}, ValueError, "SGD does not have"),
    ],
)
def test_invalid_solvers_are_refused_clearly(solver, error, message):
    with pytest.raises(error, match=message):
        FMRegressor(solver=solver, **FAST).fit(X, y)


def test_invalid_solver_dicts_are_refused_before_tensorflow_is_imported():
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from sklearn_fm import FMRegressor
        for solver in [
            {"class_name": "Adamm"},
            {"class_name": "Adam", "config": {"learning_rate": 1}},
            {"class_name": "SGD", "config": {"beta_1": 0.5}},
        ]:
            try:
                FMRegressor(solver=solver).fit(np.eye(3), np.arange(3.0))
            except ValueError as error:
                print(type(error).__name__)
        print("tensorflow" in sys.modules)
        """
    )
    result = run_python("-c", script)
    assert result.stdout.split() == ["ValueError", "ValueError", "ValueError", "False"]


def test_the_settings_known_for_each_optimizer_are_those_of_the_installed_keras():
    # Misspelt settings are refused before TensorFlow is imported, from a
    # table of Keras' settings: it must neither refuse nor let through any.
    import inspect

    import keras

    for class_name in KERAS_OPTIMIZERS:
        if not hasattr(keras.optimizers, class_name):  # newer than the installed Keras
            continue
        parameters = inspect.signature(getattr(keras.optimizers, class_name)).parameters
        keras_settings = set(parameters) - {"learning_rate", "name", "kwargs"}
        known = {*_solvers._OPTIMIZER_SETTINGS[class_name], *_solvers._COMMON_SETTINGS}
        assert known == keras_settings, class_name


def test_a_keras_without_an_optimizer_trains_with_the_others(monkeypatch):
    # Keras before 3.14 has no ScheduleFreeAdamW: building any training model
    # once raised AttributeError looking it up.
    import keras

    from sklearn_fm import _trainer

    monkeypatch.delattr(keras.optimizers, "ScheduleFreeAdamW")
    monkeypatch.setattr(_trainer, "_POOL", _trainer._Pool())  # build models anew
    for solver in ("adam", "ftrl"):
        FMRegressor(solver=solver, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="needs a newer Keras: Keras .* has no optimizers.ScheduleFreeAdamW"):
        FMRegressor(solver="schedulefreeadamw", **FAST).fit(X, y)


ACCUMULATING = {"gradient_accumulation_steps": 2}


@pytest.mark.parametrize(
    "solver",
    [
        "schedulefreeadamw",
        "adagrad",
        "ftrl",
        "adam",
        # Gradient accumulators come before Keras' other slots: FTRL's and
        # ScheduleFreeAdamW's were looked up by position and not found.
        {"class_name": "Ftrl", "config": ACCUMULATING},
        {"class_name": "ScheduleFreeAdamW", "config": ACCUMULATING},
    ],
)
def test_training_starts_from_the_fits_own_parameters_with_every_optimizer(solver):
    # ScheduleFreeAdamW starts its momentum as a copy of the variables: it
    # once copied those of the layer as first built, and pulled every fit
    # towards them. With a negligible learning rate no step moves the model.
    X, y = make_interaction_data(n_samples=200)
    params = dict(n_factors=3, max_iter=1, tol=None, learning_rate_init=1e-9, random_state=0)
    start = FMRegressor(solver="sgd", **params).fit(X, y)
    for _ in range(2):  # a new pooled model, then a reused one
        model = FMRegressor(solver=solver, **params).fit(X, y)
        np.testing.assert_allclose(model.factors_, start.factors_, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(model.coef_, start.coef_, atol=1e-4)


@pytest.mark.parametrize(
    "solver",
    [
        {"class_name": "Lion", "config": {"beta_2": 1.0}},
        {"class_name": "Adadelta", "config": {"rho": 1.0}},
        {"class_name": "Nadam", "config": {"beta_1": 1.0}},
    ],
    ids=lambda solver: solver["class_name"],
)
def test_a_setting_of_1_is_refused_only_by_the_optimizers_that_cannot_train_with_it(solver):
    # Adam's beta_2=1 is refused (tests/test_hostile_inputs.py); these train.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    model = FMRegressor(solver=solver, max_iter=5, tol=None, early_stopping=False, random_state=0)
    model.fit(X, y)
    assert model.n_iter_ == 5 and model.loss_curve_[-1] < 0.9 * model.loss_curve_[0]


def test_adagrad_and_ftrl_with_small_accumulators_learn_one_hot_clicks():
    # The user guide's advice for sparse columns: Keras' accumulators start
    # at 0.1, beyond the squares of a rare column's batch-mean gradients, so
    # that 'auto' (Adam's rate) barely moves them.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from .conftest import benchmark_script

    clicks = benchmark_script("ffm").generated_clicks(n_samples=40_000)

    def auc(model):
        model.fit(clicks.X_train, clicks.y_train)
        return roc_auc_score(clicks.y_test, model.predict_proba(clicks.X_test)[:, 1])

    linear = auc(LogisticRegression(max_iter=1000))
    adam = auc(FMClassifier(random_state=0))
    for class_name in ("Adagrad", "Ftrl"):
        solver = {"class_name": class_name, "config": {"initial_accumulator_value": 1e-6}}
        fm = auc(FMClassifier(solver=solver, learning_rate_init=0.3, random_state=0))
        assert fm > linear + 0.05 and fm > adam - 0.01, (class_name, fm, linear, adam)


@pytest.mark.parametrize("l2_term", ["l2_regularization_strength", "beta"])
def test_ftrl_without_an_initial_accumulator_trains_when_an_l2_term_keeps_it_finite(l2_term):
    # FTRL divides by the root of the accumulator plus its L2 terms: 0 / 0
    # only where both are 0, which is refused (see test_hostile_inputs).
    config = {"initial_accumulator_value": 0.0, l2_term: 0.01}
    model = FMRegressor(solver={"class_name": "Ftrl", "config": config}, **FAST).fit(X, y)
    keras_default = FMRegressor(solver="ftrl", **FAST).fit(X, y)
    assert model.n_iter_ == FAST["max_iter"]
    assert model.score(X, y) > keras_default.score(X, y) > 0.2
