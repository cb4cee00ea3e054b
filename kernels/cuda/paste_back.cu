// CUDA kernel for paste_back: one thread per pixel of the region it must touch (the
// whole frame when the result goes to a separate buffer, the union of the paste areas,
// p.region_*, when in place). Faces are looped inside the thread, in order, so overlapping faces
// compose exactly as successive calls would.
#include "ffaccel/paste_back.h"

#include <stdexcept>

#include "cuda_check.h"
#include "face_groups.h"

namespace ffaccel::cuda {
namespace {

template <typename CropT, typename MaskT, WarpMode M, int C>
__global__ void paste_back_kernel(PasteParams p, FaceGroup<PasteFace> faces, int n, int x0, int y0, int w, int h) {
    const int dx = blockIdx.x * blockDim.x + threadIdx.x;
    const int dy = blockIdx.y * blockDim.y + threadIdx.y;
    if (dx >= w || dy >= h) return;
    paste_pixel<CropT, MaskT, M, C>(p, faces.f, n, x0 + dx, y0 + dy);
}

template <typename CropT, typename MaskT, WarpMode M, int C>
struct PasteLaunch {
    static void run(const PasteParams& params, const PasteFace* faces, int n, cudaStream_t stream) {
        const dim3 block(32, 8);
        for_each_face_group(faces, n, [&](const FaceGroup<PasteFace>& group, int first, int count) {
            PasteParams p = params;  // region: the union of every face's area (paste_region)
            p.crops.data += static_cast<std::uintptr_t>(first) * params.crops.batch_stride;
            p.masks.data += static_cast<std::uintptr_t>(first) * params.masks.batch_stride;
            if (first > 0) {  // later groups paste over the result of the earlier ones
                p.in_place = true;
                p.frame = params.out;
            }
            int x0 = 0, y0 = 0, w = p.out.w, h = p.out.h;
            if (p.in_place) {
                if (p.region_x2 <= p.region_x1 || p.region_y2 <= p.region_y1) return;  // no face touches the frame
                x0 = p.region_x1, y0 = p.region_y1, w = p.region_x2 - x0, h = p.region_y2 - y0;
            }
            const dim3 grid((w + block.x - 1) / block.x, (h + block.y - 1) / block.y);
            paste_back_kernel<CropT, MaskT, M, C><<<grid, block, 0, stream>>>(p, group, count, x0, y0, w, h);
            check_launch("paste_back");
        });
    }
};

}  // namespace

void paste_back(const PasteParams& p, const PasteFace* faces, int n, std::uintptr_t stream) {
    if (!dispatch_paste<PasteLaunch>(p.mode, p.crops.dtype, p.masks.dtype, p.out.c, p, faces, n,
                                     reinterpret_cast<cudaStream_t>(stream))) {
        throw std::invalid_argument("paste_back: unsupported dtype/channel combination");
    }
}

}  // namespace ffaccel::cuda
