import subprocess
import sys

from tmva_lstm.cli import main


def test_gradcheck_passes_and_prints_table(capsys):
    assert main(["gradcheck", "--shapes", "2,3,4,5", "1,1,1,1"]) == 0
    out = capsys.readouterr().out
    assert "dW" in out and "dc0" in out and "PASS" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("2,3,4,5", "1,1,1,1"))]) == 8


def test_gradcheck_fails_above_tolerance(capsys):
    assert main(["gradcheck", "--shapes", "2,3,4,5", "--dtype", "float32", "--tolerance", "1e-12"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_entry_point_rejects_bad_shape():
    result = subprocess.run([sys.executable, "-m", "tmva_lstm.cli", "gradcheck", "--shapes", "2,3,x"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "shape must be B,H,D,T" in result.stderr
