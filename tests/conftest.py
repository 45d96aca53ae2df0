"""Shared test settings: quiet TensorFlow, seeded runs, a project-local Keras home."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def no_kernels(monkeypatch):
    """Fail the test if a notebook kernel would start: the runner's checks must come first."""
    import papermill

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started before the run was checked")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)
