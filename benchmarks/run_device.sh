#!/usr/bin/env bash
# One call on the lent GPU machine: build, CUDA tests, compute-sanitizer, benchmarks.
# Logs go to $OUT; a short table is printed last.
#   bash benchmarks/run_device.sh [pytest-args...]
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/ffaccel-device}
mkdir -p "$OUT"
declare -A STEP
run() {  # run NAME CMD... : log to $OUT/NAME.log, remember the exit code
    local name=$1; shift
    local t0=$(date +%s)
    "$@" > "$OUT/$name.log" 2>&1
    STEP[$name]="rc=$? $(( $(date +%s) - t0 ))s"
}
nvidia-smi > "$OUT/nvidia-smi.log" 2>&1
run build python3 -m pip install --no-build-isolation --no-deps -v .
run versions python3 -c "import ffaccel, json, cv2; print(json.dumps(ffaccel.status(), indent=1)); print('cv2', cv2.__version__)"
run pytest_cuda python3 -m pytest -m cuda tests -q -p no:cacheprovider -rs "$@"
run pytest_all python3 -m pytest tests -q -p no:cacheprovider -m "not cuda" -x
FFACCEL_EXAMPLES_SCALE=0.1 run sanitizer compute-sanitizer --tool memcheck --error-exitcode 99 \
    python3 -m pytest tests/test_warp_cuda.py -q -p no:cacheprovider -k "parity or out_on_gpu or batch"
run bench_warp python3 benchmarks/bench_warp.py --json "$OUT/bench_warp.json"
run bench_runtime python3 benchmarks/bench_runtime.py --json "$OUT/bench_runtime.json"
echo "==== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), commit $(git rev-parse --short HEAD 2>/dev/null))"
for k in build versions pytest_cuda pytest_all sanitizer bench_warp bench_runtime; do
    printf '%-12s %s   %s\n' "$k" "${STEP[$k]:-not run}" "$(tail -n 1 "$OUT/$k.log" 2>/dev/null | cut -c1-110)"
done
grep -A12 "^bench_warp" "$OUT/bench_warp.log" | head -14
grep -A8 "^ratios" "$OUT/bench_warp.log"
tail -n 15 "$OUT/bench_runtime.log"
