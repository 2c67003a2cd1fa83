"""Whole networks against the NumPy oracle: forward output, loss, every parameter gradient
(LSTM, dense, reshape, stacked LSTMs; three losses), and one optimizer step."""

import numpy as np
import pytest

from tmva_lstm import Net, _cpp, oracle

LOSSES = {"CROSSENTROPY": "bce", "SUMOFSQUARES": "mse", "MUTUALEXCLUSIVE": "softmax_ce"}


def oracle_network(net, x, y, w, loss_kind, lengths=None):
    """Forward and backward of `net` (read from its layout) in NumPy: loss and gradients by name."""
    params = {k: v.astype(np.float64) for k, v in net.parameters.items()}
    B = x.shape[0]
    a, caches = x.reshape(B, -1), []
    for l, token in enumerate(net.layout.split(",")):
        kind, *fields = token.split("|")
        prefix = f"layer{l}_{kind}/"
        if kind in ("LSTM", "GRU", "RNN"):
            cell, bidirectional = kind.lower(), fields[-1] == "BIDIRECTIONAL"
            H, D, T, _, return_sequence = (int(v) for v in fields[:5])
            options = {"reset_gate_after": fields[5] == "1"} if cell == "gru" else {}
            directions = ["", "_reverse"] if bidirectional else [""]
            p = [{n: params[prefix + n + d][0] if n == "b" else params[prefix + n + d] for n in "WUb"}
                 for d in directions]
            xs = a.reshape(B, T, D)
            zeros = [np.zeros((B, H))] * (2 if cell == "lstm" else 1)
            runs = [oracle.forward(cell, xs, p[k], zeros, lengths, reverse=k == 1, **options)
                    for k in range(len(directions))]
            caches.append((kind, runs, (B, T, H, bool(return_sequence), prefix, directions)))
            outs = [hs.reshape(B, T * H) if return_sequence else state[0] for hs, state, _ in runs]
            a = (np.stack([o.reshape(B, -1, H) for o in outs], axis=2).reshape(B, -1))
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
        if kind in ("LSTM", "GRU", "RNN"):
            B, T, H, return_sequence, prefix, directions = shape
            n = len(directions)
            per_direction = grad.reshape(B, -1, n, H)
            dx = 0
            for k, (hs, state, run_cache) in enumerate(cache):
                dy = per_direction[:, :, k]
                dstate = [np.zeros((B, H)) for _ in state]
                dhs = np.zeros((B, T, H))
                if return_sequence:
                    dhs[:] = dy
                else:
                    dstate[0] = dy[:, 0]
                g = oracle.backward(dhs, run_cache, dstate)
                for name in "WU":
                    grads[prefix + name + directions[k]] = g["d" + name]
                grads[prefix + "b" + directions[k]] = g["db"][None]
                dx = dx + g["dx"]
            grad = dx.reshape(B, -1)
        elif kind == "DENSE":
            g = oracle.dense_backward(grad, cache)
            grads[f"layer{l}_DENSE/W"], grads[f"layer{l}_DENSE/b"] = g["dW"], g["db"][None]
            grad = g["dx"]
    return output, L, grads


LAYOUTS = {
    "tutorial": ("InputLayout=5|3", "LSTM|4|3|5|0|1,RESHAPE|FLAT,DENSE|6|TANH,LINEAR"),
    "last-state": ("InputLayout=5|3", "LSTM|4|3|5|0|0,DENSE|6|SIGMOID,DENSE|7|RELU,LINEAR"),
    "stacked": ("InputLayout=5|3", "LSTM|4|3|5|0|1,LSTM|3|4|5|0|0,DENSE|6|TANH,LINEAR"),
    "gru": ("InputLayout=5|3", "GRU|4|3|5|0|1,RESHAPE|FLAT,DENSE|6|TANH,LINEAR"),
    "gru-after": ("InputLayout=5|3", "GRU|4|3|5|0|0|1,DENSE|6|TANH,LINEAR"),
    "rnn": ("InputLayout=5|3", "RNN|4|3|5|0|1,RESHAPE|FLAT,DENSE|6|TANH,LINEAR"),
    "bidirectional": ("InputLayout=5|3", "LSTM|4|3|5|0|1|BIDIRECTIONAL,GRU|3|8|5|0|0|1|BIDIRECTIONAL,LINEAR"),
    "mixed": ("InputLayout=5|3", "RNN|4|3|5|0|1,GRU|3|4|5|0|1,LSTM|2|3|5|0|0,LINEAR"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("strategy", LOSSES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_network_gradients(layout, strategy, dtype, rtol, with_lengths, rng):
    B, K = 4, (3 if strategy == "MUTUALEXCLUSIVE" else 2)
    inputs, layers = LAYOUTS[layout]
    net = Net(f"{inputs}:Layout={layers}:ErrorStrategy={strategy}:RandomSeed=5"
              f":TrainingStrategy=BatchSize={B}", n_outputs=K, dtype=dtype)
    for name, value in net.parameters.items():  # biases too, so no term hides behind a zero
        net.set_parameter(name, rng.uniform(-0.5, 0.5, value.shape))
    x = rng.uniform(-1, 1, (B, 5, 3))
    y = (np.eye(K)[rng.integers(0, K, B)] if strategy == "MUTUALEXCLUSIVE" else rng.uniform(0, 1, (B, K)))
    w = rng.uniform(0.5, 2, B)
    lengths = np.array([5, 0, 3, 1]) if with_lengths else None
    output = net.forward_batch(x.astype(dtype), lengths)
    L, grads = net.backward_batch(y, w)
    want_output, want_L, want_grads = oracle_network(net, x.astype(dtype).astype(np.float64), y, w,
                                                     LOSSES[strategy], lengths)
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
