"""Compare the C++ recurrent layers with the NumPy oracle: outputs, final state and every gradient."""

import numpy as np

from . import oracle
from .layer import GRU, LSTM, RNN

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def quantities(cell, bidirectional=False):
    """What compare() reports for a layer of this kind."""
    if bidirectional:
        return ("y", "dx", "dW", "dU", "db", "dW_rev", "dU_rev", "db_rev")
    state = ("h_T", "c_T") if cell == "lstm" else ("h_T",)
    initial = ("dh0", "dc0") if cell == "lstm" else ("dh0",)
    return ("y",) + state + ("dx", "dW", "dU", "db") + initial


def max_relative_error(actual, expected):
    """max |a − e| / max |e|: relative to the array's scale, so entries near zero do not blow up."""
    scale = np.max(np.abs(expected))
    return float(np.max(np.abs(actual - expected)) / scale) if scale > 0 else float(np.max(np.abs(actual)))


def random_lengths(rng, B, T):
    """Lengths 0 … T, the extremes included when the batch is large enough."""
    lengths = rng.integers(0, T + 1, B)
    lengths[: min(B, 2)] = [T, 0][: min(B, 2)]
    return lengths


def compare(batch_size, state_size, input_size, time_steps, *, cell="lstm", dtype="float64", return_sequence=False,
            remember_state=False, lengths=False, bidirectional=False, reset_gate_after=False,
            gate_activation="sigmoid", activation="tanh", seed=0):
    """Run one random batch (two with remember_state) through the C++ layer and the oracle, with
    random lengths when `lengths` ("sorted": longest first, as the trainer orders a batch).
    Returns {quantity: max relative error}; the oracle runs in float64 either way."""
    rng = np.random.default_rng(seed)
    B, H, D, T = batch_size, state_size, input_size, time_steps
    extra = {"reset_gate_after": reset_gate_after} if cell == "gru" else {}
    layer = CELLS[cell](B, H, D, T, dtype=dtype, return_sequence=return_sequence, remember_state=remember_state,
                        bidirectional=bidirectional, gate_activation=gate_activation, activation=activation,
                        seed=seed, **extra)
    dt, f64 = layer.dtype, (lambda a: a.astype(np.float64))
    options = dict(gate_activation=gate_activation, activation=activation, **extra)
    directions = [layer] + ([layer.reverse] if bidirectional else [])
    for d in directions:
        d.b = rng.uniform(-0.5, 0.5, layer.gates * H).astype(dt)
    params = [{n: f64(getattr(d, n)) for n in "WUb"} for d in directions]
    lens = random_lengths(rng, B, T) if lengths else None
    if lengths == "sorted":
        lens = np.sort(lens)[::-1].copy()

    x = rng.uniform(-1, 1, (B, T, D)).astype(dt)
    dy = rng.uniform(-1, 1, layer.output_shape).astype(dt)
    if bidirectional:
        y = layer.forward(x, lens)
        actual = {"y": y, "dx": layer.backward(dy)}
        actual.update(dW=layer.dW, dU=layer.dU, db=layer.db, dW_rev=layer.reverse.dW, dU_rev=layer.reverse.dU,
                      db_rev=layer.reverse.db)
        ys, fwd, rev = oracle.bidirectional_forward(cell, f64(x), *params, lens, **options)
        expected = {"y": ys if return_sequence else np.concatenate([fwd[1][0], rev[1][0]], axis=1)}
        dys = np.zeros((B, T, 2 * H))
        if return_sequence:
            dys[:] = dy
        if return_sequence:
            dstate = [None, None]
        else:  # the output is the two final states; an LSTM's c_T gets no gradient
            dstate = [(f64(d),) + tuple(np.zeros((B, H)) for _ in state[1][1:])
                      for d, state in ((dy[:, :H], fwd), (dy[:, H:], rev))]
        gf = oracle.backward(dys[..., :H], fwd[2], dstate[0])
        gr = oracle.backward(dys[..., H:], rev[2], dstate[1])
        expected.update(dx=gf["dx"] + gr["dx"], dW=gf["dW"], dU=gf["dU"], db=gf["db"], dW_rev=gr["dW"],
                        dU_rev=gr["dU"], db_rev=gr["db"])
        return {q: max_relative_error(actual[q], expected[q]) for q in quantities(cell, True)}

    layer.h0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dt)
    state0 = [f64(layer.h0)]
    if cell == "lstm":
        layer.c0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dt)
        state0.append(f64(layer.c0))
    if remember_state:  # a first batch; its final state is the second batch's initial state
        x1 = rng.uniform(-1, 1, (B, T, D)).astype(dt)
        layer.forward(x1, lens)
        state0 = oracle.forward(cell, f64(x1), params[0], state0, lens, **options)[1]
    dstate_T = [rng.uniform(-1, 1, (B, H)).astype(dt) for _ in state0]

    y = layer.forward(x, lens)
    actual = {"y": y, "h_T": layer.h_T, "dx": layer.backward(dy, *dstate_T)}
    actual.update(dW=layer.dW, dU=layer.dU, db=layer.db, dh0=layer.dh0)
    if cell == "lstm":
        actual.update(c_T=layer.c_T, dc0=layer.dc0)

    hs, state_T, cache = oracle.forward(cell, f64(x), params[0], state0, lens, **options)
    dhs = np.zeros((B, T, H))
    dstate = [f64(d) for d in dstate_T]
    if return_sequence:
        dhs[:] = dy
    else:  # the output is h_T itself
        dstate[0] = dstate[0] + dy
    g = oracle.backward(dhs, cache, dstate)
    expected = {"y": hs if return_sequence else state_T[0], "h_T": state_T[0], "dx": g["dx"], "dW": g["dW"],
                "dU": g["dU"], "db": g["db"], "dh0": g["dstate0"][0]}
    if cell == "lstm":
        expected.update(c_T=state_T[1], dc0=g["dstate0"][1])
    return {q: max_relative_error(actual[q], expected[q]) for q in quantities(cell)}
