"""tmva-lstm: a TMVA-style LSTM with complete backpropagation through time, compiled as a ROOT
library (libTMVALSTM + rootcling dictionary). NumPy arrays in and out.

LSTM, GRU, RNN — one recurrent layer (forward/backward, lengths, bidirectional, weights, gradients); Net — a network booked from TMVA
options, trained and saved; data — ROOT-file readers and the tutorial data set; oracle — the
NumPy reference implementation.
"""

from .layer import GRU, LSTM, RNN
from .net import Net

__all__ = ["GRU", "LSTM", "Net", "RNN"]
__version__ = "0.1.0"
