"""Memory stays bounded by the parameters, never by n_rows x n_features."""

import json
import sys
import textwrap

import pytest

from .conftest import run_python

# Prepended to each measuring script run in a subprocess.
STATUS_MIB = textwrap.dedent(
    """
    def status_mib(field):
        # A memory figure of this process (VmRSS, or its peak VmHWM), in MiB.
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    """
)

SCRIPT = STATUS_MIB + textwrap.dedent(
    """
    import json, sys
    import numpy as np, scipy.sparse as sp
    from sklearn_fm import FMRegressor

    solver, batch_size = sys.argv[1], int(sys.argv[2])
    n_rows, n_features, per_row = 100_000, 1_000_000, 10
    rng = np.random.RandomState(0)
    X = sp.csr_matrix(
        (
            rng.uniform(0.5, 1.5, n_rows * per_row),
            rng.randint(n_features, size=n_rows * per_row),
            np.arange(0, n_rows * per_row + 1, per_row),
        ),
        shape=(n_rows, n_features),
    )
    y = rng.normal(size=n_rows)
    # Without the uniform penalties, which would make sgd update every row.
    params = dict(
        n_factors=8, alpha_linear=0.0, alpha_uniform=0.0, max_iter=2, tol=None, solver=solver,
        batch_size=batch_size, random_state=0,
    )
    FMRegressor(**params).fit(X[:1000], y[:1000])  # TensorFlow and XLA start up
    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")  # resets the peak (VmHWM) to the current resident size
    before = status_mib("VmRSS")
    model = FMRegressor(**params).fit(X, y)
    assert np.isfinite(model.predict(X)).all()
    print(json.dumps({
        "before_mib": before,
        "growth_mib": status_mib("VmHWM") - before,
        "parameters_mib": (model.coef_.nbytes + model.factors_.nbytes) / 2**20,
    }))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/self")
@pytest.mark.parametrize(
    "solver, batch_size",
    [("sgd", 256), ("adam", 4096)],
    ids=["sgd: updates the rows of a batch", "adam: updates every row"],
)
def test_a_million_columns_train_in_memory_bounded_by_the_parameters(solver, batch_size):
    # 100,000 rows x 1,000,000 columns, 10 non-zeros per row. A dense float32
    # copy would take 400 GB, one dense batch of 256 rows 1 GB. Training holds
    # the float64 parameters (69 MiB) a few times over (the float32 table,
    # the optimizer's slots, the epoch's and the best epoch's parameters):
    # measured growth 341 MiB with sgd, 415 MiB with adam. The peak is reset
    # just before the fit, so TensorFlow's start-up does not count.
    result = run_python("-c", SCRIPT, solver, str(batch_size))
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    budget = 8 * measured["parameters_mib"] + 200
    assert measured["growth_mib"] < budget, measured


REFIT_SCRIPT = STATUS_MIB + textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    from sklearn_fm import FMRegressor

    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 5)), rng.normal(size=300)
    fit = lambda seed: FMRegressor(n_factors=8, max_iter=3, tol=None, random_state=seed).fit(X, y)
    for seed in range(20):  # TensorFlow, XLA and the first allocations settle
        fit(seed)
    before = status_mib("VmRSS")
    for seed in range(200):
        fit(seed)
    print(json.dumps({"growth_mib": status_mib("VmRSS") - before}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/self")
def test_many_fits_of_one_shape_do_not_grow_memory():
    # Keras optimizers built for fresh variables retraced and kept about
    # 3.5 MB per fit; the trainer reuses one built model per shape instead.
    result = run_python("-c", REFIT_SCRIPT)
    growth = json.loads(result.stdout.strip().splitlines()[-1])["growth_mib"]
    assert growth < 20, f"resident memory grew {growth:.1f} MiB over 200 fits"


SHAPES_SCRIPT = STATUS_MIB + textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    from sklearn_fm import FMRegressor

    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)

    def fit(n_samples, n_features):
        X = rng.normal(size=(n_samples, n_features))
        FMRegressor(n_factors=4, max_iter=1, tol=None, random_state=0).fit(X, X[:, 0])

    for n_features in range(2, 10):  # TensorFlow and the first allocations settle
        fit(50, n_features)
    start = status_mib("VmRSS")
    # A new width each fit, and a new number of rows below the batch size.
    for i in range(200):
        fit(20 + i % 100, 10 + i)
    first = status_mib("VmRSS")
    for i in range(200):  # 200 other shapes of the same sizes
        fit(20 + (i + 50) % 100, 10 + i)
    print(json.dumps({"first_mib": first - start, "second_mib": status_mib("VmRSS") - first}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/self")
def test_fits_of_ever_new_shapes_keep_memory_bounded():
    # Every new width grew memory by about 8.6 MiB (a compiled step kept for
    # each shape), and every new number of rows below the batch size too.
    result = run_python("-c", SHAPES_SCRIPT)
    growth = json.loads(result.stdout.strip().splitlines()[-1])
    assert growth["first_mib"] < 120 and growth["second_mib"] < 20, growth


SKEWED_SCRIPT = STATUS_MIB + textwrap.dedent(
    """
    import json, sys
    import numpy as np, scipy.sparse as sp
    from sklearn_fm import FMRegressor

    def matrix(long_row):
        # 20,000 rows x 50,000 columns of 4 non-zeros each, the first with
        # long_row non-zeros instead.
        lengths = np.full(20_000, 4)
        lengths[0] = long_row
        rng = np.random.RandomState(0)
        nnz = lengths.sum()
        return sp.csr_matrix(
            (rng.uniform(0.5, 1.5, nnz), rng.randint(50_000, size=nnz),
             np.concatenate([[0], np.cumsum(lengths)])),
            shape=(20_000, 50_000),
        )

    params = dict(
        n_factors=8, batch_size=16, max_iter=1, tol=None, random_state=0,
        early_stopping=sys.argv[2] == "early_stopping",
    )
    y = np.random.RandomState(1).normal(size=20_000)
    growth = {}
    for long_row in (4, int(sys.argv[1])):
        X = matrix(long_row)
        # The first fit builds (and for enough non-zeros, compiles with XLA)
        # the steps of this matrix's batch shapes, which the process keeps.
        FMRegressor(**params).fit(X, y)
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")  # resets the peak (VmHWM) to the current resident size
        before = status_mib("VmRSS")
        FMRegressor(**params).fit(X, y)
        growth[long_row] = status_mib("VmHWM") - before
    print(json.dumps(list(growth.values())))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/self")
@pytest.mark.parametrize("early_stopping", ["early_stopping", "no_early_stopping"])
def test_one_long_row_does_not_grow_the_memory_of_every_batch(early_stopping):
    # Every batch used to be padded to the non-zeros of the widest: one row
    # of 40,000 non-zeros among 20,000 rows of 4 took 1.8 GiB at batch_size
    # 16, against 11 MiB without it. Its own non-zeros take under 1 MiB.
    # What a fit adds once per process, the XLA programs of its batch shapes
    # (about 10 MiB each; the long row makes a few), is left out: each
    # matrix is fitted once before the fit that is measured.
    result = run_python("-c", SKEWED_SCRIPT, "40000", early_stopping)
    uniform, skewed = json.loads(result.stdout.strip().splitlines()[-1])
    assert skewed < uniform + 64, f"peak memory grew {skewed:.0f} MiB, {uniform:.0f} without the long row"


POOL_SCRIPT = textwrap.dedent(
    """
    import gc, json, tracemalloc, warnings
    import numpy as np, scipy.sparse as sp
    from sklearn_fm import FMRegressor

    warnings.simplefilter("ignore")
    X = sp.random(300, 200_000, density=5 / 200_000, format="csr", random_state=0)
    y = np.random.RandomState(0).normal(size=300)
    FMRegressor(max_iter=1, random_state=0).fit(X[:, :1000], y)  # TensorFlow starts
    kept = {}
    for solver in ["adam", "adagrad", "ftrl"]:
        tracemalloc.start()
        held = tracemalloc.get_traced_memory()[0]
        model = FMRegressor(n_factors=8, max_iter=1, solver=solver, random_state=0).fit(X, y)
        parameters = model.factors_.nbytes
        del model
        gc.collect()
        kept[solver] = (tracemalloc.get_traced_memory()[0] - held) / parameters
        tracemalloc.stop()
    print(json.dumps(kept))
    """
)


def test_a_built_model_kept_for_later_fits_holds_no_table_on_the_host():
    # Each built model stays in a pool for later fits of its shape. It kept
    # its optimizer's initial slots as NumPy arrays, all zeros or one value:
    # for Adam 1.2 times the float64 factors, for as long as the process
    # lived. Measured by tracemalloc (NumPy's allocations) after the fit.
    kept = json.loads(run_python("-c", POOL_SCRIPT).stdout.strip().splitlines()[-1])
    assert all(fraction < 0.2 for fraction in kept.values()), kept
