"""Reading throughput, entries per second: the ROOT reader (TTreeReader in C++) and the uproot
reader of tmva_lstm.data, against uproot's `arrays` alone and RDataFrame's `AsNumpy`, on the
tutorial layout (10 branches of float[30] per entry) and on the jagged track layout
(5 std::vector<float> branches, Poisson count). Each reader reads the whole file, all rounds
alternate, the best of each round is kept. The ROOT reader reads ranges of entries on our worker
pool's threads (THREADS, and 1 for comparison); uproot runs once as its default, on one thread, and
once with THREADS decompression threads; RDataFrame on one thread.

    python bench/read_bench.py [--entries 100000] [--rounds 3] [--dir /tmp/read_bench]
"""
import argparse
import os
import statistics
import time

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import uproot

from tmva_lstm import _cpp, data
from tmva_lstm._cpp import ROOT

THREADS = 2  # the ROOT reader's (our worker pool) and uproot's decompression threads, where threaded
cpu = _cpp.architecture("cpu", "float32")


def make_files(folder, entries):
    """The tutorial data (generated once at 2000 + 2000, then repeated, written by uproot as fixed
    arrays float[30]) and the track toy (std::vector<float> branches)."""
    os.makedirs(folder, exist_ok=True)
    tutorial, tracks = os.path.join(folder, "tutorial.root"), os.path.join(folder, "tracks.root")
    if not os.path.exists(tutorial):
        seed_file = os.path.join(folder, "seed.root")
        data.make_tutorial_data(seed_file, 2000, 2000, seed=1)
        with uproot.open(seed_file) as f:
            arrays = {name: f[name].arrays(library="np") for name in ("sgn", "bkg")}
        with uproot.recreate(tutorial) as f:
            for name, a in arrays.items():
                f.mktree(name, {b: (np.float32, (30,)) for b in a})
                block = {b: np.stack(v) for b, v in a.items()}
                for _ in range(entries // 2 // 2000):
                    f[name].extend(block)
    if not os.path.exists(tracks):
        data.make_track_data(tracks, entries // 2, entries // 2, seed=1)
    return tutorial, tracks


def readers(path, description):
    branches = data._branches(description)

    def uproot_arrays():
        with uproot.open(path) as f:
            for name in description.trees:
                f[name].arrays(branches, library="ak")

    def uproot_arrays_threads():
        # uproot shuts the executor down when the file closes: a new one per read
        with uproot.open(path, decompression_executor=ThreadPoolExecutor(THREADS)) as f:
            for name in description.trees:
                f[name].arrays(branches, library="ak")

    def root_reader(threads):
        def read():
            cpu.SetNumThreads(threads)
            try:
                data.read_root(path, description)
            finally:
                cpu.SetNumThreads(0)
        return read

    def rdataframe():
        for name in description.trees:
            ROOT.RDataFrame(name, path).AsNumpy(branches)

    return {"tmva_lstm ROOT reader": root_reader(THREADS),
            "tmva_lstm ROOT reader, 1 thread": root_reader(1),
            "tmva_lstm uproot reader": lambda: data.read_uproot(path, description),
            "uproot arrays alone": uproot_arrays,
            f"uproot arrays alone, {THREADS} decompression threads": uproot_arrays_threads,
            "RDataFrame AsNumpy": rdataframe}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", default="/tmp/read_bench")
    args = p.parse_args()
    ROOT.DisableImplicitMT()
    tutorial, tracks = make_files(args.dir, args.entries)
    cases = {"tutorial (10 x float[30])": (tutorial, data.Description.tutorial()),
             "tracks (5 x vector<float>, sorted, 15 kept)": (tracks, data.Description.tracks())}
    print("| layout | reader | entries/s (median of rounds) | range | / ROOT reader |")
    print("|---|---|---|---|---|")
    for layout, (path, description) in cases.items():
        n = sum(len(s.y) for s in data.iterate_uproot(path, description))
        fns = readers(path, description)
        for fn in fns.values():  # warm-up: file cache, JIT
            fn()
        rates = {name: [] for name in fns}
        for r in range(args.rounds):
            order = list(fns.items()) if r % 2 == 0 else list(fns.items())[::-1]
            for name, fn in order:
                start = time.perf_counter()
                fn()
                rates[name].append(n / (time.perf_counter() - start))
        ref = statistics.median(rates["tmva_lstm ROOT reader"])
        for name, values in rates.items():
            m = statistics.median(values)
            print(f"| {layout} | {name} | {m:,.0f} | {min(values):,.0f}–{max(values):,.0f} | {m / ref:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
