// CUDA kernel for composite: one thread per pixel, all channels of that pixel.
#include "ffaccel/composite.h"

#include <stdexcept>

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

template <typename A, int C>
__global__ void composite_kernel(CompositeParams p) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.dst.w || y >= p.dst.h) return;
    composite_pixel<A, C>(p, x, y);
}

template <typename A, int C>
struct CompositeLaunch {
    static void run(const CompositeParams& p, cudaStream_t stream) {
        const dim3 block(32, 8);
        const dim3 grid((p.dst.w + block.x - 1) / block.x, (p.dst.h + block.y - 1) / block.y);
        composite_kernel<A, C><<<grid, block, 0, stream>>>(p);
        check_launch("composite");
    }
};

}  // namespace

void composite(const CompositeParams& p, std::uintptr_t stream) {
    if (!dispatch_composite<CompositeLaunch>(p.alpha.dtype, p.dst.c, p, reinterpret_cast<cudaStream_t>(stream))) {
        throw std::invalid_argument("composite: unsupported alpha dtype/channel combination");
    }
}

}  // namespace ffaccel::cuda
