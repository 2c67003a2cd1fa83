"""The NumPy oracle against central finite differences in float64: the oracle is the reference
for everything else, so it is checked on its own first."""

import numpy as np
import pytest

from tmva_lstm import oracle


def loss_and_grads(x, W, U, b, h0, c0, R, R_h, R_c, return_sequence, acts):
    """L = Σ output ⊙ R + Σ h_T ⊙ R_h + Σ c_T ⊙ R_c and the oracle's gradients of it."""
    hs, c_T, cache = oracle.forward(x, W, U, b, h0, c0, **acts)
    out = hs if return_sequence else hs[:, -1]
    L = np.sum(out * R) + np.sum(hs[:, -1] * R_h) + np.sum(c_T * R_c)
    dhs = np.zeros_like(hs)
    if return_sequence:
        dhs[:] = R
    else:
        dhs[:, -1] = R
    return L, oracle.backward(dhs, cache, R_h, R_c)


@pytest.mark.parametrize("B,H,D,T", [(1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 1, 9)])
@pytest.mark.parametrize("return_sequence", [False, True])
@pytest.mark.parametrize("acts", [dict(gate_activation="sigmoid", activation="tanh"),
                                  dict(gate_activation="tanh", activation="sigmoid"),
                                  dict(gate_activation="sigmoid", activation="identity")])
def test_oracle_gradients_match_finite_differences(B, H, D, T, return_sequence, acts, rng):
    u = lambda *shape: rng.uniform(-1, 1, shape)  # noqa: E731
    params = dict(x=u(B, T, D), W=u(4 * H, D), U=u(4 * H, H), b=u(4 * H), h0=u(B, H), c0=u(B, H))
    R = u(B, T, H) if return_sequence else u(B, H)
    R_h, R_c = u(B, H), u(B, H)
    _, grads = loss_and_grads(**params, R=R, R_h=R_h, R_c=R_c, return_sequence=return_sequence, acts=acts)
    eps = 1e-6
    for name in params:
        p = params[name]
        numeric = np.zeros_like(p)
        for k in np.ndindex(p.shape):
            keep = p[k]
            p[k] = keep + eps
            lp, _ = loss_and_grads(**params, R=R, R_h=R_h, R_c=R_c, return_sequence=return_sequence, acts=acts)
            p[k] = keep - eps
            lm, _ = loss_and_grads(**params, R=R, R_h=R_h, R_c=R_c, return_sequence=return_sequence, acts=acts)
            p[k] = keep
            numeric[k] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(grads["d" + name], numeric, rtol=1e-6, atol=1e-8, err_msg=f"d{name}")
