"""tmva_lstm::RReader (C++ inference from the model file) and DefineScore (its scores as an
RDataFrame column), against Net.predict: the tutorial's per-step layout and the jagged tracks,
float and double models, with and without ROOT::EnableImplicitMT; macros/apply_lstm.C."""

import dataclasses
import os
import subprocess

import numpy as np
import pytest

from tmva_lstm import Net, data
from tmva_lstm._cpp import ROOT

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TUTORIAL = ("InputLayout=10|30:Layout=LSTM|6|30|10|0|1,RESHAPE|FLAT,DENSE|8|TANH,DENSE|1|LINEAR"
            ":ErrorStrategy=CROSSENTROPY:RandomSeed=3:TrainingStrategy=BatchSize=32")
TRACKS = ("InputLayout=6|5:Layout=GRU|4|5|6|0|0|1,DENSE|1|LINEAR:ErrorStrategy=CROSSENTROPY:RandomSeed=2"
          ":TrainingStrategy=BatchSize=32")

ROOT.gInterpreter.Declare(r"""
#include "RReader.h"
/// DefineScore's column for one tree, in entry order (under IMT the event loop is not).
std::vector<double> tmva_lstm_test_define_score(const char *model, const char *file, const char *tree,
                                                const tmva_lstm::TTreeDataDescription &desc, int threads)
{
   if (threads > 0)
      ROOT::EnableImplicitMT(threads);
   auto reader = std::make_shared<const tmva_lstm::RReader>(model);
   ROOT::RDataFrame df(tree, file);
   auto scored = tmva_lstm::DefineScore(df, "score", reader, desc);
   auto score = scored.Take<float>("score");
   auto entry = scored.Take<ULong64_t>("rdfentry_");
   std::vector<double> out(score->size());
   for (size_t i = 0; i < out.size(); ++i)
      out[(*entry)[i]] = (*score)[i];
   ROOT::DisableImplicitMT();
   return out;
}
/// The same with one column replaced by an expression (bad input), for the first tree entries.
size_t tmva_lstm_test_bad_column(const char *model, const char *file, const char *column, const char *expression)
{
   auto reader = std::make_shared<const tmva_lstm::RReader>(model);
   ROOT::RDataFrame df("sgn", file);
   auto bad = df.Redefine(column, expression);
   return tmva_lstm::DefineScore(bad, "score", reader, tmva_lstm::TTreeDataDescription::Tutorial())
      .Take<float>("score")->size();
}
""")


def random_net(options, dtype, seed):
    net = Net(options, dtype=dtype)
    rng = np.random.default_rng(seed)
    for name, p in net.parameters.items():
        net.set_parameter(name, rng.uniform(-0.5, 0.5, p.shape))
    return net


@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["float", "double"])
def tutorial(request, tutorial_file, tmp_path_factory):
    net = random_net(TUTORIAL, request.param, 5)
    model = str(tmp_path_factory.mktemp("rreader") / "tutorial.root")
    net.save(model)
    return net, model, tutorial_file


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rreader_tracks")
    path = str(folder / "tracks.root")
    data.make_track_data(path, 150, 120, seed=9)
    net = random_net(TRACKS, np.float32, 6)
    model = str(folder / "tracks_model.root")
    net.save(model)
    return net, model, path


def cpp_description(task, T):
    d = ROOT.tmva_lstm.TTreeDataDescription
    return d.Tracks(T) if task == "tracks" else d.Tutorial(T, 30)


@pytest.mark.parametrize("n", [1, 7, 300])
def test_compute_equals_predict(tutorial, n):
    net, model, path = tutorial
    x = data.read_root(path, data.Description.tutorial(), dtype=net.dtype)[0][:n]
    reader = ROOT.tmva_lstm.RReader(model)
    assert (reader.GetTimeSteps(), reader.GetInputSize(), reader.GetNOutputs()) == (10, 30, 1)
    values = x.astype(net.dtype).ravel()
    ctype = "double" if values.dtype == np.float64 else "float"
    score = np.array(reader.Compute(ROOT.std.vector[ctype](values)))
    np.testing.assert_allclose(score, net.predict(x)[:, 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("threads", [0, 2])
def test_define_score_tutorial_layout(tutorial, threads):
    net, model, path = tutorial
    for tree in ("sgn", "bkg"):
        score = np.array(ROOT.tmva_lstm_test_define_score(model, path, tree, cpp_description("tutorial", 10), threads))
        one = dataclasses.replace(data.Description.tutorial(), trees=[tree], tree_labels=[1.0])
        x = data.read_root(path, one, dtype=net.dtype)[0]
        assert len(score) == len(x) == 150
        np.testing.assert_allclose(score, net.predict(x)[:, 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("threads", [0, 2])
def test_define_score_jagged_tracks(tracks, threads):
    net, model, path = tracks
    d = data.Description.tracks(max_tracks=6)
    for tree, n in (("bjets", 150), ("ljets", 120)):
        score = np.array(ROOT.tmva_lstm_test_define_score(model, path, tree, cpp_description("tracks", 6), threads))
        x, _, _, lengths = data.read_root(path, dataclasses.replace(d, trees=[tree], tree_labels=[1.0]))
        assert len(score) == n and lengths.min() < 6 <= lengths.max()  # some jets shorter than T, some cut
        np.testing.assert_allclose(score, net.predict(x, lengths=lengths)[:, 0], rtol=0, atol=1e-6)


def test_compute_with_lengths(tracks):
    net, model, path = tracks
    x, _, _, lengths = data.read_root(path, data.Description.tracks(max_tracks=6))
    reader = ROOT.tmva_lstm.RReader(model)
    score = np.array(reader.Compute(ROOT.std.vector["float"](x.ravel()),
                                    ROOT.std.vector["float"](lengths.astype(np.float32))))
    np.testing.assert_allclose(score, net.predict(x, lengths=lengths)[:, 0], rtol=0, atol=1e-6)


def test_bad_input_gives_clear_errors(tutorial, tracks, tmp_path):
    net, model, path = tutorial
    reader = ROOT.tmva_lstm.RReader(model)
    with pytest.raises(Exception, match="cannot open model file"):
        ROOT.tmva_lstm.RReader(str(tmp_path / "missing.root"))
    with pytest.raises(Exception, match="not whole events of T\\*D = 300"):
        reader.Compute(ROOT.std.vector["float"](np.zeros(301, np.float32)))
    with pytest.raises(Exception, match="2 lengths for 1 events"):
        reader.Compute(ROOT.std.vector["float"](np.zeros(300, np.float32)), ROOT.std.vector["float"]([1, 2]))
    with pytest.raises(Exception, match="the length of sample 0 is 11"):
        reader.Compute(ROOT.std.vector["float"](np.zeros(300, np.float32)), ROOT.std.vector["float"]([11]))
    with pytest.raises(Exception, match="description gives T = 6, D = 5, the model .* takes T = 10, D = 30"):
        ROOT.tmva_lstm_test_define_score(model, path, "sgn", cpp_description("tracks", 6), 0)
    # a tutorial description on the tracks file: its per-step branches are not there
    with pytest.raises(Exception, match="RDataFrame has no column 'vars_time0'"):
        ROOT.tmva_lstm_test_define_score(model, tracks[2], "bjets", cpp_description("tutorial", 10), 0)
    remember = str(tmp_path / "remember.root")
    Net(TUTORIAL.replace("LSTM|6|30|10|0|1", "LSTM|6|30|10|1|1")).save(remember)
    with pytest.raises(Exception, match="remember their state"):
        ROOT.tmva_lstm.RReader(remember)


@pytest.mark.parametrize("expression, message", [
    ("ROOT::RVecF(29, 0.f)", "RDataFrame entry 0 column 'vars_time3': 29 values, expected 30"),
    ('std::string("x")', "column 'vars_time3' has type .*string.*: not a number"),
    ('ROOT::RVecF(30, std::nanf(""))', "RDataFrame entry 0: predict: the input of sample 0 at step 3, value 0, is NaN"),
])
def test_bad_columns_give_clear_errors(tutorial, expression, message):
    net, model, path = tutorial
    with pytest.raises(Exception, match=message):
        ROOT.tmva_lstm_test_bad_column(model, path, "vars_time3", expression)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9, 0.99])
def test_truncated_model_file_gives_a_clear_error(tutorial, tmp_path, fraction):
    net, model, path = tutorial
    truncated = str(tmp_path / "truncated.root")
    content = open(model, "rb").read()
    open(truncated, "wb").write(content[:int(len(content) * fraction)])
    with pytest.raises(Exception, match="cannot open model file|has no weight|has no '.*' entry"):
        ROOT.tmva_lstm.RReader(truncated)


def test_apply_macro(tracks, tmp_path):
    net, model, path = tracks
    out = str(tmp_path / "hist.root")
    done = subprocess.run(["root", "-l", "-b", "-q", f'macros/apply_lstm.C("{model}", "{path}", "tracks", "{out}", 2)'],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scored 270 entries" in done.stdout and "on 2 threads" in done.stdout
    f = ROOT.TFile.Open(out)
    assert f.Get("score_bjets").GetEntries() == 150 and f.Get("score_ljets").GetEntries() == 120
    failed = subprocess.run(["root", "-l", "-b", "-q", f'macros/apply_lstm.C("{model}", "{path}", "jets")'],
                            cwd=REPO, capture_output=True, text=True)
    assert "task must be tutorial or tracks" in failed.stdout + failed.stderr
