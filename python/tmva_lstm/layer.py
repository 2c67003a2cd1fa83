"""LSTM, GRU, RNN: the Python face of tmva_lstm's recurrent layers (TBasicLSTMLayer,
TBasicGRULayer, TBasicRNNLayer, and TBidirectionalLayer around two of them). NumPy arrays in and
out; every array crosses with one bulk copy and is checked (dtype, contiguity, shape, finite
values) on the way."""

import numpy as np

from . import _cpp

_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
_CELLS = {"lstm": "kLSTM", "gru": "kGRU", "rnn": "kRNN"}


def _size(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_lengths(lengths, n, time_steps):
    """lengths as an (n,) int64 array: integers 0 … time_steps, one per sample; else ValueError."""
    a = np.asarray(lengths)
    if a.shape != (n,):
        raise ValueError(f"lengths must have one entry per sample, shape ({n},), got {a.shape}")
    if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a))):
        raise ValueError(f"lengths must be integers, got dtype {a.dtype}")
    bad = np.flatnonzero((a < 0) | (a > time_steps))
    if bad.size:
        raise ValueError(f"lengths must be between 0 and T = {time_steps}: sample {bad[0]} has length {a[bad[0]]}")
    return a.astype(np.int64)


class _Direction:
    """Parameters, state and gradients of one direction (a C++ VRecurrentLayer)."""

    def __init__(self, owner, layer):
        self._owner, self._d = owner, layer

    def _get(self, view, shape):
        return self._owner._get(view, shape)

    def _put(self, view, value, shape, name):
        self._owner._put(view, value, shape, name)

    def _matrix_property(name, getter, shape, doc, settable=True, lstm_only=False):
        def fget(self):
            self._require_cell(name, lstm_only)
            return self._get(getattr(self._d, getter)().View(), shape(self._owner))

        def fset(self, value):
            self._require_cell(name, lstm_only)
            self._put(getattr(self._d, getter)().View(), value, shape(self._owner), name)

        return property(fget, fset if settable else None, doc=doc)

    def _view_property(name, getter, doc, lstm_only=False):  # read-only (B, H) views into the layer's stacks
        def fget(self):
            self._require_cell(name, lstm_only)
            return self._get(getattr(self._d, getter)(), (self._owner.batch_size, self._owner.state_size))

        return property(fget, doc=doc)

    def _require_cell(self, name, lstm_only):
        if lstm_only and self._owner.cell != "lstm":
            raise AttributeError(f"{name}: only the LSTM has a cell state")

    _GHxD = lambda s: (s.gates * s.state_size, s.input_size)  # noqa: E731
    _GHxH = lambda s: (s.gates * s.state_size, s.state_size)  # noqa: E731
    _GH = lambda s: (s.gates * s.state_size,)  # noqa: E731
    _BxH = lambda s: (s.batch_size, s.state_size)  # noqa: E731

    W = _matrix_property("W", "GetWeightsInput", _GHxD, "input weights, one H-row block per gate (G·H, D)")
    U = _matrix_property("U", "GetWeightsState", _GHxH, "state weights (G·H, H)")
    b = _matrix_property("b", "GetBiases", _GH, "biases (G·H,)")
    h0 = _matrix_property("h0", "GetInitialState", _BxH, "initial state h_0 of the next forward (B, H)")
    c0 = _matrix_property("c0", "GetInitialCell", _BxH, "LSTM: initial cell state c_0 (B, H)", lstm_only=True)
    dW = _matrix_property("dW", "GetWeightInputGradients", _GHxD, "∂L/∂W after backward", False)
    dU = _matrix_property("dU", "GetWeightStateGradients", _GHxH, "∂L/∂U after backward", False)
    db = _matrix_property("db", "GetBiasGradients", _GH, "∂L/∂b after backward", False)
    h_T = _view_property("h_T", "GetState", "final state of the last forward (B, H): each sample's, after its length")
    c_T = _view_property("c_T", "GetCell", "LSTM: final cell state of the last forward (B, H)", lstm_only=True)
    dh0 = _view_property("dh0", "GetInitialStateGradient", "∂L/∂h_0 after backward (B, H)")
    dc0 = _view_property("dc0", "GetInitialCellGradient", "LSTM: ∂L/∂c_0 after backward (B, H)", lstm_only=True)

    del _matrix_property, _view_property, _GHxD, _GHxH, _GH, _BxH


class _Recurrent(_Direction):
    """A recurrent layer for batches x of shape (B, T, D); see LSTM, GRU and RNN.

    forward(x, lengths=None) returns (B, T, H·n) with return_sequence, else the final state
    (B, H·n), n = 2 when bidirectional ([forward | reverse]); backward(dy) returns dx and leaves
    the gradients readable. W, U, b, h0 (c0) and their gradients belong to the forward direction;
    `reverse` holds the reverse direction's (bidirectional only, else None).
    """

    cell = None
    gates = None

    def __init__(self, batch_size, state_size, input_size, time_steps, *, dtype=np.float32, remember_state=False,
                 return_sequence=False, bidirectional=False, gate_activation="sigmoid", activation="tanh",
                 init="xavier_uniform", seed=0, arch="cpu", _reset_gate_after=False):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.batch_size, self.state_size = _size("batch_size", batch_size), _size("state_size", state_size)
        self.input_size, self.time_steps = _size("input_size", input_size), _size("time_steps", time_steps)
        self.remember_state, self.return_sequence = bool(remember_state), bool(return_sequence)
        self.bidirectional = bool(bidirectional)
        if self.bidirectional and self.remember_state:
            raise ValueError("a bidirectional layer cannot remember its state between batches")
        self.gate_activation, self.activation = gate_activation, activation
        self._arch = _cpp.architecture(arch, _DTYPES[self.dtype])
        ns = _cpp.ns
        f1 = _cpp.call(ns.ActivationFromName, gate_activation)
        f2 = _cpp.call(ns.ActivationFromName, activation)
        initialization = _cpp.call(ns.InitializationFromName, init)
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        B, H, D, T = self.batch_size, self.state_size, self.input_size, self.time_steps
        spec = ns.TLayerSpec()
        spec.kind, spec.cell = ns.TLayerSpec.kRecurrent, getattr(ns.ERecurrentCell, _CELLS[self.cell])
        spec.stateSize, spec.inputSize, spec.timeSteps = H, D, T
        spec.rememberState, spec.returnSequence = self.remember_state, self.return_sequence
        spec.resetGateAfter, spec.bidirectional = bool(_reset_gate_after), self.bidirectional
        # a std::unique_ptr that cppyy shows as the layer itself, cast to its class
        layer = _cpp.call(_cpp.template(ns, "MakeRecurrentLayer", self._arch), spec, B, f1, f2, 0)
        self._owned = layer
        cell_class = getattr(ns, self._CPP_CLASS)[self._arch]
        as_class = lambda obj, cls: _cpp.cppyy.bind_object(_cpp.cppyy.addressof(obj), cls)  # noqa: E731
        if self.bidirectional:
            self._layer = as_class(layer, ns.TBidirectionalLayer[self._arch])
            super().__init__(self, as_class(self._layer.GetForwardLayer(), cell_class))
            self.reverse = _Direction(self, as_class(self._layer.GetReverseLayer(), cell_class))
        else:
            self._layer = as_class(layer, cell_class)
            super().__init__(self, self._layer)
            self.reverse = None
        _cpp.call(self._layer.Initialize, initialization, _cpp.cppyy.gbl.std.mt19937_64(int(seed)))
        Matrix = self._arch.Matrix_t
        out = self._layer.GetOutputCols()
        self._x, self._dx, self._y, self._dy = Matrix(B, T * D), Matrix(B, T * D), Matrix(B, out), Matrix(B, out)
        self._dh_T, self._dc_T, self._lengths = Matrix(B, H), Matrix(B, H), Matrix(B, 1)
        width = H * (2 if self.bidirectional else 1)
        self.output_shape = (B, T, width) if self.return_sequence else (B, width)

    def __repr__(self):
        return (f"{type(self).__name__}(batch_size={self.batch_size}, state_size={self.state_size}, "
                f"input_size={self.input_size}, time_steps={self.time_steps}, dtype={self.dtype.name}, "
                f"remember_state={self.remember_state}, return_sequence={self.return_sequence}, "
                f"bidirectional={self.bidirectional})")

    # -- crossing the boundary ---------------------------------------------------------------
    def _put(self, view, array, shape, name):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(array).__name__}")
        if array.dtype != self.dtype:
            raise TypeError(f"{name} has dtype {array.dtype}, the layer is {self.dtype.name}")
        if array.shape != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}")
        if not array.flags.c_contiguous:
            raise ValueError(f"{name} is not C-contiguous; pass numpy.ascontiguousarray({name})")
        _cpp.call(self._arch.CopyFromHost, view, array, array.size, name)

    def _get(self, view, shape):
        out = np.empty(shape, dtype=self.dtype)
        _cpp.call(self._arch.CopyToHost, out, out.size, view)
        return out

    # -- forward and backward ----------------------------------------------------------------
    def forward(self, x, lengths=None):
        """x (B, T, D) -> output (B, T, H) with return_sequence, else the final state (B, H)
        (2H bidirectional). lengths (B,): each sample's steps 0 … T, x right-padded past them;
        the output is 0 there and the final state is the state after the last step."""
        self._put(self._x.View(), x, (self.batch_size, self.time_steps, self.input_size), "x")
        if lengths is None:
            _cpp.call(self._layer.SetLengths, _cpp.cppyy.nullptr)
        else:
            lengths = check_lengths(lengths, self.batch_size, self.time_steps).astype(self.dtype)
            self._put(self._lengths.View(), lengths.reshape(-1, 1), (self.batch_size, 1), "lengths")
            _cpp.call(self._layer.SetLengths, self._lengths)
        _cpp.call(self._layer.Forward, self._x, self._y)
        return self._get(self._y.View(), self.output_shape)

    def backward(self, dy, dh_T=None, dc_T=None):
        """dy = ∂L/∂output (shaped like the output); dh_T, dc_T (one direction only): optional
        ∂L/∂h_T, ∂L/∂c_T (LSTM). Returns dx = ∂L/∂x (B, T, D)."""
        self._put(self._dy.View(), dy, self.output_shape, "dy")
        if self.bidirectional and (dh_T is not None or dc_T is not None):
            raise ValueError("dh_T and dc_T: a bidirectional layer exposes no final state to take gradients from")
        if dc_T is not None and self.cell != "lstm":
            raise ValueError(f"dc_T: a {self.cell.upper()} has no cell state")
        if self.bidirectional:
            _cpp.call(self._layer.Backward, self._dy, self._dx)
        else:
            state = (self.batch_size, self.state_size)
            if dh_T is not None:
                self._put(self._dh_T.View(), dh_T, state, "dh_T")
            if dc_T is not None:
                self._put(self._dc_T.View(), dc_T, state, "dc_T")
            _cpp.call(self._layer.Backward, self._dy, self._dx,
                      self._dh_T if dh_T is not None else _cpp.cppyy.nullptr,
                      self._dc_T if dc_T is not None else _cpp.cppyy.nullptr)
        return self._get(self._dx.View(), (self.batch_size, self.time_steps, self.input_size))

    def init_state(self):
        """h0 (c0) = 0, dropping any state carried by remember_state."""
        self._layer.ResetState()


class LSTM(_Recurrent):
    """An LSTM layer, gate order i, f, g, o (G = 4): TMVA's TBasicLSTMLayer."""

    cell, gates, _CPP_CLASS = "lstm", 4, "TBasicLSTMLayer"


class GRU(_Recurrent):
    """A GRU layer, gate order r, u, n (G = 3): TMVA's TBasicGRULayer. reset_gate_after=False
    (TMVA's default) applies the reset gate before the state product, True after it (PyTorch's
    and cuDNN's form)."""

    cell, gates, _CPP_CLASS = "gru", 3, "TBasicGRULayer"

    def __init__(self, *args, reset_gate_after=False, **kwargs):
        self.reset_gate_after = bool(reset_gate_after)
        super().__init__(*args, _reset_gate_after=reset_gate_after, **kwargs)


class RNN(_Recurrent):
    """A simple recurrent layer, h_t = f(x_t Wᵀ + h_{t-1} Uᵀ + b) with f = `activation` (G = 1):
    TMVA's TBasicRNNLayer."""

    cell, gates, _CPP_CLASS = "rnn", 1, "TBasicRNNLayer"
