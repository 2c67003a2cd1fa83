"""Loads the compiled library (libTMVALSTM + its rootcling dictionary) into PyROOT; the CUDA
architecture (libTMVALSTMCuda, built where nvcc and cuBLAS were found) on first request."""

import contextlib
import os
import pickle
import select
import signal
import time
import warnings

with warnings.catch_warnings():
    # the PyPI build of ROOT warns on every import that it is an alpha distribution
    warnings.simplefilter("ignore")
    import ROOT
import cppyy

_HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.join(_HERE, "lib", "libTMVALSTM.so")
CUDA_LIBRARY = os.path.join(_HERE, "lib", "libTMVALSTMCuda.so")
INCLUDE_DIR = os.path.join(_HERE, "include")

if not os.path.exists(LIBRARY):
    raise ImportError(f"tmva_lstm: compiled library not found at {LIBRARY}; reinstall with pip install .")
ROOT.gInterpreter.AddIncludePath(INCLUDE_DIR)
if ROOT.gSystem.Load(LIBRARY) < 0:
    raise ImportError(f"tmva_lstm: ROOT could not load {LIBRARY}")

ns = cppyy.gbl.tmva_lstm
CppError = cppyy.gbl.std.exception

_ARCHITECTURES = {"cpu": "TCpu", "cuda": "TCuda"}
_CTYPES = {"float32": "float", "float64": "double"}
_cuda_loaded = False


def _load_cuda():
    global _cuda_loaded
    if _cuda_loaded:
        return
    if not os.path.exists(CUDA_LIBRARY):
        raise RuntimeError("arch='cuda': this build of tmva-lstm has no CUDA architecture (nvcc and cuBLAS were not "
                           "found when it was built; see the README, 'CUDA')")
    if ROOT.gSystem.Load(CUDA_LIBRARY) < 0:
        raise RuntimeError(f"arch='cuda': ROOT could not load {CUDA_LIBRARY} (is cuBLAS installed? "
                           "pip install nvidia-cublas)")
    _cuda_loaded = True


def architecture(arch, dtype):
    """The C++ architecture class, e.g. TCpu<float>; for "cuda", checks that a GPU is usable."""
    if arch not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r} (available: {', '.join(_ARCHITECTURES)})")
    if arch == "cuda":
        _load_cuda()
    cls = getattr(ns, _ARCHITECTURES[arch])[_CTYPES[dtype]]
    if arch == "cuda":
        call(cls.CheckDevice)
    return cls


def template(owner, name, *args):
    """The C++ function template `name<args...>` of a namespace, class or object, as its one
    instantiated overload. Called through cppyy's template proxy, a call that throws is run again
    once for every earlier failure in the process (each failure adds another copy of the
    instantiation to try) and its message repeated as often; the instantiated overload runs once.
    The proxy called with an argument no C++ parameter takes instantiates it without running it
    (with no arguments, a function whose arguments all have defaults would run)."""
    scope = owner if isinstance(owner, type) else type(owner)
    wanted = _normalise(f"{name}<{','.join(a if isinstance(a, str) else a.__cpp_name__ for a in args)}>")

    def find():
        return next((v for k, v in scope.__dict__.items() if _normalise(k) == wanted), None)

    found = find()
    if found is None:
        proxy = getattr(owner, name)[args if len(args) > 1 else args[0]]
        try:
            proxy(_NotAnArgument())
        except TypeError:
            pass
        found = find()
        if found is None:
            return proxy
    return found if scope is owner else found.__get__(owner)


class _NotAnArgument:
    """Converts to no C++ type (template)."""


def _normalise(cpp_name):
    return cpp_name.replace(" ", "").replace("<::", "<").replace(",::", ",").lstrip(":")


def call(fn, *args):
    """Call into C++. A C++ std::invalid_argument becomes ValueError, memory that cannot be had
    (tmva_lstm::TAllocationError, std::bad_alloc) MemoryError, any other C++ exception
    RuntimeError, each with the C++ message alone."""
    try:
        return fn(*args)
    except cppyy.gbl.std.invalid_argument as e:
        raise ValueError(e.what()) from None
    except cppyy.gbl.tmva_lstm.TAllocationError as e:
        raise MemoryError(e.what()) from None
    except cppyy.gbl.std.bad_alloc:
        raise MemoryError("out of memory (std::bad_alloc)") from None
    except CppError as e:
        raise RuntimeError(e.what()) from None


@contextlib.contextmanager
def root_messages_from(level):
    """ROOT prints only messages of `level` (ROOT.kWarning, ROOT.kFatal, ...) and above meanwhile."""
    before, ROOT.gErrorIgnoreLevel = ROOT.gErrorIgnoreLevel, level
    try:
        yield
    finally:
        ROOT.gErrorIgnoreLevel = before


def _limit_memory(extra):
    """Caps this process's address space at what it maps now plus `extra` bytes (Linux)."""
    import resource

    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + extra, resource.getrlimit(resource.RLIMIT_AS)[1]))


def run_in_child(fn, what, timeout=60, memory=None):
    """fn() in a forked child, and its result, or the exception it raised, pickled back. A file so
    damaged that ROOT's own reading crashes, corrupts memory or hangs (a corrupted heap can also
    make it spin: it is stopped after `timeout` seconds, unless None) then raises ValueError here,
    and this process never reads it. `memory`: bytes the child may map beyond what it inherits
    (a damaged length can make ROOT ask for gigabytes; the child then fails instead)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: fn, its outcome into the pipe, out without Python's clean-up
        try:
            os.close(r)
            # ROOT's own handlers would print a stack trace, which takes locks a corrupted heap may
            # hold: the child would hang instead of dying
            for sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
                signal.signal(sig, signal.SIG_DFL)
            if memory is not None:
                _limit_memory(memory)
            try:
                outcome = (True, fn())
            except Exception as e:  # noqa: BLE001 - every error goes back to the caller, as raised
                outcome = (False, e)
            try:
                answer = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - an exception that does not pickle: its type and text
                answer = pickle.dumps((False, RuntimeError(f"{what}: {type(outcome[1]).__name__}: {outcome[1]}")))
            with os.fdopen(w, "wb") as pipe:
                pipe.write(answer)
        finally:
            os._exit(0)
    os.close(w)
    chunks, deadline = [], None if timeout is None else time.monotonic() + timeout
    with os.fdopen(r, "rb") as pipe:
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([pipe], [], [], wait)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise ValueError(f"{what}: reading it did not finish within {timeout} s; the file is damaged")
            chunk = os.read(pipe.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise ValueError(f"{what}: ROOT crashed reading it (signal {os.WTERMSIG(status)}, in a child process); "
                         "the file is damaged")
    if not chunks:
        raise RuntimeError(f"{what}: the child process reading it ended without an answer")
    ok, value = pickle.loads(b"".join(chunks))
    if not ok:
        raise value
    return value
