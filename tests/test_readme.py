"""The README's Python example runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_an_example():
    assert python_blocks()


@pytest.mark.parametrize("code", python_blocks())
def test_readme_example_runs(code, capsys):
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    if "R²" in code:  # the main example: an FM beats Ridge on interactions
        fm, ridge = map(float, re.search(r"R²: FM (\S+), Ridge (\S+)", out).groups())
        assert fm > 0.95 > ridge
    if "ROC AUC" in code:  # the classifier's: it sees who likes which ad
        auc = dict(re.findall(r"ROC AUC (\S+): (\S+)", out))
        assert float(auc["FM"]) > float(auc["LogisticRegression"]) + 0.05
        assert "['click' 'no click']" in out
