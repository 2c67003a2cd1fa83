"""from_keras: Keras 3 models (LSTM, GRU in both forms, SimpleRNN, Bidirectional, Flatten, Dense)
imported into a Net predict what the Keras model computes: to 1e-12 in float64 against a NumPy
forward pass written from Keras's own cell code (keras/src/layers/rnn), and to 1e-7 against
Keras itself, whose torch backend runs ops.matmul in float32 even on float64 tensors (Keras
3.15). Unsupported settings are refused by name. Keras runs on the torch backend here."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from tmva_lstm.keras_io import from_keras  # noqa: E402

T, D = 7, 3


@pytest.fixture(autouse=True)
def float64():
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx("float32")


def randomize(model, seed, zero_gru_candidate_bias=True):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = [rng.uniform(-0.5, 0.5, w.shape) for w in layer.get_weights()]
        inner = [layer.forward_layer, layer.backward_layer] if type(layer).__name__ == "Bidirectional" else [layer]
        if weights:
            layer.set_weights(weights)
        for cell in inner:  # Keras's reset-after GRU: our GRU has no bias inside r * (h U_h + b)
            if zero_gru_candidate_bias and type(cell).__name__ == "GRU" and cell.reset_after:
                w = cell.get_weights()
                w[2][1, 2 * cell.units:] = 0
                cell.set_weights(w)
    return model


def model_of(*layers, batch_size=None):
    return keras.Sequential([keras.Input((T, D), batch_size=batch_size)] + list(layers))


L = keras.layers
MODELS = {
    "lstm stack": lambda: model_of(L.LSTM(5, return_sequences=True), L.LSTM(4), L.Dense(6, activation="tanh"),
                                   L.Dense(1, activation="sigmoid")),
    "gru reset after": lambda: model_of(L.GRU(4, return_sequences=True), L.Flatten(), L.Dense(3, activation="softmax")),
    "gru reset before": lambda: model_of(L.GRU(4, reset_after=False), L.Dense(1, activation="sigmoid")),
    "simple rnn": lambda: model_of(L.SimpleRNN(6), L.Dense(2, activation="relu"), L.Dense(1)),
    "bidirectional": lambda: model_of(L.Bidirectional(L.LSTM(3, return_sequences=True)),
                                      L.Bidirectional(L.GRU(2)), L.Dense(1, activation="sigmoid")),
}


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def keras_recurrent(layer, x):
    """Keras's cell equations (Keras's column layout x K + b, its gate order), in float64."""
    kind, w = type(layer).__name__, layer.get_weights()
    K, R = w[0], w[1]
    H = R.shape[0]
    h, c, out = np.zeros((len(x), H)), np.zeros((len(x), H)), []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "SimpleRNN":
            h = np.tanh(xt @ K + w[2] + h @ R)
        elif kind == "LSTM":
            z = xt @ K + h @ R + w[2]
            i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
        elif layer.reset_after:  # GRU, gates z, r, h
            mx, mh = xt @ K + w[2][0], h @ R + w[2][1]
            zz, r = sigmoid(mx[:, :H] + mh[:, :H]), sigmoid(mx[:, H:2 * H] + mh[:, H:2 * H])
            h = zz * h + (1 - zz) * np.tanh(mx[:, 2 * H:] + r * mh[:, 2 * H:])
        else:
            mx = xt @ K + w[2]
            zz, r = sigmoid(mx[:, :H] + h @ R[:, :H]), sigmoid(mx[:, H:2 * H] + h @ R[:, H:2 * H])
            h = zz * h + (1 - zz) * np.tanh(mx[:, 2 * H:] + (r * h) @ R[:, 2 * H:])
        out.append(h)
    return np.stack(out, 1) if layer.return_sequences else h


def keras_forward(model, x):
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Bidirectional":
            back = keras_recurrent(layer.backward_layer, x[:, ::-1])
            back = back[:, ::-1] if layer.forward_layer.return_sequences else back
            x = np.concatenate([keras_recurrent(layer.forward_layer, x), back], axis=-1)
        elif kind in ("LSTM", "GRU", "SimpleRNN"):
            x = keras_recurrent(layer, x)
        elif kind == "Flatten":
            x = x.reshape(len(x), -1)
        else:
            W, b = layer.get_weights()
            x = x @ W + b
            act = layer.activation.__name__
            x = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "sigmoid": sigmoid,
                 "softmax": lambda v: np.exp(v) / np.exp(v).sum(1, keepdims=True)}.get(act, lambda v: v)(x)
    return x


@pytest.mark.parametrize("name", list(MODELS))
def test_predictions_agree(name, rng):
    model = randomize(MODELS[name](), 3)
    x = rng.uniform(-1, 1, (11, T, D))
    net = from_keras(model, dtype=np.float64)
    np.testing.assert_allclose(net.predict(x), keras_forward(model, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.predict(x), model.predict(x, verbose=0), rtol=0, atol=1e-7)


def test_keras_file(tmp_path, rng):
    model = randomize(MODELS["lstm stack"](), 4)
    path = str(tmp_path / "m.keras")
    model.save(path)
    x = rng.uniform(-1, 1, (5, T, D))
    np.testing.assert_allclose(from_keras(path, dtype=np.float64).predict(x), keras_forward(model, x),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("model, message", [
    (lambda: model_of(L.LSTM(3, stateful=True), L.Dense(1), batch_size=4), "stateful = True"),
    (lambda: model_of(L.LSTM(3, go_backwards=True), L.Dense(1)), "go_backwards = True"),
    (lambda: model_of(L.LSTM(3, activation="relu"), L.Dense(1)), "activation = 'relu'"),
    (lambda: model_of(L.GRU(3, recurrent_activation="hard_sigmoid"), L.Dense(1)), "recurrent_activation"),
    (lambda: model_of(L.LSTM(3, return_sequences=True), L.Dense(1)), "Dense on a sequence"),
    (lambda: model_of(L.Bidirectional(L.LSTM(3), merge_mode="sum"), L.Dense(1)), "merge_mode = 'sum'"),
    (lambda: model_of(L.Masking(0.0), L.LSTM(3), L.Dense(1)), "Masking is not supported"),
    (lambda: model_of(L.LSTM(3), L.Dense(2, activation="elu")), "not an output function"),
    (lambda: model_of(L.LSTM(3, return_sequences=True)), "ends with a sequence"),
])
def test_unsupported_settings_are_refused(model, message):
    with pytest.raises(ValueError, match=message):
        from_keras(randomize(model(), 1))


def test_gru_candidate_bias_is_refused():
    model = randomize(model_of(L.GRU(3), L.Dense(1)), 2, zero_gru_candidate_bias=False)
    with pytest.raises(ValueError, match="non-zero recurrent bias for the candidate"):
        from_keras(model)
