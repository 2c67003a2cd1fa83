"""Data-parallel training under mpiexec, for tests/test_distributed.py:

    mpiexec -n K python tests/mpi_train.py OUT.npz [--die-at-step N | --raise-on-rank-1]

Every rank fits its share of problem() with distributed=mpi(); rank 0 writes the trained
parameters and the history to OUT.npz. --die-at-step: rank 1 exits abruptly (os._exit) at its
N-th gradient sum; --raise-on-rank-1: rank 1 raises before training; either way the others
must not hang."""

import os
import sys

import numpy as np

OPTIONS = ("InputLayout=5|3:Layout=LSTM|4|3|5|0|1,RESHAPE|FLAT,DENSE|6|TANH,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY"
           ":RandomSeed=3:TrainingStrategy=LearningRate=0.01,Optimizer=ADAM,BatchSize=20,MaxEpochs=3,"
           "ConvergenceSteps=10")


def problem():
    """203 training and 61 validation samples with lengths: shares and batches that do not divide."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (264, 5, 3))
    lengths = rng.integers(0, 6, 264)
    x[np.arange(5)[None, :] >= lengths[:, None]] = 0
    y = (x[:, :, 0].sum(1) > 0).astype(np.float64)
    w = rng.uniform(0.5, 1.5, 264)
    return (x[:203], y[:203], w[:203], lengths[:203]), (x[203:], y[203:], w[203:], lengths[203:])


def main(out, die_at_step=None, raise_on_rank_1=False):
    from tmva_lstm import Net
    from tmva_lstm.distributed import mpi, share

    comm = mpi()
    if raise_on_rank_1 and comm.Rank() == 1:
        raise ValueError("rank 1 fails alone")
    if die_at_step is not None and comm.Rank() == 1:
        calls = [0]
        reduce = comm.AllreduceSum

        def dying(values, n):
            calls[0] += 1
            if calls[0] == die_at_step:
                os._exit(3)
            reduce(values, n)

        comm.AllreduceSum = dying
    (x, y, w, lengths), (xv, yv, wv, lv) = problem()
    net = Net(OPTIONS, dtype=np.float64)
    s = lambda a: share(a, comm)  # noqa: E731
    net.fit(s(x), s(y), s(w), s(lengths), x_valid=s(xv), y_valid=s(yv), w_valid=s(wv), lengths_valid=s(lv),
            distributed=comm, verbose=False)
    if comm.Rank() == 0:
        np.savez(out, valid_loss=[h["valid_loss"] for h in net.history],
                 train_loss=[h["train_loss"] for h in net.history], **net.parameters)


if __name__ == "__main__":
    die = int(sys.argv[sys.argv.index("--die-at-step") + 1]) if "--die-at-step" in sys.argv else None
    main(sys.argv[1], die, "--raise-on-rank-1" in sys.argv)
