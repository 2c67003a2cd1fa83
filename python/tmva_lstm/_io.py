"""Writing a file so that it is whole or absent: a temporary file beside it, renamed over it."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path in path's directory; on success it is renamed to path, on any
    failure removed, so an existing file at path stays as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before it takes the name
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
