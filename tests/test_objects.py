"""Jagged object collections (the tracks of a jet): per-object branches sorted, truncated and
padded, with lengths; both readers, files written by PyROOT (std::vector) and uproot (counted
arrays); checked against a plain-Python sort."""

import os
import shutil
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot

from tmva_lstm import data
from tmva_lstm._cpp import ROOT

READERS = [data.read_root, data.read_uproot]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = ["trk_pt", "trk_d0", "trk_q"]


def events(seed=0, n=40):
    """Per event a list of objects (pt, d0, q): counts 0 … 9, ties in d0 and |d0|."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        count = int(rng.integers(0, 10))
        out.append([(float(np.float32(rng.exponential(5))), float(rng.choice([-2.0, -1.5, 0.0, 1.5, 2.0, 3.25])),
                     int(rng.choice([-1, 1]))) for _ in range(count)])
    return out


def expected(evts, max_length, sort_by=None, sort_abs=False, descending=True):
    """Python's sorted (stable, also with reverse=True), then the first max_length, zero-padded."""
    x = np.zeros((len(evts), max_length, 3), np.float32)
    lengths = np.zeros(len(evts), np.int64)
    for e, objects in enumerate(evts):
        if sort_by is not None:
            k = FEATURES.index(sort_by)
            objects = sorted(objects, key=lambda o: abs(o[k]) if sort_abs else o[k], reverse=descending)
        kept = objects[:max_length]
        lengths[e] = len(kept)
        if kept:
            x[e, :len(kept)] = np.array(kept, np.float32)
    return x, lengths


def write_pyroot(path, evts):
    f = ROOT.TFile(path, "RECREATE")
    f.mkdir("jets").cd()
    t = ROOT.TTree("tree", "")
    pt, d0, q = ROOT.std.vector["float"](), ROOT.std.vector["double"](), ROOT.std.vector["int"]()
    jet_pt = np.zeros(1, np.float32)
    for name, v in zip(FEATURES, (pt, d0, q)):
        t.Branch(name, v)
    t.Branch("jet_pt", jet_pt, "jet_pt/F")
    for objects in evts:
        for v in (pt, d0, q):
            v.clear()
        for o in objects:
            pt.push_back(o[0]), d0.push_back(o[1]), q.push_back(o[2])
        jet_pt[0] = 50
        t.Fill()
    t.Write()
    f.Close()


def write_uproot(path, evts):
    cols = {name: ak.Array([[o[k] for o in objects] for objects in evts]) for k, name in enumerate(FEATURES)}
    with uproot.recreate(path) as f:
        f.mktree("jets/tree", {"trk_pt": "var * float32", "trk_d0": "var * float64", "trk_q": "var * int32",
                               "jet_pt": np.float32})
        f["jets/tree"].extend({**{k: v for k, v in cols.items()}, "jet_pt": np.full(len(evts), 50, np.float32)})


@pytest.fixture(scope="module", params=["pyroot", "uproot"])
def jagged_file(request, tmp_path_factory):
    evts = events()
    path = str(tmp_path_factory.mktemp("objects") / f"{request.param}.root")
    (write_pyroot if request.param == "pyroot" else write_uproot)(path, evts)
    return path, evts


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("sort", [(None, False, True), ("trk_d0", False, True), ("trk_d0", True, True),
                                  ("trk_d0", True, False), ("trk_pt", False, False), ("trk_q", False, True)])
@pytest.mark.parametrize("max_length", [1, 4, 12])
def test_sorted_truncated_padded_with_lengths(jagged_file, read, sort, max_length):
    path, evts = jagged_file
    sort_by, sort_abs, descending = sort
    d = data.Description.objects(["jets/tree"], FEATURES, max_length, sort_by=sort_by or "", sort_abs=sort_abs,
                                 sort_descending=descending, tree_labels=[1])
    x, y, w, lengths = read(path, d)
    ex, el = expected(evts, max_length, sort_by, sort_abs, descending)
    np.testing.assert_array_equal(lengths, el)
    np.testing.assert_array_equal(x, ex)


def test_readers_agree_on_the_track_toy(tmp_path):
    path = str(tmp_path / "tracks.root")
    data.make_track_data(path, 200, 150, seed=4)
    d = data.Description.tracks()
    r, u = data.read_root(path, d), data.read_uproot(path, d)
    for a, b in zip(r, u):
        np.testing.assert_array_equal(a, b)
    assert r.x.shape == (350, 15, 5) and r.lengths.min() == 0 and r.lengths.max() <= 15
    # b-jets: the leading track by |d0sig| is more displaced than in light jets
    lead = np.abs(r.x[:, 0, 3])
    assert np.median(lead[r.y == 1]) > 1.5 * np.median(lead[r.y == 0])
    # sorted by |d0sig|, descending, within each jet's length
    for e in range(350):
        s = np.abs(r.x[e, :r.lengths[e], 3])
        assert np.all(s[:-1] >= s[1:])
    again = str(tmp_path / "again.root")
    data.make_track_data(again, 200, 150, seed=4)
    np.testing.assert_array_equal(data.read_root(again, d).x, r.x)


@pytest.mark.parametrize("read", READERS)
def test_per_event_branch_among_objects_is_refused(jagged_file, read):
    path, _ = jagged_file
    d = data.Description.objects(["jets/tree"], ["trk_pt", "jet_pt"], 4, tree_labels=[1])
    with pytest.raises(ValueError, match=r"branch 'jet_pt' has type .*: object branches need one value per object"):
        read(path, d)
    d = data.Description.objects(["jets/tree"], ["trk_pt"], 4, sort_by="jet_pt", tree_labels=[1])
    with pytest.raises(ValueError, match=r"branch 'jet_pt' has type .*: object branches need one value per object"):
        read(path, d)


@pytest.mark.parametrize("read", READERS)
def test_unequal_counts_and_nan_keys_name_the_entry(read, tmp_path):
    path = str(tmp_path / "unequal.root")
    with uproot.recreate(path) as f:
        f.mktree("t", {"a": "var * float32", "b": "var * float32"}, counter_name=lambda name: "n" + name)
        f["t"].extend({"a": ak.Array([[1.0], [2.0, 3.0], [4.0]]), "b": ak.Array([[1.0], [2.0, 3.0], [4.0, 5.0]])})
        f.mktree("u", {"b": "var * float32"})
        f["u"].extend({"b": ak.Array([[1.0], [2.0, np.nan], [4.0, 5.0]])})
    d = data.Description.objects(["t"], ["a", "b"], 3, tree_labels=[0])
    with pytest.raises(ValueError, match=r"tree 't' entry 2 branch 'b': 2 objects, but 1 in 'a'"):
        read(path, d)
    d = data.Description.objects(["u"], ["b"], 3, sort_by="b", tree_labels=[0])
    with pytest.raises(ValueError, match=r"tree 'u' entry 1 branch 'b': object 1 has a NaN sort key"):
        read(path, d)


def test_lengths_reach_the_network(jagged_file):
    """Padded samples with lengths give the same predictions whatever the padding holds."""
    from tmva_lstm import Net

    path, _ = jagged_file
    d = data.Description.objects(["jets/tree"], FEATURES, 6, sort_by="trk_pt", tree_labels=[1])
    x, y, w, lengths = data.read_root(path, d)
    net = Net("InputLayout=6|3:Layout=LSTM|4|3|6|0|0,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY:RandomSeed=3"
              ":TrainingStrategy=BatchSize=8,MaxEpochs=1", dtype=np.float64)
    noisy = x.copy()
    for e, n in enumerate(lengths):
        noisy[e, n:] = 7.0
    np.testing.assert_array_equal(net.predict(x, lengths=lengths), net.predict(noisy, lengths=lengths))


@pytest.mark.skipif(shutil.which("root", path=os.path.dirname(sys.executable)) is None,
                    reason="the root command of the ROOT wheel is not installed beside this Python")
def test_macro_writes_the_same_toy_as_python(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    path = str(tmp_path / "macro.root")
    done = subprocess.run(["root", "-l", "-b", "-q", f'macros/make_tracks.C("{path}", 80, 70, 5)'], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "wrote" in done.stdout, done.stdout + done.stderr
    data.make_track_data(str(tmp_path / "python.root"), 80, 70, seed=5)
    d = data.Description.tracks()
    for a, b in zip(data.read_uproot(path, d), data.read_uproot(str(tmp_path / "python.root"), d)):
        np.testing.assert_array_equal(a, b)


def test_cli_trains_on_object_collections_from_many_files(tmp_path, capsys):
    from tmva_lstm.cli import main

    for k in range(2):
        data.make_track_data(str(tmp_path / f"part{k}.root"), 150, 150, seed=10 + k)
    out = str(tmp_path / "out")
    small = ("InputLayout=8|5:Layout=LSTM|6|5|8|0|0,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY:RandomSeed=1"
             ":TrainingStrategy=LearningRate=1e-2,Optimizer=ADAM,BatchSize=50,MaxEpochs=3")
    args = ["train", "--file", str(tmp_path / "part*.root"), "--trees", "bjets", "ljets", "--object-branches",
            "trk_pt", "trk_eta", "trk_dphi", "trk_d0sig", "trk_z0sig", "--sort-by", "trk_d0sig", "--sort-abs",
            "--max-length", "8", "--options", small, "--out", out]
    assert main(args) == 0
    assert "part0.root part1.root" in capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    assert main(args + ["--reader", "uproot"]) == 0
    bad = [a if a != "trk_z0sig" else "jet_pt" for a in args]
    assert main(bad) == 1
    assert "branch 'jet_pt' has type Float_t: object branches need one value per object" in capsys.readouterr().err
    assert main(args[:2] + [str(tmp_path / "none*.root")] + args[3:]) == 1
    assert "no file matches" in capsys.readouterr().err


def test_demo_tracks(tmp_path, capsys, monkeypatch):
    from tmva_lstm.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--task", "tracks", "--max-length", "10", "--out", "out"]) == 0
    text = capsys.readouterr().out
    assert "making the b-jet toy" in text and "data/tracks.root" in text and "LSTM|16|5|10|0|0" in text
    for name in ("model.root", "loss.png", "roc.png", "metrics.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
