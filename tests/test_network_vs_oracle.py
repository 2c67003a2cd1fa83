"""Whole networks against the NumPy oracle: forward output, loss, every parameter gradient
(LSTM, dense, reshape, stacked LSTMs; three losses), and one optimizer step."""

import numpy as np
import pytest

from tmva_lstm import Net, _cpp, oracle

LOSSES = {"CROSSENTROPY": "bce", "SUMOFSQUARES": "mse", "MUTUALEXCLUSIVE": "softmax_ce"}


def oracle_network(net, x, y, w, loss_kind):
    """Forward and backward of `net` (read from its layout) in NumPy: loss and gradients by name."""
    params = {k: v.astype(np.float64) for k, v in net.parameters.items()}
    B = x.shape[0]
    a, caches = x.reshape(B, -1), []
    for l, token in enumerate(net.layout.split(",")):
        kind, *fields = token.split("|")
        if kind == "LSTM":
            H, D, T, _, return_sequence = (int(v) for v in fields)
            p = {n: params[f"layer{l}_LSTM/{n}"] for n in "WUb"}
            hs, _, cache = oracle.forward(a.reshape(B, T, D), p["W"], p["U"], p["b"][0],
                                          np.zeros((B, H)), np.zeros((B, H)))
            caches.append((kind, cache, (B, T, H, bool(return_sequence))))
            a = hs.reshape(B, T * H) if return_sequence else hs[:, -1]
        elif kind == "DENSE":
            a, cache = oracle.dense_forward(a, params[f"layer{l}_DENSE/W"], params[f"layer{l}_DENSE/b"][0],
                                            fields[1].lower().replace("linear", "identity"))
            caches.append((kind, cache, None))
        else:
            caches.append((kind, None, None))
    output = a
    L, grad = oracle.loss(loss_kind, output, y, w)
    grads = {}
    for l in reversed(range(len(caches))):
        kind, cache, shape = caches[l]
        if kind == "LSTM":
            B, T, H, return_sequence = shape
            dhs = np.zeros((B, T, H))
            if return_sequence:
                dhs[:] = grad.reshape(B, T, H)
            else:
                dhs[:, -1] = grad
            g = oracle.backward(dhs, cache)
            grads.update({f"layer{l}_LSTM/{n}": g["d" + n] for n in "WU"})
            grads[f"layer{l}_LSTM/b"] = g["db"][None]
            grad = g["dx"].reshape(B, -1)
        elif kind == "DENSE":
            g = oracle.dense_backward(grad, cache)
            grads[f"layer{l}_DENSE/W"], grads[f"layer{l}_DENSE/b"] = g["dW"], g["db"][None]
            grad = g["dx"]
    return output, L, grads


LAYOUTS = {
    "tutorial": ("InputLayout=5|3", "LSTM|4|3|5|0|1,RESHAPE|FLAT,DENSE|6|TANH,LINEAR"),
    "last-state": ("InputLayout=5|3", "LSTM|4|3|5|0|0,DENSE|6|SIGMOID,DENSE|7|RELU,LINEAR"),
    "stacked": ("InputLayout=5|3", "LSTM|4|3|5|0|1,LSTM|3|4|5|0|0,DENSE|6|TANH,LINEAR"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("strategy", LOSSES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_network_gradients(layout, strategy, dtype, rtol, rng):
    B, K = 4, (3 if strategy == "MUTUALEXCLUSIVE" else 2)
    inputs, layers = LAYOUTS[layout]
    net = Net(f"{inputs}:Layout={layers}:ErrorStrategy={strategy}:RandomSeed=5"
              f":TrainingStrategy=BatchSize={B}", n_outputs=K, dtype=dtype)
    for name, value in net.parameters.items():  # biases too, so no term hides behind a zero
        net.set_parameter(name, rng.uniform(-0.5, 0.5, value.shape))
    x = rng.uniform(-1, 1, (B, 5, 3))
    y = (np.eye(K)[rng.integers(0, K, B)] if strategy == "MUTUALEXCLUSIVE" else rng.uniform(0, 1, (B, K)))
    w = rng.uniform(0.5, 2, B)
    output = net.forward_batch(x.astype(dtype))
    L, grads = net.backward_batch(y, w)
    want_output, want_L, want_grads = oracle_network(net, x.astype(dtype).astype(np.float64), y, w,
                                                     LOSSES[strategy])
    assert np.max(np.abs(output - want_output)) <= rtol * np.max(np.abs(want_output))
    assert abs(L - want_L) <= rtol * abs(want_L)
    assert set(grads) == set(want_grads)
    for name, g in grads.items():
        scale = np.max(np.abs(want_grads[name]))
        assert np.max(np.abs(g - want_grads[name])) <= rtol * scale, name


@pytest.mark.parametrize("optimizer", ["SGD", "ADAM"])
def test_optimizer_steps(optimizer, rng):
    B = 4
    net = Net(f"InputLayout=5|3:Layout=LSTM|4|3|5|0|0,LINEAR:TrainingStrategy=BatchSize={B}", dtype=np.float64)
    arch = _cpp.architecture("cpu", "float64")
    lr, momentum, beta1, beta2, eps = 0.01, 0.9, 0.9, 0.999, 1e-8
    opt = _cpp.ns.TOptimizer[arch](net._net, getattr(_cpp.ns.EOptimizer, "kSGD" if optimizer == "SGD" else "kAdam"),
                                   lr, momentum, beta1, beta2, eps)
    x, y, w = rng.uniform(-1, 1, (B, 5, 3)), rng.uniform(0, 1, (B, 1)), np.ones(B)
    theta = net.parameters
    state = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in theta.items()}
    for t in (1, 2, 3):
        net.forward_batch(x)
        _, grads = net.backward_batch(y, w)
        opt.Step()
        for name in theta:
            M, V = state[name]
            if optimizer == "SGD":
                theta[name], M = oracle.sgd_step(theta[name], grads[name], M, lr, momentum)
            else:
                theta[name], M, V = oracle.adam_step(theta[name], grads[name], M, V, lr, beta1, beta2, eps, t)
            state[name] = (M, V)
        for name, value in net.parameters.items():
            np.testing.assert_allclose(value, theta[name], rtol=1e-12, atol=1e-14, err_msg=f"{name} step {t}")
