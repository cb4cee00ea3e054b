#!/usr/bin/env bash
# cibuildwheel before-all: install nvcc and the static CUDA runtime into a manylinux_2_28
# (AlmaLinux 8) image from NVIDIA's repository. FFACCEL_WHEEL_CUDA picks the major:
# 12 -> 12.9 (runs on drivers >= 525 thanks to minor-version compatibility), 13 -> 13.0.
set -euo pipefail
major=${FFACCEL_WHEEL_CUDA:-12}
case "$major" in
    12) ver=12-9 ;;
    13) ver=13-0 ;;
    *) echo "install_cuda.sh: FFACCEL_WHEEL_CUDA must be 12 or 13, got $major" >&2; exit 2 ;;
esac
arch=$(uname -m)
repo_arch=$([ "$arch" = aarch64 ] && echo sbsa || echo x86_64)
dnf install -y dnf-plugins-core
dnf config-manager --add-repo "https://developer.download.nvidia.com/compute/cuda/repos/rhel8/${repo_arch}/cuda-rhel8.repo"
dnf install -y "cuda-nvcc-${ver}" "cuda-cudart-devel-${ver}" "cuda-crt-${ver}" || dnf install -y "cuda-nvcc-${ver}" "cuda-cudart-devel-${ver}"
ln -sfn "/usr/local/cuda-${ver/-/.}" /usr/local/cuda
/usr/local/cuda/bin/nvcc --version
