#!/usr/bin/env bash
# One call on the lent GPU machine: build, CUDA tests, compute-sanitizer, benchmarks.
# Logs go to $OUT; a short table is printed last.
#   bash benchmarks/run_device.sh [pytest-args...]
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/ffaccel-device}
LOG=/tmp/ffaccel-logs  # every log; $OUT gets the JSON results and one tarball of the logs
rm -rf "$LOG" && mkdir -p "$OUT" "$LOG"
declare -A STEP
run() {  # run NAME CMD... : log to $OUT/NAME.log, remember the exit code
    local name=$1; shift
    local t0=$(date +%s)
    "$@" > "$LOG/$name.log" 2>&1
    STEP[$name]="rc=$? $(( $(date +%s) - t0 ))s"
}
nvidia-smi > "$LOG/nvidia-smi.log" 2>&1
run build python3 -m pip install --no-build-isolation --no-deps -v .
run versions python3 -c "import ffaccel, json, cv2; print(json.dumps(ffaccel.status(), indent=1)); print('cv2', cv2.__version__)"
run pytest_cuda python3 -m pytest -m cuda tests -q -p no:cacheprovider -rs "$@"
run pytest_all python3 -m pytest tests -q -p no:cacheprovider -m "not cuda" -x
# Every op's GPU tests once more under memcheck, with fewer hypothesis examples (slow there).
OPS_CUDA_TESTS=$(ls tests/test_*_cuda.py | grep -v -e runtime -e quality)
FFACCEL_EXAMPLES_SCALE=0.1 run sanitizer compute-sanitizer --tool memcheck --error-exitcode 99 \
    python3 -m pytest $OPS_CUDA_TESTS -q -p no:cacheprovider -m cuda -k "not thread and not graph and not stream"
# The wheel, as a user gets it: built, checked, installed into a fresh environment, and the
# CUDA tests run from a copy of tests/ alone, so the source tree is not importable.
wheel_step() {
    # (python3 there is itself a virtual environment holding torch and cupy, so the wheel
    # goes into a --target folder that PYTHONPATH puts ahead of it.)
    rm -rf /tmp/wh /tmp/wsite /tmp/wtests && python3 -m pip wheel --no-build-isolation --no-deps -q -w /tmp/wh . &&
    python3 wheels/check_wheel.py /tmp/wh/ffaccel-*.whl &&
    python3 -m pip install -q --no-deps --target /tmp/wsite /tmp/wh/ffaccel-*.whl &&
    cp -r tests /tmp/wtests && cd /tmp/wtests &&
    PYTHONPATH=/tmp/wsite python3 -c "import ffaccel; print('installed at', ffaccel.__file__)" &&
    PYTHONPATH=/tmp/wsite python3 -m pytest -m cuda . -q -p no:cacheprovider; local rc=$?; cd - >/dev/null; return $rc
}
run wheel wheel_step
# CV-CUDA for the same-run comparisons: its wheel comes in parts under .bench/cvcuda/ (docs/benchmarks.md).
cvcuda_step() {
    python3 -c "import cvcuda" 2>/dev/null && return 0
    ls .bench/cvcuda/part0? >/dev/null 2>&1 || { echo "no .bench/cvcuda/part0?: CV-CUDA rows will be skipped"; return 0; }
    local whl=.bench/cvcuda_cu13-0.19.0-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
    cat .bench/cvcuda/part0? > "$whl" && python3 -m pip install -q --no-deps "$whl" && python3 -c "import cvcuda; print('cvcuda', cvcuda.__version__)"
}
run cvcuda cvcuda_step
run profile python3 benchmarks/profile_overhead.py --json "$OUT/profile_overhead.json"
run bench_dispatch python3 benchmarks/bench_dispatch.py --json "$OUT/bench_dispatch.json"
run bench_warp python3 benchmarks/bench_warp.py --json "$OUT/bench_warp.json"
run bench_paste python3 benchmarks/bench_paste.py --json "$OUT/bench_paste.json"
run bench_runtime python3 benchmarks/bench_runtime.py --json "$OUT/bench_runtime.json"
run bench_composite python3 benchmarks/bench_composite.py --json "$OUT/bench_composite.json"
run bench_facefusion python3 benchmarks/bench_facefusion.py --json "$OUT/bench_facefusion.json"
[ -f benchmarks/bench_blend.py ] && run bench_blend python3 benchmarks/bench_blend.py --json "$OUT/bench_blend.json"
demo_step() { rm -rf /tmp/demo-out && python3 -m ffaccel demo --device auto --no-video --no-progress --output /tmp/demo-out &&
              cp /tmp/demo-out/timing.md "$OUT/demo_timing.md"; }
run demo demo_step
echo "==== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), commit $(git rev-parse --short HEAD 2>/dev/null))"
tar czf "$OUT/logs.tar.gz" -C "$LOG" .
grep -h "^FAILED\|^ERROR" "$LOG"/pytest_*.log "$LOG"/wheel.log | head -20
grep -h "ERROR SUMMARY\|Invalid\|out of bounds" "$LOG/sanitizer.log" | sort | uniq -c | head -5
grep -h "overhead on top\|goal:\|threads:" "$LOG/profile.log"
for k in build versions pytest_cuda pytest_all sanitizer wheel cvcuda profile bench_dispatch bench_warp bench_paste bench_runtime bench_composite bench_facefusion bench_blend demo; do
    printf '%-12s %s   %s\n' "$k" "${STEP[$k]:-not run}" "$(tail -n 1 "$LOG/$k.log" 2>/dev/null | cut -c1-110)"
done
grep -A12 "issue 17 goals" "$LOG/bench_dispatch.log"
grep -v "^ratio\|^---" "$LOG/bench_warp.log" | grep -A30 "^bench_warp" | head -30
grep -v "^ratio\|^---" "$LOG/bench_paste.log" | grep -A30 "^bench_paste" | head -30
grep -B1 -A12 "goal" "$LOG/bench_runtime.log" | tail -8
grep -A30 "total per face\|^| step" "$OUT/demo_timing.md" 2>/dev/null | head -30
