"""Data-parallel training over MPI: K processes train one model, each on its own share of the
samples, and every step is the step of the whole batch. mpi4py with an MPI from PyPI
(pip install mpi4py mpich), started by mpiexec or srun:

    mpiexec -n 2 tmva-lstm train --file data.root ... --distributed mpi
    comm = tmva_lstm.distributed.mpi()
    net.fit(share(x, comm), share(y, comm), x_valid=share(xv, comm), y_valid=..., distributed=comm)

Each process runs B/K rows of each batch (B: the booking's BatchSize) through its own copy of
the net; the gradients, weighted by each process's batch weight, are summed with one
MPI_Allreduce per step and divided by the total weight, so every copy takes the same step:
K processes × B/K rows train as one process on B rows (Trainer.h: TGradientSum,
TShardedOrder). The same batches, in one process: net.fit(x, y, ..., shares=K).
"""

import os
import sys
import time
import traceback

import numpy as np

from . import _cpp


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("distributed training over MPI needs mpi4py and an MPI: pip install mpi4py mpich") from None
    return MPI


class MPICommunicator(_cpp.ns.VCommunicator):
    """tmva_lstm::VCommunicator over an mpi4py communicator (COMM_WORLD by default)."""

    def __init__(self, comm=None):
        super().__init__()
        self.comm = comm if comm is not None else _mpi().COMM_WORLD

    def Rank(self):
        return self.comm.Get_rank()

    def Size(self):
        return self.comm.Get_size()

    def AllreduceSum(self, values, n):
        values.reshape((n,))
        buffer = np.frombuffer(values, dtype=np.float64, count=n)
        self.comm.Allreduce(_mpi().IN_PLACE, buffer, op=_mpi().SUM)


def mpi():
    """The MPI communicator of this run; an error when the process was not started as one of
    several (mpiexec -n K, srun). From then on an uncaught exception in any process aborts the
    whole run (MPI_Abort) instead of leaving the others waiting in a sum."""
    comm = MPICommunicator()
    if comm.Size() < 2:
        raise RuntimeError("--distributed mpi: this process is alone (MPI size 1); start K processes with "
                           "mpiexec -n K (or srun under SLURM)")
    def abort_all(kind, value, tb):
        abort(comm, f"MPI rank {comm.Rank()} of {comm.Size()} failed: {kind.__name__}: {value}\n" +
              "".join(traceback.format_exception(kind, value, tb)))

    sys.excepthook = abort_all
    return comm


def abort(comm, message):
    """Print message on stderr and end every process of the run (an error one process found). The
    message goes out in one write, then a pause before MPI_Abort: the launcher kills every process
    as soon as it hears of the abort, and output it has not yet forwarded is lost (seen with
    mpiexec: a traceback cut after its first two lines)."""
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), (message.rstrip("\n") + "\n").encode(errors="replace"))
    time.sleep(0.5)
    comm.comm.Abort(1)


def share(array, comm):
    """This process's share of an array of samples: rows rank, rank + K, … (None stays None)."""
    return None if array is None else np.asarray(array)[comm.Rank()::comm.Size()]
