"""Communicators that stand for the other processes of a data-parallel run inside one process
(tests of tmva_lstm.distributed without mpiexec)."""

import numpy as np

from tmva_lstm import _cpp


# The first sum of a data-parallel fit: each process's row of what it trains (CheckSameEverywhere).
DESCRIPTION = 5


class TwinComm(_cpp.ns.VCommunicator):
    """Two processes with the same share: every sum is twice this one's (the share sizes of an
    in-memory fit, [n, 0] for rank 0, become [n, n]; rank 0's description is also rank 1's)."""

    def Rank(self):
        return 0

    def Size(self):
        return 2

    def AllreduceSum(self, values, n):
        values.reshape((n,))
        b = np.frombuffer(values, dtype=np.float64, count=n)
        if n == 2 * DESCRIPTION and not b[DESCRIPTION:].any():
            b[DESCRIPTION:] = self.other(b[:DESCRIPTION].copy())
        else:
            self.add_other(b)

    def other(self, description):
        """Rank 1's description of what it trains, given rank 0's."""
        return description

    def add_other(self, b):
        """Rank 1's part of any other sum, added into b."""
        b[:] = [b[0], b[0]] if len(b) == 2 and b[1] == 0 else 2 * b


class GhostComm(TwinComm):
    """A second process that has no samples but stays in each streamed epoch for `steps` steps:
    it adds nothing to a sum but its 'finished' flag (the last value of a gradient sum)."""

    def __init__(self, steps):
        super().__init__()
        self.steps, self.calls, self.per_epoch = steps, 0, []

    def add_other(self, b):
        if len(b) > 2:  # a gradient sum, not the validation loss pair
            self.calls += 1
            b[-1] += self.calls > self.steps
            if b[-1] == 2:  # every process is done: the epoch's last sum
                self.per_epoch.append(self.calls)
                self.calls = 0


class MismatchComm(TwinComm):
    """A second process whose network takes one more input value per sample."""

    def other(self, description):
        description[1] += 1
        return description
