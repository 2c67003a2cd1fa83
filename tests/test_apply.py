"""tmva-lstm apply: score trees entry-aligned with the input trees, chunk by chunk."""

import dataclasses
import os

import numpy as np
import pytest
import uproot

from tmva_lstm import Net, data
from tmva_lstm.cli import main

SMALL = ("InputLayout=6|5:Layout=LSTM|4|5|6|0|0,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY:RandomSeed=2"
         ":TrainingStrategy=BatchSize=32,MaxEpochs=1")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("apply")
    paths = [str(folder / f"part{k}.root") for k in range(2)]
    for k, p in enumerate(paths):
        data.make_track_data(p, 120, 90, seed=40 + k)
    model = str(folder / "m.root")
    net = Net(SMALL)
    rng = np.random.default_rng(1)
    for name, p in net.parameters.items():
        net.set_parameter(name, rng.uniform(-0.5, 0.5, p.shape))
    net.save(model)
    return paths, model


ARGS = ["--trees", "bjets", "ljets", "--object-branches", "trk_pt", "trk_eta", "trk_dphi", "trk_d0sig",
        "trk_z0sig", "--sort-by", "trk_d0sig", "--sort-abs", "--max-length", "6"]


def test_scores_are_entry_aligned_with_the_chained_inputs(files, tmp_path):
    paths, model = files
    out = str(tmp_path / "scores.root")
    assert main(["apply", "--model", model, "--file", paths[0], "--file", paths[1], "--out", out,
                 "--chunk-entries", "37"] + ARGS) == 0
    net = Net.load(model)
    d = data.Description.tracks(max_tracks=6)
    with uproot.open(out) as f:
        for tree, n in (("bjets", 240), ("ljets", 180)):
            scores = f[tree]["score"].array(library="np")
            assert len(scores) == n == f[tree].num_entries
            one = dataclasses.replace(d, trees=[tree], tree_labels=[1.0])
            x, _, _, lengths = data.read_root(paths, one)
            np.testing.assert_allclose(scores, net.predict(x, lengths=lengths)[:, 0], rtol=0, atol=1e-6)


def test_score_tree_is_a_friend(files, tmp_path):
    from tmva_lstm._cpp import ROOT

    paths, model = files
    out = str(tmp_path / "scores.root")
    assert main(["apply", "--model", model, "--file", paths[0], "--out", out] + ARGS) == 0
    chain = ROOT.TChain("bjets")
    chain.Add(paths[0])
    chain.AddFriend("bjets", out)  # the friend tree is found by entry number
    npt = ROOT.RDataFrame(chain).AsNumpy(["score", "trk_pt"])
    with uproot.open(out) as f:
        np.testing.assert_array_equal(npt["score"], f["bjets"]["score"].array(library="np"))
    assert len(npt["trk_pt"]) == 120


def test_bad_input_keeps_an_existing_file(files, tmp_path, capsys):
    paths, model = files
    out = tmp_path / "scores.root"
    out.write_bytes(b"earlier")
    assert main(["apply", "--model", model, "--file", paths[0], "--out", str(out), "--trees", "bjets", "nope",
                 "--tree-labels", "1", "0"] + ARGS[3:]) == 1
    assert "nope" in capsys.readouterr().err
    assert out.read_bytes() == b"earlier" and os.listdir(tmp_path) == ["scores.root"]
    assert main(["apply", "--model", str(tmp_path / "missing.root"), "--file", paths[0], "--out", str(out)]
                + ARGS) == 1
    assert "missing.root" in capsys.readouterr().err


def test_dask_scoring_equals_serial(files, tmp_path):
    pytest.importorskip("dask.distributed")
    paths, model = files
    serial, parallel = str(tmp_path / "serial.root"), str(tmp_path / "dask.root")
    assert main(["apply", "--model", model, "--file", paths[0], "--file", paths[1], "--out", serial,
                 "--chunk-entries", "37"] + ARGS) == 0
    assert main(["apply", "--model", model, "--file", paths[0], "--file", paths[1], "--out", parallel,
                 "--chunk-entries", "37", "--dask-workers", "2"] + ARGS) == 0
    with uproot.open(serial) as a, uproot.open(parallel) as b:
        for tree in ("bjets", "ljets"):
            np.testing.assert_allclose(b[tree]["score"].array(library="np"), a[tree]["score"].array(library="np"),
                                       rtol=0, atol=1e-6)
