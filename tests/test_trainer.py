"""The estimators' trainer: Keras optimizers on the layer's variables, the
pool of built models, row-sparse steps and the state hand-over."""

import gc
import io
import textwrap
import threading
import warnings

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import sklearn_fm
from sklearn_fm import FMClassifier, FMRegressor, _trainer
from sklearn_fm._data import training_matrix
from sklearn_fm._random import shuffle_rows
from sklearn_fm._solvers import SOLVER_NAMES, SolverSpec
from sklearn_fm._trainer import DeviceRows, Trainer, _batch_contents, _epoch_batches

from .conftest import make_interaction_data, run_python

WRAPPERS = {"LossScaleOptimizer", "MultiOptimizer", "Optimizer", "OptimizerMap"}


def test_every_keras_optimizer_is_a_solver():
    optimizers = {
        name for name in dir(keras.optimizers)
        if isinstance(getattr(keras.optimizers, name), type)
        and issubclass(getattr(keras.optimizers, name), keras.optimizers.Optimizer)
    }
    assert {name.lower() for name in optimizers - WRAPPERS} == set(SOLVER_NAMES)


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_every_solver_trains_the_layer_and_continues_after_save_and_load(solver):
    X, y = make_interaction_data(n_samples=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = FMRegressor(n_factors=3, solver=solver, max_iter=10, random_state=0).fit(X, y)
    assert np.isfinite(model.loss_curve_).all()
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model._optimizer_state.solver == SolverSpec.of(solver)
    file = io.BytesIO()
    model.save(file)
    file.seek(0)
    loaded = sklearn_fm.load(file)
    assert_array_equal(loaded.partial_fit(X, y).predict(X), model.partial_fit(X, y).predict(X))


def test_epoch_batches_hold_the_ordered_rows_padded():
    rng = np.random.RandomState(0)
    lengths = rng.poisson(3, size=45)
    lengths[[3, 17]] = [0, 40]  # an empty row and a long one
    X = training_matrix(
        sp.csr_matrix(
            (rng.uniform(0.5, 1.5, lengths.sum()), rng.randint(30, size=lengths.sum()),
             np.concatenate([[0], np.cumsum(lengths)])),
            shape=(45, 30),
        )
    )
    y, weights = rng.normal(size=45).astype(np.float32), rng.uniform(size=45).astype(np.float32)
    order = rng.permutation(45)
    matrix = DeviceRows.upload(X, y, weights, weights.mean())
    batches = _epoch_batches(matrix, order, 16, 16)
    assert_array_equal(batches.n_rows, [16, 16, 13])
    largest = max(X[order[i : i + 16]].nnz for i in (0, 16, 32))
    capacities = np.asarray(batches.capacity)
    assert largest <= capacities.max() <= largest * 9 / 8
    for batch, start in enumerate((0, 16, 32)):
        cols, values, rows, nnz, batch_y, batch_weights, n_rows = (
            np.asarray(a) for a in _batch_contents(matrix, *batches.batch(batch))
        )
        assert cols.shape == values.shape == rows.shape == (capacities[batch],)
        assert nnz <= capacities[batch] <= 2 * nnz
        expected = X[order[start : start + 16]].tocoo()
        assert nnz == expected.nnz
        assert_array_equal(rows[:nnz], expected.row)
        assert_array_equal(cols[:nnz], expected.col)
        assert_array_equal(values[:nnz], expected.data)
        real = len(order[start : start + 16])
        assert n_rows == real
        assert batch_y.shape == batch_weights.shape == (16,)
        assert_array_equal(batch_y[:real], y[order[start : start + 16]])
        normalised = weights / weights.mean()  # as upload normalises them, to mean 1
        assert_allclose(batch_weights[:real], normalised[order[start : start + 16]], rtol=1e-6)
        assert not batch_weights[real:].any()  # padding rows weigh nothing


def test_uploaded_rows_outlive_the_arrays_they_came_from():
    # On the CPU the device's tensors share NumPy buffers of the trainer's
    # own: neither dropping the caller's arrays nor changing them may reach
    # what the steps read.
    rng = np.random.RandomState(3)
    X = training_matrix(sp.random(300, 40, density=0.1, random_state=rng, format="csr"))
    y = rng.normal(size=300)
    expected = X.toarray(), y.astype(np.float32).copy()
    matrix = DeviceRows.upload(X, y, np.ones(300), 1.0)
    X.data[:] = 0.0
    y[:] = 0.0
    del X, y
    gc.collect()
    garbage = [np.full(10_000, 7.0) for _ in range(100)]  # reuse freed memory
    order = np.arange(300)
    batches = _epoch_batches(matrix, order, 300, 512)
    cols, values, rows, nnz, batch_y, *_ = (
        np.asarray(a) for a in _batch_contents(matrix, *batches.batch(0))
    )
    rebuilt = np.zeros((512, 40))
    np.add.at(rebuilt, (rows[:nnz], cols[:nnz]), values[:nnz])
    assert_array_equal(rebuilt[:300], expected[0].astype(np.float32))
    assert_array_equal(batch_y[:300], expected[1])
    assert len(garbage) == 100


@pytest.mark.parametrize("budget", [1, 3, 7, 1000])
def test_chunk_bounds_cut_rows_into_chunks_within_the_budget(budget):
    rng = np.random.RandomState(budget)
    for lengths in ([5], [0, 0], rng.randint(0, 6, size=50), rng.randint(0, 3, size=200)):
        lengths = np.asarray(lengths)
        rows, nnz = _trainer._chunk_bounds(lengths, budget)
        assert rows[0] == 0 and rows[-1] == len(lengths) and np.all(np.diff(rows) > 0)
        assert_array_equal(nnz, np.concatenate([[0], np.cumsum(lengths)])[rows])
        chunks = np.diff(nnz)
        for size, n_rows in zip(chunks, np.diff(rows)):
            assert size <= budget or n_rows == 1
        # Each chunk is as large as the budget allows: with the next row, it would exceed it.
        for stop, size in zip(rows[1:-1], chunks):
            assert size + lengths[stop] > budget


@pytest.mark.parametrize("budget", [1, 5, 1000])
def test_validation_rows_locate_the_non_zeros_of_their_rows_chunk_by_chunk(budget, monkeypatch):
    rng = np.random.RandomState(budget)
    X = training_matrix(sp.random(80, 30, density=0.1, random_state=rng, format="csr"))
    rows = rng.permutation(80)[:25]
    chunk_bounds = _trainer._chunk_bounds
    monkeypatch.setattr(_trainer, "_chunk_bounds", lambda lengths: chunk_bounds(lengths, budget))
    validation = _trainer.ValidationRows.upload(X, rows)
    row_bounds, nnz_bounds = np.asarray(validation.chunks)
    positions, chunk_rows = np.asarray(validation.positions), np.asarray(validation.rows)
    # Back to the rows' matrix: each non-zero's row is its chunk's first plus its own.
    first_rows = np.repeat(row_bounds[:-1], np.diff(nnz_bounds))
    rebuilt = sp.csr_matrix(
        (X.data[positions], (first_rows + chunk_rows, X.indices[positions])), shape=(25, 30)
    )
    assert_array_equal(rebuilt.toarray(), X[rows].toarray())
    assert np.all(chunk_rows < np.repeat(np.diff(row_bounds), np.diff(nnz_bounds)))


def test_early_stopping_scores_the_same_whatever_its_chunks(monkeypatch):
    # The validation outputs are computed a chunk of rows at a time.
    X, y = make_interaction_data(n_samples=600)
    settings = dict(early_stopping=True, max_iter=3, tol=None, random_state=0)
    whole = FMRegressor(**settings).fit(X, y)
    chunk_bounds = _trainer._chunk_bounds
    monkeypatch.setattr(_trainer, "_chunk_bounds", lambda lengths: chunk_bounds(lengths, 7))
    chunked = FMRegressor(**settings).fit(X, y)
    assert_allclose(chunked.validation_scores_, whole.validation_scores_, rtol=1e-6)
    assert_allclose(chunked.factors_, whole.factors_, rtol=1e-5, atol=1e-7)


def test_a_canonical_float32_csr_is_trained_on_as_it_is_and_others_are_made_canonical():
    # Not copying a canonical matrix saves a fit the size of X.
    X = sp.random(60, 8, density=0.4, format="csr", dtype=np.float32, random_state=0)
    assert training_matrix(X) is X
    row = np.flatnonzero(np.diff(X.indptr) >= 2)[0]
    unsorted = X.copy()
    assert unsorted.has_canonical_format  # scipy's flag, cached now
    first = X.indptr[row]
    unsorted.indices[[first, first + 1]] = unsorted.indices[[first + 1, first]]
    with_zero, float64 = X.copy(), X.astype(np.float64)
    with_zero.data[0] = 0.0
    for matrix in (unsorted, with_zero, float64):
        before = matrix.indices.copy(), matrix.data.copy()
        canonical = training_matrix(matrix)
        assert canonical is not matrix and canonical.dtype == np.float32
        assert_array_equal(canonical.toarray(), matrix.toarray().astype(np.float32))
        assert np.all(canonical.data != 0)
        for r in range(canonical.shape[0]):
            assert np.all(np.diff(canonical.indices[canonical.indptr[r] : canonical.indptr[r + 1]]) > 0)
        assert_array_equal(matrix.indices, before[0])  # the caller's matrix is left as it was
        assert_array_equal(matrix.data, before[1])


def test_matrices_of_similar_sizes_upload_to_one_shape_padded_by_at_most_an_eighth():
    # The compiled step takes the matrix whole and compiles for its shape:
    # folds and chunks of similar sizes must share one.
    rng = np.random.RandomState(0)
    columns = np.stack([rng.choice(30, 5, replace=False) for _ in range(5000)])
    X = training_matrix(  # five non-zeros a row: 20,000 to 20,450 for these rows
        sp.csr_matrix((np.ones(25_000), columns.ravel(), np.arange(0, 25_001, 5)), (5000, 30))
    )
    ones = np.ones(5000, np.float32)
    shapes = set()
    for n_rows in (4000, 4030, 4090):
        matrix = DeviceRows.upload(X[:n_rows], ones[:n_rows], ones[:n_rows], 1.0)
        shapes.add(tuple(tuple(part.shape) for part in matrix))
        assert n_rows < matrix.y.shape[0] <= n_rows * 9 / 8
        assert X[:n_rows].nnz <= matrix.indices.shape[0] <= X[:n_rows].nnz * 9 / 8
        # The padding rows are empty and the real ones read as uploaded.
        assert_array_equal(matrix.lengths[:n_rows], np.diff(X[:n_rows].indptr))
        assert not np.asarray(matrix.lengths[n_rows:]).any()
    assert len(shapes) == 1


def test_a_matrix_without_non_zeros_trains_its_intercept():
    # Steps read the slots beyond a batch's non-zeros from the matrix's first.
    X, y = sp.csr_matrix((50, 4)), np.arange(50.0)
    model = FMRegressor(max_iter=5, random_state=0).fit(X, y)
    assert np.isfinite(model.loss_curve_).all()
    assert not model.coef_.any()
    assert_allclose(model.predict(X), model.intercept_)


def test_the_steps_of_an_epoch_read_in_proportion_to_its_non_zeros():
    # Heavy users' rows, long documents: one batch of 3,000 non-zeros among
    # batches of 16 to 160 must not make every step read 3,000.
    rng = np.random.RandomState(0)
    lengths = rng.zipf(1.8, size=4000).clip(1, 3000)
    lengths[7] = 3000
    nnz = lengths.sum()
    X = training_matrix(
        sp.csr_matrix(
            (np.ones(nnz), rng.randint(10_000, size=nnz), np.concatenate([[0], np.cumsum(lengths)])),
            shape=(4000, 10_000),
        )
    )
    ones = np.ones(4000, np.float32)
    order = rng.permutation(4000)
    batches = _epoch_batches(DeviceRows.upload(X, ones, ones, 1.0), order, 16, 16)
    capacities = np.asarray(batches.capacity)
    batch_nnz = np.add.reduceat(np.diff(X.indptr)[order], np.arange(0, 4000, 16))
    assert np.all(batch_nnz <= capacities) and np.all(capacities <= 2 * batch_nnz + 1)
    assert capacities.sum() <= 2 * X.nnz + len(capacities)
    # The epoch's batches hold their rows, not their non-zeros: the steps
    # gather those, one batch at a time.
    assert sum(np.size(part) for part in batches) <= 4 * (4000 + 16)


def make_trainer(start, X, y, **settings):
    settings = dict(dict(loss="squared_error", alpha_linear=0.0, alpha_factors=0.1), **settings)
    training = (X, y, np.ones(X.shape[0], np.float32))
    return Trainer(*start, rows=training, batch_size=32, **settings)


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_the_rows_that_round_the_layer_width_up_stay_zero_under_every_optimizer(solver):
    # 10 features train in a layer of 64 rows (one built step serves widths
    # up to 64); the 54 extra rows and their slots must stay exactly zero, and
    # optimizers whose steps depend on the variable's size get no extra rows.
    rng = np.random.RandomState(0)
    X = training_matrix(sp.random(120, 10, density=0.5, random_state=rng, format="csr"))
    y = rng.normal(size=120).astype(np.float32)
    start = (0.5, rng.normal(size=10), rng.normal(scale=0.1, size=(10, 3)))
    trainer = make_trainer(start, X, y, solver=solver, alpha_linear=0.01, alpha_uniform=0.01)
    for _ in range(3):
        assert trainer.run_epoch(rng, 0.01).finite
    model = trainer._model
    width = 64 if SolverSpec.of(solver).accepts_padding else 10
    for table in model.variables[1:]:
        assert table.shape[0] == width and not np.asarray(table)[10:].any()
    # Their slots keep a zero model's initial values (Adagrad's 0.1, ...).
    for slot, initial in zip(model.optimizer.variables, model.initial_state):
        if len(slot.shape) >= 2:
            assert slot.shape[0] == width
            assert_array_equal(np.asarray(slot)[10:], initial[10:], err_msg=slot.name)
    coef, factors_ = trainer.weights()[1:]
    assert coef.shape == (10,) and factors_.shape == (10, 3) and np.abs(factors_).min() > 0
    assert all(np.shape(slot)[:1] == (10,) for slot in trainer.optimizer_state() if np.ndim(slot) >= 2)


@pytest.mark.parametrize("solver", ["sgd", "adagrad", "ftrl"])
@pytest.mark.parametrize("alpha_linear", [0.0, 0.5])
def test_row_sparse_steps_leave_the_factors_of_absent_features_untouched(solver, alpha_linear):
    # Columns 7 to 9 hold no non-zero: their factors and the factors' slots
    # keep their values exactly through an epoch, and without alpha_linear
    # so do their weights and slots. alpha_linear reaches every linear
    # weight, one number per feature, and the kernel steps densely; the
    # factors keep the row-sparse steps that make these solvers cheap on
    # wide data (where alpha_linear made both tables step densely, 49 ms a
    # step instead of 1.3 on 800,000 columns).
    rng = np.random.RandomState(0)
    X = sp.hstack([sp.random(120, 7, density=0.3, random_state=rng), sp.csr_matrix((120, 3))])
    X, y = training_matrix(X.tocsr()), rng.normal(size=120).astype(np.float32)
    start = (0.5, rng.normal(size=10), rng.normal(scale=0.1, size=(10, 3)))
    trainer = make_trainer(start, X, y, solver=solver, alpha_linear=alpha_linear)
    assert isinstance(trainer._model.optimizer, tuple(_trainer._ROW_SPARSE_FORMS.values()))
    # The first epoch anchors FTRL's slots at the initial weights.
    trainer.run_epoch(rng, 0.05)
    before, state_before = trainer.weights(), trainer.optimizer_state()
    trainer.run_epoch(rng, 0.05)
    after, state_after = trainer.weights(), trainer.optimizer_state()
    assert_array_equal(after[2][7:], before[2][7:])
    assert not np.allclose(after[2][:7], before[2][:7])
    if alpha_linear:  # shrunk towards zero
        assert (np.abs(after[1][7:]) < np.abs(before[1][7:])).all()
    else:
        assert_array_equal(after[1][7:], before[1][7:])
    # The slots of the kernel (n_features, 1) and of the factors (n_features, 1, k).
    slots = [(b, a) for b, a in zip(state_before, state_after) if np.ndim(b) and len(b) == 10]
    assert len(slots) == {"sgd": 0, "adagrad": 2, "ftrl": 4}[solver]
    for slot_before, slot_after in slots:
        if np.ndim(slot_before) == 3 or not alpha_linear:
            assert_array_equal(slot_after[7:], slot_before[7:])
        assert not np.array_equal(slot_after[:7], slot_before[:7])


def test_ftrl_with_l1_gives_exact_zeros_on_a_planted_sparse_problem():
    # 40 features, 4 of which matter: FTRL-Proximal's L1 sets most of the
    # others' weights to exactly zero, never the informative ones, and keeps
    # the interaction.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 40))
    y = 2 * X[:, 0] - X[:, 1] + 1.5 * X[:, 2] * X[:, 3]
    settings = dict(
        n_factors=2, learning_rate="constant", learning_rate_init=0.1, alpha_linear=0.01,
        alpha_factors=0.03, alpha_uniform=0.0, early_stopping=False, max_iter=20, tol=None,
        random_state=0,
    )
    ftrl = {"class_name": "Ftrl", "config": {"l1_regularization_strength": 1.0}}
    model = FMRegressor(solver=ftrl, **settings).fit(X, y)
    assert (model.coef_[4:] == 0).mean() > 0.75
    assert (model.factors_[4:] == 0).mean() > 0.75
    assert (model.coef_[:2] != 0).all() and (model.factors_[2:4] != 0).all()
    assert model.score(X, y) > 0.99
    # Without L1 no weight is exactly zero: the zeros are FTRL's, not the data's.
    dense = FMRegressor(solver="ftrl", **settings).fit(X, y)
    assert (dense.coef_ != 0).all()


@pytest.mark.parametrize("early_stopping", [False, True])
def test_ftrl_l1_reaches_the_linear_weights_training_starts_from(early_stopping):
    # FTRL's slots were anchored as if FTRL had trained the starting weights,
    # L1 included, so it never acted on them: without early stopping the
    # regressor starts at Ridge's weights, and l1=1e6 left all of them
    # nonzero (the noise columns' too), where early stopping, which starts
    # at zero, zeroed them all.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    y = 3 * X[:, 0] + 0.5 * rng.normal(size=300)

    def coef(l1):
        solver = {"class_name": "Ftrl", "config": {"l1_regularization_strength": l1}}
        return FMRegressor(
            solver=solver, max_iter=20, tol=None, learning_rate_init=0.5,
            early_stopping=early_stopping, random_state=0,
        ).fit(X, y).coef_

    assert (coef(1e6) == 0).all()
    moderate = coef(10.0)
    assert moderate[0] > 2.5 and (moderate[1:] == 0).all()


def test_ftrl_l1_reaches_the_weights_of_a_warm_start():
    # A warm-started fit restarts the optimizer: the weights of the fit
    # before, anchored as FTRL's own, kept their values under l1=1e6 (and
    # one grew, 3.98 to 4.44).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    y = X[:, 0] + 0.5 * rng.normal(size=300) > 0
    model = FMClassifier(
        solver="ftrl", max_iter=5, tol=None, learning_rate_init=0.5, early_stopping=False,
        warm_start=True, random_state=0,
    ).fit(X, y)
    assert (model.coef_ != 0).all()
    model.set_params(solver={"class_name": "Ftrl", "config": {"l1_regularization_strength": 1e6}})
    assert (model.fit(X, y).coef_ == 0).all()


@pytest.mark.parametrize("continued_by", ["partial_fit", "warm-started fit"])
def test_ftrl_l1_does_not_shrink_again_what_the_same_solver_trained(continued_by):
    # A partial_fit that sets new units, and a warm-started fit, start a new
    # optimizer state, which shrank the weights the same FTRL had trained by
    # L1 once more: the weight of a feature absent from later calls fell to
    # 0 within two changes of scale, or a little at every warm fit.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = X @ [3.0, -2.0, 1.0, 0.0] + 0.1 * rng.normal(size=200)
    later = X[100:].copy()
    later[:, 0] = 0.0  # feature 0 is absent from the later calls
    ftrl = {"class_name": "Ftrl", "config": {"l1_regularization_strength": 0.05}}
    model = FMRegressor(
        solver=ftrl, alpha_linear=0, alpha_uniform=0, max_iter=1, tol=None,
        early_stopping=False, warm_start=True, random_state=0,
    )
    train = getattr(model, "partial_fit" if continued_by == "partial_fit" else "fit")
    train(X[:100], 0.01 * y[:100])
    learned = model.coef_[0]
    assert learned != 0
    for scale in (1.0, 100.0, 1.0, 100.0):  # each call sets new units
        train(later, scale * y[100:])
        assert model.coef_[0] == pytest.approx(learned, rel=1e-5)


def test_ftrl_l1_does_not_move_a_streams_weights_after_a_call_that_diverged():
    # A diverged call leaves the model but no optimizer state, and the next
    # call took the stream's own weights for another solver's: L1 moved
    # the weight of a feature absent from it to 0.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = X @ [3.0, -2.0, 1.0, 0.0] + 0.1 * rng.normal(size=200)
    later = X[100:].copy()
    later[:, 0] = 0.0
    ftrl = {"class_name": "Ftrl", "config": {"l1_regularization_strength": 0.05}}
    model = FMRegressor(solver=ftrl, alpha_linear=0, alpha_uniform=0, random_state=0)
    model.partial_fit(X[:100], 0.01 * y[:100])
    learned, rate = model.coef_[0], model.learning_rate_init_
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.set_params(learning_rate_init=1e35).partial_fit(later, 100 * y[100:])
    assert model.coef_[0] == learned
    model.set_params(learning_rate_init=rate).partial_fit(later, 100 * y[100:])
    assert model.coef_[0] == pytest.approx(learned, rel=1e-5)


def test_ftrl_keeps_and_trains_the_initial_factors():
    # FTRL computes weights from its accumulators, which start at zero: left
    # alone, it would reset the factors to 0, a saddle point of the FM.
    X, y = make_interaction_data(n_samples=600)
    model = FMRegressor(
        n_factors=4, solver="ftrl", learning_rate="constant", learning_rate_init=0.2,
        max_iter=40, tol=None, random_state=0,
    ).fit(X, y)
    assert np.abs(model.factors_).max() > 0.5
    assert model.score(X, y) > 0.95


CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


@pytest.fixture
def pool(monkeypatch):
    """A pool of its own for the test, which other tests' fits leave alone."""
    pool = _trainer._Pool()
    monkeypatch.setattr(_trainer, "_POOL", pool)
    return pool


def test_fits_of_one_shape_reuse_one_built_model_without_retracing(pool):
    X, y = make_interaction_data(n_samples=300)
    # The second fit, with another number of batches of another size, makes
    # the epoch's graph shape-general.
    for n_samples in (100, 300):
        FMRegressor(n_factors=3, max_iter=2, random_state=0).fit(X[:n_samples], y[:n_samples])
    # The layer of 6 features has 64 rows (the smallest width it is rounded
    # to); so few non-zeros train without XLA.
    key = (64, 1, 3, None, SolverSpec.of("adam"), "squared_error", True, True, False)
    (model,) = pool._idle[key, CPU]
    traces = model.epoch.experimental_get_tracing_count()
    steps = model._step.experimental_get_tracing_count()
    for n_samples in (120, 170, 300, 300):
        FMRegressor(n_factors=3, max_iter=2, random_state=1).fit(X[:n_samples], y[:n_samples])
    assert pool._idle[key, CPU] == [model]
    assert model.epoch.experimental_get_tracing_count() == traces
    assert model._step.experimental_get_tracing_count() <= steps + 1  # batch sizes 16 and 32
    # Re-initialised by assignment, the reused model trains as a new one would.
    first = FMRegressor(n_factors=3, max_iter=2, random_state=0).fit(X, y)
    again = FMRegressor(n_factors=3, max_iter=2, random_state=0).fit(X, y)
    assert_array_equal(first.coef_, again.coef_)


@pytest.mark.parametrize("solver", ["adam", "adagrad", "lamb"])
def test_a_model_of_other_columns_trained_before_in_the_same_layer_changes_nothing(solver):
    # 50 and 60 columns share one layer of 64 rows: after the 60-column fit,
    # rows 50 to 59 hold its parameters and slots, which the 50-column fit
    # must not see (the uniform penalty and Lamb's norms read every row).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 60))
    y = X[:, 0] * X[:, 1] + rng.normal(scale=0.1, size=200)
    params = dict(solver=solver, n_factors=3, max_iter=3, tol=None, random_state=0)

    def fit_50_columns_twice():
        model = FMRegressor(**params).partial_fit(X[:, :50], y)
        return model.partial_fit(X[:, :50], y)  # continues a state of 50 rows

    first = fit_50_columns_twice()
    FMRegressor(**params).partial_fit(X, y).partial_fit(X, y)
    again = fit_50_columns_twice()
    for name in ("coef_", "factors_", "loss_curve_"):
        assert_array_equal(getattr(again, name), getattr(first, name))


def test_fits_of_many_non_zeros_compile_their_step_with_xla_and_small_ones_do_not(pool):
    # XLA's compilation (per shape) costs more than it saves on a small fit.
    rng = np.random.RandomState(0)
    adam = SolverSpec.of("adam")
    for n_samples, compiled in ((100, False), (20_000, True)):  # 1,000 and 200,000 non-zeros
        X = rng.normal(size=(n_samples, 10))
        FMRegressor(n_factors=7, max_iter=1, early_stopping=False).fit(X, X[:, 0])
        assert ((64, 1, 7, None, adam, "squared_error", True, True, compiled), CPU) in pool._idle


def test_a_fit_trains_on_the_device_of_its_tf_device_scope():
    # Two logical CPUs stand for two devices; the pool keeps a model per
    # device, so a second fit of the same shape elsewhere is not trained on
    # the first one's variables.
    script = textwrap.dedent(
        """
        import numpy as np
        import tensorflow as tf
        from sklearn_fm import FMRegressor, _trainer
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        devices = []
        run_epoch = _trainer.Trainer.run_epoch
        def spy(trainer, *args, **kwargs):
            devices.append(trainer._model.variables[0].value.device[-5:])
            return run_epoch(trainer, *args, **kwargs)
        _trainer.Trainer.run_epoch = spy
        X = np.random.RandomState(0).normal(size=(200, 4))
        models = []
        for device in ("/CPU:0", "/CPU:1", "/CPU:0"):
            with tf.device(device):
                models.append(FMRegressor(max_iter=1, random_state=0).fit(X, X[:, 0]))
        print(*devices)
        np.testing.assert_array_equal(models[0].factors_, models[1].factors_)
        """
    )
    result = run_python("-c", script)
    assert result.stdout.split() == ["CPU:0", "CPU:1", "CPU:0"]


def test_fits_in_threads_at_once_train_models_of_their_own():
    X, y = make_interaction_data(n_samples=300)
    labels = np.digitize(y, [-1.0, 1.0])
    estimators = [FMRegressor(n_factors=3, max_iter=5, tol=None, random_state=seed) for seed in range(3)]
    estimators += [FMClassifier(n_factors=3, max_iter=5, tol=None, random_state=0)]
    serial = [
        clone.fit(X, labels if isinstance(clone, FMClassifier) else y).predict(X)
        for clone in (type(e)(**e.get_params()) for e in estimators)
    ]
    barrier = threading.Barrier(len(estimators))

    def fit(estimator):
        barrier.wait()
        estimator.fit(X, labels if isinstance(estimator, FMClassifier) else y)

    threads = [threading.Thread(target=fit, args=(e,)) for e in estimators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for estimator, expected in zip(estimators, serial):
        assert_array_equal(estimator.predict(X), expected)


def test_continuing_with_another_solver_is_refused():
    X, y = make_interaction_data(n_samples=200)
    model = FMRegressor(n_factors=3, solver="adagrad", random_state=0).partial_fit(X, y)
    with pytest.raises(ValueError, match="optimizer state of solver=adagrad, but solver is now rmsprop"):
        model.set_params(solver="rmsprop").partial_fit(X, y)
    # fit starts over with the new solver.
    assert model.fit(X, y)._optimizer_state.solver == SolverSpec.of("rmsprop")


@pytest.mark.parametrize("solver", ["sgd", "adagrad", "rmsprop", "adam", "ftrl", "lion"])
def test_trainer_state_hand_over_continues_training_exactly(solver):
    rng = np.random.RandomState(0)
    X = training_matrix(sp.random(120, 10, density=0.3, random_state=rng, format="csr"))
    y = rng.normal(size=120).astype(np.float32)
    start = (0.5, np.zeros(10), rng.normal(scale=0.1, size=(10, 3)))

    continuous, orders = make_trainer(start, X, y, solver=solver), np.random.RandomState(1)
    for _ in range(2):
        continuous.run_epoch(orders, 0.05)
    orders = np.random.RandomState(1)
    first = make_trainer(start, X, y, solver=solver)
    first.run_epoch(orders, 0.05)
    second = make_trainer(
        first.weights(), X, y, solver=solver, optimizer_state=first.optimizer_state()
    )
    second.run_epoch(orders, 0.05)

    for a, b in zip(continuous.weights(), second.weights()):
        assert_array_equal(a, b)


@pytest.mark.parametrize("positions", [None, np.arange(100, 40, -1, dtype=np.int32)])
def test_epoch_orders_draw_what_rng_permutation_draws(positions):
    # An epoch's order is shuffled in the buffer the device reads; it must
    # be the order, and leave the random state, of rng.permutation.
    shuffled, permuted = np.random.RandomState(3), np.random.RandomState(3)
    order = shuffle_rows(shuffled, np.empty(60, np.int32), positions)
    permutation = permuted.permutation(60)
    assert_array_equal(order, permutation if positions is None else positions[permutation])
    assert shuffled.randint(2**30) == permuted.randint(2**30)


def test_fits_of_many_shapes_log_no_tensorflow_warning():
    # Each new shape builds a model whose graphs trace once; TensorFlow
    # counted the traces of all models together and logged "triggered
    # tf.function retracing" warnings during a plain loop over n_factors.
    import logging

    import tensorflow as tf

    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        X, y = make_interaction_data(n_samples=120)
        for n_factors in (1, 2, 3, 5, 6, 7, 9, 11):
            FMRegressor(n_factors=n_factors, max_iter=2, tol=None, random_state=0).fit(X, y)
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in records] == []


@pytest.mark.parametrize("where", ["upload", "epoch"])
def test_tensorflow_running_out_of_memory_is_a_memory_error(where, monkeypatch):
    # TensorFlow's ResourceExhaustedError is no MemoryError, so that
    # `except MemoryError` let it through as a TensorFlow stack trace.
    import tensorflow as tf

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(
            None, None, "OOM when allocating tensor with shape[4032,1,4000,8]"
        )

    if where == "upload":
        monkeypatch.setattr(_trainer.DeviceRows, "upload", out_of_memory)
    else:
        monkeypatch.setattr(_trainer, "shuffle_rows", out_of_memory)
    X, y = make_interaction_data(n_samples=100)
    model = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0)
    with pytest.raises(MemoryError, match=r"Training ran out of memory.*shape\[4032,1,4000,8\]"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_a_fit_inside_a_tf_function_is_refused_with_a_clear_error():
    import tensorflow as tf

    X, y = make_interaction_data(n_samples=100)
    model = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0)

    @tf.function(autograph=False)
    def fit_in_graph():
        model.fit(X, y)
        return tf.constant(0)

    with pytest.raises(RuntimeError, match="cannot run inside a tf.function"):
        fit_in_graph()
    assert not hasattr(model, "coef_")
