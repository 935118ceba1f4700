"""The command line: ``python -m sklearn_fm demo`` and the ``sklearn-fm`` script."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_demo_tunes_and_compares_fm_with_linear_models():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_fm", "demo"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    out = result.stdout
    for stage in range(1, 5):
        assert f"[{stage}/4]" in out
    assert re.search(r"Best: alpha_factors=\S+, n_factors=\d+ \(CV RMSE \d\.\d+\)", out)
    rmse = {
        name: float(mean)
        for name, mean in re.findall(r"^  (\S+(?: \(tuned\))?)\s+(\d+\.\d+) ± \d+\.\d+\s+\d+\.\d+$", out, re.M)
    }
    assert set(rmse) == {"FMRegressor (tuned)", "Ridge", "LinearRegression"}
    assert rmse["FMRegressor (tuned)"] < 0.5 * rmse["Ridge"]


def test_console_script_is_installed_and_lists_the_demo():
    script = shutil.which("sklearn-fm", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the package is not installed (run from a source tree)")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "demo" in result.stdout


def test_unknown_command_exits_with_usage():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_fm", "nonsense"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
