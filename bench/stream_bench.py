"""Peak memory of training from files: streaming (data.Stream through a shuffle buffer) against
in memory, on the b-jet toy at 1x (one file) and 10x (ten such files, as data grows in HEP: more
files of the same layout) the data. Each run is a fresh process (one epoch of the tracks network;
peak RSS from getrusage); nothing else should run meanwhile.

    python bench/stream_bench.py [--jets 200000] [--buffer 20000] [--dir /tmp/stream_bench]
"""
import argparse
import json
import os
import subprocess
import sys

RUN = r"""
import json, resource, sys, time
from tmva_lstm import Net, data
from tmva_lstm.workflow import TRACKS_OPTIONS
path, mode, buffer_size = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
d = data.Description.tracks()
net = Net(TRACKS_OPTIONS.replace("MaxEpochs=20", "MaxEpochs=1"))
start = time.perf_counter()
if mode == "stream":
    net.fit(data.Stream(path, d, "train"), x_valid=data.Stream(path, d, "valid"), buffer_size=buffer_size,
            verbose=False)
else:
    train, valid = data.read_root(path, d, part="train"), data.read_root(path, d, part="valid")
    net.fit(*train, x_valid=valid.x, y_valid=valid.y, lengths_valid=valid.lengths, verbose=False)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jets", type=int, default=200_000, help="jets per file (half b, half light)")
    p.add_argument("--buffer", type=int, default=20_000)
    p.add_argument("--dir", default="/tmp/stream_bench")
    args = p.parse_args()
    from tmva_lstm import data

    os.makedirs(args.dir, exist_ok=True)
    parts = [os.path.join(args.dir, f"tracks_part{k}.root") for k in range(10)]
    for k, path in enumerate(parts):
        if not os.path.exists(path):
            data.make_track_data(path, args.jets // 2, args.jets // 2, seed=1 + k)
    files = {1: parts[:1], 10: parts}
    print("| data | mode | entries | peak RSS MiB | seconds (1 epoch) |")
    print("|---|---|---|---|---|")
    for mode in ("stream", "memory"):
        for scale, path in files.items():
            out = subprocess.run([sys.executable, "-c", RUN, ",".join(path), mode, str(args.buffer)], capture_output=True,
                                 text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"| {scale}x | {mode} | {args.jets * scale:,} | {r['peak_mib']:.0f} | {r['seconds']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
