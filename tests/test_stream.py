"""The entry split (hash of file, tree, entry) and streaming training through a shuffle buffer."""

import json
import os

import numpy as np
import pytest

from tmva_lstm import Net, data
from tmva_lstm.cli import main

SMALL = ("InputLayout=6|5:Layout=LSTM|4|5|6|0|0,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY:RandomSeed=2"
         ":TrainingStrategy=LearningRate=1e-2,Optimizer=ADAM,BatchSize=32,MaxEpochs=3,ConvergenceSteps=5")


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    paths = [str(folder / f"part{k}.root") for k in range(2)]
    for k, p in enumerate(paths):
        data.make_track_data(p, 300, 250, seed=20 + k)
    return paths


def description():
    return data.Description.tracks(max_tracks=6)


@pytest.mark.parametrize("read", [data.read_root, data.read_uproot])
def test_entry_split_is_disjoint_complete_and_stable_when_files_are_added(parts, read):
    d = description()
    whole = read(parts[0], d)
    split = {p: read(parts[0], d, part=p, seed=3) for p in data.PARTS}
    assert sum(len(s.y) for s in split.values()) == len(whole.y) == 550
    assert 0.15 < len(split["test"].y) / 550 < 0.25 and 0.1 < len(split["valid"].y) / 550 < 0.22
    rows = np.concatenate([s.x.reshape(len(s.y), -1) for s in split.values()])
    assert np.array_equal(np.sort(rows.sum(axis=1)), np.sort(whole.x.reshape(550, -1).sum(axis=1)))
    # adding a file: the first file's entries stay in their parts (its entries come first per tree)
    both = read(parts, d, part="test", seed=3)
    first = read(parts[0], d, part="test", seed=3)
    for label in (1, 0):
        np.testing.assert_array_equal(both.x[both.y == label][: np.sum(first.y == label)], first.x[first.y == label])
    other = read(parts[0], d, part="test", seed=4)  # another seed, another split of the same entries
    assert 0.15 < len(other.y) / 550 < 0.25
    assert not np.array_equal(np.sort(other.x.reshape(len(other.y), -1).sum(axis=1)),
                              np.sort(split["test"].x.reshape(len(split["test"].y), -1).sum(axis=1)))
    with pytest.raises(ValueError, match="part must be one of"):
        read(parts[0], d, part="training")


def test_readers_agree_on_every_part(parts):
    d = description()
    for p in data.PARTS:
        for a, b in zip(data.read_root(parts, d, part=p), data.read_uproot(parts, d, part=p)):
            np.testing.assert_array_equal(a, b)


def test_stream_with_a_large_buffer_is_training_in_memory_bit_for_bit(parts):
    d = description()
    train, valid = data.Stream(parts, d, "train", chunk_entries=97), data.Stream(parts, d, "valid", chunk_entries=41)
    memory_train = data._concat(list(train), d)
    memory_valid = data._concat(list(valid), d)
    assert len(memory_train.y) == len(data.read_root(parts, d, part="train").y)
    a = Net(SMALL, dtype=np.float64)
    a.fit(*memory_train, x_valid=memory_valid.x, y_valid=memory_valid.y, lengths_valid=memory_valid.lengths,
          verbose=False)
    b = Net(SMALL, dtype=np.float64)
    b.fit(train, x_valid=valid, buffer_size=10_000, verbose=False)
    assert [h["valid_loss"] for h in a.history] == [h["valid_loss"] for h in b.history]
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    for name in a.weights:
        np.testing.assert_array_equal(a.weights[name], b.weights[name])


def test_small_buffer_trains_reproducibly(parts):
    d = description()
    nets = []
    for _ in range(2):
        net = Net(SMALL)
        net.fit(data.Stream(parts, d, "train", chunk_entries=50), x_valid=data.Stream(parts, d, "valid"),
                buffer_size=64, verbose=False)
        nets.append(net)
    losses = [h["valid_loss"] for h in nets[0].history]
    assert losses == [h["valid_loss"] for h in nets[1].history]
    assert losses[-1] < 0.69  # it learns: below the loss of a constant guess
    big = Net(SMALL)
    big.fit(data.Stream(parts, d, "train", chunk_entries=50), x_valid=data.Stream(parts, d, "valid"),
            buffer_size=10_000, verbose=False)
    assert [h["valid_loss"] for h in big.history] != losses  # the small buffer draws its own batches


def test_shuffle_buffer_never_holds_more_than_its_size(parts):
    """Chunks go into the buffer as it makes room (chunks of 50 into a buffer of 64): its memory
    is the buffer's size, not the size plus a chunk."""
    from tmva_lstm import _cpp

    d = description()
    net = Net(SMALL)
    train, valid = data.Stream(parts, d, "train", chunk_entries=50), data.Stream(parts, d, "valid")
    trainer = _cpp.ns.TStreamTrainer[net._arch](net._net, 64)
    records = trainer.Train(net.spec.phases[0], train.to_cpp("float"), valid.to_cpp("float"), 1, False)
    assert len(records) == 3
    assert 32 <= trainer.GetBufferCapacity() <= 64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stream_chunks_in_either_dtype(parts, dtype):
    d = description()
    chunks = list(data.Stream(parts, d, "valid", chunk_entries=60, dtype=dtype))
    assert len(chunks) > 2 and all(c.x.dtype == dtype and c.y.dtype == dtype for c in chunks)
    whole = data._concat(chunks, d)
    memory = data.read_root(parts, d, part="valid", dtype=dtype)
    assert np.array_equal(np.sort(whole.x.reshape(len(whole.y), -1).sum(axis=1)),
                          np.sort(memory.x.reshape(len(memory.y), -1).sum(axis=1)))


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_part_is_a_clear_error(parts, stream):
    from tmva_lstm import workflow

    d = description()
    if not stream:  # read at once: the reader names the part
        with pytest.raises(ValueError, match="no entries of the trees bjets, ljets in the test part"):
            workflow.load_splits(parts, d, test_fraction=0.0, parts=["valid", "test"])
        return
    splits = workflow.load_splits(parts, d, test_fraction=0.0, stream=True, parts=["valid", "test"])
    assert set(splits) == {"valid", "test"}
    net = Net(SMALL)
    assert workflow.evaluate(net, splits["valid"], "valid")["samples"] > 0
    with pytest.raises(ValueError, match="no samples in the test part"):
        workflow.evaluate(net, splits["test"], "test")


def test_stream_bad_input(parts):
    d = description()
    with pytest.raises(ValueError, match="chunk_entries must be >= 1"):
        data.Stream(parts, d, "train", chunk_entries=0)
    with pytest.raises(ValueError, match="must hold at least one batch"):
        Net(SMALL).fit(data.Stream(parts, d, "train"), x_valid=data.Stream(parts, d, "valid"), buffer_size=8)
    with pytest.raises(TypeError, match="x and x_valid as data.Stream"):
        Net(SMALL).fit(data.Stream(parts, d, "train"), x_valid=np.zeros((2, 6, 5)))
    with pytest.raises(ValueError, match="test and validation fractions"):
        data.Stream(parts, d, "train", test_fraction=1.5)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        data.Stream(parts, d, "train", dtype=np.int32)


def test_cli_train_stream(parts, tmp_path, capsys):
    out = str(tmp_path / "out")
    args = ["train", "--file", parts[0], "--file", parts[1], "--trees", "bjets", "ljets", "--object-branches",
            "trk_pt", "trk_eta", "trk_dphi", "trk_d0sig", "trk_z0sig", "--sort-by", "trk_d0sig", "--sort-abs",
            "--max-length", "6", "--options", SMALL, "--out", out, "--stream", "--buffer-size", "200",
            "--chunk-entries", "100"]
    assert main(args) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        written = json.load(f)
    assert written["stream"] is True and written["metrics"]["test"]["samples"] > 0
    assert main(args + ["--reader", "uproot"]) == 1
    assert "streaming reads with the ROOT reader" in capsys.readouterr().err


def test_streamed_targets_outside_0_1_are_refused(parts):
    """CROSSENTROPY takes targets in [0, 1]; a streamed chunk is checked as it enters the buffer."""
    d = description()
    d.tree_labels = [5.0, 0.0]
    with pytest.raises(ValueError, match=r"the chunk's target of sample \d+ is 5\.000000: CROSSENTROPY takes targets "
                                         r"in \[0, 1\]"):
        Net(SMALL).fit(data.Stream(parts, d, "train", chunk_entries=50), x_valid=data.Stream(parts, d, "valid"),
                       buffer_size=64, verbose=False)


def test_distributed_streaming_steps_on_every_process_s_batches(parts):
    """Data-parallel streaming: each process streams its share through its own buffer, B/K rows a
    step. Twin processes with one share give, bit for bit, one process with batches of B/2; a
    process with fewer batches joins the others' steps with empty ones until all are done."""
    from comms import GhostComm, TwinComm

    d = description()

    def stream_fit(options, **kwargs):
        net = Net(options)
        net.fit(data.Stream(parts, d, "train", chunk_entries=50), x_valid=data.Stream(parts, d, "valid"),
                buffer_size=64, verbose=False, **kwargs)
        return net

    alone = stream_fit(SMALL.replace("BatchSize=32", "BatchSize=16"))
    for comm in (TwinComm(), GhostComm(steps=100)):
        net = stream_fit(SMALL, distributed=comm)
        assert net.batch_size == 32
        assert [h["valid_loss"] for h in net.history] == [h["valid_loss"] for h in alone.history]
        for name in alone.weights:
            np.testing.assert_array_equal(net.weights[name], alone.weights[name])
    assert comm.per_epoch == [101] * 3  # its 100 steps, then the sum where both are done
