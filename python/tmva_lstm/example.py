"""PyROOT example: build a network from a TMVA booking string, read a ROOT file, fit, predict.

    python -m tmva_lstm.example [file.root]

The layer and network objects are the C++ ones (tmva_lstm::TDeepNet<TCpu<float>> …), reached
through PyROOT; tmva_lstm.Net only moves NumPy arrays across.
"""

import os
import sys

import numpy as np

from tmva_lstm import Net, data, metrics
from tmva_lstm._cpp import ROOT


def main(path="data/time_data_t10_d30.root"):
    if not os.path.exists(path):
        data.make_tutorial_data(path, n_signal=2000, n_background=2000, seed=1)

    # Samples from the trees sgn/bkg with ROOT's TTreeReader (data.read_uproot gives the same arrays).
    samples = data.read_root(path, data.Description.tutorial())
    parts = data.split(samples, seed=1)

    net = Net("InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR"
              ":ErrorStrategy=CROSSENTROPY:RandomSeed=1"
              ":TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=10,ConvergenceSteps=5")
    train, valid, test = parts["train"], parts["valid"], parts["test"]
    net.fit(train.x, train.y, train.w, x_valid=valid.x, y_valid=valid.y, w_valid=valid.w)

    p = net.predict(test.x)[:, 0]
    print(f"test ROC AUC {metrics.roc_auc(test.y, p):.4f}")

    # The C++ objects are right there: e.g. the LSTM layer's forget-gate input weights W_f.
    lstm = net._net.GetLayerAt(0)
    print("first layer:", type(lstm).__cpp_name__, "W_f is", np.shape(net.weights["layer0_LSTM/W_f"]))
    print("ROOT", ROOT.gROOT.GetVersion())


if __name__ == "__main__":
    main(*sys.argv[1:])
