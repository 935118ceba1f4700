"""``import sklearn_fm`` stays cheap: no TensorFlow or Keras until training."""

import subprocess
import sys
import textwrap


def test_import_and_unfitted_use_do_not_import_tensorflow():
    script = textwrap.dedent(
        """
        import sys
        import sklearn_fm
        from sklearn.base import clone
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        model = make_pipeline(StandardScaler(), sklearn_fm.FMRegressor(n_factors=3))
        clone(model).get_params()
        print(sklearn_fm.__version__)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    version, loaded = result.stdout.split("\n")[:2]
    assert version.count(".") == 2
    assert loaded == "[]"
