"""tmva-lstm: a TMVA-style LSTM with complete backpropagation through time, compiled as a ROOT
library (libTMVALSTM + rootcling dictionary). NumPy arrays in and out.

LSTM — one layer (forward/backward, weights, gradients); Net — a network booked from TMVA
options, trained and saved; data — ROOT-file readers and the tutorial data set; oracle — the
NumPy reference implementation.
"""

from .layer import LSTM
from .net import Net

__all__ = ["LSTM", "Net"]
__version__ = "0.1.0"
