"""data.from_rdataframe: the user's RDataFrame (Filter, Define) gives the tree reader's samples."""

import numpy as np
import pytest

from tmva_lstm import data
from tmva_lstm._cpp import ROOT


@pytest.fixture(scope="module")
def tracks_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rdf") / "tracks.root")
    data.make_track_data(path, 120, 100, seed=7)
    return path


def test_fixed_layout_equals_tree_reader(tutorial_file):
    d = data.Description.tutorial()
    expected = data.read_root(tutorial_file, d)
    got = data.from_rdataframe({1.0: ROOT.RDataFrame("sgn", tutorial_file), 0.0: ROOT.RDataFrame("bkg", tutorial_file)}, d)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_objects_with_filter_and_define_equal_tree_reader(tracks_file):
    d = data.Description.tracks(max_tracks=6)
    expected = data.read_root(tracks_file, d)
    frames = {1.0: ROOT.RDataFrame("bjets", tracks_file), 0.0: ROOT.RDataFrame("ljets", tracks_file)}
    got = data.from_rdataframe(frames, d)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    # a Filter drops entries, a Define makes a new per-object column to sort by
    keep = expected.lengths[: 120] > 2
    df = ROOT.RDataFrame("bjets", tracks_file).Filter("ntrk > 2").Define("trk_absd0", "abs(trk_d0sig)")
    d2 = data.Description.objects(["bjets"], d.object_branches, 6, sort_by="trk_absd0")
    filtered = data.from_rdataframe(df, d2, label=1)
    np.testing.assert_array_equal(filtered.x, expected.x[:120][keep])
    np.testing.assert_array_equal(filtered.lengths, expected.lengths[:120][keep])


def test_columns_are_checked(tracks_file):
    df = ROOT.RDataFrame("bjets", tracks_file)
    d = data.Description.objects(["bjets"], ["trk_pt", "jet_pt"], 6)
    with pytest.raises(ValueError, match=r"column 'jet_pt' has type .*: object branches need one value per object"):
        data.from_rdataframe(df, d, label=1)
    d = data.Description.objects(["bjets"], ["trk_pt", "nope"], 6)
    with pytest.raises(ValueError, match="RDataFrame has no column 'nope'"):
        data.from_rdataframe(df, d, label=1)
    with pytest.raises(ValueError, match="give label="):
        data.from_rdataframe(df, data.Description.objects(["bjets"], ["trk_pt"], 6))
    d = data.Description.objects(["bjets"], ["trk_pt"], 6, label_branch="trk_eta")
    with pytest.raises(ValueError, match=r"column 'trk_eta' has type .*: a label or weight branch holds one number"):
        data.from_rdataframe(df, d)
    bad = df.Define("trk_nan", "ROOT::RVec<float> v(trk_pt.size(), 1.f); if (ntrk > 3) v[1] = NAN; return v;")
    d = data.Description.objects(["bjets"], ["trk_pt"], 6, sort_by="trk_nan")
    with pytest.raises(ValueError, match=r"RDataFrame entry \d+ column 'trk_nan': object 1 has a NaN sort key"):
        data.from_rdataframe(bad, d, label=1)


def test_empty_selection_and_implicit_mt(tracks_file):
    d = data.Description.tracks(max_tracks=6)
    empty = data.from_rdataframe(ROOT.RDataFrame("bjets", tracks_file).Filter("ntrk < 0"), d, label=1)
    assert empty.x.shape == (0, 6, 5) and empty.lengths.shape == (0,)
    ROOT.EnableImplicitMT(2)
    try:
        with pytest.raises(RuntimeError, match="EnableImplicitMT is on"):
            data.from_rdataframe(ROOT.RDataFrame("bjets", tracks_file), d, label=1)
    finally:
        ROOT.DisableImplicitMT()
