// CUDA kernels for paste_back_insightface: one thread per pixel of each phase, every
// value from the header's per-pixel formulas (paste_insightface.h), so the bytes equal
// the CPU path's.
//
// Phases on the caller's stream: the frame copy (new output only); the thresholded
// mask T over B; the erode (rows, then columns: min is exact in any order), the blur's
// row pass over B's rows and the column pass fused with the blend over R. The erode and
// blur sizes come from T's 255-extent, which the host computes exactly from the matrix
// (ins_set_extent), so nothing is read back: the call never synchronises and can be
// captured in a CUDA graph. The Gaussian weights travel as a kernel argument.
#include "ffaccel/paste_insightface.h"

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <vector>

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

struct Box {
    int x1, y1, w, h;
};

// The blur weights, passed by value (captured with the launch in a CUDA graph).
constexpr int kKernChunk = 960;  // 3840 bytes: with the other arguments under the 4 KiB limit
struct KernChunk {
    float w[kKernChunk];
};

__global__ void init_kernel(float* white, int cw, float* kern, int k0, int kn, KernChunk chunk) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < cw) white[i] = 255.0f;
    if (i < kn) kern[k0 + i] = chunk.w[i];
}

template <WarpMode M>
__global__ void mask_kernel(WarpParams white, WarpCoeffs k, Box b, float* t) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (j >= b.w || i >= b.h) return;
    t[static_cast<long long>(i) * b.w + j] = ins_mask_value<M>(white, k, b.x1 + j, b.y1 + i);
}

// Erode along rows (dx = 1) or columns (dx = 0) over B: the window [p - a, p - a + ke)
// clipped to the frame (outside ignored, OpenCV's default morphology border); inside the
// frame but outside B the mask is 0.
__global__ void erode_kernel(const float* src, float* dst, Box b, int fw, int fh, int ke, int a, int along_x) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (j >= b.w || i >= b.h) return;
    float m = 3.402823466e38f;
    for (int d = 0; d < ke; ++d) {
        const int jj = along_x ? j - a + d : j, ii = along_x ? i : i - a + d;
        const int x = b.x1 + jj, y = b.y1 + ii;
        if (x < 0 || x >= fw || y < 0 || y >= fh) continue;
        const float v = (jj >= 0 && jj < b.w && ii >= 0 && ii < b.h) ? src[static_cast<long long>(ii) * b.w + jj] : 0.0f;
        m = v < m ? v : m;
    }
    dst[static_cast<long long>(i) * b.w + j] = m;
}

// Row pass: H over B's rows and R's columns [rx1, rx1 + rw).
__global__ void row_kernel(const float* e, float* h, Box b, int rx1, int rw, int fw, const float* kern, int r,
                           BlurMode mode) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (c >= rw || i >= b.h) return;
    const float* erow = e + static_cast<long long>(i) * b.w;
    auto get = [&](int xx) { return xx >= b.x1 && xx < b.x1 + b.w ? erow[xx - b.x1] : 0.0f; };
    h[static_cast<long long>(i) * rw + c] = ins_blur_row(get, kern, r, rx1 + c, fw, mode);
}

// Column pass and blend over R = [rx1, rx1 + rw) x [ry1, ry1 + rh).
template <WarpMode M>
__global__ void col_blend_kernel(const float* h, Box b, int rx1, int ry1, int rw, int rh, int fw, int fh,
                                 const float* kern, int r, BlurMode mode, Image out, WarpParams crop, WarpCoeffs k) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x, yy = blockIdx.y * blockDim.y + threadIdx.y;
    if (c >= rw || yy >= rh) return;
    const int x = rx1 + c, y = ry1 + yy;
    auto get = [&](int yv) {
        return yv >= b.y1 && yv < b.y1 + b.h ? h[static_cast<long long>(yv - b.y1) * rw + c] : 0.0f;
    };
    const float g = ins_blur_col(get, kern, r, x, y, fw, fh, mode);
    if (g == 0.0f) return;
    float px[3];
    warp_sample<M, std::uint8_t, 3>(crop, k, x, y, px);
    ins_blend(row_ptr_mut<std::uint8_t>(out, 0, y) + x * 3, px, g);
}

dim3 grid_for(int w, int h, dim3 block) { return dim3((w + block.x - 1) / block.x, (h + block.y - 1) / block.y); }

template <WarpMode M>
bool run(const InsParams& p, const InsFace& f, cudaStream_t stream) {
    const int fw = p.out.w, fh = p.out.h, cw = p.crop.w, ch = p.crop.h;
    if (!p.in_place) {
        check_cuda(cudaMemcpy2DAsync(reinterpret_cast<void*>(p.out.data), p.out.stride,
                                     reinterpret_cast<const void*>(p.frame.data), p.frame.stride,
                                     static_cast<size_t>(fw) * 3, fh, cudaMemcpyDeviceToDevice, stream),
                   "paste_insightface: frame copy");
    }
    const Box b{f.bx1, f.by1, f.bx2 - f.bx1, f.by2 - f.by1};
    if (b.w <= 0 || b.h <= 0) return false;
    if (f.ey1 < 0) return false;  // stock: np.max of an empty array
    const InsLayout lay = ins_layout(f, cw);
    float* white = p.ws + lay.white;
    float* t = p.ws + lay.t;
    float* e = p.ws + lay.e;
    float* hbuf = p.ws + lay.h;
    float* kern = p.ws + lay.kern;
    int ke, r;
    ins_sizes(f.ey1 - f.ey0, f.ex1 - f.ex0, &ke, &r);
    if (r > f.rmax) throw std::logic_error("paste_insightface: blur radius above its bound");
    std::vector<float> kh(2 * r + 1);
    ins_gaussian_kernel(2 * r + 1, kh.data());
    const dim3 block(32, 8);
    for (int k0 = 0; k0 < 2 * r + 1; k0 += kKernChunk) {
        KernChunk chunk;
        const int kn = std::min(kKernChunk, 2 * r + 1 - k0);
        for (int i = 0; i < kn; ++i) chunk.w[i] = kh[k0 + i];
        const int n = std::max(k0 == 0 ? cw : 0, kn);
        init_kernel<<<(n + 255) / 256, 256, 0, stream>>>(white, k0 == 0 ? cw : 0, kern, k0, kn, chunk);
        check_launch("paste_insightface");
    }
    const WarpParams wp = ins_white_params(white, cw, ch, fw);
    mask_kernel<M><<<grid_for(b.w, b.h, block), block, 0, stream>>>(wp, f.k, b, t);
    check_launch("paste_insightface");
    erode_kernel<<<grid_for(b.w, b.h, block), block, 0, stream>>>(t, e, b, fw, fh, ke, ke / 2, 1);
    check_launch("paste_insightface");
    erode_kernel<<<grid_for(b.w, b.h, block), block, 0, stream>>>(e, t, b, fw, fh, ke, ke / 2, 0);
    check_launch("paste_insightface");
    const int rx1 = f.bx1 - r > 0 ? f.bx1 - r : 0, rx2 = f.bx2 + r < fw ? f.bx2 + r : fw;
    const int ry1 = f.by1 - r > 0 ? f.by1 - r : 0, ry2 = f.by2 + r < fh ? f.by2 + r : fh;
    row_kernel<<<grid_for(rx2 - rx1, b.h, block), block, 0, stream>>>(t, hbuf, b, rx1, rx2 - rx1, fw, kern, r, p.blur);
    check_launch("paste_insightface");
    col_blend_kernel<M><<<grid_for(rx2 - rx1, ry2 - ry1, block), block, 0, stream>>>(
        hbuf, b, rx1, ry1, rx2 - rx1, ry2 - ry1, fw, fh, kern, r, p.blur, p.out, ins_crop_params(p.crop, fw), f.k);
    check_launch("paste_insightface");
    return true;
}

}  // namespace

bool paste_insightface(const InsParams& p, const InsFace& f, std::uintptr_t stream) {
    const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
    if (p.warp == WarpMode::OpenCV5) return run<WarpMode::OpenCV5>(p, f, s);
    if (p.warp == WarpMode::OpenCV4) return run<WarpMode::OpenCV4>(p, f, s);
    throw std::invalid_argument("paste_insightface: warp mode must be OpenCV4 or OpenCV5");
}

}  // namespace ffaccel::cuda
