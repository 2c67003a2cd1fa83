"""Sequence data in ROOT files: the tutorial and b-jet data sets, two readers that give identical
arrays (uproot, and ROOT's TTreeReader through the C++ library), and a seeded split.

A sample is one tree entry: x (T, D), a target y, a weight w, and, for jagged object
collections, its length (the number of objects kept). Both readers read every numeric branch
type (float, double, the integer types, bool) in every layout (scalar, fixed array of any
dimension, counted array, std::vector, std::vector<std::vector>) converted to the training dtype
(dtype=, float32 by default, or float64), or refuse
it naming the tree, the branch and its type. Files: a path, a glob, `path:tree` (that file gives
only that tree), or a list of these. Both readers stream in chunks of entries (iterate_*);
read_* concatenates the chunks.
"""

import contextlib
import glob
import os
import re
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import numpy as np

from . import _cpp


class Samples(NamedTuple):
    """x (n, T, D), y (n,), w (n,) in the training dtype; lengths (n,) int64 for object collections,
    else None."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    lengths: Optional[np.ndarray] = None


@dataclass
class Description:
    """Where the samples are: trees (dir/tree in folders), the class per tree (or a label branch),
    an optional weight branch, and one of three input layouts:
    - step_branches: one branch per time step, input_size values each;
    - array_branch: one branch of time_steps · input_size values;
    - object_branches: one branch per object feature, one value per object (std::vector or a
      counted array), the same count within an entry. The objects are ordered by sort_by
      (|value| with sort_abs; largest first unless sort_descending is False; stable), the first
      time_steps kept and padded; the sample's length is its object count, at most time_steps.
      input_size is the number of object branches. Per-event values cannot enter the sequence:
      a branch with one value per entry among object_branches is refused."""

    trees: list
    time_steps: int
    input_size: int
    tree_labels: list = field(default_factory=list)
    step_branches: list = field(default_factory=list)
    array_branch: str = ""
    object_branches: list = field(default_factory=list)
    sort_by: str = ""
    sort_abs: bool = False
    sort_descending: bool = True
    label_branch: str = ""
    weight_branch: str = ""

    @classmethod
    def tutorial(cls, time_steps=10, input_size=30):
        """TMVA's RNN tutorial: trees sgn (class 1) and bkg (class 0), branches vars_time<t>."""
        return cls._from_cpp(_cpp.ns.TTreeDataDescription.Tutorial(time_steps, input_size))

    @classmethod
    def objects(cls, trees, branches, max_length, *, sort_by="", sort_abs=False, sort_descending=True, **kwargs):
        """Jagged object collections: branches (one per feature), the first max_length objects."""
        return cls(trees=list(trees), time_steps=int(max_length), input_size=len(branches),
                   object_branches=list(branches), sort_by=sort_by, sort_abs=sort_abs,
                   sort_descending=sort_descending, **kwargs)

    @classmethod
    def tracks(cls, max_tracks=15):
        """The b-jet toy (make_track_data): trees bjets (1) and ljets (0), tracks sorted by |d0sig|."""
        return cls._from_cpp(_cpp.ns.TTreeDataDescription.Tracks(max_tracks))

    @property
    def has_lengths(self):
        return bool(self.object_branches)

    @classmethod
    def _from_cpp(cls, d):
        return cls(trees=[str(t) for t in d.trees], tree_labels=[float(v) for v in d.treeLabels],
                   time_steps=int(d.timeSteps), input_size=int(d.inputSize),
                   step_branches=[str(b) for b in d.stepBranches], array_branch=str(d.arrayBranch),
                   object_branches=[str(b) for b in d.objectBranches], sort_by=str(d.sortBy),
                   sort_abs=bool(d.sortAbs), sort_descending=bool(d.sortDescending),
                   label_branch=str(d.labelBranch), weight_branch=str(d.weightBranch))

    def to_cpp(self):
        d = _cpp.ns.TTreeDataDescription()
        d.trees, d.treeLabels = list(self.trees), [float(v) for v in self.tree_labels]
        d.stepBranches, d.arrayBranch = list(self.step_branches), self.array_branch
        d.objectBranches, d.sortBy = list(self.object_branches), self.sort_by
        d.sortAbs, d.sortDescending = bool(self.sort_abs), bool(self.sort_descending)
        d.labelBranch, d.weightBranch = self.label_branch, self.weight_branch
        d.timeSteps, d.inputSize = int(self.time_steps), int(self.input_size)
        return d


def make_tutorial_data(path, n_signal=2000, n_background=2000, seed=1, time_steps=10, input_size=30):
    """Write the tutorial data set (the same generator as macros/make_dataset.C: both call
    tmva_lstm::MakeTutorialData). Same seed, same file contents."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _cpp.call(_cpp.ns.MakeTutorialData, str(path), int(n_signal), int(n_background), int(seed),
              int(time_steps), int(input_size))


def make_track_data(path, n_b=5000, n_light=5000, seed=1):
    """Write the b-jet toy (tmva_lstm/TrackData.h, as macros/make_tracks.C): trees bjets and ljets,
    a Poisson number of tracks per jet, the track features as std::vector<float> branches."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _cpp.call(_cpp.ns.MakeTrackData, str(path), int(n_b), int(n_light), int(seed))


def files(spec):
    """[(path, tree or None)] for a path, a glob, `path:tree`, or a list of these; globs expanded
    and sorted (tmva_lstm::SplitFileSpec and ExpandFilePattern, as the C++ reader expands them)."""
    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    if not specs:
        raise ValueError("no files given")
    out = []
    for s in specs:
        pair = _cpp.ns.SplitFileSpec(str(s))
        path, tree = str(pair.first), str(pair.second) or None
        if not glob.has_magic(path) and "://" not in path and not os.path.isfile(path):
            if os.path.isdir(path):
                raise IsADirectoryError(f"'{path}' is a directory, not a ROOT file (for every file in it: "
                                        f"'{os.path.join(path, '*.root')}')")
            raise FileNotFoundError(f"ROOT file '{path}' does not exist")
        out += [(str(f), tree) for f in _cpp.call(_cpp.ns.ExpandFilePattern, path)]
    return out


def expand(spec):
    """The file specs with globs expanded: what the readers read, in order."""
    return [path if tree is None else f"{path}:{tree}" for path, tree in files(spec)]


# -- the entry split ------------------------------------------------------------------------------
PARTS = {"train": 0, "valid": 1, "test": 2}


def entry_split(part=None, *, seed=1, test_fraction=0.2, valid_fraction=0.2, share=0, shares=1):
    """tmva_lstm::TEntrySplit: the part ("train", "valid", "test"; None: every entry) that a reader
    keeps, chosen per entry from a hash of (file name without directory, tree, entry in the file,
    seed): adding files never moves an entry to another part. test takes test_fraction of the
    entries, valid valid_fraction of the rest. share of shares: of those, only this process's
    share (data-parallel training; another function of the same hash)."""
    if part is not None and part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)} or None, got {part!r}")
    split = _cpp.ns.TEntrySplit()
    split.part, split.seed = PARTS.get(part, -1), int(seed)
    split.testFraction, split.validFraction = float(test_fraction), float(valid_fraction)
    split.share, split.shares = int(share), int(shares)
    _cpp.call(split.Check)
    return split


# -- ROOT (TTreeReader, in the C++ library) -------------------------------------------------------
_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def _ctype(dtype):
    if np.dtype(dtype) not in _CTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return _CTYPES[np.dtype(dtype)]


def iterate_root(path, description, step_size=100_000, part=None, dtype=np.float32, **split):
    """Chunks Samples(x, y, w, lengths) of the entries of at most step_size entries, tree after tree,
    each tree chained over the files; with part, only that part's entries (entry_split)."""
    cut, ctype = entry_split(part, **split), _ctype(dtype)
    reader = _root_reader(path, description)
    T, D = description.time_steps, description.input_size
    for tree in range(reader.GetNTrees()):
        for first in range(0, reader.GetEntries(tree), step_size):
            chunk = _cpp.ns.TDataSet[ctype](T * D, 1)
            _cpp.call(_cpp.template(reader, "Read", ctype), tree, first, step_size, chunk, cut)
            yield _from_cpp(chunk, description, dtype)


class Stream:
    """Entries of ROOT files for streaming training (Net.fit): read in chunks of about
    chunk_entries by the C++ reader (tmva_lstm::TTreeSampleStream; the trees take turns, each with
    a share in proportion to its entries), one part of the entry split, never all at once.
    iter(stream) gives the same chunks as Samples in `dtype`; concatenated, they are the samples in
    the order streaming training sees them (what fit in memory must get to give bit-identical
    results). Net.fit reads the stream in the net's own dtype."""

    def __init__(self, path, description, part=None, *, chunk_entries=10_000, dtype=np.float32, **split):
        self.path, self.description, self.part, self.split = path, description, part, split
        self.chunk_entries, self.dtype = int(chunk_entries), np.dtype(dtype)
        entry_split(part, **split)  # checked now, not at the first epoch
        _ctype(self.dtype)
        if self.chunk_entries < 1:
            raise ValueError(f"chunk_entries must be >= 1, got {chunk_entries}")

    def to_cpp(self, ctype):
        return _cpp.call(_cpp.ns.TTreeSampleStream[ctype], expand(self.path), self.description.to_cpp(),
                         entry_split(self.part, **self.split), self.chunk_entries)

    def __iter__(self):
        ctype, d = _ctype(self.dtype), self.description
        stream = self.to_cpp(ctype)
        chunk = _cpp.ns.TDataSet[ctype](d.time_steps * d.input_size, 1)
        stream.Rewind()
        while _cpp.call(stream.Next, chunk):
            yield _from_cpp(chunk, d, self.dtype)


def _from_cpp(chunk, d, dtype):
    """A C++ TDataSet as Samples (copied)."""
    n, T, D = chunk.GetNSamples(), d.time_steps, d.input_size
    lengths = _copy(chunk.lengths, n, dtype).astype(np.int64) if d.has_lengths else None
    return Samples(_copy(chunk.x, n * T * D, dtype).reshape(n, T, D), _copy(chunk.y, n, dtype),
                   _copy(chunk.w, n, dtype), lengths)


def _copy(vector, n, dtype):
    if n == 0:
        return np.empty(0, dtype)
    pointer = vector.data()
    pointer.reshape((n,))
    return np.array(pointer, dtype=dtype)


def read_root(path, description, part=None, dtype=np.float32, **split):
    """Every entry (or one part's: entry_split) as Samples, read into one C++ data set and copied
    once (chunks and their concatenation would write every value twice more)."""
    cut, ctype = entry_split(part, **split), _ctype(dtype)
    whole = _cpp.call(_cpp.template(_root_reader(path, description), "ReadAll", ctype), cut)
    return _concat([_from_cpp(whole, description, dtype)], description, part)


def _root_reader(path, description):
    return _cpp.call(_cpp.ns.TSequenceTreeReader, expand(path), description.to_cpp())


# -- uproot ---------------------------------------------------------------------------------------
_NUMERIC = {"bool", "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t",
            "float", "double", "Double32_t", "Float16_t"}


def _layout(typename):
    """(element type, layout) of an uproot branch type name, the layouts of TreeColumn.h's
    EColumnLayout; None for a non-numeric type."""
    depth, t = 0, typename.replace(" ", "")
    while t.startswith("std::vector<") and t.endswith(">"):
        depth, t = depth + 1, t[len("std::vector<"):-1]
    dims = re.findall(r"\[(\d*)\]", t)
    element = re.sub(r"\[\d*\]", "", t)
    if element not in _NUMERIC or depth > 2 or (depth and dims):
        return None
    if depth:
        return element, ("vector", "nested vector")[depth - 1]
    if not dims:
        return element, "scalar"
    return element, "counted array" if "" in dims else "fixed array"


def _flat(a):
    """(values, counts per entry) of one branch's awkward array: values row-major within an entry."""
    import awkward as ak

    if a.ndim == 1:
        return np.asarray(ak.to_numpy(a)), np.ones(len(a), np.int64)
    while a.ndim > 2:
        a = ak.flatten(a, axis=2)
    return np.asarray(ak.to_numpy(ak.flatten(a, axis=1))), np.asarray(ak.num(a, axis=1), np.int64)


@contextlib.contextmanager
def _uproot_reading(path, what):
    """uproot's own errors while it reads a damaged file (zlib's checksum, a deserialization error,
    ...) as one ValueError naming the file and what was being read, as the ROOT reader's are."""
    try:
        yield
    except MemoryError:
        raise
    except Exception as e:  # anything uproot raises here is a file it cannot read
        raise ValueError(f"ROOT file '{path}': cannot read {what}: the file is damaged or not a ROOT file "
                         f"({type(e).__name__}: {e})") from e


def _check_tree(f, path, name, description, types):
    """The uproot twin of TSequenceTreeReader::CheckTree: the tree, every branch, each of a layout
    its role allows and of the type the first file had."""
    import uproot

    if name not in f:
        raise ValueError(f"ROOT file '{path}' has no tree '{name}'")
    with _uproot_reading(path, f"tree '{name}'"):
        tree = f[name]
    if not isinstance(tree, uproot.TTree):
        raise ValueError(f"'{name}' in ROOT file '{path}' is a {tree.classname}, not a TTree")
    inputs = _input_branches(description)
    for b in _branches(description):
        if b not in tree:
            raise ValueError(f"tree '{name}' has no branch '{b}' (in '{path}')")
        typename = tree[b].typename
        layout = _layout(typename)
        if layout is None:
            raise ValueError(f"tree '{name}' branch '{b}' has type {typename}: not a number (the reader takes "
                             f"numbers, their arrays, std::vector and std::vector<std::vector> of them) (in '{path}')")
        where = f"tree '{name}' in '{path}' branch '{b}' has type {typename}"
        if description.has_lengths and (b in inputs or b == description.sort_by) and \
                layout[1] not in ("vector", "counted array"):
            raise ValueError(f"{where}: object branches need one value per object (std::vector<T> or a counted "
                             "array x[n]); per-event values cannot enter a sequence of objects")
        if b in (description.label_branch, description.weight_branch) and layout[1] != "scalar":
            raise ValueError(f"{where}: a label or weight branch holds one number per entry")
        if types.setdefault(b, typename) != typename:
            raise ValueError(f"{where}, but {types[b]} in the files before")
    return tree


def _input_branches(d):
    return [d.array_branch] if d.array_branch else list(d.object_branches or d.step_branches)


def _branches(d):
    out = _input_branches(d)
    for b in (d.label_branch, d.weight_branch, d.sort_by):
        if b and b not in out:
            out.append(b)
    return out


def iterate_uproot(path, description, step_size=100_000, part=None, dtype=np.float32, **split):
    """The same samples as iterate_root, read with uproot."""
    import uproot

    cut, _ = entry_split(part, **split), _ctype(dtype)
    d = description
    _cpp.call(d.to_cpp().Check)
    if not d.trees:
        raise ValueError("tree reader: no tree names given")
    sources = files(path)
    for p, only in sources:
        if only is not None and only not in d.trees:
            raise ValueError(f"'{p}:{only}': tree '{only}' is not one of the trees to read ({', '.join(d.trees)})")
    for k, name in enumerate(d.trees):
        mine = [p for p, only in sources if only is None or only == name]
        if not mine:
            raise ValueError(f"no file gives tree '{name}'")
        types, start = {}, 0
        for p in mine:
            with _uproot_reading(p, "its header"):
                f = uproot.open(p)
            with f:
                _check_tree(f, p, name, d, types)
        for p in mine:
            with _uproot_reading(p, "its header"):
                f = uproot.open(p)
            with f:
                local = 0  # the entry within this file, for the split
                chunks = f[name].iterate(_branches(d), step_size=step_size, library="ak")
                while True:
                    with _uproot_reading(p, f"tree '{name}' from entry {local}"):
                        arrays = next(chunks, None)
                    if arrays is None:
                        break
                    n = len(arrays)
                    if cut.Selects():
                        keep = np.flatnonzero(np.array(cut.Kept(p, name, local, n)))
                        chunk = _renumbered(arrays, keep, k, name, start, d, dtype)
                    else:
                        chunk = _samples(arrays, n, k, name, start, d, dtype)
                    if chunk is not None:
                        yield chunk
                    start += n
                    local += n


class _EntryError(ValueError):
    """A chunk's first bad entry (index in the chunk) for the sizes of its columns."""

    def __init__(self, entry, message):
        super().__init__(message)
        self.entry = entry


def _first_bad(bad_per_check):
    """(entry, message) of the earliest bad entry over checks given in C++'s order within an entry:
    [(mask over entries, message(entry))]; None when all pass."""
    found = [(int(np.flatnonzero(mask)[0]), i, message) for i, (mask, message) in enumerate(bad_per_check)
             if mask.any()]
    if not found:
        return None
    entry, _, message = min(found, key=lambda f: f[:2])
    return entry, message(entry)


def _samples(arrays, n, k, name, start, d, dtype):
    """One chunk of entries as samples, or the error the C++ reader gives: that of the first bad
    entry, with the checks of one entry in TSampleAssembler's order."""
    try:
        return _checked_samples(arrays, n, k, name, start, d, dtype)
    except _EntryError as e:
        if e.entry > 0:  # an earlier entry may fail a later check: the C++ reader stops there first
            _checked_samples(arrays[:e.entry], e.entry, k, name, start, d, dtype)
        raise ValueError(str(e)) from None


def _checked_samples(arrays, n, k, name, start, d, dtype):
    T, D = d.time_steps, d.input_size
    columns = {b: _flat(arrays[b]) for b in _branches(d)}
    inputs = _input_branches(d)
    lengths = None
    if d.has_lengths:
        x, lengths = _objects(columns, inputs, n, name, start, d, dtype)
    else:
        width = D if d.step_branches else T * D
        first = _first_bad([(columns[b][1] != width, lambda e, b=b: f"tree '{name}' entry {start + e} branch '{b}': "
                             f"{columns[b][1][e]} values, expected {width}") for b in inputs])
        if first:
            raise _EntryError(*first)
        x = np.concatenate([columns[b][0].astype(dtype).reshape(n, width) for b in inputs],
                           axis=1).reshape(n, T, D)
    y = columns[d.label_branch][0].astype(dtype) if d.label_branch else np.full(n, d.tree_labels[k], dtype)
    w = columns[d.weight_branch][0].astype(dtype) if d.weight_branch else np.ones(n, dtype)
    checks = [(~np.isfinite(a.reshape(n, -1)).all(axis=1),
               lambda e, what=what: f"tree '{name}' entry {start + e}: {what} is NaN or inf")
              for what, a in (("an input value", x), ("a target value", y), ("the weight", w))]
    first = _first_bad(checks + [(w < 0, lambda e: f"tree '{name}' entry {start + e}: the weight is negative")])
    if first:
        raise ValueError(first[1])
    return Samples(x, y, w, lengths)


def _objects(columns, inputs, n, name, start, d, dtype):
    """TSampleAssembler::Objects (Samples.h) for a chunk: sort within each entry (stable), keep the
    first T, pad."""
    T = d.time_steps
    counts = columns[inputs[0]][1]
    first = _first_bad([(columns[b][1] != counts, lambda e, b=b: f"tree '{name}' entry {start + e} branch '{b}': "
                         f"{columns[b][1][e]} objects, but {counts[e]} in '{inputs[0]}'")
                        for b in inputs + ([d.sort_by] if d.sort_by else [])])
    if first:
        raise _EntryError(*first)
    entry = np.repeat(np.arange(n), counts)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    position = np.arange(len(entry)) - offsets[entry]
    order = np.arange(len(entry))
    if d.sort_by:
        key = columns[d.sort_by][0].astype(np.float64)
        bad = np.flatnonzero(np.isnan(key))
        if bad.size:
            raise _EntryError(int(entry[bad[0]]), f"tree '{name}' entry {start + entry[bad[0]]} branch "
                              f"'{d.sort_by}': object {position[bad[0]]} has a NaN sort key")
        key = np.abs(key) if d.sort_abs else key
        order = np.lexsort((-key if d.sort_descending else key, entry))
    keep = position < T  # position in the sorted order: entries stay in place, so offsets hold
    x = np.zeros((n, T, d.input_size), dtype)
    for f, b in enumerate(inputs):
        x[entry[keep], position[keep], f] = columns[b][0][order][keep].astype(dtype)
    return x, np.minimum(counts, T)


def _renumbered(arrays, keep, k, name, start, d, dtype):
    """_samples of the kept entries, errors naming each entry by its number in the tree."""
    if not len(keep):
        return None
    try:
        return _samples(arrays[keep], len(keep), k, name, 0, d, dtype)
    except ValueError as e:
        m = re.match(r"tree '.*?' entry (\d+)", str(e))
        if not m:
            raise
        local = int(m.group(1))
        raise ValueError(str(e).replace(f"entry {local}", f"entry {start + int(keep[local])}", 1)) from None


def read_uproot(path, description, part=None, dtype=np.float32, **split):
    """Every entry (or one part's: entry_split) as Samples, read with uproot."""
    return _concat(iterate_uproot(path, description, part=part, dtype=dtype, **split), description, part)


def _concat(chunks, description, part=None):
    chunks = list(chunks)
    if sum(len(c.y) for c in chunks) == 0:
        where = f" in the {part} part of the entry split" if part else ""
        raise ValueError(f"no entries of the trees {', '.join(description.trees)}{where}")
    if len(chunks) == 1:
        return chunks[0]
    lengths = np.concatenate([c.lengths for c in chunks]) if description.has_lengths else None
    return Samples(*(np.concatenate([getattr(c, a) for c in chunks]) for a in ("x", "y", "w")), lengths)


READERS = {"root": read_root, "uproot": read_uproot}


# -- RDataFrame -----------------------------------------------------------------------------------
def from_rdataframe(df, description, label=None, dtype=np.float32):
    """Samples from an RDataFrame, after the user's Filter and Define calls: the columns named by
    the description (its trees are not used), flattened and assembled as the tree reader does
    (tmva_lstm::TDataFrameReader). `df` may be a dict {class: RDataFrame}; otherwise `label` is
    the class of every entry unless the description has a label branch. One event loop per frame.

    ROOT.Experimental.ML.RDataLoader is not used: it pads vector columns but returns no lengths,
    cannot sort objects within an entry, and batches and shuffles for training itself."""
    from ._cpp import ROOT

    if isinstance(df, dict):
        if not df:
            raise ValueError("from_rdataframe: an empty dict of frames")
        parts = [from_rdataframe(frame, description, label=c, dtype=dtype) for c, frame in df.items()]
        lengths = np.concatenate([p.lengths for p in parts]) if description.has_lengths else None
        return Samples(*(np.concatenate([getattr(p, a) for p in parts]) for a in ("x", "y", "w")), lengths)
    if label is None and not description.label_branch:
        raise ValueError("from_rdataframe: give label= (the class of these entries) or a description with a "
                         "label branch")
    node = ROOT.RDF.AsRNode(df)
    reader = _cpp.call(_cpp.ns.TDataFrameReader[_ctype(dtype)], node, description.to_cpp())
    return _from_cpp(_cpp.call(reader.Read, float(label or 0)), description, dtype)


def split(samples, *, test_fraction=0.2, valid_fraction=0.2, seed=1):
    """Samples already in memory, by position: shuffle with the seed, then test = test_fraction of
    all, validation = valid_fraction of the rest, training = what remains (tmva_lstm::SplitIndices).
    Returns {"train"|"valid"|"test": Samples}. Samples from files are split by entry instead
    (the readers' part=, entry_split), which adding files leaves alone."""
    samples = Samples(*samples)
    parts = _cpp.call(_cpp.ns.SplitIndices, len(samples.y), float(test_fraction), float(valid_fraction), int(seed))
    out = {}
    for name in ("train", "valid", "test"):
        idx = np.array(getattr(parts, name), dtype=np.int64)
        out[name] = Samples(*(None if a is None else a[idx] for a in samples))
    return out
