"""The main job, shared by `tmva-lstm demo|train|evaluate` and the example script: read samples
from a ROOT file, split them, train a booked network, evaluate it, save the model and plots."""

import json
import os
import time

import numpy as np

from . import data, metrics, plots
from .net import Net

# TMVA's RNN tutorial network (TMVA_RNN_Classification.C), on its data set.
TUTORIAL_OPTIONS = ("!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIERUNIFORM"
                    ":RandomSeed=1:ValidationSize=20%:InputLayout=10|30"
                    ":Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR"
                    ":TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20,"
                    "ConvergenceSteps=10")
DEFAULT_DATA = os.path.join("data", "time_data_t10_d30.root")
# An LSTM over the tracks of a jet (data.Description.tracks: 5 features, the 15 tracks of largest
# |d0 significance|, padded, with lengths); the output is each jet's state after its last track.
TRACKS_OPTIONS = ("!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIERUNIFORM"
                  ":RandomSeed=1:ValidationSize=20%:InputLayout=15|5"
                  ":Layout=LSTM|16|5|15|0|0,DENSE|32|TANH,LINEAR"
                  ":TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20,"
                  "ConvergenceSteps=10")
TRACKS_DATA = os.path.join("data", "tracks.root")
# TMVA_RNN_Classification.C books these three side by side (its use_type 3).
TUTORIAL_CELLS = ("RNN", "LSTM", "GRU")


def tutorial_options(cell):
    """The tutorial's booking string with its recurrent layer made of `cell` (RNN, LSTM, GRU)."""
    return TUTORIAL_OPTIONS.replace("Layout=LSTM|", f"Layout={cell}|")


def load_splits(path, description, *, reader="root", seed=1, valid_fraction=0.2, test_fraction=0.2):
    samples = data.READERS[reader](path, description)
    return data.split(samples, test_fraction=test_fraction, valid_fraction=valid_fraction, seed=seed)


def fit(net, splits, seed, verbose):
    """Train on splits["train"], validate on splits["valid"]; returns the seconds it took."""
    train, valid = splits["train"], splits["valid"]
    start = time.perf_counter()
    net.fit(train.x, train.y, train.w, x_valid=valid.x, y_valid=valid.y, w_valid=valid.w, lengths=train.lengths,
            lengths_valid=valid.lengths, seed=seed, verbose=verbose)
    return time.perf_counter() - start


def scores(net, samples):
    return net.predict(samples.x, lengths=samples.lengths)[:, 0]


def evaluate(net, samples):
    x, y, w, lengths = samples
    probability = scores(net, samples)
    return {"roc_auc": metrics.roc_auc(y, probability, w), "accuracy": metrics.accuracy(y, probability, w),
            "loss": net.loss(x, y, w, lengths=lengths), "samples": int(len(y))}


def format_metrics(results):
    lines = [f"{'split':<8} {'samples':>8} {'ROC AUC':>8} {'accuracy':>9} {'loss':>8}"]
    for split, m in results.items():
        lines.append(f"{split:<8} {m['samples']:>8} {m['roc_auc']:>8.4f} {m['accuracy']:>9.4f} {m['loss']:>8.4f}")
    return "\n".join(lines)


def train(path, description, options, *, out_dir, reader="root", seed=1, dtype=np.float32, verbose=True):
    """Train on `path`; writes model.root, loss.png, roc.png and metrics.json to out_dir."""
    net = Net(options, n_outputs=1, dtype=dtype)
    splits = load_splits(path, description, reader=reader, seed=seed, valid_fraction=net.spec.validationFraction)
    seconds = fit(net, splits, seed, verbose)
    results = {name: evaluate(net, splits[name]) for name in ("train", "valid", "test")}
    os.makedirs(out_dir, exist_ok=True)
    net.save(os.path.join(out_dir, "model.root"))
    plots.loss_curves(net.history, os.path.join(out_dir, "loss.png"))
    test = splits["test"]
    plots.roc({net.layout.split("|")[0]: metrics.roc_curve(test.y, scores(net, test), test.w)},
              os.path.join(out_dir, "roc.png"))
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump({"files": [str(path)] if isinstance(path, (str, os.PathLike)) else [str(p) for p in path], "options": options, "seed": seed, "train_seconds": seconds,
                   "epochs": len(net.history), "metrics": results}, f, indent=2)
    return net, results, seconds


def compare(path, description, *, out_dir, cells=TUTORIAL_CELLS, reader="root", seed=1, dtype=np.float32,
            verbose=True):
    """The tutorial network once per cell, on the same split: each trained, evaluated and saved as
    model_<cell>.root; one ROC PNG with every curve (roc_compare.png) and metrics_compare.json.
    Returns {cell: (test metrics, seconds)}."""
    os.makedirs(out_dir, exist_ok=True)
    splits, curves, results = None, {}, {}
    for cell in cells:
        net = Net(tutorial_options(cell), n_outputs=1, dtype=dtype)
        if splits is None:
            splits = load_splits(path, description, reader=reader, seed=seed,
                                 valid_fraction=net.spec.validationFraction)
        if verbose:
            print(f"--- {cell}: {net.layout}")
        seconds = fit(net, splits, seed, verbose)
        test = splits["test"]
        results[cell] = (evaluate(net, test), seconds)
        curves[cell] = metrics.roc_curve(test.y, scores(net, test), test.w)
        net.save(os.path.join(out_dir, f"model_{cell}.root"))
    plots.roc(curves, os.path.join(out_dir, "roc_compare.png"))
    with open(os.path.join(out_dir, "metrics_compare.json"), "w") as f:
        json.dump({"files": [str(path)] if isinstance(path, (str, os.PathLike)) else [str(p) for p in path], "seed": seed, "networks": {
            cell: {"options": tutorial_options(cell), "train_seconds": s, "test": m}
            for cell, (m, s) in results.items()}}, f, indent=2)
    return results


def format_comparison(results):
    lines = [f"{'network':<8} {'ROC AUC':>8} {'accuracy':>9} {'loss':>8} {'train s':>8}"]
    for cell, (m, seconds) in results.items():
        lines.append(f"{cell:<8} {m['roc_auc']:>8.4f} {m['accuracy']:>9.4f} {m['loss']:>8.4f} {seconds:>8.1f}")
    return "\n".join(lines)
