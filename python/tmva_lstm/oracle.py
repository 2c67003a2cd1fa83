"""The NumPy oracle: recurrent layers (LSTM, GRU, simple RNN) forward and backpropagation through
time, in plain NumPy; then dense layers, losses and optimizer steps.

Written from docs/lstm-math.md, independently of the C++ (it never calls it), with the same
names as tmva_lstm/RecurrentLayer.h, Kernels.h and Cpu.cxx so the two read side by side.
Shapes: x (B, T, D); W (G·H, D); U (G·H, H); b (G·H,); the state h (and the LSTM's c) (B, H).
Gate order: LSTM i, f, g, o; GRU r, u, n; RNN one block.

A cell is a pair of functions: the step forward, (x_t, state, params) -> (state, cache), and
back, (dstate, cache, params) -> (dx_t, dstate_prev, grads). forward/backward run any cell over
time, with per-sample lengths (steps past a sample's length hold its state, output 0 and pass
the gradient through) and in either direction.
"""

import numpy as np

# activation name -> (f, f' as a function of the output y = f(z))
ACTIVATIONS = {
    "identity": (lambda z: z, lambda y: np.ones_like(y)),
    "relu": (lambda z: np.maximum(z, 0), lambda y: (y > 0).astype(y.dtype)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda y: y * (1 - y)),  # σ' = s(1−s)
    "tanh": (np.tanh, lambda y: 1 - y * y),  # tanh' = 1−t²
}


# -- cells ---------------------------------------------------------------------------------------

def lstm_step(x, state, p, gate_activation="sigmoid", activation="tanh"):
    (h_prev, c_prev), (W, U, b) = state, (p["W"], p["U"], p["b"])
    f1, f2 = ACTIVATIONS[gate_activation][0], ACTIVATIONS[activation][0]
    H = U.shape[1]
    z = x @ W.T + h_prev @ U.T + b  # z_t = x_t Wᵀ + h_{t-1} Uᵀ + b
    i, f, g, o = f1(z[:, :H]), f1(z[:, H:2 * H]), f2(z[:, 2 * H:3 * H]), f1(z[:, 3 * H:])
    c = f * c_prev + i * g  # c_t = f ⊙ c_{t-1} + i ⊙ g
    tau = f2(c)  # kept for the backward
    h = o * tau  # h_t = o ⊙ tanh(c_t)
    return (h, c), (x, h_prev, c_prev, i, f, g, o, tau)


def lstm_back(dstate, cache, p, gate_activation="sigmoid", activation="tanh"):
    (dh, dc_next), (x, h_prev, c_prev, i, f, g, o, tau) = dstate, cache
    df1, df2 = ACTIVATIONS[gate_activation][1], ACTIVATIONS[activation][1]
    dz_o = dh * tau * df1(o)
    dc = dh * o * df2(tau) + dc_next
    dz_i = dc * g * df1(i)
    dz_g = dc * i * df2(g)
    dz_f = dc * c_prev * df1(f)
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
    grads = {"W": dz.T @ x, "U": dz.T @ h_prev, "b": dz.sum(axis=0)}
    return dz @ p["W"], (dz @ p["U"], dc * f), grads


def gru_step(x, state, p, gate_activation="sigmoid", activation="tanh", reset_gate_after=False):
    (h_prev,), (W, U, b) = state, (p["W"], p["U"], p["b"])
    f1, f2 = ACTIVATIONS[gate_activation][0], ACTIVATIONS[activation][0]
    H = U.shape[1]
    Wr, Wu, Wn = W[:H], W[H:2 * H], W[2 * H:]
    Ur, Uu, Un = U[:H], U[H:2 * H], U[2 * H:]
    r = f1(x @ Wr.T + h_prev @ Ur.T + b[:H])
    u = f1(x @ Wu.T + h_prev @ Uu.T + b[H:2 * H])
    if reset_gate_after:  # n = tanh(x W_nᵀ + b_n + r ⊙ (h_{t-1} U_nᵀ))
        nh = h_prev @ Un.T
        n = f2(x @ Wn.T + b[2 * H:] + r * nh)
    else:  # n = tanh(x W_nᵀ + b_n + (r ⊙ h_{t-1}) U_nᵀ)
        nh = None
        n = f2(x @ Wn.T + b[2 * H:] + (r * h_prev) @ Un.T)
    h = u * h_prev + (1 - u) * n  # h_t = u ⊙ h_{t-1} + (1 − u) ⊙ n
    return (h,), (x, h_prev, r, u, n, nh, reset_gate_after)


def gru_back(dstate, cache, p, gate_activation="sigmoid", activation="tanh", reset_gate_after=False):
    (dh,), (x, h_prev, r, u, n, nh, reset_gate_after) = dstate, cache
    df1, df2 = ACTIVATIONS[gate_activation][1], ACTIVATIONS[activation][1]
    H = h_prev.shape[1]
    W, U = p["W"], p["U"]
    Ur, Uu, Un = U[:H], U[H:2 * H], U[2 * H:]
    dz_n = dh * (1 - u) * df2(n)
    dz_u = dh * (h_prev - n) * df1(u)
    dh_prev = dh * u
    if reset_gate_after:
        dnh = dz_n * r  # ∂L/∂(h_{t-1} U_nᵀ)
        dz_r = dz_n * nh * df1(r)
        dh_prev = dh_prev + dnh @ Un
        dUn = dnh.T @ h_prev
    else:
        drh = dz_n @ Un  # ∂L/∂(r ⊙ h_{t-1})
        dz_r = drh * h_prev * df1(r)
        dh_prev = dh_prev + drh * r
        dUn = dz_n.T @ (r * h_prev)
    dh_prev = dh_prev + dz_r @ Ur + dz_u @ Uu
    dz = np.concatenate([dz_r, dz_u, dz_n], axis=1)
    grads = {"W": dz.T @ x, "U": np.concatenate([dz_r.T @ h_prev, dz_u.T @ h_prev, dUn]), "b": dz.sum(axis=0)}
    return dz @ W, (dh_prev,), grads


def rnn_step(x, state, p, activation="tanh", **_):
    (h_prev,), f = state, ACTIVATIONS[activation][0]
    h = f(x @ p["W"].T + h_prev @ p["U"].T + p["b"])  # h_t = f(x_t Wᵀ + h_{t-1} Uᵀ + b)
    return (h,), (x, h_prev, h)


def rnn_back(dstate, cache, p, activation="tanh", **_):
    (dh,), (x, h_prev, h) = dstate, cache
    dz = dh * ACTIVATIONS[activation][1](h)
    return dz @ p["W"], (dz @ p["U"],), {"W": dz.T @ x, "U": dz.T @ h_prev, "b": dz.sum(axis=0)}


CELLS = {"lstm": (lstm_step, lstm_back, 4), "gru": (gru_step, gru_back, 3), "rnn": (rnn_step, rnn_back, 1)}


# -- the time loop -------------------------------------------------------------------------------

def _steps(lengths, t, T, reverse):
    """Each row's step at loop index t (t, or len − 1 − t reversed) and whether it is active."""
    active = t < lengths
    return np.where(active, lengths - 1 - t if reverse else t, 0), active


def forward(cell, x, params, state0, lengths=None, reverse=False, **options):
    """Returns hs (B, T, H) (0 past each length), the final state (a tuple: (h,) or, for the LSTM,
    (h, c)), and the cache backward needs. options: gate_activation, activation, reset_gate_after (GRU)."""
    step = CELLS[cell][0]
    B, T, _ = x.shape
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    rows = np.arange(B)
    state, caches = tuple(state0), []
    hs = np.zeros((B, T, params["U"].shape[1]), dtype=x.dtype)
    for t in range(T):
        s, active = _steps(lengths, t, T, reverse)
        new, cache = step(x[rows, s], state, params, **options)
        state = tuple(np.where(active[:, None], n, old) for n, old in zip(new, state))  # held past the length
        hs[rows[active], s[active]] = new[0][active]
        caches.append((cache, s, active))
    return hs, state, (cell, x, params, lengths, reverse, caches, options)


def backward(dhs, cache, dstate_T=None):
    """dhs (B, T, H): ∂L/∂hs from the layer above. dstate_T: ∂L/∂ the final state (a tuple like
    it), zeros if None. Returns dict dx, the parameter gradients (dW, dU, db) and dstate0."""
    cell, x, params, lengths, reverse, caches, options = cache
    back = CELLS[cell][1]
    B, T, _ = x.shape
    rows = np.arange(B)
    if dstate_T is None:
        H = params["U"].shape[1]
        dstate_T = tuple(np.zeros((B, H), dtype=x.dtype) for _ in range(2 if cell == "lstm" else 1))
    dstate = tuple(dstate_T)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dx = np.zeros_like(x)
    for t in reversed(range(T)):
        step_cache, s, active = caches[t]
        mask = active[:, None]
        d = (dstate[0] + dhs[rows, s] * mask,) + dstate[1:]
        # a masked row's step did not happen: it adds nothing, and its gradient passes through
        dx_t, dprev, g = back(tuple(di * mask for di in d), step_cache, params, **options)
        dstate = tuple(np.where(mask, dp, di) for dp, di in zip(dprev, d))
        dx[rows[active], s[active]] = dx_t[active]
        for k in grads:
            grads[k] += g[k]
    return {"dx": dx, "dW": grads["W"], "dU": grads["U"], "db": grads["b"], "dstate0": dstate}


def bidirectional_forward(cell, x, params, params_reverse, lengths=None, **options):
    """Both directions from zero states: ys (B, T, 2H) = [forward | reverse] per step, and each
    direction's forward() result."""
    B, H = x.shape[0], params["U"].shape[1]
    zeros = tuple(np.zeros((B, H), dtype=x.dtype) for _ in range(2 if cell == "lstm" else 1))
    fwd = forward(cell, x, params, zeros, lengths, **options)
    rev = forward(cell, x, params_reverse, zeros, lengths, reverse=True, **options)
    return np.concatenate([fwd[0], rev[0]], axis=2), fwd, rev

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
