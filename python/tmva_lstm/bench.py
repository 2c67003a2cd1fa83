"""CPU benchmark of one recurrent training step (layer forward + backward of a summed loss):
tmva-lstm's LSTM and GRU against torch.nn.LSTM and torch.nn.GRU with the same threads, and the
BLAS GEMM rate as the ceiling. The GRU is the reset-gate-after form, torch's.

    tmva-lstm bench [--cells lstm gru] [--configs S M L XL] [--dtypes float32 float64]
                    [--threads 2] [--reps 20] [--rounds 3] [--json out.json]

Work per step is counted as 3 × the forward GEMM flops, 3 · 2·B·T·G·H·(D+H) (G = 4 LSTM, 3 GRU). Peak memory is how
far the resident set rises above where it stood before the layer was built (the kernel's peak
counter is reset first), measured in a fresh subprocess per (framework, config, dtype).

On a shared machine the speed drifts by tens of percent within a minute, so ours and torch are
measured back to back, `rounds` times alternately; the ratio reported is the median of the
per-round ratios (with its range), the times are the medians over rounds.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

CONFIGS = {"S": (256, 10, 30, 10), "M": (256, 10, 30, 64), "L": (64, 100, 64, 256), "XL": (256, 100, 128, 512)}


GATES = {"lstm": 4, "gru": 3}


def step_flops(B, T, D, H, cell="lstm"):
    return 3 * 2 * B * T * GATES[cell] * H * (D + H)


def _median_seconds(step, reps, min_seconds=0.2):
    step()  # warm up: first-touch pages, BLAS buffers, JIT
    times = []
    start = time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < min_seconds and len(times) < 10 * reps:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ours_step(B, T, D, H, dtype, cell="lstm", lengths=None):
    """The C++ layer's Forward + Backward on preloaded matrices (no NumPy copies in the step);
    with `lengths` (B,), a right-padded batch of those sample lengths."""
    from . import _cpp
    from .layer import GRU, LSTM

    if cell == "gru":
        layer = GRU(B, H, D, T, dtype=dtype, return_sequence=True, seed=1, reset_gate_after=True)
    else:
        layer = LSTM(B, H, D, T, dtype=dtype, return_sequence=True, seed=1)
    arch, lstm = layer._arch, layer._layer
    x, y = arch.Matrix_t(B, T * D), arch.Matrix_t(B, T * H)
    dy, dx = arch.Matrix_t(B, T * H), arch.Matrix_t(B, T * D)
    rng = np.random.default_rng(0)
    arch.CopyFromHost(x.View(), rng.uniform(-1, 1, B * T * D).astype(dtype), B * T * D, "x")
    arch.CopyFromHost(dy.View(), np.ones(B * T * H, dtype), B * T * H, "dy")  # ∂(Σ y)/∂y
    nullptr = _cpp.cppyy.nullptr
    forward, backward = lstm.Forward, lstm.Backward
    lens = nullptr
    if lengths is not None:
        lens = arch.Matrix_t(B, 1)
        arch.CopyFromHost(lens.View(), np.asarray(lengths, dtype), B, "lengths")

    def step():
        forward(x, y, lens)
        backward(dy, dx, nullptr, nullptr)

    step.layer = layer  # owns the C++ layer that forward and backward are bound to
    return step


def torch_step(B, T, D, H, dtype, cell="lstm", lengths=None):
    """torch.nn.LSTM/GRU's step; with `lengths`, on a packed sequence of those lengths."""
    import torch

    torch_dtype = getattr(torch, np.dtype(dtype).name)
    lstm = (torch.nn.GRU if cell == "gru" else torch.nn.LSTM)(D, H, batch_first=True).to(torch_dtype)
    x = torch.rand(B, T, D, dtype=torch_dtype, requires_grad=True)

    def step():
        lstm.zero_grad(set_to_none=True)
        x.grad = None
        if lengths is None:
            out, _ = lstm(x)
            out.sum().backward()
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True,
                                                             enforce_sorted=False)
            out, _ = lstm(packed)
            out.data.sum().backward()

    return step


def gemm_gflops(dtype, n=2048, reps=10):
    """The BLAS ceiling: C = A B for n×n matrices through the library's own TCpu::Gemm, the best
    of `reps` (a ceiling is what the BLAS can reach; on a shared machine the median wanders)."""
    from . import _cpp

    arch = _cpp.architecture("cpu", np.dtype(dtype).name)
    a, b, c = arch.Matrix_t(n, n), arch.Matrix_t(n, n), arch.Matrix_t(n, n)
    arch.CopyFromHost(a.View(), np.random.default_rng(0).uniform(-1, 1, n * n).astype(dtype), n * n, "a")
    arch.CopyFromHost(b.View(), np.random.default_rng(1).uniform(-1, 1, n * n).astype(dtype), n * n, "b")
    gemm = arch.Gemm
    gemm(c.View(), a.View(), False, b.View(), False, 1, 0)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        gemm(c.View(), a.View(), False, b.View(), False, 1, 0)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def set_threads(threads):
    from . import _cpp

    for dtype in ("float32", "float64"):
        _cpp.architecture("cpu", dtype).SetNumThreads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measure(framework, config, dtype, threads, reps, cell="lstm"):
    """Runs in a fresh process: median step seconds and the rise of peak RSS (MiB)."""
    set_threads(threads)
    B, T, D, H = CONFIGS[config]
    make = ours_step if framework == "ours" else torch_step
    make(1, 1, 1, 1, np.dtype(dtype), cell)()  # load everything lazy (kernels, JIT) before measuring
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set (VmHWM) to the current one
    before = _status_kib("VmRSS")
    step = make(B, T, D, H, np.dtype(dtype), cell)
    seconds = _median_seconds(step, reps)
    return {"seconds": seconds, "peak_mib": (_status_kib("VmHWM") - before) / 1024}


def _measure_in_subprocess(framework, config, dtype, threads, reps, cell):
    code = (f"import json; from tmva_lstm.bench import _measure; "
            f"print(json.dumps(_measure({framework!r}, {config!r}, {dtype!r}, {threads}, {reps}, {cell!r})))")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"benchmark of {framework} {cell} {config} {dtype} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run(configs=("S", "M", "L", "XL"), dtypes=("float32", "float64"), threads=2, reps=20, rounds=3, log=print,
        cells=("lstm", "gru")):
    """Returns a dict with machine info and one row per (cell, config, dtype)."""
    for name, value in (("threads", threads), ("reps", reps), ("rounds", rounds)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    set_threads(threads)
    torch_ok = have_torch()
    ceiling = {d: gemm_gflops(d) for d in dtypes}
    rows = []
    for cell, dtype, config in ((c, d, k) for c in cells for d in dtypes for k in configs):
        B, T, D, H = CONFIGS[config]
        flops = step_flops(B, T, D, H, cell)
        frameworks = ("ours", "torch") if torch_ok else ("ours",)
        seen = {fw: [] for fw in frameworks}
        for _ in range(rounds):
            for fw in frameworks:
                seen[fw].append(_measure_in_subprocess(fw, config, dtype, threads, reps, cell))
        seconds = {fw: statistics.median(m["seconds"] for m in seen[fw]) for fw in frameworks}
        peak = {fw: max(m["peak_mib"] for m in seen[fw]) for fw in frameworks}
        row = {"cell": cell, "config": config, "dtype": dtype, "B": B, "T": T, "D": D, "H": H, "rounds": rounds,
               "ours_ms": seconds["ours"] * 1e3, "ours_gflops": flops / seconds["ours"] / 1e9,
               "ours_peak_mib": peak["ours"], "gemm_ceiling_gflops": ceiling[dtype]}
        row["ours_pct_ceiling"] = 100 * row["ours_gflops"] / ceiling[dtype]
        if torch_ok:
            ratios = [o["seconds"] / t["seconds"] for o, t in zip(seen["ours"], seen["torch"])]
            row.update(torch_ms=seconds["torch"] * 1e3, torch_gflops=flops / seconds["torch"] / 1e9,
                       torch_peak_mib=peak["torch"], ratio=statistics.median(ratios),
                       ratio_min=min(ratios), ratio_max=max(ratios))
        rows.append(row)
        log(format_row(row))
    import platform

    info = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "processor": _cpu_name(),
            "cores": os.cpu_count(), "threads": threads, "reps": reps, "rounds": rounds,
            "torch": _torch_version() if torch_ok else None, "gemm_ceiling_gflops": ceiling}
    return {"info": info, "rows": rows}


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _torch_version():
    import torch

    return torch.__version__


HEADER = (f"{'cell':<5} {'config':<6} {'dtype':<8} {'ours ms':>9} {'torch ms':>9} {'ours/torch':>10} {'(range)':>11} "
          f"{'GFLOP/s':>8} {'% GEMM':>7} {'ours MiB':>9} {'torch MiB':>9}")


def format_row(r):
    torch_ms = f"{r['torch_ms']:9.3f}" if "torch_ms" in r else f"{'-':>9}"
    ratio = f"{r['ratio']:10.2f}" if "ratio" in r else f"{'-':>10}"
    spread = f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}" if "ratio" in r else "-"
    torch_mib = f"{r['torch_peak_mib']:9.1f}" if "torch_peak_mib" in r else f"{'-':>9}"
    return (f"{r['cell']:<5} {r['config']:<6} {r['dtype']:<8} {r['ours_ms']:9.3f} {torch_ms} {ratio} {spread:>11} "
            f"{r['ours_gflops']:8.1f} {r['ours_pct_ceiling']:7.1f} {r['ours_peak_mib']:9.1f} {torch_mib}")
