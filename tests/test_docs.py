"""The code in the user guide runs as written."""

import doctest
from pathlib import Path

USER_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user_guide.rst"


def test_user_guide_doctests_pass():
    result = doctest.testfile(
        str(USER_GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0
    assert result.failed == 0
