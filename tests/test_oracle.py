"""The NumPy oracle against central finite differences in float64: the oracle is the reference
for everything else, so it is checked on its own first — every cell, with lengths, reversed."""

import numpy as np
import pytest

from tmva_lstm import oracle

CELLS = [("lstm", {}), ("gru", {}), ("gru", {"reset_gate_after": True}), ("rnn", {})]


def loss_and_grads(cell, inputs, R, R_state, return_sequence, lengths, reverse, options):
    """L = Σ output ⊙ R + Σ final state ⊙ R_state and the oracle's gradients of it."""
    params = {n: inputs[n] for n in "WUb"}
    state0 = [inputs["h0"]] + ([inputs["c0"]] if cell == "lstm" else [])
    hs, state_T, cache = oracle.forward(cell, inputs["x"], params, state0, lengths, reverse, **options)
    L = sum(np.sum(s * r) for s, r in zip(state_T, R_state))
    dstate = [r.copy() for r in R_state]
    if return_sequence:
        L += np.sum(hs * R)
        dhs = R
    else:  # the output is h_T
        L += np.sum(state_T[0] * R)
        dhs, dstate[0] = np.zeros_like(hs), dstate[0] + R
    g = oracle.backward(dhs, cache, dstate)
    grads = {"dx": g["dx"], "dW": g["dW"], "dU": g["dU"], "db": g["db"], "dh0": g["dstate0"][0]}
    if cell == "lstm":
        grads["dc0"] = g["dstate0"][1]
    return L, grads, hs


@pytest.mark.parametrize("cell, extra", CELLS)
@pytest.mark.parametrize("B,H,D,T", [(1, 1, 1, 1), (4, 3, 2, 5)])
@pytest.mark.parametrize("return_sequence", [False, True])
@pytest.mark.parametrize("lengths, reverse", [(False, False), (True, False), (True, True), (False, True)])
@pytest.mark.parametrize("acts", [dict(gate_activation="sigmoid", activation="tanh"),
                                  dict(gate_activation="tanh", activation="sigmoid")])
def test_oracle_gradients_match_finite_differences(cell, extra, B, H, D, T, return_sequence, lengths, reverse,
                                                   acts, rng):
    u = lambda *shape: rng.uniform(-1, 1, shape)  # noqa: E731
    G = oracle.CELLS[cell][2]
    inputs = dict(x=u(B, T, D), W=u(G * H, D), U=u(G * H, H), b=u(G * H), h0=u(B, H))
    if cell == "lstm":
        inputs["c0"] = u(B, H)
    lens = rng.integers(0, T + 1, B) if lengths else None
    R = u(B, T, H) if return_sequence else u(B, H)
    R_state = [u(B, H) for _ in range(2 if cell == "lstm" else 1)]
    options = dict(acts, **extra)
    args = (R, R_state, return_sequence, lens, reverse, options)
    _, grads, hs = loss_and_grads(cell, inputs, *args)
    if lens is not None:  # past each length the output is exactly 0
        assert not any(hs[r, lens[r]:].any() for r in range(B))
    eps = 1e-6
    for name, p in inputs.items():
        numeric = np.zeros_like(p)
        for k in np.ndindex(p.shape):
            keep = p[k]
            p[k] = keep + eps
            lp = loss_and_grads(cell, inputs, *args)[0]
            p[k] = keep - eps
            lm = loss_and_grads(cell, inputs, *args)[0]
            p[k] = keep
            numeric[k] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(grads["d" + name], numeric, rtol=1e-6, atol=1e-8, err_msg=f"d{name}")
