"""Training, model files, the command line and the ROOT macros."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tmva_lstm import Net, _cpp, data
from tmva_lstm.cli import main
from tmva_lstm.workflow import TUTORIAL_OPTIONS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ("InputLayout=10|30:Layout=LSTM|6|30|10|0|1,RESHAPE|FLAT,DENSE|8|TANH,LINEAR:RandomSeed=2"
         ":TrainingStrategy=LearningRate=1e-2,Optimizer=ADAM,BatchSize=32,MaxEpochs=4,ConvergenceSteps=10")


@pytest.fixture(scope="module")
def splits(tutorial_file):
    return data.split(data.read_uproot(tutorial_file, data.Description.tutorial()), seed=1)


def fit(splits, options=SMALL, **kwargs):
    net = Net(options, **kwargs)
    (x, y, w, _), (xv, yv, wv, _) = splits["train"], splits["valid"]
    net.fit(x, y, w, x_valid=xv, y_valid=yv, w_valid=wv)
    return net


def test_training_lowers_the_loss_and_prints_a_line_per_epoch(splits, capfd):
    net = Net(SMALL)
    before = net.loss(*splits["valid"])
    (x, y, w, _), (xv, yv, wv, _) = splits["train"], splits["valid"]
    history = net.fit(x, y, w, x_valid=xv, y_valid=yv, w_valid=wv)
    out = capfd.readouterr().out
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert len([line for line in out.splitlines() if line.startswith("epoch")]) == 4
    assert "train loss" in out and "valid loss" in out
    assert min(h["valid_loss"] for h in history) < before
    assert net.loss(*splits["valid"]) == pytest.approx(min(h["valid_loss"] for h in history), rel=1e-6)


def test_same_seed_same_result(splits):
    a, b = fit(splits), fit(splits)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    np.testing.assert_array_equal(a.predict(splits["test"][0]), b.predict(splits["test"][0]))


def test_early_stopping(splits):
    options = SMALL.replace("LearningRate=1e-2", "LearningRate=3").replace("MaxEpochs=4", "MaxEpochs=50") \
                   .replace("ConvergenceSteps=10", "ConvergenceSteps=2")
    try:
        net = fit(splits, options)
    except RuntimeError as e:  # a diverging run may also end with a non-finite loss, named as such
        assert "validation loss became" in str(e)
        return
    assert len(net.history) < 50


def test_test_repetitions_validate_every_nth_epoch_as_tmva_does(splits, capfd):
    net = fit(splits, SMALL.replace("MaxEpochs=4", "MaxEpochs=7") + ",TestRepetitions=3")
    assert [h["epoch"] for h in net.history] == list(range(1, 8))
    tested = [h for h in net.history if h["valid_loss"] is not None]
    assert [h["epoch"] for h in tested] == [3, 6, 7]  # every third, and the last
    assert len([line for line in capfd.readouterr().out.splitlines() if "valid loss" in line]) == 3
    assert net.loss(*splits["valid"]) == pytest.approx(min(h["valid_loss"] for h in tested), rel=1e-6)


def test_each_validation_without_gain_counts_test_repetitions_epochs(splits):
    # MethodDL: convergenceCount += TestRepetitions after a validation without a better loss; we stop
    # once the count reaches ConvergenceSteps. Replayed on the recorded losses:
    options = SMALL.replace("LearningRate=1e-2", "LearningRate=0.2").replace("MaxEpochs=4", "MaxEpochs=60") \
                   .replace("ConvergenceSteps=10", "ConvergenceSteps=4") + ",TestRepetitions=2"
    best, since, stop = Net(options).loss(*splits["valid"]), 0, None
    net = fit(splits, options)
    for h in net.history:
        if h["valid_loss"] is not None:
            best, since = (h["valid_loss"], 0) if h["valid_loss"] < best else (best, since + 2)
        if since >= 4:
            stop = h["epoch"]
            break
    assert stop is not None and stop < 60, "this run is meant to stop early"
    assert len(net.history) == stop


def test_predictions_for_any_number_of_samples(splits):
    net = Net(SMALL)
    x = splits["test"][0]
    p = net.predict(x)
    assert p.shape == (len(x), 1) and np.all((p > 0) & (p < 1))
    np.testing.assert_array_equal(net.predict(x[:5]), p[:5])  # padding of a partial batch changes nothing


def test_save_load_bit_identical(splits, tmp_path):
    net = fit(splits)
    path = tmp_path / "model.root"
    net.save(path)
    loaded = Net.load(path)
    assert loaded.layout == net.layout and loaded.options == net.options
    x = splits["test"][0]
    assert np.array_equal(loaded.predict(x), net.predict(x))
    for name, value in net.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], value)
    import uproot

    with uproot.open(path) as f:  # true names, readable without tmva-lstm
        assert {"layer0_LSTM/W_f", "layer0_LSTM/U_o", "layer0_LSTM/b_i", "layer2_DENSE/W"} <= set(
            k.split(";")[0] for k in f.keys(recursive=True))


def test_failed_save_keeps_the_previous_model(splits, tmp_path):
    import subprocess
    import sys

    net = fit(splits)
    path = tmp_path / "model.root"
    net.save(path)
    before = path.read_bytes()
    # a process that may not write files over 20 KB (RLIMIT_FSIZE; works as root too) saves a larger model
    big = "InputLayout=10|30:Layout=LSTM|60|30|10|0|1,RESHAPE|FLAT,DENSE|8|TANH,LINEAR:ErrorStrategy=CROSSENTROPY"
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); from tmva_lstm import Net; "
              f"Net({big!r}).save(sys.argv[1])")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "cannot save the model to" in done.stderr and "an existing file there is unchanged" in done.stderr
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.root"]  # no temporary file left
    assert np.array_equal(Net.load(path).predict(splits["test"][0]), net.predict(splits["test"][0]))


def test_load_errors(tmp_path, tutorial_file):
    with pytest.raises(ValueError, match="cannot open model file"):
        Net.load(tmp_path / "missing.root")
    with pytest.raises(ValueError, match="has no 'BookingOptions' entry: not a tmva-lstm model"):
        Net.load(tutorial_file)


def test_bad_training_input(splits):
    net = Net(SMALL)
    (x, y, w, _), (xv, yv, _, _) = splits["train"], splits["valid"]
    x = x.copy()
    x[3, 2, 1] = np.inf
    with pytest.raises(ValueError, match="an input value of sample 3 is inf"):
        net.fit(x, y, w, x_valid=xv, y_valid=yv)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 10, 30\)"):
        net.fit(x[:, :5], y, w, x_valid=xv, y_valid=yv)
    with pytest.raises(ValueError, match="targets must have shape"):
        net.fit(splits["train"][0], y[:-1], x_valid=xv, y_valid=yv)


def test_cli_demo_train_evaluate(tmp_path, capsys):
    path = str(tmp_path / "data" / "tutorial.root")
    out = str(tmp_path / "out")
    assert main(["demo", "--file", path, "--out", out]) == 0
    text = capsys.readouterr().out
    assert "making the tutorial data set" in text and "ROC AUC" in text
    for name in ("model.root", "loss.png", "roc.png", "metrics.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)["metrics"]
    assert metrics["test"]["roc_auc"] > 0.7  # the tutorial network separates the two classes
    assert main(["evaluate", "--model", os.path.join(out, "model.root"), "--file", path]) == 0
    assert f"{metrics['test']['roc_auc']:.4f}" in capsys.readouterr().out
    assert main(["train", "--file", path, "--options", SMALL, "--reader", "uproot", "--out", out]) == 0
    assert main(["train", "--file", path, "--options", SMALL.replace("LSTM|", "LSMT|"), "--out", out]) == 1
    assert "unknown layer in 'LSMT|6|30|10|0|1'" in capsys.readouterr().err
    assert main(["train", "--file", str(tmp_path / "none.root"), "--out", out]) == 1
    assert "none.root" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("root", path=os.path.dirname(sys.executable)) is None,
                    reason="the root command of the ROOT wheel is not installed beside this Python")
def test_macros_train_in_cpp(tmp_path):
    """make_dataset.C and train_lstm.C through the root command, loaded by rootlogon.C."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    path, model = str(tmp_path / "d.root"), str(tmp_path / "m.root")
    run = lambda macro: subprocess.run(["root", "-l", "-b", "-q", macro], cwd=REPO, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=600)
    made = run(f'macros/make_dataset.C("{path}", 150, 150, 3)')
    assert made.returncode == 0 and "wrote" in made.stdout, made.stdout + made.stderr
    trained = run(f'macros/train_lstm.C("{path}", "{model}")')
    assert trained.returncode == 0 and "test: ROC AUC" in trained.stdout, trained.stdout + trained.stderr
    # the macro's model loads in Python
    x, y, w, _ = data.read_root(path, data.Description.tutorial())
    assert Net.load(model).predict(x).shape == (300, 1)
    failed = run(f'macros/train_lstm.C("{tmp_path}/missing.root", "{model}")')
    assert "cannot open ROOT file" in failed.stdout + failed.stderr
    if not _cpp_gpu_usable():  # Architecture=GPU without a GPU or a CUDA build: an error, no model
        gpu = run(f'macros/train_lstm.C("{path}", "{tmp_path}/gpu.root", "{TUTORIAL_OPTIONS}:Architecture=GPU")')
        assert re.search(r"Architecture=GPU: .*no CUDA architecture|TCuda: no CUDA device", gpu.stdout + gpu.stderr)
        assert not (tmp_path / "gpu.root").exists()


def _cpp_gpu_usable():
    try:
        _cpp.architecture("cuda", "float32")
    except RuntimeError:
        return False
    return True


DROP_NET = ("InputLayout=4|2:Layout=LSTM|3|2|4|0|1,RESHAPE|FLAT,DENSE|5|TANH,LINEAR:RandomSeed=3"
            ":TrainingStrategy=BatchSize=6,LearningRate=0.01,MaxEpochs=3,DropConfig=0.3+0+0.5+0")


def test_dropout_gradients_are_exact(rng):
    """With dropout (the same mask: it is drawn from the seed), backward gives the derivative of the
    very loss forward computed: finite differences agree."""
    net = Net(DROP_NET, dtype=np.float64)
    x, y, w = rng.uniform(-1, 1, (6, 4, 2)), rng.uniform(0, 1, (6, 1)), np.ones(6)
    net.forward_batch(x, training=True)
    _, grads = net.backward_batch(y, w)
    eps = 1e-6
    for name in ("layer0_LSTM/W", "layer2_DENSE/W"):
        value = net.parameters[name]
        numeric = np.zeros_like(value)
        for k in np.ndindex(value.shape):
            for sign in (1, -1):
                v = value.copy()
                v[k] += sign * eps
                net.set_parameter(name, v)
                net.forward_batch(x, training=True)
                numeric[k] += sign * net.backward_batch(y, w)[0] / (2 * eps)
        net.set_parameter(name, value)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)
    # and it really drops: the training output differs from the inference output
    assert not np.allclose(net.forward_batch(x, training=True), net.forward_batch(x))


def test_dropout_trains_reproducibly_and_leaves_predictions_alone(tutorial_file):
    x, y, w, _ = data.read_root(tutorial_file, data.Description.tutorial())
    x = x[:, :4, :2].copy()
    parts = data.split(data.Samples(x, y, w), seed=1)
    trained = []
    for options in (DROP_NET, DROP_NET, DROP_NET.replace("DropConfig=0.3+0+0.5+0", "DropConfig=0.0")):
        net = Net(options, dtype=np.float64)
        net.fit(*parts["train"], x_valid=parts["valid"][0], y_valid=parts["valid"][1], verbose=False)
        trained.append(net)
    np.testing.assert_array_equal(trained[0].predict(parts["test"][0]), trained[1].predict(parts["test"][0]))
    assert not np.allclose(trained[0].parameters["layer0_LSTM/W"], trained[2].parameters["layer0_LSTM/W"])
    # predictions never drop: the same weights give the same predictions with or without DropConfig
    plain = Net(DROP_NET.replace("DropConfig=0.3+0+0.5+0", "DropConfig=0.0"), dtype=np.float64)
    for name, value in trained[0].parameters.items():
        plain.set_parameter(name, value)
    np.testing.assert_array_equal(plain.predict(parts["test"][0]), trained[0].predict(parts["test"][0]))


@pytest.mark.parametrize("layer", ["LSTM|6|2|4|0|1", "GRU|6|2|4|0|1", "GRU|6|2|4|0|1|1", "RNN|6|2|4|0|1",
                                   "LSTM|3|2|4|0|1|BIDIRECTIONAL"])
def test_fit_and_predict_with_lengths(layer, rng):
    """Variable-length samples train and predict; a sample's prediction depends only on its real
    steps, whatever the batch around it."""
    n = 60
    lengths = rng.integers(1, 5, n)
    x = rng.normal(size=(n, 4, 2))
    for r, k in enumerate(lengths):
        x[r, k:] = 0
    y = (x[:, :, 0].sum(axis=1) > 0).astype(float)
    net = Net(f"InputLayout=4|2:Layout={layer},RESHAPE|FLAT,DENSE|4|TANH,LINEAR:RandomSeed=2"
              ":TrainingStrategy=BatchSize=8,MaxEpochs=2,LearningRate=0.01", dtype=np.float64)
    history = net.fit(x, y, lengths=lengths, x_valid=x, y_valid=y, lengths_valid=lengths, verbose=False)
    assert len(history) == 2
    p = net.predict(x, lengths=lengths)
    x2 = x.copy()
    for r, k in enumerate(lengths):
        x2[r, k:] = 7.0  # other padding
    np.testing.assert_array_equal(net.predict(x2, lengths=lengths), p)
    np.testing.assert_array_equal(net.predict(x2[5:6], lengths=lengths[5:6]), p[5:6])
    # batches run longest first inside; the predictions come back in the samples' order
    alone = np.concatenate([net.predict(x[r:r + 1], lengths=lengths[r:r + 1]) for r in range(n)])
    np.testing.assert_allclose(p, alone, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="one entry per sample"):
        net.predict(x, lengths=lengths[:-1])
    with pytest.raises(ValueError, match="lengths for both"):
        net.fit(x, y, lengths=lengths, x_valid=x, y_valid=y, verbose=False)


def test_predict_from_several_threads_on_one_net():
    """Calls into one Net take turns (its lock; cppyy also holds the GIL for each C++ call), so
    every thread gets what it would alone."""
    import threading

    net = Net(SMALL)
    xs = [np.random.default_rng(k).normal(size=(20 + k, 10, 30)).astype(np.float32) for k in range(6)]
    serial = [net.predict(x) for x in xs]
    got = {}

    def work(k):
        for r in range(5):
            got[k, r] = net.predict(xs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(got[k, r], serial[k]) for k in range(6) for r in range(5))


def test_safe_read_gives_the_same_samples_and_the_same_errors(tutorial_file, tmp_path):
    """--safe-read reads in a child process (a file that crashes ROOT's reader then raises instead;
    the crash path itself is tested on a model file in test_model_integrity.py): the samples and
    the errors are those of a plain read."""
    from tmva_lstm import cli, data
    from tmva_lstm.workflow import load_splits

    d = data.Description.tutorial()
    plain, safe = load_splits(tutorial_file, d), load_splits(tutorial_file, d, safe_read=True)
    for part in plain:
        for a in ("x", "y", "w"):
            assert np.array_equal(getattr(plain[part], a), getattr(safe[part], a))
    missing = data.Description(trees=["sgn", "bkg"], tree_labels=[1, 0], time_steps=10, input_size=30,
                               step_branches=[f"nope{t}" for t in range(10)])
    errors = []
    for safe_read in (False, True):
        with pytest.raises(Exception) as e:
            load_splits(tutorial_file, missing, safe_read=safe_read)
        errors.append((type(e.value), str(e.value)))
    assert errors[0] == errors[1] and "nope0" in errors[0][1]
    aucs = []
    for flags in ([], ["--safe-read"]):
        out = str(tmp_path / f"out{len(flags)}")
        assert cli.main(["train", "--file", tutorial_file, "--options", SMALL, "--out", out] + flags) == 0
        aucs.append(json.load(open(os.path.join(out, "metrics.json")))["metrics"]["test"]["roc_auc"])
    assert aucs[0] == aucs[1]
    assert cli.main(["evaluate", "--model", str(tmp_path / "none.root"), "--file", tutorial_file, "--safe-read"]) == 1
    assert cli.main(["train", "--file", tutorial_file, "--options", SMALL, "--safe-read", "--stream",
                     "--out", str(tmp_path / "out")]) == 1


def test_predict_batches_are_large_but_bounded_in_memory():
    tutorial = _cpp.call(_cpp.ns.ParseBookingOptions, TUTORIAL_OPTIONS)
    assert _cpp.ns.PredictBatchSize(tutorial, 4) == 1024
    xl = _cpp.call(_cpp.ns.ParseBookingOptions, "InputLayout=100|128:Layout=LSTM|512|128|100|0|0,LINEAR")
    b = _cpp.ns.PredictBatchSize(xl, 4)
    assert 100 < b < 1024 and b * 100 * (7 * 512 + 2 * 128 + 2) * 4 <= 256 << 20


def test_predict_evaluates_each_sample_alone_whatever_the_batch(splits):
    """TPredictor's batches (1024 here) against the training batch size (32): the same numbers
    for any number of samples, and for a sample alone."""
    net = fit(splits)
    x = np.concatenate([splits["test"][0]] * (2500 // len(splits["test"][0]) + 1))[:2500]  # 3 batches
    p = net.predict(x)
    np.testing.assert_allclose(net.predict(x[:7]), p[:7], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(net.predict(x[2100:2101]), p[2100:2101], rtol=1e-6, atol=1e-7)
    data = net._dataset(x)  # the batch-of-32 loop that rememberState nets keep
    q = np.array(_cpp.call(_cpp.template(_cpp.ns, "Predict", net._arch), net._net, data)).reshape(p.shape)
    np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)
