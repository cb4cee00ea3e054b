// CUDA kernel for feather_mask: one block per output row. The block first writes the
// vertical sums of its row to shared memory, then each thread reads its horizontal taps
// from there. No intermediate image, so nothing is allocated and `src` is never written.
#include "ffaccel/feather_mask.h"

#include <stdexcept>

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

struct FeatherTaps {
    float w[kFeatherMaxTaps];
};

// Kernel arguments must stay within 4 KB (see kFeatherMaxRadius).
static_assert(sizeof(FeatherTaps) + sizeof(FeatherParams) <= 4000, "feather_mask kernel arguments exceed 4 KB");

constexpr int kThreads = 256;

template <typename T>
__global__ void feather_mask_kernel(FeatherParams p, FeatherTaps taps) {
    extern __shared__ float column[];
    const int y = blockIdx.x;
    for (int x = threadIdx.x; x < p.src.w; x += blockDim.x) column[x] = feather_column<T>(p, taps.w, x, y);
    __syncthreads();
    T* out = row_ptr_mut<T>(p.dst, 0, y);
    for (int x = threadIdx.x; x < p.src.w; x += blockDim.x) out[x] = store_as<T>(feather_row(p, taps.w, column, x));
}

template <typename T>
struct FeatherLaunch {
    static void run(const FeatherParams& p, const FeatherTaps& taps, cudaStream_t stream) {
        const size_t shared = static_cast<size_t>(p.src.w) * sizeof(float);
        feather_mask_kernel<T><<<p.src.h, kThreads, shared, stream>>>(p, taps);
        check_launch("feather_mask");
    }
};

}  // namespace

void feather_mask(const FeatherParams& p, const float* taps, std::uintptr_t stream) {
    if (p.radius < 0 || p.radius > kFeatherMaxRadius) throw std::invalid_argument("feather_mask: kernel too wide");
    if (p.src.w > kFeatherMaxWidth) throw std::invalid_argument("feather_mask: mask too wide for the GPU kernel");
    FeatherTaps block_taps{};
    for (int i = 0; i <= 2 * p.radius; ++i) block_taps.w[i] = taps[i];
    if (!dispatch_feather<FeatherLaunch>(p.src.dtype, p, block_taps, reinterpret_cast<cudaStream_t>(stream))) {
        throw std::invalid_argument("feather_mask: unsupported dtype");
    }
}

}  // namespace ffaccel::cuda
