"""The C++ layer against the NumPy oracle: outputs, final state and every gradient."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tmva_lstm import LSTM, oracle
from tmva_lstm.gradcheck import TOLERANCE, compare

sizes = st.integers(min_value=1, max_value=9)


@settings(max_examples=40, deadline=None)
@given(B=sizes, H=sizes, D=sizes, T=st.integers(1, 25), return_sequence=st.booleans(),
       remember_state=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 2**32 - 1))
def test_random_shapes(B, H, D, T, return_sequence, remember_state, dtype, seed):
    errors = compare(B, H, D, T, dtype=dtype, return_sequence=return_sequence,
                     remember_state=remember_state, seed=seed)
    assert max(errors.values()) <= TOLERANCE[dtype], errors


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("return_sequence", [False, True])
@pytest.mark.parametrize("remember_state", [False, True])
@pytest.mark.parametrize("B,H,D,T", [(1, 1, 1, 1), (1, 4, 3, 1), (3, 1, 2, 4), (2, 5, 1, 3), (4, 6, 3, 220)])
def test_edge_and_long_shapes(B, H, D, T, return_sequence, remember_state, dtype):
    errors = compare(B, H, D, T, dtype=dtype, return_sequence=return_sequence, remember_state=remember_state)
    assert max(errors.values()) <= TOLERANCE[dtype], errors


@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("sigmoid", "identity"), ("sigmoid", "relu")])
def test_other_activations(acts):
    errors = compare(3, 4, 5, 6, return_sequence=True, gate_activation=acts[0], activation=acts[1])
    assert max(errors.values()) <= TOLERANCE["float64"], errors


GATES = {"i": 0, "f": 1, "g": 2, "o": 3}


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("return_sequence", [False, True])
def test_each_gate_delta(gate, return_sequence, rng):
    """dz of one gate is exactly what that gate's rows of db, dW and dU are built from, so each
    gate's delta is checked on its own block: a wrong dz_gate fails here, naming the gate."""
    B, H, D, T = 3, 4, 5, 6
    layer = LSTM(B, H, D, T, dtype=np.float64, return_sequence=return_sequence, seed=3)
    layer.b = rng.uniform(-0.5, 0.5, 4 * H)
    x = rng.uniform(-1, 1, (B, T, D))
    dy = rng.uniform(-1, 1, layer.output_shape)
    layer.forward(x)
    layer.backward(dy)
    hs, _, cache = oracle.forward(x, layer.W, layer.U, layer.b, np.zeros((B, H)), np.zeros((B, H)))
    dhs = np.zeros_like(hs)
    dhs[:, -1 if not return_sequence else slice(None)] = dy
    expected = oracle.backward(dhs, cache)
    rows = slice(GATES[gate] * H, (GATES[gate] + 1) * H)
    for name in ("db", "dW", "dU"):
        np.testing.assert_allclose(getattr(layer, name)[rows], expected[name][rows], rtol=1e-10, atol=1e-13,
                                   err_msg=f"{name} rows of gate {gate}")


def test_remember_state_carries_and_backward_uses_it(rng):
    B, H, D, T = 2, 3, 4, 5
    layer = LSTM(B, H, D, T, dtype=np.float64, remember_state=True)
    x1, x2 = rng.uniform(-1, 1, (2, B, T, D))
    layer.forward(x1)
    h_T1, c_T1 = layer.h_T, layer.c_T
    np.testing.assert_array_equal(layer.h0, h_T1)  # the next batch starts from here
    np.testing.assert_array_equal(layer.c0, c_T1)
    layer.forward(x2)
    layer.backward(np.ones((B, H)))
    _, _, cache = oracle.forward(x2, layer.W, layer.U, layer.b, h_T1, c_T1)
    dhs = np.zeros((B, T, H))
    dhs[:, -1] = 1
    expected = oracle.backward(dhs, cache)
    # with zeros as h_0, c_0 (upstream's mistake) dU and dc0-dependent terms would differ
    np.testing.assert_allclose(layer.dU, expected["dU"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(layer.dW, expected["dW"], rtol=1e-10, atol=1e-14)
    _, _, zero_cache = oracle.forward(x2, layer.W, layer.U, layer.b, np.zeros((B, H)), np.zeros((B, H)))
    assert not np.allclose(layer.dU, oracle.backward(dhs, zero_cache)["dU"])
    layer.init_state()
    assert not layer.h0.any() and not layer.c0.any()


def test_without_remember_state_h0_persists(rng):
    B, H, D, T = 2, 3, 4, 5
    layer = LSTM(B, H, D, T, dtype=np.float64)
    h0 = rng.uniform(-1, 1, (B, H))
    layer.h0 = h0
    x = rng.uniform(-1, 1, (B, T, D))
    y1 = layer.forward(x)
    y2 = layer.forward(x)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(layer.h0, h0)


def test_parameters_round_trip_and_gate_views(rng):
    B, H, D, T = 2, 3, 4, 5
    layer = LSTM(B, H, D, T, dtype=np.float32)
    W = rng.standard_normal((4 * H, D)).astype(np.float32)
    layer.W = W
    np.testing.assert_array_equal(layer.W, W)
    # the C++ per-gate accessors see the same rows, gate order i, f, g, o
    from tmva_lstm import _cpp
    view = layer._layer.GetWeightsInput(_cpp.ns.EGate.kForget)
    out = np.empty((H, D), np.float32)
    layer._arch.CopyToHost(out, out.size, view)
    np.testing.assert_array_equal(out, W[H:2 * H])


def test_same_seed_same_weights():
    a, b = LSTM(2, 3, 4, 5, seed=11), LSTM(2, 3, 4, 5, seed=11)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.U, b.U)
    assert not np.array_equal(a.W, LSTM(2, 3, 4, 5, seed=12).W)
