"""Training keeps training the models recorded in ``tests/data/reference-models.npz``
(see ``tests/reference_models.py``), to float32 round-off, for every solver."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from .reference_models import ATTRIBUTES, PATH, train


@pytest.fixture(scope="module")
def trained():
    return train()


def test_every_recorded_model_is_still_trained(trained):
    with np.load(PATH) as reference:
        recorded = set(reference.files) - {"commit"}
    assert set(trained) == recorded


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_training_reproduces_the_recorded_models(trained, attribute):
    with np.load(PATH) as reference:
        for key in sorted(k for k in trained if k.endswith(f"/{attribute}")):
            expected = reference[key]
            # Training runs in float32: allow its round-off, relative to the
            # size of the array's entries.
            scale = max(1.0, float(np.abs(expected).max()))
            assert_allclose(trained[key], expected, rtol=1e-5, atol=1e-5 * scale, err_msg=key)
