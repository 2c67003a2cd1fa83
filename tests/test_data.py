"""Reading sequences from ROOT files: the ROOT and uproot readers agree, layouts, chunks, errors."""

import awkward as ak
import numpy as np
import pytest
import uproot

from tmva_lstm import _cpp, data

READERS = [data.read_root, data.read_uproot]


def test_tutorial_data_is_reproducible_and_filled(tutorial_file, tmp_path):
    again = tmp_path / "again.root"
    data.make_tutorial_data(str(again), 150, 150, seed=3)
    d = data.Description.tutorial()
    x1, y1, _, _ = data.read_uproot(tutorial_file, d)
    x2, y2, _, _ = data.read_uproot(str(again), d)
    np.testing.assert_array_equal(x1, x2)
    assert x1.shape == (300, 10, 30) and y1.sum() == 150
    assert np.all(x1.std(axis=0) > 1)  # all 30 features of every step carry data
    data.make_tutorial_data(str(again), 150, 150, seed=4)
    assert not np.array_equal(data.read_uproot(str(again), d)[0], x1)
    # signal (cos-modulated) and background (sin-modulated) differ on average at the first step
    x, y = x1, y1
    assert abs(x[y == 1, 0].mean() - x[y == 0, 0].mean()) < 5


def test_readers_identical(tutorial_file):
    d = data.Description.tutorial()
    (xr, yr, wr, lr), (xu, yu, wu, lu) = data.read_root(tutorial_file, d), data.read_uproot(tutorial_file, d)
    assert lr is None and lu is None
    assert xr.dtype == xu.dtype == np.float32
    np.testing.assert_array_equal(xr, xu)
    np.testing.assert_array_equal(yr, yu)
    np.testing.assert_array_equal(wr, wu)


@pytest.mark.parametrize("iterate", [data.iterate_root, data.iterate_uproot])
def test_chunks_concatenate_to_the_whole(tutorial_file, iterate):
    d = data.Description.tutorial()
    chunks = list(iterate(tutorial_file, d, step_size=64))
    assert max(len(c[1]) for c in chunks) == 64 and len(chunks) == 2 * 3  # 150 = 64 + 64 + 22, per tree
    x = np.concatenate([c[0] for c in chunks])
    np.testing.assert_array_equal(x, data.read_root(tutorial_file, d)[0])


@pytest.fixture(scope="module")
def general_file(tmp_path_factory):
    """One tree, one fixed-size array branch of T·D floats, an int label branch, a weight branch."""
    rng = np.random.default_rng(0)
    path = str(tmp_path_factory.mktemp("general") / "general.root")
    x = rng.normal(size=(50, 4 * 3)).astype(np.float32)
    with uproot.recreate(path) as f:  # mktree: TTrees (a plain dict would make an RNTuple)
        f.mktree("events", {"seq": (np.float32, (12,)), "label": np.int32, "weight": np.float64})
        f["events"].extend({"seq": x, "label": rng.integers(0, 2, 50).astype(np.int32),
                            "weight": rng.uniform(0.5, 2, 50)})
        f.mktree("jagged", {"seq": "var * float32"})
        f["jagged"].extend({"seq": ak.Array([list(r) for r in x[:5]] + [[1.0, 2.0]])})
        f["ntuple"] = {"seq": x}
    return path, x


@pytest.mark.parametrize("read", READERS)
def test_array_branch_label_and_weight(general_file, read):
    path, x = general_file
    d = data.Description(trees=["events"], time_steps=4, input_size=3, array_branch="seq",
                         label_branch="label", weight_branch="weight")
    xs, y, w, _ = read(path, d)
    np.testing.assert_array_equal(xs, x.reshape(50, 4, 3))
    with uproot.open(path) as f:
        np.testing.assert_array_equal(y, f["events"]["label"].array(library="np"))
        np.testing.assert_allclose(w, f["events"]["weight"].array(library="np"), rtol=1e-7)


@pytest.mark.parametrize("read", READERS)
def test_wrong_vector_length(general_file, read):
    path, _ = general_file
    d = data.Description(trees=["jagged"], tree_labels=[1], time_steps=4, input_size=3, array_branch="seq")
    with pytest.raises(ValueError, match=r"tree 'jagged' entry 5 branch 'seq': 2 values, expected 12"):
        read(path, d)


@pytest.mark.parametrize("read", READERS)
def test_missing_file_tree_branch(tutorial_file, read, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.root"):
        read(str(tmp_path / "nowhere.root"), data.Description.tutorial())
    d = data.Description.tutorial()
    d.trees = ["sgn", "signal"]
    with pytest.raises(ValueError, match="has no tree 'signal'"):
        read(tutorial_file, d)
    with pytest.raises(ValueError, match="has no branch 'vars_time10'"):
        read(tutorial_file, data.Description.tutorial(time_steps=11))


@pytest.mark.parametrize("read", READERS)
def test_not_a_ttree(general_file, read):
    d = data.Description(trees=["ntuple"], tree_labels=[0], time_steps=4, input_size=3, array_branch="seq")
    with pytest.raises(ValueError, match="'ntuple' in ROOT file .* is a ROOT::RNTuple, not a TTree"):
        read(general_file[0], d)


@pytest.mark.parametrize("read", READERS)
def test_nan_in_data(tmp_path, read):
    path = str(tmp_path / "nan.root")
    x = np.ones((3, 6), np.float32)
    x[2, 4] = np.nan
    with uproot.recreate(path) as f:
        f.mktree("t", {"seq": (np.float32, (6,))})
        f["t"].extend({"seq": x})
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=2, input_size=3, array_branch="seq")
    with pytest.raises(ValueError, match=r"entry 2.*NaN"):
        read(path, d)


@pytest.mark.parametrize("read", READERS)
def test_empty_tree(tmp_path, read):
    path = str(tmp_path / "empty.root")
    with uproot.recreate(path) as f:
        f.mktree("t", {"seq": (np.float32, (6,))})
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=2, input_size=3, array_branch="seq")
    with pytest.raises(ValueError, match="no entries of the trees t"):
        read(path, d)


def test_split_is_seeded_and_disjoint():
    x, y, w = np.arange(100.0)[:, None], np.arange(100.0), np.ones(100)
    a, b = data.split(data.Samples(x, y, w), seed=5), data.split(data.Samples(x, y, w), seed=5)
    for name in ("train", "valid", "test"):
        np.testing.assert_array_equal(a[name][1], b[name][1])
    assert [len(a[n][1]) for n in ("train", "valid", "test")] == [64, 16, 20]
    assert sorted(np.concatenate([a[n][1] for n in a])) == list(range(100))
    assert not np.array_equal(data.split(data.Samples(x, y, w), seed=6)["test"][1], a["test"][1])
    with pytest.raises(ValueError, match="empty"):
        data.split(data.Samples(x[:2], y[:2], w[:2]))


# -- many files -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """The tutorial layout spread over three files (part0 … part2), and the whole in one."""
    folder = tmp_path_factory.mktemp("parts")
    whole = str(folder / "whole.root")
    data.make_tutorial_data(whole, 90, 60, seed=2)
    d = data.Description.tutorial()
    with uproot.open(whole) as f:
        trees = {name: f[name].arrays(library="np") for name in d.trees}
    bounds = {"sgn": [0, 40, 41, 90], "bkg": [0, 10, 60, 60]}  # part 2 has no background entries
    for k in range(3):
        with uproot.recreate(str(folder / f"part{k}.root")) as f:
            for name, arrays in trees.items():
                lo, hi = bounds[name][k], bounds[name][k + 1]
                f.mktree(name, {b: (np.float32, (30,)) for b in arrays})
                if hi > lo:
                    f[name].extend({b: np.stack(v[lo:hi]) for b, v in arrays.items()})
    return folder, whole


@pytest.mark.parametrize("read", READERS)
def test_files_chain_globs_and_lists(parts, read):
    folder, whole = parts
    d = data.Description.tutorial()
    expected = data.read_root(whole, d)
    for spec in (str(folder / "part*.root"), [str(folder / f"part{k}.root") for k in range(3)],
                 [str(folder / "part0.root"), str(folder / "part[12].root")]):
        got = read(spec, d)
        np.testing.assert_array_equal(got.x, expected.x)
        np.testing.assert_array_equal(got.y, expected.y)


@pytest.mark.parametrize("read", READERS)
def test_file_colon_tree_gives_one_tree(parts, read):
    folder, whole = parts
    d = data.Description.tutorial()
    got = read([f"{folder}/part*.root:sgn", f"{folder}/part1.root:bkg"], d)
    expected = data.read_uproot(whole, d)
    keep = np.r_[0:90, 90 + 10:90 + 60]  # background from part 1 only: entries 10 … 59
    np.testing.assert_array_equal(got.x, expected.x[keep])
    with pytest.raises(ValueError, match="tree 'jets' is not one of the trees to read"):
        read(f"{folder}/part0.root:jets", d)
    with pytest.raises(ValueError, match="no file gives tree 'bkg'"):
        read(f"{folder}/part0.root:sgn", d)


@pytest.mark.parametrize("read", READERS)
def test_glob_matching_nothing_and_bad_file_are_named(parts, read, tmp_path):
    folder, _ = parts
    d = data.Description.tutorial()
    with pytest.raises(ValueError, match=r"no file matches '.*nothing\*\.root'"):
        read(str(folder / "nothing*.root"), d)
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not a ROOT file")
    with pytest.raises((ValueError, OSError), match="bad.root"):
        read([str(folder / "part0.root"), str(bad)], d)
    with pytest.raises(FileNotFoundError, match="missing.root"):
        read([str(folder / "part0.root"), str(tmp_path / "missing.root")], d)


@pytest.mark.parametrize("read", READERS)
def test_branch_type_changing_between_files_is_named(parts, read, tmp_path):
    folder, _ = parts
    other = str(tmp_path / "double.root")
    with uproot.recreate(other) as f:
        f.mktree("t", {"seq": (np.float64, (6,))})
        f["t"].extend({"seq": np.ones((2, 6))})
    single = str(tmp_path / "float.root")
    with uproot.recreate(single) as f:
        f.mktree("t", {"seq": (np.float32, (6,))})
        f["t"].extend({"seq": np.ones((2, 6), np.float32)})
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=2, input_size=3, array_branch="seq")
    with pytest.raises(ValueError, match=r"double.root.*branch 'seq' has type .*, but .* in the files before"):
        read([single, other], d)


@pytest.mark.parametrize("spec, path, tree", [
    ("a.root", "a.root", ""), ("a.root:dir/t", "a.root", "dir/t"),
    ("root://host:1094//store/a.root", "root://host:1094//store/a.root", ""),
    ("root://host:1094//store/a.root:sgn", "root://host:1094//store/a.root", "sgn"),
    ("https://host:8443/a.root", "https://host:8443/a.root", "")])
def test_file_spec_splits_tree_not_port(spec, path, tree):
    from tmva_lstm import _cpp

    pair = _cpp.ns.SplitFileSpec(spec)
    assert (str(pair.first), str(pair.second)) == (path, tree)


def test_readers_report_the_same_first_bad_entry(tmp_path):
    """Several bad entries in one chunk: both readers name the first, as the C++ reader meets it."""
    path = str(tmp_path / "bad.root")
    x = np.ones((10, 6), np.float32)
    x[7, 2] = np.nan
    w = np.ones(10)
    w[3] = -1
    with uproot.recreate(path) as f:
        f.mktree("t", {"seq": (np.float32, (6,)), "w": np.float64})
        f["t"].extend({"seq": x, "w": w})
        f.mktree("u", {"a": "var * float32", "b": "var * float32", "w": np.float64},
                 counter_name=lambda name: "n" + name)
        f["u"].extend({"a": ak.Array([[1.0]] * 6), "b": ak.Array([[1.0]] * 4 + [[1.0, 2.0]] + [[1.0]]),
                       "w": np.array([1, 1, -1, 1, 1, 1.0])})
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=2, input_size=3, array_branch="seq",
                         weight_branch="w")
    messages = set()
    for read in READERS:
        with pytest.raises(ValueError) as e:
            read(path, d)
        messages.add(str(e.value).split(":")[0])
    assert messages == {"tree 't' entry 3"}
    d = data.Description.objects(["u"], ["a", "b"], 3, tree_labels=[0], weight_branch="w")
    messages = set()
    for read in READERS:
        with pytest.raises(ValueError) as e:
            read(path, d)
        messages.add(str(e.value).split(":")[0])
    assert messages == {"tree 'u' entry 2"}  # the negative weight before the unequal counts of entry 4


@pytest.mark.parametrize("read", READERS)
def test_a_branch_may_have_another_type_in_another_tree(read, tmp_path):
    path = str(tmp_path / "mixed.root")
    with uproot.recreate(path) as f:
        f.mktree("sgn", {"seq": (np.float32, (6,))})
        f["sgn"].extend({"seq": np.ones((2, 6), np.float32)})
        f.mktree("bkg", {"seq": (np.float64, (6,))})
        f["bkg"].extend({"seq": np.zeros((3, 6))})
    d = data.Description(trees=["sgn", "bkg"], tree_labels=[1, 0], time_steps=2, input_size=3, array_branch="seq")
    x, y, _, _ = read(path, d)
    assert x.shape == (5, 2, 3) and list(y) == [1, 1, 0, 0, 0]


@pytest.mark.parametrize("read", READERS)
def test_bad_description_is_refused_by_both(read, tutorial_file):
    d = data.Description(trees=["sgn"], tree_labels=[1], time_steps=10, input_size=30,
                         step_branches=["vars_time0"])
    with pytest.raises(ValueError, match="1 step branches for 10 time steps"):
        read(tutorial_file, d)


@pytest.fixture(scope="module")
def large_track_file(tmp_path_factory):
    """Enough entries per tree (13000) that the ROOT reader splits a read over 3 threads."""
    path = str(tmp_path_factory.mktemp("large") / "tracks.root")
    data.make_track_data(path, 13000, 13000, seed=5)
    return path


@pytest.fixture
def cpu_threads():
    """Sets the worker pool's threads for one test, then back to the default."""
    cpu = _cpp.architecture("cpu", "float32")
    yield cpu.SetNumThreads
    cpu.SetNumThreads(0)


@pytest.mark.parametrize("part", [None, "train", "test"])
def test_threads_read_the_same_samples(large_track_file, cpu_threads, part):
    """The ROOT reader reads ranges of entries on the pool's threads; the samples and their order
    do not depend on how many."""
    d = data.Description.tracks()
    results = []
    for threads in (1, 2, 3):
        cpu_threads(threads)
        results.append(data.read_root(large_track_file, d, part=part))
    assert len(results[0].y) == (26000 if part is None else len(results[0].y))
    for other in results[1:]:
        for field in ("x", "y", "w", "lengths"):
            np.testing.assert_array_equal(getattr(other, field), getattr(results[0], field))
    np.testing.assert_array_equal(results[0].x, data.read_uproot(large_track_file, d, part=part).x)


def test_threads_name_the_first_bad_entry(tmp_path, cpu_threads):
    """Bad entries in the ranges of two threads: the error names the first, as one thread would."""
    path = str(tmp_path / "nan.root")
    x = np.ones((12000, 6), np.float32)
    x[9000, 1] = np.nan
    x[11000, 1] = np.nan
    with uproot.recreate(path) as f:
        f.mktree("t", {"seq": (np.float32, (6,))})
        f["t"].extend({"seq": x})
    d = data.Description(trees=["t"], tree_labels=[0], time_steps=2, input_size=3, array_branch="seq")
    for threads in (1, 2):
        cpu_threads(threads)
        with pytest.raises(ValueError, match=r"^tree 't' entry 9000: .*NaN"):
            data.read_root(path, d)
    x[9000, 1] = 1
    with uproot.recreate(path) as f:
        f.mktree("t", {"seq": (np.float32, (6,))})
        f["t"].extend({"seq": x})
    with pytest.raises(ValueError, match=r"^tree 't' entry 11000: .*NaN"):
        data.read_root(path, d)


def test_a_forked_child_reads_after_the_pool_ran(large_track_file, cpu_threads):
    """A child forked after the worker pool started (--safe-read, multiprocessing) has none of its
    threads: it starts its own instead of waiting for them forever."""
    cpu_threads(2)
    d = data.Description.tracks()
    here = data.read_root(large_track_file, d)  # the pool's workers run now
    there = _cpp.run_in_child(lambda: data.read_root(large_track_file, d), "reading in a child", timeout=60)
    np.testing.assert_array_equal(there.x, here.x)
