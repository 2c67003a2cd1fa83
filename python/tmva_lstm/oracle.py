"""The NumPy oracle: LSTM forward and backpropagation through time, in plain NumPy.

Written from docs/lstm-math.md, independently of the C++ (it never calls it), with the same
names as tmva_lstm/BasicLSTMLayer.h and tmva_lstm/Cpu.cxx so the two read side by side.
Shapes: x (B, T, D); W (4H, D); U (4H, H); b (4H,); h0, c0 (B, H). Gate order i, f, g, o.
"""

import numpy as np

# activation name -> (f, f' as a function of the output y = f(z))
ACTIVATIONS = {
    "identity": (lambda z: z, lambda y: np.ones_like(y)),
    "relu": (lambda z: np.maximum(z, 0), lambda y: (y > 0).astype(y.dtype)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda y: y * (1 - y)),  # σ' = s(1−s)
    "tanh": (np.tanh, lambda y: 1 - y * y),  # tanh' = 1−t²
}


def forward(x, W, U, b, h0, c0, gate_activation="sigmoid", activation="tanh"):
    """Returns hs (B, T, H) = [h_1 … h_T], the final c_T, and the cache backward needs."""
    B, T, D = x.shape
    H = U.shape[1]
    f1, _ = ACTIVATIONS[gate_activation]
    f2, _ = ACTIVATIONS[activation]
    h, c = h0, c0
    hs = np.empty((B, T, H), dtype=x.dtype)
    cache = []
    for t in range(T):
        z = x[:, t] @ W.T + h @ U.T + b  # z_t = x_t Wᵀ + h_{t-1} Uᵀ + b
        i, f, g, o = f1(z[:, :H]), f1(z[:, H:2 * H]), f2(z[:, 2 * H:3 * H]), f1(z[:, 3 * H:])
        c_prev, h_prev = c, h
        c = f * c_prev + i * g  # c_t = f ⊙ c_{t-1} + i ⊙ g
        h = o * f2(c)  # h_t = o ⊙ tanh(c_t)
        hs[:, t] = h
        cache.append((i, f, g, o, c_prev, c, h_prev))
    return hs, c, (x, W, U, cache, gate_activation, activation)


def backward(dhs, cache, dh_T=None, dc_T=None):
    """dhs (B, T, H): ∂L/∂h_t from the layer above (zeros where there is no output).
    dh_T, dc_T: ∂L/∂h_T, ∂L/∂c_T from an exposed final state, zeros if None.
    Returns dict dW, dU, db, dx, dh0, dc0."""
    x, W, U, steps, gate_activation, activation = cache
    B, T, D = x.shape
    H = U.shape[1]
    _, df1 = ACTIVATIONS[gate_activation]
    f2, df2 = ACTIVATIONS[activation]
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros(4 * H, dtype=x.dtype)
    dx = np.empty_like(x)
    dh_next = np.zeros((B, H), dtype=x.dtype) if dh_T is None else dh_T
    dc_next = np.zeros((B, H), dtype=x.dtype) if dc_T is None else dc_T
    for t in reversed(range(T)):
        i, f, g, o, c_prev, c, h_prev = steps[t]
        dh = dhs[:, t] + dh_next
        tau = f2(c)
        dz_o = dh * tau * df1(o)
        dc = dh * o * df2(tau) + dc_next
        dz_i = dc * g * df1(i)
        dz_g = dc * i * df2(g)
        dz_f = dc * c_prev * df1(f)
        dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
        dc_next = dc * f
        dh_next = dz @ U
        # per-step sums here; the C++ does dx_t with dh_next as one GEMM per step,
        # [dz_t W | dz_t U], and dW, dU as one GEMM after the loop
        dW += dz.T @ x[:, t]
        dU += dz.T @ h_prev
        db += dz.sum(axis=0)
        dx[:, t] = dz @ W
    return {"dW": dW, "dU": dU, "db": db, "dx": dx, "dh0": dh_next, "dc0": dc_next}


# -- the rest of a network: dense layers, losses, optimizer steps (DenseLayer.h, Cpu.cxx) ----------

def dense_forward(x, W, b, activation="identity"):
    f, _ = ACTIVATIONS[activation]
    y = f(x @ W.T + b)
    return y, (x, W, y, activation)


def dense_backward(dy, cache):
    x, W, y, activation = cache
    _, df = ACTIVATIONS[activation]
    dz = dy * df(y)
    return {"dW": dz.T @ x, "db": dz.sum(axis=0), "dx": dz @ W}


def loss(kind, o, y, w):
    """Σ_b w_b ℓ_b / Σ_b w_b and ∂/∂o, for o, y (B, K) and w (B,)."""
    B, K = o.shape
    if kind == "mse":
        per_sample, grad = ((o - y) ** 2).mean(axis=1), 2 * (o - y) / K
    elif kind == "bce":  # on logits: softplus(o) − y·o
        per_sample = (np.logaddexp(0, o) - y * o).mean(axis=1)
        grad = (1 / (1 + np.exp(-o)) - y) / K
    elif kind == "softmax_ce":
        log_p = o - np.logaddexp.reduce(o, axis=1, keepdims=True)
        per_sample = -(y * log_p).sum(axis=1)
        grad = np.exp(log_p) * y.sum(axis=1, keepdims=True) - y
    else:
        raise ValueError(kind)
    return (w * per_sample).sum() / w.sum(), grad * (w / w.sum())[:, None]


def sgd_step(W, dW, V, lr, momentum):
    V = momentum * V + dW
    return W - lr * V, V


def adam_step(W, dW, M, V, lr, beta1, beta2, eps, t):
    M = beta1 * M + (1 - beta1) * dW
    V = beta2 * V + (1 - beta2) * dW * dW
    return W - lr * (M / (1 - beta1**t)) / (np.sqrt(V / (1 - beta2**t)) + eps), M, V
