// CPU loop for feather_mask: rows split across the thread pool. Each row first sums
// the vertical taps into a float row, then the horizontal taps over a copy of that row
// padded by reflection. Both loops run the taps in the outer loop and the columns in
// the inner loop so they vectorise, yet every pixel still sees the exact sequence of
// feather_tap() calls of feather_column()/feather_row(), so the bytes match the GPU.
#include "ffaccel/feather_mask.h"

#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <typename T>
void vertical_row(const FeatherParams& p, const float* taps, int y, float* column) {
    const int w = p.src.w, r = p.radius;
    if (!p.vertical) {
        const T* s = row_ptr<T>(p.src, 0, y);
        for (int x = 0; x < w; ++x) column[x] = static_cast<float>(s[x]);
        return;
    }
    for (int x = 0; x < w; ++x) column[x] = 0.0f;
    for (int i = 0; i <= 2 * r; ++i) {
        const T* s = row_ptr<T>(p.src, 0, reflect101(y - r + i, p.src.h));
        const float tap = taps[i];
        for (int x = 0; x < w; ++x) column[x] = feather_tap(column[x], tap, static_cast<float>(s[x]));
    }
}

template <typename T>
struct FeatherRows {
    static void run(const FeatherParams& p, const float* taps) {
        const int w = p.src.w, r = p.radius;
        // About 0.1 ns a tap and pixel on one core, x86-64-v3 (512x512 mask, sigma 2 and 8:
        // 4.2 and 12 ns a pixel in all).
        const double px_ns = 1.0 + 0.1 * (2 * r + 1) * (int{p.vertical} + int{p.horizontal});
        parallel_for(p.src.h, w * px_ns, [&](int b, int e) {
            std::vector<float> column(w), padded(p.horizontal ? w + 2 * r : 0), acc(w);
            for (int y = b; y < e; ++y) {
                vertical_row<T>(p, taps, y, column.data());
                T* out = row_ptr_mut<T>(p.dst, 0, y);
                if (!p.horizontal) {
                    for (int x = 0; x < w; ++x) out[x] = store_as<T>(column[x]);
                    continue;
                }
                // padded[j] is column[reflect(j - r)], so tap i of pixel x reads padded[x + i].
                for (int j = 0; j < w + 2 * r; ++j) padded[j] = column[reflect101(j - r, w)];
                for (int x = 0; x < w; ++x) acc[x] = 0.0f;
                for (int i = 0; i <= 2 * r; ++i) {
                    const float tap = taps[i];
                    const float* src = padded.data() + i;
                    for (int x = 0; x < w; ++x) acc[x] = feather_tap(acc[x], tap, src[x]);
                }
                for (int x = 0; x < w; ++x) out[x] = store_as<T>(acc[x]);
            }
        });
    }
};

}  // namespace

void feather_mask(const FeatherParams& p, const float* taps) {
    if (!dispatch_feather<FeatherRows>(p.src.dtype, p, taps)) {
        throw std::invalid_argument("feather_mask: unsupported dtype");
    }
}

void gaussian_blur_opencv_order(const FeatherParams& p, const float* taps) {
    if (p.src.dtype != DType::F32) throw std::invalid_argument("gaussian_blur_opencv_order: float32 only");
    const int h = p.src.h, w = p.src.w, r = p.radius;
    std::vector<float> horizontal(static_cast<size_t>(h) * w);
    // As feather_mask's estimate, a pass at a time: about 0.1 ns a tap and pixel.
    const double taps_ns = 0.1 * (2 * r + 1);
    parallel_for(h, w * (p.horizontal ? 0.5 + taps_ns : 0.3), [&](int b, int e) {
        std::vector<float> padded(w + 2 * r);
        for (int y = b; y < e; ++y) {
            const float* src = row_ptr<float>(p.src, 0, y);
            float* acc = horizontal.data() + static_cast<size_t>(y) * w;
            if (!p.horizontal) {
                for (int x = 0; x < w; ++x) acc[x] = src[x];
                continue;
            }
            for (int j = 0; j < w + 2 * r; ++j) padded[j] = src[reflect101(j - r, w)];
            for (int x = 0; x < w; ++x) acc[x] = 0.0f;
            for (int i = 0; i <= 2 * r; ++i) {
                const float tap = taps[i];
                const float* v = padded.data() + i;
                for (int x = 0; x < w; ++x) acc[x] = fma32(tap, v[x], acc[x]);
            }
        }
    });
    parallel_for(h, w * (p.vertical ? 0.5 + taps_ns : 0.3), [&](int b, int e) {
        for (int y = b; y < e; ++y) {
            float* out = row_ptr_mut<float>(p.dst, 0, y);
            const float* centre = horizontal.data() + static_cast<size_t>(y) * w;
            if (!p.vertical) {
                for (int x = 0; x < w; ++x) out[x] = centre[x];
                continue;
            }
            for (int x = 0; x < w; ++x) out[x] = taps[r] * centre[x];
            for (int k = 1; k <= r; ++k) {
                const float tap = taps[r + k];
                const float* above = horizontal.data() + static_cast<size_t>(reflect101(y - k, h)) * w;
                const float* below = horizontal.data() + static_cast<size_t>(reflect101(y + k, h)) * w;
                for (int x = 0; x < w; ++x) out[x] = fma32(tap, above[x] + below[x], out[x]);
            }
        }
    });
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, feather_mask, (const FeatherParams& p, const float* taps), (p, taps))
FFACCEL_CPU_DISPATCH(void, gaussian_blur_opencv_order, (const FeatherParams& p, const float* taps), (p, taps))

}  // namespace ffaccel::cpu
