"""Compare the C++ layer with the NumPy oracle: outputs, final state and every gradient."""

import numpy as np

from . import oracle
from .layer import LSTM

QUANTITIES = ("y", "h_T", "c_T", "dx", "dW", "dU", "db", "dh0", "dc0")
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def max_relative_error(actual, expected):
    """max |a − e| / max |e|: relative to the array's scale, so entries near zero do not blow up."""
    scale = np.max(np.abs(expected))
    return float(np.max(np.abs(actual - expected)) / scale) if scale > 0 else float(np.max(np.abs(actual)))


def compare(batch_size, state_size, input_size, time_steps, *, dtype="float64", return_sequence=False,
            remember_state=False, gate_activation="sigmoid", activation="tanh", seed=0):
    """Run one random batch (two with remember_state) through the C++ layer and the oracle.
    Returns {quantity: max relative error}; the oracle runs in float64 either way."""
    rng = np.random.default_rng(seed)
    B, H, D, T = batch_size, state_size, input_size, time_steps
    layer = LSTM(B, H, D, T, dtype=dtype, return_sequence=return_sequence, remember_state=remember_state,
                 gate_activation=gate_activation, activation=activation, seed=seed)
    dt = layer.dtype
    layer.b = rng.uniform(-0.5, 0.5, 4 * H).astype(dt)
    layer.h0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dt)
    layer.c0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dt)
    W, U, b = (a.astype(np.float64) for a in (layer.W, layer.U, layer.b))
    h0, c0 = layer.h0.astype(np.float64), layer.c0.astype(np.float64)
    acts = dict(gate_activation=gate_activation, activation=activation)
    if remember_state:  # a first batch; its final state is the second batch's initial state
        x1 = rng.uniform(-1, 1, (B, T, D)).astype(dt)
        layer.forward(x1)
        hs1, c0, _ = oracle.forward(x1.astype(np.float64), W, U, b, h0, c0, **acts)
        h0 = hs1[:, -1]
    x = rng.uniform(-1, 1, (B, T, D)).astype(dt)
    dy = rng.uniform(-1, 1, layer.output_shape).astype(dt)
    dh_T, dc_T = (rng.uniform(-1, 1, (B, H)).astype(dt) for _ in range(2))

    y = layer.forward(x)
    hs, c_T, cache = oracle.forward(x.astype(np.float64), W, U, b, h0, c0, **acts)
    actual = {"y": y, "h_T": layer.h_T, "c_T": layer.c_T, "dx": layer.backward(dy, dh_T, dc_T)}
    actual.update(dW=layer.dW, dU=layer.dU, db=layer.db, dh0=layer.dh0, dc0=layer.dc0)

    dhs = np.zeros((B, T, H))
    if return_sequence:
        dhs[:] = dy
    else:
        dhs[:, -1] = dy
    expected = oracle.backward(dhs, cache, dh_T.astype(np.float64), dc_T.astype(np.float64))
    expected.update(y=hs if return_sequence else hs[:, -1], h_T=hs[:, -1], c_T=c_T)
    return {q: max_relative_error(actual[q], expected[q]) for q in QUANTITIES}
