"""The main job, shared by `tmva-lstm demo|train|evaluate` and the example script: read samples
from a ROOT file, split them, train a booked network, evaluate it, save the model and plots."""

import contextlib
import json
import os
import time

import numpy as np

from . import _cpp, data, metrics, plots
from ._io import exclusive, replacing
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


def load_splits(path, description, *, reader="root", seed=1, valid_fraction=0.2, test_fraction=0.2, stream=False,
                chunk_entries=10_000, dtype=np.float32, parts=tuple(data.PARTS), share=0, shares=1, safe_read=False):
    """{part: samples} for the named parts of the entry split (data.entry_split; by default train,
    valid and test; "all": every entry), each as Samples, or as a data.Stream when stream (ROOT
    reader only). Only those parts are read; with shares > 1, only this process's share of each.
    safe_read: read in a child process, so that a file that crashes ROOT's reader raises
    ValueError here (the samples are copied back once)."""
    split = dict(seed=seed, test_fraction=test_fraction, valid_fraction=valid_fraction, share=share, shares=shares)
    if stream:
        if reader != "root" or safe_read:
            raise ValueError("streaming reads with the ROOT reader, in this process (no --reader uproot, no --safe-read)")
        return {part: data.Stream(path, description, part, chunk_entries=chunk_entries, dtype=dtype, **split)
                for part in parts}

    def read():
        return {part: data.READERS[reader](path, description, part=None if part == "all" else part, dtype=dtype,
                                           **split) for part in parts}

    if safe_read:
        return _cpp.run_in_child(read, f"reading {', '.join(data.expand(path))}", timeout=None)
    return read()


def fit(net, splits, seed, verbose, buffer_size=100_000, distributed=None):
    """Train on splits["train"], validate on splits["valid"]; returns the seconds it took. With
    `distributed` (a communicator), the splits are this process's shares."""
    train, valid = splits["train"], splits["valid"]
    start = time.perf_counter()
    if isinstance(train, data.Stream):
        net.fit(train, x_valid=valid, seed=seed, verbose=verbose, buffer_size=buffer_size, distributed=distributed)
    else:
        net.fit(*train, x_valid=valid.x, y_valid=valid.y, w_valid=valid.w, lengths_valid=valid.lengths, seed=seed,
                verbose=verbose, distributed=distributed)
    return time.perf_counter() - start


def predictions(net, samples, part="given"):
    """(y, w, score, loss) over Samples, or over the chunks of a data.Stream (the loss is then the
    weighted mean of the chunks' losses). No samples: ValueError naming the part."""
    empty = ValueError(f"no samples in the {part} part: none of the entries falls in it")
    if isinstance(samples, data.Samples):
        if len(samples.y) == 0:
            raise empty
        return (samples.y, samples.w, net.predict(samples.x, lengths=samples.lengths)[:, 0],
                net.loss(*samples))
    ys, ws, ps, total = [], [], [], 0.0
    for chunk in samples:
        ys.append(chunk.y), ws.append(chunk.w), ps.append(net.predict(chunk.x, lengths=chunk.lengths)[:, 0])
        total += net.loss(*chunk) * float(chunk.w.sum())
    if not ys:
        raise empty
    y, w = np.concatenate(ys), np.concatenate(ws)
    return y, w, np.concatenate(ps), total / float(w.sum()) if w.sum() > 0 else 0.0


def evaluate(net, samples, part="given"):
    y, w, probability, loss = predictions(net, samples, part)
    return {"roc_auc": metrics.roc_auc(y, probability, w), "accuracy": metrics.accuracy(y, probability, w),
            "loss": loss, "samples": int(len(y))}


def _tree_scores(net, path, description, k, chunk_entries, dtype):
    """The scores of tree k of the description in `path`, chunk after chunk."""
    import dataclasses

    one = dataclasses.replace(description, trees=[description.trees[k]],
                              tree_labels=description.tree_labels[k:k + 1])
    for chunk in data.iterate_root(path, one, step_size=chunk_entries, dtype=dtype):
        yield net.predict(chunk.x, lengths=chunk.lengths).astype(np.float32)


def _score_file(model, path, description, chunk_entries, dtype):
    """{tree: scores} of one file (what a Dask worker runs)."""
    net = Net.load(model, dtype=dtype)
    empty = np.zeros((0, net.n_outputs), np.float32)
    return {tree: np.concatenate([empty, *_tree_scores(net, path, description, k, chunk_entries, dtype)])
            for k, tree in enumerate(description.trees)}


def apply(model, path, description, out, *, chunk_entries=100_000, dtype=np.float32, client=None):
    """Score every entry of the description's trees in `path` (files, globs) with the model file
    `model`, chunk by chunk, and write `out`: per input tree a tree of the same name with a branch
    score (K values when the net has K outputs), entry for entry as the input tree chained over
    the files, so it can be added as a friend. Written to a temporary file, then renamed. Returns
    {tree: entries}.

    client: a dask.distributed Client; the files are then scored in parallel, one task per file,
    and written in the files' order, so the trees are those of serial scoring."""
    import uproot

    net = Net.load(model, dtype=dtype)  # also checks the model before any work
    K = net.n_outputs
    if client is not None:
        files = data.expand(path)
        tasks = client.map(_score_file, [model] * len(files), files, [description] * len(files),
                           [chunk_entries] * len(files), [dtype] * len(files), pure=False)
        per_file = client.gather(tasks)
    counts = {}
    with replacing(out) as tmp, uproot.recreate(tmp) as f:
        for k, tree in enumerate(description.trees):
            f.mktree(tree, {"score": (np.float32, (K,)) if K > 1 else np.float32})
            counts[tree] = 0
            chunks = (scores[tree] for scores in per_file) if client is not None else \
                _tree_scores(net, path, description, k, chunk_entries, dtype)
            for score in chunks:
                if len(score):
                    f[tree].extend({"score": score if K > 1 else score[:, 0]})
                counts[tree] += len(score)
    return counts


def format_metrics(results):
    lines = [f"{'split':<8} {'samples':>8} {'ROC AUC':>8} {'accuracy':>9} {'loss':>8}"]
    for split, m in results.items():
        lines.append(f"{split:<8} {m['samples']:>8} {m['roc_auc']:>8.4f} {m['accuracy']:>9.4f} {m['loss']:>8.4f}")
    return "\n".join(lines)


def train(path, description, options, *, out_dir, reader="root", seed=1, dtype=np.float32, verbose=True,
          stream=False, buffer_size=100_000, chunk_entries=10_000, distributed=None, safe_read=False):
    """Train on `path`; writes model.root, loss.png, roc.png and metrics.json to out_dir. With
    stream, every part is read chunk by chunk (training through a shuffle buffer of buffer_size).
    With `distributed` (a communicator), data-parallel: every process reads and trains on its
    share of the training and validation entries; rank 0 alone reads the test part, writes and
    evaluates (its train and valid metrics are of its share; the others return results None).
    The writing process holds out_dir's lock from the start: a second run into it is refused.
    safe_read: see load_splits."""
    with contextlib.ExitStack() as writing:
        if distributed is None or distributed.Rank() == 0:
            writing.enter_context(exclusive(out_dir))
        net = Net(options, n_outputs=1, dtype=dtype)
        read = dict(reader=reader, seed=seed, valid_fraction=net.spec.validationFraction, stream=stream,
                    chunk_entries=chunk_entries, dtype=dtype, safe_read=safe_read)
        if distributed is None:
            splits = load_splits(path, description, **read)
        else:
            rank = distributed.Rank()
            splits = load_splits(path, description, parts=("train", "valid"), share=rank, shares=distributed.Size(),
                                 **read)
            if rank == 0:
                splits.update(load_splits(path, description, parts=("test",), **read))
        seconds = fit(net, splits, seed, verbose, buffer_size, distributed)
        if distributed is not None and distributed.Rank() != 0:
            return net, None, seconds
        net.save(os.path.join(out_dir, "model.root"))  # first: what follows may fail, the training stays
        plots.loss_curves(net.history, os.path.join(out_dir, "loss.png"))
        results = {name: evaluate(net, splits[name], name) for name in ("train", "valid", "test")}
        y, w, score, _ = predictions(net, splits["test"], "test")
        plots.roc({net.layout.split("|")[0]: metrics.roc_curve(y, score, w)}, os.path.join(out_dir, "roc.png"))
        with replacing(os.path.join(out_dir, "metrics.json")) as tmp, open(tmp, "w") as f:
            json.dump({"files": data.expand(path), "options": options, "seed": seed, "stream": stream,
                       "train_seconds": seconds, "epochs": len(net.history), "metrics": results}, f, indent=2)
        return net, results, seconds


def compare(path, description, *, out_dir, cells=TUTORIAL_CELLS, reader="root", seed=1, dtype=np.float32,
            verbose=True, safe_read=False):
    """The tutorial network once per cell, on the same split: each trained, evaluated and saved as
    model_<cell>.root; one ROC PNG with every curve (roc_compare.png) and metrics_compare.json.
    Returns {cell: (test metrics, seconds)}."""
    with exclusive(out_dir):
        splits, curves, results = None, {}, {}
        for cell in cells:
            net = Net(tutorial_options(cell), n_outputs=1, dtype=dtype)
            if splits is None:
                splits = load_splits(path, description, reader=reader, seed=seed,
                                     valid_fraction=net.spec.validationFraction, dtype=dtype, safe_read=safe_read)
            if verbose:
                print(f"--- {cell}: {net.layout}")
            seconds = fit(net, splits, seed, verbose)
            net.save(os.path.join(out_dir, f"model_{cell}.root"))
            y, w, score, _ = predictions(net, splits["test"], "test")
            results[cell] = (evaluate(net, splits["test"], "test"), seconds)
            curves[cell] = metrics.roc_curve(y, score, w)
        plots.roc(curves, os.path.join(out_dir, "roc_compare.png"))
        with replacing(os.path.join(out_dir, "metrics_compare.json")) as tmp, open(tmp, "w") as f:
            json.dump({"files": data.expand(path), "seed": seed, "networks": {
                cell: {"options": tutorial_options(cell), "train_seconds": s, "test": m}
                for cell, (m, s) in results.items()}}, f, indent=2)
        return results


def format_comparison(results):
    lines = [f"{'network':<8} {'ROC AUC':>8} {'accuracy':>9} {'loss':>8} {'train s':>8}"]
    for cell, (m, seconds) in results.items():
        lines.append(f"{cell:<8} {m['roc_auc']:>8.4f} {m['accuracy']:>9.4f} {m['loss']:>8.4f} {seconds:>8.1f}")
    return "\n".join(lines)
