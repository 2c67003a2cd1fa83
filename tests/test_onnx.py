"""ONNX export: onnx.checker passes and ONNX Runtime reproduces Net.predict, for every cell,
bidirectional, stacked, with and without lengths, and the three output functions."""

import os

import numpy as np
import pytest

from tmva_lstm import Net
from tmva_lstm.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

LAYOUTS = [
    "LSTM|5|3|4|0|1,RESHAPE|FLAT,DENSE|6|TANH,LINEAR",              # the tutorial's shape
    "LSTM|5|3|4|0|0,DENSE|6|RELU,LINEAR",                            # final state only
    "GRU|5|3|4|0|1,RESHAPE|FLAT,LINEAR",                             # TMVA's reset gate before
    "GRU|5|3|4|0|1|1|BIDIRECTIONAL,RESHAPE|FLAT,DENSE|6|SIGMOID,LINEAR",
    "RNN|5|3|4|0|1|BIDIRECTIONAL,LSTM|4|10|4|0|0,LINEAR",          # stacked: 2H feeds the next layer
    "LSTM|5|3|4|0|0|BIDIRECTIONAL,DENSE|12|TANH,GRU|3|3|4|0|0,LINEAR",  # a dense output cut into steps
]


def random_net(layout, rng, strategy="CROSSENTROPY", outputs=1):
    net = Net(f"InputLayout=4|3:Layout={layout}:ErrorStrategy={strategy}:RandomSeed=3", n_outputs=outputs)
    for name, p in net.parameters.items():  # biases too, not only the initial zeros
        net.set_parameter(name, rng.uniform(-0.7, 0.7, p.shape))
    return net


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("lengths", [False, True])
def test_onnxruntime_reproduces_predict(layout, lengths, tmp_path, rng):
    net = random_net(layout, rng)
    path = str(tmp_path / "m.onnx")
    net.export_onnx(path, lengths=lengths)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 8 and model.opset_import[0].version == 17
    assert [i.name for i in model.graph.input] == ["x"] + (["sequence_lens"] if lengths else [])
    s = session(path)
    for n in (1, 7, 1000):
        x = rng.uniform(-2, 2, (n, 4, 3)).astype(np.float32)
        feed, lens = {"x": x}, None
        if lengths:
            lens = rng.integers(0, 5, n)
            x[np.arange(4)[None, :] >= lens[:, None]] = 0  # right-padded
            feed["sequence_lens"] = lens.astype(np.int32)
        y = s.run(None, feed)[0]
        assert y.shape == (n, 1)
        np.testing.assert_allclose(y, net.predict(x, lengths=lens), rtol=0, atol=1e-5)


@pytest.mark.parametrize("strategy, outputs", [("MUTUALEXCLUSIVE", 3), ("SUMOFSQUARES", 2)])
def test_output_functions(strategy, outputs, tmp_path, rng):
    net = random_net("GRU|5|3|4|0|0,LINEAR", rng, strategy, outputs)
    path = str(tmp_path / "m.onnx")
    net.export_onnx(path)
    x = rng.uniform(-2, 2, (9, 4, 3)).astype(np.float32)
    y = session(path).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, net.predict(x), rtol=0, atol=1e-5)
    if strategy == "MUTUALEXCLUSIVE":
        np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-6)


def test_a_float64_net_exports_float32(tmp_path, rng):
    net = Net("InputLayout=4|3:Layout=LSTM|5|3|4|0|0,LINEAR:RandomSeed=3", dtype=np.float64)
    path = str(tmp_path / "m.onnx")
    net.export_onnx(path)
    x = rng.uniform(-2, 2, (5, 4, 3))
    y = session(path).run(None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(y, net.predict(x), rtol=0, atol=1e-5)


def test_remember_state_is_refused_and_nothing_is_written(tmp_path):
    net = Net("InputLayout=4|3:Layout=LSTM|5|3|4|1|0,LINEAR")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"an earlier file")
    with pytest.raises(ValueError, match="remembers its state"):
        net.export_onnx(str(path))
    assert path.read_bytes() == b"an earlier file" and os.listdir(tmp_path) == ["m.onnx"]


def test_cli_export(tmp_path, rng, capsys):
    net = random_net(LAYOUTS[0], rng)
    model, path = str(tmp_path / "m.root"), str(tmp_path / "m.onnx")
    net.save(model)
    assert main(["export", "--model", model, "--onnx", path, "--lengths"]) == 0
    assert "sequence_lens" in capsys.readouterr().out
    x = rng.uniform(-2, 2, (3, 4, 3)).astype(np.float32)
    lens = np.array([4, 1, 2])
    y = session(path).run(None, {"x": x, "sequence_lens": lens.astype(np.int32)})[0]
    np.testing.assert_allclose(y, net.predict(x, lengths=lens), rtol=0, atol=1e-5)
    assert main(["export", "--model", str(tmp_path / "missing.root"), "--onnx", path]) == 1
    assert "missing.root" in capsys.readouterr().err
