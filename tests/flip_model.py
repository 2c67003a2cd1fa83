"""Single-bit flips of a saved model: each flipped file is loaded with Net.load and used to
predict. Every case must end in a clear error or in predictions identical to the original's;
`DIFFERENT` (a silent change) or a crash of this process is a failure. Used by
tests/test_model_integrity.py; as a script it prints the counts that docs/reliability.md reports.

    python tests/flip_model.py [--flips 2000] [--seed 1]
"""
import argparse
import collections
import os
import re
import tempfile

import numpy as np

TUTORIAL = "InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR"


def flipped_copies(path, flips, seed):
    """`flips` times, the path of a copy of the file (beside it, overwritten each time) with one
    seeded bit flipped."""
    good = open(path, "rb").read()
    rng = np.random.default_rng(seed)
    flipped = os.path.join(os.path.dirname(path), "flipped.root")
    for _ in range(flips):
        damaged = bytearray(good)
        damaged[int(rng.integers(len(good)))] ^= 1 << int(rng.integers(8))
        with open(flipped, "wb") as f:
            f.write(damaged)
        yield flipped


def flip(path, x, reference, flips, seed):
    """Counter of outcomes: 'identical', 'DIFFERENT', or the error with quoted names elided."""
    from tmva_lstm import Net

    outcomes = collections.Counter()
    for flipped in flipped_copies(path, flips, seed):
        try:
            same = np.array_equal(Net.load(flipped).predict(x), reference)
            outcomes["identical" if same else "DIFFERENT"] += 1
        except (ValueError, MemoryError) as e:
            message = str(e).replace(f"model file '{flipped}'", "model file")
            outcomes[f"{type(e).__name__}: " + re.sub(r"'[^']*'", "'…'", message)[:100]] += 1
    return outcomes


def main():
    from tmva_lstm import Net

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flips", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.root")
        net = Net(TUTORIAL)
        net.save(path)
        x = np.random.default_rng(0).normal(size=(7, 10, 30)).astype(np.float32)
        outcomes = flip(path, x, net.predict(x), args.flips, args.seed)
        print(f"{args.flips} flips of one bit in a {os.path.getsize(path)}-byte model, seed {args.seed}:")
        for what, count in outcomes.most_common():
            print(f"{count:6d}  {what}")


if __name__ == "__main__":
    main()
