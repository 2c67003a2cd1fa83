"""Sequence data in ROOT files: the tutorial data set, two readers that give identical arrays
(uproot, and ROOT's TTreeReader through the C++ library), and a seeded split.

A sample is one tree entry: x (T, D) float32, a target y, a weight w. Both readers stream in
chunks of entries (iterate_*); read_* concatenates the chunks.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from . import _cpp


@dataclass
class Description:
    """Where the samples are: trees, one branch per time step (or one array branch of T·D values),
    the class per tree (or a label branch), an optional weight branch."""

    trees: list
    time_steps: int
    input_size: int
    tree_labels: list = field(default_factory=list)
    step_branches: list = field(default_factory=list)
    array_branch: str = ""
    label_branch: str = ""
    weight_branch: str = ""

    @classmethod
    def tutorial(cls, time_steps=10, input_size=30):
        """TMVA's RNN tutorial: trees sgn (class 1) and bkg (class 0), branches vars_time<t>."""
        return cls(trees=["sgn", "bkg"], tree_labels=[1, 0], time_steps=time_steps, input_size=input_size,
                   step_branches=[f"vars_time{t}" for t in range(time_steps)])

    def to_cpp(self):
        d = _cpp.ns.TTreeDataDescription()
        d.trees, d.treeLabels = list(self.trees), [float(v) for v in self.tree_labels]
        d.stepBranches, d.arrayBranch = list(self.step_branches), self.array_branch
        d.labelBranch, d.weightBranch = self.label_branch, self.weight_branch
        d.timeSteps, d.inputSize = int(self.time_steps), int(self.input_size)
        return d


def make_tutorial_data(path, n_signal=2000, n_background=2000, seed=1, time_steps=10, input_size=30):
    """Write the tutorial data set (the same generator as macros/make_dataset.C: both call
    tmva_lstm::MakeTutorialData). Same seed, same file contents."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _cpp.call(_cpp.ns.MakeTutorialData, str(path), int(n_signal), int(n_background), int(seed),
              int(time_steps), int(input_size))


def _check_file(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ROOT file '{path}' does not exist")


# -- ROOT (TTreeReader, in the C++ library) -------------------------------------------------------
def iterate_root(path, description, step_size=100_000):
    """Chunks (x (n, T, D), y (n,), w (n,)) of at most step_size entries, tree after tree."""
    _check_file(path)
    reader = _cpp.call(_cpp.ns.TSequenceTreeReader, str(path), description.to_cpp())
    T, D = description.time_steps, description.input_size
    for tree in range(reader.GetNTrees()):
        for first in range(0, reader.GetEntries(tree), step_size):
            chunk = _cpp.ns.TDataSet["float"](T * D, 1)
            _cpp.call(reader.Read["float"], tree, first, step_size, chunk)
            n = chunk.GetNSamples()
            x = np.array(_view(chunk.x.data(), n * T * D), dtype=np.float32).reshape(n, T, D)
            yield x, np.array(_view(chunk.y.data(), n), np.float32), np.array(_view(chunk.w.data(), n), np.float32)


def _view(pointer, n):
    pointer.reshape((n,))
    return pointer


def read_root(path, description):
    return _concat(iterate_root(path, description), description)


# -- uproot ---------------------------------------------------------------------------------------
def iterate_uproot(path, description, step_size=100_000):
    """The same chunks as iterate_root, read with uproot (no ROOT needed)."""
    import awkward as ak
    import uproot

    _check_file(path)
    T, D = description.time_steps, description.input_size
    with uproot.open(path) as f:
        for k, name in enumerate(description.trees):
            if name not in f:
                raise ValueError(f"ROOT file '{path}' has no tree '{name}'")
            tree = f[name]
            if not isinstance(tree, uproot.TTree):
                raise ValueError(f"'{name}' in ROOT file '{path}' is a {tree.classname}, not a TTree")
            steps = list(description.step_branches) or [description.array_branch]
            width = D if description.step_branches else T * D
            scalars = [b for b in (description.label_branch, description.weight_branch) if b]
            for b in steps + scalars:
                if b not in tree:
                    raise ValueError(f"tree '{name}' in '{path}' has no branch '{b}'")
            start = 0
            for arrays in tree.iterate(steps + scalars, step_size=step_size, library="ak"):
                n = len(arrays)
                parts = []
                for b in steps:
                    counts = np.asarray(ak.num(arrays[b], axis=1))
                    bad = np.flatnonzero(counts != width)
                    if bad.size:
                        raise ValueError(f"tree '{name}' entry {start + bad[0]} branch '{b}': {counts[bad[0]]} values, "
                                         f"expected {width}")
                    parts.append(np.asarray(ak.flatten(arrays[b]), dtype=np.float32).reshape(n, width))
                x = np.concatenate(parts, axis=1).reshape(n, T, D)
                y = (np.asarray(arrays[description.label_branch], np.float32) if description.label_branch
                     else np.full(n, description.tree_labels[k], np.float32))
                w = (np.asarray(arrays[description.weight_branch], np.float32) if description.weight_branch
                     else np.ones(n, np.float32))
                for what, a in (("an input value", x), ("a target value", y), ("the weight", w)):
                    bad = np.flatnonzero(~np.isfinite(a.reshape(n, -1)).all(axis=1))
                    if bad.size:
                        raise ValueError(f"tree '{name}' entry {start + bad[0]}: {what} is NaN or inf")
                start += n
                yield x, y, w


def read_uproot(path, description):
    return _concat(iterate_uproot(path, description), description)


def _concat(chunks, description):
    xs, ys, ws = [], [], []
    for x, y, w in chunks:
        xs.append(x), ys.append(y), ws.append(w)
    if not xs or sum(len(y) for y in ys) == 0:
        raise ValueError(f"no entries in the trees {', '.join(description.trees)}")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


READERS = {"root": read_root, "uproot": read_uproot}


def split(x, y, w, *, test_fraction=0.2, valid_fraction=0.2, seed=1):
    """Shuffle with the seed, then test = test_fraction of all, validation = valid_fraction of the
    rest, training = what remains (tmva_lstm::SplitIndices, as the macros split).
    Returns {"train"|"valid"|"test": (x, y, w)}."""
    parts = _cpp.call(_cpp.ns.SplitIndices, len(y), float(test_fraction), float(valid_fraction), int(seed))
    out = {}
    for name in ("train", "valid", "test"):
        idx = np.array(getattr(parts, name), dtype=np.int64)
        out[name] = (x[idx], y[idx], w[idx])
    return out
