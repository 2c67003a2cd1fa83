"""Every numeric branch type × every layout × both readers × files written by PyROOT and by uproot:
the values read are the values written (converted to float32), in a tree inside a folder."""

import numpy as np
import pytest
import uproot

from tmva_lstm import data
from tmva_lstm._cpp import ROOT

# numpy dtype: (ROOT leaf code, C++ type for std::vector)
TYPES = {
    "float32": ("F", "float"), "float64": ("D", "double"), "int8": ("B", "char"), "uint8": ("b", "unsigned char"),
    "int16": ("S", "short"), "uint16": ("s", "unsigned short"), "int32": ("I", "int"),
    "uint32": ("i", "unsigned int"), "int64": ("L", "long long"), "uint64": ("l", "unsigned long long"),
    "bool": ("O", "bool"),
}
LAYOUTS = ["scalar", "fixed", "fixed2d", "counted", "vector", "nested"]
WRITERS = {"pyroot": LAYOUTS, "uproot": ["scalar", "fixed", "fixed2d", "counted"]}  # uproot writes no std::vector
N_ENTRIES = 5


def values(dtype, layout):
    """(entries, 6) values exact in dtype (one per entry for scalars): negatives for signed types,
    halves for floats, the extremes of small integer types."""
    width = 1 if layout == "scalar" else 6
    k = np.arange(N_ENTRIES * width).reshape(N_ENTRIES, width)
    if dtype == "bool":
        return (k % 3 == 1)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    v = (k * 7 % 23) - (11 if info is None or info.min < 0 else 0)
    if info is None:
        v = v + 0.5
    elif info.bits == 8:
        v[0, 0] = info.max  # 127 or 255 read as themselves, not as a wrapped char
    return v.astype(dtype)


def write_pyroot(path):
    f = ROOT.TFile(path, "RECREATE")
    folder = f.mkdir("dir")
    keep = []
    for dtype, (code, ctype) in TYPES.items():
        for layout in LAYOUTS:
            folder.cd()
            tree = ROOT.TTree(f"{dtype}_{layout}", "")
            v = values(dtype, layout)
            buffer_dtype = np.uint8 if dtype == "bool" else dtype  # numpy bool_ is one byte, as Bool_t
            if layout in ("vector", "nested"):
                vec = (ROOT.std.vector[ctype]() if layout == "vector"
                       else ROOT.std.vector[ROOT.std.vector[ctype]]())
                tree.Branch("x", vec)
            else:
                shape = {"scalar": (1,), "fixed": (6,), "fixed2d": (2, 3), "counted": (6,)}[layout]
                buf = np.zeros(shape, buffer_dtype)
                leaf = {"scalar": "x", "fixed": "x[6]", "fixed2d": "x[2][3]", "counted": "x[n]"}[layout]
                if layout == "counted":
                    n = np.zeros(1, np.int32)
                    tree.Branch("n", n, "n/I")
                tree.Branch("x", buf, f"{leaf}/{code}")
            for row in v:
                if layout == "vector":
                    vec.clear()
                    for a in row:
                        vec.push_back(a.item())
                elif layout == "nested":
                    vec.clear()
                    for half in (row[:3], row[3:]):
                        inner = ROOT.std.vector[ctype]()
                        for a in half:
                            inner.push_back(a.item())
                        vec.push_back(inner)
                else:
                    if layout == "counted":
                        n[0] = len(row)
                    buf[...] = row.reshape(buf.shape).astype(buffer_dtype)
                tree.Fill()
            tree.Write()
            keep.append(tree)
    f.Close()


def write_uproot(path):
    with uproot.recreate(path) as f:
        for dtype in TYPES:
            for layout in WRITERS["uproot"]:
                v = values(dtype, layout)
                name = f"dir/{dtype}_{layout}"
                if layout == "counted":
                    import awkward as ak
                    f.mktree(name, {"x": f"var * {'bool' if dtype == 'bool' else dtype}"}, counter_name=lambda _: "n")
                    f[name].extend({"x": ak.Array(v.tolist())})
                else:
                    shape = {"scalar": (), "fixed": (6,), "fixed2d": (2, 3)}[layout]
                    f.mktree(name, {"x": (np.dtype(dtype), shape)})
                    f[name].extend({"x": v.reshape((N_ENTRIES,) + shape)})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("types")
    out = {}
    for writer, write in (("pyroot", write_pyroot), ("uproot", write_uproot)):
        out[writer] = str(folder / f"{writer}.root")
        write(out[writer])
    return out


CASES = [(w, t, l) for w, layouts in WRITERS.items() for t in TYPES for l in layouts]


@pytest.mark.parametrize("read", [data.read_root, data.read_uproot], ids=["root", "uproot"])
@pytest.mark.parametrize("writer,dtype,layout", CASES, ids=["-".join(c) for c in CASES])
def test_values_read_are_values_written(files, read, writer, dtype, layout):
    v = values(dtype, layout)
    T, D = (1, 1) if layout == "scalar" else (2, 3)
    d = data.Description(trees=[f"dir/{dtype}_{layout}"], tree_labels=[1], time_steps=T, input_size=D,
                         array_branch="x")
    x, y, w, lengths = read(files[writer], d)
    assert x.dtype == np.float32 and lengths is None
    np.testing.assert_array_equal(x, v.astype(np.float32).reshape(N_ENTRIES, T, D))
    np.testing.assert_array_equal(y, np.ones(N_ENTRIES, np.float32))


@pytest.mark.parametrize("read", [data.read_root, data.read_uproot], ids=["root", "uproot"])
@pytest.mark.parametrize("dtype", ["int16", "float64", "bool", "uint64"])
def test_label_and_weight_of_any_scalar_type(files, read, dtype):
    d = data.Description(trees=[f"dir/{dtype}_fixed"], time_steps=2, input_size=3, array_branch="x",
                         label_branch="x")
    with pytest.raises(ValueError, match=r"branch 'x' has type .*: a label or weight branch holds one number"):
        read(files["pyroot"], d)
    # a scalar branch as label and weight: read as its values
    with uproot.recreate(files["pyroot"] + f".{dtype}.root") as f:
        f.mktree("t", {"x": (np.float32, (6,)), "label": np.dtype(dtype), "weight": np.dtype(dtype)})
        s = values(dtype, "scalar")[:, 0]
        f["t"].extend({"x": np.zeros((N_ENTRIES, 6), np.float32), "label": s, "weight": np.abs(s.astype(np.int64))
                       .astype(dtype) if dtype != "bool" else s})
    d = data.Description(trees=["t"], time_steps=2, input_size=3, array_branch="x", label_branch="label",
                         weight_branch="weight")
    _, y, w, _ = read(files["pyroot"] + f".{dtype}.root", d)
    np.testing.assert_array_equal(y, s.astype(np.float32))


@pytest.fixture(scope="module")
def odd_file(tmp_path_factory):
    """Branches neither reader can take as numbers: a C string, std::string, a TLorentzVector."""
    path = str(tmp_path_factory.mktemp("odd") / "odd.root")
    f = ROOT.TFile(path, "RECREATE")
    t = ROOT.TTree("t", "")
    text = np.zeros(8, np.int8)
    t.Branch("cstr", text, "cstr/C")
    s = ROOT.std.string("abc")
    t.Branch("str", s)
    p4 = ROOT.TLorentzVector(1, 2, 3, 4)
    t.Branch("p4", p4)
    x = np.zeros(6, np.float32)
    t.Branch("x", x, "x[6]/F")
    t.Fill()
    t.Write()
    f.Close()
    return path


@pytest.mark.parametrize("read", [data.read_root, data.read_uproot], ids=["root", "uproot"])
@pytest.mark.parametrize("branch", ["cstr", "str", "p4"])
def test_non_numeric_branch_refused_naming_tree_branch_type(odd_file, read, branch):
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=1, input_size=6, array_branch=branch)
    with pytest.raises(ValueError, match=rf"tree 't' branch '{branch}' has type .+: not a number"):
        read(odd_file, d)


@pytest.mark.parametrize("read", [data.read_root, data.read_uproot], ids=["root", "uproot"])
def test_double_branches_keep_double_precision_for_float64_training(read, tmp_path):
    path = str(tmp_path / "double.root")
    exact = np.arange(1, 13, dtype=np.float64).reshape(2, 6) / 10  # 0.1, 0.2, …: not float32 numbers
    with uproot.recreate(path) as f:
        f.mktree("dir/t", {"x": (np.float64, (6,))})
        f["dir/t"].extend({"x": exact})
    d = data.Description(trees=["dir/t"], tree_labels=[1], time_steps=2, input_size=3, array_branch="x")
    x, y, w, _ = read(path, d, dtype=np.float64)
    assert x.dtype == y.dtype == w.dtype == np.float64
    np.testing.assert_array_equal(x.reshape(2, 6), exact)
    x32 = read(path, d)[0]
    assert x32.dtype == np.float32 and not np.array_equal(x32.reshape(2, 6).astype(np.float64), exact)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        read(path, d, dtype=np.int32)
