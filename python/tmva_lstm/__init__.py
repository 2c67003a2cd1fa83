"""tmva-lstm: a TMVA-style LSTM layer with complete backpropagation through time, compiled as a
ROOT library for CPU (and, later, CUDA) architectures. NumPy arrays in and out."""

from .layer import LSTM

__all__ = ["LSTM"]
__version__ = "0.1.0"
