"""Data-parallel training over MPI (tmva_lstm.distributed): 2 processes × B/2 rows train exactly
as one process on the same batches of B (shares=2), in float64 to 1e-12; a process that dies
takes the run down instead of hanging it; clear errors without MPI or without mpiexec. The MPI
runs need mpi4py and mpiexec (pip install mpi4py mpich) and are skipped without them."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tmva_lstm import Net
from tmva_lstm.cli import main
from tmva_lstm.workflow import TUTORIAL_OPTIONS

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mpi_train import OPTIONS, problem  # noqa: E402

MPIEXEC = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401
except ImportError:
    MPIEXEC = None
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="needs mpi4py and mpiexec (pip install mpi4py mpich)")


def mpiexec(n, *args, timeout=120):
    """mpiexec -n n python args…, in a session of its own: past the timeout, mpiexec and every
    process it started are killed (a rank left behind would spin in MPI and slow every later test),
    and the test fails with what they printed."""
    with subprocess.Popen([MPIEXEC, "-n", str(n), sys.executable, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          start_new_session=True) as run:
        try:
            stdout, stderr = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            stdout, stderr = run.communicate()
            pytest.fail(f"mpiexec -n {n} {' '.join(args)} did not end within {timeout} s\n"
                        f"stdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)


@needs_mpi
def test_two_processes_train_as_one_process_on_the_same_batches(tmp_path):
    out = str(tmp_path / "ranks.npz")
    done = mpiexec(2, os.path.join(HERE, "mpi_train.py"), out)
    assert done.returncode == 0, done.stdout + done.stderr
    (x, y, w, lengths), (xv, yv, wv, lv) = problem()
    one = Net(OPTIONS, dtype=np.float64)
    one.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, shares=2, verbose=False)
    ranks = np.load(out)
    assert len(ranks["valid_loss"]) == 3
    np.testing.assert_allclose(ranks["train_loss"], [h["train_loss"] for h in one.history], rtol=1e-12)
    np.testing.assert_allclose(ranks["valid_loss"], [h["valid_loss"] for h in one.history], rtol=1e-12)
    for name, value in one.parameters.items():
        np.testing.assert_allclose(ranks[name], value, rtol=0, atol=1e-12, err_msg=name)
    # and the batches of 2 shares are not those of plain training: the comparison can fail
    plain = Net(OPTIONS, dtype=np.float64)
    plain.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, verbose=False)
    assert max(np.abs(ranks[k] - v).max() for k, v in plain.parameters.items()) > 1e-3


def test_one_share_is_plain_training():
    (x, y, w, lengths), (xv, yv, wv, lv) = problem()
    a, b = Net(OPTIONS, dtype=np.float64), Net(OPTIONS, dtype=np.float64)
    a.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, verbose=False)
    b.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, shares=1, verbose=False)
    for name, value in a.parameters.items():
        np.testing.assert_array_equal(b.parameters[name], value)


@needs_mpi
def test_a_dying_process_ends_the_run(tmp_path):
    start = time.perf_counter()
    done = mpiexec(2, os.path.join(HERE, "mpi_train.py"), str(tmp_path / "x.npz"), "--die-at-step", "4", timeout=60)
    assert done.returncode != 0, done.stdout + done.stderr
    assert time.perf_counter() - start < 60
    assert not os.path.exists(tmp_path / "x.npz")


@needs_mpi
def test_an_error_in_one_process_ends_the_run(tmp_path):
    start = time.perf_counter()
    done = mpiexec(2, os.path.join(HERE, "mpi_train.py"), str(tmp_path / "x.npz"), "--raise-on-rank-1", timeout=60)
    assert done.returncode != 0 and "rank 1 fails alone" in done.stderr, done.stdout + done.stderr
    assert time.perf_counter() - start < 60


def test_net_takes_its_booked_batch_size_again_after_a_distributed_fit():
    from comms import TwinComm

    (x, y, w, lengths), (xv, yv, wv, lv) = problem()
    net = Net(OPTIONS, dtype=np.float64)
    net.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, verbose=False,
            distributed=TwinComm())
    assert net.batch_size == 20  # the booked BatchSize, not the 10 rows per process of the fit
    net.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, verbose=False)


@needs_mpi
def test_cli_distributed_train(tmp_path, tutorial_file):
    out = str(tmp_path / "out")
    done = mpiexec(2, "-m", "tmva_lstm.cli", "train", "--file", tutorial_file, "--distributed", "mpi", "--out", out,
                   "--options", OPTIONS.replace("InputLayout=5|3", "InputLayout=10|30")
                   .replace("LSTM|4|3|5|0|1", "LSTM|4|30|10|0|1"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("training on") == 1 and "data-parallel over 2 MPI processes" in done.stdout
    assert os.path.exists(os.path.join(out, "model.root")) and os.path.exists(os.path.join(out, "metrics.json"))


@needs_mpi
def test_cli_distributed_streaming_train(tmp_path):
    """Each process streams its own share of the entries through its own shuffle buffer."""
    from tmva_lstm.data import make_tutorial_data

    out, tutorial = str(tmp_path / "out"), str(tmp_path / "tutorial.root")
    make_tutorial_data(tutorial, 2000, 2000, seed=1)  # the demo's data set
    done = mpiexec(2, "-m", "tmva_lstm.cli", "train", "--file", tutorial, "--distributed", "mpi", "--stream",
                   "--chunk-entries", "300", "--buffer-size", "500", "--out", out,
                   "--options", TUTORIAL_OPTIONS.replace("MaxEpochs=20", "MaxEpochs=5"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("training on") == 1 and "data-parallel over 2 MPI processes" in done.stdout
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f)["metrics"]["test"]["roc_auc"] > 0.7  # it learns (0.76 here; 0.70 in one process)


def test_clear_errors_without_mpi(monkeypatch, tutorial_file, tmp_path, capsys):
    from tmva_lstm import distributed

    if MPIEXEC is not None:  # a lone process (not started by mpiexec) is refused
        with pytest.raises(RuntimeError, match="this process is alone"):
            distributed.mpi()
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match="pip install mpi4py mpich"):
        distributed.mpi()
    assert main(["train", "--file", tutorial_file, "--distributed", "mpi", "--out", str(tmp_path)]) != 0
    assert "mpi4py" in capsys.readouterr().err


class FakeComm:
    """Two processes as far as the batch size goes (the checks come before any sum)."""

    def Size(self):
        return 2

    def Rank(self):
        return 0


def test_batch_size_must_divide_among_the_processes():
    (x, y, w, lengths), (xv, yv, wv, lv) = problem()
    net = Net(OPTIONS.replace("BatchSize=20", "BatchSize=21"), dtype=np.float64)
    with pytest.raises(ValueError, match="BatchSize 21 does not divide"):
        net.fit(x, y, x_valid=xv, y_valid=yv, distributed=FakeComm())


@pytest.mark.parametrize("reader", ["root", "uproot"])
def test_shares_of_a_part_are_disjoint_and_cover_it(tutorial_file, reader):
    from tmva_lstm import data

    d = data.Description.tutorial()
    read = data.READERS[reader]
    whole = read(tutorial_file, d, part="train")
    shares = [read(tutorial_file, d, part="train", share=s, shares=3) for s in range(3)]
    assert sum(len(s.x) for s in shares) == len(whole.x) and min(len(s.x) for s in shares) > 0
    rows = np.concatenate([s.x.reshape(len(s.x), -1) for s in shares])
    assert len({r.tobytes() for r in rows}) == len(whole.x)  # no entry twice
    assert {r.tobytes() for r in rows} == {r.tobytes() for r in whole.x.reshape(len(whole.x), -1)}
    with pytest.raises(ValueError, match="share must be 0 … shares − 1, got 3 of 3"):
        read(tutorial_file, d, part="train", share=3, shares=3)


@pytest.mark.parametrize("stream, width", [(False, 15), (True, 25)])
def test_processes_that_train_different_networks_are_refused(stream, width, tmp_path):
    """Every process describes what it trains in the first sum; all refuse a mismatch alike,
    before any sum of gradients could mix unrelated numbers or wait forever."""
    from comms import MismatchComm
    from tmva_lstm import data

    with pytest.raises(ValueError, match=f"process 1 has {width + 1} input values per sample, process 0 has "
                                         f"{width}; every process must train the same network"):
        if stream:
            path = str(tmp_path / "tracks.root")
            data.make_track_data(path, 50, 50)
            d = data.Description.tracks(max_tracks=5)
            net = Net(OPTIONS.replace("InputLayout=5|3", "InputLayout=5|5").replace("LSTM|4|3|5", "LSTM|4|5|5"))
            net.fit(data.Stream(path, d, "train"), x_valid=data.Stream(path, d, "valid"), verbose=False,
                    distributed=MismatchComm())
        else:
            (x, y, w, lengths), (xv, yv, wv, lv) = problem()
            net = Net(OPTIONS, dtype=np.float64)
            net.fit(x, y, w, lengths, x_valid=xv, y_valid=yv, w_valid=wv, lengths_valid=lv, verbose=False,
                    distributed=MismatchComm())
