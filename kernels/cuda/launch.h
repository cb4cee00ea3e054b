// Launching ffaccel's kernels with programmatic dependent launch (PDL, compute capability
// 9.0 and newer), so that a kernel's launch can overlap the end of the kernel before it in
// its stream instead of starting only once that kernel has finished. On by default where
// the GPU has it; FFACCEL_PDL=0 turns it off (docs/runtime.md, "Programmatic dependent launch").
//
// Why: ffaccel's per-face work is chains of small kernels (warp, feather, paste; the
// insightface paste's five to six), each a few microseconds of device time, and the gap
// between two dependent kernels (the grid's launch and its blocks' start) is a large share
// of that. Measured on an H100 against plain launches in one run (docs/results/h100-pdl/):
// eager calls and chains 0.4-2.9 us faster, a CUDA graph of warp, feather and paste 1.2 us faster.
//
// The contract every kernel launched through `launch` keeps: it calls
// `wait_for_previous_grid()` before its first global-memory access, read or write, in every
// thread (kernels call it first). That wait returns once the previous grid of the stream has
// completed and its writes are visible, so the kernel sees exactly what a plain launch
// would, whatever that previous kernel was (ffaccel's, torch's, cupy's).
// No kernel triggers its dependents early (griddepcontrol.launch_dependents): the next grid
// is then released as the blocks of this one finish. An early trigger made the next grid's
// blocks take SMs while this one still ran, which cost a CUDA graph of warp, feather and
// paste 7.7 us (likely, not profiled: the feather's blocks crowded onto the first SMs free)
// and gained nothing over this form elsewhere (docs/results/h100-pdl/).
// Without PDL (older GPUs, FFACCEL_PDL=0, or a kernel launched another way) the wait
// returns at once. Under stream capture the launches become programmatic edges of the graph.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <utility>

#include "cuda_check.h"

namespace ffaccel::cuda {

__device__ __forceinline__ void wait_for_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Whether launches on the current device ask for PDL: FFACCEL_PDL unset, empty or not "0"
// (read once, at the first launch), and compute capability 9.0 or newer (cached per device:
// one cudaGetDevice a launch).
inline bool pdl_enabled() {
    static const bool on = [] {
        const char* v = std::getenv("FFACCEL_PDL");
        return v == nullptr || v[0] != '0';
    }();
    if (!on) return false;
    constexpr int kDevices = 64;
    static std::atomic<signed char> known[kDevices];  // 0 unknown, 1 yes, -1 no (zero-initialised)
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kDevices) {
        cudaGetLastError();
        return false;
    }
    signed char k = known[dev].load(std::memory_order_relaxed);
    if (k == 0) {
        int major = 0;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
            cudaGetLastError();
            major = 0;
        }
        k = major >= 9 ? 1 : -1;
        known[dev].store(k, std::memory_order_relaxed);
    }
    return k > 0;
}

// kernel<<<grid, block, shared, stream>>>(args...), through cudaLaunchKernelEx with the PDL
// attribute where pdl_enabled(), else exactly that plain launch; errors raise CudaError naming
// `op`, as check_launch does.
template <typename... Params, typename... Args>
void launch(const char* op, void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared,
            cudaStream_t stream, Args&&... args) {
    if (!pdl_enabled()) {
        kernel<<<grid, block, shared, stream>>>(std::forward<Args>(args)...);
        check_launch(op);
        return;
    }
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = shared;
    cfg.stream = stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    check_cuda(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...), op);
}

}  // namespace ffaccel::cuda
