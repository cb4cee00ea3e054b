// CUDA kernels for multi-band paste-back: one launch per pass and level (multiband.h),
// one thread per pixel of that level, all on the caller's stream, faces in order.
// The workspace belongs to the caller's allocator; nothing here allocates or synchronises.
#include "ffaccel/multiband.h"

#include <stdexcept>

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

struct Extent {
    int w, h;
};

__device__ __forceinline__ bool pixel_of(Extent e, int& x, int& y) {
    x = blockIdx.x * blockDim.x + threadIdx.x;
    y = blockIdx.y * blockDim.y + threadIdx.y;
    return x < e.w && y < e.h;
}

template <typename CropT, typename MaskT, int C>
__global__ void prepare_kernel(PasteParams p, PasteFace face, int i, float* ws, MultibandPlan plan) {
    int u, v;
    if (pixel_of({plan.lv[0].w, plan.lv[0].h}, u, v)) mb_prepare_pixel<CropT, MaskT, C>(p, face, i, ws, plan, u, v);
}

template <int C>
__global__ void reduce_kernel(float* ws, MultibandPlan plan, int k) {
    const MultibandLevel f = plan.lv[k - 1], c = plan.lv[k];
    int x, y;
    if (!pixel_of({c.w, c.h}, x, y)) return;
    mb_reduce_pixel<C>(ws + f.d_off, f.w, f.h, ws + c.d_off, c.w, x, y);
    mb_reduce_pixel<1>(ws + f.m_off, f.w, f.h, ws + c.m_off, c.w, x, y);
}

template <int C>
__global__ void band_kernel(float* ws, MultibandPlan plan, int k, std::int64_t dst) {
    int x, y;
    if (pixel_of({plan.lv[k].w, plan.lv[k].h}, x, y)) mb_band_pixel<C>(ws, plan, k, dst, x, y);
}

template <int C>
__global__ void collapse_kernel(float* ws, MultibandPlan plan, int k, std::int64_t at) {
    int x, y;
    if (pixel_of({plan.lv[k].w, plan.lv[k].h}, x, y)) mb_collapse_pixel<C>(ws, plan, k, at, x, y);
}

template <int C>
__global__ void finish_kernel(PasteParams p, PasteFace face, const float* ws, MultibandPlan plan) {
    int u, v;
    if (pixel_of({plan.lv[0].w, plan.lv[0].h}, u, v)) mb_finish_pixel<C>(p, face, ws, plan, u, v);
}

dim3 grid_for(int w, int h, dim3 block) { return dim3((w + block.x - 1) / block.x, (h + block.y - 1) / block.y); }

template <typename CropT, typename MaskT, int C>
struct MultibandLaunch {
    static void run(const PasteParams& p, const PasteFace* faces, int n, int levels, float* ws, cudaStream_t s) {
        const dim3 block(32, 8);
        for (int i = 0; i < n; ++i) {
            const PasteFace& face = faces[i];
            const int aw = face.x2 - face.x1, ah = face.y2 - face.y1;
            if (aw <= 0 || ah <= 0) continue;
            const MultibandPlan plan = plan_multiband(aw, ah, levels, C);
            prepare_kernel<CropT, MaskT, C><<<grid_for(aw, ah, block), block, 0, s>>>(p, face, i, ws, plan);
            check_launch("paste_back multiband prepare");
            for (int k = 1; k <= levels; ++k) {
                reduce_kernel<C><<<grid_for(plan.lv[k].w, plan.lv[k].h, block), block, 0, s>>>(ws, plan, k);
                check_launch("paste_back multiband reduce");
            }
            for (int k = 1; k <= levels; ++k) {  // B_1 into X, the others in place (multiband.h)
                const std::int64_t dst = k == 1 ? plan.x_off : plan.lv[k].d_off;
                band_kernel<C><<<grid_for(plan.lv[k].w, plan.lv[k].h, block), block, 0, s>>>(ws, plan, k, dst);
                check_launch("paste_back multiband band");
            }
            for (int k = levels - 1; k >= 1; --k) {
                const std::int64_t at = k == 1 ? plan.x_off : plan.lv[k].d_off;
                collapse_kernel<C><<<grid_for(plan.lv[k].w, plan.lv[k].h, block), block, 0, s>>>(ws, plan, k, at);
                check_launch("paste_back multiband collapse");
            }
            finish_kernel<C><<<grid_for(aw, ah, block), block, 0, s>>>(p, face, ws, plan);
            check_launch("paste_back multiband finish");
        }
    }
};

}  // namespace

void paste_back_multiband(const PasteParams& params, const PasteFace* faces, int n, int levels, float* workspace,
                          std::uintptr_t stream) {
    const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
    PasteParams p = params;
    if (!p.in_place) {  // async copy on the stream: capturable in a CUDA graph
        check_cuda(cudaMemcpy2DAsync(reinterpret_cast<void*>(p.out.data), p.out.stride,
                                     reinterpret_cast<const void*>(p.frame.data), p.frame.stride,
                                     static_cast<std::size_t>(p.out.w) * p.out.c, p.out.h, cudaMemcpyDeviceToDevice, s),
                   "paste_back multiband copy");
        p.in_place = true;
        p.frame = p.out;
    }
    if (!dispatch_multiband<MultibandLaunch>(p.crops.dtype, p.masks.dtype, p.out.c, p, faces, n, levels, workspace, s)) {
        throw std::invalid_argument("paste_back_multiband: unsupported dtype/channel combination");
    }
}

}  // namespace ffaccel::cuda
