#!/usr/bin/env bash
# The GPU check, in one go on a machine with a GPU and no ROOT: build the ROOT-free core with
# CUDA, compare TCuda with TCpu (test_cuda_vs_cpu), run it under compute-sanitizer, and time the
# LSTM step against cuDNN (bench/gpu_bench.py).
#
#   bench/gpu_check.sh OUTDIR [--no-sanitizers] [--configs "S M L XL"] [--reps N]
#
# A CBLAS is needed for the CPU side: the scipy-openblas32 wheel, found through the Python in
# use (PYTHONPATH may point at an unpacked copy), or -DTMVA_LSTM_BLAS=system via CMAKE_ARGS.
# Logs and bench JSON go to OUTDIR. The exit status is non-zero when any step failed.
set -uo pipefail
out=${1:?usage: bench/gpu_check.sh OUTDIR [--no-sanitizers] [--configs "S M L XL"] [--reps N]}
shift
sanitizers=1 configs="S M L XL" reps=50
while [ $# -gt 0 ]; do
   case $1 in
   --no-sanitizers) sanitizers=0 ;;
   --configs) configs=$2; shift ;;
   --reps) reps=$2; shift ;;
   *) echo "gpu_check: unknown argument '$1'" >&2; exit 2 ;;
   esac
   shift
done
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/gpu}
status=0
phase() { echo "== $1 ($(date -u +%T))"; }

phase "device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nvcc --version | tail -n 2

phase "configure and build"
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -G Ninja -DTMVA_LSTM_WITH_ROOT=OFF -DTMVA_LSTM_CUDA=ON \
   -DCMAKE_CUDA_ARCHITECTURES=90 -DPython_EXECUTABLE="$(command -v python3)" ${CMAKE_ARGS:-} \
   >"$out/configure.log" 2>&1 || { tail -n 30 "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log"; exit 1; }

phase "TCuda against TCpu"
VERBOSE=1 "$build/test_cuda_vs_cpu" >"$out/cuda_vs_cpu.log" 2>&1 || status=1
grep -E "^FAIL|comparisons failed|skipped" "$out/cuda_vs_cpu.log" | head -n 40
python3 - "$out/cuda_vs_cpu.log" <<'EOF'
import re, sys
worst = {}
for line in open(sys.argv[1]):
    m = re.match(r"(ok  |FAIL) (\S+) (\S+) .* max rel err (\S+)", line)
    if m:
        key = f"{m[2]} {m[3]}"
        worst[key] = max(worst.get(key, 0.0), float(m[4]))
for key, err in worst.items():
    print(f"worst relative difference, {key}: {err:.2e}")
EOF

phase "LSTM step against cuDNN"
# shellcheck disable=SC2086
python3 "$root/bench/gpu_bench.py" --exe "$build/lstm_step_bench" --configs $configs --reps "$reps" \
   --json "$out/gpu_bench.json" || status=1

if [ "$sanitizers" = 1 ]; then
   # memcheck over every comparison; racecheck (much slower) over the small shapes.
   for tool in memcheck racecheck; do
      phase "compute-sanitizer $tool"
      quick=$([ "$tool" = racecheck ] && echo --quick)
      # shellcheck disable=SC2086
      compute-sanitizer --tool "$tool" --error-exitcode 1 "$build/test_cuda_vs_cpu" $quick \
         >"$out/$tool.log" 2>&1 || { status=1; tail -n 30 "$out/$tool.log"; }
      tail -n 2 "$out/$tool.log"
   done
fi
phase "done, status $status"
exit $status
