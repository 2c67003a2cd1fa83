import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def tutorial_file(tmp_path_factory):
    """A small tutorial data set: 150 signal + 150 background events."""
    from tmva_lstm.data import make_tutorial_data

    path = tmp_path_factory.mktemp("data") / "tutorial.root"
    make_tutorial_data(str(path), 150, 150, seed=3)
    return str(path)
