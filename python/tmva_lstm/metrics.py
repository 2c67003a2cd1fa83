"""Classifier metrics in NumPy."""

import numpy as np


def roc_curve(y, score, w=None):
    """(false-positive rate, true-positive rate) over all thresholds, weighted; y in {0, 1}."""
    y, score = np.asarray(y).ravel(), np.asarray(score).ravel()
    w = np.ones_like(score, dtype=np.float64) if w is None else np.asarray(w, np.float64).ravel()
    order = np.argsort(-score, kind="stable")
    y, score, w = y[order], score[order], w[order]
    tp, fp = np.cumsum(w * (y > 0.5)), np.cumsum(w * (y <= 0.5))
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # one point per distinct threshold
    tpr, fpr = np.r_[0, tp[last]] / tp[-1], np.r_[0, fp[last]] / fp[-1]
    return fpr, tpr


def roc_auc(y, score, w=None):
    fpr, tpr = roc_curve(y, score, w)
    return float(np.trapezoid(tpr, fpr))


def accuracy(y, probability, w=None, threshold=0.5):
    y, p = np.asarray(y).ravel(), np.asarray(probability).ravel()
    w = np.ones_like(p, dtype=np.float64) if w is None else np.asarray(w, np.float64).ravel()
    return float(np.sum(w * ((p > threshold) == (y > 0.5))) / np.sum(w))
