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
