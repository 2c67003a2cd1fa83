"""Weights to and from PyTorch: to_torch(net) gives a torch module that computes Net.predict
(TorchNet), from_torch(module, …) a Net with a torch network's weights.

The cells line up gate for gate: torch's LSTM blocks are i, f, g, o and its GRU blocks r, z, n,
the order of this library's W, U and b (z is our u). torch has two biases per gate (b_ih, b_hh)
where we have one: ours is their sum, and to_torch writes ours as b_ih with b_hh = 0, so
net → torch → net is bit-identical. torch's GRU is the reset-gate-after form (our
resetGateAfter = 1) with a bias b_hn inside r ⊙ (h W_hnᵀ + b_hn); ours has none there, so a
non-zero b_hn is refused.
"""

import numpy as np

from . import _cpp
from .net import Net

_ACTIVATION_TOKENS = {"tanh": "TANH", "relu": "RELU", "sigmoid": "SIGMOID", None: "LINEAR"}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch interchange needs torch: pip install torch") from None
    return torch


def _modules():
    torch = _torch()

    class TorchNet(torch.nn.Module):
        """A booked layout as torch modules: recurrent layers (batch_first) and Linear layers with
        their activations, flattening between them as Net does; forward(x, lengths=None) returns
        what Net.predict returns (after the output function)."""

        def __init__(self, layers, time_steps, output):
            super().__init__()
            self.layers = torch.nn.ModuleList(m for m, _ in layers)
            self.kinds = [k for _, k in layers]  # ("recurrent", returnSequence) | ("dense", activation) | ("flatten", None)
            self.time_steps, self.output = time_steps, output

        def forward(self, x, lengths=None):
            for module, (kind, extra) in zip(self.layers, self.kinds):
                if kind == "recurrent":
                    if x.dim() == 2:  # a flat input cut into its steps
                        x = x.reshape(len(x), self.time_steps, -1)
                    x = _run_recurrent(torch, module, x, lengths, return_sequence=extra)
                elif kind == "flatten":
                    x = module(x)
                else:
                    x = module(x.flatten(1))
                    x = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}.get(extra, lambda v: v)(x)
            x = x.flatten(1)
            return {"sigmoid": torch.sigmoid, "softmax": lambda v: torch.softmax(v, 1)}.get(self.output, lambda v: v)(x)

    return torch, TorchNet


def _run_recurrent(torch, rnn, x, lengths, return_sequence):
    """Our semantics on torch: past a sample's length the output is 0 and the state held (packed
    sequences; a length of 0 keeps the initial state, 0)."""
    T = x.shape[1]
    if lengths is not None:
        lengths = torch.as_tensor(lengths)
        x = torch.nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                                    enforce_sorted=False)
    out, h = rnn(x)
    h = h[0] if isinstance(h, tuple) else h  # (directions, batch, H); an LSTM gives (h, c)
    if lengths is not None:
        alive = (lengths > 0).to(h.dtype)
        if return_sequence:
            out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)[0]
            out = out * alive[:, None, None]
        h = h * alive[None, :, None]
    return out if return_sequence else torch.cat(list(h), dim=1)


def to_torch(net):
    """A TorchNet with the net's weights, in the net's dtype."""
    torch, TorchNet = _modules()
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    parameters = {k: torch.from_numpy(v) for k, v in net.parameters.items()}  # stacked in torch's gate order
    layers = []
    for l, (prefix, kind, layer) in enumerate(net._layer_specs()):
        if kind in ("LSTM", "GRU", "RNN"):
            if layer.rememberState:
                raise ValueError(f"to_torch: layer {l} ({layer.token}) remembers its state between batches, "
                                 f"which torch's modules do not")
            if kind == "GRU" and not layer.resetGateAfter:
                raise ValueError(f"to_torch: layer {l} ({layer.token}) is TMVA's GRU with the reset gate before "
                                 f"the state product; torch.nn.GRU computes the reset-gate-after form only")
            rnn = getattr(torch.nn, kind)(layer.inputSize, layer.stateSize, batch_first=True,
                                          bidirectional=bool(layer.bidirectional), dtype=dtype)
            for suffix in [""] + (["_reverse"] if layer.bidirectional else []):
                with torch.no_grad():
                    getattr(rnn, f"weight_ih_l0{suffix}").copy_(parameters[f"{prefix}/W{suffix}"])
                    getattr(rnn, f"weight_hh_l0{suffix}").copy_(parameters[f"{prefix}/U{suffix}"])
                    getattr(rnn, f"bias_ih_l0{suffix}").copy_(parameters[f"{prefix}/b{suffix}"][0])
                    getattr(rnn, f"bias_hh_l0{suffix}").zero_()
            layers.append((rnn, ("recurrent", bool(layer.returnSequence))))
        elif kind == "RESHAPE":
            layers.append((torch.nn.Flatten(), ("flatten", None)))
        else:  # DENSE
            W, b = parameters[f"{prefix}/W"], parameters[f"{prefix}/b"][0]
            linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(W), linear.bias.copy_(b)
            act = str(_cpp.ns.ActivationName(layer.activation))
            layers.append((linear, ("dense", None if act == "identity" else act)))
    return TorchNet(layers, net.spec.timeSteps, net.output_function).eval()


def from_torch(modules, time_steps, *, error_strategy="CROSSENTROPY", batch_size=100, dtype=np.float32):
    """A Net with the weights of a torch network given as a TorchNet (to_torch's) or as a list:
    recurrent modules (nn.LSTM, nn.GRU, nn.RNN with tanh; one layer each, batch_first or not,
    bidirectional allowed), nn.Flatten (RESHAPE|FLAT) and nn.Linear modules, each Linear
    optionally followed by "tanh", "relu" or "sigmoid". A recurrent module followed by another recurrent module returns its
    sequence; one followed by a Linear returns its final state when it is the first layer's
    input width, else its flattened sequence. Unsupported settings (proj_size, num_layers > 1,
    relu RNNs, a GRU's non-zero b_hn) are refused, naming them."""
    torch = _torch()
    if hasattr(modules, "kinds"):  # a TorchNet
        items, seq_flags = [], []
        for module, (kind, extra) in zip(modules.layers, modules.kinds):
            items.append(module)
            if kind == "dense" and extra:
                items.append(extra)
            seq_flags.append(extra if kind == "recurrent" else None)
        time_steps = modules.time_steps
    else:
        items, seq_flags = list(modules), None
    tokens, params = [], {}
    for k, m in enumerate(items):
        if isinstance(m, str):
            continue
        nxt = items[k + 1] if k + 1 < len(items) else None
        if isinstance(m, (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN)):
            cell = type(m).__name__
            for attr, bad in (("proj_size", lambda v: v != 0), ("num_layers", lambda v: v != 1)):
                if hasattr(m, attr) and bad(getattr(m, attr)):
                    raise ValueError(f"from_torch: {cell}.{attr} = {getattr(m, attr)} is not supported "
                                     f"(give one layer per module, without projections)")
            if cell == "RNN" and m.nonlinearity != "tanh":
                raise ValueError(f"from_torch: RNN.nonlinearity = {m.nonlinearity!r} is not supported (TMVA's RNN "
                                 f"uses tanh)")
            dirs = 2 if m.bidirectional else 1
            H, D = m.hidden_size, m.input_size
            if seq_flags is not None:
                return_sequence = seq_flags[len(tokens)]
            else:
                return_sequence = isinstance(nxt, (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN, torch.nn.Flatten)) or (
                    isinstance(nxt, torch.nn.Linear) and nxt.in_features == time_steps * dirs * H)
            gru_extra = "|1" if cell == "GRU" else ""
            tokens.append(f"{cell}|{H}|{D}|{time_steps}|0|{int(return_sequence)}{gru_extra}"
                          + ("|BIDIRECTIONAL" if dirs == 2 else ""))
            params[len(tokens) - 1] = (cell, m)
        elif isinstance(m, torch.nn.Flatten):
            tokens.append("RESHAPE|FLAT")
        elif isinstance(m, torch.nn.Linear):
            act = items[k + 1] if isinstance(nxt, str) else None
            if act not in _ACTIVATION_TOKENS:
                raise ValueError(f"from_torch: unknown activation {act!r} (tanh, relu, sigmoid)")
            tokens.append(f"DENSE|{m.out_features}|{_ACTIVATION_TOKENS[act]}")
            params[len(tokens) - 1] = ("DENSE", m)
        else:
            raise ValueError(f"from_torch: {type(m).__name__} is not supported (LSTM, GRU, RNN, Linear)")
    first = next(m for m in items if not isinstance(m, str))
    D = first.input_size if hasattr(first, "input_size") else first.in_features // time_steps
    last = params.get(len(tokens) - 1)
    outputs = last[1].out_features if last and last[0] == "DENSE" else 1
    options = (f"InputLayout={time_steps}|{D}:Layout={','.join(tokens)}:ErrorStrategy={error_strategy}"
               f":TrainingStrategy=BatchSize={batch_size}")
    net = Net(options, n_outputs=outputs, dtype=dtype)
    for l, (cell, m) in params.items():
        prefix = str(net._net.GetLayerName(l))
        if cell == "DENSE":
            net.set_parameter(f"{prefix}/W", m.weight.detach().double().numpy())
            net.set_parameter(f"{prefix}/b", m.bias.detach().double().numpy() if m.bias is not None
                              else np.zeros(m.out_features))
            continue
        H = m.hidden_size
        for suffix, tail in [("", "")] + ([("_reverse", "_reverse")] if m.bidirectional else []):
            get = lambda name: getattr(m, f"{name}_l0{tail}", None)  # noqa: E731
            W, U = get("weight_ih").detach().double().numpy(), get("weight_hh").detach().double().numpy()
            b_ih = get("bias_ih").detach().double().numpy() if m.bias else np.zeros(W.shape[0])
            b_hh = get("bias_hh").detach().double().numpy() if m.bias else np.zeros(W.shape[0])
            if cell == "GRU" and np.any(b_hh[2 * H:] != 0):
                raise ValueError(f"from_torch: GRU bias_hh_l0{tail}[2H:] (b_hn) is not zero; this library's GRU has "
                                 f"no bias inside r * (h W_hn^T + b_hn). Train with it held at zero, or fold it "
                                 f"(not exact)")
            b = b_ih + b_hh if cell != "GRU" else np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]])
            net.set_parameter(f"{prefix}/W{suffix}", W)
            net.set_parameter(f"{prefix}/U{suffix}", U)
            net.set_parameter(f"{prefix}/b{suffix}", b)
    return net
