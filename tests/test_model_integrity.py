"""Model files as untrusted input: every header entry, layer layout and weight carries a CRC-32
(the entry Checksums), verified on load; per-layer layouts must agree with the booking options;
single-bit flips anywhere end in a clear error or in identical predictions; a file that crashes
ROOT's own reading raises instead of killing the caller (Net.load reads in a child process)."""

import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest
import uproot

from flip_model import TUTORIAL, flip
from make_damaged_model import BOOKING
from tmva_lstm import Net, _cpp

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = ("BookingOptions", "Layout", "BatchSize", "Outputs", "Scalar")
X = np.random.default_rng(0).normal(size=(7, 10, 30)).astype(np.float32)


@pytest.fixture
def model(tmp_path):
    path = str(tmp_path / "model.root")
    net = Net(TUTORIAL)
    net.save(path)
    return path, net.predict(X)


def entries(path):
    with uproot.open(path) as f:
        sums = dict(line.split() for line in f["Checksums"].member("fTitle").splitlines())
        header = [f[name].member("fTitle") for name in HEADER]
        weights = {k.split(";")[0]: np.asarray(f[k].member("fElements"), "<f8")
                   for k, c in f.classnames().items() if c == "TMatrixT<double>"}
    return sums, header, weights


def header_crc(values):
    """The documented header checksum: each entry as name, NUL, value, NUL."""
    return zlib.crc32(b"".join(n.encode() + b"\0" + v.encode() + b"\0" for n, v in zip(HEADER, values)))


def edit(path, named=(), matrices=()):
    """Writes new cycles of TNamed entries (name, value) and weights (name, array) into path."""
    f = _cpp.ROOT.TFile.Open(path, "UPDATE")
    for name, value in named:
        folder, _, base = name.rpartition("/")
        (f.GetDirectory(folder) if folder else f).cd()
        _cpp.ROOT.TNamed(base, value).Write()
    for name, values in matrices:
        folder, _, base = name.rpartition("/")
        f.GetDirectory(folder).cd()
        m = _cpp.ROOT.TMatrixT["double"](values.shape[0], values.shape[1])
        for (r, c), v in np.ndenumerate(values):
            m[r][c] = v
        m.Write(base)
    f.Close()


def test_checksums_are_crc32_of_the_header_and_of_each_weight(model):
    """An independent reading (uproot, zlib) agrees with what the C++ wrote."""
    sums, header, weights = entries(model[0])
    assert sums["header"] == "%08x" % header_crc(header)
    assert set(weights) == {k for k in sums if k != "header" and not k.endswith("/Layout")}
    for name, values in weights.items():
        assert sums[name] == "%08x" % zlib.crc32(values.tobytes()), name


@pytest.mark.parametrize("name, change", [
    ("BatchSize", lambda v: "50"),
    ("BookingOptions", lambda v: v + ":ErrorStrategy=SUMOFSQUARES"),
    ("Scalar", lambda v: "double"),
])
def test_an_edited_header_entry_is_refused(model, name, change):
    path, _ = model
    _, header, _ = entries(path)
    edit(path, [(name, change(header[HEADER.index(name)]))])
    with pytest.raises(ValueError, match="entry 'header' does not match its checksum: the file was changed or damaged"):
        Net.load(path)


def test_booking_options_and_layout_edited_together_are_refused(model):
    path, _ = model
    _, header, _ = entries(path)
    edit(path, [("BookingOptions", header[0].replace("TANH", "RELU").replace("|0|1", "|1|1")),
                ("Layout", header[1].replace("TANH", "RELU").replace("|0|1", "|1|1"))])
    with pytest.raises(ValueError, match="entry 'header' does not match its checksum"):
        Net.load(path)


def test_a_layer_layout_must_agree_with_the_booking_options(model):
    """Even with its checksum rewritten to match, a per-layer layout the booking options do not
    make is refused, naming the entry."""
    path, _ = model
    sums, _, _ = entries(path)
    wrong = "DENSE|64|RELU"
    sums["layer2_DENSE/Layout"] = "%08x" % zlib.crc32(wrong.encode())
    edit(path, [("layer2_DENSE/Layout", wrong), ("Checksums", "".join(f"{k} {v}\n" for k, v in sums.items()))])
    with pytest.raises(ValueError, match=r"entry 'layer2_DENSE/Layout' is 'DENSE\|64\|RELU', but the booking "
                                         r"options make it 'DENSE\|64\|TANH'"):
        Net.load(path)


def test_header_values_are_checked_even_with_a_matching_checksum(model):
    path, _ = model
    sums, header, _ = entries(path)
    header[2] = "1e3"
    sums["header"] = "%08x" % header_crc(header)
    edit(path, [("BatchSize", header[2]), ("Checksums", "".join(f"{k} {v}\n" for k, v in sums.items()))])
    with pytest.raises(ValueError, match="entry 'BatchSize' is '1e3', expected a positive integer below 10\\^9"):
        Net.load(path)


def test_an_edited_weight_is_refused(model):
    path, _ = model
    _, _, weights = entries(path)
    b_f = weights["layer0_LSTM/b_f"].reshape(1, -1).copy()
    b_f[0, 3] += 1e-12
    edit(path, matrices=[("layer0_LSTM/b_f", b_f)])
    with pytest.raises(ValueError, match="entry 'layer0_LSTM/b_f' does not match its checksum"):
        Net.load(path)


def test_a_file_without_checksums_is_refused(model, tmp_path):
    path, _ = model
    f = _cpp.ROOT.TFile.Open(path, "UPDATE")
    f.Delete("Checksums;*")
    f.Close()
    with pytest.raises(ValueError, match="has no 'Checksums' entry: damaged, or saved before tmva-lstm stored"):
        Net.load(path)


def test_single_bit_flips_end_in_a_clear_error_or_identical_predictions(model):
    """300 seeded flips of one bit anywhere in the file (tests/flip_model.py): nothing silent,
    nothing fatal."""
    path, reference = model
    outcomes = flip(path, X, reference, 300, seed=1)
    print(dict(outcomes))
    assert outcomes["DIFFERENT"] == 0
    assert outcomes["identical"] > 0 and any("checksum" in what for what in outcomes)


@pytest.fixture(scope="module")
def crashing_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("damaged") / "damaged.root")
    done = subprocess.run([sys.executable, os.path.join(HERE, "make_damaged_model.py"), path], capture_output=True,
                          text=True, errors="replace")  # ROOT's messages quote damaged bytes
    assert done.returncode == 0, done.stderr[-2000:]
    return path


def test_a_file_that_crashes_root_raises_instead(crashing_model):
    """ROOT's plain reading of the fixture corrupts the heap: the process aborts, and ROOT's own
    crash handler, printing a stack trace, often hangs on the corrupted heap's lock. Net.load and
    the CLI give an error instead."""
    try:
        plain = subprocess.run([sys.executable, "-c",
                                "import sys; from tmva_lstm import _cpp; "
                                "_cpp.template(_cpp.ns, 'LoadModel', _cpp.architecture('cpu', 'float32'))(sys.argv[1])",
                                crashing_model], capture_output=True, text=True, errors="replace", timeout=30)
        assert plain.returncode != 0 and "Traceback" not in plain.stderr  # died inside ROOT, not by an exception
    except subprocess.TimeoutExpired:
        pass  # hung in ROOT's crash handler
    damaged = r"(ROOT crashed reading it .*|reading it did not finish within 60 s); the file is damaged"
    # What a corrupted heap does next varies by process: in a child forked from this one it may also
    # come through unharmed, and then every weight has passed its checksum.
    try:
        loaded = Net.load(crashing_model)
    except ValueError as e:
        assert re.search(damaged, str(e)), e
    else:
        for name, value in Net(BOOKING).parameters.items():
            np.testing.assert_array_equal(loaded.parameters[name], value)
    cli = subprocess.run(["tmva-lstm", "evaluate", "--model", crashing_model, "--file",
                          os.path.join(HERE, "..", "data", "time_data_t10_d30.root")],
                         capture_output=True, text=True, errors="replace")
    assert cli.returncode != 0 and re.search(damaged, cli.stderr) and "Traceback" not in cli.stderr
