#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
#
# 1. builds one ffaccel wheel from this tree (CUDA kernels compiled when nvcc is found);
# 2. installs it with OpenCV 5 and runs the whole suite (GPU tests are skipped where no
#    GPU is visible, and reported as skipped);
# 3. installs it again beside OpenCV 4.12 (what FaceFusion 3.5 pins) and runs the tests
#    whose compat modes need that generation.
# Everything lives under $FFACCEL_TEST_DIR (default .test-env/); nothing is installed
# into the calling Python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=${FFACCEL_TEST_DIR:-.test-env}
PIP_FLAGS=(-q --disable-pip-version-check)
mkdir -p "$WORK"

echo "== [1/3] building the wheel ($("$PY" --version), $(command -v nvcc >/dev/null && nvcc --version | tail -1 || echo 'no nvcc: CPU-only build'))"
rm -rf "$WORK/dist"
"$PY" -m pip wheel "${PIP_FLAGS[@]}" --no-deps -w "$WORK/dist" .
WHEEL=$(ls "$WORK"/dist/ffaccel-*.whl)

make_env() {  # make_env NAME OPENCV_VERSION
    local env="$WORK/$1"
    [ -x "$env/bin/python" ] || "$PY" -m venv "$env"
    "$env/bin/pip" install "${PIP_FLAGS[@]}" --upgrade pip >/dev/null
    "$env/bin/pip" install "${PIP_FLAGS[@]}" --force-reinstall --no-deps "$WHEEL"
    "$env/bin/pip" install "${PIP_FLAGS[@]}" numpy pytest hypothesis matplotlib "opencv-python-headless==$2"
}

echo "== [2/3] OpenCV 5 environment: the whole suite"
make_env cv5 5.0.0.93
# torch (CPU) lets the torch-tensor tests run; without it they are skipped.
"$WORK/cv5/bin/pip" install "${PIP_FLAGS[@]}" "torch==2.13.0" 2>/dev/null || echo "   (torch not installable here: its tests will be skipped)"
"$WORK/cv5/bin/python" -m ffaccel info
"$WORK/cv5/bin/python" -m pytest tests -q -p no:cacheprovider

echo "== [3/3] OpenCV 4.12 environment: the OpenCV-4 compat tests"
make_env cv4 4.12.0.88
"$WORK/cv4/bin/python" -m pytest tests/test_warp.py tests/test_paste.py tests/test_integration_facefusion*.py -q -p no:cacheprovider
