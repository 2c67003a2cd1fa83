import subprocess
import sys

import pytest

from tmva_lstm.cli import main


def test_gradcheck_passes_and_prints_table(capsys):
    assert main(["gradcheck", "--shapes", "2,3,4,5", "1,1,1,1"]) == 0
    out = capsys.readouterr().out
    assert "dW" in out and "dc0" in out and "dW_rev" in out and "PASS" in out
    for name in ("TBasicLSTMLayer", "TBasicGRULayer", "TBasicRNNLayer"):
        assert name in out
    # per shape: LSTM and RNN 8 + 4 bidirectional rows (lengths on and off), GRU twice that
    assert len([line for line in out.splitlines() if line.strip().startswith(("2,3,4,5", "1,1,1,1"))]) == 2 * 48


def test_gradcheck_fails_above_tolerance(capsys):
    assert main(["gradcheck", "--shapes", "2,3,4,5", "--dtype", "float32", "--tolerance", "1e-12"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_entry_point_rejects_bad_shape():
    result = subprocess.run([sys.executable, "-m", "tmva_lstm.cli", "gradcheck", "--shapes", "2,3,x"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "shape must be B,H,D,T" in result.stderr


def test_bench_runs_and_reports(tmp_path, capsys):
    """The benchmark harness works end to end (tiny: one config, one dtype); no timing is asserted."""
    import json

    out = tmp_path / "bench.json"
    assert main(["bench", "--configs", "S", "--dtypes", "float64", "--reps", "2", "--threads", "1",
                 "--rounds", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "GEMM ceiling" in text and "S      float64" in text
    row = json.loads(out.read_text())["rows"][0]
    assert row["config"] == "S" and row["ours_ms"] > 0 and row["ours_gflops"] > 0 and row["ours_peak_mib"] >= 0
    assert row["rounds"] == 2
    if "ratio" in row:
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]


@pytest.mark.parametrize("option, value", [("--reps", "0"), ("--rounds", "0"), ("--threads", "-1"), ("--reps", "x")])
def test_bench_rejects_bad_counts(option, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--configs", "S", option, value])
    assert exit_info.value.code == 2
    assert option in capsys.readouterr().err
