// CUDA kernel for warp_affine: one thread per output pixel, blockIdx.z = image of the batch.
#include "ffaccel/warp_affine.h"

#include <stdexcept>

#include "cuda_check.h"
#include "face_groups.h"
#include "launch.h"

namespace ffaccel::cuda {
namespace {

template <WarpMode M, typename T, int C>
__global__ void warp_affine_kernel(WarpParams p, FaceGroup<WarpCoeffs> coeffs, int face0) {
    wait_for_previous_grid();
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int face = blockIdx.z;
    if (x >= p.dst.w || y >= p.dst.h) return;
    T* out = row_ptr_mut<T>(p.dst, face0 + face, y) + x * C;
    warp_pixel<M, T, C>(p, coeffs.f[face], x, y, out);
}

template <WarpMode M, typename T, int C>
struct WarpLaunch {
    static void run(const WarpParams& p, const WarpCoeffs* coeffs, int n, cudaStream_t stream) {
        const dim3 block(32, 8);
        for_each_face_group(coeffs, n, [&](const FaceGroup<WarpCoeffs>& group, int first, int count) {
            const dim3 grid((p.dst.w + block.x - 1) / block.x, (p.dst.h + block.y - 1) / block.y, count);
            launch("warp_affine", warp_affine_kernel<M, T, C>, grid, block, 0, stream, p, group, first);
        });
    }
};

}  // namespace

void warp_affine(const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode, std::uintptr_t stream) {
    if (!dispatch_warp<WarpLaunch>(mode, p.src.dtype, p.src.c, p, coeffs, n,
                                   reinterpret_cast<cudaStream_t>(stream))) {
        throw std::invalid_argument("warp_affine: unsupported dtype/channel combination");
    }
}

}  // namespace ffaccel::cuda
