"""Net: a network booked from a TMVA option string (tmva_lstm::TDeepNet), trained and evaluated
from NumPy arrays. The training loop, losses and optimizers are the C++ ones; Python only moves
arrays across."""

import functools
import math
import os
import threading

import numpy as np

from . import _cpp
from .data import Stream, _ctype
from .layer import check_lengths

_CTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _dtype_name(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _CTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return _CTYPES[dtype]


def _arch_of(spec, dtype):
    """Architecture=GPU books the CUDA architecture (a clear RuntimeError where there is none)."""
    arch = "cuda" if spec.architecture == "GPU" else "cpu"
    try:
        return _cpp.architecture(arch, _dtype_name(dtype))
    except RuntimeError as e:
        raise RuntimeError(f"Architecture={spec.architecture}: {e}") from None


def _one_at_a_time(method):
    """The C++ network has one set of batch buffers: calls into it from several threads take
    turns (the Net's lock)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


_compiled_loads = set()


def _compile_load(dtype):
    """Has cling compile the calls Net.load's child makes, here and once: what a child compiles
    is lost with it (about 0.5 s a load). A missing file runs them to their first check."""
    if _dtype_name(dtype) in _compiled_loads:
        return
    with _cpp.root_messages_from(_cpp.ROOT.kFatal):  # not ROOT's "no such file"
        for fn in (_cpp.ns.ReadModelOptions,
                   _cpp.template(_cpp.ns, "LoadModel", _cpp.architecture("cpu", _dtype_name(dtype)))):
            try:
                _cpp.call(fn, "/nonexistent/tmva-lstm-model.root")
            except ValueError:
                pass
    _compiled_loads.add(_dtype_name(dtype))


class Net:
    """A network described by TMVA booking options, e.g.

    InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR:
    TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20

    Inputs x are (n, T, D); targets y (n,) or (n, K); weights w (n,); lengths (n,) the number
    of real steps of each sample (0 … T; x right-padded past it), or None for all T.

    Threads: one Net may be used from several threads; its calls take turns (a lock per Net), so
    each gives what it would alone. For inference in parallel, give each thread its own Net (or
    use RReader in C++). forward_batch/backward_batch are a pair for one thread.
    """

    def __init__(self, options, n_outputs=1, dtype=np.float32, *, _net=None, _arch=None):
        self._lock = threading.RLock()
        self.dtype = np.dtype(dtype)
        self.options = options
        self.spec = _cpp.call(_cpp.ns.ParseBookingOptions, options)
        self._arch = _arch or _arch_of(self.spec, self.dtype)
        batch_sizes = {phase.batchSize for phase in self.spec.phases}
        if len(batch_sizes) != 1:
            raise ValueError(f"booking options: every training phase needs the same BatchSize, got {sorted(batch_sizes)}")
        self._net = _net if _net is not None else _cpp.call(_cpp.template(_cpp.ns, "BuildDeepNet", self._arch), self.spec,
                                                            batch_sizes.pop(), int(n_outputs))
        self.history = []
        self._predictor = None  # TPredictor, made by the first predict

    @classmethod
    def load(cls, path, dtype=np.float32):
        """A model saved by save() (or by a macro), with bit-identical predictions. A changed or
        damaged file is refused, naming the entry (every header entry, layer layout and weight
        has a checksum). The file is read in a child process, so that one so damaged that ROOT's
        own reading crashes or hangs raises ValueError instead."""
        path = str(path)

        def read():  # in the child: C++ LoadModel on the CPU, its parameters back
            options = str(_cpp.call(_cpp.ns.ReadModelOptions, path))
            cpu = _cpp.architecture("cpu", _dtype_name(dtype))
            net = cls(options, dtype=dtype, _net=_cpp.call(_cpp.template(_cpp.ns, "LoadModel", cpu), path), _arch=cpu)
            return options, net.batch_size, net.n_outputs, net.parameters

        _compile_load(dtype)
        size = os.path.getsize(path) if os.path.isfile(path) else 0  # weights compress at most ~64x here
        options, batch_size, n_outputs, params = _cpp.run_in_child(read, f"model file '{path}'",
                                                                    memory=(2 << 30) + 64 * size)
        spec = _cpp.call(_cpp.ns.ParseBookingOptions, options)
        arch = _arch_of(spec, dtype)
        net = cls(options, dtype=dtype, _net=_cpp.call(_cpp.template(_cpp.ns, "BuildDeepNet", arch), spec, batch_size,
                                                      n_outputs))
        for name, value in params.items():
            net.set_parameter(name, value)
        return net

    def _phase_batch_size(self):
        return self.spec.phases[0].batchSize

    def _use_batch_size(self, batch_size):
        """The same net, weights included, taking batch_size rows per batch."""
        if batch_size == self.batch_size:
            return
        if batch_size < 1 or self._phase_batch_size() % batch_size:
            raise ValueError(f"BatchSize {self._phase_batch_size()} does not divide into equal shares of "
                             f"{batch_size} rows")
        values = {name: value.copy() for name, value in self.parameters.items()}  # views of the old net
        self._net = _cpp.call(_cpp.template(_cpp.ns, "BuildDeepNet", self._arch), self.spec, int(batch_size),
                              self.n_outputs)
        for name, value in values.items():
            self.set_parameter(name, value)

    # -- shapes --------------------------------------------------------------------------------
    @property
    def batch_size(self):
        return self._net.GetBatchSize()

    @property
    def n_outputs(self):
        return self._net.GetOutputCols()

    @property
    def layout(self):
        return str(self._net.GetLayout())

    def __repr__(self):
        return f"Net({self.layout!r}, batch_size={self.batch_size}, dtype={self.dtype.name})"

    # -- data across the boundary ---------------------------------------------------------------
    def _inputs(self, x, lengths, name):
        """x as (n, T·D) and lengths as (n,), contiguous, in the net's dtype (lengths None: all T)."""
        x = np.asarray(x)
        T, D = self.spec.timeSteps, self.spec.inputSize
        if x.ndim != 3 or x.shape[1:] != (T, D) or len(x) == 0:
            raise ValueError(f"{name} must have shape (n, {T}, {D}) with n >= 1, got {x.shape}")
        n = len(x)
        x = np.ascontiguousarray(x.reshape(n, -1), dtype=self.dtype)
        return x, None if lengths is None else check_lengths(lengths, n, T).astype(self.dtype)

    def _dataset(self, x, y=None, w=None, lengths=None, name="x"):
        """A C++ TDataSet from arrays (converted to the net's dtype; NaN/inf are refused in C++)."""
        x, lengths = self._inputs(x, lengths, name)
        n, K = len(x), self.n_outputs
        y = np.zeros((n, K), self.dtype) if y is None else np.ascontiguousarray(y, dtype=self.dtype).reshape(len(y), -1)
        if y.shape != (n, K):
            raise ValueError(f"targets must have shape ({n},) or ({n}, {K}), got {y.shape}")
        w = np.ones(n, self.dtype) if w is None else np.ascontiguousarray(w, dtype=self.dtype)
        if w.shape != (n,):
            raise ValueError(f"weights must have shape ({n},), got {w.shape}")
        dataset = _cpp.ns.TDataSet[self._arch.Scalar_t](x.shape[1], K)
        if lengths is None:
            _cpp.call(dataset.Append, x, y, w, n)
        else:
            _cpp.call(dataset.Append, x, y, w, n, lengths)
        return dataset

    # -- training and inference -----------------------------------------------------------------
    @_one_at_a_time
    def fit(self, x, y=None, w=None, lengths=None, *, x_valid, y_valid=None, w_valid=None, lengths_valid=None,
            seed=None, verbose=True, buffer_size=100_000, distributed=None, shares=1):
        """Every TrainingStrategy phase in turn; one progress line per epoch when verbose.
        Returns the history: a list of dicts (phase, epoch, train_loss, valid_loss, seconds);
        valid_loss is None after the epochs that TestRepetitions skips.

        x and x_valid may be data.Stream objects instead of arrays: training then reads the files
        chunk by chunk each epoch through a seeded shuffle buffer of buffer_size samples (memory
        follows the buffer, not the data); with a buffer larger than the training part,
        the result is bit-identical to fit on the same samples in memory.

        distributed: a communicator (distributed.mpi()); x, y, … (or the streams) are then this
        process's share of the samples, and the K processes train one model together
        (tmva_lstm.distributed); only rank 0 prints. shares=K in one process trains on the batches
        K processes would (arrays only)."""
        seed = self.spec.seed if seed is None else int(seed)
        if distributed is not None:
            self._use_batch_size(self._phase_batch_size() // distributed.Size())
            verbose = verbose and distributed.Rank() == 0
        if isinstance(x, Stream) or isinstance(x_valid, Stream):
            if not (isinstance(x, Stream) and isinstance(x_valid, Stream)):
                raise TypeError("fit: give both x and x_valid as data.Stream, or both as arrays")
            train, valid = x.to_cpp(_ctype(self.dtype)), x_valid.to_cpp(_ctype(self.dtype))
            if shares != 1:
                raise ValueError("fit: shares (one process standing for several) takes arrays, not streams")
            trainer = _cpp.call(_cpp.ns.TStreamTrainer[self._arch], self._net, int(buffer_size))
            comm = distributed if distributed is not None else _cpp.cppyy.nullptr
            run = lambda phase, k: trainer.Train(phase, train, valid, seed + k, bool(verbose), comm)  # noqa: E731
        else:
            if y is None or y_valid is None:
                raise TypeError("fit: give the targets y and y_valid with array inputs")
            train = self._dataset(x, y, w, lengths)
            valid = self._dataset(x_valid, y_valid, w_valid, lengths_valid, name="x_valid")
            fn = _cpp.template(_cpp.ns, "Train", self._arch)
            comm = distributed if distributed is not None else _cpp.cppyy.nullptr
            run = lambda phase, k: fn(self._net, phase, train, valid, seed + k, bool(verbose),  # noqa: E731
                                      comm, int(shares))
        try:
            for k, phase in enumerate(self.spec.phases):
                records = _cpp.call(run, phase, k)
                self.history += [dict(phase=k, epoch=r.epoch, train_loss=r.trainLoss,
                                      valid_loss=r.validLoss if math.isfinite(r.validLoss) else None,
                                      seconds=r.seconds) for r in records]
        finally:
            self._use_batch_size(self._phase_batch_size())  # after a distributed fit: the booked batch again
        return self.history

    @_one_at_a_time
    def predict(self, x, lengths=None):
        """(n, K) predictions: probabilities for CROSSENTROPY/MUTUALEXCLUSIVE, values for SUMOFSQUARES.
        Each sample is evaluated on its own (TPredictor, at its own batch size, straight from x),
        but with rememberState, where the state runs on from batch to batch of the booked size."""
        if self._net.RemembersState():
            data = self._dataset(x, lengths=lengths)
            out = _cpp.call(_cpp.template(_cpp.ns, "Predict", self._arch), self._net, data)
            return np.array(out, dtype=self.dtype).reshape(data.GetNSamples(), self.n_outputs)
        x, lengths = self._inputs(x, lengths, "x")
        if self._predictor is None:
            self._predictor = _cpp.call(_cpp.ns.TPredictor[self._arch], self.spec, self._net,
                                        int(_cpp.ns.PredictBatchSize(self.spec, self.dtype.itemsize)))
        else:
            self._predictor.SetWeights(self._net)  # the net's weights now (after fit, set_parameter, …)
        out = np.empty((len(x), self.n_outputs), self.dtype)
        ctype = _ctype(self.dtype)
        _cpp.call(self._predictor.Predict[ctype, ctype], x, len(x), _cpp.cppyy.nullptr if lengths is None else lengths,
                  out)
        return out

    @_one_at_a_time
    def loss(self, x, y, w=None, lengths=None):
        """The weighted mean loss over a data set."""
        return float(_cpp.call(_cpp.template(_cpp.ns, "EvaluateLoss", self._arch), self._net, self._dataset(x, y, w, lengths)))

    @_one_at_a_time
    def save(self, path):
        """Write a ROOT file (weights under their true names, layout and options). Written to a
        temporary file first, so a failed save leaves an existing model intact."""
        _cpp.call(_cpp.template(_cpp.ns, "SaveModel", self._arch), self._net, self.options, str(path))

    @_one_at_a_time
    def export_onnx(self, path, lengths=False):
        """Write the net as an ONNX file (needs the onnx package): input x (batch, T, D) float32,
        and with lengths=True also sequence_lens (batch,) int32; output y, as predict gives it.
        See tmva_lstm.onnx_export."""
        from .onnx_export import export_onnx

        return export_onnx(self, str(path), lengths)

    # -- one batch, for checking against the oracle ------------------------------------------------
    def _matrix(self, array, name):
        array = np.ascontiguousarray(array, dtype=self.dtype)
        m = self._arch.Matrix_t(*(array.shape if array.ndim == 2 else (1, array.size)))
        _cpp.call(self._arch.CopyFromHost, m.View(), array, array.size, name)
        return m

    def _to_numpy(self, view):
        out = np.empty((view.rows, view.cols), dtype=self.dtype)
        _cpp.call(self._arch.CopyToHost, out, out.size, view)
        return out

    @_one_at_a_time
    def forward_batch(self, x, lengths=None, training=False):
        """Raw network output (before σ/softmax) for one batch x (B, T, D); training applies the
        first phase's dropout."""
        self._x = self._matrix(np.reshape(x, (self.batch_size, -1)), "x")
        self._l = None if lengths is None else self._matrix(
            check_lengths(lengths, self.batch_size, self.spec.timeSteps).reshape(-1, 1), "lengths")
        if training:
            _cpp.call(self._net.SetDropout, self.spec.phases[0].dropout, self.spec.seed)
        _cpp.call(self._net.Forward, self._x, self._l if self._l is not None else _cpp.cppyy.nullptr, bool(training))
        return self._to_numpy(self._net.GetOutput().View())

    @_one_at_a_time
    def backward_batch(self, y, w):
        """After forward_batch: the loss value, and every parameter gradient by name."""
        Y, W = self._matrix(np.reshape(y, (self.batch_size, -1)), "y"), self._matrix(w, "w")
        loss = float(_cpp.call(self._net.Loss, Y, W))
        _cpp.call(self._net.Backward, Y, W)
        return loss, {name: self._to_numpy(g.View()) for name, (_, g) in self._parameters().items()}

    def _layers(self):
        """(model-file name, C++ layer) for every layer, e.g. ("layer0_LSTM", TBasicLSTMLayer)."""
        return [(str(self._net.GetLayerName(l)), self._net.GetLayerAt(l)) for l in range(self._net.GetDepth())]

    def _layer_specs(self):
        """(model-file name, kind, TLayerSpec) for every layer, for the exporters; kind is LSTM,
        GRU, RNN, DENSE or RESHAPE (the name's suffix: layer<l>_<KIND>)."""
        return [(name, name.split("_", 1)[1], spec) for (name, _), spec in zip(self._layers(), self.spec.layers)]

    @property
    def output_function(self):
        """What predict applies to the last layer: "sigmoid" (CROSSENTROPY), "softmax"
        (MUTUALEXCLUSIVE) or None (SUMOFSQUARES)."""
        loss = _cpp.ns.ELossFunction
        return {int(loss.kCrossEntropy): "sigmoid", int(loss.kSoftmaxCrossEntropy): "softmax"}.get(int(self.spec.loss))

    def _parameters(self):
        return {f"{prefix}/{p.name}": (p.value, p.gradient)
                for prefix, layer in self._layers() for p in layer.GetParameters()}

    @property
    @_one_at_a_time
    def weights(self):
        """Every weight under its true name, as in the model file (e.g. layer0_LSTM/W_f)."""
        return {f"{prefix}/{named.first}": self._to_numpy(named.second)
                for prefix, layer in self._layers() for named in layer.GetNamedWeights()}

    @property
    @_one_at_a_time
    def parameters(self):
        """Stacked parameters, e.g. layer0_LSTM/W (4H, D); assignable with set_parameter."""
        return {name: self._to_numpy(v.View()) for name, (v, _) in self._parameters().items()}

    @_one_at_a_time
    def set_parameter(self, name, value):
        params = self._parameters()
        if name not in params:
            raise KeyError(f"no parameter {name!r} (have {', '.join(params)})")
        v = params[name][0]
        value = np.asarray(value, dtype=self.dtype)
        if value.size != v.GetNoElements():
            raise ValueError(f"{name} must have {v.GetNrows()}x{v.GetNcols()} values, got shape {value.shape}")
        _cpp.call(self._arch.CopyFromHost, v.View(), np.ascontiguousarray(value), value.size, name)
