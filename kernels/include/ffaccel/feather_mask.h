// feather_mask: separable Gaussian blur of a one-channel mask with OpenCV's
// BORDER_REFLECT_101 (…cba|abcd|dcb…), the border cv2.GaussianBlur uses by default.
//
// The taps are computed on the host in double (as OpenCV's getGaussianKernel does) and
// rounded to float; both paths get the same float taps. Per output pixel:
//
//   column[x] = sum_i taps[i] * src[reflect(y - r + i)][x]      i = 0 .. 2r, in order
//   dst[y][x] = sum_i taps[i] * column[reflect(x - r + i)]      i = 0 .. 2r, in order
//
// each sum starting from 0.0f and accumulated as `acc = acc + tap * v` (two roundings,
// no contraction), so the CPU loop and the CUDA kernel give the same bytes. A pass that
// is switched off copies its input (OpenCV skips the vertical pass of a one-row image
// and the horizontal pass of a one-column image).
#pragma once

#include "ffaccel/common.h"

namespace ffaccel {

// The CUDA kernel receives the taps as a kernel argument (no allocation, no copy, so
// the launch can be captured in a graph). 961 floats keep the whole argument block
// under the classic 4 KB limit: sigma up to about 120 pixels.
constexpr int kFeatherMaxRadius = 480;
constexpr int kFeatherMaxTaps = 2 * kFeatherMaxRadius + 1;
// The GPU kernel holds one row of vertical sums in shared memory (48 KB by default).
constexpr int kFeatherMaxWidth = 12288;

struct FeatherParams {
    Image src;  // one channel, uint8 (0..255) or float32
    Image dst;  // same size and dtype as src
    int radius;
    bool vertical;    // run the vertical pass (false: copy)
    bool horizontal;  // run the horizontal pass (false: copy)
};

// OpenCV's borderInterpolate for BORDER_REFLECT_101, including offsets beyond one
// reflection (a kernel wider than the image) and the one-pixel image.
FFACCEL_HD int reflect101(int p, int len) {
    if (len == 1) return 0;
    while (static_cast<unsigned>(p) >= static_cast<unsigned>(len)) {
        p = p < 0 ? -p : 2 * (len - 1) - p;
    }
    return p;
}

// One tap of either pass: the single formula both paths use.
FFACCEL_HD float feather_tap(float acc, float tap, float v) { return acc + tap * v; }

// Vertical pass for one pixel, reading the source directly.
template <typename T>
FFACCEL_HD float feather_column(const FeatherParams& p, const float* taps, int x, int y) {
    if (!p.vertical) return static_cast<float>(row_ptr<T>(p.src, 0, y)[x]);
    float acc = 0.0f;
    const int r = p.radius;
    for (int i = 0; i <= 2 * r; ++i) {
        acc = feather_tap(acc, taps[i], static_cast<float>(row_ptr<T>(p.src, 0, reflect101(y - r + i, p.src.h))[x]));
    }
    return acc;
}

// Horizontal pass for one pixel over a row of vertical sums.
FFACCEL_HD float feather_row(const FeatherParams& p, const float* taps, const float* column, int x) {
    if (!p.horizontal) return column[x];
    float acc = 0.0f;
    const int r = p.radius;
    for (int i = 0; i <= 2 * r; ++i) acc = feather_tap(acc, taps[i], column[reflect101(x - r + i, p.src.w)]);
    return acc;
}

template <template <typename> class F, typename... Args>
bool dispatch_feather(DType dtype, Args&&... args) {
    if (dtype == DType::U8) {
        F<std::uint8_t>::run(args...);
    } else if (dtype == DType::F32) {
        F<float>::run(args...);
    } else {
        return false;
    }
    return true;
}

namespace cpu {
// `taps` holds 2 * p.radius + 1 weights; any radius.
void feather_mask(const FeatherParams& p, const float* taps);

// The same blur in OpenCV's float summation order, for box_mask's match with FaceFusion
// (CPU only, float32 only): first horizontally, taps left to right,
//   h = fma(taps[i], src[y][reflect(x - r + i)], h)           from h = 0
// then vertically over symmetric pairs,
//   v = taps[r] * h[y];  v = fma(taps[r + k], h[reflect(y - k)] + h[reflect(y + k)], v)
void gaussian_blur_opencv_order(const FeatherParams& p, const float* taps);
}
namespace cuda {
// At most kFeatherMaxTaps taps and kFeatherMaxWidth columns. Enqueues on `stream`.
void feather_mask(const FeatherParams& p, const float* taps, std::uintptr_t stream);
}

}  // namespace ffaccel
