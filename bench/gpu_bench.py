"""GPU benchmark: one LSTM training step (layer forward + backward of a summed loss) of ours
against PyTorch's cuDNN nn.LSTM, in the same run, on configs S, M, L, XL, float32 and float64.

    python bench/gpu_bench.py --exe build/lstm_step_bench [--configs S M L XL] [--dtypes ...]
                              [--reps 50] [--json out.json] [--device cuda]

Ours runs its recurrence in one kernel where that applies (TCuda's fused recurrence, S and M);
"graph steps" is ours graph-replayed with the step-by-step loop instead, for comparison.
Both sides are timed two ways. Eager: wall time of one step, synchronised, host overhead
included (for PyTorch at S and M mostly its Python overhead). Graph: the step captured once in a
CUDA graph and replayed, timed over rounds of 10 replays back to back (ours by wall clock around
the round, cuDNN by CUDA events), per step; the median over rounds. Ours is run by the C++
executable bench/lstm_step.cxx (the GPU machine has no ROOT, so no PyROOT). TF32 is off on both
sides. --device cpu runs the same harness on the CPU (no graphs), to check it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

# The configs of tmva_lstm.bench, repeated: this script runs where neither ROOT nor the package is.
CONFIGS = {"S": (256, 10, 30, 10), "M": (256, 10, 30, 64), "L": (64, 100, 64, 256), "XL": (256, 100, 128, 512)}


ROUND = 10  # graph replays per timed round, as lstm_step.cxx's kRound


def ours_ms(exe, device, dtype, config, reps, mode):
    B, T, D, H = CONFIGS[config]
    arch = "cuda" if device == "cuda" else "cpu"
    try:
        result = subprocess.run([exe, arch, dtype, str(B), str(T), str(D), str(H), str(reps), mode],
                                capture_output=True, text=True)
    except OSError as e:
        raise RuntimeError(f"cannot run {exe}: {e.strerror} (build it with CMake: target lstm_step_bench)") from None
    if result.returncode != 0:
        raise RuntimeError(f"{exe} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)["median_ms"]


def torch_step(device, dtype, config):
    B, T, D, H = CONFIGS[config]
    torch_dtype = getattr(torch, dtype)
    lstm = torch.nn.LSTM(D, H, batch_first=True).to(device=device, dtype=torch_dtype)
    x = torch.rand(B, T, D, device=device, dtype=torch_dtype, requires_grad=True)

    def step():
        out, _ = lstm(x)
        out.sum().backward()

    return step


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def eager_ms(step, device, reps):
    for _ in range(3):
        step()
    synchronize(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        synchronize(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def graph_ms(step, reps):
    """The step captured in a CUDA graph and replayed: per replay, over rounds of ROUND back to back."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside capture, as torch.cuda.graphs requires
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        for _ in range(ROUND):
            graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / ROUND)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exe", required=True, help="the lstm_step_bench executable (CMake build with CUDA)")
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], default=["float32", "float64"])
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_bench: no CUDA device visible to PyTorch (use --device cpu to check the harness)", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"gpu_bench: one LSTM training step on {name}, torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}, TF32 off, median of {args.reps}")
    print(f"{'config':<6} {'dtype':<8} {'ours eager':>10} {'graph steps':>11} {'ours graph':>10} "
          f"{'cuDNN eager':>11} {'cuDNN graph':>11} {'eager/eager':>11} {'graph/graph':>11}")
    if args.reps < 1:
        p.error(f"--reps must be >= 1, got {args.reps}")
    rows = []
    failed = False
    for dtype in args.dtypes:
        for config in args.configs:
            try:
                ours = ours_ms(args.exe, args.device, dtype, config, args.reps, "eager")
                ours_steps = ours_ms(args.exe, args.device, dtype, config, args.reps, "graph-steps")
                ours_graph = ours_ms(args.exe, args.device, dtype, config, args.reps, "graph")
            except RuntimeError as e:  # report it and go on with the other configs
                print(f"gpu_bench: {config} {dtype}: {e}", file=sys.stderr)
                failed = True
                continue
            step = torch_step(args.device, dtype, config)
            eager = eager_ms(step, args.device, args.reps)
            graph = graph_ms(step, args.reps) if args.device == "cuda" else None
            row = {"config": config, "dtype": dtype, "ours_eager_ms": ours, "ours_graph_steps_ms": ours_steps,
                   "ours_graph_ms": ours_graph,
                   "cudnn_eager_ms": eager, "cudnn_graph_ms": graph, "eager_over_eager": ours / eager,
                   "graph_over_graph": ours_graph / graph if graph else None}
            rows.append(row)
            graph_text = f"{graph:11.3f}" if graph else f"{'-':>11}"
            ratio_text = f"{ours_graph / graph:11.2f}" if graph else f"{'-':>11}"
            print(f"{config:<6} {dtype:<8} {ours:10.3f} {ours_steps:11.3f} {ours_graph:10.3f} {eager:11.3f} {graph_text} "
                  f"{ours / eager:11.2f} {ratio_text}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
                       "cudnn": torch.backends.cudnn.version(), "reps": args.reps, "rows": rows}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
