"""What a variable-length batch costs against its padded equivalent, ours and torch's.

    python bench/lengths_bench.py [--configs S M L] [--dtypes float32] [--rounds 5] [--reps 20]

One training step of the LSTM layer (forward + backward of a summed loss, returnSequence), on the
same right-padded batch: without lengths (every sample runs T steps) and with lengths drawn
uniformly from 1 … T, in batch order ("random") and sorted longest first ("sorted", which lets
each batch slice stop at its own longest sample). torch runs the padded batch and the same
lengths as a packed sequence (pack_padded_sequence, enforce_sorted=False). Each round measures
every variant back to back; ratios are per round, then the median and range over rounds.
"""

import argparse
import statistics
import sys

import numpy as np

from tmva_lstm.bench import CONFIGS, _median_seconds, have_torch, ours_step, set_threads, torch_step


def lengths_for(order, B, T, seed=0):
    lengths = np.random.default_rng(seed).integers(1, T + 1, size=B)
    return np.sort(lengths)[::-1].copy() if order == "sorted" else lengths


def run(configs, dtypes, threads, rounds, reps):
    set_threads(threads)
    torch_ok = have_torch()
    print(f"{'config':<6} {'dtype':<8} {'lengths':<7} {'ours len/pad':>13} {'(range)':>11} "
          f"{'torch packed/pad':>17} {'(range)':>11} {'ours/torch packed':>18}")
    for dtype in dtypes:
        for config in configs:
            B, T, D, H = CONFIGS[config]
            for order in ("random", "sorted"):
                lengths = lengths_for(order, B, T)
                steps = {"ours_pad": ours_step(B, T, D, H, np.dtype(dtype)),
                         "ours_len": ours_step(B, T, D, H, np.dtype(dtype), lengths=lengths)}
                if torch_ok:
                    steps["torch_pad"] = torch_step(B, T, D, H, np.dtype(dtype))
                    steps["torch_len"] = torch_step(B, T, D, H, np.dtype(dtype), lengths=lengths)
                seen = {k: [] for k in steps}
                for _ in range(rounds):
                    for k, step in steps.items():
                        seen[k].append(_median_seconds(step, reps))
                ours = [a / b for a, b in zip(seen["ours_len"], seen["ours_pad"])]
                line = f"{config:<6} {dtype:<8} {order:<7} {statistics.median(ours):13.2f} " \
                       f"{min(ours):5.2f}-{max(ours):<5.2f}"
                if torch_ok:
                    theirs = [a / b for a, b in zip(seen["torch_len"], seen["torch_pad"])]
                    vs = [a / b for a, b in zip(seen["ours_len"], seen["torch_len"])]
                    line += f" {statistics.median(theirs):17.2f} {min(theirs):5.2f}-{max(theirs):<5.2f}" \
                            f" {statistics.median(vs):18.2f}"
                print(line, flush=True)
    print(f"mean length {np.mean(lengths_for('random', 256, 10)):.2f} of T = 10 (S, M); "
          f"{np.mean(lengths_for('random', 64, 100)):.1f} of T = 100 (L)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["S", "M", "L"], choices=list(CONFIGS))
    p.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=20)
    a = p.parse_args(argv)
    run(a.configs, a.dtypes, a.threads, a.rounds, a.reps)


if __name__ == "__main__":
    sys.exit(main())
