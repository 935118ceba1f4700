"""Fitted FM estimators survive pickle, joblib, deepcopy, clone and their own
safe file format, which loads without executing code."""

import copy
import errno
import io
import json
import os
import pickle
import re
import stat
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import sklearn_fm
from sklearn_fm import FMClassifier, FMRegressor

from sklearn_fm import _model_file
from sklearn_fm._model_file import FORMAT_VERSION

from .conftest import make_interaction_data, run_python, with_peak_memory

X, y = make_interaction_data(n_samples=300)
PARAMS = dict(n_factors=3, max_iter=20, tol=None, random_state=0)
# A regressor, a binary classifier with string labels and a 3-class one.
PROBLEMS = {
    "regressor": (FMRegressor, y),
    "binary": (FMClassifier, np.where(y > 0, "up", "down")),
    "multiclass": (FMClassifier, np.digitize(y, [-1.0, 1.0])),
}


@pytest.fixture(params=PROBLEMS)
def problem(request):
    return PROBLEMS[request.param]


@pytest.fixture
def fitted(problem):
    estimator, target = problem
    return estimator(**PARAMS).fit(X, target)


def assert_same_model(a, b, data=X):
    names = ["intercept_", "coef_", "factors_", "n_iter_", "loss_curve_", "n_features_in_"]
    for name in names + (["classes_"] if is_classifier(a) else []):
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert_array_equal(a.predict(data), b.predict(data))
    if is_classifier(a):
        assert_array_equal(a.predict_proba(data), b.predict_proba(data))


def test_pickle_round_trip(fitted):
    model = fitted
    assert_same_model(model, pickle.loads(pickle.dumps(model)))


def test_joblib_round_trip(fitted, tmp_path):
    model = fitted
    joblib.dump(model, tmp_path / "model.joblib")
    assert_same_model(model, joblib.load(tmp_path / "model.joblib"))


def test_deepcopy_is_independent(fitted):
    model = fitted
    copied = copy.deepcopy(model)
    assert_same_model(model, copied)
    copied.factors_ *= 0
    copied.coef_ *= 0
    assert np.abs(model.factors_).min() > 0 and np.abs(model.coef_).min() > 0


def test_clone_keeps_parameters_and_drops_the_fit(problem):
    estimator, target = problem
    model = estimator(**PARAMS).fit(X, target)
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    assert not hasattr(cloned, "coef_")
    assert_same_model(model, cloned.fit(X, target))


def test_training_continues_identically_after_unpickling(problem):
    estimator, target = problem
    classes = {"classes": np.unique(target)} if estimator is FMClassifier else {}
    model = estimator(**PARAMS).partial_fit(X, target, **classes)
    restored = pickle.loads(pickle.dumps(model))
    model.partial_fit(X, target)
    restored.partial_fit(X, target)
    assert_same_model(model, restored)


def test_model_pickled_in_one_process_predicts_identically_in_a_fresh_one(fitted, tmp_path):
    Xs = sp.random(50, 6, density=0.4, random_state=0, format="csr")
    model = fitted
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    sp.save_npz(tmp_path / "Xs.npz", Xs)
    # Classifiers save their probabilities, which predict is read from.
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np, scipy.sparse as sp
        model = pickle.load(open({str(tmp_path / "model.pkl")!r}, "rb"))
        predict = getattr(model, "predict_proba", model.predict)
        np.save({str(tmp_path / "dense.npy")!r}, predict(np.load({str(tmp_path / "X.npy")!r})))
        np.save({str(tmp_path / "sparse.npy")!r}, predict(sp.load_npz({str(tmp_path / "Xs.npz")!r})))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    result = run_python("-c", script)
    assert result.stdout.strip() == "[]", "predict in a fresh process imported TensorFlow"
    predict = getattr(model, "predict_proba", model.predict)
    assert_array_equal(np.load(tmp_path / "dense.npy"), predict(X))
    assert_array_equal(np.load(tmp_path / "sparse.npy"), predict(Xs))


# The safe format: sklearn_fm.load and the estimators' save.


def rewrite(source, target, **members):
    """Copy the zip archive ``source`` to ``target`` with some members replaced
    (bytes) or removed (None); CRCs are computed anew, as a forger would."""
    with zipfile.ZipFile(source) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    contents.update(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in contents.items():
            if data is not None:
                archive.writestr(name, data)
    return target


def npy(array):
    """``array`` as the bytes of an .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def metadata_of(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json"))


def assert_forged_metadata_refused(path, key, values, match):
    """Each of ``values`` forged into the metadata's ``key`` of the model file
    ``path`` makes load raise a ValueError matching ``match``."""
    for forged in values:
        metadata = metadata_of(path)
        metadata[key] = forged
        forged_file = rewrite(
            path, path.with_name("forged.fm"), **{"metadata.json": json.dumps(metadata)}
        )
        with pytest.raises(ValueError, match=match):
            sklearn_fm.load(forged_file)


def assert_same_fit(a, b, data=X):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    assert_same_model(a, b, data)
    names = ["best_loss_", "validation_scores_", "best_validation_score_", "feature_names_in_"]
    names += ["batch_size_", "early_stopping_", "penalty_scales_", "_y_train_mean", "_y_train_std"]
    names += ["n_samples_seen_", "_schedule_epochs", "_y_seen"]
    for name in names:
        assert hasattr(a, name) == hasattr(b, name)
        if hasattr(a, name):
            assert_array_equal(getattr(a, name), getattr(b, name))
    if is_classifier(a):
        assert a.classes_.dtype == b.classes_.dtype
        assert type(a.predict(data[:1])[0]) is type(b.predict(data[:1])[0])


def test_save_and_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    assert_same_fit(fitted, sklearn_fm.load(tmp_path / "model.fm"))
    assert_same_fit(fitted, sklearn_fm.load(str(tmp_path / "model.fm")))
    buffer = io.BytesIO()
    fitted.save(buffer)
    buffer.seek(0)
    assert_same_fit(fitted, sklearn_fm.load(buffer))
    # Its content, as a database or an object store returns it.
    content = buffer.getvalue()
    for given in (content, bytearray(content), memoryview(content)):
        assert_same_fit(fitted, sklearn_fm.load(given))


LABELS = {
    "ints": np.digitize(y, [-1.0, 1.0]),
    "object strings": np.where(y > 0, "up", "down").astype(object),
    "numpy strings": np.where(y > 0, "up", "down"),
    "bools": y > 0,
    "floats": np.digitize(y, [0.0]).astype(float),
}


@pytest.mark.parametrize("labels", LABELS)
def test_save_keeps_label_types_feature_names_class_weights_and_early_stopping(labels, tmp_path):
    target = LABELS[labels]
    classes = np.unique(target)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    model = FMClassifier(
        **PARAMS, early_stopping=True, class_weight={classes[0]: 2.0, classes[1]: 0.5}
    ).fit(frame, target)
    model.save(tmp_path / "model.fm")
    loaded = sklearn_fm.load(tmp_path / "model.fm")
    assert_same_fit(model, loaded, frame)
    assert loaded.class_weight == model.class_weight


def test_training_continues_identically_after_loading(problem, tmp_path):
    estimator, target = problem
    classes = {"classes": np.unique(target)} if estimator is FMClassifier else {}
    # Later calls weigh their samples relative to the first call's weights,
    # whose mean the file keeps.
    weights = np.random.RandomState(0).uniform(1.0, 9.0, size=X.shape[0])
    model = estimator(**PARAMS, solver="adam")
    model.partial_fit(X, target, sample_weight=weights, **classes)
    model.save(tmp_path / "model.fm")
    loaded = sklearn_fm.load(tmp_path / "model.fm")
    model.partial_fit(X, target)
    loaded.partial_fit(X, target)
    assert_same_model(model, loaded)


def test_files_keep_the_step_sizes_auto_chose_and_older_files_read_the_parameters(tmp_path):
    model = FMRegressor(**PARAMS).fit(X * 100, y)  # rows of squared norm above 8
    assert model.learning_rate_init_ < 0.015 and model.init_std_ < 0.1
    model.save(tmp_path / "model.fm")
    loaded = sklearn_fm.load(tmp_path / "model.fm")
    assert (loaded.learning_rate_init_, loaded.init_std_) == (
        model.learning_rate_init_, model.init_std_
    )
    # Format version 8 had no 'auto' for them: training used the numbers.
    metadata = metadata_of(tmp_path / "model.fm")
    del metadata["learning_rate_init_"], metadata["init_std_"]
    metadata["format_version"] = 8
    metadata["params"].update(learning_rate_init=0.02, init_std=0.3)
    rewrite(tmp_path / "model.fm", tmp_path / "old.fm", **{"metadata.json": json.dumps(metadata)})
    old = sklearn_fm.load(tmp_path / "old.fm")
    assert (old.learning_rate_init_, old.init_std_) == (0.02, 0.3)
    for key in ("learning_rate_init_", "init_std_"):
        forged = (0.0, -1.0, float("inf"), "0.1", None, True)
        assert_forged_metadata_refused(tmp_path / "model.fm", key, forged, match=key)


def test_a_model_whose_training_diverged_at_once_round_trips(tmp_path):
    model = FMRegressor(**PARAMS, learning_rate_init=0.015, init_std=0.1)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 1"):
        model.fit(X * 1e12, y)
    assert model.best_loss_ == np.inf and model._optimizer_state is None
    model.save(tmp_path / "model.fm")
    assert_same_fit(model, sklearn_fm.load(tmp_path / "model.fm"))


def test_loading_executes_no_code_from_the_file(fitted, tmp_path):
    # An object array is stored by pickle, and unpickling this one would
    # create a file. The format reads arrays without pickle, so it cannot.
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    fitted.save(tmp_path / "model.fm")
    evil = io.BytesIO()
    np.save(evil, np.array([Payload()], dtype=object), allow_pickle=True)
    rewrite(tmp_path / "model.fm", tmp_path / "evil.fm", **{"coef_.npy": evil.getvalue()})
    with pytest.raises(ValueError, match="could not be read as an sklearn_fm model file.*allow_pickle=False"):
        sklearn_fm.load(tmp_path / "evil.fm")
    assert not marker.exists()


def test_loading_in_a_fresh_process_imports_neither_tensorflow_nor_pickle_data(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import sklearn_fm
        model = sklearn_fm.load({str(tmp_path / "model.fm")!r})
        np.save({str(tmp_path / "out.npy")!r}, model.predict(np.load({str(tmp_path / "X.npy")!r})))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    result = run_python("-c", script)
    assert result.stdout.strip() == "[]"
    assert_array_equal(np.load(tmp_path / "out.npy", allow_pickle=True), fitted.predict(X))


def test_a_file_from_a_newer_format_version_is_refused(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    metadata.update(format_version=FORMAT_VERSION + 1, sklearn_fm_version="9.0")
    rewrite(tmp_path / "model.fm", tmp_path / "new.fm", **{"metadata.json": json.dumps(metadata)})
    message = (
        rf"'.*new.fm' was written by sklearn_fm 9.0 in format version {FORMAT_VERSION + 1}, but "
        rf"this sklearn_fm \({sklearn_fm.__version__}\) reads format versions up to "
        rf"{FORMAT_VERSION}. Upgrade sklearn_fm"
    )
    with pytest.raises(ValueError, match=message):
        sklearn_fm.load(tmp_path / "new.fm")


DATA = Path(__file__).parent / "data"


def test_files_of_format_version_1_still_load_and_continue_training():
    # Written by sklearn_fm 0.1.0, whose regressor trained on y as given, on
    # the first 4 columns of X: a partial_fit regressor and a fitted binary
    # classifier, with the predictions 0.1.0 made for the first 3 rows.
    regressor = sklearn_fm.load(DATA / "regressor-format-1.fm")
    classifier = sklearn_fm.load(DATA / "classifier-format-1.fm")
    # Models of before format 5 read category columns as numbers.
    assert regressor.categorical_features is None and classifier.is_categorical_ is None
    rows = X[:3, :4]
    assert_allclose(
        regressor.predict(rows), [0.02012691380756371, -0.23075338686863314, -0.2090100778985993],
        rtol=1e-12,
    )
    assert_allclose(
        classifier.predict_proba(rows)[:, 0], [0.4563817676643328, 0.5124410669155598, 0.5135279984400649],
        rtol=1e-12,
    )
    assert regressor.batch_size_ == regressor.batch_size == 256
    assert classifier.early_stopping_ is classifier.early_stopping is False
    # 0.1.0 did not scale the penalties.
    assert regressor.penalty_scales_ == [1.0] * regressor.n_iter_
    assert classifier.penalty_scales_ == [1.0] * classifier.n_iter_
    # partial_fit continues in the units the model trained in (y as given).
    assert (regressor._y_train_mean, regressor._y_train_std) == (0.0, 1.0)
    regressor.partial_fit(X[:, :4], y)
    assert regressor.n_iter_ == 2 and len(regressor.penalty_scales_) == 2
    assert np.isfinite(regressor.predict(rows)).all()


def test_files_that_are_no_model_are_refused(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    files = {
        "empty": b"",
        "random bytes": np.random.RandomState(0).bytes(1000),
        "a pickle": pickle.dumps(fitted),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    files["no metadata"] = rewrite(tmp_path / "model.fm", tmp_path / "no metadata", **{"metadata.json": None})
    files["no factors"] = rewrite(tmp_path / "model.fm", tmp_path / "no factors", **{"factors_.npy": None})
    for name in files:
        with pytest.raises(ValueError, match="could not be read as an sklearn_fm model file"):
            sklearn_fm.load(tmp_path / name)
    other = rewrite(tmp_path / "model.fm", tmp_path / "other.zip", **{"metadata.json": b'{"format": "other"}'})
    with pytest.raises(ValueError, match="is a zip archive, but not an sklearn_fm model file"):
        sklearn_fm.load(other)
    with pytest.raises(FileNotFoundError):
        sklearn_fm.load(tmp_path / "missing.fm")
    with pytest.raises(ValueError, match="The bytes given could not be read as an sklearn_fm model"):
        sklearn_fm.load(bytes(tmp_path / "model.fm"))  # a path given as bytes is content


def test_forged_files_describing_no_valid_model_are_refused(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    bad_param = dict(metadata, params=dict(metadata["params"], n_factors=-1))
    more_features = dict(metadata, n_features_in_=metadata["n_features_in_"] + 1)
    forgeries = {
        "a shorter factors_": {"factors_.npy": npy(fitted.factors_[:-1])},
        "batch_size_=0": {"metadata.json": json.dumps(dict(metadata, batch_size_=0))},
        "a string early_stopping_": {"metadata.json": json.dumps(dict(metadata, early_stopping_="no"))},
        "an invalid parameter": {"metadata.json": json.dumps(bad_param)},
        "another feature count": {"metadata.json": json.dumps(more_features)},
        "NaN coefficients": {"coef_.npy": npy(fitted.coef_ * np.nan)},
        "a penalty factor above 1": {"penalty_scales_.npy": npy(np.full(fitted.n_iter_, 2.0))},
        "n_samples_seen_=0": {"metadata.json": json.dumps(dict(metadata, n_samples_seen_=0))},
        "a schedule past n_iter_": {
            "metadata.json": json.dumps(dict(metadata, schedule_epochs=repr(fitted.n_iter_ + 1.0)))
        },
        "a NaN schedule": {"metadata.json": json.dumps(dict(metadata, schedule_epochs="nan"))},
    }
    if "y_train_std" in metadata:
        forgeries["a zero y_train_std"] = {"metadata.json": json.dumps(dict(metadata, y_train_std=0.0))}
        seen = metadata["y_seen"]
        for forged_name, forged in [
            ("a negative count", [-1.0, *seen[1:]]),
            ("a NaN mean", [seen[0], float("nan"), *seen[2:]]),
            ("three numbers", seen[:3]),
            ("a mean beyond its scale", [*seen[:2], 1.5, *seen[3:]]),
            ("strings", [str(value) for value in seen]),
        ]:
            forgeries[f"y_seen with {forged_name}"] = {
                "metadata.json": json.dumps(dict(metadata, y_seen=forged))
            }
        del metadata["y_train_mean"]
        forgeries["no y_train_mean"] = {"metadata.json": json.dumps(metadata)}
    for name, members in forgeries.items():
        rewrite(tmp_path / "model.fm", tmp_path / "forged.fm", **members)
        with pytest.raises(ValueError, match="could not be read as an sklearn_fm model file"):
            sklearn_fm.load(tmp_path / "forged.fm")


def test_truncated_files_are_refused(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    content = (tmp_path / "model.fm").read_bytes()
    for size in np.linspace(0, len(content) - 1, 40).astype(int):
        (tmp_path / "cut.fm").write_bytes(content[:size])
        with pytest.raises(ValueError, match="corrupted or truncated"):
            sklearn_fm.load(tmp_path / "cut.fm")


def test_no_corrupted_byte_loads_another_model(tmp_path):
    # Every byte of a small model file, flipped in turn: loading raises a
    # ValueError, or the model loads unchanged (measured: 472 of 3,033 bytes,
    # zip header fields such as timestamps that no reader uses). The CRC-32
    # of every member catches changes to the contents.
    model = FMClassifier(n_factors=2, max_iter=2, tol=None, random_state=0)
    model.fit(X[:40], np.digitize(y[:40], [-1.0, 1.0]))
    model.save(tmp_path / "model.fm")
    content = bytearray((tmp_path / "model.fm").read_bytes())
    refused = 0
    for position in range(len(content)):
        content[position] ^= 0xFF
        (tmp_path / "flipped.fm").write_bytes(content)
        content[position] ^= 0xFF
        try:
            loaded = sklearn_fm.load(tmp_path / "flipped.fm")
        except ValueError:
            refused += 1
        else:
            assert_same_fit(model, loaded)
    assert refused > 0.8 * len(content)


@pytest.mark.parametrize(
    "estimator, changed, message",
    [
        (FMRegressor, {"n_factors": 5}, "n_factors=5 differs from the 3 factors"),
        (FMClassifier, {"solver": "sgd"}, "optimizer state of solver=adam, but solver is now sgd"),
        (FMRegressor, {"alpha_linear": -1.0}, "'alpha_linear' parameter"),
        (sklearn_fm.FFMRegressor, {"fields": [0, 0, 1, 1, 2, 2]}, "other fields than those"),
        (sklearn_fm.FFMRegressor, {"fields": [0, 1]}, "the field of each of the 6 features"),
    ],
)
def test_parameters_changed_after_fit_are_refused_at_save(estimator, changed, message, tmp_path):
    # The file holds the parameters, which load checks against the model:
    # a file written with others would not load.
    target = y > 0 if issubclass(estimator, FMClassifier) else y
    model = estimator(**PARAMS).fit(X, target).set_params(**changed)
    with pytest.raises(ValueError, match=message):
        model.save(tmp_path / "model.fm")
    assert not list(tmp_path.iterdir())


def test_categories_of_mixed_types_round_trip(tmp_path):
    frame = pd.DataFrame(
        {"c": pd.Categorical([1, "b", 2, "a"] * 5), "x": np.linspace(0, 1, 20)}
    )
    model = FMRegressor(**PARAMS).fit(frame, np.arange(20.0))
    model.save(tmp_path / "model.fm")
    loaded = sklearn_fm.load(tmp_path / "model.fm")
    kinds = [(type(c), c) for c in model.categories_[0]]
    assert {kind for kind, _ in kinds} == {int, str}
    assert [(type(c), c) for c in loaded.categories_[0]] == kinds
    assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_a_save_into_a_missing_directory_names_the_path_asked_for(fitted, tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))) as raised:
        fitted.save(missing / "model.fm")
    assert ".tmp" not in str(raised.value)


def test_a_save_under_a_file_names_that_file_rather_than_a_hidden_one(fitted, tmp_path):
    # Removing the temporary file that was never made raised its own error,
    # which hid the real one and named a hidden path the user never gave.
    afile = tmp_path / "afile"
    afile.write_bytes(b"")
    with pytest.raises(NotADirectoryError) as raised:
        fitted.save(afile / "model.fm")
    assert raised.value.filename == str(afile)


def test_a_save_refused_by_the_system_names_the_path_asked_for(fitted, tmp_path, monkeypatch):
    # As open(path, "wb") would (a read-only directory, for a user other than root).
    def refused(name, *args):
        raise PermissionError(errno.EACCES, "Permission denied", name)

    monkeypatch.setattr(_model_file.os, "open", refused)
    with pytest.raises(PermissionError) as raised:
        fitted.save(tmp_path / "model.fm")
    assert raised.value.filename == str(tmp_path / "model.fm")
    assert list(tmp_path.iterdir()) == []


def test_a_name_too_long_names_the_path_asked_for(fitted, tmp_path):
    # The temporary file's name is cut short, so it is the rename that fails.
    path = tmp_path / ("m" * 300)
    with pytest.raises(OSError) as raised:
        fitted.save(path)
    assert raised.value.errno == errno.ENAMETOOLONG
    assert raised.value.filename == os.path.realpath(path)
    assert raised.value.filename2 is None
    assert list(tmp_path.iterdir()) == []


def test_what_the_format_cannot_store_is_refused_at_save(tmp_path):
    model = FMRegressor(max_iter=2, tol=None, random_state=np.random.RandomState(0)).fit(X, y)
    with pytest.raises(ValueError, match="random_state is a RandomState instance"):
        model.save(tmp_path / "model.fm")
    with pytest.raises(NotFittedError):
        FMRegressor().save(tmp_path / "model.fm")


def with_penalty_as_trained(model, n_rows):
    """``model``, loaded from a file of the versions whose every sample
    penalised the linear weights of its features by ``alpha_linear`` on top
    of ``alpha_uniform``, set to train on ``n_rows`` dense rows (every row
    uses every feature) with the same linear penalty, as ``alpha_linear``
    now states it."""
    return model.set_params(alpha_linear=model.alpha_linear * n_rows + model.alpha_uniform)


def test_files_of_format_version_2_continue_training_as_they_would_have():
    # Written by the trainer of format version 2, which kept its own slots in
    # one table: an Adam regressor after two partial_fit calls and an Adagrad
    # 3-class classifier after one; the predictions of one more partial_fit
    # there. Keras' optimizers continue from the converted state.
    X300, y300 = make_interaction_data(n_samples=300)
    regressor = sklearn_fm.load(DATA / "regressor-format-2.fm")
    classifier = sklearn_fm.load(DATA / "classifier-format-2.fm")
    for model in (regressor, classifier):
        with_penalty_as_trained(model, n_rows=300)
    regressor.partial_fit(X300, y300)
    assert classifier.coef_.shape == (3, 6)  # class first since format version 4
    classifier.partial_fit(X300, np.digitize(y300, [-1.0, 1.0]))
    assert_allclose(
        regressor.predict(X300[:3]), [0.3914869922436956, 0.2065034448895117, 0.10824756708538016],
        rtol=1e-5,
    )
    expected = [
        [0.40307355450481064, 0.37919579628992633, 0.21773064920526308],
        [0.30404152342639634, 0.3478642066942868, 0.3480942698793168],
        [0.3627078014217937, 0.34801283349673384, 0.28927936508147234],
    ]
    assert_allclose(classifier.predict_proba(X300[:3]), expected, rtol=1e-5)


def test_multiclass_files_of_format_version_3_load_class_first_and_continue_training():
    # Written by format version 3, which held coef_ as (n_features,
    # n_classes): a 3-class Adam classifier after one partial_fit call, with
    # its predictions then and after one more call there.
    X300, y300 = make_interaction_data(n_samples=300)
    classifier = sklearn_fm.load(DATA / "classifier-format-3.fm")
    assert classifier.coef_.shape == (3, 6) and classifier.factors_.shape == (3, 6, 3)
    before = [
        [0.35251356754886676, 0.3634455225457503, 0.284040909905383],
        [0.2195654387900443, 0.3887476743002379, 0.3916868869097178],
        [0.28296401682600963, 0.36152713673250086, 0.35550884644148956],
    ]
    assert_allclose(classifier.predict_proba(X300[:3]), before, rtol=1e-12)
    with_penalty_as_trained(classifier, n_rows=300)
    classifier.partial_fit(X300, np.digitize(y300, [-1.0, 1.0]))
    after = [
        [0.5140343247806702, 0.30548049375766345, 0.18048518146166626],
        [0.17902639089076275, 0.34697831484372027, 0.47399529426551695],
        [0.27403142142440123, 0.3542584008343832, 0.3717101777412155],
    ]
    assert_allclose(classifier.predict_proba(X300[:3]), after, rtol=1e-5)


@pytest.mark.parametrize("solver", ["ftrl", {"class_name": "SGD", "config": {"momentum": 0.9}}])
def test_partial_fit_after_load_continues_exactly_with_any_keras_optimizer(solver, tmp_path):
    model = FMRegressor(**PARAMS, solver=solver).partial_fit(X, y)
    model.save(tmp_path / "model.fm")
    loaded = sklearn_fm.load(tmp_path / "model.fm")
    assert loaded.get_params()["solver"] == solver
    assert_array_equal(loaded.partial_fit(X, y).predict(X), model.partial_fit(X, y).predict(X))


def test_forged_files_that_describe_another_model_are_refused(fitted, tmp_path):
    fitted.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    arrays = metadata["arrays"]
    complex_factors = fitted.factors_.astype(np.complex128)
    with_extra = dict(metadata, arrays=dict(arrays, extra_={"dtype": "<f8", "shape": [2]}))
    forgeries = {
        "complex factors_": {
            "factors_.npy": npy(complex_factors),
            "metadata.json": json.dumps(
                dict(metadata, arrays=dict(arrays, factors_=dict(arrays["factors_"], dtype="<c16")))
            ),
        },
        "no parameters": {"metadata.json": json.dumps(dict(metadata, params={}))},
        "an n_factors other than the factors'": {
            "metadata.json": json.dumps(dict(metadata, params=dict(metadata["params"], n_factors=7)))
        },
        "an unknown parameter": {
            "metadata.json": json.dumps(dict(metadata, params=dict(metadata["params"], alpha=1.0)))
        },
        "an array the format does not have": {
            "metadata.json": json.dumps(with_extra), "extra_.npy": npy(np.zeros(2))
        },
        "a member the metadata does not declare": {"notes.txt": b"hello"},
        "an optimizer state of another solver": {
            "metadata.json": json.dumps(
                dict(
                    metadata,
                    optimizer_state=dict(
                        metadata["optimizer_state"], solver={"class_name": "SGD", "config": {}}
                    ),
                )
            )
        },
    }
    if "classes_" in metadata:
        classes = metadata["classes_"]
        values = classes["values"]
        for name, forged in {
            "one class": values[:1],
            "duplicated classes": [values[0], *values[:-1]],
            "unsorted classes": values[::-1],
        }.items():
            forgeries[name] = {
                "metadata.json": json.dumps(dict(metadata, classes_=dict(classes, values=forged)))
            }
    for name, members in forgeries.items():
        rewrite(tmp_path / "model.fm", tmp_path / "forged.fm", **members)
        with pytest.raises(ValueError, match="could not be read as an sklearn_fm model file"):
            sklearn_fm.load(tmp_path / "forged.fm")


def zip_with_bombs(path, contents, bombs):
    """A zip archive of ``contents`` and, for each name in ``bombs``, a
    member of a float64 .npy of ``n_values`` zeros compressed by
    ``compression``: about 1 kB per 64 MiB with bzip2, 1 MiB with deflate."""
    zeros = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
        for name, (n_values, compression) in bombs.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "<f8", "fortran_order": False, "shape": (n_values,)}
            )
            with archive.open(info, "w", force_zip64=True) as member:
                member.write(header.getvalue())
                for _ in range(8 * n_values // len(zeros)):
                    member.write(zeros)
    return path


def test_decompression_bombs_are_refused_before_they_are_inflated(tmp_path):
    # Each file is under 64 kB and would inflate to 16 MiB or more.
    model = FMRegressor(**PARAMS).fit(X, y)
    model.save(tmp_path / "model.fm")
    with zipfile.ZipFile(tmp_path / "model.fm") as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(contents.pop("metadata.json"))
    arrays, n_big = metadata["arrays"], 2**23
    big_model = dict(
        metadata,
        n_features_in_=n_big,
        arrays=dict(
            arrays,
            coef_={"dtype": "<f8", "shape": [n_big]},
            factors_={"dtype": "<f8", "shape": [n_big, 3]},
        ),
    )
    cases = {
        "a declared array the format does not have": (
            dict(metadata, arrays=dict(arrays, bomb_={"dtype": "<f8", "shape": [n_big]})),
            {"bomb_.npy": (n_big, zipfile.ZIP_BZIP2)},
        ),
        "an undeclared member": (metadata, {"bomb_.npy": (n_big, zipfile.ZIP_BZIP2)}),
        "a consistent model compressed with bzip2": (
            big_model,
            {"coef_.npy": (n_big, zipfile.ZIP_BZIP2), "factors_.npy": (3 * n_big, zipfile.ZIP_BZIP2)},
        ),
        "a member larger than its declared shape": (
            metadata, {"coef_.npy": (n_big // 4, zipfile.ZIP_DEFLATED)}
        ),
    }
    for case, (forged, bombs) in cases.items():
        members = {
            "metadata.json": json.dumps(forged),
            **{name: data for name, data in contents.items() if name not in bombs},
        }
        path = zip_with_bombs(tmp_path / "bomb.fm", members, bombs)
        assert path.stat().st_size < 64 * 2**10, case
        with pytest.raises(ValueError, match="could not be read as an sklearn_fm model file"):
            sklearn_fm.load(path)


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    # As when the disk fills up or the process is killed half-way: the
    # archive fails after writing its first members.
    path = tmp_path / "model.fm"
    old = FMRegressor(**PARAMS).fit(X, y)
    old.save(path)
    new = FMRegressor(**dict(PARAMS, random_state=1)).fit(X, y)
    fdopen = os.fdopen

    class FillingDisk:
        """The file save writes to, on a disk that is full after 1,000 bytes."""

        def __init__(self, file):
            self.file, self.written = file, 0

        def write(self, data):
            self.written += memoryview(data).nbytes
            if self.written > 1000:
                raise OSError(28, "No space left on device")
            return self.file.write(data)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            return self.file.__exit__(*exc_info)

    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: FillingDisk(fdopen(*args, **kwargs)))
    with pytest.raises(OSError, match="No space left"):
        new.save(path)
    monkeypatch.undo()
    assert_same_fit(sklearn_fm.load(path), old)
    assert [p.name for p in tmp_path.iterdir()] == ["model.fm"]  # no temporary file left
    new.save(path)
    assert_same_fit(sklearn_fm.load(path), new)


@pytest.mark.parametrize("step", ["open", "replace"])
def test_an_interrupt_just_after_a_step_of_save_leaves_one_whole_file(tmp_path, monkeypatch, step):
    # A KeyboardInterrupt lands just after os.open or os.replace returns: the
    # first left the temporary file behind, the second became a
    # FileNotFoundError for the temporary file, already renamed.
    path = tmp_path / "model.fm"
    old = FMRegressor(**PARAMS).fit(X, y)
    old.save(path)
    new = FMRegressor(**dict(PARAMS, random_state=1)).fit(X, y)
    real, opened = getattr(os, step), []

    def interrupted(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, step, interrupted)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.undo()
    if step == "open":
        os.close(opened[0])
    assert_same_fit(sklearn_fm.load(path), new if step == "replace" else old)
    assert [p.name for p in tmp_path.iterdir()] == ["model.fm"]  # no temporary file left


def test_a_save_whose_flush_to_disk_fails_raises_and_leaves_the_previous_file(
    tmp_path, monkeypatch
):
    # The file is flushed while it is written; a write error the disk
    # reports to that flush may not be reported again to the last fsync.
    path = tmp_path / "model.fm"
    old = FMRegressor(**PARAMS).fit(X, y)
    old.save(path)
    failed = threading.Event()

    def failing_sync(descriptor):
        failed.set()
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing_sync, raising=False)
    monkeypatch.setattr(os, "fsync", failing_sync)
    new = FMRegressor(**dict(PARAMS, random_state=1)).fit(X, y)
    with pytest.raises(OSError, match="Input/output error"):
        new.save(path)
    assert failed.is_set()
    monkeypatch.undo()
    assert_same_fit(sklearn_fm.load(path), old)
    assert [p.name for p in tmp_path.iterdir()] == ["model.fm"]


def test_the_flush_behind_a_write_raises_its_error_on_exit(tmp_path, monkeypatch):
    calls = []

    def failing_sync(descriptor):
        calls.append(descriptor)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing_sync, raising=False)
    monkeypatch.setattr(os, "fsync", failing_sync)
    with open(tmp_path / "file", "wb") as file:
        with pytest.raises(OSError, match="Input/output error"):
            with _model_file._FlushingBehind(file.fileno(), interval=0.001):
                # Until the thread has flushed once; a thread that never
                # does fails the test (no OSError) instead of hanging it.
                deadline = time.monotonic() + 60
                while not calls and time.monotonic() < deadline:
                    file.write(b"x")
                    file.flush()
        assert calls == [file.fileno()]  # once: a failed flush stops the thread


def test_arrays_are_stored_uncompressed_and_deflated_files_still_load(fitted, tmp_path):
    # Deflating random floats, which it barely shrinks, made saving a wide
    # model 30 times slower than joblib. Files saved deflated still load.
    fitted.save(tmp_path / "model.fm")
    with zipfile.ZipFile(tmp_path / "model.fm") as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
        stored = {i.filename for i in archive.infolist() if i.compress_type == zipfile.ZIP_STORED}
    assert stored == {name for name in contents if name.endswith(".npy")}
    with zipfile.ZipFile(tmp_path / "deflated.fm", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    assert_same_fit(fitted, sklearn_fm.load(tmp_path / "deflated.fm"))


def test_an_array_member_with_bytes_after_its_array_is_refused(fitted, tmp_path):
    # Loading reads each member to its end, so its CRC-32 is always checked.
    fitted.save(tmp_path / "model.fm")
    rewrite(
        tmp_path / "model.fm", tmp_path / "longer.fm", **{"coef_.npy": npy(fitted.coef_) + bytes(8)}
    )
    with pytest.raises(ValueError, match="coef_.npy holds more than its array"):
        sklearn_fm.load(tmp_path / "longer.fm")


def test_writing_behind_keeps_the_order_of_writes_and_seeks_and_reports_errors(tmp_path):
    # zipfile writes through it, seeking back to complete each member's header.
    arrays = {f"a{i}.bin": np.arange(i * 1000, dtype=np.int64) for i in range(1, 5)}
    with open(tmp_path / "archive.zip", "wb") as file:
        with _model_file._WritingBehind(file) as writing:
            with zipfile.ZipFile(writing, "w") as archive:
                for name, array in arrays.items():
                    with archive.open(name, "w") as member:
                        for chunk in np.array_split(array, 3):
                            member.write(chunk.tobytes())
    with zipfile.ZipFile(tmp_path / "archive.zip") as archive:
        assert archive.testzip() is None
        for name, array in arrays.items():
            assert_array_equal(np.frombuffer(archive.read(name), np.int64), array)

    class FailingFile(io.BytesIO):
        def write(self, data):
            if self.tell() > 0:
                raise OSError(28, "No space left on device")
            return super().write(data)

    failing = FailingFile()
    with pytest.raises(OSError, match="No space left"):
        with _model_file._WritingBehind(failing) as writing:
            writing.write(b"first")
            writing.write(b"second")
            writing.flush()  # waits for both writes, and raises the second's error
    assert failing.getvalue() == b"first"


def test_forged_counts_widths_and_metadata_are_refused_before_they_are_allocated(tmp_path):
    # Each forged number made load allocate in proportion to it (10**9 array
    # names, a list of n_iter_ penalty factors, labels 10**8 characters wide,
    # metadata inflating 1,000 times) before any check refused it.
    model = FMClassifier(**PARAMS).fit(X, y > 0)
    model.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    state = metadata["optimizer_state"]
    forgeries = {
        "optimizer arrays": dict(metadata, optimizer_state=dict(state, n_arrays=10**7)),
        "label width": dict(metadata, classes_=dict(metadata["classes_"], dtype="<U10000000")),
        "an inflating metadata": dict(metadata, padding=" " * 2**26),
    }
    for name, forged in forgeries.items():
        path = tmp_path / "forged.fm"
        with zipfile.ZipFile(tmp_path / "model.fm") as source, zipfile.ZipFile(
            path, "w", zipfile.ZIP_DEFLATED
        ) as target:
            for member in source.namelist():
                data = json.dumps(forged) if member == "metadata.json" else source.read(member)
                target.writestr(member, data)
        assert path.stat().st_size < 2**20, name

        def refused():
            with pytest.raises(ValueError, match="could not be read as an sklearn_fm model"):
                sklearn_fm.load(path)

        assert with_peak_memory(refused)[1] < 2**25, name
    # Format version 1 made its penalty factors n_iter_ long first.
    old = json.loads(zipfile.ZipFile(DATA / "regressor-format-1.fm").read("metadata.json"))
    rewrite(
        DATA / "regressor-format-1.fm",
        tmp_path / "forged.fm",
        **{"metadata.json": json.dumps(dict(old, n_iter_=10**7))},
    )
    assert with_peak_memory(refused)[1] < 2**25


def test_labels_are_refused_unless_their_dtype_holds_them_exactly(tmp_path):
    model = FMClassifier(**PARAMS).fit(X, np.where(y > 0, "up", "down"))
    model.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    for dtype, values in [
        ("<U1", ["down", "up"]),  # was loaded cut to 'd' and 'u'
        ("<i8", [0.25, 1.75]),  # was loaded as 0 and 1
        ("<i8", [False, True]),
        ("|O", [["down"], "up"]),
        ("|O", [None, "up"]),
    ]:
        forged = dict(metadata, classes_={"dtype": dtype, "values": values})
        rewrite(tmp_path / "model.fm", tmp_path / "forged.fm", **{"metadata.json": json.dumps(forged)})
        with pytest.raises(ValueError, match="could not be read as an sklearn_fm model"):
            sklearn_fm.load(tmp_path / "forged.fm")


def test_a_regressor_file_with_classes_is_refused(tmp_path):
    # It loaded as a regressor of three outputs that fit can never give.
    model = FMClassifier(**PARAMS).fit(X, np.digitize(y, [-1.0, 1.0]))
    model.save(tmp_path / "model.fm")
    metadata = metadata_of(tmp_path / "model.fm")
    params = {k: v for k, v in metadata["params"].items() if k != "class_weight"}
    forged = dict(
        metadata, estimator="FMRegressor", params=params, y_train_mean=0.0, y_train_std=1.0
    )
    rewrite(tmp_path / "model.fm", tmp_path / "forged.fm", **{"metadata.json": json.dumps(forged)})
    with pytest.raises(ValueError, match="an FMRegressor with classes_"):
        sklearn_fm.load(tmp_path / "forged.fm")


def test_a_solver_config_of_numpy_scalars_saves_and_loads(tmp_path):
    # The fitted model pickled, but save raised "float32 is not JSON serializable".
    solver = {"class_name": "Adam", "config": {"beta_1": np.float32(0.8), "epsilon": np.float64(1e-6)}}
    model = FMRegressor(**PARAMS, solver=solver).fit(X, y)
    model.save(tmp_path / "model.fm")
    loaded = sklearn_fm.load(tmp_path / "model.fm")
    assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.solver == {"class_name": "Adam", "config": {"beta_1": 0.800000011920929, "epsilon": 1e-6}}


def test_load_reads_pipes_and_refuses_text_handles_and_devices(fitted, tmp_path):
    content = io.BytesIO()
    fitted.save(content)
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_end, content.getvalue()), os.close(write_end)))
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:  # cannot seek: was refused as corrupted
        assert_same_fit(sklearn_fm.load(pipe), fitted)
    writer.join()
    (tmp_path / "model.fm").write_bytes(content.getvalue())
    with open(tmp_path / "model.fm") as text, pytest.raises(TypeError, match="mode 'rb'"):
        sklearn_fm.load(text)
    with pytest.raises(TypeError, match="got int"):
        sklearn_fm.load(3)
    if os.path.exists("/dev/zero"):  # was read without end
        with pytest.raises(ValueError, match="is not a file or a pipe"):
            sklearn_fm.load("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_save_writes_into_a_pipe_rather_than_replacing_it(fitted, tmp_path):
    # It renamed a file over the pipe: the reader waited forever, and a save
    # to /dev/null would have replaced the device by a file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    fitted.save(fifo)
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert_same_fit(sklearn_fm.load(received[0]), fitted)


def test_save_to_a_file_name_of_250_bytes(fitted, tmp_path):
    # Its temporary file's name, 22 bytes longer, was too long to create.
    path = tmp_path / ("m" * 247 + ".fm")
    fitted.save(path)
    assert_same_fit(sklearn_fm.load(path), fitted)
    assert os.listdir(tmp_path) == [path.name]


def test_a_save_over_longer_content_of_a_file_object_loads(tmp_path):
    # A reused buffer or a file opened 'r+b' kept the end of its earlier,
    # longer content, and a zip archive is read from its end: load refused
    # the file save had just written.
    big = FMRegressor(n_factors=16, max_iter=2, tol=None, random_state=0).fit(X, y)
    small = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0).fit(X[:, :3], y)
    buffer = io.BytesIO()
    big.save(buffer)
    buffer.seek(0)
    small.save(buffer)
    assert_same_fit(sklearn_fm.load(buffer.getvalue()), small, X[:, :3])
    big.save(tmp_path / "model.fm")
    with open(tmp_path / "model.fm", "r+b") as file:
        small.save(file)
    assert_same_fit(sklearn_fm.load(tmp_path / "model.fm"), small, X[:, :3])


def test_save_to_what_is_no_binary_file_raises_a_type_error(fitted, tmp_path):
    # A bytearray raised AttributeError, a text handle a TypeError of write.
    with open(tmp_path / "model.fm", "w") as text, pytest.raises(TypeError, match="mode 'wb'"):
        fitted.save(text)
    with pytest.raises(TypeError, match="got bytearray"):
        fitted.save(bytearray())


def test_a_file_object_open_the_other_way_raises_a_type_error(fitted, tmp_path):
    # Saving to a file open for reading raised io.UnsupportedOperation, and
    # loading from one open for writing called the model file corrupted.
    fitted.save(tmp_path / "model.fm")
    with open(tmp_path / "model.fm", "rb") as file, pytest.raises(TypeError, match="mode 'wb'"):
        fitted.save(file)
    with open(tmp_path / "other.fm", "wb") as file, pytest.raises(TypeError, match="mode 'rb'"):
        sklearn_fm.load(file)
