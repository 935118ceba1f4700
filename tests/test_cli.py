"""The command line: ``python -m sklearn_fm demo`` and the ``sklearn-fm`` script."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import run_python


def test_demo_tunes_and_compares_fms_with_linear_models():
    result = run_python("-m", "sklearn_fm", "demo", timeout=300)
    out = result.stdout
    for stage in range(1, 8):
        assert f"[{stage}/7]" in out
    assert re.search(r"Best: alpha_factors=\S+, n_factors=\d+ \(CV RMSE \d\.\d+\)", out)
    assert re.search(r"Best: alpha_factors=\S+, n_factors=\d+ \(CV log-loss \d\.\d+\)", out)
    score = r"\s+(\d+\.\d+) ± \d+\.\d+"
    rows = re.findall(rf"^  (\S+(?: \(tuned\))?){score}(?:{score})?\s+\d+\.\d+$", out, re.M)
    scores = {name: [float(v) for v in values if v] for name, *values in rows}
    assert set(scores) == {
        "FMRegressor (tuned)", "Ridge", "LinearRegression", "FMClassifier (tuned)", "LogisticRegression"
    }
    assert scores["FMRegressor (tuned)"][0] < 0.5 * scores["Ridge"][0]
    (fm_auc, fm_log_loss), (lr_auc, lr_log_loss) = scores["FMClassifier (tuned)"], scores["LogisticRegression"]
    assert fm_auc > lr_auc + 0.1 and fm_log_loss < lr_log_loss


def test_console_script_is_installed_and_lists_the_demo():
    script = shutil.which("sklearn-fm", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the package is not installed (run from a source tree)")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "demo" in result.stdout


def test_version_and_the_demo_s_help_say_what_they_are():
    from sklearn_fm import __version__

    version = run_python("-m", "sklearn_fm", "--version")
    assert version.stdout.strip() == f"sklearn-fm {__version__}"
    demo_help = run_python("-m", "sklearn_fm", "demo", "--help")
    assert "Tune FMRegressor on generated ratings" in demo_help.stdout


def test_unknown_command_exits_with_usage():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_fm", "nonsense"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
