"""The code in the user guide and the scaling page runs as written."""

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("page", ["user_guide.rst", "scaling.rst"])
def test_doctests_pass(page):
    result = doctest.testfile(
        str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0
    assert result.failed == 0


def public_api():
    """The dotted names of the public classes, their public methods and the
    public functions of the package, its Keras layers and its datasets."""
    import inspect

    import sklearn_fm
    import sklearn_fm.datasets
    import sklearn_fm.keras

    names = []
    for module in (sklearn_fm, sklearn_fm.datasets, sklearn_fm.keras):
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            names.append(f"{obj.__module__}.{obj.__qualname__}")
            if inspect.isclass(obj) and obj.__module__.startswith("sklearn_fm"):
                names += [
                    f"{obj.__module__}.{obj.__qualname__}.{method}"
                    for method, member in vars(obj).items()
                    if callable(member) and not method.startswith("_")
                    and member.__doc__  # Keras' build, call, get_config: Keras documents them
                ]
    return sorted(set(names))


@pytest.mark.parametrize("name", public_api())
def test_parameters_are_documented_as_in_the_signature(name):
    # The FFM estimators once documented "**kwargs" for the eighteen
    # parameters they share with the FM ones.
    validate = pytest.importorskip("numpydoc.validate").validate
    errors = [
        f"{code}: {message}"
        for code, message in validate(name)["errors"]
        if code in {"PR01", "PR02", "PR03", "PR07", "GL08"}
    ]
    assert not errors
