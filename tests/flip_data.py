"""Single-bit flips of a data file: each flipped file is read by both readers (data.read_root and
data.read_uproot), each in a child process (_cpp.run_in_child, as --safe-read does). Every case
must end in a clear error that names the file or the tree, or in samples identical to the
original's; `DIFFERENT` (silently changed samples) or a child that dies without an answer is a
failure. Used by tests/test_bad_input.py; as a script it prints the counts that
docs/reliability.md reports.

    python tests/flip_data.py [--flips 1000] [--seed 1]
"""
import argparse
import collections
import os
import re
import tempfile

import numpy as np

from flip_model import flipped_copies

READERS = ("root", "uproot")


def flip(path, flips, seed):
    """{reader: Counter of outcomes}: 'identical', 'DIFFERENT', or the error with names elided."""
    from tmva_lstm import _cpp, data

    description = data.Description.tutorial()
    reference = {r: getattr(data, f"read_{r}")(path, description) for r in READERS}
    outcomes = {r: collections.Counter() for r in READERS}
    for flipped in flipped_copies(path, flips, seed):
        for r in READERS:
            def read(r=r):
                samples = getattr(data, f"read_{r}")(flipped, description)
                same = all(np.array_equal(a, b) for a, b in zip(samples, reference[r]) if a is not None)
                return "identical" if same else "DIFFERENT"

            try:
                outcomes[r][_cpp.run_in_child(read, f"reading '{flipped}'", timeout=60)] += 1
            except (ValueError, RuntimeError, MemoryError) as e:
                message = re.sub(r"'[^']*'", "'…'", str(e))
                named = "'…'" in message  # the file, tree or branch
                outcomes[r][f"{type(e).__name__}{'' if named else ' (NAMES NOTHING)'}: " +
                            re.sub(r"\d+", "N", message)[:90]] += 1
    return outcomes


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flips", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from tmva_lstm import data

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tutorial.root")
        data.make_tutorial_data(path, n_signal=500, n_background=500, seed=1)
        print(f"{args.flips} single-bit flips of a {os.path.getsize(path) // 1000} kB tutorial data file, "
              f"seed {args.seed}")
        for reader, counts in flip(path, args.flips, args.seed).items():
            print(f"\n{reader}:")
            for outcome, n in counts.most_common():
                print(f"  {n:5d}  {outcome}")


if __name__ == "__main__":
    main()
