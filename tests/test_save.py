"""Saves that cannot lose a model: a full disk or a read-only file system ends in a clear error
with the previous model byte-identical and no temporary file left; a save killed with SIGKILL at
a random moment leaves a model that loads and predicts as the old or the new one. The file-system
cases mount a small tmpfs, so they run as root only (skipped otherwise)."""

import itertools
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tmva_lstm import Net

SMALL = "InputLayout=3|4:Layout=LSTM|4|4|3|0|0,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY"
BIG = "InputLayout=10|30:Layout=LSTM|100|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR:ErrorStrategy=CROSSENTROPY"


@pytest.fixture
def tmpfs(tmp_path):
    """A 200 KB tmpfs, unmounted afterwards."""
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield where
    subprocess.run(["umount", str(where)], capture_output=True)


def test_full_disk_keeps_the_previous_model(tmpfs):
    path = str(tmpfs / "model.root")
    Net(SMALL).save(path)
    before = open(path, "rb").read()
    with pytest.raises(RuntimeError, match="cannot save the model to .*failed.*an existing file there is unchanged"):
        Net(BIG).save(path)  # about 1 MB: does not fit
    assert open(path, "rb").read() == before
    assert os.listdir(tmpfs) == ["model.root"]


def test_read_only_file_system_keeps_the_previous_model(tmpfs):
    path = str(tmpfs / "model.root")
    Net(SMALL).save(path)
    before = open(path, "rb").read()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(RuntimeError, match="cannot save the model to .*cannot create"):
        Net(SMALL).save(path)
    assert open(path, "rb").read() == before


def test_saves_killed_at_random_moments_leave_a_working_model(tmp_path):
    """50 trials: a forked copy of this process saves the new and the old model in turn and, after
    its first save, is killed with SIGKILL at a random moment; after each, the file loads and
    predicts as the old or the new model, nothing in between."""
    path = str(tmp_path / "model.root")
    old = Net(BIG)
    old.save(path)
    new = Net(BIG)
    rng = np.random.default_rng(2)
    for name, p in new.parameters.items():
        new.set_parameter(name, rng.uniform(-0.5, 0.5, p.shape))
    new.save(str(tmp_path / "warm.root"))  # cling compiles the save here, not in every child
    x = np.random.default_rng(3).uniform(-1, 1, (5, 10, 30)).astype(np.float32)
    expected = {"old": old.predict(x), "new": new.predict(x)}
    random.seed(4)
    mid_save = 0  # trials killed while a save was being written
    for trial in range(50):
        done, saved = os.pipe()
        pid = os.fork()
        if pid == 0:  # the saver: new, old, new, ... until killed, a byte down the pipe after each save
            try:
                for k in itertools.count():
                    (old if k % 2 else new).save(path)
                    os.write(saved, b".")
            finally:
                os._exit(1)
        os.read(done, 1)  # one whole save first, then
        time.sleep(random.uniform(0, 0.05))  # a save takes about 20 ms: kill at a random point of one
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(done), os.close(saved)
        mid_save += any(f.startswith(f"model.root.tmp{pid}_") for f in os.listdir(tmp_path))
        got = Net.load(path).predict(x)
        assert any(np.array_equal(got, v) for v in expected.values()), \
            f"trial {trial}: the model file predicts neither the old nor the new model"
    print(f"{mid_save} of 50 saves killed while writing")
    assert mid_save >= 10, mid_save
    # a killed save leaves its temporary file; the next save beside it removes those whose process
    # is gone, and keeps a live process's
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / f"model.root.tmp{gone.pid}_3").write_bytes(b"left by a killed save")
    sleeper = subprocess.Popen(["sleep", "30"])
    alive = tmp_path / f"model.root.tmp{sleeper.pid}_0"
    alive.write_bytes(b"a save in progress")
    try:
        old.save(path)
        assert [f for f in os.listdir(tmp_path) if ".tmp" in f and "warm" not in f] == [alive.name]
    finally:
        sleeper.kill()


def test_data_sets_written_at_once_to_one_path_are_each_whole(tmp_path):
    """Two generators with different seeds writing one path together: both succeed, and the file
    is one of the two data sets, whole (each writes its own temporary file)."""
    import uproot

    path = str(tmp_path / "data.root")
    write = "import sys; from tmva_lstm import data; data.make_tutorial_data(sys.argv[1], 3000, 3000, seed=int(sys.argv[2]))"
    runs = [subprocess.Popen([sys.executable, "-c", write, path, str(seed)], stderr=subprocess.PIPE, text=True)
            for seed in (1, 2)]
    assert [r.wait() for r in runs] == [0, 0], [r.stderr.read() for r in runs]
    got = uproot.open(path)["sgn"]["vars_time0"].array(library="np")
    for seed in (1, 2):
        one = str(tmp_path / f"alone{seed}.root")
        subprocess.run([sys.executable, "-c", write, one, str(seed)], check=True)
        if np.array_equal(np.stack(uproot.open(one)["sgn"]["vars_time0"].array(library="np")), np.stack(got)):
            break
    else:
        pytest.fail("the file is neither data set")
    assert [f for f in os.listdir(tmp_path) if ".tmp" in f] == []


def test_a_second_training_into_one_out_folder_is_refused(tmp_path, tutorial_file):
    """A run holds its --out folder's lock for its whole length; another run into the same folder
    stops at once with a clear message, and the first one's files are untouched."""
    from tmva_lstm._io import exclusive

    with exclusive(str(tmp_path)):  # as a first run would
        second = subprocess.run(["tmva-lstm", "train", "--file", tutorial_file, "--out", str(tmp_path)],
                                capture_output=True, text=True)
    assert second.returncode != 0
    assert f"another tmva-lstm run is writing into '{tmp_path}'" in second.stderr and "Traceback" not in second.stderr
    assert sorted(os.listdir(tmp_path)) == [".tmva-lstm.lock"]


def test_written_files_get_the_usual_permissions(tmp_path):
    """Files renamed into place are readable as open() would make them (umask), not private as the
    temporary file was."""
    from tmva_lstm._io import replacing

    umask = os.umask(0o022)
    try:
        with replacing(str(tmp_path / "metrics.json")) as tmp, open(tmp, "w") as f:
            f.write("{}")
    finally:
        os.umask(umask)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644
