"""Weights to and from PyTorch: net → torch → net is bit-identical, and torch modules with both
biases give the predictions torch gives, to 1e-12 in double."""

import numpy as np
import pytest

from tmva_lstm import Net
from tmva_lstm.torch_io import from_torch, to_torch

torch = pytest.importorskip("torch")

LAYOUTS = ["LSTM|5|3|4|0|1,RESHAPE|FLAT,DENSE|6|TANH,LINEAR",
           "GRU|5|3|4|0|0|1|BIDIRECTIONAL,DENSE|6|RELU,LINEAR",
           "RNN|5|3|4|0|1|BIDIRECTIONAL,LSTM|4|10|4|0|0,DENSE|2|SIGMOID,LINEAR"]


def random_net(layout, rng):
    net = Net(f"InputLayout=4|3:Layout={layout}:ErrorStrategy=CROSSENTROPY", dtype=np.float64)
    for name, p in net.parameters.items():
        net.set_parameter(name, rng.uniform(-0.7, 0.7, p.shape))
    return net


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_is_bit_identical_and_torch_predicts_as_we_do(layout, rng):
    net = random_net(layout, rng)
    module = to_torch(net)
    back = from_torch(module, 4, dtype=np.float64)
    assert back.layout == net.layout
    for name, w in net.weights.items():
        np.testing.assert_array_equal(back.weights[name], w)
    x = rng.uniform(-2, 2, (11, 4, 3))
    lengths = np.array([4, 0, 1, 3, 2, 4, 4, 1, 0, 2, 3])
    with torch.no_grad():
        for lens in (None, lengths):
            ours = net.predict(x, lengths=lens)
            theirs = module(torch.from_numpy(x), None if lens is None else torch.from_numpy(lens)).numpy()
            np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "RNN"])
def test_torch_modules_with_both_biases(cell, rng):
    torch.manual_seed(0)
    rnn = getattr(torch.nn, cell)(3, 5, batch_first=True, dtype=torch.float64)
    head = torch.nn.Linear(5, 1, dtype=torch.float64)
    if cell == "GRU":  # our GRU has no bias inside r * (h W_hn^T + b_hn)
        with torch.no_grad():
            rnn.bias_hh_l0[10:] = 0
    net = from_torch([rnn, head], 4, error_strategy="SUMOFSQUARES", dtype=np.float64)
    x = rng.uniform(-2, 2, (7, 4, 3))
    with torch.no_grad():
        _, h = rnn(torch.from_numpy(x))
        want = head((h[0] if cell == "LSTM" else h)[0]).numpy()
    np.testing.assert_allclose(net.predict(x), want, rtol=0, atol=1e-12)


def test_unsupported_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="proj_size"):
        from_torch([torch.nn.LSTM(3, 5, proj_size=2), torch.nn.Linear(2, 1)], 4)
    with pytest.raises(ValueError, match="num_layers"):
        from_torch([torch.nn.LSTM(3, 5, num_layers=2), torch.nn.Linear(5, 1)], 4)
    with pytest.raises(ValueError, match="nonlinearity"):
        from_torch([torch.nn.RNN(3, 5, nonlinearity="relu"), torch.nn.Linear(5, 1)], 4)
    with pytest.raises(ValueError, match="b_hn"):
        from_torch([torch.nn.GRU(3, 5), torch.nn.Linear(5, 1)], 4)
    with pytest.raises(ValueError, match="Conv1d is not supported"):
        from_torch([torch.nn.Conv1d(3, 5, 1)], 4)
    with pytest.raises(ValueError, match="reset gate before"):
        to_torch(Net("InputLayout=4|3:Layout=GRU|5|3|4|0|0,LINEAR"))
    with pytest.raises(ValueError, match="remembers its state"):
        to_torch(Net("InputLayout=4|3:Layout=LSTM|5|3|4|1|0,LINEAR"))
