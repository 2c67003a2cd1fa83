"""Inference throughput, events per second: the tutorial network predicting 100k events in
float32, tmva-lstm's Net.predict and its C++ RReader (loaded from the saved model, as an analysis
would; inputs already in a std::vector) against ONNX Runtime (on the graph Net.export_onnx writes)
and torch (the same network from `torch_io.to_torch`, `no_grad`, one batch), with the same weights
and the same threads, in one run; then the jagged-tracks network (`LSTM|16|5|15|0|0,DENSE|32|TANH,LINEAR`, lengths) against
ONNX Runtime with sequence_lens and torch with packed sequences.

    python bench/inference_bench.py [--events 100000] [--threads 2] [--rounds 3]

Every engine predicts the same events; each round times every engine once (best of 3 calls), the
rounds alternate; the table gives the median over rounds and the range.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

from tmva_lstm import Net
from tmva_lstm._cpp import ROOT
from tmva_lstm.bench import set_threads
from tmva_lstm.torch_io import to_torch
from tmva_lstm.workflow import TRACKS_OPTIONS, TUTORIAL_OPTIONS


def random_weights(net, seed):
    rng = np.random.default_rng(seed)
    for name, p in net.parameters.items():
        net.set_parameter(name, rng.uniform(-0.5, 0.5, p.shape))


def engines(options, T, D, n, threads, with_lengths, seed=1):
    rng = np.random.default_rng(seed)
    net = Net(options)
    random_weights(net, seed)
    x = rng.uniform(-1, 1, (n, T, D)).astype(np.float32)
    lengths = rng.poisson(8, n).clip(0, T) if with_lengths else None
    if with_lengths:
        x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    path = os.path.join(tempfile.mkdtemp(), "net.onnx")
    net.export_onnx(path, lengths=with_lengths)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {"x": x} | ({"sequence_lens": lengths.astype(np.int32)} if with_lengths else {})
    model, xt = to_torch(net), torch.from_numpy(x)  # the same network, its weights copied
    lt = torch.from_numpy(lengths) if with_lengths else None
    saved = os.path.join(os.path.dirname(path), "net.root")
    net.save(saved)
    reader = ROOT.tmva_lstm.RReader(saved)
    xv = ROOT.std.vector["float"](x.ravel())
    lv = ROOT.std.vector["float"](lengths.astype(np.float32) if with_lengths else [])
    runs = {"tmva-lstm Net.predict": lambda: net.predict(x, lengths=lengths),
            "tmva-lstm RReader (C++)": lambda: np.asarray(reader.Compute(xv, lv)),
            "ONNX Runtime": lambda: session.run(None, feed)[0],
            "torch": lambda: model(xt, lt).numpy()}
    with torch.no_grad():
        results = {k: np.asarray(f()).reshape(-1) for k, f in runs.items()}
    agree = max(np.abs(r - results["tmva-lstm Net.predict"]).max() for r in results.values())
    return runs, agree


def measure(runs, rounds):
    seen = {k: [] for k in runs}
    with torch.no_grad():
        for _ in range(rounds):
            for k, f in runs.items():
                best = float("inf")
                for _ in range(3):
                    t0 = time.perf_counter()
                    f()
                    best = min(best, time.perf_counter() - t0)
                seen[k].append(best)
    return seen


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    set_threads(a.threads)
    for title, options, T, D, lengths in (("tutorial", TUTORIAL_OPTIONS, 10, 30, False),
                                          ("tracks", TRACKS_OPTIONS, 15, 5, True)):
        runs, agree = engines(options, T, D, a.events, a.threads, lengths)
        seen = measure(runs, a.rounds)
        ours = statistics.median(seen["tmva-lstm Net.predict"])
        print(f"{title}: {a.events} events, float32, {a.threads} threads, predictions agree to {agree:.1e}")
        for k, s in seen.items():
            rate = [a.events / v for v in s]
            print(f"  {k:<24} {statistics.median(rate):>10,.0f} events/s  ({min(rate):,.0f}–{max(rate):,.0f})"
                  f"  ours / this (events/s) {statistics.median(s) / ours:.2f}")


if __name__ == "__main__":
    main()
