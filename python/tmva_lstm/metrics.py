"""Classifier metrics: NumPy in, the library's C++ (tmva_lstm/Metrics.h) underneath, so the
macros report the same numbers."""

import numpy as np

from . import _cpp


def _arrays(y, score, w):
    y, score = np.ascontiguousarray(y, np.float64).ravel(), np.ascontiguousarray(score, np.float64).ravel()
    if y.shape != score.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} and {score.size}")
    w = np.ones_like(y) if w is None else np.ascontiguousarray(w, np.float64).ravel()
    if w.shape != y.shape:
        raise ValueError(f"weights must have {y.size} values, got {w.size}")
    return y, score, w


def roc_curve(y, score, w=None):
    """(false-positive rate, true-positive rate, area) over all thresholds, weighted; y > 0.5 is signal."""
    y, score, w = _arrays(y, score, w)
    roc = _cpp.call(_cpp.ns.RocCurve, y, score, w, y.size)
    return np.array(roc.fpr), np.array(roc.tpr), float(roc.auc)


def roc_auc(y, score, w=None):
    return roc_curve(y, score, w)[2]


def accuracy(y, probability, w=None, threshold=0.5):
    y, p, w = _arrays(y, probability, w)
    return float(_cpp.ns.Accuracy(y, p, w, y.size, threshold))
