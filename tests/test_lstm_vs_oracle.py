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
@pytest.mark.parametrize("B,H,D,T", [(1, 1, 1, 1), (1, 4, 3, 1), (3, 1, 2, 4), (2, 5, 1, 3), (4, 6, 3, 220),
                                     (67, 5, 4, 9)])  # B >= 32: the batch runs in slices on 2 threads
def test_edge_and_long_shapes(B, H, D, T, return_sequence, remember_state, dtype):
    errors = compare(B, H, D, T, dtype=dtype, return_sequence=return_sequence, remember_state=remember_state)
    assert max(errors.values()) <= TOLERANCE[dtype], errors


@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("sigmoid", "identity"), ("sigmoid", "relu")])
def test_other_activations(acts):
    errors = compare(3, 4, 5, 6, return_sequence=True, gate_activation=acts[0], activation=acts[1])
    assert max(errors.values()) <= TOLERANCE["float64"], errors


GATES = {"i": 0, "f": 1, "g": 2, "o": 3}


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_each_gate_delta(gate, dtype, rtol, rng):
    """One step (T = 1) from a random h_0, c_0 with gradients through h_T and c_T: the rows of db,
    dW and dU of a gate are built from that gate's delta alone, so a wrong dz_gate fails here
    for that gate only (over several steps it would spread to every gate through dh_next)."""
    B, H, D = 3, 4, 5
    layer = LSTM(B, H, D, 1, dtype=dtype, seed=3)
    u = lambda *shape: rng.uniform(-1, 1, shape).astype(dtype)  # noqa: E731
    layer.b, layer.h0, layer.c0 = u(4 * H), u(B, H), u(B, H)
    x, dy, dc_T = u(B, 1, D), u(B, H), u(B, H)
    layer.forward(x)
    layer.backward(dy, dc_T=dc_T)
    f64 = lambda a: a.astype(np.float64)  # noqa: E731
    _, _, cache = oracle.forward(f64(x), f64(layer.W), f64(layer.U), f64(layer.b), f64(layer.h0), f64(layer.c0))
    expected = oracle.backward(f64(dy)[:, None], cache, dc_T=f64(dc_T))
    rows = slice(GATES[gate] * H, (GATES[gate] + 1) * H)
    for name in ("db", "dW", "dU"):
        actual, want = getattr(layer, name)[rows], expected[name][rows]
        assert np.max(np.abs(actual - want)) <= rtol * np.max(np.abs(want)), f"{name} rows of gate {gate}"


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


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_change_nothing(threads, rng):
    """Batch slices on several threads give the same numbers as one thread, to the last bit."""
    from tmva_lstm import _cpp

    arch = _cpp.architecture("cpu", "float64")
    x, dy = rng.uniform(-1, 1, (96, 7, 5)), rng.uniform(-1, 1, (96, 7, 6))
    results = []
    for n in (1, threads):
        arch.SetNumThreads(n)
        layer = LSTM(96, 6, 5, 7, dtype=np.float64, return_sequence=True, seed=4)
        results.append((layer.forward(x), layer.backward(dy), layer.dU, layer.dh0))
    arch.SetNumThreads(0)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_weights():
    a, b = LSTM(2, 3, 4, 5, seed=11), LSTM(2, 3, 4, 5, seed=11)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.U, b.U)
    assert not np.array_equal(a.W, LSTM(2, 3, 4, 5, seed=12).W)
