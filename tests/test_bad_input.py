"""Bad input gives a Python exception naming the problem, never an abort or a crash."""

import os
import sys

import numpy as np
import pytest

from tmva_lstm import LSTM, Net, data

B, H, D, T = 2, 3, 4, 5


@pytest.fixture
def layer():
    return LSTM(B, H, D, T, dtype=np.float32)


def x_ok():
    return np.zeros((B, T, D), np.float32)


@pytest.mark.parametrize("shape", [(B, T), (B + 1, T, D), (B, T - 1, D), (B, T, D + 1), (0, T, D)])
def test_wrong_input_shape(layer, shape):
    with pytest.raises(ValueError, match=r"x must have shape \(2, 5, 4\)"):
        layer.forward(np.zeros(shape, np.float32))


def test_wrong_dtype(layer):
    with pytest.raises(TypeError, match="x has dtype float64, the layer is float32"):
        layer.forward(np.zeros((B, T, D)))


def test_not_an_array(layer):
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        layer.forward(x_ok().tolist())


def test_non_contiguous(layer):
    x = np.zeros((B, D, T), np.float32).transpose(0, 2, 1)
    with pytest.raises(ValueError, match="x is not C-contiguous"):
        layer.forward(x)


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_nan_and_inf(layer, bad, word):
    x = x_ok()
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match=f"x: element {1 * T * D + 2 * D + 3} is {word}"):
        layer.forward(x)


def test_nan_in_weights_and_gradients(layer):
    W = layer.W
    W[0, 0] = np.nan
    with pytest.raises(ValueError, match="W: element 0 is NaN"):
        layer.W = W
    layer.forward(x_ok())
    dy = np.zeros((B, H), np.float32)
    dy[0, 0] = np.inf
    with pytest.raises(ValueError, match="dy: element 0 is inf"):
        layer.backward(dy)


def test_wrong_gradient_shape(layer):
    layer.forward(x_ok())
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 3\)"):
        layer.backward(np.zeros((B, T, H), np.float32))
    with pytest.raises(ValueError, match=r"dh_T must have shape \(2, 3\)"):
        layer.backward(np.zeros((B, H), np.float32), dh_T=np.zeros((B, H + 1), np.float32))


def test_backward_needs_forward(layer):
    with pytest.raises(RuntimeError, match="needs a Forward first"):
        layer.backward(np.zeros((B, H), np.float32))
    layer.forward(x_ok())
    layer.backward(np.zeros((B, H), np.float32))
    with pytest.raises(RuntimeError, match="needs a Forward first"):  # the gates were consumed
        layer.backward(np.zeros((B, H), np.float32))


@pytest.mark.parametrize("sizes", [(0, H, D, T), (B, 0, D, T), (B, H, 0, T), (B, H, D, 0), (-1, H, D, T),
                                   (2.5, H, D, T), (True, H, D, T)])
def test_bad_sizes(sizes):
    with pytest.raises(ValueError, match="must be a positive integer"):
        LSTM(*sizes)


def test_bad_options():
    with pytest.raises(ValueError, match="unknown activation function 'softsign'"):
        LSTM(B, H, D, T, activation="softsign")
    with pytest.raises(ValueError, match="unknown weight initialisation 'he'"):
        LSTM(B, H, D, T, init="he")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        LSTM(B, H, D, T, dtype=np.int32)
    with pytest.raises(ValueError, match="unknown architecture 'tpu'"):
        LSTM(B, H, D, T, arch="tpu")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        LSTM(B, H, D, T, seed=-3)


def test_failed_call_leaves_layer_usable(layer):
    x = x_ok()
    y = layer.forward(x)
    with pytest.raises(ValueError):
        layer.forward(np.full((B, T, D), np.nan, np.float32))
    np.testing.assert_array_equal(layer.forward(x), y)


def test_failing_template_call_runs_once_with_one_message(tmp_path):
    """A C++ function template that throws is run once and reported once, however often it failed
    before in the same process (cppyy's template proxy would re-run it once per earlier failure)."""
    import uproot

    from tmva_lstm import _cpp, data

    path = str(tmp_path / "nan.root")
    x = np.ones((4, 6), np.float32)
    x[2, 1] = np.nan
    with uproot.recreate(path) as f:
        f.mktree("t", {"seq": (np.float32, (6,))})
        f["t"].extend({"seq": x})
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=2, input_size=3, array_branch="seq")
    reader = _cpp.ns.TSequenceTreeReader([path], d.to_cpp())
    for _ in range(4):
        chunk = _cpp.ns.TDataSet["float"](6, 1)
        with pytest.raises(ValueError) as failure:
            _cpp.call(_cpp.template(reader, "Read", "float"), 0, 0, 10, chunk)
        assert str(failure.value).count("NaN") == 1
        assert chunk.GetNSamples() == 2  # entries 0 and 1, appended once: the call ran once
        with pytest.raises(ValueError) as failure:
            data.read_root(path, d)
        assert str(failure.value) == "tree 't' entry 2: data set: an input value of sample 0 is NaN"
    for _ in range(3):
        with pytest.raises(ValueError) as failure:
            Net.load(path)
        assert str(failure.value).count("not a tmva-lstm model") == 1


@pytest.mark.parametrize("args, message", [
    ((4, 2**62, 4, 3), r"TBasicLSTMLayer \(B=4 H=4611686018427387904 D=4 T=3\): a size beyond 2\^61 overflows"),
    ((2**62, 4, 4, 3), r"TBasicLSTMLayer \(B=4611686018427387904 .*overflows the address space"),
    ((4, 2**40, 4, 3), r"TBasicLSTMLayer \(B=4 H=1099511627776 D=4 T=3\): cannot allocate a .* matrix \(\d+ bytes\)"),
])
def test_huge_sizes_are_a_memory_error_naming_the_layer(args, message):
    from tmva_lstm import LSTM

    with pytest.raises(MemoryError, match=message):
        LSTM(*args)


def test_huge_booked_width_is_a_memory_error():
    from tmva_lstm import Net

    with pytest.raises(MemoryError, match=r"TDenseLayer \(B=100 inputs=4 width=4611686018427387904\)"):
        Net("InputLayout=3|4:Layout=LSTM|4|4|3|0|0,DENSE|4611686018427387904|LINEAR")


NET = "InputLayout=5|4:Layout=LSTM|3|4|5|0|0,DENSE|1|LINEAR"


@pytest.mark.parametrize("shape", [(0, T, D), (3, D, T), (3, T * D), (3, T, D, 1), (3, 1, T, D)])
def test_net_takes_exactly_n_t_d(shape):
    """Net.fit/predict/loss take (n, T, D) with n >= 1, nothing reshaped into it."""
    net = Net(NET)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5, 4\) with n >= 1, got"):
        net.predict(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5, 4\)"):
        net.loss(np.zeros(shape, np.float32), np.zeros(shape[0], np.float32))


@pytest.mark.parametrize("label", [5.0, -3.0, 1.5])
def test_cross_entropy_takes_targets_in_0_1(label):
    """CROSSENTROPY (the default) and MUTUALEXCLUSIVE take class labels or probabilities."""
    net = Net(NET + ":TrainingStrategy=BatchSize=4,MaxEpochs=1")
    x, y = np.zeros((8, T, D), np.float32), np.zeros(8, np.float32)
    y[6] = label
    with pytest.raises(ValueError, match=rf"the training target of sample 6 is {label:.6f}: CROSSENTROPY takes "
                                         r"targets in \[0, 1\]"):
        net.fit(x, y, x_valid=x, y_valid=np.zeros(8, np.float32))
    with pytest.raises(ValueError, match=r"the evaluated target of sample 6 is"):
        net.loss(x, y)
    Net(NET + ":ErrorStrategy=SUMOFSQUARES").loss(x, y)  # any value is a regression target


def test_step_branch_patterns(tutorial_file):
    """--step-branches needs {t}, and only {t}; a description that reads one branch for two steps
    is refused by both readers."""
    from tmva_lstm import cli, data

    for pattern, message in [("{x}", r"has the field\(s\) \{x\}"), ("vars_time3", "has no {t}"),
                             ("vars_time{", "Single '{' encountered")]:
        with pytest.raises(SystemExit, match=message):
            cli.main(["train", "--file", tutorial_file, "--step-branches", pattern])
    d = data.Description(trees=["sgn", "bkg"], tree_labels=[1, 0], time_steps=2, input_size=30,
                         step_branches=["vars_time3", "vars_time3"])
    for read in (data.read_root, data.read_uproot):
        with pytest.raises(ValueError, match="step 0 and step 1 both read branch 'vars_time3'"):
            read(tutorial_file, d)


def test_a_directory_given_as_a_file(tmp_path):
    from tmva_lstm import data

    with pytest.raises(IsADirectoryError, match=rf"'{tmp_path}' is a directory, not a ROOT file"):
        data.read_root(str(tmp_path), data.Description.tutorial())


def test_missing_tree_labels(tutorial_file):
    """A class per tree, or a label branch: both readers say so (was an IndexError in uproot's)."""
    d = data.Description(trees=["sgn", "bkg"], tree_labels=[1], time_steps=10, input_size=30,
                         step_branches=[f"vars_time{t}" for t in range(10)])
    for read in (data.read_root, data.read_uproot):
        with pytest.raises(ValueError, match="data description: give a class per tree or a label branch"):
            read(tutorial_file, d)


def test_single_bit_flips_of_a_data_file_end_in_a_named_error_or_the_same_samples(tmp_path):
    """60 seeded flips anywhere in a data file (tests/flip_data.py), each read by both readers in a
    child process: a damaged basket is an error naming the file and tree (zlib's checksum in
    uproot; TTreeReader's read status in ours, where ROOT itself only prints an error and hands out
    an empty array), never silently different samples."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from flip_data import flip

    path = str(tmp_path / "tutorial.root")
    data.make_tutorial_data(path, n_signal=100, n_background=100)
    outcomes = flip(path, 60, seed=1)
    print(outcomes)
    for reader, counts in outcomes.items():
        assert counts["DIFFERENT"] == 0, reader
        assert not [o for o in counts if "NAMES NOTHING" in o or "without an answer" in o], counts
        assert any("damaged" in o for o in counts), reader
