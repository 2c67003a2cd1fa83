"""TMVA booking strings: the same strings build the same network; bad tokens are quoted."""

import re

import numpy as np
import pytest

from tmva_lstm import LSTM, Net, _cpp

TUTORIAL = ("InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR"
            ":TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20,ConvergenceSteps=10")


def test_tutorial_string():
    spec = _cpp.ns.ParseBookingOptions(TUTORIAL)
    assert (spec.timeSteps, spec.inputSize) == (10, 30)
    phase = spec.phases[0]
    assert (phase.learningRate, phase.batchSize, phase.maxEpochs, phase.convergenceSteps) == (1e-3, 100, 20, 10)
    assert phase.optimizer == _cpp.ns.EOptimizer.kAdam
    net = Net(TUTORIAL)
    assert net.layout == "LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|1|LINEAR"
    assert net.batch_size == 100
    shapes = {k: v.shape for k, v in net.weights.items()}
    assert shapes["layer0_LSTM/W_i"] == (10, 30) and shapes["layer0_LSTM/U_o"] == (10, 10)
    assert shapes["layer0_LSTM/b_f"] == (1, 10) and shapes["layer2_DENSE/W"] == (64, 100)
    assert shapes["layer3_DENSE/W"] == (1, 64)


def test_tmva_flags_and_options_accepted():
    net = Net("!H:V:ErrorStrategy=SUMOFSQUARES:VarTransform=None:WeightInitialization=XAVIER:Architecture=CPU"
              ":RandomSeed=7:ValidationSize=25%:InputLayout=1|4|3:BatchLayout=8|4|3"
              ":Layout=LSTM|5|3|4,DENSE|2|SIGMOID:ForgetGateBias=1"
              ":TrainingStrategy=LearningRate=0.1,Momentum=0.9,Optimizer=SGD,BatchSize=8,TestRepetitions=3,"
              "Repetitions=1,Regularization=None,WeightDecay=0,DropConfig=0.0+0.0|LearningRate=0.01,BatchSize=8",
              n_outputs=2)
    assert net.spec.validationFraction == 0.25 and net.spec.seed == 7 and len(net.spec.phases) == 2
    assert [p.testRepetitions for p in net.spec.phases] == [3, 1]  # TMVA's MethodDNN Repetitions: no effect
    assert net.spec.phases[0].optimizer == _cpp.ns.EOptimizer.kSGD
    np.testing.assert_array_equal(net.weights["layer0_LSTM/b_f"], np.ones((1, 5)))
    np.testing.assert_array_equal(net.weights["layer0_LSTM/b_i"], np.zeros((1, 5)))


def test_same_seed_same_network():
    a, b = Net(TUTORIAL + ":RandomSeed=3"), Net(TUTORIAL + ":RandomSeed=3")
    for name, value in a.weights.items():
        np.testing.assert_array_equal(value, b.weights[name])
    assert not np.array_equal(a.weights["layer0_LSTM/W_i"], Net(TUTORIAL + ":RandomSeed=4").weights["layer0_LSTM/W_i"])


@pytest.mark.parametrize("options, quoted", [
    ("InputLayout=10|30:Layout=LSTM|10|30|10|0|1,FOO|3", "'FOO|3'"),
    ("InputLayout=10|30:Layout=LSTM|10|30|x|0|1,LINEAR", "'x'"),
    ("InputLayout=10|30:Layout=LSTM|10|30|10|2|1,LINEAR", "'2'"),
    ("InputLayout=10|30:Layout=DENSE|64|SOFTSIGN,LINEAR", "'SOFTSIGN'"),
    ("InputLayout=10|30:Layout=DENSE|0|TANH,LINEAR", "'DENSE|0|TANH'"),
    ("InputLayout=10|30:Layout=GRU|10|30|10|0|1|1|1,LINEAR", "'GRU|10|30|10|0|1|1|1'"),
    ("InputLayout=10|30:Layout=RNN|10|30|10|0|1|1,LINEAR", "'RNN|10|30|10|0|1|1'"),
    ("InputLayout=10|30:Layout=GRU|10|30,LINEAR", "'GRU|10|30'"),
    ("InputLayout=10|30:Layout=LSTM|10|30|10|0|1|BIDIRECTIONALX,LINEAR", "'BIDIRECTIONALX'"),
    ("InputLayout=10|30:Layout=LSTM|10|30|10|1|1|BIDIRECTIONAL,LINEAR", "rememberState must be 0"),
    ("InputLayout=10|30:Layout=LINEAR:TrainingStrategy=DropConfig=0.5+1.5", "'1.5'"),
    ("InputLayout=10|30:Layout=LINEAR:Colour=blue", "'Colour'"),
    ("InputLayout=10|30:Layout=LINEAR:TrainingStrategy=LearningRate=fast", "'fast'"),
    ("InputLayout=10|30:Layout=LINEAR:TrainingStrategy=Optimizer=RMSPROP", "'RMSPROP'"),
    ("InputLayout=10|30:Layout=LINEAR:TrainingStrategy=Speed=3", "'Speed'"),
    ("InputLayout=10|30:Layout=LINEAR:ErrorStrategy=HINGE", "'HINGE'"),
    ("InputLayout=10:Layout=LINEAR", "'InputLayout=10'"),
    ("Layout=LINEAR", "InputLayout"),
    ("InputLayout=10|30:Layout=LINEAR:garbage", "'garbage'"),
    ("InputLayout=10|30:Layout=LINEAR:VarTransform=N", "'VarTransform=N'"),
])
def test_malformed_tokens_are_quoted(options, quoted):
    with pytest.raises(ValueError, match="booking options") as e:
        Net(options)
    assert quoted in str(e.value)


def test_layers_that_do_not_chain():
    with pytest.raises(ValueError, match=r"does not match the 300 values.*'LSTM\|10\|20\|10\|0\|1'"):
        Net("InputLayout=10|30:Layout=LSTM|10|20|10|0|1,LINEAR")
    with pytest.raises(ValueError, match=r"last layer 'DENSE\|3\|TANH' has 3 outputs, the data 1"):
        Net("InputLayout=10|30:Layout=LSTM|10|30|10|0|0,DENSE|3|TANH")


def test_gpu_needs_a_cuda_build_and_a_gpu():
    """Architecture=GPU (and arch="cuda") is the CUDA architecture; without a CUDA build or a GPU
    the error says which is missing."""
    try:
        _cpp.architecture("cuda", "float32")
    except RuntimeError as e:
        assert re.search(r"no CUDA architecture|TCuda: no CUDA device available", str(e))
    else:
        pytest.skip("a GPU is usable here: Architecture=GPU trains on it")
    with pytest.raises(RuntimeError, match=r"Architecture=GPU: .*(no CUDA architecture|no CUDA device)"):
        Net(TUTORIAL + ":Architecture=GPU")
    with pytest.raises(RuntimeError, match=r"no CUDA architecture|no CUDA device"):
        LSTM(4, 3, 5, 7, arch="cuda")


@pytest.mark.parametrize("layout, token", [
    ("RNN|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR", "RNN|10|30|10|0|1"),
    ("GRU|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR", "GRU|10|30|10|0|1|0"),
    ("GRU|10|30|10|0|1|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR", "GRU|10|30|10|0|1|1"),
    ("LSTM|10|30|10|0|1|BIDIRECTIONAL,RESHAPE|FLAT,DENSE|64|TANH,LINEAR", "LSTM|10|30|10|0|1|BIDIRECTIONAL"),
    ("GRU|4|30|10|0|0|1|bidirectional,LINEAR", "GRU|4|30|10|0|0|1|BIDIRECTIONAL"),
])
def test_recurrent_tokens_as_tmva_books_them(layout, token):
    """TMVA's RNN, GRU (7th field: resetGateAfter, default 0) and LSTM tokens, and our BIDIRECTIONAL."""
    net = Net(f"InputLayout=10|30:Layout={layout}:TrainingStrategy=BatchSize=4")
    assert net.layout.split(",")[0] == token


def test_bidirectional_output_width_must_chain():
    """The layer after a bidirectional one sees 2H values per step, and the error says so."""
    with pytest.raises(ValueError, match=r"BIDIRECTIONAL: its output has 2 x 5 values per step"):
        Net("InputLayout=10|30:Layout=LSTM|5|30|10|0|1|BIDIRECTIONAL,LSTM|4|5|10|0|0,LINEAR"
            ":TrainingStrategy=BatchSize=4")
    Net("InputLayout=10|30:Layout=LSTM|5|30|10|0|1|BIDIRECTIONAL,LSTM|4|10|10|0|0,LINEAR:TrainingStrategy=BatchSize=4")


def test_dropout_entries_must_fit_the_layers():
    with pytest.raises(ValueError, match="DropConfig has 3 entries, the Layout 2 layers"):
        Net("InputLayout=10|30:Layout=LSTM|5|30|10|0|0,LINEAR:TrainingStrategy=BatchSize=4,DropConfig=0+0.5+0.5")


def test_names_come_from_one_table():
    """An unknown name lists every valid one, from the same table the parser uses."""
    with pytest.raises(ValueError, match=r"unknown optimizer 'RMSPROP' \(expected one of: ADAM, SGD\)"):
        Net("InputLayout=10|30:Layout=LINEAR:TrainingStrategy=Optimizer=RMSPROP")
    with pytest.raises(ValueError, match=r"expected one of: LINEAR, RELU, SIGMOID, TANH, IDENTITY"):
        Net("InputLayout=10|30:Layout=DENSE|3|SOFTSIGN,LINEAR")
    with pytest.raises(ValueError, match=r"expected one of: CPU, GPU, STANDARD"):
        Net("InputLayout=10|30:Layout=LINEAR:Architecture=TPU")


@pytest.mark.parametrize("options, message", [
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:ErrorStrategy=CROSSENTROPY:ErrorStrategy=SUMOFSQUARES",
     "option 'ErrorStrategy' given twice in 'ErrorStrategy=SUMOFSQUARES'"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:inputlayout=3|4", "option 'inputlayout' given twice"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:Architecture=CPU:Architecture=CPU", "option 'Architecture' given twice"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=BatchSize=10,LearningRate=0.1,BatchSize=20",
     "training option 'BatchSize' given twice in one phase in 'BatchSize=20'"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=TestRepetitions=1,testrepetitions=2",
     "training option 'testrepetitions' given twice"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=TestRepetitions=0", "expected a positive integer, got '0'"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:ValidationSize=100",
     "ValidationSize as an event count (TMVA's ValidationSize=100) is not supported here"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=ADAM_BETA1=1.0", "ADAM_BETA1 and ADAM_BETA2 must be in"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=ADAM_BETA2=-0.1", "ADAM_BETA1 and ADAM_BETA2 must be in"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=Momentum=1.5", "Momentum must be in"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|0:TrainingStrategy=ADAM_EPSILON=0", "ADAM_EPSILON must be > 0"),
])
def test_repeated_options_and_out_of_range_values_are_refused(options, message):
    from tmva_lstm import Net

    with pytest.raises(ValueError, match=re.escape(message) if "'" in message else message):
        Net(options)


def test_each_phase_takes_its_own_options():
    from tmva_lstm import Net

    net = Net("InputLayout=3|4:Layout=LSTM|4|4|3|0|0,DENSE|1|LINEAR:TrainingStrategy=LearningRate=0.1,BatchSize=10|"
              "LearningRate=0.01,BatchSize=10")
    assert [p.learningRate for p in net.spec.phases] == [0.1, 0.01]


@pytest.mark.parametrize("options, message", [
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|x|FLAT,LINEAR", "RESHAPE takes RESHAPE|FLAT or RESHAPE|depth|"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|1|1|FLAT,LINEAR", "RESHAPE takes"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|FLAT|FLAT,LINEAR", "RESHAPE takes"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|1|0|12|FLAT,LINEAR", "expected a positive integer, got '0'"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|1|1|12,LINEAR", "RESHAPE takes"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|1|1|13|FLAT,LINEAR",
     "depth x height x width is 13, but the layer flattens 12 values per sample in 'RESHAPE|1|1|13|FLAT'"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|FLAT,LINEAR:BatchLayout=10|3|4:TrainingStrategy=BatchSize=20",
     "BatchLayout must be BatchSize|timeSteps|inputSize or 1|BatchSize|timeSteps*inputSize (BatchSize 20, "
     "InputLayout 3|4) in 'BatchLayout=10|3|4'"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|FLAT,LINEAR:BatchLayout=1|20|13:TrainingStrategy=BatchSize=20",
     "BatchLayout must be"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|FLAT,LINEAR:BatchLayout=20|12", "BatchLayout takes depth|height|width"),
    ("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|FLAT,LINEAR:TrainingStrategy=BatchSize=0x10",
     "expected a non-negative integer, got '0x10'"),
    ("InputLayout=3|4:Layout=LSTM|+4|4|3|0|1,RESHAPE|FLAT,LINEAR", "got '+4'"),
])
def test_reshape_and_batch_layout_as_tmva_reads_them(options, message):
    """RESHAPE|FLAT or RESHAPE|depth|height|width|FLAT (its product is what it flattens); BatchLayout
    BatchSize|T|D or 1|BatchSize|T*D, as MethodDL checks it; counts are digits only."""
    with pytest.raises(ValueError, match=re.escape(message)):
        Net(options)


def test_accepted_forms_mean_what_tmva_says():
    """TMVA removes spaces before it parses; RESHAPE|1|1|N|FLAT is RESHAPE|FLAT; either BatchLayout
    form that fits is accepted. FormatBookingOptions writes every setting out, and parses back to
    the same network."""
    spaced = Net("InputLayout = 3|4 : Layout = LSTM|4|4|3|0|1, RESHAPE|1|1|12|FLAT, LINEAR :"
                 " BatchLayout=16|3|4 : TrainingStrategy = LearningRate=0.1, BatchSize=16")
    plain = Net("InputLayout=3|4:Layout=LSTM|4|4|3|0|1,RESHAPE|FLAT,LINEAR:BatchLayout=1|16|12:"
                "TrainingStrategy=LearningRate=0.1,BatchSize=16")
    assert spaced.layout == plain.layout == "LSTM|4|4|3|0|1,RESHAPE|FLAT,DENSE|1|LINEAR"
    assert spaced.spec.phases[0].learningRate == 0.1 and spaced.batch_size == 16
    canonical = _cpp.ns.FormatBookingOptions(spaced.spec)
    assert str(canonical) == str(_cpp.ns.FormatBookingOptions(_cpp.ns.ParseBookingOptions(canonical)))
    for a, b in zip(Net(str(canonical)).weights.values(), spaced.weights.values()):
        np.testing.assert_array_equal(a, b)


def test_fuzzed_booking_strings_end_in_a_refusal_or_a_faithful_parse():
    """3000 seeded mutations of valid booking strings (tests/cpp/FuzzBooking.h, which ctest also
    runs under the sanitizers), each parsed in a child process: every case ends in a clear
    refusal, or in a string whose canonical form parses to the same network. Run from a fresh
    process, so that no thread of an earlier test is alive when it forks."""
    import os
    import subprocess
    import sys

    header = os.path.join(os.path.dirname(__file__), "cpp", "FuzzBooking.h")
    code = ("from tmva_lstm import _cpp; import cppyy\n"
            f"cppyy.include({header!r})\n"
            "r = cppyy.gbl.tmva_lstm.fuzz.FuzzBookingStrings(1, 3000)\n"
            "print('\\n'.join(str(f) for f in r.failures))\n"
            "print(r.cases, r.refused, r.unbuildable, r.accepted.size(), r.failures.size())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    *failures, counts = result.stdout.strip().splitlines()
    cases, refused, unbuildable, accepted, failed = map(int, counts.split())
    assert failures == [] and failed == 0
    assert cases == 3000 and refused + unbuildable + accepted == 3000
    assert refused > 1000 and accepted > 100  # the mutations reach both outcomes
