"""Makes a model file so damaged that ROOT's own reading of it crashes: the fixture of
tests/test_model_integrity.py. It saves a fixed model, then flips single bits near the end of the
file (where ROOT keeps its streamer information and key list), in a seeded order, until ROOT's
plain reading (LoadModel, run in a child process) ends in a signal.

    python tests/make_damaged_model.py OUT.root
"""
import sys

import numpy as np

BOOKING = "InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR:RandomSeed=3"


def crashes_root(path):
    """Whether LoadModel on path kills the process that runs it (tried in a child)."""
    from tmva_lstm import _cpp

    load = _cpp.template(_cpp.ns, "LoadModel", _cpp.architecture("cpu", "float32"))
    try:
        _cpp.run_in_child(lambda: _cpp.call(load, path) and None, path)
    except ValueError as e:
        return "crashed" in str(e)
    return False


def make(out, tries=1000):
    """Writes the damaged file to `out`; returns the (byte, bit) flipped."""
    from tmva_lstm import Net

    Net(BOOKING).save(out)
    with open(out, "rb") as f:
        good = f.read()
    rng = np.random.default_rng(0)
    for _ in range(tries):
        pos, bit = len(good) - 1 - int(rng.integers(3000)), int(rng.integers(8))
        damaged = bytearray(good)
        damaged[pos] ^= 1 << bit
        with open(out, "wb") as f:
            f.write(damaged)
        if crashes_root(out):
            return pos, bit
    raise RuntimeError(f"no single-bit flip among {tries} made ROOT crash")


if __name__ == "__main__":
    print("flipped byte %d, bit %d" % make(sys.argv[1]))
