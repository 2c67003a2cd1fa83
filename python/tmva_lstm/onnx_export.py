"""A Net as an ONNX graph: ONNX's own LSTM, GRU and RNN operators (bidirectional, with
sequence_lens), Gemm for the dense layers, Flatten and Reshape between them, and the net's output
function, so that ONNX Runtime, SOFIE or any other engine reproduces Net.predict.

Graph inputs: x (batch, T, D) float32, and with lengths=True sequence_lens (batch,) int32 (each
sample's steps, 0 … T, as Net.predict's lengths). Output: y (batch, K), what Net.predict gives:
probabilities for CROSSENTROPY (sigmoid) and MUTUALEXCLUSIVE (softmax), values for SUMOFSQUARES.

Gate order. This library stores LSTM blocks as i, f, g, o and GRU blocks as r, u, n (TMVA's);
ONNX wants i, o, f, c and z (= u), r, h (= n). Biases: ONNX adds Wb + Rb; ours is one b per gate,
so Rb = 0, which also gives the GRU's recurrent candidate term no bias, as ours has none
(linear_before_reset = TMVA's resetGateAfter).
"""

import numpy as np

from . import _cpp
from ._io import replacing

# The file loads in ONNX Runtime 1.17 and newer and in SOFIE: IR version 8 with opset 17 (onnx
# 1.23 writes IR 14 by default, which onnxruntime 1.31 refuses).
OPSET, IR_VERSION = 17, 8
# Per cell: ONNX's operator and, in ONNX's gate order, the index of each of our gate blocks
# (LSTM i, f, g, o → i, o, f, c; GRU r, u, n → z, r, h; RNN one block).
_CELLS = {"LSTM": ("LSTM", [0, 3, 1, 2]), "GRU": ("GRU", [1, 0, 2]), "RNN": ("RNN", [0])}
_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "identity": None}
_OUTPUTS = {"sigmoid": "Sigmoid", "softmax": "Softmax", None: "Identity"}


class _Graph:
    """Nodes and initializers of the graph being built, with fresh tensor names."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem, array):
        name = self.name(stem)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, n_outputs=1, stem=None, **attributes):
        outputs = [self.name(stem or op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, **attributes))
        return outputs if n_outputs > 1 else outputs[0]


def _recurrent(g, cell, layer, prefix, parameters, x, lens):
    """One recurrent layer on x (batch, T, D): its output (batch, T, dirs·H) with returnSequence,
    else (batch, dirs·H), and whether it is a sequence."""
    op_type, order = _CELLS[cell]
    H = layer.stateSize
    suffixes = [""] + (["_reverse"] if layer.bidirectional else [])

    def onnx_order(name):  # our stacked parameter (G·H, cols), its gate blocks in ONNX's order
        A = parameters[f"{prefix}/{name}"]
        return A.reshape(len(order), H, -1)[order].reshape(len(order) * H, -1)

    W = np.stack([onnx_order("W" + s) for s in suffixes])                  # (dirs, G·H, D)
    R = np.stack([onnx_order("U" + s) for s in suffixes])                  # (dirs, G·H, H)
    Wb = np.stack([onnx_order("b" + s).reshape(-1) for s in suffixes])     # (dirs, G·H)
    B = np.concatenate([Wb, np.zeros_like(Wb)], axis=1)                    # Rb = 0
    attributes = {"hidden_size": H, "direction": "bidirectional" if layer.bidirectional else "forward"}
    if cell == "GRU":
        attributes["linear_before_reset"] = int(layer.resetGateAfter)
    time_major = g.op("Transpose", [x], perm=[1, 0, 2])
    n_outputs = 3 if cell == "LSTM" else 2
    outputs = g.op(op_type, [time_major, g.constant(f"{prefix}_W", W), g.constant(f"{prefix}_R", R),
                             g.constant(f"{prefix}_B", B), lens or ""], n_outputs=n_outputs, stem=prefix,
                   **attributes)
    Y, Y_h = outputs[0], outputs[1]
    if layer.returnSequence:  # Y (T, dirs, batch, H) → (batch, T, dirs·H): [forward | reverse] per step
        batch_major = g.op("Transpose", [Y], perm=[2, 0, 1, 3])
        return g.op("Reshape", [batch_major, g.constant("shape", np.array([0, 0, -1], np.int64))]), True
    batch_major = g.op("Transpose", [Y_h], perm=[1, 0, 2])                  # Y_h (dirs, batch, H)
    return g.op("Reshape", [batch_major, g.constant("shape", np.array([0, -1], np.int64))]), False


def to_onnx(net, lengths=False):
    """The ModelProto of `net` (see the module's docstring); checked by onnx.checker."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install onnx") from None

    spec = net.spec
    T, D = spec.timeSteps, spec.inputSize
    parameters = {k: v.astype(np.float32) for k, v in net.parameters.items()}
    g = _Graph()
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", T, D])]
    lens = None
    if lengths:
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["batch"]))
        lens = "sequence_lens"
    x, sequence = "x", True  # the running tensor: (batch, T, F) when a sequence, else (batch, N)
    for l, (prefix, kind, layer) in enumerate(net._layer_specs()):
        if kind in _CELLS:
            if layer.rememberState:
                raise ValueError(f"export_onnx: layer {l} ({layer.token}) remembers its state between batches; "
                                 f"an ONNX graph has no state, so its predictions could not be reproduced")
            if not sequence:  # a flat input cut into its steps
                x = g.op("Reshape", [x, g.constant("shape", np.array([0, layer.timeSteps, layer.inputSize], np.int64))])
            x, sequence = _recurrent(g, kind, layer, prefix, parameters, x, lens)
        elif kind == "RESHAPE":
            x, sequence = g.op("Flatten", [x], axis=1), False
        else:  # DENSE: y = x Wᵀ + b, then the activation
            if sequence:
                x, sequence = g.op("Flatten", [x], axis=1), False
            W, b = parameters[f"{prefix}/W"], parameters[f"{prefix}/b"].reshape(-1)
            x = g.op("Gemm", [x, g.constant(f"{prefix}_W", W), g.constant(f"{prefix}_b", b)], transB=1)
            act = _ACTIVATIONS[str(_cpp.ns.ActivationName(layer.activation))]
            if act:
                x = g.op(act, [x])
    if sequence:
        x = g.op("Flatten", [x], axis=1)
    output = _OUTPUTS[net.output_function]
    g.nodes.append(helper.make_node(output, [x], ["y"], **({"axis": 1} if output == "Softmax" else {})))
    graph = helper.make_graph(g.nodes, "tmva_lstm", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", net.n_outputs])],
                              g.initializers)
    model = helper.make_model(graph, producer_name="tmva_lstm", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = f"tmva_lstm network {net.layout}; booked as: {net.options}"
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(net, path, lengths=False):
    """Writes `net` as an ONNX file (whole or not at all: an existing file at path stays as it
    was if anything fails)."""
    model = to_onnx(net, lengths)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    return path
