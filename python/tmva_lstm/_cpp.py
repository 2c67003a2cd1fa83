"""Loads the compiled library (libTMVALSTM + its rootcling dictionary) into PyROOT; the CUDA
architecture (libTMVALSTMCuda, built where nvcc and cuBLAS were found) on first request."""

import os
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


def call(fn, *args):
    """Call into C++. A C++ std::invalid_argument becomes ValueError, any other C++ exception
    RuntimeError, each with the C++ message alone."""
    try:
        return fn(*args)
    except cppyy.gbl.std.invalid_argument as e:
        raise ValueError(e.what()) from None
    except CppError as e:
        raise RuntimeError(e.what()) from None
