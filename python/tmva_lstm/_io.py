"""Writing files so that each is whole or absent (a temporary file beside it, renamed over it;
tmva_lstm/Replace.h does the same in C++), and one writer per output folder."""

import contextlib
import fcntl
import os
import tempfile


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path in path's directory, with path's extension (writers such as ROOT's
    image output choose the format by it); on success it is renamed to path, on any failure
    removed, so an existing file at path stays as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp" + os.path.splitext(path)[1],
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it private)
        with open(tmp, "rb+") as f:  # on disk before it takes the name
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@contextlib.contextmanager
def exclusive(folder):
    """Creates folder if need be and holds its lock (a lock file in it, released when the process
    ends, however it ends): a second run writing into the same folder is refused at once instead
    of mixing its files with this one's."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ".tmva-lstm.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another tmva-lstm run is writing into '{folder}'; give this one another --out") from None
        yield folder
