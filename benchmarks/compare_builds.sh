#!/usr/bin/env bash
# Time builds of the tree against each other in one run, on one machine (the GPU host):
#
#   bash benchmarks/compare_builds.sh NAME=PATCH [NAME=PATCH ...]
#
# "base" is the tree as it is; each NAME is the tree with PATCH applied (`git diff` output,
# applied with `patch -p1`; a branch travels to the device as such a file, since the device's
# .git can be stale). Every build goes into its own folder (/tmp/ffaccel-builds/NAME, pip
# --target), then each benchmark of BENCHES runs against every build in turn, ROUNDS times,
# alternating, so drift of the machine hits all builds alike. A table of every timed row
# (median per round, and the rounds' median) is printed last; logs and JSON go to
# $OUT/compare/. Defaults: ROUNDS=2, BENCHES="insightface kernels dispatch":
#   insightface  bench_insightface.py --gpu-only   (row: frame, implementation; ms)
#   kernels      kernel_times.py                   (row: case, kernel; device us a call)
#   dispatch     bench_dispatch.py                 (row: name; us)
#   pool         bench_pool.py                     (row: CPU case, threads; us a bare call)
#   profile      profile_overhead.py --no-threads  (row: path, stage; host us a call). Why: on the
#                GPU host two builds of the same code gave eager insightface calls 15-20 us
#                apart in one run; host time per stage separates host changes from that noise
# Why: two builds timed in separate calls land on different machines or clocks; the 1-D copy
# measurement of docs/results/h100-aa36c71 (call D) was made with this script.
set -u
OUT=${OUT:-/tmp/ffaccel-device}
DIR=$OUT/compare
ROOT=/tmp/ffaccel-builds
ROUNDS=${ROUNDS:-2}
BENCHES=${BENCHES:-insightface kernels dispatch}
export FFACCEL_CUDA_ARCHS=${FFACCEL_CUDA_ARCHS:-90} PYTHONUNBUFFERED=1
mkdir -p "$DIR" "$ROOT"

build() {  # build NAME [PATCH]: the tree (with PATCH) into $ROOT/NAME
    local name=$1 patch=${2:-} src=$ROOT/src-$1 t0=$(date +%s)
    rm -rf "$src" "${ROOT:?}/$name" && mkdir -p "$src"
    tar cf - --exclude=./build --exclude=./.git . | tar xf - -C "$src"
    if [ -n "$patch" ] && ! (cd "$src" && patch -p1 --batch < "$patch") > "$DIR/build_$name.log" 2>&1; then
        echo "build $name: $patch does not apply (see $DIR/build_$name.log)"
        return 1
    fi
    (cd "$src" && python3 -m pip install --no-build-isolation --no-deps --target "$ROOT/$name" .) >> "$DIR/build_$name.log" 2>&1
    local rc=$?
    echo "build $name: rc=$rc $(( $(date +%s) - t0 ))s"
    return $rc
}

NAMES=(base)
build base || exit 1
for spec in "$@"; do
    name=${spec%%=*} patch=${spec#*=}
    if [ "$name" = "$spec" ] || [ ! -f "$patch" ]; then
        echo "expected NAME=PATCH with PATCH a file, got '$spec'"
        exit 2
    fi
    build "$name" "$(realpath "$patch")" && NAMES+=("$name")
done

for k in $(seq 1 "$ROUNDS"); do
    for b in $BENCHES; do
        for name in "${NAMES[@]}"; do
            json=$DIR/${b}_${name}_$k.json
            case $b in
                insightface) cmd=(python3 benchmarks/bench_insightface.py --gpu-only --json "$json") ;;
                kernels) cmd=(python3 benchmarks/kernel_times.py --json "$json") ;;
                dispatch) cmd=(python3 benchmarks/bench_dispatch.py --cpu-calls 2000 --json "$json") ;;
                pool) cmd=(python3 benchmarks/bench_pool.py --threads 1,2,4,8,16 --rounds 200 --json "$json") ;;
                profile) cmd=(python3 benchmarks/profile_overhead.py --no-threads --calls 3000 --json "$json") ;;
                *) echo "unknown benchmark $b (insightface, kernels, dispatch, pool, profile)"; exit 2 ;;
            esac
            PYTHONPATH=$ROOT/$name timeout 300 "${cmd[@]}" > "$DIR/${b}_${name}_$k.log" 2>&1
            echo "round $k $b $name: rc=$?"
        done
    done
done

# One line per timed row: the value of each round and their median, per build
# (benchmarks/compare_table.py; its --plot draws chosen rows from the same files).
python3 benchmarks/compare_table.py "$DIR" "${NAMES[@]}"
