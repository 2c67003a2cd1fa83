"""LSTM: the Python face of tmva_lstm::TBasicLSTMLayer. NumPy arrays in and out; every array
crosses with one bulk copy and is checked (dtype, contiguity, shape, finite values) on the way."""

import numpy as np

from . import _cpp

_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _size(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class LSTM:
    """An LSTM layer (gate order i, f, g, o) for batches x of shape (B, T, D).

    forward(x) returns (B, T, H) with return_sequence, else h_T (B, H); backward(dy) returns dx
    and leaves dW, dU, db, dh0, dc0 readable. W (4H, D), U (4H, H), b (4H,), h0 and c0 (B, H)
    can be read and set; h_T and c_T are the final state of the last forward.
    """

    def __init__(self, batch_size, state_size, input_size, time_steps, *, dtype=np.float32,
                 remember_state=False, return_sequence=False, gate_activation="sigmoid",
                 activation="tanh", init="xavier_uniform", seed=0, arch="cpu"):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.batch_size, self.state_size = _size("batch_size", batch_size), _size("state_size", state_size)
        self.input_size, self.time_steps = _size("input_size", input_size), _size("time_steps", time_steps)
        self.remember_state, self.return_sequence = bool(remember_state), bool(return_sequence)
        self.gate_activation, self.activation = gate_activation, activation
        self._arch = _cpp.architecture(arch, _DTYPES[self.dtype])
        ns = _cpp.ns
        f1 = _cpp.call(ns.ActivationFromName, gate_activation)
        f2 = _cpp.call(ns.ActivationFromName, activation)
        initialization = _cpp.call(ns.InitializationFromName, init)
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        B, H, D, T = self.batch_size, self.state_size, self.input_size, self.time_steps
        self._layer = _cpp.call(ns.TBasicLSTMLayer[self._arch], B, H, D, T, self.remember_state,
                                self.return_sequence, f1, f2, initialization, int(seed))
        Matrix = self._arch.Matrix_t
        self._x, self._dx = Matrix(B, T * D), Matrix(B, T * D)
        self._y, self._dy = Matrix(B, self._layer.GetOutputCols()), Matrix(B, self._layer.GetOutputCols())
        self._dh_T, self._dc_T = Matrix(B, H), Matrix(B, H)
        self.output_shape = (B, T, H) if self.return_sequence else (B, H)

    def __repr__(self):
        return (f"LSTM(batch_size={self.batch_size}, state_size={self.state_size}, input_size={self.input_size}, "
                f"time_steps={self.time_steps}, dtype={self.dtype.name}, remember_state={self.remember_state}, "
                f"return_sequence={self.return_sequence})")

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
    def forward(self, x):
        """x (B, T, D) -> output (B, T, H) with return_sequence, else h_T (B, H)."""
        self._put(self._x.View(), x, (self.batch_size, self.time_steps, self.input_size), "x")
        _cpp.call(self._layer.Forward, self._x, self._y)
        return self._get(self._y.View(), self.output_shape)

    def backward(self, dy, dh_T=None, dc_T=None):
        """dy = ∂L/∂output (shaped like the output); dh_T, dc_T: optional ∂L/∂h_T, ∂L/∂c_T.
        Returns dx = ∂L/∂x (B, T, D)."""
        self._put(self._dy.View(), dy, self.output_shape, "dy")
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
        """h0 = c0 = 0, dropping any state carried by remember_state."""
        self._layer.InitState()

    # -- parameters, state and gradients -------------------------------------------------------
    def _matrix_property(name, getter, shape, doc, settable=True):
        def fget(self):
            return self._get(getattr(self._layer, getter)().View(), shape(self))

        def fset(self, value):
            self._put(getattr(self._layer, getter)().View(), value, shape(self), name)

        return property(fget, fset if settable else None, doc=doc)

    _4HxD = lambda s: (4 * s.state_size, s.input_size)  # noqa: E731
    _4HxH = lambda s: (4 * s.state_size, s.state_size)  # noqa: E731
    _4H = lambda s: (4 * s.state_size,)  # noqa: E731
    _BxH = lambda s: (s.batch_size, s.state_size)  # noqa: E731

    W = _matrix_property("W", "GetWeightsInput", _4HxD, "input weights [W_i; W_f; W_g; W_o] (4H, D)")
    U = _matrix_property("U", "GetWeightsState", _4HxH, "state weights [U_i; U_f; U_g; U_o] (4H, H)")
    b = _matrix_property("b", "GetBiases", _4H, "biases [b_i, b_f, b_g, b_o] (4H,)")
    h0 = _matrix_property("h0", "GetInitialState", _BxH, "initial state h_0 of the next forward (B, H)")
    c0 = _matrix_property("c0", "GetInitialCell", _BxH, "initial cell state c_0 of the next forward (B, H)")
    dW = _matrix_property("dW", "GetWeightInputGradients", _4HxD, "∂L/∂W after backward", False)
    dU = _matrix_property("dU", "GetWeightStateGradients", _4HxH, "∂L/∂U after backward", False)
    db = _matrix_property("db", "GetBiasGradients", _4H, "∂L/∂b after backward", False)

    def _state_view_property(getter, doc):  # read-only (B, H) views into the layer's stacks
        return property(lambda self: self._get(getattr(self._layer, getter)(), (self.batch_size, self.state_size)),
                        doc=doc)

    h_T = _state_view_property("GetState", "final state h_T of the last forward (B, H)")
    c_T = _state_view_property("GetCell", "final cell state c_T of the last forward (B, H)")
    dh0 = _state_view_property("GetInitialStateGradient", "∂L/∂h_0 after backward (B, H)")
    dc0 = _state_view_property("GetInitialCellGradient", "∂L/∂c_0 after backward (B, H)")

    del _matrix_property, _state_view_property, _4HxD, _4HxH, _4H, _BxH
