"""Weights from Keras 3: from_keras(model_or_path) gives a Net that computes the Keras model's
predictions (any Keras backend; the weights are read as NumPy arrays).

Keras keeps a layer's gates side by side in columns, x W + b; ours are stacked in rows, W x.
So each block is transposed, and the blocks are reordered:
- LSTM blocks are i, f, c, o: our i, f, g, o.
- GRU blocks are z, r, h: our r, u, n (z is our u).
  - reset_after=True (Keras's default, cuDNN's form): our resetGateAfter = 1. Its two bias
    rows are summed for z and r. The recurrent bias of h sits inside r ⊙ (h U_h + b), which ours
    does not have, so it must be zero.
  - reset_after=False: TMVA's own GRU (reset gate before the state product), one bias.
- SimpleRNN: our RNN.
- Bidirectional (merge_mode "concat"): our |BIDIRECTIONAL, forward then backward.
- Flatten: our RESHAPE|FLAT.
- Dense: our DENSE, with its activation.
The last Dense's activation becomes the output function (sigmoid: CROSSENTROPY, softmax:
MUTUALEXCLUSIVE, linear: SUMOFSQUARES) and the layer itself LINEAR. Settings that would compute
something else are refused, naming them.
"""

import numpy as np

from .net import Net

_RECURRENT = ("LSTM", "GRU", "SimpleRNN")
_ACTIVATIONS = {"tanh": "TANH", "relu": "RELU", "sigmoid": "SIGMOID", "linear": "LINEAR"}
_OUTPUT = {"sigmoid": "CROSSENTROPY", "softmax": "MUTUALEXCLUSIVE", "linear": "SUMOFSQUARES"}


def _keras():
    try:
        import keras
    except ImportError:
        raise ImportError("Keras interchange needs keras 3 (and a backend): pip install keras") from None
    if not keras.__version__.startswith("3."):
        raise ImportError(f"from_keras: Keras 3 is needed, found {keras.__version__}")
    return keras


def _activation(layer, attribute="activation"):
    return getattr(getattr(layer, attribute), "__name__", str(getattr(layer, attribute)))


def _check_recurrent(layer, where, backward=False):
    """backward: the backward layer of a Bidirectional, which runs go_backwards by design."""
    kind = type(layer).__name__
    for attribute, wrong in (("stateful", True), ("go_backwards", not backward)):
        if getattr(layer, attribute, False) == wrong:
            raise ValueError(f"from_keras: {where} {kind}.{attribute} = {wrong} is not supported")
    if _activation(layer) != "tanh":
        raise ValueError(f"from_keras: {where} {kind}.activation = {_activation(layer)!r} is not supported "
                         f"(TMVA's cells use tanh)")
    if kind != "SimpleRNN" and _activation(layer, "recurrent_activation") != "sigmoid":
        raise ValueError(f"from_keras: {where} {kind}.recurrent_activation = "
                         f"{_activation(layer, 'recurrent_activation')!r} is not supported (TMVA's gates use sigmoid)")


def _cell_parameters(layer, where):
    """W, U, b of one direction in our layout, and the GRU's resetGateAfter (None otherwise)."""
    kind = type(layer).__name__
    weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
    kernel, recurrent = weights[0], weights[1]
    H = recurrent.shape[0]
    bias = weights[2] if len(weights) > 2 else np.zeros(kernel.shape[1])
    if kind != "GRU":  # LSTM: i, f, c, o is our i, f, g, o; SimpleRNN: one block
        return kernel.T, recurrent.T, np.asarray(bias).reshape(-1), None
    order = np.r_[H:2 * H, 0:H, 2 * H:3 * H]  # z, r, h → r, u, n
    if layer.reset_after:
        b_in, b_rec = (bias if bias.ndim == 2 else np.zeros((2, 3 * H)))
        if np.any(b_rec[2 * H:] != 0):
            raise ValueError(f"from_keras: {where} GRU (reset_after=True) has a non-zero recurrent bias for the "
                             f"candidate (bias[1, 2H:]); this library's GRU has none inside r * (h U_h + b). "
                             f"Train with it held at zero, or use reset_after=False")
        bias = np.concatenate([b_in[:2 * H] + b_rec[:2 * H], b_in[2 * H:]])
    return kernel[:, order].T, recurrent[:, order].T, bias[order], bool(layer.reset_after)


def from_keras(model, *, error_strategy=None, batch_size=100, dtype=np.float32):
    """A Net with the weights of a Keras 3 model (a model object or a .keras file): a chain of
    LSTM, GRU, SimpleRNN (each possibly in Bidirectional with merge_mode "concat"), Flatten and
    Dense layers on an input of shape (T, D). error_strategy: by default from the last Dense's
    activation."""
    keras = _keras()
    if isinstance(model, str):
        model = keras.saving.load_model(model)
    shape = tuple(model.input_shape)
    if len(shape) != 3 or shape[1] is None or shape[2] is None:
        raise ValueError(f"from_keras: the model's input must be (batch, T, D) with T and D known, got {shape}")
    T, D = shape[1], shape[2]
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    if not layers:
        raise ValueError("from_keras: the model has no layers")
    tokens, params, sequence = [], [], True  # sequence: the current tensor has a time axis
    width = D
    for k, layer in enumerate(layers):
        kind, where = type(layer).__name__, f"layer {k} ({layer.name})"
        inner = layer.forward_layer if kind == "Bidirectional" else layer
        if kind == "Bidirectional":
            if layer.merge_mode != "concat":
                raise ValueError(f"from_keras: {where} Bidirectional.merge_mode = {layer.merge_mode!r} is not "
                                 f"supported (concat)")
            if type(inner).__name__ not in _RECURRENT:
                raise ValueError(f"from_keras: {where} wraps {type(inner).__name__}, not a recurrent layer")
        if type(inner).__name__ in _RECURRENT:
            if not sequence:
                raise ValueError(f"from_keras: {where} {type(inner).__name__} follows a layer without a time axis")
            directions = [inner] + ([layer.backward_layer] if kind == "Bidirectional" else [])
            for d, backward in zip(directions, (False, True)):
                _check_recurrent(d, where, backward)
            parts = [_cell_parameters(d, where) for d in directions]
            cell = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[type(inner).__name__]
            H = parts[0][1].shape[1]
            returns = bool(inner.return_sequences)
            extra = f"|{int(parts[0][3])}" if cell == "GRU" else ""
            tokens.append(f"{cell}|{H}|{width}|{T}|0|{int(returns)}{extra}" +
                          ("|BIDIRECTIONAL" if len(parts) == 2 else ""))
            params.append((len(tokens) - 1, "recurrent", parts))
            width, sequence = H * len(parts), returns
        elif kind == "Flatten":
            tokens.append("RESHAPE|FLAT")
            width, sequence = (T * width if sequence else width), False
        elif kind == "Dense":
            if sequence:
                raise ValueError(f"from_keras: {where} Dense on a sequence applies to each step in Keras; add "
                                 f"Flatten before it (or return_sequences=False)")
            act = _activation(layer)
            last = k == len(layers) - 1
            if not last and act not in _ACTIVATIONS:
                raise ValueError(f"from_keras: {where} Dense.activation = {act!r} is not supported "
                                 f"({', '.join(_ACTIVATIONS)})")
            if last:
                if act not in _OUTPUT:
                    raise ValueError(f"from_keras: the last Dense's activation {act!r} is not an output function "
                                     f"here ({', '.join(_OUTPUT)})")
                error_strategy = error_strategy or _OUTPUT[act]
                if _OUTPUT[act] != error_strategy:
                    raise ValueError(f"from_keras: the last Dense's activation {act!r} is not the output function "
                                     f"of {error_strategy}")
            weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
            bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[1])
            tokens.append(f"DENSE|{weights[0].shape[1]}|{'LINEAR' if last else _ACTIVATIONS[act]}")
            params.append((len(tokens) - 1, "dense", (weights[0].T, bias)))
            width = weights[0].shape[1]
        else:
            raise ValueError(f"from_keras: {where} {kind} is not supported (LSTM, GRU, SimpleRNN, Bidirectional, "
                             f"Flatten, Dense)")
    if sequence:
        raise ValueError("from_keras: the model ends with a sequence; end it with Flatten and Dense, or "
                         "return_sequences=False")
    last_kind = type(layers[-1]).__name__
    error_strategy = error_strategy or "SUMOFSQUARES"
    if last_kind != "Dense" and error_strategy != "SUMOFSQUARES":
        raise ValueError(f"from_keras: the model does not end with a Dense layer, so it has no output function "
                         f"for {error_strategy}")
    options = (f"InputLayout={T}|{D}:Layout={','.join(tokens)}:ErrorStrategy={error_strategy}"
               f":TrainingStrategy=BatchSize={batch_size}")
    net = Net(options, n_outputs=width, dtype=dtype)
    for l, kind, values in params:
        prefix = str(net._net.GetLayerName(l))
        if kind == "dense":
            net.set_parameter(f"{prefix}/W", values[0])
            net.set_parameter(f"{prefix}/b", values[1])
            continue
        for suffix, (W, U, b, _) in zip(["", "_reverse"], values):
            net.set_parameter(f"{prefix}/W{suffix}", W)
            net.set_parameter(f"{prefix}/U{suffix}", U)
            net.set_parameter(f"{prefix}/b{suffix}", b)
    return net
