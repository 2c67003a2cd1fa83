"""Saves that cannot lose a model: a full disk or a read-only file system ends in a clear error
with the previous model byte-identical and no temporary file left; a save killed with SIGKILL at
a random moment leaves a model that loads and predicts as the old or the new one. The file-system
cases mount a small tmpfs, so they run as root only (skipped otherwise)."""

import os
import random
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


SAVER = """
import sys
import numpy as np
from tmva_lstm import Net
net = Net({options!r})
rng = np.random.default_rng(2)
for name, p in net.parameters.items():
    net.set_parameter(name, rng.uniform(-0.5, 0.5, p.shape))
net.save(sys.argv[1] + ".warm")  # the first save compiles in cling; the timed ones take about 20 ms
print("ready", flush=True)
while True:
    net.save(sys.argv[1])
"""


def test_saves_killed_at_random_moments_leave_a_working_model(tmp_path):
    path = str(tmp_path / "model.root")
    old = Net(BIG)
    old.save(path)
    new = Net(BIG)
    rng = np.random.default_rng(2)
    for name, p in new.parameters.items():
        new.set_parameter(name, rng.uniform(-0.5, 0.5, p.shape))
    x = np.random.default_rng(3).uniform(-1, 1, (5, 10, 30)).astype(np.float32)
    expected = {"old": old.predict(x), "new": new.predict(x)}
    random.seed(4)
    seen = set()
    for trial in range(10):  # each trial starts a Python with ROOT: a few seconds
        saver = subprocess.Popen([sys.executable, "-c", SAVER.format(options=BIG), path], stdout=subprocess.PIPE,
                                 text=True)
        assert saver.stdout.readline().strip() == "ready"
        time.sleep(random.uniform(0, 0.1))  # a save takes about 20 ms: kill at a random point of one
        saver.kill()
        saver.wait()
        got = Net.load(path).predict(x)
        which = [k for k, v in expected.items() if np.array_equal(got, v)]
        assert which, f"trial {trial}: the model file predicts neither the old nor the new model"
        seen.update(which)
    assert "new" in seen  # the saves did happen
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
