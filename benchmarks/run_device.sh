#!/usr/bin/env bash
# Work for the lent GPU machine, in stages that each fit one call (10 minutes):
#   bash benchmarks/run_device.sh build tests bench      # build (sm_90), GPU tests, benchmarks
#   bash benchmarks/run_device.sh fuzz sanitize memory   # GPU fuzz, compute-sanitizer memcheck + racecheck (10^4
#                                                        # cases in FUZZ_SHARDS processes), colour ops memory
#   bash benchmarks/run_device.sh bytes leakdebug memcheck racecheck  # the fuzz stages one by one
#   bash benchmarks/run_device.sh ncu                    # Nsight Compute over one call of each NCU_CASES case
#   bash benchmarks/run_device.sh all                    # everything, one machine of your own
# Stages after "build" reuse the installed build (a warm machine keeps it between calls).
# Logs and JSON go to $OUT/run_device/, packed at the end into $OUT/device_results.tgz
# (device_results_2.tgz, ... when one is there already; that folder is then removed; nothing else under $OUT is touched, so later steps of the same
# command can write there); a short table is printed last and kept as summary.txt. CV-CUDA, for the same-run
# comparisons, is read from /tmp/cvsite when a previous step unpacked it there
# (docs/benchmarks.md says how its wheel travels).
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/ffaccel-device}
RES=$OUT/run_device  # everything this script writes
LOG=$RES/logs
mkdir -p "$RES" "$LOG"
[ -d /tmp/cvsite ] && export PYTHONPATH=/tmp/cvsite${PYTHONPATH:+:$PYTHONPATH}
export FFACCEL_CUDA_ARCHS=${FFACCEL_CUDA_ARCHS:-90}
declare -A STEP
ORDER=()
STEP_TIMEOUT=${STEP_TIMEOUT:-420}
run() {  # run NAME CMD... : log to $LOG/NAME.log, remember the exit code and time
    # Each step is capped (STEP_TIMEOUT seconds) so one slow step cannot eat the whole call;
    # rc=124 in the summary means the cap stopped it.
    local name=$1; shift
    local t0=$(date +%s)
    timeout "$STEP_TIMEOUT" "$@" > "$LOG/$name.log" 2>&1
    STEP[$name]="rc=$? $(( $(date +%s) - t0 ))s"
    ORDER+=("$name")
}
OPS_CUDA_TESTS=${OPS_CUDA_TESTS:-$(ls tests/ops/test_*_cuda.py)}  # the memcheck step's test files

stage_build() {
    nvidia-smi > "$LOG/nvidia-smi.log" 2>&1
    run build python3 -m pip install --no-build-isolation --no-deps -v .
    run versions python3 -c "import ffaccel, json, cv2; print(json.dumps(ffaccel.status(), indent=1)); print('cv2', cv2.__version__)"
}
stage_tests() {
    run pytest_cuda python3 -m pytest -m cuda tests -q -p no:cacheprovider -rs
    run docstrings python3 -m pytest tests/test_docstrings.py -q -p no:cacheprovider
}
stage_fuzz() {
    # CPU against GPU bytes, FUZZ_CASES cases (default 10^4) in FUZZ_SHARDS processes side by side
    # (one process took over 200 s for 10^4 cases of the 21 ops; 16 took 25 s)
    FUZZ_CASES=${FUZZ_CASES:-10000} shards fuzz_gpu none torch
    run memory_gpu python3 benchmarks/memory_check.py --calls ${MEMORY_CALLS:-20000} --gpu torch
}
stage_bench() {
    run profile python3 benchmarks/profile_overhead.py --no-threads --calls 5000 --json "$RES/profile_overhead.json"
    run bench_dispatch python3 benchmarks/bench_dispatch.py --cpu-calls 5000 --json "$RES/bench_dispatch.json"
    run bench_warp python3 benchmarks/bench_warp.py --cpu-runs 10 --json "$RES/bench_warp.json"
    run bench_paste python3 benchmarks/bench_paste.py --cpu-runs 10 --json "$RES/bench_paste.json"
    run bench_insightface python3 benchmarks/bench_insightface.py --gpu-only --json "$RES/bench_insightface_gpu.json"
    run kernel_times python3 benchmarks/kernel_times.py --json "$RES/kernel_times.json"
}
shards() {  # shards NAME TOOL [FRAMEWORK]: the GPU fuzz's FUZZ_CASES cases under compute-sanitizer TOOL
    # (none: no sanitizer), split into FUZZ_SHARDS processes run side by side (the host has 16 cores;
    # the sanitizer is CPU-bound); FUZZ_OPS=a,b runs only those ops' cases; FRAMEWORK cupy (default) or torch
    local name=$1 tool=$2 fw=${3:-cupy} n=${FUZZ_SHARDS:-8} total=${FUZZ_CASES:-10000}
    local each=$(( (total + n - 1) / n )) t0=$(date +%s) pids=() k pre=()
    [ "$tool" != none ] && pre=(compute-sanitizer --tool "$tool" --error-exitcode 99 --target-processes all)
    for k in $(seq 0 $((n - 1))); do
        timeout "$STEP_TIMEOUT" ${pre[@]+"${pre[@]}"} \
            python3 -m tests.fuzz --cases $each --start $((k * each)) --gpu "$fw" --timeout "$STEP_TIMEOUT" ${FUZZ_OPS:+--ops $FUZZ_OPS} \
            --json "$LOG/${name}_$k.json" > "$LOG/${name}_$k.log" 2>&1 &
        pids+=($!)
    done
    local rcs=""
    for k in "${!pids[@]}"; do wait "${pids[$k]}"; rcs+="$? "; done
    grep -h "SUMMARY\|^fuzz: .* findings in" "$LOG/${name}"_*.log > "$LOG/$name.log"  # not the progress lines
    STEP[$name]="rc=[${rcs% }] $(( $(date +%s) - t0 ))s"
    ORDER+=("$name")
}
stage_sanitize() {
    # Every op's GPU tests under memcheck, with fewer hypothesis examples (slow there), then the
    # fuzzer's GPU mode under memcheck and racecheck, then racecheck on the thread test (one stream
    # per thread; one round: the tool slows each launch a hundredfold). SANITIZE_SCALE (default 0.1)
    # scales the hypothesis examples of the memcheck step; 0.03 fits one call with the other stages.
    FFACCEL_EXAMPLES_SCALE=${SANITIZE_SCALE:-0.1} run memcheck compute-sanitizer --tool memcheck --error-exitcode 99 \
        python3 -m pytest $OPS_CUDA_TESTS -q -p no:cacheprovider -m cuda -k "not thread and not graph and not stream"
    shards memcheck_fuzz memcheck
    shards racecheck_fuzz racecheck
    # FFACCEL_DEBUG_LEAKS=1: the exit handler names what still holds a lean-path spec (the open
    # nanobind leak report, docs/fuzzing.md); its lines end this step's log.
    FFACCEL_DEBUG_LEAKS=1 FFACCEL_TEST_THREAD_ROUNDS=1 run racecheck compute-sanitizer --tool racecheck --error-exitcode 99 \
        --target-processes all python3 -m pytest -m cuda tests/test_threads.py -q -p no:cacheprovider
}
stage_bytes() {  # the fuzz's CPU-against-GPU byte comparison alone, with torch and with cupy arrays
    FUZZ_CASES=${FUZZ_CASES:-10000} shards fuzz_gpu none torch
    FUZZ_CASES=${FUZZ_CASES:-10000} shards fuzz_gpu_cupy none cupy
}
stage_leakdebug() {
    # The nanobind leak report (docs/fuzzing.md): the same 250 cases plainly, with every launch
    # blocking, and under memcheck; FFACCEL_DEBUG_LEAKS=1 makes each exit name what still holds
    # an extension object (frames: line, callers, reference count, on a live thread's stack or not).
    local args=(python3 -m tests.fuzz --worker --start 0 --count 250 --gpu cupy)
    FFACCEL_DEBUG_LEAKS=1 run leak_plain "${args[@]}"
    CUDA_LAUNCH_BLOCKING=1 FFACCEL_DEBUG_LEAKS=1 run leak_blocking "${args[@]}"
    FFACCEL_DEBUG_LEAKS=1 run leak_memcheck compute-sanitizer --tool memcheck "${args[@]}"
    # the sanitizer's host backtraces off: is its stack capture what keeps the frames?
    FFACCEL_DEBUG_LEAKS=1 run leak_memcheck_nobt compute-sanitizer --tool memcheck --show-backtrace no "${args[@]}"
}
stage_ncu() {
    # Nsight Compute (--set full; clocks left alone, as the device notes ask) over one call of each
    # kernel_times.py case named (by a part of its name) in NCU_CASES, ';'-separated: the report
    # ($RES/ncu_<n>.ncu-rep) and its details page as text ($RES/ncu_<n>.txt) come back.
    local cases=${NCU_CASES:-"insightface paste 4K, new frame;paste 512 -> 1080p, new frame"} n=0 c
    local IFS=';'
    for c in $cases; do
        n=$((n + 1))
        run "ncu_$n" ncu --clock-control none --set full --profile-from-start off -f -o "$RES/ncu_$n" \
            python3 benchmarks/kernel_times.py --profile "$c"
        ncu -i "$RES/ncu_$n.ncu-rep" --page details > "$RES/ncu_$n.txt" 2>&1
    done
}
stage_memory() {  # the ops the capped 100,000-call run did not reach (colour), on the GPU: one process
    # per name part of MEMORY_ONLY, side by side (each op's calls are serial; the host has 16 cores)
    local parts=${MEMORY_ONLY:-srgb,linear,color,hysteresis,Hysteresis,boundary,seam} t0=$(date +%s) pids=() p rcs=""
    for p in ${parts//,/ }; do
        timeout "$STEP_TIMEOUT" python3 benchmarks/memory_check.py --calls ${MEMORY_CALLS:-100000} --gpu torch \
            --only "$p" > "$LOG/memory_part_$p.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; rcs+="$? "; done
    grep -hv "^op \|ops grew" "$LOG"/memory_part_*.log | sort -u > "$LOG/memory_parts.log"
    STEP[memory_parts]="rc=[${rcs% }] $(( $(date +%s) - t0 ))s"
    ORDER+=(memory_parts)
}

[ $# -eq 0 ] && set -- all
for s in "$@"; do
    case $s in
        build) stage_build ;; tests) stage_tests ;; fuzz) stage_fuzz ;; bench) stage_bench ;; sanitize) stage_sanitize ;;
        memory) stage_memory ;; bytes) stage_bytes ;; leakdebug) stage_leakdebug ;; ncu) stage_ncu ;;
        memcheck) shards memcheck_fuzz memcheck ;;  # the sanitize stage's memcheck fuzz alone
        racecheck) shards racecheck_fuzz racecheck ;;  # the sanitize stage's racecheck fuzz alone
        all) stage_build; stage_tests; stage_fuzz; stage_bench; stage_sanitize; stage_memory ;;
        *) echo "unknown stage $s (build, tests, fuzz, bytes, bench, sanitize, memcheck, racecheck, leakdebug, memory, ncu, all)"; exit 2 ;;
    esac
done

summary() {
    # FFACCEL_COMMIT: the commit the work tree is at (the device's copy of .git can be stale)
    echo "==== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), commit ${FFACCEL_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null) by the device .git})"
    for k in "${ORDER[@]}"; do
        printf '%-18s %-12s %s\n' "$k" "${STEP[$k]}" "$(grep -v '^\s*$' "$LOG/$k.log" | tail -n 1 | cut -c1-110)"
    done
    grep -h "^FAILED\|^ERROR " "$LOG"/pytest_*.log "$LOG"/docstrings.log 2>/dev/null | head -20
    grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$LOG"/memcheck.log "$LOG"/racecheck.log "$LOG"/*_fuzz.log 2>/dev/null | sort | uniq -c | head -8
    grep -h "^fuzz:" "$LOG"/*_fuzz.log "$LOG"/fuzz_gpu*.log 2>/dev/null | head -20
    grep -h "references to extension\|^nanobind: leaked [0-9]* inst\|Spec <-" "$LOG"/leak_*.log 2>/dev/null | cut -c1-400 | head -12
    [ -f "$LOG/profile.log" ] && grep -h "overhead on top\|goal" "$LOG/profile.log" | head -8
    [ -f "$LOG/bench_dispatch.log" ] && grep -A14 "issue 17 goals" "$LOG/bench_dispatch.log"
    [ -f "$LOG/bench_insightface.log" ] && tail -n 12 "$LOG/bench_insightface.log"
    for f in "$RES"/ncu_*.txt; do [ -f "$f" ] && echo "$f:" && grep -E "^  [A-Za-z_].*\(|^    Duration" "$f" | cut -c1-110; done
    [ -f "$LOG/kernel_times.log" ] && grep "all kernels\|feather\|warp\|paste" "$LOG/kernel_times.log" | cut -c1-120 | head -30
}
summary | tee "$RES/summary.txt"
# The device returns at most 8 files from $OUT: this script's logs and JSON travel as one
# archive, and only its own folder is removed.
# A second run in the same command gets its own archive (device_results_2.tgz, ...).
ARCHIVE=$OUT/device_results.tgz
n=1
while [ -e "$ARCHIVE" ]; do n=$((n + 1)); ARCHIVE=$OUT/device_results_$n.tgz; done
tar czf "$ARCHIVE" -C "$RES" . && rm -rf "$RES"
exit 0
