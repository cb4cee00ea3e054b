// CUDA kernel for mask_hysteresis: one thread per pixel of the launched area, which is
// the ROI box alone when dst is mask (nothing outside it is touched) and the whole
// image otherwise (outside the box a thread copies mask into dst).
#include "ffaccel/hysteresis.h"

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

template <typename T>
__global__ void hysteresis_kernel(HysteresisParams p, int origin_x, int origin_y, int area_w, int area_h) {
    const int lx = blockIdx.x * blockDim.x + threadIdx.x;
    const int ly = blockIdx.y * blockDim.y + threadIdx.y;
    if (lx >= area_w || ly >= area_h) return;
    const int x = origin_x + lx, y = origin_y + ly;
    const T m = row_ptr<T>(p.mask, 0, y)[x];
    T* o = row_ptr_mut<T>(p.dst, 0, y) + x;
    const bool inside = x >= p.roi_x && x < p.roi_x + p.roi_w && y >= p.roi_y && y < p.roi_y + p.roi_h;
    *o = inside ? hysteresis_value<T>(m, row_ptr<T>(p.prev, 0, y)[x], p) : m;
}

template <typename T>
void launch(const HysteresisParams& p, cudaStream_t stream) {
    int ox = 0, oy = 0, aw = p.dst.w, ah = p.dst.h;
    if (!p.copy_outside) {
        ox = p.roi_x;
        oy = p.roi_y;
        aw = p.roi_w;
        ah = p.roi_h;
        if (aw <= 0 || ah <= 0) return;  // dst is mask and the box is empty: nothing to do
    }
    const dim3 block(32, 8);
    const dim3 grid((aw + block.x - 1) / block.x, (ah + block.y - 1) / block.y);
    hysteresis_kernel<T><<<grid, block, 0, stream>>>(p, ox, oy, aw, ah);
    check_launch("mask_hysteresis");
}

}  // namespace

void mask_hysteresis(const HysteresisParams& p, std::uintptr_t stream) {
    if (p.mask.dtype == DType::U8) {
        launch<std::uint8_t>(p, reinterpret_cast<cudaStream_t>(stream));
    } else {
        launch<float>(p, reinterpret_cast<cudaStream_t>(stream));
    }
}

}  // namespace ffaccel::cuda
