"""Data-parallel training throughput: samples per second for K MPI processes (1 thread each)
against one process, and the share of each step spent in the gradient sum (MPI_Allreduce).

    python bench/mpi_bench.py                      # one process
    mpiexec -n 2 python bench/mpi_bench.py         # two processes
    [--samples 20000] [--epochs 5] [--batch 200] [--layout tutorial|M]

The net is the tutorial's (or config M's LSTM, H = 64) with BatchSize = --batch, trained on
random samples (only the time matters); each process trains on its share, B/K rows per step.
A short fit first warms up (cling compiles the templates on first use).
The Allreduce volume per step is the parameter count + 2 values, as doubles (TGradientSum).
"""

import argparse
import time

import numpy as np

from tmva_lstm import Net
from tmva_lstm.bench import set_threads

LAYOUTS = {"tutorial": ("10|30", "LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR"),
           "M": ("10|30", "LSTM|64|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--layout", choices=list(LAYOUTS), default="tutorial")
    a = p.parse_args(argv)
    set_threads(1)
    comm = None
    try:
        from mpi4py import MPI
        if MPI.COMM_WORLD.Get_size() > 1:
            from tmva_lstm.distributed import MPICommunicator
            comm = MPICommunicator()
    except ImportError:
        pass
    K, rank = (comm.Size(), comm.Rank()) if comm else (1, 0)
    if comm:  # time spent in the sums, this process's
        spent, reduce = [0.0, 0], comm.AllreduceSum

        def timed(values, n):
            t0 = time.perf_counter()
            reduce(values, n)
            spent[0] += time.perf_counter() - t0
            spent[1] += 1

        comm.AllreduceSum = timed
    layout, layers = LAYOUTS[a.layout]
    options = (f"InputLayout={layout}:Layout={layers}:ErrorStrategy=CROSSENTROPY:RandomSeed=1:TrainingStrategy="
               f"LearningRate=1e-3,Optimizer=ADAM,BatchSize={a.batch},MaxEpochs={a.epochs},ConvergenceSteps={a.epochs}")
    rng = np.random.default_rng(rank)
    n, nv = a.samples // K, 100
    x, y = rng.uniform(-1, 1, (n, 10, 30)).astype(np.float32), rng.integers(0, 2, n).astype(np.float32)
    xv, yv = x[:nv], y[:nv]
    # warm up first: the first fit compiles its templates in cling (about a second)
    Net(options.replace(f"MaxEpochs={a.epochs}", "MaxEpochs=1")).fit(x[:a.batch * 4 // K], y[:a.batch * 4 // K],
                                                                     x_valid=xv, y_valid=yv, distributed=comm,
                                                                     verbose=False)
    if comm:
        spent[0] = spent[1] = 0
    net = Net(options)
    params = sum(v.size for v in net.parameters.values())
    start = time.perf_counter()
    net.fit(x, y, x_valid=xv, y_valid=yv, distributed=comm, verbose=False)
    seconds = time.perf_counter() - start
    if rank == 0:
        rate = a.samples * a.epochs / seconds
        line = (f"{a.layout}: {K} process{'es' if K > 1 else ''} x 1 thread, {a.samples} samples x {a.epochs} "
                f"epochs, batch {a.batch}: {rate:,.0f} samples/s ({seconds:.2f} s); {params} parameters, "
                f"{(params + 2) * 8} bytes summed per step")
        if comm:
            line += f"; gradient sums {spent[0]:.2f} s over {spent[1]} calls ({spent[0] / seconds:.1%} of the time)"
        print(line)


if __name__ == "__main__":
    main()
