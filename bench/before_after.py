"""One LSTM training step of two builds, timed in alternating rounds in one sitting.

    python bench/before_after.py BEFORE/lstm_step_bench AFTER/lstm_step_bench \
        [--configs S M L] [--dtypes float32 float64] [--rounds 5]

Each round runs both binaries (bench/lstm_step.cxx) on every config, alternating which goes
first; the ratio is the median over rounds of the per-round after/before ratio of median step
times, with its range. The machine is shared and noisy: run with nothing else running, and rerun
when a range is wide.
"""
import argparse
import json
import statistics
import subprocess

CONFIGS = {"S": (256, 10, 30, 10), "M": (256, 10, 30, 64), "L": (64, 100, 64, 256), "XL": (256, 100, 128, 512)}
REPS = {"S": 2000, "M": 300, "L": 20, "XL": 5}


def step_ms(binary, config, dtype):
    out = subprocess.run([binary, "cpu", dtype, *map(str, CONFIGS[config]), str(REPS[config])],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_ms"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--configs", nargs="+", default=["S", "M", "L"], choices=list(CONFIGS))
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    print("| config | dtype | before ms | after ms | after/before | range |")
    print("|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        for config in args.configs:
            before, after = [], []
            for r in range(args.rounds):
                order = [(args.before, before), (args.after, after)]
                for binary, times in order if r % 2 == 0 else order[::-1]:
                    times.append(step_ms(binary, config, dtype))
            ratios = [a / b for a, b in zip(after, before)]
            print(f"| {config} | {dtype} | {statistics.median(before):.3f} | {statistics.median(after):.3f} | "
                  f"{statistics.median(ratios):.3f} | {min(ratios):.3f}–{max(ratios):.3f} |", flush=True)


if __name__ == "__main__":
    main()
